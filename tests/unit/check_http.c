/*
 * check_http - the request reader (common/http.c) driven without sockets:
 * framing, pipelining, bodies, every rejection, and the same results
 * whether the input arrives whole or one byte at a time.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define CAP 4096

/*
 * Feeds input in pieces of `step` bytes (0: all at once) and describes
 * what the reader saw: "GET /a;" per request, "body=<bytes>;" when it had
 * one, "E<status>" on a rejection, "more" when input ran out mid-request.
 */
static void
run(const char *in, size_t len, size_t step, size_t max_head,
    long long max_body, char *out, size_t outsz)
{
	static char buf[CAP];
	struct http_reader r;
	size_t fed = 0, o = 0;
	int rc;

	http_reader_init(&r, buf, sizeof(buf), max_head, max_body);
	out[0] = '\0';
#define FEED() do {							\
	size_t room_, n_;						\
	char *sp_ = http_space(&r, &room_);				\
	if (fed == len) {						\
		o += (size_t)snprintf(out + o, outsz - o, "more");	\
		return;							\
	}								\
	n_ = step == 0 ? len - fed : step;				\
	if (n_ > len - fed)						\
		n_ = len - fed;						\
	if (n_ > room_)							\
		n_ = room_;						\
	memcpy(sp_, in + fed, n_);					\
	http_filled(&r, n_);						\
	fed += n_;							\
} while (0)
	for (;;) {
		if (fed == len && http_pending(&r) == 0)
			return;
		while ((rc = http_parse_head(&r)) == PARSE_AGAIN)
			FEED();
		if (rc != PARSE_HEAD) {
			o += (size_t)snprintf(out + o, outsz - o, "E%d", rc);
			return;
		}
		o += (size_t)snprintf(out + o, outsz - o, "%s %.*s;",
		    http_method_str(r.req.method), (int)r.req.target_len,
		    r.req.target);
		bool any = false;
		for (;;) {
			const char *p;
			size_t n;

			rc = http_parse_body(&r, &p, &n);
			if (rc == PARSE_AGAIN) {
				FEED();
				continue;
			}
			if (rc == PARSE_DONE)
				break;
			if (rc != PARSE_BODY) {
				o += (size_t)snprintf(out + o, outsz - o, "E%d", rc);
				return;
			}
			if (!any)
				o += (size_t)snprintf(out + o, outsz - o, "body=");
			any = true;
			o += (size_t)snprintf(out + o, outsz - o, "%.*s", (int)n, p);
		}
		if (any)
			o += (size_t)snprintf(out + o, outsz - o, ";");
		http_next(&r);
	}
}

