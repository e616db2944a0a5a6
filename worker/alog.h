/*
 * alog - the access log line of a request (SPEC section 8): Combined Log
 * Format plus the request time in microseconds, or one JSON object.
 */
#ifndef PREFORKD_ALOG_H
#define PREFORKD_ALOG_H

#include "io.h"

/* Writes c's request line to the access log (one write), if it is on. */
void	alog_write(const struct conn *c);

#endif
