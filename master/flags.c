/*
 * flags - getopt_long over the flags of SPEC section 2. Each value is
 * handed to cfg_set() under the flag's long name, so a config file (a
 * later step) gets exactly the same parsing and messages.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <http_parser.h>
#include <seccomp.h>

#include "flags.h"
#include "version.h"

enum {
	OPT_PIDFILE = 256, OPT_TIMEOUT, OPT_HEADER_TIMEOUT, OPT_BODY_TIMEOUT,
	OPT_WRITE_TIMEOUT, OPT_MIN_BODY_RATE, OPT_IDLE_TIMEOUT,
	OPT_DRAIN_DELAY, OPT_GRACEFUL_TIMEOUT, OPT_MAX_REQUESTS,
	OPT_MAX_REQUESTS_JITTER, OPT_KEEPALIVE_REQUESTS, OPT_MAX_HEADER_SIZE,
	OPT_MAX_BODY_SIZE, OPT_BACKLOG, OPT_ACCESS_LOG, OPT_ACCESS_LOG_FORMAT,
	OPT_ERROR_LOG, OPT_LOG_LEVEL, OPT_MODULE_OPTION, OPT_STATUS_LISTEN,
	OPT_CACHE_CONTROL, OPT_MIME_TYPE, OPT_ERROR_PAGE, OPT_AUTOINDEX,
	OPT_HEALTH_PATH, OPT_SANDBOX, OPT_SANDBOX_READ, OPT_SANDBOX_WRITE,
	OPT_MAX_PARKED, OPT_TRUSTED_PROXY, OPT_BUFFER_BODY, OPT_AGENT_LISTEN,
	OPT_MIN_SEND_RATE
};

/* Keys that may be given more than once: flags replace the file's list. */
static const char *repeatable[] = { "listen", "module", "module-option",
    "cache-control", "mime-type", "error-page", "sandbox-read",
    "sandbox-write", "trusted-proxy" };

