/*
 * mime - the map from file extension to Content-Type: the operator's
 * --mime-type entries, then the built-in table, then the system's
 * /etc/mime.types. The built-in table wins over the system file for the
 * extensions it knows (the common web types), so that what a site serves
 * does not change with the host's media-types package; the file adds the
 * rest. Owns the tables and the rule for finding a name's extension.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "defaults.h"
#include "mime.h"

#define MIME_DEFAULT	"application/octet-stream"
#define MIME_UTF8	"; charset=utf-8"

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

/* /etc/mime.types, sorted the same way; loaded once by the master. */
static struct mime_ent	*sys_table;
static size_t		 sys_count;
static struct mime_load	*sys_all;	/* what sys_table's strings live in */

/* An entry being loaded, with its place in the file. */
struct mime_load {
	struct mime_ent	 e;
	size_t		 seq;
};

/*
 * The extension is what follows the last '.' of the last path component.
 * A leading '.' only marks a hidden file (".bashrc" has no extension), and
 * a trailing one leaves an empty extension, which matches nothing.
 * Copies it folded to lower case into ext; returns 0, or -1 for none.
 */
static int
ext_of(const char *name, size_t len, char ext[MIME_EXT_MAX + 1])
{
	size_t	 i, base = 0, dot = len, n;

	if (name == NULL)
		return -1;
	for (i = 0; i < len; i++) {
		if (name[i] == '/') {
			base = i + 1;
			dot = len;
		} else if (name[i] == '.' && i > base)
			dot = i;
	}
	if (dot == len || (n = len - dot - 1) == 0 || n > MIME_EXT_MAX)
		return -1;

	/* Fold ASCII case by hand: tolower() would consult the locale. */
	for (i = 0; i < n; i++) {
		ext[i] = name[dot + 1 + i];
		if (ext[i] >= 'A' && ext[i] <= 'Z')
			ext[i] += 'a' - 'A';
		if (ext[i] == '\0')
			return -1;
	}
	ext[n] = '\0';
	return 0;
}

static const char *
search(const struct mime_ent *t, size_t count, const char *ext)
{
	size_t	 lo = 0, hi = count, mid;
	int	 cmp;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		cmp = strcmp(ext, t[mid].ext);
		if (cmp == 0)
			return t[mid].type;
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const char *
mime_type(const char *name, size_t len)
{
	char	 ext[MIME_EXT_MAX + 1];
	const char *t;

	if (ext_of(name, len, ext) == -1)
		return MIME_DEFAULT;
	if ((t = search(mime_table, MIME_COUNT, ext)) == NULL &&
	    (t = search(sys_table, sys_count, ext)) == NULL)
		return MIME_DEFAULT;
	return t;
}

const char *
mime_type_cfg(const struct cfg *c, const char *name, size_t len)
{
	char	 ext[MIME_EXT_MAX + 1];

	if (c->nmime_types > 0 && ext_of(name, len, ext) == 0)
		for (int i = 0; i < c->nmime_types; i++)
			if (strcmp(c->mime_types[i].ext, ext) == 0)
				return c->mime_types[i].type;
	return mime_type(name, len);
}

static int
ent_cmp(const void *a, const void *b)
{
	const struct mime_load *x = a, *y = b;
	int cmp = strcmp(x->e.ext, y->e.ext);

	/* the same extension twice: the earlier line wins */
	if (cmp == 0)
		cmp = x->seq < y->seq ? -1 : x->seq > y->seq;
	return cmp;
}

/*
 * One line: "type ext1 ext2 ..." separated by blanks, '#' comments.
 * Adds an entry per usable extension (no '.', at most MIME_EXT_MAX).
 * Returns 0, or -1 when memory ran out.
 */
static int
load_line(char *line, struct mime_load **tab, size_t *n, size_t *cap)
{
	const char *sep = " \t\r\n";
	char *type, *ext, *save, *full = NULL;

	if ((type = strtok_r(line, sep, &save)) == NULL || *type == '#' ||
	    strchr(type, '/') == NULL)
		return 0;
	while ((ext = strtok_r(NULL, sep, &save)) != NULL) {
		size_t elen = strlen(ext);

		if (elen == 0 || elen > MIME_EXT_MAX || strchr(ext, '.'))
			continue;
		if (full == NULL) {
			size_t tlen = strlen(type) + sizeof(MIME_UTF8);

			if ((full = malloc(tlen)) == NULL)
				return -1;
			snprintf(full, tlen, "%s%s", type,
			    strncasecmp(type, "text/", 5) == 0 ? MIME_UTF8 : "");
		}
		if (*n == *cap) {
			size_t ncap = *cap ? *cap * 2 : 512;
			struct mime_load *t = reallocarray(*tab, ncap,
			    sizeof(**tab));

			if (t == NULL)
				return -1;
			*tab = t;
			*cap = ncap;
		}
		for (size_t i = 0; i < elen; i++)
			if (ext[i] >= 'A' && ext[i] <= 'Z')
				ext[i] += 'a' - 'A';
		if (((*tab)[*n].e.ext = strdup(ext)) == NULL)
			return -1;
		(*tab)[*n].e.type = full;
		(*tab)[*n].seq = *n;
		(*n)++;
	}
	return 0;
}

int
mime_load(const char *path)
{
	struct mime_load *tab = NULL;
	struct mime_ent *out = NULL;
	size_t n = 0, cap = 0, k = 0, linecap = 0;
	char *line = NULL;
	FILE *f;
	int rc = -1;

	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (getline(&line, &linecap, f) != -1)
		if (load_line(line, &tab, &n, &cap) == -1)
			goto done;
	if (ferror(f))
		goto done;
	qsort(tab, n, sizeof(*tab), ent_cmp);
	if ((out = reallocarray(NULL, n ? n : 1, sizeof(*out))) == NULL)
		goto done;
	for (size_t i = 0; i < n; i++)
		if (k == 0 || strcmp(out[k - 1].ext, tab[i].e.ext) != 0)
			out[k++] = tab[i].e;
	/* Loaded once, before the workers fork: never freed. */
	sys_table = out;
	sys_count = k;
	/* Every entry stays, duplicates too: the strings they own (and the
	 * types they share) live as long as the process. */
	sys_all = tab;
	tab = NULL;
	rc = 0;
done:
	free(tab);	/* on failure, its strings leak: start-up only */
	free(line);
	fclose(f);
	return rc;
}
