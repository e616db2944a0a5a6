/*
 * fuzz_cfg - libFuzzer target for the configuration setters (common/cfg.c).
 *
 * Input: KEY NUL VALUE (no NUL: the whole input is the key, the value is
 * empty; the value ends at a second NUL, as a C string would). Calls
 * cfg_set(KEY, VALUE) on the defaults, cfg_parse_listen(VALUE) and
 * cfg_parse_seconds(VALUE). Invariants:
 *  - on failure the message is non-empty, NUL-terminated and one line;
 *  - on success the value is in its documented range, and cfg_set changed
 *    the field of that key and no other;
 *  - a parsed listen address formats (cfg_addr_str) to a spec that parses
 *    back to the same address;
 *  - cfg_parse_seconds accepts exactly DIGITS[.1-3 DIGITS] up to the
 *    documented maximum and returns the exact milliseconds.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ERRLEN	512	/* what the master gives cfg_set() */

static void fail(const char *, ...) __attribute__((format(printf, 1, 2),
    noreturn));

static void
fail(const char *fmt, ...)
{
	va_list ap;

	fputs("fuzz_cfg: invariant broken: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/*
 * FUZZ_CFG_TOLERATE (a comma list: "oneline", "seconds") turns off the
 * check of that name while a known bug in it is being fixed.
 */
static bool
tolerated(const char *name)
{
	const char *list = getenv("FUZZ_CFG_TOLERATE"), *p;
	size_t n = strlen(name);

	for (p = list; p != NULL && *p != '\0'; p += strcspn(p, ","),
	    p += *p == ',')
		if (strcspn(p, ",") == n && strncmp(p, name, n) == 0)
			return true;
	return false;
}

/* The error message of a failed call: non-empty, terminated, one line. */
static void
check_err(const char *what, const char *err)
{
	size_t n = strnlen(err, ERRLEN);

	if (n == ERRLEN)
		fail("%s: error message not NUL-terminated", what);
	if (n == 0)
		fail("%s: failed with an empty error message", what);
	if (strpbrk(err, "\r\n") != NULL && !tolerated("oneline"))
		fail("%s: error message is not one line: \"%s\"", what, err);
}

/* DIGITS [ "." 1*3DIGIT ], at most MAX_TIMEOUT_MS: the documented form. */
static bool
seconds_oracle(const char *s, long long *ms)
{
	long long v = 0, frac = 0;
	int nfrac = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++)
		if ((v = v * 10 + (*p - '0')) > MAX_TIMEOUT_MS)
			return false;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			if (++nfrac > 3)
				return false;
			frac = frac * 10 + (*p - '0');
		}
		if (nfrac == 0)
			return false;
		while (nfrac++ < 3)
			frac *= 10;
	}
	if (*p != '\0')
		return false;
	*ms = v * 1000 + frac;
	return *ms <= MAX_TIMEOUT_MS;
}

static void
check_seconds(const char *val)
{
	int ms = -1;
	long long want = -1;
	int rc = cfg_parse_seconds(val, &ms);
	bool ok = seconds_oracle(val, &want);

	if (rc != 0 && rc != -1)
		fail("cfg_parse_seconds(\"%s\") returned %d", val, rc);
	if (tolerated("seconds"))
		return;
	if (rc == 0 && (ms < 0 || ms > MAX_TIMEOUT_MS))
		fail("cfg_parse_seconds(\"%s\") gave %d ms, outside 0..%d", val,
		    ms, MAX_TIMEOUT_MS);
	if ((rc == 0) != ok || (ok && ms != want))
		fail("cfg_parse_seconds(\"%s\"): %d, %d ms; the documented "
		    "form says %s, %lld ms", val, rc, ms, ok ? "ok" : "error",
		    want);
}

/* Family, address and port (or path) of a parsed listener. */
static bool
same_addr(const struct cfg_listen *a, const struct cfg_listen *b)
{
	const struct sockaddr *x = (const struct sockaddr *)&a->addr;
	const struct sockaddr *y = (const struct sockaddr *)&b->addr;

	if (x->sa_family != y->sa_family || a->addrlen != b->addrlen)
		return false;
	switch (x->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *p = (const void *)x;
		const struct sockaddr_in *q = (const void *)y;

		return p->sin_port == q->sin_port &&
		    p->sin_addr.s_addr == q->sin_addr.s_addr;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *p = (const void *)x,
		    *q = (const void *)y;

		return p->sin6_port == q->sin6_port &&
		    memcmp(&p->sin6_addr, &q->sin6_addr, 16) == 0;
	}
	case AF_UNIX: {
		const struct sockaddr_un *p = (const void *)x;
		const struct sockaddr_un *q = (const void *)y;

		return strcmp(p->sun_path, q->sun_path) == 0;
	}
	}
	return false;
}

