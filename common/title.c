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

static size_t longest;

void
title_set(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	if ((size_t)n < longest && longest < sizeof(buf)) {
		memset(buf + n, ' ', longest - (size_t)n);
		buf[longest] = '\0';
	} else
		longest = (size_t)n;
	setproctitle("-%s", buf);
}
