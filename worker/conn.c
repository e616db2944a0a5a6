/*
 * conn - the per-connection loop. Waits for input are poll() against a
 * deadline on CLOCK_MONOTONIC: the header deadline for a head, the body
 * timeout between body reads, and the idle timeout between requests,
 * where the listeners are watched too so that a waiting client can take
 * the worker over (fair keep-alive, SPEC 5). The first fairness slice of
 * an idle wait is a plain blocking read bounded by SO_RCVTIMEO (then a
 * poll() up to 250 ms, see fast_wait()), and writes are
 * bounded by SO_SNDTIMEO (the write timeout): accepted TCP sockets
 * inherit both from the listener, the worker sets them on AF_UNIX ones.
 * The hot path of a kept-alive request is one read and one writev. A
 * connection idle past that first stretch is parked with the keeper
 * (SPEC 1), and so is a new one whose first head is still arriving a
 * moment after accept (fill_or_park): the worker is free for another one
 * at once.
 */
#include <sys/socket.h>
#include <sys/uio.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alog.h"
#include "api.h"
#include "conn.h"
#include "crash.h"
#include "health.h"
#include "handoff.h"
#include "keepalive.h"
#include "log.h"
#include "proxy.h"
#include "resp.h"
#include "self.h"
#include "static.h"
#include "trust.h"

int
conn_init(struct conn *c, const struct cfg *cfg, const int *lfd, int nlfd)
{
	/* A head, the small body the keeper may hand over with it
	 * (--buffer-body), and a read's worth beyond. */
	size_t cap = (size_t)cfg->max_header_size + (size_t)cfg->buffer_body +
	    IO_BUF_SIZE;
	char *buf;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->qfd = -1;
	c->send_fd = -1;
	c->cfg = cfg;
	c->lfd = lfd;
	c->nlfd = nlfd;
	c->hcap = resp_head_size(cfg);
	if ((buf = malloc(cap)) == NULL || (c->head = malloc(c->hcap)) == NULL) {
		free(buf);
		return -1;
	}
	http_reader_init(&c->rd, buf, cap, (size_t)cfg->max_header_size,
	    cfg->max_body_size);
	return 0;
}

/* Whether a connection waits in the ready queue while no worker is free:
 * two loads from the scoreboard, no syscall (sb_ready). */
static bool
others_ready(const struct conn *c)
{
	return c->qfd != -1 && worker_sb != NULL && sb_ready(worker_sb) > 0 &&
	    sb_accepting(worker_sb) == 0;
}

/* The connection's state for the keeper, as a kind of hand-off. */
static void
park_fill(struct conn *c, struct handoff *h, enum handoff_kind kind)
{
	memset(h, 0, sizeof(*h));
	handoff_pack(h, kind, (struct sockaddr *)&c->peer, c->peerlen);
	if (c->proxied) {
		memcpy(&h->client, &c->client, c->clientlen);
		h->clientlen = c->clientlen;
	}
	h->nreq = c->nreq;
	h->header_timeout_ms = c->cfg->header_timeout_ms;
	h->idle_timeout_ms = c->cfg->idle_timeout_ms;
	h->max_head = (uint32_t)c->cfg->max_header_size;
	h->buffer_body = (uint32_t)c->cfg->buffer_body;
	h->body_timeout_ms = c->cfg->body_timeout_ms;
	h->min_body_rate = c->cfg->min_body_rate;
	h->write_timeout_ms = c->cfg->write_timeout_ms;
	h->min_send_rate = c->cfg->min_send_rate;
	h->max_body = c->cfg->max_body_size;
}

/*
 * Parks the connection with the keeper, with the bytes of the next head
 * read so far (they start at buf[0]: http_next() moved them there) and
 * its deadlines, absolute. Returns 0 when the socket is the keeper's
 * (c->handed set: the caller closes our copy), or -1: it is still ours
 * (no queue, the queue is full, stopping), and the caller goes on
 * serving it.
 */
