/*
 * main - start-up of preforkd (STYLE "The master loop"): configuration
 * (defaults, file, flags) -> pidfile -> logs -> bind listeners (or adopt
 * inherited ones) -> daemonize -> master loop. Errors before the master
 * loop are one line on stderr and a sysexits(3) code.
 */
#include <sys/stat.h>
#include <limits.h>
#include <errno.h>
#include <fcntl.h>
#include <libutil.h>
#include <signal.h>
#include <stdbool.h>
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
#include "mime.h"
#include "sandbox.h"
#include "title.h"

#define MAX_INHERITED	(MAX_LISTENERS + 1)

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

/* -s NAME: signals the master named by the pid file, as nginx -s does. */
static int
send_signal(const struct cfg *c, const char *name)
{
	static const struct { const char *name; int sig; } map[] = {
		{ "stop", SIGINT }, { "quit", SIGTERM }, { "reload", SIGHUP },
		{ "reopen", SIGUSR1 }, { "upgrade", SIGUSR2 },
	};
	struct pidfh *pfh;
	pid_t pid = -1;
	int sig = 0;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].name, name) == 0)
			sig = map[i].sig;
	if (c->pid_file[0] == '\0') {
		fprintf(stderr, "preforkd: -s needs --pid-file (or pid-file in "
		    "the config file)\n");
		return EX_USAGE;
	}
	/* A pid file nobody holds locked names no running master. */
	if ((pfh = pidfile_open(c->pid_file, 0644, &pid)) != NULL) {
		pidfile_remove(pfh);
		fprintf(stderr, "preforkd: no master is running (%s is not "
		    "held)\n", c->pid_file);
		return EX_UNAVAILABLE;
	}
	if (errno != EEXIST || pid <= 0) {
		fprintf(stderr, "preforkd: cannot read %s: %s\n", c->pid_file,
		    strerror(errno));
		return EX_NOINPUT;
	}
	if (kill(pid, sig) == -1) {
		fprintf(stderr, "preforkd: kill(%d) failed: %s\n", (int)pid,
		    strerror(errno));
		return EX_UNAVAILABLE;
	}
	return 0;
}

/* Descriptors handed down: systemd's LISTEN_FDS, or an upgrading
 * master's PREFORKD_LISTEN_FDS ("3,4,5"). */
static int
inherited_fds(int *fds)
{
	const char *pid = getenv("LISTEN_PID"), *n = getenv("LISTEN_FDS");
	const char *ours = getenv("PREFORKD_LISTEN_FDS"), *errstr;
	int count = 0;

	if (ours != NULL) {
		char buf[256], *save = NULL;

		strlcpy(buf, ours, sizeof(buf));
		for (char *t = strtok_r(buf, ",", &save); t != NULL &&
		    count < MAX_INHERITED; t = strtok_r(NULL, ",", &save)) {
			int fd = (int)strtonum(t, 3, 1024, &errstr);

			if (errstr == NULL)
				fds[count++] = fd;
		}
	} else if (pid != NULL && n != NULL &&
	    strtonum(pid, 1, 1 << 30, &errstr) == getpid()) {
		int k = (int)strtonum(n, 0, MAX_INHERITED, &errstr);

		for (int i = 0; errstr == NULL && i < k; i++)
			fds[count++] = 3 + i;
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	unsetenv("PREFORKD_LISTEN_FDS");
	return count;
}

/* Closes what our launcher leaked into us (fds from 3 up, not close-on-
 * exec), keeping the sockets handed down on purpose. */
static void
close_leaked(const int *keep, int nkeep)
{
	for (int fd = STDERR_FILENO + 1; fd < 1024; fd++) {
		bool kept = false;
		int fl;

		for (int i = 0; i < nkeep; i++)
			kept |= keep[i] == fd;
		/* Ours (logs, pid file) are all close-on-exec. */
		if (!kept && (fl = fcntl(fd, F_GETFD)) != -1 &&
		    !(fl & FD_CLOEXEC))
			close(fd);
	}
}

/*
 * -D: detaches (double fork, setsid, stdio to /dev/null). The starting
 * process waits on a pipe and exits 0 once the master reports ready, or
 * non-zero with the master's reason. Returns the pipe's write end.
 */
static int
daemonize(void)
{
	char msg[512];
	int p[2], fd;
	ssize_t n;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) == -1 || (pid = fork()) == -1) {
		fprintf(stderr, "preforkd: cannot daemonize: %s\n",
		    strerror(errno));
		exit(EX_OSERR);
	}
	if (pid > 0) {
		close(p[1]);
		while ((n = read(p[0], msg, sizeof(msg) - 1)) == -1 &&
		    errno == EINTR)
			;
		msg[n > 0 ? n : 0] = '\0';
		if (strcmp(msg, "ok") == 0)
			_exit(0);
		fprintf(stderr, "preforkd: %s\n", msg[0] ? msg :
		    "the master exited before it was ready");
		_exit(EX_SOFTWARE);
	}
	close(p[0]);
	if (setsid() == -1 || (pid = fork()) == -1)
		_exit(EX_OSERR);
	if (pid > 0)
		_exit(0);
	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return p[1];
}

