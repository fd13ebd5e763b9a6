/*
 * policyd.c: smtpd-policyd, the process that answers access-map questions
 * (smtp) and next-hop questions (mta) from the SQLite policy database.
 *
 * It runs as _smtppol, chrooted to the directory of database_path, and
 * opens the database read-only there when the config arrives
 * (policy_store.c), or connects to the PostgreSQL server of `database
 * postgresql` (policyd_pgsql.c).  A query is answered with the same id,
 * at once from SQLite (nothing is cached, so "smtpctl makemap" takes
 * effect on the next one); from PostgreSQL, once every key it needs is
 * in policyd_pgsql.c's cache: until then the query is parked here, whole,
 * and decided again as answers come in (the cache is dropped on every
 * change of the maps, which the server NOTIFYs).
 *
 *   smtp: IMSG_POLICY_QUERY  -> IMSG_POLICY_RESULT      (policy_access.c)
 *   mta:  IMSG_POLICY_ROUTE  -> IMSG_POLICY_ROUTE_RESULT (policy_route.c)
 *   mta:  IMSG_POLICY_QUERY  -> IMSG_POLICY_RESULT      (policy_tls.c:
 *         only the client-side kinds Try_TLS, TLS_Srv, TLS_Rcpt)
 *   queue: IMSG_POLICY_RESOLVE -> IMSG_POLICY_RESOLVE_RESULT
 *         (where a DSN of the queue's goes), IMSG_POLICY_EXPAND ->
 *         IMSG_POLICY_RESOLVE_RESULT (what the items of a .forward or
 *         :include: file become): policyd_resolve.c
 *   smtp: IMSG_POLICY_GENERICS -> IMSG_POLICY_GENERICS_RESULT
 *         (policy_generics.c: the genericstable values of the addresses
 *         of one header field or of the envelope sender)
 *   mta:  IMSG_POLICY_AUTHINFO -> IMSG_POLICY_AUTHINFO_RESULT
 *         (policy_authinfo.c: the credential for one next hop; only the
 *         mta may ask, and the secret is wiped here once sent)
 *
 * Failure behaviour: a query that does not follow its layout is reported
 * with proc_peer_bad() (the parent restarts the sender).  A well-framed
 * query whose value is refused (an address, a name, a domain: all things
 * outsiders choose) is answered: a 5xx for that one command, a ROUTE_ERROR
 * 553 for that recipient, no credential for that next hop.  A database
 * failure becomes a 451 answer; nothing a peer sends ends this process.
 */
#include <sys/queue.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mailaddr.h"
#include "paths.h"
#include "proc.h"
#include "util.h"
#include "policy.h"
#include "policyd.h"

/* a query waiting for a local user lookup (policyd_user.c) or for the
 * PostgreSQL store: a RCPT's (q), a question of the queue's (req), or a
 * route, authinfo or genericstable request kept as it came (data) */
struct policyd_parked {
	TAILQ_ENTRY(policyd_parked)	 entry;
	enum proc_id			 peer;
	uint32_t			 id;
	struct policyd_req		*req;
	struct policy_query		 q;
	uint32_t			 type;
	uint8_t				*data;
	size_t				 len;
};
#define POLICYD_PARKED_MAX	4096

static TAILQ_HEAD(, policyd_parked) parked = TAILQ_HEAD_INITIALIZER(parked);
static size_t			 parked_count;
/* the parked request being decided again, and whether it waits still */
static struct policyd_parked	*replaying;
static int			 replay_waits;
/* policyd_retry() runs; asked again meanwhile */
static int			 retrying, retry_again;

static void	policyd_query(struct imsgev *, struct imsg *, void *);
static void	policyd_mta_query(struct imsgev *, struct imsg *, void *);
static void	policyd_route(struct imsgev *, struct imsg *, void *);
static void	policyd_authinfo(struct imsgev *, struct imsg *, void *);
static void	policyd_generics(struct imsgev *, struct imsg *, void *);
static void	policyd_config(struct config *, struct config *);
static void	policyd_shutdown(void);
static void	policyd_retry(void);
static void	policyd_peer_down(enum proc_id);

static const struct imsg_handler policyd_parent_handlers[] = {
	{ IMSG_USER_RESULT,	policyd_user_result },
};

