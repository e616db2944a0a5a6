/*
 * resp - the response writer: builds the head in the connection's buffer
 * (status line, Date, Server, the handler's fields, framing, Connection)
 * and sends it with the body in as few syscalls as possible.
 */
#ifndef PREFORKD_RESP_H
#define PREFORKD_RESP_H

#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>

#include "io.h"

/*
 * The response head buffer, sized here only: the handler's own fields (a
 * module's, or the static handler's Location echoing the path) take at
 * most resp_fields_max() bytes, the status line and the server's fields
 * at most RESP_HEAD_SIZE more. A head that still does not fit is answered
 * 500 (and logged), never sent cut.
 */
size_t	resp_fields_max(const struct cfg *cfg);
size_t	resp_head_size(const struct cfg *cfg);

/* Starts a response: status line, Date and Server. */
void	resp_begin(struct conn *c, int status);
/* Adds one header field; the value must not contain CR or LF. */
void	resp_add(struct conn *c, const char *name, const char *val, size_t vlen);
void	resp_addf(struct conn *c, const char *name, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/*
 * Finishes the head with Content-Length clen and Connection, then sends
 * it with body (blen bytes; none for HEAD or 304: pass NULL, 0).
 * Returns 0, or -1 when the write failed.
 */
int	resp_send(struct conn *c, long long clen, const void *body, size_t blen);
/* The same with len bytes of file fd from off as the body (sendfile). */
int	resp_send_file(struct conn *c, long long clen, int fd, off_t off,
	    size_t len);
/*
 * The same for the static handler: a client that stops taking the body
 * has the rest sent by the keeper (conn_send_file()).
 */
int	resp_send_static(struct conn *c, long long clen, int fd, off_t off,
	    size_t len);
/* 304 and other bodyless responses: no Content-Length. */
int	resp_send_nobody(struct conn *c);
/* Appends pre-formatted header lines ("Name: value\r\n"...). */
void	resp_add_raw(struct conn *c, const char *p, size_t n);
/*
 * Finishes and sends the head of a streamed response: Content-Length
 * clen when clen >= 0; else chunked for HTTP/1.1 (*chunked set) or a
 * close-delimited body for HTTP/1.0. Returns 0 or -1.
 */
int	resp_send_head(struct conn *c, long long clen, bool *chunked);
/* One chunk of a chunked body (n > 0), and the last chunk. */
int	resp_chunk(struct conn *c, const void *p, size_t n);
int	resp_chunk_end(struct conn *c);
/* A complete error response with a short text body. */
int	resp_error(struct conn *c, int status);

#endif
