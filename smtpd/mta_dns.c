/*
 * mta_dns.c: libunbound glue and DNS record decoding for the outbound
 * client.
 *
 * Interface in mta_dns.h.  The resolver runs in a libunbound thread (not
 * a forked process, which would double the memory); its answers come
 * back through ub_fd().  Failure behaviour: if a context cannot be made
 * the process keeps the old one and logs; a query that cannot be started
 * is answered MTA_DNS_FAIL from the event loop, never re-entrantly.  The
 * rdata decoder refuses anything that is not a plain, bounded name.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <unbound.h>

#include "config.h"
#include "log.h"
#include "proc.h"
#include "mta_dns.h"

struct mta_dns_ctx {
	struct ub_ctx	*ub;
	struct event	*ev;
	int		 nquery;	/* queries started and not ended */
	int		 retired;	/* replaced: free when nquery is 0 */
};

struct mta_dns_query {
	struct mta_dns_ctx	*ctx;
	int			 async_id;
	int			 running;
	struct event		*timer;
	mta_dns_cb		 cb;
	void			*arg;
	char			 name[MTA_DNS_NAME_MAX];
};

/* made before the chroot from the system files; never freed */
static struct mta_dns_ctx	*mta_dns_system;
/* in use: the system one or one forwarding to the configured resolver */
static struct mta_dns_ctx	*mta_dns_cur;
static char			 mta_dns_fwd[80];

static void	mta_dns_ctx_release(struct mta_dns_ctx *);

/* Data is ready on the resolver pipe: run the callbacks. */
static void
mta_dns_readable(int fd, short ev, void *arg)
{
	struct mta_dns_ctx	*ctx = arg;
	int			 r;

	ctx->nquery++;		/* hold it over the callbacks */
	if ((r = ub_process(ctx->ub)) != 0)
		log_warnx("resolver: %s", ub_strerror(r));
	mta_dns_ctx_release(ctx);
}

/* A context with the options every one of ours gets. */
static struct mta_dns_ctx *
mta_dns_ctx_new(void)
{
	struct mta_dns_ctx	*ctx;

	if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
		return NULL;
	if ((ctx->ub = ub_ctx_create()) == NULL) {
		free(ctx);
		return NULL;
	}
	if (ub_ctx_async(ctx->ub, 1) != 0 ||
	    ub_ctx_set_option(ctx->ub, "do-not-query-localhost:", "no") ||
	    ub_ctx_set_option(ctx->ub, "msg-cache-size:", "256k") ||
	    ub_ctx_set_option(ctx->ub, "rrset-cache-size:", "256k") ||
	    ub_ctx_set_option(ctx->ub, "key-cache-size:", "64k") ||
	    ub_ctx_set_option(ctx->ub, "neg-cache-size:", "64k") ||
	    ub_ctx_set_option(ctx->ub, "infra-cache-numhosts:", "64") ||
	    ub_ctx_set_option(ctx->ub, "outgoing-range:", "64") ||
	    ub_ctx_set_option(ctx->ub, "local-zone:", "test. transparent") ||
	    (ctx->ev = event_new(proc_base, ub_fd(ctx->ub),
	    EV_READ | EV_PERSIST, mta_dns_readable, ctx)) == NULL ||
	    event_add(ctx->ev, NULL) == -1) {
		if (ctx->ev != NULL)
			event_free(ctx->ev);
		ub_ctx_delete(ctx->ub);
		free(ctx);
		return NULL;
	}
	return ctx;
}

/* Drop a reference; a retired context goes once its queries ended. */
static void
mta_dns_ctx_release(struct mta_dns_ctx *ctx)
{
	if (--ctx->nquery > 0 || !ctx->retired)
		return;
	event_free(ctx->ev);
	ub_ctx_delete(ctx->ub);
	free(ctx);
}

/* Before the chroot: the context that reads the system's files. */
int
mta_dns_init(void)
{
	int	 r;

	if ((mta_dns_system = mta_dns_ctx_new()) == NULL)
		return -1;
	if ((r = ub_ctx_resolvconf(mta_dns_system->ub, "/etc/resolv.conf")))
		log_warnx("/etc/resolv.conf: %s", ub_strerror(r));
	if ((r = ub_ctx_hosts(mta_dns_system->ub, "/etc/hosts")))
		log_warnx("/etc/hosts: %s", ub_strerror(r));
	mta_dns_cur = mta_dns_system;
	return 0;
}

