/*
 * autoindex - the listing of a directory without index.html (--autoindex):
 * HTML, or a JSON array with ?format=json.
 */
#ifndef PREFORKD_AUTOINDEX_H
#define PREFORKD_AUTOINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "io.h"

struct autoindex_ent {
	char		*name;		/* as the file system has it */
	bool		 dir;
	long long	 size;
	time_t		 mtime;
};

/* Opens a path relative to the root, beneath it; returns fd or -1. */
typedef int (*autoindex_open_fn)(const char *rel);

/*
 * Answers the request in c with the listing of directory dfd (taken over
 * and closed), whose normalised path is path (plen bytes, ending in '/').
 * Dotfiles are left out, and so is what is neither a regular file nor a
 * directory, or a symbolic link that open_fn will not follow (one that
 * leaves the root). Returns 0 when a response went out, or a status.
 */
int	autoindex_serve(struct conn *c, int dfd, const char *path, size_t plen,
	    bool json, autoindex_open_fn open_fn);

/*
 * The body for n entries (sorted here: directories first, then names in
 * byte order) of the directory path (plen bytes): an HTML page, or a JSON
 * array. No I/O. Returns a malloc'd buffer with *len, or NULL.
 */
char	*autoindex_render(struct autoindex_ent *ents, size_t n,
	    const char *path, size_t plen, bool json, size_t *len);

#endif
