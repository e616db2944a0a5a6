/*
 * exitcodes - how a worker (or the status process) tells the master why
 * it exited, besides 0 (a clean exit) and death by a signal. The master
 * decodes them in its log line, and a boot failure alone counts towards
 * the respawn backoff (a request crash does not).
 */
#ifndef PREFORKD_EXITCODES_H
#define PREFORKD_EXITCODES_H

#define WORKER_EXIT_BOOT	3	/* could not start: not a request crash */
#define WORKER_EXIT_TIMEOUT	4	/* a handler ran past --timeout */

#endif
