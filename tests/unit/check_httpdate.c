/*
 * check_httpdate - unit tests for common/httpdate.c: IMF-fixdate output
 * (against gmtime_r and strftime, and without calling gmtime_r), the civil
 * calendar, the three accepted input forms, and rejection of everything
 * else.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "httpdate.h"

/*
 * Parses a copy of s in a heap block of exactly strlen(s) bytes, so that
 * ASan and valgrind see any read past the length.
 */
static int
parse_str(const char *s, time_t *t)
{
	size_t	 n = strlen(s);
	char	*p = malloc(n > 0 ? n : 1);
	int	 r;

	ck_assert_ptr_nonnull(p);
	memcpy(p, s, n);
	r = httpdate_parse(p, n, t);
	free(p);
	return r;
}

static const struct {
	long long	 t;
	const char	*s;
} fmt_cases[] = {
	{ 0,			"Thu, 01 Jan 1970 00:00:00 GMT" },
	{ 784111777,		"Sun, 06 Nov 1994 08:49:37 GMT" },
	{ 951782400,		"Tue, 29 Feb 2000 00:00:00 GMT" },
	{ -1,			"Wed, 31 Dec 1969 23:59:59 GMT" },
	{ 2147483647,		"Tue, 19 Jan 2038 03:14:07 GMT" },
	{ 2147483648LL,		"Tue, 19 Jan 2038 03:14:08 GMT" },
	{ 1700000000,		"Tue, 14 Nov 2023 22:13:20 GMT" },
	{ 253402300799LL,	"Fri, 31 Dec 9999 23:59:59 GMT" },
	{ -62167219200LL,	"Sat, 01 Jan 0000 00:00:00 GMT" },
	/* Out of the four-digit range: clamped. */
	{ 253402300800LL,	"Fri, 31 Dec 9999 23:59:59 GMT" },
	{ INT64_MAX,		"Fri, 31 Dec 9999 23:59:59 GMT" },
	{ -62167219201LL,	"Sat, 01 Jan 0000 00:00:00 GMT" },
	{ INT64_MIN,		"Sat, 01 Jan 0000 00:00:00 GMT" },
};

START_TEST(test_format)
{
	char	 buf[HTTPDATE_LEN + 8];

	memset(buf, 'X', sizeof(buf));
	ck_assert_uint_eq(httpdate_format((time_t)fmt_cases[_i].t, buf),
	    HTTPDATE_LEN);
	ck_assert_str_eq(buf, fmt_cases[_i].s);
	ck_assert_uint_eq(strlen(buf), HTTPDATE_LEN);
	/* Exactly HTTPDATE_LEN + 1 bytes written. */
	ck_assert_int_eq(buf[HTTPDATE_LEN + 1], 'X');
}
END_TEST

/* Every month and weekday name comes out right, over a few years. */
START_TEST(test_format_roundtrip)
{
	char	 buf[HTTPDATE_LEN + 1];
	time_t	 t, back;
	long long v;

	for (v = -400LL * 86400; v < 60LL * 366 * 86400; v += 86400 * 7 + 3677) {
		t = (time_t)v;
		httpdate_format(t, buf);
		ck_assert_int_eq(httpdate_parse(buf, HTTPDATE_LEN, &back), 0);
		ck_assert_int_eq(back, t);
	}
}
END_TEST

/*
 * gmtime_r, interposed: counts the calls, so that a test can show that
 * formatting makes none (the crash handler formats a Date in a signal
 * handler, where gmtime_r may deadlock on the libc time zone lock).
 * glibc's gmtime does not call gmtime_r, so it can do the work.
 */
static int gmtime_r_calls;

struct tm *
gmtime_r(const time_t *t, struct tm *tm)
{
	struct tm *p;

	gmtime_r_calls++;
	if ((p = gmtime(t)) == NULL)
		return NULL;
	*tm = *p;
	return tm;
}

