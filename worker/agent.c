/*
 * agent - HAProxy's agent check on --agent-listen, inside the status
 * process. Each connection: accept -> answer at once with one line from
 * the scoreboard -> half-close -> read and drop what the client sends
 * (its agent-send line) until it closes, so that our close never turns
 * into a reset -> close. Everything is non-blocking and bounded: at most
 * AGENT_CONNS connections, each for at most AGENT_LINGER_MS, the oldest
 * closed first when a new one needs room. A client that never reads
 * costs one slot until its deadline; it never holds the loop, so the
 * status pages and the other agent clients go on.
 */
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"

struct aconn {
	int		fd;		/* -1: free */
	long long	deadline;	/* sb_now_ms() */
	bool		sent;		/* the line is out and we half-closed */
	size_t		off, len;	/* of line */
	size_t		got;		/* bytes read from the client */
	char		line[32];
};

static int		 alfd = -1;
static const struct sb	*asb;
static unsigned		(*aqueued)(void);
static struct aconn	 conns[AGENT_CONNS];
/* Which conns[] the entries after the listener stand for, in order. */
static int		 polled[AGENT_CONNS];
static int		 npolled;
static bool		 listener_polled;

int
agent_weight(const struct agent_view *v)
{
	long long free = (long long)v->idle - (long long)v->queued;
	long long pct;

	if (v->target <= 0 || free <= 0)
		return 1;
	pct = free * 100 / v->target;
	return pct < 1 ? 1 : pct > 100 ? 100 : (int)pct;
}

size_t
agent_format(const struct agent_view *v, char *buf, size_t sz)
{
	int n;

	switch (v->run) {
	case SB_RUN_DRAINING:
	case SB_RUN_STOPPING:
		n = snprintf(buf, sz, "drain\n");
		break;
	case SB_RUN_CRASHLOOP:
		n = snprintf(buf, sz, "down\n");
		break;
	default:
		/* Serving, or upgrading: the new master takes over these
		 * same sockets, so the address goes on serving. "ready"
		 * lifts a drain that an earlier answer set. */
		n = snprintf(buf, sz, "ready up %d%%\n", agent_weight(v));
		break;
	}
	return n < 0 ? 0 : (size_t)n >= sz ? sz - 1 : (size_t)n;
}

void
agent_view_read(const struct sb *sb, struct agent_view *v)
{
	int gen = sb->generation;

	v->run = sb->run;
	v->target = sb->target;
	v->idle = 0;
	v->queued = 0;
	for (int i = 0; i < SB_SLOTS; i++) {
		const struct sb_slot *s = &sb->slot[i];
		unsigned char st = s->state;

		/* A retiring generation's workers take no new clients. */
		if (s->gen == gen && (st == SB_ACCEPTING || st == SB_KEEPALIVE))
			v->idle++;
	}
	if (v->idle > v->target)
		v->idle = v->target;
}

void
agent_init(int lfd, const struct sb *sb, unsigned (*queued)(void))
{
	int fl;

	alfd = lfd;
	asb = sb;
	aqueued = queued;
	for (int i = 0; i < AGENT_CONNS; i++)
		conns[i].fd = -1;
	/* accept4() until EAGAIN, without the listener's receive timeout. */
	if ((fl = fcntl(lfd, F_GETFL)) != -1)
		(void)fcntl(lfd, F_SETFL, fl | O_NONBLOCK);
}

static void
aconn_close(struct aconn *c)
{
	close(c->fd);
	c->fd = -1;
}

/* Sends what is left of the line; then half-closes. -1: give up. */
static int
aconn_send(struct aconn *c)
{
	while (c->off < c->len) {
		ssize_t n = send(c->fd, c->line + c->off, c->len - c->off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0)
			c->off += (size_t)n;
		else if (n == -1 && errno == EINTR)
			continue;
		else if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		else
			return -1;
	}
	(void)shutdown(c->fd, SHUT_WR);
	c->sent = true;
	return 0;
}

/* Reads and drops what the client sends; -1 once it is done or too much. */
static int
aconn_drain(struct aconn *c)
{
	char junk[512];

	for (;;) {
		ssize_t n = read(c->fd, junk, sizeof(junk));

		if (n > 0) {
			c->got += (size_t)n;
			if (c->got > AGENT_READ_MAX)
				return -1;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return -1;		/* EOF or an error: nothing more */
	}
}

/* A free slot; when there is none, the oldest connection makes room. */
static struct aconn *
aconn_slot(void)
{
	struct aconn *oldest = &conns[0];

	for (int i = 0; i < AGENT_CONNS; i++) {
		if (conns[i].fd == -1)
			return &conns[i];
		if (conns[i].deadline < oldest->deadline)
			oldest = &conns[i];
	}
	aconn_close(oldest);
	return oldest;
}

/* Takes what waits on the listener, one answer each. */
static void
accept_all(void)
{
	struct agent_view v;

	for (int k = 0; k < AGENT_CONNS; k++) {
		int fd = accept4(alfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct aconn *c;

		if (fd == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED &&
			    errno != EPROTO)
				log_warn("accept4() on the agent listener failed");
			return;
		}
		c = aconn_slot();
		agent_view_read(asb, &v);
		/* The queues matter only when no worker is free. */
		if (v.idle < v.target && aqueued != NULL)
			v.queued = aqueued();
		c->fd = fd;
		c->deadline = sb_now_ms() + AGENT_LINGER_MS;
		c->sent = false;
		c->off = c->got = 0;
		c->len = agent_format(&v, c->line, sizeof(c->line));
		if (aconn_send(c) == -1)
			aconn_close(c);
	}
}

int
agent_pollfds(struct pollfd *pfd, long long *deadline)
{
	int n = 0;

	npolled = 0;
	listener_polled = alfd != -1;
	if (alfd == -1)
		return 0;
	pfd[n].fd = alfd;
	pfd[n].events = POLLIN;
	pfd[n++].revents = 0;
	for (int i = 0; i < AGENT_CONNS; i++) {
		if (conns[i].fd == -1)
			continue;
		pfd[n].fd = conns[i].fd;
		pfd[n].events = conns[i].sent ? POLLIN : POLLOUT;
		pfd[n++].revents = 0;
		polled[npolled++] = i;
		if (conns[i].deadline < *deadline)
			*deadline = conns[i].deadline;
	}
	return n;
}

void
agent_events(const struct pollfd *pfd, int n)
{
	long long now = sb_now_ms();

	if (!listener_polled || n < 1)
		return;
	for (int k = 0; k < npolled && 1 + k < n; k++) {
		struct aconn *c = &conns[polled[k]];
		short re = pfd[1 + k].revents;
		int rc = 0;

		if (c->fd != pfd[1 + k].fd)
			continue;	/* (cannot happen: nothing moved) */
		if (re != 0)
			rc = c->sent ? aconn_drain(c) : aconn_send(c);
		if (re & POLLNVAL)
			rc = -1;
		if (rc == -1 || c->deadline <= now)
			aconn_close(c);
	}
	npolled = 0;
	if (pfd[0].revents != 0)
		accept_all();
	listener_polled = false;
}
