/*
 * crash - what a worker does when its handler crashes or runs too long.
 * The one place where a signal handler does real work (STYLE "Signals"):
 * only async-signal-safe calls, on an alternate stack.
 */
#ifndef PREFORKD_CRASH_H
#define PREFORKD_CRASH_H

#include "conn.h"
#include "exitcodes.h"

/* Installs the crash and timeout handlers for the connection c. */
void	crash_init(struct conn *c, int worker_id, int timeout_ms);
/* Brackets a module handler call: --timeout runs between them. */
void	crash_handler_begin(void);
void	crash_handler_end(void);
/* Ends the bracket for good: the handler took the connection over. */
void	crash_handler_detach(void);

#endif
