/*
 * crash - on SIGSEGV, SIGBUS, SIGFPE, SIGILL or SIGABRT a worker answers
 * its client 500 (when no byte of the response went out yet), writes the
 * request and a backtrace to the error log, and re-raises the signal so
 * that the master sees how it died. On --timeout (SIGALRM) it answers 503
 * instead and exits with WORKER_EXIT_TIMEOUT. SIGSYS, the strict sandbox
 * refusing a syscall, is reported the same way with the syscall's name.
 *
 * The same timer shows a long request in the process title (SPEC 1):
 * "preforkd: worker 3 (gen 2) handling GET /x 2.3s", refreshed every
 * TITLE_TICK_MS while it lasts. It costs no syscall per request: it is
 * armed when a request starts and none is pending; when it fires early
 * (it was armed for an earlier request), it re-arms itself for the
 * current one; when it fires between requests, it stops. A busy worker
 * so pays one SIGALRM and one setitimer() per TITLE_AFTER_MS, whatever its
 * request rate (measured: 10 a second at 58k requests a second).
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <execinfo.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crash.h"
#include "httpdate.h"
#include "log.h"
#include "sandbox.h"
#include "self.h"
#include "title.h"
#include "version.h"

#define BT_DEPTH	64

static struct conn		*cur;
static char			*altstack;	/* kept: the handlers run on it */
static int			 wid;
static int			 limit_ms;
static volatile sig_atomic_t	 in_handler;
static volatile sig_atomic_t	 timer_armed;
static volatile long long	 handler_start;
static long long		 io_start;	/* a paused handler's wait, or 0 */
static volatile sig_atomic_t	 title_shown;	/* the long-request title is up */
static char			 title_idle[64]; /* "preforkd: worker 3 (gen 2)" */

/* --- async-signal-safe formatting ------------------------------------ */

struct line {
	char	buf[1024];
	size_t	len;
};

