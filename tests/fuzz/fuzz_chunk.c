/*
 * fuzz_chunk - libFuzzer target for the body framing (common/chunk.c),
 * which the worker's reader and the keeper both run.
 *
 * Input: byte 0 picks the limits (max_head, max_body) and the size of the
 * pieces the input is fed in (1..64, or whole); byte 1 picks the framing
 * (chunked, or a Content-Length taken from byte 2); the rest is what a
 * client sends after a head.
 *
 * Invariants, each an abort() with a message on stderr when broken:
 *  a. the result (where the body ends, or which error at which byte, or
 *     that more input is needed) and the data are the same whether the
 *     bytes arrive whole or in pieces: the verdict is a property of the
 *     bytes (the keeper and a worker never read the same splits);
 *  b. chunk_frame() (the keeper's use) ends where chunk_step() (the
 *     worker's) ends, with the same result;
 *  c. a chunked body that completes is one an independent strict reading
 *     (below, RFC 9112 7.1) accepts, with the same data; data pieces lie
 *     inside the input and never add up past max_body.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
	size_t		max_head;
	long long	max_body;
} limits[4] = {
	{ 16, 0 },
	{ 64, 16 },
	{ 256, 4096 },
	{ 4096, 1048576 },
};

static void fail(const char *, ...) __attribute__((format(printf, 1, 2),
    noreturn));

static void
fail(const char *fmt, ...)
{
	va_list ap;

	fputs("fuzz_chunk: invariant broken: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* What one pass saw. */
struct outcome {
	int		 rc;		/* CHUNK_AGAIN (input ran out), DONE, error */
	size_t		 end;		/* pos at the result */
	unsigned char	*data;		/* the data handed out */
	size_t		 ndata;
};

/*
 * Feeds in[0..len) in pieces of step bytes (0: whole): the buffer keeps
 * every byte, as the keeper's does, and the framing goes on from pos.
 */
static void
pass(const unsigned char *in, size_t len, size_t step, bool chunked,
    long long length, size_t max_head, long long max_body, bool frame_only,
    struct outcome *o)
{
	struct chunk b;
	size_t pos = 0, avail = 0;

	memset(o, 0, sizeof(*o));
	if ((o->data = malloc(len + 1)) == NULL)
		abort();
	chunk_start(&b, chunked, length, max_body, max_head);
	for (;;) {
		const char *p;
		size_t n;
		int rc;

		if (frame_only)
			rc = chunk_frame(&b, (const char *)in, avail, &pos);
		else
			rc = chunk_step(&b, (const char *)in, avail, &pos, &p,
			    &n);
		if (pos > avail)
			fail("pos %zu past the %zu bytes given", pos, avail);
		if (rc == CHUNK_DATA) {
			if (n == 0 || p < (const char *)in ||
			    p + n > (const char *)in + avail)
				fail("a data piece outside the input");
			memcpy(o->data + o->ndata, p, n);
			o->ndata += n;
			if ((long long)o->ndata > max_body)
				fail("%zu data bytes, max_body %lld", o->ndata,
				    max_body);
			continue;
		}
		if (rc == CHUNK_AGAIN && pos != avail)
			fail("more wanted with %zu of %zu bytes framed", pos,
			    avail);
		if (rc == CHUNK_AGAIN && avail < len) {
			avail += step == 0 ? len : step;
			if (avail > len)
				avail = len;
			continue;
		}
		if (rc != CHUNK_AGAIN && rc != CHUNK_DONE && rc != 400 &&
		    rc != 413 && rc != 431)
			fail("result %d", rc);
		o->rc = rc;
		o->end = pos;
		return;
	}
}

static bool
is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || (c != 0 && strchr("!#$%&'*+-.^_`|~", c));
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

/* Whether s[i..n) starts with CRLF. */
static bool
crlf(const unsigned char *s, size_t n, size_t i)
{
	return i + 1 < n && s[i] == '\r' && s[i + 1] == '\n';
}

/*
 * The strict reading of a whole chunked body s[0..n), written from RFC
 * 9112 7.1 and not from chunk.c: chunk-size [ BWS ";" ext ] CRLF, data,
 * CRLF, ..., "0" line, trailer field lines, CRLF, and nothing after.
 * Extensions are any visible bytes, SP or HTAB after the ";". Returns NULL
 * with the data in out, or what is wrong.
 */
