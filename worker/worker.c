/*
 * worker - life of a worker process after fork: signals, title, the
 * document root and buffers (allocated once), then accept() one
 * connection at a time and serve it until it is closed.
 */
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "conn.h"
#include "crash.h"
#include "exitcodes.h"
#include "module.h"
#include "log.h"
#include "sandbox.h"
#include "self.h"
#include "static.h"
#include "title.h"
#include "worker.h"

static struct conn conn;
static int		 wqfd = -1;	/* the keeper queue, workers' end */
static int		 wep = -1;	/* listeners + queue */
static const struct cfg	*wcfg;

void
worker_set_queue(int fd)
{
	wqfd = fd;
}

static void
on_usr1(int sig)
{
	(void)sig;
	worker_reopen = 1;
}

/* QUIT: the server stops; serve what waits in the accept queue, exit.
 * HUP: this worker is replaced (reload, recycling, TTOU); the others
 * take the queue: finish the current connection, exit. */
static void
on_quit(int sig)
{
	if (sig == SIGQUIT)
		worker_drain = 1;
	worker_stop = 1;
}

/* A worker stops on QUIT and HUP (see on_quit). */
static void
worker_signals(void)
{
	child_signals_init(on_quit, on_usr1, on_quit);
}

static void
pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * An accepted AF_UNIX socket does not inherit the listener's timeouts
 * (TCP ones do): without them the idle read and the writes would wait
 * for the client forever.
 */
static void
unix_timeouts(int fd)
{
	int snd = wcfg->write_timeout_ms;
	struct timeval rtv = { 0, FAIR_SLICE_US };	/* see conn.c */
	struct timeval stv = { snd / 1000, (snd % 1000) * 1000 };

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rtv, sizeof(rtv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &stv, sizeof(stv));
}

/*
 * One epoll per worker over the listeners and the keeper queue, each
 * with EPOLLEXCLUSIVE: a new connection or a handed-over one wakes one
 * idle worker, not all of them (no thundering herd). The listeners are
 * non-blocking (master), so a connection another worker took costs an
 * EAGAIN, never a blocked accept.
 */
