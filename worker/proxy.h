/*
 * proxy - the PROXY protocol header (v1 text, v2 binary) that a load
 * balancer sends before the client's first byte (SPEC 9). A pure parser:
 * the caller reads, this only judges the bytes so far.
 */
#ifndef PREFORKD_PROXY_H
#define PREFORKD_PROXY_H

#include <sys/socket.h>
#include <stddef.h>

#define PROXY_AGAIN	0	/* a valid start: more bytes needed */
#define PROXY_BAD	(-1)	/* not a PROXY header, or a broken one */

/*
 * Judges the len bytes at buf. Returns the header's length (> 0) and
 * fills *src with the source it carries (ss_family AF_UNSPEC for v2 LOCAL,
 * v1 UNKNOWN and v2 UNSPEC: the socket peer is the client then; AF_UNIX
 * with no path for a v2 unix source), PROXY_AGAIN, or PROXY_BAD. Bytes
 * after the header are not looked at.
 */
int	proxy_parse(const void *buf, size_t len, struct sockaddr_storage *src);

#endif
