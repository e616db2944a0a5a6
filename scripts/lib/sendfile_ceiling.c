/*
 * sendfile_ceiling - the bench's ceiling program with one difference: the
 * body is a file sent with sendfile(2), as preforkd sends a large file,
 * instead of a buffer written with write(2). It tells how much of the
 * keep-alive 1 MiB row's distance to the ceiling is the cost of sendfile
 * itself on this machine (scripts/bench prints it under the table).
 *
 * NPROC children each accept() a connection, then answer every read()
 * with the head (send with MSG_MORE) and the whole file (sendfile), until
 * the client closes. No parsing: one read is taken as one request.
 *
 * usage: sendfile_ceiling PORT NPROC FILE
 */
#define _GNU_SOURCE
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char	head[256];
static size_t	headlen;

static int
answer(int c, int fd, off_t size)
{
	off_t off = 0;
	ssize_t n;

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
	char buf[8192];
	int one = 1, c;

	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	for (;;) {
		if ((c = accept(ls, NULL, NULL)) == -1)
			continue;
		(void)setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		while (read(c, buf, sizeof(buf)) > 0)
			if (answer(c, fd, size) == -1)
				break;
		close(c);
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct stat st;
	int port, nproc, fd, ls, one = 1;

	if (argc != 4) {
		fprintf(stderr, "usage: sendfile_ceiling PORT NPROC FILE\n");
		return 2;
	}
	port = atoi(argv[1]);
	nproc = atoi(argv[2]);
	if (port < 1 || port > 65535 || nproc < 1 || nproc > 64)
		return 2;
	if ((fd = open(argv[3], O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		perror(argv[3]);
		return 1;
	}
	headlen = (size_t)snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\n"
	    "Content-Type: application/octet-stream\r\n"
	    "Content-Length: %lld\r\n\r\n", (long long)st.st_size);
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
