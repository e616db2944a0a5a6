/*
 * master - the master loop (STYLE "The master loop"): sleep in ppoll()
 * with signals unblocked only there; reap every child; act on signal
 * flags in priority order; keep the worker count at target with backoff.
 * The master never touches HTTP.
 */
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/filter.h>
#include <errno.h>
#include <limits.h>
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

#include "child.h"
#include "config.h"
#include "exitcodes.h"
#include "listen.h"
#include "log.h"
#include "notify.h"
#include <libutil.h>
#include "master.h"
#include "procs.h"
#include "sb.h"
#include "title.h"

#define BACKOFF_MIN_MS	10
#define BACKOFF_MAX_MS	1000

#define MURDER_GRACE_MS	2000	/* past --timeout before the master kills */
#define MASTER_TICK_MS	500	/* scoreboard checks while running */
#define RELOAD_START_MS	10000	/* new workers must accept within this */
#define READY_WAIT_MS	10000	/* the first ones too */
#define KEEPER_RESPAWN_MS 100	/* a crashing keeper restarts this often */

/* A worker process; several may share an id while one replaces another. */
struct proc {
	pid_t		pid;		/* 0: free entry */
	int		id;
	int		gen;
	int		sbi;		/* its scoreboard slot */
	bool		retiring;	/* told to stop; its id is free again */
	bool		replaced;	/* a successor is starting for its id */
	long long	retired_at;
};

#define MAX_PROCS	SB_SLOTS

static volatile sig_atomic_t got_chld, got_term, got_quit, got_int;
static volatile sig_atomic_t got_hup, got_usr1, got_usr2, got_ttin, got_ttou;
static volatile sig_atomic_t got_winch, got_sb;

static struct proc	 procs[MAX_PROCS];
static struct sb	*sb;
/* What a generation of workers runs with. */
struct genset {
	struct cfg	cfg;
	int		lfd[MAX_LISTENERS];
	int		nlfd;
};

static struct genset	 sets[2];
static struct genset	*cur = &sets[0];	/* the serving generation */
static struct genset	*nxt = &sets[1];	/* the one a reload starts */
static const struct cfg	*cfg = &sets[0].cfg;
static int		*lfds = sets[0].lfd;
static int		 nlfds;
static int		 saved_argc;
static char		**saved_argv;
static bool		 reloading;
static bool		 announced_ready;
static pid_t		 upgrade_pid;	/* the new master, during USR2 */
static bool		 handed_off;	/* it took over: leave quietly */
static char		 self_path[PATH_MAX];

static void	upgrade_failed(void);
static long long	 ready_deadline;
static int		 ready_fd = -1;	/* -D: the starting process waits */
static struct pidfh	*pfh;
static pid_t		 old_master;	/* we are its upgrade: tell it */
static bool		 reload_failed;
static long long	 reload_deadline;
static int		 sfd = -1;	/* --status-listen */
static int		 afd = -1;	/* --agent-listen (status process) */
static pid_t		 status_pid;
/* The keeper queue: [0] the keeper's end, [1] the workers'. Both stay
 * open here so that a respawned keeper and every new worker find the
 * same queue, and hand-offs in flight survive a keeper crash. */
static int		 qfd[2] = { -1, -1 };
static pid_t		 keeper_pid;
static long long	 keeper_next;	/* no respawn before this */
static bool		 keeper_termed;	/* told to close everything */
static long long	 status_next;	/* no respawn before this */
static int		 target;	/* workers wanted */
static int		 gen = 1;
static long long	 next_spawn;	/* backoff: no spawn before this */
static long long	 backoff_ms;
static pid_t		 recycling;	/* retiring for --max-requests, or 0 */
static enum { RUNNING, DRAINING, STOPPING, KILLING } state = RUNNING;
static long long	 deadline;	/* of the current shutdown phase */
static bool		 status_restart; /* we asked it to go: no warning */

static long long
now_ms(void)
{
	return sb_now_ms();
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
	default:
		if (sig == MASTER_SIG_SB)
			got_sb = 1;
	}
}

/* Handlers installed with every handled signal blocked; *sleep_mask is
 * the mask ppoll() sleeps with (everything unblocked). */
