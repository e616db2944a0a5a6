/*
 * fuzz_http - libFuzzer target for the request reader (common/http.c).
 *
 * Input: byte 0 picks how the stream is fed (all at once, or pieces of
 * 1..64 bytes) and the limits (max_head, max_body); the rest is what a
 * client sends on one connection. The stream is read as the worker reads
 * it: a head, its body read and dropped, http_next() before the next
 * pipelined request; an error status or an upgrade ends the connection.
 *
 * Invariants, each an abort() with a message on stderr when broken:
 *  a. the events (heads, bodies, errors, where input ran out) are the same
 *     whether the stream arrives whole or in pieces of the picked size;
 *  b. an accepted request written out again in canonical form (one
 *     "Name: value" line per field, the body framed by Content-Length)
 *     reads back as the same method, target, version, fields and body;
 *  c. no smuggling shape is accepted: an independent strict reader of the
 *     raw bytes (below) must agree on the framing of every accepted head
 *     and on every chunked body the reader completes;
 *  d. body bytes handed out never exceed max_body, and every pointer the
 *     reader hands out lies inside the bytes it was given.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Limit sets picked by byte 0 / 65: tight ones make the edges reachable. */
static const struct {
	size_t		max_head;
	long long	max_body;
} limits[4] = {
	{ 256, 0 },
	{ 512, 16 },
	{ 1024, 4096 },
	{ 4096, 1048576 },
};

/* A growable byte string: traces, bodies, canonical requests. */
struct bytes {
	unsigned char	*p;
	size_t		 len, cap;
};

/* What an accepted head said, copied out of the reader's buffer. */
struct saved {
	struct bytes	 head;		/* the raw head bytes */
	int		 method, major, minor;
	size_t		 target_off, target_len;
	size_t		 noff[MAX_HEADERS], nlen[MAX_HEADERS];
	size_t		 voff[MAX_HEADERS], vlen[MAX_HEADERS];
	const char	*vlit[MAX_HEADERS];	/* "" when the value is empty */
	int		 nhdr;
	long long	 content_length;
	bool		 chunked, upgrade;
};

/* One pass over the stream with one feeding step. */
struct run {
	const unsigned char *in;
	size_t		 len, fed;
	size_t		 step;		/* 0: as much as fits */
	size_t		 max_head;
	long long	 max_body;
	char		*buf;
	size_t		 cap;
	struct http_reader r;
	struct bytes	 trace;
	struct bytes	 body;		/* this request's body so far */
	size_t		 req_start;	/* where this request starts */
	struct saved	 sv;
};

static const struct run *current;	/* for failure messages */

static void fail(const char *, ...) __attribute__((format(printf, 1, 2),
    noreturn));

