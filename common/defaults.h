/*
 * defaults - every default and hard limit of preforkd, named once.
 */
#ifndef PREFORKD_DEFAULTS_H
#define PREFORKD_DEFAULTS_H

#define DEFAULT_LISTEN			"127.0.0.1:8080"
#define DEFAULT_TIMEOUT_MS		30000
#define DEFAULT_HEADER_TIMEOUT_MS	10000
#define DEFAULT_BODY_TIMEOUT_MS		30000
#define DEFAULT_WRITE_TIMEOUT_MS	30000
#define DEFAULT_IDLE_TIMEOUT_MS		5000
#define DEFAULT_GRACEFUL_TIMEOUT_MS	30000
#define DEFAULT_DRAIN_DELAY_MS		0
#define DEFAULT_MIN_BODY_RATE		500
#define DEFAULT_KEEPALIVE_REQUESTS	1000
#define DEFAULT_MAX_HEADER_SIZE		16384
#define DEFAULT_MAX_BODY_SIZE		1048576
#define DEFAULT_BACKLOG			1024
#define DEFAULT_MAX_PARKED		10000
#define MAX_PARKED			1000000
#define DEFAULT_BUFFER_BODY		65536
#define DEFAULT_MIN_SEND_RATE		1024
#define MAX_BUFFER_BODY			(1024 * 1024)

#define MAX_LISTENERS		16	/* --listen given at most this often */
#define MAX_WORKERS		256
#define MAX_MODULES		16	/* --module given at most this often */
#define MAX_MODULE_OPTIONS	32
#define MODULE_PREFIX_MAX	128
#define MODULE_PATH_MAX		1024	/* a module file name */
#define MODULE_OPTION_MAX	256	/* a module option value */
#define MAX_SANDBOX_PATHS	16	/* --sandbox-read, --sandbox-write each */
#define SANDBOX_PATH_MAX	1024
#define MAX_HEADERS		100	/* request header fields; more is 431 */
#define MIN_HEADER_SIZE		256	/* --max-header-size lower bound */
#define MAX_HEADER_SIZE		(1024 * 1024)
#define MAX_TIMEOUT_MS		(24 * 3600 * 1000)

#define DRAIN_BODY_MAX		(256 * 1024)	/* unread body drained before reuse */
#define LINGER_MS		500		/* drain after an error response */
#define LINGER_BYTES		(64 * 1024)
#define FAIR_SLICE_US		1000		/* keep-alive slice under contention */
#define IDLE_YIELD_MS		250		/* idle this long: yield silently */
#define HEAD_GRACE_MS		5		/* a new head still arriving: to the keeper */
#define SEND_GRACE_MS		20		/* a static body taken slower than */
#define SEND_GRACE_BYTES	(64 * 1024)	/* this per that: to the keeper */
#define SEND_TICK_MS		1000		/* the keeper looks at a slow reader */
#define DEFER_ACCEPT_MAX_S	10		/* TCP_DEFER_ACCEPT cap, seconds */
#define FAST_STOP_MS		2000		/* INT: SIGKILL stragglers after this */
#define MODULE_PROBE_MS		10000		/* -t/reload: module inits, then killed */
#define MASTER_CHECK_MS		500		/* a worker in poll looks for its master */
#define TITLE_AFTER_MS		100		/* a request this old shows in the title */
#define TITLE_TICK_MS		500		/* then its title is refreshed this often */
#define IO_BUF_SIZE		16384		/* read buffer beyond the head limit */
#define RESP_HEAD_SIZE		2048		/* head past handler fields */
#define PARK_RETRY_MS		50		/* the keeper queue was full: again */
/* the status process (--status-listen) */
#define STATUS_HEAD_MAX		8192	/* request head; more is 431 */
#define STATUS_READ_MS		2000	/* to receive the whole head */
#define STATUS_WRITE_MS		5000	/* to send the whole response */
#define STATUS_LINGER_MS	500	/* drain after an error response */
#define STATUS_LINGER_BYTES	(64 * 1024)
/* the agent check (--agent-listen), in the status process */
#define AGENT_CONNS		16	/* open at once; more: the oldest closes */
#define AGENT_LINGER_MS		1000	/* a connection's whole life */
#define AGENT_READ_MAX		4096	/* what a client may send (agent-send) */
#define AGENT_POLLFDS		(1 + AGENT_CONNS)

#define PATH_BUF_SIZE		4096

/* static files */
#define MAX_CACHE_CONTROL	32	/* --cache-control given at most this often */
#define CACHE_CONTROL_MAX	256	/* one Cache-Control value */
#define MAX_MIME_TYPES		64	/* --mime-type given at most this often */
#define MIME_EXT_MAX		16	/* longer extensions have no type */
#define MIME_TYPE_MAX		128	/* one media type, charset included */
#define MIME_TYPES_FILE		"/etc/mime.types"
#define MAX_ERROR_PAGES		8	/* --error-page given at most this often */
#define ERROR_PAGE_MAX		32768	/* an error page file, in bytes */
#define MAX_TRUSTED_PROXIES	32	/* --trusted-proxy given at most this often */
#define PROXY_V1_MAX		107	/* a PROXY v1 line, CRLF included */
#define PROXY_V2_MAX		2048	/* PROXY v2 addresses + TLVs; more: closed */

#endif
