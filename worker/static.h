/*
 * static - the default handler: files under the document root (SPEC 6).
 */
#ifndef PREFORKD_STATIC_H
#define PREFORKD_STATIC_H

#include "io.h"

/* Opens the document root. Returns 0 or -1 (errno). */
int	static_init(const char *docroot);
/*
 * Answers the request in c. Returns 0 when a response was sent (or the
 * connection broke), or an error status for the caller to answer.
 */
int	static_handle(struct conn *c);
/*
 * The q-values (in thousandths, 0 = refused) that an Accept-Encoding
 * value of n bytes gives br and gzip (or x-gzip); "*" covers a coding not
 * named, a coding neither named nor covered gets 0, and an element with
 * a malformed q is ignored.
 */
void	static_accept_encoding(const char *v, size_t n, int *qbr, int *qgz);

#endif
