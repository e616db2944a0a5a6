/*
 * health - what a load balancer sees of a worker (SPEC section 9): the
 * --health-path answer, taken from the master's state in the scoreboard
 * without a handler or the file system, and the request counters of
 * /metrics, kept in the worker's own scoreboard slot.
 */
#ifndef PREFORKD_HEALTH_H
#define PREFORKD_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

#include "io.h"

/* Is this raw path (no query) the --health-path? */
bool	health_match(const struct conn *c, const char *path, size_t len);
/* Answers 200 while serving, else 503 with the reason. Like a handler:
 * returns 0, -1 (write failed) or a status to answer instead. */
int	health_handle(struct conn *c);
/* Counts the request c just finished in this worker's slot. */
void	health_count(const struct conn *c);

#endif
