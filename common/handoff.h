/*
 * handoff - the message that moves a client connection between a worker
 * and the keeper (SPEC 1, KEEPER.md): a small fixed struct, the bytes
 * already read from the socket, and the socket itself by SCM_RIGHTS, over
 * the one SOCK_SEQPACKET pair the master creates. Used by both sides.
 */
#ifndef PREFORKD_HANDOFF_H
#define PREFORKD_HANDOFF_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#define HANDOFF_VERSION		3
/*
 * Bytes up to this size travel in the message itself; more go in a memfd
 * passed beside the socket. A SOCK_SEQPACKET message must fit the
 * sender's SO_SNDBUF, which the kernel caps at net.core.wmem_max (208 KiB
 * by default), while --max-header-size goes up to 1 MiB: inline covers a
 * whole head of the default configuration, the memfd the rare rest.
 */
#define HANDOFF_INLINE_MAX	(32 * 1024)

enum handoff_kind {
	HANDOFF_PARK = 1,	/* worker to keeper: wait for the next head */
	HANDOFF_SERVE = 2,	/* keeper to worker: a head is complete */
	HANDOFF_SEND = 3	/* worker to keeper: finish a static body */
};

struct handoff {
	uint32_t		version;
	uint32_t		kind;		/* enum handoff_kind */
	unsigned long long	nreq;		/* requests served on it */
	long long		idle_deadline;	/* ms, CLOCK_MONOTONIC; 0: none */
	long long		head_deadline;	/* ms; 0: from the first byte */
	int32_t			header_timeout_ms;
	int32_t			idle_timeout_ms;
	uint32_t		max_head;	/* the reader's limits */
	uint32_t		len;		/* bytes already read */
	uint32_t		peerlen;
	struct sockaddr_storage	peer;
	/* Version 2: the client address as believed for the connection (a
	 * PROXY header's source); clientlen 0: the peer is the client. */
	uint32_t		clientlen;
	struct sockaddr_storage	client;
	/* The body the keeper reads before a hand-off (--buffer-body),
	 * under the sender's body timeout and --min-body-rate. */
	uint32_t		buffer_body;
	int32_t			body_timeout_ms;
	long long		min_body_rate;
	/* Version 3: the sender's --max-body-size, which the keeper
	 * enforces on the bodies it frames (413). */
	long long		max_body;
	/* Version 3, HANDOFF_SEND: the rest of a static response that a
	 * slow reader did not take. The file comes as a second descriptor;
	 * the bytes are send_head unsent head bytes, then what was read past
	 * the request (the next head's start). The keeper sends them with
	 * send_left bytes of the file from send_off, under the write timeout
	 * and --min-send-rate counted from send_start (ms), then parks the
	 * connection idle (send_keepalive) or closes it gracefully. */
	long long		send_off;
	long long		send_left;
	long long		send_total;	/* the body's full size */
	long long		send_start;	/* ms, CLOCK_MONOTONIC */
	long long		min_send_rate;
	int32_t			write_timeout_ms;
	uint32_t		send_head;
	uint32_t		send_keepalive;
	/* Version 3: keeper to worker, the hand-off's number in the ready
	 * queue (struct sb's ready_taken); 0 from a worker. */
	unsigned long long	seq;
};

/* Fills h's fixed part (version, kind, peer). */
void	handoff_pack(struct handoff *h, enum handoff_kind kind,
	    const struct sockaddr *peer, socklen_t peerlen);
/* Checks a received fixed part of n bytes. Returns 0 or -1 (EPROTO). */
int	handoff_unpack(const struct handoff *h, size_t n);

/*
 * Sends h with h->len bytes and the socket cfd on qfd, never blocking.
 * Returns 0 (the caller closes its cfd now), or -1 with errno (EAGAIN: the
 * queue is full); the caller still owns cfd then.
 */
int	handoff_send(int qfd, const struct handoff *h, int cfd,
	    const void *bytes);
/* The same with an open file ffd beside the socket (HANDOFF_SEND). */
int	handoff_send_file(int qfd, const struct handoff *h, int cfd, int ffd,
	    const void *bytes);
/*
 * Takes one message from qfd, never blocking: fills h, *cfd and h->len
 * bytes into buf (cap bytes). Returns 0, or -1 with errno: EAGAIN when
 * none is there, EPIPE when nobody holds the other end any more, EPROTO
 * for a message that is dropped (its descriptors closed: a truncated or
 * malformed one, bytes over cap).
 */
int	handoff_recv(int qfd, struct handoff *h, int *cfd, void *buf,
	    size_t cap);
/*
 * The same, taking a HANDOFF_SEND's file into *ffd (-1 for other kinds).
 * handoff_recv() drops a message that carries a file.
 */
int	handoff_recv_file(int qfd, struct handoff *h, int *cfd, int *ffd,
	    void *buf, size_t cap);

#endif
