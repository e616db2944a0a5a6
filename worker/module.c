/*
 * module - see module.h. Routing compares the raw request path with each
 * prefix at a segment boundary ("/api" takes "/api", "/api/x" and
 * "/api?q", not "/apix"); modules are kept longest prefix first, so the
 * first match is the longest.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "module.h"

static struct module	mods[MAX_MODULES];
static int		nmods;
static int		trace_fd = -1;	/* module_set_trace() */

const char *
pfd_init_option(const struct pfd_init *init, const char *key)
{
	const struct cfg *c = init->cfg;

	for (int i = c->nmodule_options - 1; i >= 0; i--)
		if (strcmp(c->module_options[i].prefix, init->prefix) == 0 &&
		    strcmp(c->module_options[i].key, key) == 0)
			return c->module_options[i].value;
	return NULL;
}

int
pfd_init_worker_id(const struct pfd_init *init)
{
	return init->worker_id;
}

static int
by_length(const void *a, const void *b)
{
	const struct module *x = a, *y = b;

	return (x->plen < y->plen) - (x->plen > y->plen);
}

static int
load_one(struct module *m, char *err, size_t errlen)
{
	const char *e;

	m->dl = dlopen(m->path, RTLD_NOW | RTLD_LOCAL);
	if (m->dl == NULL) {
		e = dlerror();
		snprintf(err, errlen, "module %s: cannot load: %s", m->path,
		    e ? e : "unknown error");
		return -1;
	}
	m->desc = dlsym(m->dl, "preforkd_module");
	if (m->desc == NULL) {
		snprintf(err, errlen, "module %s: no preforkd_module "
		    "descriptor (define one with PREFORKD_MODULE)", m->path);
		return -1;
	}
	/* Same major; a minor up to ours (older headers lack only calls
	 * added since). */
	if ((m->desc->abi_version & 0xffff) != PREFORKD_ABI_MAJOR ||
	    (m->desc->abi_version >> 16) > PREFORKD_ABI_MINOR) {
		snprintf(err, errlen, "module %s: built for module ABI %u.%u, "
		    "this preforkd has ABI %d.%d: rebuild it against this "
		    "preforkd.h", m->path, m->desc->abi_version & 0xffff,
		    m->desc->abi_version >> 16, PREFORKD_ABI_MAJOR,
		    PREFORKD_ABI_MINOR);
		return -1;
	}
	if (m->desc->handle == NULL) {
		snprintf(err, errlen, "module %s: no handle function", m->path);
		return -1;
	}
	return 0;
}

void
module_set_trace(int fd)
{
	trace_fd = fd;
}

int
module_load_all(const struct cfg *c, int worker_id, char *err, size_t errlen)
{
	nmods = c->nmodules;
	for (int i = 0; i < nmods; i++) {
		struct module *m = &mods[i];

		memset(m, 0, sizeof(*m));
		m->prefix = c->modules[i].prefix;
		m->plen = strlen(m->prefix);
		m->path = c->modules[i].path;
		m->init.cfg = c;
		m->init.prefix = m->prefix;
		m->init.worker_id = worker_id;
	}
	qsort(mods, (size_t)nmods, sizeof(mods[0]), by_length);
	for (int i = 0; i < nmods; i++) {
		struct module *m = &mods[i];

		if (trace_fd != -1)
			(void)dprintf(trace_fd, "module %s (%s)\n", m->path,
			    m->prefix);
		if (load_one(m, err, errlen) == -1)
			return -1;
		if (m->desc->init != NULL &&
		    m->desc->init(&m->init, &m->state) != 0) {
			snprintf(err, errlen, "module %s (%s): init failed",
			    m->path, m->prefix);
			return -1;
		}
		m->inited = 1;
	}
	return 0;
}

void
module_fini_all(void)
{
	for (int i = nmods - 1; i >= 0; i--) {
		if (mods[i].inited && mods[i].desc->fini != NULL)
			mods[i].desc->fini(mods[i].state);
		mods[i].inited = 0;
	}
}

const struct module *
module_route(const char *path, size_t len)
{
	for (int i = 0; i < nmods; i++) {
		const struct module *m = &mods[i];

		if (m->plen == 1)	/* "/" takes everything */
			return m;
		if (len >= m->plen && memcmp(path, m->prefix, m->plen) == 0 &&
		    (len == m->plen || path[m->plen] == '/'))
			return m;
	}
	return NULL;
}
