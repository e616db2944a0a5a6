/*
 * self - what a worker process knows of itself, below the connection
 * code: the flags its signals set (stop, drain, reopen the logs), its
 * scoreboard and slot, and the request quota after which it asks to be
 * recycled. worker.c (the process) sets them; conn.c and what it calls
 * read them.
 */
#ifndef PREFORKD_SELF_H
#define PREFORKD_SELF_H

#include <signal.h>

#include "cfg.h"
#include "sb.h"

/* Set by SIGQUIT (server stops) or SIGHUP (this worker is replaced):
 * finish the current request, then exit. */
extern volatile sig_atomic_t worker_stop;
/* Set by SIGQUIT only: the server stops (the keeper too). Without it a
 * stopping worker is retiring and the server goes on. */
extern volatile sig_atomic_t worker_drain;
/* Set by SIGUSR1: reopen the logs between requests. */
extern volatile sig_atomic_t worker_reopen;

/* Requests after which this worker asks to be recycled (0: never). */
extern unsigned long long worker_quota;

/* This worker's scoreboard and its own slot. */
extern struct sb	*worker_sb;
extern struct sb_slot	*worker_slot;

/*
 * After fork: the config the logs are reopened with, and the signal that
 * tells the master to look at the scoreboard.
 */
void	worker_self_init(const struct cfg *cfg, int master_sig);
/* Reopens the logs if USR1 asked for it; called between requests. */
void	worker_check_reopen(void);
/* After a request: at the quota, marks the slot for recycling and tells
 * the master (once). */
void	worker_check_quota(void);

#endif
