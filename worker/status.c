/*
 * status - the status process (SPEC section 9). Forked by the master with
 * the --status-listen socket only, it serves one short connection at a
 * time and renders the scoreboard as plain text, JSON or an HTML page,
 * as Prometheus metrics (/metrics), or as a health answer (/healthz).
 * It reads the scoreboard and never writes it, so a hung or crashed
 * worker cannot stop it and it cannot disturb a worker.
 *
 * Each request goes: read the head under a deadline and a size cap ->
 * parse the request line -> take a snapshot of the scoreboard -> render
 * into one static buffer -> send head and body with one sendmsg (more
 * while the socket is full) -> close. No allocation after start.
 * Between requests, once a second, it samples the request, 5xx and crash
 * counters into a ring of the last 10 minutes, which every format shows
 * as series (the page as small charts).
 * With --agent-listen it also answers HAProxy's agent check (agent.c),
 * in the same poll() as the status listener and while it waits on a
 * status client, so neither kind of client holds up the other for long.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/uio.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "child.h"
#include "exitcodes.h"
#include "httpdate.h"
#include "iov.h"
#include "log.h"
#include "procs.h"
#include "reason.h"
#include "sandbox.h"
#include "title.h"
#include "version.h"

#define STATUS_REFRESH_S	2	/* the HTML page reloads itself */
#define STATUS_SLOW_MS		1000	/* a request this old is marked */
/* A worker rendered in any format, every string escaped 6 to 1. */
#define STATUS_ROW_MAX		2048
#define HIST_LEN		600	/* per-second values: 10 minutes */
/* The three series in any format: a value is at most a crash bar's rect. */
#define HIST_BODY_MAX		(3 * HIST_LEN * 48 + 8192)
#define STATUS_BODY_MAX		(SB_SLOTS * STATUS_ROW_MAX + HIST_BODY_MAX + \
				    16384)

#define FIELD_SIZE(f)		sizeof(((struct sb_slot *)NULL)->f)

enum format { FMT_TEXT, FMT_JSON, FMT_HTML };
enum esc { ESC_TEXT, ESC_JSON, ESC_HTML };

/* Parked connections by kind, in this order everywhere. */
enum { PARK_IDLE, PARK_HEAD, PARK_LINGER, PARK_SENDING, PARK_KINDS };
static const char *const park_kinds[PARK_KINDS] = { "idle", "head",
    "linger", "sending" };

/* One worker as copied from its slot: stable while we render. */
struct row {
	pid_t			pid;
	int			id;
	int			gen;
	enum sb_state		state;
	unsigned long long	requests;
	long long		age_ms;		/* current request; -1: none */
	long long		up_ms;		/* process age */
	char			method[FIELD_SIZE(method)];
	char			path[FIELD_SIZE(path)];
	char			client[FIELD_SIZE(client)];
};

struct snap {
	pid_t			master_pid;
	int			generation;
	int			target;
	long long		up_ms;
	long long		started_unix;
	int			nrows;
	int			count[SB_CLOSING + 1];	/* workers per state */
	unsigned long long	requests;	/* by the live workers */
	struct row		row[SB_SLOTS];
	pid_t			keeper_pid;
	unsigned long long	parked, handed, closed_idle;
	unsigned long long	to_keeper;	/* hand-offs by the workers */
	unsigned long long	ready;		/* in the ready queue now */
	unsigned long long	kind[PARK_KINDS];	/* parked, by kind */
};

/* The response body under construction; full is sticky. */
struct out {
	char	*p;
	size_t	 len;
	size_t	 cap;
	bool	 full;
};

static volatile sig_atomic_t	 status_stop;
static volatile sig_atomic_t	 status_reopen;
static const struct cfg		*cfg;
static const struct sb		*sb;
static char			 addr[160];	/* what we listen on */
static struct snap		 snap;
/* A serving TCP listener, known by its socket's inode. */
struct qlisten {
	ino_t		ino;
	char		name[160];
	bool		found;
	unsigned	len;		/* connections in its accept queue */
	unsigned	limit;		/* the backlog */
};
static struct qlisten		 ql[MAX_LISTENERS];
static int			 nql;
static char			 body[STATUS_BODY_MAX];

/*
 * The series: requests, of them 5xx, worker crashes (by a signal), then
 * hand-offs from the keeper to the workers and back. The first
 * HIST_CHARTS are drawn on the page; all are in the text and the JSON.
 */
enum { HIST_REQ, HIST_5XX, HIST_CRASH, HIST_TO_WORKER, HIST_TO_KEEPER,
    HIST_N };
#define HIST_CHARTS	3
/*
 * Counter totals at the end of each second, in a ring; the per-second
 * values are the differences, so HIST_LEN of them take one more total.
 */
static unsigned long long	 hist[HIST_LEN + 1][HIST_N];
static int			 hist_len;	/* totals held */
static int			 hist_head;	/* the newest */
static long long		 hist_due;	/* next sample, sb_now_ms() */

static void
on_signal(int sig)
{
	if (sig == SIGQUIT)
		status_stop = 1;
	else
		status_reopen = 1;
}

/* --- the snapshot ---------------------------------------------------- */

/* Copies a slot's string, which its worker may be rewriting right now. */
static void
copy_field(char *dst, const char *src, size_t sz)
{
	memcpy(dst, src, sz);
	dst[sz - 1] = '\0';
}

static bool
row_before(const struct row *x, const struct row *y)
{
	if (x->id != y->id)
		return x->id < y->id;
	if (x->gen != y->gen)
		return x->gen < y->gen;
	return x->up_ms > y->up_ms;	/* the older of two for one id first */
}

/*
 * By worker id. Insertion sort: the slots are nearly in order already,
 * and glibc's qsort() may allocate.
 */
static void
sort_rows(struct row *rows, int n)
{
	struct row tmp;

	for (int i = 1; i < n; i++) {
		int j = i;

		tmp = rows[i];
		for (; j > 0 && row_before(&tmp, &rows[j - 1]); j--)
			rows[j] = rows[j - 1];
		rows[j] = tmp;
	}
}

/* Reads every field once; a torn string is NUL-ended, never trusted. */
static void
snapshot(struct snap *sn)
{
	long long now = sb_now_ms();

	memset(sn->count, 0, sizeof(sn->count));
	sn->master_pid = sb->master_pid;
	sn->generation = sb->generation;
	sn->target = sb->target;
	sn->up_ms = now - sb->master_started_ms;
	sn->started_unix = sb->master_started_unix;
	sn->nrows = 0;
	sn->requests = 0;
	sn->keeper_pid = sb->keeper_pid;
	sn->parked = sb->keeper_parked;
	sn->handed = sb->keeper_handed;
	sn->closed_idle = sb->keeper_closed_idle;
	sn->to_keeper = sb->handed_to_keeper;
	sn->ready = sb_ready(sb);
	sn->kind[PARK_IDLE] = sb->keeper_parked_idle;
	sn->kind[PARK_HEAD] = sb->keeper_parked_head;
	sn->kind[PARK_LINGER] = sb->keeper_parked_linger;
	sn->kind[PARK_SENDING] = sb->keeper_parked_sending;
	for (int i = 0; i < SB_SLOTS; i++) {
		const struct sb_slot *s = &sb->slot[i];
		struct row *r = &sn->row[sn->nrows];
		unsigned char state = s->state;
		long long start;

		if (state == SB_EMPTY || state > SB_CLOSING)
			continue;
		r->state = state;
		r->pid = s->pid;
		r->id = s->id;
		r->gen = s->gen;
		r->requests = s->requests;
		r->up_ms = now - s->started_ms;
		start = s->req_start_ms;
		r->age_ms = start == 0 ? -1 : (now > start ? now - start : 0);
		copy_field(r->method, s->method, sizeof(r->method));
		copy_field(r->path, s->path, sizeof(r->path));
		copy_field(r->client, s->client, sizeof(r->client));
		if (r->age_ms < 0)
			r->method[0] = r->path[0] = '\0';
		/* The client is stale outside of a connection. */
		if (state == SB_STARTING || state == SB_ACCEPTING)
			r->client[0] = '\0';
		sn->count[state]++;
		sn->requests += r->requests;
		sn->nrows++;
	}
	sort_rows(sn->row, sn->nrows);
}

