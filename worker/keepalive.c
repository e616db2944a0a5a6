/*
 * keepalive - the reuse decision for a connection (keepalive.h), made
 * once per response, below the response writer that says it.
 */
#include <poll.h>

#include "keepalive.h"
#include "self.h"

/*
 * A worker is held only while it is fair (SPEC 5): once this connection
 * has had its slice, if no worker is idle and a client waits in the
 * accept queue or a parked one in the keeper queue, this connection gives
 * its worker up. Costs no syscall inside a slice; after it, none when
 * the ready queue's counter says a connection waits, else one poll() of
 * the listeners (an accept queue's length is not in the scoreboard).
 */
bool
keepalive_yield(struct conn *c)
{
	struct pollfd pfd[MAX_LISTENERS + 1];
	nfds_t n = (nfds_t)c->nlfd;
	long long now = io_now_us();

	if (now - c->slice_start < FAIR_SLICE_US)
		return false;
	c->slice_start = now;
	if (worker_sb == NULL || sb_accepting(worker_sb) > 0)
		return false;
	if (c->qfd != -1 && sb_ready(worker_sb) > 0) {
		worker_slot->ctr.fair_closes++;
		return true;
	}
	for (int i = 0; i < c->nlfd; i++) {
		pfd[i].fd = c->lfd[i];
		pfd[i].events = POLLIN;
		pfd[i].revents = 0;
	}
	if (c->qfd != -1) {
		pfd[n].fd = c->qfd;
		pfd[n++].events = POLLIN;
	}
	if (poll(pfd, n, 0) <= 0)
		return false;
	worker_slot->ctr.fair_closes++;		/* it is parked after this */
	return true;
}

bool
conn_body_pending(const struct conn *c)
{
	const struct http_req *q = &c->rd.req;

	return (q->chunked || q->content_length > 0) && !c->rd.done;
}

/*
 * Whether a stopping worker's last response closes its connection: when
 * the server stops (QUIT), when the worker recycles (SPEC: its last
 * response says Connection: close), and when there is no keeper to take
 * the connection. A worker retired by a reload or TTOU hands it on.
 */
static bool
last_response_closes(const struct conn *c)
{
	return worker_drain || worker_slot->recycle || c->qfd == -1;
}

/* The instance is draining (--drain-delay): the load balancer is told by
 * the health check (health.c), and every response says Connection: close. */
static bool
lb_draining(void)
{
	return worker_sb != NULL && worker_sb->run == SB_RUN_DRAINING;
}

/*
 * This worker has served its --max-requests quota (this request
 * included): it is to be recycled, and every response from now on says
 * Connection: close, so that its last one does whenever the master's
 * turn comes (SPEC 4), not only when that turn lands mid-request.
 */
static bool
past_quota(void)
{
	return worker_quota != 0 && worker_slot->requests >= worker_quota;
}

/* What the request and the configuration say: idle-timeout 0 is no
 * keep-alive. */
static bool
request_closes(const struct conn *c)
{
	const struct http_req *q = &c->rd.req;

	return !q->keep_alive || q->upgrade || lb_draining() || past_quota() ||
	    c->nreq >= (unsigned long long)c->cfg->keepalive_requests ||
	    c->cfg->idle_timeout_ms == 0;
}

void
keepalive_decide(struct conn *c)
{
	const struct http_req *q = &c->rd.req;

	if (c->have_req && request_closes(c))
		c->close = true;
	if (worker_stop && !c->close) {
		/* Retiring for a reload or TTOU: the connection goes on with
		 * another worker through the keeper, as at a slice's end. */
		if (last_response_closes(c))
			c->close = true;
		else
			c->yield = true;
	} else if (!c->close && keepalive_yield(c)) {
		/* A client waits for this worker: this connection goes to
		 * the keeper after the response (closed if there is none). */
		if (c->qfd != -1)
			c->yield = true;
		else
			c->close = true;
	}
	if (!c->have_req || !conn_body_pending(c))
		return;
	if (q->expect_continue && !c->sent_100)
		c->close = true;	/* the client may never send it */
	else if (q->chunked ? !http_body_buffered(&c->rd) :
	    q->content_length - c->rd.body_read > DRAIN_BODY_MAX)
		c->close = true;	/* a chunked rest of unknown size */
}
