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

/* Request counters: by method (GET, HEAD, POST, PUT, DELETE, OPTIONS,
 * PATCH, other) and status class (1xx..5xx); the duration histogram's
 * upper bounds in microseconds (the last bucket is +Inf). */
#define SB_METHODS	8
#define SB_CLASSES	5
#define SB_BUCKETS	12
#define SB_BUCKET_BOUNDS_US { 1000, 5000, 10000, 25000, 50000, 100000, \
	250000, 500000, 1000000, 2500000, 10000000 }
#define SB_SIGNALS	65	/* crashes counted by signal number */

enum sb_state {
	SB_EMPTY = 0, SB_STARTING, SB_ACCEPTING, SB_READING, SB_HANDLING,
	SB_WRITING, SB_KEEPALIVE, SB_CLOSING
};

/*
 * What is served, counted by a worker in its own slot with plain stores;
 * the master adds a slot's counters into the instance's total when its
 * worker exits (sb_fold), so the sum never goes backwards.
 */
struct sb_ctr {
	unsigned long long	req[SB_METHODS][SB_CLASSES];
	unsigned long long	dur[SB_BUCKETS];	/* per bucket, not cumulative */
	unsigned long long	dur_us;			/* sum of durations */
	unsigned long long	bytes;			/* response body bytes */
	unsigned long long	conns;			/* connections accepted */
	unsigned long long	fair_closes;		/* keep-alive given up */
};

/* What the instance is doing, as health checks see it (master writes). */
enum sb_run {
	SB_RUN_SERVING = 0, SB_RUN_DRAINING, SB_RUN_STOPPING, SB_RUN_UPGRADING,
	SB_RUN_CRASHLOOP
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
	volatile struct sb_ctr		ctr;
};

struct sb {
	volatile pid_t		master_pid;
	volatile int		generation;
	volatile int		target;		/* workers wanted */
	volatile long long	master_started_ms;
	volatile long long	master_started_unix; /* wall clock, seconds */
	struct sb_slot		slot[SB_SLOTS];
	volatile int		run;		/* enum sb_run */
	/* Odd while the master folds a slot into total: a reader retries. */
	volatile unsigned	fold_seq;
	volatile struct sb_ctr	total;		/* of the workers gone */
	/* Written by the master only. */
	volatile unsigned long long crashes[SB_SIGNALS]; /* by signal */
	volatile unsigned long long timeouts;	/* handler --timeout */
	volatile unsigned long long respawns;	/* unasked-for deaths replaced */
	volatile unsigned long long recycles;	/* --max-requests */
	volatile unsigned long long reloads;	/* HUP, completed */
	volatile unsigned long long reload_failures;
	/* The keeper's counters (it alone writes them). */
	volatile unsigned long long keeper_parked;	/* now */
	volatile unsigned long long keeper_handed;	/* to workers, total */
	volatile unsigned long long keeper_closed_idle;	/* idle timeouts */
	volatile pid_t		keeper_pid;	/* 0 while there is none */
	/* Set by the master when a stop closes the listeners (not when an
	 * upgrade's new master keeps them): draining workers then wait out
	 * the last handshakes (worker.c, STOP_QUIET_MS). */
	volatile int		listeners_closing;
	/*
	 * The ready queue (keeper to workers). Every hand-off the keeper
	 * sends carries the next number after keeper_handed, which it
	 * stores once the send succeeded; a worker that takes one raises
	 * ready_taken to its number (an atomic maximum: the only field a
	 * worker writes outside its slot). The queue is FIFO, so its
	 * length is the difference (sb_ready): no syscall to read, and it
	 * heals by itself at the next hand-off taken after a process died
	 * between a send or receive and its store.
	 */
	volatile unsigned long long ready_taken;
	volatile unsigned long long handed_to_keeper; /* workers, atomic add */
	/* Parked now, by what the connection waits for (the keeper). */
	volatile unsigned long long keeper_parked_idle;	  /* the next request */
	volatile unsigned long long keeper_parked_head;	  /* the rest of one */
	volatile unsigned long long keeper_parked_linger; /* a close's EOF */
	volatile unsigned long long keeper_parked_sending; /* a slow reader */
	/* Slots ever given to a worker: 0..slots_used-1 (the master raises
	 * it before the fork), so a scan of the slots stops there. */
	volatile int		slots_used;
};

/* Maps a zeroed scoreboard shared with future children, or NULL. */
struct sb	*sb_create(void);
/* Number of workers blocked in accept() right now. */
int		 sb_accepting(const struct sb *sb);
const char	*sb_state_name(enum sb_state s);
/* "serving", "draining", "stopping", "upgrading", "crash loop". */
const char	*sb_run_name(int run);
/* Monotonic milliseconds, the scoreboard's clock. */
long long	 sb_now_ms(void);
/* Copies s (n bytes) into a fixed field of size sz, truncated, NUL-ended. */
void		 sb_copy(char *field, size_t sz, const char *s, size_t n);
/* Counts one finished request in a worker's own slot (no syscall). */
void		 sb_count(struct sb_slot *s, int method, int status,
		    long long us, long long bytes);
/* Master: adds slot s's counters into the total and zeroes them. */
void		 sb_fold(struct sb *sb, struct sb_slot *s);
/* The total plus every live slot, consistent with the folds. */
void		 sb_sum(const struct sb *sb, struct sb_ctr *out);
/* Connections in the ready queue now (no syscall; see ready_taken). */
unsigned long long sb_ready(const struct sb *sb);
/* Worker: it took the hand-off numbered seq from the ready queue. */
void		 sb_taken(struct sb *sb, unsigned long long seq);
/* Worker: it parked a connection with the keeper. */
void		 sb_parked(struct sb *sb);

#endif
