/*
 * sb - the scoreboard: one slot per worker in shared memory, mapped by the
 * master before the first fork. A worker writes only its own slot, with
 * plain stores at state changes (no syscalls, no locks); the master and
 * other workers only read. SPEC section 1 lists what a slot holds; this
 * is the part the core needs (supervision adds the rest).
 */
#ifndef PREFORKD_SB_H
#define PREFORKD_SB_H

#include <sys/types.h>

#include "defaults.h"

enum sb_state {
	SB_EMPTY = 0, SB_STARTING, SB_ACCEPTING, SB_READING, SB_HANDLING,
	SB_WRITING, SB_KEEPALIVE, SB_CLOSING
};

struct sb_slot {
	volatile pid_t			pid;
	volatile int			gen;
	volatile unsigned char		state;
	volatile unsigned long long	requests;
};

struct sb {
	struct sb_slot	slot[MAX_WORKERS];
};

/* Maps a zeroed scoreboard shared with future children, or NULL. */
struct sb	*sb_create(void);
/* Number of workers blocked in accept() right now. */
int		 sb_accepting(const struct sb *sb);
const char	*sb_state_name(enum sb_state s);

#endif
