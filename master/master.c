/*
 * master - the master loop (STYLE "The master loop"): sleep in ppoll()
 * with signals unblocked only there; reap every child; act on signal
 * flags in priority order; keep the worker count at target with backoff.
 * The master never touches HTTP.
 */
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "master.h"
#include "sb.h"
#include "title.h"
#include "worker.h"

#define BOOT_GRACE_MS	1000	/* a death sooner than this is a boot failure */
#define BACKOFF_MIN_MS	10
#define BACKOFF_MAX_MS	1000

struct slot {
	pid_t		pid;		/* 0: empty */
	int		gen;
	long long	started;	/* ms, monotonic */
};

static volatile sig_atomic_t got_chld, got_term, got_quit, got_int;
static volatile sig_atomic_t got_hup, got_usr1, got_usr2, got_ttin, got_ttou;
static volatile sig_atomic_t got_winch;

static struct slot	 slots[MAX_WORKERS];
static const struct cfg	*cfg;
static int		*lfds;
static int		 nlfds;
static struct sb	*sb;
static int		 target;	/* workers wanted */
static int		 gen = 1;
static long long	 next_spawn;	/* backoff: no spawn before this */
static long long	 backoff_ms;
static enum { RUNNING, DRAINING, STOPPING, KILLING } state = RUNNING;
static long long	 deadline;	/* of the current shutdown phase */

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
on_signal(int sig)
{
	switch (sig) {
	case SIGCHLD: got_chld = 1; break;
	case SIGTERM: got_term = 1; break;
	case SIGQUIT: got_quit = 1; break;
	case SIGINT: got_int = 1; break;
	case SIGHUP: got_hup = 1; break;
	case SIGUSR1: got_usr1 = 1; break;
	case SIGUSR2: got_usr2 = 1; break;
	case SIGTTIN: got_ttin = 1; break;
	case SIGTTOU: got_ttou = 1; break;
	case SIGWINCH: got_winch = 1; break;
	}
}

static const int handled[] = { SIGCHLD, SIGTERM, SIGQUIT, SIGINT, SIGHUP,
    SIGUSR1, SIGUSR2, SIGTTIN, SIGTTOU, SIGWINCH };

/* Handlers installed with every handled signal blocked; *sleep_mask is
 * the mask ppoll() sleeps with (everything unblocked). */
static void
install_signals(sigset_t *sleep_mask)
{
	struct sigaction sa;
	sigset_t block;

	sigemptyset(&block);
	for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++)
		sigaddset(&block, handled[i]);
	sigprocmask(SIG_BLOCK, &block, sleep_mask);
	for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++)
		sigdelset(sleep_mask, handled[i]);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_mask = block;
	sa.sa_flags = SA_NOCLDSTOP;
	for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++)
		sigaction(handled[i], &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	sigaction(SIGPIPE, &sa, NULL);
}

static int
count_workers(void)
{
	int n = 0;

	for (int i = 0; i < MAX_WORKERS; i++)
		if (slots[i].pid > 0)
			n++;
	return n;
}

static void
spawn(int i)
{
	pid_t pid;

	sb->slot[i].state = SB_STARTING;
	sb->slot[i].requests = 0;
	if ((pid = fork()) == -1) {
		sb->slot[i].state = SB_EMPTY;
		log_warn("fork() for worker %d failed", i + 1);
		return;
	}
	if (pid == 0)
		worker_main(cfg, i + 1, gen, lfds, nlfds, sb);
	sb->slot[i].pid = pid;
	sb->slot[i].gen = gen;
	slots[i].pid = pid;
	slots[i].gen = gen;
	slots[i].started = now_ms();
	log_info("worker %d started (pid %d, gen %d)", i + 1, (int)pid, gen);
}

static void
signal_all(int sig)
{
	for (int i = 0; i < MAX_WORKERS; i++)
		if (slots[i].pid > 0)
			kill(slots[i].pid, sig);
}

/* Logs the decoded exit status; adjusts the boot-failure backoff. */
static void
reaped(int i, int status)
{
	/* A boot failure: died before accepting, or soon and unused. */
	bool quick = sb->slot[i].state == SB_STARTING ||
	    (now_ms() - slots[i].started < BOOT_GRACE_MS &&
	    sb->slot[i].requests == 0);
	int pid = (int)slots[i].pid;

	if (WIFEXITED(status)) {
		if (WEXITSTATUS(status) == 0 || state != RUNNING)
			log_info("worker %d (pid %d) exited with code %d", i + 1,
			    pid, WEXITSTATUS(status));
		else
			log_warnx("worker %d (pid %d) exited with code %d",
			    i + 1, pid, WEXITSTATUS(status));
	} else if (WIFSIGNALED(status)) {
		const char *name = sigabbrev_np(WTERMSIG(status));

		if (state == RUNNING)
			log_warnx("worker %d (pid %d) killed by SIG%s%s", i + 1,
			    pid, name ? name : "?",
			    WCOREDUMP(status) ? " (core dumped)" : "");
		else
			log_info("worker %d (pid %d) killed by SIG%s", i + 1,
			    pid, name ? name : "?");
	}
	slots[i].pid = 0;
	sb->slot[i].pid = 0;
	sb->slot[i].state = SB_EMPTY;
	if (state != RUNNING)
		return;
	if (quick && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		long long prev = backoff_ms;

		backoff_ms = backoff_ms == 0 ? BACKOFF_MIN_MS :
		    (backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
		    backoff_ms * 2);
		next_spawn = now_ms() + backoff_ms + random() % (backoff_ms / 2 + 1);
		if (prev == 0)
			log_warnx("workers die right after start: respawning "
			    "with backoff (up to %d ms)", BACKOFF_MAX_MS);
	} else if (backoff_ms != 0) {
		backoff_ms = 0;
		log_info("workers run again: respawn backoff ended");
	}
}

