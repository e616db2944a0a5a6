/*
 * preforkd.h - the handler module API of preforkd.
 *
 * A module is a shared object that exports one descriptor named
 * `preforkd_module` (use PREFORKD_MODULE below). preforkd loads it in
 * every worker after fork, calls init once per worker, then handle once
 * per request routed to the module's URL prefix, and fini when the worker
 * exits. A worker serves one request at a time, so a handler may block:
 * it costs its own worker only. A handler that crashes or hangs costs its
 * worker, never the server.
 *
 * Build:  cc $(pkg-config --cflags preforkd) -shared -fPIC -o my.so my.c
 * Run:    preforkd --module /api=./my.so --module-option '/api key value'
 *
 * All types are opaque and every accessor is a function, so the layout of
 * preforkd's own structures is not part of the ABI. PREFORKD_ABI_VERSION
 * holds a major number (low 16 bits), which changes only when a function
 * changes meaning or goes away, and a minor one (high 16 bits), raised
 * when functions are added. A module built for another major, or for a
 * newer minor than this preforkd's, is refused at load with a clear
 * error; one built against an older header of the same major loads.
 *
 * Strings returned by the request accessors stay valid until the handler
 * returns. Functions returning int return 0 on success and -1 on failure
 * unless stated otherwise.
 */
#ifndef PREFORKD_H
#define PREFORKD_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PREFORKD_ABI_MAJOR	1
#define PREFORKD_ABI_MINOR	1	/* 1: pfd_scheme, pfd_peer_addr */
#define PREFORKD_ABI_VERSION	(PREFORKD_ABI_MAJOR | PREFORKD_ABI_MINOR << 16)

struct pfd_req;		/* one request and its response */
struct pfd_init;	/* what init sees: options, worker id */

struct pfd_module {
	unsigned	 abi_version;	/* PREFORKD_ABI_VERSION */
	const char	*name;		/* for logs */
	/*
	 * Called once in each worker after fork, before any request. Store
	 * per-worker state in *state. Return 0, or -1 to refuse to start
	 * (the server does not start; on reload the old generation stays).
	 * At start-up init and fini also run once in a short-lived check
	 * process, with worker id 0, so that a failing init stops the start.
	 */
	int		(*init)(const struct pfd_init *init, void **state);
	/* Called once when the worker exits normally. May be NULL. */
	void		(*fini)(void *state);
	/*
	 * Called for each request. Return 0 when the response is done (an
	 * unfinished response is finished for you), or an HTTP status >= 400
	 * for the server to answer when no byte of a response was sent yet.
	 * A non-zero return after the response began (or a failed body
	 * read) ends the connection with the response cut short: no last
	 * chunk, so the client cannot take it for a complete one.
	 */
	int		(*handle)(struct pfd_req *req, void *state);
};

/* Defines the module's descriptor. */
#define PREFORKD_MODULE(...)						\
	const struct pfd_module preforkd_module = {			\
		.abi_version = PREFORKD_ABI_VERSION, __VA_ARGS__ }

/* --- init-time ------------------------------------------------------ */

/* The value of option key for this module (--module-option), or NULL. */
const char	*pfd_init_option(const struct pfd_init *init, const char *key);
/* The worker's id (1..N). */
int		 pfd_init_worker_id(const struct pfd_init *init);

/* --- the request ----------------------------------------------------- */

const char	*pfd_method(const struct pfd_req *req);	/* "GET" */
/* The request target as sent ("/a%20b?x=1"). */
const char	*pfd_target(const struct pfd_req *req);
/* The path part as sent, without query ("/a%20b"). */
const char	*pfd_raw_path(const struct pfd_req *req);
/* The path, percent-decoded ("/a b"); NULL if its escapes are invalid or
 * it decodes to a NUL byte. */
const char	*pfd_path(const struct pfd_req *req);
/* The query without '?', as sent ("x=1"), or "" when there is none. */
const char	*pfd_query(const struct pfd_req *req);
/* The URL prefix the module was mounted at ("/api"). */
const char	*pfd_prefix(const struct pfd_req *req);
/* 0 for HTTP/1.0, 1 for HTTP/1.1. */
int		 pfd_http_minor(const struct pfd_req *req);
/*
 * The first header field named name (case-insensitive); its value is
 * not NUL-terminated: *len receives its length. NULL when absent.
 */
const char	*pfd_header(const struct pfd_req *req, const char *name,
		    size_t *len);
