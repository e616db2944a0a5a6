/*
 * oldabi - a test-only module as built against the preforkd.h of ABI 1.0
 * (abi_version 1, before pfd_scheme and pfd_peer_addr): it must still load
 * and serve. The descriptor is spelled out, as PREFORKD_MODULE stamps the
 * current version.
 */
#include <preforkd.h>

static int
oldabi_handle(struct pfd_req *req, void *state)
{
	(void)state;
	return pfd_send(req, "old abi\n", 8);
}

const struct pfd_module preforkd_module = {
	.abi_version = 1,
	.name = "oldabi",
	.handle = oldabi_handle,
};
