/*
 * check_cond - unit tests for worker/cond.c: each precondition alone, their
 * precedence (RFC 9110 section 13.2.2), entity-tag list syntax, strong and
 * weak comparison, and If-Range.
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cond.h"

#define ETAG		"\"5f3a-1c\""
#define MTIME		((time_t)784111777)	/* D_EQ */
#define D_EQ		"Sun, 06 Nov 1994 08:49:37 GMT"
#define D_BEFORE	"Sun, 06 Nov 1994 08:49:36 GMT"
#define D_AFTER		"Sun, 06 Nov 1994 08:49:38 GMT"
#define D_EQ_850	"Sunday, 06-Nov-94 08:49:37 GMT"
#define D_EQ_ASC	"Sun Nov  6 08:49:37 1994"
#define D_BEFORE_850	"Sunday, 06-Nov-94 08:49:36 GMT"
#define D_BEFORE_ASC	"Sun Nov  6 08:49:36 1994"

static struct cond_val
val(const char *s)
{
	struct cond_val	 v;

	v.ptr = s;
	v.len = s != NULL ? strlen(s) : 0;
	return v;
}

/*
 * Like val(), in a heap block of exactly the value's length, so that ASan
 * and valgrind see any read past it. Release with hval_free().
 */
static struct cond_val
hval(const char *s)
{
	struct cond_val	 v = val(s);
	char		*p;

	if (s == NULL)
		return v;
	p = malloc(v.len > 0 ? v.len : 1);
	ck_assert_ptr_nonnull(p);
	memcpy(p, s, v.len);
	v.ptr = p;
	return v;
}

static void
hval_free(struct cond_val v)
{
	free((void *)(uintptr_t)v.ptr);
}

