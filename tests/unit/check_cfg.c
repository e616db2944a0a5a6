/*
 * check_cfg - configuration values: defaults, every key's parsing and its
 * one-line errors, listen addresses and decimal seconds.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/un.h>

#include "cfg.h"

static struct cfg c;
static char err[256];

static void
setup(void)
{
	cfg_defaults(&c);
	err[0] = '\0';
}

START_TEST(test_defaults)
{
	ck_assert_int_ge(c.workers, 1);
	ck_assert_int_eq(c.timeout_ms, 30000);
	ck_assert_int_eq(c.header_timeout_ms, 10000);
	ck_assert_int_eq(c.idle_timeout_ms, 5000);
	ck_assert_int_eq(c.max_header_size, 16384);
	ck_assert_int_eq(c.max_body_size, 1048576);
	ck_assert_int_eq(c.keepalive_requests, 1000);
	ck_assert_int_eq(c.backlog, 1024);
	ck_assert_str_eq(c.access_log, "-");
	ck_assert_int_eq(c.nlisten, 0);
	ck_assert_int_eq(cfg_finish(&c, err, sizeof(err)), 0);
	ck_assert_int_eq(c.nlisten, 1);
	ck_assert_str_eq(c.listen[0].spec, "127.0.0.1:8080");
}
END_TEST

START_TEST(test_seconds)
{
	int ms;

	ck_assert_int_eq(cfg_parse_seconds("5", &ms), 0);
	ck_assert_int_eq(ms, 5000);
	ck_assert_int_eq(cfg_parse_seconds("0.25", &ms), 0);
	ck_assert_int_eq(ms, 250);
	ck_assert_int_eq(cfg_parse_seconds("1.5", &ms), 0);
	ck_assert_int_eq(ms, 1500);
	ck_assert_int_eq(cfg_parse_seconds("0", &ms), 0);
	ck_assert_int_eq(ms, 0);
	ck_assert_int_eq(cfg_parse_seconds("0.001", &ms), 0);
	ck_assert_int_eq(ms, 1);
	ck_assert_int_eq(cfg_parse_seconds("86400", &ms), 0);
	ck_assert_int_eq(cfg_parse_seconds("86401", &ms), -1);
	ck_assert_int_eq(cfg_parse_seconds("0.0001", &ms), -1);
	ck_assert_int_eq(cfg_parse_seconds("-1", &ms), -1);
	ck_assert_int_eq(cfg_parse_seconds("", &ms), -1);
	ck_assert_int_eq(cfg_parse_seconds("1.", &ms), -1);
	ck_assert_int_eq(cfg_parse_seconds(".5", &ms), -1);
	ck_assert_int_eq(cfg_parse_seconds("1e3", &ms), -1);
	ck_assert_int_eq(cfg_parse_seconds(" 5", &ms), -1);
	ck_assert_int_eq(cfg_parse_seconds("5s", &ms), -1);
	ck_assert_int_eq(cfg_parse_seconds("99999999999999999999", &ms), -1);
}
END_TEST

START_TEST(test_listen)
{
	struct cfg_listen l;
	char s[128];

	ck_assert_int_eq(cfg_parse_listen("127.0.0.1:80", &l, err, sizeof(err)), 0);
	ck_assert_int_eq(l.addr.ss_family, AF_INET);
	cfg_addr_str((struct sockaddr *)&l.addr, l.addrlen, s, sizeof(s));
	ck_assert_str_eq(s, "127.0.0.1:80");
	ck_assert_int_eq(cfg_parse_listen("10.200.3.255:65535", &l, err,
	    sizeof(err)), 0);
	cfg_addr_str((struct sockaddr *)&l.addr, l.addrlen, s, sizeof(s));
	ck_assert_str_eq(s, "10.200.3.255:65535");
	cfg_addr_str((struct sockaddr *)&l.addr, l.addrlen, s, 5);
	ck_assert_str_eq(s, "10.2");		/* cut, like snprintf */
	ck_assert_int_eq(cfg_parse_listen("[::1]:8080", &l, err, sizeof(err)), 0);
	ck_assert_int_eq(l.addr.ss_family, AF_INET6);
	cfg_addr_str((struct sockaddr *)&l.addr, l.addrlen, s, sizeof(s));
	ck_assert_str_eq(s, "[::1]:8080");
	ck_assert_int_eq(cfg_parse_listen(":8080", &l, err, sizeof(err)), 0);
	cfg_addr_str((struct sockaddr *)&l.addr, l.addrlen, s, sizeof(s));
	ck_assert_str_eq(s, "0.0.0.0:8080");
	ck_assert_int_eq(cfg_parse_listen("localhost:1", &l, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg_parse_listen("127.0.0.1:0", &l, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg_parse_listen("unix:/run/p.sock", &l, err, sizeof(err)), 0);
	ck_assert_int_eq(l.addr.ss_family, AF_UNIX);
	cfg_addr_str((struct sockaddr *)&l.addr, l.addrlen, s, sizeof(s));
	ck_assert_str_eq(s, "unix:/run/p.sock");

	static const char *bad[] = { "nonsense", "1.2.3.4", "1.2.3.4:", ":",
	    "1.2.3.4:65536", "1.2.3.4:-1", "::1:80", "[::1]80", "[::1]:x",
	    "unix:relative", "host.example:80", "1.2.3.4:80x" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(cfg_parse_listen(bad[i], &l, err, sizeof(err)) == -1,
		    "accepted '%s'", bad[i]);
		ck_assert_msg(err[0] != '\0' && strchr(err, '\n') == NULL,
		    "no one-line error for '%s'", bad[i]);
	}
	char longpath[200];
	memset(longpath, 'a', sizeof(longpath));
	memcpy(longpath, "unix:/", 6);
	longpath[sizeof(longpath) - 1] = '\0';
	ck_assert_int_eq(cfg_parse_listen(longpath, &l, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_set)
{
	ck_assert_int_eq(cfg_set(&c, "workers", "4", err, sizeof(err)), 0);
	ck_assert_int_eq(c.workers, 4);
	ck_assert_int_eq(cfg_set(&c, "workers", "auto", err, sizeof(err)), 0);
	ck_assert_int_ge(c.workers, 1);
	ck_assert_int_eq(cfg_set(&c, "idle-timeout", "0.5", err, sizeof(err)), 0);
	ck_assert_int_eq(c.idle_timeout_ms, 500);
	ck_assert_int_eq(cfg_set(&c, "max-body-size", "0", err, sizeof(err)), 0);
	ck_assert_int_eq(c.max_body_size, 0);
	ck_assert_int_eq(cfg_set(&c, "log-level", "debug", err, sizeof(err)), 0);
	ck_assert_int_eq(c.log_level, LOG_LEVEL_DEBUG);
	ck_assert_int_eq(cfg_set(&c, "access-log", "off", err, sizeof(err)), 0);
	ck_assert_int_eq(cfg_set(&c, "access-log-format", "json", err, sizeof(err)), 0);
	ck_assert_int_eq(c.access_format, ACCESS_JSON);
	ck_assert_int_eq(cfg_set(&c, "listen", "127.0.0.1:1", err, sizeof(err)), 0);
	ck_assert_int_eq(cfg_set(&c, "listen", "[::1]:1", err, sizeof(err)), 0);
	ck_assert_int_eq(c.nlisten, 2);
	ck_assert_int_eq(cfg_finish(&c, err, sizeof(err)), 0);
	ck_assert_int_eq(c.nlisten, 2);
}
END_TEST

START_TEST(test_set_errors)
{
	static const char *bad[][2] = {
		{ "workers", "0" }, { "workers", "257" }, { "workers", "abc" },
		{ "workers", "" }, { "idle-timeout", "-1" }, { "timeout", "x" },
		{ "max-header-size", "10" }, { "max-header-size", "99999999" },
		{ "keepalive-requests", "0" }, { "backlog", "0" },
		{ "max-body-size", "-5" }, { "log-level", "loud" },
		{ "access-log-format", "xml" }, { "error-log", "off" },
		{ "error-log", "" }, { "no-such-key", "1" }, { "listen", "x" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(cfg_set(&c, bad[i][0], bad[i][1], err,
		    sizeof(err)) == -1, "accepted %s=%s", bad[i][0], bad[i][1]);
		ck_assert_msg(err[0] != '\0' && strchr(err, '\n') == NULL,
		    "no one-line error for %s", bad[i][0]);
	}
	cfg_set(&c, "workers", "0", err, sizeof(err));
	ck_assert_ptr_nonnull(strstr(err, "workers"));
	ck_assert_ptr_nonnull(strstr(err, "'0'"));
	for (int i = 0; i < MAX_LISTENERS; i++)
		ck_assert_int_eq(cfg_set(&c, "listen", ":1", err, sizeof(err)), 0);
	ck_assert_int_eq(cfg_set(&c, "listen", ":1", err, sizeof(err)), -1);
}
END_TEST

/* 0 would drop every connection (or mean 1 ms): refused, one line. */
START_TEST(test_zero_timeouts)
{
	static const char *refused[] = { "timeout", "header-timeout",
	    "body-timeout", "write-timeout" };

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		int before;

		cfg_defaults(&c);
		before = i == 0 ? c.timeout_ms : i == 1 ? c.header_timeout_ms :
		    i == 2 ? c.body_timeout_ms : c.write_timeout_ms;
		err[0] = '\0';
		ck_assert_msg(cfg_set(&c, refused[i], "0", err, sizeof(err)) ==
		    -1, "accepted %s 0", refused[i]);
		ck_assert_msg(strstr(err, refused[i]) != NULL &&
		    strstr(err, "greater than 0") != NULL &&
		    strchr(err, '\n') == NULL, "error for %s: %s", refused[i],
		    err);
		ck_assert_int_eq(cfg_set(&c, refused[i], "0.000", err,
		    sizeof(err)), -1);
		ck_assert_int_eq(i == 0 ? c.timeout_ms : i == 1 ?
		    c.header_timeout_ms : i == 2 ? c.body_timeout_ms :
		    c.write_timeout_ms, before);
		ck_assert_int_eq(cfg_set(&c, refused[i], "0.001", err,
		    sizeof(err)), 0);
	}
	/* idle-timeout 0 is "no keep-alive"; graceful 0 kills at once. */
	cfg_defaults(&c);
	ck_assert_int_eq(cfg_set(&c, "idle-timeout", "0", err, sizeof(err)), 0);
	ck_assert_int_eq(c.idle_timeout_ms, 0);
	ck_assert_int_eq(cfg_set(&c, "graceful-timeout", "0", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(cfg_finish(&c, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg_read_slice_ms(&c), IDLE_YIELD_MS);
	cfg_set(&c, "idle-timeout", "0.1", err, sizeof(err));
	ck_assert_int_eq(cfg_read_slice_ms(&c), 100);
	cfg_set(&c, "idle-timeout", "60", err, sizeof(err));
	ck_assert_int_eq(cfg_read_slice_ms(&c), IDLE_YIELD_MS);
}
END_TEST

/* In a file, the refusal names the file and line. */
START_TEST(test_zero_timeout_in_file)
{
	char path[] = "/tmp/check_cfg_XXXXXX";
	int fd = mkstemp(path);
	static const char text[] = "workers 2\nheader-timeout 0\n";

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, sizeof(text) - 1),
	    (int)sizeof(text) - 1);
	close(fd);
	ck_assert_int_eq(cfg_load_file(&c, path, err, sizeof(err)), -1);
	unlink(path);
	ck_assert_msg(strstr(err, ":2: ") != NULL &&
	    strstr(err, "header-timeout") != NULL, "error: %s", err);
}
END_TEST

START_TEST(test_health_path)
{
	static const char *bad[] = { "health", "/a?b", "/a b", "/a%2f", "/#",
	    "" };

	ck_assert_str_eq(c.health_path, "");
	ck_assert_int_eq(cfg_set(&c, "health-path", "/-/health", err,
	    sizeof(err)), 0);
	ck_assert_str_eq(c.health_path, "/-/health");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(cfg_set(&c, "health-path", bad[i], err,
		    sizeof(err)) == -1, "accepted '%s'", bad[i]);
	ck_assert_ptr_nonnull(strstr(err, "health-path"));
}
END_TEST

/* Longest prefix at a segment boundary; "/x/" is "/x" and below. */
START_TEST(test_cache_control)
{
	const struct cfg_cache_control *cc;

	ck_assert_ptr_null(cfg_cache_control_match(&c, "/a", 2));
	ck_assert_int_eq(cfg_set(&c, "cache-control", "/ no-cache", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(cfg_set(&c, "cache-control",
	    "/assets/ public, max-age=31536000, immutable", err, sizeof(err)), 0);
	ck_assert_int_eq(cfg_set(&c, "cache-control", "/assets/x max-age=60",
	    err, sizeof(err)), 0);
	cc = cfg_cache_control_match(&c, "/assets/app.js", 14);
	ck_assert_str_eq(cc->value, "public, max-age=31536000, immutable");
	cc = cfg_cache_control_match(&c, "/assets", 7);
	ck_assert_str_eq(cc->prefix, "/assets");
	cc = cfg_cache_control_match(&c, "/assetsfoo.js", 13);
	ck_assert_str_eq(cc->value, "no-cache");
	cc = cfg_cache_control_match(&c, "/assets/x/y", 11);
	ck_assert_str_eq(cc->value, "max-age=60");
	cc = cfg_cache_control_match(&c, "/assets/xy", 10);
	ck_assert_str_eq(cc->prefix, "/assets");
	cc = cfg_cache_control_match(&c, "/index.html", 11);
	ck_assert_str_eq(cc->value, "no-cache");
	/* the path is cut at plen, not at a NUL */
	cc = cfg_cache_control_match(&c, "/assets/x", 8);
	ck_assert_str_eq(cc->prefix, "/assets");

	ck_assert_int_eq(cfg_set(&c, "cache-control", "/assets no-store", err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "twice"));
	static const char *bad[] = { "/x", "x no-cache", "/x \r\nSet-Cookie: a",
	    "", "/x?y no-cache" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(cfg_set(&c, "cache-control", bad[i], err,
		    sizeof(err)) == -1, "accepted '%s'", bad[i]);
		ck_assert_msg(strchr(err, '\n') == NULL && err[0] != '\0',
		    "error: %s", err);
	}
	cfg_clear(&c, "cache-control");
	ck_assert_ptr_null(cfg_cache_control_match(&c, "/a", 2));
}
END_TEST

/* Read whole when set; a bad code or an unreadable file is refused. */
START_TEST(test_error_page)
{
	char path[] = "/tmp/check_cfg_XXXXXX", conf[] = "/tmp/check_cfg_XXXXXX";
	char line[128];
	int fd = mkstemp(path);
	const struct cfg_error_page *ep;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "<p>gone</p>\n", 12), 12);
	close(fd);
	snprintf(line, sizeof(line), "404=%s", path);
	ck_assert_int_eq(cfg_set(&c, "error-page", line, err, sizeof(err)), 0);
	ep = cfg_error_page(&c, 404);
	ck_assert_ptr_nonnull(ep);
	ck_assert_int_eq(ep->len, 12);
	ck_assert_int_eq(memcmp(ep->body, "<p>gone</p>\n", 12), 0);
	ck_assert_str_eq(ep->path, path);
	ck_assert_ptr_null(cfg_error_page(&c, 403));
	snprintf(line, sizeof(line), "399=%s", path);
	ck_assert_int_eq(cfg_set(&c, "error-page", line, err, sizeof(err)), -1);
	ck_assert_int_eq(cfg_set(&c, "error-page", "404", err, sizeof(err)), -1);
	ck_assert_int_eq(cfg_set(&c, "error-page", "500=/nonexistent/x.html",
	    err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "/nonexistent/x.html") != NULL &&
	    strstr(err, "No such file") != NULL, "%s", err);
	ck_assert_int_eq(cfg_set(&c, "error-page", "500=/tmp", err,
	    sizeof(err)), -1);
	ck_assert_int_eq(c.nerror_pages, 1);

	/* from a file: FILE:LINE names it */
	fd = mkstemp(conf);
	ck_assert_int_ge(fd, 0);
	dprintf(fd, "workers 1\nerror-page 404 %s\nerror-page 503 /nope\n",
	    path);
	close(fd);
	ck_assert_int_eq(cfg_load_file(&c, conf, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, ":3: ") != NULL && strstr(err, "/nope") !=
	    NULL, "%s", err);
	unlink(conf);
	unlink(path);
	cfg_clear(&c, "error-page");
	ck_assert_ptr_null(cfg_error_page(&c, 404));
}
END_TEST

/* The default profile follows the modules; an explicit one stays. */
START_TEST(test_sandbox_profile)
{
	ck_assert_int_eq(c.sandbox, SANDBOX_UNSET);
	ck_assert_int_eq(cfg_sandbox(&c), SANDBOX_STRICT);
	ck_assert_int_eq(cfg_set(&c, "module", "/a=x.so", err, sizeof(err)), 0);
	ck_assert_int_eq(cfg_sandbox(&c), SANDBOX_STANDARD);
	ck_assert_int_eq(cfg_set(&c, "sandbox", "strict", err, sizeof(err)), 0);
	ck_assert_int_eq(cfg_sandbox(&c), SANDBOX_STRICT);
	ck_assert_int_eq(cfg_set(&c, "sandbox", "off", err, sizeof(err)), 0);
	ck_assert_int_eq(cfg_sandbox(&c), SANDBOX_OFF);
	ck_assert_int_eq(cfg_set(&c, "sandbox", "standard", err, sizeof(err)),
	    0);
	ck_assert_int_eq(cfg_sandbox(&c), SANDBOX_STANDARD);
	ck_assert_int_eq(cfg_set(&c, "sandbox", "loose", err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "strict, standard or off") != NULL, "%s", err);
	ck_assert_int_eq(c.sandbox, SANDBOX_STANDARD);
}
END_TEST

/* Paths are repeatable, absolute, bounded; cfg_clear empties a list. */
START_TEST(test_sandbox_paths)
{
	char key[32];

	ck_assert_int_eq(cfg_set(&c, "sandbox-read", "/srv/a", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(cfg_set(&c, "sandbox-read", "/srv/b", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(cfg_set(&c, "sandbox-write", "/var/spool/x", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(c.nsandbox_read, 2);
	ck_assert_str_eq(c.sandbox_read[1], "/srv/b");
	ck_assert_int_eq(c.nsandbox_write, 1);
	ck_assert_str_eq(c.sandbox_write[0], "/var/spool/x");
	ck_assert_int_eq(cfg_set(&c, "sandbox-write", "rel/dir", err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, "absolute") != NULL, "%s", err);
	ck_assert_int_eq(c.nsandbox_write, 1);
	cfg_clear(&c, "sandbox-read");
	ck_assert_int_eq(c.nsandbox_read, 0);
	ck_assert_int_eq(c.nsandbox_write, 1);
	for (int i = 0; i < MAX_SANDBOX_PATHS; i++)
		ck_assert_int_eq(cfg_set(&c, "sandbox-read", "/x", err,
		    sizeof(err)), 0);
	ck_assert_int_eq(cfg_set(&c, "sandbox-read", "/x", err, sizeof(err)),
	    -1);
	ck_assert_msg(strstr(err, "too many") != NULL, "%s", err);
	snprintf(key, sizeof(key), "%s", "sandbox-write");
	ck_assert_int_eq(cfg_set(&c, key, "", err, sizeof(err)), -1);
}
END_TEST

/* In a file, the keys read as flags do. */
START_TEST(test_sandbox_in_file)
{
	char path[] = "/tmp/check_cfg_XXXXXX";
	int fd = mkstemp(path);
	static const char text[] = "sandbox off\nsandbox-read /srv/data\n"
	    "sandbox-read /srv/more\nsandbox-write /var/cache/app\n";

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, sizeof(text) - 1),
	    (int)sizeof(text) - 1);
	close(fd);
	ck_assert_int_eq(cfg_load_file(&c, path, err, sizeof(err)), 0);
	unlink(path);
	ck_assert_int_eq(c.sandbox, SANDBOX_OFF);
	ck_assert_int_eq(c.nsandbox_read, 2);
	ck_assert_str_eq(c.sandbox_read[0], "/srv/data");
	ck_assert_str_eq(c.sandbox_write[0], "/var/cache/app");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("cfg");
	TCase *tc = tcase_create("cfg");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_seconds);
	tcase_add_test(tc, test_listen);
	tcase_add_test(tc, test_set);
	tcase_add_test(tc, test_set_errors);
	tcase_add_test(tc, test_zero_timeouts);
	tcase_add_test(tc, test_zero_timeout_in_file);
	tcase_add_test(tc, test_cache_control);
	tcase_add_test(tc, test_error_page);
	tcase_add_test(tc, test_health_path);
	tcase_add_test(tc, test_sandbox_profile);
	tcase_add_test(tc, test_sandbox_paths);
	tcase_add_test(tc, test_sandbox_in_file);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
