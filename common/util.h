/*
 * util.h: small helpers shared by every process: checked allocation,
 * random identifiers, durations and text checks.
 *
 * The x*() allocators end the process on exhaustion (local trouble, see
 * log.h); use them only where a partial result could not be handled.
 */
#ifndef UTIL_H
#define UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

void		*xmalloc(size_t);
void		*xcalloc(size_t, size_t);
void		*xreallocarray(void *, size_t, size_t);
char		*xstrdup(const char *);

/* write(2) until done; -1 on error (EINTR is retried). */
int		 write_all(int, const void *, size_t);

/* A random non-zero 32-bit identifier (message ids, session ids). */
uint32_t	 id_random32(void);
/* An envelope id: the message id in the high half, random low half. */
uint64_t	 id_envelope(uint32_t msgid);
uint32_t	 id_envelope_msgid(uint64_t evpid);

/* "[d+]HH:MM:SS" as in sendmail's delay= and xdelay= fields. */
const char	*duration_fmt(time_t, char *, size_t);
/* Parse "30s", "5m", "4h", "5d" or plain seconds; -1 if malformed. */
long long	 duration_parse(const char *);
/* Parse "35M", "512K", "1G" or plain octets; -1 if malformed. */
long long	 size_parse(const char *);

/* 1 if s is printable ASCII or UTF-8 without control characters. */
int		 text_is_clean(const char *);
/* Replace each control character of s with '?', in place. */
void		 text_clean(char *);
int		 quarantine_reason_valid(const char *);
/* Value of an uppercase hex digit (RFC 3461 hexchar, our %XX), or -1. */
int		 hex_upper_value(int);
/* Lowercase ASCII in place. */
void		 text_lower(char *);
/* RFC 5322 date ("Mon, 23 Nov 2026 10:00:00 +0000") into buf. */
const char	*date_rfc5322(time_t, char *, size_t);

#endif
