/*
 * mtasts.c: the MTA-STS policy (RFC 8461), checked as a peer's input.
 *
 * The policy (3.2) is lines "key: value" ended by LF or CRLF; version
 * must be STSv1; mode one of enforce, testing, none;
 * max_age a number of seconds up to 31557600; mx one or more patterns
 * (required unless the mode is none).  A field given twice keeps its
 * first value, but every mx counts; unknown fields are skipped (future
 * extensions).  Values keep no blanks at their end.  Names and values
 * are case-sensitive, as the RFC's grammar (%s"...") has them.
 *
 * An mx pattern is a host name or "*." and a host name; the wildcard
 * stands for exactly one leftmost label (4.1), names compare without
 * case and without a trailing dot.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mtasts.h"

static int
mtasts_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* A host name's letters: LDH labels separated by dots. */
static int
mtasts_host_valid(const char *s, size_t len)
{
	size_t	 i, label = 0;

	if (len == 0 || len >= MTASTS_HOST_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char	 c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum(c) && !(c == '-' && label > 0))
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0 && s[len - 1] != '-';
}

/* One "key: value" line's value, without the blanks around it. */
static void
mtasts_value(const char *v, const char *end, const char **vs, size_t *vn)
{
	while (v < end && mtasts_blank(*v))
		v++;
	while (end > v && mtasts_blank(end[-1]))
		end--;
	*vs = v;
	*vn = (size_t)(end - v);
}

static int
mtasts_is(const char *s, size_t n, const char *word)
{
	return n == strlen(word) && memcmp(s, word, n) == 0;
}

static int
mtasts_policy_mode(struct mtasts_policy *p, const char *v, size_t n)
{
	if (mtasts_is(v, n, "enforce"))
		p->mode = MTASTS_MODE_ENFORCE;
	else if (mtasts_is(v, n, "testing"))
		p->mode = MTASTS_MODE_TESTING;
	else if (mtasts_is(v, n, "none"))
		p->mode = MTASTS_MODE_NONE;
	else
		return -1;
	return 0;
}

static int
mtasts_policy_max_age(struct mtasts_policy *p, const char *v, size_t n)
{
	uint64_t	 age = 0;
	size_t		 i;

	if (n == 0 || n > 10)
		return -1;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)v[i]))
			return -1;
		age = age * 10 + (uint64_t)(v[i] - '0');
	}
	if (age > MTASTS_MAX_AGE_MAX)
		return -1;
	p->max_age = (uint32_t)age;
	return 0;
}

static int
mtasts_policy_mx(struct mtasts_policy *p, const char *v, size_t n)
{
	size_t	 skip = 0, i;

	if (n > 0 && v[n - 1] == '.')
		n--;
	if (n > 2 && v[0] == '*' && v[1] == '.')
		skip = 2;
	/* the pattern, wildcard included, must fit p->mx[] */
	if (n >= MTASTS_HOST_MAX || !mtasts_host_valid(v + skip, n - skip))
		return -1;
	/* more patterns than kept: the rest could only widen the match */
	if (p->nmx == MTASTS_MX_MAX)
		return 0;
	for (i = 0; i < n; i++)
		p->mx[p->nmx][i] = (char)tolower((unsigned char)v[i]);
	p->mx[p->nmx][n] = '\0';
	p->nmx++;
	return 0;
}

/* Fields seen, for "first occurrence wins". */
#define MTASTS_SEEN_VERSION	0x01
#define MTASTS_SEEN_MODE	0x02
#define MTASTS_SEEN_MAX_AGE	0x04

/* One line of a policy: 0, or -1 with *why. */
static int
mtasts_policy_line(struct mtasts_policy *p, const char *line, size_t len,
    int *seen, const char **why)
{
	const char	*colon, *v;
	size_t		 kn, vn;

	if ((colon = memchr(line, ':', len)) == NULL) {
		*why = "a line without a colon";
		return -1;
	}
	kn = (size_t)(colon - line);
	mtasts_value(colon + 1, line + len, &v, &vn);
	if (mtasts_is(line, kn, "version") && !(*seen & MTASTS_SEEN_VERSION)) {
		*seen |= MTASTS_SEEN_VERSION;
		if (!mtasts_is(v, vn, "STSv1")) {
			*why = "the version is not STSv1";
			return -1;
		}
	} else if (mtasts_is(line, kn, "mode") && !(*seen & MTASTS_SEEN_MODE)) {
		*seen |= MTASTS_SEEN_MODE;
		if (mtasts_policy_mode(p, v, vn) == -1) {
			*why = "mode is not enforce, testing or none";
			return -1;
		}
	} else if (mtasts_is(line, kn, "max_age") &&
	    !(*seen & MTASTS_SEEN_MAX_AGE)) {
		*seen |= MTASTS_SEEN_MAX_AGE;
		if (mtasts_policy_max_age(p, v, vn) == -1) {
			*why = "max_age is not a number up to 31557600";
			return -1;
		}
	} else if (mtasts_is(line, kn, "mx")) {
		if (mtasts_policy_mx(p, v, vn) == -1) {
			*why = "an mx pattern is not a host name";
			return -1;
		}
	}
	return 0;
}

int
mtasts_policy_parse(const char *body, size_t len, struct mtasts_policy *p,
    const char **why)
{
	const char	*line = body, *end = body + len, *nl;
	size_t		 n;
	int		 seen = 0;

	memset(p, 0, sizeof(*p));
	if (len > MTASTS_POLICY_MAX) {
		*why = "longer than 64 KiB";
		return -1;
	}
	if (memchr(body, '\0', len) != NULL) {
		*why = "a NUL octet";
		return -1;
	}
	while (line < end) {
		if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
			nl = end;
		n = (size_t)(nl - line);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (n > 0 && mtasts_policy_line(p, line, n, &seen, why) == -1)
			return -1;
		line = nl < end ? nl + 1 : end;
	}
	if (!(seen & MTASTS_SEEN_VERSION)) {
		*why = "no version: STSv1";
		return -1;
	}
	if (!(seen & MTASTS_SEEN_MODE) || !(seen & MTASTS_SEEN_MAX_AGE)) {
		*why = !(seen & MTASTS_SEEN_MODE) ? "no mode" : "no max_age";
		return -1;
	}
	if (p->mode != MTASTS_MODE_NONE && p->nmx == 0) {
		*why = "no mx";
		return -1;
	}
	return 0;
}

int
mtasts_mx_match(const struct mtasts_policy *p, const char *host)
{
	char		 h[MTASTS_HOST_MAX];
	const char	*dot;
	size_t		 n = strlen(host), i;

	if (n > 0 && host[n - 1] == '.')
		n--;
	if (n == 0 || n >= sizeof(h))
		return 0;
	for (i = 0; i < n; i++)
		h[i] = (char)tolower((unsigned char)host[i]);
	h[n] = '\0';
	dot = strchr(h, '.');
	for (i = 0; i < p->nmx; i++) {
		const char	*m = p->mx[i];

		if (m[0] == '*' && m[1] == '.') {
			/* one label, not zero, not two */
			if (dot != NULL && dot != h &&
			    strcmp(dot + 1, m + 2) == 0)
				return 1;
		} else if (strcmp(h, m) == 0)
			return 1;
	}
	return 0;
}

const char *
mtasts_mode_name(enum mtasts_mode m)
{
	switch (m) {
	case MTASTS_MODE_ENFORCE:
		return "enforce";
	case MTASTS_MODE_TESTING:
		return "testing";
	default:
		return "none";
	}
}
