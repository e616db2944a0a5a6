/*
 * mime - the built-in table of media types, by file extension.
 */
#ifndef PREFORKD_MIME_H
#define PREFORKD_MIME_H

#include <stddef.h>

/*
 * Returns the Content-Type for a file name of len bytes, by its extension
 * (case-insensitive); text types carry "; charset=utf-8". Unknown or no
 * extension: "application/octet-stream". The string is static.
 * The extension follows the last '.' of the last '/'-separated component;
 * a leading '.' (".bashrc") does not start one.
 */
const char	*mime_type(const char *name, size_t len);

#endif
