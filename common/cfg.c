/*
 * cfg - defaults, per-key parsing and validation of the configuration.
 * Every key of the command line goes through cfg_set(), so the config file
 * and the flags share one parser and one set of error messages.
 */
#include <sys/stat.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cfg.h"
#include "dec.h"

static void	one_line(char *);

void
cfg_defaults(struct cfg *c)
{
	long n;

	memset(c, 0, sizeof(*c));
	strlcpy(c->docroot, ".", sizeof(c->docroot));
	n = sysconf(_SC_NPROCESSORS_ONLN);
	c->workers = n < 1 ? 1 : (n > MAX_WORKERS ? MAX_WORKERS : (int)n);
	c->timeout_ms = DEFAULT_TIMEOUT_MS;
	c->header_timeout_ms = DEFAULT_HEADER_TIMEOUT_MS;
	c->body_timeout_ms = DEFAULT_BODY_TIMEOUT_MS;
	c->write_timeout_ms = DEFAULT_WRITE_TIMEOUT_MS;
	c->idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS;
	c->graceful_timeout_ms = DEFAULT_GRACEFUL_TIMEOUT_MS;
	c->drain_delay_ms = DEFAULT_DRAIN_DELAY_MS;
	c->min_body_rate = DEFAULT_MIN_BODY_RATE;
	c->keepalive_requests = DEFAULT_KEEPALIVE_REQUESTS;
	c->max_header_size = DEFAULT_MAX_HEADER_SIZE;
	c->max_body_size = DEFAULT_MAX_BODY_SIZE;
	c->backlog = DEFAULT_BACKLOG;
	strlcpy(c->access_log, "-", sizeof(c->access_log));
	strlcpy(c->error_log, "-", sizeof(c->error_log));
	c->access_format = ACCESS_COMBINED;
	c->log_level = LOG_LEVEL_INFO;
	c->max_parked = DEFAULT_MAX_PARKED;
	c->buffer_body = DEFAULT_BUFFER_BODY;
	c->min_send_rate = DEFAULT_MIN_SEND_RATE;
}

/*
 * Decimal seconds with at most three fractional digits, 0..MAX_TIMEOUT_MS.
 * Hand-rolled rather than strtod so that "1e3", " 5", "0x10" and "inf" are
 * refused and no rounding surprises a user.
 */
int
cfg_parse_seconds(const char *s, int *ms)
{
	long long v = 0;
	int frac = 0, scale = 1000;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		v = v * 10 + (*p - '0');
		if (v > MAX_TIMEOUT_MS / 1000)
			return -1;
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		for (; isdigit((unsigned char)*p); p++) {
			if (scale == 1)
				return -1;	/* finer than a millisecond */
			scale /= 10;
			frac += (*p - '0') * scale;
		}
	}
	if (*p != '\0' || v * 1000 + frac > MAX_TIMEOUT_MS)
		return -1;
	*ms = (int)(v * 1000 + frac);
	return 0;
}

int
cfg_read_slice_ms(const struct cfg *c)
{
	/* idle-timeout 0 is "no keep-alive": nothing waits idle then. */
	if (c->idle_timeout_ms > 0 && c->idle_timeout_ms < IDLE_YIELD_MS)
		return c->idle_timeout_ms;
	return IDLE_YIELD_MS;
}

static int
parse_count(const char *val, long long lo, long long hi, long long *out)
{
	const char *errstr;
	long long v;

	v = strtonum(val, lo, hi, &errstr);
	if (errstr != NULL)
		return -1;
	*out = v;
	return 0;
}

/* "unix:/path" */
static int
parse_unix(const char *path, struct cfg_listen *l, char *err, size_t errlen)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&l->addr;

	if (path[0] != '/') {
		snprintf(err, errlen, "unix socket path must be absolute: '%s'", path);
		return -1;
	}
	if (strlcpy(sun->sun_path, path, sizeof(sun->sun_path)) >=
	    sizeof(sun->sun_path)) {
		snprintf(err, errlen, "unix socket path too long: '%s'", path);
		return -1;
	}
	sun->sun_family = AF_UNIX;
	l->addrlen = sizeof(*sun);
	return 0;
}

static int	parse_listen(const char *, struct cfg_listen *, char *,
		    size_t);

int
cfg_parse_listen(const char *spec, struct cfg_listen *l, char *err,
    size_t errlen)
{
	if (parse_listen(spec, l, err, errlen) == 0)
		return 0;
	one_line(err);
	return -1;
}

