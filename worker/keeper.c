/*
 * keeper - the connection keeper. One epoll loop in the shape of nginx's
 * ngx_process_events_and_timers: wait until the nearest deadline, handle
 * the ready descriptors, expire the timers, which live in a binary heap.
 * A parked connection costs a small struct, plus a buffer only once its
 * next head starts to arrive. Whether a head is complete (or wrong: 400,
 * 414, 431...) is decided by http_parse_head(), the workers' own reader,
 * so both sides agree byte for byte. A small body (--buffer-body), by
 * Content-Length or chunked, is read here too before the hand-off, under
 * the body timeout and --min-body-rate (kconn_body), and framed by
 * chunk_frame(), the workers' own body framing: its chunked form goes
 * over untouched, a body bigger than --buffer-body goes with the bytes
 * read so far, and the body limits and every framing error are answered
 * here as a worker would answer them. A complete request goes to
 * whichever worker takes it from the queue, with every byte read; the
 * keeper's copy is closed only once the message is sent (one owner,
 * KEEPER.md).
 * Handler code never runs here; the only responses written here are the
 * reader's errors and 408, by a canned writer, and the rest of a static
 * body that a slow reader left in a worker (K_SEND): the worker hands
 * over the open file with the unsent head bytes, and the keeper goes on
 * with non-blocking sendfile() as the socket takes it, under the write
 * timeout and --min-send-rate, then parks the connection idle or closes
 * it (kconn_sending).
 */
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "chunk.h"
#include "exitcodes.h"
#include "handoff.h"
#include "http.h"
#include "httpdate.h"
#include "log.h"
#include "procs.h"
#include "sandbox.h"
#include "title.h"
#include "version.h"

enum kstate {
	K_IDLE,		/* no byte of the next request yet */
	K_HEAD,		/* part of a head: the header deadline runs */
	K_BODY,		/* a complete head, its small body arriving */
	K_READY,	/* a complete head waits for room in the queue */
	K_LINGER,	/* write side shut: reading what comes until EOF */
	K_SEND		/* the rest of a static body goes out */
};

/* A body being read (K_BODY only: an idle connection has none). */
struct kbody {
	struct chunk	 ch;		/* its framing, up to pos */
	size_t		 pos;		/* framed so far, from the head's end */
	size_t		 head_len;
	size_t		 max;		/* the buffer never grows past it */
	long long	 start;		/* ms, for --min-body-rate */
	bool		 chunked;
};

struct kconn {
	int		 fd;
	enum kstate	 state;
	long long	 deadline;	/* ms; in the heap unless K_READY */
	size_t		 hidx;		/* heap index + 1, 0: not in it */
	struct kconn	*prev, *next;	/* the idle or the ready list */
	char		*buf;		/* the bytes read, NULL while idle */
	size_t		 len, cap;
	struct kbody	*body;		/* K_BODY */
	struct handoff	 h;
	/* K_SEND: the file (h.send_off, h.send_left go on), the head bytes
	 * sent of h.send_head, and what the client took: acknowledged body
	 * bytes, and when that last grew. */
	int		 ffd;
	size_t		 hsent;
	long long	 taken;
	long long	 progress;	/* ms */
	bool		 draining;	/* all written, not all taken yet */
	bool		 watched;	/* in the epoll set */
};

struct klist {
	struct kconn	*head, *tail;
};

#define KEEPER_EVENTS	64
#define KEEPER_TICK_MS	1000	/* looks at its flags at least this often */
#define KEEPER_BUF_MIN	1024	/* first buffer of a head; doubles */

static int			 kq = -1;	/* our end of the queue */
static int			 kep = -1;
static struct sb		*ksb;
static const struct cfg		*kcfg;
static struct kconn		**heap;
static size_t			 nheap, heapcap;
static struct klist		 idle, ready;
static size_t			 nparked;	/* idle, reading, ready, sending */
static size_t			 nstate[K_SEND + 1];	/* by state */
static bool			 q_out;		/* EPOLLOUT armed on kq */
static struct http_reader	 rd;		/* one reader for all */
static char			*rbuf;		/* receives hand-offs */
static size_t			 rcap;
static volatile sig_atomic_t	 k_quit, k_term, k_reopen;

static long long
now_ms(void)
{
	return sb_now_ms();
}

/* The binary heap of deadlines (earliest on top). */
static void
heap_swap(size_t a, size_t b)
{
	struct kconn *t = heap[a];

	heap[a] = heap[b];
	heap[b] = t;
	heap[a]->hidx = a + 1;
	heap[b]->hidx = b + 1;
}

