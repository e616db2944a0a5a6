/*
 * trust - what a request says about its client, believed only from a
 * --trusted-proxy peer (SPEC 9): Forwarded (RFC 7239) or X-Forwarded-For
 * for the address, Forwarded proto= or X-Forwarded-Proto for the scheme.
 * Pure: no I/O, no state.
 */
#ifndef PREFORKD_TRUST_H
#define PREFORKD_TRUST_H

#include <sys/socket.h>
#include <stdbool.h>

#include "cfg.h"
#include "http.h"

/*
 * Parses one forwarded address: "192.0.2.1", "2001:db8::1", "[2001:db8::1]",
 * with ":port" after an IPv4 or bracketed one, and the quotes of a
 * Forwarded value. Returns 0 and fills *sa, or -1 ("unknown", "_hidden",
 * garbage).
 */
int	trust_parse_addr(const char *s, size_t n, struct sockaddr_storage *sa);

/*
 * Applies q's forwarded fields, for a request from a trusted peer. The
 * address: walking the hops right to left (Forwarded for= when that field
 * is there, else X-Forwarded-For), the first one that is not itself
 * trusted; all trusted: the leftmost; a hop that does not parse ends the
 * walk at the one before it. *addr is left alone when no hop parses.
 * *https: the scheme of the hop chosen (Forwarded proto=), else the last
 * X-Forwarded-Proto value; unchanged when neither says http or https.
 */
void	trust_forwarded(const struct cfg *c, const struct http_req *q,
	    struct sockaddr_storage *addr, bool *https);

#endif
