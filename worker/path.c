/*
 * path - percent-decoding and dot-segment removal for request paths. This
 * file owns the guarantee that the static handler is only ever given a clean
 * absolute path: no "." or ".." segment, no empty segment, no NUL, no
 * dotfile, nothing above the root.
 *
 * Segments are walked from last to first. Walking backwards, each ".." is
 * seen before the name it cancels, so a count of pending ".." is all the
 * state needed; the kept segments are then written right-aligned into the
 * final length, which is known in advance. Unlike a stack built left to
 * right, this never needs room for an intermediate path longer than the
 * result, and the input is never copied.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "hex.h"
#include "path.h"

enum seg_kind {
	SEG_EMPTY,	/* between two '/' or after the last one */
	SEG_DOT,	/* "." after decoding */
	SEG_DOTDOT,	/* ".." after decoding */
	SEG_HIDDEN,	/* any other name starting with '.' */
	SEG_NAME
};

/*
 * Decodes the byte at s[*i] of a segment of n raw bytes and advances *i.
 * Returns 0, or 400 for a raw control byte, a truncated or non-hex escape, or
 * an escape of NUL or '/' (which would end the string or split the segment).
 * Any other byte, '\\' and bytes above 0x7f included, stands for itself.
 */
static int
next_byte(const char *s, size_t n, size_t *i, unsigned char *c)
{
	unsigned char	 b = (unsigned char)s[*i];
	int		 hi, lo;

	if (b < 0x20 || b == 0x7f)
		return 400;
	if (b != '%') {
		*c = b;
		(*i)++;
		return 0;
	}
	if (n - *i < 3 || (hi = hex_value(s[*i + 1])) == -1 ||
	    (lo = hex_value(s[*i + 2])) == -1)
		return 400;
	b = (unsigned char)(hi << 4 | lo);
	if (b == '\0' || b == '/')
		return 400;
	*c = b;
	*i += 3;
	return 0;
}

/*
 * Classifies the segment s (n raw bytes, no raw '/') by its decoded form and
 * stores its decoded length in *dlen. With dst not NULL, also writes the
 * decoded bytes there. Returns 0 or 400.
 */
static int
seg_decode(const char *s, size_t n, char *dst, enum seg_kind *kind,
    size_t *dlen)
{
	unsigned char	 c, head[2] = { 0, 0 };
	size_t		 i = 0, k = 0;
	int		 status;

	while (i < n) {
		if ((status = next_byte(s, n, &i, &c)) != 0)
			return status;
		if (k < 2)
			head[k] = c;
		if (dst != NULL)
			dst[k] = (char)c;
		k++;
	}
	*dlen = k;
	if (k == 0)
		*kind = SEG_EMPTY;
	else if (head[0] != '.')
		*kind = SEG_NAME;
	else if (k == 1)
		*kind = SEG_DOT;
	else if (k == 2 && head[1] == '.')
		*kind = SEG_DOTDOT;
	else
		*kind = SEG_HIDDEN;
	return 0;
}

/*
 * One backward walk over in (len bytes, in[0] == '/'). *body is the length
 * of the kept segments, each with its leading '/'; *trailing tells whether
 * the path ends like a directory (last segment empty, "." or ".."), as in
 * RFC 3986's remove_dot_segments. With out not NULL, the kept segments are
 * written into out[0 .. *body), which the caller sized by a first walk.
 * Returns 0, 400 (bad byte, or a ".." left over at the root) or 404 (a
 * hidden segment, reported only when nothing earns a 400).
 */
