/*
 * mime - the built-in map from file extension to Content-Type. Owns the
 * table and the rule for finding a name's extension; the static handler
 * is the only user.
 */
#include <stddef.h>
#include <string.h>

#include "mime.h"

#define MIME_DEFAULT	"application/octet-stream"
#define MIME_UTF8	"; charset=utf-8"

/* Longer than any extension in the table: such a name cannot match. */
#define MIME_EXT_MAX	16

/*
 * Sorted by extension (lower case, bytewise) for the binary search; the
 * unit test looks every entry up, so a misplaced line shows. XML types carry
 * no charset: an XML document declares its own encoding, and a charset
 * parameter would override it.
 */
static const struct mime_ent {
	const char	*ext;
	const char	*type;
} mime_table[] = {
	{ "7z",		"application/x-7z-compressed" },
	{ "aac",	"audio/aac" },
	{ "apng",	"image/apng" },
	{ "atom",	"application/atom+xml" },
	{ "avif",	"image/avif" },
	{ "bmp",	"image/bmp" },
	{ "bz2",	"application/x-bzip2" },
	{ "css",	"text/css" MIME_UTF8 },
	{ "csv",	"text/csv" MIME_UTF8 },
	{ "flac",	"audio/flac" },
	{ "gif",	"image/gif" },
	{ "gz",		"application/gzip" },
	{ "htm",	"text/html" MIME_UTF8 },
	{ "html",	"text/html" MIME_UTF8 },
	{ "ico",	"image/x-icon" },
	{ "ics",	"text/calendar" MIME_UTF8 },
	{ "jpeg",	"image/jpeg" },
	{ "jpg",	"image/jpeg" },
	{ "js",		"text/javascript" MIME_UTF8 },
	{ "json",	"application/json" },
	{ "jsonld",	"application/ld+json" },
	{ "m4a",	"audio/mp4" },
	{ "map",	"application/json" },
	{ "md",		"text/markdown" MIME_UTF8 },
	{ "mjs",	"text/javascript" MIME_UTF8 },
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
	{ "txt",	"text/plain" MIME_UTF8 },
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
	{ "yaml",	"text/yaml" MIME_UTF8 },
	{ "yml",	"text/yaml" MIME_UTF8 },
	{ "zip",	"application/zip" },
	{ "zst",	"application/zstd" },
};

#define MIME_COUNT	(sizeof(mime_table) / sizeof(mime_table[0]))

/*
 * The extension is what follows the last '.' of the last path component.
 * A leading '.' only marks a hidden file (".bashrc" has no extension), and
 * a trailing one leaves an empty extension, which matches nothing.
 */
const char *
mime_type(const char *name, size_t len)
{
	char	 ext[MIME_EXT_MAX + 1];
	size_t	 i, base = 0, dot = len, n, lo, hi, mid;
	int	 cmp;

	if (name == NULL)
		return MIME_DEFAULT;
	for (i = 0; i < len; i++) {
		if (name[i] == '/') {
			base = i + 1;
			dot = len;
		} else if (name[i] == '.' && i > base)
			dot = i;
	}
	if (dot == len || (n = len - dot - 1) == 0 || n > MIME_EXT_MAX)
		return MIME_DEFAULT;

	/* Fold ASCII case by hand: tolower() would consult the locale. */
	for (i = 0; i < n; i++) {
		ext[i] = name[dot + 1 + i];
		if (ext[i] >= 'A' && ext[i] <= 'Z')
			ext[i] += 'a' - 'A';
		if (ext[i] == '\0')
			return MIME_DEFAULT;
	}
	ext[n] = '\0';

	lo = 0;
	hi = MIME_COUNT;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		cmp = strcmp(ext, mime_table[mid].ext);
		if (cmp == 0)
			return mime_table[mid].type;
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return MIME_DEFAULT;
}