static int
parse_listen(const char *spec, struct cfg_listen *l, char *err,
    size_t errlen)
{
	char host[128];
	const char *port, *errstr;
	struct sockaddr_in *sin = (struct sockaddr_in *)&l->addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&l->addr;
	size_t hlen;
	long long p;

	memset(l, 0, sizeof(*l));
	if (strlcpy(l->spec, spec, sizeof(l->spec)) >= sizeof(l->spec)) {
		snprintf(err, errlen, "listen address too long");
		return -1;
	}
	if (strncmp(spec, "unix:", 5) == 0)
		return parse_unix(spec + 5, l, err, errlen);

	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');

		if (end == NULL || end[1] != ':')
			goto bad;
		hlen = (size_t)(end - spec - 1);
		port = end + 2;
		spec++;
	} else {
		const char *colon = strrchr(spec, ':');

		if (colon == NULL || strchr(spec, ':') != colon)
			goto bad;
		hlen = (size_t)(colon - spec);
		port = colon + 1;
	}
	if (hlen >= sizeof(host))
		goto bad;
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	p = strtonum(port, 0, 65535, &errstr);
	if (errstr != NULL || *port == '\0')
		goto bad;

	if (hlen == 0 || strcmp(host, "*") == 0) {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		sin->sin_port = htons((uint16_t)p);
		l->addrlen = sizeof(*sin);
	} else if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		l->addrlen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		l->addrlen = sizeof(*sin6);
	} else if (strcmp(host, "localhost") == 0) {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin->sin_port = htons((uint16_t)p);
		l->addrlen = sizeof(*sin);
	} else
		goto bad;
	return 0;
bad:
	snprintf(err, errlen, "invalid listen address '%s': expected "
	    "host:port, [v6]:port, :port or unix:/path", l->spec);
	return -1;
}

void
cfg_addr_str(const struct sockaddr *sa, socklen_t len, char *out, size_t outsz)
{
	char host[INET6_ADDRSTRLEN];

	switch (sa->sa_family) {
	case AF_INET: {
		/* By hand: a worker formats its client's address for every
		 * connection it takes, and printf is most of that. */
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		const unsigned char *b = (const unsigned char *)&sin->sin_addr;
		char t[sizeof("255.255.255.255:65535")], num[DEC_LEN], *d;
		size_t n = 0, k;

		for (int i = 0; i < 5; i++) {
			d = dec_format(num, i < 4 ? b[i] : ntohs(sin->sin_port));
			k = (size_t)(num + DEC_LEN - d);
			memcpy(t + n, d, k);
			n += k;
			t[n++] = i < 3 ? '.' : ':';
		}
		t[n - 1] = '\0';	/* the last separator */
		strlcpy(out, t, outsz);
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(out, outsz, "[%s]:%u", host, ntohs(sin6->sin6_port));
		break;
	}
	case AF_UNIX: {
		const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;

		if (len <= offsetof(struct sockaddr_un, sun_path) ||
		    sun->sun_path[0] == '\0')
			snprintf(out, outsz, "unix");
		else
			snprintf(out, outsz, "unix:%s", sun->sun_path);
		break;
	}
	default:
		snprintf(out, outsz, "?");
	}
}

/* A URL prefix: starts with '/', no '?', '#', whitespace or controls. */
static int
check_prefix(const char *p, size_t len)
{
	if (len == 0 || len >= MODULE_PREFIX_MAX || p[0] != '/')
		return -1;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] <= ' ' || p[i] == '?' || p[i] == '#' ||
		    p[i] == 0x7f)
			return -1;
	return 0;
}

/* "PREFIX=FILE.so" (flag) or "PREFIX FILE.so" (config file). */
static int
set_module(struct cfg *c, const char *val, char *err, size_t errlen)
{
	struct cfg_module *m;
	size_t plen = strcspn(val, "= \t");
	const char *file = val + plen;

	while (*file == '=' || *file == ' ' || *file == '\t')
		file++;
	if (c->nmodules == MAX_MODULES) {
		snprintf(err, errlen, "too many modules (at most %d)",
		    MAX_MODULES);
		return -1;
	}
	if (val[plen] == '\0' || *file == '\0' || check_prefix(val, plen)) {
		snprintf(err, errlen, "invalid module '%s': expected "
		    "PREFIX=FILE.so with PREFIX starting with '/'", val);
		return -1;
	}
	if (plen > 1 && val[plen - 1] == '/')
		plen--;		/* "/api/" mounts like "/api" */
	for (int i = 0; i < c->nmodules; i++)
		if (strlen(c->modules[i].prefix) == plen &&
		    strncmp(c->modules[i].prefix, val, plen) == 0) {
			snprintf(err, errlen, "module prefix '%.*s' given "
			    "twice", (int)plen, val);
			return -1;
		}
	m = &c->modules[c->nmodules];
	memcpy(m->prefix, val, plen);
	m->prefix[plen] = '\0';
	if (strlcpy(m->path, file, sizeof(m->path)) >= sizeof(m->path)) {
		snprintf(err, errlen, "module path too long");
		return -1;
	}
	c->nmodules++;
	return 0;
}

