/*
 * smtp_dns.c: the reverse lookup of inbound clients (sendmail's
 * ${client_name} and ${client_resolve}), on libunbound.
 *
 * Interface in smtp_dns.h.  A lookup asks for the PTR record of the
 * address, then for the A (IPv4) or AAAA (IPv6) records of the first
 * usable name in it; the name is confirmed only if those records hold
 * the address.  The whole lookup runs under one timer, so a slow or dead
 * resolver costs one client at most "smtp dns-timeout" and never stalls
 * another session: libunbound resolves in its own thread and its answers
 * come back through ub_fd(), watched by libevent.  The contexts (the
 * system's, the configured forwarder's) are common/dns.c's.
 *
 * Failure behaviour: no PTR record (NXDOMAIN, NODATA, or a name that is
 * not a host name) is FAIL; a forward answer without the address, or no
 * forward record at all, is FORGED; SERVFAIL, a refusal, a timeout or a
 * query that cannot be started is TEMP.  A context that cannot be made
 * for a new resolver is logged and the old one kept.
 */
#include <arpa/inet.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unbound.h>

#include "config.h"
#include "dns.h"
#include "log.h"
#include "proc.h"
#include "smtp_dns.h"

#define SMTP_DNS_T_A		1
#define SMTP_DNS_T_PTR		12
#define SMTP_DNS_T_AAAA		28

struct smtp_dns_lookup {
	struct dns_query	 q;
	int			 forward;	/* the PTR name is asked */
	smtp_dns_cb		 cb;
	void			*arg;
	uint8_t			 bin[16];
	size_t			 binlen;
	char			 name[SMTP_DNS_NAME_MAX];
	char			 qname[80];
};

/*
 * Beyond the options of every context: the reverse zones libunbound
 * would otherwise answer itself (private networks, 127/8 but 127.0.0.1)
 * asked of the resolver like any other.
 */
static const char *const smtp_dns_options[] = {
	"unblock-lan-zones:", "yes",
	"insecure-lan-zones:", "yes",
	"local-zone:", "127.in-addr.arpa. transparent",
	NULL
};

static struct dns_resolver	 smtp_dns_resolver;

/* the counter of each outcome (smtpd(8) STATISTICS) */
static const char *const smtp_dns_counter[] = {
	[SMTP_DNS_NONE] = "smtp.dns.none",
	[SMTP_DNS_OK] = "smtp.dns.ok",
	[SMTP_DNS_FAIL] = "smtp.dns.fail",
	[SMTP_DNS_FORGED] = "smtp.dns.forged",
	[SMTP_DNS_TEMP] = "smtp.dns.temp",
};

/* Before the chroot: the context that reads the system's files. */
int
smtp_dns_init(void)
{
	return dns_resolver_init(&smtp_dns_resolver, smtp_dns_options);
}

/* The context for the front end's other questions (smtp_dnsbl.c). */
struct dns_resolver *
smtp_dns_resolver_get(void)
{
	return &smtp_dns_resolver;
}

/* Switch to the resolver the config names (or back to the system's). */
void
smtp_dns_configure(const struct config *c)
{
	(void)dns_resolver_configure(&smtp_dns_resolver, c);
}

const char *
smtp_dns_resolve_name(enum smtp_dns_resolve r)
{
	switch (r) {
	case SMTP_DNS_OK:
		return "OK";
	case SMTP_DNS_FAIL:
		return "FAIL";
	case SMTP_DNS_FORGED:
		return "FORGED";
	case SMTP_DNS_TEMP:
		return "TEMP";
	case SMTP_DNS_NONE:
		break;
	}
	return "";
}

int
smtp_dns_ptr_qname(const char *addr, char *qname, size_t size,
    uint8_t bin[16])
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i, n = 0;
	int			 r;

	if (inet_pton(AF_INET, addr, bin) == 1) {
		r = snprintf(qname, size, "%u.%u.%u.%u.in-addr.arpa", bin[3],
		    bin[2], bin[1], bin[0]);
		return r > 0 && (size_t)r < size ? 4 : -1;
	}
	if (inet_pton(AF_INET6, addr, bin) != 1 || size < 16 * 4 + 9)
		return -1;
	for (i = 16; i-- > 0;) {
		qname[n++] = hex[bin[i] & 0xf];
		qname[n++] = '.';
		qname[n++] = hex[bin[i] >> 4];
		qname[n++] = '.';
	}
	(void)strlcpy(qname + n, "ip6.arpa", size - n);
	return 16;
}