static void
heap_fix(size_t i)
{
	while (i > 0 && heap[(i - 1) / 2]->deadline > heap[i]->deadline) {
		heap_swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < nheap && heap[l]->deadline < heap[m]->deadline)
			m = l;
		if (r < nheap && heap[r]->deadline < heap[m]->deadline)
			m = r;
		if (m == i)
			return;
		heap_swap(i, m);
		i = m;
	}
}

static int
heap_set(struct kconn *c, long long deadline)
{
	c->deadline = deadline;
	if (c->hidx == 0) {
		if (nheap == heapcap) {
			size_t ncap = heapcap ? 2 * heapcap : 256;
			struct kconn **n = reallocarray(heap, ncap, sizeof(*n));

			if (n == NULL)
				return -1;
			heap = n;
			heapcap = ncap;
		}
		heap[nheap++] = c;
		c->hidx = nheap;
	}
	heap_fix(c->hidx - 1);
	return 0;
}

static void
heap_del(struct kconn *c)
{
	size_t i = c->hidx - 1;

	if (c->hidx == 0)
		return;
	c->hidx = 0;
	if (i != --nheap) {
		heap[i] = heap[nheap];
		heap[i]->hidx = i + 1;
		heap_fix(i);
	}
}

static void
list_add(struct klist *l, struct kconn *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail != NULL)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
}

static void
list_del(struct klist *l, struct kconn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
}

/* The one place a parked connection's state changes: counted by state. */
static void
set_state(struct kconn *c, enum kstate s)
{
	nstate[c->state]--;
	c->state = s;
	nstate[s]++;
}

/*
 * What is parked, by kind, for the status page: a request arriving (a
 * head, or a small body after it), idle, lingering. A complete request
 * waiting for room in the queue is in keeper_parked only. Sending is
 * not done here yet: 0.
 */
static void
publish(void)
{
	ksb->keeper_parked_idle = nstate[K_IDLE];
	ksb->keeper_parked_head = nstate[K_HEAD] + nstate[K_BODY];
	ksb->keeper_parked_linger = nstate[K_LINGER];
	ksb->keeper_parked_sending = nstate[K_SEND];
}

/* Takes c out of whatever it was counted in before a state change. */
static void
leave_state(struct kconn *c)
{
	if (c->state == K_IDLE)
		list_del(&idle, c);
	else if (c->state == K_READY)
		list_del(&ready, c);
	if (c->state != K_LINGER)
		nparked--;
}

/*
 * The only teardown. Out of epoll first: a close() leaves the epoll set
 * only with the last reference to the socket, and the worker that parked
 * it may not have closed its copy yet (a stale entry would report a freed
 * connection).
 */
static void
kconn_close(struct kconn *c)
{
	leave_state(c);
	nstate[c->state]--;
	heap_del(c);
	if (c->watched)
		(void)epoll_ctl(kep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->body);
	if (c->ffd != -1)
		close(c->ffd);
	free(c->buf);
	free(c);
	ksb->keeper_parked = nparked;
}

/*
 * Shuts the write side and reads what the client still sends until EOF
 * or LINGER_MS, so that a response just written (or a request on its way
 * while we close) meets a FIN, not a reset.
 */
static void
kconn_linger(struct kconn *c)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

	if (!c->watched)	/* ready, or answered before it was watched */
		c->watched = epoll_ctl(kep, EPOLL_CTL_ADD, c->fd, &ev) == 0;
	else if (c->state == K_SEND)	/* it waited to write */
		(void)epoll_ctl(kep, EPOLL_CTL_MOD, c->fd, &ev);
	leave_state(c);
	set_state(c, K_LINGER);
	free(c->body);
	c->body = NULL;
	free(c->buf);		/* what comes now is read into scratch */
	c->buf = NULL;
	c->len = c->cap = 0;
	(void)shutdown(c->fd, SHUT_WR);
	if (heap_set(c, now_ms() + LINGER_MS) == -1)
		kconn_close(c);
	ksb->keeper_parked = nparked;
}