/* "PREFIX KEY VALUE": the value is the rest and may hold spaces. */
static int
set_module_option(struct cfg *c, const char *val, char *err, size_t errlen)
{
	struct cfg_module_option *o;
	const char *k, *v;
	size_t plen, klen;

	if (c->nmodule_options == MAX_MODULE_OPTIONS) {
		snprintf(err, errlen, "too many module options (at most %d)",
		    MAX_MODULE_OPTIONS);
		return -1;
	}
	plen = strcspn(val, " \t");
	for (k = val + plen; *k == ' ' || *k == '\t'; k++)
		;
	klen = strcspn(k, " \t");
	for (v = k + klen; *v == ' ' || *v == '\t'; v++)
		;
	o = &c->module_options[c->nmodule_options];
	if (check_prefix(val, plen) || klen == 0 || klen >= sizeof(o->key) ||
	    strlen(v) >= sizeof(o->value)) {
		snprintf(err, errlen, "invalid module-option '%s': expected "
		    "'PREFIX KEY VALUE'", val);
		return -1;
	}
	if (plen > 1 && val[plen - 1] == '/')
		plen--;
	memcpy(o->prefix, val, plen);
	o->prefix[plen] = '\0';
	memcpy(o->key, k, klen);
	o->key[klen] = '\0';
	strlcpy(o->value, v, sizeof(o->value));
	c->nmodule_options++;
	return 0;
}

/*
 * "PREFIX VALUE": the value is the rest and goes out as it is, so it may
 * hold no control bytes (a CR or LF would split the response head).
 */
