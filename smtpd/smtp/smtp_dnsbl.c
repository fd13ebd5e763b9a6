/*
 * smtp_dnsbl.c: the DNS blocklist lookups of inbound clients, on
 * libunbound (the context of smtp_dns.c, the pattern of common/dns.c:
 * the resolver's thread answers through ub_fd(), watched by libevent).
 *
 * Interface in smtp_dnsbl.h.  Each zone has its own question and timer
 * ("smtp dns-timeout"), so a slow zone costs the sessions that need its
 * answer at most that long and never blocks another session.  An A
 * record is a listing (with "answer" only one in those ranges);
 * NXDOMAIN or NODATA is no listing; SERVFAIL, a refusal or a timeout is
 * a failure, ignored with a log line unless the zone says "tempfail".
 *
 * The cache: the A records of a query name (none for a negative answer)
 * for the TTL libunbound reports, at most one hour for a listing and 15
 * minutes for a negative answer (whose TTL is the zone's SOA minimum),
 * at most SMTP_DNSBL_CACHE_MAX names (the oldest goes first).  Failures
 * are not cached.
 */
#include <sys/queue.h>
#include <sys/tree.h>

#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <unbound.h>

#include "config.h"
#include "dns.h"
#include "log.h"
#include "proc.h"
#include "smtp_dns.h"
#include "smtp_dnsbl.h"

#define SMTP_DNSBL_T_A		1
#define SMTP_DNSBL_ADDRS	16
#define SMTP_DNSBL_CACHE_MAX	4096
#define SMTP_DNSBL_TTL_POS	3600
#define SMTP_DNSBL_TTL_NEG	900

enum smtp_dnsbl_state {
	SMTP_DNSBL_PENDING = 0,
	SMTP_DNSBL_DONE,	/* answered (or cached): addrs hold the As */
	SMTP_DNSBL_FAILED	/* SERVFAIL, refused, timeout */
};

struct smtp_dnsbl_cached {
	RB_ENTRY(smtp_dnsbl_cached)	 entry;
	TAILQ_ENTRY(smtp_dnsbl_cached)	 age;
	char				 qname[DNS_NAME_MAX];
	time_t				 expires;	/* monotonic */
	size_t				 naddr;
	uint8_t				 addr[SMTP_DNSBL_ADDRS][4];
};

struct smtp_dnsbl_zone {
	struct smtp_dnsbl	*bl;
	/* a copy: a reload does not change a running session's zones */
	struct dnsbl		 conf;
	struct dns_query	 q;
	int			 open;
	int			 asked;		/* libunbound took it */
	int			 logged;	/* its failure is logged */
	enum smtp_dnsbl_state	 state;
	const char		*why;		/* FAILED: what happened */
	size_t			 naddr;
	uint8_t			 addr[SMTP_DNSBL_ADDRS][4];
	char			 qname[DNS_NAME_MAX];
};

struct smtp_dnsbl {
	void			(*cb)(void *);
	void			*arg;
	uint32_t		 sessid;
	char			 addr[INET6_ADDRSTRLEN];
	size_t			 nzone;
	struct smtp_dnsbl_zone	 zone[];
};

static int	smtp_dnsbl_cached_cmp(struct smtp_dnsbl_cached *,
		    struct smtp_dnsbl_cached *);
RB_HEAD(smtp_dnsbl_cache, smtp_dnsbl_cached);
/* libbsd leaves __unused undefined, so spell out RB_GENERATE_STATIC */
RB_GENERATE_INTERNAL(smtp_dnsbl_cache, smtp_dnsbl_cached, entry,
    smtp_dnsbl_cached_cmp, __attribute__((__unused__)) static)

static struct smtp_dnsbl_cache		 smtp_dnsbl_cache =
    RB_INITIALIZER(&smtp_dnsbl_cache);
static TAILQ_HEAD(, smtp_dnsbl_cached)	 smtp_dnsbl_ages =
    TAILQ_HEAD_INITIALIZER(smtp_dnsbl_ages);
static size_t				 smtp_dnsbl_ncached;

static int
smtp_dnsbl_cached_cmp(struct smtp_dnsbl_cached *a,
    struct smtp_dnsbl_cached *b)
{
	return strcmp(a->qname, b->qname);
}

