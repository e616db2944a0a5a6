/*
 * dec - unsigned decimal without printf, for the per-request and
 * per-connection paths (Content-Length, a client's address and port).
 */
#ifndef PREFORKD_DEC_H
#define PREFORKD_DEC_H

#define DEC_LEN	20	/* the digits of the largest unsigned long long */

/* Writes v's digits at the end of buf; returns where they start. */
static inline char *
dec_format(char buf[DEC_LEN], unsigned long long v)
{
	char *p = buf + DEC_LEN;

	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	return p;
}

#endif
