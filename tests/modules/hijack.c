/*
 * hijack - a test-only module that takes the connection over with
 * pfd_hijack() and speaks a tiny line protocol on it:
 *
 *   client: any line          server: "echo: <line>\n"
 *   client: "quit"            server: "bye\n", then closes
 *
 * Lines end in LF (a CR before it is dropped). Bytes the client sent
 * right behind the request head (the "buffered" bytes of pfd_hijack) are
 * the start of the stream. The module owns the socket: it closes it on
 * quit, on EOF, on an error, on a line over LINE_MAX_LEN and after
 * IDLE_MS without input, and then returns to the worker.
 */
#include <sys/socket.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <preforkd.h>

#define LINE_MAX_LEN	1024
#define IDLE_MS		10000

struct session {
	int	 fd;
	char	 line[LINE_MAX_LEN];
	size_t	 len;
	int	 done;		/* quit seen, or the stream is unusable */
};

/* Writes all of p, waiting at most IDLE_MS for room each time. */
static int
send_all(int fd, const char *p, size_t n)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };

	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		if (k > 0) {
			p += k;
			n -= (size_t)k;
		} else if (k == -1 && errno == EINTR)
			continue;
		else if (k == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (poll(&pfd, 1, IDLE_MS) <= 0)
				return -1;
		} else
			return -1;
	}
	return 0;
}

/* Answers one complete line (without its LF). */
static void
answer(struct session *s)
{
	char out[LINE_MAX_LEN + 16];
	size_t n = s->len;
	int k;

	if (n > 0 && s->line[n - 1] == '\r')
		n--;
	if (n == 4 && memcmp(s->line, "quit", 4) == 0) {
		(void)send_all(s->fd, "bye\n", 4);
		s->done = 1;
		return;
	}
	k = snprintf(out, sizeof(out), "echo: %.*s\n", (int)n, s->line);
	if (k < 0 || (size_t)k >= sizeof(out) ||
	    send_all(s->fd, out, (size_t)k) == -1)
		s->done = 1;
}

/* Feeds bytes from the client into the line assembler. */
static void
feed(struct session *s, const char *p, size_t n)
{
	for (size_t i = 0; i < n && !s->done; i++) {
		if (p[i] == '\n') {
			answer(s);
			s->len = 0;
		} else if (s->len == sizeof(s->line)) {
			(void)send_all(s->fd, "error: line too long\n", 21);
			s->done = 1;
		} else
			s->line[s->len++] = p[i];
	}
}

static int
hijack_handle(struct pfd_req *req, void *state)
{
	struct session s;
	struct pollfd pfd;
	const char *early;
	size_t elen;
	char buf[4096];

	(void)state;
	if ((s.fd = pfd_hijack(req, &early, &elen)) == -1)
		return 500;
	s.len = 0;
	s.done = 0;
	feed(&s, early, elen);
	pfd.fd = s.fd;
	pfd.events = POLLIN;
	/* Each round waits at most IDLE_MS; EOF, quit or an error ends it. */
	while (!s.done) {
		ssize_t n;
		int rc = poll(&pfd, 1, IDLE_MS);

		if (rc == -1 && errno == EINTR)
			continue;
		if (rc <= 0)
			break;
		n = recv(s.fd, buf, sizeof(buf), 0);
		if (n == -1 && (errno == EINTR || errno == EAGAIN ||
		    errno == EWOULDBLOCK))
			continue;
		if (n <= 0)
			break;
		feed(&s, buf, (size_t)n);
	}
	close(s.fd);
	return 0;
}

PREFORKD_MODULE(.name = "hijack", .handle = hijack_handle);