static const struct imsg_handler policyd_smtp_handlers[] = {
	{ IMSG_POLICY_QUERY,	policyd_query },
	{ IMSG_POLICY_GENERICS,	policyd_generics },
};

static const struct imsg_handler policyd_queue_handlers[] = {
	{ IMSG_POLICY_RESOLVE,	policyd_resolve_imsg },
	{ IMSG_POLICY_EXPAND,	policyd_expand_imsg },
};

static const struct imsg_handler policyd_mta_handlers[] = {
	{ IMSG_POLICY_ROUTE,	policyd_route },
	{ IMSG_POLICY_QUERY,	policyd_mta_query },
	{ IMSG_POLICY_AUTHINFO,	policyd_authinfo },
	{ IMSG_POLICY_STS_GET,	policyd_sts_get },
	{ IMSG_POLICY_STS_PUT,	policyd_sts_put },
	{ IMSG_POLICY_TLSRPT_PUT, policyd_tlsrpt_put },
	{ IMSG_POLICY_TLSRPT_LOAD, policyd_tlsrpt_load },
};

static const struct proc_def policyd_def = {
	.id = PROC_POLICY,
	.name = "policyd",
	.user = SMTPD_POLICY_USER,
	.handlers = {
		[PROC_PARENT] = policyd_parent_handlers,
		[PROC_SMTP] = policyd_smtp_handlers,
		[PROC_MTA] = policyd_mta_handlers,
		[PROC_QUEUE] = policyd_queue_handlers,
	},
	.nhandlers = {
		[PROC_PARENT] = 1,
		[PROC_SMTP] = sizeof(policyd_smtp_handlers) /
		    sizeof(policyd_smtp_handlers[0]),
		[PROC_QUEUE] = sizeof(policyd_queue_handlers) /
		    sizeof(policyd_queue_handlers[0]),
		[PROC_MTA] = sizeof(policyd_mta_handlers) /
		    sizeof(policyd_mta_handlers[0]),
	},
	.peer_down = policyd_peer_down,
	.config_apply = policyd_config,
	.shutdown = policyd_shutdown,
};

int
main(int argc, char **argv)
{
	proc_setup(&policyd_def, argc, argv);
	policyd_user_init(policyd_retry);
	policyd_pgsql_init(policyd_retry);
	proc_confine(proc_root(), SMTPD_POLICY_USER);
	proc_run();
	return 0;
}

static void
policyd_config(struct config *nconf, struct config *old)
{
	(void)old;
	policy_db_select(nconf->database_conninfo, nconf->database_path, 1);
	policyd_pgsql_configure(nconf->database_conninfo);
	if (policyd_pgsql_on())
		policy_store_close();
	else
		policy_store_configure(nconf->database_path);
	/* what came before the first config waits for it */
	policyd_retry();
}

static void
policyd_shutdown(void)
{
	policyd_pgsql_close();
	policy_store_close();
}

/* Where the maps of one decision come from. */
void
policyd_env(struct policy_env *env)
{
	policy_store_env(env, conf != NULL ? conf->hostname : NULL);
	if (policyd_pgsql_on())
		policyd_pgsql_env(env);
}

/* 1 if the decision since policyd_env() needs keys the PostgreSQL store
 * is being asked for, or came before the first config (which says where
 * the maps are): it is parked, never answered with its TMPF. */
int
policyd_env_missed(void)
{
	return conf == NULL ||
	    (policyd_pgsql_on() && policyd_pgsql_missed() > 0);
}

/* The first n targets, in the layout of IMSG_POLICY_RESULT's. */
void
policyd_put_targets(struct imsg_out *out, const struct policy_targets *ts,
    size_t n)
{
	const struct policy_target	*t;
	size_t				 i;

	imsg_put_u32(out, (uint32_t)n);
	for (i = 0; i < n; i++) {
		t = &ts->t[i];
		imsg_put_u32(out, t->kind);
		imsg_put_str(out, t->value);
		imsg_put_str(out, t->sender);
		imsg_put_str(out, t->error);
	}
}

