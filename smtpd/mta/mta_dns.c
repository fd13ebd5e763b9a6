/*
 * mta_dns.c: the DNS queries of the outbound client and the decoding of
 * MX records.
 *
 * Interface in mta_dns.h.  The libunbound contexts (the system's, the
 * configured forwarder's) are common/dns.c's; this module bounds each
 * query by a timer and turns libunbound's result into an answer.
 * With "mta dane yes" every query goes to a second resolver that
 * validates DNSSEC with the trust anchor the parent sends (its system
 * context is made before the chroot too, and takes the anchor before its
 * first query), and the answer says whether it is secure or bogus.
 * Failure behaviour: if a context cannot be made the process keeps the
 * old one and logs; a query that cannot be started is answered
 * MTA_DNS_FAIL from the event loop, never re-entrantly.  The rdata
 * decoder refuses anything that is not a plain, bounded name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unbound.h>

#include "config.h"
#include "dns.h"
#include "imsg.h"
#include "log.h"
#include "proc.h"
#include "proto.h"
#include "util.h"
#include "mta_dns.h"

struct mta_dns_query {
	struct dns_query	 dq;
	mta_dns_cb		 cb;
	void			*arg;
	char			 name[MTA_DNS_NAME_MAX];
};

static struct dns_resolver	 mta_dns_resolver;
/* the validating one, for "mta dane yes" */
static struct dns_resolver	 mta_dns_dane;
/* the last trust anchor from the parent ("" if none) */
static char			*mta_dns_anchor;
static int			 mta_dns_dane_on;

/* Before the chroot: the contexts that read the system's files. */
int
mta_dns_init(void)
{
	if (dns_resolver_init(&mta_dns_resolver, NULL) == -1)
		return -1;
	return dns_resolver_init(&mta_dns_dane, NULL);
}

/* IMSG_MTA_TRUST_ANCHOR: data, the text of dnssec trust-anchor. */
void
mta_dns_imsg_anchor(struct imsgev *iev, struct imsg *m, void *arg)
{
	const void	*data;
	size_t		 len;

	data = imsg_get_data(m, &len);
	if (imsg_get_end(m) == -1 || len > DANE_ANCHOR_MAX)
		fatalx("malformed trust anchor from the parent");
	free(mta_dns_anchor);
	mta_dns_anchor = xcalloc(1, len + 1);
	if (len > 0)
		memcpy(mta_dns_anchor, data, len);
}

/* The validating resolver for c, if DANE is on and the anchor works. */
static void
mta_dns_configure_dane(const struct config *c)
{
	mta_dns_dane_on = 0;
	if (!c->mta_dane)
		return;
	if (mta_dns_anchor == NULL || mta_dns_anchor[0] == '\0') {
		log_warnx("mta dane: no usable dnssec trust-anchor, DANE is "
		    "not applied");
		return;
	}
	if (dns_resolver_anchor(&mta_dns_dane, mta_dns_anchor) == -1 ||
	    dns_resolver_configure(&mta_dns_dane, c) == -1) {
		log_warnx("mta dane: cannot use the trust anchor %s, DANE is "
		    "not applied (a changed anchor needs a restart)",
		    c->dnssec_anchor);
		return;
	}
	mta_dns_dane_on = 1;
}

/* Switch to the resolver the config names (or back to the system's). */
void
mta_dns_configure(const struct config *c)
{
	if (dns_resolver_configure(&mta_dns_resolver, c) == 1)
		log_debug("resolver %s", mta_dns_resolver.fwd[0] ?
		    mta_dns_resolver.fwd : "from /etc/resolv.conf");
	mta_dns_configure_dane(c);
}

int
mta_dns_validating(void)
{
	return mta_dns_dane_on;
}

static void
mta_dns_query_free(struct mta_dns_query *q)
{
	dns_query_close(&q->dq);
	free(q);
}

/* Hand a failure to the owner and end the query. */
static void
mta_dns_query_fail(struct mta_dns_query *q, const char *why)
{
	struct mta_dns_answer	 a;

	memset(&a, 0, sizeof(a));
	a.status = MTA_DNS_FAIL;
	a.why = why;
	log_debug("DNS error for %s: %s", q->name, why);
	q->cb(q->arg, &a);
	mta_dns_query_free(q);
}

