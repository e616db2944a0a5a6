/*
 * check_range - unit tests for worker/range.c: single byte ranges, suffixes,
 * clamping, unsatisfiable ranges, and everything that must be ignored.
 */
#include <sys/types.h>

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "range.h"

#define OFFMAX	((off_t)INT64_MAX)

/*
 * Copies n bytes to a heap block of exactly n bytes, so that ASan and
 * valgrind see any read past the length the function was given.
 */
static char *
dup_exact(const char *s, size_t n)
{
	char	*p = malloc(n > 0 ? n : 1);

	ck_assert_ptr_nonnull(p);
	memcpy(p, s, n);
	return p;
}

static const struct {
	const char		*v;
	off_t			 size;
	enum range_result	 want;
	off_t			 first, last;
} cases[] = {
	/* bytes=a-b */
	{ "bytes=0-0",		100,	RANGE_OK,	0,	0 },
	{ "bytes=0-99",		100,	RANGE_OK,	0,	99 },
	{ "bytes=10-19",	100,	RANGE_OK,	10,	19 },
	{ "bytes=99-99",	100,	RANGE_OK,	99,	99 },
	{ "bytes=0-1000",	100,	RANGE_OK,	0,	99 },
	{ "bytes=50-100",	100,	RANGE_OK,	50,	99 },
	{ "bytes=007-0010",	100,	RANGE_OK,	7,	10 },
	{ "bytes=100-200",	100,	RANGE_UNSATISFIABLE, 0,	0 },
	{ "bytes=100-100",	100,	RANGE_UNSATISFIABLE, 0,	0 },
	{ "bytes=5-4",		100,	RANGE_NONE,	0,	0 },
	{ "bytes=200-100",	100,	RANGE_NONE,	0,	0 },
	/* bytes=a- */
	{ "bytes=0-",		100,	RANGE_OK,	0,	99 },
	{ "bytes=99-",		100,	RANGE_OK,	99,	99 },
	{ "bytes=100-",		100,	RANGE_UNSATISFIABLE, 0,	0 },
	{ "bytes=0-",		1,	RANGE_OK,	0,	0 },
	{ "bytes=0-",		0,	RANGE_UNSATISFIABLE, 0,	0 },
	{ "bytes=0-0",		0,	RANGE_UNSATISFIABLE, 0,	0 },
	/* bytes=-n */
	{ "bytes=-1",		100,	RANGE_OK,	99,	99 },
	{ "bytes=-10",		100,	RANGE_OK,	90,	99 },
	{ "bytes=-100",		100,	RANGE_OK,	0,	99 },
	{ "bytes=-101",		100,	RANGE_OK,	0,	99 },
	{ "bytes=-0",		100,	RANGE_UNSATISFIABLE, 0,	0 },
	{ "bytes=-000",		100,	RANGE_UNSATISFIABLE, 0,	0 },
	{ "bytes=-1",		0,	RANGE_UNSATISFIABLE, 0,	0 },
	{ "bytes=-0",		0,	RANGE_UNSATISFIABLE, 0,	0 },
	/* the unit, case and whitespace */
	{ "Bytes=0-4",		100,	RANGE_OK,	0,	4 },
	{ "BYTES=0-4",		100,	RANGE_OK,	0,	4 },
	{ "bYtEs=-4",		100,	RANGE_OK,	96,	99 },
	{ "bytes= 0-4",		100,	RANGE_OK,	0,	4 },
	{ "bytes=0-4 ",		100,	RANGE_OK,	0,	4 },
	{ "bytes=\t0-4\t",	100,	RANGE_OK,	0,	4 },
	{ " bytes=0-4",		100,	RANGE_OK,	0,	4 },
	{ "bytes=  -4  ",	100,	RANGE_OK,	96,	99 },
	{ "bytes =0-4",		100,	RANGE_NONE,	0,	0 },
	{ "bytes= 0 -4",	100,	RANGE_NONE,	0,	0 },
	{ "bytes=0- 4",		100,	RANGE_NONE,	0,	0 },
	{ "bytes=- 4",		100,	RANGE_NONE,	0,	0 },
	{ "bytes=0-4\r",	100,	RANGE_NONE,	0,	0 },
	{ "bytes:0-4",		100,	RANGE_NONE,	0,	0 },
	{ "byte=0-4",		100,	RANGE_NONE,	0,	0 },
	{ "bytesx=0-4",		100,	RANGE_NONE,	0,	0 },
	{ "items=0-4",		100,	RANGE_NONE,	0,	0 },
	{ "none",		100,	RANGE_NONE,	0,	0 },
	/* malformed */
	{ "",			100,	RANGE_NONE,	0,	0 },
	{ " ",			100,	RANGE_NONE,	0,	0 },
	{ "bytes",		100,	RANGE_NONE,	0,	0 },
	{ "bytes=",		100,	RANGE_NONE,	0,	0 },
	{ "bytes= ",		100,	RANGE_NONE,	0,	0 },
	{ "bytes=-",		100,	RANGE_NONE,	0,	0 },
	{ "bytes=--1",		100,	RANGE_NONE,	0,	0 },
	{ "bytes=1",		100,	RANGE_NONE,	0,	0 },
	{ "bytes=1--2",		100,	RANGE_NONE,	0,	0 },
	{ "bytes=1-2-",		100,	RANGE_NONE,	0,	0 },
	{ "bytes=1-2-3",	100,	RANGE_NONE,	0,	0 },
	{ "bytes=a-b",		100,	RANGE_NONE,	0,	0 },
	{ "bytes=1-b",		100,	RANGE_NONE,	0,	0 },
	{ "bytes=0x10-20",	100,	RANGE_NONE,	0,	0 },
	{ "bytes=+1-2",		100,	RANGE_NONE,	0,	0 },
	{ "bytes=1-+2",		100,	RANGE_NONE,	0,	0 },
	{ "bytes=-+2",		100,	RANGE_NONE,	0,	0 },
	{ "bytes=-1-2",		100,	RANGE_NONE,	0,	0 },
	{ "bytes=1.5-2",	100,	RANGE_NONE,	0,	0 },
	{ "bytes==0-1",		100,	RANGE_NONE,	0,	0 },
	{ "=0-1",		100,	RANGE_NONE,	0,	0 },
	{ "bytes=5-4",		0,	RANGE_NONE,	0,	0 },
	/* more than one range, or an empty list element */
	{ "bytes=0-1,2-3",	100,	RANGE_NONE,	0,	0 },
	{ "bytes=0-1, 2-3",	100,	RANGE_NONE,	0,	0 },
	{ "bytes=0-1,",		100,	RANGE_NONE,	0,	0 },
	{ "bytes=,0-1",		100,	RANGE_NONE,	0,	0 },
	{ "bytes=-1,-2",	100,	RANGE_NONE,	0,	0 },
	{ "bytes=200-300,0-1",	100,	RANGE_NONE,	0,	0 },
	{ "bytes=0-1,",		0,	RANGE_NONE,	0,	0 },
	/* overflow: values saturate at 2^63-1 */
	{ "bytes=0-9223372036854775807", 100, RANGE_OK,	0,	99 },
	{ "bytes=0-9223372036854775808", 100, RANGE_OK,	0,	99 },
	{ "bytes=0-99999999999999999999999999999", 100, RANGE_OK, 0, 99 },
	{ "bytes=9223372036854775807-", 100, RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=9223372036854775808-", 100, RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=99999999999999999999999999-", 100, RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=18446744073709551616-18446744073709551617", 100,
	    RANGE_UNSATISFIABLE, 0, 0 },
	/* After saturation both are equal: not "last < first". */
	{ "bytes=99999999999999999999-99999999999999999998", 100,
	    RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=-9223372036854775807",	100,	RANGE_OK, 0,	99 },
	{ "bytes=-9223372036854775808",	100,	RANGE_OK, 0,	99 },
	{ "bytes=-99999999999999999999999", 100, RANGE_OK, 0,	99 },
	{ "bytes=0000000000000000000000000000001-2", 100, RANGE_OK, 1, 2 },
	{ "bytes=10-18446744073709551615", 100,	RANGE_OK, 10,	99 },
	/* wrapping into a small number must not happen */
	{ "bytes=18446744073709551617-", 100,	RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=-18446744073709551617", 100,	RANGE_OK, 0,	99 },
	/* the largest sizes */
	{ "bytes=0-",		OFFMAX,	RANGE_OK,	0,	OFFMAX - 1 },
	{ "bytes=-1",		OFFMAX,	RANGE_OK,	OFFMAX - 1, OFFMAX - 1 },
	{ "bytes=-9223372036854775807", OFFMAX, RANGE_OK, 0,	OFFMAX - 1 },
	{ "bytes=9223372036854775806-", OFFMAX, RANGE_OK,
	    OFFMAX - 1,	OFFMAX - 1 },
	{ "bytes=9223372036854775807-", OFFMAX, RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=0-99999999999999999999", OFFMAX, RANGE_OK, 0,	OFFMAX - 1 },
	{ "bytes=4294967296-4294967300", 5000000000LL, RANGE_OK,
	    4294967296LL, 4294967300LL },
	/* a negative size is no representation to range over */
	{ "bytes=0-",		-1,	RANGE_NONE,	0,	0 },
};

START_TEST(test_cases)
{
	off_t			 first = -7, last = -7;
	enum range_result	 r;
	char			*v;

	v = dup_exact(cases[_i].v, strlen(cases[_i].v));
	r = range_parse(v, strlen(cases[_i].v), cases[_i].size, &first, &last);
	free(v);
	ck_assert_msg(r == cases[_i].want, "\"%s\" size %lld: got %d, want %d",
	    cases[_i].v, (long long)cases[_i].size, r, cases[_i].want);
	if (r == RANGE_OK) {
		ck_assert_int_eq(first, cases[_i].first);
		ck_assert_int_eq(last, cases[_i].last);
	} else {
		/* Outputs are only written on RANGE_OK. */
		ck_assert_int_eq(first, -7);
		ck_assert_int_eq(last, -7);
	}
}
END_TEST

/* The length bounds the value: nothing is read past it. */
START_TEST(test_length)
{
	static const char v[] = "bytes=0-499,junk";
	off_t	 first, last;

	ck_assert_int_eq(range_parse(v, 11, 1000, &first, &last), RANGE_OK);
	ck_assert_int_eq(first, 0);
	ck_assert_int_eq(last, 499);
	ck_assert_int_eq(range_parse(v, 10, 1000, &first, &last), RANGE_OK);
	ck_assert_int_eq(last, 49);
	ck_assert_int_eq(range_parse(v, 8, 1000, &first, &last), RANGE_OK);
	ck_assert_int_eq(last, 999);
	ck_assert_int_eq(range_parse(v, 6, 1000, &first, &last), RANGE_NONE);
	ck_assert_int_eq(range_parse(v, 5, 1000, &first, &last), RANGE_NONE);
	ck_assert_int_eq(range_parse(v, 0, 1000, &first, &last), RANGE_NONE);
	ck_assert_int_eq(range_parse(NULL, 0, 1000, &first, &last),
	    RANGE_NONE);
	ck_assert_int_eq(range_parse(v, strlen(v), 1000, &first, &last),
	    RANGE_NONE);
}
END_TEST

/* An embedded NUL is an ordinary, invalid byte. */
START_TEST(test_nul)
{
	static const char v[] = "bytes=0-4\0" "9";
	off_t	 first, last;

	ck_assert_int_eq(range_parse(v, sizeof(v) - 1, 100, &first, &last),
	    RANGE_NONE);
	ck_assert_int_eq(range_parse("bytes\0=0-1", 10, 100, &first, &last),
	    RANGE_NONE);
}
END_TEST

/*
 * Every well-formed "a-b", "a-" and "-n" over small sizes against a
 * direct reading of RFC 9110: the invariant 0 <= first <= last < size.
 */
START_TEST(test_exhaustive)
{
	char			 v[64];
	off_t			 size, a, b, first, last, wf, wl;
	enum range_result	 r, want;

	for (size = 0; size <= 12; size++) {
		for (a = -1; a <= 14; a++) {
			for (b = -1; b <= 14; b++) {
				if (a < 0 && b < 0)
					continue;
				if (a < 0)
					snprintf(v, sizeof(v), "bytes=-%lld",
					    (long long)b);
				else if (b < 0)
					snprintf(v, sizeof(v), "bytes=%lld-",
					    (long long)a);
				else
					snprintf(v, sizeof(v), "bytes=%lld-%lld",
					    (long long)a, (long long)b);

				wf = wl = 0;
				if (a >= 0 && b >= 0 && b < a)
					want = RANGE_NONE;
				else if (a >= 0 && a >= size)
					want = RANGE_UNSATISFIABLE;
				else if (a >= 0) {
					want = RANGE_OK;
					wf = a;
					wl = b >= 0 && b < size ? b : size - 1;
				} else if (b == 0 || size == 0)
					want = RANGE_UNSATISFIABLE;
				else {
					want = RANGE_OK;
					wf = b < size ? size - b : 0;
					wl = size - 1;
				}

				r = range_parse(v, strlen(v), size, &first,
				    &last);
				ck_assert_msg(r == want, "%s size %lld", v,
				    (long long)size);
				if (r != RANGE_OK)
					continue;
				ck_assert_int_eq(first, wf);
				ck_assert_int_eq(last, wl);
				ck_assert(0 <= first && first <= last &&
				    last < size);
			}
		}
	}
}
END_TEST

static Suite *
range_suite(void)
{
	Suite	*s = suite_create("range");
	TCase	*tc = tcase_create("parse");

	tcase_add_loop_test(tc, test_cases, 0,
	    sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_length);
	tcase_add_test(tc, test_nul);
	tcase_add_test(tc, test_exhaustive);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(range_suite());
	int	 failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