static void
install_signals(sigset_t *sleep_mask)
{
	const int handled[] = { SIGCHLD, SIGTERM, SIGQUIT, SIGINT, SIGHUP,
	    SIGUSR1, SIGUSR2, SIGTTIN, SIGTTOU, SIGWINCH, MASTER_SIG_SB };
	const size_t n = sizeof(handled) / sizeof(handled[0]);
	struct sigaction sa;
	sigset_t block;

	sigemptyset(&block);
	for (size_t i = 0; i < n; i++)
		sigaddset(&block, handled[i]);
	sigprocmask(SIG_BLOCK, &block, sleep_mask);
	for (size_t i = 0; i < n; i++)
		sigdelset(sleep_mask, handled[i]);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_mask = block;
	sa.sa_flags = SA_NOCLDSTOP;
	for (size_t i = 0; i < n; i++)
		sigaction(handled[i], &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	sigaction(SIGPIPE, &sa, NULL);
}

static int
count_workers(void)
{
	int n = 0;

	for (int i = 0; i < MAX_PROCS; i++)
		if (procs[i].pid > 0)
			n++;
	return n;
}

/* The serving (not retiring) process with this id, or NULL. */
static struct proc *
active(int id)
{
	for (int i = 0; i < MAX_PROCS; i++)
		if (procs[i].pid > 0 && procs[i].id == id &&
		    procs[i].gen == gen && !procs[i].retiring &&
		    !procs[i].replaced)
			return &procs[i];
	return NULL;
}

static struct proc *
by_pid(pid_t pid)
{
	for (int i = 0; i < MAX_PROCS; i++)
		if (procs[i].pid == pid)
			return &procs[i];
	return NULL;
}

/* In a new worker: the listeners of the other generation are not its. */
static void
close_other_listeners(const struct genset *gs)
{
	for (int s = 0; s < 2; s++) {
		const struct genset *o = &sets[s];

		if (o == gs)
			continue;
		for (int i = 0; i < o->nlfd; i++) {
			bool mine = false;

			for (int k = 0; k < gs->nlfd; k++)
				mine |= gs->lfd[k] == o->lfd[i];
			if (!mine)
				close(o->lfd[i]);
		}
	}
}

static void
spawn_in(const struct genset *gs, int g, int id)
{
	struct proc *p = NULL;
	struct sb_slot *s;
	pid_t pid;
	int sbi = -1;

	for (int i = 0; i < MAX_PROCS && p == NULL; i++)
		if (procs[i].pid == 0)
			p = &procs[i];
	for (int i = 0; i < SB_SLOTS && sbi == -1; i++)
		if (sb->slot[i].state == SB_EMPTY && sb->slot[i].pid == 0)
			sbi = i;
	if (p == NULL || sbi == -1)
		return;		/* cannot happen: twice as many as workers */
	s = &sb->slot[sbi];
	memset((void *)s, 0, sizeof(*s));
	if (sbi >= sb->slots_used)
		sb->slots_used = sbi + 1;
	s->id = id;
	s->gen = g;
	s->state = SB_STARTING;
	s->started_ms = now_ms();
	if ((pid = fork()) == -1) {
		s->state = SB_EMPTY;
		log_warn("fork() for worker %d failed", id);
		return;
	}
	if (pid == 0) {
		if (pfh != NULL)
			close(pidfile_fileno(pfh));
		if (ready_fd != -1)
			close(ready_fd);
		if (sfd != -1)
			close(sfd);		/* the status process's, not ours */
		if (afd != -1)
			close(afd);
		close(qfd[0]);			/* the keeper's end */
		worker_set_queue(qfd[1]);
		close_other_listeners(gs);
		worker_main(&gs->cfg, id, g, gs->lfd, gs->nlfd, sb, sbi);
	}
	s->pid = pid;
	p->pid = pid;
	p->id = id;
	p->gen = g;
	p->sbi = sbi;
	p->retiring = p->replaced = false;
	p->retired_at = 0;
	log_info("worker %d started (pid %d, gen %d)", id, (int)pid, g);
}

static void
spawn(int id)
{
	spawn_in(cur, gen, id);
}

static void
signal_all(int sig)
{
	for (int i = 0; i < MAX_PROCS; i++)
		if (procs[i].pid > 0)
			kill(procs[i].pid, sig);
}

/* " while serving GET /x from 1.2.3.4", or "" when idle. */
static void
describe_request(const struct sb_slot *s, char *out, size_t outsz)
{
	char method[sizeof(s->method)], path[sizeof(s->path)];
	char client[sizeof(s->client)];

	out[0] = '\0';
	if (s->req_start_ms == 0 || (s->state != SB_HANDLING &&
	    s->state != SB_READING && s->state != SB_WRITING))
		return;
	memcpy(method, s->method, sizeof(method));
	memcpy(path, s->path, sizeof(path));
	memcpy(client, s->client, sizeof(client));
	method[sizeof(method) - 1] = path[sizeof(path) - 1] = '\0';
	client[sizeof(client) - 1] = '\0';
	snprintf(out, outsz, " while serving %s %s from %s", method, path,
	    client);
}

/* " (boot failure)" for an exit code of exitcodes.h, else "". */
static const char *
exit_reason(int code)
{
	switch (code) {
	case WORKER_EXIT_BOOT:
		return " (boot failure)";
	case WORKER_EXIT_TIMEOUT:
		return " (handler timeout)";
	default:
		return "";
	}
}

/* Logs the decoded exit status; adjusts the boot-failure backoff. */
static void
reaped(struct proc *p, int status)
{
	struct sb_slot *s = &sb->slot[p->sbi];
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	/* A boot failure died before it first accepted, or said so. Any
	 * other death, however young, is replaced at once: a request crash
	 * must not make the next client wait for the backoff. */
	bool quick = (s->state == SB_STARTING && code != 0) ||
	    code == WORKER_EXIT_BOOT;
	char req[160];

	sb_fold(sb, s);		/* its counters outlive it */
	if (WIFSIGNALED(status) && WTERMSIG(status) < SB_SIGNALS)
		sb->crashes[WTERMSIG(status)]++;
	if (code == WORKER_EXIT_TIMEOUT)
		sb->timeouts++;
	describe_request(s, req, sizeof(req));
	if (WIFEXITED(status)) {
		if (code == 0 || state != RUNNING)
			log_info("worker %d (pid %d) exited with code %d%s",
			    p->id, (int)p->pid, code, exit_reason(code));
		else
			log_warnx("worker %d (pid %d) exited with code %d%s%s",
			    p->id, (int)p->pid, code, exit_reason(code), req);
	} else if (WIFSIGNALED(status)) {
		const char *name = sigabbrev_np(WTERMSIG(status));

		if (state == RUNNING)
			log_warnx("worker %d (pid %d) killed by SIG%s%s%s",
			    p->id, (int)p->pid, name ? name : "?",
			    WCOREDUMP(status) ? " (core dumped)" : "", req);
		else
			log_info("worker %d (pid %d) killed by SIG%s", p->id,
			    (int)p->pid, name ? name : "?");
	}
	if (p->pid == recycling)
		recycling = 0;
	if (reloading && p->gen == gen + 1 && !p->retiring) {
		reload_failed = true;	/* a new worker died: abort */
		s->pid = 0;
		s->state = SB_EMPTY;
		p->pid = 0;
		return;
	}
	s->pid = 0;
	s->state = SB_EMPTY;
	p->pid = 0;
	/* While draining, the instance still serves everything. */
	if ((state != RUNNING && state != DRAINING) || p->retiring)
		return;
	sb->respawns++;		/* maintain() replaces it */
	if (quick) {
		long long prev = backoff_ms;

		backoff_ms = backoff_ms == 0 ? BACKOFF_MIN_MS :
		    (backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
		    backoff_ms * 2);
		next_spawn = now_ms() + backoff_ms +
		    random() % (backoff_ms / 2 + 1);
		if (prev == 0)
			log_warnx("workers die right after start: respawning "
			    "with backoff (up to %d ms)", BACKOFF_MAX_MS);
	} else if (backoff_ms != 0) {
		backoff_ms = 0;
		log_info("workers run again: respawn backoff ended");
	}
}

/* The keeper died: logged decoded; maintain_keeper() restarts it. */
static void
keeper_reaped(int status)
{
	const char *name = WIFSIGNALED(status) ?
	    sigabbrev_np(WTERMSIG(status)) : NULL;

	if (state != RUNNING && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_info("keeper (pid %d) exited", (int)keeper_pid);
	else if (WIFEXITED(status))
		log_warnx("keeper (pid %d) exited with code %d%s", (int)keeper_pid,
		    WEXITSTATUS(status), state == RUNNING || state == DRAINING ?
		    ": restarting it" : "");
	else
		log_warnx("keeper (pid %d) killed by SIG%s%s%s", (int)keeper_pid,
		    name ? name : "?", WCOREDUMP(status) ? " (core dumped)" : "",
		    state == RUNNING || state == DRAINING ? ": restarting it" : "");
	keeper_pid = 0;
	sb->keeper_pid = 0;
	sb->keeper_parked = 0;		/* it holds nothing now */
	sb->keeper_parked_idle = sb->keeper_parked_head = 0;
	sb->keeper_parked_linger = sb->keeper_parked_sending = 0;
	/* Not the ready queue: what it sent is still there (sb_ready). */
}

static void
reap(void)
{
	struct proc *p;
	pid_t pid;
	int status;

	got_chld = 0;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((p = by_pid(pid)) != NULL)
			reaped(p, status);
		else if (pid == upgrade_pid) {
			if (WIFEXITED(status))
				log_errorx("upgrade failed: the new master exited "
				    "with code %d; this one keeps serving",
				    WEXITSTATUS(status));
			else
				log_errorx("upgrade failed: the new master died "
				    "by signal %d; this one keeps serving",
				    WTERMSIG(status));
			upgrade_failed();
		} else if (pid == keeper_pid) {
			keeper_reaped(status);
		} else if (pid == status_pid) {
			if (state == RUNNING && !status_restart)
				log_warnx("status process (pid %d) died: "
				    "restarting it", (int)pid);
			status_pid = 0;
			status_restart = false;
		}
	}
}

/*
 * A TCP listener that is about to close must stop taking connections
 * first, or one that completes between the workers' last accept() and
 * the close is reset. A socket filter on the listener that drops every
 * SYN without ACK does that: the handshakes already under way complete
 * into the accept queue, which the workers then empty; new clients see
 * no answer, then a refusal once the listener is gone. (AF_UNIX
 * listeners have no such filter: the race stays there.) A listener may
 * outlive us (systemd's socket activation holds it): the filter is taken
 * off just before we exit, and at start in case we were killed.
 */
static void
refuse_new(int fd)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 13),	/* TCP flags */
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x12),	/* SYN, ACK */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x02, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
	};
	struct sock_fprog prog = { sizeof(code) / sizeof(code[0]), code };
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1 ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
		return;
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
	    sizeof(prog)) == -1)
		log_warn("setsockopt(SO_ATTACH_FILTER) on a listener failed");
}

