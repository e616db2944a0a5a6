/*
 * self - a worker's process-wide state (self.h), apart from the process
 * code in worker.c so that the connection code below it needs nothing of
 * that.
 */
#include <signal.h>
#include <unistd.h>

#include "log.h"
#include "self.h"

volatile sig_atomic_t	 worker_stop;
volatile sig_atomic_t	 worker_drain;
volatile sig_atomic_t	 worker_reopen;
unsigned long long	 worker_quota;	/* requests before recycling, 0: none */
struct sb		*worker_sb;
struct sb_slot		*worker_slot;

static const struct cfg	*self_cfg;
static int		 self_master_sig;

void
worker_self_init(const struct cfg *cfg, int master_sig)
{
	self_cfg = cfg;
	self_master_sig = master_sig;
}

void
worker_check_reopen(void)
{
	char err[512];

	if (!worker_reopen)
		return;
	worker_reopen = 0;
	if (log_open(self_cfg, err, sizeof(err)) == -1)
		log_warnx("reopening logs: %s (the old ones stay open)", err);
	else
		log_debug("logs reopened");
}

void
worker_check_quota(void)
{
	if (worker_quota != 0 && worker_slot->requests >= worker_quota &&
	    !worker_slot->recycle) {
		worker_slot->recycle = 1;	/* the master replaces us */
		kill(getppid(), self_master_sig);
	}
}