static int
set_cache_control(struct cfg *c, const char *val, char *err, size_t errlen)
{
	struct cfg_cache_control *cc;
	size_t plen = strcspn(val, " \t");
	const char *v;

	if (c->ncache_control == MAX_CACHE_CONTROL) {
		snprintf(err, errlen, "too many cache-control entries (at most "
		    "%d)", MAX_CACHE_CONTROL);
		return -1;
	}
	for (v = val + plen; *v == ' ' || *v == '\t'; v++)
		;
	cc = &c->cache_control[c->ncache_control];
	if (check_prefix(val, plen) || *v == '\0' ||
	    strlen(v) >= sizeof(cc->value))
		goto bad;
	for (const char *p = v; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			goto bad;
	if (plen > 1 && val[plen - 1] == '/')
		plen--;		/* "/assets/" is "/assets" and below */
	for (int i = 0; i < c->ncache_control; i++)
		if (strlen(c->cache_control[i].prefix) == plen &&
		    strncmp(c->cache_control[i].prefix, val, plen) == 0) {
			snprintf(err, errlen, "cache-control prefix '%.*s' given "
			    "twice", (int)plen, val);
			return -1;
		}
	memcpy(cc->prefix, val, plen);
	cc->prefix[plen] = '\0';
	strlcpy(cc->value, v, sizeof(cc->value));
	c->ncache_control++;
	return 0;
bad:
	snprintf(err, errlen, "invalid cache-control '%s': expected "
	    "'PREFIX VALUE' with PREFIX starting with '/'", val);
	return -1;
}

const struct cfg_cache_control *
cfg_cache_control_match(const struct cfg *c, const char *path, size_t plen)
{
	const struct cfg_cache_control *best = NULL;
	size_t blen = 0;

	for (int i = 0; i < c->ncache_control; i++) {
		const struct cfg_cache_control *cc = &c->cache_control[i];
		size_t n = strlen(cc->prefix);

		/* "/" matches every path; "/a" matches "/a" and "/a/..." */
		if (n > plen || memcmp(cc->prefix, path, n) != 0 ||
		    (n > 1 && n < plen && path[n] != '/'))
			continue;
		if (best == NULL || n > blen) {
			best = cc;
			blen = n;
		}
	}
	return best;
}

/*
 * "EXT=TYPE" (or "EXT TYPE" in a file); a leading '.' is allowed. A text
 * type without parameters gets "; charset=utf-8" as the built-in ones do.
 */
static int
set_mime_type(struct cfg *c, const char *val, char *err, size_t errlen)
{
	struct cfg_mime_type *m;
	char type[MIME_TYPE_MAX];
	const char *t;
	size_t elen, i;

	if (c->nmime_types == MAX_MIME_TYPES) {
		snprintf(err, errlen, "too many mime-type entries (at most %d)",
		    MAX_MIME_TYPES);
		return -1;
	}
	if (*val == '.')
		val++;
	elen = strcspn(val, "= \t");
	for (t = val + elen; *t == '=' || *t == ' ' || *t == '\t'; t++)
		;
	if (elen == 0 || elen > MIME_EXT_MAX || strchr(t, '/') == NULL ||
	    *t == '/')
		goto bad;
	for (i = 0; i < elen; i++)
		if ((unsigned char)val[i] <= ' ' || val[i] == '.' ||
		    val[i] == '/' || val[i] == 0x7f)
			goto bad;
	for (const char *p = t; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			goto bad;
	if ((strncasecmp(t, "text/", 5) == 0 && strchr(t, ';') == NULL ?
	    snprintf(type, sizeof(type), "%s; charset=utf-8", t) :
	    snprintf(type, sizeof(type), "%s", t)) >= (int)sizeof(type))
		goto bad;
	/* a later entry for the same extension replaces the earlier one */
	m = &c->mime_types[c->nmime_types];
	for (int k = 0; k < c->nmime_types; k++)
		if (strlen(c->mime_types[k].ext) == elen &&
		    strncasecmp(c->mime_types[k].ext, val, elen) == 0)
			m = &c->mime_types[k];
	strlcpy(m->type, type, sizeof(m->type));
	for (i = 0; i < elen; i++)
		m->ext[i] = (char)(val[i] >= 'A' && val[i] <= 'Z' ?
		    val[i] + 'a' - 'A' : val[i]);
	m->ext[elen] = '\0';
	if (m == &c->mime_types[c->nmime_types])
		c->nmime_types++;
	return 0;
bad:
	snprintf(err, errlen, "invalid mime-type '%s': expected EXT=TYPE, "
	    "such as md=text/markdown", val);
	return -1;
}

/*
 * "CODE=FILE" (or "CODE FILE" in a file): the file is read now, whole, so
 * that an unreadable one is a configuration error at start and at reload,
 * never a surprise at the first error.
 */
static int
set_error_page(struct cfg *c, const char *val, char *err, size_t errlen)
{
	struct cfg_error_page *ep;
	char num[8];
	const char *file, *errstr;
	size_t nlen = strcspn(val, "= \t"), got = 0;
	struct stat st;
	long long code;
	int fd = -1, rc = -1;

	for (file = val + nlen; *file == '=' || *file == ' ' ||
	    *file == '\t'; file++)
		;
	if (nlen == 0 || nlen >= sizeof(num) || *file == '\0') {
		snprintf(err, errlen, "invalid error-page '%s': expected "
		    "CODE=FILE", val);
		return -1;
	}
	memcpy(num, val, nlen);
	num[nlen] = '\0';
	code = strtonum(num, 400, 599, &errstr);
	if (errstr != NULL) {
		snprintf(err, errlen, "invalid error-page '%s': the code must "
		    "be 400..599", val);
		return -1;
	}
	/* the same code again replaces the earlier page */
	ep = NULL;
	for (int i = 0; i < c->nerror_pages; i++)
		if (c->error_pages[i].code == code)
			ep = &c->error_pages[i];
	if (ep == NULL && c->nerror_pages == MAX_ERROR_PAGES) {
		snprintf(err, errlen, "too many error pages (at most %d)",
		    MAX_ERROR_PAGES);
		return -1;
	}
	if (ep == NULL)
		ep = &c->error_pages[c->nerror_pages];
	if ((fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1 ||
	    fstat(fd, &st) == -1) {
		snprintf(err, errlen, "error-page %lld: cannot read %s: %s",
		    code, file, strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > ERROR_PAGE_MAX ||
	    strlen(file) >= sizeof(ep->path)) {
		snprintf(err, errlen, "error-page %lld: %s is not a regular "
		    "file of at most %d bytes", code, file, ERROR_PAGE_MAX);
		goto done;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, ep->body + got, (size_t)st.st_size - got);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "error-page %lld: cannot read %s: "
			    "%s", code, file, n == 0 ? "file shrank" :
			    strerror(errno));
			goto done;
		}
		got += (size_t)n;
	}
	ep->code = (int)code;
	ep->len = got;
	strlcpy(ep->path, file, sizeof(ep->path));
	if (ep == &c->error_pages[c->nerror_pages])
		c->nerror_pages++;
	rc = 0;
done:
	if (fd != -1)
		close(fd);
	return rc;
}

const struct cfg_error_page *
cfg_error_page(const struct cfg *c, int code)
{
	for (int i = 0; i < c->nerror_pages; i++)
		if (c->error_pages[i].code == code)
			return &c->error_pages[i];
	return NULL;
}

/* --sandbox-read/-write: absolute, so that it means one place whatever
 * the directory a worker runs in. */
static int
add_sandbox_path(char list[][SANDBOX_PATH_MAX], int *n, const char *key,
    const char *val, char *err, size_t errlen)
{
	if (*n == MAX_SANDBOX_PATHS) {
		snprintf(err, errlen, "too many %s paths (at most %d)", key,
		    MAX_SANDBOX_PATHS);
		return -1;
	}
	if (val[0] != '/' || strlcpy(list[*n], val, SANDBOX_PATH_MAX) >=
	    SANDBOX_PATH_MAX) {
		snprintf(err, errlen, "invalid %s path '%s': must be absolute "
		    "(and shorter than %d bytes)", key, val, SANDBOX_PATH_MAX);
		return -1;
	}
	(*n)++;
	return 0;
}

enum sandbox_profile
cfg_sandbox(const struct cfg *c)
{
	if (c->sandbox != SANDBOX_UNSET)
		return c->sandbox;
	return c->nmodules > 0 ? SANDBOX_STANDARD : SANDBOX_STRICT;
}

#define SET_MS(field) do {						\
	if (cfg_parse_seconds(val, &c->field) == -1)			\
		goto bad_seconds;					\
	return 0;							\
} while (0)

