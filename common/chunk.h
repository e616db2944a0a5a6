/*
 * chunk - the framing of a request body (RFC 9112 6.3 and 7.1): by
 * Content-Length, or chunked with sizes, extensions, CRLFs and trailers.
 * It says where the data is and where the body ends, and never looks at
 * what the data or the extensions and trailers mean. Pure, no I/O: the
 * worker's reader (http.c) and the keeper (worker/keeper.c) run this one
 * state machine, so that both agree on every body, byte for byte
 * (KEEPER.md 4).
 */
#ifndef PREFORKD_CHUNK_H
#define PREFORKD_CHUNK_H

#include <stdbool.h>
#include <stddef.h>

/* Where the framing stands; zero (B_DONE) is a body already complete. */
enum chunk_state {
	B_DONE, B_LENGTH, B_SIZE, B_SIZE_BWS, B_EXT, B_SIZE_LF, B_DATA,
	B_DATA_CR, B_DATA_LF, B_TRAILER_START, B_TRAILER_LINE, B_TRAILER_LF,
	B_LAST_LF
};

/* What a step found; any other result is the HTTP status to answer. */
enum chunk_result {
	CHUNK_AGAIN = 0,	/* every byte given was consumed: more input */
	CHUNK_DATA = 2,		/* a piece of data (p, n) */
	CHUNK_DONE = 3		/* the body ends before *pos */
};

struct chunk {
	enum chunk_state	 state;
	unsigned long long	 remaining;	/* of the body or the chunk */
	int			 digits;	/* of the chunk size so far */
	bool			 colon;		/* trailer line: past its ':' */
	size_t			 line;		/* chunk extension bytes */
	size_t			 trailer;	/* trailer section bytes */
	size_t			 framing;	/* non-data bytes of the body */
	long long		 declared;	/* sum of chunk sizes */
	long long		 data;		/* data bytes handed out */
	long long		 max_body;	/* over it: 413 */
	size_t			 max_head;	/* one line, the trailers: 400/431 */
};

/*
 * Starts framing a body: chunked, or of length bytes (0 or -1: none, the
 * body is complete at once). Limits per SPEC 2: the decoded size over
 * max_body is 413; an extension longer than max_head is 400, a trailer
 * section longer than it 431; and the framing may not dwarf the data
 * (more than max_head + 2 * data + 64 bytes of it, judged where each line
 * of it ends): 400.
 */
void	chunk_start(struct chunk *b, bool chunked, long long length,
	    long long max_body, size_t max_head);

/*
 * One step over buf[*pos..len): consumes framing up to the next piece of
 * data and returns CHUNK_DATA with *p, *n set (inside buf), or consumes
 * everything and returns CHUNK_AGAIN, or returns CHUNK_DONE with *pos just
 * past the body (the rest of buf is the next request), or an error status
 * (400, 413, 431) with *pos just past the offending byte. The answer for
 * a body never depends on how its bytes were split across calls.
 */
int	chunk_step(struct chunk *b, const char *buf, size_t len, size_t *pos,
	    const char **p, size_t *n);

/*
 * Steps over buf[*pos..len), data and all, without handing data out
 * (the keeper only needs to know where the body ends). Returns
 * CHUNK_AGAIN, CHUNK_DONE or an error status as chunk_step() does.
 */
int	chunk_frame(struct chunk *b, const char *buf, size_t len,
	    size_t *pos);

#endif
