/*
 * check_agent - the agent check's answer (worker/agent.c): the weight
 * formula with its floor and cap, the line for each run state, and the
 * idle workers as read from a scoreboard (the serving generation only).
 */
#include <check.h>
#include <string.h>

#include "agent.h"
#include "sb.h"

static int
w(int target, int idle, unsigned queued)
{
	struct agent_view v = { SB_RUN_SERVING, target, idle, queued };

	return agent_weight(&v);
}

START_TEST(test_weight)
{
	ck_assert_int_eq(w(4, 4, 0), 100);
	ck_assert_int_eq(w(4, 3, 0), 75);
	ck_assert_int_eq(w(3, 1, 0), 33);	/* rounded down */
	ck_assert_int_eq(w(4, 2, 1), 25);	/* a waiting client takes one */
	ck_assert_int_eq(w(4, 0, 0), 1);	/* the floor: never 0 while up */
	ck_assert_int_eq(w(4, 1, 5), 1);
	ck_assert_int_eq(w(256, 1, 0), 1);	/* 0.39% */
	ck_assert_int_eq(w(2, 5, 0), 100);	/* the cap */
	ck_assert_int_eq(w(0, 0, 0), 1);
}
END_TEST

START_TEST(test_lines)
{
	struct agent_view v = { SB_RUN_SERVING, 2, 1, 0 };
	char buf[32];

	ck_assert_uint_eq(agent_format(&v, buf, sizeof(buf)), 13);
	ck_assert_str_eq(buf, "ready up 50%\n");
	v.run = SB_RUN_UPGRADING;	/* the same sockets go on serving */
	agent_format(&v, buf, sizeof(buf));
	ck_assert_str_eq(buf, "ready up 50%\n");
	v.run = SB_RUN_DRAINING;
	ck_assert_uint_eq(agent_format(&v, buf, sizeof(buf)), 6);
	ck_assert_str_eq(buf, "drain\n");
	v.run = SB_RUN_STOPPING;
	agent_format(&v, buf, sizeof(buf));
	ck_assert_str_eq(buf, "drain\n");
	v.run = SB_RUN_CRASHLOOP;
	agent_format(&v, buf, sizeof(buf));
	ck_assert_str_eq(buf, "down\n");
}
END_TEST

START_TEST(test_view)
{
	struct sb *sb = sb_create();
	struct agent_view v;

	ck_assert_ptr_nonnull(sb);
	sb->generation = 2;
	sb->target = 3;
	sb->run = SB_RUN_SERVING;
	sb->slot[0].gen = 2;
	sb->slot[0].state = SB_ACCEPTING;
	sb->slot[1].gen = 2;
	sb->slot[1].state = SB_KEEPALIVE;	/* waits for its client: free */
	sb->slot[2].gen = 2;
	sb->slot[2].state = SB_HANDLING;
	sb->slot[3].gen = 1;			/* retiring: not counted */
	sb->slot[3].state = SB_ACCEPTING;
	sb->slot[4].gen = 2;
	sb->slot[4].state = SB_STARTING;
	agent_view_read(sb, &v);
	ck_assert_int_eq(v.idle, 2);
	ck_assert_int_eq(v.target, 3);
	ck_assert_int_eq(agent_weight(&v), 66);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("agent");
	TCase *tc = tcase_create("agent");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_weight);
	tcase_add_test(tc, test_lines);
	tcase_add_test(tc, test_view);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
