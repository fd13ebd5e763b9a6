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
 * come back through ub_fd(), watched by libevent.
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

#include <event2/event.h>
#include <unbound.h>

#include "config.h"
#include "log.h"
#include "proc.h"
#include "smtp_dns.h"

#define SMTP_DNS_T_A		1
#define SMTP_DNS_T_PTR		12
#define SMTP_DNS_T_AAAA		28

struct smtp_dns_ctx {
	struct ub_ctx	*ub;
	struct event	*ev;
	int		 nref;		/* lookups using it, and its owner */
};

struct smtp_dns_lookup {
	struct smtp_dns_ctx	*ctx;
	struct event		*timer;
	int			 async_id;
	int			 running;
	int			 forward;	/* the PTR name is asked */
	smtp_dns_cb		 cb;
	void			*arg;
	uint8_t			 bin[16];
	size_t			 binlen;
	char			 name[SMTP_DNS_NAME_MAX];
	char			 qname[80];
};

/* made before the chroot from the system files; never freed */
static struct smtp_dns_ctx	*smtp_dns_system;
/* in use: the system one or one forwarding to the configured resolver */
static struct smtp_dns_ctx	*smtp_dns_cur;
static char			 smtp_dns_fwd[80];

/* the counter of each outcome (smtpd(8) STATISTICS) */
static const char *const smtp_dns_counter[] = {
	[SMTP_DNS_NONE] = "smtp.dns.none",
	[SMTP_DNS_OK] = "smtp.dns.ok",
	[SMTP_DNS_FAIL] = "smtp.dns.fail",
	[SMTP_DNS_FORGED] = "smtp.dns.forged",
	[SMTP_DNS_TEMP] = "smtp.dns.temp",
};

static void	smtp_dns_query_done(void *, int, struct ub_result *);

static void
smtp_dns_ctx_release(struct smtp_dns_ctx *ctx)
{
	if (--ctx->nref > 0)
		return;
	event_free(ctx->ev);
	ub_ctx_delete(ctx->ub);
	free(ctx);
}

/* Answers are ready on the resolver pipe: run the callbacks. */
static void
smtp_dns_readable(int fd, short ev, void *arg)
{
	struct smtp_dns_ctx	*ctx = arg;
	int			 r;

	(void)fd;
	(void)ev;
	ctx->nref++;		/* a callback may drop the last lookup */
	if ((r = ub_process(ctx->ub)) != 0)
		log_warnx("resolver: %s", ub_strerror(r));
	smtp_dns_ctx_release(ctx);
}

/*
 * The options of every context: small caches, loopback resolvers
 * allowed, and the reverse zones libunbound would otherwise answer
 * itself (private networks, 127/8 but 127.0.0.1) asked of the resolver
 * like any other.
 */
static int
smtp_dns_ctx_options(struct ub_ctx *ub)
{
	return ub_ctx_async(ub, 1) != 0 ||
	    ub_ctx_set_option(ub, "do-not-query-localhost:", "no") ||
	    ub_ctx_set_option(ub, "msg-cache-size:", "256k") ||
	    ub_ctx_set_option(ub, "rrset-cache-size:", "256k") ||
	    ub_ctx_set_option(ub, "key-cache-size:", "64k") ||
	    ub_ctx_set_option(ub, "neg-cache-size:", "64k") ||
	    ub_ctx_set_option(ub, "infra-cache-numhosts:", "64") ||
	    ub_ctx_set_option(ub, "outgoing-range:", "64") ||
	    ub_ctx_set_option(ub, "unblock-lan-zones:", "yes") ||
	    ub_ctx_set_option(ub, "insecure-lan-zones:", "yes") ||
	    ub_ctx_set_option(ub, "local-zone:",
	    "127.in-addr.arpa. transparent") ||
	    ub_ctx_set_option(ub, "local-zone:", "test. transparent") ? -1 : 0;
}

static struct smtp_dns_ctx *
smtp_dns_ctx_new(void)
{
	struct smtp_dns_ctx	*ctx;

	if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
		return NULL;
	if ((ctx->ub = ub_ctx_create()) == NULL) {
		free(ctx);
		return NULL;
	}
	if (smtp_dns_ctx_options(ctx->ub) == -1 ||
	    (ctx->ev = event_new(proc_base, ub_fd(ctx->ub),
	    EV_READ | EV_PERSIST, smtp_dns_readable, ctx)) == NULL ||
	    event_add(ctx->ev, NULL) == -1) {
		if (ctx->ev != NULL)
			event_free(ctx->ev);
		ub_ctx_delete(ctx->ub);
		free(ctx);
		return NULL;
	}
	ctx->nref = 1;
	return ctx;
}