static void
check_listen(const char *val, const struct cfg_listen *l)
{
	const struct sockaddr *sa = (const struct sockaddr *)&l->addr;
	struct cfg_listen back;
	char str[256], err[ERRLEN];

	if (strcmp(l->spec, val) != 0)
		fail("listen \"%s\" kept spec \"%s\"", val, l->spec);
	switch (sa->sa_family) {
	case AF_INET:
		if (l->addrlen != sizeof(struct sockaddr_in))
			fail("listen \"%s\": AF_INET with addrlen %u", val,
			    (unsigned)l->addrlen);
		break;
	case AF_INET6:
		if (l->addrlen != sizeof(struct sockaddr_in6))
			fail("listen \"%s\": AF_INET6 with addrlen %u", val,
			    (unsigned)l->addrlen);
		break;
	case AF_UNIX: {
		const struct sockaddr_un *sun = (const void *)sa;

		if (l->addrlen != sizeof(*sun) || sun->sun_path[0] != '/' ||
		    strnlen(sun->sun_path, sizeof(sun->sun_path)) ==
		    sizeof(sun->sun_path))
			fail("listen \"%s\": bad unix address", val);
		break;
	}
	default:
		fail("listen \"%s\": family %d", val, sa->sa_family);
	}
	/* What the logs print must name the same address. */
	cfg_addr_str(sa, l->addrlen, str, sizeof(str));
	if (cfg_parse_listen(str, &back, err, sizeof(err)) != 0)
		fail("listen \"%s\" prints as \"%s\", which does not parse: %s",
		    val, str, err);
	if (!same_addr(l, &back))
		fail("listen \"%s\" prints as \"%s\", which is another address",
		    val, str);
}

/* A module URL prefix as stored: '/', no whitespace, '?', '#' or CTL. */
static bool
good_prefix(const char *p)
{
	size_t n = strnlen(p, MODULE_PREFIX_MAX);

	if (n == 0 || n == MODULE_PREFIX_MAX || p[0] != '/')
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] <= ' ' || p[i] == '?' || p[i] == '#' ||
		    p[i] == 0x7f)
			return false;
	return true;
}

/*
 * cfg_set(key, val) succeeded on the defaults: the key's field is in its
 * documented range, and no other field moved (d is a scratch cfg).
 */
static void
check_set(const char *key, const char *val, const struct cfg *c,
    struct cfg *d)
{
	long long v = 0, lo = 0, hi = 0;
	bool seconds = strstr(key, "timeout") != NULL ||
	    strcmp(key, "drain-delay") == 0;

