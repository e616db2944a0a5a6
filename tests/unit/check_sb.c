/*
 * check_sb - the scoreboard's counters: one request counted by method,
 * status class, duration bucket and bytes; a worker's slot folded into
 * the instance's total leaves the sum unchanged; the ready queue's length
 * from the hand-off numbers, and how it heals after a lost store; the
 * count of accepting workers over the slots in use.
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

START_TEST(test_ready)
{
	struct sb *sb = sb_create();

	ck_assert_ptr_nonnull(sb);
	ck_assert_uint_eq(sb_ready(sb), 0);
	/* The keeper sent hand-offs 1..5; workers took 1 and 2. */
	sb->keeper_handed = 5;
	sb_taken(sb, 1);
	sb_taken(sb, 2);
	ck_assert_uint_eq(sb_ready(sb), 3);
	/* Two workers at once: 4 stored before 3, the larger stays. */
	sb_taken(sb, 4);
	sb_taken(sb, 3);
	ck_assert_uint_eq(sb->ready_taken, 4);
	ck_assert_uint_eq(sb_ready(sb), 1);
	/* A worker stored 6 before the keeper stored its send: never
	 * below 0, and right again once the keeper's store lands. */
	sb_taken(sb, 5);
	sb_taken(sb, 6);
	ck_assert_uint_eq(sb_ready(sb), 0);
	sb->keeper_handed = 6;
	ck_assert_uint_eq(sb_ready(sb), 0);
	/* A worker died between its receive and its store (7 was taken,
	 * 8 waits): one too many, until the next one taken. */
	sb->keeper_handed = 8;
	ck_assert_uint_eq(sb_ready(sb), 2);
	sb_taken(sb, 8);
	ck_assert_uint_eq(sb_ready(sb), 0);
	/* Hand-offs to the keeper: a plain count. */
	sb_parked(sb);
	sb_parked(sb);
	ck_assert_uint_eq(sb->handed_to_keeper, 2);
}
END_TEST

START_TEST(test_accepting)
{
	struct sb *sb = sb_create();

	ck_assert_ptr_nonnull(sb);
	ck_assert_int_eq(sb_accepting(sb), 0);
	sb->slots_used = 3;
	sb->slot[0].state = SB_ACCEPTING;
	sb->slot[1].state = SB_HANDLING;
	sb->slot[2].state = SB_ACCEPTING;
	ck_assert_int_eq(sb_accepting(sb), 2);
	/* Past slots_used nothing is read (the master never gave it). */
	sb->slot[3].state = SB_ACCEPTING;
	ck_assert_int_eq(sb_accepting(sb), 2);
	sb->slots_used = 4;
	ck_assert_int_eq(sb_accepting(sb), 3);
	/* A bad value is bounded, never a read past the slots. */
	sb->slots_used = SB_SLOTS + 7;
	ck_assert_int_eq(sb_accepting(sb), 3);
	sb->slot[SB_SLOTS - 1].state = SB_ACCEPTING;
	ck_assert_int_eq(sb_accepting(sb), 4);
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
	tcase_add_test(tc, test_ready);
	tcase_add_test(tc, test_accepting);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