static time_t
smtp_dnsbl_now(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void
smtp_dnsbl_cache_drop(struct smtp_dnsbl_cached *c)
{
	RB_REMOVE(smtp_dnsbl_cache, &smtp_dnsbl_cache, c);
	TAILQ_REMOVE(&smtp_dnsbl_ages, c, age);
	smtp_dnsbl_ncached--;
	free(c);
}

/* The cached answer of a query name, if it is still good. */
static struct smtp_dnsbl_cached *
smtp_dnsbl_cache_find(const char *qname)
{
	struct smtp_dnsbl_cached	 key, *c;

	(void)strlcpy(key.qname, qname, sizeof(key.qname));
	if ((c = RB_FIND(smtp_dnsbl_cache, &smtp_dnsbl_cache, &key)) == NULL)
		return NULL;
	if (c->expires <= smtp_dnsbl_now()) {
		smtp_dnsbl_cache_drop(c);
		return NULL;
	}
	return c;
}

/* Keep a zone's answer for its TTL (capped); no memory: not kept. */
static void
smtp_dnsbl_cache_put(const struct smtp_dnsbl_zone *z, int ttl)
{
	struct smtp_dnsbl_cached	*c, *old;
	int				 cap;

	cap = z->naddr > 0 ? SMTP_DNSBL_TTL_POS : SMTP_DNSBL_TTL_NEG;
	if (ttl > cap)
		ttl = cap;
	if (ttl <= 0 || (c = calloc(1, sizeof(*c))) == NULL)
		return;
	(void)strlcpy(c->qname, z->qname, sizeof(c->qname));
	c->expires = smtp_dnsbl_now() + ttl;
	c->naddr = z->naddr;
	memcpy(c->addr, z->addr, sizeof(c->addr));
	if ((old = RB_FIND(smtp_dnsbl_cache, &smtp_dnsbl_cache, c)) != NULL)
		smtp_dnsbl_cache_drop(old);
	if (smtp_dnsbl_ncached == SMTP_DNSBL_CACHE_MAX)
		smtp_dnsbl_cache_drop(TAILQ_FIRST(&smtp_dnsbl_ages));
	(void)RB_INSERT(smtp_dnsbl_cache, &smtp_dnsbl_cache, c);
	TAILQ_INSERT_TAIL(&smtp_dnsbl_ages, c, age);
	smtp_dnsbl_ncached++;
}

/* The lookup of one zone is over: tell the session. */
static void
smtp_dnsbl_zone_end(struct smtp_dnsbl_zone *z, enum smtp_dnsbl_state st,
    const char *why)
{
	z->state = st;
	z->why = why;
	if (z->open) {
		dns_query_close(&z->q);
		z->open = 0;
	}
	stats_add(st == SMTP_DNSBL_DONE ? "smtp.dnsbl.answer" :
	    "smtp.dnsbl.failed", 1);
	z->bl->cb(z->bl->arg);
}

/* libunbound's answer, from ub_process() in the event loop. */
static void
smtp_dnsbl_answer(void *arg, int err, struct ub_result *res)
{
	struct smtp_dnsbl_zone	*z = arg;
	size_t			 i;
	int			 ttl;

	if (err != 0 || res == NULL || (res->rcode != 0 && res->rcode != 3)) {
		if (res != NULL)
			ub_resolve_free(res);
		smtp_dnsbl_zone_end(z, SMTP_DNSBL_FAILED, err != 0 ||
		    res == NULL ? "resolver error" : "server failure");
		return;
	}
	for (i = 0; res->havedata && res->data[i] != NULL &&
	    z->naddr < SMTP_DNSBL_ADDRS; i++)
		if (res->len[i] == 4)
			memcpy(z->addr[z->naddr++], res->data[i], 4);
	ttl = res->ttl;
	ub_resolve_free(res);
	smtp_dnsbl_cache_put(z, ttl);
	smtp_dnsbl_zone_end(z, SMTP_DNSBL_DONE, NULL);
}

/* The time is up, or the question could not be asked. */
static void
smtp_dnsbl_timeout(int fd, short ev, void *arg)
{
	struct smtp_dnsbl_zone	*z = arg;

	(void)fd;
	(void)ev;
	dns_query_cancel(&z->q);
	smtp_dnsbl_zone_end(z, SMTP_DNSBL_FAILED, z->asked ? "timeout" :
	    "not asked");
}

/* Start one zone: from the cache, else a question. */
static void
smtp_dnsbl_zone_start(struct smtp_dnsbl_zone *z)
{
	struct smtp_dnsbl_cached	*c;

	if ((c = smtp_dnsbl_cache_find(z->qname)) != NULL) {
		z->naddr = c->naddr;
		memcpy(z->addr, c->addr, sizeof(z->addr));
		z->state = SMTP_DNSBL_DONE;
		stats_add("smtp.dnsbl.cached", 1);
		return;
	}
	if (dns_query_open(&z->q, smtp_dns_resolver_get(),
	    smtp_dnsbl_answer, smtp_dnsbl_timeout, z) == -1) {
		z->state = SMTP_DNSBL_FAILED;
		z->why = "out of memory";
		return;
	}
	z->open = 1;
	stats_add("smtp.dnsbl.lookup", 1);
	if (dns_query_ask(&z->q, z->qname, SMTP_DNSBL_T_A) == -1) {
		/* ended from the loop, never inside the start */
		dns_query_timer(&z->q, 0);
		return;
	}
	z->asked = 1;
	dns_query_timer(&z->q, conf->smtp_dns_timeout);
}

struct smtp_dnsbl *
smtp_dnsbl_start(const char *addr, uint32_t sessid, void (*cb)(void *),
    void *arg)
{
	struct smtp_dnsbl	*bl;
	const struct dnsbl	*b;
	size_t			 i, n = 0;

	TAILQ_FOREACH(b, &conf->dnsbls, entry)
		n++;
	if (n == 0)
		return NULL;
	if ((bl = calloc(1, sizeof(*bl) + n * sizeof(bl->zone[0]))) == NULL) {
		/* the client is then served as if no zone listed it */
		log_warn("%08x: cannot start the blocklist lookups", sessid);
		return NULL;
	}
	bl->cb = cb;
	bl->arg = arg;
	bl->sessid = sessid;
	(void)strlcpy(bl->addr, addr, sizeof(bl->addr));
	i = 0;
	TAILQ_FOREACH(b, &conf->dnsbls, entry) {
		bl->zone[i].bl = bl;
		bl->zone[i].conf = *b;
		if (config_dnsbl_qname(addr, b->zone, bl->zone[i].qname,
		    sizeof(bl->zone[i].qname)) == -1) {
			/* not an IP address: nothing to look up */
			free(bl);
			return NULL;
		}
		i++;
	}
	bl->nzone = n;
	for (i = 0; i < n; i++)
		smtp_dnsbl_zone_start(&bl->zone[i]);
	return bl;
}

void
smtp_dnsbl_cancel(struct smtp_dnsbl *bl)
{
	size_t	 i;

	if (bl == NULL)
		return;
	for (i = 0; i < bl->nzone; i++)
		if (bl->zone[i].open)
			dns_query_close(&bl->zone[i].q);
	free(bl);
}

/* The first A record that counts as a listing; NULL if none. */
static const uint8_t *
smtp_dnsbl_zone_hit(const struct smtp_dnsbl_zone *z)
{
	size_t	 i;

	for (i = 0; i < z->naddr; i++)
		if (config_dnsbl_listed(&z->conf, z->addr[i]))
			return z->addr[i];
	return NULL;
}

/* A listing: the zone's action and reply. */
static void
smtp_dnsbl_listed(const struct smtp_dnsbl *bl,
    const struct smtp_dnsbl_zone *z, const uint8_t *hit,
    struct smtp_dnsbl_result *res)
{
	char	 a[INET_ADDRSTRLEN];

	if (inet_ntop(AF_INET, hit, a, sizeof(a)) == NULL)
		(void)strlcpy(a, "?", sizeof(a));
	log_info("%08x: dnsbl %s: %s listed (%s)", bl->sessid,
	    z->conf.zone, bl->addr, a);
	stats_add("smtp.dnsbl.listed", 1);
	res->action = z->conf.action;
	config_dnsbl_reply(&z->conf, bl->addr, 0, res->reply,
	    sizeof(res->reply));
	(void)snprintf(res->reason, sizeof(res->reason), "listed at %s",
	    z->conf.zone);
	(void)strlcpy(res->zone, z->conf.zone, sizeof(res->zone));
}

/* The zones in order, as smtp_dnsbl_verdict(); logged only if report. */
static int
smtp_dnsbl_walk(struct smtp_dnsbl *bl, struct smtp_dnsbl_result *res,
    int report)
{
	struct smtp_dnsbl_zone	*z;
	const uint8_t		*hit;
	size_t			 i;

	memset(res, 0, sizeof(*res));
	for (i = 0; bl != NULL && i < bl->nzone; i++) {
		z = &bl->zone[i];
		if (z->state == SMTP_DNSBL_PENDING)
			return -1;
		if (z->state == SMTP_DNSBL_DONE) {
			if ((hit = smtp_dnsbl_zone_hit(z)) == NULL)
				continue;
			if (report)
				smtp_dnsbl_listed(bl, z, hit, res);
			return 1;
		}
		if (report && !z->logged)
			log_info("%08x: dnsbl %s: lookup of %s failed (%s)%s",
			    bl->sessid, z->conf.zone, z->qname, z->why,
			    z->conf.tempfail ? "" : ", ignored");
		z->logged |= report;
		if (!z->conf.tempfail)
			continue;
		res->temp = 1;
		(void)strlcpy(res->zone, z->conf.zone, sizeof(res->zone));
		config_dnsbl_reply(&z->conf, bl->addr, 1, res->reply,
		    sizeof(res->reply));
		return 1;
	}
	return 0;
}

int
smtp_dnsbl_verdict(struct smtp_dnsbl *bl, struct smtp_dnsbl_result *res)
{
	return smtp_dnsbl_walk(bl, res, 1);
}

int
smtp_dnsbl_ready(struct smtp_dnsbl *bl)
{
	struct smtp_dnsbl_result	 res;

	return smtp_dnsbl_walk(bl, &res, 0) != -1;
}
