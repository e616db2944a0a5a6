/*
 * child - the set-up after fork that the worker, the keeper and the status
 * process share: signal dispositions and the privilege drop of -u.
 */
#include <sys/prctl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "log.h"

static bool	drop_user;
static uid_t	drop_uid;
static gid_t	drop_gid;

void
child_set_user(bool drop, uid_t uid, gid_t gid)
{
	drop_user = drop;
	drop_uid = uid;
	drop_gid = gid;
}

/*
 * -u: give up root before any module code runs. -u root keeps root on
 * purpose (the -D refusal names it as the way to insist): only the
 * groups are set then, and regaining root is no failure.
 */
int
child_drop_privileges(void)
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

void
child_signals_init(void (*quit)(int), void (*usr1)(int), void (*hup)(int))
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
