/*
 * http - the request reader. http-parser reads the head (and is paused at
 * its end, so pipelined input stays in the buffer for the next request);
 * checks of our own make that reading unambiguous (RFC 9112 section 6.3
 * and the usual smuggling vectors); the body's framing (Content-Length or
 * chunked) is read by chunk_step() (chunk.c), strictly, the very state
 * machine the keeper frames bodies with.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "tchar.h"

static int on_url(http_parser *, const char *, size_t);
static int on_header_field(http_parser *, const char *, size_t);
static int on_header_value(http_parser *, const char *, size_t);
static int on_headers_complete(http_parser *);

static const http_parser_settings settings = {
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
};

static const struct {
	const char	*name;
	size_t		 len;
} known_names[HK_MAX] = {
#define K(s) { s, sizeof(s) - 1 }
	[HK_HOST] = K("host"),
	[HK_CONTENT_LENGTH] = K("content-length"),
	[HK_TRANSFER_ENCODING] = K("transfer-encoding"),
	[HK_EXPECT] = K("expect"),
	[HK_IF_MATCH] = K("if-match"),
	[HK_IF_NONE_MATCH] = K("if-none-match"),
	[HK_IF_MODIFIED_SINCE] = K("if-modified-since"),
	[HK_IF_UNMODIFIED_SINCE] = K("if-unmodified-since"),
	[HK_IF_RANGE] = K("if-range"),
	[HK_RANGE] = K("range"),
	[HK_ACCEPT_ENCODING] = K("accept-encoding"),
	[HK_USER_AGENT] = K("user-agent"),
	[HK_REFERER] = K("referer"),
#undef K
};

static void
reset_request(struct http_reader *r)
{
	memset(&r->req.known, 0, sizeof(r->req.known));
	r->req.target = NULL;
	r->req.target_len = 0;
	r->req.nhdr = 0;
	r->req.content_length = -1;
	r->req.chunked = r->req.keep_alive = false;
	r->req.expect_continue = r->req.upgrade = false;
	r->req.head_len = 0;
	r->body_read = 0;
	memset(&r->b, 0, sizeof(r->b));
	r->in_head = true;
	r->last_was_value = true;
	r->head_done = r->done = r->te_unknown = r->bad_method = false;
	r->te_any = r->too_many = false;
	http_parser_init(&r->parser, HTTP_REQUEST);
	r->parser.data = r;
}

void
http_reader_init(struct http_reader *r, char *buf, size_t cap,
    size_t max_head, long long max_body)
{
	memset(r, 0, sizeof(*r));
	r->buf = buf;
	r->cap = cap;
	r->max_head = max_head;
	r->max_body = max_body;
	reset_request(r);
}

char *
http_space(struct http_reader *r, size_t *room)
{
	/* Body bytes already handed out are dropped; the head stays put. */
	if (!r->in_head && r->pos == r->len)
		r->pos = r->len = r->req.head_len;
	*room = r->cap - r->len;
	return r->buf + r->len;
}

void
http_filled(struct http_reader *r, size_t n)
{
	r->len += n;
}

size_t
http_pending(const struct http_reader *r)
{
	return r->len - r->pos;
}

bool
http_idle(const struct http_reader *r)
{
	return r->in_head && r->len == 0;
}

static int
on_url(http_parser *p, const char *at, size_t len)
{
	struct http_reader *r = p->data;

	if (r->req.target == NULL)
		r->req.target = at;
	r->req.target_len = (size_t)(at + len - r->req.target);
	return 0;
}

static int
on_header_field(http_parser *p, const char *at, size_t len)
{
	struct http_reader *r = p->data;
	struct http_hdr *h;

	if (r->too_many)
		return 0;
	if (r->last_was_value) {
		if (r->req.nhdr == MAX_HEADERS) {
			/* 431 at the end of the head, unless the head turns
			 * out malformed first: the same answer however the
			 * bytes arrive (callbacks fire at read boundaries). */
			r->too_many = true;
			return 0;
		}
		h = &r->req.hdr[r->req.nhdr++];
		h->name = at;
		h->nlen = len;
		h->val = NULL;
		h->vlen = 0;
		r->last_was_value = false;
	} else {
		h = &r->req.hdr[r->req.nhdr - 1];
		h->nlen = (size_t)(at + len - h->name);
	}
	return 0;
}

