/*
 * keeper - the connection keeper process (SPEC 1, KEEPER.md): it holds
 * kept-alive connections while they wait for their next request, so that
 * an idle client never holds a worker.
 */
#ifndef PREFORKD_KEEPER_H
#define PREFORKD_KEEPER_H

#include "cfg.h"
#include "sb.h"

/* Runs the keeper on its end qfd of the hand-off queue; never returns. */
void	keeper_main(const struct cfg *cfg, int qfd, struct sb *sb)
	    __attribute__((noreturn));

#endif