static void
accept_new(int fd)
{
	int unused = 0;

	(void)setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &unused,
	    sizeof(unused));
}

/* Graceful: stop accepting (after the drain delay), finish requests. */
static void
begin_stop(void)
{
	for (int i = 0; i < nlfds; i++) {
		/* Workers drain the accept queue without blocking. */
		int fl = fcntl(lfds[i], F_GETFL);

		(void)fcntl(lfds[i], F_SETFL, fl | O_NONBLOCK);
		/* A new master of an upgrade shares them: not while it runs. */
		if (upgrade_pid == 0)
			refuse_new(lfds[i]);
	}
	if (upgrade_pid == 0)
		sb->listeners_closing = 1;
	signal_all(SIGQUIT);
	if (keeper_pid != 0)
		kill(keeper_pid, SIGQUIT);	/* closes idle connections */
	state = STOPPING;
	deadline = now_ms() + cfg->graceful_timeout_ms;
}

static void
begin_kill(int sig)
{
	signal_all(sig);
	if (keeper_pid != 0)
		kill(keeper_pid, sig);
	state = KILLING;
	deadline = now_ms() + (sig == SIGKILL ? 0 : FAST_STOP_MS);
}

/* Retires p gracefully: it finishes its connection and exits (HUP: the
 * others serve the accept queue); killed past --graceful-timeout. */
