/*
 * httpdate - the HTTP-date of RFC 9110 section 5.6.7: formatting as
 * IMF-fixdate, and parsing of the three forms a recipient must accept.
 * Owns the day and month name tables and the civil calendar; no locale,
 * no strftime, no state. Formatting is async-signal-safe.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "httpdate.h"

static const char *const day_short[7] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};

static const char *const day_long[7] = {
	"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
	"Saturday"
};

static const char *const month_short[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

/*
 * IMF-fixdate has a four-digit year, so times outside 0000-01-01T00:00:00Z
 * .. 9999-12-31T23:59:59Z are clamped to these bounds when formatting.
 */
#define HTTPDATE_TMIN	(-62167219200LL)
#define HTTPDATE_TMAX	253402300799LL

/* Writes v as exactly width decimal digits, zero-padded; returns the end. */
static char *
put_digits(char *p, int v, int width)
{
	int	 i;

	for (i = width - 1; i >= 0; i--) {
		p[i] = '0' + v % 10;
		v /= 10;
	}
	return p + width;
}

/*
 * Howard Hinnant's days-to-civil: shifts the year to start in March, so
 * that the leap day is the last day of a year, and counts in 400-year
 * eras of 146097 days. Integer arithmetic only.
 */
void
httpdate_civil(long long days, int *year, int *month, int *mday)
{
	long long	 z = days + 719468;	/* days since 0000-03-01 */
	long long	 era, doe, yoe, doy, mp, y;

	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;			/* [0, 146096] */
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);	/* from March 1 */
	mp = (5 * doy + 2) / 153;		/* 0 is March */
	*mday = (int)(doy - (153 * mp + 2) / 5 + 1);
	*month = (int)(mp < 10 ? mp + 3 : mp - 9);
	*year = (int)(y + (*month <= 2));
}

/*
 * No gmtime_r: it may take the libc time zone lock, and the crash and
 * timeout handlers call this function from a signal handler.
 */
size_t
httpdate_format(time_t t, char *out)
{
	long long	 v = t, days, secs;
	int		 year, month, mday, wday;
	char		*p = out;

	if (v < HTTPDATE_TMIN)
		v = HTTPDATE_TMIN;
	else if (v > HTTPDATE_TMAX)
		v = HTTPDATE_TMAX;
	days = v / 86400;
	secs = v % 86400;
	if (secs < 0) {				/* round towards -infinity */
		secs += 86400;
		days--;
	}
	httpdate_civil(days, &year, &month, &mday);
	wday = (int)((days % 7 + 11) % 7);	/* 1970-01-01 was a Thursday */

	memcpy(p, day_short[wday], 3);
	p += 3;
	*p++ = ',';
	*p++ = ' ';
	p = put_digits(p, mday, 2);
	*p++ = ' ';
	memcpy(p, month_short[month - 1], 3);
	p += 3;
	*p++ = ' ';
	p = put_digits(p, year, 4);
	*p++ = ' ';
	p = put_digits(p, (int)(secs / 3600), 2);
	*p++ = ':';
	p = put_digits(p, (int)(secs / 60 % 60), 2);
	*p++ = ':';
	p = put_digits(p, (int)(secs % 60), 2);
	memcpy(p, " GMT", 4);
	p += 4;
	*p = '\0';
	return HTTPDATE_LEN;
}