/* What httpdate_format must write for t, made by libc. */
static void
reference(long long v, char *out, size_t size)
{
	struct tm	 tm;
	time_t		 t = (time_t)v;
	char		 a[24], b[24];

	ck_assert_ptr_nonnull(gmtime_r(&t, &tm));
	/* %Y does not pad years below 1000. */
	ck_assert_uint_ne(strftime(a, sizeof(a), "%a, %d %b", &tm), 0);
	ck_assert_uint_ne(strftime(b, sizeof(b), "%H:%M:%S GMT", &tm), 0);
	snprintf(out, size, "%s %04d %s", a, tm.tm_year + 1900, b);
}

static void
check_against_libc(long long v)
{
	char	 got[HTTPDATE_LEN + 1], want[128];

	httpdate_format((time_t)v, got);
	reference(v, want, sizeof(want));
	ck_assert_msg(strcmp(got, want) == 0, "%lld: \"%s\", want \"%s\"",
	    v, got, want);
}

/* Around the edges a hand-made calendar gets wrong, second by second. */
START_TEST(test_format_edges)
{
	static const char *const days[] = {
		"1970-01-01", "1969-12-31", "0000-01-01", "0000-02-29",
		"0001-01-01", "1600-02-29", "1700-02-28", "1800-03-01",
		"1900-02-28", "1900-03-01", "1972-02-29", "1999-12-31",
		"2000-02-29", "2000-03-01", "2038-01-19", "2038-01-20",
		"2100-02-28", "2100-03-01", "2104-02-29", "2106-02-07",
		"2400-02-29", "2400-12-31", "9999-12-31",
	};
	struct tm	 tm;
	long long	 base, v;

	for (size_t i = 0; i < sizeof(days) / sizeof(days[0]); i++) {
		memset(&tm, 0, sizeof(tm));
		ck_assert_ptr_nonnull(strptime(days[i], "%Y-%m-%d", &tm));
		base = (long long)timegm(&tm);
		/* Within 0000..9999: the clamping has its own cases. */
		for (v = base - 2; v <= base + 86400 + 2; v++) {
			if (v == base + 3)
				v = base + 86400 - 2;
			if (v >= -62167219200LL && v <= 253402300799LL)
				check_against_libc(v);
		}
	}
	check_against_libc(2147483647LL);
	check_against_libc(2147483648LL);
	check_against_libc(4294967295LL);
	check_against_libc(4294967296LL);
}
END_TEST

/* All of years 0000..9999 with an odd step: every month, weekday, hour. */
START_TEST(test_format_sweep)
{
	long long	 v;

	for (v = -62167219200LL; v <= 253402300799LL; v += 86400LL * 29 + 3607)
		check_against_libc(v);
}
END_TEST

/* Every day of years 1900..2199, and every 97th of 0000..9999 (quick
 * enough under the sanitizers too). */
START_TEST(test_civil_every_day)
{
	struct tm	 tm;
	time_t		 t;
	long long	 d;
	int		 y, m, md;

	for (d = -719528; d <= 2932896;
	    d += d >= -25567 && d < 84006 ? 1 : 97) {
		httpdate_civil(d, &y, &m, &md);
		t = (time_t)(d * 86400);
		ck_assert_ptr_nonnull(gmtime_r(&t, &tm));
		if (y != tm.tm_year + 1900 || m != tm.tm_mon + 1 ||
		    md != tm.tm_mday)
			ck_abort_msg("day %lld: %04d-%02d-%02d, want "
			    "%04d-%02d-%02d", d, y, m, md, tm.tm_year + 1900,
			    tm.tm_mon + 1, tm.tm_mday);
	}
}
END_TEST

START_TEST(test_format_without_gmtime_r)
{
	char	 buf[HTTPDATE_LEN + 1];
	time_t	 t;
	int	 n, y, m, d;

	/* The interposer sees the library's calls (the RFC 850 parser). */
	n = gmtime_r_calls;
	ck_assert_int_eq(httpdate_parse("Sunday, 06-Nov-94 08:49:37 GMT", 30,
	    &t), 0);
	ck_assert_int_gt(gmtime_r_calls, n);

	n = gmtime_r_calls;
	httpdate_format(time(NULL), buf);
	httpdate_format(-1, buf);
	httpdate_format(4102444800LL, buf);
	httpdate_civil(20000, &y, &m, &d);
	ck_assert_int_eq(gmtime_r_calls, n);
}
END_TEST

