/*
 * main - start-up of preforkd: flags -> document root -> logs -> bind
 * listeners -> master loop. Errors before the master loop are one line on
 * stderr and a sysexits(3) code.
 */
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cfg.h"
#include "flags.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "module.h"

extern char **environ;

static void __attribute__((noreturn))
die(int code, const char *fmt, const char *arg)
{
	fprintf(stderr, "preforkd: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(code);
}

/* The root must be a directory; it is kept as an absolute path. */
static void
resolve_docroot(struct cfg *c)
{
	char abs[PATH_MAX];
	struct stat st;

	if (realpath(c->docroot, abs) == NULL || stat(abs, &st) == -1) {
		fprintf(stderr, "preforkd: document root %s: %s\n", c->docroot,
		    strerror(errno));
		exit(EX_NOINPUT);
	}
	if (!S_ISDIR(st.st_mode))
		die(EX_NOINPUT, "document root %s: not a directory", abs);
	strlcpy(c->docroot, abs, sizeof(c->docroot));
}

/*
 * Loads and initialises every module in a throw-away child, as a worker
 * would, so that a missing .so, an ABI mismatch or a failing init stops
 * the start (and -t) with one line and EX_CONFIG. Module code never runs
 * in the master itself.
 */
static void
check_modules(const struct cfg *c)
{
	char err[512];
	pid_t pid;
	int status;

	if (c->nmodules == 0)
		return;
	fflush(NULL);
	if ((pid = fork()) == -1)
		die(EX_OSERR, "fork() for the module check failed: %s",
		    strerror(errno));
	if (pid == 0) {
		if (module_load_all(c, 0, err, sizeof(err)) == -1) {
			fprintf(stderr, "preforkd: %s\n", err);
			_exit(EX_CONFIG);
		}
		module_fini_all();
		_exit(0);
	}
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	if (WIFSIGNALED(status))
		fprintf(stderr, "preforkd: module check: a module crashed in "
		    "init (signal %d)\n", WTERMSIG(status));
	exit(EX_CONFIG);
}

int
main(int argc, char **argv)
{
	static struct cfg c;
	static int lfd[MAX_LISTENERS];
	char err[512];
	int action, code, rc, sfd = -1;

	setproctitle_init(argc, argv, environ);
	cfg_defaults(&c);
	action = flags_parse(argc, argv, &c, err, sizeof(err));
	if (action == -1)
		die(EX_USAGE, "%s (see preforkd -h)", err);
	if (action == FLAGS_HELP) {
		flags_usage(stdout);
		return 0;
	}
	if (action == FLAGS_VERSION) {
		flags_version(stdout);
		return 0;
	}
	if (cfg_finish(&c, err, sizeof(err)) == -1)
		die(EX_USAGE, "%s", err);
	if (c.access_format == ACCESS_JSON)
		die(EX_USAGE, "%s", "--access-log-format json is not "
		    "implemented yet");
	resolve_docroot(&c);
	check_modules(&c);
	if (action == FLAGS_CHECK) {
		puts("ok");
		return 0;
	}
	if (log_open(&c, err, sizeof(err)) == -1)
		die(EX_CANTCREAT, "%s", err);
	for (int i = 0; i < c.nlisten; i++) {
		if ((lfd[i] = listen_open(&c, &c.listen[i], err, sizeof(err),
		    &code)) == -1) {
			log_errorx("%s", err);
			if (strcmp(c.error_log, "-") != 0)
				fprintf(stderr, "preforkd: %s\n", err);
			exit(code);
		}
	}
	if (c.has_status && (sfd = listen_open(&c, &c.status_listen, err,
	    sizeof(err), &code)) == -1) {
		log_errorx("%s", err);
		if (strcmp(c.error_log, "-") != 0)
			fprintf(stderr, "preforkd: %s\n", err);
		exit(code);
	}
	rc = master_run(&c, lfd, c.nlisten, sfd);
	if (c.has_status)
		listen_unlink(&c.status_listen);
	for (int i = 0; i < c.nlisten; i++)
		listen_unlink(&c.listen[i]);
	return rc;
}