static void
retire(struct proc *p)
{
	p->retiring = true;
	p->retired_at = now_ms();
	kill(p->pid, SIGHUP);
}

static bool
same_listener(const struct cfg_listen *a, const struct cfg_listen *b)
{
	return a->addrlen == b->addrlen &&
	    memcmp(&a->addr, &b->addr, a->addrlen) == 0;
}

/* Is fd one of the serving generation's listeners? */
static bool
cur_has_fd(int fd)
{
	for (int i = 0; i < cur->nlfd; i++)
		if (cur->lfd[i] == fd)
			return true;
	return false;
}

/* Closes the next set's listeners that the serving set does not share. */
static void
drop_new_listeners(void)
{
	for (int i = 0; i < nxt->nlfd; i++)
		if (!cur_has_fd(nxt->lfd[i])) {
			close(nxt->lfd[i]);
			listen_unlink(&nxt->cfg.listen[i]);
		}
	nxt->nlfd = 0;
}

/*
 * What a reload cannot change (the workers' user is fixed at start, the
 * pid file is held open and locked, the status listener is the status
 * process's) stays as it was; one line names what changed in vain.
 */
static void
keep_restart_keys(struct cfg *n, const struct cfg *o)
{
	char keys[64] = "";
	int nkeys = 0;

	if (strcmp(n->user, o->user) != 0 || strcmp(n->group, o->group) != 0) {
		strlcat(keys, ", user", sizeof(keys));
		nkeys++;
	}
	if (strcmp(n->pid_file, o->pid_file) != 0) {
		strlcat(keys, ", pid-file", sizeof(keys));
		nkeys++;
	}
	if (n->has_status != o->has_status || (n->has_status &&
	    !same_listener(&n->status_listen, &o->status_listen))) {
		strlcat(keys, ", status-listen", sizeof(keys));
		nkeys++;
	}
	if (n->has_agent != o->has_agent || (n->has_agent &&
	    !same_listener(&n->agent_listen, &o->agent_listen))) {
		strlcat(keys, ", agent-listen", sizeof(keys));
		nkeys++;
	}
	if (nkeys == 0)
		return;
	strlcpy(n->user, o->user, sizeof(n->user));
	strlcpy(n->group, o->group, sizeof(n->group));
	strlcpy(n->pid_file, o->pid_file, sizeof(n->pid_file));
	n->has_status = o->has_status;
	n->status_listen = o->status_listen;
	n->has_agent = o->has_agent;
	n->agent_listen = o->agent_listen;
	log_warnx("reload: %s need%s a restart to change; kept as before",
	    keys + 2, nkeys == 1 ? "s" : "");
}

/*
 * HUP: re-read flags and config file and check them as -t does; on error
 * the serving generation stays and one line says why. Otherwise bind the
 * new listeners (keeping the ones both have) and start the new workers;
 * check_reload() finishes or aborts the switch.
 */