/* Reads exactly n ASCII digits at s into *v; returns 0 or -1. */
static int
get_digits(const char *s, size_t n, int *v)
{
	size_t	 i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

/*
 * Returns the index of the n bytes at s in tab (exact, case-sensitive match:
 * RFC 9110 says HTTP-date is case-sensitive), or -1.
 */
static int
name_index(const char *s, size_t n, const char *const *tab, int count)
{
	int	 i;

	for (i = 0; i < count; i++)
		if (strlen(tab[i]) == n && memcmp(s, tab[i], n) == 0)
			return i;
	return -1;
}

/* Reads "HH:MM:SS" (8 bytes) into tm; range checks are left to finish(). */
static int
get_clock(const char *s, struct tm *tm)
{
	if (s[2] != ':' || s[5] != ':')
		return -1;
	if (get_digits(s, 2, &tm->tm_hour) == -1 ||
	    get_digits(s + 3, 2, &tm->tm_min) == -1 ||
	    get_digits(s + 6, 2, &tm->tm_sec) == -1)
		return -1;
	return 0;
}

static int
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/*
 * Checks every field of tm (year as a full year in tm_year for now) and
 * converts it. A second of 60 is the leap second the grammar allows;
 * timegm() folds it into the next minute. The day of the week is checked
 * for syntax by the callers but not against the date.
 */
static int
finish(struct tm *tm, time_t *t)
{
	static const int mdays[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	int	 year = tm->tm_year, maxday;
	time_t	 r;

	if (year < 0 || year > 9999 || tm->tm_mon < 0 || tm->tm_mon > 11)
		return -1;
	maxday = mdays[tm->tm_mon];
	if (tm->tm_mon == 1 && is_leap(year))
		maxday = 29;
	if (tm->tm_mday < 1 || tm->tm_mday > maxday || tm->tm_hour > 23 ||
	    tm->tm_min > 59 || tm->tm_sec > 60)
		return -1;
	tm->tm_year = year - 1900;
	tm->tm_isdst = 0;
	/* -1 is also a valid result (1969-12-31T23:59:59Z): look at errno. */
	errno = 0;
	r = timegm(tm);
	if (r == (time_t)-1 && errno != 0)
		return -1;
	*t = r;
	return 0;
}

/*
 * Expands a two-digit RFC 850 year as RFC 9110 requires: a year that would
 * be more than 50 years in the future is taken from the previous century.
 * Years are compared, not instants, which is the precision this deserves.
 * This is the one place the module reads the clock.
 */
static int
full_year(int yy)
{
	struct tm	 now;
	time_t		 t = time(NULL);
	int		 cur, y;

	if (gmtime_r(&t, &now) == NULL)
		cur = 2000;
	else
		cur = now.tm_year + 1900;
	y = cur - cur % 100 + yy;
	if (y > cur + 50)
		y -= 100;
	else if (y <= cur - 50)
		y += 100;
	return y;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
static int
parse_imf(const char *s, size_t len, time_t *t)
{
	struct tm	 tm;

	memset(&tm, 0, sizeof(tm));
	if (len != HTTPDATE_LEN || name_index(s, 3, day_short, 7) == -1 ||
	    s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
	    s[16] != ' ' || memcmp(s + 25, " GMT", 4) != 0)
		return -1;
	if (get_digits(s + 5, 2, &tm.tm_mday) == -1 ||
	    (tm.tm_mon = name_index(s + 8, 3, month_short, 12)) == -1 ||
	    get_digits(s + 12, 4, &tm.tm_year) == -1 ||
	    get_clock(s + 17, &tm) == -1)
		return -1;
	return finish(&tm, t);
}

/* "Sunday, 06-Nov-94 08:49:37 GMT": a long day name, then 24 fixed bytes. */
static int
parse_rfc850(const char *s, size_t len, time_t *t)
{
	struct tm	 tm;
	const char	*comma, *p;
	int		 yy;

	memset(&tm, 0, sizeof(tm));
	/* The longest day name, "Wednesday", has 9 letters. */
	if ((comma = memchr(s, ',', len < 10 ? len : 10)) == NULL)
		return -1;
	if (name_index(s, comma - s, day_long, 7) == -1)
		return -1;
	p = comma + 1;
	if ((size_t)(s + len - p) != 23)
		return -1;
	if (p[0] != ' ' || p[3] != '-' || p[7] != '-' || p[10] != ' ' ||
	    memcmp(p + 19, " GMT", 4) != 0)
		return -1;
	if (get_digits(p + 1, 2, &tm.tm_mday) == -1 ||
	    (tm.tm_mon = name_index(p + 4, 3, month_short, 12)) == -1 ||
	    get_digits(p + 8, 2, &yy) == -1 ||
	    get_clock(p + 11, &tm) == -1)
		return -1;
	tm.tm_year = full_year(yy);
	return finish(&tm, t);
}

/* "Sun Nov  6 08:49:37 1994": the day is two digits or a space and one. */
static int
parse_asctime(const char *s, size_t len, time_t *t)
{
	struct tm	 tm;

	memset(&tm, 0, sizeof(tm));
	if (len != 24 || name_index(s, 3, day_short, 7) == -1 ||
	    s[3] != ' ' || s[7] != ' ' || s[10] != ' ' || s[19] != ' ')
		return -1;
	if ((tm.tm_mon = name_index(s + 4, 3, month_short, 12)) == -1)
		return -1;
	if (s[8] == ' ') {
		if (get_digits(s + 9, 1, &tm.tm_mday) == -1)
			return -1;
	} else if (get_digits(s + 8, 2, &tm.tm_mday) == -1)
		return -1;
	if (get_clock(s + 11, &tm) == -1 ||
	    get_digits(s + 20, 4, &tm.tm_year) == -1)
		return -1;
	return finish(&tm, t);
}

/*
 * The fourth byte tells the forms apart: ',' after a short day name is
 * IMF-fixdate, ' ' is asctime, and a letter is the long name of RFC 850.
 */
int
httpdate_parse(const char *s, size_t len, time_t *t)
{
	if (s == NULL || len < 4)
		return -1;
	if (s[3] == ',')
		return parse_imf(s, len, t);
	if (s[3] == ' ')
		return parse_asctime(s, len, t);
	return parse_rfc850(s, len, t);
}