static const struct option longopts[] = {
	{ "listen",		required_argument, NULL, 'l' },
	{ "workers",		required_argument, NULL, 'w' },
	{ "config",		required_argument, NULL, 'c' },
	{ "check-config",	no_argument,	   NULL, 't' },
	{ "module",		required_argument, NULL, 'm' },
	{ "module-option",	required_argument, NULL, OPT_MODULE_OPTION },
	{ "daemon",		no_argument,	   NULL, 'D' },
	{ "pid-file",		required_argument, NULL, OPT_PIDFILE },
	{ "signal",		required_argument, NULL, 's' },
	{ "user",		required_argument, NULL, 'u' },
	{ "timeout",		required_argument, NULL, OPT_TIMEOUT },
	{ "header-timeout",	required_argument, NULL, OPT_HEADER_TIMEOUT },
	{ "body-timeout",	required_argument, NULL, OPT_BODY_TIMEOUT },
	{ "write-timeout",	required_argument, NULL, OPT_WRITE_TIMEOUT },
	{ "min-body-rate",	required_argument, NULL, OPT_MIN_BODY_RATE },
	{ "idle-timeout",	required_argument, NULL, OPT_IDLE_TIMEOUT },
	{ "drain-delay",	required_argument, NULL, OPT_DRAIN_DELAY },
	{ "graceful-timeout",	required_argument, NULL, OPT_GRACEFUL_TIMEOUT },
	{ "max-requests",	required_argument, NULL, OPT_MAX_REQUESTS },
	{ "max-requests-jitter", required_argument, NULL, OPT_MAX_REQUESTS_JITTER },
	{ "keepalive-requests",	required_argument, NULL, OPT_KEEPALIVE_REQUESTS },
	{ "max-header-size",	required_argument, NULL, OPT_MAX_HEADER_SIZE },
	{ "max-body-size",	required_argument, NULL, OPT_MAX_BODY_SIZE },
	{ "backlog",		required_argument, NULL, OPT_BACKLOG },
	{ "status-listen",	required_argument, NULL, OPT_STATUS_LISTEN },
	{ "access-log",		required_argument, NULL, OPT_ACCESS_LOG },
	{ "access-log-format",	required_argument, NULL, OPT_ACCESS_LOG_FORMAT },
	{ "error-log",		required_argument, NULL, OPT_ERROR_LOG },
	{ "log-level",		required_argument, NULL, OPT_LOG_LEVEL },
	{ "cache-control",	required_argument, NULL, OPT_CACHE_CONTROL },
	{ "mime-type",		required_argument, NULL, OPT_MIME_TYPE },
	{ "error-page",		required_argument, NULL, OPT_ERROR_PAGE },
	{ "autoindex",		no_argument,	   NULL, OPT_AUTOINDEX },
	{ "health-path",	required_argument, NULL, OPT_HEALTH_PATH },
	{ "sandbox",		required_argument, NULL, OPT_SANDBOX },
	{ "sandbox-read",	required_argument, NULL, OPT_SANDBOX_READ },
	{ "sandbox-write",	required_argument, NULL, OPT_SANDBOX_WRITE },
	{ "max-parked",		required_argument, NULL, OPT_MAX_PARKED },
	{ "trusted-proxy",	required_argument, NULL, OPT_TRUSTED_PROXY },
	{ "buffer-body",	required_argument, NULL, OPT_BUFFER_BODY },
	{ "agent-listen",	required_argument, NULL, OPT_AGENT_LISTEN },
	{ "min-send-rate",	required_argument, NULL, OPT_MIN_SEND_RATE },
	{ "help",		no_argument,	   NULL, 'h' },
	{ "version",		no_argument,	   NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

void
flags_usage(FILE *f)
{
	fputs(
"usage: preforkd [options] [DOCROOT]\n"
"Serves DOCROOT (default: the current directory) over HTTP/1.1 with a\n"
"master process and preforked workers.\n"
"\n"
"Listening and processes:\n"
"  -l, --listen ADDR[,proxy]  host:port, [v6]:port, :port or unix:/path;\n"
"                             repeatable (default 127.0.0.1:8080); ,proxy:\n"
"                             a PROXY v1/v2 header is required first\n"
"  -w, --workers N|auto       worker processes (default: online CPUs)\n"
"      --backlog N            listen backlog (default 1024)\n"
"      --max-parked N         idle connections the keeper holds; beyond\n"
"                             it the oldest idle one closes (10000)\n"
"      --status-listen ADDR   serve /status (text, ?format=json|html) from\n"
"                             a separate process on ADDR (default: off);\n"
"                             also /metrics (Prometheus) and /healthz\n"
"      --agent-listen ADDR    answer HAProxy's agent check on ADDR (in the\n"
"                             status process): \"ready up N%\" from free\n"
"                             workers, \"drain\" when stopping, \"down\" in\n"
"                             a crash loop (default: off)\n"
"      --health-path PATH     answer PATH with 200, or 503 while stopping,\n"
"                             draining, upgrading or crash-looping\n"
"      --trusted-proxy CIDR   peers whose PROXY header, Forwarded and\n"
"                             X-Forwarded-For/-Proto are believed;\n"
"                             repeatable (default: none)\n"
"\n"
"Timeouts (seconds, decimals allowed):\n"
"      --header-timeout S     to receive a request head (default 10)\n"
"      --body-timeout S       max gap between body reads (default 30)\n"
"      --buffer-body BYTES    a body up to this size (chunked or not) is\n"
"                             read by the keeper before a worker gets the\n"
"                             request (default 65536, 0: off)\n"
"      --min-body-rate B      bytes/s a body must keep up after the first\n"
"                             body-timeout period (default 500)\n"
"      --write-timeout S      max gap between response writes (default 30)\n"
"      --min-send-rate B      bytes/s a client must take a response at\n"
"                             after the first write-timeout period\n"
"                             (default 1024, 0: off)\n"
"      --idle-timeout S       keep-alive wait for the next request\n"
"                             (default 5; behind a load balancer, set it\n"
"                             above the balancer's idle timeout)\n"
"      --graceful-timeout S   shutdown waits this long for requests (30)\n"
"      --drain-delay S        on TERM/QUIT, keep serving this long with\n"
"                             health failing, then stop accepting (0)\n"
"      --timeout S            longest a module handler may run on one\n"
"                             request: then 503, backtrace, worker replaced\n"
"                             (default 30)\n"
"\n"
"Supervision:\n"
"      --max-requests N       recycle a worker after N requests (0: never)\n"
"      --max-requests-jitter J  ... plus a random 0..J, so that workers do\n"
"                             not all recycle at once\n"
"\n"
"HTTP limits:\n"
"      --keepalive-requests N requests per connection (default 1000)\n"
"      --max-header-size B    request line + headers (default 16384)\n"
"      --max-body-size B      request body (default 1048576)\n"
"\n"
"Handler modules:\n"
"  -m, --module PREFIX=FILE.so      route URL PREFIX (and below) to a module;\n"
"                                   repeatable, the longest prefix wins\n"
"      --module-option 'PREFIX KEY VALUE'  an option for that module\n"
"\n"
"Static files:\n"
"      --autoindex            list a directory that has no index.html\n"
"                             (HTML, or JSON with ?format=json)\n"
"      --cache-control 'PREFIX VALUE'  Cache-Control on 200, 206 and 304 of\n"
"                             files below PREFIX; repeatable, the longest\n"
"                             prefix wins\n"
"      --mime-type EXT=TYPE   media type of *.EXT, over the built-in table\n"
"                             and /etc/mime.types; repeatable\n"
"      --error-page CODE=FILE the body of every CODE (400..599) response the\n"
"                             server makes itself; read at start and reload\n"
"\n"
"Logs:\n"
"      --access-log FILE|-|off     (default -: stdout)\n"
"      --access-log-format combined|json (default combined)\n"
"      --error-log FILE|-          (default -: stderr)\n"
"      --log-level debug|info|warn|error (default info)\n"
"\n"
"Sandbox (workers, after module init):\n"
"      --sandbox strict|standard|off  strict: read the document root only,\n"
"                             syscall allow-list (default without modules);\n"
"                             standard: no exec, ptrace, mounts, namespaces,\n"
"                             module loading, bpf, keyrings (default with\n"
"                             modules)\n"
"      --sandbox-read PATH    may also read beneath PATH; repeatable\n"
"      --sandbox-write PATH   may also write and create beneath PATH;\n"
"                             repeatable\n"
"\n"
"Running as a daemon:\n"
"  -D, --daemon               detach once the master is ready (the starting\n"
"                             process exits non-zero with the reason if not)\n"
"      --pid-file FILE        write the master's pid; refuse to start twice\n"
"  -u, --user USER[:GROUP]    run workers as USER (the master keeps root to\n"
"                             bind on reload)\n"
"  -s, --signal NAME          send stop|quit|reload|reopen|upgrade to the\n"
"                             master named by --pid-file, as nginx -s does\n"
"\n"
"Configuration:\n"
"  -c, --config FILE          read FILE: one 'key value' a line, keys are the\n"
"                             long flag names (and docroot); flags override\n"
"  -t, --check-config         validate flags, config file and modules, print\n"
"                             ok; exit 0, or 64/66/78 with the reason\n"
"\n"
"Other:\n"
"  -h, --help                 this text\n"
"  -V, --version              versions of preforkd and its libraries\n"
"\n"
"Signals to the master: TERM/QUIT graceful stop, INT fast stop, HUP\n"
"reload, USR1 reopen logs, USR2 binary upgrade, TTIN/TTOU one worker\n"
"more/fewer, WINCH stop the workers (keep the master).\n", f);
}

void
flags_version(FILE *f)
{
	unsigned long v = http_parser_version();

	const struct scmp_version *sv = seccomp_version();

	fprintf(f, "preforkd %s\nhttp-parser %lu.%lu.%lu\nlibbsd %s\n"
	    "libseccomp %u.%u.%u\n", PREFORKD_VERSION, (v >> 16) & 255,
	    (v >> 8) & 255, v & 255, LIBBSD_VERSION, sv->major, sv->minor,
	    sv->micro);
}

int
flags_parse(int argc, char **argv, struct cfg *c, struct flags_out *out,
    char *err, size_t errlen)
{
	int ch, idx, action = FLAGS_RUN;
	unsigned cleared = 0;
	const char *key;

	opterr = 0;
	optind = 1;
	out->config = out->signal = NULL;
	while ((ch = getopt_long(argc, argv, ":l:w:c:tm:Ds:u:hV", longopts,
	    &idx)) != -1) {
		switch (ch) {
		case 'h':
			return FLAGS_HELP;
		case 'V':
			return FLAGS_VERSION;
		case 't':
			action = FLAGS_CHECK;
			continue;
		case 'l':
			key = "listen";
			break;
		case 'w':
			key = "workers";
			break;
		case 'm':
			key = "module";
			break;
		case 'c':
			out->config = optarg;
			continue;
		case 's':
			if (strcmp(optarg, "stop") && strcmp(optarg, "quit") &&
			    strcmp(optarg, "reload") && strcmp(optarg, "reopen") &&
			    strcmp(optarg, "upgrade")) {
				snprintf(err, errlen, "invalid signal '%s': must be "
				    "stop, quit, reload, reopen or upgrade", optarg);
				return -1;
			}
			out->signal = optarg;
			action = FLAGS_SIGNAL;
			continue;
		case 'D':
			if (cfg_set(c, "daemon", "on", err, errlen) == -1)
				return -1;
			continue;
		case 'u':
			key = "user";
			break;
		case OPT_AUTOINDEX:
			if (cfg_set(c, "autoindex", "on", err, errlen) == -1)
				return -1;
			continue;
		case ':':
			snprintf(err, errlen, "option %s needs a value",
			    argv[optind - 1]);
			return -1;
		case '?':
			if (optopt != 0)
				snprintf(err, errlen, "unknown option -%c", optopt);
			else
				snprintf(err, errlen, "unknown option %s",
				    argv[optind - 1]);
			return -1;
		default:
			key = NULL;
			for (const struct option *o = longopts; o->name; o++)
				if (o->val == ch)
					key = o->name;
			if (key == NULL) {
				snprintf(err, errlen, "unexpected option");
				return -1;
			}
		}
		/* A repeatable key given as a flag replaces the file's list. */
		for (size_t i = 0; i < sizeof(repeatable) /
		    sizeof(repeatable[0]); i++)
			if (strcmp(key, repeatable[i]) == 0 &&
			    !(cleared & 1u << i)) {
				cfg_clear(c, key);
				cleared |= 1u << i;
			}
		if (cfg_set(c, key, optarg, err, errlen) == -1)
			return -1;
	}
	if (action == FLAGS_CHECK && out->signal != NULL) {
		snprintf(err, errlen, "-t and -s cannot go together");
		return -1;
	}
	if (optind < argc - 1) {
		snprintf(err, errlen, "more than one document root given");
		return -1;
	}
	if (optind == argc - 1 &&
	    cfg_set(c, "docroot", argv[optind], err, errlen) == -1)
		return -1;
	return action;
}
