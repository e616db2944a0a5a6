/*
 * http - the request reader: the only file that knows http-parser. It
 * parses requests out of a caller-owned byte buffer and does no I/O, so
 * the worker and a fuzzer drive the very same code: the caller appends
 * bytes at http_space() and calls http_parse_head()/http_parse_body().
 */
#ifndef PREFORKD_HTTP_H
#define PREFORKD_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <http_parser.h>

#include "chunk.h"
#include "defaults.h"

/* Headers the server itself looks at, classified once per request. */
enum http_known {
	HK_HOST, HK_CONTENT_LENGTH, HK_TRANSFER_ENCODING, HK_EXPECT,
	HK_IF_MATCH, HK_IF_NONE_MATCH, HK_IF_MODIFIED_SINCE,
	HK_IF_UNMODIFIED_SINCE, HK_IF_RANGE, HK_RANGE, HK_ACCEPT_ENCODING,
	HK_USER_AGENT, HK_REFERER, HK_MAX
};

struct http_hdr {
	const char	*name;
	size_t		 nlen;
	const char	*val;
	size_t		 vlen;
};

/* One parsed request head; pointers point into the reader's buffer. */
struct http_req {
	enum http_method method;
	const char	*target;
	size_t		 target_len;
	int		 major, minor;
	struct http_hdr	 hdr[MAX_HEADERS];
	int		 nhdr;
	short		 known[HK_MAX];	/* index + 1 into hdr, 0 if absent */
	long long	 content_length;	/* -1: none */
	bool		 chunked;
	bool		 keep_alive;	/* what the client asked for */
	bool		 expect_continue;
	bool		 upgrade;	/* Upgrade/CONNECT: close after reply */
	size_t		 head_len;
};

enum http_result {
	PARSE_AGAIN = 0,		/* need more input */
	PARSE_HEAD = 1,		/* a request head is complete */
	PARSE_BODY = 2,		/* a piece of body is available */
	PARSE_DONE = 3		/* the request (body included) is complete */
};

struct http_reader {
	http_parser	 parser;
	struct http_req	 req;
	char		*buf;
	size_t		 len;		/* bytes in buf */
	size_t		 cap;
	size_t		 pos;		/* bytes of buf handed to the parser */
	size_t		 max_head;
	long long	 max_body;
	long long	 body_read;	/* body bytes handed out */
	struct chunk	 b;		/* the body's framing (chunk.h) */
	bool		 in_head;
	bool		 last_was_value;
	bool		 head_done;
	bool		 done;		/* message complete */
	bool		 te_unknown;
	bool		 te_any;	/* a Transfer-Encoding field at all */
	bool		 too_many;	/* more than MAX_HEADERS fields */
	bool		 bad_method;	/* waiting for the whole request line */
};

/* Prepares r to read into buf (cap bytes); limits per SPEC section 2. */
void	http_reader_init(struct http_reader *r, char *buf, size_t cap,
	    size_t max_head, long long max_body);

/* Where the caller may append input; *room is 0 when the buffer is full. */
char	*http_space(struct http_reader *r, size_t *room);
/* The caller appended n bytes at http_space(). */
void	http_filled(struct http_reader *r, size_t n);
/* Bytes received but not yet parsed (pipelined input, say). */
size_t	http_pending(const struct http_reader *r);
/* True when no byte of the current request has arrived yet. */
bool	http_idle(const struct http_reader *r);

/*
 * Parses buffered input for a request head. Returns PARSE_HEAD when r->req
 * is complete and valid, PARSE_AGAIN when more input is needed, or the HTTP
 * error status to answer (400, 413, 414, 417, 431, 501, 505).
 */
int	http_parse_head(struct http_reader *r);

/*
 * Parses buffered body input after PARSE_HEAD. Returns PARSE_BODY with
 * p and n set to the next piece (valid until the next call), PARSE_DONE when
 * the request is complete, PARSE_AGAIN for more input, or an error status
 * (400 bad framing, 413 over the body limit).
 */
int	http_parse_body(struct http_reader *r, const char **p, size_t *n);

/*
 * True when the rest of the current request's body is already in the
 * buffer (so draining it needs no I/O). Looks ahead on a copy of the
 * parser: nothing is consumed.
 */
bool	http_body_buffered(const struct http_reader *r);

/* After PARSE_DONE: drops the finished request, keeps pipelined input. */
void	http_next(struct http_reader *r);

/*
 * Splits the target of q (origin-form, or absolute-form whose scheme and
 * authority are skipped) into the path (*p, *len: up to '?' or '#') and
 * the query (*query points at its '?', or is NULL; *qlen counts the '?').
 * Returns 0, or 400 for any other form.
 */
int	http_target_split(const struct http_req *q, const char **p, size_t *len,
	    const char **query, size_t *qlen);

/* Header value by well-known name; NULL when absent. */
const struct http_hdr *http_known(const struct http_req *q, enum http_known k);

/* Case-insensitive test whether list (a comma list) contains token. */
bool	http_list_has(const char *list, size_t len, const char *token);

#endif
