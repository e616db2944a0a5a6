/*
 * probe - a test-only module that shows the integration tests what a
 * handler sees and lets them drive each way of answering. Paths are taken
 * relative to the mount prefix (below: mounted at /p):
 *
 *   /p/stream?pieces=N&size=S[&fixed=1]
 *             N pieces of S bytes through pfd_write; piece i is S copies
 *             of the letter 'a' + i % 26. With fixed=1 the length is
 *             announced first (Content-Length), else the body is chunked
 *             (close-delimited for HTTP/1.0).
 *   /p/big?size=S    S bytes of 'b' (up to 64 MiB) in one pfd_send(): head
 *             and body go out in one write, which a client that does not
 *             read leaves blocked
 *   /p/spin?ms=N&pieces=K   K times: 10 bytes out, then N ms of the
 *             handler's own time (100000 bytes announced)
 *   /p/abort  head and 10 of 100000 announced bytes, then pfd_abort()
 *   /p/abort-early   pfd_abort() before anything was sent
 *   /p/status418     returns 418 for the server to answer
 *   /p/created       201 with an extra header X-Probe: created
 *   /p/short  announces 100 bytes, sends 10, returns
 *   /p/overflow      announces 5 bytes, sends them, then tries a 6th
 *   /p/contract      misuses the API and reports, one line per check,
 *                    "ok" or "FAIL" (the body is chunked: part of the
 *                    checks run after the head went out)
 *   anything else    a text/plain report of the request, one
 *                    "key: value" per line, then every header field in
 *                    order as "header: Name: value"
 *
 * The probe never reads the request body.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <preforkd.h>

#define REPORT_MAX	(256 * 1024)	/* headers are at most a few 10 KiB */

struct report {
	char	*buf;
	size_t	 len;
	int	 overflow;
};

static void __attribute__((format(printf, 2, 3)))
add(struct report *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(r->buf + r->len, REPORT_MAX - r->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= REPORT_MAX - r->len)
		r->overflow = 1;
	else
		r->len += (size_t)n;
}

static int
probe_init(const struct pfd_init *init, void **state)
{
	(void)init;
	/* One report buffer per worker: no allocation per request. */
	if ((*state = malloc(REPORT_MAX)) == NULL)
		return -1;
	return 0;
}

static void
probe_fini(void *state)
{
	free(state);
}

/* The request, as the API presents it. */
static int
describe(struct pfd_req *req, char *buf)
{
	struct report r = { buf, 0, 0 };
	const char *path = pfd_path(req);
	int n = pfd_header_count(req);

	add(&r, "method: %s\n", pfd_method(req));
	add(&r, "target: %s\n", pfd_target(req));
	add(&r, "raw_path: %s\n", pfd_raw_path(req));
	add(&r, "path: %s\n", path != NULL ? path : "(invalid)");
	add(&r, "query: %s\n", pfd_query(req));
	add(&r, "prefix: %s\n", pfd_prefix(req));
	add(&r, "http_minor: %d\n", pfd_http_minor(req));
	add(&r, "worker: %d\n", pfd_worker_id(req));
	add(&r, "client: %s %d\n", pfd_client_addr(req),
	    pfd_client_port(req));
	add(&r, "content_length: %lld\n", pfd_content_length(req));
	add(&r, "started: %d\n", pfd_response_started(req));
	add(&r, "header_count: %d\n", n);
	for (int i = 0; i < n; i++) {
		const char *name, *value;
		size_t nlen, vlen;

		if (pfd_header_at(req, i, &name, &nlen, &value, &vlen) == -1) {
			add(&r, "header_at %d: FAIL\n", i);
			continue;
		}
		add(&r, "header: %.*s: %.*s\n", (int)nlen, name, (int)vlen,
		    value);
	}
	/* Out of range must fail, not read past the table. */
	{
		const char *name, *value;
		size_t nlen, vlen;

		add(&r, "header_at_out_of_range: %s\n",
		    pfd_header_at(req, n, &name, &nlen, &value, &vlen) == -1 &&
		    pfd_header_at(req, -1, &name, &nlen, &value, &vlen) == -1 ?
		    "refused" : "ACCEPTED");
	}
	if (r.overflow)
		return 500;
	pfd_add_header(req, "Content-Type", "text/plain; charset=utf-8");
	return pfd_send(req, r.buf, r.len) == 0 ? 0 : 500;
}

/* The value of name=... in query q, as a number in [0, max], or def. */
static long
query_num(const char *q, const char *name, long def, long max)
{
	size_t k = strlen(name);
	const char *p = q;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, name, k) == 0 && p[k] == '=') {
			char *end;
			long v;

			errno = 0;
			v = strtol(p + k + 1, &end, 10);
			if (errno != 0 || end == p + k + 1 ||
			    (*end != '\0' && *end != '&') || v < 0 || v > max)
				return -1;
			return v;
		}
		if ((p = strchr(p, '&')) != NULL)
			p++;
	}
	return def;
}

static int
stream(struct pfd_req *req, char *buf)
{
	const char *q = pfd_query(req);
	long pieces = query_num(q, "pieces", 4, 100000);
	long size = query_num(q, "size", 1000, REPORT_MAX);
	long fixed = query_num(q, "fixed", 0, 1);

	if (pieces < 0 || size < 0 || fixed < 0)
		return 400;
	pfd_add_header(req, "Content-Type", "application/octet-stream");
	if (fixed && pfd_set_content_length(req, (long long)pieces * size))
		return 500;
	for (long i = 0; i < pieces; i++) {
		memset(buf, 'a' + (int)(i % 26), (size_t)size);
		if (pfd_write(req, buf, (size_t)size) == -1)
			return 0;	/* the client went away */
	}
	return 0;
}

