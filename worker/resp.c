/*
 * resp - response heads and the syscalls that send them. A response is
 * one writev (head and an in-memory body) or one send(MSG_MORE) of the
 * head followed by sendfile for a file body.
 */
#include <sys/socket.h>
#include <sys/uio.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dec.h"
#include "httpdate.h"
#include "keepalive.h"
#include "log.h"
#include "mime.h"
#include "reason.h"
#include "resp.h"
#include "self.h"
#include "version.h"

static char	date_line[6 + HTTPDATE_LEN + 3] = "Date: ";
static time_t	date_sec = -1;

/* The Date line, formatted once per second. */
static const char *
date_get(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	if (ts.tv_sec != date_sec) {
		date_sec = ts.tv_sec;
		httpdate_format(ts.tv_sec, date_line + 6);
		memcpy(date_line + 6 + HTTPDATE_LEN, "\r\n", 3);
	}
	return date_line;
}

size_t
resp_fields_max(const struct cfg *cfg)
{
	return (size_t)cfg->max_header_size;
}

size_t
resp_head_size(const struct cfg *cfg)
{
	return resp_fields_max(cfg) + RESP_HEAD_SIZE;
}

/* Appends to the head; what does not fit marks it, never cuts it. */
static void
put(struct conn *c, const char *s, size_t n)
{
	if (c->hover || n > c->hcap - c->hlen) {
		c->hover = true;
		return;
	}
	memcpy(c->head + c->hlen, s, n);
	c->hlen += n;
}

/*
 * A head that did not fit is never sent: a 500 goes out instead, and the
 * connection is done (the caller's body must not follow it). The sizes
 * above make this a safety net. Returns 0 when the head is whole, -1 when
 * the 500 was sent in its place.
 */
static int
head_check(struct conn *c)
{
	int status = c->status;

	if (!c->hover)
		return 0;
	log_errorx("response head (status %d) over %zu bytes: answered 500",
	    status, c->hcap);
	c->close = true;
	(void)resp_error(c, 500);
	c->broken = true;
	return -1;
}

void
resp_begin(struct conn *c, int status)
{
	/* Per request: formatted by hand, no printf (statuses are three
	 * digits, 100..599: pfd_set_status and the callers keep them so). */
	char line[] = "HTTP/1.1 000 ";
	const char *reason = reason_phrase(status);

	c->status = status;
	c->hlen = 0;
	c->hover = false;
	line[9] = (char)('0' + status / 100 % 10);
	line[10] = (char)('0' + status / 10 % 10);
	line[11] = (char)('0' + status % 10);
	put(c, line, sizeof(line) - 1);
	put(c, reason, strlen(reason));
	put(c, "\r\n", 2);
	put(c, "Server: preforkd/" PREFORKD_VERSION "\r\n",
	    sizeof("Server: preforkd/" PREFORKD_VERSION "\r\n") - 1);
	put(c, date_get(), 6 + HTTPDATE_LEN + 2);
}

void
resp_add(struct conn *c, const char *name, const char *val, size_t vlen)
{
	put(c, name, strlen(name));
	put(c, ": ", 2);
	put(c, val, vlen);
	put(c, "\r\n", 2);
}

void
resp_addf(struct conn *c, const char *name, const char *fmt, ...)
{
	char val[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(val))
		n = sizeof(val) - 1;
	resp_add(c, name, val, (size_t)n);
}

void
resp_add_raw(struct conn *c, const char *p, size_t n)
{
	put(c, p, n);
}

/* Framing and Connection, then the blank line. */
static void
finish_head_te(struct conn *c, long long clen, bool chunked)
{
	char num[DEC_LEN], *p;

	worker_slot->state = SB_WRITING;
	keepalive_decide(c);
	if (clen >= 0) {
		p = dec_format(num, (unsigned long long)clen);
		put(c, "Content-Length: ", 16);
		put(c, p, (size_t)(num + sizeof(num) - p));
		put(c, "\r\n", 2);
	} else if (chunked)
		put(c, "Transfer-Encoding: chunked\r\n", 28);
	if (c->close)
		put(c, "Connection: close\r\n\r\n", 21);
	else if (c->rd.req.minor == 0)
		put(c, "Connection: keep-alive\r\n\r\n", 26);
	else
		put(c, "\r\n", 2);
}

