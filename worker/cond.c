/*
 * cond - evaluation of the conditional request headers (RFC 9110 section
 * 13) for the static handler. Owns entity-tag list parsing and the two
 * comparison functions of section 8.8.3.2; dates go through httpdate.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "cond.h"
#include "httpdate.h"

/* An entity-tag as found on the wire: opaque-tag with its quotes. */
struct etag {
	const char	*tag;
	size_t		 len;
	bool		 weak;
};

static bool
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* etagc = %x21 / %x23-7E / obs-text */
static bool
is_etagc(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c != 0x7f);
}

/*
 * Reads one entity-tag at v[*i] (["W/"] DQUOTE *etagc DQUOTE) and advances
 * *i past it. The "W/" prefix is case-sensitive. Returns 0 or -1.
 */
static int
get_etag(const char *v, size_t len, size_t *i, struct etag *e)
{
	size_t	 j = *i;

	e->weak = false;
	if (len - j >= 2 && v[j] == 'W' && v[j + 1] == '/') {
		e->weak = true;
		j += 2;
	}
	if (j == len || v[j] != '"')
		return -1;
	e->tag = v + j;
	for (j++; j < len && v[j] != '"'; j++)
		if (!is_etagc((unsigned char)v[j]))
			return -1;
	if (j == len)
		return -1;
	j++;
	e->len = j - (size_t)(e->tag - v);
	*i = j;
	return 0;
}

/* Trims OWS from both ends of a header value. */
static void
trim(const char **p, size_t *len)
{
	while (*len > 0 && is_ows(**p)) {
		(*p)++;
		(*len)--;
	}
	while (*len > 0 && is_ows((*p)[*len - 1]))
		(*len)--;
}

/*
 * Strong comparison: both tags strong and identical. Weak comparison: the
 * opaque-tags identical, weakness ignored. Our own tag is parsed too, so a
 * caller that passes a weak one gets the right answer.
 */
static bool
etag_match(const struct etag *a, const struct etag *b, bool strong)
{
	if (strong && (a->weak || b->weak))
		return false;
	return a->len == b->len && memcmp(a->tag, b->tag, a->len) == 0;
}

static int
own_etag(const char *etag, size_t etaglen, struct etag *e)
{
	size_t	 i = 0;

	if (etag == NULL || get_etag(etag, etaglen, &i, e) == -1 ||
	    i != etaglen)
		return -1;
	return 0;
}

/*
 * Tells whether the field value v ("*" / #entity-tag) matches the
 * representation's tag. A list is elements separated by commas with OWS
 * around them; empty elements are skipped as RFC 9110 section 5.6.1 asks.
 * A value that does not parse matches nothing, wherever the error is: for
 * If-Match that fails the request (412), for If-None-Match it lets it
 * proceed, the safe outcome either way.
 */
static bool
list_match(struct cond_val v, const char *etag, size_t etaglen, bool strong)
{
	struct etag	 own, e;
	size_t		 i = 0;
	bool		 found = false;

	trim(&v.ptr, &v.len);
	if (v.len == 1 && v.ptr[0] == '*')
		return true;
	if (own_etag(etag, etaglen, &own) == -1)
		return false;
	while (i < v.len) {
		if (v.ptr[i] == ',' || is_ows(v.ptr[i])) {
			i++;
			continue;
		}
		if (get_etag(v.ptr, v.len, &i, &e) == -1)
			return false;
		if (etag_match(&own, &e, strong))
			found = true;
		/* Between two tags, nothing but OWS and a comma. */
		while (i < v.len && is_ows(v.ptr[i]))
			i++;
		if (i < v.len && v.ptr[i] != ',')
			return false;
	}
	return found;
}

/* Parses a date header value, OWS trimmed; returns 0 or -1. */
static int
get_date(struct cond_val v, time_t *t)
{
	trim(&v.ptr, &v.len);
	return httpdate_parse(v.ptr, v.len, t);
}

/*
 * RFC 9110 section 13.2.2, steps 1 to 4 (step 5, If-Range, is
 * cond_if_range()). The representation exists, so "*" always matches.
 */
int
cond_evaluate(const struct cond_hdrs *h, const char *etag, size_t etaglen,
    time_t mtime, bool get_or_head)
{
	time_t	 date;

	if (h->if_match.ptr != NULL) {
		if (!list_match(h->if_match, etag, etaglen, true))
			return 412;
	} else if (h->if_unmodified_since.ptr != NULL &&
	    get_date(h->if_unmodified_since, &date) == 0 && mtime > date)
		return 412;

	if (h->if_none_match.ptr != NULL) {
		if (list_match(h->if_none_match, etag, etaglen, false))
			return get_or_head ? 304 : 412;
	} else if (get_or_head && h->if_modified_since.ptr != NULL &&
	    get_date(h->if_modified_since, &date) == 0 && mtime <= date)
		return 304;
	return 0;
}

/*
 * If-Range holds one validator. RFC 9110 section 13.1.5 tells a tag from a
 * date by a DQUOTE in the first three bytes; a tag must compare strongly,
 * a date must equal mtime exactly.
 */
bool
cond_if_range(const struct cond_hdrs *h, const char *etag, size_t etaglen,
    time_t mtime)
{
	struct cond_val	 v = h->if_range;
	struct etag	 own, e;
	size_t		 i = 0;
	time_t		 date;

	if (v.ptr == NULL)
		return true;
	trim(&v.ptr, &v.len);
	if (memchr(v.ptr, '"', v.len < 3 ? v.len : 3) != NULL) {
		if (get_etag(v.ptr, v.len, &i, &e) == -1 || i != v.len ||
		    own_etag(etag, etaglen, &own) == -1)
			return false;
		return etag_match(&own, &e, true);
	}
	return httpdate_parse(v.ptr, v.len, &date) == 0 && date == mtime;
}