static const struct {
	const char	*im, *inm, *ims, *ius;
	bool		 get;
	int		 want;
} eval_cases[] = {
	/* no preconditions */
	{ NULL, NULL, NULL, NULL,			true,	0 },
	{ NULL, NULL, NULL, NULL,			false,	0 },

	/* If-Match: "*" or a strong match */
	{ "*", NULL, NULL, NULL,			true,	0 },
	{ "*", NULL, NULL, NULL,			false,	0 },
	{ " * ", NULL, NULL, NULL,			true,	0 },
	{ ETAG, NULL, NULL, NULL,			true,	0 },
	{ ETAG, NULL, NULL, NULL,			false,	0 },
	{ "\"x\", " ETAG, NULL, NULL, NULL,		true,	0 },
	{ ETAG ", W/\"x\"", NULL, NULL, NULL,		true,	0 },
	{ " \"a\" , " ETAG " ", NULL, NULL, NULL,	true,	0 },
	{ "\"a\"\t,\t" ETAG, NULL, NULL, NULL,		true,	0 },
	{ ",," ETAG ",,", NULL, NULL, NULL,		true,	0 },
	{ ", ," ETAG, NULL, NULL, NULL,			true,	0 },
	{ "\"x\"", NULL, NULL, NULL,			true,	412 },
	{ "\"x\"", NULL, NULL, NULL,			false,	412 },
	{ "\"x\", \"y\"", NULL, NULL, NULL,		true,	412 },
	{ "W/" ETAG, NULL, NULL, NULL,			true,	412 },
	{ "W/\"x\", W/" ETAG, NULL, NULL, NULL,		true,	412 },
	{ "\"5F3A-1C\"", NULL, NULL, NULL,		true,	412 },
	{ "\"5f3a-1c \"", NULL, NULL, NULL,		true,	412 },
	{ "\"\"", NULL, NULL, NULL,			true,	412 },
	/* an empty or malformed If-Match matches nothing */
	{ "", NULL, NULL, NULL,				true,	412 },
	{ " ", NULL, NULL, NULL,			true,	412 },
	{ ",", NULL, NULL, NULL,			true,	412 },
	{ "5f3a-1c", NULL, NULL, NULL,			true,	412 },
	{ "w/" ETAG, NULL, NULL, NULL,			true,	412 },
	{ "W/ " ETAG, NULL, NULL, NULL,			true,	412 },
	{ " W" ETAG, NULL, NULL, NULL,			true,	412 },
	{ "\"5f3a-1c", NULL, NULL, NULL,		true,	412 },
	{ ETAG " junk", NULL, NULL, NULL,		true,	412 },
	{ ETAG "\"x\"", NULL, NULL, NULL,		true,	412 },
	{ ETAG " \"x\"", NULL, NULL, NULL,		true,	412 },
	{ ETAG ", junk", NULL, NULL, NULL,		true,	412 },
	{ "junk, " ETAG, NULL, NULL, NULL,		true,	412 },
	{ "*, " ETAG, NULL, NULL, NULL,			true,	412 },
	{ ETAG ", *", NULL, NULL, NULL,			true,	412 },
	{ "**", NULL, NULL, NULL,			true,	412 },
	{ "\"a b\", " ETAG, NULL, NULL, NULL,		true,	412 },
	{ "\"a\x7f\", " ETAG, NULL, NULL, NULL,		true,	412 },
	{ "\"a\x01\", " ETAG, NULL, NULL, NULL,		true,	412 },
	/* obs-text is allowed inside a tag */
	{ "\"\xc3\xa9\", " ETAG, NULL, NULL, NULL,	true,	0 },

	/* If-Unmodified-Since */
	{ NULL, NULL, NULL, D_EQ,			true,	0 },
	{ NULL, NULL, NULL, D_AFTER,			true,	0 },
	{ NULL, NULL, NULL, D_BEFORE,			true,	412 },
	{ NULL, NULL, NULL, D_BEFORE,			false,	412 },
	{ NULL, NULL, NULL, D_BEFORE_850,		true,	412 },
	{ NULL, NULL, NULL, D_BEFORE_ASC,		true,	412 },
	{ NULL, NULL, NULL, " " D_BEFORE "\t",		true,	412 },
	{ NULL, NULL, NULL, D_EQ_850,			true,	0 },
	/* an invalid date is ignored */
	{ NULL, NULL, NULL, "garbage",			true,	0 },
	{ NULL, NULL, NULL, "",				true,	0 },
	{ NULL, NULL, NULL, "0",			true,	0 },
	{ NULL, NULL, NULL, D_BEFORE "x",		true,	0 },
	{ NULL, NULL, NULL, D_BEFORE ", " D_BEFORE,	true,	0 },
	/* ignored when If-Match is present, whatever its outcome */
	{ "*", NULL, NULL, D_BEFORE,			true,	0 },
	{ ETAG, NULL, NULL, D_BEFORE,			false,	0 },
	{ "\"x\"", NULL, NULL, D_AFTER,			true,	412 },

	/* If-None-Match: "*" or a weak match */
	{ NULL, "*", NULL, NULL,			true,	304 },
	{ NULL, "*", NULL, NULL,			false,	412 },
	{ NULL, " *\t", NULL, NULL,			true,	304 },
	{ NULL, ETAG, NULL, NULL,			true,	304 },
	{ NULL, ETAG, NULL, NULL,			false,	412 },
	{ NULL, "W/" ETAG, NULL, NULL,			true,	304 },
	{ NULL, "W/" ETAG, NULL, NULL,			false,	412 },
	{ NULL, "\"x\", W/" ETAG, NULL, NULL,		true,	304 },
	{ NULL, "\"x\" ,\t" ETAG " ,", NULL, NULL,	true,	304 },
	{ NULL, "\"x\"", NULL, NULL,			true,	0 },
	{ NULL, "\"x\"", NULL, NULL,			false,	0 },
	{ NULL, "W/\"x\", \"y\"", NULL, NULL,		true,	0 },
	{ NULL, "\"5F3A-1C\"", NULL, NULL,		true,	0 },
	/* an empty or malformed If-None-Match matches nothing */
	{ NULL, "", NULL, NULL,				true,	0 },
	{ NULL, "5f3a-1c", NULL, NULL,			true,	0 },
	{ NULL, ETAG " junk", NULL, NULL,		true,	0 },
	{ NULL, "junk, " ETAG, NULL, NULL,		true,	0 },
	{ NULL, "*, " ETAG, NULL, NULL,			true,	0 },
	{ NULL, "\"5f3a-1c", NULL, NULL,		true,	0 },

	/* If-Modified-Since: GET and HEAD only */
	{ NULL, NULL, D_EQ, NULL,			true,	304 },
	{ NULL, NULL, D_AFTER, NULL,			true,	304 },
	{ NULL, NULL, D_BEFORE, NULL,			true,	0 },
	{ NULL, NULL, D_EQ_850, NULL,			true,	304 },
	{ NULL, NULL, D_EQ_ASC, NULL,			true,	304 },
	{ NULL, NULL, "  " D_EQ "  ", NULL,		true,	304 },
	{ NULL, NULL, D_EQ, NULL,			false,	0 },
	{ NULL, NULL, D_AFTER, NULL,			false,	0 },
	/* an invalid date, or a list of dates, is ignored */
	{ NULL, NULL, "garbage", NULL,			true,	0 },
	{ NULL, NULL, "", NULL,				true,	0 },
	{ NULL, NULL, D_EQ ", " D_EQ, NULL,		true,	0 },
	{ NULL, NULL, "sun, 06 nov 1994 08:49:37 gmt", NULL, true, 0 },
	/* ignored when If-None-Match is present */
	{ NULL, "\"x\"", D_AFTER, NULL,			true,	0 },
	{ NULL, "", D_EQ, NULL,				true,	0 },
	{ NULL, ETAG, D_BEFORE, NULL,			true,	304 },

	/* precedence */
	{ "\"x\"", ETAG, NULL, NULL,			true,	412 },
	{ "\"x\"", NULL, D_EQ, NULL,			true,	412 },
	{ NULL, ETAG, NULL, D_BEFORE,			true,	412 },
	{ NULL, NULL, D_EQ, D_BEFORE,			true,	412 },
	{ ETAG, ETAG, NULL, NULL,			true,	304 },
	{ ETAG, ETAG, NULL, NULL,			false,	412 },
	{ ETAG, "\"x\"", D_EQ, NULL,			true,	0 },
	{ NULL, NULL, D_EQ, D_AFTER,			true,	304 },
	{ NULL, NULL, D_EQ, D_AFTER,			false,	0 },
	{ "*", "\"x\"", D_EQ, D_BEFORE,			true,	0 },
	{ "*", "*", D_BEFORE, D_BEFORE,			true,	304 },
	{ NULL, "\"x\"", D_BEFORE, "garbage",		true,	0 },
};

