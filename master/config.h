/*
 * config - building the configuration value from the built-in defaults,
 * the config file and the flags (in that order; flags win), and checking
 * it exactly as -t does. Used at start and on every reload (HUP).
 */
#ifndef PREFORKD_CONFIG_H
#define PREFORKD_CONFIG_H

#include <stddef.h>

#include "cfg.h"
#include "flags.h"

/*
 * Builds c from argv. *action and *fo receive what flags_parse() decided
 * (run, check, help, version, signal). Returns 0, or a sysexits code with a
 * one-line reason in err: EX_USAGE (flags), EX_CONFIG (config file,
 * modules), EX_NOINPUT (document root).
 */
int	config_build(int argc, char **argv, struct cfg *c, int *action,
	    struct flags_out *fo, char *err, size_t errlen);

#endif
