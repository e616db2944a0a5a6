/*
 * module - loading handler modules in a worker (after fork) and routing a
 * request path to the module mounted at its longest matching prefix.
 */
#ifndef PREFORKD_MODULE_H
#define PREFORKD_MODULE_H

#include <stddef.h>

#include "cfg.h"
#include "preforkd.h"
#include "procs.h"

struct pfd_init {
	const struct cfg	*cfg;
	const char		*prefix;
	int			 worker_id;
};

struct module {
	const char		*prefix;
	size_t			 plen;
	const char		*path;
	void			*dl;
	const struct pfd_module	*desc;
	void			*state;
	struct pfd_init		 init;
	int			 inited;
};

/* module_load_all, module_set_trace, module_fini_all: in procs.h. */

/* The module for a raw request path of len bytes, or NULL (static). */
const struct module *module_route(const char *path, size_t len);

#endif
