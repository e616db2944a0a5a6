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
#include "child.h"	/* MASTER_SIG_SB, the after-fork set-up */
#include "procs.h"	/* the entry points, checked against these */
#include "sb.h"

/* Set by SIGQUIT (server stops) or SIGHUP (this worker is replaced):
 * finish the current request, then exit. */
extern volatile sig_atomic_t worker_stop;
/* Set by SIGQUIT only: the server stops (the keeper too). Without it a
 * stopping worker is retiring and the server goes on. */
extern volatile sig_atomic_t worker_drain;

/* Reopens the logs if USR1 asked for it; called between requests. */
void	worker_check_reopen(void);

/* Requests after which this worker asks to be recycled (0: never). */
extern unsigned long long worker_quota;

/* The workers' end of the keeper queue (set before fork; -1: none). */
void	worker_set_queue(int fd);

/* This worker's scoreboard and its own slot. */
extern struct sb	*worker_sb;
extern struct sb_slot	*worker_slot;

/*
 * Runs worker id (1..N) of generation gen, which owns scoreboard slot
 * sbi, on the listeners lfd[0..nlfd).
 */
void	worker_main(const struct cfg *cfg, int id, int gen, const int *lfd,
	    int nlfd, struct sb *sb, int sbi) __attribute__((noreturn));

#endif
