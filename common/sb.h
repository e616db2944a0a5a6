/*
 * sb - the scoreboard: one slot per worker process in shared memory,
 * mapped by the master before the first fork (SPEC section 1). A worker
 * writes only its own slot, with plain stores at state changes (no
 * syscalls, no locks); the master, the status process and other workers
 * only read, and tolerate a torn string. There are twice as many slots as
 * workers, so that a replacement can start before the worker it replaces
 * has left (recycling, reload).
 */
#ifndef PREFORKD_SB_H
#define PREFORKD_SB_H

#include <sys/types.h>

#include "defaults.h"

#define SB_SLOTS	(2 * MAX_WORKERS)

enum sb_state {
	SB_EMPTY = 0, SB_STARTING, SB_ACCEPTING, SB_READING, SB_HANDLING,
	SB_WRITING, SB_KEEPALIVE, SB_CLOSING
};

struct sb_slot {
	volatile pid_t			pid;
	volatile int			id;		/* worker number, 1..N */
	volatile int			gen;
	volatile unsigned char		state;		/* enum sb_state */
	volatile unsigned char		recycle;	/* asks to be replaced */
	volatile long long		started_ms;	/* process start */
	volatile long long		req_start_ms;	/* 0: no request */
	volatile long long		handler_start_ms; /* 0: not in a module handler */
	volatile unsigned long long	requests;
	char				method[12];
	char				path[64];
	char				client[48];
};

struct sb {
	volatile pid_t		master_pid;
	volatile int		generation;
	volatile int		target;		/* workers wanted */
	volatile long long	master_started_ms;
	volatile long long	master_started_unix; /* wall clock, seconds */
	struct sb_slot		slot[SB_SLOTS];
	/* The keeper's counters (it alone writes them). */
	volatile unsigned long long keeper_parked;	/* now */
	volatile unsigned long long keeper_handed;	/* to workers, total */
	volatile unsigned long long keeper_closed_idle;	/* idle timeouts */
	volatile pid_t		keeper_pid;	/* 0 while there is none */
};

/* Maps a zeroed scoreboard shared with future children, or NULL. */
struct sb	*sb_create(void);
/* Number of workers blocked in accept() right now. */
int		 sb_accepting(const struct sb *sb);
const char	*sb_state_name(enum sb_state s);
/* Monotonic milliseconds, the scoreboard's clock. */
long long	 sb_now_ms(void);
/* Copies s (n bytes) into a fixed field of size sz, truncated, NUL-ended. */
void		 sb_copy(char *field, size_t sz, const char *s, size_t n);

#endif