/* A DNSSEC failure: like SERVFAIL, with bogus set and its reason. */
static void
mta_dns_query_bogus(struct mta_dns_query *q, struct ub_result *res)
{
	struct mta_dns_answer	 a;
	char			 why[256];

	(void)snprintf(why, sizeof(why), "DNSSEC validation failed%s%s",
	    res->why_bogus != NULL ? ": " : "",
	    res->why_bogus != NULL ? res->why_bogus : "");
	ub_resolve_free(res);
	memset(&a, 0, sizeof(a));
	a.status = MTA_DNS_FAIL;
	a.bogus = 1;
	a.why = why;
	log_debug("DNS error for %s: %s", q->name, why);
	stats_add("mta.dns.bogus", 1);
	q->cb(q->arg, &a);
	mta_dns_query_free(q);
}

/* The query ran out of time, or could not be started at all. */
static void
mta_dns_timeout(int fd, short ev, void *arg)
{
	struct mta_dns_query	*q = arg;

	if (!q->dq.running) {
		mta_dns_query_fail(q, "cannot start query");
		return;
	}
	dns_query_cancel(&q->dq);
	mta_dns_query_fail(q, "timeout");
}

/* libunbound's answer, from ub_process() in the event loop. */
static void
mta_dns_done(void *arg, int err, struct ub_result *res)
{
	struct mta_dns_query	*q = arg;
	struct mta_dns_answer	 a;

	memset(&a, 0, sizeof(a));
	if (res != NULL && res->ttl > 0)
		a.ttl = (uint32_t)res->ttl;
	if (err != 0 || res == NULL) {
		if (res != NULL)
			ub_resolve_free(res);
		mta_dns_query_fail(q, ub_strerror(err));
		return;
	}
	a.secure = res->secure;
	if (res->bogus) {
		mta_dns_query_bogus(q, res);
		return;
	}
	if (res->rcode == 3) {
		a.status = MTA_DNS_NXDOMAIN;
		a.why = "no such domain";
	} else if (res->rcode != 0) {
		ub_resolve_free(res);
		mta_dns_query_fail(q, "server failure");
		return;
	} else if (!res->havedata) {
		a.status = MTA_DNS_NODATA;
		a.why = "no record of that type";
	} else {
		a.status = MTA_DNS_OK;
		a.rdata = res->data;
		a.rdlen = res->len;
		a.canon = res->canonname;
		while (res->data[a.count] != NULL)
			a.count++;
	}
	q->cb(q->arg, &a);
	ub_resolve_free(res);
	mta_dns_query_free(q);
}

struct mta_dns_query *
mta_dns_query(const char *name, int type, mta_dns_cb cb, void *arg)
{
	struct mta_dns_query	*q;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	if (dns_query_open(&q->dq, mta_dns_dane_on ? &mta_dns_dane :
	    &mta_dns_resolver, mta_dns_done,
	    mta_dns_timeout, q) == -1) {
		free(q);
		return NULL;
	}
	q->cb = cb;
	q->arg = arg;
	(void)snprintf(q->name, sizeof(q->name), "%s/%s", name,
	    type == MTA_DNS_T_MX ? "MX" : type == MTA_DNS_T_A ? "A" :
	    type == MTA_DNS_T_TLSA ? "TLSA" :
	    type == MTA_DNS_T_TXT ? "TXT" : "AAAA");
	stats_add("mta.dns.query", 1);
	if (dns_query_ask(&q->dq, name, type) == -1)
		dns_query_timer(&q->dq, 0);
	else
		dns_query_timer(&q->dq, MTA_DNS_TIMEOUT);
	return q;
}

void
mta_dns_cancel(struct mta_dns_query *q)
{
	if (q == NULL)
		return;
	mta_dns_query_free(q);
}

int
mta_dns_mx_parse(const uint8_t *rd, size_t len, uint16_t *pref, char *name,
    size_t size)
{
	if (len < 3)
		return -1;
	*pref = (uint16_t)(rd[0] << 8 | rd[1]);
	return dns_name_parse(rd + 2, len - 2, name, size);
}
