/*
 * check_chunk - the body framing (common/chunk.c) that the worker's reader
 * and the keeper share: Content-Length and chunked bodies, every framing
 * error and limit, and the same verdict whether the bytes arrive whole,
 * one at a time, or through chunk_frame() (the keeper's way).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"

#define MAX_HEAD	64
#define MAX_BODY	100

/*
 * Frames in (len bytes) fed in pieces of step bytes (0: whole) and
 * describes the outcome: "D<end>:<data>" when the body ends at <end>,
 * "A:<data>" when it wants more, "E<status>@<pos>" on an error. With
 * frame_only, chunk_frame() runs instead of chunk_step() and no data is
 * described.
 */
static void
run(bool chunked, long long length, const char *in, size_t len, size_t step,
    bool frame_only, char *out, size_t outsz)
{
	struct chunk b;
	size_t pos = 0, avail = 0, o = 0;
	char data[1024];
	size_t nd = 0;
	int rc;

	chunk_start(&b, chunked, length, MAX_BODY, MAX_HEAD);
	for (;;) {
		const char *p;
		size_t n;

		if (frame_only)
			rc = chunk_frame(&b, in, avail, &pos);
		else
			rc = chunk_step(&b, in, avail, &pos, &p, &n);
		if (rc == CHUNK_DATA) {
			ck_assert(p >= in && p + n <= in + avail && n > 0);
			ck_assert_uint_lt(nd + n, sizeof(data));
			memcpy(data + nd, p, n);
			nd += n;
			continue;
		}
		if (rc == CHUNK_AGAIN && avail < len) {
			ck_assert_uint_eq(pos, avail);
			avail = step == 0 || avail + step > len ? len :
			    avail + step;
			continue;
		}
		break;
	}
	if (rc == CHUNK_DONE)
		o = (size_t)snprintf(out, outsz, "D%zu:", pos);
	else if (rc == CHUNK_AGAIN)
		o = (size_t)snprintf(out, outsz, "A:");
	else {
		snprintf(out, outsz, "E%d@%zu", rc, pos);
		return;
	}
	if (!frame_only)
		snprintf(out + o, outsz - o, "%.*s", (int)nd, data);
}

