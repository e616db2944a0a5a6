/*
 * master - the supervising process: spawns, reaps and replaces workers,
 * and turns signals into shutdown.
 */
#ifndef PREFORKD_MASTER_H
#define PREFORKD_MASTER_H

#include "cfg.h"

/*
 * Runs the master loop until shutdown; returns the exit status. sfd is
 * the --status-listen socket, or -1; argv is kept for reloads.
 */
int	master_run(const struct cfg *cfg, int *lfd, int nlfd, int sfd,
	    int argc, char **argv);

#endif
