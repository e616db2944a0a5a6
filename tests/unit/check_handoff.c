/*
 * check_handoff - unit tests for common/handoff.c: the fixed part is
 * checked, and a connection travels over a SOCK_SEQPACKET pair with its
 * bytes (inline, and in a memfd when bulky) and its descriptor; a bad
 * message is dropped with its descriptors closed.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "handoff.h"

static int q[2] = { -1, -1 };

static void
pair_open(void)
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    q), 0);
}

static void
pair_close(void)
{
	close(q[0]);
	close(q[1]);
}

static void
sample(struct handoff *h, size_t len)
{
	struct sockaddr_in sin;

	memset(h, 0, sizeof(*h));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(4242);
	sin.sin_addr.s_addr = htonl(0x7f000001);
	handoff_pack(h, HANDOFF_SERVE, (struct sockaddr *)&sin, sizeof(sin));
	h->nreq = 7;
	h->seq = 123456789012ULL;	/* version 3 */
	h->idle_deadline = 1000;
	h->head_deadline = 2000;
	h->header_timeout_ms = 10000;
	h->max_head = 16384;
	h->len = (uint32_t)len;
	/* A PROXY source (version 2): 192.0.2.9:5555. */
	sin.sin_port = htons(5555);
	sin.sin_addr.s_addr = htonl(0xc0000209);
	memcpy(&h->client, &sin, sizeof(sin));
	h->clientlen = sizeof(sin);
}

/* The same open file on both sides: same device and inode. */
static void
assert_same_file(int a, int b)
{
	struct stat sa, sb;

	ck_assert_int_eq(fstat(a, &sa), 0);
	ck_assert_int_eq(fstat(b, &sb), 0);
	ck_assert_uint_eq(sa.st_ino, sb.st_ino);
	ck_assert_uint_eq(sa.st_dev, sb.st_dev);
}

START_TEST(test_pack_unpack)
{
	struct handoff h;

	sample(&h, 10);
	ck_assert_uint_eq(h.version, HANDOFF_VERSION);
	ck_assert_uint_eq(h.peerlen, sizeof(struct sockaddr_in));
	ck_assert_int_eq(((struct sockaddr_in *)&h.peer)->sin_port,
	    htons(4242));
	ck_assert_int_eq(handoff_unpack(&h, sizeof(h)), 0);
	ck_assert_int_eq(handoff_unpack(&h, sizeof(h) - 1), -1);
	ck_assert_int_eq(errno, EPROTO);
	h.version = HANDOFF_VERSION + 1;
	ck_assert_int_eq(handoff_unpack(&h, sizeof(h)), -1);
	sample(&h, 10);
	h.kind = 9;
	ck_assert_int_eq(handoff_unpack(&h, sizeof(h)), -1);
	sample(&h, 10);
	h.peerlen = sizeof(h.peer) + 1;
	ck_assert_int_eq(handoff_unpack(&h, sizeof(h)), -1);
	sample(&h, 10);
	h.clientlen = sizeof(h.client) + 1;
	ck_assert_int_eq(handoff_unpack(&h, sizeof(h)), -1);
	/* A version-1 sender's message is refused, not misread. */
	sample(&h, 10);
	h.version = 1;
	ck_assert_int_eq(handoff_unpack(&h, sizeof(h)), -1);
	/* Version 3's send fields: the head rest within the bytes, no
	 * negative offset or length. */
	sample(&h, 10);
	h.kind = HANDOFF_SEND;
	h.send_head = 10;
	ck_assert_int_eq(handoff_unpack(&h, sizeof(h)), 0);
	h.send_head = 11;
	ck_assert_int_eq(handoff_unpack(&h, sizeof(h)), -1);
	h.send_head = 0;
	h.send_off = -1;
	ck_assert_int_eq(handoff_unpack(&h, sizeof(h)), -1);
	h.send_off = 0;
	h.send_left = -1;
	ck_assert_int_eq(handoff_unpack(&h, sizeof(h)), -1);
}
END_TEST

/*
 * A slow reader's rest (HANDOFF_SEND): the socket, the open file and the
 * bytes (inline or in a memfd) arrive in order, with the send fields.
 */