/* --- the history ----------------------------------------------------- */

/* The counters now, as /metrics has them. */
static void
hist_totals(unsigned long long *v)
{
	static struct sb_ctr t;

	sb_sum(sb, &t);
	v[HIST_REQ] = v[HIST_5XX] = v[HIST_CRASH] = 0;
	v[HIST_TO_WORKER] = sb->keeper_handed;
	v[HIST_TO_KEEPER] = sb->handed_to_keeper;
	for (int m = 0; m < SB_METHODS; m++) {
		for (int k = 0; k < SB_CLASSES; k++)
			v[HIST_REQ] += t.req[m][k];
		v[HIST_5XX] += t.req[m][SB_CLASSES - 1];
	}
	for (int i = 1; i < SB_SIGNALS; i++)
		v[HIST_CRASH] += sb->crashes[i];
}

static void
hist_push(const unsigned long long *v)
{
	hist_head = (hist_head + 1) % (HIST_LEN + 1);
	memcpy(hist[hist_head], v, sizeof(hist[0]));
	if (hist_len < HIST_LEN + 1)
		hist_len++;
}

/*
 * Takes the samples that are due, one per second since the first. When
 * the loop was held longer (a slow client), the seconds missed share
 * the difference evenly: the sums stay exact, the peaks are flattened.
 */
static void
hist_sample(void)
{
	unsigned long long now_v[HIST_N], prev[HIST_N], v[HIST_N];
	long long now = sb_now_ms(), k;

	if (hist_len == 0) {
		hist_totals(now_v);
		hist_push(now_v);
		hist_due = now + 1000;
		return;
	}
	if (now < hist_due)
		return;
	k = (now - hist_due) / 1000 + 1;
	hist_due += k * 1000;
	hist_totals(now_v);
	memcpy(prev, hist[hist_head], sizeof(prev));
	for (long long i = k > HIST_LEN ? k - HIST_LEN : 1; i <= k; i++) {
		for (int j = 0; j < HIST_N; j++)
			v[j] = now_v[j] <= prev[j] ? now_v[j] : prev[j] +
			    (now_v[j] - prev[j]) * (unsigned long long)i /
			    (unsigned long long)k;
		hist_push(v);
	}
}

/* How many per-second values there are (up to HIST_LEN). */
static int
hist_count(void)
{
	return hist_len > 0 ? hist_len - 1 : 0;
}

/* Series s's value i, oldest first (i < hist_count()). */
static unsigned long long
hist_value(int s, int i)
{
	int n = HIST_LEN + 1;
	int cur = ((hist_head - (hist_len - 2 - i)) % n + n) % n;
	int before = (cur + n - 1) % n;

	return hist[cur][s] > hist[before][s] ? hist[cur][s] -
	    hist[before][s] : 0;
}

/* Series s: its last value, largest and sum over the window. */
static void
hist_stats(int s, unsigned long long *last, unsigned long long *max,
    unsigned long long *sum)
{
	int n = hist_count();

	*last = *max = *sum = 0;
	for (int i = 0; i < n; i++) {
		unsigned long long v = hist_value(s, i);

		*sum += v;
		if (v > *max)
			*max = v;
		*last = v;
	}
}

/* Series s's last per-second value (0 before the first second). */
static unsigned long long
hist_last(int s)
{
	int n = hist_count();

	return n > 0 ? hist_value(s, n - 1) : 0;
}

static const char *const hist_names[HIST_N] = { "requests_per_s",
    "5xx_per_s", "crashes_per_s", "handoffs_to_worker_per_s",
    "handoffs_to_keeper_per_s" };

/* --- output ---------------------------------------------------------- */

static void
out_add(struct out *o, const char *s, size_t n)
{
	if (o->full || n > o->cap - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void
out_str(struct out *o, const char *s)
{
	out_add(o, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3)))
out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len)
		o->full = true;
	else
		o->len += (size_t)n;
}

/*
 * Appends s escaped for how. Slots hold raw bytes from the wire: in text,
 * control and non-ASCII bytes become \xNN; in JSON and HTML every byte is
 * one code point (Latin-1), so the output is always valid UTF-8.
 */
static void
out_esc(struct out *o, const char *s, enum esc how)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned c = *p;
		bool ctl = c < 0x20 || c == 0x7f;

		if (how == ESC_TEXT && (ctl || c >= 0x80 || c == '\\'))
			out_printf(o, "\\x%02x", c);
		else if (how == ESC_JSON && (c == '"' || c == '\\'))
			out_printf(o, "\\%c", c);
		else if (how == ESC_JSON && (ctl || c >= 0x80))
			out_printf(o, "\\u%04x", c);
		else if (how == ESC_HTML && ctl)
			out_str(o, "&#xfffd;");
		else if (how == ESC_HTML && (c >= 0x80 || strchr("&<>\"'", c)))
			out_printf(o, "&#x%x;", c);
		else
			out_add(o, (const char *)p, 1);
	}
}

/* s escaped as a JSON string, or null when empty. */
static void
out_json_str(struct out *o, const char *s)
{
	if (*s == '\0') {
		out_str(o, "null");
		return;
	}
	out_str(o, "\"");
	out_esc(o, s, ESC_JSON);
	out_str(o, "\"");
}

/* Text: s escaped, padded with spaces to width columns. */
static void
out_text_col(struct out *o, const char *s, size_t width)
{
	size_t before = o->len;

	out_esc(o, *s ? s : "-", ESC_TEXT);
	while (!o->full && o->len - before < width)
		out_add(o, " ", 1);
}

/* "850ms", "12.3s", "4m05s", "2h07m", "3d04h". */
static const char *
fmt_dur(long long ms, char *buf, size_t sz)
{
	long long s = ms / 1000;

	if (ms < 0)
		snprintf(buf, sz, "-");
	else if (ms < 1000)
		snprintf(buf, sz, "%lldms", ms);
	else if (s < 60)
		snprintf(buf, sz, "%lld.%llds", s, ms % 1000 / 100);
	else if (s < 3600)
		snprintf(buf, sz, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, sz, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, sz, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
	return buf;
}

/* "2024-06-01 12:00:03 UTC" */
static const char *
fmt_time(long long unix_s, char *buf, size_t sz)
{
	time_t t = (time_t)unix_s;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, sz, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, sz, "?");
	return buf;
}

/* "3 accepting, 1 handling" */
static void
out_counts(struct out *o, const struct snap *sn)
{
	const char *sep = "";

	for (int st = SB_STARTING; st <= SB_CLOSING; st++) {
		if (sn->count[st] == 0)
			continue;
		out_printf(o, "%s%d %s", sep, sn->count[st], sb_state_name(st));
		sep = ", ";
	}
}

/* --- the three renderings -------------------------------------------- */

/* "requests/s  now 12  max 40  3 0 12 ...": one line per series. */
static void
render_text_history(struct out *o)
{
	static const char *labels[HIST_N] = { "requests/s", "5xx/s",
	    "crashes/s", "to worker/s", "to keeper/s" };
	unsigned long long last, max, sum;

	out_printf(o, "per second over the last 10 minutes, oldest first "
	    "(%d s):\n", hist_count());
	for (int s = 0; s < HIST_N; s++) {
		hist_stats(s, &last, &max, &sum);
		out_printf(o, "%-11s now %llu, max %llu, sum %llu:", labels[s],
		    last, max, sum);
		for (int i = 0; i < hist_count(); i++)
			out_printf(o, " %llu", hist_value(s, i));
		out_str(o, "\n");
	}
	out_str(o, "\n");
}