static void
begin_reload(void)
{
	struct flags_out fo;
	char err[1024];
	int action, code;

	if ((code = config_build(saved_argc, saved_argv, &nxt->cfg, &action,
	    &fo, err, sizeof(err))) != 0) {
		log_errorx("reload failed, generation %d keeps serving: %s",
		    gen, err);
		sb->reload_failures++;
		return;
	}
	keep_restart_keys(&nxt->cfg, &cur->cfg);
	nxt->nlfd = 0;
	for (int i = 0; i < nxt->cfg.nlisten; i++) {
		int fd = -1;

		for (int k = 0; k < cur->nlfd && fd == -1; k++)
			if (same_listener(&nxt->cfg.listen[i], &cur->cfg.listen[k]))
				fd = cur->lfd[k];
		if (fd == -1 && (fd = listen_open(&nxt->cfg, &nxt->cfg.listen[i],
		    err, sizeof(err), &code)) == -1) {
			log_errorx("reload failed, generation %d keeps serving: "
			    "%s", gen, err);
			sb->reload_failures++;
			drop_new_listeners();
			return;
		}
		nxt->lfd[nxt->nlfd++] = fd;
		(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	}
	/* Kept listeners take the new backlog and timeouts (an aborted
	 * reload puts the old ones back). */
	for (int i = 0; i < nxt->nlfd; i++)
		if (cur_has_fd(nxt->lfd[i]) &&
		    listen_apply(&nxt->cfg, nxt->lfd[i]) == -1)
			log_warn("reload: listen() on %s failed (the old backlog "
			    "stays)", nxt->cfg.listen[i].spec);
	notify_reloading();
	reloading = true;
	reload_failed = false;
	reload_deadline = now_ms() + RELOAD_START_MS;
	log_info("reload: starting generation %d (%d workers)", gen + 1,
	    nxt->cfg.workers);
	for (int id = 1; id <= nxt->cfg.workers; id++)
		spawn_in(nxt, gen + 1, id);
}

/* Counts the new generation's workers, and how many are past start-up. */
static int
new_ready(int *started)
{
	int ready = 0;

	*started = 0;
	for (int i = 0; i < MAX_PROCS; i++) {
		struct proc *p = &procs[i];

		if (p->pid <= 0 || p->gen != gen + 1)
			continue;
		(*started)++;
		if (sb->slot[p->sbi].state != SB_STARTING)
			ready++;
	}
	return ready;
}

/* Switches to the new generation once all its workers accept, or
 * abandons it if one died at start or they took too long. */
static void
check_reload(void)
{
	struct genset *old;
	int started, ready;

	if (!reloading)
		return;
	ready = new_ready(&started);
	if (!reload_failed && ready < nxt->cfg.workers &&
	    now_ms() < reload_deadline)
		return;
	reloading = false;
	if (reload_failed || ready < nxt->cfg.workers) {
		for (int i = 0; i < MAX_PROCS; i++)
			if (procs[i].pid > 0 && procs[i].gen == gen + 1) {
				procs[i].retiring = true;
				procs[i].retired_at = 0;
				kill(procs[i].pid, SIGKILL);
			}
		for (int i = 0; i < nxt->nlfd; i++)
			if (cur_has_fd(nxt->lfd[i]))
				(void)listen_apply(&cur->cfg, nxt->lfd[i]);
		drop_new_listeners();
		sb->reload_failures++;
		log_errorx("reload aborted: the workers of generation %d %s; "
		    "generation %d keeps serving", gen + 1, reload_failed ?
		    "died at start" : "did not start in time", gen);
		notify("READY=1");
		return;
	}
	for (int i = 0; i < MAX_PROCS; i++)
		if (procs[i].pid > 0 && procs[i].gen == gen && !procs[i].retiring)
			retire(&procs[i]);
	/* The old set's listeners the new one dropped close now. */
	for (int i = 0; i < cur->nlfd; i++) {
		bool kept = false;

		for (int k = 0; k < nxt->nlfd; k++)
			kept |= nxt->lfd[k] == cur->lfd[i];
		if (!kept) {
			close(cur->lfd[i]);
			listen_unlink(&cur->cfg.listen[i]);
		}
	}
	old = cur;
	cur = nxt;
	nxt = old;
	nxt->nlfd = 0;		/* its numbers are closed or cur's now */
	cfg = &cur->cfg;
	lfds = cur->lfd;
	nlfds = cur->nlfd;
	gen++;
	target = cfg->workers;
	recycling = 0;
	sb->generation = gen;
	sb->reloads++;
	/* The status process holds the listeners (their queue lengths) and
	 * the old configuration: a fresh one takes the new ones. */
	if (status_pid != 0) {
		kill(status_pid, SIGQUIT);
		status_restart = true;
		status_next = 0;
	}
	{
		char err[512];

		if (log_open(cfg, err, sizeof(err)) == -1)
			log_errorx("reload: %s (the old logs stay open)", err);
	}
	title_set("preforkd: master (gen %d) %s%s", gen, cfg->listen[0].spec,
	    cfg->nlisten > 1 ? " ..." : "");
	log_info("reload: generation %d serving with %d workers; generation "
	    "%d retiring", gen, target, gen - 1);
	notify("READY=1");
}

/* FILE.oldbin for the pid file during an upgrade. */
static void
oldbin_name(char *out, size_t outsz)
{
	snprintf(out, outsz, "%s.oldbin", cfg->pid_file);
}

/*
 * USR2: re-executes the binary we were started as (a newly installed one
 * is picked up), handing it the listening sockets. The new master tells
 * us with WINCH once its workers accept; if it dies first, we go on.
 */
static void
begin_upgrade(void)
{
	char fds[256], pidbuf[32], oldbin[PATH_MAX + 8];
	int o = 0, maxfd = 2;
	pid_t pid;

	if (upgrade_pid != 0) {
		log_warnx("SIGUSR2: an upgrade is in progress already");
		return;
	}
	for (int i = 0; i < cur->nlfd; i++) {
		o += snprintf(fds + o, sizeof(fds) - (size_t)o, "%s%d",
		    o ? "," : "", cur->lfd[i]);
		maxfd = cur->lfd[i] > maxfd ? cur->lfd[i] : maxfd;
	}
	if (sfd != -1) {
		o += snprintf(fds + o, sizeof(fds) - (size_t)o, ",%d", sfd);
		maxfd = sfd > maxfd ? sfd : maxfd;
	}
	if (afd != -1) {
		o += snprintf(fds + o, sizeof(fds) - (size_t)o, ",%d", afd);
		maxfd = afd > maxfd ? afd : maxfd;
	}
	if (cfg->pid_file[0] != '\0') {
		oldbin_name(oldbin, sizeof(oldbin));
		if (rename(cfg->pid_file, oldbin) == -1)
			log_warn("rename(%s, %s) failed", cfg->pid_file, oldbin);
	}
	if ((pid = fork()) == -1) {
		log_warn("fork() for the upgrade failed");
		upgrade_failed();
		return;
	}
	if (pid == 0) {
		sigset_t none;

		for (int i = 0; i < cur->nlfd; i++)
			(void)fcntl(cur->lfd[i], F_SETFD, 0);
		if (sfd != -1)
			(void)fcntl(sfd, F_SETFD, 0);
		if (afd != -1)
			(void)fcntl(afd, F_SETFD, 0);
		closefrom(maxfd + 1);
		snprintf(pidbuf, sizeof(pidbuf), "%d", (int)getppid());
		setenv("PREFORKD_LISTEN_FDS", fds, 1);
		setenv("PREFORKD_OLD_MASTER", pidbuf, 1);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv(self_path, saved_argv);
		log_warn("execv(%s) failed", self_path);
		_exit(127);
	}
	upgrade_pid = pid;
	log_info("SIGUSR2: upgrading: started %s as pid %d", self_path,
	    (int)pid);
}

/* The new master is gone before it took over: we stay. */
static void
upgrade_failed(void)
{
	char oldbin[PATH_MAX + 8];

	upgrade_pid = 0;
	if (cfg->pid_file[0] != '\0') {
		oldbin_name(oldbin, sizeof(oldbin));
		if (rename(oldbin, cfg->pid_file) == -1)
			log_warn("rename(%s, %s) failed", oldbin, cfg->pid_file);
	}
}

/*
 * The new master serves: retire everything and leave the listeners to it.
 * The workers drain (QUIT) rather than just finish: requests on their way
 * on the keeper's idle connections are still answered, with Connection:
 * close (the few connections they accept meanwhile are answered so too).
 */
static void
handoff(void)
{
	handed_off = true;
	for (int i = 0; i < MAX_PROCS; i++)
		if (procs[i].pid > 0 && !procs[i].retiring) {
			procs[i].retiring = true;
			procs[i].retired_at = now_ms();
			kill(procs[i].pid, SIGQUIT);
		}
	if (keeper_pid != 0)
		kill(keeper_pid, SIGQUIT);
	state = STOPPING;
	deadline = now_ms() + cfg->graceful_timeout_ms;
	notify("STOPPING=1");
}

/*
 * USR1: reopen the logs here and in every worker (logrotate). Here first:
 * with -u, the files created here are given to the workers' user
 * (log_set_owner), and only then can the workers reopen them by name.
 */
static void
reopen_logs(void)
{
	char err[512];

	if (log_open(cfg, err, sizeof(err)) == -1)
		log_errorx("reopening logs: %s", err);
	else
		log_info("logs reopened");
	signal_all(SIGUSR1);
	if (status_pid != 0)
		kill(status_pid, SIGUSR1);
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
			notify("STOPPING=1");
			begin_kill(SIGTERM);
		}
		got_int = got_term = got_quit = 0;
	}
	if ((got_term || got_quit) && state == RUNNING) {
		log_info("graceful shutdown (%s)", got_term ? "SIGTERM" : "SIGQUIT");
		notify("STOPPING=1");
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
		struct proc *p;

		if (target > 1) {
			if ((p = active(target)) != NULL)
				retire(p);
			target--;
		}
		log_info("SIGTTOU: %d workers wanted", target);
	}
	if (got_hup && state == RUNNING) {
		if (reloading)
			log_warnx("SIGHUP: a reload is in progress already");
		else
			begin_reload();
	}
	if (got_usr1)
		reopen_logs();
	if (got_usr2 && state == RUNNING)
		begin_upgrade();
	if (got_winch && state == RUNNING) {
		if (upgrade_pid != 0) {
			log_info("SIGWINCH: the new master (pid %d) serves; "
			    "retiring the workers and leaving", (int)upgrade_pid);
			handoff();
		} else if (isatty(STDIN_FILENO))
			log_info("SIGWINCH ignored in the foreground on a "
			    "terminal");
		else {
			log_info("SIGWINCH: stopping the workers; the master "
			    "and its listeners stay");
			target = 0;
			for (int i = 0; i < MAX_PROCS; i++)
				if (procs[i].pid > 0 && !procs[i].retiring)
					retire(&procs[i]);
		}
	}
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
	} else if (state == KILLING && now >= deadline &&
	    (count_workers() > 0 || keeper_pid != 0)) {
		signal_all(SIGKILL);
		if (keeper_pid != 0)
			kill(keeper_pid, SIGKILL);
		deadline = now + FAST_STOP_MS;
	}
}