static const struct {
	const char	*in;
	const char	*want;
} cases[] = {
	/* framing and pipelining */
	{ "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET /;" },
	{ "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n"
	  "HEAD /c HTTP/1.1\r\nHost: a\r\n\r\n", "GET /a;GET /b;HEAD /c;" },
	{ "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
	  "GET /n HTTP/1.1\r\nHost: a\r\n\r\n", "POST /p;body=hello;GET /n;" },
	{ "POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n"
	  "GET /n HTTP/1.1\r\nHost: a\r\n\r\n",
	  "POST /p;body=hello world;GET /n;" },
	{ "GET / HTTP/1.0\r\n\r\n", "GET /;" },
	{ "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET /;" },
	{ "GET http://a/x?y HTTP/1.1\r\nHost: a\r\n\r\n", "GET http://a/x?y;" },
	{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nab", "POST /;body=abmore" },
	{ "GET / HTTP/1.1\r\nHost: a\r\n", "more" },
	/* a later HTTP/1.x is read as 1.1 (RFC 9110 2.5), Host and all */
	{ "GET / HTTP/1.2\r\nHost: a\r\n\r\n", "GET /;" },
	{ "GET /a HTTP/1.9\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a"
	  "\r\n\r\n", "GET /a;GET /b;" },
	{ "GET / HTTP/1.2\r\n\r\n", "E400" },
	/* chunk-ext with BWS around ";" and "=" (RFC 9112 7.1.1) */
#define CHUNKED(line) "POST / HTTP/1.1\r\nHost: a\r\n"			\
	"Transfer-Encoding: chunked\r\n\r\n" line "\r\nabc\r\n0\r\n\r\n"
	{ CHUNKED("3;q=1"), "POST /;body=abc;" },
	{ CHUNKED("3 ;q=1"), "POST /;body=abc;" },
	{ CHUNKED("3; q=1"), "POST /;body=abc;" },
	{ CHUNKED("3 ; q = 1"), "POST /;body=abc;" },
	{ CHUNKED("3\t;\tq\t=\t1"), "POST /;body=abc;" },
	{ CHUNKED("3  \t ;a;b = \"x y\""), "POST /;body=abc;" },
	/* ... and nowhere else on the chunk line */
	{ CHUNKED("3 "), "POST /;E400" },
	{ CHUNKED("3\t"), "POST /;E400" },
	{ CHUNKED("3 3"), "POST /;E400" },
	{ CHUNKED(" 3;q=1"), "POST /;E400" },
	{ CHUNKED("3 x;q=1"), "POST /;E400" },
	{ CHUNKED("3 \n;q=1"), "POST /;E400" },
	{ CHUNKED("3 \r;q=1"), "POST /;E400" },
#undef CHUNKED
	/* rejections */
	{ "GET / HTTP/1.1\r\n\r\n", "E400" },			/* no Host */
	{ "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "E400" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n", "E400" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
	  "Content-Length: 2\r\n\r\n", "E400" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", "E400" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", "E400" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", "E400" },	/* obs-fold */
	{ "GET / HTTP/1.1\r\nHost : a\r\n\r\n", "E400" },
	{ "GET / HTTP/1.1\nHost: a\n\n", "E400" },		/* bare LF */
	{ "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", "E400" },	/* bare CR */
	{ "GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n", "E400" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", "E501" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", "E501" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n", "E400" },
	{ "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "E400" },
	{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "zz\r\n", "POST /;E400" },
	{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "fffffffffffffffff\r\n", "POST /;E400" },
	{ "GET / HTTP/2.0\r\nHost: a\r\n\r\n", "E505" },
	{ "GET / HTTP/3.1\r\nHost: a\r\n\r\n", "E505" },
	{ "GET / HTTP/0.9\r\nHost: a\r\n\r\n", "E400" },
	{ "GET /\r\n\r\n", "E400" },				/* HTTP/0.9 */
	{ "FOO / HTTP/1.1\r\nHost: a\r\n\r\n", "E501" },
	{ "get / HTTP/1.1\r\nHost: a\r\n\r\n", "E501" },
	{ "this is not http\r\n\r\n", "E400" },
	{ "FOO /a b HTTP/1.1\r\nHost: a\r\n\r\n", "E400" },
	{ "FOO / HTTP/1.1", "more" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n", "E417" },
	{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n", "E413" },
	{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "65\r\n", "POST /;E413" },
};

START_TEST(test_cases)
{
	char whole[1024], bytewise[1024];
	const char *in = cases[_i].in;

	run(in, strlen(in), 0, 1024, 100, whole, sizeof(whole));
	ck_assert_msg(strcmp(whole, cases[_i].want) == 0,
	    "case %d: got '%s', want '%s'", _i, whole, cases[_i].want);
	run(in, strlen(in), 1, 1024, 100, bytewise, sizeof(bytewise));
	ck_assert_msg(strcmp(bytewise, cases[_i].want) == 0,
	    "case %d byte by byte: got '%s', want '%s'", _i, bytewise,
	    cases[_i].want);
}
END_TEST

START_TEST(test_header_limits)
{
	char in[2048], out[256];
	int n;

	/* request line alone over the limit: 414 */
	n = snprintf(in, sizeof(in), "GET /%0600d HTTP/1.1\r\nHost: a\r\n\r\n", 0);
	run(in, (size_t)n, 0, 512, 100, out, sizeof(out));
	ck_assert_str_eq(out, "E414");
	/* headers over the limit: 431 */
	n = snprintf(in, sizeof(in), "GET / HTTP/1.1\r\nHost: a\r\nX: %0600d\r\n\r\n", 0);
	run(in, (size_t)n, 0, 512, 100, out, sizeof(out));
	ck_assert_str_eq(out, "E431");
	run(in, (size_t)n, 7, 512, 100, out, sizeof(out));
	ck_assert_str_eq(out, "E431");
	/* exactly at the limit passes */
	n = snprintf(in, sizeof(in), "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
	run(in, (size_t)n, 0, (size_t)n, 100, out, sizeof(out));
	ck_assert_str_eq(out, "GET /;");
}
END_TEST

START_TEST(test_too_many_headers)
{
	char in[4000], out[256];
	int o = snprintf(in, sizeof(in), "GET / HTTP/1.1\r\nHost: a\r\n");

	for (int i = 0; i < MAX_HEADERS + 1; i++)
		o += snprintf(in + o, sizeof(in) - (size_t)o, "X%d: y\r\n", i);
	o += snprintf(in + o, sizeof(in) - (size_t)o, "\r\n");
	run(in, (size_t)o, 0, 4000, 100, out, sizeof(out));
	ck_assert_str_eq(out, "E431");
}
END_TEST

START_TEST(test_fields)
{
	static char buf[CAP];
	static const char in[] = "GET /x?q=1 HTTP/1.1\r\nHost: example\r\n"
	    "User-Agent:  ua/1  \r\nConnection: close\r\nExpect: 100-continue\r\n"
	    "Content-Length: 0\r\nEmpty:\r\n\r\n";
	struct http_reader r;
	const struct http_hdr *h;
	size_t room;
	char *p;

	http_reader_init(&r, buf, sizeof(buf), 1024, 100);
	p = http_space(&r, &room);
	memcpy(p, in, sizeof(in) - 1);
	http_filled(&r, sizeof(in) - 1);
	ck_assert_int_eq(http_parse_head(&r), PARSE_HEAD);
	ck_assert_int_eq(r.req.method, HTTP_GET);
	ck_assert_int_eq(r.req.minor, 1);
	ck_assert(!r.req.keep_alive);
	ck_assert(r.req.expect_continue);
	ck_assert_int_eq(r.req.content_length, 0);
	h = http_known(&r.req, HK_USER_AGENT);
	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq((int)h->vlen, 4);
	ck_assert(memcmp(h->val, "ua/1", 4) == 0);
	h = http_known(&r.req, HK_HOST);
	ck_assert(h->vlen == 7 && memcmp(h->val, "example", 7) == 0);
	ck_assert_int_eq(r.req.nhdr, 6);
	ck_assert_int_eq((int)r.req.hdr[5].vlen, 0);
	ck_assert(http_list_has("a, Chunked ;x", 13, "chunked"));
	ck_assert(!http_list_has("chunkedx", 8, "chunked"));
}
END_TEST

/* HTTP/1.2 is processed as 1.1: keep-alive by default, minor 1. */
START_TEST(test_later_minor)
{
	static char buf[CAP];
	static const char in[] = "GET / HTTP/1.2\r\nHost: a\r\n\r\n";
	struct http_reader r;
	size_t room;
	char *p;

	http_reader_init(&r, buf, sizeof(buf), 1024, 100);
	p = http_space(&r, &room);
	memcpy(p, in, sizeof(in) - 1);
	http_filled(&r, sizeof(in) - 1);
	ck_assert_int_eq(http_parse_head(&r), PARSE_HEAD);
	ck_assert_int_eq(r.req.major, 1);
	ck_assert_int_eq(r.req.minor, 1);
	ck_assert(r.req.keep_alive);
}
END_TEST

START_TEST(test_body_buffered)
{
	static char buf[CAP];
	static const char head[] = "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n";
	static const char part[] = "5\r\nhello\r\n";
	static const char rest[] = "0\r\n\r\nGET / HTTP/1.1\r\n";
	struct http_reader r;
	size_t room;
	char *p;

	http_reader_init(&r, buf, sizeof(buf), 1024, 100);
	p = http_space(&r, &room);
	memcpy(p, head, sizeof(head) - 1);
	memcpy(p + sizeof(head) - 1, part, sizeof(part) - 1);
	http_filled(&r, sizeof(head) - 1 + sizeof(part) - 1);
	ck_assert_int_eq(http_parse_head(&r), PARSE_HEAD);
	ck_assert(!http_body_buffered(&r));	/* the last chunk is missing */
	ck_assert_int_eq((int)http_pending(&r), (int)(sizeof(part) - 1));
	p = http_space(&r, &room);
	memcpy(p, rest, sizeof(rest) - 1);
	http_filled(&r, sizeof(rest) - 1);
	ck_assert(http_body_buffered(&r));
	/* looking ahead consumed nothing: the body is still there */
	const char *b;
	size_t n;
	ck_assert_int_eq(http_parse_body(&r, &b, &n), PARSE_BODY);
	ck_assert(n == 5 && memcmp(b, "hello", 5) == 0);
	ck_assert_int_eq(http_parse_body(&r, &b, &n), PARSE_DONE);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("reader");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_cases, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_header_limits);
	tcase_add_test(tc, test_too_many_headers);
	tcase_add_test(tc, test_fields);
	tcase_add_test(tc, test_later_minor);
	tcase_add_test(tc, test_body_buffered);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
