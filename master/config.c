/*
 * config - see config.h. Module code runs only in a throw-away child here:
 * the master itself never executes a handler module.
 */
#include <sys/stat.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "flags.h"
#include "log.h"
#include "procs.h"
#include "sandbox.h"

/* The root must be a directory; it is kept as an absolute path. */
static int
resolve_docroot(struct cfg *c, char *err, size_t errlen)
{
	char abs[PATH_MAX];
	struct stat st;

	if (realpath(c->docroot, abs) == NULL || stat(abs, &st) == -1) {
		snprintf(err, errlen, "document root %s: %s", c->docroot,
		    strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "document root %s: not a directory", abs);
		return -1;
	}
	strlcpy(c->docroot, abs, sizeof(c->docroot));
	return 0;
}

int
config_resolve_user(const struct cfg *c, uid_t *uid, gid_t *gid, char *err,
    size_t errlen)
{
	struct passwd *pw;
	struct group *gr;

	if ((pw = getpwnam(c->user)) == NULL) {
		snprintf(err, errlen, "unknown user '%s'", c->user);
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	if (c->group[0] != '\0') {
		if ((gr = getgrnam(c->group)) == NULL) {
			snprintf(err, errlen, "unknown group '%s'", c->group);
			return -1;
		}
		*gid = gr->gr_gid;
	}
	return 0;
}

static long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The probe child's side: as the worker user (-u, when we are root),
 * load every module, saying on trace which one it is at, so that the
 * parent can name the one that hangs.
 */
static void __attribute__((noreturn))
probe_child(const struct cfg *c, bool drop, uid_t uid, gid_t gid, int why,
    int trace)
{
	char msg[512];

	if (drop && (setgroups(1, &gid) == -1 || setgid(gid) == -1 ||
	    setuid(uid) == -1)) {
		snprintf(msg, sizeof(msg), "module check: cannot switch to uid "
		    "%d gid %d: %s", (int)uid, (int)gid, strerror(errno));
		(void)write(why, msg, strlen(msg));
		_exit(EX_CONFIG);
	}
	module_set_trace(trace);
	if (module_load_all(c, 0, msg, sizeof(msg)) == -1) {
		(void)write(why, msg, strlen(msg));
		_exit(EX_CONFIG);
	}
	module_fini_all();
	_exit(0);
}

/*
 * Reads the child's reason into err until it closes the pipe, then reaps
 * it, by deadline. Returns 0 with *status, or -1 past the deadline.
 */
static int
probe_wait(pid_t pid, int fd, long long deadline, char *err, size_t errlen,
    int *status)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t len = 0;
	ssize_t n;
	pid_t w;

	err[0] = '\0';
	for (;;) {
		long long left = deadline - mono_ms();

		if (left <= 0)
			return -1;
		if (poll(&pfd, 1, (int)left) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (pfd.revents == 0)
			continue;
		n = read(fd, err + len, errlen - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0 || (len += (size_t)n) == errlen - 1)
			break;
	}
	err[len] = '\0';
	/* Its end of the pipe is closed: it is exiting (or closed it). */
	while ((w = waitpid(pid, status, WNOHANG)) == 0 ||
	    (w == -1 && errno == EINTR)) {
		struct timespec nap = { 0, 10 * 1000000L };

		if (mono_ms() >= deadline)
			return -1;
		nanosleep(&nap, NULL);
	}
	return w == pid ? 0 : -1;
}

/* The last line the probe child traced: the module it was at. */
static void
probe_last_module(int fd, char *out, size_t outsz)
{
	char buf[4096], *last, *nl;
	ssize_t n;
	size_t len = 0;

	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len,
	    sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	if (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	last = (nl = strrchr(buf, '\n')) != NULL ? nl + 1 : buf;
	strlcpy(out, last[0] != '\0' ? last : "a module", outsz);
}

/*
 * Loads and initialises every module in a child, as a worker would (and
 * as the worker user), so that a missing .so, an ABI mismatch or a
 * failing init is found before anything starts. The child reports its
 * one-line reason through a pipe. A child that takes longer than
 * MODULE_PROBE_MS is killed: the master must not hang in a reload.
 */
static int
probe_modules(const struct cfg *c, bool drop, uid_t uid, gid_t gid, char *err,
    size_t errlen)
{
	int fd[2] = { -1, -1 }, tr[2] = { -1, -1 }, status, rc = -1;
	pid_t pid;

	if (pipe2(fd, O_CLOEXEC) == -1 ||
	    pipe2(tr, O_CLOEXEC | O_NONBLOCK) == -1) {
		snprintf(err, errlen, "pipe2() for the module check failed: %s",
		    strerror(errno));
		goto fail;
	}
	fflush(NULL);
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "fork() for the module check failed: %s",
		    strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		close(fd[0]);
		close(tr[0]);
		probe_child(c, drop, uid, gid, fd[1], tr[1]);
	}
	close(fd[1]);
	close(tr[1]);
	fd[1] = tr[1] = -1;
	if (probe_wait(pid, fd[0], mono_ms() + MODULE_PROBE_MS, err, errlen,
	    &status) == -1) {
		char name[512];

		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
			;
		probe_last_module(tr[0], name, sizeof(name));
		snprintf(err, errlen, "module check: %s did not finish loading "
		    "within %d s: killed", name, MODULE_PROBE_MS / 1000);
		goto fail;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		rc = 0;
	if (WIFSIGNALED(status))
		snprintf(err, errlen, "module check: a module crashed in init "
		    "(signal %d)", WTERMSIG(status));
	else if (rc == -1 && err[0] == '\0')
		snprintf(err, errlen, "module check failed");
fail:
	for (int i = 0; i < 2; i++) {
		if (fd[i] != -1)
			close(fd[i]);
		if (tr[i] != -1)
			close(tr[i]);
	}
	return rc;
}

/*
 * The sandbox's paths must exist when the workers open them; an explicit
 * --sandbox strict the kernel cannot enforce stops the start.
 */
static int
check_sandbox(const struct cfg *c, char *err, size_t errlen)
{
	struct sandbox_paths sp;
	struct sandbox_support s;
	struct stat st;

	if (cfg_sandbox(c) == SANDBOX_OFF)
		return 0;
	sandbox_paths_build(c, SANDBOX_WORKER, &sp);
	for (int i = 0; i < sp.n; i++) {
		if (sp.p[i].access == SANDBOX_LOG)
			continue;	/* the logs say for themselves */
		if (sp.p[i].path[0] != '/' || stat(sp.p[i].path, &st) == -1) {
			snprintf(err, errlen, "sandbox path %s: %s", sp.p[i].path,
			    sp.p[i].path[0] != '/' ? "not absolute" :
			    strerror(errno));
			return -1;
		}
	}
	sandbox_probe(&s);
	return sandbox_check(c, &s, err, errlen) == -1 ? -1 : 0;
}

int
config_build(int argc, char **argv, struct cfg *c, int *action,
    struct flags_out *fo, char *err, size_t errlen)
{
	static struct cfg scratch;
	bool drop = false;
	uid_t uid = 0;
	gid_t gid = 0;
	const char *file;
	char why[512];

	/* Flags first on their own, so that a bad flag is EX_USAGE and we
	 * learn the config file's name. */
	cfg_defaults(&scratch);
	*action = flags_parse(argc, argv, &scratch, fo, why, sizeof(why));
	file = fo->config;
	if (*action == -1) {
		snprintf(err, errlen, "%s (see preforkd -h)", why);
		return EX_USAGE;
	}
	if (*action == FLAGS_HELP || *action == FLAGS_VERSION)
		return 0;
	cfg_defaults(c);
	if (file != NULL && cfg_load_file(c, file, err, errlen) == -1)
		return EX_CONFIG;
	if (flags_parse(argc, argv, c, fo, err, errlen) == -1)
		return EX_USAGE;
	if (cfg_finish(c, why, sizeof(why)) == -1) {
		if (file != NULL)
			snprintf(err, errlen, "%s: %s", file, why);
		else
			snprintf(err, errlen, "%s", why);
		return file != NULL ? EX_CONFIG : EX_USAGE;
	}
	if (*action == FLAGS_SIGNAL)
		return 0;		/* only --pid-file matters */
	if (resolve_docroot(c, err, errlen) == -1)
		return EX_NOINPUT;
	if (check_sandbox(c, err, errlen) == -1)
		return EX_CONFIG;
	/* Absolute module paths: workers dlopen them later, anywhere. */
	for (int i = 0; i < c->nmodules; i++) {
		char abs[PATH_MAX];

		if (strchr(c->modules[i].path, '/') != NULL &&
		    realpath(c->modules[i].path, abs) != NULL &&
		    strlen(abs) < sizeof(c->modules[i].path))
			strlcpy(c->modules[i].path, abs,
			    sizeof(c->modules[i].path));
	}
	if (c->nmodules == 0)
		return 0;
	/* Module code runs as the workers will run it. */
	if (c->user[0] != '\0' && getuid() == 0) {
		if (config_resolve_user(c, &uid, &gid, err, errlen) == -1)
			return EX_NOUSER;
		drop = true;
	}
	if (probe_modules(c, drop, uid, gid, err, errlen) == -1)
		return EX_CONFIG;
	return 0;
}

void
config_log_trust(const struct cfg *c)
{
	char line[2048], net[INET6_ADDRSTRLEN + 8];
	size_t o;
	int nproxy = 0;

	o = strlcpy(line, "trusted proxies:", sizeof(line));
	for (int i = 0; i < c->ntrusted && o < sizeof(line); i++) {
		cfg_cidr_str(&c->trusted[i], net, sizeof(net));
		o += (size_t)snprintf(line + o, sizeof(line) - o, " %s", net);
	}
	if (c->ntrusted == 0 && o < sizeof(line))
		o += strlcpy(line + o, " none (forwarded headers are ignored)",
		    sizeof(line) - o);
	for (int i = 0; i < c->nlisten && o < sizeof(line); i++)
		if (c->listen[i].proxy)
			o += (size_t)snprintf(line + o, sizeof(line) - o,
			    "%s%.*s", nproxy++ == 0 ? "; PROXY protocol "
			    "required on " : ", ",
			    (int)strcspn(c->listen[i].spec, ","),
			    c->listen[i].spec);
	if (nproxy > 0 && c->ntrusted == 0 && o < sizeof(line))
		(void)strlcpy(line + o, " (no trusted source: every connection "
		    "there is closed)", sizeof(line) - o);
	log_info("%s", line);
}
