/*
 * policyd_pgsql.c: smtpd-policyd's client of a PostgreSQL policy store
 * (`database postgresql "CONNINFO"`), on the event loop: libpq in
 * non-blocking mode, PQconnectPoll, PQsendQueryPrepared, PQconsumeInput
 * and PQisBusy; the process never waits for the server.
 *
 * The policy library decides synchronously, so lookups go through a
 * cache of (map, key) answers, found or not.  A decision that needs a
 * key the cache lacks gets TMPF for it, the key is queued for the server
 * (once, however many decisions want it), and policyd_pgsql_missed()
 * tells the caller to park the request (policyd.c) instead of answering;
 * when answers come in, the retry function decides every parked request
 * again from the start, and what it already asked is now cached.  Each
 * pass learns at least one more key (unless the cache was dropped
 * meanwhile), so a decision of n lookups is made at most n + 1 times,
 * each time from memory.
 *
 * The cache is dropped whenever the maps may have changed: on every
 * NOTIFY POLICY_PG_CHANNEL (a trigger on the maps table sends it at each
 * commit, from smtpctl on any node), and when the connection is lost (a
 * notification may be missed until the next LISTEN, which precedes every
 * lookup of the new connection).  An answer to a query sent before a
 * drop is not cached.  At most PG_CACHE_MAX entries are kept; a full
 * cache is emptied.  Lookups go out in libpq's pipeline mode: the misses
 * of one pass of the event loop together, up to PG_PIPELINE_MAX on the
 * wire, the answers read in order.
 *
 * States: connecting (lookups wait), ready, empty (connected, but nobody
 * has made the maps: every map is empty, as with a missing SQLite file,
 * until a NOTIFY says they were made), and down (lost, or the server
 * refused us).  While down every lookup is TMPF at once, so that a client
 * gets 421 or 451 (never an accept), and a new connection is tried after
 * PG_BACKOFF_MIN seconds, doubling up to PG_BACKOFF_MAX; a connection not
 * made within PG_CONNECT_MAX seconds counts as refused.  Only a change of
 * state is logged.  A lookup the server answers with an error is TMPF for
 * PG_TMPF_TTL second.
 */
#include <sys/queue.h>

#include <event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "log.h"
#include "proc.h"
#include "util.h"
#include "policy.h"
#include "policyd.h"

#define PG_BACKOFF_MIN	1
#define PG_BACKOFF_MAX	30
#define PG_CONNECT_MAX	5	/* seconds a connection may take */
#define PG_CACHE_MAX	65536
#define PG_BUCKETS	8192
#define PG_TMPF_TTL	1
#define PG_STMT		"lookup"
#define PG_PIPELINE_MAX	256	/* lookups on the wire at once */

enum pg_state {
	PG_OFF,
	PG_CONNECTING,	/* PQconnectPoll, LISTEN, the schema, PREPARE */
	PG_READY,
	PG_EMPTY,	/* connected, listening, but no schema yet */
	PG_DOWN		/* waiting for the next try */
};

enum pg_step {
	PG_STEP_LISTEN,
	PG_STEP_VERSION,
	PG_STEP_PREPARE,
	PG_STEP_LOOKUP
};

enum pg_answer {
	PG_PENDING,
	PG_FOUND,
	PG_NOTFOUND,
	PG_TMPF
};

struct pg_entry {
	struct pg_entry		*next;
	enum pg_answer		 answer;
	char			*value;
	time_t			 expires;	/* PG_TMPF */
	size_t			 maplen;
	char			 mapkey[];	/* map '\0' key '\0' */
};

struct pg_query {
	TAILQ_ENTRY(pg_query)	 entry;
	uint64_t		 gen;		/* the cache's, when asked */
	char			*map;
	char			*key;
};

static struct {
	enum pg_state		 state;
	enum pg_step		 step;
	int			 schema_ok;
	int			 schema_missing;
	int			 recheck;	/* empty, and notified */
	int			 busy;		/* a command is on the wire */
	int			 failed;	/* ... and a result was an error */
	int			 logged_down;
	int			 backoff;
	PGconn			*conn;
	char			 conninfo[POLICY_CONNINFO_MAX];
	struct event		 ev_read;	/* PQconnectPoll's, then reads */
	struct event		 ev_write;	/* PQflush's, once connected */
	struct event		 ev_timer;	/* next try, or connect limit */
	int			 ev_read_set;
	int			 ev_write_set;
	int			 timer_set;
	/* the lookups on the wire, in order, and those not sent yet */
	TAILQ_HEAD(, pg_query)	 inflight;
	size_t			 ninflight;
	int			 got_result;	/* of the first in flight */
	TAILQ_HEAD(, pg_query)	 queue;
	struct event		 ev_kick;	/* send what was queued */
	int			 kick_set;
	struct pg_entry		*buckets[PG_BUCKETS];
	size_t			 count;
	uint64_t		 gen;
	int			 missed;	/* in the decision going on */
	int			 woken;		/* answers since the last retry */
	void			(*retry)(void);
} pg = {
	.queue = TAILQ_HEAD_INITIALIZER(pg.queue),
	.inflight = TAILQ_HEAD_INITIALIZER(pg.inflight)
};