/* Send the answer to a query; the targets go with an accepted RCPT. */
static void
policyd_send(enum proc_id peer, uint32_t id, struct policy_result *res)
{
	struct imsg_out		 out;

	imsg_out_init(&out, IMSG_POLICY_RESULT, id);
	imsg_put_u32(&out, res->verdict);
	imsg_put_u32(&out, res->flags);
	imsg_put_u32(&out, res->code);
	imsg_put_str(&out, res->enhanced);
	imsg_put_str(&out, res->text);
	imsg_put_str(&out, res->key);
	imsg_put_u32(&out, res->features_set);
	imsg_put_u32(&out, res->features_clear);
	imsg_put_str(&out, res->rcpt);
	policyd_put_targets(&out, &res->targets, res->targets.n);
	imsg_put_u32(&out, res->client_conn);
	imsg_put_u32(&out, res->client_rate);
	if (out.bad) {
		/* more than one message holds: refuse the recipient */
		imsg_out_free(&out);
		log_warnx("%08x: the recipients of one RCPT do not fit in "
		    "one message", id);
		policy_targets_free(&res->targets);
		policy_result_reply(res, NULL, 552, "5.3.4",
		    "Too many recipients from aliases");
		policyd_send(peer, id, res);
		return;
	}
	(void)proc_send(peer, &out, -1);
}

/*
 * Decide a checked query and answer it, or park it while a local user
 * is looked up: 0, or -1 if it is (still) parked.
 */
static int
policyd_decide(enum proc_id peer, uint32_t id, const struct policy_query *q)
{
	struct policy_result	 res;
	struct policy_env	 env;

	policyd_env(&env);
	policy_env_configure(&env, conf);
	env.user_exists = policyd_user_exists;
	policy_access_check(&env, q, &res);
	if (policyd_env_missed()) {
		policy_targets_free(&res.targets);
		return -1;
	}
	if (res.pending)
		return -1;
	/* ClientConn:, ClientRate: whatever the verdict */
	if (q->kind == POLICY_CONNECT)
		policy_limit_client(&env, q, &res);
	/* Clt_Features: (DANE off for a server) whatever Try_TLS said */
	if (q->kind == POLICY_TRY_TLS)
		policy_tls_clt_features(&env, q, &res);
	policy_access_log(q, &res);
	policyd_send(peer, id, &res);
	policy_targets_free(&res.targets);
	return 0;
}

/* Park a query that waits for a user lookup; 451 if too many wait. */
static void
policyd_park(enum proc_id peer, uint32_t id, const struct policy_query *q)
{
	struct policyd_parked	*p;
	struct policy_result	 res;

	if (parked_count >= POLICYD_PARKED_MAX ||
	    (p = calloc(1, sizeof(*p))) == NULL) {
		memset(&res, 0, sizeof(res));
		policy_result_tempfail(&res);
		policy_access_log(q, &res);
		policyd_send(peer, id, &res);
		return;
	}
	p->peer = peer;
	p->id = id;
	p->q = *q;
	TAILQ_INSERT_TAIL(&parked, p, entry);
	parked_count++;
}

/* Park a question of the queue's; asked again later if too many wait. */
void
policyd_park_req(struct policyd_req *req)
{
	struct policyd_parked	*p;

	if (parked_count >= POLICYD_PARKED_MAX ||
	    (p = calloc(1, sizeof(*p))) == NULL) {
		policyd_req_tempfail(req);
		policyd_req_free(req);
		return;
	}
	p->peer = PROC_QUEUE;
	p->id = req->id;
	p->req = req;
	TAILQ_INSERT_TAIL(&parked, p, entry);
	parked_count++;
}

static void
policyd_parked_free(struct policyd_parked *p)
{
	TAILQ_REMOVE(&parked, p, entry);
	parked_count--;
	if (p->req != NULL)
		policyd_req_free(p->req);
	free(p->data);
	free(p);
}

/*
 * A route, authinfo or genericstable request whose decision needs keys
 * the PostgreSQL store is asked for: 1 if it is parked (a copy of m, or
 * the one being decided again), so the handler must not answer; 0 to
 * answer now (nothing missed, or too many parked: its TMPF stands).
 */
