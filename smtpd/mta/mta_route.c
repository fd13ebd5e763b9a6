/*
 * mta_route.c: from a batch's domain to its list of next hops.
 *
 * The route comes from policyd (IMSG_POLICY_ROUTE): an error for every
 * recipient, a static host (an address literal, or a name looked up for
 * A/AAAA), the MX of a mailertable host (ROUTE_F_MX), or the domain's
 * MX; an MX list is sorted, pruned of our host name and looked up host
 * by host.  With "mta dane yes" and a DNSSEC-secure MX answer each host
 * also gets a TLSA lookup (_25._tcp.HOST), whose outcome (mta_dane.c)
 * rides in its hops when an address answer of the host was secure.  A mailertable "user@host" makes every RCPT of the batch name
 * that address.  A local domain (ROUTE_LOCAL) is not ours to deliver: it
 * waits in the queue (4.3.5) with a warning.
 *
 * Mail never loops back to us (sendmail's rule): once the addresses are
 * known, a host with an address that reaches one of our listeners at the
 * port we connect to (config_listener_reached(); the interface addresses
 * are read once at start, before the chroot, for wildcard listeners)
 * drops every host of its MX preference and above; a static route or
 * implicit MX is one host, so it drops everything.  With nothing left,
 * every recipient fails with "553 5.3.5 config error: mail loops back to
 * me (MX problem?)".  Interface: mta_route_init(), mta_route_start() and
 * _cancel() in mta_core.h, pure helpers in mta_route.h.
 *
 * Failure behaviour: policyd unreachable -> 4.3.0 for every recipient;
 * NXDOMAIN for the domain -> 5.1.2; null MX -> 5.1.10; MX or route
 * pointing back to us -> 5.3.5; SERVFAIL or timeout -> 4.4.3; MX hosts
 * that all definitely have no address -> 5.4.4.  A malformed route
 * result is a broken peer (proc_peer_bad); stale results are ignored.
 *
 * Questions to policyd wait in a tree by query id.  A resolved list of
 * hops is kept per domain by mta_cache.c, so that the batches that follow
 * skip policyd and DNS for a while.
 */
#include <sys/tree.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "mailaddr.h"
#include "proc.h"
#include "util.h"
#include "mta_cache.h"
#include "mta_core.h"
#include "mta_dns.h"
#include "mta_route.h"

#define MTA_ADDR_MAX	8	/* addresses kept per family and host */
#define MTA_IFADDR_MAX	64	/* interface addresses known as ours */
#define MTA_LOOP_TEXT	"config error: mail loops back to me (MX problem?)"

struct mta_resolve_host {
	struct mta_resolve	*res;
	char			 name[CONF_HOST_MAX];
	int			 pref;		/* MX preference */
	struct mta_dns_query	*q4, *q6;
	uint8_t			 a4[MTA_ADDR_MAX][4];
	uint8_t			 a6[MTA_ADDR_MAX][16];
	size_t			 n4, n6;
	int			 tempfail;
	/* DANE: the TLSA lookup, its outcome, and whether an address
	 * answer was secure (RFC 7672 2.2.2: else DANE does not apply) */
	struct mta_dns_query	*qt;
	struct mta_dane		 dane;
	int			 addr_secure;
	/* RFC 7672 2.2.2: a host that is an alias (a secure CNAME chain)
	 * has its TLSA records looked for at the name it expands to
	 * first; that lookup and its outcome */
	struct mta_dns_query	*qc;
	struct mta_dane		 dane_cname;
	int			 cname_asked;
};

struct mta_resolve {
	struct mta_batch	*b;
	uint16_t		 port;
	int			 implicit;	/* mxname is its own MX */
	int			 is_static;	/* a route host, no MX */
	/* a route from policyd (a static host, a mailertable host's MX):
	 * cached only briefly, so that a makemap applies soon */
	int			 routed;
	/* the name whose MX is looked up: the domain or a route's host */
	char			 mxname[CONF_HOST_MAX];
	/* the smallest TTL of the answers: how long the hops may be kept */
	uint32_t		 ttl;
	struct mta_dns_query	*mxq;
	/* the MX answer (or its denial) was DNSSEC-secure: DANE is
	 * looked for at each host */
	int			 mx_secure;
	struct mta_resolve_host	*hosts;
	size_t			 nhosts;
	int			 pending;
};

RB_HEAD(mta_route_tree, mta_batch);

