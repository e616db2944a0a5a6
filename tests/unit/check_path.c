/*
 * check_path - unit tests for worker/path.c. The table is mostly traversal
 * attempts; every success is also checked against the invariants the static
 * handler relies on, and a seeded random walk compares path_normalize() with
 * a straightforward left-to-right reference written here.
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"

/*
 * The result must start with '/', hold no NUL before its end, no control
 * byte, no empty segment except after a trailing '/', and no segment that
 * starts with '.' (which covers "." and "..").
 */
static void
assert_clean(const char *in, const char *out, size_t n)
{
	size_t	 i;

	ck_assert_msg(n > 0 && out[0] == '/', "%s: no leading /", in);
	ck_assert_msg(strlen(out) == n, "%s: length %zu, strlen %zu", in, n,
	    strlen(out));
	for (i = 0; i < n; i++) {
		if (out[i] != '/')
			continue;
		ck_assert_msg(i + 1 == n || out[i + 1] != '/',
		    "%s -> %s: empty segment", in, out);
		ck_assert_msg(i + 1 == n || out[i + 1] != '.',
		    "%s -> %s: dot segment", in, out);
	}
}

/*
 * Copies n bytes to a heap block of exactly n bytes, so that ASan and
 * valgrind see any read past the length the function was given.
 */
static char *
dup_exact(const char *s, size_t n)
{
	char	*p = malloc(n > 0 ? n : 1);

	ck_assert_ptr_nonnull(p);
	memcpy(p, s, n);
	return p;
}