static const char *
reason(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

/* A canned error response with Connection: close, then a lingering close. */
static void
kconn_answer(struct kconn *c, int status)
{
	char date[HTTPDATE_LEN + 1], resp[512];
	int n;

	httpdate_format(time(NULL), date);
	n = snprintf(resp, sizeof(resp), "HTTP/1.1 %d %s\r\n"
	    "Server: preforkd/" PREFORKD_VERSION "\r\nDate: %s\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n%d %s\n",
	    status, reason(status), date, strlen(reason(status)) + 5,
	    status, reason(status));
	/* A few hundred bytes into an empty send buffer: one send. */
	(void)send(c->fd, resp, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	kconn_linger(c);
}

/* Arms or disarms EPOLLOUT on the queue: ready heads wait for room. */
static void
queue_watch(bool out)
{
	struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0),
	    .data.ptr = NULL };

	if (out == q_out)
		return;
	q_out = out;
	(void)epoll_ctl(kep, EPOLL_CTL_MOD, kq, &ev);
}

/* Sends c to a worker. Returns 0 (c is gone), or -1 (still ours). */
static int
kconn_send(struct kconn *c)
{
	c->h.kind = HANDOFF_SERVE;
	c->h.len = (uint32_t)c->len;
	/* Its number in the ready queue, counted once it is in (sb.h). */
	c->h.seq = ksb->keeper_handed + 1;
	if (handoff_send(kq, &c->h, c->fd, c->buf) == -1) {
		if (errno != EAGAIN && errno != ENOBUFS) {
			log_warn("sendmsg() of a connection to the workers "
			    "failed");
			kconn_answer(c, 503);
		}
		return -1;
	}
	__atomic_store_n(&ksb->keeper_handed, c->h.seq, __ATOMIC_RELEASE);
	kconn_close(c);
	return 0;
}

/*
 * A complete head: to a worker now, or in line for room in the queue.
 * Returns true when c is gone (handed over).
 */
static bool
kconn_ready(struct kconn *c)
{
	if (c->watched)
		(void)epoll_ctl(kep, EPOLL_CTL_DEL, c->fd, NULL);
	c->watched = false;
	heap_del(c);
	if (c->state == K_IDLE)
		list_del(&idle, c);
	set_state(c, K_READY);
	free(c->body);
	c->body = NULL;
	list_add(&ready, c);
	if (ready.head == c && kconn_send(c) == 0)
		return true;
	if (c->state == K_READY)
		queue_watch(true);
	return false;
}

static void
flush_ready(void)
{
	while (ready.head != NULL)
		if (kconn_send(ready.head) == -1 && ready.head != NULL &&
		    ready.head->state == K_READY)
			return;		/* still full */
	queue_watch(false);
}

/*
 * Parses c's bytes from the start with the shared reader: a parked
 * connection keeps no parser state, only its bytes (a few hundred bytes
 * of struct instead of a reader each). A head arriving in many small
 * reads is parsed again each time, bounded by the header size limit.
 */
static int
kconn_parse(struct kconn *c)
{
	size_t room;

	http_reader_init(&rd, c->buf, c->cap, c->h.max_head, c->h.max_body);
	(void)http_space(&rd, &room);
	http_filled(&rd, c->len);
	return http_parse_head(&rd);
}

/* The first byte of a head: the header deadline runs from now, once. */
static int
kconn_head_starts(struct kconn *c)
{
	if (c->state == K_IDLE)
		list_del(&idle, c);
	set_state(c, K_HEAD);
	if (c->h.head_deadline == 0)
		c->h.head_deadline = now_ms() + c->h.header_timeout_ms;
	return heap_set(c, c->h.head_deadline);
}

/*
 * Keeps room after the bytes, doubling the buffer up to the reader's
 * limit: the reader takes a full buffer for a head over the limit (431).
 * Returns 0 or -1.
 */
static int
kconn_grow(struct kconn *c)
{
	size_t max = (size_t)c->h.max_head + IO_BUF_SIZE, ncap;
	char *nb;

	if (c->len < c->cap || c->cap >= max)
		return 0;
	ncap = c->cap < KEEPER_BUF_MIN / 2 ? KEEPER_BUF_MIN : 2 * c->cap;
	if (ncap > max)
		ncap = max;
	if ((nb = realloc(c->buf, ncap)) == NULL)
		return -1;
	c->buf = nb;
	c->cap = ncap;
	return 0;
}

/*
 * Where c's body stands: frames the bytes that came since the last call.
 * Returns CHUNK_DONE (all here: hand it over), CHUNK_AGAIN (wait for
 * more), KBODY_AS_IS (hand it over as it is: a chunked body grew past the
 * sender's --buffer-body, and the worker reads the rest), or an error
 * status.
 */
#define KBODY_AS_IS	1