START_TEST(test_evaluate)
{
	struct cond_hdrs	 h;
	struct cond_val		 etag = hval(ETAG);
	int			 got;

	memset(&h, 0, sizeof(h));
	h.if_match = hval(eval_cases[_i].im);
	h.if_none_match = hval(eval_cases[_i].inm);
	h.if_modified_since = hval(eval_cases[_i].ims);
	h.if_unmodified_since = hval(eval_cases[_i].ius);
	got = cond_evaluate(&h, etag.ptr, etag.len, MTIME, eval_cases[_i].get);
	hval_free(h.if_match);
	hval_free(h.if_none_match);
	hval_free(h.if_modified_since);
	hval_free(h.if_unmodified_since);
	hval_free(etag);
	ck_assert_msg(got == eval_cases[_i].want,
	    "IM %s INM %s IMS %s IUS %s %s: got %d, want %d",
	    eval_cases[_i].im ? eval_cases[_i].im : "-",
	    eval_cases[_i].inm ? eval_cases[_i].inm : "-",
	    eval_cases[_i].ims ? eval_cases[_i].ims : "-",
	    eval_cases[_i].ius ? eval_cases[_i].ius : "-",
	    eval_cases[_i].get ? "GET" : "POST", got, eval_cases[_i].want);
}
END_TEST

/* If-Range does not take part in cond_evaluate(). */
START_TEST(test_evaluate_ignores_if_range)
{
	struct cond_hdrs	 h;

	memset(&h, 0, sizeof(h));
	h.if_range = val("\"x\"");
	ck_assert_int_eq(cond_evaluate(&h, ETAG, strlen(ETAG), MTIME, true),
	    0);
	h.if_range = val(D_BEFORE);
	ck_assert_int_eq(cond_evaluate(&h, ETAG, strlen(ETAG), MTIME, false),
	    0);
}
END_TEST

static const struct {
	const char	*ir;
	bool		 want;
} range_cases[] = {
	{ NULL,				true },
	{ ETAG,				true },
	{ " " ETAG "\t",		true },
	{ "W/" ETAG,			false },
	{ "\"x\"",			false },
	{ "\"5F3A-1C\"",		false },
	{ ETAG ", \"x\"",		false },
	{ "\"x\", " ETAG,		false },
	{ ETAG ",",			false },
	{ ETAG " junk",			false },
	{ "\"5f3a-1c",			false },
	{ "*",				false },
	{ "",				false },
	{ "garbage",			false },
	{ D_EQ,				true },
	{ " " D_EQ " ",			true },
	{ D_EQ_850,			true },
	{ D_EQ_ASC,			true },
	{ D_BEFORE,			false },
	{ D_AFTER,			false },
	{ D_BEFORE_ASC,			false },
	{ D_EQ "x",			false },
	{ D_EQ ", " D_EQ,		false },
	/* a DQUOTE in the first three bytes makes it a tag, not a date */
	{ "W/\"" D_EQ "\"",		false },
};