static const struct {
	const char	*in;
	int		 status;
	const char	*out;	/* when status is 0 */
} cases[] = {
	/* plain paths */
	{ "/",				0,	"/" },
	{ "/index.html",		0,	"/index.html" },
	{ "/a/b/c",			0,	"/a/b/c" },
	{ "/a/b/",			0,	"/a/b/" },
	{ "/a.b/c.d.e",			0,	"/a.b/c.d.e" },
	{ "/a.",			0,	"/a." },
	{ "/a..b",			0,	"/a..b" },
	{ "/a/b..",			0,	"/a/b.." },
	{ "/a/b...",			0,	"/a/b..." },
	{ "/~user/x",			0,	"/~user/x" },
	{ "/a b",			0,	"/a b" },
	/* slashes collapse */
	{ "//",				0,	"/" },
	{ "///",			0,	"/" },
	{ "//etc",			0,	"/etc" },
	{ "//etc//passwd",		0,	"/etc/passwd" },
	{ "/a//b///c////",		0,	"/a/b/c/" },
	/* dot segments */
	{ "/.",				0,	"/" },
	{ "/./",			0,	"/" },
	{ "/./.",			0,	"/" },
	{ "/a/./b//c",			0,	"/a/b/c" },
	{ "/a/.",			0,	"/a/" },
	{ "/a/./",			0,	"/a/" },
	{ "/a/b/..",			0,	"/a/" },
	{ "/a/b/../",			0,	"/a/" },
	{ "/a/b/../c",			0,	"/a/c" },
	{ "/a/..",			0,	"/" },
	{ "/a/../",			0,	"/" },
	{ "/a/../b/../c",		0,	"/c" },
	{ "/a//../b",			0,	"/b" },
	{ "/a/b/./../c/",		0,	"/a/c/" },
	{ "/a/b/c/../../..",		0,	"/" },
	{ "/a/b/c/../../../d",		0,	"/d" },
	{ "/a/b/c/../../../d/.",	0,	"/d/" },
	{ "/a/./././b",			0,	"/a/b" },
	/* encoded dots are dots */
	{ "/%2e",			0,	"/" },
	{ "/%2e/x",			0,	"/x" },
	{ "/a/%2e/b",			0,	"/a/b" },
	{ "/a/%2e%2e/x",		0,	"/x" },
	{ "/a/%2E%2E/x",		0,	"/x" },
	{ "/a/.%2e/x",			0,	"/x" },
	{ "/a/%2e./x",			0,	"/x" },
	{ "/a/%2e%2e",			0,	"/" },
	{ "/a%2e",			0,	"/a." },
	/* percent-decoding */
	{ "/%41%42",			0,	"/AB" },
	{ "/%7e%7E",			0,	"/~~" },
	{ "/a%20b",			0,	"/a b" },
	{ "/%25",			0,	"/%" },
	{ "/%252e%252e",		0,	"/%2e%2e" },
	{ "/%3f%23",			0,	"/?#" },
	{ "/%c3%a9",			0,	"/\xc3\xa9" },
	{ "/%c0%ae%c0%ae/",		0,	"/\xc0\xae\xc0\xae/" },
	{ "/%c0%af",			0,	"/\xc0\xaf" },
	{ "/%e0%80%ae%e0%80%ae/x",	0,	"/\xe0\x80\xae\xe0\x80\xae/x" },
	{ "/%ff",			0,	"/\xff" },
	/* an encoded control byte other than NUL is a file name byte */
	{ "/a%0ab",			0,	"/a\nb" },
	{ "/a%7f",			0,	"/a\x7f" },
	/* backslash is an ordinary byte, raw or encoded */
	{ "/a\\b",			0,	"/a\\b" },
	{ "/a%5cb",			0,	"/a\\b" },
	{ "/a/%5c..%5c/b",		0,	"/a/\\..\\/b" },
	{ "/a/..\\../b",		404,	NULL },
	{ "/..\\..\\etc",		404,	NULL },
	{ "/%5c%2e%2e",			0,	"/\\.." },
	/* raw bytes above 0x7f */
	{ "/caf\xc3\xa9",		0,	"/caf\xc3\xa9" },

	/* climbing above the root */
	{ "/..",			400,	NULL },
	{ "/../",			400,	NULL },
	{ "/../etc/passwd",		400,	NULL },
	{ "/a/../..",			400,	NULL },
	{ "/a/../../b",			400,	NULL },
	{ "/./../x",			400,	NULL },
	{ "/a/b/c/../../../..",		400,	NULL },
	{ "/a/b/c/../../../../d",	400,	NULL },
	{ "//../x",			400,	NULL },
	{ "/%2e%2e",			400,	NULL },
	{ "/%2e%2e/x",			400,	NULL },
	{ "/%2E%2E/x",			400,	NULL },
	{ "/%2e./x",			400,	NULL },
	{ "/.%2e/x",			400,	NULL },
	{ "/a/%2e%2e/%2e%2e/x",		400,	NULL },
	{ "/a/%2e%2e/%2e%2e/%2e%2e/etc/passwd", 400, NULL },
	{ "/../a/..",			400,	NULL },
	/* encoded '/' and NUL */
	{ "/a/..%2f..%2fx",		400,	NULL },
	{ "/a/..%2F..%2Fx",		400,	NULL },
	{ "/x%2Fy",			400,	NULL },
	{ "/x%2fy",			400,	NULL },
	{ "/%2f",			400,	NULL },
	{ "/%2f%2e%2e",			400,	NULL },
	{ "/%00",			400,	NULL },
	{ "/a%00b",			400,	NULL },
	{ "/index.html%00.txt",		400,	NULL },
	/* bad escapes */
	{ "/%",				400,	NULL },
	{ "/a%",			400,	NULL },
	{ "/%2",			400,	NULL },
	{ "/a/%2",			400,	NULL },
	{ "/%zz",			400,	NULL },
	{ "/%z1",			400,	NULL },
	{ "/%1z",			400,	NULL },
	{ "/%%",			400,	NULL },
	{ "/%%41",			400,	NULL },
	{ "/%-1",			400,	NULL },
	{ "/%+1",			400,	NULL },
	{ "/% 2",			400,	NULL },
	{ "/%0x41",			400,	NULL },
	{ "/%g0",			400,	NULL },
	{ "/%2/",			400,	NULL },
	{ "/%%2e%2e",			400,	NULL },
	/* raw control bytes */
	{ "/a\x01" "b",			400,	NULL },
	{ "/a\tb",			400,	NULL },
	{ "/a\nb",			400,	NULL },
	{ "/a\rb",			400,	NULL },
	{ "/a\x1f",			400,	NULL },
	{ "/a\x7f",			400,	NULL },
	{ "/\x1b[0m",			400,	NULL },
	/* not absolute */
	{ "",				400,	NULL },
	{ "a",				400,	NULL },
	{ "a/b",			400,	NULL },
	{ "./a",			400,	NULL },
	{ "../a",			400,	NULL },
	{ "%2f",			400,	NULL },
	{ "%2fa",			400,	NULL },
	{ "*",				400,	NULL },
	{ "\\a",			400,	NULL },
	{ " /a",			400,	NULL },
	{ "http://h/a",			400,	NULL },

	/* hidden files */
	{ "/.git/config",		404,	NULL },
	{ "/.git",			404,	NULL },
	{ "/.git/",			404,	NULL },
	{ "/.env",			404,	NULL },
	{ "/a/.htaccess",		404,	NULL },
	{ "/a/b/.ssh/id_rsa",		404,	NULL },
	{ "/%2egit/config",		404,	NULL },
	{ "/%2Eenv",			404,	NULL },
	{ "/...",			404,	NULL },
	{ "/.../x",			404,	NULL },
	{ "/....",			404,	NULL },
	{ "/.a",			404,	NULL },
	{ "/%2e%2e%2e",			404,	NULL },
	{ "/..a",			404,	NULL },
	{ "/.%2e.",			404,	NULL },
	/* even when a later ".." would remove it */
	{ "/a/.hidden/../b",		404,	NULL },
	{ "/.git/..",			404,	NULL },
	/* 400 wins over 404, wherever it is */
	{ "/.git/%zz",			400,	NULL },
	{ "/%zz/.git",			400,	NULL },
	{ "/.git/../..",		400,	NULL },
	{ "/../.git",			400,	NULL },
	{ "/.git/%00",			400,	NULL },
	{ "/.git/\x01",			400,	NULL },
};

