/*
 * mime - media types by file extension: --mime-type, then the built-in
 * table, then /etc/mime.types.
 */
#ifndef PREFORKD_MIME_H
#define PREFORKD_MIME_H

#include <stddef.h>

#include "cfg.h"

/*
 * Returns the Content-Type for a file name of len bytes, by its extension
 * (case-insensitive): the built-in table, else the loaded system file;
 * text types carry "; charset=utf-8". Unknown or no extension:
 * "application/octet-stream". The string lives as long as the process.
 * The extension follows the last '.' of the last '/'-separated component;
 * a leading '.' (".bashrc") does not start one.
 */
const char	*mime_type(const char *name, size_t len);
/* The same, with c's --mime-type entries first. */
const char	*mime_type_cfg(const struct cfg *c, const char *name,
		    size_t len);
/*
 * Reads a mime.types file (Debian's media-types format: "type ext ...")
 * for the extensions the built-in table lacks; a text type gets the
 * charset too. Meant for the master, before it forks. Returns 0, or -1
 * with errno (ENOENT when there is none: not an error).
 */
int		 mime_load(const char *path);

#endif
