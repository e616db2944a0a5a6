/*
 * conn - one client connection and its keep-alive loop (Go's conn.serve):
 * read a head under the header deadline, run the handler, finish the
 * response, decide reuse, wait idle, reset. The socket's reads, writes
 * and teardown are in io.c, below the handlers and the response writer.
 */
#ifndef PREFORKD_CONN_H
#define PREFORKD_CONN_H

#include <sys/socket.h>

#include "io.h"

/* Allocates the per-worker buffers once. Returns 0 or -1. */
int	conn_init(struct conn *c, const struct cfg *cfg, const int *lfd,
	    int nlfd);
/*
 * Serves the accepted socket fd until it is closed. proxy: it came in
 * on a ,proxy listener (a PROXY header first, from a trusted peer).
 */
void	conn_serve(struct conn *c, int fd, const struct sockaddr *peer,
	    socklen_t peerlen, bool proxy);

/*
 * Takes one connection the keeper handed over on c->qfd and serves it
 * like an accepted one, with the bytes, request count and header deadline
 * that came with it. Returns 0, or -1 with errno (EAGAIN: none there;
 * EPIPE: nobody holds the keeper's end any more).
 */
int	conn_take(struct conn *c);

#endif