START_TEST(test_table)
{
	char	 out[256], *in;
	size_t	 n = 9999;
	int	 st;

	memset(out, 'Z', sizeof(out));
	in = dup_exact(cases[_i].in, strlen(cases[_i].in));
	st = path_normalize(in, strlen(cases[_i].in), out, sizeof(out), &n);
	free(in);
	ck_assert_msg(st == cases[_i].status, "\"%s\": status %d, want %d",
	    cases[_i].in, st, cases[_i].status);
	if (st != 0) {
		ck_assert_uint_eq(n, 9999);
		return;
	}
	ck_assert_msg(strcmp(out, cases[_i].out) == 0,
	    "\"%s\": got \"%s\", want \"%s\"", cases[_i].in, out,
	    cases[_i].out);
	ck_assert_uint_eq(n, strlen(cases[_i].out));
	assert_clean(cases[_i].in, out, n);
}
END_TEST

/* The length is authoritative: bytes past len, even a NUL, are not read. */
START_TEST(test_length)
{
	static const char in[] = "/abc/../def/.git";
	char	 out[64];
	size_t	 n;

	ck_assert_int_eq(path_normalize(in, 4, out, sizeof(out), &n), 0);
	ck_assert_str_eq(out, "/abc");
	ck_assert_int_eq(path_normalize(in, 5, out, sizeof(out), &n), 0);
	ck_assert_str_eq(out, "/abc/");
	ck_assert_int_eq(path_normalize(in, 6, out, sizeof(out), &n), 0);
	ck_assert_str_eq(out, "/abc/");
	ck_assert_int_eq(path_normalize(in, 7, out, sizeof(out), &n), 0);
	ck_assert_str_eq(out, "/");
	ck_assert_int_eq(path_normalize(in, 11, out, sizeof(out), &n), 0);
	ck_assert_str_eq(out, "/def");
	ck_assert_int_eq(path_normalize(in, strlen(in), out, sizeof(out), &n),
	    404);
	ck_assert_int_eq(path_normalize(in, 0, out, sizeof(out), &n), 400);
	ck_assert_int_eq(path_normalize(NULL, 0, out, sizeof(out), &n), 400);
	/* A raw NUL inside the given length is a control byte. */
	ck_assert_int_eq(path_normalize("/a\0b", 4, out, sizeof(out), &n),
	    400);
	ck_assert_int_eq(path_normalize("/\0", 2, out, sizeof(out), &n), 400);
	/* An escape cut by len is truncated even if the bytes after fit. */
	ck_assert_int_eq(path_normalize("/%41", 3, out, sizeof(out), &n), 400);
	ck_assert_int_eq(path_normalize("/%41", 2, out, sizeof(out), &n), 400);
	ck_assert_int_eq(path_normalize("/%41", 4, out, sizeof(out), &n), 0);
	ck_assert_str_eq(out, "/A");
}
END_TEST