/* The binary as started, absolute, so that USR2 runs what is installed
 * there by then. */
static void
find_self(const char *argv0, char *out, size_t outsz)
{
	char cand[PATH_MAX], *path, *save = NULL;

	strlcpy(out, "/proc/self/exe", outsz);
	if (strchr(argv0, '/') != NULL) {
		if (realpath(argv0, cand) != NULL)
			strlcpy(out, cand, outsz);
		return;
	}
	if ((path = getenv("PATH")) == NULL || (path = strdup(path)) == NULL)
		return;
	for (char *d = strtok_r(path, ":", &save); d != NULL;
	    d = strtok_r(NULL, ":", &save)) {
		snprintf(cand, sizeof(cand), "%s/%s", d, argv0);
		if (access(cand, X_OK) == 0) {
			if (realpath(cand, out) == NULL)
				strlcpy(out, cand, outsz);
			break;
		}
	}
	free(path);
}

int
main(int argc, char **argv)
{
	static struct cfg c;
	static int lfd[MAX_LISTENERS];
	struct master_args ma = { .sfd = -1, .ready_fd = -1, .afd = -1 };
	struct flags_out fo;
	struct sandbox_support sbx;
	struct pidfh *pfh = NULL;
	int inh[MAX_INHERITED], ninh;
	char err[1024];
	sigset_t none;
	int action, code, rc;
	char self[PATH_MAX];
	const char *old;
	static char **args;	/* static: reachable until exit (LSan) */
	pid_t other;

	/* An upgrading master execs us with its signals blocked. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	find_self(argv[0], self, sizeof(self));
	ma.self = self;
	/* setproctitle() reuses argv's memory: keep a copy for reloads and
	 * upgrades, whose argv[0] is the binary's absolute path. */
	if ((args = calloc((size_t)argc + 1, sizeof(*args))) == NULL)
		return EX_OSERR;
	for (int i = 0; i < argc; i++)
		if ((args[i] = strdup(i == 0 ? self : argv[i])) == NULL)
			return EX_OSERR;
	if ((old = getenv("PREFORKD_OLD_MASTER")) != NULL) {
		const char *errstr;

		ma.old_master = (pid_t)strtonum(old, 2, 1 << 30, &errstr);
		unsetenv("PREFORKD_OLD_MASTER");
	}
	title_init(argc, argv);
	ninh = inherited_fds(inh);
	close_leaked(inh, ninh);
	if ((code = config_build(argc, args, &c, &action, &fo, err,
	    sizeof(err))) != 0) {
		fprintf(stderr, "preforkd: %s\n", err);
		return code;
	}
	switch (action) {
	case FLAGS_HELP:
		flags_usage(stdout);
		return 0;
	case FLAGS_VERSION:
		flags_version(stdout);
		return 0;
	case FLAGS_CHECK:
		sandbox_probe(&sbx);
		sandbox_describe(&c, &sbx, err, sizeof(err));
		printf("sandbox: %s\nok\n", err);
		return 0;
	case FLAGS_SIGNAL:
		return send_signal(&c, fo.signal);
	}
	if (c.user[0] != '\0') {
		if (config_resolve_user(&c, &ma.uid, &ma.gid, err, sizeof(err)) == -1) {
			fprintf(stderr, "preforkd: %s\n", err);
			return EX_NOUSER;
		}
		ma.drop = getuid() == 0;
	} else if (c.daemon && getuid() == 0) {
		fprintf(stderr, "preforkd: refusing to run workers as root in "
		    "daemon mode: give -u USER (or -u root to insist)\n");
		return EX_USAGE;
	}
	if (c.pid_file[0] != '\0' &&
	    (pfh = pidfile_open(c.pid_file, 0644, &other)) == NULL) {
		if (errno == EEXIST)
			fprintf(stderr, "preforkd: already running as pid %d "
			    "(%s)\n", (int)other, c.pid_file);
		else
			fprintf(stderr, "preforkd: cannot open pid file %s: %s\n",
			    c.pid_file, strerror(errno));
		return errno == EEXIST ? EX_UNAVAILABLE : EX_CANTCREAT;
	}
	if (pfh != NULL)	/* an upgraded binary must not inherit the lock */
		(void)fcntl(pidfile_fileno(pfh), F_SETFD, FD_CLOEXEC);
	if (ma.drop)		/* the workers reopen the logs as ma.uid */
		log_set_owner(ma.uid);
	if (log_open(&c, err, sizeof(err)) == -1) {
		fprintf(stderr, "preforkd: %s\n", err);
		return EX_CANTCREAT;
	}
	/* Read once here, so that no worker reads it per request. */
	if (mime_load(MIME_TYPES_FILE) == -1 && errno != ENOENT)
		log_warn("cannot read %s (the built-in types stay)",
		    MIME_TYPES_FILE);
	/* config_build refused an explicit strict it cannot enforce. */
	sandbox_probe(&sbx);
	if (sandbox_check(&c, &sbx, err, sizeof(err)) == 1)
		log_warnx("%s", err);
	if (sbx.seccomp)
		sandbox_names_init();
	config_log_trust(&c);

	for (int i = 0; i < c.nlisten; i++)
		if ((lfd[i] = listen_adopt(&c, &c.listen[i], inh, ninh)) == -1 &&
		    (lfd[i] = listen_open(&c, &c.listen[i], err, sizeof(err),
		    &code)) == -1)
			die_logged(&c, code, err);
	if (c.has_status &&
	    (ma.sfd = listen_adopt(&c, &c.status_listen, inh, ninh)) == -1 &&
	    (ma.sfd = listen_open(&c, &c.status_listen, err, sizeof(err),
	    &code)) == -1)
		die_logged(&c, code, err);
	if (c.has_agent &&
	    (ma.afd = listen_adopt(&c, &c.agent_listen, inh, ninh)) == -1 &&
	    (ma.afd = listen_open(&c, &c.agent_listen, err, sizeof(err),
	    &code)) == -1)
		die_logged(&c, code, err);
	for (int i = 0; i < ninh; i++)
		if (inh[i] >= 0)
			close(inh[i]);		/* handed down, not configured */
	if (c.daemon && ma.old_master == 0)	/* an upgrade is detached */
		ma.ready_fd = daemonize();
	if (pfh != NULL && pidfile_write(pfh) == -1)
		log_warn("cannot write pid file %s", c.pid_file);
	ma.cfg = &c;
	ma.lfd = lfd;
	ma.nlfd = c.nlisten;
	ma.argc = argc;
	ma.argv = args;
	ma.pfh = pfh;
	rc = master_run(&ma);
	return rc;
}