static int
walk(const char *in, size_t len, char *out, size_t *body, bool *trailing)
{
	enum seg_kind	 kind;
	size_t		 end = len, start, dlen, pending = 0, total = 0;
	size_t		 pos = *body;
	bool		 hidden = false, last = true;
	int		 status;

	while (end > 0) {
		/* in[0] is '/', so start stops at 1 at the lowest. */
		for (start = end; in[start - 1] != '/'; start--)
			continue;
		status = seg_decode(in + start, end - start, NULL, &kind,
		    &dlen);
		if (status != 0)
			return status;
		if (last)
			*trailing = kind == SEG_EMPTY || kind == SEG_DOT ||
			    kind == SEG_DOTDOT;
		last = false;

		if (kind == SEG_DOTDOT)
			pending++;
		else if (kind == SEG_HIDDEN || kind == SEG_NAME) {
			if (kind == SEG_HIDDEN)
				hidden = true;
			if (pending > 0)
				pending--;
			else if (out != NULL) {
				pos -= dlen;
				(void)seg_decode(in + start, end - start,
				    out + pos, &kind, &dlen);
				out[--pos] = '/';
			} else
				total += 1 + dlen;
		}
		end = start - 1;
	}
	if (pending > 0)
		return 400;
	if (hidden)
		return 404;
	if (out == NULL)
		*body = total;
	return 0;
}

/*
 * Whether in (in[0] == '/') is already its normal form: no escape, no
 * control byte, and no segment that is empty or starts with '.' (except a
 * last empty one: a directory path, kept as it is). Most paths are; walk()
 * would give back exactly their bytes.
 */
static bool
plain(const char *in, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c < 0x20 || c == 0x7f || c == '%')
			return false;
		if (c == '/' && i + 1 < len && (in[i + 1] == '/' ||
		    in[i + 1] == '.'))
			return false;
	}
	return true;
}

int
path_normalize(const char *in, size_t len, char *out, size_t outsz,
    size_t *outlen)
{
	size_t	 body = 0, n;
	bool	 trailing = false;
	int	 status;

	if (in == NULL || len == 0 || in[0] != '/')
		return 400;
	if (plain(in, len)) {
		if (len >= outsz)
			return 414;
		memcpy(out, in, len);
		out[len] = '\0';
		*outlen = len;
		return 0;
	}
	if ((status = walk(in, len, NULL, &body, &trailing)) != 0)
		return status;
	/* The root itself, or a directory path, ends with the '/'. */
	n = body + (body == 0 || trailing ? 1 : 0);
	if (n >= outsz)
		return 414;
	(void)walk(in, len, out, &body, &trailing);
	if (n > body)
		out[body] = '/';
	out[n] = '\0';
	*outlen = n;
	return 0;
}

/* RFC 3986 pchar without pct-encoded: what a path segment may hold raw. */
static bool
is_pchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr("-._~!$&'()*+,;=:@",
	    c) != NULL);
}

/* Appends c to out at *o, percent-encoded unless keep; 0 or -1 (full). */
static int
put_byte(char *out, size_t outsz, size_t *o, unsigned char c, bool keep)
{
	static const char hex[] = "0123456789ABCDEF";

	if (keep) {
		if (outsz - *o < 2)
			return -1;
		out[(*o)++] = (char)c;
		return 0;
	}
	if (outsz - *o < 4)
		return -1;
	out[(*o)++] = '%';
	out[(*o)++] = hex[c >> 4];
	out[(*o)++] = hex[c & 15];
	return 0;
}

int
path_location(const char *dir, size_t len, const char *query, size_t qlen,
    char *out, size_t outsz, size_t *outlen)
{
	size_t	 o = 0, i;

	/* "//host" would leave the site (and "/" needs no slash added). */
	if (len < 2 || dir[0] != '/' || dir[1] == '/' || dir[len - 1] == '/')
		return 500;
	if (outsz == 0)
		return 414;
	/* '\\' is encoded too: browsers read "/\host" as "//host". */
	for (i = 0; i < len; i++)
		if (put_byte(out, outsz, &o, (unsigned char)dir[i],
		    dir[i] == '/' || is_pchar((unsigned char)dir[i])) == -1)
			return 414;
	if (put_byte(out, outsz, &o, '/', true) == -1)
		return 414;
	/* The query was never decoded: its escapes stay as they came. */
	for (i = 0; i < qlen; i++) {
		unsigned char c = (unsigned char)query[i];

		if (put_byte(out, outsz, &o, c, is_pchar(c) || c == '/' ||
		    c == '?' || c == '%') == -1)
			return 414;
	}
	out[o] = '\0';
	*outlen = o;
	return 0;
}