/* 414 when the result and its NUL do not fit; nothing past outsz written. */
START_TEST(test_outsz)
{
	char	 out[64];
	size_t	 n;

	memset(out, 'Z', sizeof(out));
	ck_assert_int_eq(path_normalize("/abc", 4, out, 5, &n), 0);
	ck_assert_str_eq(out, "/abc");
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(path_normalize("/abc", 4, out, 4, &n), 414);
	ck_assert_int_eq(path_normalize("/abc", 4, out, 1, &n), 414);
	ck_assert_int_eq(path_normalize("/abc", 4, out, 0, &n), 414);
	ck_assert_int_eq(path_normalize("/", 1, out, 1, &n), 414);
	ck_assert_int_eq(path_normalize("/", 1, out, 0, &n), 414);
	ck_assert_int_eq(path_normalize("/", 1, out, 2, &n), 0);
	ck_assert_str_eq(out, "/");
	ck_assert_int_eq(path_normalize("/abc/", 5, out, 6, &n), 0);
	ck_assert_str_eq(out, "/abc/");
	ck_assert_int_eq(path_normalize("/abc/", 5, out, 5, &n), 414);
	ck_assert_int_eq(path_normalize("/abc/.", 6, out, 5, &n), 414);
	/* Decoding shrinks: "/%41%42" is 3 bytes. */
	ck_assert_int_eq(path_normalize("/%41%42", 7, out, 4, &n), 0);
	ck_assert_str_eq(out, "/AB");
	ck_assert_int_eq(path_normalize("/%41%42", 7, out, 3, &n), 414);

	/* Nothing is written past outsz, even on success. */
	memset(out, 'Z', sizeof(out));
	ck_assert_int_eq(path_normalize("/a/b/c", 6, out, 7, &n), 0);
	ck_assert_int_eq(out[7], 'Z');
	memset(out, 'Z', sizeof(out));
	ck_assert_int_eq(path_normalize("/a/b/c", 6, out, 6, &n), 414);
	ck_assert_int_eq(out[6], 'Z');

	/* 400 and 404 win over 414. */
	ck_assert_int_eq(path_normalize("/aaaa/%zz", 9, out, 2, &n), 400);
	ck_assert_int_eq(path_normalize("/aaaa/.git", 10, out, 2, &n), 404);
	ck_assert_int_eq(path_normalize("/aaaa/../..", 11, out, 2, &n), 400);
}
END_TEST

/*
 * Only the result must fit: a long intermediate path that ".." segments
 * later remove does not make 414.
 */