static int
policyd_wait(enum proc_id peer, const struct imsg *m)
{
	struct policyd_parked	*p;

	if (!policyd_env_missed())
		return 0;
	if (replaying != NULL) {
		replay_waits = 1;
		return 1;
	}
	if (parked_count >= POLICYD_PARKED_MAX ||
	    (p = calloc(1, sizeof(*p))) == NULL)
		return 0;
	p->peer = peer;
	p->id = m->id;
	p->type = m->type;
	p->len = m->len;
	if ((p->data = malloc(m->len > 0 ? m->len : 1)) == NULL) {
		free(p);
		return 0;
	}
	memcpy(p->data, m->data, m->len);
	TAILQ_INSERT_TAIL(&parked, p, entry);
	parked_count++;
	return 1;
}

/* Decide a parked request kept whole again: 0 answered, -1 waits. */
static int
policyd_replay(struct policyd_parked *p)
{
	struct imsg	 m;

	memset(&m, 0, sizeof(m));
	m.type = p->type;
	m.id = p->id;
	m.fd = -1;
	m.data = p->data;
	m.len = p->len;
	replaying = p;
	replay_waits = 0;
	if (p->type == IMSG_POLICY_ROUTE)
		policyd_route(NULL, &m, NULL);
	else if (p->type == IMSG_POLICY_AUTHINFO)
		policyd_authinfo(NULL, &m, NULL);
	else
		policyd_generics(NULL, &m, NULL);
	replaying = NULL;
	return replay_waits ? -1 : 0;
}

/* A peer went away: its parked queries have no one to answer to (a new
 * channel must never get an answer meant for the old one). */
static void
policyd_peer_down(enum proc_id peer)
{
	struct policyd_parked	*p, *next;

	for (p = TAILQ_FIRST(&parked); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (p->peer == peer)
			policyd_parked_free(p);
	}
}

/* A user lookup or the PostgreSQL store answered: try every parked
 * query again (once more if the store changed state meanwhile). */
static void
policyd_retry(void)
{
	struct policyd_parked	*p, *next;
	int			 r;

	if (retrying) {
		retry_again = 1;
		return;
	}
	retrying = 1;
	do {
		retry_again = 0;
		for (p = TAILQ_FIRST(&parked); p != NULL; p = next) {
			next = TAILQ_NEXT(p, entry);
			if (p->data != NULL)
				r = policyd_replay(p);
			else if (p->req != NULL)
				r = policyd_req_decide(p->req);
			else
				r = policyd_decide(p->peer, p->id, &p->q);
			if (r == 0)
				policyd_parked_free(p);
		}
	} while (retry_again);
	retrying = 0;
}

/*
 * Decide a query from peer and answer with the same id; the mta may ask
 * only the client-side questions.
 */
static void
policyd_answer(enum proc_id peer, struct imsg *m)
{
	struct policy_query	 q;
	struct policy_result	 res;
	const char		*why;
	int			 r;

	if (m->fd != -1) {
		(void)close(m->fd);
		proc_peer_bad(peer, "descriptor with a policy query", m->type);
		return;
	}
	memset(&res, 0, sizeof(res));
	if ((r = policy_query_parse(m, &q, &res, &why)) == -1) {
		proc_peer_bad(peer, why, m->type);
		return;
	}
	if ((peer == PROC_MTA) != (q.kind >= POLICY_TRY_TLS)) {
		proc_peer_bad(peer, "policy question of the other side",
		    m->type);
		return;
	}
	if (r == 1) {
		stats_add("policy.query.refused", 1);
		log_info("%08x: ruleset=query, kind=%s, refused=%s, "
		    "reject=%u %s %s", m->id, policy_kind_name(q.kind), why,
		    res.code, res.enhanced, res.text);
		policyd_send(peer, m->id, &res);
		return;
	}
	if (policyd_decide(peer, m->id, &q) == -1)
		policyd_park(peer, m->id, &q);
}

/* IMSG_POLICY_QUERY from smtp. */
static void
policyd_query(struct imsgev *iev, struct imsg *m, void *arg)
{
	(void)iev;
	(void)arg;
	policyd_answer(PROC_SMTP, m);
}

/* IMSG_POLICY_QUERY from mta: Try_TLS, TLS_Srv, TLS_Rcpt. */
static void
policyd_mta_query(struct imsgev *iev, struct imsg *m, void *arg)
{
	(void)iev;
	(void)arg;
	policyd_answer(PROC_MTA, m);
}

