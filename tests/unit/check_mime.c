/*
 * check_mime - unit tests for common/mime.c: every table entry (which also
 * proves the table sorted), case folding, and how an extension is found.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mime.h"

#define OCTET	"application/octet-stream"

static const char *
mime_str(const char *name)
{
	return mime_type(name, strlen(name));
}

/* The whole table, in its order: a misplaced entry is not found. */
static const struct {
	const char	*ext;
	const char	*type;
} table[] = {
	{ "7z",		"application/x-7z-compressed" },
	{ "aac",	"audio/aac" },
	{ "apng",	"image/apng" },
	{ "atom",	"application/atom+xml" },
	{ "avif",	"image/avif" },
	{ "bmp",	"image/bmp" },
	{ "bz2",	"application/x-bzip2" },
	{ "css",	"text/css; charset=utf-8" },
	{ "csv",	"text/csv; charset=utf-8" },
	{ "flac",	"audio/flac" },
	{ "gif",	"image/gif" },
	{ "gz",		"application/gzip" },
	{ "htm",	"text/html; charset=utf-8" },
	{ "html",	"text/html; charset=utf-8" },
	{ "ico",	"image/x-icon" },
	{ "ics",	"text/calendar; charset=utf-8" },
	{ "jpeg",	"image/jpeg" },
	{ "jpg",	"image/jpeg" },
	{ "js",		"text/javascript; charset=utf-8" },
	{ "json",	"application/json" },
	{ "jsonld",	"application/ld+json" },
	{ "m4a",	"audio/mp4" },
	{ "map",	"application/json" },
	{ "md",		"text/markdown; charset=utf-8" },
	{ "mjs",	"text/javascript; charset=utf-8" },
	{ "mov",	"video/quicktime" },
	{ "mp3",	"audio/mpeg" },
	{ "mp4",	"video/mp4" },
	{ "oga",	"audio/ogg" },
	{ "ogg",	"audio/ogg" },
	{ "ogv",	"video/ogg" },
	{ "opus",	"audio/ogg" },
	{ "otf",	"font/otf" },
	{ "pdf",	"application/pdf" },
	{ "png",	"image/png" },
	{ "rss",	"application/rss+xml" },
	{ "svg",	"image/svg+xml" },
	{ "tar",	"application/x-tar" },
	{ "tif",	"image/tiff" },
	{ "tiff",	"image/tiff" },
	{ "ttf",	"font/ttf" },
	{ "txt",	"text/plain; charset=utf-8" },
	{ "wasm",	"application/wasm" },
	{ "wav",	"audio/wav" },
	{ "webm",	"video/webm" },
	{ "webmanifest", "application/manifest+json" },
	{ "webp",	"image/webp" },
	{ "woff",	"font/woff" },
	{ "woff2",	"font/woff2" },
	{ "xhtml",	"application/xhtml+xml" },
	{ "xml",	"application/xml" },
	{ "xz",		"application/x-xz" },
	{ "yaml",	"text/yaml; charset=utf-8" },
	{ "yml",	"text/yaml; charset=utf-8" },
	{ "zip",	"application/zip" },
	{ "zst",	"application/zstd" },
};

START_TEST(test_table)
{
	char	 name[64];
	size_t	 i;

	snprintf(name, sizeof(name), "file.%s", table[_i].ext);
	ck_assert_str_eq(mime_str(name), table[_i].type);
	snprintf(name, sizeof(name), "/some/dir/a.b.%s", table[_i].ext);
	ck_assert_str_eq(mime_str(name), table[_i].type);
	/* Upper case, and mixed case. */
	snprintf(name, sizeof(name), "FILE.%s", table[_i].ext);
	for (i = 0; name[i] != '\0'; i++)
		if (name[i] >= 'a' && name[i] <= 'z')
			name[i] -= 'a' - 'A';
	ck_assert_str_eq(mime_str(name), table[_i].type);
	for (i = 5; name[i] != '\0'; i += 2)
		if (name[i] >= 'A' && name[i] <= 'Z')
			name[i] += 'a' - 'A';
	ck_assert_str_eq(mime_str(name), table[_i].type);
	/* Longer by one byte (no known extension ends in 'q'): unknown. */
	snprintf(name, sizeof(name), "file.%sq", table[_i].ext);
	ck_assert_str_eq(mime_str(name), OCTET);
	/* The extension alone, without a dot, is a name with none. */
	ck_assert_str_eq(mime_str(table[_i].ext), OCTET);
}
END_TEST