START_TEST(test_if_range)
{
	struct cond_hdrs	 h;
	struct cond_val		 etag = hval(ETAG);
	bool			 got;

	memset(&h, 0, sizeof(h));
	h.if_range = hval(range_cases[_i].ir);
	got = cond_if_range(&h, etag.ptr, etag.len, MTIME);
	hval_free(h.if_range);
	hval_free(etag);
	ck_assert_msg(got == range_cases[_i].want, "If-Range %s: want %d",
	    range_cases[_i].ir ? range_cases[_i].ir : "(absent)",
	    range_cases[_i].want);
}
END_TEST

/* Other headers play no part in If-Range. */
START_TEST(test_if_range_alone)
{
	struct cond_hdrs	 h;

	memset(&h, 0, sizeof(h));
	h.if_match = val("\"x\"");
	h.if_none_match = val(ETAG);
	h.if_modified_since = val(D_EQ);
	h.if_unmodified_since = val(D_BEFORE);
	ck_assert(cond_if_range(&h, ETAG, strlen(ETAG), MTIME));
	h.if_range = val(ETAG);
	ck_assert(cond_if_range(&h, ETAG, strlen(ETAG), MTIME));
	h.if_range = val("\"x\"");
	ck_assert(!cond_if_range(&h, ETAG, strlen(ETAG), MTIME));
}
END_TEST

/* Lengths are authoritative: values need no NUL, bytes past len unread. */
START_TEST(test_lengths)
{
	static const char buf[] = ETAG ", \"zz\"";
	static const char date[] = D_EQ " trailing";
	struct cond_hdrs	 h;

	memset(&h, 0, sizeof(h));
	h.if_match.ptr = buf;
	h.if_match.len = strlen(ETAG);
	ck_assert_int_eq(cond_evaluate(&h, ETAG, strlen(ETAG), MTIME, true),
	    0);
	/* Our tag given with a length shorter than its string. */
	ck_assert_int_eq(cond_evaluate(&h, buf, strlen(ETAG), MTIME, true),
	    0);
	h.if_match.len = 4;
	ck_assert_int_eq(cond_evaluate(&h, ETAG, strlen(ETAG), MTIME, true),
	    412);

	memset(&h, 0, sizeof(h));
	h.if_modified_since.ptr = date;
	h.if_modified_since.len = strlen(D_EQ);
	ck_assert_int_eq(cond_evaluate(&h, ETAG, strlen(ETAG), MTIME, true),
	    304);
	h.if_modified_since.len = sizeof(date) - 1;
	ck_assert_int_eq(cond_evaluate(&h, ETAG, strlen(ETAG), MTIME, true),
	    0);

	memset(&h, 0, sizeof(h));
	h.if_range.ptr = date;
	h.if_range.len = strlen(D_EQ);
	ck_assert(cond_if_range(&h, ETAG, strlen(ETAG), MTIME));
	h.if_range.ptr = buf;
	h.if_range.len = strlen(ETAG);
	ck_assert(cond_if_range(&h, ETAG, strlen(ETAG), MTIME));

	/* An embedded NUL is just an invalid byte. */
	memset(&h, 0, sizeof(h));
	h.if_none_match.ptr = "\"5f3a\0-1c\"";
	h.if_none_match.len = 10;
	ck_assert_int_eq(cond_evaluate(&h, "\"5f3a\0-1c\"", 10, MTIME, true),
	    0);
}
END_TEST

/* Dates compare at one-second precision, across the epoch too. */
START_TEST(test_dates)
{
	struct cond_hdrs	 h;

	memset(&h, 0, sizeof(h));
	h.if_modified_since = val("Thu, 01 Jan 1970 00:00:00 GMT");
	ck_assert_int_eq(cond_evaluate(&h, ETAG, strlen(ETAG), 0, true), 304);
	ck_assert_int_eq(cond_evaluate(&h, ETAG, strlen(ETAG), 1, true), 0);
	ck_assert_int_eq(cond_evaluate(&h, ETAG, strlen(ETAG), -1, true),
	    304);
	memset(&h, 0, sizeof(h));
	h.if_unmodified_since = val("Thu, 01 Jan 1970 00:00:00 GMT");
	ck_assert_int_eq(cond_evaluate(&h, ETAG, strlen(ETAG), 0, true), 0);
	ck_assert_int_eq(cond_evaluate(&h, ETAG, strlen(ETAG), 1, true), 412);
	memset(&h, 0, sizeof(h));
	h.if_range = val("Thu, 01 Jan 1970 00:00:00 GMT");
	ck_assert(cond_if_range(&h, ETAG, strlen(ETAG), 0));
	ck_assert(!cond_if_range(&h, ETAG, strlen(ETAG), 1));
	ck_assert(!cond_if_range(&h, ETAG, strlen(ETAG), -1));
}
END_TEST

