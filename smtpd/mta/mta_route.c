/*
 * mta_route.c: from a batch's domain to its list of next hops.
 *
 * The route comes from policyd (IMSG_POLICY_ROUTE): an error for every
 * recipient, a static host (an address literal, or a name looked up for
 * A/AAAA) or the domain's MX, which is sorted, pruned of ourselves and
 * looked up host by host.  Interface: mta_route_start() and _cancel() in
 * mta_core.h, pure helpers in mta_route.h.
 *
 * Failure behaviour: policyd unreachable -> 4.3.0 for every recipient;
 * NXDOMAIN for the domain -> 5.1.2; null MX -> 5.1.10; MX pointing back
 * to us -> 5.4.6; SERVFAIL or timeout -> 4.4.3; MX hosts that all
 * definitely have no address -> 5.4.4.  A malformed route result is a
 * broken peer (proc_peer_bad); stale results are ignored.
 *
 * Questions to policyd wait in a tree by query id.  A resolved list of
 * hops is kept per domain by mta_cache.c, so that the batches that follow
 * skip policyd and DNS for a while.
 */
#include <sys/tree.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "proc.h"
#include "util.h"
#include "mta_cache.h"
#include "mta_core.h"
#include "mta_dns.h"
#include "mta_route.h"

#define MTA_ADDR_MAX	8	/* addresses kept per family and host */

struct mta_resolve_host {
	struct mta_resolve	*res;
	char			 name[CONF_HOST_MAX];
	int			 pref;		/* MX preference */
	struct mta_dns_query	*q4, *q6;
	uint8_t			 a4[MTA_ADDR_MAX][4];
	uint8_t			 a6[MTA_ADDR_MAX][16];
	size_t			 n4, n6;
	int			 tempfail;
};

struct mta_resolve {
	struct mta_batch	*b;
	uint16_t		 port;
	int			 implicit;	/* the domain is its own MX */
	int			 is_static;	/* a route host */
	/* the smallest TTL of the answers: how long the hops may be kept */
	uint32_t		 ttl;
	struct mta_dns_query	*mxq;
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

static void	mta_route_hosts_lookup(struct mta_resolve *);

static int
mta_route_qid_cmp(struct mta_batch *a, struct mta_batch *b)
{
	return a->qid < b->qid ? -1 : a->qid > b->qid;
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
	if (lit == 1) {
		(void)strlcpy(hop->name, host + 1, sizeof(hop->name));
		hop->name[strcspn(hop->name, "]")] = '\0';
		b->hops = hop;
		b->nhops = 1;
		mta_cache_put(b->domain, 1, time(NULL), MTA_CACHE_TTL_STATIC,
		    hop, 1);
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
		    "Domain %s does not accept mail (null MX)", b->domain);
		return;
	}
	mta_route_mx_sort(mx, n);
	n = mta_route_mx_prune(mx, n, conf->hostname, &self);
	if (n == 0 && self) {
		mta_batch_error(b, STATUS_PERMFAIL, "5.4.6",
		    "MX list for %s points back to %s", b->domain,
		    conf->hostname);
		return;
	}
	if (n == 0) {
		mta_batch_error(b, STATUS_TEMPFAIL, "4.4.3",
		    "no usable MX record for %s", b->domain);
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
	switch (a->status) {
	case MTA_DNS_NXDOMAIN:
		mta_batch_error(b, STATUS_PERMFAIL, "5.1.2",
		    "Host unknown: %s", b->domain);
		return;
	case MTA_DNS_FAIL:
		mta_batch_error(b, STATUS_TEMPFAIL, "4.4.3",
		    "DNS error looking up MX for %s: %s", b->domain, a->why);
		return;
	case MTA_DNS_NODATA:
		r->implicit = 1;
		r->hosts = xcalloc(1, sizeof(*r->hosts));
		r->nhosts = 1;
		(void)strlcpy(r->hosts[0].name, b->domain,
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
			log_info("malformed MX record for %s", b->domain);
			continue;
		}
		mx[n++].pref = pref;
	}
	if (n == 0)
		mta_batch_error(b, STATUS_TEMPFAIL, "4.4.3",
		    "DNS error looking up MX for %s: malformed answer",
		    b->domain);
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
		    "Host unknown: %s has no MX or address record", b->domain);
	else if (r->is_static)
		mta_batch_error(b, STATUS_TEMPFAIL, "4.4.3",
		    "no address for next hop %s", r->hosts[0].name);
	else
		mta_batch_error(b, STATUS_PERMFAIL, "5.4.4",
		    "no address for any MX host of %s", b->domain);
}

/* One A or AAAA lookup ended; when the last has, build the hops. */
static void
mta_route_addr_done(struct mta_resolve_host *h, int v6,
    const struct mta_dns_answer *a)
{
	struct mta_resolve	*r = h->res;
	struct mta_batch	*b;
	size_t			 i, want = v6 ? 16 : 4;

	if (a->status == MTA_DNS_FAIL)
		h->tempfail = 1;
	else
		mta_route_ttl(r, a);
	for (i = 0; a->status == MTA_DNS_OK && i < a->count; i++) {
		if ((size_t)a->rdlen[i] != want)
			continue;
		if (v6 && h->n6 < MTA_ADDR_MAX)
			memcpy(h->a6[h->n6++], a->rdata[i], 16);
		else if (!v6 && h->n4 < MTA_ADDR_MAX)
			memcpy(h->a4[h->n4++], a->rdata[i], 4);
	}
	if (--r->pending > 0)
		return;
	mta_route_hops_build(r);
	if (r->b->nhops == 0) {
		mta_route_no_address(r);
		return;
	}
	b = r->b;
	mta_cache_put(b->domain, r->is_static, time(NULL), r->ttl, b->hops,
	    b->nhops);
	mta_route_resolve_free(r);
	b->state = MTA_BATCH_NEW;
	mta_batch_hops_ready(b);
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
	}
}

/* IMSG_POLICY_ROUTE_RESULT: the route for one of our questions. */
void
mta_route_imsg_result(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct mta_batch	*b, key;
	uint32_t		 kind, port, code;
	char			 host[CONF_HOST_MAX], text[MTA_ERR_MAX];
	char			 enh[MTA_ENH_MAX];
	size_t			 skip;

	kind = imsg_get_u32(m);
	(void)imsg_get_strbuf(m, host, sizeof(host));
	port = imsg_get_u32(m);
	code = imsg_get_u32(m);
	(void)imsg_get_strbuf(m, text, sizeof(text));
	if (imsg_get_end(m) == -1 || kind > ROUTE_ERROR || port > 65535) {
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
	if (kind == ROUTE_HOST) {
		mta_route_static(b, host, (uint16_t)port);
		return;
	}
	if (kind == ROUTE_MX) {
		if (mta_route_resolve_new(b, 0) == 0 &&
		    (b->resolve->mxq = mta_dns_query(b->domain, MTA_DNS_T_MX,
		    mta_route_mx_cb, b->resolve)) == NULL)
			mta_batch_fail_all(b, STATUS_TEMPFAIL, "4.3.0",
			    "out of memory");
		return;
	}
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
