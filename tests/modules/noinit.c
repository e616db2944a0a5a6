/*
 * noinit - a test-only module whose init refuses to start (returns -1):
 * the server must not start, and must say which module refused.
 */
#include <preforkd.h>

static int
noinit_init(const struct pfd_init *init, void **state)
{
	(void)init;
	(void)state;
	return -1;
}

static int
noinit_handle(struct pfd_req *req, void *state)
{
	(void)req;
	(void)state;
	return 500;
}

PREFORKD_MODULE(.name = "noinit", .init = noinit_init,
    .handle = noinit_handle);
