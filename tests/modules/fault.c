/*
 * fault - a test-only module that misbehaves on purpose, so the
 * integration tests can check that a bad handler costs its own worker
 * only. One mount, one behaviour, chosen by the option "mode":
 *
 *   segv       crash with a real SIGSEGV when the path ends in "/crash",
 *              or on every Nth request of this worker (option "every N");
 *              other requests get "ok worker W pid P n K"
 *   abort      abort() (SIGABRT)
 *   hang       never return (pause() in a loop: only a kill ends it)
 *   sleep      sleep "ms N" milliseconds, then answer "slept N"
 *   halfcrash  announce 1000 bytes, send 100 of them, then SIGSEGV
 *   stuck      block SIGALRM, then sleep forever: the worker's own
 *              --timeout timer cannot fire, only the master's kill ends it
 *   spin       the same, burning CPU in a loop instead of sleeping
 *   tzlock     call tzset() in a loop forever: glibc stats the zone file
 *              with its time zone lock held, so the --timeout timer
 *              fires inside that lock (as in a module's localtime())
 *   bootfail   init fails in every real worker (worker id >= 1) but not in
 *              the start-up check (id 0): the server starts, then every
 *              worker dies at boot, a crash loop; requests never arrive
 *
 *   preforkd -m /f=fault.so --module-option '/f mode segv' \
 *       --module-option '/f every 3'
 *
 * The same .so may be mounted at several prefixes with different modes:
 * all state is per mount (init's *state), none is global.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <preforkd.h>

enum fault_mode {
	F_SEGV, F_ABORT, F_HANG, F_SLEEP, F_HALFCRASH, F_STUCK, F_SPIN,
	F_TZLOCK, F_BOOTFAIL
};

struct fault {
	enum fault_mode	 mode;
	long		 every;		/* segv: crash on every Nth request */
	long		 ms;		/* sleep: milliseconds */
	unsigned long	 served;	/* requests seen by this worker */
};

/* A number option in [0, max], or def when absent; -1 when malformed. */
static long
num_option(const struct pfd_init *init, const char *key, long def, long max)
{
	const char *s = pfd_init_option(init, key);
	char *end;
	long v;

	if (s == NULL)
		return def;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > max)
		return -1;
	return v;
}

static int
fault_init(const struct pfd_init *init, void **state)
{
	static const struct {
		const char	*name;
		enum fault_mode	 mode;
	} modes[] = {
		{ "segv", F_SEGV }, { "abort", F_ABORT }, { "hang", F_HANG },
		{ "sleep", F_SLEEP }, { "halfcrash", F_HALFCRASH },
		{ "stuck", F_STUCK }, { "spin", F_SPIN },
		{ "tzlock", F_TZLOCK }, { "bootfail", F_BOOTFAIL },
	};
	const char *m = pfd_init_option(init, "mode");
	struct fault *f;
	size_t i;

	if (m == NULL)
		m = "segv";
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(modes[i].name, m) == 0)
			break;
	if (i == sizeof(modes) / sizeof(modes[0]))
		return -1;	/* a typo in a test should fail loudly */
	/* Only real workers fail: the start-up check (id 0) must pass. */
	if (modes[i].mode == F_BOOTFAIL && pfd_init_worker_id(init) >= 1)
		return -1;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	f->mode = modes[i].mode;
	f->every = num_option(init, "every", 0, 1000000);
	f->ms = num_option(init, "ms", 100, 600000);
	if (f->every < 0 || f->ms < 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static void
fault_fini(void *state)
{
	free(state);
}

/*
 * A genuine invalid memory access rather than raise(): the crash handler
 * sees what a buggy module would produce. The address comes through a
 * volatile so the compiler cannot prove it null and emit a trap instead.
 */
static void __attribute__((noreturn))
crash(void)
{
	static volatile uintptr_t bad = 16;

	*(volatile int *)bad = 1;
	raise(SIGSEGV);		/* not reached; keeps noreturn honest */
	abort();
}

/*
 * Blocks SIGALRM, the signal of the worker's --timeout timer, so that
 * the first stage of the timeout cannot act: the request then ends only
 * when the master kills the worker from its stale heartbeat.
 */
static void
block_alarm(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	(void)sigprocmask(SIG_BLOCK, &set, NULL);
}

/* Sleeps ms milliseconds on CLOCK_MONOTONIC, across interruptions. */
static void
sleep_ms(long ms)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	/* Each EINTR resumes towards the same absolute deadline. */
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until,
	    NULL) == EINTR)
		;
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int
reply(struct pfd_req *req, const char *body, int n)
{
	if (n < 0)
		return 500;
	pfd_add_header(req, "Content-Type", "text/plain");
	return pfd_send(req, body, (size_t)n) == 0 ? 0 : 500;
}

static int
fault_handle(struct pfd_req *req, void *state)
{
	struct fault *f = state;
	const char *path = pfd_raw_path(req);
	char body[128], x[100];

	f->served++;
	switch (f->mode) {
	case F_SEGV:
		if ((path != NULL && ends_with(path, "/crash")) ||
		    (f->every > 0 && f->served % (unsigned long)f->every == 0))
			crash();
		return reply(req, body, snprintf(body, sizeof(body),
		    "ok worker %d pid %d n %lu\n", pfd_worker_id(req),
		    (int)getpid(), f->served));
	case F_ABORT:
		abort();
	case F_HANG:
		for (;;)	/* bounded only by a kill, on purpose */
			pause();
	case F_SLEEP:
		sleep_ms(f->ms);
		return reply(req, body, snprintf(body, sizeof(body),
		    "slept %ld\n", f->ms));
	case F_HALFCRASH:
		memset(x, 'x', sizeof(x));
		if (pfd_set_content_length(req, 1000) == -1 ||
		    pfd_write(req, x, sizeof(x)) == -1)
			return 500;
		crash();
	case F_STUCK:
		block_alarm();
		for (;;)	/* bounded only by the master's SIGKILL */
			sleep_ms(1000);
	case F_SPIN:
		block_alarm();
		for (volatile unsigned long spins = 0;; spins++)
			;	/* bounded only by the master's SIGKILL */
	case F_TZLOCK:
		for (;;)	/* bounded only by the timeout */
			tzset();
	case F_BOOTFAIL:	/* only the start-up check gets here, never */
		break;
	}
	return 500;
}

PREFORKD_MODULE(.name = "fault", .init = fault_init, .fini = fault_fini,
    .handle = fault_handle);
