/*
 * conn - one client connection and its keep-alive loop (Go's conn.serve):
 * read a head under the header deadline, run the handler, finish the
 * response, decide reuse, wait idle, reset. All I/O on the client socket
 * goes through here.
 */
#ifndef PREFORKD_CONN_H
#define PREFORKD_CONN_H

#include <sys/socket.h>
#include <sys/types.h>
#include <stdbool.h>
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

/* Why a connection ends: conn_close() in conn.c says what each does. */
enum conn_end {
	CONN_QUIET,
	CONN_STOP,
	CONN_ERROR,
	CONN_DONE,
	CONN_BROKEN,
	CONN_HANDED,
	CONN_HIJACKED
};

/* Allocates the per-worker buffers once. Returns 0 or -1. */
int	conn_init(struct conn *c, const struct cfg *cfg, const int *lfd,
	    int nlfd);
/*
 * Serves the accepted socket fd until it is closed. proxy: it came in
 * on a ,proxy listener (a PROXY header first, from a trusted peer).
 */
void	conn_serve(struct conn *c, int fd, const struct sockaddr *peer,
	    socklen_t peerlen, bool proxy);

/*
 * Takes one connection the keeper handed over on c->qfd and serves it
 * like an accepted one, with the bytes, request count and header deadline
 * that came with it. Returns 0, or -1 with errno (EAGAIN: none there;
 * EPIPE: nobody holds the keeper's end any more).
 */
int	conn_take(struct conn *c);

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
/* Called by resp before the head is finished: settles c->close. */
void	conn_before_head(struct conn *c);
/* True for a HEAD request: the body is not sent. */
bool	conn_is_head(const struct conn *c);

#endif
