/*
 * config - building the configuration value from the built-in defaults,
 * the config file and the flags (in that order; flags win), and checking
 * it exactly as -t does. Used at start and on every reload (HUP).
 */
#ifndef PREFORKD_CONFIG_H
#define PREFORKD_CONFIG_H

#include <sys/types.h>
#include <stddef.h>

#include "cfg.h"
#include "flags.h"

/*
 * Builds c from argv. *action and *fo receive what flags_parse() decided
 * (run, check, help, version, signal). Returns 0, or a sysexits code with a
 * one-line reason in err: EX_USAGE (flags), EX_CONFIG (config file,
 * modules), EX_NOINPUT (document root), EX_NOUSER (-u, with modules to
 * check as that user). The module check is bounded by MODULE_PROBE_MS.
 */
int	config_build(int argc, char **argv, struct cfg *c, int *action,
	    struct flags_out *fo, char *err, size_t errlen);

/* -u USER[:GROUP] to ids. Returns 0, or -1 with a one-line reason. */
int	config_resolve_user(const struct cfg *c, uid_t *uid, gid_t *gid,
	    char *err, size_t errlen);

/*
 * Logs the trust settings in force, once at start (SPEC 9): the
 * --trusted-proxy networks and the ,proxy listeners, in one info line.
 */
void	config_log_trust(const struct cfg *c);

#endif