/* "history":{"interval_s":1,"requests_per_s":[...],...} */
static void
render_json_history(struct out *o)
{
	out_str(o, "\"history\":{\"interval_s\":1");
	for (int s = 0; s < HIST_N; s++) {
		out_printf(o, ",\n\"%s\":[", hist_names[s]);
		for (int i = 0; i < hist_count(); i++)
			out_printf(o, "%s%llu", i ? "," : "", hist_value(s, i));
		out_str(o, "]");
	}
	out_str(o, "},");
}

/*
 * One chart: the caption with the figure that matters (the last second,
 * or for crashes the count in the window), the largest value on the y
 * axis, 10 minutes on the x axis with now on the right. The SVG is
 * stretched to its box (labels stay HTML, so they do not stretch); a
 * series of rare events is drawn as bars wide enough to be seen.
 */
static void
render_chart(struct out *o, int s)
{
	static const char *titles[HIST_CHARTS] = { "Requests/s", "5xx/s",
	    "Crashes" };
	static const char *classes[HIST_CHARTS] = { "c-req", "c-5xx",
	    "c-crash" };
	unsigned long long last, max, sum, scale;
	int n = hist_count();

	hist_stats(s, &last, &max, &sum);
	scale = max > 0 ? max : 1;
	out_printf(o, "<figure class=\"chart %s\" data-series=\"%s\">"
	    "<figcaption>%s<b>%llu<span> %s</span></b></figcaption>\n"
	    "<div class=\"plot\"><div class=\"y\"><span>%llu</span>"
	    "<span>0</span></div>\n<svg viewBox=\"0 0 %d 100\" "
	    "preserveAspectRatio=\"none\" role=\"img\" aria-label=\"%s, "
	    "last 10 minutes: max %llu\">", classes[s], hist_names[s],
	    titles[s], s == HIST_CRASH ? sum : last,
	    s == HIST_CRASH ? "in 10 min" : "now", max, HIST_LEN,
	    titles[s], max);
	if (s == HIST_CRASH) {
		for (int i = 0; i < n; i++) {
			unsigned long long v = hist_value(s, i);
			int h = (int)(v * 96 / scale);

			if (v > 0)
				out_printf(o, "<rect x=\"%d\" y=\"%d\" "
				    "width=\"5\" height=\"%d\"/>",
				    HIST_LEN - n + i - 2, 100 - h, h);
		}
	} else if (n > 0) {
		/* The line, then the same points closed along the bottom. */
		for (int pass = 0; pass < 2; pass++) {
			out_str(o, pass == 0 ? "<polyline points=\"" :
			    "<polygon points=\"");
			if (pass == 1)
				out_printf(o, "%d,100 ", HIST_LEN - n + 1);
			for (int i = 0; i < n; i++)
				out_printf(o, "%d,%d ", HIST_LEN - n + 1 + i,
				    100 - (int)(hist_value(s, i) * 96 / scale));
			if (pass == 1)
				out_printf(o, "%d,100", HIST_LEN);
			out_str(o, "\"/>");
		}
	}
	out_str(o, "</svg></div>\n<div class=\"x\"><span>10 min ago</span>"
	    "<span>5 min</span><span>now</span></div></figure>\n");
}

static void
render_text(struct out *o, const struct snap *sn)
{
	char t[64], up[24], age[24];

	out_printf(o, "preforkd status on %s\n\n", addr);
	out_printf(o, "master pid      %d\n", (int)sn->master_pid);
	out_printf(o, "started         %s\n",
	    fmt_time(sn->started_unix, t, sizeof(t)));
	out_printf(o, "uptime          %s (%lld s)\n",
	    fmt_dur(sn->up_ms, up, sizeof(up)), sn->up_ms / 1000);
	out_printf(o, "generation      %d\n", sn->generation);
	out_printf(o, "workers wanted  %d\n", sn->target);
	out_printf(o, "workers         %d: ", sn->nrows);
	out_counts(o, sn);
	out_printf(o, "\nrequests        %llu (by the live workers)\n",
	    sn->requests);
	out_printf(o, "keeper: pid %d, %llu parked, %llu handed off, %llu "
	    "closed idle\n", (int)sn->keeper_pid, sn->parked, sn->handed,
	    sn->closed_idle);
	out_printf(o, "parked by kind: %llu idle, %llu head, %llu linger, "
	    "%llu sending\n", sn->kind[PARK_IDLE], sn->kind[PARK_HEAD],
	    sn->kind[PARK_LINGER], sn->kind[PARK_SENDING]);
	out_printf(o, "ready queue: %llu; hand-offs: %llu to workers "
	    "(%llu/s), %llu to the keeper (%llu/s)\n\n", sn->ready,
	    sn->handed, hist_last(HIST_TO_WORKER), sn->to_keeper,
	    hist_last(HIST_TO_KEEPER));
	render_text_history(o);
	out_printf(o, "%4s %8s %4s  %-10s %9s %8s %9s  %-22s %s\n", "id",
	    "pid", "gen", "state", "requests", "up", "age_ms", "client",
	    "request");
	for (int i = 0; i < sn->nrows; i++) {
		const struct row *r = &sn->row[i];

		if (r->age_ms < 0)
			snprintf(age, sizeof(age), "-");
		else
			snprintf(age, sizeof(age), "%lld", r->age_ms);
		out_printf(o, "%4d %8d %4d  %-10s %9llu %8s %9s  ", r->id,
		    (int)r->pid, r->gen, sb_state_name(r->state), r->requests,
		    fmt_dur(r->up_ms, up, sizeof(up)), age);
		out_text_col(o, r->client, 22);
		out_str(o, " ");
		if (r->age_ms < 0)
			out_str(o, "-");
		else {
			out_esc(o, r->method, ESC_TEXT);
			out_str(o, " ");
			out_esc(o, r->path, ESC_TEXT);
		}
		out_str(o, "\n");
	}
}

static void
render_json(struct out *o, const struct snap *sn)
{
	out_printf(o, "{\"master_pid\":%d,\"status_pid\":%d,"
	    "\"started_unix\":%lld,\"uptime_ms\":%lld,\"generation\":%d,"
	    "\"workers_wanted\":%d,\"requests\":%llu,\"keeper\":{\"pid\":%d,"
	    "\"parked\":%llu,\"handed_off\":%llu,\"closed_idle\":%llu,"
	    "\"parked_idle\":%llu,\"parked_head\":%llu,"
	    "\"parked_linger\":%llu,\"parked_sending\":%llu,"
	    "\"ready_queue\":%llu,\"handed_to_keeper\":%llu,"
	    "\"handoffs_to_worker_per_s\":%llu,"
	    "\"handoffs_to_keeper_per_s\":%llu},\n",
	    (int)sn->master_pid, (int)getpid(), sn->started_unix, sn->up_ms,
	    sn->generation, sn->target, sn->requests, (int)sn->keeper_pid,
	    sn->parked, sn->handed, sn->closed_idle, sn->kind[PARK_IDLE],
	    sn->kind[PARK_HEAD], sn->kind[PARK_LINGER],
	    sn->kind[PARK_SENDING], sn->ready, sn->to_keeper,
	    hist_last(HIST_TO_WORKER), hist_last(HIST_TO_KEEPER));
	render_json_history(o);
	out_str(o, "\n\"workers\":[");
	for (int i = 0; i < sn->nrows; i++) {
		const struct row *r = &sn->row[i];

		out_printf(o, "%s\n{\"id\":%d,\"pid\":%d,\"gen\":%d,"
		    "\"state\":\"%s\",\"requests\":%llu,\"method\":",
		    i ? "," : "", r->id, (int)r->pid, r->gen,
		    sb_state_name(r->state), r->requests);
		out_json_str(o, r->method);
		out_str(o, ",\"path\":");
		out_json_str(o, r->path);
		if (r->age_ms < 0)
			out_str(o, ",\"age_ms\":null");
		else
			out_printf(o, ",\"age_ms\":%lld", r->age_ms);
		out_str(o, ",\"client\":");
		out_json_str(o, r->client);
		out_printf(o, ",\"uptime_ms\":%lld}", r->up_ms);
	}
	out_str(o, "\n]}\n");
}

