/*
 * io - the client socket of a connection, below the response writer and
 * the handlers: the reads of a head or a body (read, poll against a
 * deadline), the writes of a response (writev, send with MSG_MORE,
 * sendfile, and the non-blocking send of a static body that a slow
 * reader leaves to the keeper), and the one teardown (conn_close).
 * Writes are bounded by SO_SNDTIMEO (the write timeout); accepted TCP
 * sockets inherit it from the listener, the worker sets it on AF_UNIX
 * ones.
 */
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "iov.h"
#include "self.h"

long long
io_now_ms(void)
{
	return sb_now_ms();	/* the scoreboard's clock: the same ms */
}

long long
io_coarse_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long
io_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * One read() of whatever is there. Returns like fill(); EINTR only when
 * a signal told the worker to stop.
 */
ssize_t
conn_read_some(struct conn *c)
{
	size_t room;
	char *p = http_space(&c->rd, &room);
	ssize_t n;

	if (room == 0) {
		errno = ENOBUFS;
		return -1;
	}
	do
		n = read(c->fd, p, room);
	while (n == -1 && errno == EINTR && !worker_stop);
	if (n > 0)
		http_filled(&c->rd, (size_t)n);
	else if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		errno = ETIMEDOUT;
	return n;
}

/*
 * Reads more input, waiting at most until deadline (CLOCK_MONOTONIC, ms).
 * Returns the byte count, 0 at EOF, or -1 with errno (ETIMEDOUT for a
 * timeout).
 */
ssize_t
conn_fill(struct conn *c, long long deadline)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };

	for (;;) {
		long long left = deadline - io_now_ms();
		int rc;

		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		rc = poll(&pfd, 1, (int)left);
		if (rc > 0)
			return conn_read_some(c);
		if (rc == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}


/*
 * After a write interrupted with nothing sent: whether the client has now
 * taken nothing for the write timeout. The title's timer (crash.c) ticks
 * during long writes, and each new call would start SO_SNDTIMEO afresh;
 * *since is when the stall was first seen (0: progress since), so the
 * timeout is kept to within one tick.
 */
static bool
write_stalled(const struct conn *c, long long *since)
{
	long long now = io_now_ms();

	if (*since == 0)
		*since = now;
	return c->cfg->write_timeout_ms > 0 &&
	    now - *since >= c->cfg->write_timeout_ms;
}

int
conn_writev(struct conn *c, struct iovec *iov, int iovcnt)
{
	long long stall = 0;
	ssize_t n;

	if (c->broken)
		return -1;
	while (iovcnt > 0) {
		/* Before the call: a --timeout alarm may land inside it, after
		 * part of the response went out (crash.c must not add a 503). */
		c->head_sent = true;
		n = writev(c->fd, iov, iovcnt);
		if (n < 0) {
			if (errno == EINTR && !write_stalled(c, &stall))
				continue;
			c->broken = true;
			return -1;
		}
		stall = 0;
		iov_advance(&iov, &iovcnt, (size_t)n);
	}
	return 0;
}

int
conn_send_more(struct conn *c, const void *p, size_t len)
{
	const char *s = p;
	long long stall = 0;
	ssize_t n;

	while (len > 0 && !c->broken) {
		c->head_sent = true;	/* before the call: see conn_writev() */
		n = send(c->fd, s, len, MSG_MORE | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR && !write_stalled(c, &stall))
				continue;
			c->broken = true;
			return -1;
		}
		stall = 0;
		s += n;
		len -= (size_t)n;
	}
	return c->broken ? -1 : 0;
}

int
conn_sendfile(struct conn *c, int fd, off_t off, size_t len)
{
	long long stall = 0;
	ssize_t n;

	while (len > 0 && !c->broken) {
		c->head_sent = true;	/* before the call: see conn_writev() */
		n = sendfile(c->fd, fd, &off, len);
		if (n < 0 && errno == EINTR && !write_stalled(c, &stall))
			continue;
		if (n <= 0) {		/* error, timeout, or the file shrank */
			c->broken = true;
			return -1;
		}
		stall = 0;
		len -= (size_t)n;
	}
	return c->broken ? -1 : 0;
}

/*
 * The socket is non-blocking while a static body goes out here, so that
 * a full send buffer shows (EAGAIN) instead of holding the worker. From
 * then on the client's pace is judged in windows of SEND_GRACE_MS: one
 * that took less than SEND_GRACE_BYTES (about 3 MB/s) sets the rest
 * aside for the keeper. (Not a wait for POLLOUT alone: the kernel
 * reports it only once half of the send queue, megabytes when
 * autotuned, is gone, which takes a good reader long too.) A client that
 * keeps up never leaves the worker; it costs two fcntl() per file body
 * sent with sendfile (small files go from memory with one writev,
 * untouched).
 */
