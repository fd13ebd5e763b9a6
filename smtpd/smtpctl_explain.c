/*
 * smtpctl_explain.c: "smtpctl explain", what the relay would answer a
 * client, worked out from the map database without the daemon.
 *
 *   explain addr A [name N] [helo H] [from S] [rcpt R ...] [resolve W]
 *
 * Each stage (Connect, then From if a sender is given, then To for each
 * recipient) is decided by policy_access_check(), the very function
 * smtpd-policyd answers with, on a query completed by
 * policy_query_fill() as policyd completes the ones it receives.  A
 * policy_trace watches the decision, so what is printed is what was
 * done: every probe in order with its result, the steps of the relay
 * decision, the entry that decided and the reply the front end sends
 * (its fixed texts mirror smtp_peer.c).  Output lines are tab-separated,
 * the stage first ("Connect", "From <s>", "To <r>"), and end with one
 * "verdict" line.  A rejected Connect or From ends the session as it
 * would in the daemon; later stages are not shown.
 *
 * Stages are rows of explain_stages: the TLS rulesets (TLS_Clt, TLS_Srv,
 * TLS_Rcpt, Try_TLS, Srv_Features, CERTISSUER) become rows of their own,
 * with their inputs as new words of explain_words.
 *
 * Failure behaviour: a missing database means empty maps, an unusable
 * one means every lookup fails temporarily, both as in policyd and said
 * on a "database" line; bad input is refused with exit status 1.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "proto.h"
#include "policy.h"
#include "smtpctl.h"

#define EXPLAIN_RCPT_MAX	100

/* What the user asked about. */
struct explain_input {
	const char	*addr;
	const char	*name;
	const char	*helo;
	const char	*from;		/* NULL: no MAIL stage */
	const char	*rcpt[EXPLAIN_RCPT_MAX];
	int		 nrcpt;
	/* ${client_resolve}: OK, FAIL, FORGED, TEMP; NULL: not looked up */
	const char	*resolve;
};

/* The observer's state: the stage being shown and the last hit. */
struct explain_trace {
	char		 stage[POLICY_PATH_MAX + 8];
	char		 map[32];
	char		 key[POLICY_KEY_MAX + 1];
	char		 value[POLICY_VALUE_MAX + 1];
};

/* The outcome of the whole session, for the verdict line. */
struct explain_tally {
	int		 stopped;	/* a Connect or From refusal */
	int		 accepted;	/* recipients */
	int		 discard;
	char		 last[POLICY_TEXT_MAX + 64];
};

static const struct explain_word {
	const char	*word;
	size_t		 offset;
} explain_words[] = {
	{ "addr",	offsetof(struct explain_input, addr) },
	{ "name",	offsetof(struct explain_input, name) },
	{ "helo",	offsetof(struct explain_input, helo) },
	{ "from",	offsetof(struct explain_input, from) },
	{ "resolve",	offsetof(struct explain_input, resolve) },
};

static int	explain_connect(struct policy_env *, struct explain_trace *,
		    const struct explain_input *, struct explain_tally *);
static int	explain_mail(struct policy_env *, struct explain_trace *,
		    const struct explain_input *, struct explain_tally *);
static int	explain_rcpts(struct policy_env *, struct explain_trace *,
		    const struct explain_input *, struct explain_tally *);

/* The stages in session order; each returns 0, or -1 to stop there. */
static int (*const explain_stages[])(struct policy_env *,
    struct explain_trace *, const struct explain_input *,
    struct explain_tally *) = {
	explain_connect,
	explain_mail,
	explain_rcpts,
};

static int
explain_usage(void)
{
	(void)fprintf(stderr, "usage: smtpctl explain addr ADDRESS "
	    "[name NAME] [helo NAME] [from SENDER] [rcpt RECIPIENT ...]\n"
	    "    [resolve OK|FAIL|FORGED|TEMP]\n");
	return 2;
}