START_TEST(test_long_intermediate)
{
	char	 in[8192], out[16];
	size_t	 len = 0, n;
	int	 i;

	for (i = 0; i < 500; i++) {
		memcpy(in + len, "/abcdefgh", 9);
		len += 9;
	}
	for (i = 0; i < 500; i++) {
		memcpy(in + len, "/..", 3);
		len += 3;
	}
	memcpy(in + len, "/x", 2);
	len += 2;
	ck_assert_int_eq(path_normalize(in, len, out, sizeof(out), &n), 0);
	ck_assert_str_eq(out, "/x");
	ck_assert_uint_eq(n, 2);

	/* One ".." more than names: above the root. */
	memcpy(in + len - 2, "/../x", 5);
	ck_assert_int_eq(path_normalize(in, len + 3, out, sizeof(out), &n),
	    400);
}
END_TEST

/* Deep and wide inputs: the result is built in one piece. */
START_TEST(test_big)
{
	static char	 in[65536], out[65536 + 16];
	size_t		 len = 0, n;

	while (len + 2 <= sizeof(in)) {
		in[len++] = '/';
		in[len++] = 'a';
	}
	ck_assert_int_eq(path_normalize(in, len, out, len, &n), 414);
	ck_assert_int_eq(path_normalize(in, len, out, len + 1, &n), 0);
	ck_assert_uint_eq(n, len);
	ck_assert_int_eq(memcmp(in, out, len), 0);
	assert_clean("big", out, n);
}
END_TEST

/*
 * The reference: a plain left-to-right stack over a big buffer, written
 * differently on purpose. Same contract, same error precedence.
 */
static int
ref_normalize(const char *in, size_t len, char *out, size_t outsz,
    size_t *outlen)
{
	char	 buf[1024], seg[1024], hex[3];
	size_t	 n = 0, sl, i;
	bool	 hidden = false, trailing = false;
	unsigned char c;

	if (len == 0 || in[0] != '/')
		return 400;
	for (i = 1;; i++) {
		for (sl = 0; i < len && in[i] != '/'; i++) {
			c = (unsigned char)in[i];
			if (c < 0x20 || c == 0x7f)
				return 400;
			if (c == '%') {
				if (i + 2 >= len ||
				    !strchr("0123456789abcdefABCDEF", in[i + 1]) ||
				    !strchr("0123456789abcdefABCDEF", in[i + 2]) ||
				    in[i + 1] == '\0' || in[i + 2] == '\0')
					return 400;
				hex[0] = in[i + 1];
				hex[1] = in[i + 2];
				hex[2] = '\0';
				c = (unsigned char)strtol(hex, NULL, 16);
				if (c == 0 || c == '/')
					return 400;
				i += 2;
			}
			seg[sl++] = (char)c;
		}
		if (sl == 0 || (sl == 1 && seg[0] == '.'))
			trailing = true;
		else if (sl == 2 && seg[0] == '.' && seg[1] == '.') {
			if (n == 0)
				return 400;
			while (buf[--n] != '/')
				continue;
			trailing = true;
		} else {
			if (seg[0] == '.')
				hidden = true;
			buf[n++] = '/';
			memcpy(buf + n, seg, sl);
			n += sl;
			trailing = false;
		}
		if (i >= len)
			break;
	}
	if (hidden)
		return 404;
	if (n == 0 || trailing)
		buf[n++] = '/';
	if (n + 1 > outsz)
		return 414;
	memcpy(out, buf, n);
	out[n] = '\0';
	*outlen = n;
	return 0;
}

