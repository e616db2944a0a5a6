/*
 * log - the error log (one line per event, one write() each) and the
 * access log descriptor. Before the logs are open, lines go to stderr.
 */
#ifndef PREFORKD_LOG_H
#define PREFORKD_LOG_H

#include <sys/types.h>
#include <stddef.h>
#include <time.h>

#include "cfg.h"

/*
 * Opens the error and access logs named by c, closing the ones open
 * before (so it also reopens them after logrotate). Returns 0, or -1 with
 * a one-line reason in err (the old logs stay in use).
 */
int	log_open(const struct cfg *c, char *err, size_t errlen);
/* The role shown in every line: a worker's id (1..N), or one of these. */
#define LOG_ROLE_MASTER	(-1)
#define LOG_ROLE_STATUS	(-2)	/* the --status-listen process */
#define LOG_ROLE_KEEPER	(-3)	/* the connection keeper */
void	log_set_role(int role);
/*
 * -u: log files that log_open creates from now on are chowned to uid, so
 * that the workers, running as uid, can reopen them after USR1.
 */
void	log_set_owner(uid_t uid);

/* The error log descriptor (for the crash handler's raw writes). */
int	log_error_fd(void);

/*
 * The access log descriptor, -1 when off. Lines are written whole; a line
 * that cannot be is counted, and reported with the error log's own losses
 * in one warning a minute at most (per process).
 */
int	log_access_fd(void);
void	log_access_write(const char *line, size_t len);

#define LOG_LOST_REPORT_S	60	/* lost lines: one report a minute */
/*
 * The rate limit of those reports: returns 1 and moves *next a minute on
 * when now (seconds) has reached it, else 0.
 */
int	log_lost_due(time_t now, time_t *next);

void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
/* log_warn appends ": strerror(errno)". */
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_errorx(const char *, ...) __attribute__((format(printf, 1, 2)));

#endif