/* "word value" pairs into in; -1 on a usage error. */
static int
explain_parse(int argc, char **argv, struct explain_input *in)
{
	size_t	 i;
	int	 a;

	memset(in, 0, sizeof(*in));
	in->name = in->helo = "";
	for (a = 1; a + 1 < argc; a += 2) {
		if (strcmp(argv[a], "rcpt") == 0) {
			if (in->nrcpt == EXPLAIN_RCPT_MAX)
				return -1;
			in->rcpt[in->nrcpt++] = argv[a + 1];
			continue;
		}
		for (i = 0; i < sizeof(explain_words) /
		    sizeof(explain_words[0]); i++)
			if (strcmp(argv[a], explain_words[i].word) == 0)
				break;
		if (i == sizeof(explain_words) / sizeof(explain_words[0]))
			return -1;
		*(const char **)((char *)in + explain_words[i].offset) =
		    argv[a + 1];
	}
	return a == argc && in->addr != NULL ? 0 : -1;
}

static void
explain_probe(void *arg, const char *map, const char *key, int result,
    const char *value)
{
	struct explain_trace	*t = arg;

	(void)printf("%s\tprobe\t%s\t%s\t%s\n", t->stage, map, key,
	    result == POLICY_DB_NOTFOUND ? "not found" :
	    result == POLICY_DB_TMPF ? "TMPF" : value[0] == '\0' ? "found" :
	    value);
	if (result != POLICY_DB_FOUND)
		return;
	(void)strlcpy(t->map, map, sizeof(t->map));
	(void)strlcpy(t->key, key, sizeof(t->key));
	(void)strlcpy(t->value, value, sizeof(t->value));
}

static void
explain_step(void *arg, const char *what)
{
	struct explain_trace	*t = arg;

	(void)printf("%s\tstep\t%s\n", t->stage, what);
}

/* Start a stage: its label, and no hit yet. */
static void
explain_stage(struct explain_trace *t, const char *fmt, const char *arg)
{
	(void)snprintf(t->stage, sizeof(t->stage), fmt, arg);
	t->map[0] = t->key[0] = t->value[0] = '\0';
}

/* The map database as policyd would see it; a "database" line. */
static int
explain_db_open(const char *path, struct policy_db **db)
{
	struct stat	 st;
	char		 err[512];

	*db = NULL;
	if (stat(path, &st) == -1 && errno == ENOENT) {
		(void)printf("database\t%s\tmissing: every map is empty\n",
		    path);
		return 0;
	}
	if (policy_db_open(path, 0, db, err, sizeof(err)) == -1) {
		(void)printf("database\t%s\tunusable: every lookup fails "
		    "temporarily: %s\n", path, err);
		return 1;
	}
	(void)printf("database\t%s\n", path);
	return 0;
}

/*
 * A query of kind as policyd would get it from the front end, completed
 * as policyd completes it; -1 (reported) if the input is not valid.
 */
static int
explain_query(struct policy_query *q, uint32_t kind,
    const struct explain_input *in, const char *rcpt)
{
	const char	*why = "sender or recipient too long";
	const char	*r = in->resolve;

	memset(q, 0, sizeof(*q));
	q->kind = kind;
	if (r != NULL && strcmp(r, "OK") != 0 && strcmp(r, "FAIL") != 0 &&
	    strcmp(r, "FORGED") != 0 && strcmp(r, "TEMP") != 0) {
		(void)fprintf(stderr, "smtpctl: explain: resolve is OK, FAIL, "
		    "FORGED or TEMP\n");
		return -1;
	}
	if (r != NULL)
		(void)strlcpy(q->resolve, r, sizeof(q->resolve));
	if (strlcpy(q->helo, in->helo, sizeof(q->helo)) < sizeof(q->helo) &&
	    strlcpy(q->sender, in->from != NULL ? in->from : "",
	    sizeof(q->sender)) < sizeof(q->sender) &&
	    strlcpy(q->rcpt, rcpt, sizeof(q->rcpt)) < sizeof(q->rcpt) &&
	    policy_query_fill(q, in->addr, in->name, &why) == 0)
		return 0;
	(void)fprintf(stderr, "smtpctl: explain: %s\n", why);
	return -1;
}