/* IMSG_POLICY_ROUTE from mta: the next hop of a domain. */
static void
policyd_route(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct policy_route	 rt;
	struct policy_env	 env;
	struct imsg_out		 out;
	char			 domain[POLICY_NAME_MAX];
	const char		*raw;

	if (m->fd != -1) {
		(void)close(m->fd);
		proc_peer_bad(PROC_MTA, "descriptor with a route query",
		    m->type);
		return;
	}
	raw = imsg_get_str(m);
	if (imsg_get_end(m) == -1) {
		proc_peer_bad(PROC_MTA, "malformed route query", m->type);
		return;
	}
	/* the domain is a recipient's: a bad one fails that recipient */
	if (strlcpy(domain, raw, sizeof(domain)) >= sizeof(domain) ||
	    !text_is_clean(domain)) {
		memset(&rt, 0, sizeof(rt));
		rt.kind = ROUTE_ERROR;
		rt.code = 553;
		(void)strlcpy(rt.text, "5.1.2 Bad destination domain",
		    sizeof(rt.text));
		(void)strlcpy(domain, "(bad)", sizeof(domain));
	} else {
		policyd_env(&env);
		/* class {w} needs the listeners, the loop check the ports */
		policy_env_configure(&env, conf);
		policy_route_find(&env, conf, domain, &rt);
		if (policyd_wait(PROC_MTA, m))
			return;
	}
	policy_route_log(domain, &rt);
	imsg_out_init(&out, IMSG_POLICY_ROUTE_RESULT, m->id);
	imsg_put_u32(&out, rt.kind);
	imsg_put_str(&out, rt.host);
	imsg_put_u32(&out, rt.port);
	imsg_put_u32(&out, rt.code);
	imsg_put_str(&out, rt.text);
	imsg_put_u32(&out, rt.flags);
	imsg_put_str(&out, rt.user);
	(void)proc_send(PROC_MTA, &out, -1);
}

/*
 * Read and check IMSG_POLICY_AUTHINFO: -1 if malformed, 1 if the next
 * hop's name or address is not one we can look up (the name came from a
 * DNS answer or a map: it only means "no credential"), else 0.
 */
static int
policyd_authinfo_parse(struct imsg *m, char *name, size_t namelen,
    char *addr, size_t addrlen)
{
	const char	*rawname, *rawaddr;

	rawname = imsg_get_str(m);
	rawaddr = imsg_get_str(m);
	if (imsg_get_end(m) == -1)
		return -1;
	if (policy_addr_canon(rawaddr, addr, addrlen) == -1 ||
	    policy_name_canon(rawname, name, namelen) == -1)
		return 1;
	return 0;
}

/* IMSG_POLICY_AUTHINFO from mta: the credential for one next hop. */
static void
policyd_authinfo(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct policy_authinfo	 ai;
	struct policy_env	 env;
	struct imsg_out		 out;
	char			 name[POLICY_NAME_MAX], addr[POLICY_ADDR_MAX];
	char			 key[POLICY_KEY_MAX + 1];
	int			 r;

	(void)iev;
	(void)arg;
	if (m->fd != -1) {
		(void)close(m->fd);
		proc_peer_bad(PROC_MTA, "descriptor with an authinfo query",
		    m->type);
		return;
	}
	if ((r = policyd_authinfo_parse(m, name, sizeof(name), addr,
	    sizeof(addr))) == -1) {
		proc_peer_bad(PROC_MTA, "malformed authinfo query", m->type);
		return;
	}
	if (r == 1) {
		(void)strlcpy(name, "(bad)", sizeof(name));
		(void)strlcpy(addr, "(bad)", sizeof(addr));
		key[0] = '\0';
		r = POLICY_DB_NOTFOUND;
	} else {
		policyd_env(&env);
		r = policy_authinfo_find(&env, name, addr, &ai, key,
		    sizeof(key));
		if (policyd_wait(PROC_MTA, m)) {
			explicit_bzero(&ai, sizeof(ai));
			return;
		}
	}
	stats_add("policy.authinfo", 1);
	log_debug("authinfo %s [%s]: %s%s", name, addr,
	    r == POLICY_DB_FOUND ? "found at " : r == POLICY_DB_TMPF ?
	    "temporary failure " : "no entry", key);
	imsg_out_init(&out, IMSG_POLICY_AUTHINFO_RESULT, m->id);
	imsg_out_secret(&out);
	imsg_put_u32(&out, r == POLICY_DB_FOUND ? AUTHINFO_FOUND :
	    r == POLICY_DB_TMPF ? AUTHINFO_TEMPFAIL : AUTHINFO_NONE);
	if (r == POLICY_DB_FOUND) {
		imsg_put_str(&out, ai.authid);
		imsg_put_str(&out, ai.user);
		imsg_put_str(&out, ai.secret);
		imsg_put_str(&out, ai.realm);
		imsg_put_str(&out, ai.mechs);
		imsg_put_u32(&out, ai.tls);
	}
	explicit_bzero(&ai, sizeof(ai));
	(void)proc_send(PROC_MTA, &out, -1);
}

