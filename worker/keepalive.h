/*
 * keepalive - whether a connection outlives its response: decided once,
 * by keepalive_decide(), which the response writer calls as it finishes
 * the head (the Connection field says what was decided).
 */
#ifndef PREFORKD_KEEPALIVE_H
#define PREFORKD_KEEPALIVE_H

#include <stdbool.h>

#include "io.h"

/*
 * Settles c->close (and c->yield: parked with the keeper after this
 * response) for the response whose head is being finished: the request
 * (HTTP/1.0 without keep-alive, Connection: close, an upgrade), the
 * configuration (--keepalive-requests, an idle timeout of 0), the load
 * balancer's view (draining), this worker's life (stopping, retiring,
 * recycling), fairness (a client waits for this worker) and the body
 * left unread (Expect: 100-continue not answered, too much to drain). A
 * close set before (a 400, a close-delimited body, a body that could not
 * be read) stays.
 */
void	keepalive_decide(struct conn *c);

/*
 * Fairness (SPEC 5): whether this connection, its slice over, gives its
 * worker up to a client waiting in the accept queue or the keeper queue.
 * Counts a fair close when it does.
 */
bool	keepalive_yield(struct conn *c);

/* Whether the request has a body that is not all read yet. */
bool	conn_body_pending(const struct conn *c);

#endif
