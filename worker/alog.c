/*
 * alog - see alog.h. Strings from the wire are escaped so that a line is
 * always one line and always parses: \" \\ and \xHH (combined), or JSON
 * escapes with non-ASCII bytes as \u00HH (so the output is valid UTF-8
 * whatever the client sent).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alog.h"
#include "log.h"
#include "self.h"

static const char hex[] = "0123456789abcdef";

/* Appends len bytes of s escaped, at most room bytes; "-" when empty. */
static size_t
esc(char *out, size_t room, const char *s, size_t len, bool json)
{
	size_t o = 0;

	if (!json && (s == NULL || len == 0)) {
		if (room > 0)
			out[o++] = '-';
		return o;
	}
	for (size_t i = 0; s != NULL && i < len && o + 6 < room; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch >= 0x20 && ch < 0x7f)
			out[o++] = (char)ch;
		else if (json) {
			memcpy(out + o, "\\u00", 4);
			o += 4;
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	return o;
}

void
alog_write(const struct conn *c)
{
	static char clf[32], iso[32];
	static time_t stamp_sec = -1;
	char line[4096];
	const struct http_req *q = &c->rd.req;
	const struct http_hdr *ua = NULL, *ref = NULL;
	bool json = c->cfg->access_format == ACCESS_JSON;
	struct timespec now;
	struct tm tm;
	size_t o;
	long long us;

	if (log_access_fd() == -1)
		return;
	clock_gettime(CLOCK_REALTIME_COARSE, &now);
	if (now.tv_sec != stamp_sec) {
		stamp_sec = now.tv_sec;
		gmtime_r(&now.tv_sec, &tm);
		strftime(clf, sizeof(clf), "%d/%b/%Y:%H:%M:%S +0000", &tm);
		strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (now.tv_sec - c->t0.tv_sec) * 1000000LL +
	    (now.tv_nsec - c->t0.tv_nsec) / 1000;
	if (us < 0)
		us = 0;
	if (c->have_req) {
		ua = http_known(q, HK_USER_AGENT);
		ref = http_known(q, HK_REFERER);
	}
#define ROOM	(sizeof(line) - o)
	if (json) {
		o = (size_t)snprintf(line, sizeof(line), "{\"time\":\"%s\","
		    "\"client\":\"%s\",\"method\":\"%s\",\"target\":\"", iso,
		    c->raddr_str, c->have_req ? http_method_str(q->method) : "");
		if (c->have_req)
			o += esc(line + o, 2048, q->target, q->target_len, true);
		o += (size_t)snprintf(line + o, ROOM, "\",\"protocol\":\"");
		if (c->have_req)
			o += (size_t)snprintf(line + o, ROOM, "HTTP/%d.%d",
			    q->major, q->minor);
		o += (size_t)snprintf(line + o, ROOM, "\",\"status\":%d,"
		    "\"bytes\":%lld,\"request_time_us\":%lld,\"user_agent\":\"",
		    c->status, c->sent, us);
		o += esc(line + o, 512, ua ? ua->val : NULL, ua ? ua->vlen : 0,
		    true);
		o += (size_t)snprintf(line + o, ROOM, "\",\"referer\":\"");
		o += esc(line + o, 512, ref ? ref->val : NULL, ref ? ref->vlen :
		    0, true);
		o += (size_t)snprintf(line + o, ROOM, "\",\"worker\":%d,"
		    "\"generation\":%d}\n", worker_slot ? worker_slot->id : 0,
		    worker_slot ? worker_slot->gen : 0);
	} else {
		o = (size_t)snprintf(line, sizeof(line), "%s - - [%s] \"",
		    c->raddr_str, clf);
		if (c->have_req) {
			o += (size_t)snprintf(line + o, ROOM, "%s ",
			    http_method_str(q->method));
			o += esc(line + o, 2048, q->target, q->target_len, false);
			o += (size_t)snprintf(line + o, ROOM, " HTTP/%d.%d",
			    q->major, q->minor);
		} else
			line[o++] = '-';
		o += (size_t)snprintf(line + o, ROOM, "\" %d %lld \"",
		    c->status, c->sent);
		o += esc(line + o, 512, ref ? ref->val : NULL, ref ? ref->vlen :
		    0, false);
		o += (size_t)snprintf(line + o, ROOM, "\" \"");
		o += esc(line + o, 512, ua ? ua->val : NULL, ua ? ua->vlen : 0,
		    false);
		o += (size_t)snprintf(line + o, ROOM, "\" %lld\n", us);
	}
#undef ROOM
	if (o >= sizeof(line)) {
		o = sizeof(line);
		line[o - 1] = '\n';
	}
	log_access_write(line, o);
}
