/*
 * check_sandbox - the pure parts of the sandbox: which paths get which
 * Landlock rights, what a kernel without Landlock or seccomp leads to,
 * what -t says, and the syscall lists themselves.
 */
#include <check.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "sandbox.h"

static struct cfg c;
static struct sandbox_paths sp;
static char msg[256];
static const struct sandbox_support full = { 7, true };
static const struct sandbox_support no_ll = { 0, true };
static const struct sandbox_support no_sc = { 3, false };
static const struct sandbox_support none = { 0, false };

static void
setup(void)
{
	cfg_defaults(&c);
	strlcpy(c.docroot, "/srv/www", sizeof(c.docroot));
	msg[0] = '\0';
}

static int
find(const char *path, enum sandbox_access a)
{
	int hits = 0;

	for (int i = 0; i < sp.n; i++)
		if (strcmp(sp.p[i].path, path) == 0 && sp.p[i].access == a)
			hits++;
	return hits;
}

/* Rules besides the sanitizers' (an ASan build reads /proc, writes its
 * reports). */
static int
count(void)
{
	int n = 0;

	for (int i = 0; i < sp.n; i++)
		n += strcmp(sp.p[i].path, "/proc") != 0
#ifdef PREFORKD_SANITIZERS
		    && sp.p[i].path != sp.sandir[0] &&
		    sp.p[i].path != sp.sandir[1]
#endif
		    ;
	return n;
}

static void
set(const char *key, const char *val)
{
	char err[256];

	ck_assert_msg(cfg_set(&c, key, val, err, sizeof(err)) == 0, "%s", err);
}

/* Logs on stderr/stdout: the document root is all a worker may touch. */
START_TEST(test_paths_default)
{
	sandbox_paths_build(&c, SANDBOX_WORKER, &sp);
	ck_assert_int_eq(count(), 1);
	ck_assert_int_eq(find("/srv/www", SANDBOX_READ), 1);
}
END_TEST

START_TEST(test_paths_declared)
{
	set("sandbox-read", "/usr/share/app");
	set("sandbox-write", "/var/spool/app");
	set("module", "/api=x.so");
	set("module-option", "/api sandbox-read /etc/app.conf");
	set("module-option", "/api sandbox-write /var/cache/app");
	set("module-option", "/api other /not/a/path");
	set("error-log", "/var/log/preforkd/error.log");
	set("access-log", "/var/log/preforkd/access.log");
	sandbox_paths_build(&c, SANDBOX_WORKER, &sp);
	ck_assert_int_eq(find("/srv/www", SANDBOX_READ), 1);
	ck_assert_int_eq(find("/usr/share/app", SANDBOX_READ), 1);
	ck_assert_int_eq(find("/var/spool/app", SANDBOX_WRITE), 1);
	ck_assert_int_eq(find("/etc/app.conf", SANDBOX_READ), 1);
	ck_assert_int_eq(find("/var/cache/app", SANDBOX_WRITE), 1);
	/* Both logs in one directory: one rule, write-only. */
	ck_assert_int_eq(find("/var/log/preforkd", SANDBOX_LOG), 1);
	ck_assert_int_eq(count(), 6);
}
END_TEST

/* The status process and the keeper get the log directories only. */
START_TEST(test_paths_other_roles)
{
	set("sandbox-read", "/usr/share/app");
	set("error-log", "/var/log/e.log");
	set("access-log", "rel.log");
	sandbox_paths_build(&c, SANDBOX_STATUS, &sp);
	ck_assert_int_eq(count(), 2);
	ck_assert_int_eq(find("/var/log", SANDBOX_LOG), 1);
	ck_assert_int_eq(find(".", SANDBOX_LOG), 1);
	set("error-log", "/e.log");
	set("access-log", "off");
	sandbox_paths_build(&c, SANDBOX_KEEPER, &sp);
	ck_assert_int_eq(count(), 1);
	ck_assert_int_eq(find("/", SANDBOX_LOG), 1);
}
END_TEST