static int
park(struct conn *c, long long idle_deadline, long long head_deadline)
{
	struct handoff h;

	/* A retiring worker (reload, recycling) parks too: the keeper and
	 * the other workers go on. One of a stopping server does not. */
	if (c->qfd == -1 || worker_drain)
		return -1;
	park_fill(c, &h, HANDOFF_PARK);
	h.idle_deadline = idle_deadline;
	h.head_deadline = head_deadline;
	h.len = (uint32_t)c->rd.len;
	if (handoff_send(c->qfd, &h, c->fd, c->rd.buf) == -1)
		return -1;
	if (worker_sb != NULL)
		sb_parked(worker_sb);
	c->handed = true;	/* conn_close(c, CONN_HANDED) closes ours */
	return 0;
}

/*
 * The first stretch of an idle wait (up to the read slice). The hot path
 * of a client that sends back-to-back is one read(), bounded by the
 * socket's SO_RCVTIMEO of one fairness slice (the listeners set it; the
 * kernel rounds it up to a clock tick, 4 ms at HZ=250): no
 * other syscall per request, whoever else is busy. That read is taken
 * only while it pays: when a worker is free (it takes new clients), or
 * when this client's last request came within a slice (c->streak). A
 * client that has not shown it sends back-to-back (a new connection, one
 * that paused) is waited for with a poll() for the read slice, which,
 * while no worker is free, also watches the listeners and the keeper
 * queue: a connection waiting for a worker ends the wait at once, and
 * this client is parked instead (else each new client of a server whose
 * workers all hold quiet clients would wait a tick). A connection already
 * waiting in the ready queue (its counter, no syscall) does the same
 * before the read, unless this client's next request is here already.
 * Returns like conn_read_some(); -1 with ETIMEDOUT when the client stayed quiet
 * or another connection waits.
 */
static ssize_t
fast_wait(struct conn *c)
{
	struct pollfd pfd[2 + MAX_LISTENERS];
	long long deadline, left, start;
	bool busy;
	nfds_t n;
	ssize_t r;
	int rc;

	if (others_ready(c)) {
		size_t room;
		char *p = http_space(&c->rd, &room);

		r = room == 0 ? -1 : recv(c->fd, p, room, MSG_DONTWAIT);
		if (r > 0)
			http_filled(&c->rd, (size_t)r);
		else if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    room == 0))
			errno = ETIMEDOUT;	/* parked: the other one goes */
		return r;
	}
	if (c->streak || c->qfd == -1 || worker_sb == NULL ||
	    sb_accepting(worker_sb) > 0) {
		r = conn_read_some(c);
		if (r >= 0 || errno != ETIMEDOUT)
			return r;
		c->streak = false;
	}
	/* One clock read for the start and the deadline (the same clock). */
	start = io_now_us();
	deadline = start / 1000 + cfg_read_slice_ms(c->cfg);
	for (;;) {
		if ((left = deadline - io_now_ms()) <= 0)
			break;
		busy = c->qfd != -1 && worker_sb != NULL &&
		    sb_accepting(worker_sb) == 0;
		n = 0;
		pfd[n].fd = c->fd;
		pfd[n++].events = POLLIN;
		for (int i = 0; busy && i < c->nlfd; i++) {
			pfd[n].fd = c->lfd[i];
			pfd[n++].events = POLLIN;
		}
		if (busy) {
			pfd[n].fd = c->qfd;
			pfd[n++].events = POLLIN;
		}
		rc = poll(pfd, n, (int)left);
		if (rc == -1 && errno == EINTR && !worker_stop)
			continue;
		if (rc > 0 && pfd[0].revents != 0) {
			c->streak = io_now_us() - start <= FAIR_SLICE_US;
			return conn_read_some(c);
		}
		if (rc >= 0)
			errno = ETIMEDOUT;
		return -1;
	}
	errno = ETIMEDOUT;
	return -1;
}

