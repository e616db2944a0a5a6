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

#include "autoindex.h"
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

/*
 * A qvalue (RFC 9110 12.4.2): "0" or "1", up to three decimals, as
 * thousandths. Returns -1 when it is not one.
 */
static int
parse_q(const char *p, size_t n)
{
	int q, scale = 100;

	if (n == 0 || (p[0] != '0' && p[0] != '1'))
		return -1;
	q = (p[0] - '0') * 1000;
	if (n == 1)
		return q;
	if (p[1] != '.' || n > 5)
		return -1;
	for (size_t i = 2; i < n; i++, scale /= 10) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		q += (p[i] - '0') * scale;
	}
	return q > 1000 ? -1 : q;
}

static bool
is_ows(char ch)
{
	return ch == ' ' || ch == '\t';
}

void
static_accept_encoding(const char *v, size_t n, int *qbr, int *qgz)
{
	int br = -1, gz = -1, star = -1;
	size_t i = 0;

	while (i < n) {
		size_t b, e;
		int q = 1000, *slot = NULL;

		while (i < n && (is_ows(v[i]) || v[i] == ','))
			i++;
		b = i;
		while (i < n && v[i] != ',' && v[i] != ';' && !is_ows(v[i]))
			i++;
		e = i;
		if (e - b == 2 && strncasecmp(v + b, "br", 2) == 0)
			slot = &br;
		else if ((e - b == 4 && strncasecmp(v + b, "gzip", 4) == 0) ||
		    (e - b == 6 && strncasecmp(v + b, "x-gzip", 6) == 0))
			slot = &gz;
		else if (e - b == 1 && v[b] == '*')
			slot = &star;
		/* parameters: only q counts; a bad one voids the element */
		while (i < n && v[i] != ',') {
			size_t pb, pe;

			while (i < n && (is_ows(v[i]) || v[i] == ';'))
				i++;
			pb = i;
			while (i < n && v[i] != ',' && v[i] != ';' &&
			    !is_ows(v[i]))
				i++;
			pe = i;
			if (pe - pb >= 2 && (v[pb] == 'q' || v[pb] == 'Q') &&
			    v[pb + 1] == '=')
				q = parse_q(v + pb + 2, pe - pb - 2);
			while (i < n && is_ows(v[i]))
				i++;
		}
		if (slot != NULL && q >= 0)
			*slot = q;
	}
	/* "*" stands for every coding not named; unnamed ones are refused */
	*qbr = br >= 0 ? br : (star >= 0 ? star : 0);
	*qgz = gz >= 0 ? gz : (star >= 0 ? star : 0);
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

/* The precompressed variants, in the order of enum enc. */
enum enc { ENC_IDENTITY, ENC_GZIP, ENC_BR };
static const char *const enc_name[] = { "identity", "gzip", "br" };
static const char *const enc_ext[] = { "", ".gz", ".br" };

/*
 * The validators and metadata every file response carries (200, 206 and
 * 304; never an error). Vary goes on every response for a file that has a
 * .gz or .br variant, the identity one and 304 included: a cache must not
 * hand one variant to a client that asked for another.
 */
static void
add_validators(struct conn *c, const struct file *f, enum enc enc, bool vary)
{
	resp_add(c, "ETag", f->etag, f->elen);
	resp_add(c, "Last-Modified", f->lastmod, HTTPDATE_LEN);
	if (enc != ENC_IDENTITY)
		resp_add(c, "Content-Encoding", enc_name[enc],
		    strlen(enc_name[enc]));
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
		resp_send_static(c, len, f->fd, (off_t)off, (size_t)len);
}

/*
 * The ETag of a variant is that of its own file (FILE.gz or FILE.br: its
 * own inode), so each encoding validates only itself; a range counts the
 * encoded bytes.
 */
static int
serve_file(struct conn *c, const struct file *f, enum enc enc)
{
	const struct http_req *q = &c->rd.req;
	const struct http_hdr *h;
	struct cond_hdrs ch = { 0 };
	off_t first, last, size = f->st.st_size;
	time_t mtime = f->st.st_mtime;
	bool vary = enc != ENC_IDENTITY || f->gz_sibling || f->br_sibling;
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
		add_validators(c, f, ENC_IDENTITY, vary);
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
			add_validators(c, f, enc, vary);
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
	add_validators(c, f, enc, vary);
	resp_add(c, "Accept-Ranges", "bytes", 5);
	send_body(c, f, 0, size);
	return 0;
}

/* The precompressed sibling FILE.gz or FILE.br, when there is one. */
static struct file *
open_variant(const struct cfg *cfg, struct file *tmp, char *path, size_t plen,
    enum enc enc)
{
	struct stat st;
	int fd;

	memcpy(path + plen, enc_ext[enc], 4);
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
 * The variant the client prefers among those that exist: br before gzip
 * at equal q. A cached entry says which siblings exist (as of its last
 * check), so a file without any costs no open; an uncached one is tried.
 */
static struct file *
pick_variant(struct conn *c, const struct file *f, struct file *tmp,
    char *path, size_t plen, enum enc *enc)
{
	const struct http_hdr *h = http_known(&c->rd.req, HK_ACCEPT_ENCODING);
	enum enc order[2];
	struct file *v;
	int qbr, qgz, q[3];

	if (h == NULL || (f != NULL && !f->gz_sibling && !f->br_sibling))
		return NULL;
	static_accept_encoding(h->val, h->vlen, &qbr, &qgz);
	q[ENC_IDENTITY] = 0;
	q[ENC_GZIP] = qgz;
	q[ENC_BR] = qbr;
	order[0] = qbr >= qgz ? ENC_BR : ENC_GZIP;
	order[1] = order[0] == ENC_BR ? ENC_GZIP : ENC_BR;
	for (int i = 0; i < 2; i++) {
		enum enc e = order[i];

		if (q[e] == 0 || (f != NULL && !(e == ENC_BR ? f->br_sibling :
		    f->gz_sibling)))
			continue;
		if ((v = open_variant(c->cfg, tmp, path, plen, e)) != NULL) {
			*enc = e;
			return v;
		}
	}
	return NULL;
}

/* The query (qlen bytes, '?' first) holds the parameter format=json. */
static bool
wants_json(const char *query, size_t qlen)
{
	size_t i = 1;

	while (i < qlen) {
		size_t n = 0;

		while (i + n < qlen && query[i + n] != '&')
			n++;
		if (n == 11 && memcmp(query + i, "format=json", 11) == 0)
			return true;
		i += n + 1;
	}
	return false;
}

/*
 * Opens path the slow way. Returns 0 with *out set, or a status; a
 * directory named without its slash gets its 301 here, and one without
 * index.html its listing with --autoindex (both return -1).
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
			/* index.html missing: 403 (or the listing) if the
			 * directory exists */
			path[plen - 10] = '\0';
			fd = open_beneath(plen == 11 ? "." : path + 1);
			if (fd != -1 && c->cfg->autoindex) {
				rc = autoindex_serve(c, fd, path, plen - 10,
				    wants_json(query, qlen), open_beneath);
				return rc == 0 ? -1 : rc;
			}
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
	struct file tmp, *f, *v;
	size_t rawlen, qlen, plen;
	enum enc enc = ENC_IDENTITY;
	bool index;
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
	f = fcache_get(path, plen);
	if ((v = pick_variant(c, f, &tmp, path, plen, &enc)) != NULL) {
		rc = serve_file(c, v, enc);
		fcache_release(v);
		return rc;
	}
	if (f == NULL && (rc = open_file(c, &tmp, path, plen, index, query,
	    qlen, &f)) != 0)
		return rc == -1 ? 0 : rc;
	rc = serve_file(c, f, ENC_IDENTITY);
	fcache_release(f);
	return rc;
}