static int
kbody_frame(struct kconn *c)
{
	struct kbody *b = c->body;
	int rc;

	rc = chunk_frame(&b->ch, c->buf, c->len, &b->pos);
	if (rc == CHUNK_AGAIN && c->len - b->head_len >= c->h.buffer_body)
		return KBODY_AS_IS;
	return rc;
}

/*
 * Keeps room for the next read of a chunked body: the buffer doubles up
 * to the head and --buffer-body (a slow body costs what has arrived, not
 * the limit). Returns 0 or -1.
 */
static int
kbody_grow(struct kconn *c)
{
	size_t ncap;
	char *nb;

	if (c->len < c->cap)
		return 0;
	ncap = 2 * c->cap < c->body->max ? 2 * c->cap : c->body->max;
	if (ncap <= c->cap || (nb = realloc(c->buf, ncap)) == NULL)
		return -1;
	c->buf = nb;
	c->cap = ncap;
	return 0;
}

/*
 * A complete head (just parsed into rd): a small body (by Content-Length
 * up to the sender's --buffer-body, or chunked) is read here before the
 * hand-off, so that a slow sender holds no worker. Larger ones and
 * Expect: 100-continue go to a worker with the head (the client waits for
 * a 100 that the worker sends; KEEPER.md), and so does a chunked body as
 * soon as what came of it is --buffer-body long. Returns 0 when c can be
 * handed over now, 1 when its body is being read (or it was answered).
 */
static int
kconn_body(struct kconn *c)
{
	const struct http_req *q = &rd.req;
	struct kbody *b;
	size_t max;
	char *nb;
	int rc;

	if (q->expect_continue || c->h.buffer_body == 0 || (!q->chunked &&
	    (q->content_length <= 0 ||
	    q->content_length > (long long)c->h.buffer_body)))
		return 0;
	/* A body by Content-Length gets its whole buffer at once (the
	 * client declared it), a chunked one grows as it comes. */
	max = q->head_len + (q->chunked ? c->h.buffer_body :
	    (size_t)q->content_length);
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		kconn_answer(c, 503);
		return 1;
	}
	c->body = b;
	chunk_start(&b->ch, q->chunked, q->content_length, c->h.max_body,
	    c->h.max_head);
	b->pos = b->head_len = q->head_len;
	b->max = max;
	b->chunked = q->chunked;
	if ((rc = kbody_frame(c)) == CHUNK_DONE || rc == KBODY_AS_IS) {
		free(c->body);
		c->body = NULL;
		return 0;
	}
	if (rc != CHUNK_AGAIN) {
		kconn_answer(c, rc);
		return 1;
	}
	if (!b->chunked && c->cap < max) {
		if ((nb = realloc(c->buf, max)) == NULL) {
			kconn_answer(c, 503);
			return 1;
		}
		c->buf = nb;
		c->cap = max;
	}
	set_state(c, K_BODY);
	b->start = now_ms();
	if (heap_set(c, b->start + c->h.body_timeout_ms) == -1)
		kconn_answer(c, 503);
	return 1;
}

/*
 * More of a body: the body timeout runs again from each read; after one
 * timeout period, a sender slower than --min-body-rate gets 408 (as in a
 * worker's conn_read_body).
 */
static void
kconn_body_read(struct kconn *c)
{
	const struct kbody *b = c->body;
	long long now = now_ms(), el = now - b->start;
	int rc = kbody_frame(c);

	if (rc == CHUNK_DONE || rc == KBODY_AS_IS) {
		kconn_ready(c);
		return;
	}
	if (rc != CHUNK_AGAIN) {
		kconn_answer(c, rc);
		return;
	}
	if (c->h.min_body_rate > 0 && el > c->h.body_timeout_ms &&
	    (long long)(c->len - b->head_len) * 1000 / el <
	    c->h.min_body_rate) {
		kconn_answer(c, 408);
		return;
	}
	if (heap_set(c, now + c->h.body_timeout_ms) == -1)
		kconn_answer(c, 503);
}

/*
 * Judges c's bytes: hands over, answers an error, or waits for more.
 * Returns true when c is gone (handed over).
 */
static bool
kconn_judge(struct kconn *c)
{
	size_t max = (size_t)c->h.max_head + IO_BUF_SIZE;
	int rc;

	if (kconn_grow(c) == -1) {
		kconn_answer(c, 503);
		return false;
	}
	rc = kconn_parse(c);

	if (rc == PARSE_HEAD && kconn_body(c) == 0)
		return kconn_ready(c);
	if (rc == PARSE_HEAD)
		return false;	/* reading the body, or answered */
	if (rc != PARSE_AGAIN)
		kconn_answer(c, rc);
	else if (c->len >= max)
		kconn_answer(c, 431);
	return false;
}

