/*
 * sandbox - no_new_privs, Landlock and seccomp for a process whose
 * set-up is done (SPEC section 10). Like pledge/unveil, it comes after
 * init: a module opens what it needs in init, and what is open stays
 * usable (listeners, logs, the scoreboard, the document root's fd).
 *
 * Landlock has no glibc wrapper: its three syscalls are called through
 * syscall(2), and the ABI the kernel speaks decides which rights are
 * handled (an older kernel simply handles fewer). seccomp goes through
 * libseccomp, which also names syscall numbers for the SIGSYS report.
 */
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>
#include <linux/landlock.h>
#include <linux/netlink.h>
#include <linux/sockios.h>
#include <linux/seccomp.h>
#include <seccomp.h>

#include "child.h"
#include "sandbox.h"

/* Rights of Landlock ABIs newer than the installed header. */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE	(1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV	(1ULL << 15)
#endif

#define FS_READ		(LANDLOCK_ACCESS_FS_READ_FILE | \
			    LANDLOCK_ACCESS_FS_READ_DIR)
#define FS_WRITE	(FS_READ | LANDLOCK_ACCESS_FS_WRITE_FILE | \
			    LANDLOCK_ACCESS_FS_REMOVE_DIR | \
			    LANDLOCK_ACCESS_FS_REMOVE_FILE | \
			    LANDLOCK_ACCESS_FS_MAKE_DIR | \
			    LANDLOCK_ACCESS_FS_MAKE_REG | \
			    LANDLOCK_ACCESS_FS_MAKE_SYM | \
			    LANDLOCK_ACCESS_FS_REFER | \
			    LANDLOCK_ACCESS_FS_TRUNCATE)
/* The rights a rule on a file (not a directory) may carry. */
#define FS_FILE		(LANDLOCK_ACCESS_FS_EXECUTE | \
			    LANDLOCK_ACCESS_FS_WRITE_FILE | \
			    LANDLOCK_ACCESS_FS_READ_FILE | \
			    LANDLOCK_ACCESS_FS_TRUNCATE | \
			    LANDLOCK_ACCESS_FS_IOCTL_DEV)

/* Syscall numbers named for the SIGSYS report (x86-64 has ~470). */
#define NAMES_MAX	512
#define NAME_LEN	32

static char	names[NAMES_MAX][NAME_LEN];

/*
 * What a static-file worker does once it serves (strace -f of the
 * integration suite), the crash handler's report (pipe2, write, read,
 * send, shutdown, poll) and USR1's log reopen. kill and tgkill come with
 * their arguments pinned (add_signal_rules).
 */
static const char *const worker_allow[] = {
	/* connections */
	"accept4", "read", "readv", "recvfrom", "write", "writev", "sendto",
	"sendfile", "shutdown", "close", "poll", "ppoll", "setsockopt",
	"getsockopt", "getsockname", "getpeername", "fcntl",
	/* files beneath the document root, the logs */
	"openat", "openat2", "newfstatat", "fstat", "statx", "lseek",
	"pread64",
	/* memory */
	"brk", "mmap", "munmap", "mremap", "madvise", "mprotect",
	/* time, signals, the master (--timeout is setitimer) */
	"clock_gettime", "clock_nanosleep", "nanosleep", "gettimeofday",
	"setitimer", "rt_sigreturn", "rt_sigaction", "rt_sigprocmask",
	"sigaltstack", "getpid", "gettid", "getppid", "getrandom",
	/* the keeper's queue (a hand-off's bulky bytes go in a memfd) */
	"epoll_wait", "epoll_pwait", "epoll_ctl", "sendmsg", "recvmsg",
	"memfd_create",
	/* the crash report */
	"pipe2",
	/* directory listings (--autoindex) */
	"getdents64",
	/* leaving */
	"exit", "exit_group", "restart_syscall",
	NULL
};

#ifdef PREFORKD_SANITIZERS
/*
 * An ASan/UBSan build: LeakSanitizer checks at exit from a thread of its
 * own (clone) that stops the others with ptrace and reads /proc; reports
 * go to files it creates in log_path's directory.
 */
