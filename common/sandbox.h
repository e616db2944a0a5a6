/*
 * sandbox - confines a process once its set-up is done (SPEC section 10):
 * no_new_privs, Landlock file-system rules and a seccomp filter. The
 * master only probes what the kernel offers, to warn or to refuse.
 */
#ifndef PREFORKD_SANDBOX_H
#define PREFORKD_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

#include "cfg.h"

/* Who is confined: a worker gets the profile of --sandbox; the status
 * process and the keeper always get strict, with their own allow-list. */
enum sandbox_role { SANDBOX_WORKER, SANDBOX_STATUS, SANDBOX_KEEPER };

/* What a Landlock rule grants beneath a path. */
enum sandbox_access {
	SANDBOX_READ,		/* read files, list directories */
	SANDBOX_WRITE,		/* also write, create, remove, rename */
	SANDBOX_LOG		/* write existing files only (log reopen) */
};

struct sandbox_path {
	const char		*path;
	enum sandbox_access	 access;
};

#define SANDBOX_MAX_PATHS	(1 + 2 * MAX_SANDBOX_PATHS + \
				    MAX_MODULE_OPTIONS + 2 + 3)

struct sandbox_paths {
	struct sandbox_path	p[SANDBOX_MAX_PATHS];
	int			n;
	char			logdir[2][PATH_MAX];	/* error, access */
#ifdef PREFORKD_SANITIZERS
	char			sandir[2][PATH_MAX];	/* ASan, UBSan logs */
#endif
};

/* What the running kernel offers. */
struct sandbox_support {
	int	landlock_abi;	/* 0: no Landlock */
	bool	seccomp;
};

/* Probes the kernel (two syscalls). */
void	sandbox_probe(struct sandbox_support *s);

/*
 * Compares the profile of c for workers (role SANDBOX_WORKER) with what
 * the kernel offers. Returns 0 when everything is enforced (or the
 * sandbox is off); 1 with a warning in msg naming what is not enforced;
 * -1 with the reason in msg when --sandbox strict was given explicitly
 * and cannot be enforced (the server must not start).
 */
int	sandbox_check(const struct cfg *c, const struct sandbox_support *s,
	    char *msg, size_t msglen);

/* "strict (Landlock ABI 7, seccomp allow-list)", for -t. */
void	sandbox_describe(const struct cfg *c, const struct sandbox_support *s,
	    char *out, size_t outlen);

/*
 * The Landlock rules of role under c: for a worker the document root,
 * --sandbox-read/--sandbox-write and the modules' 'sandbox-read' and
 * 'sandbox-write' options; for every role the directories of the log
 * files, where existing files may be written (USR1 reopens them by name).
 * The pointers refer to c and to out.
 */
void	sandbox_paths_build(const struct cfg *c, enum sandbox_role role,
	    struct sandbox_paths *out);

/*
 * The syscalls a strict role may make (NULL-terminated names), and the
 * ones standard answers with EPERM.
 */
const char *const *sandbox_allowlist(enum sandbox_role role);
const char *const *sandbox_denylist(void);

/*
 * Confines the calling process as role under c, for good. Call it after
 * the privilege drop and module init, before serving anyone. Returns 0,
 * or -1 with the reason in err.
 */
int	sandbox_apply_process(const struct cfg *c, enum sandbox_role role,
	    char *err, size_t errlen);

/* Looks up every syscall's name ahead of sandbox_apply_process(): the
 * master calls it before forking, so the table is shared, not copied. */
void	sandbox_names_init(void);

/* The name of syscall nr ("openat"), or NULL. Async-signal-safe: the
 * names are looked up when the filter is loaded. */
const char *sandbox_syscall_name(long nr);

#endif
