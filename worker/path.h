/*
 * path - percent-decoding and normalisation of a request path, so that the
 * static handler can never name a file outside its root.
 */
#ifndef PREFORKD_PATH_H
#define PREFORKD_PATH_H

#include <stddef.h>

/*
 * Decodes and normalises the path part of a request target: in points at
 * len bytes that start with '/' and contain no query ('?') or fragment.
 * Percent-escapes are decoded; "." segments are removed; ".." segments pop
 * the previous segment; runs of '/' collapse into one; a trailing '/' is
 * kept. The result, NUL-terminated in out (outsz bytes), always starts with
 * '/' and contains no "." or ".." segment and no NUL.
 *
 * Returns 0 and stores the result's length in *outlen, or an HTTP status:
 *   400  the path does not start with '/', a bad %-escape, an encoded NUL
 *        (%00), an encoded '/' (%2F) or a raw control byte, or a ".." that
 *        would climb above the root;
 *   404  a segment (after decoding) starts with '.' (dotfiles are hidden);
 *   414  the result does not fit in out.
 * Clarifications: a path whose last segment is "." or ".." also ends with
 * '/' ("/a/b/.." gives "/a/", as RFC 3986 has it); a hidden segment is 404
 * even if a later ".." removes it; 400 takes precedence over 404, and both
 * over 414; only the final result must fit, not an intermediate path.
 * Escaped control bytes other than %00, and bytes above 0x7f (raw or
 * escaped), are ordinary file name bytes: callers that log the result must
 * escape it.
 */
int	path_normalize(const char *in, size_t len, char *out, size_t outsz,
	    size_t *outlen);

/*
 * Builds the Location of the redirect that adds the slash to a directory
 * named without it: dir (len bytes) is a result of path_normalize() without
 * a trailing '/'; query (qlen bytes, '?' first) is the raw query, or qlen
 * is 0. The path is percent-encoded wherever a byte is not RFC 3986 pchar
 * or '/' ('%', '\\', '?', '#', spaces, controls, bytes above 0x7f); the
 * query keeps its escapes, and only bytes a query may not hold are encoded.
 * The result, NUL-terminated in out (outsz bytes), is dir + "/" + query and
 * starts with '/' and a byte that is not '/' or '\\', so no browser reads
 * it as another host.
 *
 * Returns 0 and stores the length in *outlen, 414 when the result does not
 * fit, or 500 when dir is not such a path ("/", "//host", "/a/").
 */
int	path_location(const char *dir, size_t len, const char *query,
	    size_t qlen, char *out, size_t outsz, size_t *outlen);

#endif
