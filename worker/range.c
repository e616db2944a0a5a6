/*
 * range - parsing of a single-range Range header (RFC 9110 section 14.2)
 * against the size of a representation. Owns the byte-position syntax and
 * its overflow rules; knows nothing of files or responses.
 */
#include <sys/types.h>

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "range.h"

/* Byte positions are 63-bit: meson builds with _FILE_OFFSET_BITS=64. */
_Static_assert(sizeof(off_t) == sizeof(int64_t), "off_t must be 64-bit");
#define RANGE_OFF_MAX	((off_t)INT64_MAX)

static size_t
skip_ows(const char *v, size_t len, size_t i)
{
	while (i < len && (v[i] == ' ' || v[i] == '\t'))
		i++;
	return i;
}

/*
 * Reads 1*DIGIT at v[*i] and advances *i past it. The grammar sets no bound,
 * so a value beyond RANGE_OFF_MAX saturates there: a huge first-byte-pos is
 * then unsatisfiable and a huge last-byte-pos or suffix covers the end, which
 * is what the numeral means. Returns 0, or -1 when there is no digit.
 */
static int
get_pos(const char *v, size_t len, size_t *i, off_t *pos)
{
	size_t	 start = *i;
	off_t	 n = 0;
	int	 d;

	while (*i < len && v[*i] >= '0' && v[*i] <= '9') {
		d = v[*i] - '0';
		if (n > (RANGE_OFF_MAX - d) / 10)
			n = RANGE_OFF_MAX;
		else
			n = n * 10 + d;
		(*i)++;
	}
	if (*i == start)
		return -1;
	*pos = n;
	return 0;
}

/*
 * Syntax first, then meaning: anything the grammar rejects (and a range whose
 * last-byte-pos is below its first-byte-pos, which RFC 9110 calls invalid)
 * is RANGE_NONE; only a well-formed range can be RANGE_UNSATISFIABLE.
 * A comma anywhere means a range list, even "bytes=0-1," with an empty
 * element: one 200 is always allowed, so no multipart is ever produced.
 */
enum range_result
range_parse(const char *v, size_t len, off_t size, off_t *first, off_t *last)
{
	size_t	 i;
	off_t	 a = 0, b = 0;
	int	 has_a = 0, has_b = 0;

	if (v == NULL || size < 0)
		return RANGE_NONE;
	i = skip_ows(v, len, 0);
	if (len - i < 6 || strncasecmp(v + i, "bytes", 5) != 0 ||
	    v[i + 5] != '=')
		return RANGE_NONE;
	i += 6;
	if (memchr(v + i, ',', len - i) != NULL)
		return RANGE_NONE;
	i = skip_ows(v, len, i);

	if (i < len && v[i] != '-') {
		if (get_pos(v, len, &i, &a) == -1)
			return RANGE_NONE;
		has_a = 1;
	}
	if (i == len || v[i] != '-')
		return RANGE_NONE;
	i++;
	if (i < len && v[i] >= '0' && v[i] <= '9') {
		(void)get_pos(v, len, &i, &b);
		has_b = 1;
	}
	if (skip_ows(v, len, i) != len)
		return RANGE_NONE;

	if (has_a) {
		/* "a-b" or "a-" */
		if (has_b && b < a)
			return RANGE_NONE;
		if (a >= size)
			return RANGE_UNSATISFIABLE;
		*first = a;
		*last = has_b && b < size - 1 ? b : size - 1;
		return RANGE_OK;
	}
	if (!has_b)
		return RANGE_NONE;	/* a lone "-" */
	/* "-n": the last n bytes; none of an empty representation */
	if (b == 0 || size == 0)
		return RANGE_UNSATISFIABLE;
	*first = b < size ? size - b : 0;
	*last = size - 1;
	return RANGE_OK;
}