/*
 * The page: inline CSS only (the Content-Security-Policy sent with it
 * forbids anything else), one row per worker, a colour per state.
 * Narrow screens drop the less useful columns and scroll the table.
 */
static const char html_style[] =
":root{--bg:#f3f4f6;--card:#fff;--ink:#111827;--mute:#6b7280;"
"--line:#e5e7eb;--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,"
"\"DejaVu Sans Mono\",monospace}\n"
"*{box-sizing:border-box}\n"
"body{margin:0;background:var(--bg);color:var(--ink);"
"font:14px/1.45 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif}\n"
"header{background:#111827;color:#f9fafb;padding:14px 20px;display:flex;"
"flex-wrap:wrap;gap:4px 16px;align-items:baseline}\n"
"header h1{margin:0;font-size:19px;font-weight:650;letter-spacing:.01em}\n"
"header .where{color:#9ca3af;font-family:var(--mono);font-size:13px}\n"
"header .when{margin-left:auto;color:#9ca3af;font-size:12px}\n"
"main{max-width:1180px;margin:0 auto;padding:18px 16px 24px}\n"
".facts{display:grid;grid-template-columns:repeat(auto-fit,"
"minmax(130px,1fr));gap:10px;margin:0 0 14px}\n"
".fact{background:var(--card);border:1px solid var(--line);"
"border-radius:10px;padding:10px 14px}\n"
".fact small{display:block;color:var(--mute);font-size:11px;"
"text-transform:uppercase;letter-spacing:.06em}\n"
".fact b{display:block;font:600 21px/1.3 var(--mono);"
"font-variant-numeric:tabular-nums}\n"
".fact b span{font-size:14px;color:var(--mute);font-weight:400}\n"
".states{display:flex;flex-wrap:wrap;gap:6px;margin:0 0 12px}\n"
".card{background:var(--card);border:1px solid var(--line);"
"border-radius:10px;overflow-x:auto}\n"
"table{border-collapse:collapse;width:100%}\n"
"th{position:sticky;top:0;background:#f9fafb;color:var(--mute);"
"font-size:11px;font-weight:600;text-transform:uppercase;"
"letter-spacing:.05em;text-align:left;padding:9px 12px;"
"border-bottom:1px solid var(--line)}\n"
"td{padding:8px 12px;border-bottom:1px solid var(--line);"
"white-space:nowrap}\n"
"tr:last-child td{border-bottom:0}\n"
"tbody tr:hover{background:#f9fafb}\n"
"th.n,td.n{text-align:right}\n"
"td.n,td.m{font-family:var(--mono);font-size:13px;"
"font-variant-numeric:tabular-nums}\n"
"td.id{font-weight:650}\n"
"td.req{max-width:340px;overflow:hidden;text-overflow:ellipsis}\n"
"td.req b{font-weight:650;margin-right:6px}\n"
".none{color:#9ca3af}\n"
".slow{color:#b45309;font-weight:650}\n"
".stuck{color:#b91c1c;font-weight:700}\n"
".st{display:inline-block;min-width:88px;padding:2px 10px;"
"border-radius:999px;font-size:12px;font-weight:600;text-align:left;"
"background:var(--sb);color:var(--sf)}\n"
".st i{display:inline-block;width:7px;height:7px;border-radius:50%;"
"margin-right:6px;vertical-align:1px;background:var(--accent)}\n"
"tr.w td:first-child{box-shadow:inset 4px 0 0 var(--accent)}\n"
/* Each state sets colours that .st and the row's edge pick up. */
".s-starting{--sb:#e5e7eb;--sf:#374151;--accent:#9ca3af}\n"
".s-accepting{--sb:#dcfce7;--sf:#166534;--accent:#22c55e}\n"
".s-reading{--sb:#dbeafe;--sf:#1e40af;--accent:#3b82f6}\n"
".s-handling{--sb:#fef3c7;--sf:#92400e;--accent:#f59e0b}\n"
".s-writing{--sb:#ede9fe;--sf:#5b21b6;--accent:#8b5cf6}\n"
".s-keepalive{--sb:#cffafe;--sf:#155e75;--accent:#06b6d4}\n"
".s-closing{--sb:#fee2e2;--sf:#991b1b;--accent:#f87171}\n"
/* The charts: a caption, the y axis's max and 0 beside the plot, the
 * x axis's 10 minutes under it; one colour per series. */
".charts{display:grid;grid-template-columns:repeat(auto-fit,"
"minmax(240px,1fr));gap:10px;margin:0 0 14px}\n"
".chart{margin:0;background:var(--card);border:1px solid var(--line);"
"border-radius:10px;padding:10px 14px 8px}\n"
".chart figcaption{display:flex;justify-content:space-between;"
"align-items:baseline;color:var(--mute);font-size:11px;"
"text-transform:uppercase;letter-spacing:.06em}\n"
".chart figcaption b{font:600 21px/1.3 var(--mono);color:var(--ink);"
"text-transform:none;letter-spacing:0}\n"
".chart figcaption b span{font-size:12px;color:var(--mute);"
"font-weight:400}\n"
".plot{display:grid;grid-template-columns:auto 1fr;gap:6px;margin-top:4px}\n"
".plot .y{display:flex;flex-direction:column;justify-content:space-between;"
"font:11px/1 var(--mono);color:var(--mute);text-align:right}\n"
".plot svg{display:block;width:100%;height:70px;background:#f9fafb;"
"border-bottom:1px solid var(--line)}\n"
".plot polyline{fill:none;stroke:var(--c);stroke-width:1.5;"
"vector-effect:non-scaling-stroke;stroke-linejoin:round}\n"
".plot polygon{fill:var(--c);opacity:.15}\n"
".plot rect{fill:var(--c)}\n"
".chart .x{display:flex;justify-content:space-between;font-size:11px;"
"color:var(--mute);margin-top:2px}\n"
".c-req{--c:#2563eb}.c-5xx{--c:#d97706}.c-crash{--c:#dc2626}\n"
"footer{color:var(--mute);font-size:12px;margin-top:12px}\n"
"footer a{color:inherit}\n"
/* A phone: three facts a line, each worker a two-line card. */
"@media (max-width:640px){header{padding:12px 14px}"
"header .when{margin-left:0}main{padding:12px 10px}"
".facts{grid-template-columns:repeat(3,1fr);gap:8px}"
".fact{padding:8px 10px}.fact b{font-size:17px}.fact b span{font-size:12px}"
"thead,.hs{display:none}table,tbody{display:block}"
"tr.w{display:grid;grid-template-columns:auto auto 1fr auto;"
"grid-template-areas:\"id sc pid age\" \"req req req rq\";gap:6px 10px;"
"align-items:center;padding:10px 12px 10px 16px;"
"border-bottom:1px solid var(--line);box-shadow:inset 4px 0 0 var(--accent)}"
"tr.w:last-child{border-bottom:0}"
"tr.w td,tr.w td:first-child{padding:0;border:0;box-shadow:none}"
"td.id{grid-area:id}td.sc{grid-area:sc}td.age{grid-area:age}"
"td.pid{grid-area:pid;text-align:left}td.rq{grid-area:rq}"
"td.req{grid-area:req;max-width:none}"
"td.pid:before{content:\"pid \";color:var(--mute)}"
"td.rq:after{content:\" req\";color:var(--mute)}}\n";