static const char *const sanitizer_allow[] = {
	"clone", "ptrace", "wait4", "sched_yield", "futex", "getdents",
	"getdents64", "open",
	"readlink", "readlinkat", "prctl", "sigaltstack", "munmap", "mmap",
	"exit", "getpid", "gettid", "openat", "read", "write", "close",
	"newfstatat", "fstat", "lseek", "pread64", "rt_sigprocmask",
	"rt_sigaction", "unlink", "setrlimit", "getrlimit",
	"prlimit64", "set_robust_list", "sched_getaffinity", "ioctl",
	"mprotect",	/* its thread's stack guard (keeper, status) */
	NULL
};
#endif

/* The status process: accept, read a head, answer, reopen its log. */
static const char *const status_allow[] = {
	"accept4", "read", "write", "writev", "sendmsg", "sendto",
	"recvfrom", "shutdown", "close", "poll", "ppoll", "fcntl",
	"setsockopt", "openat", "newfstatat", "fstat", "brk", "mmap",
	"munmap", "mremap", "madvise", "clock_gettime", "clock_nanosleep",
	"nanosleep",
	"rt_sigreturn", "rt_sigprocmask", "getpid", "getppid",
	"gettid", "exit", "exit_group", "restart_syscall",
	NULL
};

/* The keeper process: its event loop and the hand-off to workers. */
static const char *const keeper_allow[] = {
	"epoll_wait", "epoll_pwait", "epoll_ctl", "accept4", "read",
	"write", "writev", "sendmsg", "recvmsg", "sendto", "recvfrom",
	"shutdown", "close", "fcntl", "setsockopt", "getsockopt",
	"openat", "newfstatat", "fstat", "brk", "mmap", "munmap", "mremap",
	"madvise", "clock_gettime", "clock_nanosleep", "nanosleep",
	"rt_sigreturn", "rt_sigprocmask", "getpid", "getppid",
	"gettid", "exit", "exit_group", "restart_syscall", "memfd_create",
	"pread64", "poll", "sendfile",
	NULL
};

/*
 * standard: what no handler needs and an attacker wants. io_uring runs
 * its operations outside the filter, so it goes too.
 */
static const char *const standard_deny[] = {
	"execve", "execveat", "process_vm_readv", "process_vm_writev",
	"mount", "umount2", "pivot_root", "unshare", "setns", "bpf",
	"perf_event_open", "kexec_load", "kexec_file_load", "init_module",
	"finit_module", "delete_module", "keyctl", "add_key", "request_key",
	"personality", "userfaultfd", "io_uring_setup", "io_uring_enter",
	"io_uring_register", "open_tree", "move_mount", "fsopen", "fsmount",
	"fsconfig", "fspick", "open_by_handle_at",
#ifndef PREFORKD_SANITIZERS
	"ptrace",	/* LeakSanitizer's, see sanitizer_allow */
#endif
	NULL
};

const char *const *
sandbox_allowlist(enum sandbox_role role)
{
	switch (role) {
	case SANDBOX_STATUS:
		return status_allow;
	case SANDBOX_KEEPER:
		return keeper_allow;
	default:
		return worker_allow;
	}
}

const char *const *
sandbox_denylist(void)
{
	return standard_deny;
}

void
sandbox_probe(struct sandbox_support *s)
{
	unsigned int act = SECCOMP_RET_TRAP;
	long abi;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	s->landlock_abi = abi > 0 ? (int)abi : 0;
	s->seccomp = syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0,
	    &act) == 0;
}

int
sandbox_check(const struct cfg *c, const struct sandbox_support *s,
    char *msg, size_t msglen)
{
	enum sandbox_profile p = cfg_sandbox(c);
	const char *what;

	msg[0] = '\0';
	if (p == SANDBOX_OFF || (s->landlock_abi > 0 && s->seccomp))
		return 0;
	what = s->landlock_abi == 0 && !s->seccomp ? "Landlock and seccomp" :
	    s->landlock_abi == 0 ? "Landlock" : "seccomp";
	if (c->sandbox == SANDBOX_STRICT) {
		snprintf(msg, msglen, "--sandbox strict cannot be enforced: "
		    "this kernel offers no %s", what);
		return -1;
	}
	snprintf(msg, msglen, "sandbox %s: this kernel offers no %s, so %s",
	    p == SANDBOX_STRICT ? "strict" : "standard", what,
	    s->landlock_abi == 0 && !s->seccomp ? "neither file-system rules "
	    "nor the syscall filter are enforced" : s->landlock_abi == 0 ?
	    "file-system rules are not enforced" :
	    "the syscall filter is not enforced");
	return 1;
}

