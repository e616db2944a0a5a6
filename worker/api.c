/*
 * api - the functions of preforkd.h. One struct pfd_req lives in each
 * worker and is reset per request; its buffers are allocated once.
 */
#include <sys/socket.h>
#include <sys/uio.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "crash.h"
#include "hex.h"
#include "preforkd.h"
#include "resp.h"
#include "self.h"

struct pfd_req {
	struct conn		*c;
	const struct module	*mod;
	int			 status;
	long long		 clen;		/* announced length, or -1 */
	long long		 written;
	bool			 head_sent, chunked, finished;
	bool			 aborted, hijacked;
	int			 body_error;	/* status from a failed read */
	const char		*piece;		/* body bytes not yet returned */
	size_t			 piece_len;
	const char		*raw, *query;	/* split target */
	size_t			 rawlen, qlen;
	const char		*target_z, *raw_z, *path_z, *query_z;
	bool			 path_tried;
	char			 addr[64];
	int			 port;
	char			 peer[64];	/* the socket peer's address */
	char			*xhdr;		/* the handler's header lines */
	size_t			 xlen, xcap;
	char			*scratch;	/* NUL-terminated copies */
	size_t			 sused, scap;
};

static struct pfd_req r0;

int
api_init(const struct cfg *cfg)
{
	r0.xcap = resp_fields_max(cfg);	/* so that the head always fits */
	r0.scap = 4 * ((size_t)cfg->max_header_size + 2);
	r0.xhdr = malloc(r0.xcap);
	r0.scratch = malloc(r0.scap);
	return r0.xhdr && r0.scratch ? 0 : -1;
}

/* A NUL-terminated copy of p[0..n) in the scratch space. */
static const char *
dup_z(struct pfd_req *r, const char *p, size_t n)
{
	char *s;

	if (r->sused + n + 1 > r->scap)
		return NULL;
	s = r->scratch + r->sused;
	memcpy(s, p, n);
	s[n] = '\0';
	r->sused += n + 1;
	return s;
}

/* An address as text into out, and its port (0 for unix sockets). */
static int
addr_parts(const struct sockaddr_storage *ss, char *out, size_t outsz)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		inet_ntop(AF_INET, &in->sin_addr, out, (socklen_t)outsz);
		return ntohs(in->sin_port);
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, out, (socklen_t)outsz);
		return ntohs(in6->sin6_port);
	}
	strlcpy(out, "unix", outsz);
	return 0;
}

/* The effective client (SPEC 9): PROXY source or trusted forwarding. */
static void
peer_parts(struct pfd_req *r)
{
	r->port = addr_parts(&r->c->raddr, r->addr, sizeof(r->addr));
}

int
api_handle(struct conn *c, const struct module *m)
{
	struct pfd_req *r = &r0;
	int rc;

	r->c = c;
	r->mod = m;
	r->status = 200;
	r->clen = -1;
	r->written = 0;
	r->head_sent = r->chunked = r->finished = false;
	r->aborted = r->hijacked = r->path_tried = false;
	r->body_error = 0;
	r->piece = NULL;
	r->piece_len = 0;
	r->target_z = r->raw_z = r->path_z = r->query_z = NULL;
	r->xlen = r->sused = 0;
	r->addr[0] = r->peer[0] = '\0';
	if (http_target_split(&c->rd.req, &r->raw, &r->rawlen, &r->query,
	    &r->qlen) != 0)
		return 400;

	crash_handler_begin();
	rc = m->desc->handle(r, m->state);
	crash_handler_end();

	if (r->hijacked)
		return 0;	/* c->hijacked was set by pfd_hijack */
	if (r->aborted) {
		c->close = true;
		c->aborted = true;
		return 0;
	}
	if (!r->head_sent) {
		if (rc >= 400 && rc <= 599)
			return rc;
		if (r->body_error != 0)
			return r->body_error;
	} else if (rc != 0 || r->body_error != 0) {
		/* Too late for an error status: the connection ends without
		 * the last chunk (or short of Content-Length), so that the
		 * client sees a cut response, not a complete-looking one. */
		c->close = true;
		return 0;
	}
	pfd_finish(r);
	return 0;
}

/* --- the request ---------------------------------------------------- */