static void
render_html(struct out *o, const struct snap *sn)
{
	int busy = sn->count[SB_READING] + sn->count[SB_HANDLING] +
	    sn->count[SB_WRITING];
	char t[64], d[24];

	out_str(o, "<!doctype html>\n<html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width,"
	    "initial-scale=1\">\n");
	out_printf(o, "<meta http-equiv=\"refresh\" content=\"%d\">\n",
	    STATUS_REFRESH_S);
	out_str(o, "<title>preforkd status &middot; ");
	out_esc(o, addr, ESC_HTML);
	out_printf(o, "</title>\n<style>\n%s</style>\n</head><body>\n",
	    html_style);
	out_str(o, "<header><h1>preforkd</h1><span class=\"where\">status "
	    "&middot; ");
	out_esc(o, addr, ESC_HTML);
	out_printf(o, "</span><span class=\"when\">updated %s</span>"
	    "</header>\n<main>\n", fmt_time((long long)time(NULL), t,
	    sizeof(t)));

	out_str(o, "<section class=\"facts\">\n");
	out_printf(o, "<div class=\"fact\"><small>Workers</small><b>%d"
	    "<span> / %d wanted</span></b></div>\n", sn->nrows, sn->target);
	out_printf(o, "<div class=\"fact\"><small>Busy</small><b>%d</b>"
	    "</div>\n", busy);
	out_printf(o, "<div class=\"fact\"><small>Requests</small><b>%llu"
	    "</b></div>\n", sn->requests);
	out_printf(o, "<div class=\"fact\"><small>Generation</small><b>%d"
	    "</b></div>\n", sn->generation);
	out_printf(o, "<div class=\"fact\"><small>Master pid</small><b>%d"
	    "</b></div>\n", (int)sn->master_pid);
	out_printf(o, "<div class=\"fact\" title=\"started %s\"><small>Uptime"
	    "</small><b>%s</b></div>\n", fmt_time(sn->started_unix, t,
	    sizeof(t)), fmt_dur(sn->up_ms, d, sizeof(d)));
	out_printf(o, "<div class=\"fact\" title=\"parked with the keeper: "
	    "%llu idle, %llu head, %llu linger, %llu sending\"><small>Parked"
	    "</small><b>%llu<span> %llu idle</span></b></div>\n",
	    sn->kind[PARK_IDLE], sn->kind[PARK_HEAD], sn->kind[PARK_LINGER],
	    sn->kind[PARK_SENDING], sn->parked, sn->kind[PARK_IDLE]);
	out_printf(o, "<div class=\"fact\"><small>Ready queue</small><b>%llu"
	    "</b></div>\n", sn->ready);
	out_printf(o, "<div class=\"fact\" title=\"%llu to workers, %llu to "
	    "the keeper in all\"><small>Hand-offs/s</small><b>%llu<span> / "
	    "%llu back</span></b></div>\n", sn->handed, sn->to_keeper,
	    hist_last(HIST_TO_WORKER), hist_last(HIST_TO_KEEPER));
	out_str(o, "</section>\n<section class=\"charts\">\n");
	for (int s = 0; s < HIST_CHARTS; s++)
		render_chart(o, s);
	out_str(o, "</section>\n<div class=\"states\">");
	for (int st = SB_STARTING; st <= SB_CLOSING; st++)
		if (sn->count[st] > 0)
			out_printf(o, "<span class=\"st s-%s\"><i></i>%d %s"
			    "</span>", sb_state_name(st), sn->count[st],
			    sb_state_name(st));
	out_str(o, "</div>\n");

	out_str(o, "<div class=\"card\"><table>\n<thead><tr>"
	    "<th>Worker</th><th class=\"n\">PID</th>"
	    "<th class=\"n hs\">Gen</th><th>State</th>"
	    "<th class=\"n\">Requests</th><th>Current request</th>"
	    "<th class=\"n\">Age</th><th class=\"hs\">Client</th>"
	    "<th class=\"n hs\">Up</th></tr></thead>\n<tbody>\n");
	for (int i = 0; i < sn->nrows; i++) {
		const struct row *r = &sn->row[i];
		const char *name = sb_state_name(r->state);
		const char *age_class = r->age_ms > cfg->timeout_ms ? "stuck" :
		    r->age_ms >= STATUS_SLOW_MS ? "slow" : "";

		out_printf(o, "<tr class=\"w s-%s\" data-pid=\"%d\">"
		    "<td class=\"id\">#%d</td>"
		    "<td class=\"n pid\">%d</td><td class=\"n hs\">%d</td>"
		    "<td class=\"sc\"><span class=\"st s-%s\"><i></i>%s</span>"
		    "</td><td class=\"n rq\">%llu</td><td class=\"req m", name,
		    (int)r->pid, r->id, (int)r->pid, r->gen, name, name,
		    r->requests);
		if (r->age_ms < 0)
			out_str(o, "\"><span class=\"none\">&mdash;</span>");
		else {
			/* The whole request on hover, when the cell is cut. */
			out_str(o, "\" title=\"");
			out_esc(o, r->method, ESC_HTML);
			out_str(o, " ");
			out_esc(o, r->path, ESC_HTML);
			out_str(o, "\"><b>");
			out_esc(o, r->method, ESC_HTML);
			out_str(o, "</b>");
			out_esc(o, r->path, ESC_HTML);
		}
		out_str(o, "</td><td class=\"n age\">");
		if (r->age_ms < 0)
			out_str(o, "<span class=\"none\">&mdash;</span>");
		else if (*age_class == '\0')
			out_str(o, fmt_dur(r->age_ms, d, sizeof(d)));
		else
			out_printf(o, "<span class=\"%s\">%s</span>", age_class,
			    fmt_dur(r->age_ms, d, sizeof(d)));
		out_str(o, "</td><td class=\"m hs\">");
		if (r->client[0] == '\0')
			out_str(o, "<span class=\"none\">&mdash;</span>");
		else
			out_esc(o, r->client, ESC_HTML);
		out_printf(o, "</td><td class=\"n hs\">%s</td></tr>\n",
		    fmt_dur(r->up_ms, d, sizeof(d)));
	}
	if (sn->nrows == 0)
		out_str(o, "<tr><td colspan=\"9\" class=\"none\">no workers "
		    "right now</td></tr>\n");
	out_printf(o, "</tbody></table></div>\n<footer>Refreshes every %d s "
	    "&middot; <a href=\"?format=text\">text</a> &middot; "
	    "<a href=\"?format=json\">json</a> &middot; preforkd/"
	    PREFORKD_VERSION "</footer>\n</main>\n</body></html>\n",
	    STATUS_REFRESH_S);
}

/* --- /metrics: Prometheus text format 0.0.4 ----------------------------- */

