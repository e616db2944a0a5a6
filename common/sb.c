/*
 * sb - see sb.h. One anonymous shared mapping; its pages are inherited by
 * every worker through fork.
 */
#include <sys/mman.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "sb.h"

struct sb *
sb_create(void)
{
	void *p = mmap(NULL, sizeof(struct sb), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int
sb_accepting(const struct sb *sb)
{
	int n = 0;

	for (int i = 0; i < SB_SLOTS; i++)
		if (sb->slot[i].state == SB_ACCEPTING)
			n++;
	return n;
}

const char *
sb_state_name(enum sb_state s)
{
	static const char *names[] = { "empty", "starting", "accepting",
	    "reading", "handling", "writing", "keepalive", "closing" };

	return (size_t)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

long long
sb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
sb_copy(char *field, size_t sz, const char *s, size_t n)
{
	if (n >= sz)
		n = sz - 1;
	memcpy(field, s, n);
	field[n] = '\0';
}