/*
 * The wait for the next request on a kept-alive connection, up to the
 * idle timeout. It watches the listeners too, so that a client waiting in
 * the accept queue can take this worker (keepalive_yield). When the
 * keeper's queue had no room for it (a burst of hand-offs outran the keeper), it
 * is parked again every PARK_RETRY_MS, and given up for a waiting client
 * only once the queue stayed full for IDLE_YIELD_MS (KEEPER.md 1: a full
 * queue is retried, not a reason to drop the connection). Returns like
 * conn_fill(); -1 when parked, yielding, timing out or stopping (close
 * silently unless c->handed).
 */
static ssize_t
idle_wait(struct conn *c)
{
	struct pollfd pfd[1 + MAX_LISTENERS];
	/* The idle timeout counts from now, on the coarse clock (a few ns,
	 * a clock tick behind the fine one: nothing at a timeout in seconds). */
	long long idle_start = io_coarse_ms(), full_since = 0, left;
	long long deadline = idle_start + c->cfg->idle_timeout_ms;
	int rc;

	pfd[0].fd = c->fd;
	pfd[0].events = POLLIN;
	for (int i = 0; i < c->nlfd; i++) {
		pfd[1 + i].fd = c->lfd[i];
		pfd[1 + i].events = POLLIN;
	}
	worker_slot->state = SB_KEEPALIVE;
	/* Hot path: the next request usually comes within an RTT (see
	 * fast_wait()). A quiet client is parked with the keeper; the watch
	 * below is for when it cannot be (stopping, the queue full). */
	if (!worker_stop) {
		ssize_t n = fast_wait(c);

		if (n >= 0)
			return n;
		if (errno != ETIMEDOUT && errno != EINTR)
			return -1;
	}
	/* Idle past the fast path, or this worker retires: the keeper
	 * waits for the client, not a worker (closing here would race a
	 * request the client may be sending on this connection). If it
	 * cannot, the wait below is ours. */
	if (park(c, deadline, 0) == 0)
		return -1;
	if (c->qfd != -1 && !worker_drain)
		full_since = io_now_ms();	/* the queue was full: retry */
	for (;;) {
		long long limit = deadline, now, nap;

		/* Stopping: a request may be on its way right after our last
		 * response; close only once the client has been quiet for a
		 * moment, and answer what comes before with Connection: close. */
		if (worker_stop && idle_start + IDLE_YIELD_MS < limit)
			limit = idle_start + IDLE_YIELD_MS;
		if ((left = limit - io_now_ms()) <= 0)
			break;
		nap = full_since != 0 && left > PARK_RETRY_MS ? PARK_RETRY_MS :
		    left;
		rc = poll(pfd, (nfds_t)(1 + c->nlfd), (int)nap);
		if (rc == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (rc > 0 && pfd[0].revents != 0)
			return conn_read_some(c);
		if (full_since != 0 && park(c, deadline, 0) == 0)
			return -1;
		if (rc == 0)
			continue;	/* the deadline, or a retry */
		/* A client waits. A connection in active use was told by its
		 * last response (keepalive_decide at the head); closing it now
		 * would race its next request, so only one idle for a while
		 * is let go here, silently. */
		now = io_now_ms();
		if (now - idle_start >= IDLE_YIELD_MS && (full_since == 0 ||
		    now - full_since >= IDLE_YIELD_MS) && keepalive_yield(c))
			return -1;
		rc = poll(pfd, 1, full_since != 0 ? PARK_RETRY_MS :
		    IDLE_YIELD_MS / 4);
		if (rc > 0)
			return conn_read_some(c);
	}
	errno = ETIMEDOUT;
	return -1;
}

/* The request's start (c->t0) on the scoreboard's clock, in ms: the
 * same CLOCK_MONOTONIC as io_now_ms(), without reading it again. */
static long long
t0_ms(const struct conn *c)
{
	return (long long)c->t0.tv_sec * 1000 + c->t0.tv_nsec / 1000000;
}

/*
 * Reads more of a head. A head that stops arriving for a short while is
 * parked with the keeper, its header deadline with it (KEEPER.md 3): a
 * slow client waits there, not in a worker. The while is HEAD_GRACE_MS on
 * a new connection: TCP_DEFER_ACCEPT woke us with its first bytes there,
 * and a head sent at once comes in them or in the same flight, well
 * within it; a slowloris costs a worker only that. On a kept-alive one it
 * is the read slice, as for its idle wait. A new connection that sent
 * nothing (a unix socket, or past the deferral) is parked too, its idle
 * deadline the header one. Returns like conn_fill(); -1 with c->handed when
 * parked.
 */
static ssize_t
fill_or_park(struct conn *c, long long deadline)
{
	long long soon = io_now_ms() + (c->nreq == 0 ? HEAD_GRACE_MS :
	    IDLE_YIELD_MS);
	ssize_t n;

	if (worker_stop || c->qfd == -1 || soon >= deadline)
		return conn_fill(c, deadline);
	n = conn_fill(c, soon);
	if (n == -1 && errno == ETIMEDOUT && park(c, deadline, deadline) == 0)
		return -1;
	if (n == -1 && errno == ETIMEDOUT)
		return conn_fill(c, deadline);
	return n;
}

/*
 * Where the body after a complete head stands, judged on a copy of the
 * reader (nothing is consumed): CHUNK_DONE when it is all here,
 * CHUNK_AGAIN when more must come, or the error status its framing has.
 */
static int
body_framed(const struct conn *c)
{
	struct chunk b = c->rd.b;
	size_t pos = c->rd.pos;

	return chunk_frame(&b, c->rd.buf, c->rd.len, &pos);
}

/*
 * A small body (by Content-Length up to --buffer-body, or chunked) that
 * is not all here HEAD_GRACE_MS after its head is parked with the head:
 * the keeper reads it under the body timeout and --min-body-rate and
 * hands the request back whole, so a slow sender never holds a worker. A
 * chunked body is parked only while less than --buffer-body of it came
 * (beyond, the keeper would hand it straight back). Not with
 * Expect: 100-continue: the client waits for the 100, which the worker
 * sends on its first body read, and a request may be refused without its
 * body (KEEPER.md). The head is at buf[0] (see park()). Returns true when
 * parked; false to serve the request here (it may read the rest itself).
 */
static bool
park_body(struct conn *c)
{
	const struct http_req *q = &c->rd.req;
	size_t limit = (size_t)c->cfg->buffer_body;
	long long soon;

	if (c->qfd == -1 || worker_stop || q->expect_continue ||
	    limit == 0 || (!q->chunked && (q->content_length <= 0 ||
	    q->content_length > (long long)limit)))
		return false;
	soon = io_now_ms() + HEAD_GRACE_MS;	/* a body: read only now */
	while (body_framed(c) == CHUNK_AGAIN) {
		if (q->chunked && c->rd.len - q->head_len >= limit)
			return false;
		if (conn_fill(c, soon) > 0)
			continue;
		if (errno != ETIMEDOUT)
			return false;	/* EOF, an error: found when served */
		return park(c, 0, io_now_ms() + c->cfg->header_timeout_ms) == 0;
	}
	return false;		/* all here, or bad: answered here */
}

/*
 * Reads until a request head is complete. The header deadline is given
 * for the connection's first request (it runs from accept), else 0: it
 * then runs from the request's first byte, and never restarts. The
 * request is timed (t0) from the moment its head starts being parsed.
 * Returns 0 (PARSE_HEAD), -1 to close silently (EOF, idle timeout, I/O
 * error, stopping while idle), or an error status to answer.
 */
static int
read_head(struct conn *c, long long deadline)
{
	ssize_t n;
	int rc;

	if (!http_idle(&c->rd)) {
		/* Pipelined: it began when the previous request ended. */
		clock_gettime(CLOCK_MONOTONIC, &c->t0);
		if (deadline == 0)
			deadline = t0_ms(c) + c->cfg->header_timeout_ms;
	}
	for (;;) {
		rc = http_parse_head(&c->rd);
		if (rc == PARSE_HEAD)
			return 0;
		if (rc != PARSE_AGAIN)
			return rc;
		if (http_idle(&c->rd)) {
			/* While stopping, a new connection is still served (it
			 * was accepted to be answered) and a kept-alive one gets
			 * a short grace in idle_wait(). */
			n = c->nreq == 0 ? fill_or_park(c, deadline) :
			    idle_wait(c);
			if (n <= 0)
				return -1;
			worker_slot->state = SB_READING;
			clock_gettime(CLOCK_MONOTONIC, &c->t0);
			if (deadline == 0)
				deadline = t0_ms(c) + c->cfg->header_timeout_ms;
			continue;
		}
		n = fill_or_park(c, deadline);
		if (n == 0 || c->handed)
			return -1;
		if (n < 0)
			return errno == ETIMEDOUT ? 408 : -1;
	}
}

/*
 * Hands the body set aside by conn_send_file() to the keeper, with the
 * head bytes not sent and, when the connection is kept alive, those read
 * past the request (invariant 2 of KEEPER.md); the keeper parks it idle
 * or closes it when the body is out. Returns 0 when the keeper has it;
 * -1 when it is still ours (the queue full, stopping): the rest was then
 * sent from here, blocking as before.
 */
static int
hand_body(struct conn *c)
{
	struct handoff h;
	size_t unsent = c->hlen - c->send_head, ahead = 0;
	bool keep = !c->close && !c->broken && c->rd.done;
	char *bytes = NULL;
	int rc = -1;

	if (keep)
		ahead = http_pending(&c->rd);
	if (!c->broken && !worker_stop &&
	    (unsent + ahead == 0 || (bytes = malloc(unsent + ahead)) != NULL)) {
		if (unsent > 0)
			memcpy(bytes, c->head + c->send_head, unsent);
		if (ahead > 0)
			memcpy(bytes + unsent, c->rd.buf + c->rd.pos, ahead);
		park_fill(c, &h, HANDOFF_SEND);
		h.len = (uint32_t)(unsent + ahead);
		h.send_head = (uint32_t)unsent;
		h.send_off = (long long)c->send_off;
		h.send_left = (long long)c->send_left;
		h.send_total = c->sent;
		h.send_start = c->send_start;
		h.send_keepalive = keep;
		rc = handoff_send_file(c->qfd, &h, c->fd, c->send_fd, bytes);
		free(bytes);
	}
	if (rc == 0)
		c->handed = true;	/* our copy: conn_close(CONN_HANDED) */
	else if (!c->broken) {
		(void)fcntl(c->fd, F_SETFL, 0);
		if ((unsent == 0 || conn_send_more(c, c->head + c->send_head,
		    unsent) == 0) && c->send_left > 0)
			(void)conn_sendfile(c, c->send_fd, c->send_off,
			    c->send_left);
	}
	close(c->send_fd);
	c->send_fd = -1;
	c->spend = false;
	return rc;
}

/*
 * Reads and drops the rest of the request body, at most DRAIN_BODY_MAX
 * bytes. Returns 0 when the request is complete, -1 when the connection
 * cannot be reused (I/O error, timeout, too much), or an error status
 * (400 bad framing, 413) found in the body.
 */
static int
discard_body(struct conn *c)
{
	const char *p;
	size_t n;
	long long drained = 0;
	int rc;

	worker_slot->state = SB_READING;
	while ((rc = conn_read_body(c, &p, &n)) == PARSE_BODY) {
		drained += (long long)n;
		if (drained > DRAIN_BODY_MAX)
			return -1;
	}
	return rc == PARSE_DONE ? 0 : rc;
}

/* Completes the request after the response so the connection is reusable. */
static void
finish_body(struct conn *c)
{
	const char *p;
	size_t n;

	if (c->broken)
		return;
	if (!conn_body_pending(c)) {
		/* No body: completes the message without I/O. */
		(void)http_parse_body(&c->rd, &p, &n);
		return;
	}
	if (!c->close && discard_body(c) != 0)
		c->close = true;
}

/*
 * The static handler never reads a body, so it is read (and checked)
 * before the response: a bad chunk gets its 400, not a 405 and a reset.
 * A body the client may withhold (Expect: 100-continue) or too big to
 * drain is left unread and the connection closes after the response.
 * Returns 0, or a status to answer instead of running the handler.
 */
static int
skip_body_first(struct conn *c)
{
	const struct http_req *q = &c->rd.req;
	int rc;

	if (!conn_body_pending(c))
		return 0;
	if (q->expect_continue ||
	    (!q->chunked && q->content_length > DRAIN_BODY_MAX))
		return 0;	/* keepalive_decide() will close */
	rc = discard_body(c);
	if (rc == -1) {
		c->close = true;
		return c->broken ? -1 : 0;
	}
	if (rc != 0)
		c->close = true;
	return rc;
}

/* Runs the module mounted at the path's prefix, or the static handler. */
static int
dispatch(struct conn *c)
{
	const struct module *m;
	const char *raw, *query;
	size_t rawlen, qlen;
	int rc;

	if (http_target_split(&c->rd.req, &raw, &rawlen, &query, &qlen) != 0)
		return 400;
	if (health_match(c, raw, rawlen))	/* no handler, no file system */
		return (rc = skip_body_first(c)) != 0 ? rc : health_handle(c);
	if ((m = module_route(raw, rawlen)) != NULL)
		return api_handle(c, m);
	if ((rc = skip_body_first(c)) != 0)
		return rc;
	return static_handle(c);
}

/* raddr as text: the address alone for the logs, with the port for the
 * scoreboard. */
static void
client_text(struct conn *c)
{
	const struct sockaddr *sa = (const struct sockaddr *)&c->raddr;
	char full[sizeof(worker_slot->client) + 8];

	cfg_addr_str(sa, sizeof(c->raddr), full, sizeof(full));
	sb_copy(worker_slot->client, sizeof(worker_slot->client), full,
	    strlen(full));
	if (sa->sa_family == AF_INET) {
		/* "a.b.c.d:port" always fits full: the address is what
		 * comes before the colon. */
		size_t n = (size_t)(strchr(full, ':') - full);

		memcpy(c->raddr_str, full, n);
		c->raddr_str[n] = '\0';
	} else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)
		    (const void *)sa)->sin6_addr, c->raddr_str,
		    sizeof(c->raddr_str));
	else
		strlcpy(c->raddr_str, full, sizeof(c->raddr_str));
}