static int	mta_route_qid_cmp(struct mta_batch *, struct mta_batch *);
RB_GENERATE_INTERNAL(mta_route_tree, mta_batch, rentry, mta_route_qid_cmp,
    __attribute__((__unused__)) static)

/* batches waiting for their route from policyd, by query id */
static struct mta_route_tree	 mta_route_waiting =
    RB_INITIALIZER(&mta_route_waiting);
static uint32_t			 mta_route_qid;

/* the addresses of our interfaces, read once before the chroot */
static struct sockaddr_storage	 mta_route_ifaddrs[MTA_IFADDR_MAX];
static size_t			 mta_route_nifaddrs;

static void	mta_route_hosts_lookup(struct mta_resolve *);
static void	mta_route_lookup_done(struct mta_resolve *);

static int
mta_route_qid_cmp(struct mta_batch *a, struct mta_batch *b)
{
	return a->qid < b->qid ? -1 : a->qid > b->qid;
}

/*
 * Before the chroot: remember the interface addresses, so that a
 * wildcard listener's addresses are known as ours.  Interfaces that
 * appear later are not (the loopback and bound-address rules still
 * hold); without the list the mta goes on with those rules alone.
 */
void
mta_route_init(void)
{
	struct ifaddrs	*ifa, *i;
	size_t		 len;

	if (getifaddrs(&ifa) == -1) {
		log_warn("getifaddrs: only loopback and listener addresses "
		    "are known as this host");
		return;
	}
	for (i = ifa; i != NULL && mta_route_nifaddrs < MTA_IFADDR_MAX;
	    i = i->ifa_next) {
		if (i->ifa_addr == NULL)
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			len = sizeof(struct sockaddr_in);
		else if (i->ifa_addr->sa_family == AF_INET6)
			len = sizeof(struct sockaddr_in6);
		else
			continue;
		memcpy(&mta_route_ifaddrs[mta_route_nifaddrs++], i->ifa_addr,
		    len);
	}
	freeifaddrs(ifa);
}

/* 1 if the address of ss is one of our interfaces'. */
static int
mta_route_ifaddr(const struct sockaddr_storage *ss)
{
	const struct sockaddr_storage	*o;
	size_t				 i;

	for (i = 0; i < mta_route_nifaddrs; i++) {
		o = &mta_route_ifaddrs[i];
		if (o->ss_family != ss->ss_family)
			continue;
		if (ss->ss_family == AF_INET &&
		    ((const struct sockaddr_in *)o)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)ss)->sin_addr.s_addr)
			return 1;
		if (ss->ss_family == AF_INET6 && memcmp(
		    &((const struct sockaddr_in6 *)o)->sin6_addr,
		    &((const struct sockaddr_in6 *)ss)->sin6_addr, 16) == 0)
			return 1;
	}
	return 0;
}

/* 1 if a connection to the address of ss at port reaches us. */
static int
mta_route_is_self(const struct sockaddr_storage *ss, uint16_t port)
{
	return config_listener_reached(conf, (const struct sockaddr *)ss,
	    port, mta_route_ifaddr(ss));
}

/* The next hop left is this host: every recipient fails, once. */
static void
mta_route_loop(struct mta_batch *b, const char *host, uint16_t port)
{
	stats_add("mta.route.loop", 1);
	log_warnx("batch %08x to %s: %s port %u is this host: 553 5.3.5 "
	    MTA_LOOP_TEXT, b->id, b->domain, host, port);
	mta_batch_fail_all(b, STATUS_PERMFAIL, "5.3.5",
	    "553 5.3.5 " MTA_LOOP_TEXT);
}

/* Keep the resolved hops of b for the batches that follow, unless a
 * route's "user@host" goes with them (the cache keeps hops only). */
static void
mta_route_cache(struct mta_batch *b, int routed, uint32_t ttl)
{
	if (b->route_user == NULL)
		mta_cache_put(b->domain, routed, time(NULL), ttl, b->hops,
		    b->nhops);
}

/* A smaller TTL from one more answer. */
static void
mta_route_ttl(struct mta_resolve *r, const struct mta_dns_answer *a)
{
	if (a->ttl < r->ttl)
		r->ttl = a->ttl;
}

