/*
 * main - start-up of preforkd: configuration (defaults, file, flags) ->
 * logs -> bind listeners -> master loop. Errors before the master loop
 * are one line on stderr and a sysexits(3) code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cfg.h"
#include "config.h"
#include "flags.h"
#include "listen.h"
#include "log.h"
#include "master.h"

extern char **environ;

/* A fatal start-up error after the logs are open: log it, and say it on
 * stderr too when the log is a file. */
static void __attribute__((noreturn))
die_logged(const struct cfg *c, int code, const char *err)
{
	log_errorx("%s", err);
	if (strcmp(c->error_log, "-") != 0)
		fprintf(stderr, "preforkd: %s\n", err);
	exit(code);
}

int
main(int argc, char **argv)
{
	static struct cfg c;
	static int lfd[MAX_LISTENERS];
	char err[1024];
	int action, code, rc, sfd = -1;

	setproctitle_init(argc, argv, environ);
	if ((code = config_build(argc, argv, &c, &action, err,
	    sizeof(err))) != 0) {
		fprintf(stderr, "preforkd: %s\n", err);
		return code;
	}
	if (action == FLAGS_HELP) {
		flags_usage(stdout);
		return 0;
	}
	if (action == FLAGS_VERSION) {
		flags_version(stdout);
		return 0;
	}
	if (action == FLAGS_CHECK) {
		puts("ok");
		return 0;
	}
	if (log_open(&c, err, sizeof(err)) == -1) {
		fprintf(stderr, "preforkd: %s\n", err);
		return EX_CANTCREAT;
	}
	for (int i = 0; i < c.nlisten; i++)
		if ((lfd[i] = listen_open(&c, &c.listen[i], err, sizeof(err),
		    &code)) == -1)
			die_logged(&c, code, err);
	if (c.has_status && (sfd = listen_open(&c, &c.status_listen, err,
	    sizeof(err), &code)) == -1)
		die_logged(&c, code, err);
	rc = master_run(&c, lfd, c.nlisten, sfd, argc, argv);
	if (c.has_status)
		listen_unlink(&c.status_listen);
	return rc;
}