/* Valid dates and the time each means. */
static const struct {
	const char	*s;
	long long	 t;
} good_cases[] = {
	{ "Sun, 06 Nov 1994 08:49:37 GMT",	784111777 },
	{ "Sunday, 06-Nov-94 08:49:37 GMT",	784111777 },
	{ "Sun Nov  6 08:49:37 1994",		784111777 },
	{ "Sun Nov 06 08:49:37 1994",		784111777 },
	{ "Wed Nov 16 08:49:37 1994",		784975777 },
	{ "Thu, 01 Jan 1970 00:00:00 GMT",	0 },
	{ "Wed, 31 Dec 1969 23:59:59 GMT",	-1 },
	{ "Tue, 29 Feb 2000 00:00:00 GMT",	951782400 },
	{ "Thu, 29 Feb 1996 12:00:00 GMT",	825595200 },
	{ "Fri, 31 Dec 9999 23:59:59 GMT",	253402300799LL },
	{ "Sat, 01 Jan 0000 00:00:00 GMT",	-62167219200LL },
	{ "Wednesday, 09-Sep-09 09:09:09 GMT",	1252487349 },
	{ "Monday, 01-Jan-01 00:00:00 GMT",	978307200 },
	{ "Tue Jan 19 03:14:08 2038",		2147483648LL },
	/* A leap second: folded into the next minute. */
	{ "Sat, 31 Dec 2016 23:59:60 GMT",	1483228800 },
	/* The day name is syntax only, not checked against the date. */
	{ "Mon, 06 Nov 1994 08:49:37 GMT",	784111777 },
	{ "Friday, 06-Nov-94 08:49:37 GMT",	784111777 },
	{ "Sat Nov  6 08:49:37 1994",		784111777 },
};

START_TEST(test_parse_good)
{
	time_t	 t = 12345;

	ck_assert_msg(parse_str(good_cases[_i].s, &t) == 0,
	    "rejected \"%s\"", good_cases[_i].s);
	ck_assert_int_eq(t, good_cases[_i].t);
}
END_TEST

