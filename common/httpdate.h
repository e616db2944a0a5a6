/*
 * httpdate - HTTP date formatting and parsing (RFC 9110 section 5.6.7).
 * Pure functions, no locale, no global state.
 */
#ifndef PREFORKD_HTTPDATE_H
#define PREFORKD_HTTPDATE_H

#include <stddef.h>
#include <time.h>

/* Length of an IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT". */
#define HTTPDATE_LEN 29

/*
 * Formats t (seconds since the epoch, UTC) as IMF-fixdate into out, which
 * must hold HTTPDATE_LEN + 1 bytes; writes the terminating NUL and returns
 * HTTPDATE_LEN. Times outside the years 0000..9999 are clamped to them.
 * Async-signal-safe: no libc time functions, no shared state.
 */
size_t	httpdate_format(time_t t, char *out);

/*
 * The proleptic Gregorian date of day number days (0 is 1970-01-01):
 * year, month 1..12, day of the month 1..31. Async-signal-safe.
 */
void	httpdate_civil(long long days, int *year, int *month, int *mday);

/*
 * Parses an HTTP date of len bytes (not NUL-terminated): IMF-fixdate, the
 * obsolete RFC 850 form ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime form
 * ("Sun Nov  6 08:49:37 1994"). Returns 0 and stores the time in *t, or -1
 * when s is not a valid date.
 * Strict: names are case-sensitive (as RFC 9110 says), no surrounding
 * whitespace, every field range-checked (second 60 allowed), the day name
 * must be a valid name but is not checked against the date. A two-digit
 * RFC 850 year more than 50 years ahead of the current year is taken from
 * the previous century (RFC 9110): the one use of the clock.
 */
int	httpdate_parse(const char *s, size_t len, time_t *t);

#endif
