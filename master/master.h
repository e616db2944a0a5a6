/*
 * master - the supervising process: spawns, reaps and replaces workers,
 * reloads, and turns signals into shutdown.
 */
#ifndef PREFORKD_MASTER_H
#define PREFORKD_MASTER_H

#include <sys/types.h>
#include <stdbool.h>

#include "cfg.h"

struct pidfh;

struct master_args {
	const struct cfg	*cfg;
	int			*lfd;		/* the bound listeners */
	int			 nlfd;
	int			 sfd;		/* --status-listen, or -1 */
	int			 argc;		/* kept for reloads */
	char			**argv;
	int			 ready_fd;	/* -D: say "ok" here once ready */
	struct pidfh		*pfh;		/* --pid-file, or NULL */
	const char		*self;		/* our binary, for USR2 */
	pid_t			 old_master;	/* the master we upgrade, or 0 */
	bool			 drop;		/* workers setuid to uid/gid */
	uid_t			 uid;
	gid_t			 gid;
	int			 afd;		/* --agent-listen, or -1 */
};

/* Runs the master loop until shutdown; returns the exit status. */
int	master_run(const struct master_args *a);

#endif