/* The "match" line: the entry that decided, if one did. */
static void
explain_match(const struct explain_trace *t, const struct policy_result *res)
{
	if (res->key[0] == '\0')
		(void)printf("%s\tmatch\tnone\n", t->stage);
	else if (strcmp(res->key, t->key) == 0)
		(void)printf("%s\tmatch\t%s\t%s\t%s\n", t->stage, t->map,
		    t->key, t->value[0] != '\0' ? t->value : "found");
	else
		(void)printf("%s\tmatch\t%s\n", t->stage, res->key);
}

/* The front end's reply to a refusal: "code enh text". */
static void
explain_refusal(const struct policy_result *res, char *buf, size_t len)
{
	(void)snprintf(buf, len, "%u %s %s", res->code, res->enhanced,
	    res->text);
}

static int
explain_connect(struct policy_env *env, struct explain_trace *t,
    const struct explain_input *in, struct explain_tally *tally)
{
	struct policy_query	 q;
	struct policy_result	 res;
	char			 reply[POLICY_TEXT_MAX + 32];

	if (explain_query(&q, POLICY_CONNECT, in, "") == -1)
		return -1;
	explain_stage(t, "%s", "Connect");
	(void)printf("Connect\tclient\t%s [%s]\n", q.name, q.addr);
	policy_access_check(env, &q, &res);
	explain_match(t, &res);
	if (res.verdict == POLICY_ACCEPT || res.verdict == POLICY_DISCARD) {
		(void)printf("Connect\treply\t220 %s ESMTP ready\n",
		    env->hostname);
		if (res.verdict == POLICY_DISCARD) {
			(void)printf("Connect\tdiscard\tevery message of the "
			    "session is dropped\n");
			tally->discard = 1;
		}
		return 0;
	}
	explain_refusal(&res, reply, sizeof(reply));
	if (res.verdict == POLICY_TEMPFAIL)	/* the front end closes */
		(void)memcpy(reply, "421", 3);
	(void)printf("Connect\treply\t%s\n", reply);
	(void)snprintf(tally->last, sizeof(tally->last), "%s at connect: %s",
	    res.verdict == POLICY_TEMPFAIL ? "deferred" : "rejected", reply);
	tally->stopped = 1;
	return 1;
}

static int
explain_mail(struct policy_env *env, struct explain_trace *t,
    const struct explain_input *in, struct explain_tally *tally)
{
	struct policy_query	 q;
	struct policy_result	 res;
	char			 reply[POLICY_TEXT_MAX + 32];

	if (in->from == NULL)
		return 0;
	if (explain_query(&q, POLICY_MAIL, in, "") == -1)
		return -1;
	explain_stage(t, "From <%s>", q.sender);
	policy_access_check(env, &q, &res);
	explain_match(t, &res);
	if (res.verdict == POLICY_ACCEPT || res.verdict == POLICY_DISCARD) {
		(void)printf("%s\treply\t250 2.1.0 Ok\n", t->stage);
		if (res.verdict == POLICY_DISCARD) {
			(void)printf("%s\tdiscard\tthe message is dropped\n",
			    t->stage);
			tally->discard = 1;
		}
		return 0;
	}
	explain_refusal(&res, reply, sizeof(reply));
	(void)printf("%s\treply\t%s\n", t->stage, reply);
	(void)snprintf(tally->last, sizeof(tally->last), "%s at MAIL: %s",
	    res.verdict == POLICY_TEMPFAIL ? "deferred" : "rejected", reply);
	tally->stopped = 1;
	return 1;
}

/* Why a recipient was accepted, from the result's flags and key. */
static void
explain_relay_line(const char *stage, const struct policy_result *res)
{
	if (res->verdict != POLICY_ACCEPT && res->verdict != POLICY_DISCARD)
		(void)printf("%s\trelay\trefused\n", stage);
	else if (res->flags & POLICY_F_LOCAL)
		(void)printf("%s\trelay\tlocal recipient\n", stage);
	else if (res->flags & POLICY_F_RELAY)
		(void)printf("%s\trelay\tthe client may relay (%s)\n", stage,
		    res->key);
	else
		(void)printf("%s\trelay\tthe domain may be relayed to (%s)\n",
		    stage, res->key);
}