/* The connection's client is known (peer, PROXY, or a hand-off). */
static void
client_start(struct conn *c)
{
	c->trusted = c->cfg->ntrusted > 0 &&
	    cfg_trusted(c->cfg, (struct sockaddr *)&c->client);
	memcpy(&c->raddr, &c->client, sizeof(c->raddr));
	c->https = false;
	client_text(c);
}

/*
 * Per request: a trusted client's forwarded fields name the real one
 * (trust.h); from anyone else they are ignored, at no cost.
 */
static void
client_request(struct conn *c)
{
	if (!c->trusted)
		return;
	memcpy(&c->raddr, &c->client, sizeof(c->raddr));
	c->https = false;
	if (c->have_req)
		trust_forwarded(c->cfg, &c->rd.req, &c->raddr, &c->https);
	client_text(c);
}

/* Serves one parsed request and settles the connection's future. */
static void
serve_one(struct conn *c)
{
	const struct http_req *q = &c->rd.req;
	int rc;

	c->nreq++;
	worker_slot->requests++;
	sb_copy(worker_slot->method, sizeof(worker_slot->method),
	    http_method_str(q->method), strlen(http_method_str(q->method)));
	sb_copy(worker_slot->path, sizeof(worker_slot->path), q->target,
	    q->target_len);
	worker_slot->req_start_ms = t0_ms(c);
	worker_slot->state = SB_HANDLING;
	crash_request_begin();
	c->have_req = true;
	client_request(c);
	/* Whether the connection outlives the response is decided when its
	 * head is finished (keepalive_decide). */
	if ((rc = dispatch(c)) == 0 && c->hijacked)
		return;
	if (rc > 0 && !c->head_sent && !c->broken) {
		if (rc == 400)
			c->close = true;	/* a confused client: start over */
		resp_error(c, rc);
	}
	finish_body(c);
	worker_check_reopen();
	alog_write(c);
	health_count(c);
	worker_slot->req_start_ms = 0;
	crash_request_end();
	worker_check_quota();
}

