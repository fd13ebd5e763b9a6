/*
 * smtp_client.c: what each client address is doing, so that one address
 * cannot take every session slot (Postfix's
 * smtpd_client_connection_count_limit, sendmail's ClientConn) nor
 * connect again and again (sendmail's ClientRate).
 *
 * Interface (smtp_session.h): smtp_client_hold() counts a new connection
 * of an address and, unless it is refused, its session;
 * smtp_client_release() uncounts the session when it ends;
 * smtp_client_limits() takes the ClientConn: and ClientRate: numbers
 * policyd found for the address and judges the session just counted
 * against them.  Limits: the address's own numbers from its last connect
 * verdict while the address is known here, else limit
 * sessions-per-address and limit connection-rate-per-address; 0 is no
 * limit.  A session is refused when the address already has as many
 * sessions as its limit; a connection when it is more than the rate
 * limit in the last SMTP_CLIENT_WINDOW seconds (sendmail's
 * ConnectionRateWindowSize, whose default is 60 s), counting every
 * connection, the refused ones too, as sendmail does.  Addresses are the
 * text of smtp_session.c (an IPv4-mapped IPv6 address counts as its IPv4
 * address); an IPv6 address counts on its own, not by prefix.  Counting
 * does not depend on the limits, so a reload that lowers one takes
 * effect at once.
 *
 * An address with no session is kept while it has connections in the
 * window, at most SMTP_CLIENT_IDLE_MAX of them (a sweep every window
 * drops the stale ones); beyond that a new idle address is forgotten at
 * once, so a flood from many addresses costs bounded memory and only
 * weakens the rate count.
 *
 * Failure behaviour: an address that cannot be counted for want of
 * memory is refused like one over its limit; nothing here logs.
 */
#include <sys/tree.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "proc.h"
#include "smtp_session.h"

#define SMTP_CLIENT_WINDOW	60	/* seconds of the connection rate */
#define SMTP_CLIENT_IDLE_MAX	16384	/* addresses kept without sessions */

/* One client address with sessions open or recent connections. */
struct smtp_client {
	RB_ENTRY(smtp_client)	 entry;
	size_t			 sessions;
	/* the last connect verdict's numbers, POLICY_LIMIT_NONE if none */
	uint32_t		 map_conn;
	uint32_t		 map_rate;
	/* connections per second of the window, rate[second % WINDOW];
	 * rate_last is the last second counted */
	int64_t			 rate_last;
	uint16_t		 rate[SMTP_CLIENT_WINDOW];
	char			 addr[INET6_ADDRSTRLEN];
};

RB_HEAD(smtp_client_tree, smtp_client);

static int	smtp_client_cmp(struct smtp_client *, struct smtp_client *);
/* libbsd leaves __unused undefined, so spell out RB_GENERATE_STATIC */
RB_GENERATE_INTERNAL(smtp_client_tree, smtp_client, entry, smtp_client_cmp,
    __attribute__((__unused__)) static)

static struct smtp_client_tree	 smtp_clients =
    RB_INITIALIZER(&smtp_clients);
static size_t			 smtp_client_nidle;
static struct event		*smtp_client_ev_sweep;

static int
smtp_client_cmp(struct smtp_client *a, struct smtp_client *b)
{
	return strcmp(a->addr, b->addr);
}

static struct smtp_client *
smtp_client_find(const char *addr)
{
	struct smtp_client	 key;

	(void)strlcpy(key.addr, addr, sizeof(key.addr));
	return RB_FIND(smtp_client_tree, &smtp_clients, &key);
}