static int
explain_rcpt(struct policy_env *env, struct explain_trace *t,
    const struct explain_input *in, const char *rcpt,
    struct explain_tally *tally)
{
	struct policy_query	 q;
	struct policy_result	 res;
	char			 reply[POLICY_TEXT_MAX + 32];

	if (explain_query(&q, POLICY_RCPT, in, rcpt) == -1)
		return -1;
	explain_stage(t, "To <%s>", q.rcpt);
	policy_access_check(env, &q, &res);
	explain_match(t, &res);
	explain_relay_line(t->stage, &res);
	if (res.verdict == POLICY_ACCEPT || res.verdict == POLICY_DISCARD) {
		(void)printf("%s\treply\t250 2.1.5 Ok\n", t->stage);
		if (res.verdict == POLICY_DISCARD) {
			(void)printf("%s\tdiscard\tthe message is dropped\n",
			    t->stage);
			tally->discard = 1;
		}
		tally->accepted++;
		return 0;
	}
	explain_refusal(&res, reply, sizeof(reply));
	(void)printf("%s\treply\t%s\n", t->stage, reply);
	(void)snprintf(tally->last, sizeof(tally->last), "%s", reply);
	return 0;
}

static int
explain_rcpts(struct policy_env *env, struct explain_trace *t,
    const struct explain_input *in, struct explain_tally *tally)
{
	int	 i;

	for (i = 0; i < in->nrcpt; i++)
		if (explain_rcpt(env, t, in, in->rcpt[i], tally) == -1)
			return -1;
	return 0;
}

/* The one-line summary. */
static void
explain_verdict(const struct explain_input *in,
    const struct explain_tally *tally)
{
	const char	*discard = tally->discard ? " (then discarded)" : "";

	if (tally->stopped)
		(void)printf("verdict\t%s\n", tally->last);
	else if (in->nrcpt == 0)
		(void)printf("verdict\taccepted%s\n", discard);
	else if (tally->accepted == 0)
		(void)printf("verdict\trejected: no recipient accepted "
		    "(last: %s)\n", tally->last);
	else
		(void)printf("verdict\taccepted for %d of %d recipients%s\n",
		    tally->accepted, in->nrcpt, discard);
}

/* Check every query before anything is printed; 0 or -1 (reported). */
static int
explain_check(const struct explain_input *in)
{
	struct policy_query	 q;
	int			 i;

	if (explain_query(&q, POLICY_CONNECT, in, "") == -1 ||
	    (in->from != NULL && explain_query(&q, POLICY_MAIL, in,
	    "") == -1))
		return -1;
	for (i = 0; i < in->nrcpt; i++)
		if (explain_query(&q, POLICY_RCPT, in, in->rcpt[i]) == -1)
			return -1;
	return 0;
}

int
smtpctl_explain(const struct config *cf, int argc, char **argv)
{
	struct explain_input	 in;
	struct explain_trace	 t;
	struct explain_tally	 tally;
	struct policy_trace	 trace;
	struct policy_env	 env;
	struct policy_db	*db;
	size_t			 i;
	int			 dbfail, r = 0;

	if (explain_parse(argc, argv, &in) == -1)
		return explain_usage();
	if (explain_check(&in) == -1)
		return 1;
	dbfail = explain_db_open(cf->database_path, &db);
	policy_env_init(&env, db, dbfail, cf->hostname);
	memset(&t, 0, sizeof(t));
	memset(&tally, 0, sizeof(tally));
	trace.probe = explain_probe;
	trace.step = explain_step;
	trace.arg = &t;
	env.trace = &trace;
	for (i = 0; r == 0 && i < sizeof(explain_stages) /
	    sizeof(explain_stages[0]); i++)
		r = explain_stages[i](&env, &t, &in, &tally);
	policy_db_close(db);
	if (r == -1)
		return 1;
	explain_verdict(&in, &tally);
	return 0;
}
