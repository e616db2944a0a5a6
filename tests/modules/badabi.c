/*
 * badabi - a test-only module built for a module ABI that does not exist
 * (999): preforkd must refuse to load it with one clear line. The
 * descriptor is spelled out instead of using PREFORKD_MODULE, which
 * always stamps the current version.
 */
#include <preforkd.h>

static int
badabi_handle(struct pfd_req *req, void *state)
{
	(void)req;
	(void)state;
	return 500;
}

const struct pfd_module preforkd_module = {
	.abi_version = 999,
	.name = "badabi",
	.handle = badabi_handle,
};
