/*
 * cond - conditional request evaluation (RFC 9110 section 13.2.2) for the
 * static handler: If-Match, If-Unmodified-Since, If-None-Match,
 * If-Modified-Since and If-Range. Pure: no I/O.
 */
#ifndef PREFORKD_COND_H
#define PREFORKD_COND_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* A header value: ptr == NULL when the header is absent. */
struct cond_val {
	const char	*ptr;
	size_t		 len;
};

struct cond_hdrs {
	struct cond_val	 if_match;
	struct cond_val	 if_none_match;
	struct cond_val	 if_modified_since;
	struct cond_val	 if_unmodified_since;
	struct cond_val	 if_range;
};

/*
 * Evaluates the preconditions in the order of RFC 9110 section 13.2.2 for a
 * representation with the strong entity tag etag (etaglen bytes, quotes
 * included, e.g. "\"5f3a-1c\"") and modification time mtime. get_or_head
 * tells whether the method is GET or HEAD.
 * Returns 0 when the request proceeds, 304 (Not Modified) or 412
 * (Precondition Failed).
 *   If-Match: "*" or a strong match of any listed tag, else 412.
 *   If-Unmodified-Since (only when If-Match is absent): mtime later than the
 *     date gives 412; an invalid date is ignored.
 *   If-None-Match: "*" or a weak match of any listed tag gives 304 for
 *     GET/HEAD and 412 otherwise.
 *   If-Modified-Since (only for GET/HEAD and when If-None-Match is absent):
 *     mtime not later than the date gives 304; an invalid date is ignored.
 * Tag lists follow RFC 9110 section 5.6.1 (OWS around commas, empty elements
 * skipped); "*" must be the whole value; a list with any syntax error
 * matches nothing. Dates are trimmed of OWS, then must be a whole HTTP-date.
 */
int	cond_evaluate(const struct cond_hdrs *h, const char *etag, size_t etaglen,
	    time_t mtime, bool get_or_head);

/*
 * Tells whether a Range header may be honoured given If-Range: true when
 * If-Range is absent, or is an entity tag that strongly matches etag, or is
 * an HTTP date exactly equal to mtime. A weak tag or anything else: false
 * (serve the whole representation).
 */
bool	cond_if_range(const struct cond_hdrs *h, const char *etag, size_t etaglen,
	    time_t mtime);

#endif