/* For a timeout where 0 would mean "drop everything" (or 1 ms). */
#define SET_MS_POSITIVE(field) do {					\
	int ms_;							\
	if (cfg_parse_seconds(val, &ms_) == -1)				\
		goto bad_seconds;					\
	if (ms_ == 0)							\
		goto zero_seconds;					\
	c->field = ms_;							\
	return 0;							\
} while (0)

#define SET_COUNT(field, lo, hi) do {					\
	long long v_;							\
	if (parse_count(val, (lo), (hi), &v_) == -1) {			\
		snprintf(err, errlen, "invalid value '%s' for %s: "	\
		    "must be an integer in %lld..%lld", val, key,	\
		    (long long)(lo), (long long)(hi));			\
		return -1;						\
	}								\
	c->field = v_;							\
	return 0;							\
} while (0)

static int	set_key(struct cfg *, const char *, const char *, char *,
		    size_t);
/* "ADDR" or "ADDR,proxy" (SPEC 2). */
static int
set_listen(struct cfg *c, const char *val, char *err, size_t errlen)
{
	char spec[sizeof(c->listen[0].spec)];
	const char *comma = strrchr(val, ',');
	struct cfg_listen *l = &c->listen[c->nlisten];
	size_t n = comma != NULL ? (size_t)(comma - val) : strlen(val);

	if (c->nlisten == MAX_LISTENERS) {
		snprintf(err, errlen, "too many listen addresses (at most %d)",
		    MAX_LISTENERS);
		return -1;
	}
	if (comma != NULL && strcmp(comma, ",proxy") != 0) {
		snprintf(err, errlen, "invalid listen option '%s': the only "
		    "one is ,proxy", comma + 1);
		return -1;
	}
	if (strlen(val) >= sizeof(spec)) {
		snprintf(err, errlen, "listen address too long");
		return -1;
	}
	memcpy(spec, val, n);
	spec[n] = '\0';
	if (cfg_parse_listen(spec, l, err, errlen) == -1)
		return -1;
	/* Trust is by network address; a unix socket peer has none. */
	if (comma != NULL && l->addr.ss_family == AF_UNIX) {
		snprintf(err, errlen, "invalid listen address '%s': ,proxy "
		    "needs a TCP listener (PROXY sources are trusted by "
		    "address)", val);
		return -1;
	}
	l->proxy = comma != NULL;
	strlcpy(l->spec, val, sizeof(l->spec));	/* as given */
	c->nlisten++;
	return 0;
}

int
cfg_parse_cidr(const char *s, struct cfg_cidr *n)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/'), *errstr;
	size_t hlen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	int max;

	memset(n, 0, sizeof(*n));
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, n->addr) == 1) {
		n->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, n->addr) == 1) {
		n->family = AF_INET6;
		max = 128;
	} else
		return -1;
	n->bits = max;
	if (slash != NULL) {
		n->bits = (int)strtonum(slash + 1, 0, max, &errstr);
		if (errstr != NULL || slash[1] == '\0')
			return -1;
	}
	for (int i = n->bits; i < max; i++)
		n->addr[i / 8] &= (unsigned char)~(0x80 >> (i % 8));
	return 0;
}

void
cfg_cidr_str(const struct cfg_cidr *n, char *out, size_t outsz)
{
	char a[INET6_ADDRSTRLEN];

	if (inet_ntop(n->family, n->addr, a, sizeof(a)) == NULL)
		strlcpy(a, "?", sizeof(a));
	snprintf(out, outsz, "%s/%d", a, n->bits);
}