/* The types the brief names, spelled out once more by hand. */
START_TEST(test_required)
{
	ck_assert_str_eq(mime_str("index.html"), "text/html; charset=utf-8");
	ck_assert_str_eq(mime_str("a.htm"), "text/html; charset=utf-8");
	ck_assert_str_eq(mime_str("a.css"), "text/css; charset=utf-8");
	ck_assert_str_eq(mime_str("a.js"), "text/javascript; charset=utf-8");
	ck_assert_str_eq(mime_str("a.mjs"), "text/javascript; charset=utf-8");
	ck_assert_str_eq(mime_str("a.json"), "application/json");
	ck_assert_str_eq(mime_str("a.txt"), "text/plain; charset=utf-8");
	ck_assert_str_eq(mime_str("a.csv"), "text/csv; charset=utf-8");
	ck_assert_str_eq(mime_str("a.md"), "text/markdown; charset=utf-8");
	ck_assert_str_eq(mime_str("a.svg"), "image/svg+xml");
	ck_assert_str_eq(mime_str("a.png"), "image/png");
	ck_assert_str_eq(mime_str("a.jpg"), "image/jpeg");
	ck_assert_str_eq(mime_str("a.jpeg"), "image/jpeg");
	ck_assert_str_eq(mime_str("a.gif"), "image/gif");
	ck_assert_str_eq(mime_str("a.webp"), "image/webp");
	ck_assert_str_eq(mime_str("a.ico"), "image/x-icon");
	ck_assert_str_eq(mime_str("a.avif"), "image/avif");
	ck_assert_str_eq(mime_str("a.pdf"), "application/pdf");
	ck_assert_str_eq(mime_str("a.wasm"), "application/wasm");
	ck_assert_str_eq(mime_str("a.woff"), "font/woff");
	ck_assert_str_eq(mime_str("a.woff2"), "font/woff2");
	ck_assert_str_eq(mime_str("a.ttf"), "font/ttf");
	ck_assert_str_eq(mime_str("a.otf"), "font/otf");
	ck_assert_str_eq(mime_str("a.mp4"), "video/mp4");
	ck_assert_str_eq(mime_str("a.webm"), "video/webm");
	ck_assert_str_eq(mime_str("a.mp3"), "audio/mpeg");
	ck_assert_str_eq(mime_str("a.ogg"), "audio/ogg");
	ck_assert_str_eq(mime_str("a.wav"), "audio/wav");
	ck_assert_str_eq(mime_str("a.zip"), "application/zip");
	ck_assert_str_eq(mime_str("a.gz"), "application/gzip");
	ck_assert_str_eq(mime_str("a.tar"), "application/x-tar");
	ck_assert_str_eq(mime_str("a.xml"), "application/xml");
	ck_assert_str_eq(mime_str("a.map"), "application/json");
	ck_assert_str_eq(mime_str("INDEX.HTML"), "text/html; charset=utf-8");
	ck_assert_str_eq(mime_str("x.Js"), "text/javascript; charset=utf-8");
	ck_assert_str_eq(mime_str("x.WOFF2"), "font/woff2");
}
END_TEST

/* How the extension is found, and what has none. */
static const struct {
	const char	*name;
	const char	*type;
} ext_cases[] = {
	{ "",			OCTET },
	{ ".",			OCTET },
	{ "..",			OCTET },
	{ "html",		OCTET },
	{ "README",		OCTET },
	{ "file.",		OCTET },
	{ "file.unknown",	OCTET },
	{ "file.exe",		OCTET },
	{ "file.h",		OCTET },
	{ "file.ht",		OCTET },
	{ "file.htmll",		OCTET },
	{ "file.xhtm",		OCTET },
	{ "file. html",		OCTET },
	{ "file.html ",		OCTET },
	{ "file.ht-ml",		OCTET },
	{ "file.html~",		OCTET },
	{ "file.html.bak",	OCTET },
	{ "file.HTML.bak",	OCTET },
	{ "file.bak.html",	"text/html; charset=utf-8" },
	{ "archive.tar.gz",	"application/gzip" },
	{ "bundle.min.js",	"text/javascript; charset=utf-8" },
	{ "app.js.map",		"application/json" },
	/* A leading dot marks a hidden file, not an extension. */
	{ ".html",		OCTET },
	{ ".bashrc",		OCTET },
	{ "/dir/.html",		OCTET },
	{ ".hidden.css",	"text/css; charset=utf-8" },
	{ "/dir/..css",		"text/css; charset=utf-8" },
	/* The extension belongs to the last path component only. */
	{ "/a.html/file",	OCTET },
	{ "/a.html/",		OCTET },
	{ "dir.d/README",	OCTET },
	{ "/x/y/z.png",		"image/png" },
	{ "/x.y/z.png",		"image/png" },
	{ "/.png",		OCTET },
	{ "/a/b.c/.",		OCTET },
	/* Longer than any known extension. */
	{ "a.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", OCTET },
	{ "a.webmanifestx",	OCTET },
	{ "a.webmanifest",	"application/manifest+json" },
	{ "a.WebManifest",	"application/manifest+json" },
	/* Non-ASCII and punctuation bytes never fold into letters. */
	{ "a.\xc8TML",		OCTET },
	{ "a.htm\xcc",		OCTET },
	{ "a.css\x80",		OCTET },
	{ "a.@ss",		OCTET },
	{ "a.[ss",		OCTET },
};

