/*
 * agent - HAProxy's agent check (SPEC section 9, --agent-listen), served
 * by the status process next to its HTTP endpoints. HAProxy connects,
 * may send a line (agent-send), reads one line and closes; the line says
 * "ready up N%" with a weight from free capacity, "drain" while the
 * instance drains or stops, "down" in a crash loop.
 */
#ifndef PREFORKD_AGENT_H
#define PREFORKD_AGENT_H

#include <poll.h>
#include <stddef.h>

#include "sb.h"

/* What an answer is made of, read from the scoreboard. */
struct agent_view {
	int		run;		/* enum sb_run */
	int		target;		/* workers wanted */
	int		idle;		/* accepting or keep-alive waiting */
	unsigned	queued;		/* connections in the accept queues */
};

/*
 * The weight in percent: (idle - queued) * 100 / target, rounded down,
 * then held within 1..100 (1 when nothing is free: a weight of 0 would
 * read as a drain).
 */
int	agent_weight(const struct agent_view *v);

/* Formats the answer line ("ready up 75%\n") into buf; returns its length. */
size_t	agent_format(const struct agent_view *v, char *buf, size_t sz);

/* Fills v from the scoreboard (queued is left to the caller). */
void	agent_view_read(const struct sb *sb, struct agent_view *v);

/*
 * Serves the agent listener lfd (made non-blocking here) from the status
 * process's loop; queued() counts the connections waiting in the serving
 * listeners' accept queues.
 */
void	agent_init(int lfd, const struct sb *sb, unsigned (*queued)(void));

/*
 * Appends the agent's descriptors to pfd (room for AGENT_POLLFDS) and
 * lowers *deadline (sb_now_ms() time) to its nearest timeout. Returns the
 * number appended; pass the same entries to agent_events() after poll().
 */
int	agent_pollfds(struct pollfd *pfd, long long *deadline);

/* Answers new connections, advances and expires the open ones. */
void	agent_events(const struct pollfd *pfd, int n);

#endif