/* Before the chroot: the context that reads the system's files. */
int
smtp_dns_init(void)
{
	int	 r;

	if ((smtp_dns_system = smtp_dns_ctx_new()) == NULL)
		return -1;
	if ((r = ub_ctx_resolvconf(smtp_dns_system->ub, "/etc/resolv.conf")))
		log_warnx("/etc/resolv.conf: %s", ub_strerror(r));
	if ((r = ub_ctx_hosts(smtp_dns_system->ub, "/etc/hosts")))
		log_warnx("/etc/hosts: %s", ub_strerror(r));
	smtp_dns_cur = smtp_dns_system;
	return 0;
}

/* Switch to the resolver the config names (or back to the system's). */
void
smtp_dns_configure(const struct config *c)
{
	struct smtp_dns_ctx	*ctx, *old = smtp_dns_cur;
	char			 fwd[sizeof(smtp_dns_fwd)];
	int			 r = 0;

	fwd[0] = '\0';
	if (c->resolver_set)
		(void)snprintf(fwd, sizeof(fwd), "%s@%u", c->resolver_addr,
		    c->resolver_port ? c->resolver_port : 53);
	if (old == NULL || strcmp(fwd, smtp_dns_fwd) == 0)
		return;
	if (fwd[0] == '\0')
		ctx = smtp_dns_system;
	else if ((ctx = smtp_dns_ctx_new()) == NULL ||
	    (r = ub_ctx_set_fwd(ctx->ub, fwd)) != 0) {
		log_warnx("cannot use resolver %s: %s", fwd,
		    ctx == NULL ? "out of memory" : ub_strerror(r));
		if (ctx != NULL)
			smtp_dns_ctx_release(ctx);
		return;
	}
	(void)strlcpy(smtp_dns_fwd, fwd, sizeof(smtp_dns_fwd));
	smtp_dns_cur = ctx;
	if (old != smtp_dns_system)
		smtp_dns_ctx_release(old);
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

int
smtp_dns_name_parse(const uint8_t *rd, size_t len, char *name, size_t size)
{
	size_t	 i = 0, n = 0, l, k;
	uint8_t	 c;

	if (len < 2 || size == 0)
		return -1;
	while ((l = rd[i++]) != 0) {
		/* compression pointers and extended labels have no place in
		 * the decompressed rdata libunbound hands out */
		if (l > 63 || i + l >= len)
			return -1;
		if (n != 0)
			name[n++] = '.';
		for (k = 0; k < l; k++) {
			c = rd[i + k];
			if ((!isalnum(c) && c != '-' && c != '_') ||
			    n + 2 >= size)
				return -1;
			name[n++] = (char)tolower(c);
		}
		i += l;
	}
	if (i != len || n == 0)
		return -1;
	name[n] = '\0';
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
	event_free(l->timer);
	smtp_dns_ctx_release(l->ctx);
	free(l);
}

/* Ask one question; a refusal to start ends the lookup from the loop. */
static void
smtp_dns_ask(struct smtp_dns_lookup *l, const char *qname, int type)
{
	struct timeval	 now = { 0, 0 };
	int		 r;

	l->running = 0;
	r = ub_resolve_async(l->ctx->ub, qname, type, 1, l,
	    smtp_dns_query_done, &l->async_id);
	if (r != 0) {
		log_warnx("resolver: %s", ub_strerror(r));
		(void)evtimer_add(l->timer, &now);
		return;
	}
	l->running = 1;
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

	l->running = 0;
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
	if (l->running)
		(void)ub_cancel(l->ctx->ub, l->async_id);
	l->running = 0;
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
	struct timeval		 tv;
	int			 n;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	if ((l->timer = evtimer_new(proc_base, smtp_dns_timeout, l)) == NULL) {
		free(l);
		return NULL;
	}
	l->ctx = smtp_dns_cur;
	l->ctx->nref++;
	l->cb = cb;
	l->arg = arg;
	tv.tv_sec = timeout;
	tv.tv_usec = 0;
	(void)evtimer_add(l->timer, &tv);
	stats_add("smtp.dns.lookup", 1);
	n = smtp_dns_ptr_qname(addr, l->qname, sizeof(l->qname), l->bin);
	if (n == -1) {
		/* not an IP address ("unknown"): nothing to look up */
		tv.tv_sec = 0;
		(void)evtimer_add(l->timer, &tv);
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
	if (l->running)
		(void)ub_cancel(l->ctx->ub, l->async_id);
	event_free(l->timer);
	smtp_dns_ctx_release(l->ctx);
	free(l);
}