START_TEST(test_ext)
{
	ck_assert_msg(strcmp(mime_str(ext_cases[_i].name),
	    ext_cases[_i].type) == 0, "\"%s\": %s, want %s",
	    ext_cases[_i].name, mime_str(ext_cases[_i].name),
	    ext_cases[_i].type);
}
END_TEST

/* The length bounds the name; a NUL inside it is an ordinary byte. */
START_TEST(test_length)
{
	static const char name[] = "index.html.gz";

	ck_assert_str_eq(mime_type(name, 10), "text/html; charset=utf-8");
	ck_assert_str_eq(mime_type(name, 9), "text/html; charset=utf-8");
	ck_assert_str_eq(mime_type(name, 8), OCTET);
	ck_assert_str_eq(mime_type(name, 13), "application/gzip");
	ck_assert_str_eq(mime_type(name, 0), OCTET);
	ck_assert_str_eq(mime_type(NULL, 0), OCTET);
	ck_assert_str_eq(mime_type("a.css\0", 6), OCTET);
	ck_assert_str_eq(mime_type("a.c\0ss", 6), OCTET);
	/* The string is static: the same pointer every time. */
	ck_assert_ptr_eq(mime_str("a.png"), mime_str("b.PNG"));
}
END_TEST

/*
 * A system file adds the extensions the built-in table lacks, never
 * changes the ones it has; the first line naming an extension wins; text
 * types get the charset; --mime-type entries come before everything.
 */
START_TEST(test_system_file_and_overrides)
{
	char path[] = "/tmp/check_mime_XXXXXX";
	static const char text[] =
	    "# comment line\n"
	    "text/x-foo\t\tfoo FOO2\n"
	    "application/x-bar bar foo\n"
	    "audio/x-wav\t\t\t\twav\n"
	    "application/x-nothing\n"
	    "application/x-dotted a.b\n"
	    "text/x-sheet; charset=latin1 sht\n";
	struct cfg c;
	char err[256];
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, sizeof(text) - 1),
	    (int)sizeof(text) - 1);
	close(fd);
	ck_assert_str_eq(mime_str("x.foo"), OCTET);
	ck_assert_int_eq(mime_load(path), 0);
	unlink(path);
	ck_assert_str_eq(mime_str("x.foo"), "text/x-foo; charset=utf-8");
	ck_assert_str_eq(mime_str("x.Foo2"), "text/x-foo; charset=utf-8");
	ck_assert_str_eq(mime_str("x.bar"), "application/x-bar");
	ck_assert_str_eq(mime_str("x.wav"), "audio/wav");
	ck_assert_str_eq(mime_str("x.b"), OCTET);
	ck_assert_str_eq(mime_str("x.nothing"), OCTET);
	ck_assert_str_eq(mime_str("x.html"), "text/html; charset=utf-8");

	cfg_defaults(&c);
	ck_assert_str_eq(mime_type_cfg(&c, "x.foo", 5),
	    "text/x-foo; charset=utf-8");
	ck_assert_int_eq(cfg_set(&c, "mime-type", "foo=application/x-mine",
	    err, sizeof(err)), 0);
	ck_assert_int_eq(cfg_set(&c, "mime-type", ".HTML=text/x-page",
	    err, sizeof(err)), 0);
	ck_assert_int_eq(cfg_set(&c, "mime-type", "j2 text/plain; charset=x",
	    err, sizeof(err)), 0);
	ck_assert_str_eq(mime_type_cfg(&c, "x.FOO", 5), "application/x-mine");
	ck_assert_str_eq(mime_type_cfg(&c, "a/b.html", 8),
	    "text/x-page; charset=utf-8");
	ck_assert_str_eq(mime_type_cfg(&c, "a.j2", 4), "text/plain; charset=x");
	ck_assert_str_eq(mime_type_cfg(&c, "a.css", 5),
	    "text/css; charset=utf-8");
	/* the same extension again replaces */
	ck_assert_int_eq(cfg_set(&c, "mime-type", "foo=image/x-foo", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(c.nmime_types, 3);
	ck_assert_str_eq(mime_type_cfg(&c, "x.foo", 5), "image/x-foo");
	static const char *bad[] = { "foo", "=text/plain", "foo=", "foo=plain",
	    "a.b=text/plain", "foo=/x", "foo=text/x\r\nX: y",
	    "seventeen-chars-x=text/plain" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(cfg_set(&c, "mime-type", bad[i], err,
		    sizeof(err)) == -1, "accepted '%s'", bad[i]);
	ck_assert_int_eq(mime_load("/nonexistent/mime.types"), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

static Suite *
mime_suite(void)
{
	Suite	*s = suite_create("mime");
	TCase	*tc = tcase_create("lookup");

	tcase_add_loop_test(tc, test_table, 0, sizeof(table) / sizeof(table[0]));
	tcase_add_test(tc, test_required);
	tcase_add_loop_test(tc, test_ext, 0,
	    sizeof(ext_cases) / sizeof(ext_cases[0]));
	tcase_add_test(tc, test_length);
	tcase_add_test(tc, test_system_file_and_overrides);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(mime_suite());
	int	 failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures ? 1 : 0;
}