/*
 * Per-request state, cleared before each request is read: what the last
 * response decided and sent. The reader (http_next) and the buffers are
 * reused as they are.
 */
static void
conn_reset(struct conn *c)
{
	c->have_req = false;
	c->close = false;
	c->yield = false;
	c->status = 0;
	c->sent = 0;
	c->sent_100 = false;
	c->head_sent = false;
	c->hijacked = c->aborted = false;
	c->body_start = 0;
}

/* Per-connection state: nothing of the last connection carries over
 * (an abort there must not stop this one's lingering close). */
static void
conn_start(struct conn *c, int fd, const struct sockaddr *peer,
    socklen_t peerlen)
{
	conn_reset(c);
	c->fd = fd;
	c->nreq = 0;
	c->broken = false;
	c->handed = false;
	c->streak = false;
	if (peerlen > sizeof(c->peer))
		peerlen = sizeof(c->peer);
	memset(&c->peer, 0, sizeof(c->peer));
	memcpy(&c->peer, peer, peerlen);
	c->peerlen = peerlen;
	memcpy(&c->client, &c->peer, sizeof(c->client));
	c->clientlen = peerlen;
	c->proxied = false;
	cfg_addr_str(peer, peerlen, c->peer_str, sizeof(c->peer_str));
	sb_copy(worker_slot->client, sizeof(worker_slot->client), c->peer_str,
	    strlen(c->peer_str));
	/* Drop the port: the log wants the client's address. */
	if (peer->sa_family != AF_UNIX) {
		char *colon = strrchr(c->peer_str, ':');

		if (colon != NULL)
			*colon = '\0';
		if (c->peer_str[0] == '[') {
			memmove(c->peer_str, c->peer_str + 1, strlen(c->peer_str));
			c->peer_str[strlen(c->peer_str) - 1] = '\0';
		}
	}
	c->slice_start = io_now_us();
}

