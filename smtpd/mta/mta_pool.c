/*
 * mta_pool.c: connections of the outbound client per next hop, their
 * reuse and their limits.
 *
 * Interface in mta_core.h.  A relay is an address and port; it counts its
 * connections (opening, busy or idle), keeps the idle ones for reuse and
 * queues the batches that found every slot taken.  Limits come from the
 * config in force: mta_host_connections per relay, mta_connections in
 * all, mta_messages_per_connection per connection.  When a slot frees,
 * the waiting batches of every relay are looked at again; an idle
 * connection is closed to make room for a blocked batch elsewhere.
 * Nothing here fails: out of memory is fatal through xcalloc().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "proc.h"
#include "util.h"
#include "mta_core.h"
#include "mta_sts.h"

#include <arpa/inet.h>
#include <netinet/in.h>

static TAILQ_HEAD(, mta_relay)	 mta_relays = TAILQ_HEAD_INITIALIZER(mta_relays);
static int			 mta_pool_nconn;
static int			 mta_pool_nidle;

/* The relay of a hop, made on first use. */
static struct mta_relay *
mta_pool_relay_get(const struct mta_hop *hop)
{
	struct mta_relay	*r;
	const void		*p;

	TAILQ_FOREACH(r, &mta_relays, entry)
		if (r->sslen == hop->sslen &&
		    memcmp(&r->ss, &hop->ss, hop->sslen) == 0)
			return r;
	r = xcalloc(1, sizeof(*r));
	r->ss = hop->ss;
	r->sslen = hop->sslen;
	TAILQ_INIT(&r->idle);
	TAILQ_INIT(&r->waiting);
	if (hop->ss.ss_family == AF_INET6) {
		p = &((const struct sockaddr_in6 *)&hop->ss)->sin6_addr;
		r->port = ntohs(((const struct sockaddr_in6 *)&hop->ss)->sin6_port);
	} else {
		p = &((const struct sockaddr_in *)&hop->ss)->sin_addr;
		r->port = ntohs(((const struct sockaddr_in *)&hop->ss)->sin_port);
	}
	if (inet_ntop(hop->ss.ss_family, p, r->addr, sizeof(r->addr)) == NULL)
		(void)strlcpy(r->addr, "?", sizeof(r->addr));
	TAILQ_INSERT_TAIL(&mta_relays, r, entry);
	return r;
}

static void
mta_pool_relay_gc(struct mta_relay *r)
{
	if (r->nconn > 0 || !TAILQ_EMPTY(&r->waiting))
		return;
	TAILQ_REMOVE(&mta_relays, r, entry);
	free(r);
}

static void
mta_pool_idle_remove(struct mta_session *s)
{
	if (!s->in_idle)
		return;
	TAILQ_REMOVE(&s->relay->idle, s, ientry);
	s->in_idle = 0;
	mta_pool_nidle--;
}

/* Take the first waiting batch of r, counting how long it waited. */
static struct mta_batch *
mta_pool_unwait(struct mta_relay *r)
{
	struct mta_batch	*b;

	if ((b = TAILQ_FIRST(&r->waiting)) == NULL)
		return NULL;
	TAILQ_REMOVE(&r->waiting, b, wentry);
	b->relay = NULL;
	stats_time_add("mta.pool.wait.us", "mta.pool.wait.count", b->wait_us);
	b->wait_us = 0;
	return b;
}

/* Open a connection for b on r; the slot is counted at once. */
static void
mta_pool_open(struct mta_relay *r, struct mta_batch *b)
{
	r->nconn++;
	mta_pool_nconn++;
	b->state = MTA_BATCH_SESSION;
	stats_add("mta.connection", 1);
	(void)mta_session_connect(r, b);
}

/* Close one idle connection, preferably not to r; 1 if one was. */
static int
mta_pool_evict(struct mta_relay *r)
{
	struct mta_relay	*o;

	TAILQ_FOREACH(o, &mta_relays, entry)
		if (o != r && !TAILQ_EMPTY(&o->idle)) {
			mta_session_quit(TAILQ_LAST(&o->idle, mta_session_list));
			return 1;
		}
	return 0;
}

/*
 * A host whose TLSA lookup failed or was bogus is deferred without a
 * connection (RFC 7672 2.2: never cleartext); 1 if so.
 */
static int
mta_pool_dane_temp(struct mta_batch *b, const struct mta_hop *hop)
{
	char	 text[MTA_ERR_MAX];

	if (hop->dane.state != MTA_DANE_TEMP ||
	    (b->msgflags & MSG_F_TLS_OPTIONAL))
		return 0;
	mta_dane_count("DANE_TEMP");
	mta_tlsrpt_dane(b->domain, hop->name, &hop->dane, "DANE_TEMP", NULL);
	(void)snprintf(text, sizeof(text), "DANE: TLSA lookup for %s "
	    "failed: %s (verify=DANE_TEMP)", hop->name, hop->dane.why);
	log_info("batch %08x: %s", b->id, text);
	mta_batch_hop_failed(b, 0, STATUS_TEMPFAIL, "4.7.5", text);
	return 1;
}

