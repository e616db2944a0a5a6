/*
 * proxy - see proxy.h. Strict: a v1 line must be exactly what the
 * specification (haproxy.org proxy-protocol.txt) writes, single spaces
 * and all, and a v2 header must announce a command, family and transport
 * it defines; anything else is PROXY_BAD and the connection closes. The
 * v2 TLVs are skipped unread: nothing in them is believed.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "defaults.h"
#include "proxy.h"

static const char v1_sig[] = "PROXY ";
static const unsigned char v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* A port: 1 to 5 digits, no leading zero, at most 65535. Returns it or -1. */
static long
v1_port(const char *s, size_t n)
{
	long v = 0;

	if (n == 0 || n > 5 || (s[0] == '0' && n > 1))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v > 65535 ? -1 : v;
}

/* The next space-separated field of the line: [*p, end). */
static int
v1_field(const char **p, const char *end, char *out, size_t outsz)
{
	const char *s = *p, *e = memchr(s, ' ', (size_t)(end - s));
	size_t n;

	if (e == NULL)
		e = end;
	n = (size_t)(e - s);
	if (n == 0 || n >= outsz)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	*p = e < end ? e + 1 : e;
	return 0;
}

/* "PROXY TCP4 src dst sport dport" (the CRLF at line[n]). */
static int
v1_line(const char *line, size_t n, struct sockaddr_storage *src)
{
	const char *p = line + sizeof(v1_sig) - 1, *end = line + n;
	char proto[8], sa[INET6_ADDRSTRLEN], da[INET6_ADDRSTRLEN];
	char sp[8], dp[8];
	unsigned char dbuf[16];
	long sport;
	int af;

	memset(src, 0, sizeof(*src));
	if (v1_field(&p, end, proto, sizeof(proto)) == -1)
		return -1;
	if (strcmp(proto, "UNKNOWN") == 0) {
		src->ss_family = AF_UNSPEC;	/* the rest is to be ignored */
		return 0;
	}
	if (strcmp(proto, "TCP4") == 0)
		af = AF_INET;
	else if (strcmp(proto, "TCP6") == 0)
		af = AF_INET6;
	else
		return -1;
	if (v1_field(&p, end, sa, sizeof(sa)) == -1 ||
	    v1_field(&p, end, da, sizeof(da)) == -1 ||
	    v1_field(&p, end, sp, sizeof(sp)) == -1 ||
	    v1_field(&p, end, dp, sizeof(dp)) == -1 || p != end ||
	    end[-1] == ' ' || (sport = v1_port(sp, strlen(sp))) == -1 ||
	    v1_port(dp, strlen(dp)) == -1 || inet_pton(af, da, dbuf) != 1)
		return -1;
	if (af == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)src;

		if (inet_pton(AF_INET, sa, &in->sin_addr) != 1)
			return -1;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)sport);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)src;

		if (inet_pton(AF_INET6, sa, &in6->sin6_addr) != 1)
			return -1;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)sport);
	}
	return 0;
}

static int
parse_v1(const char *b, size_t len, struct sockaddr_storage *src)
{
	size_t lim = len < PROXY_V1_MAX ? len : PROXY_V1_MAX;

	for (size_t i = 0; i < lim; i++) {
		unsigned char ch = (unsigned char)b[i];

		if (ch == '\r') {
			if (i + 1 == len)
				return PROXY_AGAIN;
			if (b[i + 1] != '\n' || i + 2 > PROXY_V1_MAX)
				return PROXY_BAD;
			return v1_line(b, i, src) == 0 ? (int)i + 2 : PROXY_BAD;
		}
		if (ch < 0x20 || ch > 0x7e)
			return PROXY_BAD;
	}
	return len >= PROXY_V1_MAX ? PROXY_BAD : PROXY_AGAIN;
}

static int
parse_v2(const unsigned char *b, size_t len, struct sockaddr_storage *src)
{
	size_t alen, total;
	int cmd, fam, trans;

	if (len < 16)
		return PROXY_AGAIN;
	if ((b[12] >> 4) != 2)
		return PROXY_BAD;
	cmd = b[12] & 0x0f;
	fam = b[13] >> 4;
	trans = b[13] & 0x0f;
	alen = (size_t)b[14] << 8 | b[15];
	if (cmd > 1 || fam > 3 || trans > 2 || alen > PROXY_V2_MAX)
		return PROXY_BAD;
	total = 16 + alen;
	if (len < total)
		return PROXY_AGAIN;
	memset(src, 0, sizeof(*src));
	src->ss_family = AF_UNSPEC;
	/* LOCAL: the balancer's own connection (a health check, say); an
	 * unspecified family: nothing to believe. The peer stands. */
	if (cmd == 0 || fam == 0)
		return (int)total;
	if (trans != 1)
		return PROXY_BAD;	/* stream only: HTTP does not ride UDP */
	if (fam == 1) {
		struct sockaddr_in *in = (struct sockaddr_in *)src;

		if (alen < 12)
			return PROXY_BAD;
		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, b + 16, 4);
		memcpy(&in->sin_port, b + 24, 2);
	} else if (fam == 2) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)src;

		if (alen < 36)
			return PROXY_BAD;
		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, b + 16, 16);
		memcpy(&in6->sin6_port, b + 48, 2);
	} else {
		if (alen < 216)
			return PROXY_BAD;
		src->ss_family = AF_UNIX;	/* its path is not kept */
	}
	return (int)total;
}

int
proxy_parse(const void *buf, size_t len, struct sockaddr_storage *src)
{
	const unsigned char *b = buf;
	size_t n;

	if (len == 0)
		return PROXY_AGAIN;
	if (b[0] == 'P') {
		n = len < sizeof(v1_sig) - 1 ? len : sizeof(v1_sig) - 1;
		if (memcmp(b, v1_sig, n) != 0)
			return PROXY_BAD;
		return n < sizeof(v1_sig) - 1 ? PROXY_AGAIN :
		    parse_v1(buf, len, src);
	}
	n = len < sizeof(v2_sig) ? len : sizeof(v2_sig);
	if (memcmp(b, v2_sig, n) != 0)
		return PROXY_BAD;
	return n < sizeof(v2_sig) ? PROXY_AGAIN : parse_v2(b, len, src);
}