static void
metric_head(struct out *o, const char *name, const char *type,
    const char *help)
{
	out_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/*
 * Fills ql[] with the accept queues of family's TCP listeners, from one
 * sock_diag dump of the listening sockets: the status process does not
 * hold the listeners (it must not keep them open when the workers have
 * closed them), so it finds them by inode.
 */
static void
diag_queues(int family)
{
	struct {
		struct nlmsghdr		nlh;
		struct inet_diag_req_v2	r;
	} req;
	static long buf[4096];		/* aligned for nlmsghdr */
	struct timeval tv = { 1, 0 };
	int fd;

	if ((fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
	    NETLINK_SOCK_DIAG)) == -1)
		return;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.r.sdiag_family = (unsigned char)family;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = 1U << TCP_LISTEN;
	if (send(fd, &req, sizeof(req), 0) != (ssize_t)sizeof(req))
		goto done;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		int left = (int)n;

		if (n <= 0)
			goto done;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf;
		    NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
			const struct inet_diag_msg *m = NLMSG_DATA(h);

			if (h->nlmsg_type == NLMSG_DONE ||
			    h->nlmsg_type == NLMSG_ERROR)
				goto done;
			for (int i = 0; i < nql; i++)
				if (ql[i].ino == (ino_t)m->idiag_inode) {
					/* On a listener: the queue, the limit. */
					ql[i].found = true;
					ql[i].len = m->idiag_rqueue;
					ql[i].limit = m->idiag_wqueue;
				}
		}
	}
done:
	close(fd);
}

/* Connections waiting in the serving listeners' accept queues, now. */
static unsigned
status_queued(void)
{
	unsigned n = 0;

	for (int i = 0; i < nql; i++)
		ql[i].found = false;
	if (nql == 0)
		return 0;
	diag_queues(AF_INET);
	diag_queues(AF_INET6);
	for (int i = 0; i < nql; i++)
		if (ql[i].found)
			n += ql[i].len;
	return n;
}

/* The accept-queue length and limit of each TCP listener, now. */
static void
render_queues(struct out *o)
{
	(void)status_queued();
	metric_head(o, "preforkd_listen_queue_length", "gauge",
	    "Connections waiting in a TCP listener's accept queue.");
	for (int i = 0; i < nql; i++)
		if (ql[i].found)
			out_printf(o, "preforkd_listen_queue_length{listener=\"%s\"}"
			    " %u\n", ql[i].name, ql[i].len);
	metric_head(o, "preforkd_listen_queue_limit", "gauge",
	    "The accept queue's limit (the listen backlog).");
	for (int i = 0; i < nql; i++)
		if (ql[i].found)
			out_printf(o, "preforkd_listen_queue_limit{listener=\"%s\"}"
			    " %u\n", ql[i].name, ql[i].limit);
}

/* The request counters: by method and status class, durations, bytes. */
static void
render_requests(struct out *o, const struct sb_ctr *t)
{
	static const char *methods[SB_METHODS] = { "GET", "HEAD", "POST",
	    "PUT", "DELETE", "OPTIONS", "PATCH", "other" };
	static const long long bounds[SB_BUCKETS - 1] = SB_BUCKET_BOUNDS_US;
	unsigned long long n = 0;

	metric_head(o, "preforkd_http_requests_total", "counter",
	    "Requests answered by the workers, by method and status class.");
	for (int m = 0; m < SB_METHODS; m++)
		for (int k = 0; k < SB_CLASSES; k++)
			out_printf(o, "preforkd_http_requests_total{method=\"%s\","
			    "code=\"%dxx\"} %llu\n", methods[m], k + 1,
			    t->req[m][k]);
	metric_head(o, "preforkd_http_request_duration_seconds", "histogram",
	    "Time from a request's first byte to the end of its response.");
	for (int b = 0; b < SB_BUCKETS; b++) {
		n += t->dur[b];
		if (b < SB_BUCKETS - 1)
			out_printf(o, "preforkd_http_request_duration_seconds_bucket"
			    "{le=\"%lld.%06lld\"} %llu\n", bounds[b] / 1000000,
			    bounds[b] % 1000000, n);
		else
			out_printf(o, "preforkd_http_request_duration_seconds_bucket"
			    "{le=\"+Inf\"} %llu\n", n);
	}
	out_printf(o, "preforkd_http_request_duration_seconds_sum %llu.%06llu\n"
	    "preforkd_http_request_duration_seconds_count %llu\n",
	    t->dur_us / 1000000, t->dur_us % 1000000, n);
	metric_head(o, "preforkd_http_response_body_bytes_total", "counter",
	    "Response body bytes sent (heads not included).");
	out_printf(o, "preforkd_http_response_body_bytes_total %llu\n",
	    t->bytes);
	metric_head(o, "preforkd_connections_accepted_total", "counter",
	    "Client connections accepted by the workers.");
	out_printf(o, "preforkd_connections_accepted_total %llu\n", t->conns);
	metric_head(o, "preforkd_keepalive_fairness_closes_total", "counter",
	    "Keep-alive connections closed so that a waiting client gets a "
	    "worker.");
	out_printf(o, "preforkd_keepalive_fairness_closes_total %llu\n",
	    t->fair_closes);
}

/* The master's counters: crashes, timeouts, respawns, reloads. */
static void
render_supervision(struct out *o)
{
	metric_head(o, "preforkd_worker_crashes_total", "counter",
	    "Workers killed by a signal, by signal.");
	for (int i = 1; i < SB_SIGNALS; i++) {
		unsigned long long n = sb->crashes[i];
		const char *name = sigabbrev_np(i);

		if (n == 0)
			continue;
		if (name != NULL)
			out_printf(o, "preforkd_worker_crashes_total{signal="
			    "\"SIG%s\"} %llu\n", name, n);
		else
			out_printf(o, "preforkd_worker_crashes_total{signal="
			    "\"%d\"} %llu\n", i, n);
	}
	metric_head(o, "preforkd_handler_timeouts_total", "counter",
	    "Handlers stopped for running past --timeout.");
	out_printf(o, "preforkd_handler_timeouts_total %llu\n", sb->timeouts);
	metric_head(o, "preforkd_worker_respawns_total", "counter",
	    "Workers started to replace one that died unasked.");
	out_printf(o, "preforkd_worker_respawns_total %llu\n", sb->respawns);
	metric_head(o, "preforkd_worker_recycles_total", "counter",
	    "Workers replaced after --max-requests.");
	out_printf(o, "preforkd_worker_recycles_total %llu\n", sb->recycles);
	metric_head(o, "preforkd_reloads_total", "counter",
	    "Completed reloads (HUP).");
	out_printf(o, "preforkd_reloads_total %llu\n", sb->reloads);
	metric_head(o, "preforkd_reload_failures_total", "counter",
	    "Reloads refused or aborted; the old generation kept serving.");
	out_printf(o, "preforkd_reload_failures_total %llu\n",
	    sb->reload_failures);
}

/* The keeper: what it holds by kind, the ready queue, the hand-offs. */
static void
render_keeper(struct out *o, const struct snap *sn)
{
	metric_head(o, "preforkd_keeper_parked", "gauge",
	    "Connections parked with the keeper, by what they wait for: the "
	    "next request (idle), the rest of one (head), a close (linger), "
	    "a slow reader (sending).");
	for (int k = 0; k < PARK_KINDS; k++)
		out_printf(o, "preforkd_keeper_parked{kind=\"%s\"} %llu\n",
		    park_kinds[k], sn->kind[k]);
	metric_head(o, "preforkd_ready_queue", "gauge",
	    "Connections with a complete request in the queue from the "
	    "keeper, not yet taken by a worker.");
	out_printf(o, "preforkd_ready_queue %llu\n", sn->ready);
	metric_head(o, "preforkd_handoffs_total", "counter",
	    "Connections handed over: keeper to a worker, worker to the "
	    "keeper.");
	out_printf(o, "preforkd_handoffs_total{direction=\"to_worker\"} "
	    "%llu\npreforkd_handoffs_total{direction=\"to_keeper\"} %llu\n",
	    sn->handed, sn->to_keeper);
}