/*
 * The second stage of --timeout: a worker whose own timer did not end a
 * handler in time is killed here, from its scoreboard heartbeat.
 */
static void
murder(void)
{
	long long now = now_ms();
	char req[160];

	for (int i = 0; i < MAX_PROCS; i++) {
		struct proc *p = &procs[i];
		struct sb_slot *s = &sb->slot[p->sbi];
		long long start;

		if (p->pid > 0 && p->retiring && p->retired_at != 0 &&
		    now - p->retired_at > cfg->graceful_timeout_ms) {
			log_warnx("worker %d (pid %d) still busy %d ms after it "
			    "was retired: killing it", p->id, (int)p->pid,
			    cfg->graceful_timeout_ms);
			kill(p->pid, SIGKILL);
			p->retired_at = 0;
			continue;
		}
		/* --timeout is the handler's time only: reading a body or
		 * sending a response is bounded by the I/O timeouts. */
		if (p->pid <= 0 || (start = s->handler_start_ms) == 0 ||
		    now - start <= cfg->timeout_ms + MURDER_GRACE_MS)
			continue;
		describe_request(s, req, sizeof(req));
		log_warnx("worker %d (pid %d) stuck for %lld ms%s: killing it",
		    p->id, (int)p->pid, now - start, req);
		kill(p->pid, SIGKILL);
		sb->timeouts++;
		s->handler_start_ms = 0;	/* once */
	}
}