void
sandbox_describe(const struct cfg *c, const struct sandbox_support *s,
    char *out, size_t outlen)
{
	enum sandbox_profile p = cfg_sandbox(c);
	char ll[32];

	if (p == SANDBOX_OFF) {
		snprintf(out, outlen, "off");
		return;
	}
	if (s->landlock_abi > 0)
		snprintf(ll, sizeof(ll), "Landlock ABI %d", s->landlock_abi);
	else
		snprintf(ll, sizeof(ll), "no Landlock");
	snprintf(out, outlen, "%s (%s, %s%s)", p == SANDBOX_STRICT ? "strict" :
	    "standard", ll, !s->seccomp ? "no seccomp" :
	    p == SANDBOX_STRICT ? "seccomp allow-list" : "seccomp deny-list",
#ifdef PREFORKD_SANITIZERS
	    s->seccomp || s->landlock_abi > 0 ? ", widened for the sanitizers" :
#endif
	    "");
}

/* The directory a log file is (re)opened in; nothing for "-", "off". */
static void
log_dir(const char *file, char *out, size_t outlen)
{
	const char *slash;

	out[0] = '\0';
	if (strcmp(file, "-") == 0 || strcmp(file, "off") == 0)
		return;
	if ((slash = strrchr(file, '/')) == NULL)
		strlcpy(out, ".", outlen);
	else if (slash == file)
		strlcpy(out, "/", outlen);
	else if ((size_t)(slash - file) < outlen)
		snprintf(out, outlen, "%.*s", (int)(slash - file), file);
}

#ifdef PREFORKD_SANITIZERS
/* The directory of log_path=... in the sanitizer options var. */
static void
sanitizer_dir(const char *var, char *out, size_t outlen)
{
	const char *o = getenv(var), *p, *slash = NULL;
	size_t n;

	out[0] = '\0';
	if (o == NULL || (p = strstr(o, "log_path=")) == NULL)
		return;
	p += strlen("log_path=");
	n = strcspn(p, ":");
	for (size_t i = 0; i < n; i++)
		if (p[i] == '/')
			slash = p + i;
	if (slash != NULL && slash > p && (size_t)(slash - p) < outlen)
		snprintf(out, outlen, "%.*s", (int)(slash - p), p);
}
#endif

static void
add_path(struct sandbox_paths *sp, const char *path, enum sandbox_access a)
{
	if (path[0] == '\0' || sp->n == SANDBOX_MAX_PATHS)
		return;
	sp->p[sp->n].path = path;
	sp->p[sp->n].access = a;
	sp->n++;
}

void
sandbox_paths_build(const struct cfg *c, enum sandbox_role role,
    struct sandbox_paths *sp)
{
	sp->n = 0;
	if (role == SANDBOX_WORKER) {
		add_path(sp, c->docroot, SANDBOX_READ);
		for (int i = 0; i < c->nsandbox_read; i++)
			add_path(sp, c->sandbox_read[i], SANDBOX_READ);
		for (int i = 0; i < c->nsandbox_write; i++)
			add_path(sp, c->sandbox_write[i], SANDBOX_WRITE);
		for (int i = 0; i < c->nmodule_options; i++) {
			const struct cfg_module_option *o = &c->module_options[i];

			if (strcmp(o->key, "sandbox-read") == 0)
				add_path(sp, o->value, SANDBOX_READ);
			else if (strcmp(o->key, "sandbox-write") == 0)
				add_path(sp, o->value, SANDBOX_WRITE);
		}
	}
#ifdef PREFORKD_SANITIZERS
	add_path(sp, "/proc", SANDBOX_READ);
	sanitizer_dir("ASAN_OPTIONS", sp->sandir[0], sizeof(sp->sandir[0]));
	sanitizer_dir("UBSAN_OPTIONS", sp->sandir[1], sizeof(sp->sandir[1]));
	add_path(sp, sp->sandir[0], SANDBOX_WRITE);
	add_path(sp, sp->sandir[1], SANDBOX_WRITE);
#endif
	log_dir(c->error_log, sp->logdir[0], sizeof(sp->logdir[0]));
	log_dir(c->access_log, sp->logdir[1], sizeof(sp->logdir[1]));
	add_path(sp, sp->logdir[0], SANDBOX_LOG);
	if (strcmp(sp->logdir[0], sp->logdir[1]) != 0)
		add_path(sp, sp->logdir[1], SANDBOX_LOG);
}