/*
 * A weak tag of our own (the header promises a strong one, but be safe)
 * never matches strongly, and still matches weakly.
 */
START_TEST(test_own_weak)
{
	static const char weak[] = "W/" ETAG;
	struct cond_hdrs	 h;

	memset(&h, 0, sizeof(h));
	h.if_match = val(weak);
	ck_assert_int_eq(cond_evaluate(&h, weak, strlen(weak), MTIME, true),
	    412);
	h.if_match = val(ETAG);
	ck_assert_int_eq(cond_evaluate(&h, weak, strlen(weak), MTIME, true),
	    412);
	h.if_match = val("*");
	ck_assert_int_eq(cond_evaluate(&h, weak, strlen(weak), MTIME, true),
	    0);
	memset(&h, 0, sizeof(h));
	h.if_none_match = val(ETAG);
	ck_assert_int_eq(cond_evaluate(&h, weak, strlen(weak), MTIME, true),
	    304);
	h.if_none_match = val(weak);
	ck_assert_int_eq(cond_evaluate(&h, weak, strlen(weak), MTIME, true),
	    304);
	memset(&h, 0, sizeof(h));
	h.if_range = val(weak);
	ck_assert(!cond_if_range(&h, weak, strlen(weak), MTIME));
	h.if_range = val(ETAG);
	ck_assert(!cond_if_range(&h, weak, strlen(weak), MTIME));
	/* An unusable tag of our own matches nothing but "*". */
	memset(&h, 0, sizeof(h));
	h.if_match = val("\"x\"");
	ck_assert_int_eq(cond_evaluate(&h, "x", 1, MTIME, true), 412);
	ck_assert_int_eq(cond_evaluate(&h, NULL, 0, MTIME, true), 412);
	h.if_match = val("*");
	ck_assert_int_eq(cond_evaluate(&h, NULL, 0, MTIME, true), 0);
	memset(&h, 0, sizeof(h));
	h.if_range = val("\"x\"");
	ck_assert(!cond_if_range(&h, "\"x", 2, MTIME));
}
END_TEST

/* Long lists are walked to the end. */
START_TEST(test_long_list)
{
	static char		 buf[8192];
	struct cond_hdrs	 h;
	size_t			 n = 0;
	int			 i;

	for (i = 0; i < 500; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
		    "W/\"t%d\", ", i);
	memcpy(buf + n, ETAG, strlen(ETAG) + 1);
	memset(&h, 0, sizeof(h));
	h.if_none_match = val(buf);
	ck_assert_int_eq(cond_evaluate(&h, ETAG, strlen(ETAG), MTIME, true),
	    304);
	h.if_none_match.len -= 1;
	ck_assert_int_eq(cond_evaluate(&h, ETAG, strlen(ETAG), MTIME, true),
	    0);
	memset(&h, 0, sizeof(h));
	h.if_match = val(buf);
	ck_assert_int_eq(cond_evaluate(&h, ETAG, strlen(ETAG), MTIME, true),
	    0);
}
END_TEST

static Suite *
cond_suite(void)
{
	Suite	*s = suite_create("cond");
	TCase	*tc;

	tc = tcase_create("evaluate");
	tcase_add_loop_test(tc, test_evaluate, 0,
	    sizeof(eval_cases) / sizeof(eval_cases[0]));
	tcase_add_test(tc, test_evaluate_ignores_if_range);
	tcase_add_test(tc, test_dates);
	tcase_add_test(tc, test_lengths);
	tcase_add_test(tc, test_own_weak);
	tcase_add_test(tc, test_long_list);
	suite_add_tcase(s, tc);

	tc = tcase_create("if_range");
	tcase_add_loop_test(tc, test_if_range, 0,
	    sizeof(range_cases) / sizeof(range_cases[0]));
	tcase_add_test(tc, test_if_range_alone);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(cond_suite());
	int	 failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
