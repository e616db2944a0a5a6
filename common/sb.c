/*
 * sb - see sb.h. One anonymous shared mapping; its pages are inherited by
 * every worker through fork.
 */
#include <sys/mman.h>
#include <stddef.h>

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

	for (int i = 0; i < MAX_WORKERS; i++)
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