static void	pg_connect(void);
static void	pg_down(const char *);
static void	pg_send_next(void);
static void	pg_read_lookups(void);

static unsigned
pg_hash(const char *map, const char *key)
{
	unsigned	 h = 5381;

	for (; *map != '\0'; map++)
		h = h * 33 + (unsigned char)*map;
	for (; *key != '\0'; key++)
		h = h * 33 + (unsigned char)*key;
	return h % PG_BUCKETS;
}

static struct pg_entry *
pg_cache_find(const char *map, const char *key)
{
	struct pg_entry	*e;

	for (e = pg.buckets[pg_hash(map, key)]; e != NULL; e = e->next)
		if (strcmp(e->mapkey, map) == 0 &&
		    strcmp(e->mapkey + e->maplen + 1, key) == 0)
			return e;
	return NULL;
}

/* Forget every answer; what was asked before is not cached when it
 * comes back. */
static void
pg_cache_flush(void)
{
	struct pg_entry	*e, *next;
	size_t		 i;

	for (i = 0; i < PG_BUCKETS; i++) {
		for (e = pg.buckets[i]; e != NULL; e = next) {
			next = e->next;
			free(e->value);
			free(e);
		}
		pg.buckets[i] = NULL;
	}
	pg.count = 0;
	pg.gen++;
}

static struct pg_entry *
pg_cache_add(const char *map, const char *key)
{
	struct pg_entry	*e;
	size_t		 ml = strlen(map), kl = strlen(key);
	unsigned	 h;

	if (pg.count >= PG_CACHE_MAX)
		pg_cache_flush();
	e = xcalloc(1, sizeof(*e) + ml + kl + 2);
	e->maplen = ml;
	memcpy(e->mapkey, map, ml + 1);
	memcpy(e->mapkey + ml + 1, key, kl + 1);
	e->answer = PG_PENDING;
	h = pg_hash(map, key);
	e->next = pg.buckets[h];
	pg.buckets[h] = e;
	pg.count++;
	return e;
}

static void
pg_cache_remove(struct pg_entry *gone)
{
	struct pg_entry	**ep;

	for (ep = &pg.buckets[pg_hash(gone->mapkey, gone->mapkey +
	    gone->maplen + 1)]; *ep != NULL; ep = &(*ep)->next)
		if (*ep == gone) {
			*ep = gone->next;
			free(gone->value);
			free(gone);
			pg.count--;
			return;
		}
}

static void
pg_query_free(struct pg_query *q)
{
	if (q == NULL)
		return;
	free(q->map);
	free(q->key);
	free(q);
}

static void
pg_queue_clear(void)
{
	struct pg_query	*q;

	while ((q = TAILQ_FIRST(&pg.inflight)) != NULL) {
		TAILQ_REMOVE(&pg.inflight, q, entry);
		pg_query_free(q);
	}
	pg.ninflight = 0;
	pg.got_result = 0;
	if (pg.kick_set)
		(void)event_del(&pg.ev_kick);
	pg.kick_set = 0;
	while ((q = TAILQ_FIRST(&pg.queue)) != NULL) {
		TAILQ_REMOVE(&pg.queue, q, entry);
		pg_query_free(q);
	}
}

/* Parked requests are decided again (once per batch of answers). */
static void
pg_wake(void)
{
	pg.woken = 0;
	if (pg.retry != NULL)
		pg.retry();
}

static void
pg_events_del(void)
{
	if (pg.ev_read_set)
		(void)event_del(&pg.ev_read);
	if (pg.ev_write_set)
		(void)event_del(&pg.ev_write);
	pg.ev_read_set = pg.ev_write_set = 0;
}

static void
pg_timer_del(void)
{
	if (pg.timer_set)
		(void)event_del(&pg.ev_timer);
	pg.timer_set = 0;
}