static void
send_round_trip(size_t n)
{
	struct handoff h, got;
	char *bytes = malloc(n + 1), *buf = malloc(n + 64);
	char path[] = "/tmp/check_handoff.XXXXXX";
	int conn[2], fd = -1, ffd = -1, file;

	ck_assert_ptr_nonnull(bytes);
	ck_assert_ptr_nonnull(buf);
	memset(bytes, 'h', n);
	ck_assert_int_ge(file = mkstemp(path), 0);
	unlink(path);
	pair_open();
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, conn), 0);
	sample(&h, n);
	h.kind = HANDOFF_SEND;
	h.send_off = 4096;
	h.send_left = 1LL << 33;	/* over 4 GiB: 64 bits travel */
	h.send_total = (1LL << 33) + 4096;
	h.send_start = 123456;
	h.min_send_rate = 1024;
	h.write_timeout_ms = 30000;
	h.send_head = (uint32_t)(n / 2);
	h.send_keepalive = 1;
	ck_assert_int_eq(handoff_send_file(q[1], &h, conn[0], file, bytes), 0);
	ck_assert_int_eq(handoff_recv_file(q[0], &got, &fd, &ffd, buf,
	    n + 64), 0);
	assert_same_file(fd, conn[0]);
	assert_same_file(ffd, file);
	ck_assert(fcntl(ffd, F_GETFD) & FD_CLOEXEC);
	ck_assert_uint_eq(got.kind, HANDOFF_SEND);
	ck_assert_int_eq(got.send_off, 4096);
	ck_assert_int_eq(got.send_left, 1LL << 33);
	ck_assert_int_eq(got.send_total, (1LL << 33) + 4096);
	ck_assert_int_eq(got.send_start, 123456);
	ck_assert_int_eq(got.min_send_rate, 1024);
	ck_assert_int_eq(got.write_timeout_ms, 30000);
	ck_assert_uint_eq(got.send_head, n / 2);
	ck_assert_uint_eq(got.send_keepalive, 1);
	ck_assert_uint_eq(got.len, n);
	ck_assert_int_eq(memcmp(buf, bytes, n), 0);
	close(ffd);
	close(fd);
	close(file);
	close(conn[0]);
	close(conn[1]);
	pair_close();
	free(bytes);
	free(buf);
}

START_TEST(test_send_round_trip)
{
	send_round_trip(0);
	send_round_trip(500);
	send_round_trip(HANDOFF_INLINE_MAX + 100);
}
END_TEST

/*
 * A file where none is announced, or none where one is, or a receiver
 * that takes no file: dropped, every descriptor closed.
 */
START_TEST(test_send_fds_checked)
{
	struct handoff h, got;
	char buf[64];
	int conn[2], file[2], fd = -1, ffd = -1;

	pair_open();
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, conn), 0);
	ck_assert_int_eq(pipe(file), 0);
	/* SERVE with a file beside the socket. */
	sample(&h, 0);
	ck_assert_int_eq(handoff_send_file(q[1], &h, conn[0], file[0], ""), 0);
	ck_assert_int_eq(handoff_recv_file(q[0], &got, &fd, &ffd, buf,
	    sizeof(buf)), -1);
	ck_assert_int_eq(errno, EPROTO);
	/* SEND without its file. */
	h.kind = HANDOFF_SEND;
	ck_assert_int_eq(handoff_send(q[1], &h, conn[0], ""), 0);
	ck_assert_int_eq(handoff_recv_file(q[0], &got, &fd, &ffd, buf,
	    sizeof(buf)), -1);
	ck_assert_int_eq(errno, EPROTO);
	/* SEND to a receiver that takes no file (a worker). */
	ck_assert_int_eq(handoff_send_file(q[1], &h, conn[0], file[0], ""), 0);
	ck_assert_int_eq(handoff_recv(q[0], &got, &fd, buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, EPROTO);
	/* Every passed copy of the pipe's read end was closed: once ours
	 * goes, a write sees no reader. */
	close(file[0]);
	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(write(file[1], "x", 1), -1);
	ck_assert_int_eq(errno, EPIPE);
	close(file[1]);
	close(conn[0]);
	close(conn[1]);
	pair_close();
}
END_TEST