/* The keep-alive loop, until the connection is closed or parked. */
static void
conn_loop(struct conn *c, long long first_deadline)
{
	int rc;

	for (;;) {
		conn_reset(c);
		rc = read_head(c, first_deadline);
		first_deadline = 0;
		if (rc == -1) {
			/* Stopping: a request may cross our FIN; half-close and
			 * read, so that the client never gets a reset. */
			conn_close(c, c->handed ? CONN_HANDED :
			    worker_stop && c->nreq > 0 ? CONN_STOP : CONN_QUIET);
			return;
		}
		if (rc != 0) {
			c->status = rc;
			c->close = true;
			client_request(c);
			resp_error(c, rc);
			alog_write(c);
			health_count(c);
			conn_close(c, CONN_ERROR);
			return;
		}
		if (park_body(c)) {
			conn_close(c, CONN_HANDED);
			return;
		}
		serve_one(c);
		if (c->spend && hand_body(c) == 0) {
			conn_close(c, CONN_HANDED);	/* it sends the rest */
			return;
		}
		if (c->hijacked)
			return;	/* pfd_hijack closed it for us (conn_close) */
		if (c->close || c->broken) {
			conn_close(c, c->broken ? CONN_BROKEN : CONN_DONE);
			return;
		}
		http_next(&c->rd);
		/* The slice is over and others wait: to the keeper, with any
		 * pipelined bytes (their head's deadline starts now). If it
		 * cannot take it, we serve on. */
		if (c->yield && park(c, io_now_ms() + c->cfg->idle_timeout_ms,
		    http_idle(&c->rd) ? 0 : io_now_ms() +
		    c->cfg->header_timeout_ms) == 0) {
			conn_close(c, CONN_HANDED);
			return;
		}
	}
}