/* Switch to the resolver the config names (or back to the system's). */
void
mta_dns_configure(const struct config *c)
{
	struct mta_dns_ctx	*ctx, *old = mta_dns_cur;
	char			 fwd[sizeof(mta_dns_fwd)];
	int			 r;

	fwd[0] = '\0';
	if (c->resolver_set)
		(void)snprintf(fwd, sizeof(fwd), "%s@%u", c->resolver_addr,
		    c->resolver_port ? c->resolver_port : 53);
	if (strcmp(fwd, mta_dns_fwd) == 0)
		return;
	if (fwd[0] == '\0')
		ctx = mta_dns_system;
	else if ((ctx = mta_dns_ctx_new()) == NULL ||
	    (r = ub_ctx_set_fwd(ctx->ub, fwd)) != 0) {
		log_warnx("cannot use resolver %s: %s", fwd,
		    ctx == NULL ? "out of memory" : ub_strerror(r));
		if (ctx != NULL) {
			ctx->retired = 1;
			ctx->nquery = 1;
			mta_dns_ctx_release(ctx);
		}
		return;
	}
	log_debug("resolver %s", fwd[0] ? fwd : "from /etc/resolv.conf");
	(void)strlcpy(mta_dns_fwd, fwd, sizeof(mta_dns_fwd));
	mta_dns_cur = ctx;
	if (old != mta_dns_system && old != NULL) {
		old->retired = 1;
		old->nquery++;
		mta_dns_ctx_release(old);
	}
}

static void
mta_dns_query_free(struct mta_dns_query *q)
{
	event_free(q->timer);
	mta_dns_ctx_release(q->ctx);
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

/* The query ran out of time, or could not be started at all. */
static void
mta_dns_timeout(int fd, short ev, void *arg)
{
	struct mta_dns_query	*q = arg;

	if (!q->running) {
		mta_dns_query_fail(q, "cannot start query");
		return;
	}
	(void)ub_cancel(q->ctx->ub, q->async_id);
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
	struct timeval		 tv = { MTA_DNS_TIMEOUT, 0 };
	int			 r;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	if ((q->timer = evtimer_new(proc_base, mta_dns_timeout, q)) == NULL) {
		free(q);
		return NULL;
	}
	q->ctx = mta_dns_cur;
	q->ctx->nquery++;
	q->cb = cb;
	q->arg = arg;
	(void)snprintf(q->name, sizeof(q->name), "%s/%s", name,
	    type == MTA_DNS_T_MX ? "MX" : type == MTA_DNS_T_A ? "A" : "AAAA");
	stats_add("mta.dns.query", 1);
	r = ub_resolve_async(q->ctx->ub, name, type, 1, q, mta_dns_done,
	    &q->async_id);
	if (r != 0) {
		log_warnx("resolver: %s", ub_strerror(r));
		tv.tv_sec = 0;
	} else
		q->running = 1;
	(void)evtimer_add(q->timer, &tv);
	return q;
}

void
mta_dns_cancel(struct mta_dns_query *q)
{
	if (q == NULL)
		return;
	if (q->running)
		(void)ub_cancel(q->ctx->ub, q->async_id);
	mta_dns_query_free(q);
}

int
mta_dns_mx_parse(const uint8_t *rd, size_t len, uint16_t *pref, char *name,
    size_t size)
{
	size_t	 i = 2, n = 0, l, k;
	uint8_t	 c;

	if (len < 3 || size == 0)
		return -1;
	*pref = (uint16_t)(rd[0] << 8 | rd[1]);
	while ((l = rd[i++]) != 0) {
		/* compression pointers and extended labels have no place in
		 * the decompressed rdata libunbound hands out */
		if (l > 63 || i + l >= len)
			return -1;
		if (n != 0)
			name[n++] = '.';
		for (k = 0; k < l; k++) {
			c = rd[i + k];
			if (c <= 0x20 || c >= 0x7f || c == '.' || c == '\\' ||
			    n + 1 >= size || n + 1 >= MTA_DNS_NAME_MAX)
				return -1;
			name[n++] = (char)tolower(c);
		}
		i += l;
	}
	if (i != len)
		return -1;
	name[n] = '\0';
	return 0;
}
