/*
 * util.c: the helpers of util.h.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proto.h"
#include "util.h"

void *
xmalloc(size_t n)
{
	void	*p;

	if ((p = malloc(n == 0 ? 1 : n)) == NULL)
		fatal("malloc");
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void	*p;

	if ((p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size)) == NULL)
		fatal("calloc");
	return p;
}

void *
xreallocarray(void *old, size_t n, size_t size)
{
	void	*p;

	if ((p = reallocarray(old, n == 0 ? 1 : n, size)) == NULL)
		fatal("reallocarray");
	return p;
}

char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		fatal("strdup");
	return p;
}

int
write_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

uint32_t
id_random32(void)
{
	uint32_t	 v;

	do {
		v = arc4random();
	} while (v == 0);
	return v;
}

uint64_t
id_envelope(uint32_t msgid)
{
	return ((uint64_t)msgid << 32) | id_random32();
}

uint32_t
id_envelope_msgid(uint64_t evpid)
{
	return (uint32_t)(evpid >> 32);
}

const char *
duration_fmt(time_t t, char *buf, size_t size)
{
	long long	 s = t < 0 ? 0 : (long long)t;

	if (s >= 86400)
		(void)snprintf(buf, size, "%lld+%02lld:%02lld:%02lld",
		    s / 86400, (s % 86400) / 3600, (s % 3600) / 60, s % 60);
	else
		(void)snprintf(buf, size, "%02lld:%02lld:%02lld",
		    s / 3600, (s % 3600) / 60, s % 60);
	return buf;
}

/* A number followed by at most one unit letter from units/mults. */
static long long
number_unit_parse(const char *s, const char *units, const long long *mults)
{
	char		*end;
	const char	*u;
	long long	 v;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || v < 0)
		return -1;
	if (*end == '\0')
		return v;
	if (end[1] != '\0' || (u = strchr(units, *end)) == NULL)
		return -1;
	if (v > LLONG_MAX / mults[u - units])
		return -1;
	return v * mults[u - units];
}

long long
duration_parse(const char *s)
{
	static const long long	 m[] = { 1, 60, 3600, 86400 };

	return number_unit_parse(s, "smhd", m);
}

long long
size_parse(const char *s)
{
	static const long long	 m[] = { 1024, 1024 * 1024,
	    1024LL * 1024 * 1024, 1024, 1024 * 1024, 1024LL * 1024 * 1024 };

	return number_unit_parse(s, "KMGkmg", m);
}

int
text_is_clean(const char *s)
{
	for (; *s; s++) {
		unsigned char	 c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

void
text_clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/*
 * A QUARANTINE reason: not empty, printable ASCII, at most
 * QUARANTINE_REASON_MAX octets, so that policyd, the front end, the
 * queue's envelopes and "smtpctl show queue" all carry it unchanged.
 */
int
quarantine_reason_valid(const char *reason)
{
	const unsigned char	*p;

	if (reason[0] == '\0' || strlen(reason) > QUARANTINE_REASON_MAX)
		return 0;
	for (p = (const unsigned char *)reason; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			return 0;
	return 1;
}

int
hex_upper_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void
text_lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

const char *
date_rfc5322(time_t t, char *buf, size_t size)
{
	struct tm	 tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		(void)snprintf(buf, size, "Thu, 01 Jan 1970 00:00:00 +0000");
	return buf;
}
