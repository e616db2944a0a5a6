/*
 * log - error-log lines "TIME LEVEL ROLE pid=PID: message" written with
 * one write() on an O_APPEND descriptor, so that lines of the master and
 * of every worker never interleave.
 *
 * A line that cannot be written (disk full, a file system gone) is not
 * retried: the request goes on, the line is counted, and one warning per
 * minute per process says how many were lost and why. The warning goes to
 * the error log; when that fails too and the error log is a file, to
 * standard error (the master's, unless daemonized: /dev/null); when it is
 * standard error itself, the count waits for the next minute.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int		 error_fd = STDERR_FILENO;
static int		 access_fd = STDOUT_FILENO;
static int		 role = LOG_ROLE_MASTER;
static enum log_level	 min_level = LOG_LEVEL_INFO;
static bool		 owner_set;
static uid_t		 owner_uid;

static const char *level_names[] = { "debug", "info", "warn", "error" };

/* Lines one log lost since its last report. */
struct lost {
	const char		*name;
	unsigned long long	 n;
	int			 err;	/* errno of the last loss; 0: short */
};

static struct lost	 lost_access = { "access log", 0, 0 };
static struct lost	 lost_error = { "error log", 0, 0 };
static time_t		 lost_next;	/* no report before (monotonic s) */

static void	lost_report(void);

/*
 * Opens path for appending, or returns dflt for "-" and -1 for "off".
 *
 * With -u, the workers reopen the logs by name after USR1 as their own
 * user, right after the master did. So a file the master creates belongs
 * to the workers' user (as nginx does it). Only a file created here is
 * given away: O_EXCL fails on any name that exists, symbolic links
 * included, so a name that leads to another file is never chowned.
 * (Handing the master's new descriptors down would need a channel to
 * every worker; reopening by name needs none.)
 *
 * When the file cannot be opened but cur, the descriptor in use, is that
 * very file (a reopen without a rotation, a worker facing a file that
 * still belongs to root), cur is returned: nothing needs reopening.
 */
static int
open_log(const char *path, int dflt, int cur)
{
	struct stat now, want;
	int fd, saved;

	if (strcmp(path, "-") == 0)
		return dflt;
	if (strcmp(path, "off") == 0)
		return -1;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC,
	    0644);
	if (fd != -1) {
		/* Should it fail, the workers say so when they reopen. */
		if (owner_set)
			(void)fchown(fd, owner_uid, (gid_t)-1);
		return fd;
	}
	if (errno == EEXIST)
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1 && cur > STDERR_FILENO) {
		saved = errno;
		if (fstat(cur, &now) == 0 && stat(path, &want) == 0 &&
		    now.st_dev == want.st_dev && now.st_ino == want.st_ino)
			return cur;
		errno = saved;
	}
	return fd;
}

int
log_open(const struct cfg *c, char *err, size_t errlen)
{
	int efd, afd;

	if ((efd = open_log(c->error_log, STDERR_FILENO, error_fd)) == -1) {
		snprintf(err, errlen, "cannot open error log %s: %s",
		    c->error_log, strerror(errno));
		return -1;
	}
	afd = open_log(c->access_log, STDOUT_FILENO, access_fd);
	if (afd == -1 && strcmp(c->access_log, "off") != 0) {
		snprintf(err, errlen, "cannot open access log %s: %s",
		    c->access_log, strerror(errno));
		if (efd > STDERR_FILENO && efd != error_fd)
			close(efd);
		return -1;
	}
	/* A reopen (USR1, reload): the old files close once replaced. */
	if (error_fd > STDERR_FILENO && error_fd != efd)
		close(error_fd);
	if (access_fd > STDERR_FILENO && access_fd != afd)
		close(access_fd);
	error_fd = efd;
	access_fd = afd;
	min_level = c->log_level;
	return 0;
}

void
log_set_role(int r)
{
	role = r;
	/* a new process: its parent's losses are the parent's to report */
	lost_access.n = lost_error.n = 0;
	lost_next = 0;
}

void
log_set_owner(uid_t uid)
{
	owner_set = true;
	owner_uid = uid;
}

int
log_error_fd(void)
{
	return error_fd;
}

int
log_access_fd(void)
{
	return access_fd;
}

