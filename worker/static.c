/*
 * static - serves files below the document root. Every open goes through
 * openat2(RESOLVE_BENEATH) on a descriptor of the root, so neither "..",
 * nor an absolute symlink, nor a symlink that climbs out can leave it,
 * whatever path_normalize() let through.
 */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/openat2.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cond.h"
#include "httpdate.h"
#include "mime.h"
#include "path.h"
#include "range.h"
#include "resp.h"
#include "static.h"

static int root_fd = -1;

int
static_init(const char *docroot)
{
	root_fd = open(docroot, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return root_fd == -1 ? -1 : 0;
}

/* Opens rel (relative, no leading '/') strictly beneath the root. */
static int
open_beneath(const char *rel)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};

	return (int)syscall(SYS_openat2, root_fd, rel, &how, sizeof(how));
}

static int
errno_status(int e)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
		return 404;
	case ENAMETOOLONG:
		return 414;
	case EACCES:
	case EPERM:
	case EXDEV:		/* would leave the root */
	case ELOOP:
		return 403;
	default:
		return 500;
	}
}

/* Accept-Encoding lists gzip with a q-value other than 0. */
static bool
accepts_gzip(const struct http_req *q)
{
	const struct http_hdr *h = http_known(q, HK_ACCEPT_ENCODING);
	size_t i = 0;

	if (h == NULL)
		return false;
	while (i < h->vlen) {
		size_t b, e;

		while (i < h->vlen && (h->val[i] == ' ' || h->val[i] == ','))
			i++;
		b = i;
		while (i < h->vlen && h->val[i] != ',' && h->val[i] != ';' &&
		    h->val[i] != ' ')
			i++;
		e = i;
		if (e - b == 4 && strncasecmp(h->val + b, "gzip", 4) == 0) {
			const char *qv = memchr(h->val + e, 'q', h->vlen - e);
			const char *comma = memchr(h->val + e, ',', h->vlen - e);

			if (qv == NULL || (comma != NULL && comma < qv))
				return true;
			/* q=0, q=0.0, q=0.00, q=0.000 refuse */
			for (qv++; qv < h->val + h->vlen && (*qv == '=' ||
			    *qv == ' '); qv++)
				;
			while (qv < h->val + h->vlen && (*qv == '0' ||
			    *qv == '.'))
				qv++;
			return qv < h->val + h->vlen && *qv >= '1' && *qv <= '9';
		}
		while (i < h->vlen && h->val[i] != ',')
			i++;
	}
	return false;
}

/* The path part of the target (origin-form or absolute-form). */
static int
target_path(const struct http_req *q, const char **p, size_t *len,
    const char **query, size_t *qlen)
{
	const char *t = q->target, *end = q->target + q->target_len, *s;

	if (*t != '/') {
		if (q->target_len > 7 && strncasecmp(t, "http://", 7) == 0)
			t += 7;
		else if (q->target_len > 8 && strncasecmp(t, "https://", 8) == 0)
			t += 8;
		else
			return 400;
		while (t < end && *t != '/' && *t != '?')
			t++;
		if (t == end || *t != '/')
			t = "/", end = t + 1;
	}
	for (s = t; s < end && *s != '?' && *s != '#'; s++)
		;
	*p = t;
	*len = (size_t)(s - t);
	*query = s < end && *s == '?' ? s : NULL;
	*qlen = *query ? (size_t)(end - s) : 0;
	if (*qlen > 0) {
		const char *hash = memchr(*query, '#', *qlen);

		if (hash != NULL)
			*qlen = (size_t)(hash - *query);
	}
	return 0;
}

static int
redirect_slash(struct conn *c, const char *p, size_t len, const char *query,
    size_t qlen)
{
	static const char body[] = "301 Moved Permanently\n";
	char loc[PATH_BUF_SIZE + 2];
	size_t n;

	if (len + 1 + qlen >= sizeof(loc))
		return 414;
	memcpy(loc, p, len);
	loc[len] = '/';
	if (qlen > 0)
		memcpy(loc + len + 1, query, qlen);
	n = len + 1 + qlen;
	resp_begin(c, 301);
	resp_add(c, "Location", loc, n);
	resp_add(c, "Content-Type", "text/plain; charset=utf-8", 25);
	resp_send(c, sizeof(body) - 1, body, sizeof(body) - 1);
	return 0;
}

/* The validators and metadata every file response carries. */
static void
add_validators(struct conn *c, const char *etag, size_t elen,
    const char *lastmod, bool gz, bool vary)
{
	resp_add(c, "ETag", etag, elen);
	resp_add(c, "Last-Modified", lastmod, HTTPDATE_LEN);
	if (gz)
		resp_add(c, "Content-Encoding", "gzip", 4);
	if (vary)
		resp_add(c, "Vary", "Accept-Encoding", 15);
}

