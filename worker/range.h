/*
 * range - the Range request header (RFC 9110 section 14.2), single ranges.
 */
#ifndef PREFORKD_RANGE_H
#define PREFORKD_RANGE_H

#include <stddef.h>
#include <sys/types.h>

enum range_result {
	RANGE_NONE,		/* no usable range: serve the whole representation (200) */
	RANGE_OK,		/* one satisfiable range in [*first, *last] (206) */
	RANGE_UNSATISFIABLE	/* syntactically valid, but no range overlaps (416) */
};

/*
 * Parses the Range header value v (len bytes, not NUL-terminated) against a
 * representation of size bytes. "bytes=a-b", "bytes=a-" and "bytes=-n" are
 * understood (unit case-insensitive, optional whitespace around the range);
 * a last-byte-pos past the end is clamped to size - 1. A malformed value, a
 * unit other than bytes, or more than one range yields RANGE_NONE (the header
 * is ignored, as RFC 9110 allows). On RANGE_OK, 0 <= *first <= *last < size.
 * Clarifications: any comma makes a list (RANGE_NONE), empty elements too;
 * "a-b" with b < a is malformed (RANGE_NONE); numbers of any length are
 * accepted and saturate at 2^63-1; *first and *last are written only on
 * RANGE_OK; a negative size gives RANGE_NONE.
 */
enum range_result range_parse(const char *v, size_t len, off_t size,
	    off_t *first, off_t *last);

#endif