static void
fail(const char *fmt, ...)
{
	va_list ap;

	if (current != NULL)
		fprintf(stderr, "fuzz_http: reading in steps of %zu (0: whole), "
		    "max_head %zu, max_body %lld\n", current->step,
		    current->max_head, current->max_body);
	fputs("fuzz_http: invariant broken: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static void
put(struct bytes *b, const void *p, size_t n)
{
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap - b->len < n)
			cap *= 2;
		if ((b->p = realloc(b->p, cap)) == NULL)
			abort();
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void
put_str(struct bytes *b, const char *s)
{
	put(b, s, strlen(s));
}

/* A tagged event in a trace: tag, number, then a length-prefixed string. */
static void
event(struct bytes *t, char tag, long long num, const void *p, size_t n)
{
	uint64_t len = n;

	put(t, &tag, 1);
	put(t, &num, sizeof(num));
	put(t, &len, sizeof(len));
	put(t, p, n);
}

static const char *show(const void *, size_t);

/* Prints a trace, one event a line, for a failure message. */
static void
dump(const char *title, const struct bytes *t)
{
	size_t i = 0;

	fprintf(stderr, "  %s:\n", title);
	while (i + 1 + 2 * sizeof(uint64_t) <= t->len) {
		long long num;
		uint64_t len;

		memcpy(&num, t->p + i + 1, sizeof(num));
		memcpy(&len, t->p + i + 1 + sizeof(num), sizeof(len));
		fprintf(stderr, "    %c %lld \"%s\"\n", t->p[i], num,
		    show(t->p + i + 1 + 2 * sizeof(num), (size_t)len));
		i += 1 + 2 * sizeof(num) + (size_t)len;
	}
}

/* Escapes s for a message on stderr; returns a static buffer. */
static const char *
show(const void *p, size_t n)
{
	static char out[4 * 512 + 16];
	const unsigned char *s = p;
	size_t o = 0;

	for (size_t i = 0; i < n && o < sizeof(out) - 16; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\')
			out[o++] = (char)s[i];
		else
			o += (size_t)snprintf(out + o, sizeof(out) - o,
			    "\\x%02x", s[i]);
	}
	if (o >= sizeof(out) - 16)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "...");
	out[o] = '\0';
	return out;
}

static bool
ieq(const void *a, size_t alen, const char *b)
{
	return alen == strlen(b) && strncasecmp(a, b, alen) == 0;
}

static bool
is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || (c != 0 && strchr("!#$%&'*+-.^_`|~", c));
}

