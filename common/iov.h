/*
 * iov - what is left of an iovec array after a short writev/sendmsg.
 */
#ifndef PREFORKD_IOV_H
#define PREFORKD_IOV_H

#include <sys/types.h>
#include <sys/uio.h>

/*
 * Skips n bytes that went out: advances *iov past the vectors sent whole
 * (decrementing *iovcnt) and moves the base of a partly sent one.
 */
void	iov_advance(struct iovec **iov, int *iovcnt, size_t n);

#endif