/* xorshift64: fixed seed, same sequence on every libc. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

START_TEST(test_random)
{
	static const char alpha[] = { '/', '.', '%', '2', 'e', 'f', 'a' };
	char		 in[64], out[64], ref[64], again[64], *hin;
	size_t		 len, outsz, n, rn, an, i;
	uint64_t	 seed = 0x9e3779b97f4a7c15ULL;
	int		 iter, st, rst, ok = 0, counts[4] = { 0, 0, 0, 0 };

	for (iter = 0; iter < 20000; iter++) {
		len = 1 + rnd(&seed) % 40;
		for (i = 0; i < len; i++)
			in[i] = alpha[rnd(&seed) % sizeof(alpha)];
		/* Mostly absolute paths; a few that are not. */
		if (rnd(&seed) % 16 != 0)
			in[0] = '/';
		in[len] = '\0';
		outsz = 1 + rnd(&seed) % 48;

		hin = dup_exact(in, len);
		st = path_normalize(hin, len, out, outsz, &n);
		free(hin);
		rst = ref_normalize(in, len, ref, outsz, &rn);
		ck_assert_msg(st == rst, "\"%s\" (outsz %zu): %d, reference %d",
		    in, outsz, st, rst);
		ck_assert_msg(st == 0 || st == 400 || st == 404 || st == 414,
		    "\"%s\": status %d", in, st);
		if (in[0] != '/')
			ck_assert_int_eq(st, 400);
		counts[st == 0 ? 0 : st == 400 ? 1 : st == 404 ? 2 : 3]++;
		if (st != 0)
			continue;
		ok++;
		ck_assert_msg(n == rn && strcmp(out, ref) == 0,
		    "\"%s\": \"%s\", reference \"%s\"", in, out, ref);
		ck_assert_uint_lt(n, outsz);
		assert_clean(in, out, n);
		/* Normalising a normalised path (no '%' left) changes nothing. */
		if (memchr(out, '%', n) == NULL) {
			ck_assert_int_eq(path_normalize(out, n, again,
			    sizeof(again), &an), 0);
			ck_assert_str_eq(again, out);
		}
	}
	/* The alphabet reaches every outcome often enough to mean something. */
	for (i = 0; i < 4; i++)
		ck_assert_msg(counts[i] > 500, "outcome %zu only %d times", i,
		    counts[i]);
	ck_assert_int_eq(ok, counts[0]);
}
END_TEST

/* path_location: the Location of the slash-adding redirect. */
static const struct {
	const char	*dir;
	const char	*query;
	int		 status;
	const char	*out;	/* when status is 0 */
} loc_cases[] = {
	{ "/d",			"",		0,	"/d/" },
	{ "/d",			"?x=1",		0,	"/d/?x=1" },
	{ "/a/b",		"?",		0,	"/a/b/?" },
	{ "/a b",		"",		0,	"/a%20b/" },
	{ "/\\evil.example",	"",		0,	"/%5Cevil.example/" },
	{ "/100%",		"",		0,	"/100%25/" },
	{ "/q?#",		"",		0,	"/q%3F%23/" },
	{ "/\xc3\xa9\x01\x7f",	"",		0,	"/%C3%A9%01%7F/" },
	{ "/a:b@c!$&'()*+,;=-._~z", "",		0,
	  "/a:b@c!$&'()*+,;=-._~z/" },
	/* the query keeps its escapes; only what a query may not hold is
	 * encoded */
	{ "/d",			"?a=%20b/c?d",	0,	"/d/?a=%20b/c?d" },
	{ "/d",			"?\"<>\\^`{|}\xff", 0,
	  "/d/?%22%3C%3E%5C%5E%60%7B%7C%7D%FF" },
	/* never "//host", never the root or a slashed path */
	{ "//evil.example",	"",		500,	NULL },
	{ "//",			"",		500,	NULL },
	{ "/",			"",		500,	NULL },
	{ "/a/",		"",		500,	NULL },
	{ "evil.example",	"",		500,	NULL },
	{ "",			"",		500,	NULL },
};

START_TEST(test_location)
{
	const char	*dir = loc_cases[_i].dir, *q = loc_cases[_i].query;
	char		 out[128];
	size_t		 n = 0;
	int		 st;

	st = path_location(dir, strlen(dir), q, strlen(q), out, sizeof(out),
	    &n);
	ck_assert_msg(st == loc_cases[_i].status, "\"%s\" \"%s\": %d, want %d",
	    dir, q, st, loc_cases[_i].status);
	if (st != 0)
		return;
	ck_assert_str_eq(out, loc_cases[_i].out);
	ck_assert_uint_eq(n, strlen(out));
}
END_TEST

