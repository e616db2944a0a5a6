/*
 * echo - streams the request body back as it arrives, chunked, with the
 * request's Content-Type. Shows pfd_read/pfd_write streaming; the body
 * limit (--max-body-size) applies as for any request.
 *
 *   preforkd --module /echo=build/modules/echo.so
 */
#include <preforkd.h>
#include <string.h>

static int
echo(struct pfd_req *req, void *state)
{
	char buf[16384], type[256];
	const char *ct;
	size_t ctlen;
	ssize_t n;

	(void)state;
	if ((ct = pfd_header(req, "Content-Type", &ctlen)) != NULL &&
	    ctlen < sizeof(type)) {
		memcpy(type, ct, ctlen);
		type[ctlen] = '\0';
		pfd_add_header(req, "Content-Type", type);
	} else
		pfd_add_header(req, "Content-Type", "application/octet-stream");
	/* Read first: the head goes out with the first piece (or none). */
	while ((n = pfd_read(req, buf, sizeof(buf))) > 0)
		if (pfd_write(req, buf, (size_t)n) == -1)
			return 0;
	if (n == -1)
		return 0;	/* the server answers 400/408/413, or closes */
	/* Failing, it means the client is gone: there is nothing to answer. */
	(void)pfd_finish(req);
	return 0;
}

PREFORKD_MODULE(.name = "echo", .handle = echo);