/*
 * --max-requests: a worker past its quota asks to be replaced (its
 * scoreboard flag). One at a time, its replacement is started first and
 * the old one is told to finish only once the new one accepts.
 */
static void
recycle(void)
{
	struct proc *old = NULL;

	got_sb = 0;
	if (state != RUNNING)
		return;
	if (recycling != 0) {
		struct proc *r = by_pid(recycling);
		struct proc *n = r ? active(r->id) : NULL;

		if (r == NULL) {
			recycling = 0;
		} else if (n != NULL && sb->slot[n->sbi].state != SB_STARTING &&
		    !r->retiring) {
			log_info("worker %d (pid %d) recycled after %llu "
			    "requests", r->id, (int)r->pid,
			    sb->slot[r->sbi].requests);
			sb->recycles++;
			retire(r);
		}
		return;
	}
	for (int i = 0; i < MAX_PROCS && old == NULL; i++)
		if (procs[i].pid > 0 && !procs[i].retiring &&
		    !procs[i].replaced && sb->slot[procs[i].sbi].recycle)
			old = &procs[i];
	if (old == NULL)
		return;
	/* It keeps serving until its successor accepts. */
	recycling = old->pid;
	old->replaced = true;
	spawn(old->id);
}

/* Keeps one serving worker for each id 1..target. */
static void
maintain(void)
{
	if ((state != RUNNING && state != DRAINING) || now_ms() < next_spawn)
		return;
	for (int id = 1; id <= target; id++) {
		if (active(id) != NULL)
			continue;
		spawn(id);
		if (backoff_ms != 0) {	/* one at a time while failing */
			next_spawn = now_ms() + backoff_ms;
			return;
		}
	}
}

static void
sleep_until_event(const sigset_t *mask)
{
	long long wake = -1, now = now_ms();
	struct timespec ts, *tsp = NULL;

	if (state != RUNNING && state != DRAINING)
		wake = deadline;
	else {
		wake = now + MASTER_TICK_MS;	/* heartbeats, recycling */
		if (next_spawn > now && next_spawn < wake)
			wake = next_spawn;
		if (state == DRAINING && deadline < wake)
			wake = deadline;
		if (keeper_pid == 0 && keeper_next > now && keeper_next < wake)
			wake = keeper_next;
	}
	if (wake != -1) {
		long long d = wake > now ? wake - now : 0;

		ts.tv_sec = d / 1000;
		ts.tv_nsec = (d % 1000) * 1000000;
		tsp = &ts;
	}
	if (got_chld || got_term || got_quit || got_int || got_hup ||
	    got_usr1 || got_usr2 || got_ttin || got_ttou || got_winch ||
	    got_sb)
		return;
	(void)ppoll(NULL, 0, tsp, mask);
}

/*
 * The status process: a small server of its own on --status-listen, and
 * the agent check on --agent-listen.
 */
static void
spawn_status(void)
{
	pid_t pid;

	if ((sfd == -1 && afd == -1) || status_pid != 0 || state != RUNNING ||
	    now_ms() < status_next)
		return;
	status_next = now_ms() + 1000;		/* at most one respawn a second */
	if ((pid = fork()) == -1) {
		log_warn("fork() for the status process failed");
		return;
	}
	if (pid == 0) {
		/* It notes which the serving listeners are (their accept
		 * queues), then closes them. */
		close_other_listeners(cur);
		close(qfd[0]);
		close(qfd[1]);
		if (pfh != NULL)
			close(pidfile_fileno(pfh));
		if (ready_fd != -1)
			close(ready_fd);
		if (child_drop_privileges() == -1)
			_exit(WORKER_EXIT_BOOT);
		status_main(cfg, sfd, afd, sb, lfds, nlfds);
	}
	status_pid = pid;
	log_info("status process started (pid %d)", (int)pid);
}

/*
 * What health checks answer (the workers and the status process read it
 * from the scoreboard). A crash loop lasts while respawns back off and
 * fewer workers run than wanted.
 */
static void
update_run(void)
{
	int run = SB_RUN_SERVING, up = 0;

	if (state == DRAINING)
		run = SB_RUN_DRAINING;
	else if (state != RUNNING)
		run = SB_RUN_STOPPING;
	else if (upgrade_pid != 0)
		run = SB_RUN_UPGRADING;
	else if (backoff_ms != 0) {
		for (int i = 0; i < MAX_PROCS; i++)
			if (procs[i].pid > 0 && !procs[i].retiring &&
			    sb->slot[procs[i].sbi].state != SB_STARTING)
				up++;
		if (up < target)
			run = SB_RUN_CRASHLOOP;
	}
	sb->run = run;
}

/*
 * The keeper (SPEC 1): like the status process, but respawned at once
 * (it holds only waiting connections; a crash loses those), and stopped
 * last: QUIT when the workers are told to stop (it closes its idle
 * connections), TERM once they are gone.
 */
static void
maintain_keeper(void)
{
	pid_t pid;

	if (state != RUNNING && state != DRAINING) {
		if (keeper_pid != 0 && !keeper_termed && count_workers() == 0) {
			keeper_termed = true;
			kill(keeper_pid, SIGTERM);
		}
		return;
	}
	if (keeper_pid != 0 || now_ms() < keeper_next)
		return;
	keeper_next = now_ms() + KEEPER_RESPAWN_MS;
	if ((pid = fork()) == -1) {
		log_warn("fork() for the keeper failed");
		return;
	}
	if (pid == 0) {
		for (int s = 0; s < 2; s++)
			for (int i = 0; i < sets[s].nlfd; i++)
				close(sets[s].lfd[i]);
		if (pfh != NULL)
			close(pidfile_fileno(pfh));
		if (ready_fd != -1)
			close(ready_fd);
		if (sfd != -1)
			close(sfd);
		if (afd != -1)
			close(afd);
		close(qfd[1]);
		keeper_main(cfg, qfd[0], sb);
	}
	keeper_pid = pid;
	sb->keeper_pid = pid;
	log_info("keeper started (pid %d)", (int)pid);
}

