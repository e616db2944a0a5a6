/*
 * http - request framing on top of http-parser, plus the checks that make
 * the framing unambiguous (RFC 9112 section 6.3 and the usual smuggling
 * vectors): the parser is paused at the end of the head, at each body
 * piece and at the end of the message, so a caller sees one event at a
 * time and pipelined input stays in the buffer for the next request.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "http.h"

static int on_url(http_parser *, const char *, size_t);
static int on_header_field(http_parser *, const char *, size_t);
static int on_header_value(http_parser *, const char *, size_t);
static int on_headers_complete(http_parser *);
static int on_body(http_parser *, const char *, size_t);
static int on_chunk_header(http_parser *);
static int on_message_complete(http_parser *);

static const http_parser_settings settings = {
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_chunk_header = on_chunk_header,
	.on_message_complete = on_message_complete,
};

/* RFC 9110 tchar. */
static const unsigned char tchar[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
	['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
	['`'] = 1, ['|'] = 1, ['~'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
	['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
	['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
	['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
	['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
	['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
	['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
	['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
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
	r->body_declared = 0;
	r->body_wire = 0;
	r->trailer_bytes = 0;
	r->piece = NULL;
	r->piece_len = 0;
	r->in_head = true;
	r->last_was_value = true;
	r->head_done = r->done = r->te_unknown = r->bad_method = false;
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

	if (r->head_done) {		/* trailer fields are counted, not kept */
		r->trailer_bytes += len;
		return r->trailer_bytes > r->max_head ? -1 : 0;
	}
	if (r->last_was_value) {
		if (r->req.nhdr == MAX_HEADERS)
			return -1;
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

	if (r->head_done) {
		r->trailer_bytes += len;
		return r->trailer_bytes > r->max_head ? -1 : 0;
	}
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

static int
on_body(http_parser *p, const char *at, size_t len)
{
	struct http_reader *r = p->data;

	r->piece = at;
	r->piece_len = len;
	http_parser_pause(p, 1);
	return 0;
}

/* A chunk's size is known before its data: refuse an oversize body early. */
static int
on_chunk_header(http_parser *p)
{
	struct http_reader *r = p->data;

	r->body_declared += (long long)p->content_length;
	if (p->content_length > (uint64_t)r->max_body ||
	    r->body_declared > r->max_body)
		return -1;
	return 0;
}

static int
on_message_complete(http_parser *p)
{
	struct http_reader *r = p->data;

	r->done = true;
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
static int
check_raw(const struct http_reader *r)
{
	const unsigned char *s = (const unsigned char *)r->buf;
	size_t i, n = r->req.head_len;

	for (i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (c >= 0x20 && c != 0x7f)
			continue;
		if (c == '\t')
			continue;
		if (c == '\r' && i + 1 < n && s[i + 1] == '\n') {
			i++;
			if (i + 1 < n && (s[i + 1] == ' ' || s[i + 1] == '\t'))
				return 400;	/* obs-fold */
			continue;
		}
		return 400;		/* bare CR, bare LF, NUL, other CTL */
	}
	return 0;
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
	if ((rc = check_raw(r)) != 0)
		return rc;
	if (q->major == 0)
		return 400;		/* HTTP/0.9 has no place here */
	if (q->major != 1 || q->minor > 1)
		return 505;
	if (q->target == NULL || q->target_len == 0)
		return 400;
	if ((rc = classify(q)) != 0)
		return rc;
	if (q->minor == 1 && !q->known[HK_HOST])
		return 400;
	if ((rc = check_te(r)) != 0)
		return rc;
	if ((rc = check_content_length(r)) != 0)
		return rc;
	if (q->chunked && (q->content_length != -1 || q->minor == 0))
		return 400;
	/* Our reading of the framing must be http-parser's. */
	if (q->chunked != ((r->parser.flags & F_CHUNKED) != 0))
		return 400;
	if (!q->chunked && q->content_length != -1 &&
	    (unsigned long long)q->content_length != r->parser.content_length)
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

/*
 * An unknown method is 501 only when the request line is otherwise well
 * formed ("TOKEN SP target SP HTTP/d.d CRLF"); any other line is 400.
 */
static int
method_error(const struct http_reader *r)
{
	const char *s = r->buf, *end = r->buf + r->len, *lf, *sp;

	while (s < end && (*s == '\r' || *s == '\n'))
		s++;
	if ((lf = memchr(s, '\n', (size_t)(end - s))) == NULL)
		return 400;		/* no line within the limit */
	for (sp = s; sp < lf && tchar[(unsigned char)*sp]; sp++)
		;
	if (sp == s || sp == lf || *sp != ' ')
		return 400;
	for (sp++; sp < lf && *sp != ' ' && *sp > 0x20 && *sp != 0x7f; sp++)
		;
	if (sp == lf || *sp != ' ')
		return 400;
	sp++;
	if (lf - sp != 9 || memcmp(sp, "HTTP/", 5) != 0 ||
	    !isdigit((unsigned char)sp[5]) || sp[6] != '.' ||
	    !isdigit((unsigned char)sp[7]) || sp[8] != '\r')
		return 400;
	return 501;
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
	size_t n;
	enum http_errno e;

	if (r->bad_method) {
		/* Judged on the whole request line, however it arrives. */
		if (memchr(r->buf, '\n', r->len) != NULL || r->len == r->cap ||
		    r->len >= r->max_head)
			return method_error(r);
		return PARSE_AGAIN;
	}
	if (r->pos < r->len && !r->head_done) {
		n = http_parser_execute(&r->parser, &settings, r->buf + r->pos,
		    r->len - r->pos);
		r->pos += n;
		e = HTTP_PARSER_ERRNO(&r->parser);
		if (e == HPE_PAUSED) {
			http_parser_pause(&r->parser, 0);
			/* Paused on the final LF, which is not consumed. */
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
	n = (size_t)check_head(r);
	return n != 0 ? (int)n : PARSE_HEAD;
}

int
http_parse_body(struct http_reader *r, const char **p, size_t *n)
{
	size_t k;
	enum http_errno e;

	for (;;) {
		if (r->piece_len > 0) {
			*p = r->piece;
			*n = r->piece_len;
			r->piece_len = 0;
			r->body_read += (long long)*n;
			if (r->body_read > r->max_body)
				return 413;
			return PARSE_BODY;
		}
		if (r->done)
			return PARSE_DONE;
		if (r->pos == r->len)
			return PARSE_AGAIN;
		k = http_parser_execute(&r->parser, &settings, r->buf + r->pos,
		    r->len - r->pos);
		r->pos += k;
		r->body_wire += k;
		e = HTTP_PARSER_ERRNO(&r->parser);
		if (e == HPE_PAUSED)
			http_parser_pause(&r->parser, 0);
		else if (e == HPE_CB_chunk_header)
			return 413;
		else if (e != HPE_OK)
			return parse_error(r, e) == 431 ? 431 : 400;
		/* Chunk framing (extensions, sizes) may not dwarf the data. */
		if (r->body_wire > r->max_head + 2 * (size_t)r->body_read +
		    r->piece_len + 64)
			return 400;
	}
}

static int
lookahead_done(http_parser *p)
{
	*(bool *)p->data = true;
	return 0;
}

bool
http_body_buffered(const struct http_reader *r)
{
	static const http_parser_settings ahead = {
		.on_message_complete = lookahead_done,
	};
	http_parser copy;
	bool done = false;

	if (r->done)
		return true;
	if (HTTP_PARSER_ERRNO(&r->parser) != HPE_OK &&
	    HTTP_PARSER_ERRNO(&r->parser) != HPE_PAUSED)
		return false;		/* a framing error: nothing to drain */
	copy = r->parser;
	copy.data = &done;
	http_parser_pause(&copy, 0);
	(void)http_parser_execute(&copy, &ahead, r->buf + r->pos,
	    r->len - r->pos);
	return done && HTTP_PARSER_ERRNO(&copy) == HPE_OK;
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
