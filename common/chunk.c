/*
 * chunk - the request body's framing, strictly. The Debian build of
 * http-parser is not strict about chunk lines, and a lenient chunked
 * reader is exactly what request smuggling feeds on, so the body is framed
 * here, one byte of framing at a time, data in whole pieces.
 */
#include "chunk.h"
#include "hex.h"
#include "tchar.h"

void
chunk_start(struct chunk *b, bool chunked, long long length,
    long long max_body, size_t max_head)
{
	*b = (struct chunk){ .max_body = max_body, .max_head = max_head };
	if (chunked)
		b->state = B_SIZE;
	else if (length > 0) {
		b->state = B_LENGTH;
		b->remaining = (unsigned long long)length;
	} else
		b->state = B_DONE;
}

/*
 * Framing (sizes, extensions, CRLFs, trailers) may not dwarf the data. It
 * is judged only where a line of framing ends, with the data before it,
 * so that the verdict is a property of the bytes and not of where reads
 * happened to split them; a line is at most max_head long in between.
 */
static bool
dwarfed(const struct chunk *b)
{
	return b->framing > b->max_head + 2 * (size_t)b->data + 64;
}

/* One byte of framing. Returns CHUNK_AGAIN to go on, or a status. */
static int
frame_byte(struct chunk *b, unsigned char c)
{
	int d;

	b->framing++;
	switch (b->state) {
	case B_SIZE:
		if ((d = hex_value(c)) != -1) {
			if (++b->digits > 15)
				return 400;	/* no body is that large */
			b->remaining = b->remaining * 16 + (unsigned)d;
		} else if (c == ';' && b->digits > 0) {
			b->state = B_EXT;
			b->line = 0;
		} else if ((c == ' ' || c == '\t') && b->digits > 0) {
			b->state = B_SIZE_BWS;
			b->line = 0;
		} else if (c == '\r' && b->digits > 0)
			b->state = B_SIZE_LF;
		else
			return 400;
		break;
	case B_SIZE_BWS:
		/* BWS after the size only leads to an extension (RFC 9112
		 * 7.1.1): "5 \r\n" and "5 5" stay 400. */
		if (c == ';')
			b->state = B_EXT;
		else if ((c != ' ' && c != '\t') || ++b->line > b->max_head)
			return 400;
		break;
	case B_EXT:
		if (c == '\r')
			b->state = B_SIZE_LF;
		else if ((c < 0x20 && c != '\t') || c == 0x7f ||
		    ++b->line > b->max_head)
			return 400;
		break;
	case B_SIZE_LF:
		if (c != '\n' || dwarfed(b))
			return 400;
		if (b->remaining == 0) {
			b->state = B_TRAILER_START;
			break;
		}
		if (b->remaining > (unsigned long long)(b->max_body -
		    b->declared))
			return 413;
		b->declared += (long long)b->remaining;
		b->state = B_DATA;
		break;
	case B_DATA_CR:
		if (c != '\r')
			return 400;
		b->state = B_DATA_LF;
		break;
	case B_DATA_LF:
		if (c != '\n')
			return 400;
		b->state = B_SIZE;
		b->digits = 0;
		b->remaining = 0;
		break;
	case B_TRAILER_START:
		if (c == '\r')
			b->state = B_LAST_LF;
		else if (tchar[c]) {		/* a field name; no obs-fold */
			b->state = B_TRAILER_LINE;
			b->colon = false;
		} else
			return 400;
		break;
	case B_TRAILER_LINE:
		if (++b->trailer > b->max_head)
			return 431;
		if (c == '\r') {
			if (!b->colon)
				return 400;
			b->state = B_TRAILER_LF;
		} else if (!b->colon) {
			if (c == ':')
				b->colon = true;
			else if (!tchar[c])
				return 400;
		} else if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 400;
		break;
	case B_TRAILER_LF:
		if (c != '\n' || dwarfed(b))
			return 400;
		b->state = B_TRAILER_START;
		break;
	case B_LAST_LF:
		if (c != '\n' || dwarfed(b))
			return 400;
		b->state = B_DONE;
		break;
	default:
		return 400;
	}
	return CHUNK_AGAIN;
}

int
chunk_step(struct chunk *b, const char *buf, size_t len, size_t *pos,
    const char **p, size_t *n)
{
	while (*pos < len || b->state == B_DONE) {
		size_t k;
		int rc;

		switch (b->state) {
		case B_DONE:
			return CHUNK_DONE;
		case B_LENGTH:
		case B_DATA:
			k = len - *pos;
			if ((unsigned long long)k > b->remaining)
				k = (size_t)b->remaining;
			*p = buf + *pos;
			*n = k;
			*pos += k;
			b->remaining -= k;
			b->data += (long long)k;
			if (b->remaining == 0)
				b->state = b->state == B_LENGTH ? B_DONE :
				    B_DATA_CR;
			/* Never more than the limit (declared sizes are
			 * checked against it already: a guard). */
			return b->data > b->max_body ? 413 : CHUNK_DATA;
		default:
			break;
		}
		if ((rc = frame_byte(b, (unsigned char)buf[(*pos)++])) !=
		    CHUNK_AGAIN)
			return rc;
	}
	return CHUNK_AGAIN;
}

int
chunk_frame(struct chunk *b, const char *buf, size_t len, size_t *pos)
{
	const char *p;
	size_t n;
	int rc;

	while ((rc = chunk_step(b, buf, len, pos, &p, &n)) == CHUNK_DATA)
		;
	return rc;
}