static int64_t
smtp_client_now(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

/* Forget the seconds that have left the window. */
static void
smtp_client_advance(struct smtp_client *c, int64_t now)
{
	int64_t	 t;

	if (now - c->rate_last >= SMTP_CLIENT_WINDOW)
		memset(c->rate, 0, sizeof(c->rate));
	else
		for (t = c->rate_last + 1; t <= now; t++)
			c->rate[t % SMTP_CLIENT_WINDOW] = 0;
	c->rate_last = now;
}

/* Connections of the window, the one being counted included. */
static size_t
smtp_client_rate_of(struct smtp_client *c)
{
	size_t	 i, n = 0;

	smtp_client_advance(c, smtp_client_now());
	for (i = 0; i < SMTP_CLIENT_WINDOW; i++)
		n += c->rate[i];
	return n;
}

size_t
smtp_client_sessions(const char *addr)
{
	struct smtp_client	*c = smtp_client_find(addr);

	return c != NULL ? c->sessions : 0;
}

size_t
smtp_client_rate(const char *addr)
{
	struct smtp_client	*c = smtp_client_find(addr);

	return c != NULL ? smtp_client_rate_of(c) : 0;
}

static void
smtp_client_free(struct smtp_client *c)
{
	RB_REMOVE(smtp_client_tree, &smtp_clients, c);
	free(c);
}

/* Every window: drop the addresses with neither sessions nor
 * connections left in it. */
static void
smtp_client_sweep(int fd, short ev, void *arg)
{
	struct smtp_client	*c, *next;
	struct timeval		 tv = { SMTP_CLIENT_WINDOW, 0 };

	(void)fd;
	(void)ev;
	(void)arg;
	RB_FOREACH_SAFE(c, smtp_client_tree, &smtp_clients, next)
		if (c->sessions == 0 && smtp_client_rate_of(c) == 0) {
			smtp_client_free(c);
			smtp_client_nidle--;
		}
	(void)evtimer_add(smtp_client_ev_sweep, &tv);
}

static void
smtp_client_sweep_start(void)
{
	struct timeval	 tv = { SMTP_CLIENT_WINDOW, 0 };

	if (smtp_client_ev_sweep != NULL)
		return;
	if ((smtp_client_ev_sweep = evtimer_new(proc_base, smtp_client_sweep,
	    NULL)) != NULL)
		(void)evtimer_add(smtp_client_ev_sweep, &tv);
}

static struct smtp_client *
smtp_client_get(const char *addr)
{
	struct smtp_client	*c;

	if ((c = smtp_client_find(addr)) != NULL)
		return c;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	(void)strlcpy(c->addr, addr, sizeof(c->addr));
	c->map_conn = c->map_rate = POLICY_LIMIT_NONE;
	c->rate_last = smtp_client_now();
	RB_INSERT(smtp_client_tree, &smtp_clients, c);
	/* counted idle until its session is */
	smtp_client_nidle++;
	smtp_client_sweep_start();
	return c;
}

static size_t
smtp_client_conn_limit(const struct smtp_client *c)
{
	return c->map_conn != POLICY_LIMIT_NONE ? c->map_conn :
	    conf->limit_sessions_per_address;
}

static size_t
smtp_client_rate_limit(const struct smtp_client *c)
{
	return c->map_rate != POLICY_LIMIT_NONE ? c->map_rate :
	    conf->limit_connection_rate_per_address;
}

/* An address left without a session: kept for its rate, within bounds. */
static void
smtp_client_idle(struct smtp_client *c)
{
	if (smtp_client_nidle >= SMTP_CLIENT_IDLE_MAX) {
		smtp_client_free(c);
		return;
	}
	smtp_client_nidle++;
}

enum smtp_client_verdict
smtp_client_hold(const char *addr, struct smtp_client_place *place)
{
	struct smtp_client	*c;
	size_t			 limit;
	uint16_t		*slot;

	if ((c = smtp_client_get(addr)) == NULL)
		return SMTP_CLIENT_SESSIONS;
	smtp_client_advance(c, smtp_client_now());
	slot = &c->rate[c->rate_last % SMTP_CLIENT_WINDOW];
	if (*slot < UINT16_MAX)
		(*slot)++;
	limit = smtp_client_rate_limit(c);
	if (limit > 0 && smtp_client_rate_of(c) > limit)
		return SMTP_CLIENT_RATE;
	limit = smtp_client_conn_limit(c);
	if (limit > 0 && c->sessions >= limit)
		return c->map_conn != POLICY_LIMIT_NONE ? SMTP_CLIENT_CONN :
		    SMTP_CLIENT_SESSIONS;
	if (c->sessions++ == 0)
		smtp_client_nidle--;
	place->conn = c->sessions;
	place->rate = smtp_client_rate_of(c);
	return SMTP_CLIENT_OK;
}

enum smtp_client_verdict
smtp_client_limits(const char *addr, const struct smtp_client_place *place,
    uint32_t conn, uint32_t rate)
{
	struct smtp_client	*c;
	size_t			 limit;

	if ((c = smtp_client_find(addr)) == NULL)
		return SMTP_CLIENT_OK;
	c->map_conn = conn;
	c->map_rate = rate;
	if (rate != POLICY_LIMIT_NONE && rate > 0 && place->rate > rate)
		return SMTP_CLIENT_RATE;
	limit = smtp_client_conn_limit(c);
	if (conn != POLICY_LIMIT_NONE && limit > 0 && place->conn > limit)
		return SMTP_CLIENT_CONN;
	return SMTP_CLIENT_OK;
}

size_t
smtp_client_limit(const char *addr, enum smtp_client_verdict v)
{
	struct smtp_client	*c;

	if ((c = smtp_client_find(addr)) == NULL)
		return 0;
	return v == SMTP_CLIENT_RATE ? smtp_client_rate_limit(c) :
	    smtp_client_conn_limit(c);
}

void
smtp_client_release(const char *addr)
{
	struct smtp_client	*c;

	if ((c = smtp_client_find(addr)) == NULL || c->sessions == 0)
		return;
	if (--c->sessions > 0)
		return;
	smtp_client_idle(c);
}
