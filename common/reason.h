/*
 * reason - HTTP reason phrases (RFC 9110 section 15).
 */
#ifndef PREFORKD_REASON_H
#define PREFORKD_REASON_H

/* "OK" for 200, ...; "Unknown" for a code without one. */
const char	*reason_phrase(int status);

#endif