/*
 * A ,proxy listener (SPEC 9): the PROXY header comes before any HTTP,
 * under the connection's header deadline, and only from a trusted peer.
 * Read here, where the connection is first read, before anything could
 * park it: it is never parsed twice, and its source travels with the
 * connection (struct handoff). Returns 0 with the bytes after the header
 * left in the reader, or -1: close without a word (no HTTP was spoken).
 */
static int
proxy_read(struct conn *c, long long deadline)
{
	struct sockaddr_storage src;
	int n;

	if (!cfg_trusted(c->cfg, (struct sockaddr *)&c->peer))
		return -1;
	while ((n = proxy_parse(c->rd.buf, c->rd.len, &src)) == PROXY_AGAIN)
		if (conn_fill(c, deadline) <= 0)
			return -1;
	if (n == PROXY_BAD)
		return -1;
	/* Nothing was parsed yet (the reader is at 0): the request's bytes
	 * move to the front. */
	memmove(c->rd.buf, c->rd.buf + n, c->rd.len - (size_t)n);
	c->rd.len -= (size_t)n;
	if (src.ss_family == AF_INET || src.ss_family == AF_INET6 ||
	    src.ss_family == AF_UNIX) {
		memcpy(&c->client, &src, sizeof(c->client));
		c->clientlen = src.ss_family == AF_INET ?
		    sizeof(struct sockaddr_in) : src.ss_family == AF_INET6 ?
		    sizeof(struct sockaddr_in6) : sizeof(sa_family_t);
		c->proxied = true;
	}
	return 0;
}