static void
kconn_readable(struct kconn *c)
{
	char scratch[4096];
	ssize_t n;

	if (c->state == K_LINGER) {
		n = recv(c->fd, scratch, sizeof(scratch), MSG_DONTWAIT);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
			kconn_close(c);
		return;
	}
	if ((c->state == K_BODY ? kbody_grow(c) : kconn_grow(c)) == -1) {
		kconn_answer(c, 503);
		return;
	}
	n = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* EOF or reset while parked: an ordinary hang-up. (A head
		 * completed by the bytes before an EOF was handed over at
		 * that read already: a half-closed client is answered.) */
		kconn_close(c);
		return;
	}
	if (c->state == K_IDLE && kconn_head_starts(c) == -1) {
		kconn_close(c);
		return;
	}
	c->len += (size_t)n;
	if (c->state == K_BODY)
		kconn_body_read(c);
	else
		kconn_judge(c);
}

/* Over --max-parked: the oldest connection that sent nothing goes first. */
static void
enforce_max_parked(void)
{
	while (nparked > (size_t)kcfg->max_parked && idle.head != NULL)
		kconn_linger(idle.head);
}

/* Puts c in the epoll set. Returns 0, or -1 (c is closed). */
static int
kconn_watch(struct kconn *c)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

	if (epoll_ctl(kep, EPOLL_CTL_ADD, c->fd, &ev) == -1) {
		log_warn("epoll_ctl() on a parked connection failed");
		kconn_close(c);
		return -1;
	}
	c->watched = true;
	return 0;
}

/*
 * A connection a worker parks with us. Its next head may be here already
 * (the client answered while the worker let go, or before we woke up):
 * one read finds out, and a complete head goes back to the queue without
 * ever entering the epoll set, two epoll_ctl() saved. Otherwise what was
 * read is judged like any bytes a worker hands over, and the connection
 * is watched only if it still waits.
 */
static void
kconn_park(const struct handoff *h, int fd)
{
	struct kconn *c;
	size_t len = h->len;
	ssize_t n;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("cannot park a connection");
		close(fd);
		return;
	}
	c->fd = fd;
	c->ffd = -1;
	c->h = *h;
	c->state = K_IDLE;
	nstate[K_IDLE]++;
	list_add(&idle, c);
	nparked++;
	ksb->keeper_parked = nparked;
	if (len == 0) {
		size_t max = (size_t)h->max_head + IO_BUF_SIZE;

		n = recv(fd, rbuf, max < rcap ? max : rcap, MSG_DONTWAIT);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
			kconn_close(c);		/* an ordinary hang-up */
			return;
		}
		len = n > 0 ? (size_t)n : 0;
	}
	if (len > 0) {
		/* Part of a head: judged now (it may even be complete). */
		if ((c->buf = malloc(len)) == NULL ||
		    kconn_head_starts(c) == -1) {
			kconn_close(c);
			return;
		}
		memcpy(c->buf, rbuf, len);
		c->len = c->cap = len;
		if (!kconn_judge(c) && !c->watched && c->state != K_READY &&
		    kconn_watch(c) == -1)
			return;
	} else if (kconn_watch(c) == -1)
		return;
	else if (heap_set(c, k_quit && h->idle_deadline > now_ms() +
	    IDLE_YIELD_MS ? now_ms() + IDLE_YIELD_MS : h->idle_deadline) == -1)
		kconn_close(c);
	enforce_max_parked();
}

/*
 * Body bytes the client has taken: those sent that its TCP acknowledged
 * (SIOCOUTQ counts what waits in our send queue), so that the send
 * buffer filling fast does not pass for a fast reader.
 */
static long long
send_taken(const struct kconn *c, int *outq)
{
	long long sent = c->h.send_total - c->h.send_left;

	if (ioctl(c->fd, SIOCOUTQ, outq) == -1)
		*outq = 0;
	return sent > *outq ? sent - *outq : 0;
}

static void	kconn_again(struct kconn *);

/* A sending connection is looked at every tick, and at its deadline. */
static int
send_timer(struct kconn *c, long long now)
{
	long long d = c->progress + c->h.write_timeout_ms;

	if (d > now + SEND_TICK_MS)
		d = now + SEND_TICK_MS;
	return heap_set(c, d);
}

