/*
 * check_proxy - unit tests for worker/proxy.c (the PROXY v1/v2 parser),
 * the --trusted-proxy networks (common/cfg.c) and worker/trust.c (which
 * forwarded address and scheme are believed).
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "proxy.h"
#include "trust.h"

static const unsigned char sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* Parses n bytes from an exact-size heap copy (ASan sees over-reads). */
static int
parse(const void *p, size_t n, struct sockaddr_storage *src)
{
	char *b = malloc(n ? n : 1);
	int rc;

	ck_assert_ptr_nonnull(b);
	memcpy(b, p, n);
	rc = proxy_parse(b, n, src);
	free(b);
	return rc;
}

static void
assert_addr(const struct sockaddr_storage *ss, const char *want, int port)
{
	char got[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		inet_ntop(AF_INET, &in->sin_addr, got, sizeof(got));
		ck_assert_int_eq(ntohs(in->sin_port), port);
	} else {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		ck_assert_int_eq(ss->ss_family, AF_INET6);
		inet_ntop(AF_INET6, &in6->sin6_addr, got, sizeof(got));
		ck_assert_int_eq(ntohs(in6->sin6_port), port);
	}
	ck_assert_str_eq(got, want);
}

/* Every proper prefix needs more bytes; the whole parses to its length. */
static void
assert_prefixes_again(const void *p, size_t n)
{
	struct sockaddr_storage ss;

	for (size_t i = 0; i < n; i++)
		ck_assert_msg(parse(p, i, &ss) == PROXY_AGAIN,
		    "prefix of %zu bytes", i);
	ck_assert_int_eq(parse(p, n, &ss), (int)n);
}

/* A v2 header: command, family byte, address block of alen bytes. */
static size_t
v2(unsigned char *b, int cmd, int fam, const void *addr, size_t alen)
{
	memcpy(b, sig, 12);
	b[12] = (unsigned char)(0x20 | cmd);
	b[13] = (unsigned char)fam;
	b[14] = (unsigned char)(alen >> 8);
	b[15] = (unsigned char)alen;
	if (alen > 0)
		memcpy(b + 16, addr, alen);
	return 16 + alen;
}

START_TEST(test_v1_tcp4)
{
	static const char h[] = "PROXY TCP4 192.0.2.7 198.51.100.1 5555 80\r\n";
	struct sockaddr_storage ss;
	char with[128];

	ck_assert_int_eq(parse(h, strlen(h), &ss), (int)strlen(h));
	assert_addr(&ss, "192.0.2.7", 5555);
	assert_prefixes_again(h, strlen(h));
	/* A request after it is left alone. */
	snprintf(with, sizeof(with), "%sGET / HTTP/1.1\r\n\r\n", h);
	ck_assert_int_eq(parse(with, strlen(with), &ss), (int)strlen(h));
	ck_assert_str_eq(with + strlen(h), "GET / HTTP/1.1\r\n\r\n");
}
END_TEST

START_TEST(test_v1_tcp6)
{
	static const char h[] = "PROXY TCP6 2001:db8::1 2001:db8::2 65535 443\r\n";
	struct sockaddr_storage ss;

	ck_assert_int_eq(parse(h, strlen(h), &ss), (int)strlen(h));
	assert_addr(&ss, "2001:db8::1", 65535);
	assert_prefixes_again(h, strlen(h));
}
END_TEST

START_TEST(test_v1_unknown)
{
	static const char h[] = "PROXY UNKNOWN\r\n";
	static const char h2[] = "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n";
	struct sockaddr_storage ss;

	ck_assert_int_eq(parse(h, strlen(h), &ss), (int)strlen(h));
	ck_assert_int_eq(ss.ss_family, AF_UNSPEC);
	ck_assert_int_eq(parse(h2, strlen(h2), &ss), (int)strlen(h2));
	ck_assert_int_eq(ss.ss_family, AF_UNSPEC);
}
END_TEST

