/*
 * config - see config.h. Module code runs only in a throw-away child here:
 * the master itself never executes a handler module.
 */
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "config.h"
#include "flags.h"
#include "module.h"

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

/*
 * Loads and initialises every module in a child, as a worker would, so
 * that a missing .so, an ABI mismatch or a failing init is found before
 * anything starts. The child reports its one-line reason through a pipe.
 */
static int
probe_modules(const struct cfg *c, char *err, size_t errlen)
{
	int fd[2], status;
	ssize_t n;
	pid_t pid;

	if (c->nmodules == 0)
		return 0;
	if (pipe2(fd, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe2() for the module check failed: %s",
		    strerror(errno));
		return -1;
	}
	fflush(NULL);
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "fork() for the module check failed: %s",
		    strerror(errno));
		close(fd[0]);
		close(fd[1]);
		return -1;
	}
	if (pid == 0) {
		char why[512];

		close(fd[0]);
		if (module_load_all(c, 0, why, sizeof(why)) == -1) {
			(void)write(fd[1], why, strlen(why));
			_exit(EX_CONFIG);
		}
		module_fini_all();
		_exit(0);
	}
	close(fd[1]);
	n = read(fd[0], err, errlen - 1);
	err[n > 0 ? n : 0] = '\0';
	close(fd[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status))
		snprintf(err, errlen, "module check: a module crashed in init "
		    "(signal %d)", WTERMSIG(status));
	else if (err[0] == '\0')
		snprintf(err, errlen, "module check failed");
	return -1;
}

int
config_build(int argc, char **argv, struct cfg *c, int *action,
    struct flags_out *fo, char *err, size_t errlen)
{
	static struct cfg scratch;
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
	/* Absolute module paths: workers dlopen them later, anywhere. */
	for (int i = 0; i < c->nmodules; i++) {
		char abs[PATH_MAX];

		if (strchr(c->modules[i].path, '/') != NULL &&
		    realpath(c->modules[i].path, abs) != NULL &&
		    strlen(abs) < sizeof(c->modules[i].path))
			strlcpy(c->modules[i].path, abs,
			    sizeof(c->modules[i].path));
	}
	if (probe_modules(c, err, errlen) == -1)
		return EX_CONFIG;
	return 0;
}
