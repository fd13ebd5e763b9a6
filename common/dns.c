/*
 * dns.c: libunbound contexts for the processes that resolve, and the
 * decoding of names in the rdata libunbound hands out.
 *
 * Interface in dns.h.  The resolver runs in a libunbound thread (not a
 * forked process, which would double the memory); its answers come back
 * through ub_fd(), watched by libevent in the process's event loop.  A
 * context counts its holders: its resolver while it is the system or the
 * current one, every open query, and ub_process() while it runs the
 * callbacks.  It is freed when the count drops to 0, so a replaced
 * context outlives its last query.
 *
 * Failure behaviour: a context that cannot be made for a new resolver is
 * logged and the old one kept; unreadable /etc/resolv.conf or /etc/hosts
 * are logged and the context made without them.  The name decoder
 * refuses anything that is not a plain, bounded name.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <unbound.h>

#include "config.h"
#include "dns.h"
#include "log.h"
#include "proc.h"

struct dns_ctx {
	struct ub_ctx	*ub;
	struct event	*ev;
	int		 nref;		/* queries using it, and its resolver */
};

/*
 * The options of every context: asynchronous (a thread), small caches,
 * loopback resolvers allowed, and names under "test." asked of the
 * resolver rather than refused locally.
 */
static const char *const dns_options[] = {
	"do-not-query-localhost:", "no",
	"msg-cache-size:", "256k",
	"rrset-cache-size:", "256k",
	"key-cache-size:", "64k",
	"neg-cache-size:", "64k",
	"infra-cache-numhosts:", "64",
	"outgoing-range:", "64",
	"local-zone:", "test. transparent",
	NULL
};

/* Set name, value pairs up to NULL; -1 if libunbound refuses one. */
static int
dns_ctx_set(struct ub_ctx *ub, const char *const *opt)
{
	for (; opt != NULL && opt[0] != NULL; opt += 2)
		if (ub_ctx_set_option(ub, opt[0], opt[1]) != 0)
			return -1;
	return 0;
}

/* Drop a hold; the last one frees the context. */
static void
dns_ctx_release(struct dns_ctx *ctx)
{
	if (--ctx->nref > 0)
		return;
	event_free(ctx->ev);
	ub_ctx_delete(ctx->ub);
	free(ctx);
}

/* Answers are ready on the resolver pipe: run the callbacks. */
static void
dns_ctx_readable(int fd, short ev, void *arg)
{
	struct dns_ctx	*ctx = arg;
	int		 r;

	(void)fd;
	(void)ev;
	ctx->nref++;		/* a callback may drop the last query */
	if ((r = ub_process(ctx->ub)) != 0)
		log_warnx("resolver: %s", ub_strerror(r));
	dns_ctx_release(ctx);
}

