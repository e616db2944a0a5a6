/*
 * iov - bookkeeping for writes of several buffers at once, shared by the
 * connection writer and the status process.
 */
#include "iov.h"

void
iov_advance(struct iovec **iov, int *iovcnt, size_t n)
{
	struct iovec *v = *iov;
	int left = *iovcnt;

	while (left > 0 && n >= v->iov_len) {
		n -= v->iov_len;
		v++;
		left--;
	}
	if (left > 0) {
		v->iov_base = (char *)v->iov_base + n;
		v->iov_len -= n;
	}
	*iov = v;
	*iovcnt = left;
}