/*
 * A slow reader is cut (reset: it gets a short body; its access log line
 * was written by the worker with the full size, this line says what went
 * out) once it took nothing for the write timeout, or, after the
 * first write-timeout period of the body, when it took less than
 * --min-send-rate bytes a second on average since the body began.
 */
static void
kconn_send_tick(struct kconn *c)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int outq;
	long long now = now_ms(), t = send_taken(c, &outq);
	long long el = now - c->h.send_start;
	const char *why = NULL;
	char who[64];

	if (t > c->taken) {
		c->taken = t;
		c->progress = now;
	}
	if (now - c->progress >= c->h.write_timeout_ms)
		why = "write timeout";
	else if (c->h.min_send_rate > 0 && el > c->h.write_timeout_ms &&
	    c->taken * 1000 / el < c->h.min_send_rate)
		why = "slower than min-send-rate";
	if (why == NULL && c->draining && outq == 0)
		kconn_again(c);		/* it took the whole response */
	else if (why == NULL && send_timer(c, now) == -1)
		kconn_close(c);
	if (why == NULL)
		return;
	cfg_addr_str(c->h.clientlen > 0 ? (struct sockaddr *)&c->h.client :
	    (struct sockaddr *)&c->h.peer, c->h.clientlen > 0 ?
	    c->h.clientlen : c->h.peerlen, who, sizeof(who));
	log_info("closed a slow reader %s (%s): %lld of %lld body bytes "
	    "taken, %lld sent", who, why, c->taken, c->h.send_total,
	    c->h.send_total - c->h.send_left);
	/* A reset: what waits in the send queue (megabytes, maybe) is freed
	 * now instead of trickling out of an orphaned socket at the pace
	 * that was just refused. The client reads what it has, then sees
	 * the reset: a short body. */
	(void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	kconn_close(c);
}

/*
 * The response is out and taken: a kept-alive connection waits for its
 * next request here like any idle one (with the bytes read past the last
 * request, if any), blocking again for the worker that gets it.
 */
static void
kconn_again(struct kconn *c)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	size_t ahead = c->len - c->h.send_head;

	if (fcntl(c->fd, F_SETFL, 0) == -1 ||
	    epoll_ctl(kep, EPOLL_CTL_MOD, c->fd, &ev) == -1) {
		kconn_close(c);
		return;
	}
	if (ahead > 0)
		memmove(c->buf, c->buf + c->h.send_head, ahead);
	else {
		free(c->buf);	/* an idle connection holds no buffer */
		c->buf = NULL;
		c->cap = 0;
	}
	c->len = ahead;
	c->h.send_head = 0;
	c->h.head_deadline = 0;
	c->draining = false;
	set_state(c, K_IDLE);
	list_add(&idle, c);
	if (ahead > 0) {
		if (kconn_head_starts(c) == -1)
			kconn_close(c);
		else
			kconn_judge(c);
	} else if (heap_set(c, now_ms() + c->h.idle_timeout_ms) == -1)
		kconn_close(c);
}

/*
 * All of the response is written. A connection to close is closed
 * gracefully now (the kernel sends what is queued, then the FIN). A
 * kept-alive one waits until the client has taken what is queued
 * (draining, looked at every tick, still under the write timeout and the
 * rate) before its idle timeout starts, or until it sends its next
 * request.
 */
static void
kconn_sent(struct kconn *c)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	int outq;

	close(c->ffd);
	c->ffd = -1;
	if (!c->h.send_keepalive || k_quit) {
		kconn_linger(c);
		return;
	}
	(void)send_taken(c, &outq);
	if (outq == 0) {
		kconn_again(c);
		return;
	}
	c->draining = true;
	if (epoll_ctl(kep, EPOLL_CTL_MOD, c->fd, &ev) == -1)
		kconn_close(c);
}