/* Sends a socket (one end of another pair) with n bytes; checks all. */
static void
round_trip(size_t n)
{
	struct handoff h, got;
	char *bytes = malloc(n + 1), *buf = malloc(n + 64);
	int conn[2], fd = -1, fl;

	ck_assert_ptr_nonnull(bytes);
	ck_assert_ptr_nonnull(buf);
	for (size_t i = 0; i < n; i++)
		bytes[i] = (char)('a' + i % 26);
	pair_open();
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, conn), 0);
	sample(&h, n);
	ck_assert_int_eq(handoff_send(q[1], &h, conn[0], bytes), 0);
	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(handoff_recv(q[0], &got, &fd, buf, n + 64), 0);
	ck_assert_int_ge(fd, 0);
	assert_same_file(fd, conn[0]);
	fl = fcntl(fd, F_GETFD);
	ck_assert(fl & FD_CLOEXEC);
	ck_assert_uint_eq(got.kind, HANDOFF_SERVE);
	ck_assert_uint_eq(got.nreq, 7);
	ck_assert_uint_eq(got.seq, 123456789012ULL);
	ck_assert_int_eq(got.idle_deadline, 1000);
	ck_assert_int_eq(got.head_deadline, 2000);
	ck_assert_uint_eq(got.len, n);
	ck_assert_int_eq(memcmp(&got.peer, &h.peer, h.peerlen), 0);
	ck_assert_uint_eq(got.clientlen, sizeof(struct sockaddr_in));
	ck_assert_int_eq(memcmp(&got.client, &h.client, h.clientlen), 0);
	ck_assert_int_eq(memcmp(buf, bytes, n), 0);
	/* The descriptor works: what goes in one end comes out the other. */
	ck_assert_int_eq(write(fd, "x", 1), 1);
	ck_assert_int_eq(read(conn[1], buf, 1), 1);
	ck_assert_int_eq(buf[0], 'x');
	/* Nothing more: the queue is empty. */
	ck_assert_int_eq(handoff_recv(q[0], &got, &fd, buf, n + 64), -1);
	ck_assert_int_eq(errno, EAGAIN);
	close(conn[0]);
	close(conn[1]);
	pair_close();
	free(bytes);
	free(buf);
}

START_TEST(test_round_trip_empty)
{
	round_trip(0);
}
END_TEST

START_TEST(test_round_trip_inline)
{
	round_trip(300);
	round_trip(HANDOFF_INLINE_MAX);
}
END_TEST

START_TEST(test_round_trip_memfd)
{
	round_trip(HANDOFF_INLINE_MAX + 1);
	round_trip(200 * 1024);
}
END_TEST

/* Bytes over the receiver's buffer: dropped, descriptors closed. */
START_TEST(test_over_cap_dropped)
{
	struct handoff h, got;
	char bytes[100] = "GET / HTTP/1.1\r\n", buf[16];
	int conn[2], fd = -1;

	pair_open();
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, conn), 0);
	sample(&h, sizeof(bytes));
	ck_assert_int_eq(handoff_send(q[1], &h, conn[0], bytes), 0);
	close(conn[0]);
	ck_assert_int_eq(handoff_recv(q[0], &got, &fd, buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, EPROTO);
	/* The passed copy was closed too: the peer sees EOF. */
	ck_assert_int_eq(read(conn[1], buf, 1), 0);
	close(conn[1]);
	pair_close();
}
END_TEST

/* A message without a descriptor is malformed. */
START_TEST(test_no_fd_dropped)
{
	struct handoff h, got;
	char buf[64];
	int fd = -1;

	pair_open();
	sample(&h, 0);
	ck_assert_int_eq(send(q[1], &h, sizeof(h), 0), (ssize_t)sizeof(h));
	ck_assert_int_eq(handoff_recv(q[0], &got, &fd, buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, EPROTO);
	pair_close();
}
END_TEST

static Suite *
handoff_suite(void)
{
	Suite	*s = suite_create("handoff");
	TCase	*tc = tcase_create("handoff");

	tcase_add_test(tc, test_pack_unpack);
	tcase_add_test(tc, test_round_trip_empty);
	tcase_add_test(tc, test_round_trip_inline);
	tcase_add_test(tc, test_round_trip_memfd);
	tcase_add_test(tc, test_over_cap_dropped);
	tcase_add_test(tc, test_no_fd_dropped);
	tcase_add_test(tc, test_send_round_trip);
	tcase_add_test(tc, test_send_fds_checked);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(handoff_suite());
	int	 failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