/* Each of these is refused outright. */
static const char *v1_bad[] = {
	"PROXY TCP4 192.0.2.7 198.51.100.1 5555 80\n",		/* LF only */
	"PROXY TCP4 192.0.2.7 198.51.100.1 5555 80 \r\n",	/* trailing */
	"PROXY TCP4  192.0.2.7 198.51.100.1 5555 80\r\n",	/* two spaces */
	"PROXY TCP4 192.0.2.7 198.51.100.1 5555\r\n",		/* field short */
	"PROXY TCP4 192.0.2.7 198.51.100.1 5555 80 9\r\n",	/* one more */
	"PROXY TCP4 2001:db8::1 198.51.100.1 5555 80\r\n",	/* v6 as TCP4 */
	"PROXY TCP6 192.0.2.7 2001:db8::2 5555 80\r\n",		/* v4 as TCP6 */
	"PROXY TCP4 192.0.2.7 198.51.100.1 65536 80\r\n",	/* port */
	"PROXY TCP4 192.0.2.7 198.51.100.1 05555 80\r\n",	/* leading 0 */
	"PROXY TCP4 192.0.2.7 198.51.100.1 -1 80\r\n",
	"PROXY UDP4 192.0.2.7 198.51.100.1 5555 80\r\n",	/* protocol */
	"PROXY tcp4 192.0.2.7 198.51.100.1 5555 80\r\n",
	"PROXY TCP4 192.0.2.256 198.51.100.1 5555 80\r\n",
	"PROXY\r\n",
	"PROXY \r\n",
	"PROXZ TCP4",
	"GET / HTTP/1.1\r\n\r\n",				/* no header */
	"proxy TCP4",
	"PROXY TCP4 192.0.2.7\x01",				/* control */
	"\r\n\r\nX",						/* bad v2 sig */
	"\x00",
};

START_TEST(test_v1_bad)
{
	struct sockaddr_storage ss;
	const char *h = v1_bad[_i];

	ck_assert_msg(parse(h, strlen(h) + (h[0] == '\0'), &ss) == PROXY_BAD,
	    "accepted %s", h);
}
END_TEST

START_TEST(test_v1_oversized)
{
	char h[256];
	struct sockaddr_storage ss;

	/* 107 bytes with the CRLF is the limit: one more is refused, and so
	 * is a line that has not ended by then. */
	memset(h, 0, sizeof(h));
	strlcpy(h, "PROXY UNKNOWN ", sizeof(h));
	memset(h + 14, 'a', 105 - 14);
	memcpy(h + 105, "\r\n", 2);
	ck_assert_int_eq(parse(h, 107, &ss), 107);
	memset(h + 14, 'a', 106 - 14);
	memcpy(h + 106, "\r\n", 2);
	ck_assert_int_eq(parse(h, 108, &ss), PROXY_BAD);
	memset(h + 14, 'a', 200);
	ck_assert_int_eq(parse(h, 106, &ss), PROXY_AGAIN);
	ck_assert_int_eq(parse(h, 107, &ss), PROXY_BAD);
	ck_assert_int_eq(parse(h, 200, &ss), PROXY_BAD);
}
END_TEST

START_TEST(test_v2_inet)
{
	unsigned char b[64], a[12] = { 192, 0, 2, 9, 198, 51, 100, 1,
	    0x15, 0xb3, 0, 80 };
	struct sockaddr_storage ss;
	size_t n = v2(b, 1, 0x11, a, sizeof(a));

	ck_assert_int_eq(parse(b, n, &ss), (int)n);
	assert_addr(&ss, "192.0.2.9", 5555);
	assert_prefixes_again(b, n);
	/* What follows stays. */
	memcpy(b + n, "GET", 3);
	ck_assert_int_eq(parse(b, n + 3, &ss), (int)n);
}
END_TEST

START_TEST(test_v2_inet6)
{
	unsigned char b[64], a[36];
	struct sockaddr_storage ss;
	size_t n;

	memset(a, 0, sizeof(a));
	inet_pton(AF_INET6, "2001:db8::7", a);
	inet_pton(AF_INET6, "2001:db8::8", a + 16);
	a[32] = 0x01;
	a[33] = 0xbb;
	n = v2(b, 1, 0x21, a, sizeof(a));
	ck_assert_int_eq(parse(b, n, &ss), (int)n);
	assert_addr(&ss, "2001:db8::7", 443);
	assert_prefixes_again(b, n);
}
END_TEST

