/*
 * cfg - the configuration value: defaults, one setter per key shared by
 * the command line (and later the config file), and listen addresses.
 * A cfg is a plain value; the master builds a fresh one and swaps it in
 * only when it is complete and valid.
 */
#ifndef PREFORKD_CFG_H
#define PREFORKD_CFG_H

#include <sys/socket.h>
#include <sys/un.h>
#include <limits.h>
#include <stdint.h>
#include <stddef.h>

#include "defaults.h"

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };
enum access_format { ACCESS_COMBINED, ACCESS_JSON };
/* --sandbox; UNSET becomes strict without modules, standard with. */
enum sandbox_profile { SANDBOX_UNSET, SANDBOX_OFF, SANDBOX_STANDARD,
	SANDBOX_STRICT };

struct cfg_listen {
	char			spec[128];	/* as given: "127.0.0.1:8080" */
	struct sockaddr_storage	addr;
	socklen_t		addrlen;
	int			proxy;		/* ",proxy": PROXY header first */
};

/* A --trusted-proxy network; host bits are cleared. */
struct cfg_cidr {
	int			family;		/* AF_INET or AF_INET6 */
	unsigned char		addr[16];
	int			bits;
};

struct cfg_module {
	char			prefix[MODULE_PREFIX_MAX];	/* "/api" */
	char			path[MODULE_PATH_MAX];		/* the .so */
};

struct cfg_module_option {
	char			prefix[MODULE_PREFIX_MAX];
	char			key[64];
	char			value[MODULE_OPTION_MAX];
};

struct cfg_cache_control {
	char			prefix[MODULE_PREFIX_MAX];	/* "/assets" */
	char			value[CACHE_CONTROL_MAX];
};

struct cfg_mime_type {
	char			ext[MIME_EXT_MAX + 1];	/* lower case, no dot */
	char			type[MIME_TYPE_MAX];	/* charset added */
};

/* An error page is read whole when the configuration is built. */
struct cfg_error_page {
	int			code;			/* 400..599 */
	char			path[PATH_MAX];		/* its name picks the type */
	size_t			len;
	char			body[ERROR_PAGE_MAX];
};

struct cfg {
	char			docroot[PATH_MAX];
	struct cfg_listen	listen[MAX_LISTENERS];
	int			nlisten;
	struct cfg_listen	status_listen;		/* --status-listen */
	int			has_status;
	int			workers;
	int			timeout_ms;
	int			header_timeout_ms;
	int			body_timeout_ms;
	int			write_timeout_ms;
	int			idle_timeout_ms;
	int			graceful_timeout_ms;
	int			drain_delay_ms;
	long long		min_body_rate;
	long long		keepalive_requests;
	long long		max_requests;		/* 0: never recycle */
	long long		max_requests_jitter;
	long long		max_header_size;
	long long		max_body_size;
	int			backlog;
	char			access_log[PATH_MAX];	/* "-", "off" or a path */
	enum access_format	access_format;
	char			error_log[PATH_MAX];	/* "-" or a path */
	enum log_level		log_level;
	char			pid_file[PATH_MAX];	/* "" when none */
	char			user[64];		/* "" when none */
	char			group[64];
	int			daemon;
	struct cfg_module	modules[MAX_MODULES];
	int			nmodules;
	struct cfg_module_option module_options[MAX_MODULE_OPTIONS];
	int			nmodule_options;
	struct cfg_cache_control cache_control[MAX_CACHE_CONTROL];
	int			ncache_control;
	struct cfg_mime_type	mime_types[MAX_MIME_TYPES];
	int			nmime_types;
	struct cfg_error_page	error_pages[MAX_ERROR_PAGES];
	int			nerror_pages;
	int			autoindex;		/* --autoindex */
	char			health_path[256];	/* "" when none */
	enum sandbox_profile	sandbox;		/* as given */
	char			sandbox_read[MAX_SANDBOX_PATHS][SANDBOX_PATH_MAX];
	int			nsandbox_read;
	char			sandbox_write[MAX_SANDBOX_PATHS][SANDBOX_PATH_MAX];
	int			nsandbox_write;
	int			max_parked;		/* connections the keeper holds */
	struct cfg_cidr		trusted[MAX_TRUSTED_PROXIES];	/* SPEC 9 */
	int			ntrusted;
	int			buffer_body;		/* bodies the keeper reads first */
	struct cfg_listen	agent_listen;		/* --agent-listen */
	int			has_agent;
	long long		min_send_rate;		/* bytes/s a reader keeps up */
};

/* Fills c with the built-in defaults (no listener yet: see cfg_finish). */
void	cfg_defaults(struct cfg *c);

/*
 * Sets key (a long flag name without dashes) to val. Returns 0, or -1 with
 * a one-line reason in err (errlen bytes) such as "invalid value 'x' for
 * workers: must be 1..256 or auto".
 */
int	cfg_set(struct cfg *c, const char *key, const char *val, char *err,
	    size_t errlen);

/*
 * Reads a config file: one "key value" per line, keys are the long flag
 * names (and "docroot"), '#' starts a comment at the start of a line or
 * after white space. Returns 0, or -1 with "FILE:LINE: reason" in err.
 */
int	cfg_load_file(struct cfg *c, const char *path, char *err, size_t errlen);

/* Empties a repeatable key's list (flags replace the file's list). */
void	cfg_clear(struct cfg *c, const char *key);

/* Applies what the defaults depend on (default listener). Returns 0 or -1. */
int	cfg_finish(struct cfg *c, char *err, size_t errlen);

/*
 * Parses a listen address: "host:port", "[v6]:port", ":port" (all
 * interfaces) or "unix:/path". Returns 0 and fills l, or -1 with err.
 */
int	cfg_parse_listen(const char *spec, struct cfg_listen *l, char *err,
	    size_t errlen);

/*
 * The receive timeout of client sockets (and listeners): the first stretch
 * of a keep-alive wait is a blocking read bounded by it, and a worker in
 * accept() wakes after it to look at its flags. Never 0 (no timeout).
 */
int	cfg_read_slice_ms(const struct cfg *c);

/* The profile in force: --sandbox, or its default (strict without
 * modules, standard with). */
enum sandbox_profile cfg_sandbox(const struct cfg *c);

/* Parses decimal seconds ("5", "0.25") into milliseconds. Returns 0 or -1. */
int	cfg_parse_seconds(const char *s, int *ms);

/*
 * The --cache-control entry for a normalised path (plen bytes): the
 * longest prefix that matches at a segment boundary, or NULL.
 */
const struct cfg_cache_control *cfg_cache_control_match(const struct cfg *c,
	    const char *path, size_t plen);

/* The --error-page for status code, or NULL. */
const struct cfg_error_page *cfg_error_page(const struct cfg *c, int code);

/*
 * Parses "192.0.2.0/24", "2001:db8::/32" or a bare address (all bits).
 * Returns 0 and fills n, or -1.
 */
int	cfg_parse_cidr(const char *s, struct cfg_cidr *n);
/* Formats n as "192.0.2.0/24". */
void	cfg_cidr_str(const struct cfg_cidr *n, char *out, size_t outsz);
/*
 * True when sa (AF_INET, or AF_INET6: an IPv4-mapped one counts as its
 * IPv4 address) lies in one of c's --trusted-proxy networks.
 */
int	cfg_trusted(const struct cfg *c, const struct sockaddr *sa);

/* Formats a socket address as "1.2.3.4:80", "[::1]:80" or "unix:/p". */
void	cfg_addr_str(const struct sockaddr *sa, socklen_t len, char *out,
	    size_t outsz);

#endif
