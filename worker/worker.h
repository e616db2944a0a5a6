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

/* The workers' end of the keeper queue (set before fork; -1: none). */
void	worker_set_queue(int fd);


/*
 * Runs worker id (1..N) of generation gen, which owns scoreboard slot
 * sbi, on the listeners lfd[0..nlfd).
 */
void	worker_main(const struct cfg *cfg, int id, int gen, const int *lfd,
	    int nlfd, struct sb *sb, int sbi) __attribute__((noreturn));

#endif