static int
serve_fd(struct conn *c, int fd, const struct stat *st, const char *name,
    size_t nlen, bool gz, bool vary)
{
	const struct http_req *q = &c->rd.req;
	const struct http_hdr *h;
	struct cond_hdrs ch = { 0 };
	char etag[48], lastmod[HTTPDATE_LEN + 1];
	const char *ctype;
	off_t first, last;
	size_t elen;
	int rc;

	elen = (size_t)snprintf(etag, sizeof(etag), "\"%llx-%llx\"",
	    (unsigned long long)st->st_mtime, (unsigned long long)st->st_size);
	httpdate_format(st->st_mtime, lastmod);
#define COND(field, k) do {						\
	if ((h = http_known(q, k)) != NULL) {				\
		ch.field.ptr = h->val;					\
		ch.field.len = h->vlen;					\
	}								\
} while (0)
	COND(if_match, HK_IF_MATCH);
	COND(if_none_match, HK_IF_NONE_MATCH);
	COND(if_modified_since, HK_IF_MODIFIED_SINCE);
	COND(if_unmodified_since, HK_IF_UNMODIFIED_SINCE);
	COND(if_range, HK_IF_RANGE);
#undef COND
	rc = cond_evaluate(&ch, etag, elen, st->st_mtime, true);
	if (rc == 412)
		return 412;
	if (rc == 304) {
		resp_begin(c, 304);
		add_validators(c, etag, elen, lastmod, false, vary);
		return resp_send_nobody(c), 0;
	}

	ctype = mime_type(name, nlen);
	h = http_known(q, HK_RANGE);
	if (h != NULL && q->method == HTTP_GET &&
	    cond_if_range(&ch, etag, elen, st->st_mtime)) {
		switch (range_parse(h->val, h->vlen, st->st_size, &first, &last)) {
		case RANGE_OK:
			resp_begin(c, 206);
			resp_add(c, "Content-Type", ctype, strlen(ctype));
			add_validators(c, etag, elen, lastmod, gz, vary);
			resp_addf(c, "Content-Range", "bytes %lld-%lld/%lld",
			    (long long)first, (long long)last,
			    (long long)st->st_size);
			resp_send_file(c, last - first + 1, fd, first,
			    (size_t)(last - first + 1));
			return 0;
		case RANGE_UNSATISFIABLE: {
			static const char body[] = "416 Range Not Satisfiable\n";

			resp_begin(c, 416);
			resp_add(c, "Content-Type", "text/plain; charset=utf-8",
			    25);
			resp_addf(c, "Content-Range", "bytes */%lld",
			    (long long)st->st_size);
			resp_send(c, sizeof(body) - 1, body, sizeof(body) - 1);
			return 0;
		}
		case RANGE_NONE:
			break;
		}
	}
	resp_begin(c, 200);
	resp_add(c, "Content-Type", ctype, strlen(ctype));
	add_validators(c, etag, elen, lastmod, gz, vary);
	resp_add(c, "Accept-Ranges", "bytes", 5);
	resp_send_file(c, st->st_size, fd, 0, (size_t)st->st_size);
	return 0;
}

int
static_handle(struct conn *c)
{
	const struct http_req *q = &c->rd.req;
	const char *raw, *query, *name;
	char path[PATH_BUF_SIZE + 16];
	struct stat st;
	size_t rawlen, qlen, plen, nlen;
	int fd = -1, gzfd = -1, rc;
	bool gz = false;

	if (q->method != HTTP_GET && q->method != HTTP_HEAD)
		return 405;
	if ((rc = target_path(q, &raw, &rawlen, &query, &qlen)) != 0)
		return rc;
	if ((rc = path_normalize(raw, rawlen, path, PATH_BUF_SIZE, &plen)) != 0)
		return rc;
	if ((fd = open_beneath(plen == 1 ? "." : path + 1)) == -1)
		return errno_status(errno);
	if (fstat(fd, &st) == -1) {
		rc = 500;
		goto done;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		fd = -1;
		if (path[plen - 1] != '/') {
			rc = redirect_slash(c, raw, rawlen, query, qlen);
			goto done;
		}
		memcpy(path + plen, "index.html", 11);
		plen += 10;
		if ((fd = open_beneath(path + 1)) == -1) {
			rc = errno == ENOENT ? 403 : errno_status(errno);
			goto done;
		}
		if (fstat(fd, &st) == -1) {
			rc = 500;
			goto done;
		}
	}
	if (!S_ISREG(st.st_mode)) {
		rc = 403;
		goto done;
	}
	name = path;
	nlen = plen;
	if (accepts_gzip(q)) {
		struct stat gst;

		memcpy(path + plen, ".gz", 4);
		if ((gzfd = open_beneath(path + 1)) != -1 &&
		    fstat(gzfd, &gst) == 0 && S_ISREG(gst.st_mode)) {
			close(fd);
			fd = gzfd;
			gzfd = -1;
			st = gst;
			gz = true;
		}
		path[plen] = '\0';
	}
	rc = serve_fd(c, fd, &st, name, nlen, gz, gz);
done:
	if (gzfd != -1)
		close(gzfd);
	if (fd != -1)
		close(fd);
	return rc;
}