START_TEST(test_check)
{
	ck_assert_int_eq(sandbox_check(&c, &full, msg, sizeof(msg)), 0);
	ck_assert_str_eq(msg, "");
	/* Implicit strict: a warning naming what is missing. */
	ck_assert_int_eq(sandbox_check(&c, &no_ll, msg, sizeof(msg)), 1);
	ck_assert_str_eq(msg, "sandbox strict: this kernel offers no "
	    "Landlock, so file-system rules are not enforced");
	ck_assert_int_eq(sandbox_check(&c, &no_sc, msg, sizeof(msg)), 1);
	ck_assert_ptr_nonnull(strstr(msg, "syscall filter is not enforced"));
	ck_assert_int_eq(sandbox_check(&c, &none, msg, sizeof(msg)), 1);
	ck_assert_ptr_nonnull(strstr(msg, "no Landlock and seccomp"));
	/* Explicit strict: a refusal. */
	set("sandbox", "strict");
	ck_assert_int_eq(sandbox_check(&c, &full, msg, sizeof(msg)), 0);
	ck_assert_int_eq(sandbox_check(&c, &no_sc, msg, sizeof(msg)), -1);
	ck_assert_str_eq(msg, "--sandbox strict cannot be enforced: this "
	    "kernel offers no seccomp");
	/* Explicit standard degrades with a warning; off asks for nothing. */
	set("sandbox", "standard");
	ck_assert_int_eq(sandbox_check(&c, &no_ll, msg, sizeof(msg)), 1);
	ck_assert_ptr_nonnull(strstr(msg, "sandbox standard: "));
	set("sandbox", "off");
	ck_assert_int_eq(sandbox_check(&c, &none, msg, sizeof(msg)), 0);
}
END_TEST

START_TEST(test_describe)
{
	sandbox_describe(&c, &full, msg, sizeof(msg));
#ifdef PREFORKD_SANITIZERS
	ck_assert_str_eq(msg, "strict (Landlock ABI 7, seccomp allow-list, "
	    "widened for the sanitizers)");
	return;
#endif
	ck_assert_str_eq(msg, "strict (Landlock ABI 7, seccomp allow-list)");
	set("module", "/api=x.so");
	sandbox_describe(&c, &no_ll, msg, sizeof(msg));
	ck_assert_str_eq(msg, "standard (no Landlock, seccomp deny-list)");
	sandbox_describe(&c, &no_sc, msg, sizeof(msg));
	ck_assert_str_eq(msg, "standard (Landlock ABI 3, no seccomp)");
	set("sandbox", "off");
	sandbox_describe(&c, &full, msg, sizeof(msg));
	ck_assert_str_eq(msg, "off");
}
END_TEST

static int
listed(const char *const *list, const char *name)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, name) == 0)
			return 1;
	return 0;
}

/*
 * Every name is one this architecture knows (a typo would silently allow
 * nothing), none is given twice, and nothing that starts programs,
 * debugs others or opens network connections is on an allow-list; kill
 * and tgkill are allowed only with pinned arguments.
 */
START_TEST(test_lists)
{
	static const enum sandbox_role roles[] = { SANDBOX_WORKER,
	    SANDBOX_STATUS, SANDBOX_KEEPER };
	static const char *never[] = { "execve", "execveat", "ptrace",
	    "socket", "connect", "clone", "clone3", "fork", "vfork",
	    "mount", "bpf", "open_by_handle_at", "kill", "tgkill" };

	for (size_t r = 0; r < sizeof(roles) / sizeof(roles[0]); r++) {
		const char *const *l = sandbox_allowlist(roles[r]);

		for (int i = 0; l[i] != NULL; i++) {
			ck_assert_msg(seccomp_syscall_resolve_name(l[i]) !=
			    __NR_SCMP_ERROR, "unknown syscall %s", l[i]);
			ck_assert_msg(!listed(l + i + 1, l[i]), "%s twice", l[i]);
		}
		for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
			ck_assert_msg(!listed(l, never[i]), "%s allowed",
			    never[i]);
	}
	for (const char *const *d = sandbox_denylist(); *d != NULL; d++)
		ck_assert_msg(seccomp_syscall_resolve_name(*d) !=
		    __NR_SCMP_ERROR, "unknown syscall %s", *d);
	ck_assert(listed(sandbox_denylist(), "execve"));
#ifndef PREFORKD_SANITIZERS
	ck_assert(listed(sandbox_denylist(), "ptrace"));
#endif
	ck_assert(!listed(sandbox_denylist(), "socket"));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("sandbox");
	TCase *tc = tcase_create("sandbox");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_paths_default);
	tcase_add_test(tc, test_paths_declared);
	tcase_add_test(tc, test_paths_other_roles);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_describe);
	tcase_add_test(tc, test_lists);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