/* Sends what the socket takes now: head bytes, then the file. */
static void
kconn_writable(struct kconn *c)
{
	ssize_t n;

	for (;;) {
		if (c->hsent < c->h.send_head) {
			n = send(c->fd, c->buf + c->hsent,
			    c->h.send_head - c->hsent, MSG_DONTWAIT |
			    MSG_NOSIGNAL | (c->h.send_left > 0 ? MSG_MORE : 0));
			if (n > 0)
				c->hsent += (size_t)n;
		} else if (c->h.send_left > 0) {
			off_t off = (off_t)c->h.send_off;

			n = sendfile(c->fd, c->ffd, &off,
			    c->h.send_left > (1LL << 30) ? (size_t)1 << 30 :
			    (size_t)c->h.send_left);
			if (n > 0) {
				c->h.send_off = (long long)off;
				c->h.send_left -= (long long)n;
			}
		} else {
			kconn_sent(c);
			return;
		}
		if (n > 0) {
			c->progress = now_ms();
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		/* Gone (a reset: quietly), or the file shrank under us. */
		if (n == 0)
			log_warnx("a file shrank while sending it to a slow "
			    "reader");
		kconn_close(c);
		return;
	}
}

/* The rest of a static body a worker hands over (HANDOFF_SEND). */
static void
kconn_sending(const struct handoff *h, int fd, int ffd)
{
	struct epoll_event ev = { .events = EPOLLOUT };
	struct kconn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (h->len > 0 && (c->buf = malloc(h->len)) == NULL)) {
		log_warn("cannot take a slow reader's response");
		free(c);
		close(fd);
		close(ffd);
		return;
	}
	c->fd = fd;
	c->ffd = ffd;
	c->h = *h;
	if (h->len > 0)
		memcpy(c->buf, rbuf, h->len);
	c->len = c->cap = h->len;
	c->state = K_SEND;
	nstate[K_SEND]++;
	c->progress = now_ms();
	nparked++;
	ksb->keeper_parked = nparked;
	ev.data.ptr = c;
	/* The worker left it non-blocking; make sure of it. */
	if (fcntl(fd, F_SETFL, O_NONBLOCK) == -1 ||
	    epoll_ctl(kep, EPOLL_CTL_ADD, fd, &ev) == -1)
		goto fail;
	c->watched = true;
	if (send_timer(c, c->progress) == -1)
		goto fail;
	enforce_max_parked();
	return;
fail:
	log_warn("cannot take a slow reader's response");
	kconn_close(c);
}

/* Takes what the workers sent (a bounded batch per wake-up). */
static void
queue_readable(void)
{
	struct handoff h;
	int fd, ffd;

	for (int i = 0; i < KEEPER_EVENTS; i++) {
		if (handoff_recv_file(kq, &h, &fd, &ffd, rbuf, rcap) == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			if (errno == EPIPE) {
				/* No worker and no master hold the queue any
				 * more: the server is gone. Close up quietly. */
				(void)epoll_ctl(kep, EPOLL_CTL_DEL, kq, NULL);
				k_term = 1;
				return;
			}
			log_warn("dropped a hand-off message");
			continue;
		}
		if (h.kind == HANDOFF_SEND) {
			kconn_sending(&h, fd, ffd);
			continue;
		}
		if (h.kind != HANDOFF_PARK) {
			log_warnx("dropped a hand-off of kind %u", h.kind);
			close(fd);
			continue;
		}
		kconn_park(&h, fd);
	}
}

static void
expire(void)
{
	long long now = now_ms();

	while (nheap > 0 && heap[0]->deadline <= now) {
		struct kconn *c = heap[0];

		switch (c->state) {
		case K_IDLE:
			ksb->keeper_closed_idle++;
			if (k_quit)
				kconn_linger(c);	/* stopping: gracefully */
			else
				kconn_close(c);
			break;
		case K_HEAD:
		case K_BODY:
			kconn_answer(c, 408);
			break;
		case K_SEND:
			kconn_send_tick(c);
			break;
		default:
			kconn_close(c);
		}
	}
}

static void
on_signal(int sig)
{
	if (sig == SIGTERM)
		k_term = 1;
	else if (sig == SIGQUIT)
		k_quit = 1;
	else if (sig == SIGUSR1)
		k_reopen = 1;
}

/* 10,000 parked connections need as many descriptors. */
static void
raise_nofile(void)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)kcfg->max_parked + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("setrlimit(RLIMIT_NOFILE) failed");
	if (rl.rlim_max < want)
		log_warnx("max-parked %d needs %llu descriptors; the hard "
		    "limit is %llu", kcfg->max_parked, (unsigned long long)want,
		    (unsigned long long)rl.rlim_max);
}

