/*
 * worker - life of a worker process after fork: signals, title, the
 * document root and buffers (allocated once), then accept() one
 * connection at a time and serve it until it is closed.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <errno.h>
#include <grp.h>
#include <fcntl.h>
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
#include "static.h"
#include "title.h"
#include "worker.h"

volatile sig_atomic_t worker_stop;
static volatile sig_atomic_t worker_drain;
unsigned long long	worker_quota;	/* requests before recycling, 0: none */
struct sb		*worker_sb;
struct sb_slot		*worker_slot;

static struct conn conn;
static const struct cfg	*wcfg;
static bool		 drop_user;
static uid_t		 drop_uid;
static gid_t		 drop_gid;
volatile sig_atomic_t	 worker_reopen;

void
worker_set_user(bool drop, uid_t uid, gid_t gid)
{
	drop_user = drop;
	drop_uid = uid;
	drop_gid = gid;
}

/* Reopens the logs after USR1 (between requests). */
void
worker_check_reopen(void)
{
	char err[512];

	if (!worker_reopen)
		return;
	worker_reopen = 0;
	if (log_open(wcfg, err, sizeof(err)) == -1)
		log_warnx("reopening logs: %s (the old ones stay open)", err);
	else
		log_debug("logs reopened");
}

static void
on_usr1(int sig)
{
	(void)sig;
	worker_reopen = 1;
}

/*
 * -u: give up root before any module code runs. -u root keeps root on
 * purpose (the -D refusal names it as the way to insist): only the
 * groups are set then, and regaining root is no failure.
 */
