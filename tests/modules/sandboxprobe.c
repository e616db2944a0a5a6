/*
 * sandboxprobe - a test-only module that tries, per request, one thing a
 * sandbox should forbid, and answers 200 "WHAT ok" or "WHAT ERRNO" (the
 * errno's name) so that the test sees exactly how it was refused:
 *
 *   PREFIX/passwd      open /etc/passwd for reading
 *   PREFIX/create      create a file in the directory of option "dir"
 *   PREFIX/link        open "escape.txt" in that directory (a symbolic
 *                      link the test points out of it)
 *   PREFIX/exec        execve("/bin/sh") with an invalid argv: permitted,
 *                      it fails with EFAULT after the permission checks
 *                      instead of replacing the worker
 *   PREFIX/ptrace      PTRACE_PEEKDATA on the master, which we do not
 *                      trace: permitted, it fails with ESRCH
 *   PREFIX/connect?N   a TCP connection to 127.0.0.1:N
 *   PREFIX/kill        kill(master, 0): may we signal another process?
 *   PREFIX/fork        fork() a child that exits at once
 *   PREFIX/newns       the same into a new user namespace
 *
 * Under the strict sandbox a refused syscall kills the worker instead.
 */
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <preforkd.h>

static int
probe_init(const struct pfd_init *init, void **state)
{
	const char *dir = pfd_init_option(init, "dir");

	*state = (void *)(dir != NULL ? dir : ".");
	return 0;
}

static int
try_connect(const char *port)
{
	struct sockaddr_in sin;
	int fd, rc;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)atoi(port));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	rc = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
	close(fd);
	return rc;
}

/* A child that exits at once, made with the raw clone() so that the
 * flags reach the kernel as given. */
static int
try_fork(unsigned long flags)
{
	long pid;
	int status;

	pid = syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, 0);
	if (pid == 0)
		_exit(0);
	if (pid == -1)
		return -1;
	return waitpid((pid_t)pid, &status, 0) == -1 ? -1 : 0;
}

/* Runs what; returns 0 or -1 with errno. */
static int
attempt(const char *what, const char *query, const char *dir)
{
	char path[4096];
	int fd;

	if (strcmp(what, "passwd") == 0) {
		if ((fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC)) == -1)
			return -1;
		return close(fd);
	}
	if (strcmp(what, "create") == 0 || strcmp(what, "link") == 0) {
		int create = what[0] == 'c';

		snprintf(path, sizeof(path), "%s/%s", dir, create ?
		    "sandboxprobe-created" : "escape.txt");
		if ((fd = open(path, create ? O_WRONLY | O_CREAT | O_EXCL |
		    O_CLOEXEC : O_RDONLY | O_CLOEXEC, 0644)) == -1)
			return -1;
		return close(fd);
	}
	if (strcmp(what, "exec") == 0) {
		/* syscall(): the compiler rightly objects to execve(). */
		return (int)syscall(SYS_execve, "/bin/sh", (char **)1, NULL);
	}
	if (strcmp(what, "ptrace") == 0)
		return (int)ptrace(PTRACE_PEEKDATA, getppid(), NULL, NULL) ==
		    -1 && errno != 0 ? -1 : 0;
	if (strcmp(what, "connect") == 0)
		return try_connect(query);
	if (strcmp(what, "kill") == 0)
		return kill(getppid(), 0);
	if (strcmp(what, "fork") == 0 || strcmp(what, "newns") == 0)
		return try_fork(what[0] == 'n' ? CLONE_NEWUSER : 0);
	errno = ENOENT;
	return -1;
}

static int
probe_handle(struct pfd_req *req, void *state)
{
	const char *path = pfd_path(req), *what;
	char body[128];
	int n, rc;

	if (path == NULL || (what = strrchr(path, '/')) == NULL)
		return 400;
	what++;
	errno = 0;
	rc = attempt(what, pfd_query(req), state);
	n = snprintf(body, sizeof(body), "%s %s\n", what,
	    rc == 0 ? "ok" : strerrorname_np(errno));
	pfd_add_header(req, "Content-Type", "text/plain");
	(void)pfd_send(req, body, (size_t)n);
	return 0;
}

PREFORKD_MODULE(.name = "sandboxprobe", .init = probe_init,
    .handle = probe_handle);
