/*
 * ceiling_variant - the bench's ceiling program with one difference, to
 * tell how much of a row's distance to the ceiling is the cost of one
 * thing preforkd does by design (scripts/bench prints a line for each
 * under the table):
 *
 *   sendfile FILE   the body is a file sent with sendfile(2), as preforkd
 *                   sends a large file, instead of a buffer written with
 *                   write(2) (the keep-alive 1 MiB row);
 *   rcvtimeo BYTES  a canned body of BYTES, and every accepted socket has
 *                   a receive timeout (SO_RCVTIMEO, one 1 ms fairness
 *                   slice), as preforkd's first read of a kept-alive
 *                   connection has: the kernel arms and cancels a timer
 *                   each time that read sleeps (the keep-alive 1 KiB row).
 *
 * NPROC children each accept() a connection, then answer every read()
 * with the whole response, until the client closes. No parsing: one read
 * is taken as one request.
 *
 * usage: ceiling_variant PORT NPROC sendfile FILE
 *        ceiling_variant PORT NPROC rcvtimeo BYTES
 */
#define _GNU_SOURCE
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char	head[256];
static size_t	headlen;
static char	*canned;	/* rcvtimeo: head and body, else NULL */
static size_t	cannedlen;

static int
answer(int c, int fd, off_t size)
{
	off_t off = 0;
	ssize_t n;

	if (canned != NULL) {	/* the whole response, one write */
		size_t done = 0;

		while (done < cannedlen) {
			n = write(c, canned + done, cannedlen - done);
			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0)
				return -1;
			done += (size_t)n;
		}
		return 0;
	}
	if (send(c, head, headlen, MSG_MORE | MSG_NOSIGNAL) != (ssize_t)headlen)
		return -1;
	while (off < size) {
		n = sendfile(c, fd, &off, (size_t)(size - off));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
	}
	return 0;
}

static void
serve(int ls, int fd, off_t size)
{
	struct timeval slice = { 0, 1000 };
	char buf[8192];
	int one = 1, c;
	ssize_t n;

	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	for (;;) {
		if ((c = accept(ls, NULL, NULL)) == -1)
			continue;
		(void)setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (canned != NULL)
			(void)setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &slice,
			    sizeof(slice));
		for (;;) {
			n = read(c, buf, sizeof(buf));
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				continue;	/* the slice ended: read on */
			if (n <= 0 || answer(c, fd, size) == -1)
				break;
		}
		close(c);
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct stat st = { 0 };
	int port, nproc, fd = -1, ls, one = 1;

	if (argc != 5 || (strcmp(argv[3], "sendfile") != 0 &&
	    strcmp(argv[3], "rcvtimeo") != 0)) {
		fprintf(stderr, "usage: ceiling_variant PORT NPROC sendfile FILE\n"
		    "       ceiling_variant PORT NPROC rcvtimeo BYTES\n");
		return 2;
	}
	port = atoi(argv[1]);
	nproc = atoi(argv[2]);
	if (port < 1 || port > 65535 || nproc < 1 || nproc > 64)
		return 2;
	if (strcmp(argv[3], "rcvtimeo") == 0) {
		long n = atol(argv[4]);

		if (n < 1 || n > (1L << 24))
			return 2;
		st.st_size = n;
	} else if ((fd = open(argv[4], O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		perror(argv[4]);
		return 1;
	}
	headlen = (size_t)snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\n"
	    "Content-Type: application/octet-stream\r\n"
	    "Content-Length: %lld\r\n\r\n", (long long)st.st_size);
	if (fd == -1) {
		cannedlen = headlen + (size_t)st.st_size;
		if ((canned = malloc(cannedlen)) == NULL)
			return 1;
		memcpy(canned, head, headlen);
		memset(canned + headlen, 'x', (size_t)st.st_size);
	}
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((ls = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(ls, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(ls, 511) == -1) {
		perror("listen");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < nproc; i++) {
		pid_t p = fork();

		if (p == -1) {
			perror("fork");
			return 1;
		}
		if (p == 0)
			serve(ls, fd, st.st_size);
	}
	/* The bench stops the children; then this exits. */
	while (wait(NULL) > 0 || errno == EINTR)
		;
	return 0;
}