static void
keeper_init(void)
{
	struct sigaction sa;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	child_signals_init(on_signal, on_signal, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	raise_nofile();
	/* The most a worker may hold: a head, a body, its read-ahead. */
	rcap = MAX_HEADER_SIZE + MAX_BUFFER_BODY + IO_BUF_SIZE;
	if ((rbuf = malloc(rcap)) == NULL ||
	    (kep = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    epoll_ctl(kep, EPOLL_CTL_ADD, kq, &ev) == -1) {
		log_warn("keeper set-up failed");
		_exit(WORKER_EXIT_BOOT);
	}
}

/*
 * QUIT (the server stops, or an upgrade took over): an idle connection
 * gets a last IDLE_YIELD_MS for a request already on its way (handed to a
 * draining worker, answered with Connection: close), then closes
 * gracefully; heads in progress finish or time out.
 */
static void
begin_quit(void)
{
	long long last = now_ms() + IDLE_YIELD_MS;

	for (struct kconn *c = idle.head; c != NULL; c = c->next)
		if (c->deadline > last)
			(void)heap_set(c, last);
}

/* TERM (the last step of a stop): everything closes within LINGER_MS. */
static void
begin_term(void)
{
	k_quit = 1;
	while (idle.head != NULL)
		kconn_linger(idle.head);
	while (ready.head != NULL)
		kconn_linger(ready.head);
	for (size_t i = 0; i < nheap; i++)
		if (heap[i]->state == K_HEAD || heap[i]->state == K_BODY ||
		    heap[i]->state == K_SEND) {
			kconn_linger(heap[i]);
			i = (size_t)-1;		/* the heap moved: again */
		}
}

/* "preforkd: keeper (3 parked)" in ps, rewritten at most once a second. */
static void
keeper_title(void)
{
	static long long last;
	static size_t shown = (size_t)-1, shown_send;
	long long now = now_ms();

	if ((nparked == shown && nstate[K_SEND] == shown_send) ||
	    now - last < 1000)
		return;
	last = now;
	shown = nparked;
	shown_send = nstate[K_SEND];
	if (nstate[K_SEND] > 0)
		title_set("preforkd: keeper (%zu parked, %zu sending)", nparked,
		    nstate[K_SEND]);
	else
		title_set("preforkd: keeper (%zu parked)", nparked);
}

void
keeper_main(const struct cfg *cfg, int qfd, struct sb *sb)
{
	struct epoll_event ev[KEEPER_EVENTS];
	bool quitting = false, terming = false;
	pid_t master = getppid();
	char err[512];

	kcfg = cfg;
	kq = qfd;
	ksb = sb;
	log_set_role(LOG_ROLE_KEEPER);
	unsetenv("NOTIFY_SOCKET");
	title_set("preforkd: keeper");
	keeper_init();
	if (child_drop_privileges() == -1)
		_exit(WORKER_EXIT_BOOT);
	/* Only now: a change of user clears the parent-death signal. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() != master)
		_exit(0);
	/* SPEC 10: the keeper always runs strict (unless --sandbox off). */
	if (sandbox_apply_process(kcfg, SANDBOX_KEEPER, err,
	    sizeof(err)) == -1) {
		log_errorx("%s", err);
		_exit(WORKER_EXIT_BOOT);
	}
	for (;;) {
		long long wait = KEEPER_TICK_MS;
		int n;

		if (k_reopen) {
			k_reopen = 0;
			if (log_open(kcfg, err, sizeof(err)) == -1)
				log_warnx("reopening logs: %s", err);
		}
		if (k_quit && !quitting) {
			quitting = true;
			begin_quit();
		}
		if (k_term && !terming) {
			terming = true;
			begin_term();
		}
		if (terming && nheap == 0)
			break;
		if (nheap > 0) {
			wait = heap[0]->deadline - now_ms();
			wait = wait < 0 ? 0 : (wait > KEEPER_TICK_MS ?
			    KEEPER_TICK_MS : wait);
		}
		keeper_title();
		n = epoll_wait(kep, ev, KEEPER_EVENTS, (int)wait);
		for (int i = 0; i < n; i++) {
			if (ev[i].data.ptr != NULL) {
				struct kconn *c = ev[i].data.ptr;

				/* Draining, input is the next request: idle
				 * now, read at the next wake-up. */
				if (c->state == K_SEND && c->draining)
					kconn_again(c);
				else if (c->state == K_SEND)
					kconn_writable(c);
				else
					kconn_readable(c);
				continue;
			}
			if (ev[i].events & EPOLLOUT)
				flush_ready();
			if (ev[i].events & EPOLLIN)
				queue_readable();
		}
		expire();
		publish();
	}
	ksb->keeper_parked = 0;		/* draining workers wait for none */
	publish();
	exit(0);
}
