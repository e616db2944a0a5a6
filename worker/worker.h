/*
 * worker - a worker process: set-up after fork, the accept loop, and the
 * signals a worker obeys (QUIT: finish the current request and exit).
 */
#ifndef PREFORKD_WORKER_H
#define PREFORKD_WORKER_H

#include <signal.h>

#include "cfg.h"

/* Set by SIGQUIT: finish the current request, then exit. */
extern volatile sig_atomic_t worker_stop;

/* Runs worker id of generation gen on the listeners lfd[0..nlfd). */
void	worker_main(const struct cfg *cfg, int id, int gen, const int *lfd,
	    int nlfd) __attribute__((noreturn));

#endif