static int
on_header_value(http_parser *p, const char *at, size_t len)
{
	struct http_reader *r = p->data;
	struct http_hdr *h;

	if (r->too_many)
		return 0;
	h = &r->req.hdr[r->req.nhdr - 1];
	if (h->val == NULL) {
		h->val = at;
		h->vlen = len;
	} else
		h->vlen = (size_t)(at + len - h->val);
	r->last_was_value = true;
	return 0;
}

static int
on_headers_complete(http_parser *p)
{
	struct http_reader *r = p->data;

	r->head_done = true;
	http_parser_pause(p, 1);
	return 0;
}

bool
http_list_has(const char *s, size_t len, const char *token)
{
	size_t tlen = strlen(token), i = 0;

	while (i < len) {
		size_t b, e;

		while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
			i++;
		b = i;
		while (i < len && s[i] != ',' && s[i] != ';')
			i++;
		e = i;
		while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
			e--;
		if (e - b == tlen && strncasecmp(s + b, token, tlen) == 0)
			return true;
		while (i < len && s[i] != ',')
			i++;
	}
	return false;
}

const struct http_hdr *
http_known(const struct http_req *q, enum http_known k)
{
	return q->known[k] ? &q->hdr[q->known[k] - 1] : NULL;
}

/* 414 when the request line alone is over the limit, else 431. */
static int
too_large(const struct http_reader *r)
{
	const char *lf = memchr(r->buf, '\n', r->len);

	if (lf == NULL || (size_t)(lf - r->buf) >= r->max_head)
		return 414;
	return 431;
}

/*
 * The raw head must be plain: CRLF line ends only, no control bytes, no
 * obs-fold. http-parser is lenient on each of these, and leniency here is
 * how requests get smuggled past a proxy that reads them differently.
 */
static const unsigned char raw_ctl[256] = {	/* 1: CR, 2: other CTL */
	[0x00 ... 0x08] = 2, [0x0a ... 0x0c] = 2, ['\r'] = 1,
	[0x0e ... 0x1f] = 2, [0x7f] = 2,	/* HTAB and the rest: 0 */
};

static int
check_raw(const struct http_reader *r)
{
	const unsigned char *s = (const unsigned char *)r->buf;
	size_t i = 0, n = r->req.head_len;

	for (;;) {
		while (i < n && raw_ctl[s[i]] == 0)
			i++;
		if (i == n)
			return 0;
		if (raw_ctl[s[i]] != 1 || i + 1 == n || s[i + 1] != '\n')
			return 400;	/* bare CR, bare LF, NUL, other CTL */
		i += 2;
		if (i < n && (s[i] == ' ' || s[i] == '\t'))
			return 400;	/* obs-fold */
	}
}

/*
 * Transfer-Encoding (all fields, as one list): "chunked" exactly once and
 * last is framing; any other coding is 501; anything else is 400.
 */
static int
check_te(struct http_reader *r)
{
	struct http_req *q = &r->req;
	int seen = 0, last_chunked = 0;

	for (int h = 0; h < q->nhdr; h++) {
		const struct http_hdr *f = &q->hdr[h];
		size_t i = 0;

		if (f->nlen != 17 || strncasecmp(f->name, "transfer-encoding",
		    17) != 0)
			continue;
		r->te_any = true;
		if (f->vlen == 0)
			return 400;		/* no coding at all */
		while (i < f->vlen) {
			size_t b, e;

			while (i < f->vlen && (f->val[i] == ' ' ||
			    f->val[i] == '\t'))
				i++;
			b = i;
			while (i < f->vlen && f->val[i] != ',')
				i++;
			e = i;
			while (e > b && (f->val[e - 1] == ' ' ||
			    f->val[e - 1] == '\t'))
				e--;
			if (i < f->vlen)
				i++;		/* the comma */
			if (e == b)
				return 400;	/* empty element */
			if (e - b == 7 && strncasecmp(f->val + b, "chunked",
			    7) == 0) {
				seen++;
				last_chunked = 1;
			} else {
				for (size_t k = b; k < e; k++)
					if (!tchar[(unsigned char)f->val[k]])
						return 400;
				r->te_unknown = true;
				last_chunked = 0;
			}
		}
	}
	if (r->te_unknown)
		return 501;
	if (seen > 1 || (seen == 1 && !last_chunked))
		return 400;
	q->chunked = seen == 1;
	return 0;
}