/* Time for the next try, or a connection that takes too long. */
static void
pg_timer(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	pg.timer_set = 0;
	if (pg.state == PG_CONNECTING)
		pg_down("no connection made in time");
	else if (pg.state == PG_DOWN)
		pg_connect();
}

static void
pg_timer_add(int seconds)
{
	struct timeval	 tv;

	pg_timer_del();
	tv.tv_sec = seconds;
	tv.tv_usec = 0;
	(void)evtimer_assign(&pg.ev_timer, proc_base, pg_timer, NULL);
	(void)evtimer_add(&pg.ev_timer, &tv);
	pg.timer_set = 1;
}

/* The connection, what waits on it and the cache, gone; state next. */
static void
pg_drop(enum pg_state state)
{
	pg_events_del();
	PQfinish(pg.conn);
	pg.conn = NULL;
	pg_queue_clear();
	pg_cache_flush();
	pg.state = state;
	pg.busy = 0;
	pg.recheck = 0;
}

/* The connection is gone or refused: every lookup is TMPF until the
 * next try, PG_BACKOFF_MIN seconds on, doubling. */
static void
pg_down(const char *why)
{
	if (!pg.logged_down)
		log_warnx("database postgresql: %s; every lookup fails "
		    "temporarily until it is back", why);
	else
		log_debug("database postgresql: %s", why);
	pg.logged_down = 1;
	stats_add("policy.pgsql.down", 1);
	pg_drop(PG_DOWN);
	pg_timer_add(pg.backoff);
	pg.backoff = pg.backoff * 2 > PG_BACKOFF_MAX ? PG_BACKOFF_MAX :
	    pg.backoff * 2;
	pg_wake();
}

/* The server's last error as one line, for pg_down(). */
static void
pg_down_conn(const char *what)
{
	char	 why[512], *nl;

	(void)snprintf(why, sizeof(why), "%s: %s", what, pg.conn != NULL ?
	    PQerrorMessage(pg.conn) : "out of memory");
	while ((nl = strchr(why, '\n')) != NULL)
		*nl = nl[1] == '\0' ? '\0' : ' ';
	pg_down(why);
}

/* Push what libpq holds to the server; wait for writability if needed. */
static void
pg_flush(void)
{
	int	 r;

	if ((r = PQflush(pg.conn)) == -1) {
		pg_down_conn("lost connection");
		return;
	}
	if (r == 1)
		(void)event_add(&pg.ev_write, NULL);
}

static void
pg_answer(struct pg_query *q, PGresult *res)
{
	struct pg_entry	*e;

	if (q->gen != pg.gen ||
	    (e = pg_cache_find(q->map, q->key)) == NULL)
		return;
	switch (PQresultStatus(res)) {
	case PGRES_TUPLES_OK:
		if (PQntuples(res) == 0)
			e->answer = PG_NOTFOUND;
		else {
			e->answer = PG_FOUND;
			e->value = xstrdup(PQgetvalue(res, 0, 0));
		}
		break;
	default:
		log_warnx("database postgresql: lookup of %s %s: %.*s", q->map,
		    q->key, (int)strcspn(PQresultErrorMessage(res), "\n"),
		    PQresultErrorMessage(res));
		stats_add("policy.pgsql.error", 1);
		e->answer = PG_TMPF;
		e->expires = time(NULL) + PG_TMPF_TTL;
		break;
	}
}

/* One result of the setup steps: 0, or -1 if the connection is no use. */
static int
pg_setup_result(PGresult *res)
{
	ExecStatusType	 st = PQresultStatus(res);
	const char	*state;

	if (pg.step != PG_STEP_VERSION)
		return st == PGRES_COMMAND_OK ? 0 : -1;
	if (st == PGRES_TUPLES_OK) {
		pg.schema_ok = PQntuples(res) == 1 &&
		    atoi(PQgetvalue(res, 0, 0)) == POLICY_DB_VERSION;
		return 0;
	}
	/* undefined_table: nobody has made the maps yet */
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (state != NULL && strcmp(state, "42P01") == 0) {
		pg.schema_missing = 1;
		return 0;
	}
	return -1;
}

/* Ask for the schema version (again: the maps may have been made). */
static void
pg_send_version(void)
{
	pg.step = PG_STEP_VERSION;
	pg.recheck = 0;
	pg.schema_ok = pg.schema_missing = 0;
	pg.failed = 0;
	if (!PQsendQuery(pg.conn, POLICY_PG_VERSION)) {
		pg_down_conn("schema version");
		return;
	}
	pg.busy = 1;
	pg_flush();
}

