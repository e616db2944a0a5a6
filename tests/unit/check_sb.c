/*
 * check_sb - the scoreboard's counters: one request counted by method,
 * status class, duration bucket and bytes; a worker's slot folded into
 * the instance's total leaves the sum unchanged.
 */
#include <check.h>
#include <string.h>

#include "sb.h"

START_TEST(test_count)
{
	struct sb *sb = sb_create();
	struct sb_slot *s;

	ck_assert_ptr_nonnull(sb);
	s = &sb->slot[3];
	sb_count(s, 0, 200, 3000, 100);		/* GET 2xx, 3 ms */
	sb_count(s, 0, 404, 1000, 10);		/* on the 1 ms bound */
	sb_count(s, 42, 0, 20000000, -1);	/* other, no status, > 10 s */
	ck_assert_uint_eq(s->ctr.req[0][1], 1);
	ck_assert_uint_eq(s->ctr.req[0][3], 1);
	ck_assert_uint_eq(s->ctr.req[SB_METHODS - 1][SB_CLASSES - 1], 1);
	ck_assert_uint_eq(s->ctr.dur[0], 1);
	ck_assert_uint_eq(s->ctr.dur[1], 1);
	ck_assert_uint_eq(s->ctr.dur[SB_BUCKETS - 1], 1);
	ck_assert_uint_eq(s->ctr.dur_us, 20004000);
	ck_assert_uint_eq(s->ctr.bytes, 110);
}
END_TEST

START_TEST(test_fold)
{
	struct sb *sb = sb_create();
	struct sb_ctr before, after;

	ck_assert_ptr_nonnull(sb);
	sb_count(&sb->slot[0], 1, 200, 10, 5);
	sb_count(&sb->slot[1], 2, 500, 10, 7);
	sb->slot[1].ctr.conns = 3;
	sb->slot[1].ctr.fair_closes = 2;
	sb_sum(sb, &before);
	ck_assert_uint_eq(before.bytes, 12);
	sb_fold(sb, &sb->slot[1]);
	ck_assert_uint_eq(sb->fold_seq % 2, 0);
	ck_assert_uint_eq(sb->slot[1].ctr.bytes, 0);
	ck_assert_uint_eq(sb->total.conns, 3);
	sb_sum(sb, &after);
	ck_assert_int_eq(memcmp(&before, &after, sizeof(before)), 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("sb");
	TCase *tc = tcase_create("sb");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_count);
	tcase_add_test(tc, test_fold);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