static const char *const bad_cases[] = {
	"",
	"S",
	"Sun",
	"Sun,",
	"Sun, ",
	"garbage",
	"0",
	"Sun, 06 Nov 1994 08:49:37",
	/* case: HTTP-date is case-sensitive */
	"sun, 06 Nov 1994 08:49:37 GMT",
	"SUN, 06 Nov 1994 08:49:37 GMT",
	"Sun, 06 nov 1994 08:49:37 GMT",
	"Sun, 06 NOV 1994 08:49:37 GMT",
	"Sun, 06 Nov 1994 08:49:37 gmt",
	"sunday, 06-Nov-94 08:49:37 GMT",
	"Sun nov  6 08:49:37 1994",
	/* whitespace and trailing junk */
	" Sun, 06 Nov 1994 08:49:37 GMT",
	"Sun, 06 Nov 1994 08:49:37 GMT ",
	"Sun, 06 Nov 1994 08:49:37 GMTX",
	"Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT",
	"Sun,  06 Nov 1994 08:49:37 GMT",
	"Sun, 06 Nov 1994  08:49:37 GMT",
	"Sun, 06 Nov 1994 08:49:37  GMT",
	"Sun,06 Nov 1994 08:49:37 GMT ",
	"Sun, 06-Nov-1994 08:49:37 GMT",
	"Sun Nov  6 08:49:37 1994 ",
	"Sun Nov  6 08:49:37 1994 GMT",
	" Sun Nov  6 08:49:37 1994",
	"Sunday, 06-Nov-94 08:49:37 GMT ",
	"Sunday, 06-Nov-94 08:49:37 GMTX",
	"Sunday,  06-Nov-94 08:49:37 GMT",
	"\tSun, 06 Nov 1994 08:49:37 GMT",
	/* other zones and forms */
	"Sun, 06 Nov 1994 08:49:37 UTC",
	"Sun, 06 Nov 1994 08:49:37 +0000",
	"1994-11-06T08:49:37Z",
	"784111777",
	/* wrong day name for the form */
	"Sunday, 06 Nov 1994 08:49:37 GMT",
	"Sun, 06-Nov-94 08:49:37 GMT",
	"Sunday Nov  6 08:49:37 1994",
	"Sud, 06 Nov 1994 08:49:37 GMT",
	"Sundae, 06-Nov-94 08:49:37 GMT",
	"Wednesdays, 06-Nov-94 08:49:37 GMT",
	"Xxx Nov  6 08:49:37 1994",
	/* digits */
	"Sun, 6 Nov 1994 08:49:37 GMT",
	"Sun, 06 Nov 94 08:49:37 GMT",
	"Sun, 06 Nov 19944 08:49:37 GMT",
	"Sun, 0x Nov 1994 08:49:37 GMT",
	"Sun, 06 Nov 199a 08:49:37 GMT",
	"Sun, 06 Nov 1994 8:49:37 GMT",
	"Sun, 06 Nov 1994 08:49:3 GMT",
	"Sun, 06 Nov 1994 08.49.37 GMT",
	"Sun, 06 Nov 1994 08:49:-7 GMT",
	"Sun, +6 Nov 1994 08:49:37 GMT",
	"Sun, -6 Nov 1994 08:49:37 GMT",
	"Sun Nov  x 08:49:37 1994",
	"Sun Nov 6  08:49:37 1994",
	"Sun Nov   6 08:49:37 1994",
	"Sun Nov  6 08:49:37 94",
	"Sunday, 06-Nov-9x 08:49:37 GMT",
	"Sunday, 6-Nov-94 08:49:37 GMT",
	/* out-of-range fields */
	"Sun, 00 Nov 1994 08:49:37 GMT",
	"Sun, 32 Jan 1994 08:49:37 GMT",
	"Sun, 31 Nov 1994 08:49:37 GMT",
	"Sun, 31 Apr 1994 08:49:37 GMT",
	"Sun, 30 Feb 2000 08:49:37 GMT",
	"Sun, 29 Feb 1900 08:49:37 GMT",
	"Sun, 29 Feb 1999 08:49:37 GMT",
	"Sun, 06 Nov 1994 24:00:00 GMT",
	"Sun, 06 Nov 1994 08:60:37 GMT",
	"Sun, 06 Nov 1994 08:49:61 GMT",
	"Sun, 06 Nov 1994 99:99:99 GMT",
	"Sun, 06 Xyz 1994 08:49:37 GMT",
	"Sun Nov  0 08:49:37 1994",
	"Sun Nov 31 08:49:37 1994",
	"Sunday, 31-Jun-94 08:49:37 GMT",
	"Sunday, 06-Nov-94 25:49:37 GMT",
};

START_TEST(test_parse_bad)
{
	time_t	 t = 12345;

	ck_assert_msg(parse_str(bad_cases[_i], &t) == -1,
	    "accepted \"%s\"", bad_cases[_i]);
	ck_assert_int_eq(t, 12345);
}
END_TEST

/* The length is authoritative: no NUL needed, bytes past len ignored. */
START_TEST(test_parse_length)
{
	static const char imf[] = "Sun, 06 Nov 1994 08:49:37 GMTjunk";
	static const char asc[] = "Sun Nov  6 08:49:37 1994junk";
	char	 buf[64];
	time_t	 t;

	ck_assert_int_eq(httpdate_parse(imf, HTTPDATE_LEN, &t), 0);
	ck_assert_int_eq(t, 784111777);
	ck_assert_int_eq(httpdate_parse(asc, 24, &t), 0);
	ck_assert_int_eq(t, 784111777);
	ck_assert_int_eq(httpdate_parse(imf, strlen(imf), &t), -1);
	ck_assert_int_eq(httpdate_parse(imf, HTTPDATE_LEN - 1, &t), -1);
	ck_assert_int_eq(httpdate_parse(imf, 0, &t), -1);
	ck_assert_int_eq(httpdate_parse(imf, 3, &t), -1);
	ck_assert_int_eq(httpdate_parse(NULL, 0, &t), -1);

	/* An embedded NUL is a byte like any other: rejected. */
	memcpy(buf, "Sun, 06 Nov 1994 08:49:37 GMT", HTTPDATE_LEN);
	buf[20] = '\0';
	ck_assert_int_eq(httpdate_parse(buf, HTTPDATE_LEN, &t), -1);

	/* Not NUL-terminated, followed by unmapped-looking garbage. */
	memset(buf, 0xff, sizeof(buf));
	memcpy(buf, "Sunday, 06-Nov-94 08:49:37 GMT", 30);
	ck_assert_int_eq(httpdate_parse(buf, 30, &t), 0);
	ck_assert_int_eq(t, 784111777);
}
END_TEST

