/*
 * autoindex - see autoindex.h. A file name is whatever bytes the file
 * system holds, so every name goes out through one of three encoders: the
 * link is percent-encoded (every byte but RFC 3986 unreserved ones, so a
 * name such as "javascript:x" or "a?b#c" stays a relative path), the HTML
 * text is entity-escaped, and the JSON string is escaped. Bytes that are
 * not valid UTF-8 (and control bytes) are shown as U+FFFD in the HTML and
 * in the JSON "name"; the "href" field and the links keep the exact bytes,
 * percent-encoded, so every entry can still be fetched.
 */
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "autoindex.h"
#include "defaults.h"
#include "resp.h"

#define REPLACEMENT	"\xef\xbf\xbd"	/* U+FFFD in UTF-8 */

/* The body being built; a failed allocation is remembered, not fatal. */
struct abuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
	bool	 oom;
};

static void
put(struct abuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (n > cap - b->len)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void
put_str(struct abuf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* The length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned cp, min;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
		min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
		min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
		min = 0x10000;
	} else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates and past U+10FFFF are not UTF-8 */
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/*
 * Text for HTML (entities) or for a JSON string (escapes; '<', '>' and
 * '&' too, so that the array is also safe inside a <script>).
 */
static void
put_text(struct abuf *b, const char *s, size_t n, bool json)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, k;

	while (i < n) {
		unsigned char ch = (unsigned char)s[i];
		char esc[8];

		if ((k = utf8_seq((const unsigned char *)s + i, n - i)) == 0) {
			put_str(b, json ? "\\ufffd" : REPLACEMENT);
			i++;
			continue;
		}
		if (k > 1) {
			put(b, s + i, k);
			i += k;
			continue;
		}
		i++;
		if (ch < 0x20 || ch == 0x7f) {
			if (!json) {
				put_str(b, REPLACEMENT);
				continue;
			}
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[ch >> 4];
			esc[5] = hex[ch & 15];
			put(b, esc, 6);
		} else if (json && (ch == '"' || ch == '\\')) {
			esc[0] = '\\';
			esc[1] = (char)ch;
			put(b, esc, 2);
		} else if (json && (ch == '<' || ch == '>' || ch == '&'))
			put_str(b, ch == '<' ? "\\u003c" : ch == '>' ?
			    "\\u003e" : "\\u0026");
		else if (!json && ch == '&')
			put_str(b, "&amp;");
		else if (!json && ch == '<')
			put_str(b, "&lt;");
		else if (!json && ch == '>')
			put_str(b, "&gt;");
		else if (!json && ch == '"')
			put_str(b, "&quot;");
		else if (!json && ch == '\'')
			put_str(b, "&#39;");
		else
			put(b, s + i - 1, 1);
	}
}

/* Every byte but ALPHA / DIGIT / "-" / "." / "_" / "~" is %XX. */
static void
put_href(struct abuf *b, const char *s, bool dir)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		char esc[3];

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
		    ch == '_' || ch == '~') {
			put(b, s, 1);
			continue;
		}
		esc[0] = '%';
		esc[1] = hex[ch >> 4];
		esc[2] = hex[ch & 15];
		put(b, esc, 3);
	}
	if (dir)
		put(b, "/", 1);
}

static void
put_time(struct abuf *b, time_t t)
{
	char s[32];
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		strlcpy(s, "?", sizeof(s));
	put_str(b, s);
}

static int
ent_cmp(const void *a, const void *b)
{
	const struct autoindex_ent *x = a, *y = b;

	if (x->dir != y->dir)
		return x->dir ? -1 : 1;
	return strcmp(x->name, y->name);	/* compares unsigned bytes */
}

static void
render_json(struct abuf *b, const struct autoindex_ent *ents, size_t n)
{
	char num[32];

	put_str(b, "[");
	for (size_t i = 0; i < n; i++) {
		const struct autoindex_ent *e = &ents[i];

		put_str(b, i ? ",\n{\"name\":\"" : "\n{\"name\":\"");
		put_text(b, e->name, strlen(e->name), true);
		put_str(b, "\",\"href\":\"");
		put_href(b, e->name, e->dir);
		put_str(b, e->dir ? "\",\"type\":\"directory\",\"size\":null" :
		    "\",\"type\":\"file\",\"size\":");
		if (!e->dir) {
			snprintf(num, sizeof(num), "%lld", e->size);
			put_str(b, num);
		}
		put_str(b, ",\"mtime\":\"");
		put_time(b, e->mtime);
		put_str(b, "\"}");
	}
	put_str(b, "\n]\n");
}