int
cfg_trusted(const struct cfg *c, const struct sockaddr *sa)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0xff, 0xff };
	const unsigned char *a;
	int family = sa->sa_family;

	if (family == AF_INET)
		a = (const unsigned char *)
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (family == AF_INET6) {
		a = ((const struct sockaddr_in6 *)(const void *)sa)->
		    sin6_addr.s6_addr;
		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			family = AF_INET;	/* a dual-stack listener's v4 */
			a += sizeof(mapped);
		}
	} else
		return 0;
	for (int i = 0; i < c->ntrusted; i++) {
		const struct cfg_cidr *n = &c->trusted[i];
		int full = n->bits / 8, rest = n->bits % 8;

		if (n->family != family || memcmp(a, n->addr, full) != 0)
			continue;
		if (rest == 0 || ((a[full] ^ n->addr[full]) &
		    (0xff << (8 - rest)) & 0xff) == 0)
			return 1;
	}
	return 0;
}

/* Control bytes quoted from a value must not break the one-line rule. */
static void
one_line(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

int
cfg_set(struct cfg *c, const char *key, const char *val, char *err,
    size_t errlen)
{
	if (set_key(c, key, val, err, errlen) == 0)
		return 0;
	one_line(err);
	return -1;
}

static int
set_key(struct cfg *c, const char *key, const char *val, char *err,
    size_t errlen)
{
	if (strcmp(key, "listen") == 0)
		return set_listen(c, val, err, errlen);
	if (strcmp(key, "status-listen") == 0) {
		if (cfg_parse_listen(val, &c->status_listen, err, errlen) == -1)
			return -1;
		c->has_status = 1;
		return 0;
	}
	if (strcmp(key, "agent-listen") == 0) {
		char why[256];

		if (cfg_parse_listen(val, &c->agent_listen, why,
		    sizeof(why)) == -1) {
			snprintf(err, errlen, "agent-listen: %s", why);
			return -1;
		}
		/* HAProxy's agent check connects over TCP only. */
		if (c->agent_listen.addr.ss_family == AF_UNIX) {
			snprintf(err, errlen, "invalid value '%s' for "
			    "agent-listen: must be host:port, [v6]:port or "
			    ":port (the agent check is TCP)", val);
			return -1;
		}
		c->has_agent = 1;
		return 0;
	}
	if (strcmp(key, "workers") == 0) {
		if (strcmp(val, "auto") == 0) {
			long n = sysconf(_SC_NPROCESSORS_ONLN);

			c->workers = n < 1 ? 1 :
			    (n > MAX_WORKERS ? MAX_WORKERS : (int)n);
			return 0;
		}
		long long v;

		if (parse_count(val, 1, MAX_WORKERS, &v) == -1) {
			snprintf(err, errlen, "invalid value '%s' for workers: "
			    "must be 1..%d or auto", val, MAX_WORKERS);
			return -1;
		}
		c->workers = (int)v;
		return 0;
	}
	if (strcmp(key, "docroot") == 0) {
		if (*val == '\0' || strlcpy(c->docroot, val,
		    sizeof(c->docroot)) >= sizeof(c->docroot)) {
			snprintf(err, errlen, "invalid document root '%s'", val);
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "timeout") == 0)
		SET_MS_POSITIVE(timeout_ms);
	if (strcmp(key, "header-timeout") == 0)
		SET_MS_POSITIVE(header_timeout_ms);
	if (strcmp(key, "body-timeout") == 0)
		SET_MS_POSITIVE(body_timeout_ms);
	if (strcmp(key, "write-timeout") == 0)
		SET_MS_POSITIVE(write_timeout_ms);
	if (strcmp(key, "idle-timeout") == 0)
		SET_MS(idle_timeout_ms);
	if (strcmp(key, "graceful-timeout") == 0)
		SET_MS(graceful_timeout_ms);
	if (strcmp(key, "drain-delay") == 0)
		SET_MS(drain_delay_ms);
	if (strcmp(key, "min-body-rate") == 0)
		SET_COUNT(min_body_rate, 0, 1LL << 40);
	if (strcmp(key, "max-requests") == 0)
		SET_COUNT(max_requests, 0, 1LL << 40);
	if (strcmp(key, "max-requests-jitter") == 0)
		SET_COUNT(max_requests_jitter, 0, 1LL << 40);
	if (strcmp(key, "keepalive-requests") == 0)
		SET_COUNT(keepalive_requests, 1, 1LL << 40);
	if (strcmp(key, "max-header-size") == 0)
		SET_COUNT(max_header_size, MIN_HEADER_SIZE, MAX_HEADER_SIZE);
	if (strcmp(key, "max-body-size") == 0)
		SET_COUNT(max_body_size, 0, 1LL << 50);
	if (strcmp(key, "backlog") == 0)
		SET_COUNT(backlog, 1, 65535);
	if (strcmp(key, "max-parked") == 0)
		SET_COUNT(max_parked, 1, MAX_PARKED);
	if (strcmp(key, "buffer-body") == 0)
		SET_COUNT(buffer_body, 0, MAX_BUFFER_BODY);
	if (strcmp(key, "min-send-rate") == 0)
		SET_COUNT(min_send_rate, 0, 1LL << 40);
	if (strcmp(key, "access-log") == 0 || strcmp(key, "error-log") == 0) {
		char *dst = key[0] == 'a' ? c->access_log : c->error_log;

		if (*val == '\0' || strlcpy(dst, val, PATH_MAX) >= PATH_MAX ||
		    (key[0] == 'e' && strcmp(val, "off") == 0)) {
			snprintf(err, errlen, "invalid value '%s' for %s", val,
			    key);
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "access-log-format") == 0) {
		if (strcmp(val, "combined") == 0)
			c->access_format = ACCESS_COMBINED;
		else if (strcmp(val, "json") == 0)
			c->access_format = ACCESS_JSON;
		else {
			snprintf(err, errlen, "invalid value '%s' for "
			    "access-log-format: must be combined or json", val);
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "log-level") == 0) {
		static const char *names[] = { "debug", "info", "warn", "error" };

		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strcmp(val, names[i]) == 0) {
				c->log_level = (enum log_level)i;
				return 0;
			}
		snprintf(err, errlen, "invalid value '%s' for log-level: must "
		    "be debug, info, warn or error", val);
		return -1;
	}
	if (strcmp(key, "pid-file") == 0) {
		if (*val == '\0' || strlcpy(c->pid_file, val,
		    sizeof(c->pid_file)) >= sizeof(c->pid_file)) {
			snprintf(err, errlen, "invalid pid-file '%s'", val);
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "user") == 0) {
		size_t ulen = strcspn(val, ":");

		if (ulen == 0 || ulen >= sizeof(c->user) ||
		    strlen(val + ulen) >= sizeof(c->group) + 1 ||
		    (val[ulen] == ':' && val[ulen + 1] == '\0')) {
			snprintf(err, errlen, "invalid user '%s': expected "
			    "USER or USER:GROUP", val);
			return -1;
		}
		memcpy(c->user, val, ulen);
		c->user[ulen] = '\0';
		strlcpy(c->group, val[ulen] == ':' ? val + ulen + 1 : "",
		    sizeof(c->group));
		return 0;
	}
	if (strcmp(key, "daemon") == 0 || strcmp(key, "autoindex") == 0) {
		int *dst = key[0] == 'd' ? &c->daemon : &c->autoindex;

		if (strcmp(val, "on") == 0 || strcmp(val, "yes") == 0)
			*dst = 1;
		else if (strcmp(val, "off") == 0 || strcmp(val, "no") == 0)
			*dst = 0;
		else {
			snprintf(err, errlen, "invalid value '%s' for %s: "
			    "must be on or off", val, key);
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "module") == 0)
		return set_module(c, val, err, errlen);
	if (strcmp(key, "module-option") == 0)
		return set_module_option(c, val, err, errlen);
	if (strcmp(key, "cache-control") == 0)
		return set_cache_control(c, val, err, errlen);
	if (strcmp(key, "mime-type") == 0)
		return set_mime_type(c, val, err, errlen);
	if (strcmp(key, "error-page") == 0)
		return set_error_page(c, val, err, errlen);
	if (strcmp(key, "health-path") == 0) {
		/* Compared with the raw target: no query, nothing to decode. */
		if (val[0] != '/' || strcspn(val, "?#% \t") != strlen(val) ||
		    strlcpy(c->health_path, val, sizeof(c->health_path)) >=
		    sizeof(c->health_path)) {
			snprintf(err, errlen, "invalid value '%s' for health-path: "
			    "must be a path starting with / (no query, no %%)",
			    val);
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "sandbox") == 0) {
		if (strcmp(val, "strict") == 0)
			c->sandbox = SANDBOX_STRICT;
		else if (strcmp(val, "standard") == 0)
			c->sandbox = SANDBOX_STANDARD;
		else if (strcmp(val, "off") == 0)
			c->sandbox = SANDBOX_OFF;
		else {
			snprintf(err, errlen, "invalid value '%s' for sandbox: "
			    "must be strict, standard or off", val);
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "sandbox-read") == 0)
		return add_sandbox_path(c->sandbox_read, &c->nsandbox_read, key,
		    val, err, errlen);
	if (strcmp(key, "sandbox-write") == 0)
		return add_sandbox_path(c->sandbox_write, &c->nsandbox_write,
		    key, val, err, errlen);
	if (strcmp(key, "trusted-proxy") == 0) {
		if (c->ntrusted == MAX_TRUSTED_PROXIES) {
			snprintf(err, errlen, "too many trusted-proxy networks "
			    "(at most %d)", MAX_TRUSTED_PROXIES);
			return -1;
		}
		if (cfg_parse_cidr(val, &c->trusted[c->ntrusted]) == -1) {
			snprintf(err, errlen, "invalid value '%s' for "
			    "trusted-proxy: expected an IPv4 or IPv6 address or "
			    "CIDR (192.0.2.0/24, 2001:db8::/32)", val);
			return -1;
		}
		c->ntrusted++;
		return 0;
	}
	snprintf(err, errlen, "unknown key '%s'", key);
	return -1;
bad_seconds:
	snprintf(err, errlen, "invalid value '%s' for %s: must be seconds "
	    "(0 to %d, up to 3 decimals)", val, key, MAX_TIMEOUT_MS / 1000);
	return -1;
zero_seconds:
	snprintf(err, errlen, "invalid value '%s' for %s: must be greater "
	    "than 0", val, key);
	return -1;
}

