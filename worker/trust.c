/*
 * trust - see trust.h. A trusted proxy appends the address of whoever
 * connected to it, so the hops are read from the right: the nearest one
 * was written by our trusted peer, each trusted hop vouches for the one
 * to its left, and the first hop that is not trusted is the client.
 * Whatever is further left came from that client and is not believed.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "trust.h"

/* The walk over hops, left to right, remembering what the rule needs. */
struct walk {
	const struct cfg	*cfg;
	int			 nhops;
	struct sockaddr_storage	 first;		/* the leftmost hop */
	int			 first_proto;
	bool			 stop;		/* a hop that ends the walk */
	bool			 stop_ok;	/* it parsed (untrusted) */
	struct sockaddr_storage	 stop_addr;
	int			 stop_proto;
	bool			 after;		/* the hop right of the stop */
	struct sockaddr_storage	 after_addr;
	int			 after_proto;
};

static bool
is_space(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* Trims white space around [*s, *s + *n). */
static void
trim(const char **s, size_t *n)
{
	while (*n > 0 && is_space(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && is_space((*s)[*n - 1]))
		(*n)--;
}

/* -1: no word on it; 0: http; 1: https. */
static int
scheme(const char *s, size_t n)
{
	trim(&s, &n);
	if (n == 4 && strncasecmp(s, "http", 4) == 0)
		return 0;
	if (n == 5 && strncasecmp(s, "https", 5) == 0)
		return 1;
	return -1;
}

int
trust_parse_addr(const char *s, size_t n, struct sockaddr_storage *sa)
{
	struct sockaddr_in *in = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
	char host[INET6_ADDRSTRLEN];
	const char *h = s, *port = NULL, *colon;
	size_t hlen = n, plen = 0;
	long p = 0;

	trim(&s, &n);
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		s++;
		n -= 2;
	}
	memset(sa, 0, sizeof(*sa));
	h = s;
	hlen = n;
	if (n > 0 && s[0] == '[') {
		const char *end = memchr(s, ']', n);
		size_t rest;

		if (end == NULL)
			return -1;
		h = s + 1;
		hlen = (size_t)(end - h);
		rest = n - (size_t)(end + 1 - s);
		if (rest > 0) {
			if (end[1] != ':')
				return -1;
			port = end + 2;
			plen = rest - 1;
		}
	} else if ((colon = memchr(s, ':', n)) != NULL &&
	    memchr(colon + 1, ':', n - (size_t)(colon + 1 - s)) == NULL) {
		/* One colon: IPv4 with a port; more: a bare IPv6. */
		hlen = (size_t)(colon - s);
		port = colon + 1;
		plen = n - hlen - 1;
	}
	if (port != NULL && (plen == 0 || plen > 5))
		return -1;
	for (size_t i = 0; i < plen; i++) {
		if (port[i] < '0' || port[i] > '9')
			return -1;
		p = p * 10 + (port[i] - '0');
	}
	if (p > 65535 || hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (h == s && inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)p);
		return 0;
	}
	if ((h != s || port == NULL) &&
	    inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)p);
		return 0;
	}
	return -1;
}

/* One hop, in left-to-right order (see the rule in trust.h). */
static void
hop(struct walk *w, const char *s, size_t n, int proto)
{
	struct sockaddr_storage a;
	bool ok = trust_parse_addr(s, n, &a) == 0;

	if (w->nhops++ == 0) {
		w->first = a;
		w->first_proto = proto;
	}
	if (!ok || !cfg_trusted(w->cfg, (struct sockaddr *)&a)) {
		w->stop = true;
		w->stop_ok = ok;
		w->stop_addr = a;
		w->stop_proto = proto;
		w->after = false;
	} else if (w->stop && !w->after) {
		w->after = true;
		w->after_addr = a;
		w->after_proto = proto;
	}
}