static int
wait_init(const int *lfd, int nlfd)
{
	struct epoll_event ev;

	if ((wep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return -1;
	for (int i = 0; i <= nlfd; i++) {
		int fd = i < nlfd ? lfd[i] : wqfd;

		if (fd == -1)
			continue;
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN | EPOLLEXCLUSIVE;
		ev.data.u32 = (uint32_t)i;
		if (epoll_ctl(wep, EPOLL_CTL_ADD, fd, &ev) == -1)
			return -1;
	}
	return 0;
}

/*
 * While stopping, the keeper may still hand over requests that were on
 * their way on its idle connections (it closes them shortly): a draining
 * worker stays for those.
 */
static bool
keeper_busy(void)
{
	return wqfd != -1 && worker_sb->keeper_pid != 0 &&
	    worker_sb->keeper_parked > 0;
}

/*
 * How long the listeners must have been quiet before a draining worker
 * leaves, when the listeners close behind it. A client whose handshake
 * completed before the master's SYN filter may send its request a little
 * later, and with TCP_DEFER_ACCEPT the connection only reaches the accept
 * queue then: leaving at the first empty look would let the close of the
 * listener reset it.
 */
#define STOP_QUIET_MS	250

/* While stopping: how much longer to wait on quiet listeners. */
static int
quiet_left(long long last)
{
	long long left;

	if (!worker_sb->listeners_closing)
		return 0;
	left = last + STOP_QUIET_MS - sb_now_ms();
	return left > 0 ? (int)left : 0;
}

/* Serves the next connection of the keeper queue; -1 when there was none
 * (EAGAIN: another worker took it). */
static int
take_ready(void)
{
	if (conn_take(&conn) == 0)
		return 0;
	if (errno == EPIPE) {
		/* Nobody holds the keeper's end: the master and the keeper
		 * are gone. Stop watching the queue (it would wake us for
		 * ever) and park nothing. */
		(void)epoll_ctl(wep, EPOLL_CTL_DEL, wqfd, NULL);
		close(wqfd);
		wqfd = conn.qfd = -1;
	}
	return -1;
}

/*
 * Serves connections until told to stop; then serves what is already in
 * the accept queue and the keeper queue (each with Connection: close)
 * and returns. One ready source per wake-up: epoll rotates its ready
 * list, so a busy listener cannot starve another or the queue. When the
 * scoreboard says a connection waits in the keeper queue, it is taken
 * without the wait (a syscall less per hand-off under load), but only
 * every other time: the wait in between lets the listeners have their
 * turn.
 */
static void
accept_loop(const int *lfd, int nlfd, pid_t master)
{
	struct sockaddr_storage ss;
	struct epoll_event ev;
	socklen_t sslen;
	long long last = 0;	/* stopping: when a connection last came */
	bool took = false;	/* the last one came from the queue directly */
	int fd, rc;

	worker_slot->state = SB_ACCEPTING;
	kill(master, MASTER_SIG_SB);	/* ready: a reload or recycle goes on */
	for (;;) {
		bool stopping = worker_stop, busy;

		if (stopping && !worker_drain)
			return;
		worker_check_reopen();

		worker_slot->state = SB_ACCEPTING;
		if (!stopping && !took && wqfd != -1 && worker_sb != NULL &&
		    sb_ready(worker_sb) > 0) {
			took = true;
			worker_slot->state = SB_READING;
			if (take_ready() == 0)
				continue;
			worker_slot->state = SB_ACCEPTING;
		}
		took = false;
		/* Read before the wait: the keeper lowers its count only
		 * after the hand-off is in the queue, so once it reads 0 an
		 * empty wait means nothing more can come (read after, a
		 * hand-off sent meanwhile would be left in the queue). */
		busy = stopping && keeper_busy();
		if (stopping && last == 0)
			last = sb_now_ms();
		/* Bounded, so that a dead master is noticed even if the
		 * parent-death signal were lost. */
		rc = epoll_wait(wep, &ev, 1, !stopping ? MASTER_CHECK_MS :
		    busy ? 50 : quiet_left(last));
		if (rc == -1 && errno != EINTR) {
			log_warn("epoll_wait() failed");
			pause_ms(100);
			continue;
		}
		if (rc <= 0) {
			if (rc == 0 && ((stopping && !busy &&
			    quiet_left(last) == 0) || getppid() != master))
				return;
			continue;
		}
		if (stopping)
			last = sb_now_ms();
		worker_slot->state = SB_READING;
		if ((int)ev.data.u32 == nlfd) {
			(void)take_ready();
			continue;
		}
		sslen = sizeof(ss);
		fd = accept4(lfd[ev.data.u32], (struct sockaddr *)&ss, &sslen,
		    SOCK_CLOEXEC);
		if (fd == -1) {
			switch (errno) {
			case EINTR:
			case EAGAIN:	/* another worker took it */
			case ECONNABORTED:
			case EPROTO:
				break;
			default:
				log_warn("accept4() failed");
				pause_ms(100);
			}
			continue;
		}
		if (ss.ss_family == AF_UNIX)
			unix_timeouts(fd);
		conn_serve(&conn, fd, (struct sockaddr *)&ss, sslen,
		    wcfg->listen[ev.data.u32].proxy);
	}
}

void
worker_main(const struct cfg *cfg, int id, int gen, const int *lfd, int nlfd,
    struct sb *sb, int sbi)
{
	pid_t master = getppid();
	char err[512];

	worker_sb = sb;
	wcfg = cfg;
	worker_self_init(cfg, MASTER_SIG_SB);
	worker_slot = &sb->slot[sbi];
	worker_slot->pid = getpid();
	log_set_role(id);
	worker_signals();
	/* A worker (or its module) is not what systemd watches. */
	unsetenv("NOTIFY_SOCKET");
	title_set("preforkd: worker %d (gen %d)", id, gen);
	if (static_init(cfg->docroot) == -1) {
		log_warn("open(\"%s\") failed", cfg->docroot);
		_exit(WORKER_EXIT_BOOT);
	}
	if (conn_init(&conn, cfg, lfd, nlfd) == -1) {
		log_warn("cannot allocate connection buffers");
		_exit(WORKER_EXIT_BOOT);
	}
	conn.qfd = wqfd;
	if (wait_init(lfd, nlfd) == -1) {
		log_warn("epoll set-up failed");
		_exit(WORKER_EXIT_BOOT);
	}
	if (cfg->max_requests > 0) {
		srandom((unsigned)getpid());
		worker_quota = (unsigned long long)cfg->max_requests +
		    (cfg->max_requests_jitter > 0 ? (unsigned long long)random() %
		    ((unsigned long long)cfg->max_requests_jitter + 1) : 0);
	}
	if (child_drop_privileges() == -1)
		_exit(WORKER_EXIT_BOOT);
	/* After the drop: a uid change clears the parent-death signal. */
	if (prctl(PR_SET_PDEATHSIG, SIGQUIT) == -1 || getppid() != master)
		_exit(0);
	crash_init(&conn, id, gen, cfg->timeout_ms);
	if (api_init(cfg) == -1) {
		log_warn("cannot allocate module request state");
		_exit(WORKER_EXIT_BOOT);
	}
	if (module_load_all(cfg, id, err, sizeof(err)) == -1) {
		log_errorx("%s", err);
		module_fini_all();
		_exit(WORKER_EXIT_BOOT);
	}
	/* After init, as pledge comes after set-up: what init opened stays. */
	if (sandbox_apply_process(cfg, SANDBOX_WORKER, err, sizeof(err)) == -1) {
		log_errorx("%s", err);
		module_fini_all();
		_exit(WORKER_EXIT_BOOT);
	}
	/* What set-up allocated and freed (the seccomp filter's build, say)
	 * goes back now: an idle worker keeps only the pages it uses. */
	(void)malloc_trim(0);
	accept_loop(lfd, nlfd, master);
	module_fini_all();
	exit(0);
}