int
mta_route_host_eq(const char *a, const char *b)
{
	size_t	 la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

static int
mta_route_mx_cmp(const void *a, const void *b)
{
	const struct mta_mx	*x = a, *y = b;

	return (x->pref > y->pref) - (x->pref < y->pref);
}

void
mta_route_mx_sort(struct mta_mx *mx, size_t n)
{
	struct mta_mx	 tmp;
	size_t		 lo, hi, i, j;

	qsort(mx, n, sizeof(*mx), mta_route_mx_cmp);
	for (lo = 0; lo < n; lo = hi) {
		for (hi = lo + 1; hi < n && mx[hi].pref == mx[lo].pref; hi++)
			;
		for (i = hi - 1; i > lo; i--) {
			j = lo + arc4random_uniform((uint32_t)(i - lo + 1));
			tmp = mx[i];
			mx[i] = mx[j];
			mx[j] = tmp;
		}
	}
}

int
mta_route_mx_null(const struct mta_mx *mx, size_t n)
{
	return n == 1 && mx[0].host[0] == '\0';
}

size_t
mta_route_mx_prune(struct mta_mx *mx, size_t n, const char *self, int *found)
{
	size_t	 i, k = 0;
	int	 limit = 0;

	*found = 0;
	for (i = 0; i < n; i++) {
		if (mx[i].host[0] != '\0' && mta_route_host_eq(mx[i].host,
		    self) && (!*found || mx[i].pref < limit)) {
			limit = mx[i].pref;
			*found = 1;
		}
	}
	for (i = 0; i < n; i++) {
		if (mx[i].host[0] == '\0' || (*found && mx[i].pref >= limit))
			continue;
		mx[k++] = mx[i];
	}
	return k;
}

int
mta_route_literal(const char *host, uint16_t port,
    struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	char			 buf[CONF_HOST_MAX];
	size_t			 n = strlen(host);
	const char		*p;

	if (n < 2 || host[0] != '[' || host[n - 1] != ']')
		return 0;
	if (n - 2 >= sizeof(buf))
		return -1;
	memcpy(buf, host + 1, n - 2);
	buf[n - 2] = '\0';
	p = strncasecmp(buf, "IPv6:", 5) == 0 ? buf + 5 : buf;
	memset(ss, 0, sizeof(*ss));
	if (p == buf && inet_pton(AF_INET, p, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
		return 1;
	}
	if (inet_pton(AF_INET6, p, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
		return 1;
	}
	return -1;
}

static void
mta_route_resolve_free(struct mta_resolve *r)
{
	size_t	 i;

	mta_dns_cancel(r->mxq);
	for (i = 0; i < r->nhosts; i++) {
		mta_dns_cancel(r->hosts[i].q4);
		mta_dns_cancel(r->hosts[i].q6);
		mta_dns_cancel(r->hosts[i].qt);
		mta_dns_cancel(r->hosts[i].qc);
	}
	free(r->hosts);
	r->b->resolve = NULL;
	free(r);
}

/* Ask policyd how to reach the batch's domain, unless it is cached. */
void
mta_route_start(struct mta_batch *b)
{
	struct imsg_out	 out;

	if (mta_cache_get(b->domain, time(NULL), &b->hops, &b->nhops)) {
		stats_add("mta.route.cached", 1);
		mta_batch_hops_ready(b);
		return;
	}
	do {
		if (++mta_route_qid == ID_NONE)
			mta_route_qid++;
		b->qid = mta_route_qid;
	} while (RB_FIND(mta_route_tree, &mta_route_waiting, b) != NULL);
	imsg_out_init(&out, IMSG_POLICY_ROUTE, b->qid);
	imsg_put_str(&out, b->domain);
	if (proc_send(PROC_POLICY, &out, -1) == -1) {
		mta_batch_fail_all(b, STATUS_TEMPFAIL, "4.3.0",
		    "policy service unavailable");
		return;
	}
	RB_INSERT(mta_route_tree, &mta_route_waiting, b);
	b->state = MTA_BATCH_ROUTE;
}

void
mta_route_cancel(struct mta_batch *b)
{
	if (b->state == MTA_BATCH_ROUTE)
		RB_REMOVE(mta_route_tree, &mta_route_waiting, b);
	else if (b->state == MTA_BATCH_RESOLVE && b->resolve != NULL)
		mta_route_resolve_free(b->resolve);
}

/* policyd went away: nobody will answer the questions in flight. */
void
mta_route_policy_down(void)
{
	struct mta_batch	*b;

	while ((b = RB_MIN(mta_route_tree, &mta_route_waiting)) != NULL) {
		RB_REMOVE(mta_route_tree, &mta_route_waiting, b);
		b->state = MTA_BATCH_NEW;
		mta_batch_fail_all(b, STATUS_TEMPFAIL, "4.3.0",
		    "policy service unavailable");
	}
}

/* Start the lookup with a list of host names to find addresses for. */
static int
mta_route_resolve_new(struct mta_batch *b, uint16_t port)
{
	struct mta_resolve	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		mta_batch_fail_all(b, STATUS_TEMPFAIL, "4.3.0",
		    "out of memory");
		return -1;
	}
	r->b = b;
	r->port = port ? port : conf->mta_port;
	r->ttl = UINT32_MAX;
	b->resolve = r;
	b->state = MTA_BATCH_RESOLVE;
	return 0;
}

/* ROUTE_HOST: an address literal, or a name looked up without MX. */
static void
mta_route_static(struct mta_batch *b, const char *host, uint16_t port)
{
	struct mta_hop	*hop;
	int		 lit;

	if (port == 0)
		port = conf->mta_port;
	if ((hop = calloc(1, sizeof(*hop))) == NULL) {
		mta_batch_fail_all(b, STATUS_TEMPFAIL, "4.3.0",
		    "out of memory");
		return;
	}
	lit = mta_route_literal(host, port, &hop->ss, &hop->sslen);
	if (lit == 1 && mta_route_is_self(&hop->ss, port)) {
		free(hop);
		mta_route_loop(b, host, port);
		return;
	}
	if (lit == 1) {
		hop->routed = 1;
		(void)strlcpy(hop->name, host + 1, sizeof(hop->name));
		hop->name[strcspn(hop->name, "]")] = '\0';
		b->hops = hop;
		b->nhops = 1;
		mta_route_cache(b, 1, MTA_CACHE_TTL_STATIC);
		mta_batch_hops_ready(b);
		return;
	}
	free(hop);
	if (lit == -1 || host[0] == '\0') {
		mta_batch_fail_all(b, STATUS_TEMPFAIL, "4.3.5",
		    "bad next hop in the route");
		return;
	}
	if (mta_route_resolve_new(b, port) == -1)
		return;
	b->resolve->is_static = 1;
	b->resolve->routed = 1;
	b->resolve->hosts = xcalloc(1, sizeof(*b->resolve->hosts));
	b->resolve->nhosts = 1;
	(void)strlcpy(b->resolve->hosts[0].name, host,
	    sizeof(b->resolve->hosts[0].name));
	mta_route_hosts_lookup(b->resolve);
}

/* Turn the parsed MX list into hosts to look up, or a final error. */
static void
mta_route_mx_apply(struct mta_resolve *r, struct mta_mx *mx, size_t n)
{
	struct mta_batch	*b = r->b;
	size_t			 i;
	int			 self;

	if (mta_route_mx_null(mx, n)) {
		mta_batch_error(b, STATUS_PERMFAIL, "5.1.10",
		    "Domain %s does not accept mail (null MX)", r->mxname);
		return;
	}
	mta_route_mx_sort(mx, n);
	n = mta_route_mx_prune(mx, n, conf->hostname, &self);
	if (n == 0 && self) {
		mta_route_loop(b, conf->hostname, r->port);
		return;
	}
	if (n == 0) {
		mta_batch_error(b, STATUS_TEMPFAIL, "4.4.3",
		    "no usable MX record for %s", r->mxname);
		return;
	}
	if (n > MTA_MX_MAX)
		n = MTA_MX_MAX;
	r->hosts = xcalloc(n, sizeof(*r->hosts));
	r->nhosts = n;
	for (i = 0; i < n; i++) {
		(void)strlcpy(r->hosts[i].name, mx[i].host,
		    sizeof(r->hosts[i].name));
		r->hosts[i].pref = mx[i].pref;
	}
	mta_route_hosts_lookup(r);
}

/* The MX answer for the domain. */
static void
mta_route_mx_cb(void *arg, const struct mta_dns_answer *a)
{
	struct mta_resolve	*r = arg;
	struct mta_batch	*b = r->b;
	struct mta_mx		*mx;
	size_t			 i, n = 0;
	uint16_t		 pref;

	r->mxq = NULL;
	mta_route_ttl(r, a);
	r->mx_secure = mta_dns_validating() && a->secure;
	switch (a->status) {
	case MTA_DNS_NXDOMAIN:
		mta_batch_error(b, STATUS_PERMFAIL, "5.1.2",
		    "Host unknown: %s", r->mxname);
		return;
	case MTA_DNS_FAIL:
		mta_batch_error(b, STATUS_TEMPFAIL, "4.4.3",
		    "DNS error looking up MX for %s: %s", r->mxname, a->why);
		return;
	case MTA_DNS_NODATA:
		r->implicit = 1;
		r->hosts = xcalloc(1, sizeof(*r->hosts));
		r->nhosts = 1;
		(void)strlcpy(r->hosts[0].name, r->mxname,
		    sizeof(r->hosts[0].name));
		mta_route_hosts_lookup(r);
		return;
	case MTA_DNS_OK:
		break;
	}
	mx = xcalloc(a->count, sizeof(*mx));
	for (i = 0; i < a->count; i++) {
		if (mta_dns_mx_parse((const uint8_t *)a->rdata[i],
		    (size_t)a->rdlen[i], &pref, mx[n].host,
		    sizeof(mx[n].host)) == -1) {
			log_info("malformed MX record for %s", r->mxname);
			continue;
		}
		mx[n++].pref = pref;
	}
	if (n == 0)
		mta_batch_error(b, STATUS_TEMPFAIL, "4.4.3",
		    "DNS error looking up MX for %s: malformed answer",
		    r->mxname);
	else
		mta_route_mx_apply(r, mx, n);
	free(mx);
}

/* Every lookup ended: the hops in MX order, IPv4 before IPv6. */
static void
mta_route_hops_build(struct mta_resolve *r)
{
	struct mta_batch	*b = r->b;
	struct mta_resolve_host	*h;
	struct mta_hop		*hop;
	size_t			 i, k, n = 0;

	b->hops = xcalloc(MTA_HOPS_MAX, sizeof(*b->hops));
	for (i = 0; i < r->nhosts; i++) {
		h = &r->hosts[i];
		for (k = 0; k < h->n4 + h->n6 && n < MTA_HOPS_MAX; k++) {
			hop = &b->hops[n++];
			(void)strlcpy(hop->name, h->name, sizeof(hop->name));
			hop->pref = h->pref;
			hop->routed = r->routed;
			hop->mx_secure = r->mx_secure;
			if (h->addr_secure)
				hop->dane = h->dane_cname.state !=
				    MTA_DANE_NONE ? h->dane_cname : h->dane;
			if (k < h->n4) {
				struct sockaddr_in *sin = (void *)&hop->ss;

				sin->sin_family = AF_INET;
				sin->sin_port = htons(r->port);
				memcpy(&sin->sin_addr, h->a4[k], 4);
				hop->sslen = sizeof(*sin);
			} else {
				struct sockaddr_in6 *sin6 = (void *)&hop->ss;

				sin6->sin6_family = AF_INET6;
				sin6->sin6_port = htons(r->port);
				memcpy(&sin6->sin6_addr, h->a6[k - h->n4], 16);
				hop->sslen = sizeof(*sin6);
			}
		}
	}
	b->nhops = n;
	if (n == 0) {
		free(b->hops);
		b->hops = NULL;
	} else
		b->hops = xreallocarray(b->hops, n, sizeof(*b->hops));
}

/* No address at all: say why, the worst news first. */
static void
mta_route_no_address(struct mta_resolve *r)
{
	struct mta_batch	*b = r->b;
	size_t			 i;

	for (i = 0; i < r->nhosts; i++)
		if (r->hosts[i].tempfail) {
			mta_batch_error(b, STATUS_TEMPFAIL, "4.4.3",
			    "DNS error looking up %s", r->hosts[i].name);
			return;
		}
	if (r->implicit)
		mta_batch_error(b, STATUS_PERMFAIL, "5.1.2",
		    "Host unknown: %s has no MX or address record", r->mxname);
	else if (r->is_static)
		mta_batch_error(b, STATUS_TEMPFAIL, "4.4.3",
		    "no address for next hop %s", r->hosts[0].name);
	else
		mta_batch_error(b, STATUS_PERMFAIL, "5.4.4",
		    "no address for any MX host of %s", r->mxname);
}

/* 1 if one of the addresses of h reaches us at the port of r. */
static int
mta_route_host_self(const struct mta_resolve *r,
    const struct mta_resolve_host *h)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	size_t			 i;

	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	for (i = 0; i < h->n4; i++) {
		memcpy(&sin->sin_addr, h->a4[i], 4);
		if (mta_route_is_self(&ss, r->port))
			return 1;
	}
	memset(&ss, 0, sizeof(ss));
	sin6->sin6_family = AF_INET6;
	for (i = 0; i < h->n6; i++) {
		memcpy(&sin6->sin6_addr, h->a6[i], 16);
		if (mta_route_is_self(&ss, r->port))
			return 1;
	}
	return 0;
}

/*
 * Drop every host whose MX preference is not below that of a host that
 * is us (sendmail: we would be the better destination, so those would
 * hand the mail back).  -1 if none is left: the batch failed.
 */
static int
mta_route_self_prune(struct mta_resolve *r)
{
	size_t	 i, k = 0, keep = 0, self = r->nhosts;
	int	 limit;

	for (i = 0; i < r->nhosts; i++)
		if ((self == r->nhosts || r->hosts[i].pref <
		    r->hosts[self].pref) && mta_route_host_self(r, &r->hosts[i]))
			self = i;
	if (self == r->nhosts)
		return 0;
	limit = r->hosts[self].pref;
	for (i = 0; i < r->nhosts; i++)
		if (r->hosts[i].pref < limit)
			keep++;
	if (keep == 0) {
		mta_route_loop(r->b, r->hosts[self].name, r->port);
		return -1;
	}
	log_info("batch %08x to %s: %s port %u is this host: MX preference "
	    "%d and above dropped", r->b->id, r->b->domain,
	    r->hosts[self].name, r->port, limit);
	for (i = 0; i < r->nhosts; i++)
		if (r->hosts[i].pref < limit)
			r->hosts[k++] = r->hosts[i];
	r->nhosts = k;
	return 0;
}

static int	mta_route_tlsa_query(struct mta_resolve_host *, const char *,
		    struct mta_dane *, struct mta_dns_query **,
		    void (*)(void *, const struct mta_dns_answer *));
static void	mta_route_tlsa_cname_cb(void *, const struct mta_dns_answer *);

/*
 * A secure address answer through a CNAME chain: the TLSA records of
 * the name it ends at (RFC 7672 2.2.2), asked once; those of the name
 * itself are asked already and count when the expanded one has none.
 */
static void
mta_route_tlsa_cname(struct mta_resolve_host *h,
    const struct mta_dns_answer *a)
{
	char	 canon[CONF_HOST_MAX];
	size_t	 len;

	if (h->cname_asked || a->status != MTA_DNS_OK || !a->secure ||
	    a->canon == NULL || !h->res->mx_secure || h->res->is_static)
		return;
	if ((len = strlcpy(canon, a->canon, sizeof(canon))) >= sizeof(canon))
		return;
	if (len > 0 && canon[len - 1] == '.')
		canon[--len] = '\0';
	if (len == 0 || strcasecmp(canon, h->name) == 0)
		return;
	h->cname_asked = 1;
	log_debug("DANE: %s is an alias of %s: its TLSA records first",
	    h->name, canon);
	if (mta_route_tlsa_query(h, canon, &h->dane_cname, &h->qc,
	    mta_route_tlsa_cname_cb) == -1) {
		h->dane_cname.state = MTA_DANE_TEMP;
		(void)strlcpy(h->dane_cname.why, "out of memory",
		    sizeof(h->dane_cname.why));
	}
}

/* One A or AAAA lookup ended; when the last has, build the hops. */
static void
mta_route_addr_done(struct mta_resolve_host *h, int v6,
    const struct mta_dns_answer *a)
{
	struct mta_resolve	*r = h->res;
	size_t			 i, want = v6 ? 16 : 4;

	if (a->status == MTA_DNS_FAIL)
		h->tempfail = 1;
	else
		mta_route_ttl(r, a);
	if (a->status == MTA_DNS_OK && a->secure)
		h->addr_secure = 1;
	mta_route_tlsa_cname(h, a);
	for (i = 0; a->status == MTA_DNS_OK && i < a->count; i++) {
		if ((size_t)a->rdlen[i] != want)
			continue;
		if (v6 && h->n6 < MTA_ADDR_MAX)
			memcpy(h->a6[h->n6++], a->rdata[i], 16);
		else if (!v6 && h->n4 < MTA_ADDR_MAX)
			memcpy(h->a4[h->n4++], a->rdata[i], 4);
	}
	mta_route_lookup_done(r);
}

/* One lookup of the hosts ended; when the last has, build the hops. */
static void
mta_route_lookup_done(struct mta_resolve *r)
{
	struct mta_batch	*b;

	if (--r->pending > 0 || mta_route_self_prune(r) == -1)
		return;
	mta_route_hops_build(r);
	if (r->b->nhops == 0) {
		mta_route_no_address(r);
		return;
	}
	b = r->b;
	mta_route_cache(b, r->routed, r->ttl);
	mta_route_resolve_free(r);
	b->state = MTA_BATCH_NEW;
	mta_batch_hops_ready(b);
}

/* A TLSA answer of a host into d; a failure is not cached (asked
 * again). */
static void
mta_route_tlsa_done(struct mta_resolve_host *h, struct mta_dane *d,
    const struct mta_dns_answer *a)
{
	mta_dane_tlsa(d, h->name, a);
	if (a->status == MTA_DNS_FAIL)
		h->res->ttl = 0;
	else
		mta_route_ttl(h->res, a);
	mta_route_lookup_done(h->res);
}

static void
mta_route_tlsa_cb(void *arg, const struct mta_dns_answer *a)
{
	struct mta_resolve_host	*h = arg;

	h->qt = NULL;
	mta_route_tlsa_done(h, &h->dane, a);
}

/* The TLSA answer at the name an alias expands to. */
static void
mta_route_tlsa_cname_cb(void *arg, const struct mta_dns_answer *a)
{
	struct mta_resolve_host	*h = arg;

	h->qc = NULL;
	mta_route_tlsa_done(h, &h->dane_cname, a);
}

/* The TLSA lookup at _25._tcp.HOST into *q; -1 if out of memory (a
 * name too long is a DANE failure, in d). */
static int
mta_route_tlsa_query(struct mta_resolve_host *h, const char *host,
    struct mta_dane *d, struct mta_dns_query **q, void (*cb)(void *,
    const struct mta_dns_answer *))
{
	char	 name[CONF_HOST_MAX + 16];

	if ((size_t)snprintf(name, sizeof(name), "_25._tcp.%s", host) >=
	    sizeof(name) || strlen(name) >= MTA_DNS_NAME_MAX - 8) {
		d->state = MTA_DANE_TEMP;
		(void)strlcpy(d->why, "name too long", sizeof(d->why));
		return 0;
	}
	if ((*q = mta_dns_query(name, MTA_DNS_T_TLSA, cb, h)) == NULL)
		return -1;
	h->res->pending++;
	return 0;
}

/* With a secure MX answer: the TLSA lookup of h (RFC 7672 2.2.1). */
static int
mta_route_tlsa_lookup(struct mta_resolve_host *h)
{
	if (!h->res->mx_secure || h->res->is_static)
		return 0;
	return mta_route_tlsa_query(h, h->name, &h->dane, &h->qt,
	    mta_route_tlsa_cb);
}

static void
mta_route_a_cb(void *arg, const struct mta_dns_answer *a)
{
	struct mta_resolve_host	*h = arg;

	h->q4 = NULL;
	mta_route_addr_done(h, 0, a);
}

static void
mta_route_aaaa_cb(void *arg, const struct mta_dns_answer *a)
{
	struct mta_resolve_host	*h = arg;

	h->q6 = NULL;
	mta_route_addr_done(h, 1, a);
}

/* Look up A and AAAA for every host at once. */
static void
mta_route_hosts_lookup(struct mta_resolve *r)
{
	struct mta_resolve_host	*h;
	size_t			 i;

	for (i = 0; i < r->nhosts; i++) {
		h = &r->hosts[i];
		h->res = r;
		h->q4 = mta_dns_query(h->name, MTA_DNS_T_A, mta_route_a_cb, h);
		h->q6 = mta_dns_query(h->name, MTA_DNS_T_AAAA,
		    mta_route_aaaa_cb, h);
		if (h->q4 == NULL || h->q6 == NULL) {
			mta_batch_fail_all(r->b, STATUS_TEMPFAIL, "4.3.0",
			    "out of memory");
			return;
		}
		r->pending += 2;
		if (mta_route_tlsa_lookup(h) == -1) {
			mta_batch_fail_all(r->b, STATUS_TEMPFAIL, "4.3.0",
			    "out of memory");
			return;
		}
	}
}

/* Look up the MX of name for b (at port, 0 = mta port); routed: the
 * name came from a route, not the batch's domain. */
static void
mta_route_mx_start(struct mta_batch *b, const char *name, uint16_t port,
    int routed)
{
	if (mta_route_resolve_new(b, port) == -1)
		return;
	b->resolve->routed = routed;
	(void)strlcpy(b->resolve->mxname, name, sizeof(b->resolve->mxname));
	if ((b->resolve->mxq = mta_dns_query(name, MTA_DNS_T_MX,
	    mta_route_mx_cb, b->resolve)) == NULL)
		mta_batch_fail_all(b, STATUS_TEMPFAIL, "4.3.0",
		    "out of memory");
}

/* ROUTE_HOST: the address to send instead, then the host, or its MX. */
static void
mta_route_host(struct mta_batch *b, const char *host, uint16_t port,
    uint32_t flags, const char *user)
{
	if (user[0] != '\0') {
		if (!mailaddr_mailbox_valid(user)) {
			mta_batch_error(b, STATUS_TEMPFAIL, "4.3.5",
			    "bad recipient address in the route");
			return;
		}
		b->route_user = xstrdup(user);
	}
	if (flags & ROUTE_F_MX)
		mta_route_mx_start(b, host, port, 1);
	else
		mta_route_static(b, host, port);
}

/* ROUTE_ERROR: the code and text of the map for every recipient. */
static void
mta_route_error(struct mta_batch *b, uint32_t code, const char *text)
{
	char	 enh[MTA_ENH_MAX];
	size_t	 skip;

	if (code < 400 || code > 599)
		code = 451;
	if ((skip = mta_reply_enhanced(text, (int)code, enh, sizeof(enh))))
		while (text[skip] == ' ')
			skip++;
	else
		(void)snprintf(enh, sizeof(enh), "%u.0.0", code / 100);
	mta_batch_error(b, code >= 500 ? STATUS_PERMFAIL : STATUS_TEMPFAIL,
	    enh, "%u %s %s", code, enh, text + skip);
}

/*
 * ROUTE_LOCAL: the queue keeps local recipients; one that slips through
 * (mail queued before its domain became local) waits in the queue rather
 * than going out to some MX.
 */
static void
mta_route_local(struct mta_batch *b)
{
	char	 text[MTA_ERR_MAX];

	stats_add("mta.route.local", 1);
	(void)snprintf(text, sizeof(text), "451 4.3.5 local domain %s "
	    "reached the outbound client", b->domain);
	log_warnx("batch %08x: %s", b->id, text);
	mta_batch_fail_all(b, STATUS_TEMPFAIL, "4.3.5", text);
}

/* IMSG_POLICY_ROUTE_RESULT: the route for one of our questions. */
void
mta_route_imsg_result(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct mta_batch	*b, key;
	uint32_t		 kind, port, code, flags;
	char			 host[CONF_HOST_MAX], text[MTA_ERR_MAX];
	char			 user[CONF_ADDR_MAX];

	kind = imsg_get_u32(m);
	(void)imsg_get_strbuf(m, host, sizeof(host));
	port = imsg_get_u32(m);
	code = imsg_get_u32(m);
	(void)imsg_get_strbuf(m, text, sizeof(text));
	flags = imsg_get_u32(m);
	(void)imsg_get_strbuf(m, user, sizeof(user));
	if (imsg_get_end(m) == -1 || kind > ROUTE_LOCAL || port > 65535 ||
	    (flags & ~ROUTE_F_MX) != 0) {
		proc_peer_bad(PROC_POLICY, "malformed route result", m->type);
		return;
	}
	key.qid = m->id;
	if ((b = RB_FIND(mta_route_tree, &mta_route_waiting, &key)) == NULL) {
		log_debug("route result for unknown query %u", m->id);
		return;
	}
	RB_REMOVE(mta_route_tree, &mta_route_waiting, b);
	b->state = MTA_BATCH_NEW;
	switch (kind) {
	case ROUTE_HOST:
		mta_route_host(b, host, (uint16_t)port, flags, user);
		break;
	case ROUTE_MX:
		mta_route_mx_start(b, b->domain, 0, 0);
		break;
	case ROUTE_LOCAL:
		mta_route_local(b);
		break;
	default:
		mta_route_error(b, code, text);
		break;
	}
}