static void
add(struct line *l, const char *s, size_t n)
{
	if (n > sizeof(l->buf) - l->len)
		n = sizeof(l->buf) - l->len;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void
adds(struct line *l, const char *s)
{
	add(l, s, strlen(s));
}

static void
addu(struct line *l, unsigned long long v, int width)
{
	char d[24];
	int n = 0;

	do {
		d[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0 && n < (int)sizeof(d));
	while (n < width && n < (int)sizeof(d))
		d[n++] = '0';
	while (n > 0)
		add(l, &d[--n], 1);
}

/* The error log's line prefix, with the UTC date computed by hand
 * (gmtime_r may take a lock). */
static void
prefix(struct line *l)
{
	struct timespec ts;
	long long secs;
	int y, m, d;

	clock_gettime(CLOCK_REALTIME, &ts);
	secs = ts.tv_sec % 86400;
	httpdate_civil(ts.tv_sec / 86400, &y, &m, &d);
	addu(l, (unsigned long long)y, 4);
	adds(l, "-");
	addu(l, (unsigned long long)m, 2);
	adds(l, "-");
	addu(l, (unsigned long long)d, 2);
	adds(l, "T");
	addu(l, (unsigned long long)(secs / 3600), 2);
	adds(l, ":");
	addu(l, (unsigned long long)(secs / 60 % 60), 2);
	adds(l, ":");
	addu(l, (unsigned long long)(secs % 60), 2);
	adds(l, ".");
	addu(l, (unsigned long long)(ts.tv_nsec / 1000000), 3);
	adds(l, "Z error worker ");
	addu(l, (unsigned long long)wid, 0);
	adds(l, " pid=");
	addu(l, (unsigned long long)getpid(), 0);
	adds(l, ": ");
}

/* " while serving GET /x from 1.2.3.4:5" from our scoreboard slot. */
static void
add_request(struct line *l)
{
	const struct sb_slot *s = worker_slot;

	if (s == NULL || s->req_start_ms == 0)
		return;
	adds(l, " while serving ");
	add(l, s->method, strnlen(s->method, sizeof(s->method)));
	adds(l, " ");
	add(l, s->path, strnlen(s->path, sizeof(s->path)));
	adds(l, " from ");
	add(l, s->client, strnlen(s->client, sizeof(s->client)));
}

/* Answers status with Connection: close if the response has not begun,
 * then lets the client read it (half-close, short drain). */
static void
answer(int status)
{
	struct line l;
	struct timespec ts;
	char date[HTTPDATE_LEN + 1], drain[4096];
	struct pollfd pfd;
	const char *reason = status == 500 ? "Internal Server Error" :
	    "Service Unavailable";

	if (cur == NULL || cur->fd < 0 || cur->head_sent || cur->hijacked ||
	    worker_slot == NULL || worker_slot->req_start_ms == 0)
		return;
	l.len = 0;
	adds(&l, "HTTP/1.1 ");
	addu(&l, (unsigned long long)status, 0);
	adds(&l, " ");
	adds(&l, reason);
	adds(&l, "\r\nServer: preforkd/" PREFORKD_VERSION "\r\nDate: ");
	/* Not resp's cached Date line: it may be half rewritten. */
	clock_gettime(CLOCK_REALTIME, &ts);
	add(&l, date, httpdate_format(ts.tv_sec, date));
	adds(&l, "\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: ");
	addu(&l, strlen(reason) + 5, 0);
	adds(&l, "\r\nConnection: close\r\n\r\n");
	addu(&l, (unsigned long long)status, 0);
	adds(&l, " ");
	adds(&l, reason);
	adds(&l, "\n");
	(void)send(cur->fd, l.buf, l.len, MSG_NOSIGNAL);
	(void)shutdown(cur->fd, SHUT_WR);
	pfd.fd = cur->fd;
	pfd.events = POLLIN;
	for (int i = 0; i < 16 && poll(&pfd, 1, 100) > 0; i++)
		if (read(cur->fd, drain, sizeof(drain)) <= 0)
			break;
}

/*
 * The report is one write(), so that it does not interleave with the
 * lines of other processes: backtrace_symbols_fd() writes the frames into
 * a pipe made for the occasion, and they are read back into the line.
 */
static void
log_with_backtrace(const char *what)
{
	static struct {
		char	buf[16384];
		size_t	len;
	} r;
	void *frames[BT_DEPTH];
	struct line l;
	int n, p[2], fd = log_error_fd();
	ssize_t k;

	l.len = 0;
	prefix(&l);
	adds(&l, what);
	add_request(&l);
	adds(&l, "; backtrace:\n");
	memcpy(r.buf, l.buf, l.len);
	r.len = l.len;
	n = backtrace(frames, BT_DEPTH);
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0) {
		backtrace_symbols_fd(frames, n, p[1]);
		while (r.len < sizeof(r.buf) && (k = read(p[0], r.buf + r.len,
		    sizeof(r.buf) - r.len)) > 0)
			r.len += (size_t)k;
		close(p[0]);
		close(p[1]);
		(void)write(fd, r.buf, r.len);
	} else {
		(void)write(fd, r.buf, r.len);
		backtrace_symbols_fd(frames, n, fd);
	}
}

static void
on_crash(int sig)
{
	const char *name = sig == SIGSEGV ? "crashed with SIGSEGV" :
	    sig == SIGBUS ? "crashed with SIGBUS" :
	    sig == SIGFPE ? "crashed with SIGFPE" :
	    sig == SIGILL ? "crashed with SIGILL" : "crashed with SIGABRT";

	answer(500);
	log_with_backtrace(name);
	/* SA_RESETHAND restored the default: die of the real signal. */
	raise(sig);
}

/* "worker 1 (pid 2) blocked syscall execve (59)", then as a crash. */
static void
on_sys(int sig, siginfo_t *si, void *uctx)
{
	struct line l;
	const char *name = sandbox_syscall_name(si->si_syscall);

	(void)uctx;
	answer(500);
	l.len = 0;
	adds(&l, "worker ");
	addu(&l, (unsigned long long)wid, 0);
	adds(&l, " (pid ");
	addu(&l, (unsigned long long)getpid(), 0);
	adds(&l, ") blocked syscall ");
	adds(&l, name != NULL ? name : "unknown");
	adds(&l, " (");
	addu(&l, (unsigned long long)(unsigned)si->si_syscall, 0);
	adds(&l, ")");
	add(&l, "", 1);
	log_with_backtrace(l.buf);
	raise(sig);
}

static void
arm(long long ms)
{
	struct itimerval it = { { 0, 0 }, { ms / 1000, (ms % 1000) * 1000 } };

	if (ms < 1)
		it.it_value.tv_usec = 1000;
	(void)setitimer(ITIMER_REAL, &it, NULL);
}

/*
 * The title of a request running for elapsed ms, from our scoreboard
 * slot: "preforkd: worker 3 (gen 2) handling GET /x 2.3s". Runs in the
 * signal handler, so it formats by hand and writes with title_write()
 * (setproctitle() formats with vsnprintf: not async-signal-safe). The
 * query is left out: ps shows titles to every local user.
 */
static void
show_title(long long elapsed)
{
	const struct sb_slot *s = worker_slot;
	struct line l;
	size_t n;

	l.len = 0;
	adds(&l, title_idle);
	adds(&l, " ");
	adds(&l, sb_state_name(s->state));
	adds(&l, " ");
	add(&l, s->method, strnlen(s->method, sizeof(s->method)));
	adds(&l, " ");
	n = strnlen(s->path, sizeof(s->path));
	for (size_t i = 0; i < n && s->path[i] != '?'; i++) {
		unsigned char c = (unsigned char)s->path[i];

		add(&l, c > 0x20 && c < 0x7f ? &s->path[i] : "?", 1);
	}
	adds(&l, " ");
	addu(&l, (unsigned long long)(elapsed / 1000), 0);
	adds(&l, ".");
	addu(&l, (unsigned long long)(elapsed % 1000 / 100), 0);
	adds(&l, "s");
	title_write(l.buf, l.len);
	title_shown = 1;
}

/*
 * The timer: --timeout for a module handler (answer 503, exit), the
 * title of a long request, re-armed for whichever comes next; stopped
 * between requests.
 */
static void
on_alarm(int sig)
{
	long long now, req, next = LLONG_MAX;
	int saved = errno;

	(void)sig;
	now = sb_now_ms();
	if (in_handler && now - handler_start >= limit_ms) {
		answer(503);
		log_with_backtrace("handler timed out (--timeout)");
		_exit(WORKER_EXIT_TIMEOUT);
	}
	req = worker_slot != NULL ? worker_slot->req_start_ms : 0;
	if (!in_handler && req == 0) {
		timer_armed = 0;
		errno = saved;
		return;
	}
	if (in_handler)
		next = handler_start + limit_ms;
	if (req != 0 && now - req >= TITLE_AFTER_MS) {
		show_title(now - req);
		if (now + TITLE_TICK_MS < next)
			next = now + TITLE_TICK_MS;
	} else if (req != 0 && req + TITLE_AFTER_MS < next)
		next = req + TITLE_AFTER_MS;
	arm(next - now);
	errno = saved;
}

void
crash_init(struct conn *c, int worker_id, int gen, int timeout_ms)
{
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
	void *warm[2];
	struct sigaction sa;
	stack_t ss;

	cur = c;
	wid = worker_id;
	limit_ms = timeout_ms > 0 ? timeout_ms : 1;
	snprintf(title_idle, sizeof(title_idle), "preforkd: worker %d (gen %d)",
	    worker_id, gen);
	/* backtrace() loads libgcc_s on first use: not in a handler. */
	(void)backtrace(warm, 2);
	ss.ss_size = 64 * 1024;
	ss.ss_flags = 0;
	if (altstack == NULL)
		altstack = malloc(ss.ss_size);
	if ((ss.ss_sp = altstack) != NULL)
		(void)sigaltstack(&ss, NULL);
	memset(&sa, 0, sizeof(sa));
	sigfillset(&sa.sa_mask);
	sa.sa_handler = on_crash;
	sa.sa_flags = SA_ONSTACK | SA_RESETHAND | SA_NODEFER;
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		sigaction(fatal[i], &sa, NULL);
	sa.sa_handler = NULL;
	sa.sa_sigaction = on_sys;
	sa.sa_flags |= SA_SIGINFO;
	sigaction(SIGSYS, &sa, NULL);
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
}

void
crash_request_begin(void)
{
	if (!timer_armed) {
		timer_armed = 1;
		arm(TITLE_AFTER_MS);
	}
}

/*
 * After the slot's req_start_ms went to 0: a tick from now on leaves the
 * title alone, so setproctitle() cannot race the handler's title_write().
 */
void
crash_request_end(void)
{
	if (title_shown) {
		title_shown = 0;
		title_set("%s", title_idle);
	}
}

void
crash_handler_begin(void)
{
	handler_start = sb_now_ms();
	in_handler = 1;
	/* What the master's --timeout watch looks at: I/O outside a
	 * handler (a long download, say) has its own timeouts. */
	worker_slot->handler_start_ms = handler_start;
	if (!timer_armed) {
		timer_armed = 1;
		arm(limit_ms < TITLE_AFTER_MS ? limit_ms : TITLE_AFTER_MS);
	}
}

void
crash_handler_end(void)
{
	in_handler = 0;
	io_start = 0;
	worker_slot->handler_start_ms = 0;
}

/*
 * The handler's clock stops while it waits for its client: out of the
 * bracket for the timer and the master's watch, and back in with its
 * start moved on by the wait. Costs two clock reads (no syscall).
 */
void
crash_io_begin(void)
{
	if (!in_handler)
		return;		/* not from a handler, or nested */
	io_start = sb_now_ms();
	in_handler = 0;
	worker_slot->handler_start_ms = 0;
}

void
crash_io_end(void)
{
	if (io_start == 0)
		return;
	/* The new start first: a tick in between sees the old bracket
	 * closed, or the new one whole. */
	handler_start += sb_now_ms() - io_start;
	io_start = 0;
	worker_slot->handler_start_ms = handler_start;
	in_handler = 1;
}

/*
 * A hijacking handler owns its connection and its time: leaves the
 * bracket and disarms the timer, which would otherwise still fire (a
 * no-op, but an EINTR in the module's poll). The request's title goes
 * with it (no tick can come after the setitimer()).
 */
void
crash_handler_detach(void)
{
	static const struct itimerval off;

	crash_handler_end();
	(void)setitimer(ITIMER_REAL, &off, NULL);
	timer_armed = 0;
	crash_request_end();
}
