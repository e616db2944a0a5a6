/*
 * worker - a worker process: set-up after fork, the accept loop, and the
 * signals a worker obeys (QUIT: finish the current request and exit).
 */
#ifndef PREFORKD_WORKER_H
#define PREFORKD_WORKER_H

#include <signal.h>

#include "cfg.h"
#include "sb.h"

/* Set by SIGQUIT: finish the current request, then exit. */
extern volatile sig_atomic_t worker_stop;

/* This worker's scoreboard and its own slot. */
extern struct sb	*worker_sb;
extern struct sb_slot	*worker_slot;

/*
 * Runs worker id (1-based; its scoreboard slot is id - 1) of generation
 * gen on the listeners lfd[0..nlfd).
 */
void	worker_main(const struct cfg *cfg, int id, int gen, const int *lfd,
	    int nlfd, struct sb *sb) __attribute__((noreturn));

#endif