START_TEST(test_v2_local_unspec_unix)
{
	unsigned char b[400], a[216];
	struct sockaddr_storage ss;
	size_t n;

	/* LOCAL: the balancer speaking for itself; its block is skipped. */
	memset(a, 7, sizeof(a));
	n = v2(b, 0, 0x11, a, 12);
	ck_assert_int_eq(parse(b, n, &ss), (int)n);
	ck_assert_int_eq(ss.ss_family, AF_UNSPEC);
	n = v2(b, 0, 0x00, NULL, 0);
	ck_assert_int_eq(parse(b, n, &ss), 16);
	ck_assert_int_eq(ss.ss_family, AF_UNSPEC);
	/* PROXY with an unspecified family: nothing to believe. */
	n = v2(b, 1, 0x00, a, 5);
	ck_assert_int_eq(parse(b, n, &ss), (int)n);
	ck_assert_int_eq(ss.ss_family, AF_UNSPEC);
	n = v2(b, 1, 0x31, a, sizeof(a));
	ck_assert_int_eq(parse(b, n, &ss), (int)n);
	ck_assert_int_eq(ss.ss_family, AF_UNIX);
}
END_TEST

START_TEST(test_v2_tlvs_skipped)
{
	unsigned char b[128], a[12 + 3 + 5 + 3 + 4] = { 10, 1, 2, 3, 10, 0, 0,
	    1, 0, 99, 0, 80,
	    0x01, 0x00, 0x02, 'h', '2',			/* ALPN */
	    0x02, 0x00, 0x00,				/* empty authority */
	    0x04, 0x00, 0x01, 0x00 };			/* NOOP */
	struct sockaddr_storage ss;
	size_t n = v2(b, 1, 0x11, a, 12 + 5 + 3 + 4);

	ck_assert_int_eq(parse(b, n, &ss), (int)n);
	assert_addr(&ss, "10.1.2.3", 99);
}
END_TEST

START_TEST(test_v2_bad)
{
	unsigned char b[PROXY_V2_MAX + 64], a[216];
	struct sockaddr_storage ss;
	size_t n;

	memset(a, 1, sizeof(a));
	n = v2(b, 1, 0x11, a, 12);
	b[12] = 0x11;					/* version 1 */
	ck_assert_int_eq(parse(b, n, &ss), PROXY_BAD);
	n = v2(b, 2, 0x11, a, 12);			/* command 2 */
	ck_assert_int_eq(parse(b, n, &ss), PROXY_BAD);
	n = v2(b, 1, 0x41, a, 12);			/* family 4 */
	ck_assert_int_eq(parse(b, 16, &ss), PROXY_BAD);
	n = v2(b, 1, 0xf1, a, 12);
	ck_assert_int_eq(parse(b, n, &ss), PROXY_BAD);
	n = v2(b, 1, 0x13, a, 12);			/* transport 3 */
	ck_assert_int_eq(parse(b, n, &ss), PROXY_BAD);
	n = v2(b, 1, 0x12, a, 12);			/* UDP */
	ck_assert_int_eq(parse(b, n, &ss), PROXY_BAD);
	n = v2(b, 1, 0x11, a, 11);			/* block short */
	ck_assert_int_eq(parse(b, n, &ss), PROXY_BAD);
	n = v2(b, 1, 0x21, a, 35);
	ck_assert_int_eq(parse(b, n, &ss), PROXY_BAD);
	n = v2(b, 1, 0x31, a, 215);
	ck_assert_int_eq(parse(b, n, &ss), PROXY_BAD);
	/* Oversized: refused on the length field, before it arrives. */
	memset(b, 0, sizeof(b));
	n = v2(b, 1, 0x11, b + 16, PROXY_V2_MAX);
	ck_assert_int_eq(parse(b, n, &ss), (int)n);
	n = v2(b, 1, 0x11, b + 16, PROXY_V2_MAX + 1);
	ck_assert_int_eq(parse(b, 16, &ss), PROXY_BAD);
	b[14] = b[15] = 0xff;
	ck_assert_int_eq(parse(b, 16, &ss), PROXY_BAD);
	/* A signature wrong at its last byte. */
	n = v2(b, 1, 0x11, a, 12);
	b[11] = 0x0b;
	ck_assert_int_eq(parse(b, 11, &ss), PROXY_AGAIN);
	ck_assert_int_eq(parse(b, 12, &ss), PROXY_BAD);
}
END_TEST

/* Random bytes never crash it and never claim more than they have. */
START_TEST(test_garbage)
{
	unsigned char b[300];
	struct sockaddr_storage ss;

	srandom(12);
	for (int round = 0; round < 20000; round++) {
		size_t n = (size_t)random() % sizeof(b);
		int rc;

		for (size_t i = 0; i < n; i++)
			b[i] = (unsigned char)random();
		if (round % 3 == 0 && n >= 12)
			memcpy(b, sig, 12);
		else if (round % 3 == 1 && n >= 6)
			memcpy(b, "PROXY ", 6);
		rc = parse(b, n, &ss);
		ck_assert(rc == PROXY_AGAIN || rc == PROXY_BAD ||
		    (rc > 0 && (size_t)rc <= n));
	}
}
END_TEST