const char *
pfd_method(const struct pfd_req *r)
{
	return http_method_str(r->c->rd.req.method);
}

const char *
pfd_target(const struct pfd_req *cr)
{
	struct pfd_req *r = (struct pfd_req *)(uintptr_t)cr;

	if (r->target_z == NULL)
		r->target_z = dup_z(r, r->c->rd.req.target,
		    r->c->rd.req.target_len);
	return r->target_z;
}

const char *
pfd_raw_path(const struct pfd_req *cr)
{
	struct pfd_req *r = (struct pfd_req *)(uintptr_t)cr;

	if (r->raw_z == NULL)
		r->raw_z = dup_z(r, r->raw, r->rawlen);
	return r->raw_z;
}

const char *
pfd_path(const struct pfd_req *cr)
{
	struct pfd_req *r = (struct pfd_req *)(uintptr_t)cr;
	char *out;
	size_t o = 0;

	if (r->path_tried)
		return r->path_z;
	r->path_tried = true;
	if (r->sused + r->rawlen + 1 > r->scap)
		return NULL;
	out = r->scratch + r->sused;
	for (size_t i = 0; i < r->rawlen; i++) {
		int ch = (unsigned char)r->raw[i];

		if (ch == '%') {
			int hi, lo;

			if (i + 2 >= r->rawlen)
				return NULL;
			hi = hex_value((unsigned char)r->raw[i + 1]);
			lo = hex_value((unsigned char)r->raw[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return NULL;
			ch = hi * 16 + lo;
			i += 2;
		}
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	r->sused += o + 1;
	r->path_z = out;
	return out;
}

const char *
pfd_query(const struct pfd_req *cr)
{
	struct pfd_req *r = (struct pfd_req *)(uintptr_t)cr;

	if (r->query_z == NULL)
		r->query_z = r->query == NULL ? "" :
		    dup_z(r, r->query + 1, r->qlen - 1);
	return r->query_z;
}

const char *
pfd_prefix(const struct pfd_req *r)
{
	return r->mod->prefix;
}

int
pfd_http_minor(const struct pfd_req *r)
{
	return r->c->rd.req.minor;
}

const char *
pfd_header(const struct pfd_req *r, const char *name, size_t *len)
{
	const struct http_req *q = &r->c->rd.req;
	size_t n = strlen(name);

	for (int i = 0; i < q->nhdr; i++)
		if (q->hdr[i].nlen == n &&
		    strncasecmp(q->hdr[i].name, name, n) == 0) {
			if (len != NULL)
				*len = q->hdr[i].vlen;
			return q->hdr[i].val;
		}
	return NULL;
}

int
pfd_header_count(const struct pfd_req *r)
{
	return r->c->rd.req.nhdr;
}

int
pfd_header_at(const struct pfd_req *r, int i, const char **name,
    size_t *nlen, const char **value, size_t *vlen)
{
	const struct http_req *q = &r->c->rd.req;

	if (i < 0 || i >= q->nhdr)
		return -1;
	*name = q->hdr[i].name;
	*nlen = q->hdr[i].nlen;
	*value = q->hdr[i].val;
	*vlen = q->hdr[i].vlen;
	return 0;
}

const char *
pfd_client_addr(const struct pfd_req *cr)
{
	struct pfd_req *r = (struct pfd_req *)(uintptr_t)cr;

	if (r->addr[0] == '\0')
		peer_parts(r);
	return r->addr;
}

int
pfd_client_port(const struct pfd_req *cr)
{
	struct pfd_req *r = (struct pfd_req *)(uintptr_t)cr;

	if (r->addr[0] == '\0')
		peer_parts(r);
	return r->port;
}

const char *
pfd_peer_addr(const struct pfd_req *cr)
{
	struct pfd_req *r = (struct pfd_req *)(uintptr_t)cr;

	if (r->peer[0] == '\0')
		(void)addr_parts(&r->c->peer, r->peer, sizeof(r->peer));
	return r->peer;
}

const char *
pfd_scheme(const struct pfd_req *r)
{
	return r->c->https ? "https" : "http";
}

int
pfd_worker_id(const struct pfd_req *r)
{
	return r->mod->init.worker_id;
}

long long
pfd_content_length(const struct pfd_req *r)
{
	return r->c->rd.req.chunked ? -1 : r->c->rd.req.content_length;
}

ssize_t
pfd_read(struct pfd_req *r, void *buf, size_t len)
{
	size_t n;
	int rc;

	if (r->hijacked || r->body_error != 0)
		return -1;
	if (r->piece_len == 0) {
		const struct http_req *q = &r->c->rd.req;

		if (!q->chunked && q->content_length <= 0)
			return 0;
		worker_slot->state = SB_READING;
		crash_io_begin();
		rc = conn_read_body(r->c, &r->piece, &r->piece_len);
		crash_io_end();
		if (rc == PARSE_DONE) {
			r->piece_len = 0;
			return 0;
		}
		if (rc != PARSE_BODY) {
			r->body_error = rc > 0 ? rc : 400;
			r->piece_len = 0;
			r->c->close = true;
			errno = EIO;
			return -1;
		}
	}
	n = len < r->piece_len ? len : r->piece_len;
	memcpy(buf, r->piece, n);
	r->piece += n;
	r->piece_len -= n;
	return (ssize_t)n;
}

/* --- the response --------------------------------------------------- */

/* RFC 9110 5.6.2: a field name is a token. */
static bool
is_token(const char *s)
{
	if (*s == '\0')
		return false;
	/* ASCII only, whatever locale a module set. */
	for (; *s; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') &&
		    !(*s >= '0' && *s <= '9') &&
		    strchr("!#$%&'*+-.^_`|~", *s) == NULL)
			return false;
	return true;
}

/* A field value: no control character but HTAB (CR and LF above all). */
static bool
is_value(const char *s)
{
	for (; *s; s++)
		if ((*s >= 0 && *s < 0x20 && *s != '\t') || *s == 0x7f)
			return false;
	return true;
}

/* 204 and 304 never have a body (RFC 9110 6.4.1). */
static bool
bodiless(const struct pfd_req *r)
{
	return r->status == 204 || r->status == 304;
}

int
pfd_set_status(struct pfd_req *r, int status)
{
	if (r->head_sent || status < 200 || status > 599 ||
	    ((status == 204 || status == 304) && r->clen > 0)) {
		errno = EINVAL;
		return -1;
	}
	r->status = status;
	return 0;
}

int
pfd_add_header(struct pfd_req *r, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value);

	/* The server frames the message: these are its own. */
	if (r->head_sent || !is_token(name) || !is_value(value) ||
	    strcasecmp(name, "Content-Length") == 0 ||
	    strcasecmp(name, "Transfer-Encoding") == 0 ||
	    strcasecmp(name, "Connection") == 0) {
		errno = EINVAL;
		return -1;
	}
	if (r->xlen + nl + vl + 4 > r->xcap) {
		errno = ENOSPC;
		return -1;
	}
	memcpy(r->xhdr + r->xlen, name, nl);
	r->xlen += nl;
	memcpy(r->xhdr + r->xlen, ": ", 2);
	memcpy(r->xhdr + r->xlen + 2, value, vl);
	r->xlen += 2 + vl;
	memcpy(r->xhdr + r->xlen, "\r\n", 2);
	r->xlen += 2;
	return 0;
}

int
pfd_set_content_length(struct pfd_req *r, long long len)
{
	if (r->head_sent || len < 0 || (len > 0 && bodiless(r))) {
		errno = EINVAL;
		return -1;
	}
	r->clen = len;
	return 0;
}

static void
begin(struct pfd_req *r)
{
	resp_begin(r->c, r->status);
	resp_add_raw(r->c, r->xhdr, r->xlen);
	r->head_sent = true;
}

/* The whole response with an empty body: no body at all for 204, 304. */
static int
send_empty(struct pfd_req *r)
{
	begin(r);
	r->finished = true;
	if (bodiless(r))
		return resp_send_nobody(r->c);
	return resp_send(r->c, 0, NULL, 0);
}

/* Refuses body bytes on a status that has no body. */
static bool
body_refused(const struct pfd_req *r, size_t len)
{
	if (len == 0 || !bodiless(r))
		return false;
	errno = EINVAL;
	return true;
}

static int	write_piece(struct pfd_req *, const void *, size_t);
static int	finish(struct pfd_req *);

static int
send_whole(struct pfd_req *r, const void *buf, size_t len)
{
	int rc;

	if (r->finished || r->aborted || r->hijacked || body_refused(r, len))
		return -1;
	if (r->head_sent) {
		rc = write_piece(r, buf, len);
		return finish(r) == 0 ? rc : -1;
	}
	if (len == 0)
		return send_empty(r);
	begin(r);
	r->finished = true;
	return resp_send(r->c, (long long)len, buf, len);
}

static int
send_file(struct pfd_req *r, int fd, off_t off, size_t len)
{
	if (r->head_sent || r->finished || r->aborted || r->hijacked ||
	    body_refused(r, len))
		return -1;
	if (len == 0)
		return send_empty(r);
	begin(r);
	r->finished = true;
	return resp_send_file(r->c, (long long)len, fd, off, len);
}

static int
write_piece(struct pfd_req *r, const void *buf, size_t len)
{
	struct iovec iov;
	int rc;

	if (r->finished || r->aborted || r->hijacked || body_refused(r, len))
		return -1;
	if (!r->head_sent) {
		begin(r);
		rc = bodiless(r) ? resp_send_nobody(r->c) :
		    resp_send_head(r->c, r->clen, &r->chunked);
		if (rc == -1)
			return -1;
	}
	if (r->clen >= 0 && r->written + (long long)len > r->clen) {
		errno = EMSGSIZE;
		return -1;
	}
	r->written += (long long)len;
	if (r->chunked)
		return resp_chunk(r->c, buf, len);
	if (len == 0 || conn_is_head(r->c))
		return 0;
	iov.iov_base = (void *)(uintptr_t)buf;
	iov.iov_len = len;
	r->c->sent += (long long)len;
	return conn_writev(r->c, &iov, 1);
}

static int
finish(struct pfd_req *r)
{
	if (r->finished || r->aborted || r->hijacked)
		return r->finished ? 0 : -1;
	if (!r->head_sent)
		return send_empty(r);	/* whatever length was announced */
	r->finished = true;
	if (r->chunked)
		return resp_chunk_end(r->c);
	if (r->clen >= 0 && r->written < r->clen)
		r->c->close = true;	/* short body: only a close ends it */
	return 0;
}

/*
 * The sending calls: what they wait for is the client taking the
 * response (--write-timeout), so the handler's --timeout clock stops
 * meanwhile (crash.h), as in pfd_read.
 */
int
pfd_send(struct pfd_req *r, const void *buf, size_t len)
{
	int rc;

	crash_io_begin();
	rc = send_whole(r, buf, len);
	crash_io_end();
	return rc;
}

int
pfd_send_file(struct pfd_req *r, int fd, off_t off, size_t len)
{
	int rc;

	crash_io_begin();
	rc = send_file(r, fd, off, len);
	crash_io_end();
	return rc;
}

int
pfd_write(struct pfd_req *r, const void *buf, size_t len)
{
	int rc;

	crash_io_begin();
	rc = write_piece(r, buf, len);
	crash_io_end();
	return rc;
}

int
pfd_finish(struct pfd_req *r)
{
	int rc;

	crash_io_begin();
	rc = finish(r);
	crash_io_end();
	return rc;
}

void
pfd_abort(struct pfd_req *r)
{
	r->aborted = true;
}

int
pfd_hijack(struct pfd_req *r, const char **buffered, size_t *blen)
{
	struct conn *c = r->c;
	int fd;

	if (r->head_sent || r->aborted || r->hijacked)
		return -1;
	r->hijacked = true;
	fd = c->fd;
	/* The module's from here: no 503 or 500 into its stream, no
	 * --timeout, and the master does not see a handler to kill. */
	conn_close(c, CONN_HIJACKED);
	crash_handler_detach();
	if (!c->rd.req.chunked && c->rd.req.content_length <= 0) {
		const char *p;
		size_t n;

		/* Completes the bodiless request: what follows is theirs. */
		(void)http_parse_body(&c->rd, &p, &n);
	}
	if (buffered != NULL)
		*buffered = c->rd.buf + c->rd.pos;
	if (blen != NULL)
		*blen = c->rd.len - c->rd.pos;
	return fd;
}

int
pfd_response_started(const struct pfd_req *r)
{
	return r->head_sent;
}