/* Counts one lost line; n is what write() returned. */
static void
lost_count(struct lost *l, ssize_t n, int err)
{
	l->n++;
	l->err = n < 0 ? err : 0;
}

void
log_access_write(const char *line, size_t len)
{
	ssize_t n;

	if (access_fd == -1)
		return;
	if ((n = write(access_fd, line, len)) != (ssize_t)len)
		lost_count(&lost_access, n, errno);
	/* nothing lost: no clock read, nothing more on the hot path */
	if (lost_access.n > 0 || lost_error.n > 0)
		lost_report();
}

int
log_lost_due(time_t now, time_t *next)
{
	if (now < *next)
		return 0;
	*next = now + LOG_LOST_REPORT_S;
	return 1;
}

/* Formats one line into line (size bytes, size > 64); returns its length. */
static int
format_line(char *line, size_t size, enum log_level level, int with_errno,
    int saved, const char *fmt, va_list ap)
{
	struct timespec ts;
	struct tm tm;
	int n, m;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, size,
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, level_names[level]);
	if (role == LOG_ROLE_MASTER)
		n += snprintf(line + n, size - n, "master pid=%d: ",
		    (int)getpid());
	else if (role == LOG_ROLE_STATUS)
		n += snprintf(line + n, size - n, "status pid=%d: ",
		    (int)getpid());
	else if (role == LOG_ROLE_KEEPER)
		n += snprintf(line + n, size - n, "keeper pid=%d: ",
		    (int)getpid());
	else
		n += snprintf(line + n, size - n, "worker %d pid=%d: ",
		    role, (int)getpid());
	m = vsnprintf(line + n, size - n, fmt, ap);
	if (m < 0)
		m = 0;
	n = n + m >= (int)size - 1 ? (int)size - 2 : n + m;
	if (with_errno)
		n += snprintf(line + n, size - n, ": %s", strerror(saved));
	if (n >= (int)size - 1)
		n = (int)size - 2;
	line[n++] = '\n';
	return n;
}

static void
vlog(enum log_level level, int with_errno, const char *fmt, va_list ap)
{
	char line[2048];
	ssize_t w;
	int n, saved = errno;

	if (level < min_level)
		return;
	n = format_line(line, sizeof(line), level, with_errno, saved, fmt, ap);
	if ((w = write(error_fd, line, (size_t)n)) != n)
		lost_count(&lost_error, w, errno);
	if (lost_access.n > 0 || lost_error.n > 0)
		lost_report();
	errno = saved;
}

static void
report_line(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = format_line(line, sizeof(line), LOG_LEVEL_WARN, 0, 0, fmt, ap);
	va_end(ap);
	if (write(error_fd, line, (size_t)n) == n)
		return;
	if (error_fd != STDERR_FILENO)
		(void)write(STDERR_FILENO, line, (size_t)n);
	else
		lost_error.n++;		/* said next time, with the rest */
}

/*
 * Once a minute at most (CLOCK_MONOTONIC_COARSE: a vDSO read, no
 * syscall, and only while something is lost), says what each log lost.
 */
static void
lost_report(void)
{
	struct lost *logs[] = { &lost_access, &lost_error };
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	if (LOG_LEVEL_WARN < min_level || !log_lost_due(ts.tv_sec, &lost_next))
		return;
	for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
		struct lost *l = logs[i];
		unsigned long long n = l->n;

		if (n == 0)
			continue;
		l->n = 0;
		report_line("%s: %llu line%s lost: %s (reported at most once "
		    "a minute)", l->name, n, n == 1 ? "" : "s",
		    l->err ? strerror(l->err) : "short write");
	}
}

#define LOGFN(name, level, with_errno)					\
void									\
name(const char *fmt, ...)						\
{									\
	va_list ap;							\
	va_start(ap, fmt);						\
	vlog(level, with_errno, fmt, ap);				\
	va_end(ap);							\
}

LOGFN(log_debug, LOG_LEVEL_DEBUG, 0)
LOGFN(log_info, LOG_LEVEL_INFO, 0)
LOGFN(log_warnx, LOG_LEVEL_WARN, 0)
LOGFN(log_warn, LOG_LEVEL_WARN, 1)
LOGFN(log_errorx, LOG_LEVEL_ERROR, 0)
