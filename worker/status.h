/*
 * status - the status process (SPEC section 9): a small server of its own
 * on --status-listen, forked by the master, that renders the scoreboard.
 * It is neither the master nor a request worker, so it answers while
 * every worker is busy or hung.
 */
#ifndef PREFORKD_STATUS_H
#define PREFORKD_STATUS_H

#include "cfg.h"
#include "sb.h"

/*
 * Serves the status endpoints on the listening socket fd and the agent
 * check on afd (either may be -1); never returns. lfd[0..nlfd) are the
 * serving listeners: it notes which they are (for their accept-queue
 * lengths in /metrics and the agent's weight) and closes them.
 */
void	status_main(const struct cfg *cfg, int fd, int afd,
	    const struct sb *sb, const int *lfd, int nlfd)
	    __attribute__((noreturn));

#endif
