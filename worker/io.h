/*
 * io - a connection's client socket: the state of one connection
 * (struct conn), its reads and writes under the configured timeouts, and
 * its one teardown. Below the response writer and the handlers; the
 * keep-alive loop is conn.c.
 */
#ifndef PREFORKD_IO_H
#define PREFORKD_IO_H

#include <sys/socket.h>
#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "cfg.h"
#include "http.h"

struct conn {
	int			 fd;
	const struct cfg	*cfg;
	struct http_reader	 rd;
	struct sockaddr_storage	 peer;
	socklen_t		 peerlen;
	char			 peer_str[64];
	unsigned long long	 nreq;		/* requests on this connection */
	bool			 close;		/* close after this response */
	bool			 broken;	/* an I/O error: stop using fd */
	bool			 sent_100;
	bool			 head_sent;	/* response bytes went out */
	bool			 have_req;	/* rd.req holds a valid head */
	bool			 hijacked;	/* a module owns fd now */
	bool			 aborted;	/* a module abandoned the response */
	int			 status;	/* for the access log */
	long long		 sent;		/* body bytes sent */
	struct timespec		 t0;		/* request start */
	long long		 body_start;	/* ms: first wait for the body */
	long long		 slice_start;	/* us: fairness slice began */
	const int		*lfd;		/* the listeners, for fairness */
	int			 nlfd;
	char			*head;		/* response head being built */
	size_t			 hlen;
	size_t			 hcap;
	bool			 hover;		/* the head did not fit */
	int			 qfd;		/* the keeper queue, or -1 */
	bool			 handed;	/* parked with the keeper */
	bool			 yield;		/* fairness: park after this one */
	/* The client's last request came within a slice of our response:
	 * wait for its next with a plain read (fast_wait). */
	bool			 streak;
	/* Who the client is (SPEC 9): the PROXY header's source for the
	 * connection's life, else the peer; per request, the forwarded
	 * fields when client is a --trusted-proxy. */
	struct sockaddr_storage	 client;
	socklen_t		 clientlen;
	bool			 proxied;	/* client came from a PROXY header */
	bool			 trusted;	/* client is a --trusted-proxy */
	struct sockaddr_storage	 raddr;		/* this request's client */
	bool			 https;		/* this request's forwarded scheme */
	char			 raddr_str[64];	/* raddr's address, for the logs */
	/* A static body the client stopped taking, set aside for the keeper
	 * (conn_send_file): a copy of the file, where it goes on, how much
	 * is left, the head bytes from send_head on not sent yet. */
	bool			 spend;
	int			 send_fd;
	off_t			 send_off;
	size_t			 send_left;
	size_t			 send_head;
	long long		 send_start;	/* ms: the body began */
};

/* CLOCK_MONOTONIC in ms and us. */
long long	io_now_ms(void);
long long	io_now_us(void);
/* The same clock as of the last tick: a few ns instead of some 20, for
 * deadlines in seconds. */
long long	io_coarse_ms(void);

/*
 * One read() of whatever is there (bounded by SO_RCVTIMEO). Returns like
 * conn_fill(); EINTR only when a signal told the worker to stop.
 */
ssize_t	conn_read_some(struct conn *c);
/*
 * Reads more input, waiting at most until deadline (CLOCK_MONOTONIC, ms).
 * Returns the byte count, 0 at EOF, or -1 with errno (ETIMEDOUT for a
 * timeout).
 */
ssize_t	conn_fill(struct conn *c, long long deadline);

/* Writes all of iov (or fails: sets c->broken). Returns 0 or -1. */
int	conn_writev(struct conn *c, struct iovec *iov, int iovcnt);
/* Sends len bytes of file fd from off. Returns 0 or -1. */
int	conn_sendfile(struct conn *c, int fd, off_t off, size_t len);
/*
 * Reads the next piece of the request body, sending "100 Continue" first
 * when the client asked for it. Returns PARSE_BODY with p and n, PARSE_DONE,
 * -1 on I/O error or timeout, or an error status (400, 408, 413).
 */
int	conn_read_body(struct conn *c, const char **p, size_t *n);

/*
 * Sends the response head built in c->head, then len bytes of file fd
 * from off. A client that stops taking them for SEND_GRACE_MS has the
 * rest set aside (c->spend) for the keeper, which conn_loop hands it to
 * after the request is logged: the worker is free for others. Returns 0
 * (sent, or set aside) or -1.
 */
int	conn_send_file(struct conn *c, int fd, off_t off, size_t len);
/* Sends a response head that a body will follow (MSG_MORE). */
int	conn_send_more(struct conn *c, const void *p, size_t n);
/* True for a HEAD request: the body is not sent. */
bool	conn_is_head(const struct conn *c);


/*
 * Why a connection ends; conn_close() does what each needs:
 *   CONN_QUIET     the client went quiet or away (EOF, idle or header
 *                  timeout), or spoke no HTTP: closed at once;
 *   CONN_STOP      the worker stops after serving on it: a request may
 *                  cross our FIN, so it lingers;
 *   CONN_ERROR     an error status was answered: lingers;
 *   CONN_DONE      the response said close: lingers while the request's
 *                  input is left unread;
 *   CONN_BROKEN    an I/O error: closed at once;
 *   CONN_HANDED    the keeper holds it now (parked, or a body to send):
 *                  our copy is closed, the slot's state is left alone;
 *   CONN_HIJACKED  a module owns the socket (pfd_hijack): not ours to
 *                  close any more; the slot says closing.
 */
enum conn_end {
	CONN_QUIET,
	CONN_STOP,
	CONN_ERROR,
	CONN_DONE,
	CONN_BROKEN,
	CONN_HANDED,
	CONN_HIJACKED
};

/*
 * The one teardown of a connection. Lingering (never after a module
 * abandoned its response, nor on a broken socket) shuts the write side
 * first and reads what the client still sends for a short while, so that
 * it gets our response instead of a reset caused by its unread input.
 */
void	conn_close(struct conn *c, enum conn_end why);

#endif
