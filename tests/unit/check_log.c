/*
 * check_log - common/log.c: lost lines are counted and reported once a
 * minute at most.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

START_TEST(test_lost_due)
{
	time_t next = 0;

	ck_assert_int_eq(log_lost_due(100, &next), 1);
	ck_assert_int_eq(next, 100 + LOG_LOST_REPORT_S);
	ck_assert_int_eq(log_lost_due(101, &next), 0);
	ck_assert_int_eq(log_lost_due(159, &next), 0);
	ck_assert_int_eq(log_lost_due(160, &next), 1);
	ck_assert_int_eq(next, 220);
	ck_assert_int_eq(log_lost_due(500, &next), 1);
	ck_assert_int_eq(next, 560);
}
END_TEST

/* The access log on a full device: one warning names the count and why. */
START_TEST(test_access_log_on_dev_full)
{
	char path[] = "/tmp/check_log_XXXXXX", buf[4096];
	struct cfg c;
	char err[256];
	int fd = mkstemp(path);
	ssize_t n;
	char *nl;

	ck_assert_int_ge(fd, 0);
	close(fd);
	unlink(path);
	cfg_defaults(&c);
	strlcpy(c.access_log, "/dev/full", sizeof(c.access_log));
	strlcpy(c.error_log, path, sizeof(c.error_log));
	ck_assert_msg(log_open(&c, err, sizeof(err)) == 0, "%s", err);
	for (int i = 0; i < 5; i++)
		log_access_write("x\n", 2);
	fd = open(path, O_RDONLY);
	unlink(path);
	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	nl = strchr(buf, '\n');
	ck_assert_msg(nl != NULL && nl[1] == '\0', "not one line: %s", buf);
	ck_assert_msg(strstr(buf, " warn ") != NULL &&
	    strstr(buf, "access log: 1 line lost: No space left on device") !=
	    NULL, "%s", buf);
}
END_TEST

/* The error log on a full device: the warning goes to stderr instead. */
START_TEST(test_error_log_on_dev_full)
{
	char path[] = "/tmp/check_log_XXXXXX", buf[4096];
	struct cfg c;
	char err[256];
	int fd = mkstemp(path);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	cfg_defaults(&c);
	strlcpy(c.access_log, "off", sizeof(c.access_log));
	strlcpy(c.error_log, "/dev/full", sizeof(c.error_log));
	ck_assert_msg(log_open(&c, err, sizeof(err)) == 0, "%s", err);
	for (int i = 0; i < 3; i++)
		log_warnx("line %d", i);
	fd = open(path, O_RDONLY);
	unlink(path);
	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_msg(strchr(buf, '\n') == buf + n - 1 && strstr(buf,
	    "error log: 1 line lost: No space left on device") != NULL,
	    "%s", buf);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_lost_due);
	tcase_add_test(tc, test_access_log_on_dev_full);
	tcase_add_test(tc, test_error_log_on_dev_full);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
