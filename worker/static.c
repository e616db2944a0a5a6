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
#include "fcache.h"
#include "httpdate.h"
#include "mime.h"
#include "path.h"
#include "range.h"
#include "resp.h"
#include "static.h"

static int root_fd = -1;

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

int
static_init(const char *docroot)
{
	root_fd = open(docroot, O_PATH | O_DIRECTORY | O_CLOEXEC);
	fcache_init(open_beneath);
	return root_fd == -1 ? -1 : 0;
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

/*
 * The 301 that adds the slash to a directory. Location is built from the
 * normalised path, never from the raw target: "//evil.example/../d" names
 * /d, and must not send the client to evil.example.
 */
static int
redirect_slash(struct conn *c, const char *path, size_t plen,
    const char *query, size_t qlen)
{
	static const char body[] = "301 Moved Permanently\n";
	char loc[PATH_BUF_SIZE + 2];
	size_t n;
	int rc;

	if ((rc = path_location(path, plen, query, qlen, loc, sizeof(loc),
	    &n)) != 0)
		return rc;
	resp_begin(c, 301);
	resp_add(c, "Location", loc, n);
	resp_add(c, "Content-Type", "text/plain; charset=utf-8", 25);
	resp_send(c, sizeof(body) - 1, body, sizeof(body) - 1);
	return 0;
}

/*
 * The validators and metadata every file response carries (200, 206 and
 * 304; never an error). Vary goes on every response for a file that has a
 * .gz variant, the identity one and 304 included: a cache must not hand
 * either variant to the other kind of client.
 */
static void
add_validators(struct conn *c, const struct file *f, bool gz, bool vary)
{
	resp_add(c, "ETag", f->etag, f->elen);
	resp_add(c, "Last-Modified", f->lastmod, HTTPDATE_LEN);
	if (gz)
		resp_add(c, "Content-Encoding", "gzip", 4);
	if (vary)
		resp_add(c, "Vary", "Accept-Encoding", 15);
	if (f->cc != NULL)
		resp_add(c, "Cache-Control", f->cc->value,
		    strlen(f->cc->value));
}

/* Sends len bytes from off: from memory when cached, else sendfile. */
static void
send_body(struct conn *c, const struct file *f, long long off, long long len)
{
	if (f->data != NULL)
		resp_send(c, len, f->data + off, (size_t)len);
	else
		resp_send_file(c, len, f->fd, (off_t)off, (size_t)len);
}

static int
serve_file(struct conn *c, const struct file *f, bool gz)
{
	const struct http_req *q = &c->rd.req;
	const struct http_hdr *h;
	struct cond_hdrs ch = { 0 };
	off_t first, last, size = f->st.st_size;
	time_t mtime = f->st.st_mtime;
	bool vary = gz || f->gz_sibling;
	int rc;

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
	rc = cond_evaluate(&ch, f->etag, f->elen, mtime, true);
	if (rc == 412)
		return 412;
	if (rc == 304) {
		resp_begin(c, 304);
		add_validators(c, f, false, vary);
		resp_send_nobody(c);
		return 0;
	}
	h = http_known(q, HK_RANGE);
	if (h != NULL && q->method == HTTP_GET &&
	    cond_if_range(&ch, f->etag, f->elen, mtime)) {
		switch (range_parse(h->val, h->vlen, size, &first, &last)) {
		case RANGE_OK:
			resp_begin(c, 206);
			resp_add(c, "Content-Type", f->mime, strlen(f->mime));
			add_validators(c, f, gz, vary);
			resp_addf(c, "Content-Range", "bytes %lld-%lld/%lld",
			    (long long)first, (long long)last, (long long)size);
			send_body(c, f, first, last - first + 1);
			return 0;
		case RANGE_UNSATISFIABLE: {
			static const char body[] = "416 Range Not Satisfiable\n";

			resp_begin(c, 416);
			resp_add(c, "Content-Type", "text/plain; charset=utf-8",
			    25);
			resp_addf(c, "Content-Range", "bytes */%lld",
			    (long long)size);
			if (vary)
				resp_add(c, "Vary", "Accept-Encoding", 15);
			resp_send(c, sizeof(body) - 1, body, sizeof(body) - 1);
			return 0;
		}
		case RANGE_NONE:
			break;
		}
	}
	resp_begin(c, 200);
	resp_add(c, "Content-Type", f->mime, strlen(f->mime));
	add_validators(c, f, gz, vary);
	resp_add(c, "Accept-Ranges", "bytes", 5);
	send_body(c, f, 0, size);
	return 0;
}

/* The precompressed sibling FILE.gz, when there is one. */
static struct file *
open_gz(const struct cfg *cfg, struct file *tmp, char *path, size_t plen)
{
	struct stat st;
	int fd;

	memcpy(path + plen, ".gz", 4);
	fd = open_beneath(path + 1);
	path[plen] = '\0';
	if (fd == -1)
		return NULL;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return NULL;
	}
	return fcache_fill(cfg, tmp, path, plen, fd, &st, false);
}

/*
 * Opens path the slow way. Returns 0 with *out set, or a status; a
 * directory named without its slash gets its 301 here (returns -1).
 */
static int
open_file(struct conn *c, struct file *tmp, char *path, size_t plen,
    bool index, const char *query, size_t qlen, struct file **out)
{
	struct stat st;
	int fd, e, rc;

	if ((fd = open_beneath(path + 1)) == -1) {
		e = errno;
		if (index && e == ENOENT) {
			/* index.html missing: 403 if the directory exists */
			path[plen - 10] = '\0';
			fd = open_beneath(plen == 11 ? "." : path + 1);
			path[plen - 10] = 'i';
			if (fd != -1) {
				close(fd);
				return 403;
			}
		}
		return errno_status(e);
	}
	if (fstat(fd, &st) == -1) {
		close(fd);
		return 500;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		if (index)
			return 403;
		rc = redirect_slash(c, path, plen, query, qlen);
		return rc == 0 ? -1 : rc;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return 403;
	}
	*out = fcache_fill(c->cfg, tmp, path, plen, fd, &st, true);
	return 0;
}

int
static_handle(struct conn *c)
{
	const struct http_req *q = &c->rd.req;
	const char *raw, *query;
	char path[PATH_BUF_SIZE + 16];
	struct file tmp, *f = NULL;
	size_t rawlen, qlen, plen;
	bool index, gz = false;
	int rc;

	if (q->method != HTTP_GET && q->method != HTTP_HEAD)
		return 405;
	if ((rc = http_target_split(q, &raw, &rawlen, &query, &qlen)) != 0)
		return rc;
	if ((rc = path_normalize(raw, rawlen, path, PATH_BUF_SIZE, &plen)) != 0)
		return rc;
	if ((index = path[plen - 1] == '/')) {
		memcpy(path + plen, "index.html", 11);
		plen += 10;
	}
	if (accepts_gzip(q) && (f = open_gz(c->cfg, &tmp, path,
	    plen)) != NULL)
		gz = true;
	else if ((f = fcache_get(path, plen)) == NULL) {
		rc = open_file(c, &tmp, path, plen, index, query, qlen, &f);
		if (rc != 0)
			return rc == -1 ? 0 : rc;
	}
	rc = serve_file(c, f, gz);
	fcache_release(f);
	return rc;
}