int
conn_send_file(struct conn *c, int fd, off_t off, size_t len)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
	long long win = 0, left;	/* ms: a window began; 0: none */
	size_t hoff = 0, taken = 0;
	ssize_t n;
	int rc;

	if (c->broken)
		return -1;
	if (c->qfd == -1 || worker_stop ||
	    fcntl(c->fd, F_SETFL, O_NONBLOCK) == -1) {
		if (conn_send_more(c, c->head, c->hlen) == -1)
			return -1;
		return conn_sendfile(c, fd, off, len);
	}
	c->send_start = io_now_ms();
	while (hoff < c->hlen || len > 0) {
		c->head_sent = true;	/* before the call: see conn_writev() */
		if (hoff < c->hlen)
			n = send(c->fd, c->head + hoff, c->hlen - hoff,
			    MSG_MORE | MSG_NOSIGNAL);
		else
			n = sendfile(c->fd, fd, &off, len);
		if (n > 0) {
			if (hoff < c->hlen)
				hoff += (size_t)n;
			else
				len -= (size_t)n;
			taken += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0 || errno != EAGAIN) {	/* the file shrank, or */
			c->broken = true;		/* the client is gone */
			break;
		}
		if (win == 0 || (left = win + SEND_GRACE_MS - io_now_ms()) <= 0) {
			if (win != 0 && taken < SEND_GRACE_BYTES)
				goto slow;
			win = io_now_ms();
			left = SEND_GRACE_MS;
			taken = 0;
		}
		do
			rc = poll(&pfd, 1, (int)left);
		while (rc == -1 && errno == EINTR && !worker_stop);
		if (rc == -1 && errno != EINTR) {
			c->broken = true;
			break;
		}
		continue;
slow:
		/* The client is not keeping up: the rest is the keeper's,
		 * once the request is logged (hand_body). */
		if ((c->send_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1)
			break;
		c->spend = true;
		c->send_off = off;
		c->send_left = len;
		c->send_head = hoff;
		return 0;
	}
	(void)fcntl(c->fd, F_SETFL, 0);
	if (c->broken)
		return -1;
	if (hoff < c->hlen &&		/* a descriptor short: blocking */
	    conn_send_more(c, c->head + hoff, c->hlen - hoff) == -1)
		return -1;
	return len > 0 ? conn_sendfile(c, fd, off, len) : 0;
}


int
conn_read_body(struct conn *c, const char **p, size_t *n)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	const struct cfg *cfg = c->cfg;
	ssize_t k;
	int rc;

	for (;;) {
		rc = http_parse_body(&c->rd, p, n);
		if (rc != PARSE_AGAIN)
			return rc;
		if (c->broken)
			return -1;
		if (c->rd.req.expect_continue && !c->sent_100) {
			struct iovec iov = { (void *)(uintptr_t)cont,
			    sizeof(cont) - 1 };

			c->sent_100 = true;
			if (conn_writev(c, &iov, 1) == -1)
				return -1;
			c->head_sent = false;	/* interim, not the response */
		}
		/* Per request: this function returns with every piece. */
		if (c->body_start == 0)
			c->body_start = io_now_ms();
		k = conn_fill(c, io_now_ms() + cfg->body_timeout_ms);
		if (k == 0)
			return -1;
		if (k < 0)
			return errno == ETIMEDOUT ? 408 : -1;
		/* After one body-timeout period, a trickle is cut. */
		long long el = io_now_ms() - c->body_start;
		if (cfg->min_body_rate > 0 && el > cfg->body_timeout_ms &&
		    c->rd.body_read * 1000 / el < cfg->min_body_rate)
			return 408;
	}
}


bool
conn_is_head(const struct conn *c)
{
	return c->have_req && c->rd.req.method == HTTP_HEAD;
}


/* The one teardown (io.h says what each reason does). */
void
conn_close(struct conn *c, enum conn_end why)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	long long deadline = io_now_ms() + LINGER_MS;
	size_t total = 0;
	bool linger;

	switch (why) {
	case CONN_HANDED:
		close(c->fd);
		c->fd = -1;
		return;
	case CONN_HIJACKED:
		c->hijacked = true;
		c->fd = -1;
		worker_slot->state = SB_CLOSING;
		return;
	case CONN_STOP:
	case CONN_ERROR:
		linger = true;
		break;
	case CONN_DONE:
		linger = http_pending(&c->rd) > 0 || !c->rd.done;
		break;
	default:
		linger = false;
		break;
	}
	worker_slot->state = SB_CLOSING;
	if (linger && !c->aborted && !c->broken &&
	    shutdown(c->fd, SHUT_WR) == 0) {
		while (total < LINGER_BYTES) {
			long long left = deadline - io_now_ms();
			ssize_t n;
			int rc;

			if (left <= 0)
				break;
			/* The title's timer may tick in here (crash.c). */
			if ((rc = poll(&pfd, 1, (int)left)) == -1 && errno == EINTR)
				continue;
			if (rc <= 0)
				break;
			n = read(c->fd, c->rd.buf, c->rd.cap);
			if (n <= 0)
				break;
			total += (size_t)n;
		}
	}
	close(c->fd);
	c->fd = -1;
}

