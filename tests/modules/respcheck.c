/*
 * respcheck - a test-only module that tries what the response API must
 * refuse and reports what it got, so that the integration tests can check
 * each answer. Paths relative to the mount prefix (below: /r):
 *
 *   /r/fields     tries header fields and statuses, good and bad; the body
 *                 has one line per try: "<result> <label>", the result
 *                 "0", or "-1 EINVAL" / "-1 ENOSPC" / "-1 errno N"
 *   /r/nobody?status=S&how=H
 *                 sets status S (204 or 304), then tries to give it a body
 *                 by H: send, write, file (pfd_send_file of 4 bytes of
 *                 this module's own file) or length (pfd_set_content_length
 *                 4); reports the result in the field X-Result and ends
 *                 the response without a body
 *   /r/many?n=N&len=L
 *                 adds N fields "X-Many-<i>: " + L letters, then sends a
 *                 body with one line per field: "<result> <i>"
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <preforkd.h>

#define REPORT_MAX	16384
#define VALUE_MAX	8192

struct report {
	char	 buf[REPORT_MAX];
	size_t	 len;
};

/* "0", or "-1 EINVAL" and the like: what a call returned. */
static const char *
result(int rc, int err, char *buf, size_t size)
{
	if (rc == 0)
		return "0";
	if (err == EINVAL)
		return "-1 EINVAL";
	if (err == ENOSPC)
		return "-1 ENOSPC";
	snprintf(buf, size, "%d errno %d", rc, err);
	return buf;
}

static void
add(struct report *r, int rc, int err, const char *label)
{
	char tmp[32];
	int n;

	n = snprintf(r->buf + r->len, sizeof(r->buf) - r->len, "%s %s\n",
	    result(rc, err, tmp, sizeof(tmp)), label);
	if (n > 0 && (size_t)n < sizeof(r->buf) - r->len)
		r->len += (size_t)n;
}

static void
try_header(struct report *r, struct pfd_req *req, const char *label,
    const char *name, const char *value)
{
	int rc;

	errno = 0;
	rc = pfd_add_header(req, name, value);
	add(r, rc, errno, label);
}

static void
try_status(struct report *r, struct pfd_req *req, const char *label,
    int status)
{
	int rc;

	errno = 0;
	rc = pfd_set_status(req, status);
	add(r, rc, errno, label);
}

static int
fields(struct pfd_req *req, struct report *r)
{
	/* What the server frames itself, in any case. */
	try_header(r, req, "Content-Length", "Content-Length", "4");
	try_header(r, req, "content-length", "content-length", "4");
	try_header(r, req, "Transfer-Encoding", "Transfer-Encoding", "chunked");
	try_header(r, req, "TRANSFER-ENCODING", "TRANSFER-ENCODING", "gzip");
	try_header(r, req, "Connection", "Connection", "close");
	try_header(r, req, "connection", "connection", "keep-alive");
	/* Names that are not tokens. */
	try_header(r, req, "name with space", "X Space", "1");
	try_header(r, req, "name with colon", "X-Colon:", "1");
	try_header(r, req, "name with slash", "X-Slash/", "1");
	try_header(r, req, "name with parenthesis", "X-Paren(", "1");
	try_header(r, req, "name with quote", "X-Quote\"", "1");
	try_header(r, req, "name with tab", "X-Tab\t", "1");
	try_header(r, req, "name with CR", "X-CR\r", "1");
	try_header(r, req, "name with 8-bit byte", "X-\xc3\xa9", "1");
	try_header(r, req, "empty name", "", "1");
	/* Values with control characters. */
	try_header(r, req, "value with CRLF", "X-Bad", "a\r\nInjected: 1");
	try_header(r, req, "value with LF", "X-Bad", "a\nb");
	try_header(r, req, "value with CR", "X-Bad", "a\rb");
	try_header(r, req, "value with SOH", "X-Bad", "a\x01" "b");
	try_header(r, req, "value with DEL", "X-Bad", "a\x7f" "b");
	/* Good ones. */
	try_header(r, req, "token name", "X-Token!#$%&'*+-.^_`|~09", "ok");
	try_header(r, req, "value with tab", "X-Tab", "a\tb");
	try_header(r, req, "value with 8-bit bytes", "X-Obs", "caf\xc3\xa9");
	try_header(r, req, "empty value", "X-Empty", "");
	try_header(r, req, "Content-Type", "Content-Type", "text/plain");
	/* Statuses: 2xx..5xx only. */
	try_status(r, req, "status 100", 100);
	try_status(r, req, "status 101", 101);
	try_status(r, req, "status 199", 199);
	try_status(r, req, "status 600", 600);
	try_status(r, req, "status 999", 999);
	try_status(r, req, "status 1000", 1000);
	try_status(r, req, "status 599", 599);
	try_status(r, req, "status 200", 200);
	return pfd_send(req, r->buf, r->len) == 0 ? 0 : 500;
}