/* Every short and long day name and every month name is accepted. */
START_TEST(test_parse_names)
{
	static const char *const dshort[] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
	};
	static const char *const dlong[] = {
		"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday",
		"Friday", "Saturday"
	};
	static const char *const mon[] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
		"Sep", "Oct", "Nov", "Dec"
	};
	char	 buf[64];
	time_t	 t, prev = 0;
	int	 d, m;

	for (d = 0; d < 7; d++) {
		snprintf(buf, sizeof(buf), "%s, 01 Jan 2001 00:00:00 GMT",
		    dshort[d]);
		ck_assert_int_eq(parse_str(buf, &t), 0);
		snprintf(buf, sizeof(buf), "%s, 01-Jan-01 00:00:00 GMT",
		    dlong[d]);
		ck_assert_int_eq(parse_str(buf, &t), 0);
		snprintf(buf, sizeof(buf), "%s Jan  1 00:00:00 2001",
		    dshort[d]);
		ck_assert_int_eq(parse_str(buf, &t), 0);
	}
	for (m = 0; m < 12; m++) {
		snprintf(buf, sizeof(buf), "Mon, 01 %s 2001 00:00:00 GMT",
		    mon[m]);
		ck_assert_int_eq(parse_str(buf, &t), 0);
		ck_assert_int_gt(t, prev);
		prev = t;
	}
}
END_TEST

/*
 * RFC 850 years: up to 50 years ahead of the current year stay in this
 * century (or the next), beyond that they go back 100 years.
 */
START_TEST(test_parse_rfc850_century)
{
	struct tm	 now, want;
	time_t		 clock = time(NULL), t;
	char		 buf[64];
	int		 cur, y, off;

	ck_assert_ptr_nonnull(gmtime_r(&clock, &now));
	cur = now.tm_year + 1900;
	for (off = -49; off <= 50; off++) {
		y = cur + off;
		snprintf(buf, sizeof(buf), "Sunday, 01-Jan-%02d 00:00:00 GMT",
		    y % 100);
		ck_assert_int_eq(parse_str(buf, &t), 0);
		memset(&want, 0, sizeof(want));
		want.tm_year = y - 1900;
		want.tm_mday = 1;
		ck_assert_msg(t == timegm(&want), "%s is not %d", buf, y);
	}
	/* cur + 51 has the digits of cur - 49: it is taken as the latter. */
	snprintf(buf, sizeof(buf), "Sunday, 01-Jan-%02d 00:00:00 GMT",
	    (cur + 51) % 100);
	ck_assert_int_eq(parse_str(buf, &t), 0);
	memset(&want, 0, sizeof(want));
	want.tm_year = cur - 49 - 1900;
	want.tm_mday = 1;
	ck_assert_int_eq(t, timegm(&want));
}
END_TEST

static Suite *
httpdate_suite(void)
{
	Suite	*s = suite_create("httpdate");
	TCase	*tc;

	tc = tcase_create("format");
	tcase_add_loop_test(tc, test_format, 0,
	    sizeof(fmt_cases) / sizeof(fmt_cases[0]));
	tcase_add_test(tc, test_format_roundtrip);
	tcase_add_test(tc, test_format_edges);
	tcase_add_test(tc, test_format_sweep);
	tcase_add_test(tc, test_civil_every_day);
	tcase_add_test(tc, test_format_without_gmtime_r);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_parse_good, 0,
	    sizeof(good_cases) / sizeof(good_cases[0]));
	tcase_add_loop_test(tc, test_parse_bad, 0,
	    sizeof(bad_cases) / sizeof(bad_cases[0]));
	tcase_add_test(tc, test_parse_length);
	tcase_add_test(tc, test_parse_names);
	tcase_add_test(tc, test_parse_rfc850_century);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(httpdate_suite());
	int	 failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
