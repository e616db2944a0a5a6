/*
 * handoff - packing, sending and receiving a connection hand-off. The
 * receiver never blocks (the caller waits in epoll), takes the socket
 * close-on-exec from birth (MSG_CMSG_CLOEXEC), and closes whatever a
 * malformed or truncated message brought: a descriptor never leaks.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "handoff.h"

void
handoff_pack(struct handoff *h, enum handoff_kind kind,
    const struct sockaddr *peer, socklen_t peerlen)
{
	h->version = HANDOFF_VERSION;
	h->kind = kind;
	if (peerlen > sizeof(h->peer))
		peerlen = sizeof(h->peer);
	memcpy(&h->peer, peer, peerlen);
	h->peerlen = peerlen;
}

int
handoff_unpack(const struct handoff *h, size_t n)
{
	if (n != sizeof(*h) || h->version != HANDOFF_VERSION ||
	    (h->kind != HANDOFF_PARK && h->kind != HANDOFF_SERVE &&
	    h->kind != HANDOFF_SEND) ||
	    h->peerlen > sizeof(h->peer) || h->len > (1U << 30) ||
	    h->clientlen > sizeof(h->client) || h->send_head > h->len ||
	    h->send_off < 0 || h->send_left < 0 || h->send_total < 0) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

/* Bulky bytes go in an anonymous file (see HANDOFF_INLINE_MAX). */
static int
bytes_memfd(const void *bytes, size_t len)
{
	const char *p = bytes;
	ssize_t n;
	int fd;

	if ((fd = memfd_create("preforkd-handoff", MFD_CLOEXEC)) == -1)
		return -1;
	while (len > 0) {
		if ((n = write(fd, p, len)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return fd;
}

int
handoff_send(int qfd, const struct handoff *h, int cfd, const void *bytes)
{
	return handoff_send_file(qfd, h, cfd, -1, bytes);
}

/*
 * The descriptors travel in this order: the socket, the file (when ffd is
 * not -1), the memfd of bulky bytes.
 */
int
handoff_send_file(int qfd, const struct handoff *h, int cfd, int ffd,
    const void *bytes)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(3 * sizeof(int))];
	} cm;
	struct iovec iov[2];
	struct msghdr msg;
	struct cmsghdr *cmsg;
	int fds[3] = { cfd, -1, -1 }, nfd = 1, mfd = -1, saved;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	memset(&cm, 0, sizeof(cm));
	iov[0].iov_base = (void *)(uintptr_t)h;
	iov[0].iov_len = sizeof(*h);
	msg.msg_iov = iov;
	msg.msg_iovlen = 1;
	if (ffd != -1)
		fds[nfd++] = ffd;
	if (h->len > HANDOFF_INLINE_MAX) {
		if ((mfd = bytes_memfd(bytes, h->len)) == -1)
			return -1;
		fds[nfd++] = mfd;
	} else if (h->len > 0) {
		iov[1].iov_base = (void *)(uintptr_t)bytes;
		iov[1].iov_len = h->len;
		msg.msg_iovlen = 2;
	}
	msg.msg_control = cm.buf;
	msg.msg_controllen = CMSG_SPACE(nfd * sizeof(int));
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(nfd * sizeof(int));
	memcpy(CMSG_DATA(cmsg), fds, nfd * sizeof(int));
	do
		n = sendmsg(qfd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	saved = errno;
	if (mfd != -1)
		close(mfd);	/* the message holds its own reference */
	errno = saved;
	return n == -1 ? -1 : 0;
}

int
handoff_recv(int qfd, struct handoff *h, int *cfd, void *buf, size_t cap)
{
	return handoff_recv_file(qfd, h, cfd, NULL, buf, cap);
}

int
handoff_recv_file(int qfd, struct handoff *h, int *cfd, int *ffd, void *buf,
    size_t cap)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(3 * sizeof(int))];
	} cm;
	struct iovec iov[2];
	struct msghdr msg;
	struct cmsghdr *cmsg;
	int fds[3] = { -1, -1, -1 }, nfd = 0, want, mfd;
	bool file;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	iov[0].iov_base = h;
	iov[0].iov_len = sizeof(*h);
	iov[1].iov_base = buf;
	iov[1].iov_len = cap < HANDOFF_INLINE_MAX ? cap : HANDOFF_INLINE_MAX;
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	do
		n = recvmsg(qfd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n == -1 && errno == EINTR);
	if (n == 0)
		errno = EPIPE;		/* every holder of the other end is gone */
	if (n <= 0)
		return -1;
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		size_t k;

		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(int));
			if (nfd < 3)
				fds[nfd++] = fd;
			else
				close(fd);
		}
	}
	if ((msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) ||
	    (size_t)n < sizeof(*h) || handoff_unpack(h, sizeof(*h)) == -1)
		goto fail;
	/* Exactly the descriptors the fixed part announces. */
	file = h->kind == HANDOFF_SEND;
	want = 1 + (file ? 1 : 0) + (h->len > HANDOFF_INLINE_MAX ? 1 : 0);
	mfd = h->len > HANDOFF_INLINE_MAX ? fds[want - 1] : -1;
	if (nfd != want || (file && ffd == NULL) || h->len > cap ||
	    (mfd != -1 ? pread(mfd, buf, h->len, 0) != (ssize_t)h->len :
	    (size_t)n != sizeof(*h) + h->len))
		goto fail;
	if (mfd != -1)
		close(mfd);
	*cfd = fds[0];
	if (ffd != NULL)
		*ffd = file ? fds[1] : -1;
	return 0;
fail:
	for (int i = 0; i < nfd; i++)
		close(fds[i]);
	errno = EPROTO;
	return -1;
}