/* A context held once (by its maker), watched by the event loop. */
static struct dns_ctx *
dns_ctx_new(const char *const *options)
{
	struct dns_ctx	*ctx;

	if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
		return NULL;
	if ((ctx->ub = ub_ctx_create()) == NULL) {
		free(ctx);
		return NULL;
	}
	if (ub_ctx_async(ctx->ub, 1) != 0 ||
	    dns_ctx_set(ctx->ub, dns_options) == -1 ||
	    dns_ctx_set(ctx->ub, options) == -1 ||
	    (ctx->ev = event_new(proc_base, ub_fd(ctx->ub),
	    EV_READ | EV_PERSIST, dns_ctx_readable, ctx)) == NULL ||
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

/* Each record of the anchor text to ub; -1 (logged) if one is refused. */
static int
dns_ctx_anchor(struct ub_ctx *ub, const char *text)
{
	char	 line[1024];
	size_t	 n;
	int	 r;

	while (*text != '\0') {
		n = strcspn(text, "\n");
		if (n >= sizeof(line)) {
			log_warnx("dnssec trust-anchor: line too long");
			return -1;
		}
		memcpy(line, text, n);
		line[n] = '\0';
		text += n + (text[n] == '\n');
		line[strcspn(line, ";")] = '\0';
		if (line[strspn(line, " \t\r")] == '\0')
			continue;
		if ((r = ub_ctx_add_ta(ub, line)) != 0) {
			log_warnx("dnssec trust-anchor: %s", ub_strerror(r));
			return -1;
		}
	}
	return 0;
}

int
dns_resolver_anchor(struct dns_resolver *res, const char *text)
{
	char	*copy;

	if (res->anchor != NULL && strcmp(res->anchor, text) == 0)
		return 1;
	if ((copy = strdup(text)) == NULL) {
		log_warnx("dnssec trust-anchor: out of memory");
		return -1;
	}
	free(res->anchor);
	res->anchor = copy;
	res->anchor_changed = 1;
	return dns_ctx_anchor(res->system->ub, text);
}

/* Before the chroot: the context that reads the system's files. */
int
dns_resolver_init(struct dns_resolver *res, const char *const *options)
{
	int	 r;

	memset(res, 0, sizeof(*res));
	res->options = options;
	if ((res->system = dns_ctx_new(options)) == NULL)
		return -1;
	if ((r = ub_ctx_resolvconf(res->system->ub, "/etc/resolv.conf")))
		log_warnx("/etc/resolv.conf: %s", ub_strerror(r));
	if ((r = ub_ctx_hosts(res->system->ub, "/etc/hosts")))
		log_warnx("/etc/hosts: %s", ub_strerror(r));
	res->cur = res->system;
	return 0;
}

/* Switch to the resolver the config names (or back to the system's). */
int
dns_resolver_configure(struct dns_resolver *res, const struct config *c)
{
	struct dns_ctx	*ctx, *old = res->cur;
	char		 fwd[sizeof(res->fwd)];
	int		 r = 0;

	fwd[0] = '\0';
	if (c->resolver_set)
		(void)snprintf(fwd, sizeof(fwd), "%s@%u", c->resolver_addr,
		    c->resolver_port ? c->resolver_port : 53);
	if (old == NULL || (strcmp(fwd, res->fwd) == 0 &&
	    !res->anchor_changed))
		return 0;
	res->anchor_changed = 0;
	if (fwd[0] == '\0')
		ctx = res->system;
	else if ((ctx = dns_ctx_new(res->options)) == NULL ||
	    (r = ub_ctx_set_fwd(ctx->ub, fwd)) != 0 ||
	    (res->anchor != NULL && dns_ctx_anchor(ctx->ub, res->anchor))) {
		log_warnx("cannot use resolver %s: %s", fwd,
		    ctx == NULL ? "out of memory" : ub_strerror(r));
		if (ctx != NULL)
			dns_ctx_release(ctx);
		return -1;
	}
	(void)strlcpy(res->fwd, fwd, sizeof(res->fwd));
	res->cur = ctx;
	if (old != res->system)
		dns_ctx_release(old);
	return 1;
}

int
dns_query_open(struct dns_query *q, struct dns_resolver *res,
    dns_query_cb cb, void (*timeout)(int, short, void *), void *arg)
{
	memset(q, 0, sizeof(*q));
	if ((q->timer = evtimer_new(proc_base, timeout, arg)) == NULL)
		return -1;
	q->ctx = res->cur;
	q->ctx->nref++;
	q->cb = cb;
	q->arg = arg;
	return 0;
}

/* libunbound's answer, from ub_process() in the event loop. */
static void
dns_query_done(void *arg, int err, struct ub_result *res)
{
	struct dns_query	*q = arg;

	/* the owner may free the query from its callback */
	q->running = 0;
	q->cb(q->arg, err, res);
}

int
dns_query_ask(struct dns_query *q, const char *name, int type)
{
	int	 r;

	r = ub_resolve_async(q->ctx->ub, name, type, 1, q, dns_query_done,
	    &q->async_id);
	if (r != 0) {
		log_warnx("resolver: %s", ub_strerror(r));
		return -1;
	}
	q->running = 1;
	return 0;
}

void
dns_query_timer(struct dns_query *q, int seconds)
{
	struct timeval	 tv;

	tv.tv_sec = seconds;
	tv.tv_usec = 0;
	(void)evtimer_add(q->timer, &tv);
}

void
dns_query_cancel(struct dns_query *q)
{
	if (q->running)
		(void)ub_cancel(q->ctx->ub, q->async_id);
	q->running = 0;
}

void
dns_query_close(struct dns_query *q)
{
	dns_query_cancel(q);
	event_free(q->timer);
	dns_ctx_release(q->ctx);
}

int
dns_name_parse(const uint8_t *rd, size_t len, char *name, size_t size)
{
	size_t	 i = 0, n = 0, l, k;
	uint8_t	 c;

	if (len < 1 || size == 0)
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
			if (c <= 0x20 || c >= 0x7f || c == '.' || c == '\\' ||
			    n + 1 >= size || n + 1 >= DNS_NAME_MAX)
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