static int
check_content_length(struct http_reader *r)
{
	struct http_req *q = &r->req;
	long long v = -1;

	for (int h = 0; h < q->nhdr; h++) {
		const struct http_hdr *f = &q->hdr[h];
		long long n = 0;

		if (f->nlen != 14 || strncasecmp(f->name, "content-length",
		    14) != 0)
			continue;
		if (f->vlen == 0 || f->vlen > 18)
			return 400;
		for (size_t i = 0; i < f->vlen; i++) {
			if (!isdigit((unsigned char)f->val[i]))
				return 400;
			n = n * 10 + (f->val[i] - '0');
		}
		if (v != -1 && v != n)
			return 400;
		v = n;
	}
	q->content_length = v;
	return 0;
}

/*
 * Host = uri-host [ ":" port ] (RFC 9112 3.2, RFC 3986 3.2.2): an IP
 * literal in brackets, or reg-name characters; empty is allowed.
 */
static const unsigned char reg_name[256] = {	/* unreserved, sub-delims, % */
	['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
	['-'] = 1, ['.'] = 1, ['_'] = 1, ['~'] = 1, ['%'] = 1, ['!'] = 1,
	['$'] = 1, ['&'] = 1, ['\''] = 1, ['('] = 1, [')'] = 1, ['*'] = 1,
	['+'] = 1, [','] = 1, [';'] = 1, ['='] = 1,
};

static bool
host_ok(const char *v, size_t len)
{
	size_t i = 0;

	if (len > 0 && v[0] == '[') {
		for (i = 1; i < len && v[i] != ']'; i++)
			if (!isxdigit((unsigned char)v[i]) && v[i] != ':' &&
			    v[i] != '.')
				return false;
		if (i == len)
			return false;
		i++;
	} else {
		for (; i < len && v[i] != ':'; i++)
			if (!reg_name[(unsigned char)v[i]])
				return false;
	}
	if (i == len)
		return true;
	if (v[i++] != ':')
		return false;
	for (; i < len; i++)
		if (!isdigit((unsigned char)v[i]))
			return false;
	return true;
}

/* Trims values, checks names, classifies the headers we look at. */
static int
classify(struct http_req *q)
{
	for (int h = 0; h < q->nhdr; h++) {
		struct http_hdr *f = &q->hdr[h];

		if (f->val == NULL)
			f->val = "";
		while (f->vlen > 0 && (f->val[f->vlen - 1] == ' ' ||
		    f->val[f->vlen - 1] == '\t'))
			f->vlen--;
		if (f->nlen == 0)
			return 400;
		for (size_t i = 0; i < f->nlen; i++)
			if (!tchar[(unsigned char)f->name[i]])
				return 400;
		for (int k = 0; k < HK_MAX; k++) {
			if (f->nlen != known_names[k].len ||
			    strncasecmp(f->name, known_names[k].name,
			    f->nlen) != 0)
				continue;
			if (q->known[k] && k == HK_HOST)
				return 400;	/* duplicate Host */
			if (!q->known[k])
				q->known[k] = (short)(h + 1);
			break;
		}
	}
	return 0;
}

/*
 * The request line must be exactly "TOKEN SP target SP HTTP/d.d CRLF"
 * (after optional empty lines), with no control byte or space in the
 * target, found within the head limit. http-parser as built by Debian is
 * lenient here (a version split over two lines passes it).
 */
static bool
request_line_ok(const struct http_reader *r)
{
	size_t lim = r->len < r->max_head ? r->len : r->max_head;
	const char *s = r->buf, *end = r->buf + lim, *lf, *sp;

	while (s < end && (*s == '\r' || *s == '\n'))
		s++;
	if ((lf = memchr(s, '\n', (size_t)(end - s))) == NULL)
		return false;
	for (sp = s; sp < lf && tchar[(unsigned char)*sp]; sp++)
		;
	if (sp == s || sp == lf || *sp != ' ')
		return false;
	s = ++sp;
	for (; sp < lf && (unsigned char)*sp > 0x20 && *sp != 0x7f; sp++)
		;
	if (sp == s || sp == lf || *sp != ' ')
		return false;
	sp++;
	return lf - sp == 9 && memcmp(sp, "HTTP/", 5) == 0 &&
	    isdigit((unsigned char)sp[5]) && sp[6] == '.' &&
	    isdigit((unsigned char)sp[7]) && sp[8] == '\r';
}

/* Everything that decides whether a complete head is acceptable. */
static int
check_head(struct http_reader *r)
{
	struct http_req *q = &r->req;
	const struct http_hdr *e;
	int rc;

	q->method = (enum http_method)r->parser.method;
	q->major = r->parser.http_major;
	q->minor = r->parser.http_minor;
	if (q->head_len > r->max_head)
		return too_large(r);
	if (r->too_many)
		return 431;
	if ((rc = check_raw(r)) != 0)
		return rc;
	if (!request_line_ok(r))
		return 400;
	if (q->major == 0)
		return 400;		/* HTTP/0.9 has no place here */
	if (q->major != 1)
		return 505;
	/* A later 1.x is read as the highest minor we implement (RFC 9110
	 * 2.5), and answered as such. */
	if (q->minor > 1)
		q->minor = 1;
	if (q->target == NULL || q->target_len == 0)
		return 400;
	if ((rc = classify(q)) != 0)
		return rc;
	if (q->minor == 1 && !q->known[HK_HOST])
		return 400;
	if (q->known[HK_HOST]) {
		const struct http_hdr *h = http_known(q, HK_HOST);

		if (!host_ok(h->val, h->vlen))
			return 400;
	}
	if ((rc = check_te(r)) != 0)
		return rc;
	if ((rc = check_content_length(r)) != 0)
		return rc;
	/* Both, or chunked in HTTP/1.0: ambiguous framing (RFC 9112 6.1). */
	if ((q->chunked || r->te_any) && (q->content_length != -1 ||
	    q->minor == 0))
		return 400;
	/* CONNECT has no content (RFC 9110 9.3.6): bytes after its head
	 * belong to a tunnel, never to a body. */
	if (q->method == HTTP_CONNECT && (q->chunked || q->content_length > 0))
		return 400;
	if (q->content_length > r->max_body)
		return 413;
	if ((e = http_known(q, HK_EXPECT)) != NULL) {
		if (e->vlen == 12 && strncasecmp(e->val, "100-continue", 12) == 0)
			q->expect_continue = q->minor == 1;
		else
			return 417;
	}
	q->keep_alive = http_should_keep_alive(&r->parser) != 0;
	q->upgrade = r->parser.upgrade != 0;
	return 0;
}

/* An unknown method is 501 when the request line is well formed. */
static int
method_error(const struct http_reader *r)
{
	return request_line_ok(r) ? 501 : 400;
}

/* Maps a parser error to the status we answer. */
static int
parse_error(struct http_reader *r, enum http_errno e)
{
	switch (e) {
	case HPE_HEADER_OVERFLOW:
		return 431;
	case HPE_CB_header_field:
	case HPE_CB_header_value:
		return 431;	/* too many header fields, or trailers too big */
	case HPE_INVALID_TRANSFER_ENCODING:
		return check_te(r) == 501 ? 501 : 400;
	default:
		return 400;
	}
}

int
http_parse_head(struct http_reader *r)
{
	size_t n, lim;
	enum http_errno e;
	int rc;

	/* Only the bytes within the limit are looked at, so that the answer
	 * does not depend on how the input arrives. */
	lim = r->len < r->max_head ? r->len : r->max_head;
	if (r->bad_method) {
		/* Judged on the whole request line, however it arrives. */
		size_t s = 0;

		while (s < lim && (r->buf[s] == '\r' || r->buf[s] == '\n'))
			s++;
		if (memchr(r->buf + s, '\n', lim - s) != NULL ||
		    lim == r->max_head || r->len == r->cap)
			return method_error(r);
		return PARSE_AGAIN;
	}
	if (r->pos < lim && !r->head_done) {
		n = http_parser_execute(&r->parser, &settings, r->buf + r->pos,
		    lim - r->pos);
		r->pos += n;
		e = HTTP_PARSER_ERRNO(&r->parser);
		if (e == HPE_PAUSED) {
			http_parser_pause(&r->parser, 0);
			/* Paused on the final LF, which is not consumed. */
			r->req.head_len = r->pos + 1;
		} else if ((e == HPE_INVALID_TRANSFER_ENCODING ||
		    e == HPE_UNEXPECTED_CONTENT_LENGTH) && r->pos >= 3 &&
		    r->pos < lim && r->buf[r->pos] == '\n' &&
		    memcmp(r->buf + r->pos - 3, "\r\n\r", 3) == 0) {
			/* http-parser's opinion on framing, at the end of the
			 * head: we frame bodies ourselves and judge the same
			 * fields in check_head(), more strictly. */
			r->head_done = true;
			r->req.head_len = r->pos + 1;
		} else if (e == HPE_INVALID_METHOD) {
			r->bad_method = true;
			return http_parse_head(r);
		} else if (e != HPE_OK)
			return parse_error(r, e);
	}
	if (!r->head_done) {
		if (r->len >= r->max_head || r->len == r->cap)
			return too_large(r);
		return PARSE_AGAIN;
	}
	r->in_head = false;
	if ((rc = check_head(r)) != 0)
		return rc;
	/* The body is framed by chunk_step() from the byte after the head. */
	r->pos = r->req.head_len;
	chunk_start(&r->b, r->req.chunked, r->req.content_length, r->max_body,
	    r->max_head);
	return PARSE_HEAD;
}

/* The reader's results are chunk_step()'s where they meet. */
_Static_assert((int)PARSE_AGAIN == (int)CHUNK_AGAIN &&
    (int)PARSE_BODY == (int)CHUNK_DATA && (int)PARSE_DONE == (int)CHUNK_DONE,
    "http_result and chunk_result differ");

int
http_parse_body(struct http_reader *r, const char **p, size_t *n)
{
	int rc;

	rc = chunk_step(&r->b, r->buf, r->len, &r->pos, p, n);
	if (rc == PARSE_BODY)
		r->body_read += (long long)*n;
	else if (rc == PARSE_DONE)
		r->done = true;
	return rc;
}

bool
http_body_buffered(const struct http_reader *r)
{
	struct chunk b = r->b;
	size_t pos = r->pos;

	return r->done || chunk_frame(&b, r->buf, r->len, &pos) == CHUNK_DONE;
}

void
http_next(struct http_reader *r)
{
	size_t rest = r->len - r->pos;

	if (rest > 0 && r->pos > 0)
		memmove(r->buf, r->buf + r->pos, rest);
	r->len = rest;
	r->pos = 0;
	reset_request(r);
}

int
http_target_split(const struct http_req *q, const char **p, size_t *len,
    const char **query, size_t *qlen)
{
	const char *t = q->target, *end = q->target + q->target_len, *s;

	if (*t != '/') {
		if (q->target_len > 7 && strncasecmp(t, "http://", 7) == 0)
			t += 7;
		else if (q->target_len > 8 && strncasecmp(t, "https://", 8) == 0)
			t += 8;
		else
			return 400;
		while (t < end && *t != '/' && *t != '?')
			t++;
		if (t == end || *t != '/')
			t = "/", end = t + 1;
	}
	for (s = t; s < end && *s != '?' && *s != '#'; s++)
		;
	*p = t;
	*len = (size_t)(s - t);
	*query = s < end && *s == '?' ? s : NULL;
	*qlen = *query ? (size_t)(end - s) : 0;
	if (*qlen > 0) {
		const char *hash = memchr(*query, '#', *qlen);

		if (hash != NULL)
			*qlen = (size_t)(hash - *query);
	}
	return 0;
}
