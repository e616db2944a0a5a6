/*
 * fuzz_proxy - libFuzzer target for proxy_parse() (worker/proxy.c) and
 * the forwarded-header reading of worker/trust.c.
 *
 * Input, first byte even: the bytes a ,proxy listener reads first.
 * Invariants: the result is PROXY_AGAIN, PROXY_BAD or a length within
 * the input; once complete, the answer is the same with more bytes after
 * it (a request behind the header never changes the verdict); a prefix of
 * an accepted header needs more bytes, never is bad; the source is one of
 * the families proxy.h names.
 * First byte odd: the rest, split at '\n', are header fields ("Name:
 * value") given to trust_forwarded() for a trusted peer; the address it
 * leaves is an IPv4 or IPv6 one.
 */
#include <sys/socket.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "proxy.h"
#include "trust.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *, ...) __attribute__((format(printf, 1, 2),
    noreturn));

static void
fail(const char *fmt, ...)
{
	va_list ap;

	fputs("fuzz_proxy: invariant broken: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static void
header(const uint8_t *data, size_t size)
{
	struct sockaddr_storage src, again;
	uint8_t *b = malloc(size + 8);
	int rc, rc2;

	if (b == NULL)
		return;
	memcpy(b, data, size);
	/* An exact-size view first: ASan catches a read past size. */
	rc = proxy_parse(b, size, &src);
	if (rc != PROXY_AGAIN && rc != PROXY_BAD && (rc <= 0 ||
	    (size_t)rc > size))
		fail("result %d for %zu bytes", rc, size);
	if (rc > 0) {
		if (src.ss_family != AF_UNSPEC && src.ss_family != AF_INET &&
		    src.ss_family != AF_INET6 && src.ss_family != AF_UNIX)
			fail("family %d", src.ss_family);
		memcpy(b + size, "GET / HT", 8);
		rc2 = proxy_parse(b, size + 8, &again);
		if (rc2 != rc || memcmp(&src, &again, sizeof(src)) != 0)
			fail("%d, then %d with bytes after it", rc, rc2);
		for (size_t i = 0; i < (size_t)rc; i++)
			if ((rc2 = proxy_parse(b, i, &again)) != PROXY_AGAIN)
				fail("prefix %zu of an accepted %d: %d", i, rc,
				    rc2);
	}
	free(b);
}

static void
forwarded(const uint8_t *data, size_t size)
{
	static struct cfg c;
	static bool init;
	struct http_req q;
	struct sockaddr_storage a;
	char err[128], *text = malloc(size + 1), *p, *nl;
	bool https = false;

	if (text == NULL)
		return;
	if (!init) {
		cfg_defaults(&c);
		(void)cfg_set(&c, "trusted-proxy", "10.0.0.0/8", err,
		    sizeof(err));
		(void)cfg_set(&c, "trusted-proxy", "fd00::/8", err,
		    sizeof(err));
		init = true;
	}
	memcpy(text, data, size);
	text[size] = '\0';
	memset(&q, 0, sizeof(q));
	for (p = text; p != NULL && q.nhdr < MAX_HEADERS; p = nl) {
		char *colon;

		if ((nl = memchr(p, '\n', (size_t)(text + size - p))) != NULL)
			*nl++ = '\0';
		if ((colon = strchr(p, ':')) == NULL)
			continue;
		q.hdr[q.nhdr].name = p;
		q.hdr[q.nhdr].nlen = (size_t)(colon - p);
		q.hdr[q.nhdr].val = colon + 1;
		q.hdr[q.nhdr].vlen = strlen(colon + 1);
		q.nhdr++;
	}
	memset(&a, 0, sizeof(a));
	a.ss_family = AF_INET;
	trust_forwarded(&c, &q, &a, &https);
	if (a.ss_family != AF_INET && a.ss_family != AF_INET6)
		fail("forwarded family %d", a.ss_family);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		forwarded(data + 1, size - 1);
	else
		header(data + 1, size - 1);
	return 0;
}