/* Connected and listening, but without maps: like SQLite's missing
 * file, every map is empty until smtpctl makes them (its trigger's
 * first NOTIFY makes us look again). */
static void
pg_empty(void)
{
	if (pg.state != PG_EMPTY)
		log_info("database postgresql: no policy maps in the database "
		    "yet, every map is empty");
	pg.logged_down = 0;
	pg.backoff = PG_BACKOFF_MIN;
	pg_timer_del();
	pg.state = PG_EMPTY;
	pg.step = PG_STEP_LOOKUP;
	pg_queue_clear();
	pg_cache_flush();
	pg.woken = 1;
}

/* The command on the wire has given all its results. */
static void
pg_command_done(void)
{
	const char	*stmt = POLICY_PG_LOOKUP;

	switch (pg.step) {
	case PG_STEP_LISTEN:
		pg_send_version();
		return;
	case PG_STEP_VERSION:
		if (pg.schema_missing) {
			pg_empty();
			return;
		}
		if (!pg.schema_ok) {
			pg_down("the policy maps in this database are not of "
			    "our schema version");
			return;
		}
		pg.step = PG_STEP_PREPARE;
		if (!PQsendPrepare(pg.conn, PG_STMT, stmt, 2, NULL)) {
			pg_down_conn("prepare");
			return;
		}
		pg.busy = 1;
		pg_flush();
		return;
	case PG_STEP_PREPARE:
		/* lookups go out together, each answer read in order */
		if (!PQenterPipelineMode(pg.conn)) {
			pg_down_conn("pipeline mode");
			return;
		}
		log_info("database postgresql: connected%s", pg.logged_down ?
		    " again" : "");
		pg.logged_down = 0;
		pg.backoff = PG_BACKOFF_MIN;
		pg_timer_del();
		/* no answer is cached from before: pg_down() dropped them,
		 * and LISTEN came before any lookup of this connection */
		pg.state = PG_READY;
		pg.step = PG_STEP_LOOKUP;
		pg.woken = 1;
		break;
	case PG_STEP_LOOKUP:
		break;
	}
	pg_send_next();
}

/*
 * The answers of the lookups in flight, in the order they were sent:
 * each query's result, then NULL; a PGRES_PIPELINE_SYNC ends each batch.
 * After an error the rest of its batch is PGRES_PIPELINE_ABORTED: TMPF.
 */
static void
pg_read_lookups(void)
{
	PGresult	*res;
	struct pg_query	*q;

	while (!PQisBusy(pg.conn)) {
		q = TAILQ_FIRST(&pg.inflight);
		if ((res = PQgetResult(pg.conn)) == NULL) {
			if (!pg.got_result || q == NULL)
				break;
			TAILQ_REMOVE(&pg.inflight, q, entry);
			pg.ninflight--;
			pg_query_free(q);
			pg.got_result = 0;
			pg.woken = 1;
			continue;
		}
		if (PQresultStatus(res) != PGRES_PIPELINE_SYNC && q != NULL &&
		    !pg.got_result) {
			pg_answer(q, res);
			pg.got_result = 1;
		}
		PQclear(res);
	}
	pg_send_next();
}

/* Drop the cache if the server notified a change: 1 if it did. */
static int
pg_notified(void)
{
	PGnotify	*n;
	int		 changed = 0;

	while ((n = PQnotifies(pg.conn)) != NULL) {
		changed = 1;
		PQfreemem(n);
	}
	if (!changed)
		return 0;
	log_debug("database postgresql: maps changed, cache dropped");
	stats_add("policy.pgsql.notify", 1);
	pg_cache_flush();
	return 1;
}

