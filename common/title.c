/*
 * title - see title.h. The longest length is inherited across fork, so a
 * worker pads its title to the master's.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "title.h"

#define TITLE_MAX	256	/* libbsd's buffer, NUL included */

extern char **environ;

static size_t longest;
static size_t argv0len;	/* libbsd marks a title shorter than this */
static char *area;		/* where ps reads the title: argv's memory */
static size_t arealen;

void
title_init(int argc, char **argv)
{
	char *end;

	/* libbsd's title space: argv's strings and the environment's,
	 * as far as they follow each other (its init moves them away). */
	if (argc > 0 && argv[0] != NULL) {
		end = argv[0] + strlen(argv[0]) + 1;
		for (int i = 1; i < argc; i++)
			if (argv[i] == end)
				end += strlen(end) + 1;
		for (char **e = environ; *e != NULL; e++)
			if (*e == end)
				end += strlen(end) + 1;
		area = argv[0];
		arealen = (size_t)(end - area);
		argv0len = strlen(argv[0]);
	}
	setproctitle_init(argc, argv, environ);
}

void
title_set(const char *fmt, ...)
{
	char buf[TITLE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	/* A title shorter than the original argv[0] gets a '.' written at
	 * argv[0]'s old end by libbsd, which ps then shows after the
	 * padding: pad to at least that length too. */
	if (longest < argv0len)
		longest = argv0len < sizeof(buf) ? argv0len : sizeof(buf) - 1;
	if ((size_t)n < longest) {
		memset(buf + n, ' ', longest - (size_t)n);
		buf[longest] = '\0';
	} else
		longest = (size_t)n;
	setproctitle("-%s", buf);
}

/*
 * What setproctitle() does after its first call, minus the formatting:
 * clear the part of the space it uses, copy the title in. memset and
 * memcpy are async-signal-safe; a reader may see a half-written title,
 * as it may with setproctitle().
 */
void
title_write(const char *s, size_t n)
{
	size_t room = arealen < TITLE_MAX ? arealen : TITLE_MAX;

	if (area == NULL || room == 0)
		return;
	if (n > room - 1)
		n = room - 1;
	memset(area, 0, room);
	memcpy(area, s, n);
}
