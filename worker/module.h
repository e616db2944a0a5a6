/*
 * module - loading handler modules in a worker (after fork) and routing a
 * request path to the module mounted at its longest matching prefix.
 */
#ifndef PREFORKD_MODULE_H
#define PREFORKD_MODULE_H

#include <stddef.h>

#include "cfg.h"
#include "preforkd.h"

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

/*
 * Loads every module of c (dlopen, descriptor, ABI check) and runs its
 * init for worker worker_id. Returns 0, or -1 with a one-line reason that
 * names the module's file in err.
 */
int	module_load_all(const struct cfg *c, int worker_id, char *err,
	    size_t errlen);
/* The module check: module_load_all() writes "module PATH (PREFIX)\n" to
 * fd before it loads each one, so that a hang can be named. */
void	module_set_trace(int fd);
/* Runs fini of every initialised module (worker exit). */
void	module_fini_all(void);
/* The module for a raw request path of len bytes, or NULL (static). */
const struct module *module_route(const char *path, size_t len);

#endif