/* A host name: letters, digits, '-' and '_' in its labels. */
int
smtp_dns_name_parse(const uint8_t *rd, size_t len, char *name, size_t size)
{
	const char	*p;

	/* one octet of the buffer stays unused: at most size - 2 characters */
	if (size == 0 || dns_name_parse(rd, len, name, size - 1) == -1 ||
	    name[0] == '\0')
		return -1;
	for (p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' &&
		    *p != '.')
			return -1;
	return 0;
}

/* End the lookup with its result. */
static void
smtp_dns_end(struct smtp_dns_lookup *l, enum smtp_dns_resolve r)
{
	const char	*name = "";

	if (r == SMTP_DNS_OK || r == SMTP_DNS_FORGED)
		name = l->name;
	stats_add(smtp_dns_counter[r], 1);
	l->cb(l->arg, r, name);
	dns_query_close(&l->q);
	free(l);
}

/* Ask one question; a refusal to start ends the lookup from the loop. */
static void
smtp_dns_ask(struct smtp_dns_lookup *l, const char *qname, int type)
{
	if (dns_query_ask(&l->q, qname, type) == -1)
		dns_query_timer(&l->q, 0);
}

/* The PTR answer: the first usable name, then its addresses. */
static void
smtp_dns_ptr_answer(struct smtp_dns_lookup *l, struct ub_result *res)
{
	size_t	 i;

	for (i = 0; res->data[i] != NULL; i++)
		if (smtp_dns_name_parse((uint8_t *)res->data[i],
		    (size_t)res->len[i], l->name, sizeof(l->name)) == 0)
			break;
	if (res->data[i] == NULL) {
		smtp_dns_end(l, SMTP_DNS_FAIL);
		return;
	}
	l->forward = 1;
	smtp_dns_ask(l, l->name, l->binlen == 4 ? SMTP_DNS_T_A :
	    SMTP_DNS_T_AAAA);
}

/* The forward answer: does it hold the client address? */
static enum smtp_dns_resolve
smtp_dns_fwd_answer(struct smtp_dns_lookup *l, struct ub_result *res)
{
	size_t	 i;

	for (i = 0; res->havedata && res->data[i] != NULL; i++)
		if ((size_t)res->len[i] == l->binlen &&
		    memcmp(res->data[i], l->bin, l->binlen) == 0)
			return SMTP_DNS_OK;
	return SMTP_DNS_FORGED;
}

/* libunbound's answer, from ub_process() in the event loop. */
static void
smtp_dns_query_done(void *arg, int err, struct ub_result *res)
{
	struct smtp_dns_lookup	*l = arg;
	int			 ptr = !l->forward;

	if (err != 0 || res == NULL || (res->rcode != 0 && res->rcode != 3)) {
		if (res != NULL)
			ub_resolve_free(res);
		smtp_dns_end(l, SMTP_DNS_TEMP);
		return;
	}
	if (ptr && !res->havedata)
		smtp_dns_end(l, SMTP_DNS_FAIL);
	else if (ptr)
		smtp_dns_ptr_answer(l, res);
	else
		smtp_dns_end(l, smtp_dns_fwd_answer(l, res));
	ub_resolve_free(res);
}

/* The time is up, or a question could not be asked. */
static void
smtp_dns_timeout(int fd, short ev, void *arg)
{
	struct smtp_dns_lookup	*l = arg;

	(void)fd;
	(void)ev;
	dns_query_cancel(&l->q);
	if (l->binlen == 0) {
		smtp_dns_end(l, SMTP_DNS_FAIL);
		return;
	}
	log_debug("reverse lookup of %s: no answer", l->qname);
	smtp_dns_end(l, SMTP_DNS_TEMP);
}

struct smtp_dns_lookup *
smtp_dns_lookup(const char *addr, int timeout, smtp_dns_cb cb, void *arg)
{
	struct smtp_dns_lookup	*l;
	int			 n;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->cb = cb;
	l->arg = arg;
	if (dns_query_open(&l->q, &smtp_dns_resolver, smtp_dns_query_done,
	    smtp_dns_timeout, l) == -1) {
		free(l);
		return NULL;
	}
	dns_query_timer(&l->q, timeout);
	stats_add("smtp.dns.lookup", 1);
	n = smtp_dns_ptr_qname(addr, l->qname, sizeof(l->qname), l->bin);
	if (n == -1) {
		/* not an IP address ("unknown"): nothing to look up */
		dns_query_timer(&l->q, 0);
		return l;
	}
	l->binlen = (size_t)n;
	smtp_dns_ask(l, l->qname, SMTP_DNS_T_PTR);
	return l;
}

void
smtp_dns_cancel(struct smtp_dns_lookup *l)
{
	if (l == NULL)
		return;
	dns_query_close(&l->q);
	free(l);
}