START_TEST(test_location_outsz)
{
	char	 out[16];
	size_t	 n;

	/* "/a%20/" is 6 bytes and its NUL: 7 fit, 6 do not. */
	ck_assert_int_eq(path_location("/a ", 3, "", 0, out, 6, &n), 414);
	ck_assert_int_eq(path_location("/a ", 3, "", 0, out, 7, &n), 0);
	ck_assert_str_eq(out, "/a%20/");
	ck_assert_int_eq(path_location("/a", 2, "?x", 2, out, 5, &n), 414);
	ck_assert_int_eq(path_location("/a", 2, "?x", 2, out, 6, &n), 0);
	ck_assert_str_eq(out, "/a/?x");
	ck_assert_int_eq(path_location("/a", 2, "", 0, out, 0, &n), 414);
}
END_TEST

/*
 * For random targets: the Location built from the normalised path starts
 * with one '/' (then neither '/' nor '\'), and normalises back to that
 * path with the slash added.
 */
START_TEST(test_location_roundtrip)
{
	static const char alpha[] = { '/', '.', '%', '2', '5', 'c', 'e', 'f',
	    'a', '\\', ' ', '?', '#', '\xe9' };
	char		 in[64], norm[64], loc[256], back[256];
	size_t		 len, n, ln, bn, i;
	uint64_t	 seed = 0x2545f4914f6cdd1dULL;
	int		 iter, tried = 0;

	for (iter = 0; iter < 20000; iter++) {
		len = 1 + rnd(&seed) % 40;
		for (i = 0; i < len; i++)
			in[i] = alpha[rnd(&seed) % sizeof(alpha)];
		in[0] = '/';
		if (path_normalize(in, len, norm, sizeof(norm), &n) != 0 ||
		    norm[n - 1] == '/')
			continue;
		tried++;
		ck_assert_int_eq(path_location(norm, n, NULL, 0, loc,
		    sizeof(loc), &ln), 0);
		ck_assert_msg(loc[0] == '/' && loc[1] != '/' && loc[1] != '\\',
		    "\"%.*s\": Location \"%s\"", (int)len, in, loc);
		ck_assert_msg(memchr(loc, '\\', ln) == NULL &&
		    memchr(loc, '?', ln) == NULL && memchr(loc, '#', ln) == NULL,
		    "\"%.*s\": Location \"%s\"", (int)len, in, loc);
		ck_assert_int_eq(path_normalize(loc, ln, back, sizeof(back),
		    &bn), 0);
		ck_assert_msg(bn == n + 1 && memcmp(back, norm, n) == 0 &&
		    back[n] == '/', "\"%.*s\": \"%s\" came back as \"%s\"",
		    (int)len, in, norm, back);
	}
	ck_assert_msg(tried > 1000, "only %d paths tried", tried);
}
END_TEST

static Suite *
path_suite(void)
{
	Suite	*s = suite_create("path");
	TCase	*tc;

	tc = tcase_create("table");
	tcase_add_loop_test(tc, test_table, 0,
	    sizeof(cases) / sizeof(cases[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("bounds");
	tcase_add_test(tc, test_length);
	tcase_add_test(tc, test_outsz);
	tcase_add_test(tc, test_long_intermediate);
	tcase_add_test(tc, test_big);
	suite_add_tcase(s, tc);

	tc = tcase_create("property");
	tcase_add_test(tc, test_random);
	suite_add_tcase(s, tc);

	tc = tcase_create("location");
	tcase_add_loop_test(tc, test_location, 0,
	    sizeof(loc_cases) / sizeof(loc_cases[0]));
	tcase_add_test(tc, test_location_outsz);
	tcase_add_test(tc, test_location_roundtrip);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(path_suite());
	int	 failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
