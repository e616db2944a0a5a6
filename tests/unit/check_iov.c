/*
 * check_iov - unit tests for common/iov.c: what is left to send after a
 * short write of several buffers.
 */
#include <check.h>
#include <string.h>

#include "iov.h"

static char a[] = "head", b[] = "body!";

static void
setup(struct iovec *v)
{
	v[0].iov_base = a;
	v[0].iov_len = 4;
	v[1].iov_base = b;
	v[1].iov_len = 5;
}

START_TEST(test_inside_first)
{
	struct iovec v[2], *p = v;
	int n = 2;

	setup(v);
	iov_advance(&p, &n, 3);
	ck_assert_int_eq(n, 2);
	ck_assert_ptr_eq(p, v);
	ck_assert_ptr_eq(p->iov_base, a + 3);
	ck_assert_uint_eq(p->iov_len, 1);
}
END_TEST

START_TEST(test_boundary_and_across)
{
	struct iovec v[2], *p = v;
	int n = 2;

	setup(v);
	iov_advance(&p, &n, 4);		/* the first whole, the second untouched */
	ck_assert_int_eq(n, 1);
	ck_assert_ptr_eq(p, &v[1]);
	ck_assert_ptr_eq(p->iov_base, b);
	ck_assert_uint_eq(p->iov_len, 5);

	setup(v);
	p = v;
	n = 2;
	iov_advance(&p, &n, 6);
	ck_assert_int_eq(n, 1);
	ck_assert_ptr_eq(p->iov_base, b + 2);
	ck_assert_uint_eq(p->iov_len, 3);
}
END_TEST

START_TEST(test_all_and_empty)
{
	struct iovec v[3], *p = v;
	int n = 3;

	setup(v);
	v[2].iov_base = b;
	v[2].iov_len = 0;	/* an empty last piece goes with the rest */
	iov_advance(&p, &n, 9);
	ck_assert_int_eq(n, 0);
	ck_assert_ptr_eq(p, &v[3]);
}
END_TEST

static Suite *
iov_suite(void)
{
	Suite	*s = suite_create("iov");
	TCase	*tc = tcase_create("advance");

	tcase_add_test(tc, test_inside_first);
	tcase_add_test(tc, test_boundary_and_across);
	tcase_add_test(tc, test_all_and_empty);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(iov_suite());
	int	 failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