/* The value of name=... in query q (up to '&'), copied into out. */
static const char *
query_get(const char *q, const char *name, char *out, size_t size)
{
	size_t k = strlen(name), n;
	const char *p = q;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, name, k) == 0 && p[k] == '=') {
			p += k + 1;
			n = strcspn(p, "&");
			if (n >= size)
				return NULL;
			memcpy(out, p, n);
			out[n] = '\0';
			return out;
		}
		if ((p = strchr(p, '&')) != NULL)
			p++;
	}
	return NULL;
}

static long
query_num(const char *q, const char *name, long max)
{
	char buf[24], *end;
	long v;

	if (query_get(q, name, buf, sizeof(buf)) == NULL)
		return -1;
	v = strtol(buf, &end, 10);
	if (end == buf || *end != '\0' || v < 0 || v > max)
		return -1;
	return v;
}

static int
nobody(struct pfd_req *req)
{
	const char *q = pfd_query(req);
	char how[16], tmp[32];
	long status = query_num(q, "status", 999);
	int rc, err, fd;

	if (query_get(q, "how", how, sizeof(how)) == NULL ||
	    pfd_set_status(req, (int)status) == -1)
		return 400;
	errno = 0;
	if (strcmp(how, "send") == 0)
		rc = pfd_send(req, "body", 4);
	else if (strcmp(how, "write") == 0)
		rc = pfd_write(req, "body", 4);
	else if (strcmp(how, "length") == 0)
		rc = pfd_set_content_length(req, 4);
	else if (strcmp(how, "file") == 0) {
		if ((fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)) == -1)
			return 500;
		rc = pfd_send_file(req, fd, 0, 4);
		err = errno;
		close(fd);
		errno = err;
	} else
		return 400;
	err = errno;
	/* Refused, the head is still open: the result goes into it. */
	(void)pfd_add_header(req, "X-Result", result(rc, err, tmp,
	    sizeof(tmp)));
	return 0;
}

static int
many(struct pfd_req *req, struct report *r)
{
	const char *q = pfd_query(req);
	long n = query_num(q, "n", 1000), len = query_num(q, "len", VALUE_MAX);
	char name[32], label[32];
	static char value[VALUE_MAX + 1];

	if (n < 0 || len < 0)
		return 400;
	for (long i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "X-Many-%ld", i);
		snprintf(label, sizeof(label), "%ld", i);
		memset(value, 'a' + (int)(i % 26), (size_t)len);
		value[len] = '\0';
		try_header(r, req, label, name, value);
	}
	return pfd_send(req, r->buf, r->len) == 0 ? 0 : 500;
}

static int
respcheck_handle(struct pfd_req *req, void *state)
{
	static struct report r;
	const char *path = pfd_raw_path(req);
	const char *rest;

	(void)state;
	if (path == NULL)
		return 500;
	rest = path + strlen(pfd_prefix(req));
	r.len = 0;
	if (strcmp(rest, "/fields") == 0)
		return fields(req, &r);
	if (strcmp(rest, "/nobody") == 0)
		return nobody(req);
	if (strcmp(rest, "/many") == 0)
		return many(req, &r);
	return 404;
}

PREFORKD_MODULE(.name = "respcheck", .handle = respcheck_handle);