static void
reap(void)
{
	pid_t pid;
	int status;

	got_chld = 0;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < MAX_WORKERS; i++)
			if (slots[i].pid == pid) {
				reaped(i, status);
				break;
			}
	}
}

/* Graceful: stop accepting (after the drain delay), finish requests. */
static void
begin_stop(void)
{
	for (int i = 0; i < nlfds; i++) {
		/* Workers drain the accept queue without blocking. */
		int fl = fcntl(lfds[i], F_GETFL);

		(void)fcntl(lfds[i], F_SETFL, fl | O_NONBLOCK);
	}
	signal_all(SIGQUIT);
	state = STOPPING;
	deadline = now_ms() + cfg->graceful_timeout_ms;
}

static void
begin_kill(int sig)
{
	signal_all(sig);
	state = KILLING;
	deadline = now_ms() + (sig == SIGKILL ? 0 : FAST_STOP_MS);
}

/* Acts on signal flags: terminate > quit > the rest. */
static void
handle_flags(void)
{
	if (got_int || ((got_term || got_quit) && state != RUNNING &&
	    state != KILLING)) {
		if (state != KILLING) {
			log_info("fast shutdown (%s)", got_int ? "SIGINT" :
			    "second stop signal");
			begin_kill(SIGTERM);
		}
		got_int = got_term = got_quit = 0;
	}
	if ((got_term || got_quit) && state == RUNNING) {
		log_info("graceful shutdown (%s)", got_term ? "SIGTERM" : "SIGQUIT");
		got_term = got_quit = 0;
		state = DRAINING;
		deadline = now_ms() + cfg->drain_delay_ms;
	}
	if (got_ttin && state == RUNNING) {
		if (target < MAX_WORKERS)
			target++;
		log_info("SIGTTIN: %d workers wanted", target);
	}
	if (got_ttou && state == RUNNING) {
		if (target > 1) {
			target--;
			for (int i = MAX_WORKERS - 1; i >= target; i--)
				if (slots[i].pid > 0)
					kill(slots[i].pid, SIGQUIT);
		}
		log_info("SIGTTOU: %d workers wanted", target);
	}
	if (got_hup || got_usr1 || got_usr2 || got_winch)
		log_warnx("signal ignored: reload, log reopening and binary "
		    "upgrade are not implemented yet");
	got_ttin = got_ttou = got_hup = got_usr1 = got_usr2 = got_winch = 0;
}

/* Deadlines of the shutdown phases. */
static void
handle_deadlines(void)
{
	long long now = now_ms();

	if (state == DRAINING && now >= deadline)
		begin_stop();
	else if (state == STOPPING && now >= deadline) {
		log_warnx("graceful timeout: killing %d workers",
		    count_workers());
		begin_kill(SIGKILL);
	} else if (state == KILLING && now >= deadline && count_workers() > 0) {
		signal_all(SIGKILL);
		deadline = now + FAST_STOP_MS;
	}
}

/* Keeps one worker in each of the first `target` slots. */
static void
maintain(void)
{
	if (state != RUNNING || now_ms() < next_spawn)
		return;
	for (int i = 0; i < target; i++) {
		if (slots[i].pid == 0) {
			spawn(i);
			if (backoff_ms != 0) {	/* one at a time while failing */
				next_spawn = now_ms() + backoff_ms;
				return;
			}
		}
	}
}

static void
sleep_until_event(const sigset_t *mask)
{
	long long wake = -1, now = now_ms();
	struct timespec ts, *tsp = NULL;

	if (state != RUNNING)
		wake = deadline;
	if (state == RUNNING && next_spawn > now && count_workers() < target)
		wake = next_spawn;
	if (wake != -1) {
		long long d = wake > now ? wake - now : 0;

		ts.tv_sec = d / 1000;
		ts.tv_nsec = (d % 1000) * 1000000;
		tsp = &ts;
	}
	if (got_chld || got_term || got_quit || got_int || got_hup ||
	    got_usr1 || got_usr2 || got_ttin || got_ttou || got_winch)
		return;
	(void)ppoll(NULL, 0, tsp, mask);
}

int
master_run(const struct cfg *c, int *lfd, int nlfd)
{
	sigset_t sleep_mask;

	cfg = c;
	lfds = lfd;
	nlfds = nlfd;
	target = c->workers;
	if ((sb = sb_create()) == NULL) {
		log_warn("cannot map the scoreboard");
		return EX_OSERR;
	}
	srandom((unsigned)getpid());
	install_signals(&sleep_mask);
	title_set("preforkd: master (gen %d) %s%s", gen, c->listen[0].spec,
	    c->nlisten > 1 ? " ..." : "");
	if (nlfd > 1)		/* workers poll several listeners */
		for (int i = 0; i < nlfd; i++)
			(void)fcntl(lfd[i], F_SETFL,
			    fcntl(lfd[i], F_GETFL) | O_NONBLOCK);
	maintain();
	log_info("ready: %d workers", count_workers());
	for (;;) {
		sleep_until_event(&sleep_mask);
		reap();
		handle_flags();
		handle_deadlines();
		maintain();
		if (state != RUNNING && count_workers() == 0)
			break;
	}
	log_info("exiting");
	return 0;
}
