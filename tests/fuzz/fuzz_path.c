/*
 * fuzz_path - libFuzzer target for path_normalize() (worker/path.c).
 *
 * Input: byte 0 picks the output size (0: PATH_BUF_SIZE, else 1..255, so
 * that 414 is reachable); the rest is the path. Invariants:
 *  - on 0: the result starts with '/', has no NUL, no empty, "." or ".."
 *    segment and no dotfile, fits (outlen < outsz, NUL at outlen), and
 *    normalising it again gives itself (after re-escaping the bytes that
 *    the first pass decoded from '%' escapes: '%' and control bytes);
 *  - on error: the status is 400, 404 or 414;
 *  - result and status are those of a separate, forward, stack-based
 *    reading of the contract in path.h (path.c walks backwards).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "defaults.h"
#include "path.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *, ...) __attribute__((format(printf, 1, 2),
    noreturn));

static void
fail(const char *fmt, ...)
{
	va_list ap;

	fputs("fuzz_path: invariant broken: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static int
hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * The contract, read forwards: decode each raw segment, push names, pop on
 * "..", and decide the status by precedence 400 > 404 > 414. Writes the
 * result (NUL-terminated) into out, which has room for len + 2 bytes.
 */
static int
oracle(const char *in, size_t len, size_t outsz, char *out, size_t *outlen)
{
	size_t *seg_at, *seg_len, depth = 0, i = 1, o;
	char *dec;
	bool hidden = false, climbed = false, trailing = false;
	int status = 0;

	if (len == 0 || in[0] != '/')
		return 400;
	dec = malloc(len + 1);
	seg_at = malloc((len + 1) * sizeof(*seg_at));
	seg_len = malloc((len + 1) * sizeof(*seg_len));
	if (dec == NULL || seg_at == NULL || seg_len == NULL)
		abort();
	o = 0;
	while (i <= len && status == 0) {
		size_t start = o, n;

		/* one raw segment: in[i .. next '/' or the end) */
		for (; i < len && in[i] != '/'; i++) {
			unsigned char c = (unsigned char)in[i];

			if (c < 0x20 || c == 0x7f) {
				status = 400;
				break;
			}
			if (c == '%') {
				int h, l;

				if (len - i < 3 ||
				    (h = hex((unsigned char)in[i + 1])) < 0 ||
				    (l = hex((unsigned char)in[i + 2])) < 0) {
					status = 400;
					break;
				}
				c = (unsigned char)(h << 4 | l);
				if (c == 0 || c == '/') {
					status = 400;
					break;
				}
				i += 2;
			}
			dec[o++] = (char)c;
		}
		if (status != 0)
			break;
		i++;			/* the '/' (or one past the end) */
		n = o - start;
		/* the last segment decides: empty, "." or ".." end in '/' */
		trailing = n == 0 || (n == 1 && dec[start] == '.') ||
		    (n == 2 && dec[start] == '.' && dec[start + 1] == '.');
		if (n == 0 || (n == 1 && dec[start] == '.')) {
			o = start;
			continue;
		}
		if (n == 2 && dec[start] == '.' && dec[start + 1] == '.') {
			o = start;
			if (depth == 0)
				climbed = true;
			else
				o = seg_at[--depth];
			continue;
		}
		if (dec[start] == '.')
			hidden = true;
		seg_at[depth] = start;
		seg_len[depth++] = n;
	}
	if (status == 0 && climbed)
		status = 400;
	if (status == 0 && hidden)
		status = 404;
	if (status == 0) {
		size_t k = 0;

		for (size_t d = 0; d < depth; d++) {
			out[k++] = '/';
			memcpy(out + k, dec + seg_at[d], seg_len[d]);
			k += seg_len[d];
		}
		if (depth == 0 || trailing)
			out[k++] = '/';
		out[k] = '\0';
		*outlen = k;
		if (k >= outsz)
			status = 414;
	}
	free(dec);
	free(seg_at);
	free(seg_len);
	return status;
}

/* Checks the shape a successful result must have. */
static void
check_shape(const char *out, size_t outsz, size_t n)
{
	size_t i = 0;

	if (n >= outsz || out[n] != '\0' || strlen(out) != n)
		fail("result of length %zu does not fit %zu bytes or has a NUL",
		    n, outsz);
	if (n == 0 || out[0] != '/')
		fail("result \"%s\" does not start with '/'", out);
	while (i < n) {
		size_t b = ++i;

		while (i < n && out[i] != '/')
			i++;
		if (i == b && i != n)
			fail("result \"%s\" has an empty segment", out);
		if (i > b && out[b] == '.')
			fail("result \"%s\" has a '.' segment or a dotfile",
			    out);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t outsz, len, n = 0, n2 = 0, on = 0, k = 0;
	char *in, *out, *again, *esc, *want;
	int rc, rc2, orc;

	if (size < 1)
		return 0;
	outsz = data[0] == 0 ? PATH_BUF_SIZE : data[0];
	len = size - 1;
	/* Exact-size copies, so that any overrun is caught. */
	in = malloc(len ? len : 1);
	out = malloc(outsz);
	want = malloc(len + 2);
	if (in == NULL || out == NULL || want == NULL)
		abort();
	memcpy(in, data + 1, len);

	rc = path_normalize(in, len, out, outsz, &n);
	orc = oracle(in, len, outsz, want, &on);
	if (rc != orc)
		fail("\"%.*s\" (outsz %zu) gives %d, the contract says %d",
		    (int)len, in, outsz, rc, orc);
	if (rc != 0 && rc != 400 && rc != 404 && rc != 414)
		fail("status %d", rc);
	if (rc == 0) {
		check_shape(out, outsz, n);
		if (n != on || memcmp(out, want, n) != 0)
			fail("\"%.*s\" gives \"%s\", the contract says \"%s\"",
			    (int)len, in, out, want);
		/* Re-escape what the first pass decoded; normalise again. */
		if ((esc = malloc(3 * n + 1)) == NULL ||
		    (again = malloc(outsz)) == NULL)
			abort();
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)out[i];

			if (c == '%' || c < 0x20 || c == 0x7f)
				k += (size_t)sprintf(esc + k, "%%%02X", c);
			else
				esc[k++] = (char)c;
		}
		rc2 = path_normalize(esc, k, again, outsz, &n2);
		if (rc2 != 0 || n2 != n || memcmp(again, out, n) != 0)
			fail("normalising \"%s\" again gives %d \"%.*s\"", out,
			    rc2, rc2 == 0 ? (int)n2 : 0, again);
		free(esc);
		free(again);
	}
	free(in);
	free(out);
	free(want);
	return 0;
}