/* Every file-system right the kernel's Landlock ABI knows. */
static unsigned long long
fs_handled(int abi)
{
	unsigned long long h = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;

	if (abi >= 2)
		h |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		h |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		h |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return h;
}

/*
 * Handles every right the kernel knows, so that what no rule grants is
 * denied: nothing outside the paths, no execution anywhere.
 */
static int
landlock_apply(const struct sandbox_paths *sp, int abi, char *err,
    size_t errlen)
{
	struct landlock_ruleset_attr ra;
	struct landlock_path_beneath_attr pb;
	unsigned long long handled = fs_handled(abi);
	struct stat st;
	int rs = -1, fd = -1;

	memset(&ra, 0, sizeof(ra));
	ra.handled_access_fs = handled;
	if ((rs = (int)syscall(SYS_landlock_create_ruleset, &ra, sizeof(ra),
	    0)) == -1) {
		snprintf(err, errlen, "landlock_create_ruleset() failed: %s",
		    strerror(errno));
		goto fail;
	}
	for (int i = 0; i < sp->n; i++) {
		const struct sandbox_path *p = &sp->p[i];

		if ((fd = open(p->path, O_PATH | O_CLOEXEC)) == -1 ||
		    fstat(fd, &st) == -1) {
			snprintf(err, errlen, "sandbox path %s: %s", p->path,
			    strerror(errno));
			goto fail;
		}
		memset(&pb, 0, sizeof(pb));
		pb.parent_fd = fd;
		pb.allowed_access = p->access == SANDBOX_READ ? FS_READ :
		    p->access == SANDBOX_WRITE ? FS_WRITE :
		    LANDLOCK_ACCESS_FS_WRITE_FILE;
		if (!S_ISDIR(st.st_mode))
			pb.allowed_access &= FS_FILE;
		pb.allowed_access &= handled;
		if (syscall(SYS_landlock_add_rule, rs,
		    LANDLOCK_RULE_PATH_BENEATH, &pb, 0) == -1) {
			snprintf(err, errlen, "landlock_add_rule(%s) failed: %s",
			    p->path, strerror(errno));
			goto fail;
		}
		close(fd);
		fd = -1;
	}
	if (syscall(SYS_landlock_restrict_self, rs, 0) == -1) {
		snprintf(err, errlen, "landlock_restrict_self() failed: %s",
		    strerror(errno));
		goto fail;
	}
	close(rs);
	return 0;
fail:
	if (fd != -1)
		close(fd);
	if (rs != -1)
		close(rs);
	return -1;
}

/* Names every syscall number now: the SIGSYS handler may not allocate.
 * The master does it once before it forks (sandbox_names_init), so the
 * children share the table instead of each writing a copy of its own. */
static void
names_init(void)
{
	char *n;

	for (int nr = 0; nr < NAMES_MAX; nr++) {
		if (names[nr][0] != '\0')
			continue;
		n = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
		if (n != NULL)
			strlcpy(names[nr], n, sizeof(names[nr]));
		free(n);
	}
}

void
sandbox_names_init(void)
{
	names_init();
}

const char *
sandbox_syscall_name(long nr)
{
	if (nr < 0 || nr >= NAMES_MAX || names[nr][0] == '\0')
		return NULL;
	return names[nr];
}

static int
add_names(scmp_filter_ctx ctx, const char *const *list, uint32_t action)
{
	int nr, rc;

	for (; *list != NULL; list++) {
		/* A name this architecture lacks has nothing to allow. */
		if ((nr = seccomp_syscall_resolve_name(*list)) == __NR_SCMP_ERROR)
			continue;
		/* -EEXIST: listed twice (the sanitizers' list). */
		if ((rc = seccomp_rule_add(ctx, action, nr, 0)) < 0 &&
		    rc != -EEXIST) {
			errno = -rc;
			return -1;
		}
	}
	return 0;
}

/*
 * standard also refuses what would get around the deny-list: clone()
 * into new namespaces (unshare by another name), and clone3(), whose
 * flags a filter cannot see: ENOSYS makes glibc fall back to clone().
 */