static void
finish_head(struct conn *c, long long clen)
{
	finish_head_te(c, clen, false);
}

int
resp_send_head(struct conn *c, long long clen, bool *chunked)
{
	struct iovec iov;

	*chunked = false;
	if (clen < 0 && c->rd.req.minor >= 1)
		*chunked = true;
	else if (clen < 0)
		c->close = true;	/* HTTP/1.0: the close ends the body */
	finish_head_te(c, clen, *chunked);
	if (head_check(c) == -1)
		return -1;
	iov.iov_base = c->head;
	iov.iov_len = c->hlen;
	return conn_writev(c, &iov, 1);
}

int
resp_chunk(struct conn *c, const void *p, size_t n)
{
	char size[24];
	struct iovec iov[3];
	int k;

	if (n == 0 || conn_is_head(c))
		return 0;
	k = snprintf(size, sizeof(size), "%zx\r\n", n);
	iov[0].iov_base = size;
	iov[0].iov_len = (size_t)k;
	iov[1].iov_base = (void *)(uintptr_t)p;
	iov[1].iov_len = n;
	iov[2].iov_base = (void *)(uintptr_t)"\r\n";
	iov[2].iov_len = 2;
	c->sent += (long long)n;
	return conn_writev(c, iov, 3);
}

int
resp_chunk_end(struct conn *c)
{
	struct iovec iov = { (void *)(uintptr_t)"0\r\n\r\n", 5 };

	if (conn_is_head(c))
		return 0;
	return conn_writev(c, &iov, 1);
}

int
resp_send(struct conn *c, long long clen, const void *body, size_t blen)
{
	struct iovec iov[2];
	int n = 1;

	finish_head(c, clen);
	if (head_check(c) == -1)
		return -1;
	iov[0].iov_base = c->head;
	iov[0].iov_len = c->hlen;
	if (blen > 0 && !conn_is_head(c)) {
		iov[1].iov_base = (void *)(uintptr_t)body;
		iov[1].iov_len = blen;
		n = 2;
		c->sent = (long long)blen;
	}
	return conn_writev(c, iov, n);
}

int
resp_send_nobody(struct conn *c)
{
	return resp_send(c, -1, NULL, 0);
}

/* handed: a slow reader's rest may go to the keeper (static files). */
static int
send_file(struct conn *c, long long clen, int fd, off_t off, size_t len,
    bool handed)
{
	struct iovec iov;

	finish_head(c, clen);
	if (head_check(c) == -1)
		return -1;
	if (conn_is_head(c) || len == 0) {
		iov.iov_base = c->head;
		iov.iov_len = c->hlen;
		return conn_writev(c, &iov, 1);
	}
	/* The full size, also when the keeper sends the rest: the access
	 * log line is written at the hand-off (README, "Slow readers"). */
	c->sent = (long long)len;
	if (handed ? conn_send_file(c, fd, off, len) == -1 :
	    conn_send_more(c, c->head, c->hlen) == -1 ||
	    conn_sendfile(c, fd, off, len) == -1) {
		c->sent = 0;
		return -1;
	}
	return 0;
}

int
resp_send_file(struct conn *c, long long clen, int fd, off_t off, size_t len)
{
	return send_file(c, clen, fd, off, len, false);
}

int
resp_send_static(struct conn *c, long long clen, int fd, off_t off,
    size_t len)
{
	return send_file(c, clen, fd, off, len, true);
}

/* An --error-page replaces the short text body, its status kept. */
int
resp_error(struct conn *c, int status)
{
	const struct cfg_error_page *ep = cfg_error_page(c->cfg, status);
	const char *type;
	char body[96];
	int n;

	resp_begin(c, status);
	if (status == 405)
		resp_add(c, "Allow", "GET, HEAD", 9);
	if (ep != NULL) {
		type = mime_type_cfg(c->cfg, ep->path, strlen(ep->path));
		resp_add(c, "Content-Type", type, strlen(type));
		return resp_send(c, (long long)ep->len, ep->body, ep->len);
	}
	n = snprintf(body, sizeof(body), "%d %s\n", status,
	    reason_phrase(status));
	resp_add(c, "Content-Type", "text/plain; charset=utf-8", 25);
	return resp_send(c, n, body, (size_t)n);
}
