/*
 * hello - the smallest useful module: a fixed "Hello, World!" body. It is
 * the benchmark target for handler overhead.
 *
 *   preforkd --module /hello=build/modules/hello.so
 */
#include <preforkd.h>

static int
hello(struct pfd_req *req, void *state)
{
	static const char body[] = "Hello, World!";

	(void)state;
	pfd_add_header(req, "Content-Type", "text/plain; charset=utf-8");
	return pfd_send(req, body, sizeof(body) - 1) == 0 ? 0 : 500;
}

PREFORKD_MODULE(.name = "hello", .handle = hello);