static int
add_clone_rules(scmp_filter_ctx ctx)
{
	static const scmp_datum_t ns[] = { CLONE_NEWNS, CLONE_NEWCGROUP,
	    CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID,
	    CLONE_NEWNET };
	int rc, nr;

	if ((nr = seccomp_syscall_resolve_name("clone3")) != __NR_SCMP_ERROR &&
	    (rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0)) < 0)
		goto fail;
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
		    SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, ns[i],
		    ns[i]))) < 0)
			goto fail;
	return 0;
fail:
	errno = -rc;
	return -1;
}

/*
 * strict's calls with pinned arguments. Signals: tgkill to ourselves only
 * (raise, re-raising a crash), and for a worker kill(master,
 * MASTER_SIG_SB) only. Without -u the
 * master runs as the same user: a taken-over worker must not signal it,
 * or anyone else.
 */
static int
add_signal_rules(scmp_filter_ctx ctx, enum sandbox_role role)
{
	int rc;

	if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
	    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()))) < 0)
		goto fail;
	if (role == SANDBOX_WORKER && (rc = seccomp_rule_add(ctx,
	    SCMP_ACT_ALLOW, SCMP_SYS(kill), 2,
	    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getppid()),
	    SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)MASTER_SIG_SB))) < 0)
		goto fail;
	/* The status process asks the kernel for the listeners' accept
	 * queues (sock_diag): a netlink socket of that one kind only. */
	/* The keeper asks how much of a slow reader's response waits in
	 * the send queue (SIOCOUTQ), and nothing else of ioctl. */
	if (role == SANDBOX_KEEPER && (rc = seccomp_rule_add(ctx,
	    SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
	    SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)SIOCOUTQ))) < 0)
		goto fail;
	if (role == SANDBOX_STATUS && (rc = seccomp_rule_add(ctx,
	    SCMP_ACT_ALLOW, SCMP_SYS(socket), 2,
	    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)AF_NETLINK),
	    SCMP_A2(SCMP_CMP_EQ, (scmp_datum_t)NETLINK_SOCK_DIAG))) < 0)
		goto fail;
	return 0;
fail:
	errno = -rc;
	return -1;
}

static int
seccomp_apply(enum sandbox_profile p, enum sandbox_role role, char *err,
    size_t errlen)
{
	scmp_filter_ctx ctx;
	int rc;

	ctx = seccomp_init(p == SANDBOX_STRICT ? SCMP_ACT_TRAP : SCMP_ACT_ALLOW);
	if (ctx == NULL) {
		snprintf(err, errlen, "seccomp_init() failed");
		return -1;
	}
	/* A module may have started threads in init: filter them too. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) < 0)
		goto fail;
	if (p == SANDBOX_STRICT) {
		if (add_names(ctx, sandbox_allowlist(role), SCMP_ACT_ALLOW) == -1 ||
		    add_signal_rules(ctx, role) == -1)
			goto fail;
#ifdef PREFORKD_SANITIZERS
		if (add_names(ctx, sanitizer_allow, SCMP_ACT_ALLOW) == -1)
			goto fail;
#endif
	} else if (add_names(ctx, standard_deny, SCMP_ACT_ERRNO(EPERM)) == -1 ||
	    add_clone_rules(ctx) == -1)
		goto fail;
	if ((rc = seccomp_load(ctx)) < 0) {
		errno = -rc;
		goto fail;
	}
	seccomp_release(ctx);
	return 0;
fail:
	snprintf(err, errlen, "cannot load the seccomp filter: %s",
	    strerror(errno));
	seccomp_release(ctx);
	return -1;
}

int
sandbox_apply_process(const struct cfg *c, enum sandbox_role role,
    char *err, size_t errlen)
{
	static struct sandbox_paths sp;
	struct sandbox_support s;
	enum sandbox_profile p = cfg_sandbox(c);

	if (p == SANDBOX_OFF)
		return 0;
	if (role != SANDBOX_WORKER)
		p = SANDBOX_STRICT;
	sandbox_probe(&s);
	/* Landlock insists on it, and it is half of the point anyway. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		snprintf(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS) failed: %s",
		    strerror(errno));
		return -1;
	}
	if (s.landlock_abi > 0) {
		sandbox_paths_build(c, role, &sp);
		if (landlock_apply(&sp, s.landlock_abi, err, errlen) == -1)
			return -1;
	}
	if (!s.seccomp)
		return 0;
	if (p == SANDBOX_STRICT)
		names_init();
	return seccomp_apply(p, role, err, errlen);
}
