/*
 * api - the module API (preforkd.h) on top of a connection: runs one
 * module handler for the request in c and finishes what it left open.
 */
#ifndef PREFORKD_API_H
#define PREFORKD_API_H

#include "io.h"
#include "module.h"

/* Allocates the per-worker request state. Returns 0 or -1. */
int	api_init(const struct cfg *cfg);
/*
 * Runs m's handler for the request in c. Returns 0 when the response is
 * done (or abandoned: c->close set), or an error status to answer.
 */
int	api_handle(struct conn *c, const struct module *m);

#endif