/* Read what the server sent: results, then notifications. */
static void
pg_read(int fd, short ev, void *arg)
{
	PGresult	*res;
	int		 changed;

	(void)fd;
	(void)ev;
	(void)arg;
	if (!PQconsumeInput(pg.conn)) {
		pg_down_conn("lost connection");
		return;
	}
	if (pg.recheck && !pg.busy) {
		pg.recheck = 0;
		pg_send_version();
		if (pg.state == PG_DOWN)
			return;
	}
	if (pg.step == PG_STEP_LOOKUP)
		pg_read_lookups();
	while (pg.state != PG_DOWN && pg.busy && !PQisBusy(pg.conn)) {
		if ((res = PQgetResult(pg.conn)) == NULL) {
			/* the command on the wire is complete */
			pg.busy = 0;
			if (pg.step != PG_STEP_LOOKUP && pg.failed) {
				pg_down_conn("setup");
				return;
			}
			pg_command_done();
			continue;
		}
		if (pg_setup_result(res) == -1)
			pg.failed = 1;
		PQclear(res);
	}
	if (pg.state == PG_DOWN)
		return;
	if ((changed = pg_notified()) != 0) {
		pg.woken = 1;
		if (pg.state == PG_EMPTY && !pg.busy) {
			/* lookups wait until we know what was made */
			pg.state = PG_CONNECTING;
			pg_send_version();
			if (pg.state == PG_DOWN)
				return;
		}
	}
	if (PQstatus(pg.conn) == CONNECTION_BAD) {
		pg_down_conn("lost connection");
		return;
	}
	if (pg.woken)
		pg_wake();
}

static void
pg_write(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	pg_flush();
}

/* Send the queued lookups, up to PG_PIPELINE_MAX on the wire, and a
 * sync point after them. */
static void
pg_send_next(void)
{
	struct pg_query	*q;
	const char	*params[2];
	int		 sent = 0;

	if (pg.state != PG_READY)
		return;
	while (pg.ninflight < PG_PIPELINE_MAX &&
	    (q = TAILQ_FIRST(&pg.queue)) != NULL) {
		TAILQ_REMOVE(&pg.queue, q, entry);
		TAILQ_INSERT_TAIL(&pg.inflight, q, entry);
		pg.ninflight++;
		params[0] = q->map;
		params[1] = q->key;
		if (!PQsendQueryPrepared(pg.conn, PG_STMT, 2, params, NULL,
		    NULL, 0)) {
			pg_down_conn("lost connection");
			return;
		}
		sent++;
	}
	if (sent == 0)
		return;
	stats_add("policy.pgsql.query", sent);
	if (!PQpipelineSync(pg.conn)) {
		pg_down_conn("lost connection");
		return;
	}
	pg_flush();
}

/* The misses of one pass of the event loop go out together. */
static void
pg_kick(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	pg.kick_set = 0;
	pg_send_next();
}

static void
pg_kick_add(void)
{
	struct timeval	 tv = { 0, 0 };

	if (pg.kick_set || pg.state != PG_READY)
		return;
	(void)evtimer_assign(&pg.ev_kick, proc_base, pg_kick, NULL);
	(void)evtimer_add(&pg.ev_kick, &tv);
	pg.kick_set = 1;
}

/* The connection is made: watch its socket, LISTEN, check the schema. */
static void
pg_connected(void)
{
	int	 fd = PQsocket(pg.conn);

	pg_events_del();
	(void)event_assign(&pg.ev_read, proc_base, fd, EV_READ | EV_PERSIST,
	    pg_read, NULL);
	(void)event_assign(&pg.ev_write, proc_base, fd, EV_WRITE, pg_write,
	    NULL);
	pg.ev_read_set = pg.ev_write_set = 1;
	(void)event_add(&pg.ev_read, NULL);
	pg.step = PG_STEP_LISTEN;
	pg.schema_ok = 0;
	pg.failed = 0;
	if (!PQsendQuery(pg.conn, "LISTEN \"" POLICY_PG_CHANNEL "\"")) {
		pg_down_conn("listen");
		return;
	}
	pg.busy = 1;
	pg_flush();
}

/* One step of PQconnectPoll, when the socket is ready for it. */
static void
pg_poll(int fd, short ev, void *arg)
{
	PostgresPollingStatusType	 st;
	short				 want;

	(void)fd;
	(void)ev;
	(void)arg;
	pg.ev_read_set = 0;
	st = PQconnectPoll(pg.conn);
	if (st == PGRES_POLLING_FAILED) {
		pg_down_conn("cannot connect");
		return;
	}
	if (st == PGRES_POLLING_OK) {
		pg_connected();
		return;
	}
	/* libpq may have moved on to another socket (the next host) */
	want = st == PGRES_POLLING_READING ? EV_READ : EV_WRITE;
	(void)event_assign(&pg.ev_read, proc_base, PQsocket(pg.conn), want,
	    pg_poll, NULL);
	(void)event_add(&pg.ev_read, NULL);
	pg.ev_read_set = 1;
}