START_TEST(test_cidr)
{
	struct cfg c;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
	char buf[64], err[256];

	cfg_defaults(&c);
	ck_assert_int_eq(cfg_set(&c, "trusted-proxy", "10.1.2.3/8", err,
	    sizeof(err)), 0);
	cfg_cidr_str(&c.trusted[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "10.0.0.0/8");
	ck_assert_int_eq(cfg_set(&c, "trusted-proxy", "2001:db8::/33", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(cfg_set(&c, "trusted-proxy", "192.0.2.1", err,
	    sizeof(err)), 0);
	cfg_cidr_str(&c.trusted[2], buf, sizeof(buf));
	ck_assert_str_eq(buf, "192.0.2.1/32");
	ck_assert_int_eq(c.ntrusted, 3);
	ck_assert_int_eq(cfg_set(&c, "trusted-proxy", "10.0.0.0/33", err,
	    sizeof(err)), -1);
	ck_assert_int_eq(cfg_set(&c, "trusted-proxy", "10.0.0.0/", err,
	    sizeof(err)), -1);
	ck_assert_int_eq(cfg_set(&c, "trusted-proxy", "::/129", err,
	    sizeof(err)), -1);
	ck_assert_int_eq(cfg_set(&c, "trusted-proxy", "example.com", err,
	    sizeof(err)), -1);
	ck_assert_int_eq(cfg_set(&c, "trusted-proxy", "/8", err,
	    sizeof(err)), -1);

	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	inet_pton(AF_INET, "10.255.0.1", &in.sin_addr);
	ck_assert(cfg_trusted(&c, (struct sockaddr *)&in));
	inet_pton(AF_INET, "11.0.0.1", &in.sin_addr);
	ck_assert(!cfg_trusted(&c, (struct sockaddr *)&in));
	inet_pton(AF_INET, "192.0.2.1", &in.sin_addr);
	ck_assert(cfg_trusted(&c, (struct sockaddr *)&in));
	inet_pton(AF_INET, "192.0.2.2", &in.sin_addr);
	ck_assert(!cfg_trusted(&c, (struct sockaddr *)&in));
	memset(&in6, 0, sizeof(in6));
	in6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8:7fff::1", &in6.sin6_addr);
	ck_assert(cfg_trusted(&c, (struct sockaddr *)&in6));
	inet_pton(AF_INET6, "2001:db8:8000::1", &in6.sin6_addr);
	ck_assert(!cfg_trusted(&c, (struct sockaddr *)&in6));
	/* A dual-stack listener's IPv4 client. */
	inet_pton(AF_INET6, "::ffff:10.0.0.9", &in6.sin6_addr);
	ck_assert(cfg_trusted(&c, (struct sockaddr *)&in6));
	inet_pton(AF_INET6, "::ffff:11.0.0.9", &in6.sin6_addr);
	ck_assert(!cfg_trusted(&c, (struct sockaddr *)&in6));
	/* /0 trusts the whole family. */
	cfg_clear(&c, "trusted-proxy");
	ck_assert_int_eq(c.ntrusted, 0);
	ck_assert(!cfg_trusted(&c, (struct sockaddr *)&in6));
	ck_assert_int_eq(cfg_set(&c, "trusted-proxy", "0.0.0.0/0", err,
	    sizeof(err)), 0);
	ck_assert(cfg_trusted(&c, (struct sockaddr *)&in));
	ck_assert(!cfg_trusted(&c, (struct sockaddr *)&in6) ||
	    IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr));
}
END_TEST

START_TEST(test_listen_proxy)
{
	struct cfg c;
	char err[256];

	cfg_defaults(&c);
	ck_assert_int_eq(cfg_set(&c, "listen", "127.0.0.1:80,proxy", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(cfg_set(&c, "listen", "[::1]:81", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(c.nlisten, 2);
	ck_assert(c.listen[0].proxy);
	ck_assert_str_eq(c.listen[0].spec, "127.0.0.1:80,proxy");
	ck_assert(!c.listen[1].proxy);
	ck_assert_int_eq(cfg_set(&c, "listen", "127.0.0.1:80,ssl", err,
	    sizeof(err)), -1);
	ck_assert_int_eq(cfg_set(&c, "listen", "unix:/tmp/x,proxy", err,
	    sizeof(err)), -1);
	ck_assert_int_eq(c.nlisten, 2);
	/* The status listener takes no option. */
	ck_assert_int_eq(cfg_set(&c, "status-listen", "127.0.0.1:9,proxy", err,
	    sizeof(err)), -1);
}
END_TEST

/* A request with the given header fields ("Name: value" each). */
static void
req(struct http_req *q, const char **fields, int n)
{
	memset(q, 0, sizeof(*q));
	for (int i = 0; i < n; i++) {
		const char *colon = strchr(fields[i], ':');

		q->hdr[i].name = fields[i];
		q->hdr[i].nlen = (size_t)(colon - fields[i]);
		q->hdr[i].val = colon + 2;
		q->hdr[i].vlen = strlen(colon + 2);
	}
	q->nhdr = n;
}

/* The address and scheme believed from fields, peer 127.0.0.1. */
static void
forwarded(const char **fields, int n, const char *want_addr, int want_port,
    bool want_https)
{
	struct cfg c;
	struct http_req q;
	struct sockaddr_storage a;
	struct sockaddr_in *in = (struct sockaddr_in *)&a;
	char err[256];
	bool https = false;

	cfg_defaults(&c);
	ck_assert_int_eq(cfg_set(&c, "trusted-proxy", "127.0.0.0/8", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(cfg_set(&c, "trusted-proxy", "10.0.0.0/8", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(cfg_set(&c, "trusted-proxy", "fd00::/8", err,
	    sizeof(err)), 0);
	memset(&a, 0, sizeof(a));
	in->sin_family = AF_INET;
	in->sin_port = htons(40000);
	inet_pton(AF_INET, "127.0.0.1", &in->sin_addr);
	req(&q, fields, n);
	trust_forwarded(&c, &q, &a, &https);
	assert_addr(&a, want_addr, want_port);
	ck_assert_int_eq(https, want_https);
}

START_TEST(test_xff)
{
	const char *f1[] = { "X-Forwarded-For: 203.0.113.5" };
	/* A spoofed left part: the rightmost untrusted wins. */
	const char *f2[] = { "X-Forwarded-For: 6.6.6.6, 198.51.100.2, "
	    "10.0.0.7" };
	const char *f3[] = { "x-forwarded-for: 6.6.6.6",
	    "X-Forwarded-For: 198.51.100.2,10.1.1.1 , 127.0.0.9" };
	/* All trusted: the leftmost. */
	const char *f4[] = { "X-Forwarded-For: 10.0.0.1, 10.0.0.2" };
	/* Garbage ends the walk at the hop before it. */
	const char *f5[] = { "X-Forwarded-For: 6.6.6.6, bogus, 10.0.0.3" };
	const char *f6[] = { "X-Forwarded-For: 10.0.0.3, bogus" };
	const char *f7[] = { "X-Forwarded-For: 2001:db8::5, fd00::1" };
	const char *f8[] = { "X-Forwarded-For: 198.51.100.3:8080" };
	const char *f9[] = { "X-Forwarded-For: unknown" };
	const char *f10[] = { "X-Forwarded-For: " };

	forwarded(f1, 1, "203.0.113.5", 0, false);
	forwarded(f2, 1, "198.51.100.2", 0, false);
	forwarded(f3, 2, "198.51.100.2", 0, false);
	forwarded(f4, 1, "10.0.0.1", 0, false);
	forwarded(f5, 1, "10.0.0.3", 0, false);
	forwarded(f6, 1, "127.0.0.1", 40000, false);
	forwarded(f7, 1, "2001:db8::5", 0, false);
	forwarded(f8, 1, "198.51.100.3", 8080, false);
	forwarded(f9, 1, "127.0.0.1", 40000, false);
	forwarded(f10, 1, "127.0.0.1", 40000, false);
}
END_TEST

START_TEST(test_forwarded)
{
	const char *f1[] = { "Forwarded: for=203.0.113.5;proto=https" };
	const char *f2[] = { "Forwarded: for=6.6.6.6;proto=http, "
	    "for=\"[2001:db8::9]:4711\";proto=https;by=10.0.0.1, "
	    "for=10.0.0.2;proto=http" };
	/* Forwarded wins over X-Forwarded-For. */
	const char *f3[] = { "X-Forwarded-For: 198.51.100.1",
	    "FORWARDED: For=198.51.100.9" };
	const char *f4[] = { "Forwarded: for=unknown" };
	const char *f5[] = { "Forwarded: proto=https",
	    "X-Forwarded-For: 198.51.100.4" };
	const char *f6[] = { "Forwarded: for=\"198.51.100.7;x\", "
	    "for=10.0.0.1" };
	const char *f7[] = { "Forwarded: for=\"_hidden\", for=10.0.0.1" };

	forwarded(f1, 1, "203.0.113.5", 0, true);
	forwarded(f2, 1, "2001:db8::9", 4711, true);
	forwarded(f3, 2, "198.51.100.9", 0, false);
	forwarded(f4, 1, "127.0.0.1", 40000, false);
	forwarded(f5, 2, "198.51.100.4", 0, true);
	forwarded(f6, 1, "10.0.0.1", 0, false);
	forwarded(f7, 1, "10.0.0.1", 0, false);
}
END_TEST

START_TEST(test_proto)
{
	const char *f1[] = { "X-Forwarded-Proto: https" };
	const char *f2[] = { "X-Forwarded-Proto: HTTPS" };
	const char *f3[] = { "X-Forwarded-Proto: https, http" };
	const char *f4[] = { "X-Forwarded-Proto: ftp" };
	const char *f5[] = { "X-Forwarded-Proto: http, https" };

	forwarded(f1, 1, "127.0.0.1", 40000, true);
	forwarded(f2, 1, "127.0.0.1", 40000, true);
	forwarded(f3, 1, "127.0.0.1", 40000, false);
	forwarded(f4, 1, "127.0.0.1", 40000, false);
	forwarded(f5, 1, "127.0.0.1", 40000, true);
}
END_TEST

START_TEST(test_parse_addr)
{
	struct sockaddr_storage a;

	ck_assert_int_eq(trust_parse_addr("192.0.2.1", 9, &a), 0);
	ck_assert_int_eq(trust_parse_addr(" [::1] ", 7, &a), 0);
	assert_addr(&a, "::1", 0);
	ck_assert_int_eq(trust_parse_addr("[::1]:80", 8, &a), 0);
	assert_addr(&a, "::1", 80);
	ck_assert_int_eq(trust_parse_addr("[::1]80", 7, &a), -1);
	ck_assert_int_eq(trust_parse_addr("[::1", 4, &a), -1);
	ck_assert_int_eq(trust_parse_addr("[192.0.2.1]", 11, &a), -1);
	ck_assert_int_eq(trust_parse_addr("192.0.2.1:", 10, &a), -1);
	ck_assert_int_eq(trust_parse_addr("192.0.2.1:99999", 15, &a), -1);
	ck_assert_int_eq(trust_parse_addr("192.0.2.1:8a", 12, &a), -1);
	ck_assert_int_eq(trust_parse_addr("\"\"", 2, &a), -1);
	ck_assert_int_eq(trust_parse_addr("", 0, &a), -1);
	/* Only n bytes count. */
	ck_assert_int_eq(trust_parse_addr("192.0.2.1, x", 9, &a), 0);
}
END_TEST

static Suite *
proxy_suite(void)
{
	Suite	*s = suite_create("proxy");
	TCase	*tc = tcase_create("proxy");
	TCase	*tt = tcase_create("trust");

	tcase_add_test(tc, test_v1_tcp4);
	tcase_add_test(tc, test_v1_tcp6);
	tcase_add_test(tc, test_v1_unknown);
	tcase_add_loop_test(tc, test_v1_bad, 0,
	    sizeof(v1_bad) / sizeof(v1_bad[0]));
	tcase_add_test(tc, test_v1_oversized);
	tcase_add_test(tc, test_v2_inet);
	tcase_add_test(tc, test_v2_inet6);
	tcase_add_test(tc, test_v2_local_unspec_unix);
	tcase_add_test(tc, test_v2_tlvs_skipped);
	tcase_add_test(tc, test_v2_bad);
	tcase_add_test(tc, test_garbage);
	suite_add_tcase(s, tc);
	tcase_add_test(tt, test_cidr);
	tcase_add_test(tt, test_listen_proxy);
	tcase_add_test(tt, test_xff);
	tcase_add_test(tt, test_forwarded);
	tcase_add_test(tt, test_proto);
	tcase_add_test(tt, test_parse_addr);
	suite_add_tcase(s, tt);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(proxy_suite());
	int	 failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