/* Give the batch a connection to its current hop, or queue it. */
void
mta_pool_acquire(struct mta_batch *b)
{
	struct mta_hop		*hop = &b->hops[b->hop];
	struct mta_relay	*r;
	struct mta_session	*s;

	if (mta_pool_dane_temp(b, hop))
		return;
	r = mta_pool_relay_get(hop);
	TAILQ_FOREACH(s, &r->idle, ientry)
		if (mta_dane_reuse_ok(s, hop))
			break;
	if (!b->fresh && s != NULL) {
		mta_pool_idle_remove(s);
		b->state = MTA_BATCH_SESSION;
		mta_session_start(s, b);
		return;
	}
	if (r->nconn < conf->mta_host_connections &&
	    (mta_pool_nconn < conf->mta_connections || mta_pool_evict(r))) {
		mta_pool_open(r, b);
		return;
	}
	TAILQ_INSERT_TAIL(&r->waiting, b, wentry);
	b->relay = r;
	b->state = MTA_BATCH_WAIT;
	b->wait_us = stats_clock_us();
}

/* Take a waiting batch out of its queue (it is done or aborted). */
void
mta_pool_cancel(struct mta_batch *b)
{
	struct mta_relay	*r = b->relay;

	if (b->state != MTA_BATCH_WAIT || r == NULL)
		return;
	TAILQ_REMOVE(&r->waiting, b, wentry);
	b->relay = NULL;
	b->state = MTA_BATCH_NEW;
	mta_pool_relay_gc(r);
}

/* Whether a batch waits only because of the global limit. */
static int
mta_pool_blocked(void)
{
	struct mta_relay	*r;

	TAILQ_FOREACH(r, &mta_relays, entry)
		if (!TAILQ_EMPTY(&r->waiting) &&
		    r->nconn < conf->mta_host_connections)
			return 1;
	return 0;
}

/* Start waiting batches while the limits allow. */
static void
mta_pool_kick(void)
{
	struct mta_relay	*r, *next;
	struct mta_batch	*b;

	for (r = TAILQ_FIRST(&mta_relays); r != NULL; r = next) {
		next = TAILQ_NEXT(r, entry);
		while (!TAILQ_EMPTY(&r->waiting) &&
		    r->nconn < conf->mta_host_connections &&
		    mta_pool_nconn < conf->mta_connections) {
			b = mta_pool_unwait(r);
			mta_pool_open(r, b);
		}
	}
}

/*
 * A transaction ended and the connection is still good: pass it to the
 * next batch for the same relay, keep it idle, or close it when it has
 * carried its share or its slot is wanted elsewhere.
 */
void
mta_pool_release(struct mta_session *s)
{
	struct mta_relay	*r = s->relay;
	struct mta_batch	*b;

	if (s->nmessages >= conf->mta_messages_per_connection) {
		mta_session_quit(s);
		return;
	}
	if ((b = mta_pool_unwait(r)) != NULL) {
		b->state = MTA_BATCH_SESSION;
		mta_session_start(s, b);
		return;
	}
	if (mta_pool_blocked()) {
		mta_session_quit(s);
		return;
	}
	TAILQ_INSERT_HEAD(&r->idle, s, ientry);
	s->in_idle = 1;
	mta_pool_nidle++;
	mta_session_idle(s);
}

/* The connection is going away: free its slot and reuse it. */
void
mta_pool_closed(struct mta_session *s)
{
	struct mta_relay	*r = s->relay;

	if (r == NULL)
		return;
	mta_pool_idle_remove(s);
	s->relay = NULL;
	r->nconn--;
	mta_pool_nconn--;
	mta_pool_kick();
	mta_pool_relay_gc(r);
}

/*
 * Close the idle connections of one relay.  Closing its last connection
 * frees r (mta_pool_relay_gc), so r is not looked at after that: the
 * next session is taken before each quit, and the loop ends on NULL.
 */
static void
mta_pool_relay_flush(struct mta_relay *r)
{
	struct mta_session	*s, *next;

	for (s = TAILQ_FIRST(&r->idle); s != NULL; s = next) {
		next = TAILQ_NEXT(s, ientry);
		mta_session_quit(s);
	}
}

/* IMSG_MTA_FLUSH_IDLE: close every idle connection. */
void
mta_pool_flush_idle(void)
{
	struct mta_relay	*r, *next;

	for (r = TAILQ_FIRST(&mta_relays); r != NULL; r = next) {
		next = TAILQ_NEXT(r, entry);
		mta_pool_relay_flush(r);
	}
}

/* The queue is gone: forget the waiting, close every connection. */
void
mta_pool_abort_all(void)
{
	struct mta_relay	*r;
	struct mta_batch	*b;

	TAILQ_FOREACH(r, &mta_relays, entry)
		while ((b = TAILQ_FIRST(&r->waiting)) != NULL) {
			TAILQ_REMOVE(&r->waiting, b, wentry);
			b->relay = NULL;
			b->state = MTA_BATCH_NEW;
		}
	mta_pool_flush_idle();
	mta_session_abort_all();
}

void
mta_pool_status(int *nconn, int *nidle)
{
	*nconn = mta_pool_nconn;
	*nidle = mta_pool_nidle;
}