	cfg_defaults(d);
#define FIELD(name, f, l, h) else if (strcmp(key, name) == 0) {		\
	v = c->f;							\
	lo = (l);							\
	hi = (h);							\
	d->f = c->f;							\
}
	if (strcmp(key, "listen") == 0) {
		if (c->nlisten != 1)
			fail("listen: nlisten %d", c->nlisten);
		check_listen(val, &c->listen[0]);
		d->nlisten = c->nlisten;
		memcpy(&d->listen[0], &c->listen[0], sizeof(d->listen[0]));
	}
	else if (strcmp(key, "status-listen") == 0) {
		if (c->has_status != 1)
			fail("status-listen: has_status %d", c->has_status);
		check_listen(val, &c->status_listen);
		d->has_status = c->has_status;
		memcpy(&d->status_listen, &c->status_listen,
		    sizeof(d->status_listen));
	}
	FIELD("workers", workers, 1, MAX_WORKERS)
	FIELD("timeout", timeout_ms, 1, MAX_TIMEOUT_MS)
	FIELD("header-timeout", header_timeout_ms, 1, MAX_TIMEOUT_MS)
	FIELD("body-timeout", body_timeout_ms, 1, MAX_TIMEOUT_MS)
	FIELD("write-timeout", write_timeout_ms, 1, MAX_TIMEOUT_MS)
	FIELD("idle-timeout", idle_timeout_ms, 0, MAX_TIMEOUT_MS)
	FIELD("graceful-timeout", graceful_timeout_ms, 0, MAX_TIMEOUT_MS)
	FIELD("drain-delay", drain_delay_ms, 0, MAX_TIMEOUT_MS)
	FIELD("min-body-rate", min_body_rate, 0, 1LL << 40)
	FIELD("max-requests", max_requests, 0, 1LL << 40)
	FIELD("max-requests-jitter", max_requests_jitter, 0, 1LL << 40)
	FIELD("keepalive-requests", keepalive_requests, 1, 1LL << 40)
	FIELD("max-header-size", max_header_size, MIN_HEADER_SIZE,
	    MAX_HEADER_SIZE)
	FIELD("max-body-size", max_body_size, 0, 1LL << 50)
	FIELD("backlog", backlog, 1, 65535)
	FIELD("access-log-format", access_format, ACCESS_COMBINED, ACCESS_JSON)
	FIELD("log-level", log_level, LOG_LEVEL_DEBUG, LOG_LEVEL_ERROR)
	FIELD("daemon", daemon, 0, 1)
	else if (strcmp(key, "docroot") == 0) {
		if (val[0] == '\0' || strcmp(c->docroot, val) != 0)
			fail("docroot \"%s\" stored as \"%s\"", val,
			    c->docroot);
		memcpy(d->docroot, c->docroot, sizeof(d->docroot));
	} else if (strcmp(key, "access-log") == 0) {
		if (val[0] == '\0' || strcmp(c->access_log, val) != 0)
			fail("access-log \"%s\" stored as \"%s\"", val,
			    c->access_log);
		memcpy(d->access_log, c->access_log, sizeof(d->access_log));
	} else if (strcmp(key, "error-log") == 0) {
		if (val[0] == '\0' || strcmp(val, "off") == 0 ||
		    strcmp(c->error_log, val) != 0)
			fail("error-log \"%s\" stored as \"%s\"", val,
			    c->error_log);
		memcpy(d->error_log, c->error_log, sizeof(d->error_log));
	} else if (strcmp(key, "pid-file") == 0) {
		if (val[0] == '\0' || strcmp(c->pid_file, val) != 0)
			fail("pid-file \"%s\" stored as \"%s\"", val,
			    c->pid_file);
		memcpy(d->pid_file, c->pid_file, sizeof(d->pid_file));
	} else if (strcmp(key, "user") == 0) {
		size_t ulen = strlen(c->user);

		/* USER or USER:GROUP, both parts non-empty */
		if (ulen == 0 || strncmp(val, c->user, ulen) != 0 ||
		    strchr(c->user, ':') != NULL ||
		    (val[ulen] == '\0' && c->group[0] != '\0') ||
		    (val[ulen] != '\0' && (val[ulen] != ':' ||
		    c->group[0] == '\0' || strcmp(val + ulen + 1, c->group))))
			fail("user \"%s\" stored as \"%s\" \"%s\"", val,
			    c->user, c->group);
		memcpy(d->user, c->user, sizeof(d->user));
		memcpy(d->group, c->group, sizeof(d->group));
	} else if (strcmp(key, "module") == 0) {
		const struct cfg_module *m = &c->modules[0];

		if (c->nmodules != 1 || !good_prefix(m->prefix) ||
		    m->path[0] == '\0' ||
		    strnlen(m->path, sizeof(m->path)) == sizeof(m->path) ||
		    strncmp(val, m->prefix, strlen(m->prefix)) != 0)
			fail("module \"%s\" stored as %d, \"%.*s\" \"%.*s\"",
			    val, c->nmodules, MODULE_PREFIX_MAX, m->prefix,
			    PATH_MAX, m->path);
		d->nmodules = c->nmodules;
		memcpy(&d->modules[0], m, sizeof(*m));
	} else if (strcmp(key, "module-option") == 0) {
		const struct cfg_module_option *o = &c->module_options[0];

		if (c->nmodule_options != 1 || !good_prefix(o->prefix) ||
		    o->key[0] == '\0' || strpbrk(o->key, " \t") != NULL ||
		    strnlen(o->key, sizeof(o->key)) == sizeof(o->key) ||
		    strnlen(o->value, sizeof(o->value)) == sizeof(o->value))
			fail("module-option \"%s\" stored badly", val);
		d->nmodule_options = c->nmodule_options;
		memcpy(&d->module_options[0], o, sizeof(*o));
	} else {
		/* A key newer than this harness: only the generic checks. */
		return;
	}
#undef FIELD
	if ((v < lo || v > hi) && !(seconds && tolerated("seconds")))
		fail("%s \"%s\" stored %lld, outside %lld..%lld", key, val, v,
		    lo, hi);
	if (seconds && !tolerated("seconds")) {
		long long want;

		if (!seconds_oracle(val, &want) || want != v)
			fail("%s \"%s\" stored %lld ms", key, val, v);
	}
	if (memcmp(d, c, sizeof(*d)) != 0)
		fail("cfg_set(%s, \"%s\") changed another field", key, val);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t klen = nul ? (size_t)(nul - data) : size;
	size_t vlen = nul ? size - klen - 1 : 0;
	/* A cfg is big (modules, paths): two of them, reused. */
	static struct cfg c, d;
	char *key, *val, err[ERRLEN];
	struct cfg_listen l;

	/* Exact-size C strings, so that reading past either is caught. */
	key = malloc(klen + 1);
	val = malloc(vlen + 1);
	if (key == NULL || val == NULL)
		abort();
	memcpy(key, data, klen);
	key[klen] = '\0';
	if (vlen > 0)
		memcpy(val, nul + 1, vlen);
	val[vlen] = '\0';

	cfg_defaults(&c);
	memset(err, 0, sizeof(err));
	switch (cfg_set(&c, key, val, err, sizeof(err))) {
	case 0:
		check_set(key, val, &c, &d);
		break;
	case -1:
		check_err("cfg_set", err);
		break;
	default:
		fail("cfg_set returned neither 0 nor -1");
	}

	memset(err, 0, sizeof(err));
	switch (cfg_parse_listen(val, &l, err, sizeof(err))) {
	case 0:
		check_listen(val, &l);
		break;
	case -1:
		check_err("cfg_parse_listen", err);
		break;
	default:
		fail("cfg_parse_listen returned neither 0 nor -1");
	}
	check_seconds(val);

	free(key);
	free(val);
	return 0;
}
