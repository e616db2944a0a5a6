/*
 * fcache - see fcache.h. Direct-mapped by a hash of the path: a lookup is
 * one hash and one compare, a miss evicts whatever was in the slot.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "defaults.h"
#include "fcache.h"
#include "mime.h"

static struct file	slots[FCACHE_SLOTS];
static fcache_open_fn	open_beneath;

static time_t
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec;
}

static size_t
slot_of(const char *p, size_t n)
{
	unsigned h = 2166136261u;		/* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 16777619u;
	return h % FCACHE_SLOTS;
}

void
fcache_init(fcache_open_fn fn)
{
	/* A slot is in use when its plen is not 0: the table stays as the
	 * loader left it, zero, and no page of it is the worker's own
	 * (Private_Dirty) until a file lands there. */
	open_beneath = fn;
}

static void
drop(struct file *f)
{
	if (f->plen == 0)
		return;		/* an empty slot */
	if (f->fd != -1)
		close(f->fd);
	free(f->data);
	f->fd = -1;
	f->data = NULL;
	f->plen = 0;
}

/*
 * ctime is what catches a rewrite in place that keeps size and mtime
 * ("cp -p", "rsync -t --inplace"): mtime can be set back, ctime cannot.
 */
static bool
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
	    a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	    a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/*
 * Whether a regular FILE.gz (ext ".gz") or FILE.br sits next to path
 * (opened by the same rules): then every response for path varies on
 * Accept-Encoding, whichever variant it carries.
 */
static bool
has_sibling(const char *path, size_t plen, const char *ext)
{
	char rel[PATH_BUF_SIZE + 16];
	struct stat st;
	bool yes;
	int fd;

	if (plen + 3 >= sizeof(rel))
		return false;
	memcpy(rel, path + 1, plen - 1);
	memcpy(rel + plen - 1, ext, 4);
	if ((fd = open_beneath(rel)) == -1)
		return false;
	yes = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	close(fd);
	return yes;
}

static void
find_siblings(struct file *f, const char *path, size_t plen)
{
	f->gz_sibling = has_sibling(path, plen, ".gz");
	f->br_sibling = has_sibling(path, plen, ".br");
}

struct file *
fcache_get(const char *path, size_t plen)
{
	struct file *f = &slots[slot_of(path, plen)];
	struct stat st;
	time_t now;
	int fd;

	if (f->plen != plen || memcmp(f->path, path, plen) != 0)
		return NULL;
	if ((now = now_sec()) == f->checked)
		return f;
	/* Re-open through the same beneath-the-root rules: a symlink swapped
	 * in since must not be followed out. */
	fd = open_beneath(path + 1);
	if (fd == -1 || fstat(fd, &st) == -1 || !same_file(&st, &f->st)) {
		if (fd != -1)
			close(fd);
		drop(f);
		return NULL;
	}
	close(fd);
	find_siblings(f, path, plen);
	f->checked = now;
	return f;
}

/*
 * The ETag is inode-size-ctime: a rewrite in place that restores mtime
 * changes ctime, a replacement by rename changes the inode, and either
 * must change the validator as it changes the bytes.
 */
static void
describe(const struct cfg *cfg, struct file *f, const char *path, size_t plen,
    int fd, const struct stat *st)
{
	f->fd = fd;
	f->st = *st;
	f->elen = (size_t)snprintf(f->etag, sizeof(f->etag),
	    "\"%llx-%llx-%llx\"", (unsigned long long)st->st_ino,
	    (unsigned long long)st->st_size,
	    (unsigned long long)st->st_ctim.tv_sec * 1000000000ULL +
	    (unsigned long long)st->st_ctim.tv_nsec);
	httpdate_format(st->st_mtime, f->lastmod);
	f->mime = mime_type_cfg(cfg, path, plen);
	f->cc = cfg_cache_control_match(cfg, path, plen);
	f->data = NULL;
}

/* Reads the whole (small) file into memory; NULL if that fails. */
static char *
slurp(int fd, size_t size)
{
	char *data = malloc(size ? size : 1);
	size_t got = 0;

	while (data != NULL && got < size) {
		ssize_t n = pread(fd, data + got, size - got, (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(data);
			return NULL;
		}
		got += (size_t)n;
	}
	return data;
}

struct file *
fcache_fill(const struct cfg *cfg, struct file *tmp, const char *path,
    size_t plen, int fd, const struct stat *st, bool cache)
{
	struct file *f;

	if (!cache || plen >= FCACHE_PATH) {
		describe(cfg, tmp, path, plen, fd, st);
		tmp->gz_sibling = tmp->br_sibling = false;
		if (cache)
			find_siblings(tmp, path, plen);
		tmp->cached = false;
		return tmp;
	}
	f = &slots[slot_of(path, plen)];
	drop(f);
	describe(cfg, f, path, plen, fd, st);
	find_siblings(f, path, plen);
	memcpy(f->path, path, plen);
	f->plen = plen;
	f->cached = true;
	f->checked = now_sec();
	if (st->st_size <= FCACHE_DATA_MAX)
		f->data = slurp(fd, (size_t)st->st_size);
	return f;
}

void
fcache_release(struct file *f)
{
	if (!f->cached && f->fd != -1) {
		close(f->fd);
		f->fd = -1;
	}
}