static void
pg_connect(void)
{
	const char	*kw[POLICY_PG_PARAMS], *val[POLICY_PG_PARAMS];

	policy_pgsql_params(pg.conninfo, kw, val);
	pg.state = PG_CONNECTING;
	pg_timer_add(PG_CONNECT_MAX);
	pg.conn = PQconnectStartParams(kw, val, 1);
	if (pg.conn == NULL || PQstatus(pg.conn) == CONNECTION_BAD) {
		pg_down_conn("cannot connect");
		return;
	}
	if (PQsetnonblocking(pg.conn, 1) == -1) {
		pg_down_conn("cannot connect");
		return;
	}
	/* libpq's first step waits for the socket to be writable */
	(void)event_assign(&pg.ev_read, proc_base, PQsocket(pg.conn), EV_WRITE,
	    pg_poll, NULL);
	(void)event_add(&pg.ev_read, NULL);
	pg.ev_read_set = 1;
}

void
policyd_pgsql_init(void (*retry)(void))
{
	pg.retry = retry;
}

/* Stop whatever runs; the cache goes with it. */
void
policyd_pgsql_close(void)
{
	pg_timer_del();
	pg_drop(PG_OFF);
	pg.logged_down = 0;
}

void
policyd_pgsql_configure(const char *conninfo)
{
	if (pg.state != PG_OFF && strcmp(conninfo, pg.conninfo) == 0)
		return;
	policyd_pgsql_close();
	if (conninfo[0] == '\0')
		return;
	(void)strlcpy(pg.conninfo, conninfo, sizeof(pg.conninfo));
	pg.backoff = PG_BACKOFF_MIN;
	log_info("database postgresql: connecting");
	pg_connect();
}

int
policyd_pgsql_on(void)
{
	return pg.state != PG_OFF;
}

int
policyd_pgsql_missed(void)
{
	return pg.missed;
}

/* policy_env's lookup: the cache, else TMPF and the key queued. */
static int
pg_lookup(void *arg, const char *map, const char *key, char *value,
    size_t valuelen)
{
	struct pg_entry	*e;
	struct pg_query	*q;
	char		 lkey[POLICY_KEY_MAX + 1];

	(void)arg;
	if (policy_db_lookup_key(map, key, lkey, sizeof(lkey)) == -1)
		return POLICY_DB_NOTFOUND;
	if (pg.state == PG_DOWN)
		return POLICY_DB_TMPF;
	if (pg.state == PG_EMPTY)
		return POLICY_DB_NOTFOUND;
	if ((e = pg_cache_find(map, lkey)) != NULL && e->answer == PG_TMPF &&
	    time(NULL) >= e->expires) {
		pg_cache_remove(e);
		e = NULL;
	}
	if (e != NULL && e->answer != PG_PENDING) {
		if (e->answer != PG_FOUND)
			return e->answer == PG_NOTFOUND ? POLICY_DB_NOTFOUND :
			    POLICY_DB_TMPF;
		if (value != NULL && strlcpy(value, e->value, valuelen) >=
		    valuelen)
			return POLICY_DB_TMPF;	/* never cut a value */
		return POLICY_DB_FOUND;
	}
	pg.missed++;
	if (e == NULL) {
		(void)pg_cache_add(map, lkey);
		q = xcalloc(1, sizeof(*q));
		q->gen = pg.gen;
		q->map = xstrdup(map);
		q->key = xstrdup(lkey);
		TAILQ_INSERT_TAIL(&pg.queue, q, entry);
		pg_kick_add();
	}
	return POLICY_DB_TMPF;
}

void
policyd_pgsql_env(struct policy_env *env)
{
	int	 ok;

	/*
	 * A change notified before this request must apply to it: read what
	 * the socket holds before the cache answers (a recv that finds
	 * nothing, mostly).  What else came (answers, an error) is left to
	 * pg_read(), made to run now since the socket may no longer be
	 * readable; nothing is decided again from inside a decision.
	 */
	if ((pg.state == PG_READY || pg.state == PG_EMPTY) &&
	    pg.conn != NULL) {
		if ((ok = PQconsumeInput(pg.conn)) != 0 && pg_notified() &&
		    pg.state == PG_EMPTY) {
			/* the maps were made: lookups wait for the check */
			pg.state = PG_CONNECTING;
			pg.recheck = 1;
		}
		if (!ok || pg.ninflight > 0 || pg.recheck ||
		    PQstatus(pg.conn) == CONNECTION_BAD)
			event_active(&pg.ev_read, EV_READ, 1);
	}
	pg.missed = 0;
	env->db = NULL;
	env->dbfail = 0;
	env->lookup = pg_lookup;
	env->lookup_arg = NULL;
}
