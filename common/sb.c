/*
 * sb - see sb.h. One anonymous shared mapping; its pages are inherited by
 * every worker through fork.
 */
#include <sys/mman.h>
#include <stdbool.h>
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
	int n = 0, used = sb->slots_used;

	/* Per request on a busy worker: the slots in use, not all 512. */
	if (used < 0 || used > SB_SLOTS)
		used = SB_SLOTS;
	for (int i = 0; i < used; i++)
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

const char *
sb_run_name(int run)
{
	static const char *names[] = { "serving", "draining", "stopping",
	    "upgrading", "crash loop" };

	return run >= 0 && (size_t)run < sizeof(names) / sizeof(names[0]) ?
	    names[run] : "?";
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

void
sb_count(struct sb_slot *s, int method, int status, long long us,
    long long bytes)
{
	static const long long bounds[SB_BUCKETS - 1] = SB_BUCKET_BOUNDS_US;
	volatile struct sb_ctr *c = &s->ctr;
	int cls = status / 100 - 1, b = 0;

	if (method < 0 || method >= SB_METHODS)
		method = SB_METHODS - 1;
	if (cls < 0 || cls >= SB_CLASSES)
		cls = SB_CLASSES - 1;	/* no status: counted as 5xx */
	while (b < SB_BUCKETS - 1 && us > bounds[b])
		b++;
	c->req[method][cls]++;
	c->dur[b]++;
	c->dur_us += (unsigned long long)(us > 0 ? us : 0);
	c->bytes += (unsigned long long)(bytes > 0 ? bytes : 0);
}

/* a += b, field by field. */
static void
ctr_add(volatile struct sb_ctr *a, const volatile struct sb_ctr *b)
{
	for (int m = 0; m < SB_METHODS; m++)
		for (int k = 0; k < SB_CLASSES; k++)
			a->req[m][k] += b->req[m][k];
	for (int i = 0; i < SB_BUCKETS; i++)
		a->dur[i] += b->dur[i];
	a->dur_us += b->dur_us;
	a->bytes += b->bytes;
	a->conns += b->conns;
	a->fair_closes += b->fair_closes;
}

/*
 * A seqlock with the master as the only writer: a reader that saw the
 * slot before the fold and the total after it would count it twice.
 */
void
sb_fold(struct sb *sb, struct sb_slot *s)
{
	sb->fold_seq++;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	ctr_add(&sb->total, &s->ctr);
	memset((void *)&s->ctr, 0, sizeof(s->ctr));
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	sb->fold_seq++;
}

void
sb_sum(const struct sb *sb, struct sb_ctr *out)
{
	/* Bounded: a master killed in the middle of a fold must not hang
	 * the status process. */
	for (int tries = 0; tries < 100000; tries++) {
		unsigned seq = sb->fold_seq;

		if (seq & 1)
			continue;	/* a fold is a few hundred stores */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		memset(out, 0, sizeof(*out));
		ctr_add(out, &sb->total);
		for (int i = 0; i < SB_SLOTS; i++)
			ctr_add(out, &sb->slot[i].ctr);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (sb->fold_seq == seq)
			return;
	}
}

unsigned long long
sb_ready(const struct sb *sb)
{
	/* Taken first: a hand-off taken between the two loads can then
	 * only make the difference larger for a moment, never wrap. */
	unsigned long long taken = __atomic_load_n(&sb->ready_taken,
	    __ATOMIC_ACQUIRE);
	unsigned long long sent = __atomic_load_n(&sb->keeper_handed,
	    __ATOMIC_ACQUIRE);

	/* A worker may store a number before the keeper does. */
	return sent > taken ? sent - taken : 0;
}

void
sb_taken(struct sb *sb, unsigned long long seq)
{
	unsigned long long cur = __atomic_load_n(&sb->ready_taken,
	    __ATOMIC_RELAXED);

	/* Two workers may take two hand-offs at once: the larger wins. */
	while (cur < seq && !__atomic_compare_exchange_n(&sb->ready_taken,
	    &cur, seq, true, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		;
}

void
sb_parked(struct sb *sb)
{
	__atomic_fetch_add(&sb->handed_to_keeper, 1, __ATOMIC_RELAXED);
}
