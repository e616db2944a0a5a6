/*
 * flags - the command line (SPEC section 2) into a cfg.
 */
#ifndef PREFORKD_FLAGS_H
#define PREFORKD_FLAGS_H

#include "cfg.h"

enum flags_action { FLAGS_RUN, FLAGS_CHECK, FLAGS_HELP, FLAGS_VERSION,
	FLAGS_SIGNAL };

/* What the flags say beyond the cfg. */
struct flags_out {
	const char	*config;	/* -c FILE, or NULL */
	const char	*signal;	/* -s NAME, or NULL */
};

/*
 * Parses argv into c (holding defaults, or the config file's values: a
 * repeatable key given as a flag replaces the file's list); *out gets
 * the -c and -s arguments. Returns the action, or -1 with a one-line
 * reason in err.
 */
int	flags_parse(int argc, char **argv, struct cfg *c, struct flags_out *out,
	    char *err, size_t errlen);
void	flags_usage(FILE *f);
void	flags_version(FILE *f);

#endif