static const struct {
	bool		 chunked;
	long long	 length;
	const char	*in;
	const char	*want;
} cases[] = {
	/* Content-Length */
	{ false, 5, "hello", "D5:hello" },
	{ false, 5, "helloGET /", "D5:hello" },
	{ false, 5, "hel", "A:hel" },
	{ false, 0, "GET /", "D0:" },
	{ false, -1, "", "D0:" },
	/* chunked: sizes, extensions, trailers, what follows */
	{ true, -1, "5\r\nhello\r\n0\r\n\r\n", "D15:hello" },
	{ true, -1, "5\r\nhello\r\n6;a=b\r\n world\r\n0\r\n\r\nGET /",
	  "D30:hello world" },
	{ true, -1, "5 ;a\r\nhello\r\n0\r\n\r\n", "D18:hello" },
	{ true, -1, "5\t;a=\"x y\"\r\nhello\r\n0;z\r\n\r\n", "D26:hello" },
	{ true, -1, "A\r\n0123456789\r\n0\r\n\r\n", "D20:0123456789" },
	{ true, -1, "0005\r\nhello\r\n0\r\n\r\n", "D18:hello" },
	{ true, -1, "5\r\nhello\r\n0\r\nX-T: 1\r\nY:\r\n\r\n", "D27:hello" },
	{ true, -1, "0\r\n\r\n", "D5:" },
	{ true, -1, "5\r\nhello\r\n", "A:hello" },
	{ true, -1, "5\r\nhel", "A:hel" },
	{ true, -1, "", "A:" },
	/* bad hex, overflow, signs and prefixes */
	{ true, -1, "x\r\n", "E400@1" },
	{ true, -1, "0x5\r\nhello\r\n0\r\n\r\n", "E400@2" },
	{ true, -1, "-5\r\n", "E400@1" },
	{ true, -1, "+5\r\n", "E400@1" },
	{ true, -1, "\r\nhello\r\n", "E400@1" },
	{ true, -1, " 5\r\n", "E400@1" },
	{ true, -1, "1000000000000000\r\n", "E400@16" },	/* 16 digits */
	{ true, -1, "10000000000000005\r\n", "E400@16" },
	/* the size line: BWS only before ";", CRLF only */
	{ true, -1, "5 \r\nhello\r\n0\r\n\r\n", "E400@3" },
	{ true, -1, "5 5\r\n", "E400@3" },
	{ true, -1, "5\nhello\r\n", "E400@2" },
	{ true, -1, "5;a\nhello\r\n", "E400@4" },
	{ true, -1, "5;a\rb\r\n", "E400@5" },
	{ true, -1, "5;a\x01\r\n", "E400@4" },
	/* a size line too long: an extension over max_head */
	{ true, -1, "5;aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "\r\n", "E400@67" },
	{ true, -1, "5                                                                  "
	  ";\r\n", "E400@67" },
	/* missing CRLF after the data */
	{ true, -1, "5\r\nhello0\r\n\r\n", "E400@9" },
	{ true, -1, "5\r\nhelloGET / HTTP/1.1\r\n", "E400@9" },
	{ true, -1, "5\r\nhello\n0\r\n\r\n", "E400@9" },
	{ true, -1, "5\r\nhello\r0\r\n\r\n", "E400@10" },
	{ true, -1, "3\r\nhello\r\n0\r\n\r\n", "E400@7" },
	/* the end: bare LFs, a request read as trailers, obs-fold */
	{ true, -1, "5\r\nhello\r\n0\n\n", "E400@12" },
	{ true, -1, "5\r\nhello\r\n0\r\nGET /x HTTP/1.1\r\n", "E400@17" },
	{ true, -1, "0\r\nX: y\n\r\n", "E400@8" },
	{ true, -1, "0\r\nX: y\r\n z\r\n\r\n", "E400@10" },
	{ true, -1, "0\r\n: y\r\n\r\n", "E400@4" },
	{ true, -1, "0\r\nX\r\n\r\n", "E400@5" },
	{ true, -1, "0\r\n\r\r", "E400@5" },
	/* a trailer section over max_head: 431 */
	{ true, -1, "0\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "\r\n\r\n", "E431@69" },
	/* the decoded size over max_body (100): 413, at the size line */
	{ true, -1, "65\r\n", "E413@4" },
	{ true, -1, "fffffff\r\nhello\r\n", "E413@9" },
	{ true, -1, "32\r\n01234567890123456789012345678901234567890123456789\r\n"
	  "33\r\n", "E413@60" },
	{ true, -1, "64\r\n", "A:" },		/* exactly 100: fine */
};

START_TEST(test_cases)
{
	char whole[1200], bytes[1200], framed[1200];
	size_t len = strlen(cases[_i].in);

	run(cases[_i].chunked, cases[_i].length, cases[_i].in, len, 0, false,
	    whole, sizeof(whole));
	ck_assert_msg(strcmp(whole, cases[_i].want) == 0,
	    "case %d \"%s\": got %s, want %s", _i, cases[_i].in, whole,
	    cases[_i].want);
	/* the same, one byte at a time */
	run(cases[_i].chunked, cases[_i].length, cases[_i].in, len, 1, false,
	    bytes, sizeof(bytes));
	ck_assert_msg(strcmp(bytes, whole) == 0, "case %d byte by byte: %s",
	    _i, bytes);
	/* and as the keeper frames it: the same end, or the same error */
	run(cases[_i].chunked, cases[_i].length, cases[_i].in, len, 3, true,
	    framed, sizeof(framed));
	ck_assert_msg(strncmp(framed, whole, strcspn(whole, ":") + 1) == 0,
	    "case %d through chunk_frame: %s", _i, framed);
}
END_TEST

/*
 * Framing may not dwarf the data: 1-byte chunks with long extensions are
 * cut with 400, at the same byte however the input is split (the verdict
 * is taken where lines end, never in the middle of one).
 */
START_TEST(test_framing_flood)
{
	char in[4096], first[64], other[64];
	size_t len = 0;

	for (int i = 0; i < 40; i++)
		len += (size_t)snprintf(in + len, sizeof(in) - len,
		    "1;%.40s\r\nx\r\n", "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
	len += (size_t)snprintf(in + len, sizeof(in) - len, "0\r\n\r\n");
	run(true, -1, in, len, 0, false, first, sizeof(first));
	ck_assert_msg(strncmp(first, "E400@", 5) == 0, "got %s", first);
	for (size_t step = 1; step < 80; step++) {
		run(true, -1, in, len, step, false, other, sizeof(other));
		ck_assert_msg(strcmp(other, first) == 0, "step %zu: %s, whole: %s",
		    step, other, first);
	}
	/* 47 bytes a chunk, 46 of framing: cut where the third size line
	 * ends (136 framing bytes > 64 + 2 * 2 + 64) */
	ck_assert_str_eq(first, "E400@138");
	/* a few chunks with short extensions pass */
	len = 0;
	for (int i = 0; i < 10; i++)
		len += (size_t)snprintf(in + len, sizeof(in) - len,
		    "1;e\r\nx\r\n");
	len += (size_t)snprintf(in + len, sizeof(in) - len, "0\r\n\r\n");
	run(true, -1, in, len, 0, false, first, sizeof(first));
	ck_assert_msg(first[0] == 'D', "got %s", first);
}
END_TEST

/* A body framed in parts keeps its place: the keeper frames each read. */
START_TEST(test_frame_resumes)
{
	static const char in[] = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT";
	struct chunk b;
	size_t pos = 0;

	chunk_start(&b, true, -1, MAX_BODY, MAX_HEAD);
	ck_assert_int_eq(chunk_frame(&b, in, 7, &pos), CHUNK_AGAIN);
	ck_assert_uint_eq(pos, 7);
	ck_assert_int_eq(chunk_frame(&b, in, 20, &pos), CHUNK_AGAIN);
	ck_assert_uint_eq(pos, 20);
	ck_assert_int_eq(chunk_frame(&b, in, sizeof(in) - 1, &pos), CHUNK_DONE);
	ck_assert_uint_eq(pos, sizeof(in) - 1 - 4);
	ck_assert_int_eq((int)b.declared, 11);
	/* done stays done, and consumes nothing more */
	ck_assert_int_eq(chunk_frame(&b, in, sizeof(in) - 1, &pos), CHUNK_DONE);
	ck_assert_uint_eq(pos, sizeof(in) - 1 - 4);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("chunk");
	TCase *tc = tcase_create("framing");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_cases, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_framing_flood);
	tcase_add_test(tc, test_frame_resumes);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