static bool
is_ctl(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

static int
hexdig(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Finds the CRLF that ends the line starting at s[i] (n bytes in all).
 * Returns the line's length, or -1 when no CRLF follows. A bare CR or LF
 * inside the line is left for the caller to see.
 */
static long
line_len(const unsigned char *s, size_t n, size_t i)
{
	for (size_t e = i; e + 1 < n; e++)
		if (s[e] == '\r' && s[e + 1] == '\n')
			return (long)(e - i);
	return -1;
}

/* What the strict reader makes of a head's framing fields. */
struct framing {
	bool		 te;		/* a Transfer-Encoding field */
	bool		 chunked;	/* ... ending with chunked */
	long long	 cl;		/* -1: no Content-Length */
};

/*
 * Checks a request line: method, one or more SP (RFC 9112 section 3 lets a
 * recipient accept more than one), a target without whitespace or control
 * bytes, SP, "HTTP/" DIGIT "." DIGIT. Returns NULL or what is wrong: a bad
 * version is class "version" (the line is not what the reader took it
 * for), a bad target "request-line".
 */
static const char *
strict_request_line(const unsigned char *l, size_t len)
{
	size_t i, b;

	if (len < 9 || memcmp(l + len - 9, " HTTP/", 6) != 0 ||
	    l[len - 3] < '0' || l[len - 3] > '9' || l[len - 2] != '.' ||
	    l[len - 1] < '0' || l[len - 1] > '9')
		return "version: the request line does not end with "
		    "SP HTTP/DIGIT.DIGIT";
	len -= 9;
	while (len > 0 && l[len - 1] == ' ')
		len--;
	for (i = 0; i < len && is_tchar(l[i]); i++)
		;
	if (i == 0 || i == len || l[i] != ' ')
		return "request-line: bad method or separator";
	while (i < len && l[i] == ' ')
		i++;
	for (b = i; i < len && l[i] > ' ' && l[i] != 0x7f; i++)
		;
	if (i == b || i != len)
		return "request-line: whitespace or control byte in the target";
	return NULL;
}

/*
 * The independent strict reading of a raw head (RFC 9112 sections 2-6),
 * written without looking at how common/http.c does it. Fills f and returns
 * NULL, or names the shape that must never be accepted, prefixed with its
 * class: "cl", "te", "cl-te", "fold", "version", "request-line" or "head"
 * for the rest. A request-line shape leaves f filled.
 */
static const char *
strict_head(const unsigned char *h, size_t n, struct framing *f)
{
	size_t i = 0;
	long len;
	bool first = true;
	bool te_chunked = false;
	const char *rl = NULL;

	f->te = f->chunked = false;
	f->cl = -1;
	while (i + 1 < n && h[i] == '\r' && h[i + 1] == '\n')
		i += 2;		/* empty lines before a request */
	for (;;) {
		const unsigned char *l = h + i, *colon;
		size_t nl, vb, ve;

		if ((len = line_len(h, n, i)) < 0)
			return "head: does not end with CRLF CRLF";
		i += (size_t)len + 2;
		if (memchr(l, '\r', (size_t)len) ||
		    memchr(l, '\n', (size_t)len))
			return "head: bare CR or LF";
		for (long k = 0; k < len; k++)
			if (is_ctl(l[k]))
				return "head: control byte";
		if (first) {
			first = false;
			rl = strict_request_line(l, (size_t)len);
			if (rl != NULL && strncmp(rl, "version:", 8) == 0)
				return rl;
			continue;
		}
		if (len == 0)
			break;
		if (l[0] == ' ' || l[0] == '\t')
			return "fold: obs-fold (a line starting with SP or HT)";
		if ((colon = memchr(l, ':', (size_t)len)) == NULL)
			return "head: field line without a colon";
		nl = (size_t)(colon - l);
		if (nl == 0)
			return "head: empty field name";
		for (size_t k = 0; k < nl; k++)
			if (!is_tchar(l[k]))
				return "head: field name is not a token "
				    "(whitespace before the colon?)";
		vb = nl + 1;
		ve = (size_t)len;
		while (vb < ve && (l[vb] == ' ' || l[vb] == '\t'))
			vb++;
		while (ve > vb && (l[ve - 1] == ' ' || l[ve - 1] == '\t'))
			ve--;
		if (ieq(l, nl, "content-length")) {
			long long v = 0;

			if (vb == ve)
				return "cl: empty Content-Length";
			for (size_t k = vb; k < ve; k++) {
				if (l[k] < '0' || l[k] > '9')
					return "cl: Content-Length is not "
					    "1*DIGIT";
				if (v > (INT64_MAX - 9) / 10)
					return "cl: Content-Length overflows";
				v = v * 10 + (l[k] - '0');
			}
			if (f->cl != -1 && f->cl != v)
				return "cl: differing Content-Length fields";
			f->cl = v;
		} else if (ieq(l, nl, "transfer-encoding")) {
			/* One list across all fields: the last element. */
			size_t k = vb;

			f->te = true;
			while (k < ve) {
				size_t b, e;

				while (k < ve && (l[k] == ' ' || l[k] == '\t'))
					k++;
				b = k;
				while (k < ve && l[k] != ',')
					k++;
				e = k;
				while (e > b && (l[e - 1] == ' ' ||
				    l[e - 1] == '\t'))
					e--;
				if (k < ve)
					k++;
				if (e > b)	/* skip empty elements */
					te_chunked = ieq(l + b, e - b,
					    "chunked");
			}
		}
	}
	if (i != n)
		return "head: ends before the reader's head_len";
	if (f->te && f->cl != -1)
		return "cl-te: both Content-Length and Transfer-Encoding";
	if (f->te && !te_chunked)
		return "te: Transfer-Encoding whose last coding is not "
		    "chunked";
	f->chunked = f->te;
	return rl;
}

/*
 * The strict reading of a chunked body (RFC 9112 section 7.1): w must be
 * exactly one chunked body, trailers included. Appends the data to out and
 * returns NULL, or names what is wrong.
 */
static const char *
strict_chunked(const unsigned char *w, size_t n, struct bytes *out)
{
	size_t i = 0;
	long len;

	for (;;) {
		uint64_t size = 0;
		size_t d = i, j;

		for (; i < n && hexdig(w[i]) >= 0; i++) {
			if (size > (UINT64_MAX >> 4))
				return "chunk-line: chunk size overflows";
			size = size * 16 + (uint64_t)hexdig(w[i]);
		}
		if (i == d)
			return "chunk-line: bad chunk size, not 1*HEXDIG";
		for (j = i; j < n && (w[j] == ' ' || w[j] == '\t'); j++)
			;
		if (j < n && w[j] == ';') {
			/* chunk-ext: what it says is ignored; its bytes
			 * still may not end or break the line */
			for (i = j; i < n && w[i] != '\r' && w[i] != '\n'; i++)
				if (is_ctl(w[i]))
					return "chunk-line: control byte in "
					    "an extension";
		} else if (j < n && w[j] != '\r')
			return "chunk-line: bad chunk size, followed by "
			    "something other than an extension";
		else if (j != i)
			return "chunk-line: bad chunk size, trailing "
			    "whitespace without an extension";
		if (i + 1 >= n || w[i] != '\r' || w[i + 1] != '\n')
			return "chunk-line: does not end with CRLF";
		i += 2;
		if (size == 0)
			break;
		if (n - i < size || n - i - size < 2)
			return "chunk-data: runs past the end of the request";
		put(out, w + i, (size_t)size);
		i += (size_t)size;
		if (w[i] != '\r' || w[i + 1] != '\n')
			return "chunk-data: not followed by CRLF";
		i += 2;
	}
	for (;;) {
		const unsigned char *l = w + i, *colon;

		if ((len = line_len(w, n, i)) < 0)
			return "trailer: section does not end with CRLF CRLF";
		i += (size_t)len + 2;
		if (len == 0)
			break;
		for (long k = 0; k < len; k++)
			if (is_ctl(l[k]) || l[k] == '\r' || l[k] == '\n')
				return "trailer: control byte or bare CR/LF";
		if (l[0] == ' ' || l[0] == '\t')
			return "trailer: obs-fold";
		if ((colon = memchr(l, ':', (size_t)len)) == NULL ||
		    colon == l)
			return "trailer: line without a field name and colon";
		for (const unsigned char *k = l; k < colon; k++)
			if (!is_tchar(*k))
				return "trailer: field name is not a token";
	}
	if (i != n)
		return "chunk-data: the reader ended the body before its "
		    "real end";
	return NULL;
}

/*
 * FUZZ_HTTP_TOLERATE turns checks off, so that a campaign can go on looking
 * for other bugs while a known one is being fixed. It is a comma list of
 * the classes of the strict reading above (cl, te, cl-te, fold, head,
 * version, request-line, chunk-line, chunk-data, trailer), of "bodiless"
 * (a head without a body may be followed by an error), "canonical" (the
 * canonical form of an accepted request may be rejected), "status" (the
 * error status, not where the error is, may depend on how the input was
 * split), or "all". Unset: everything is checked.
 */
static bool
tolerated(const char *why)
{
	static const char *list;
	static bool loaded;
	size_t n = strcspn(why, ":");
	const char *p;

	if (!loaded) {
		list = getenv("FUZZ_HTTP_TOLERATE");
		loaded = true;
	}
	for (p = list; p != NULL && *p != '\0'; p += strcspn(p, ","),
	    p += *p == ',') {
		size_t k = strcspn(p, ",");

		if ((k == n && strncmp(p, why, n) == 0) ||
		    (k == 3 && strncmp(p, "all", 3) == 0))
			return true;
	}
	return false;
}

/* True when p..p+n lies inside lo..hi (n == 0: p may be anywhere). */
static bool
inside(const void *p, size_t n, const void *lo, const void *hi)
{
	const char *c = p;

	if (n == 0)
		return true;
	return c >= (const char *)lo && c <= (const char *)hi &&
	    n <= (size_t)((const char *)hi - c);
}

static bool
framing_field(const char *name, size_t len)
{
	return ieq(name, len, "content-length") ||
	    ieq(name, len, "transfer-encoding");
}

/* Checks and records an accepted head (invariants c, d), and saves it. */
static void
on_head(struct run *x)
{
	const struct http_req *q = &x->r.req;
	const char *lo = x->buf, *hi = x->buf + q->head_len;
	struct saved *sv = &x->sv;
	struct framing f;
	const char *why;
	long long flags;

	if (q->head_len == 0 || q->head_len > x->r.len ||
	    q->head_len > x->max_head)
		fail("head_len %zu (buffered %zu, max_head %zu)", q->head_len,
		    x->r.len, x->max_head);
	if (x->req_start + q->head_len > x->fed ||
	    memcmp(x->buf, x->in + x->req_start, q->head_len) != 0)
		fail("the head in the buffer is not the bytes received");
	if (!inside(q->target, q->target_len, lo, hi) || q->target_len == 0)
		fail("target outside the head");
	if (q->nhdr < 0 || q->nhdr > MAX_HEADERS)
		fail("nhdr %d", q->nhdr);
	for (int h = 0; h < q->nhdr; h++)
		if (!inside(q->hdr[h].name, q->hdr[h].nlen, lo, hi) ||
		    q->hdr[h].nlen == 0 || q->hdr[h].val == NULL ||
		    !inside(q->hdr[h].val, q->hdr[h].vlen, lo, hi))
			fail("field %d outside the head", h);
	for (int k = 0; k < HK_MAX; k++)
		if (q->known[k] < 0 || q->known[k] > q->nhdr)
			fail("known[%d] = %d with %d fields", k, q->known[k],
			    q->nhdr);

	why = strict_head((const unsigned char *)x->buf, q->head_len, &f);
	if (why != NULL && !tolerated(why))
		fail("accepted a head with %s: \"%s\"", why,
		    show(x->buf, q->head_len));
	/* A head the strict reading gave up on has no framing to compare. */
	if ((why == NULL || strncmp(why, "request-line:", 13) == 0) &&
	    (f.chunked != q->chunked || f.cl != q->content_length))
		fail("framing: reader says chunked=%d length=%lld, strict "
		    "reading says chunked=%d length=%lld: \"%s\"", q->chunked,
		    q->content_length, f.chunked, f.cl,
		    show(x->buf, q->head_len));
	if (q->content_length > x->max_body)
		fail("accepted Content-Length %lld over max_body %lld",
		    q->content_length, x->max_body);

	/* Invariant a: everything the head says goes into the trace. */
	flags = q->chunked | q->keep_alive << 1 | q->expect_continue << 2 |
	    q->upgrade << 3;
	event(&x->trace, 'H', q->method * 100 + q->major * 10 + q->minor,
	    q->target, q->target_len);
	event(&x->trace, 'h', (long long)q->head_len, NULL, 0);
	event(&x->trace, 'l', q->content_length, NULL, 0);
	event(&x->trace, 'f', flags, NULL, 0);
	for (int h = 0; h < q->nhdr; h++) {
		event(&x->trace, 'n', h, q->hdr[h].name, q->hdr[h].nlen);
		event(&x->trace, 'v', h, q->hdr[h].val, q->hdr[h].vlen);
	}
	for (int k = 0; k < HK_MAX; k++)
		event(&x->trace, 'k', q->known[k], NULL, 0);

	sv->head.len = 0;
	put(&sv->head, x->buf, q->head_len);
	sv->method = q->method;
	sv->major = q->major;
	sv->minor = q->minor;
	sv->target_off = (size_t)(q->target - x->buf);
	sv->target_len = q->target_len;
	sv->nhdr = q->nhdr;
	for (int h = 0; h < q->nhdr; h++) {
		sv->noff[h] = (size_t)(q->hdr[h].name - x->buf);
		sv->nlen[h] = q->hdr[h].nlen;
		sv->vlit[h] = q->hdr[h].vlen == 0 ? "" : NULL;
		sv->voff[h] = q->hdr[h].vlen == 0 ? 0 :
		    (size_t)(q->hdr[h].val - x->buf);
		sv->vlen[h] = q->hdr[h].vlen;
	}
	sv->content_length = q->content_length;
	sv->chunked = q->chunked;
	sv->upgrade = q->upgrade;
}

static const char *
sv_name(const struct saved *sv, int h)
{
	return (const char *)sv->head.p + sv->noff[h];
}

static const char *
sv_val(const struct saved *sv, int h)
{
	if (sv->vlit[h] != NULL)
		return sv->vlit[h];
	return (const char *)sv->head.p + sv->voff[h];
}

/*
 * Invariant b: writes the saved request out in canonical form and reads it
 * back with a fresh reader whose max_head is exactly the canonical head.
 */
static void
canonical_check(struct run *x)
{
	const struct saved *sv = &x->sv;
	struct bytes c = { 0 }, got = { 0 };
	struct http_reader r;
	const struct http_req *q = &r.req;
	char num[32], *buf;
	size_t head_len, room;
	bool framed = sv->chunked || sv->content_length != -1;
	int rc, k = 0;

	put_str(&c, http_method_str((enum http_method)sv->method));
	put(&c, " ", 1);
	put(&c, sv->head.p + sv->target_off, sv->target_len);
	snprintf(num, sizeof(num), " HTTP/%d.%d\r\n", sv->major, sv->minor);
	put_str(&c, num);
	for (int h = 0; h < sv->nhdr; h++) {
		if (framing_field(sv_name(sv, h), sv->nlen[h]))
			continue;
		put(&c, sv_name(sv, h), sv->nlen[h]);
		put(&c, ": ", 2);
		put(&c, sv_val(sv, h), sv->vlen[h]);
		put(&c, "\r\n", 2);
	}
	if (framed) {
		snprintf(num, sizeof(num), "Content-Length: %zu\r\n",
		    x->body.len);
		put_str(&c, num);
	}
	put(&c, "\r\n", 2);
	head_len = c.len;
	put(&c, x->body.p, x->body.len);

	if ((buf = malloc(c.len + 1)) == NULL)
		abort();
	http_reader_init(&r, buf, c.len + 1, head_len, (long long)x->body.len);
	memcpy(http_space(&r, &room), c.p, c.len);
	http_filled(&r, c.len);
	if ((rc = http_parse_head(&r)) != PARSE_HEAD) {
		if (tolerated("canonical:"))
			goto out;
		fail("canonical form rejected (%d): \"%s\"", rc,
		    show(c.p, c.len));
	}
	if ((int)q->method != sv->method || q->major != sv->major ||
	    q->minor != sv->minor || q->target_len != sv->target_len ||
	    memcmp(q->target, sv->head.p + sv->target_off, sv->target_len) != 0)
		fail("canonical form reads back with another request line: "
		    "\"%s\"", show(c.p, c.len));
	for (int h = 0; h < sv->nhdr; h++) {
		if (framing_field(sv_name(sv, h), sv->nlen[h]))
			continue;
		while (k < q->nhdr && framing_field(q->hdr[k].name,
		    q->hdr[k].nlen))
			k++;
		if (k == q->nhdr || q->hdr[k].nlen != sv->nlen[h] ||
		    q->hdr[k].vlen != sv->vlen[h] ||
		    memcmp(q->hdr[k].name, sv_name(sv, h), sv->nlen[h]) != 0 ||
		    memcmp(q->hdr[k].val, sv_val(sv, h), sv->vlen[h]) != 0)
			fail("canonical form reads back with another field %d: "
			    "\"%s\"", h, show(c.p, c.len));
		k++;
	}
	while (k < q->nhdr && framing_field(q->hdr[k].name, q->hdr[k].nlen))
		k++;
	if (k != q->nhdr)
		fail("canonical form reads back with extra fields: \"%s\"",
		    show(c.p, c.len));
	if (q->chunked || q->content_length != (framed ?
	    (long long)x->body.len : -1))
		fail("canonical form reads back with other framing: \"%s\"",
		    show(c.p, c.len));
	for (;;) {
		const char *p;
		size_t n;

		rc = http_parse_body(&r, &p, &n);
		if (rc == PARSE_DONE)
			break;
		if (rc != PARSE_BODY) {
			if (tolerated("canonical:"))
				goto out;
			fail("canonical form: body gives %d: \"%s\"", rc,
			    show(c.p, c.len));
		}
		if (!inside(p, n, buf, buf + c.len))
			fail("canonical form: body piece outside the buffer");
		put(&got, p, n);
	}
	if (got.len != x->body.len || (got.len > 0 &&
	    memcmp(got.p, x->body.p, got.len) != 0))
		fail("canonical form reads back with another body: \"%s\"",
		    show(c.p, c.len));
	if (http_pending(&r) != 0)
		fail("canonical form leaves %zu bytes unread: \"%s\"",
		    http_pending(&r), show(c.p, c.len));
out:
	free(buf);
	free(c.p);
	free(got.p);
}

/* A complete request: its wire bytes agree with the strict reading (c). */
static void
on_done(struct run *x)
{
	const struct saved *sv = &x->sv;
	size_t end = x->fed - http_pending(&x->r);
	size_t start = x->req_start + sv->head.len;
	const unsigned char *w = x->in + start;
	size_t n = end - start;
	struct bytes dec = { 0 };
	const char *why;

	if (end < start)
		fail("request ends inside its own head");
	if (sv->method == HTTP_CONNECT) {
		/* The rest of the stream is another protocol. */
		if (x->body.len != 0)
			fail("CONNECT with body bytes");
	} else if (sv->chunked) {
		why = strict_chunked(w, n, &dec);
		if (why != NULL && !tolerated(why))
			fail("completed a chunked body with %s: \"%s\"", why,
			    show(w, n));
		if (why == NULL && (dec.len != x->body.len || (dec.len > 0 &&
		    memcmp(dec.p, x->body.p, dec.len) != 0)))
			fail("chunked body decoded differently: \"%s\"",
			    show(w, n));
	} else {
		size_t want = sv->content_length == -1 ? 0 :
		    (size_t)sv->content_length;

		if (n != want || x->body.len != want || (want > 0 &&
		    memcmp(w, x->body.p, want) != 0))
			fail("a %zu-byte body took %zu bytes of the stream and "
			    "gave %zu", want, n, x->body.len);
	}
	free(dec.p);
	canonical_check(x);
}

/* Appends up to one step of input. Returns false when the stream is over. */
static bool
feed(struct run *x)
{
	size_t room, n;
	char *sp;

	if (x->fed == x->len)
		return false;
	sp = http_space(&x->r, &room);
	if (room == 0)
		fail("the reader wants input but has no room (len %zu, "
		    "cap %zu)", x->r.len, x->cap);
	if (sp < x->buf || room > x->cap || sp + room != x->buf + x->cap)
		fail("http_space() outside the buffer");
	n = x->step == 0 ? x->len - x->fed : x->step;
	if (n > x->len - x->fed)
		n = x->len - x->fed;
	if (n > room)
		n = room;
	memcpy(sp, x->in + x->fed, n);
	http_filled(&x->r, n);
	x->fed += n;
	return true;
}

static void
check_status(int rc, bool in_body)
{
	static const int head_ok[] = { 400, 413, 414, 417, 431, 501, 505 };
	static const int body_ok[] = { 400, 413, 431 };
	const int *ok = in_body ? body_ok : head_ok;
	size_t n = in_body ? 3 : 7;

	for (size_t i = 0; i < n; i++)
		if (rc == ok[i])
			return;
	fail("%s result %d", in_body ? "http_parse_body" : "http_parse_head",
	    rc);
}

/* Reads the whole stream; the trace is what invariant a compares. */
static void
run(struct run *x)
{
	int rc;

	current = x;
	x->cap = x->max_head + IO_BUF_SIZE;
	if ((x->buf = malloc(x->cap)) == NULL)
		abort();
	http_reader_init(&x->r, x->buf, x->cap, x->max_head, x->max_body);
	for (;;) {
		if (x->fed == x->len && http_pending(&x->r) == 0) {
			event(&x->trace, 'Z', 0, NULL, 0);
			break;
		}
		while ((rc = http_parse_head(&x->r)) == PARSE_AGAIN)
			if (!feed(x)) {
				event(&x->trace, 'M', 0, NULL, 0);
				goto out;
			}
		if (rc != PARSE_HEAD) {
			check_status(rc, false);
			event(&x->trace, 'E', tolerated("status:") ? 0 : rc,
			    NULL, 0);
			break;
		}
		on_head(x);
		x->body.len = 0;
		for (bool first = true;; first = false) {
			const char *p;
			size_t n;

			rc = http_parse_body(&x->r, &p, &n);
			/* The worker completes a request without a body with
			 * one call whose result it ignores (finish_body). */
			if (first && rc != PARSE_DONE && !x->sv.chunked &&
			    x->sv.content_length <= 0 &&
			    !tolerated("bodiless:"))
				fail("a head without a body, then %d from "
				    "http_parse_body: \"%s\"", rc,
				    show(x->sv.head.p, x->sv.head.len));
			if (rc == PARSE_AGAIN) {
				if (feed(x))
					continue;
				event(&x->trace, 'm', 0, x->body.p,
				    x->body.len);
				goto out;
			}
			if (rc == PARSE_DONE)
				break;
			if (rc != PARSE_BODY) {
				check_status(rc, true);
				event(&x->trace, 'e', tolerated("status:") ? 0 :
				    rc, x->body.p, x->body.len);
				goto out;
			}
			if (n == 0 || !inside(p, n, x->buf, x->buf + x->r.len))
				fail("body piece of %zu bytes outside the "
				    "buffered input", n);
			put(&x->body, p, n);
			if ((long long)x->body.len > x->max_body)
				fail("%zu body bytes handed out, max_body %lld",
				    x->body.len, x->max_body);
			if (!x->sv.chunked &&
			    (long long)x->body.len > x->sv.content_length)
				fail("more body than Content-Length");
		}
		event(&x->trace, 'D', 0, x->body.p, x->body.len);
		on_done(x);
		if (x->r.req.upgrade)
			break;	/* the worker closes after an upgrade */
		x->req_start = x->fed - http_pending(&x->r);
		http_next(&x->r);
	}
out:
	free(x->buf);
	free(x->body.p);
	free(x->sv.head.p);
	current = NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run whole, stepped;
	unsigned int pick;

	if (size < 1)
		return 0;
	pick = data[0];
	memset(&whole, 0, sizeof(whole));
	whole.in = data + 1;
	whole.len = size - 1;
	whole.max_head = limits[pick / 65].max_head;
	whole.max_body = limits[pick / 65].max_body;
	stepped = whole;
	stepped.step = pick % 65;
	run(&whole);
	if (stepped.step != 0) {
		run(&stepped);
		if (whole.trace.len != stepped.trace.len ||
		    memcmp(whole.trace.p, stepped.trace.p,
		    whole.trace.len) != 0) {
			fprintf(stderr, "fuzz_http: fed whole and in steps of "
			    "%zu (max_head %zu, max_body %lld), the reader saw "
			    "different things (events: H method*100+version, "
			    "target; n/v fields; D/m/e body at done/more/"
			    "error; E head error; M more; Z end)\n",
			    stepped.step, whole.max_head, whole.max_body);
			dump("whole", &whole.trace);
			dump("in steps", &stepped.trace);
			fail("stream \"%s\"", show(whole.in, whole.len));
		}
		free(stepped.trace.p);
	}
	free(whole.trace.p);
	return 0;
}