static int
big(struct pfd_req *req)
{
	long size = query_num(pfd_query(req), "size", 1 << 20, 64L << 20);
	char *buf;

	if (size < 0)
		return 400;
	if ((buf = malloc((size_t)size)) == NULL)
		return 500;
	memset(buf, 'b', (size_t)size);
	/* A failed send is the client gone: nothing left to answer. */
	(void)pfd_send(req, buf, (size_t)size);
	free(buf);
	return 0;
}

/* Sleeps ms of the handler's own time, whatever signals come. */
static void
nap(long ms)
{
	struct timespec end;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += ms / 1000;
	end.tv_nsec += (ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &end, NULL) ==
	    EINTR)
		;
}

/* /spin?ms=N&pieces=K: K times, 10 bytes out, then N ms of its own time
 * (a 100,000-byte body announced, so a cut shows). */
static int
spin(struct pfd_req *req)
{
	const char *q = pfd_query(req);
	long ms = query_num(q, "ms", 100, 10000);
	long pieces = query_num(q, "pieces", 1, 100);

	if (ms < 0 || pieces < 0 ||
	    pfd_set_content_length(req, 100000) == -1)
		return 400;
	for (long i = 0; i < pieces; i++) {
		if (pfd_write(req, "0123456789", 10) == -1)
			return 0;
		nap(ms);
	}
	return 0;
}

static int
contract(struct pfd_req *req)
{
	struct report r;
	char buf[2048];
	const char *b;
	size_t blen;

	r.buf = buf;
	r.len = 0;
	r.overflow = 0;
	/* Before the head: bad input is refused, good input accepted. */
#define CHECK(what, cond) add(&r, "%s: %s\n", what, (cond) ? "ok" : "FAIL")
	CHECK("header with CRLF in value refused",
	    pfd_add_header(req, "X-Bad", "a\r\nInjected: 1") == -1);
	CHECK("header with LF in name refused",
	    pfd_add_header(req, "X-Bad\nInjected", "1") == -1);
	CHECK("header name with colon refused",
	    pfd_add_header(req, "X-Bad:", "1") == -1);
	CHECK("empty header name refused", pfd_add_header(req, "", "1") == -1);
	CHECK("status 99 refused", pfd_set_status(req, 99) == -1);
	CHECK("negative content length refused",
	    pfd_set_content_length(req, -5) == -1);
	CHECK("not started before the first write",
	    pfd_response_started(req) == 0);
	CHECK("good header accepted",
	    pfd_add_header(req, "X-Contract", "before") == 0);
	CHECK("status 202 accepted", pfd_set_status(req, 202) == 0);
	CHECK("zero-length write before head",
	    pfd_write(req, "", 0) == 0);
	if (pfd_write(req, r.buf, r.len) == -1)
		return 0;
	/* After the head: everything about the head is refused. */
	r.len = 0;
	CHECK("started after the first write", pfd_response_started(req) == 1);
	CHECK("status after head refused", pfd_set_status(req, 500) == -1);
	CHECK("header after head refused",
	    pfd_add_header(req, "X-Late", "1") == -1);
	CHECK("content length after head refused",
	    pfd_set_content_length(req, 10) == -1);
	CHECK("hijack after head refused",
	    pfd_hijack(req, &b, &blen) == -1);
	CHECK("send_file after head refused",
	    pfd_send_file(req, 0, 0, 1) == -1);
#undef CHECK
	add(&r, "end\n");
	if (pfd_write(req, r.buf, r.len) == -1)
		return 0;
	return pfd_finish(req) == 0 ? 0 : 0;
}

static int
probe_handle(struct pfd_req *req, void *state)
{
	const char *path = pfd_raw_path(req);
	const char *rest;

	if (path == NULL)
		return 500;
	rest = path + strlen(pfd_prefix(req));

	if (strcmp(rest, "/stream") == 0)
		return stream(req, state);
	if (strcmp(rest, "/big") == 0)
		return big(req);
	if (strcmp(rest, "/spin") == 0)
		return spin(req);
	if (strcmp(rest, "/abort") == 0) {
		if (pfd_set_content_length(req, 100000) == 0)
			(void)pfd_write(req, "0123456789", 10);
		pfd_abort(req);
		return 0;
	}
	if (strcmp(rest, "/abort-early") == 0) {
		pfd_abort(req);
		return 0;
	}
	if (strcmp(rest, "/status418") == 0)
		return 418;
	if (strcmp(rest, "/created") == 0) {
		pfd_set_status(req, 201);
		pfd_add_header(req, "X-Probe", "created");
		return pfd_send(req, "created\n", 8) == 0 ? 0 : 500;
	}
	if (strcmp(rest, "/short") == 0) {
		if (pfd_set_content_length(req, 100) == -1)
			return 500;
		(void)pfd_write(req, "0123456789", 10);
		return 0;
	}
	if (strcmp(rest, "/overflow") == 0) {
		if (pfd_set_content_length(req, 5) == -1 ||
		    pfd_write(req, "abcde", 5) == -1)
			return 500;
		/* Past the announced length: must fail and send nothing. */
		(void)pfd_write(req, "f", 1);
		return 0;
	}
	if (strcmp(rest, "/contract") == 0)
		return contract(req);
	return describe(req, state);
}

PREFORKD_MODULE(.name = "probe", .init = probe_init, .fini = probe_fini,
    .handle = probe_handle);
