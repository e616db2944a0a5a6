/*
 * crash - what a worker does when its handler crashes or runs too long.
 * The one place where a signal handler does real work (STYLE "Signals"):
 * only async-signal-safe calls, on an alternate stack.
 */
#ifndef PREFORKD_CRASH_H
#define PREFORKD_CRASH_H

#include "io.h"
#include "exitcodes.h"

/* Installs the crash and timeout handlers for the connection c. */
void	crash_init(struct conn *c, int worker_id, int gen, int timeout_ms);
/*
 * Brackets a request (its slot's req_start_ms set): one that lasts past
 * TITLE_AFTER_MS shows in the process title until it ends. No syscall
 * unless the timer is idle, then one setitimer().
 */
void	crash_request_begin(void);
void	crash_request_end(void);
/* Brackets a module handler call: --timeout runs between them. */
void	crash_handler_begin(void);
void	crash_handler_end(void);
/* Around a handler's wait for its client (pfd_read for the body, a
 * response write the client is slow to take): that time is the client's,
 * bounded by the body and write timeouts, so --timeout's clock stops. */
void	crash_io_begin(void);
void	crash_io_end(void);
/* Ends the bracket for good: the handler took the connection over. */
void	crash_handler_detach(void);

#endif
