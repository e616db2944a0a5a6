/*
 * procs - the door between the master and worker/: the entry point of
 * each process the master forks (a worker, the keeper, the status
 * process), what the master sets before forking them, and the module
 * loader that -t and the config probe run in the master. The master
 * includes this header and nothing else from worker/; everything else it
 * shares with its children comes from common/.
 */
#ifndef PREFORKD_PROCS_H
#define PREFORKD_PROCS_H

#include "cfg.h"
#include "sb.h"

/* Workers. */

/* The workers' end of the keeper queue (set before fork; -1: none). */
void	worker_set_queue(int fd);

/*
 * Runs worker id (1..N) of generation gen, which owns scoreboard slot
 * sbi, on the listeners lfd[0..nlfd).
 */
void	worker_main(const struct cfg *cfg, int id, int gen, const int *lfd,
	    int nlfd, struct sb *sb, int sbi) __attribute__((noreturn));

/* The keeper (SPEC 1, KEEPER.md): it holds kept-alive connections while
 * they wait for their next request, so that an idle client never holds a
 * worker. */

/* Runs the keeper on its end qfd of the hand-off queue; never returns. */
void	keeper_main(const struct cfg *cfg, int qfd, struct sb *sb)
	    __attribute__((noreturn));

/* The status process (SPEC section 9): a small server of its own on
 * --status-listen that renders the scoreboard. It is neither the master
 * nor a request worker, so it answers while every worker is busy or hung. */

/*
 * Serves the status endpoints on the listening socket fd and the agent
 * check on afd (either may be -1); never returns. lfd[0..nlfd) are the
 * serving listeners: it notes which they are (for their accept-queue
 * lengths in /metrics and the agent's weight) and closes them.
 */
void	status_main(const struct cfg *cfg, int fd, int afd,
	    const struct sb *sb, const int *lfd, int nlfd)
	    __attribute__((noreturn));

/* Handler modules (worker/module.c): the master's config check loads
 * them once in a throw-away child, to refuse a module that fails or hangs
 * before any worker meets it. */

/*
 * Loads every module of c (dlopen, descriptor, ABI check) and runs its
 * init for worker worker_id (0 in the master). Returns 0, or -1 with a
 * one-line reason that names the module's file in err.
 */
int	module_load_all(const struct cfg *c, int worker_id, char *err,
	    size_t errlen);
/* The module check: module_load_all() writes "module PATH (PREFIX)\n" to
 * fd before it loads each one, so that a hang can be named. */
void	module_set_trace(int fd);
/* Runs fini of every initialised module (worker exit). */
void	module_fini_all(void);

#endif
