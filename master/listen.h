/*
 * listen - binding the listening sockets (master only, before fork).
 */
#ifndef PREFORKD_LISTEN_H
#define PREFORKD_LISTEN_H

#include <stddef.h>

#include "cfg.h"

/*
 * Binds and listens on l with the socket options every accepted TCP
 * socket inherits: SO_RCVTIMEO (idle timeout), SO_SNDTIMEO (write timeout)
 * and TCP_NODELAY. AF_UNIX sockets inherit none: the worker sets them.
 * Returns the descriptor (close-on-exec), or -1 with a one-line reason in
 * err and *exitcode set to a sysexits code.
 */
int	listen_open(const struct cfg *c, const struct cfg_listen *l, char *err,
	    size_t errlen, int *exitcode);
/*
 * Takes over an inherited listening socket (systemd socket activation):
 * returns the one of fds[0..n) bound to l's address, with our socket
 * options applied, and marks it used (fds[i] = -1); -1 when none is.
 */
int	listen_adopt(const struct cfg *c, const struct cfg_listen *l, int *fds,
	    int n);

/*
 * Applies c's backlog and socket timeouts to a listener that a reload
 * keeps (new connections inherit them). Returns 0 or -1 (listen failed).
 */
int	listen_apply(const struct cfg *c, int fd);

/* Removes the socket file of a unix listener (at exit). */
void	listen_unlink(const struct cfg_listen *l);

#endif