int
worker_drop_privileges(void)
{
	if (!drop_user)
		return 0;
	if (setgroups(1, &drop_gid) == -1 || setgid(drop_gid) == -1 ||
	    setuid(drop_uid) == -1) {
		log_warn("cannot switch to uid %d gid %d", (int)drop_uid,
		    (int)drop_gid);
		return -1;
	}
	if (drop_uid != 0 && setuid(0) == 0) {
		log_warnx("could regain root after dropping it");
		return -1;
	}
	/* The uid change made us non-dumpable: no core, no ptrace by the
	 * user we now are. A worker is meant to be debuggable. */
	(void)prctl(PR_SET_DUMPABLE, 1);
	return 0;
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

/*
 * After fork, in a worker or the status process: the master's handlers
 * and mask must not survive. TERM and INT kill at once; QUIT goes to
 * quit, USR1 (reopen the logs) to usr1, HUP to hup (NULL: ignored); the
 * rest, which the master uses for itself, mean nothing
 * here. No SA_RESTART: QUIT must interrupt a blocking accept or read.
 */
void
worker_signals_init(void (*quit)(int), void (*usr1)(int),
    void (*hup)(int))
{
	struct sigaction sa;
	sigset_t all;
	static const int ignored[] = { SIGPIPE, SIGUSR2, SIGWINCH, SIGTTIN,
	    SIGTTOU };
	static const int dflt[] = { SIGTERM, SIGINT, SIGCHLD, SIGALRM };

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		sigaction(ignored[i], &sa, NULL);
	sa.sa_handler = SIG_DFL;
	for (size_t i = 0; i < sizeof(dflt) / sizeof(dflt[0]); i++)
		sigaction(dflt[i], &sa, NULL);
	sigaction(MASTER_SIG_SB, &sa, NULL);
	sa.sa_handler = quit;
	sigaction(SIGQUIT, &sa, NULL);
	sa.sa_handler = usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = hup != NULL ? hup : SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

/* A worker stops on QUIT and HUP (see on_quit). */
static void
worker_signals(void)
{
	worker_signals_init(on_quit, on_usr1, on_quit);
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
	int rcv = cfg_read_slice_ms(wcfg), snd = wcfg->write_timeout_ms;
	struct timeval rtv = { rcv / 1000, (rcv % 1000) * 1000 };
	struct timeval stv = { snd / 1000, (snd % 1000) * 1000 };

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rtv, sizeof(rtv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &stv, sizeof(stv));
}

/* Accepts from the one readable listener, or -1. */
static int
accept_one(const int *lfd, int nlfd, bool wait,
    struct sockaddr_storage *ss, socklen_t *sslen)
{
	static int first;
	struct pollfd pfd[MAX_LISTENERS];
	int fd, i, rc;

	*sslen = sizeof(*ss);
	if (nlfd == 1 && wait) {
		fd = accept4(lfd[0], (struct sockaddr *)ss, sslen, SOCK_CLOEXEC);
		if (fd != -1 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return fd;
		/* The listener is non-blocking (it is shared with workers of
		 * a reload that poll several), or SO_RCVTIMEO ran out: wait in
		 * poll, and let the caller look at its flags. */
		pfd[0].fd = lfd[0];
		pfd[0].events = POLLIN;
		if (poll(pfd, 1, MASTER_CHECK_MS) == 0)
			errno = EAGAIN;
		else if (errno != EINTR)
			errno = EAGAIN;		/* readable: try again */
		return -1;
	}
	for (i = 0; i < nlfd; i++) {
		pfd[i].fd = lfd[i];
		pfd[i].events = POLLIN;
		pfd[i].revents = 0;
	}
	/* Bounded, so that a dead master is noticed (accept_loop) even if
	 * the parent-death signal were lost. */
	rc = poll(pfd, (nfds_t)nlfd, wait ? MASTER_CHECK_MS : 0);
	if (rc <= 0) {
		if (rc == 0)
			errno = EAGAIN;
		return -1;
	}
	/* Round robin, so that a busy listener cannot starve another. */
	for (int k = 0; k < nlfd; k++) {
		i = (first + k) % nlfd;
		if (!(pfd[i].revents & POLLIN))
			continue;
		fd = accept4(lfd[i], (struct sockaddr *)ss, sslen, SOCK_CLOEXEC);
		if (fd != -1 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
			first = (i + 1) % nlfd;
			return fd;
		}
	}
	errno = EAGAIN;
	return -1;
}

/*
 * Serves connections until told to stop; then serves what is already in
 * the accept queue (each with Connection: close) and returns.
 */
static void
accept_loop(const int *lfd, int nlfd, pid_t master)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int fd;

	worker_slot->state = SB_ACCEPTING;
	kill(master, MASTER_SIG_SB);	/* ready: a reload or recycle goes on */
	for (;;) {
		bool stopping = worker_stop;

		if (stopping && !worker_drain)
			return;
		worker_check_reopen();

		worker_slot->state = SB_ACCEPTING;
		fd = accept_one(lfd, nlfd, !stopping, &ss, &sslen);
		worker_slot->state = SB_READING;
		if (fd == -1) {
			switch (errno) {
			case EINTR:
			case ECONNABORTED:
			case EPROTO:
				break;
			case EAGAIN:	/* SO_RCVTIMEO, or the queue is empty */
				if (stopping)
					return;
				if (getppid() != master)
					return;
				break;
			case EMFILE:
			case ENFILE:
			case ENOBUFS:
			case ENOMEM:
				log_warn("accept4() failed");
				pause_ms(100);
				break;
			default:
				if (stopping)
					return;
				log_warn("accept4() failed");
				pause_ms(100);
			}
			continue;
		}
		if (ss.ss_family == AF_UNIX)
			unix_timeouts(fd);
		conn_serve(&conn, fd, (struct sockaddr *)&ss, sslen);
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
	if (cfg->max_requests > 0) {
		srandom((unsigned)getpid());
		worker_quota = (unsigned long long)cfg->max_requests +
		    (cfg->max_requests_jitter > 0 ? (unsigned long long)random() %
		    ((unsigned long long)cfg->max_requests_jitter + 1) : 0);
	}
	if (worker_drop_privileges() == -1)
		_exit(WORKER_EXIT_BOOT);
	/* After the drop: a uid change clears the parent-death signal. */
	if (prctl(PR_SET_PDEATHSIG, SIGQUIT) == -1 || getppid() != master)
		_exit(0);
	crash_init(&conn, id, cfg->timeout_ms);
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
	accept_loop(lfd, nlfd, master);
	module_fini_all();
	exit(0);
}