/* The walk's answer. Returns true and fills *addr and *proto. */
static bool
walk_result(const struct walk *w, struct sockaddr_storage *addr, int *proto)
{
	if (w->nhops == 0)
		return false;
	if (w->stop && w->stop_ok) {
		*addr = w->stop_addr;
		*proto = w->stop_proto;
	} else if (w->stop && w->after) {
		*addr = w->after_addr;
		*proto = w->after_proto;
	} else if (!w->stop) {
		*addr = w->first;
		*proto = w->first_proto;
	} else
		return false;	/* the nearest hop itself is garbage */
	return true;
}

static bool
named(const struct http_hdr *h, const char *name)
{
	return h->nlen == strlen(name) && strncasecmp(h->name, name,
	    h->nlen) == 0;
}

/*
 * One Forwarded field value: elements split by ',' and pairs by ';'
 * outside quoted strings. Each element with a for= is a hop. *last_proto
 * receives the proto= of the last element that has one.
 */
static void
forwarded_line(struct walk *w, const char *v, size_t n, int *last_proto)
{
	size_t i = 0;

	while (i <= n) {
		const char *forv = NULL;
		size_t forn = 0;
		int proto = -1;

		/* One element: pairs until ',' or the end. */
		for (;;) {
			size_t start = i, eq = 0;
			bool q = false;

			for (; i < n && (q || (v[i] != ';' && v[i] != ','));
			    i++) {
				if (v[i] == '"' && (i == 0 || v[i - 1] != '\\'))
					q = !q;
				if (v[i] == '=' && eq == 0 && !q)
					eq = i;
			}
			if (eq > start) {
				const char *k = v + start, *val = v + eq + 1;
				size_t kn = eq - start, vn = i - eq - 1;

				trim(&k, &kn);
				if (kn == 3 && strncasecmp(k, "for", 3) == 0) {
					forv = val;
					forn = vn;
				} else if (kn == 5 &&
				    strncasecmp(k, "proto", 5) == 0) {
					trim(&val, &vn);
					if (vn >= 2 && val[0] == '"') {
						val++;
						vn -= 2;
					}
					proto = scheme(val, vn);
				}
			}
			if (i >= n || v[i] == ',')
				break;
			i++;	/* past ';' */
		}
		if (proto != -1)
			*last_proto = proto;
		if (forv != NULL)
			hop(w, forv, forn, proto);
		i++;		/* past ',' */
	}
}

void
trust_forwarded(const struct cfg *c, const struct http_req *q,
    struct sockaddr_storage *addr, bool *https)
{
	struct walk w;
	struct sockaddr_storage a;
	int proto = -1, fwd_proto = -1, xfp = -1;

	memset(&w, 0, sizeof(w));
	w.cfg = c;
	for (int i = 0; i < q->nhdr; i++)
		if (named(&q->hdr[i], "Forwarded"))
			forwarded_line(&w, q->hdr[i].val, q->hdr[i].vlen,
			    &fwd_proto);
	if (w.nhops == 0) {
		/* No for= anywhere: X-Forwarded-For tells the address. */
		for (int i = 0; i < q->nhdr; i++) {
			const char *v = q->hdr[i].val, *e;
			size_t n = q->hdr[i].vlen;

			if (!named(&q->hdr[i], "X-Forwarded-For"))
				continue;
			while ((e = memchr(v, ',', n)) != NULL) {
				hop(&w, v, (size_t)(e - v), -1);
				n -= (size_t)(e - v) + 1;
				v = e + 1;
			}
			hop(&w, v, n, -1);
		}
	}
	for (int i = 0; i < q->nhdr; i++) {
		const char *v = q->hdr[i].val, *e;
		size_t n = q->hdr[i].vlen;

		if (!named(&q->hdr[i], "X-Forwarded-Proto"))
			continue;
		/* The last value: what our trusted peer itself saw. */
		if ((e = memrchr(v, ',', n)) != NULL) {
			n -= (size_t)(e - v) + 1;
			v = e + 1;
		}
		xfp = scheme(v, n);
	}
	if (walk_result(&w, &a, &proto))
		*addr = a;
	if (proto == -1)
		proto = fwd_proto != -1 ? fwd_proto : xfp;
	if (proto != -1)
		*https = proto == 1;
}
