/*
 * fuzz_range - libFuzzer target for range_parse() (worker/range.c).
 *
 * Input: the first 8 bytes are the representation size (little endian,
 * any value, negative ones included), the rest is the Range header value.
 * Invariants: on RANGE_OK, 0 <= first <= last < size; first and last are
 * written only on RANGE_OK; and the result is the one a separate, plainly
 * written reading of the contract in range.h gives (same result, same
 * first and last).
 */
#include <sys/types.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "range.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define UNSET	((off_t)-12345)

static void fail(const char *, ...) __attribute__((format(printf, 1, 2),
    noreturn));

static void
fail(const char *fmt, ...)
{
	va_list ap;

	fputs("fuzz_range: invariant broken: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static bool
ows(char c)
{
	return c == ' ' || c == '\t';
}

/* 1*DIGIT in s[b..e), saturating at INT64_MAX; false when not all digits. */
static bool
number(const char *s, size_t b, size_t e, off_t *v)
{
	off_t n = 0;

	if (b == e)
		return false;
	for (size_t i = b; i < e; i++) {
		int d = s[i] - '0';

		if (d < 0 || d > 9)
			return false;
		if (n > (INT64_MAX - d) / 10)
			n = INT64_MAX;	/* n * 10 + d would not fit */
		else
			n = n * 10 + d;
	}
	*v = n;
	return true;
}

/*
 * The contract of range.h, read on its own: OWS "bytes=" OWS range OWS,
 * where range is "a-b", "a-" or "-n"; no comma anywhere after the '='.
 */
static enum range_result
oracle(const char *v, size_t len, off_t size, off_t *first, off_t *last)
{
	size_t b = 0, e = len, dash;
	off_t a = 0, z = 0;
	bool has_a, has_z;

	if (size < 0)
		return RANGE_NONE;
	while (b < e && ows(v[b]))
		b++;
	if (e - b < 6 || strncasecmp(v + b, "bytes=", 6) != 0)
		return RANGE_NONE;
	b += 6;
	if (memchr(v + b, ',', e - b) != NULL)
		return RANGE_NONE;
	while (b < e && ows(v[b]))
		b++;
	while (e > b && ows(v[e - 1]))
		e--;
	for (dash = b; dash < e && v[dash] != '-'; dash++)
		;
	if (dash == e)
		return RANGE_NONE;
	has_a = dash > b;
	has_z = dash + 1 < e;
	if ((has_a && !number(v, b, dash, &a)) ||
	    (has_z && !number(v, dash + 1, e, &z)))
		return RANGE_NONE;
	if (has_a) {
		if (has_z && z < a)
			return RANGE_NONE;
		if (a >= size)
			return RANGE_UNSATISFIABLE;
		*first = a;
		*last = has_z && z < size - 1 ? z : size - 1;
		return RANGE_OK;
	}
	if (!has_z)
		return RANGE_NONE;
	if (z == 0 || size == 0)
		return RANGE_UNSATISFIABLE;
	*first = z < size ? size - z : 0;
	*last = size - 1;
	return RANGE_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t u = 0;
	off_t sz, first = UNSET, last = UNSET, of = UNSET, ol = UNSET;
	enum range_result rc, want;
	size_t len;
	char *v;

	if (size < 8)
		return 0;
	for (int i = 7; i >= 0; i--)
		u = u << 8 | data[i];
	sz = (off_t)u;
	len = size - 8;
	/* An exact-size copy, so that reading past the value is caught. */
	if ((v = malloc(len ? len : 1)) == NULL)
		abort();
	memcpy(v, data + 8, len);

	rc = range_parse(v, len, sz, &first, &last);
	switch (rc) {
	case RANGE_OK:
		if (!(0 <= first && first <= last && last < sz))
			fail("RANGE_OK with first %lld, last %lld, size %lld",
			    (long long)first, (long long)last, (long long)sz);
		break;
	case RANGE_NONE:
	case RANGE_UNSATISFIABLE:
		if (first != UNSET || last != UNSET)
			fail("result %d wrote first/last", rc);
		break;
	default:
		fail("result %d is not a range_result", rc);
	}
	want = oracle(v, len, sz, &of, &ol);
	if (rc != want || first != of || last != ol)
		fail("size %lld, value \"%.*s\": got %d [%lld, %lld], "
		    "the contract says %d [%lld, %lld]", (long long)sz,
		    (int)len, v, rc, (long long)first, (long long)last, want,
		    (long long)of, (long long)ol);
	free(v);
	return 0;
}
