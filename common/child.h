/*
 * child - what every child of the master does after fork, whatever it is
 * (a worker, the keeper, the status process): replace the master's signal
 * set-up with its own, and give up root for the user of -u.
 */
#ifndef PREFORKD_CHILD_H
#define PREFORKD_CHILD_H

#include <sys/types.h>
#include <signal.h>
#include <stdbool.h>

/* A worker tells the master to look at the scoreboard (ready, recycling). */
#define MASTER_SIG_SB	(SIGRTMIN + 1)

/* Children setuid/setgid to uid/gid after fork when drop is set; the
 * master says so once, before it forks any. */
void	child_set_user(bool drop, uid_t uid, gid_t gid);

/* Does it in the calling child. Returns 0 or -1 (logged). */
int	child_drop_privileges(void);

/*
 * After fork: the master's handlers and mask must not survive. TERM and
 * INT kill at once; QUIT goes to quit, USR1 to usr1, HUP to hup (NULL:
 * ignored); the other signals the master uses for itself are ignored or
 * default. No SA_RESTART: QUIT must interrupt a blocking accept or read.
 */
void	child_signals_init(void (*quit)(int), void (*usr1)(int),
	    void (*hup)(int));

#endif
