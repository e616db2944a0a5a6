/*
 * fcache - a worker's small cache of open files: descriptor, stat, the
 * validators and, for small files, the bytes. An entry is re-checked
 * against the file system at most once per second (like nginx's
 * open_file_cache_valid), so a changed file is seen within a second.
 */
#ifndef PREFORKD_FCACHE_H
#define PREFORKD_FCACHE_H

#include <sys/stat.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "cfg.h"
#include "httpdate.h"

#define FCACHE_SLOTS		64	/* direct-mapped */
#define FCACHE_PATH		256	/* longer paths are not cached */
#define FCACHE_DATA_MAX		16384	/* files up to this are kept in memory */

struct file {
	int		 fd;
	struct stat	 st;
	char		 etag[56];	/* "ino-size-ctime", 3 x 16 hex */
	size_t		 elen;
	char		 lastmod[HTTPDATE_LEN + 1];
	const char	*mime;
	const struct cfg_cache_control *cc;	/* --cache-control, or NULL */
	char		*data;		/* the whole file, or NULL */
	bool		 gz_sibling;	/* FILE.gz exists next to it */
	bool		 br_sibling;	/* FILE.br exists next to it */
	bool		 cached;	/* owned by the cache: do not close */
	/* cache bookkeeping */
	char		 path[FCACHE_PATH];
	size_t		 plen;
	time_t		 checked;
};

/* Opens a path relative to the root, beneath it; returns fd or -1. */
typedef int (*fcache_open_fn)(const char *rel);

void	fcache_init(fcache_open_fn open_fn);
/*
 * Returns the cached entry for path (plen bytes, starting with '/'), re-
 * checked when older than a second (the .gz and .br siblings looked for
 * again), or
 * NULL (not cached, or the file vanished or changed: another device, inode,
 * size, mtime or ctime; the caller opens it the slow way).
 */
struct file *fcache_get(const char *path, size_t plen);
/*
 * Describes fd (stat st) as the file named path (its extension picks the
 * media type, its path the Cache-Control of cfg). With cache (a file asked
 * for by name, not a .gz or .br variant), also looks for its siblings;
 * with a path that fits, the result is then the cache's own entry, which
 * takes fd over; else it is tmp.
 * Returns the entry.
 */
struct file *fcache_fill(const struct cfg *cfg, struct file *tmp,
	    const char *path, size_t plen, int fd, const struct stat *st,
	    bool cache);
/* Releases what a temporary (uncached) entry holds. */
void	fcache_release(struct file *f);

#endif
