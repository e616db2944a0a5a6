/*
 * whois - a test-only module that answers with who the client is, as the
 * API presents it (SPEC 9), one "key: value" per line:
 *   client: ADDR PORT   pfd_client_addr, pfd_client_port (the effective
 *                       client: PROXY source or trusted forwarding)
 *   peer: ADDR          pfd_peer_addr (the socket peer)
 *   scheme: http|https  pfd_scheme
 */
#include <stdio.h>

#include <preforkd.h>

static int
whois_handle(struct pfd_req *req, void *state)
{
	char buf[512];
	int n;

	(void)state;
	n = snprintf(buf, sizeof(buf), "client: %s %d\npeer: %s\nscheme: %s\n",
	    pfd_client_addr(req), pfd_client_port(req), pfd_peer_addr(req),
	    pfd_scheme(req));
	if (n < 0 || (size_t)n >= sizeof(buf))
		return 500;
	pfd_add_header(req, "Content-Type", "text/plain");
	return pfd_send(req, buf, (size_t)n);
}

PREFORKD_MODULE(.name = "whois", .handle = whois_handle);