/* The first generation is serving: tell whoever waits (-D, systemd). */
static void
check_ready(void)
{
	int started, ready = 0;

	if (announced_ready || state != RUNNING)
		return;
	for (int i = 0; i < MAX_PROCS; i++)
		if (procs[i].pid > 0 && procs[i].gen == gen &&
		    sb->slot[procs[i].sbi].state != SB_STARTING)
			ready++;
	started = ready;
	if (ready < target && now_ms() < ready_deadline)
		return;
	announced_ready = true;
	if (started < target) {
		log_errorx("workers did not start within %d s: see the lines "
		    "above", READY_WAIT_MS / 1000);
		if (ready_fd != -1) {
			static const char why[] = "the workers did not start "
			    "(see the error log); stopping";

			(void)write(ready_fd, why, sizeof(why) - 1);
			close(ready_fd);
			ready_fd = -1;
			got_int = 1;		/* nobody will wait for us */
		}
		return;
	}
	log_info("ready: %d workers", target);
	if (old_master > 0) {
		char msg[64];

		snprintf(msg, sizeof(msg), "MAINPID=%d\nREADY=1", (int)getpid());
		notify(msg);
		log_info("taking over from the old master (pid %d)",
		    (int)old_master);
		kill(old_master, SIGWINCH);
		old_master = 0;
	} else
		notify("READY=1");
	if (ready_fd != -1) {
		(void)write(ready_fd, "ok", 2);
		close(ready_fd);
		ready_fd = -1;
	}
}

int
master_run(const struct master_args *a)
{
	const struct cfg *c = a->cfg;
	int *lfd = a->lfd, nlfd = a->nlfd, status_fd = a->sfd;
	sigset_t sleep_mask;

	memcpy(&cur->cfg, c, sizeof(*c));
	memcpy(cur->lfd, lfd, sizeof(int) * (size_t)nlfd);
	cur->nlfd = nlfds = nlfd;
	saved_argc = a->argc;
	saved_argv = a->argv;
	sfd = status_fd;
	afd = a->afd;
	ready_fd = a->ready_fd;
	pfh = a->pfh;
	old_master = a->old_master;
	strlcpy(self_path, a->self, sizeof(self_path));
	child_set_user(a->drop, a->uid, a->gid);
	target = c->workers;
	if ((sb = sb_create()) == NULL) {
		log_warn("cannot map the scoreboard");
		return EX_OSERR;
	}
	sb->master_pid = getpid();
	sb->generation = gen;
	sb->target = target;
	sb->master_started_ms = now_ms();
	sb->master_started_unix = (long long)time(NULL);
	srandom((unsigned)getpid());
	install_signals(&sleep_mask);
	title_set("preforkd: master (gen %d) %s%s", gen, c->listen[0].spec,
	    c->nlisten > 1 ? " ..." : "");
	/* Workers wait in epoll and accept without blocking. */
	for (int i = 0; i < nlfd; i++) {
		accept_new(lfd[i]);	/* a stop filter left by a killed master */
		(void)fcntl(lfd[i], F_SETFL, fcntl(lfd[i], F_GETFL) | O_NONBLOCK);
	}
	/* Before anyone is forked: every child must share this queue. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, qfd) == -1) {
		log_warn("socketpair() for the keeper queue failed");
		return EX_OSERR;
	}
	ready_deadline = now_ms() + READY_WAIT_MS;
	maintain_keeper();
	maintain();
	spawn_status();
	for (;;) {
		sleep_until_event(&sleep_mask);
		reap();
		handle_flags();
		handle_deadlines();
		update_run();
		if (state == RUNNING) {
			check_ready();
			check_reload();
		}
		recycle();		/* (clears got_sb in any state) */
		if (state == RUNNING || state == DRAINING)
			murder();
		maintain_keeper();
		maintain();
		spawn_status();
		sb->target = target;
		update_run();
		/* It answers health and metrics until the workers are gone. */
		if (state != RUNNING && status_pid != 0 &&
		    (state == KILLING || count_workers() == 0))
			kill(status_pid, SIGTERM);
		if (state != RUNNING && count_workers() == 0 && status_pid == 0 &&
		    keeper_pid == 0)
			break;		/* (a new master of an upgrade lives on) */
	}
	if (handed_off) {
		char oldbin[PATH_MAX + 8];

		if (cfg->pid_file[0] != '\0') {
			oldbin_name(oldbin, sizeof(oldbin));
			unlink(oldbin);
		}
		log_info("exiting: the new master serves");
		return 0;
	}
	for (int i = 0; i < cur->nlfd; i++) {
		accept_new(cur->lfd[i]);
		listen_unlink(&cur->cfg.listen[i]);
	}
	if (sfd != -1)
		listen_unlink(&cfg->status_listen);
	if (pfh != NULL)
		pidfile_remove(pfh);
	log_info("exiting");
	return 0;
}
