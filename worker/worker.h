/*
 * worker - a worker process: set-up after fork, the accept loop, and the
 * signals a worker obeys (QUIT: finish the current request and exit).
 */
#ifndef PREFORKD_WORKER_H
#define PREFORKD_WORKER_H

#include <sys/types.h>
#include <signal.h>
#include <stdbool.h>

#include "cfg.h"
#include "sb.h"

/* The workers' end of the keeper queue (set before fork; -1: none). */
void	worker_set_queue(int fd);

/* Workers setuid/setgid to uid/gid after fork when drop is set. */
void	worker_set_user(bool drop, uid_t uid, gid_t gid);
/* Does it (also for the status process). Returns 0 or -1. */
int	worker_drop_privileges(void);

/* After fork: the master's signal set-up replaced by a child's own. */
void	worker_signals_init(void (*quit)(int), void (*usr1)(int),
	    void (*hup)(int));

/* A worker tells the master to look at the scoreboard (recycling). */
#define MASTER_SIG_SB	(SIGRTMIN + 1)

/*
 * Runs worker id (1..N) of generation gen, which owns scoreboard slot
 * sbi, on the listeners lfd[0..nlfd).
 */
void	worker_main(const struct cfg *cfg, int id, int gen, const int *lfd,
	    int nlfd, struct sb *sb, int sbi) __attribute__((noreturn));

#endif
