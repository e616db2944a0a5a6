/*
 * listen - creates the listening sockets. Timeouts are set here, on the
 * listener, because accepted sockets inherit them on Linux: the workers
 * then spend no syscall per connection on them.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "listen.h"
#include "log.h"

/* A socket file nobody listens on is a leftover of a dead server. */
static void
unlink_stale(const struct sockaddr_un *sun)
{
	struct stat st;
	int fd;

	if (lstat(sun->sun_path, &st) == -1 || !S_ISSOCK(st.st_mode))
		return;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return;
	if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == -1 &&
	    errno == ECONNREFUSED)
		unlink(sun->sun_path);
	close(fd);
}

static void
set_timeo(int fd, int opt, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	(void)setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv));
}

/* SO_RCVTIMEO: one fairness slice (accepted TCP sockets inherit it). */
static void
set_rcv_slice(int fd)
{
	struct timeval tv = { 0, FAIR_SLICE_US };

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/*
 * TCP_DEFER_ACCEPT: the kernel completes the handshake into the accept
 * queue only once the client sent data, so a worker wakes for a head it
 * can read at once, and a client that connects and stays silent costs no
 * process (after the deferral it is accepted anyway and parked with the
 * keeper). As long as the header timeout, so that a silent client is not
 * kept much beyond it, and at most DEFER_ACCEPT_MAX_S: the kernel counts
 * the time in SYN-ACK retransmissions, and past tcp_synack_retries it
 * drops the client without a word.
 */
static void
set_defer(int fd, const struct cfg *c, const struct cfg_listen *l)
{
	int s = (c->header_timeout_ms + 999) / 1000;

	/* The status process reads its clients under its own short
	 * deadline, silent ones included; no keeper behind it. An agent
	 * check sends nothing unless told to (agent-send). */
	if (l == &c->status_listen || l == &c->agent_listen)
		return;
	if (s > DEFER_ACCEPT_MAX_S)
		s = DEFER_ACCEPT_MAX_S;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &s, sizeof(s));
}

static bool
is_tcp(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	return getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
	    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
}

int
listen_open(const struct cfg *c, const struct cfg_listen *l, char *err,
    size_t errlen, int *exitcode)
{
	int fd = -1, one = 1, family = l->addr.ss_family;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char name[160];

	if ((fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket() for %s failed: %s", l->spec,
		    strerror(errno));
		*exitcode = EX_OSERR;
		goto fail;
	}
	if (family == AF_UNIX)
		unlink_stale((const struct sockaddr_un *)&l->addr);
	else {
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (family == AF_INET6)
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			    sizeof(one));
		set_defer(fd, c, l);
	}
	/* The first fairness slice of a keep-alive wait is a plain blocking
	 * read (conn.c fast_wait); past it the worker polls. */
	set_rcv_slice(fd);
	set_timeo(fd, SO_SNDTIMEO, c->write_timeout_ms);
	if (bind(fd, (const struct sockaddr *)&l->addr, l->addrlen) == -1) {
		snprintf(err, errlen, "bind() to %s failed: %s", l->spec,
		    strerror(errno));
		*exitcode = errno == EADDRINUSE || errno == EADDRNOTAVAIL ?
		    EX_UNAVAILABLE : errno == EACCES ? EX_NOPERM : EX_OSERR;
		goto fail;
	}
	if (listen(fd, c->backlog) == -1) {
		snprintf(err, errlen, "listen() on %s failed: %s", l->spec,
		    strerror(errno));
		*exitcode = EX_OSERR;
		goto fail;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0) {
		cfg_addr_str((struct sockaddr *)&ss, sslen, name, sizeof(name));
		log_info("listening on %s", name);
	}
	return fd;
fail:
	if (fd != -1)
		close(fd);
	return -1;
}

static bool
same_address(const struct sockaddr_storage *a, const struct cfg_listen *l)
{
	const struct sockaddr_storage *b = &l->addr;

	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		/* port 0 in the config: whatever port it was given */
		return (x->sin_port == y->sin_port || y->sin_port == 0) &&
		    x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return (x->sin6_port == y->sin6_port || y->sin6_port == 0) &&
		    memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
	return strcmp(((const struct sockaddr_un *)a)->sun_path,
	    ((const struct sockaddr_un *)b)->sun_path) == 0;
}

int
listen_adopt(const struct cfg *c, const struct cfg_listen *l, int *fds, int n)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char name[160];

	for (int i = 0; i < n; i++) {
		if (fds[i] < 0)
			continue;
		len = sizeof(ss);
		memset(&ss, 0, sizeof(ss));
		if (getsockname(fds[i], (struct sockaddr *)&ss, &len) == -1 ||
		    !same_address(&ss, l))
			continue;
		int fd = fds[i];

		fds[i] = -1;
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
		set_rcv_slice(fd);
		set_timeo(fd, SO_SNDTIMEO, c->write_timeout_ms);
		if (ss.ss_family != AF_UNIX)
			set_defer(fd, c, l);
		cfg_addr_str((struct sockaddr *)&ss, len, name, sizeof(name));
		log_info("listening on %s (inherited)", name);
		return fd;
	}
	return -1;
}

int
listen_apply(const struct cfg *c, int fd)
{
	set_rcv_slice(fd);
	set_timeo(fd, SO_SNDTIMEO, c->write_timeout_ms);
	if (is_tcp(fd))
		set_defer(fd, c, NULL);
	/* listen() again on a listening socket sets the new backlog. */
	return listen(fd, c->backlog);
}

void
listen_unlink(const struct cfg_listen *l)
{
	if (l->addr.ss_family == AF_UNIX)
		unlink(((const struct sockaddr_un *)&l->addr)->sun_path);
}
