/*
 * config_dnsbl.c: the DNS blocklists of smtpd.conf ("dnsbl ZONE ..."),
 * their canonical text and the test of an A answer against a zone's
 * "answer" list (sendmail's enhdnsbl result matching).
 *
 * Interface in config.h.  The parser adds a zone, then sets the options
 * that follow it on the last one added; the front end asks the zones in
 * file order (smtpd/smtp/smtp_dnsbl.c).
 */
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"

void
config_dnsbl_free(struct config *c)
{
	struct dnsbl	*b;

	while ((b = TAILQ_FIRST(&c->dnsbls)) != NULL) {
		TAILQ_REMOVE(&c->dnsbls, b, entry);
		free(b);
	}
}

int
config_dnsbl_add(struct config *c, const char *zone, char *err,
    size_t errlen)
{
	struct dnsbl	*b;

	/* the query name is the reversed address (up to 64 octets for
	 * IPv6 nibbles) and the zone: keep it within a DNS name */
	if (!config_domain_valid(zone) || strlen(zone) > 180) {
		(void)snprintf(err, errlen, "dnsbl \"%s\": not a domain name "
		    "(at most 180 characters)", zone);
		return -1;
	}
	TAILQ_FOREACH(b, &c->dnsbls, entry)
		if (strcasecmp(b->zone, zone) == 0) {
			(void)snprintf(err, errlen, "dnsbl %s given twice",
			    zone);
			return -1;
		}
	b = xcalloc(1, sizeof(*b));
	(void)strlcpy(b->zone, zone, sizeof(b->zone));
	text_lower(b->zone);
	TAILQ_INSERT_TAIL(&c->dnsbls, b, entry);
	return 0;
}

/* "A" or "A/N": an IPv4 address and a prefix length (32 without). */
static int
config_dnsbl_answer_parse(const char *s, struct dnsbl_answer *a)
{
	char		 buf[32];
	char		*slash, *end;
	struct in_addr	 in;
	long		 bits = 32;

	if (strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return -1;
	if ((slash = strchr(buf, '/')) != NULL) {
		*slash++ = '\0';
		bits = strtol(slash, &end, 10);
		if (*slash == '\0' || *end != '\0' || bits < 0 || bits > 32)
			return -1;
	}
	if (inet_pton(AF_INET, buf, &in) != 1)
		return -1;
	a->bits = (uint8_t)bits;
	a->addr = ntohl(in.s_addr);
	if (bits < 32)
		a->addr &= bits == 0 ? 0 : ~0U << (32 - bits);
	return 0;
}

int
config_dnsbl_answer_add(struct config *c, const char *s, char *err,
    size_t errlen)
{
	struct dnsbl	*b = TAILQ_LAST(&c->dnsbls, dnsbl_head);

	if (b->nanswers == CONF_DNSBL_ANSWERS_MAX) {
		(void)snprintf(err, errlen, "dnsbl %s: more than %d answers",
		    b->zone, CONF_DNSBL_ANSWERS_MAX);
		return -1;
	}
	if (config_dnsbl_answer_parse(s, &b->answers[b->nanswers]) == -1) {
		(void)snprintf(err, errlen, "dnsbl %s answer \"%s\": not an "
		    "IPv4 address or ADDRESS/BITS", b->zone, s);
		return -1;
	}
	b->nanswers++;
	return 0;
}

int
config_dnsbl_listed(const struct dnsbl *b, const uint8_t *rd)
{
	uint32_t	 a, mask;
	size_t		 i;

	if (b->nanswers == 0)
		return 1;
	a = (uint32_t)rd[0] << 24 | (uint32_t)rd[1] << 16 |
	    (uint32_t)rd[2] << 8 | rd[3];
	for (i = 0; i < b->nanswers; i++) {
		mask = b->answers[i].bits == 0 ? 0 :
		    ~0U << (32 - b->answers[i].bits);
		if ((a & mask) == b->answers[i].addr)
			return 1;
	}
	return 0;
}

static void
config_dnsbl_dump_one(const struct dnsbl *b, FILE *fp)
{
	struct in_addr	 in;
	char		 addr[INET_ADDRSTRLEN];
	size_t		 i;

	(void)fputs("dnsbl ", fp);
	config_dump_quoted(fp, b->zone);
	if (b->action == DNSBL_QUARANTINE)
		(void)fputs(" quarantine", fp);
	else if (b->action == DNSBL_DISCARD)
		(void)fputs(" discard", fp);
	if (b->message[0] != '\0') {
		(void)fputs(" message ", fp);
		config_dump_quoted(fp, b->message);
	}
	if (b->tempfail)
		(void)fputs(" tempfail", fp);
	for (i = 0; i < b->nanswers; i++) {
		in.s_addr = htonl(b->answers[i].addr);
		if (inet_ntop(AF_INET, &in, addr, sizeof(addr)) == NULL)
			continue;
		(void)fprintf(fp, " answer \"%s/%u\"", addr,
		    b->answers[i].bits);
	}
	(void)fputc('\n', fp);
}

void
config_dnsbl_dump(const struct config *c, FILE *fp)
{
	const struct dnsbl	*b;

	TAILQ_FOREACH(b, &c->dnsbls, entry)
		config_dnsbl_dump_one(b, fp);
}

int
config_dnsbl_qname(const char *addr, const char *zone, char *qname,
    size_t size)
{
	static const char	 hex[] = "0123456789abcdef";
	uint8_t			 bin[16];
	char			 rev[16 * 4 + 1];
	size_t			 i, n = 0;
	int			 r;

	if (inet_pton(AF_INET, addr, bin) == 1)
		r = snprintf(qname, size, "%u.%u.%u.%u.%s", bin[3], bin[2],
		    bin[1], bin[0], zone);
	else if (inet_pton(AF_INET6, addr, bin) == 1) {
		/* RFC 5782 2.4: every nibble, the lowest first */
		for (i = 16; i-- > 0;) {
			rev[n++] = hex[bin[i] & 0xf];
			rev[n++] = '.';
			rev[n++] = hex[bin[i] >> 4];
			rev[n++] = '.';
		}
		rev[n] = '\0';
		r = snprintf(qname, size, "%s%s", rev, zone);
	} else
		return -1;
	return r > 0 && (size_t)r < size ? 0 : -1;
}

void
config_dnsbl_reply(const struct dnsbl *b, const char *addr, int temp,
    char *buf, size_t size)
{
	if (temp)
		(void)snprintf(buf, size, "451 4.4.3 Temporary lookup failure "
		    "of %s at %s", addr, b->zone);
	else if (b->message[0] != '\0')
		(void)snprintf(buf, size, "550 5.7.1 %s", b->message);
	else
		(void)snprintf(buf, size, "550 5.7.1 Rejected: %s listed at %s",
		    addr, b->zone);
}