void
conn_serve(struct conn *c, int fd, const struct sockaddr *peer,
    socklen_t peerlen, bool proxy)
{
	long long deadline = io_now_ms() + c->cfg->header_timeout_ms;

	conn_start(c, fd, peer, peerlen);
	http_reader_init(&c->rd, c->rd.buf, c->rd.cap, c->rd.max_head,
	    c->rd.max_body);
	worker_slot->ctr.conns++;
	if (proxy && proxy_read(c, deadline) == -1) {
		conn_close(c, CONN_QUIET);
		return;
	}
	client_start(c);
	conn_loop(c, deadline);
}

int
conn_take(struct conn *c)
{
	struct handoff h;
	int fd;

	http_reader_init(&c->rd, c->rd.buf, c->rd.cap, c->rd.max_head,
	    c->rd.max_body);
	if (handoff_recv(c->qfd, &h, &fd, c->rd.buf, c->rd.cap) == -1) {
		if (errno == EPROTO)
			log_warnx("dropped a malformed hand-off from the keeper");
		return -1;
	}
	/* Out of the ready queue: counted before anything else. */
	if (worker_sb != NULL)
		sb_taken(worker_sb, h.seq);
	if (h.kind != HANDOFF_SERVE) {
		log_warnx("dropped a hand-off of kind %u", h.kind);
		close(fd);
		errno = EPROTO;
		return -1;
	}
	conn_start(c, fd, (struct sockaddr *)&h.peer, h.peerlen);
	if (h.clientlen > 0) {
		memcpy(&c->client, &h.client, sizeof(c->client));
		c->clientlen = h.clientlen;
		c->proxied = true;
	}
	client_start(c);
	http_filled(&c->rd, h.len);
	c->nreq = h.nreq;
	conn_loop(c, h.head_deadline);
	return 0;
}