void
cfg_clear(struct cfg *c, const char *key)
{
	if (strcmp(key, "listen") == 0)
		c->nlisten = 0;
	else if (strcmp(key, "module") == 0)
		c->nmodules = 0;
	else if (strcmp(key, "module-option") == 0)
		c->nmodule_options = 0;
	else if (strcmp(key, "cache-control") == 0)
		c->ncache_control = 0;
	else if (strcmp(key, "mime-type") == 0)
		c->nmime_types = 0;
	else if (strcmp(key, "error-page") == 0)
		c->nerror_pages = 0;
	else if (strcmp(key, "sandbox-read") == 0)
		c->nsandbox_read = 0;
	else if (strcmp(key, "sandbox-write") == 0)
		c->nsandbox_write = 0;
	else if (strcmp(key, "trusted-proxy") == 0)
		c->ntrusted = 0;
}

/* Keys that make no sense in a file. */
static bool
file_key_ok(const char *key)
{
	static const char *no[] = { "config", "check-config", "help",
	    "version", "signal" };

	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (strcmp(key, no[i]) == 0)
			return false;
	return true;
}

int
cfg_load_file(struct cfg *c, const char *path, char *err, size_t errlen)
{
	char line[4096], why[512];
	FILE *f;
	int lineno = 0, rc = -1;

	if ((f = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = line, *key, *val, *end;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line too long", path, lineno);
			goto done;
		}
		/* comments: '#' at the start or after white space */
		for (char *h = line; (h = strchr(h, '#')) != NULL; h++)
			if (h == line || h[-1] == ' ' || h[-1] == '\t') {
				*h = '\0';
				break;
			}
		while (*p == ' ' || *p == '\t')
			p++;
		end = p + strlen(p);
		while (end > p && (end[-1] == '\n' || end[-1] == '\r' ||
		    end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*p == '\0')
			continue;
		key = p;
		p += strcspn(p, " \t");
		if (*p != '\0')
			*p++ = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		val = p;
		if (!file_key_ok(key)) {
			snprintf(err, errlen, "%s:%d: '%s' cannot be set in a "
			    "config file", path, lineno, key);
			goto done;
		}
		if (*val == '\0') {
			snprintf(err, errlen, "%s:%d: '%s' needs a value", path,
			    lineno, key);
			goto done;
		}
		if (cfg_set(c, key, val, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
			goto done;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		goto done;
	}
	rc = 0;
done:
	if (rc == -1)
		one_line(err);
	fclose(f);
	return rc;
}

int
cfg_finish(struct cfg *c, char *err, size_t errlen)
{
	for (int i = 0; i < c->nmodule_options; i++) {
		int found = 0;

		for (int m = 0; m < c->nmodules; m++)
			if (strcmp(c->modules[m].prefix,
			    c->module_options[i].prefix) == 0)
				found = 1;
		if (!found) {
			snprintf(err, errlen, "module-option for '%s': no "
			    "module is mounted there",
			    c->module_options[i].prefix);
			return -1;
		}
	}
	if (c->nlisten == 0 &&
	    cfg_set(c, "listen", DEFAULT_LISTEN, err, errlen) == -1)
		return -1;
	return 0;
}