/*
 * The genericstable value of one address the front end sent; "" for
 * none, and for one that is not an address (it came from a message).
 * -1 on a database failure.
 */
static int
policyd_generics_one(const struct policy_env *env, const char *addr,
    char *value, size_t valuelen)
{
	char	 key[POLICY_KEY_MAX + 1];
	int	 r;

	if (strlen(addr) >= MAILADDR_PATH_MAX || !text_is_clean(addr))
		r = POLICY_DB_NOTFOUND;
	else
		r = policy_generics_find(env, addr, value, valuelen, key,
		    sizeof(key));
	if (r != POLICY_DB_FOUND)
		value[0] = '\0';
	else
		log_debug("generics %s: %s at %s", addr, value, key);
	return r == POLICY_DB_TMPF ? -1 : 0;
}

/* The answer to a request that cannot be served: a temporary failure. */
static void
policyd_generics_fail(uint32_t id, uint32_t seq, const char *why)
{
	struct imsg_out	 out;

	log_warnx("%08x: genericstable request refused: %s", id, why);
	stats_add("policy.generics.error", 1);
	imsg_out_init(&out, IMSG_POLICY_GENERICS_RESULT, id);
	imsg_put_u32(&out, seq);
	imsg_put_u32(&out, STATUS_TEMPFAIL);
	imsg_put_u32(&out, 0);
	(void)proc_send(PROC_SMTP, &out, -1);
}

/*
 * IMSG_POLICY_GENERICS from smtp: the values of up to GENERICS_ADDRS_MAX
 * addresses.  A request out of its layout is answered with a temporary
 * failure (the message waits for it), never taken for "no entry".
 */
static void
policyd_generics(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct policy_env	 env;
	struct imsg_out		 out;
	const char		*addrs[GENERICS_ADDRS_MAX];
	char			 values[GENERICS_ADDRS_MAX][POLICY_VALUE_MAX + 1];
	uint32_t		 seq, n, i;

	(void)iev;
	(void)arg;
	seq = imsg_get_u32(m);
	n = imsg_get_u32(m);
	if (n == 0 || n > GENERICS_ADDRS_MAX) {
		policyd_generics_fail(m->id, seq, "bad address count");
		return;
	}
	for (i = 0; i < n; i++)
		addrs[i] = imsg_get_str(m);
	if (imsg_get_end(m) == -1) {
		policyd_generics_fail(m->id, seq, "malformed request");
		return;
	}
	policyd_env(&env);
	for (i = 0; i < n; i++)
		if (policyd_generics_one(&env, addrs[i], values[i],
		    sizeof(values[i])) == -1 && !policyd_env_missed()) {
			policyd_generics_fail(m->id, seq, "database failure");
			return;
		}
	if (policyd_wait(PROC_SMTP, m))
		return;
	stats_add("policy.generics", 1);
	imsg_out_init(&out, IMSG_POLICY_GENERICS_RESULT, m->id);
	imsg_put_u32(&out, seq);
	imsg_put_u32(&out, STATUS_OK);
	imsg_put_u32(&out, n);
	for (i = 0; i < n; i++)
		imsg_put_str(&out, values[i]);
	(void)proc_send(PROC_SMTP, &out, -1);
}
