/*
 * health - see health.h. Both halves cost no syscall: the master's state
 * is one load from the scoreboard, the counters plain stores into the
 * worker's own slot (the monotonic clock is read through the vDSO).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "health.h"
#include "resp.h"
#include "self.h"

bool
health_match(const struct conn *c, const char *path, size_t len)
{
	const char *hp = c->cfg->health_path;

	return hp[0] != '\0' && strlen(hp) == len && memcmp(hp, path, len) == 0;
}

int
health_handle(struct conn *c)
{
	int run = worker_sb != NULL ? worker_sb->run : SB_RUN_SERVING;
	/* The instance's state, not this worker's: one retiring in a
	 * reload or recycling still belongs to a serving instance. */
	bool ok = run == SB_RUN_SERVING;
	char body[64];
	int n;

	n = snprintf(body, sizeof(body), "%s\n", ok ? "ok" : sb_run_name(run));
	resp_begin(c, ok ? 200 : 503);
	resp_add(c, "Content-Type", "text/plain; charset=utf-8", 25);
	resp_add(c, "Cache-Control", "no-store", 8);
	return resp_send(c, n, body, (size_t)n);
}

/* The slot's method index (see SB_METHODS). */
static int
method_index(const struct conn *c)
{
	if (!c->have_req)
		return SB_METHODS - 1;
	switch (c->rd.req.method) {
	case HTTP_GET:		return 0;
	case HTTP_HEAD:		return 1;
	case HTTP_POST:		return 2;
	case HTTP_PUT:		return 3;
	case HTTP_DELETE:	return 4;
	case HTTP_OPTIONS:	return 5;
	case HTTP_PATCH:	return 6;
	default:		return SB_METHODS - 1;
	}
}

void
health_count(const struct conn *c)
{
	struct timespec now;
	long long us;

	if (worker_slot == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (now.tv_sec - c->t0.tv_sec) * 1000000LL +
	    (now.tv_nsec - c->t0.tv_nsec) / 1000;
	sb_count(worker_slot, method_index(c), c->status, us, c->sent);
}