static const char *
strict_chunked(const unsigned char *s, size_t n, unsigned char *out,
    size_t *nout)
{
	size_t i = 0;

	*nout = 0;
	for (;;) {
		unsigned long long size = 0;
		int digits = 0, d;

		while (i < n && (d = hexdig(s[i])) != -1) {
			if (++digits > 16)
				return "chunk-size of more than 16 digits";
			size = size * 16 + (unsigned)d;
			i++;
		}
		if (digits == 0)
			return "no chunk-size";
		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i < n && s[i] == ';') {
			for (i++; i < n && s[i] != '\r'; i++)
				if ((s[i] < 0x20 && s[i] != '\t') ||
				    s[i] == 0x7f)
					return "a control byte in an extension";
		} else if (i > 0 && (s[i - 1] == ' ' || s[i - 1] == '\t'))
			return "BWS not followed by an extension";
		if (!crlf(s, n, i))
			return "chunk-size line not ended by CRLF";
		i += 2;
		if (size == 0)
			break;
		if (n - i < size || n - i - size < 2)
			return "chunk-data runs past the end";
		memcpy(out + *nout, s + i, (size_t)size);
		*nout += (size_t)size;
		i += (size_t)size;
		if (!crlf(s, n, i))
			return "chunk-data not followed by CRLF";
		i += 2;
	}
	while (!crlf(s, n, i)) {
		size_t b = i;

		while (i < n && is_tchar(s[i]))
			i++;
		if (i == b || i == n || s[i] != ':')
			return "a trailer line without a name and a colon";
		for (i++; i < n && s[i] != '\r'; i++)
			if ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
				return "a control byte in a trailer";
		if (!crlf(s, n, i))
			return "a trailer line not ended by CRLF";
		i += 2;
	}
	if (i + 2 != n)
		return "the body ends elsewhere";
	return NULL;
}

static void
same(const struct outcome *a, const struct outcome *b, const char *what)
{
	if (a->rc != b->rc || a->end != b->end || a->ndata != b->ndata ||
	    (a->ndata > 0 && memcmp(a->data, b->data, a->ndata) != 0))
		fail("%s: result %d at %zu with %zu data bytes, then %d at %zu "
		    "with %zu", what, a->rc, a->end, a->ndata, b->rc, b->end,
		    b->ndata);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome whole, stepped, framed;
	const unsigned char *in;
	unsigned char *dec;
	size_t len, step, max_head, ndec;
	long long max_body, length = -1;
	bool chunked;
	const char *why;

	if (size < 3)
		return 0;
	max_head = limits[data[0] / 64].max_head;
	max_body = limits[data[0] / 64].max_body;
	step = data[0] % 65;
	chunked = data[1] % 4 != 0;
	if (!chunked)
		length = data[2] % (max_body + 1);
	in = data + 3;
	len = size - 3;

	pass(in, len, 0, chunked, length, max_head, max_body, false, &whole);
	pass(in, len, step, chunked, length, max_head, max_body, false,
	    &stepped);
	same(&whole, &stepped, "fed whole, then in pieces");	/* a */
	pass(in, len, step, chunked, length, max_head, max_body, true,
	    &framed);
	framed.ndata = whole.ndata;	/* chunk_frame() hands none out */
	memcpy(framed.data, whole.data, whole.ndata);
	same(&whole, &framed, "chunk_step(), then chunk_frame()");	/* b */

	if (whole.rc == CHUNK_DONE && chunked) {			/* c */
		if ((dec = malloc(len + 1)) == NULL)
			abort();
		why = strict_chunked(in, whole.end, dec, &ndec);
		if (why != NULL)
			fail("completed a body the strict reading refuses: %s",
			    why);
		if (ndec != whole.ndata || memcmp(dec, whole.data, ndec) != 0)
			fail("the strict reading decodes other data");
		free(dec);
	} else if (whole.rc == CHUNK_DONE && whole.ndata !=
	    (size_t)(length > 0 ? length : 0))
		fail("a body of %lld bytes gave %zu", length, whole.ndata);
	free(whole.data);
	free(stepped.data);
	free(framed.data);
	return 0;
}