static void
render_html(struct abuf *b, const struct autoindex_ent *ents, size_t n,
    const char *path, size_t plen)
{
	char num[32];

	put_str(b, "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
	    "<title>Index of ");
	put_text(b, path, plen, false);
	put_str(b, "</title>\n<style>td{padding:0 1em 0 0}"
	    "td+td{text-align:right}</style></head>\n<body><h1>Index of ");
	put_text(b, path, plen, false);
	put_str(b, "</h1>\n<table>\n<tr><th>Name</th><th>Size</th>"
	    "<th>Modified</th></tr>\n");
	if (plen > 1)
		put_str(b, "<tr><td><a href=\"../\">../</a></td><td></td>"
		    "<td></td></tr>\n");
	for (size_t i = 0; i < n; i++) {
		const struct autoindex_ent *e = &ents[i];

		put_str(b, "<tr><td><a href=\"");
		put_href(b, e->name, e->dir);
		put_str(b, "\">");
		put_text(b, e->name, strlen(e->name), false);
		put_str(b, e->dir ? "/</a></td><td>-" : "</a></td><td>");
		if (!e->dir) {
			snprintf(num, sizeof(num), "%lld", e->size);
			put_str(b, num);
		}
		put_str(b, "</td><td>");
		put_time(b, e->mtime);
		put_str(b, "</td></tr>\n");
	}
	put_str(b, "</table>\n</body></html>\n");
}

char *
autoindex_render(struct autoindex_ent *ents, size_t n, const char *path,
    size_t plen, bool json, size_t *len)
{
	struct abuf b = { NULL, 0, 0, false };

	if (n > 1)		/* (an empty directory: ents may be NULL) */
		qsort(ents, n, sizeof(*ents), ent_cmp);
	if (json)
		render_json(&b, ents, n);
	else
		render_html(&b, ents, n, path, plen);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

/*
 * A symbolic link is described by what it names, and only when that can
 * be opened beneath the root: the listing shows what can be fetched.
 */
static int
follow(const char *path, size_t plen, const char *name,
    autoindex_open_fn open_fn, struct stat *st)
{
	char rel[PATH_BUF_SIZE + 256];
	int fd, n;

	n = snprintf(rel, sizeof(rel), "%.*s%s", (int)(plen - 1), path + 1,
	    name);
	if (n < 0 || (size_t)n >= sizeof(rel) || (fd = open_fn(rel)) == -1)
		return -1;
	n = fstat(fd, st);
	close(fd);
	return n;
}

int
autoindex_serve(struct conn *c, int dfd, const char *path, size_t plen,
    bool json, autoindex_open_fn open_fn)
{
	struct autoindex_ent *ents = NULL, *e;
	size_t n = 0, cap = 0, blen;
	struct dirent *de;
	struct stat st;
	char *body = NULL;
	DIR *d;
	int rc = 500;

	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return 500;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;	/* dotfiles are hidden, "." and ".." too */
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
		    -1 || (S_ISLNK(st.st_mode) && follow(path, plen,
		    de->d_name, open_fn, &st) == -1))
			continue;
		if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;

			if ((e = reallocarray(ents, ncap, sizeof(*e))) == NULL)
				goto fail;
			ents = e;
			cap = ncap;
		}
		e = &ents[n];
		if ((e->name = strdup(de->d_name)) == NULL)
			goto fail;
		e->dir = S_ISDIR(st.st_mode);
		e->size = (long long)st.st_size;
		e->mtime = st.st_mtime;
		n++;
	}
	if ((body = autoindex_render(ents, n, path, plen, json, &blen)) == NULL)
		goto fail;
	resp_begin(c, 200);
	if (json)
		resp_add(c, "Content-Type", "application/json", 16);
	else
		resp_add(c, "Content-Type", "text/html; charset=utf-8", 24);
	resp_send(c, (long long)blen, body, blen);
	rc = 0;
fail:
	free(body);
	for (size_t i = 0; i < n; i++)
		free(ents[i].name);
	free(ents);
	closedir(d);
	return rc;
}
