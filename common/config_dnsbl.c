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

#include <ctype.h>
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

/* "X.Y.Z " of class c at p: its length with the space, else 0. */
static size_t
config_dnsbl_enhanced(const char *p, char c)
{
	size_t	 i = 0, n, part;

	if (p[0] != c || p[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (n = 0; isdigit((unsigned char)p[i + n]); n++)
			;
		if (n < 1 || n > 3 || p[i + n] != (part == 0 ? '.' : ' '))
			return 0;
		i += n + 1;
	}
	return i;
}

/* The message with ${client_addr} (or sendmail's $&{client_addr}) as
 * the address. */
static void
config_dnsbl_expand(const char *msg, const char *addr, char *buf,
    size_t size)
{
	static const char *const names[] = { "$&{client_addr}",
	    "${client_addr}" };
	size_t			 i, n = 0, l;

	while (*msg != '\0' && n + 1 < size) {
		for (i = 0; i < 2; i++)
			if (strncmp(msg, names[i], strlen(names[i])) == 0)
				break;
		if (i == 2) {
			buf[n++] = *msg++;
			continue;
		}
		l = strlcpy(buf + n, addr, size - n);
		n = l >= size - n ? size - 1 : n + l;
		msg += strlen(names[i]);
	}
	buf[n] = '\0';
}

void
config_dnsbl_reply(const struct dnsbl *b, const char *addr, int temp,
    char *buf, size_t size)
{
	char		 text[CONF_DNSBL_TEXT_MAX + 64];
	const char	*t = text, *enh;
	char		 code[4] = "550";
	size_t		 n;

	if (temp) {
		(void)snprintf(buf, size, "451 4.4.3 Temporary lookup failure "
		    "of %s at %s", addr, b->zone);
		return;
	}
	if (b->message[0] == '\0') {
		(void)snprintf(buf, size, "550 5.7.1 Rejected: %s listed at %s",
		    addr, b->zone);
		return;
	}
	config_dnsbl_expand(b->message, addr, text, sizeof(text));
	/* spec 2.1: a text that starts with a reply code is that reply */
	if ((text[0] == '4' || text[0] == '5') && isdigit((unsigned char)
	    text[1]) && isdigit((unsigned char)text[2]) && text[3] == ' ') {
		(void)memcpy(code, text, 3);
		t = text + 4;
	}
	enh = code[0] == '4' ? "4.7.1" : "5.7.1";
	if ((n = config_dnsbl_enhanced(t, code[0])) > 0) {
		(void)snprintf(buf, size, "%s %s", code, t);
		return;
	}
	(void)snprintf(buf, size, "%s %s %s", code, enh, t);
}

void
config_dnsbl_reply_rcpt(const char *reply, const char *rcpt, char *buf,
    size_t size)
{
	size_t	 e = config_dnsbl_enhanced(reply + 4, reply[0]);
	int	 n;

	/* spec 2.1 step 3: only these codes name the address */
	if (strncmp(reply, "450 ", 4) != 0 && strncmp(reply, "550 ", 4) != 0 &&
	    strncmp(reply, "553 ", 4) != 0) {
		(void)strlcpy(buf, reply, size);
		return;
	}
	n = snprintf(buf, size, "%.*s<%s>... %s", (int)(4 + e), reply, rcpt,
	    reply + 4 + e);
	if (n < 0 || (size_t)n >= size)
		(void)strlcpy(buf, reply, size);
}