static void
render_metrics(struct out *o, const struct snap *sn)
{
	static struct sb_ctr t;
	int run = sb->run;

	sb_sum(sb, &t);
	metric_head(o, "preforkd_build_info", "gauge",
	    "Always 1; the version is a label.");
	out_str(o, "preforkd_build_info{version=\"" PREFORKD_VERSION "\"} 1\n");
	metric_head(o, "preforkd_start_time_seconds", "gauge",
	    "When the master started (Unix time); a USR2 upgrade starts anew.");
	out_printf(o, "preforkd_start_time_seconds %lld\n", sn->started_unix);
	metric_head(o, "preforkd_uptime_seconds", "gauge",
	    "Seconds since the master started.");
	out_printf(o, "preforkd_uptime_seconds %lld.%03lld\n", sn->up_ms / 1000,
	    sn->up_ms % 1000);
	metric_head(o, "preforkd_generation", "gauge",
	    "The serving generation (1, then one more per reload).");
	out_printf(o, "preforkd_generation %d\n", sn->generation);
	metric_head(o, "preforkd_healthy", "gauge",
	    "1 while serving; 0 while draining, stopping, upgrading or in a "
	    "crash loop (then the health path answers 503).");
	out_printf(o, "preforkd_healthy %d\n", run == SB_RUN_SERVING);
	metric_head(o, "preforkd_workers_wanted", "gauge",
	    "Workers the master keeps running.");
	out_printf(o, "preforkd_workers_wanted %d\n", sn->target);
	metric_head(o, "preforkd_workers", "gauge",
	    "Worker processes by scoreboard state.");
	for (int st = SB_STARTING; st <= SB_CLOSING; st++)
		out_printf(o, "preforkd_workers{state=\"%s\"} %d\n",
		    sb_state_name(st), sn->count[st]);
	render_queues(o);
	render_requests(o, &t);
	render_supervision(o);
	render_keeper(o, sn);
}

/* --- the connection -------------------------------------------------- */

/*
 * Waits for events on fd until deadline: 1 ready, 0 timed out, -1 error.
 * Agent clients are answered meanwhile (they never block).
 */
static int
wait_fd(int fd, short events, long long deadline)
{
	struct pollfd pfd[1 + AGENT_POLLFDS];

	for (;;) {
		long long wake = deadline, left;
		int rc, na;

		pfd[0].fd = fd;
		pfd[0].events = events;
		pfd[0].revents = 0;
		na = agent_pollfds(pfd + 1, &wake);
		if (deadline - sb_now_ms() <= 0)
			return 0;
		left = wake - sb_now_ms();
		rc = poll(pfd, (nfds_t)(1 + na), left > 0 ? (int)left : 0);
		if (rc == -1 && errno == EINTR)
			continue;	/* QUIT: this connection still ends */
		if (rc == -1)
			return -1;
		agent_events(pfd + 1, na);
		if (pfd[0].revents != 0)
			return 1;
	}
}

/*
 * Reads a request head (up to an empty line) into buf before the
 * deadline. Returns 0 and its length in *len; 431 when it does not fit;
 * 408 when it stops short after some bytes; -1 when the client left or
 * sent nothing (then there is no one to answer).
 */
static int
read_head(int fd, char *buf, size_t cap, size_t *len, long long deadline)
{
	size_t n = 0;

	while (n < cap) {
		ssize_t got = read(fd, buf + n, cap - n);
		size_t from = n > 3 ? n - 3 : 0;

		if (got > 0) {
			n += (size_t)got;
			if (memmem(buf + from, n - from, "\r\n\r\n", 4) ||
			    memmem(buf + from, n - from, "\n\n", 2)) {
				*len = n;
				return 0;
			}
			continue;
		}
		if (got == 0)
			return -1;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (wait_fd(fd, POLLIN, deadline) != 1)
			return n > 0 ? 408 : -1;
	}
	return 431;
}

/*
 * Parses "METHOD SP TARGET SP HTTP/1.x" at the start of the head, in
 * place (NUL-ending method and target). Returns 0 or an HTTP status.
 */
static int
parse_line(char *head, size_t len, char **method, char **target)
{
	char *eol = memchr(head, '\n', len), *sp1, *sp2;

	if (eol == NULL)
		return 400;
	if (eol > head && eol[-1] == '\r')
		eol--;
	*eol = '\0';
	if ((sp1 = strchr(head, ' ')) == NULL ||
	    (sp2 = strchr(sp1 + 1, ' ')) == NULL || strchr(sp2 + 1, ' '))
		return 400;
	*sp1 = *sp2 = '\0';
	*method = head;
	*target = sp1 + 1;
	if (**method == '\0' || strspn(*method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~") !=
	    strlen(*method) || **target != '/')
		return 400;
	if (strncmp(sp2 + 1, "HTTP/", 5) != 0)
		return 400;
	if (strcmp(sp2 + 1, "HTTP/1.1") != 0 && strcmp(sp2 + 1, "HTTP/1.0"))
		return 505;
	return 0;
}

/* The ?format= of query (NULL: none); -1 when unknown. */
static int
parse_format(const char *query)
{
	static const char *names[] = { "text", "json", "html" };
	const char *p = query;

	while (p != NULL && *p != '\0') {
		size_t n = strcspn(p, "&");

		if (n > 7 && strncmp(p, "format=", 7) == 0) {
			for (size_t i = 0; i < sizeof(names) / sizeof(*names);
			    i++)
				if (n - 7 == strlen(names[i]) &&
				    strncmp(p + 7, names[i], n - 7) == 0)
					return (int)i;
			return -1;
		}
		p = p[n] == '&' ? p + n + 1 : p + n;
	}
	return FMT_TEXT;
}

/* Sends the iovecs whole before the deadline. Returns 0 or -1. */
static int
send_all(int fd, struct iovec *iov, int iovcnt, long long deadline)
{
	while (iovcnt > 0) {
		struct msghdr msg = { .msg_iov = iov, .msg_iovlen = iovcnt };
		ssize_t n;

		if (iov->iov_len == 0) {
			iov++;
			iovcnt--;
			continue;
		}
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(fd, POLLOUT, deadline) != 1)
				return -1;
			continue;
		}
		if (n <= 0)
			return -1;
		iov_advance(&iov, &iovcnt, (size_t)n);
	}
	return 0;
}

/* Sends one complete response; HEAD gets the head only. */
static int
respond(int fd, int status, const char *ctype, const char *extra,
    const char *b, size_t blen, bool head_only)
{
	char head[1024], date[HTTPDATE_LEN + 1];
	struct iovec iov[2];
	struct timespec ts;
	int n;

	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	httpdate_format(ts.tv_sec, date);
	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nDate: %s\r\n"
	    "Server: preforkd/" PREFORKD_VERSION "\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
	    "%sConnection: close\r\n\r\n", status, reason_phrase(status),
	    date, ctype, blen, extra ? extra : "");
	if (n < 0 || (size_t)n >= sizeof(head))
		return -1;
	iov[0].iov_base = head;
	iov[0].iov_len = (size_t)n;
	iov[1].iov_base = (void *)b;
	iov[1].iov_len = head_only ? 0 : blen;
	return send_all(fd, iov, 2, sb_now_ms() + STATUS_WRITE_MS);
}

/* An error with a one-line text body, e.g. "404 Not Found". */
static int
respond_error(int fd, int status, const char *extra, bool head_only)
{
	char msg[96];
	int n = snprintf(msg, sizeof(msg), "%d %s\n", status,
	    reason_phrase(status));

	return respond(fd, status, "text/plain; charset=utf-8", extra, msg,
	    (size_t)n, head_only);
}

/*
 * After an error the client may still be sending: half-close and read
 * a little, so that it sees our answer instead of a reset.
 */