/* Number of header fields, and field i (0-based) of them, in order. */
int		 pfd_header_count(const struct pfd_req *req);
int		 pfd_header_at(const struct pfd_req *req, int i,
		    const char **name, size_t *nlen, const char **value,
		    size_t *vlen);
/*
 * The client's address ("192.0.2.1", "::1" or "unix") and port (0 for
 * unix sockets, and when a forwarded address carried none). Behind a
 * load balancer this is the client as believed: the source of a PROXY
 * header, or the address a --trusted-proxy peer forwarded; else the
 * socket peer.
 */
const char	*pfd_client_addr(const struct pfd_req *req);
int		 pfd_client_port(const struct pfd_req *req);
/* Since ABI minor 1: the socket peer's address (the balancer's, behind
 * one), and the scheme: "https" when a trusted peer forwarded it, else
 * "http". */
const char	*pfd_peer_addr(const struct pfd_req *req);
const char	*pfd_scheme(const struct pfd_req *req);
/* The serving worker's id (1..N). */
int		 pfd_worker_id(const struct pfd_req *req);
/* The declared Content-Length, or -1 (none, or chunked). */
long long	 pfd_content_length(const struct pfd_req *req);
/*
 * Reads up to len bytes of the request body. Returns the count, 0 at the
 * end of the body, or -1 when the body is malformed, over the server's
 * limit, too slow, or the client went away: return from the handler then
 * (the server answers 400/408/413 when nothing was sent). The first read
 * sends "100 Continue" when the client asked for it.
 */
ssize_t		 pfd_read(struct pfd_req *req, void *buf, size_t len);

/* --- the response ---------------------------------------------------- */

/*
 * Sets the status (default 200) while no byte was sent. Returns 0, or -1
 * with errno EINVAL for a status outside 200..599, or for 204 or 304 once
 * a non-zero length was announced (neither has a body).
 */
int		 pfd_set_status(struct pfd_req *req, int status);
/*
 * Adds a header field while no byte was sent. Returns 0, or -1 with
 * errno EINVAL when name is not a token (RFC 9110 5.6.2), names a field
 * the server frames the message with (Content-Length, Transfer-Encoding,
 * Connection: any case), or value holds a control character other than
 * HTAB (CR and LF above all); ENOSPC when the fields added so far and
 * this one would pass --max-header-size bytes (earlier fields stay).
 * The server sets Date, Server and the three framing fields itself.
 */
int		 pfd_add_header(struct pfd_req *req, const char *name,
		    const char *value);
/* Announces the body length for streaming; without it, pfd_write streams
 * with chunked encoding (close-delimited for HTTP/1.0 clients). A
 * non-zero length on a 204 or 304 is refused (-1, EINVAL). */
int		 pfd_set_content_length(struct pfd_req *req, long long len);
/*
 * Sends a whole body (sets Content-Length) and finishes the response.
 * Here and in pfd_send_file and pfd_write, body bytes on a 204 or 304 are
 * refused (-1, EINVAL) and nothing is sent: the head stays open. With no
 * body bytes, such a response goes out without Content-Length.
 */
int		 pfd_send(struct pfd_req *req, const void *buf, size_t len);
/* The same with len bytes of file fd from offset off, through sendfile. */
int		 pfd_send_file(struct pfd_req *req, int fd, off_t off, size_t len);
/* Streams a piece of the body; the first call sends the head. */
int		 pfd_write(struct pfd_req *req, const void *buf, size_t len);
/* Ends a streamed body. Optional: returning from handle does it. */
int		 pfd_finish(struct pfd_req *req);
/*
 * Abandons the response: the connection is closed when the handler
 * returns, and nothing is logged as an error (Go's ErrAbortHandler).
 */
void		 pfd_abort(struct pfd_req *req);
/*
 * Takes the connection over (WebSocket and the like): returns its socket,
 * which the handler now owns and must close; buffered and blen receive the
 * bytes the client already sent past the request (may be 0). No HTTP
 * response is sent by the server. Returns -1 once a response has started.
 * From then on --timeout no longer applies: the module bounds its own
 * waits.
 */
int		 pfd_hijack(struct pfd_req *req, const char **buffered,
		    size_t *blen);
/* True once a byte of the response went out. */
int		 pfd_response_started(const struct pfd_req *req);

#ifdef __cplusplus
}
#endif

#endif