static void
linger(int fd)
{
	long long deadline = sb_now_ms() + STATUS_LINGER_MS;
	size_t total = 0;
	char junk[4096];

	(void)shutdown(fd, SHUT_WR);
	while (total < STATUS_LINGER_BYTES) {
		ssize_t n = read(fd, junk, sizeof(junk));

		if (n > 0)
			total += (size_t)n;
		else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			return;
		else if (wait_fd(fd, POLLIN, deadline) != 1)
			return;
	}
}

/* Renders the scoreboard in format fmt; returns 0 or 500 (too big). */
static int
render(struct out *o, int fmt)
{
	snapshot(&snap);
	o->p = body;
	o->cap = sizeof(body);
	o->len = 0;
	o->full = false;
	if (fmt == FMT_JSON)
		render_json(o, &snap);
	else if (fmt == FMT_HTML)
		render_html(o, &snap);
	else
		render_text(o, &snap);
	return o->full ? 500 : 0;
}

/* Serves one connection: one request, one response, then it is closed. */
static void
serve(int fd)
{
	static const char *ctypes[] = { "text/plain; charset=utf-8",
	    "application/json", "text/html; charset=utf-8" };
	static const char *csp = "Content-Security-Policy: default-src "
	    "'none'; style-src 'unsafe-inline'\r\n";
	char head[STATUS_HEAD_MAX], *method = NULL, *target = NULL, *query;
	bool head_only;
	size_t len = 0;
	struct out o;
	int rc, fmt;

	rc = read_head(fd, head, sizeof(head), &len,
	    sb_now_ms() + STATUS_READ_MS);
	if (rc == -1)
		return;
	if (rc == 0)
		rc = parse_line(head, len, &method, &target);
	if (rc != 0) {
		if (respond_error(fd, rc, NULL, false) == 0)
			linger(fd);
		return;
	}
	head_only = strcmp(method, "HEAD") == 0;
	if ((query = strchr(target, '?')) != NULL)
		*query++ = '\0';
	if (strcmp(target, "/status") != 0 && strcmp(target, "/metrics") != 0 &&
	    strcmp(target, "/healthz") != 0) {
		(void)respond_error(fd, 404, NULL, head_only);
		return;
	}
	if (!head_only && strcmp(method, "GET") != 0) {
		if (respond_error(fd, 405, "Allow: GET, HEAD\r\n", false) == 0)
			linger(fd);
		return;
	}
	if (strcmp(target, "/healthz") == 0) {
		int run = sb->run;
		char msg[32];
		int n = snprintf(msg, sizeof(msg), "%s\n",
		    run == SB_RUN_SERVING ? "ok" : sb_run_name(run));

		(void)respond(fd, run == SB_RUN_SERVING ? 200 : 503, ctypes[0],
		    NULL, msg, (size_t)n, head_only);
		return;
	}
	if (strcmp(target, "/metrics") == 0) {
		snapshot(&snap);
		o.p = body;
		o.cap = sizeof(body);
		o.len = 0;
		o.full = false;
		render_metrics(&o, &snap);
		if (o.full)
			(void)respond_error(fd, 500, NULL, head_only);
		else
			(void)respond(fd, 200, "text/plain; version=0.0.4; "
			    "charset=utf-8", NULL, o.p, o.len, head_only);
		return;
	}
	if ((fmt = parse_format(query)) == -1) {
		(void)respond_error(fd, 400, NULL, head_only);
		return;
	}
	if ((rc = render(&o, fmt)) != 0) {
		log_warnx("the %s page does not fit in %zu bytes",
		    fmt == FMT_JSON ? "json" : fmt == FMT_HTML ? "html" :
		    "text", sizeof(body));
		(void)respond_error(fd, rc, NULL, head_only);
		return;
	}
	(void)respond(fd, 200, ctypes[fmt], fmt == FMT_HTML ? csp : NULL,
	    o.p, o.len, head_only);
}

static void
pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

void
status_main(const struct cfg *c, int lfd, int afd, const struct sb *board,
    const int *listeners, int nlisteners)
{
	pid_t master = getppid();
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	struct pollfd pfd[1 + AGENT_POLLFDS];
	char err[512], aname[160] = "";

	cfg = c;
	sb = board;
	/* Only their names and inodes: see diag_queues(). */
	for (int i = 0; i < nlisteners && nql < MAX_LISTENERS; i++) {
		struct sockaddr_storage ls;
		socklen_t len = sizeof(ls);
		struct stat st;

		if (getsockname(listeners[i], (struct sockaddr *)&ls, &len) == 0 &&
		    (ls.ss_family == AF_INET || ls.ss_family == AF_INET6) &&
		    fstat(listeners[i], &st) == 0) {
			ql[nql].ino = st.st_ino;
			cfg_addr_str((struct sockaddr *)&ls, len, ql[nql].name,
			    sizeof(ql[nql].name));
			nql++;
		}
		close(listeners[i]);
	}
	log_set_role(LOG_ROLE_STATUS);
	/* QUIT finishes the connection in hand; USR1 interrupts accept4(). */
	child_signals_init(on_signal, on_signal, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGQUIT) == -1 || getppid() != master)
		_exit(0);
	if (lfd != -1 &&
	    getsockname(lfd, (struct sockaddr *)&ss, &sslen) == 0)
		cfg_addr_str((struct sockaddr *)&ss, sslen, addr, sizeof(addr));
	else
		snprintf(addr, sizeof(addr), "%s", lfd != -1 ?
		    c->status_listen.spec : "-");
	if (afd != -1) {
		sslen = sizeof(ss);
		if (getsockname(afd, (struct sockaddr *)&ss, &sslen) == 0)
			cfg_addr_str((struct sockaddr *)&ss, sslen, aname,
			    sizeof(aname));
		else
			snprintf(aname, sizeof(aname), "%s",
			    c->agent_listen.spec);
		agent_init(afd, sb, status_queued);
		title_set("preforkd: status %s%sagent %s", lfd != -1 ? addr :
		    "", lfd != -1 ? " " : "", aname);
	} else
		title_set("preforkd: status %s", addr);
	if (sandbox_apply_process(c, SANDBOX_STATUS, err, sizeof(err)) == -1) {
		log_errorx("%s", err);
		_exit(WORKER_EXIT_BOOT);
	}
	while (!status_stop) {
		long long wake, left;
		int fd, n = 0, na, rc;

		if (status_reopen) {
			status_reopen = 0;
			if (log_open(cfg, err, sizeof(err)) == -1)
				log_warnx("reopening logs: %s (the old ones stay "
				    "open)", err);
			else
				log_debug("logs reopened");
		}
		/* Wakes for the next sample even when nobody asks. */
		hist_sample();
		wake = hist_due + 1;
		if (lfd != -1) {
			pfd[n].fd = lfd;
			pfd[n].events = POLLIN;
			pfd[n++].revents = 0;
		}
		na = agent_pollfds(pfd + n, &wake);
		left = wake - sb_now_ms();
		rc = poll(pfd, (nfds_t)(n + na), left > 0 ? (int)left : 0);
		if (rc >= 0)
			agent_events(pfd + n, na);
		if (rc <= 0 || lfd == -1 || pfd[0].revents == 0) {
			if (getppid() != master)
				status_stop = 1;
			continue;
		}
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd != -1) {
			serve(fd);
			close(fd);
			continue;
		}
		switch (errno) {
		case EINTR:
		case ECONNABORTED:
		case EPROTO:
		case EAGAIN:		/* SO_RCVTIMEO of the listener */
			if (getppid() != master)
				status_stop = 1;
			break;
		default:		/* EMFILE, ENOBUFS...: breathe */
			log_warn("accept4() on %s failed", addr);
			pause_ms(100);
		}
	}
	exit(0);
}
