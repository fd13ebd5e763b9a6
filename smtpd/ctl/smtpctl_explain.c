/*
 * smtpctl_explain.c: "smtpctl explain", what the relay would answer a
 * client and how it would hand the mail to a next hop, worked out from
 * the map database without the daemon.
 *
 *   explain [addr A [name N] [helo H] [verify V ...] [from S]]
 *	     [rcpt R ...] [server-addr A [server N] [server-verify V ...]]
 *
 * (the words are read and checked by smtpctl_explain_input.c).  The
 * stages, in session order, each one or more rows of output:
 *
 *   Connect		check_relay
 *   Srv_Features	the extensions offered to this client
 *   DNSBL ZONE		each dnsbl zone, when check_relay found no entry
 *   TLS_Clt		the check right after STARTTLS (with verify)
 *   TLS_Clt at MAIL	the same ruleset, run first at MAIL
 *   From <s>		check_mail
 *   To <r>		check_rcpt and the relay decision (RelayTLS too)
 *   Try_TLS		may STARTTLS be sent to the next hop?
 *   TLS_Srv		may the mail go on over that connection?
 *   TLS_Rcpt <r>	may this recipient be sent over it?
 *
 * Each is decided by the function smtpd-policyd answers that question
 * with, policy_access_check() with the query kind the front end or the
 * outbound client would send, on a query completed by
 * policy_query_fill() as policyd completes the ones it receives.  A
 * policy_trace watches the decision, so what is printed is what was
 * done.  Where one decision runs two rulesets (check_relay then
 * Srv_Features; tls_client then check_mail) the trace splits its lines
 * into two stages at the step that starts the second, and the stages
 * are printed one after the other.  Output lines are tab-separated, the
 * stage first, and end with one "verdict" line.  A refusal that ends the
 * session in the daemon ends it here; later stages are not shown.
 *
 * Failure behaviour: a missing database means empty maps, an unusable
 * one means every lookup fails temporarily, both as in policyd and said
 * on a "database" line; bad input is refused with exit status 1 before
 * anything is printed.
 */
#include <sys/stat.h>

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "proto.h"
#include "policy.h"
#include "smtpctl.h"
#include "smtpctl_explain.h"

#define EXPLAIN_SECTIONS	2
#define EXPLAIN_REPLY_MAX	(POLICY_TEXT_MAX + 32)
#define F(c)			POLICY_FEATURE(c)

/* The lines of one stage while its decision runs, and its last hit. */
struct explain_section {
	char		 label[POLICY_PATH_MAX + 16];
	FILE		*fp;
	char		*buf;
	size_t		 len;
	int		 reached;
	char		 map[32];
	char		 key[POLICY_KEY_MAX + 1];
	char		 value[POLICY_VALUE_MAX + 1];
};

/* The observer: the stages of one decision and which one is running. */
struct explain_trace {
	struct explain_section	 sec[EXPLAIN_SECTIONS];
	int			 n;
	int			 cur;
	/* step prefixes that start sec[cur + 1] */
	const char *const	*next;
};

/* The outcome of the whole session, for the verdict line. */
struct explain_tally {
	int		 stopped;	/* the inbound session ended */
	int		 accepted;	/* recipients */
	int		 discard;
	/* the first QUARANTINE reason, "" if the message is not held */
	char		 quarantine[QUARANTINE_REASON_MAX + 1];
	char		 last[EXPLAIN_REPLY_MAX + 64];
	int		 out;		/* the next hop was explained */
	char		 server[POLICY_NAME_MAX + POLICY_ADDR_MAX + 4];
	int		 srv_refused;
	int		 tried;		/* TLS_Rcpt decisions */
	int		 sent;
	char		 out_last[EXPLAIN_REPLY_MAX + POLICY_PATH_MAX + 64];
};

/* Everything one run works with. */
struct explain_ctx {
	const struct config	*cf;
	struct explain_input	 in;
	struct explain_facts	 clt;
	struct explain_facts	 srv;
	struct policy_env	*env;
	struct explain_trace	 t;
	uint32_t		 fset;	/* Srv_Features letters */
	uint32_t		 fclear;
	int			 ok[EXPLAIN_RCPT_MAX];	/* accepted rcpts */
	/* delay-checks: the zone that decides at each RCPT, if one does */
	struct explain_dnsbl	 dnsbl;
	int			 dnsbl_decided;
	struct explain_tally	 tally;
};

/* What this relay does with each Srv_Features letter (spec 4.2). */
static const struct {
	int		 letter;
	const char	*set;
	const char	*clear;
} explain_letters[] = {
	{ 's', "STARTTLS on", "STARTTLS off" },
	{ 'p', "PIPELINING on", "PIPELINING off" },
	{ 'v', "client certificate requested",
	    "no client certificate requested" },
	{ 'a', "AUTH on", "AUTH off" },
	{ 'l', "AUTH required before MAIL", "AUTH not required" },
	{ 'c', "plaintext AUTH needs a security layer",
	    "plaintext AUTH needs no security layer" },
	{ 'd', "DSN on", "DSN off" },
	{ 'x', "EXPN and VRFY on", "EXPN and VRFY off" },
	{ 'b', "VERB (not implemented: no effect)",
	    "VERB (not implemented: no effect)" },
	{ 'e', "ETRN (not implemented: no effect)",
	    "ETRN (not implemented: no effect)" },
};

static const char *const explain_next_features[] = {
	"Srv_Features:", "srv_features:", NULL
};
static const char *const explain_next_mail[] = { "check_mail:", NULL };

static int	explain_connect(struct explain_ctx *);
static int	explain_client_limits(struct explain_ctx *);
static int	explain_starttls(struct explain_ctx *);
static int	explain_mail(struct explain_ctx *);
static int	explain_rcpts(struct explain_ctx *);
static int	explain_try_tls(struct explain_ctx *);
static int	explain_tls_srv(struct explain_ctx *);
static int	explain_tls_rcpts(struct explain_ctx *);

/* The stages in session order; each returns 0, 1 to stop, -1 on error. */
static int (*const explain_stages[])(struct explain_ctx *) = {
	explain_connect,
	explain_client_limits,
	explain_starttls,
	explain_mail,
	explain_rcpts,
	explain_try_tls,
	explain_tls_srv,
	explain_tls_rcpts,
};

static void	explain_line(struct explain_section *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static int
explain_usage(void)
{
	(void)fprintf(stderr, "usage: smtpctl explain [addr ADDRESS "
	    "[name NAME] [helo NAME] [from SENDER]\n"
	    "           [verify V] [bits N] [cn NAME] [cert-subject DN] "
	    "[cert-issuer DN]\n"
	    "           [auth-mech M] [auth-ssf N] [resolve OUTCOME]]\n"
	    "           [rcpt RECIPIENT ...]\n"
	    "           [server-addr ADDRESS [server NAME] "
	    "[server-verify V] [server-bits N]\n"
	    "           [server-cn NAME] [server-cert-subject DN] "
	    "[server-cert-issuer DN]]\n");
	return 2;
}

/* One output line of a stage: "label<TAB>..." */
static void
explain_line(struct explain_section *s, const char *fmt, ...)
{
	va_list	 ap;

	(void)fprintf(s->fp, "%s\t", s->label);
	va_start(ap, fmt);
	(void)vfprintf(s->fp, fmt, ap);
	va_end(ap);
	(void)fputc('\n', s->fp);
}

static void
explain_probe(void *arg, const char *map, const char *key, int result,
    const char *value)
{
	struct explain_trace	*t = arg;
	struct explain_section	*s = &t->sec[t->cur];

	explain_line(s, "probe\t%s\t%s\t%s", map, key,
	    result == POLICY_DB_NOTFOUND ? "not found" :
	    result == POLICY_DB_TMPF ? "TMPF" : value[0] == '\0' ? "found" :
	    value);
	if (result != POLICY_DB_FOUND)
		return;
	(void)strlcpy(s->map, map, sizeof(s->map));
	(void)strlcpy(s->key, key, sizeof(s->key));
	(void)strlcpy(s->value, value, sizeof(s->value));
}

/* A step; the first step of the decision's next ruleset starts its stage. */
static void
explain_step(void *arg, const char *what)
{
	struct explain_trace	*t = arg;
	size_t			 i;

	for (i = 0; t->cur + 1 < t->n && t->next != NULL &&
	    t->next[i] != NULL; i++)
		if (strncmp(what, t->next[i], strlen(t->next[i])) == 0) {
			t->sec[++t->cur].reached = 1;
			break;
		}
	if (strncmp(what, "SKIP at ", 8) == 0)	/* a SKIP is "not found" */
		t->sec[t->cur].key[0] = '\0';
	explain_line(&t->sec[t->cur], "step\t%s", what);
}

/* Start a decision of n stages; next: the steps that start the second. */
static int
explain_begin(struct explain_ctx *c, int n, const char *first,
    const char *second, const char *const *next)
{
	struct explain_trace	*t = &c->t;
	int			 i;

	memset(t, 0, sizeof(*t));
	t->n = n;
	t->next = next;
	(void)strlcpy(t->sec[0].label, first, sizeof(t->sec[0].label));
	if (second != NULL)
		(void)strlcpy(t->sec[1].label, second,
		    sizeof(t->sec[1].label));
	t->sec[0].reached = 1;
	for (i = 0; i < n; i++)
		if ((t->sec[i].fp = open_memstream(&t->sec[i].buf,
		    &t->sec[i].len)) == NULL) {
			(void)fprintf(stderr, "smtpctl: explain: %s\n",
			    strerror(errno));
			while (i-- > 0) {
				(void)fclose(t->sec[i].fp);
				free(t->sec[i].buf);
			}
			return -1;
		}
	return 0;
}

/* Print the stages the decision reached, in order. */
static void
explain_end(struct explain_ctx *c)
{
	struct explain_section	*s;
	int			 i;

	for (i = 0; i < c->t.n; i++) {
		s = &c->t.sec[i];
		(void)fclose(s->fp);
		if (s->reached)
			(void)fwrite(s->buf, 1, s->len, stdout);
		free(s->buf);
	}
}

/* The map database as policyd would see it; a "database" line. */
static int
explain_db_open(const char *path, struct policy_db **db)
{
	struct stat	 st;
	char		 err[512];

	*db = NULL;
	if (policy_db_remote())
		path = "postgresql";
	else if (stat(path, &st) == -1 && errno == ENOENT) {
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

/* 1 for the kinds the outbound client asks about the next hop. */
static int
explain_outbound(uint32_t kind)
{
	return kind == POLICY_TRY_TLS || kind == POLICY_TLS_SRV ||
	    kind == POLICY_TLS_RCPT;
}

/*
 * A query of kind as policyd would get it from the front end or the
 * outbound client, completed as policyd completes it; -1 (reported) if
 * the input is not valid.
 */
static int
explain_query(const struct explain_ctx *c, struct policy_query *q,
    uint32_t kind, const char *rcpt)
{
	const struct explain_input	*in = &c->in;
	const struct explain_facts	*f;
	const char			*why = "sender or recipient too long";
	int				 out = explain_outbound(kind);

	memset(q, 0, sizeof(*q));
	q->kind = kind;
	f = out ? &c->srv : &c->clt;
	if (strlcpy(q->helo, out ? "" : in->helo, sizeof(q->helo)) >=
	    sizeof(q->helo) || strlcpy(q->sender, !out && in->from != NULL ?
	    in->from : "", sizeof(q->sender)) >= sizeof(q->sender) ||
	    strlcpy(q->rcpt, rcpt, sizeof(q->rcpt)) >= sizeof(q->rcpt) ||
	    policy_query_fill(q, out ? in->server_addr : in->addr,
	    out ? (in->server != NULL ? in->server : "") : in->name,
	    &why) == -1) {
		(void)fprintf(stderr, "smtpctl: explain: %s%s\n",
		    out ? "next hop: " : "", why);
		return -1;
	}
	if (!out && in->resolve != NULL) {
		if (strcmp(in->resolve, "OK") != 0 &&
		    strcmp(in->resolve, "FAIL") != 0 &&
		    strcmp(in->resolve, "FORGED") != 0 &&
		    strcmp(in->resolve, "TEMP") != 0) {
			(void)fprintf(stderr, "smtpctl: explain: resolve is OK, "
			    "FAIL, FORGED or TEMP\n");
			return -1;
		}
		(void)strlcpy(q->resolve, in->resolve, sizeof(q->resolve));
	}
	(void)strlcpy(q->verify, f->verify, sizeof(q->verify));
	(void)strlcpy(q->auth_mech, f->auth_mech, sizeof(q->auth_mech));
	q->auth_ssf = f->ssf;
	q->cipher_bits = f->bits;
	(void)strlcpy(q->cert_subject, f->cert_subject,
	    sizeof(q->cert_subject));
	(void)strlcpy(q->cert_issuer, f->cert_issuer, sizeof(q->cert_issuer));
	(void)strlcpy(q->cn_subject, f->cn_subject, sizeof(q->cn_subject));
	return 0;
}

/* The "match" line: key decided (NULL: the stage's own last hit). */
static void
explain_match(struct explain_section *s, const char *key)
{
	if (key == NULL)
		key = s->key;
	if (key[0] == '\0')
		explain_line(s, "match\tnone");
	else if (strcmp(key, s->key) == 0)
		explain_line(s, "match\t%s\t%s\t%s", s->map, s->key,
		    s->value[0] != '\0' ? s->value : "found");
	else
		explain_line(s, "match\t%s", key);
}

/* The TLS facts a ruleset judged, as macro values. */
static void
explain_facts_line(struct explain_section *s, const struct policy_query *q)
{
	explain_line(s, "facts\tverify=%s cipher_bits=%u auth_ssf=%u "
	    "cn_subject=%s cert_subject=%s cert_issuer=%s", q->verify,
	    q->cipher_bits, q->auth_ssf, q->cn_subject, q->cert_subject,
	    q->cert_issuer);
}

/* A refusal as sent: "code enh text". */
static void
explain_refusal(const struct policy_result *res, char *buf, size_t len)
{
	(void)snprintf(buf, len, "%u %s %s", res->code, res->enhanced,
	    res->text);
}

/* "deferred" or "rejected" by the reply's class. */
static const char *
explain_fate(const struct policy_result *res)
{
	return res->code / 100 == 4 ? "deferred" : "rejected";
}

/* The Srv_Features stage after an accepting check_relay. */
static int
explain_features(struct explain_ctx *c, const struct policy_result *res)
{
	struct explain_section	*s = &c->t.sec[1];
	char			 words[1024] = "";
	uint32_t		 set = res->features_set;
	uint32_t		 clr = res->features_clear;
	size_t			 i;

	explain_match(s, NULL);
	if (res->flags & POLICY_F_SESSION_TEMP) {
		explain_line(s, "features\ttemp: every command but QUIT, "
		    "HELO, EHLO, NOOP and RSET gets the reply below");
		explain_line(s, "reply\t450 4.3.0 Please try again later.");
		(void)snprintf(c->tally.last, sizeof(c->tally.last),
		    "deferred by Srv_Features: 450 4.3.0 Please try again "
		    "later.");
		c->tally.stopped = 1;
		return 1;
	}
	if (set & F('r'))		/* R is an alias of V */
		set |= F('v');
	if (clr & F('r'))
		clr |= F('v');
	c->fset = set;
	c->fclear = clr;
	for (i = 0; i < sizeof(explain_letters) / sizeof(explain_letters[0]);
	    i++) {
		if (set & F(explain_letters[i].letter))
			(void)snprintf(words + strlen(words), sizeof(words) -
			    strlen(words), "%s%s", words[0] != '\0' ? ", " :
			    "", explain_letters[i].set);
		if (clr & F(explain_letters[i].letter))
			(void)snprintf(words + strlen(words), sizeof(words) -
			    strlen(words), "%s%s", words[0] != '\0' ? ", " :
			    "", explain_letters[i].clear);
	}
	explain_line(s, "features\t%s", words[0] != '\0' ? words :
	    "unchanged");
	return 0;
}

/* A QUARANTINE verdict: what is held and why; the first reason stays. */
static void
explain_quarantine(struct explain_ctx *c, struct explain_section *s,
    const struct policy_result *res, const char *what)
{
	if (res->verdict != POLICY_QUARANTINE)
		return;
	explain_line(s, "quarantine\t%s is held: %s", what, res->text);
	if (c->tally.quarantine[0] == '\0')
		(void)strlcpy(c->tally.quarantine, res->text,
		    sizeof(c->tally.quarantine));
}

/*
 * The blocklists once check_relay found no Connect: entry (spec 9.10); a
 * refusal ends the session as a Connect: one does.  With delay-checks
 * (now 0) they are shown but apply at each RCPT, not here.
 */
static int
explain_connect_dnsbl(struct explain_ctx *c, int now)
{
	struct explain_dnsbl	 d;

	if (!now)
		(void)printf("DNSBL\twhen\tat each RCPT (policy delay-checks), "
		    "where check_relay runs\n");
	if (explain_dnsbl(c->cf, c->in.addr, &d) == 0)
		return 0;
	if (!now) {
		c->dnsbl = d;
		c->dnsbl_decided = 1;
		return 0;
	}
	if (d.temp || d.action == DNSBL_REJECT) {
		(void)printf("DNSBL\treply\t%s\n", d.reply);
		(void)snprintf(c->tally.last, sizeof(c->tally.last),
		    "%s at connect by dnsbl %s: %s", d.temp ? "deferred" :
		    "rejected", d.zone, d.reply);
		c->tally.stopped = 1;
		return 1;
	}
	if (d.action == DNSBL_DISCARD) {
		(void)printf("DNSBL\tdiscard\tevery message of the session is "
		    "dropped\n");
		c->tally.discard = 1;
		return 0;
	}
	(void)printf("DNSBL\tquarantine\tevery message of the session is "
	    "held: listed at %s\n", d.zone);
	if (c->tally.quarantine[0] == '\0') {
		(void)strlcpy(c->tally.quarantine, "listed at ",
		    sizeof(c->tally.quarantine));
		(void)strlcat(c->tally.quarantine, d.zone,
		    sizeof(c->tally.quarantine));
	}
	return 0;
}

/* One of the client limits: the map's number, else the smtpd.conf one. */
static void
explain_client_limit(struct explain_section *s, const char *tag,
    uint32_t map, size_t dflt, const char *keyword, const char *what)
{
	if (map != POLICY_LIMIT_NONE && map == 0)
		explain_line(s, "limit	%s: 0, no limit", tag);
	else if (map != POLICY_LIMIT_NONE)
		explain_line(s, "limit	%s: %u %s", tag, map, what);
	else if (dflt == 0)
		explain_line(s, "limit	%s: no entry, %s 0: no limit", tag,
		    keyword);
	else
		explain_line(s, "limit	%s: no entry, %s %zu %s", tag, keyword,
		    dflt, what);
}

/* ClientConn: and ClientRate: (policy_limit.c); the counts are the
 * front end's, so only the limits are shown. */
static int
explain_client_limits(struct explain_ctx *c)
{
	struct policy_query	 q;
	struct policy_result	 res;
	struct explain_section	*s = &c->t.sec[0];

	if (c->in.addr == NULL)
		return 0;
	if (explain_begin(c, 1, "Client limits", NULL, NULL) == -1)
		return -1;
	if (explain_query(c, &q, POLICY_CONNECT, "") == -1) {
		explain_end(c);
		return -1;
	}
	memset(&res, 0, sizeof(res));
	policy_limit_client(c->env, &q, &res);
	explain_client_limit(s, "ClientConn", res.client_conn,
	    c->cf->limit_sessions_per_address, "limit sessions-per-address",
	    "sessions at once, then 421 4.3.2 Too many open connections.");
	explain_client_limit(s, "ClientRate", res.client_rate,
	    c->cf->limit_connection_rate_per_address,
	    "limit connection-rate-per-address", "connections in 60 s, "
	    "then 421 4.3.2 Connection rate limit exceeded.");
	explain_end(c);
	return 0;
}

static int
explain_connect(struct explain_ctx *c)
{
	struct policy_query	 q;
	struct policy_result	 res;
	struct explain_section	*s = &c->t.sec[0];
	char			 reply[EXPLAIN_REPLY_MAX];
	int			 r = 0, dnsbl = 0;

	if (c->in.addr == NULL)
		return 0;
	if (explain_begin(c, 2, "Connect", "Srv_Features",
	    explain_next_features) == -1)
		return -1;
	if (explain_query(c, &q, POLICY_CONNECT, "") == -1) {
		explain_end(c);
		return -1;
	}
	policy_access_check(c->env, &q, &res);
	explain_match(s, res.key);
	if (res.verdict == POLICY_ACCEPT || res.verdict == POLICY_DISCARD ||
	    res.verdict == POLICY_QUARANTINE) {
		explain_line(s, "reply\t220 %s ESMTP ready",
		    c->env->hostname);
		if (res.verdict == POLICY_DISCARD) {
			explain_line(s, "discard\tevery message of the "
			    "session is dropped");
			c->tally.discard = 1;
		}
		explain_quarantine(c, s, &res, "every message of the session");
		r = explain_features(c, &res);
		dnsbl = r == 0 && (res.flags & POLICY_F_DNSBL);
	} else {
		explain_refusal(&res, reply, sizeof(reply));
		if (res.verdict == POLICY_TEMPFAIL)	/* the front end closes */
			(void)memcpy(reply, "421", 3);
		explain_line(s, "reply\t%s", reply);
		(void)snprintf(c->tally.last, sizeof(c->tally.last),
		    "%s at connect: %s", res.verdict == POLICY_TEMPFAIL ?
		    "deferred" : "rejected", reply);
		c->tally.stopped = 1;
		r = 1;
	}
	explain_end(c);
	if (dnsbl || (r == 0 && c->cf->policy_delay_checks &&
	    !TAILQ_EMPTY(&c->cf->dnsbls)))
		r = explain_connect_dnsbl(c, dnsbl);
	return r;
}

/*
 * What Srv_Features leaves of the client's STARTTLS: none without S, no
 * certificate without V.  0, or 1 when there is no handshake to judge.
 */
static int
explain_starttls_offer(struct explain_ctx *c, struct explain_section *s)
{
	if (c->fclear & F('s')) {
		explain_line(s, "skipped\tSrv_Features S: STARTTLS is not "
		    "offered, so ${verify} stays empty");
		explain_facts_clear_cert(&c->clt, "");
		return 1;
	}
	if ((c->fclear & F('v')) && strcmp(c->clt.verify, "NOT") != 0) {
		explain_line(s, "verify\tNOT: Srv_Features V: no client "
		    "certificate is requested");
		explain_facts_clear_cert(&c->clt, "NOT");
	}
	return 0;
}

/* TLS_Clt right after the handshake (spec 3.1, 3.4). */
static int
explain_starttls(struct explain_ctx *c)
{
	struct policy_query	 q;
	struct policy_result	 res;
	struct explain_section	*s = &c->t.sec[0];
	char			 reply[EXPLAIN_REPLY_MAX];

	if (c->in.addr == NULL || c->in.verify == NULL)
		return 0;
	if (explain_begin(c, 1, "TLS_Clt", NULL, NULL) == -1)
		return -1;
	if (explain_starttls_offer(c, s) == 1) {
		explain_end(c);
		return 0;
	}
	if (explain_query(c, &q, POLICY_TLS_CLT, "") == -1) {
		explain_end(c);
		return -1;
	}
	explain_facts_line(s, &q);
	policy_access_check(c->env, &q, &res);
	explain_match(s, res.key);
	if (res.verdict == POLICY_ACCEPT) {
		explain_line(s, "result\taccepted: the session goes on");
		explain_end(c);
		return 0;
	}
	explain_refusal(&res, reply, sizeof(reply));
	explain_line(s, "reply\t%s", reply);
	explain_line(s, "result\tMAIL, RCPT, DATA, VRFY and EXPN get this "
	    "reply; EHLO, HELO, NOOP, RSET and QUIT still work; STARTTLS is "
	    "no longer offered");
	(void)snprintf(c->tally.last, sizeof(c->tally.last), "%s by TLS_Clt "
	    "after STARTTLS: %s", explain_fate(&res), reply);
	c->tally.stopped = 1;
	explain_end(c);
	return 1;
}

/* Srv_Features l: MAIL needs AUTH first (spec 4.2); 1 if it refuses. */
static int
explain_mail_auth(struct explain_ctx *c, const char *label)
{
	static const char	 reply[] = "530 5.7.0 Authentication required";

	if (!(c->fset & F('l')) || c->clt.auth_mech[0] != '\0')
		return 0;
	if (explain_begin(c, 1, label, NULL, NULL) == -1)
		return -1;
	explain_line(&c->t.sec[0], "step\tSrv_Features l: AUTH is required "
	    "before MAIL");
	explain_line(&c->t.sec[0], "reply\t%s", reply);
	explain_end(c);
	(void)snprintf(c->tally.last, sizeof(c->tally.last),
	    "rejected at MAIL: %s", reply);
	c->tally.stopped = 1;
	return 1;
}

/* The reply to MAIL when tls_client and check_mail accepted. */
static void
explain_mail_accepted(struct explain_ctx *c, const struct policy_result *res)
{
	struct explain_section	*tls = &c->t.sec[0], *s = &c->t.sec[1];

	explain_match(tls, NULL);
	explain_line(tls, "result\taccepted");
	explain_match(s, res->key);
	explain_line(s, "reply\t250 2.1.0 Ok");
	if (res->verdict == POLICY_DISCARD) {
		explain_line(s, "discard\tthe message is dropped");
		c->tally.discard = 1;
	}
	explain_quarantine(c, s, res, "the message");
}

static int
explain_mail(struct explain_ctx *c)
{
	struct policy_query	 q;
	struct policy_result	 res;
	struct explain_section	*s;
	char			 label[POLICY_PATH_MAX + 16];
	char			 reply[EXPLAIN_REPLY_MAX];
	int			 r;

	if (c->in.addr == NULL || c->in.from == NULL)
		return 0;
	if (explain_query(c, &q, POLICY_MAIL, "") == -1)
		return -1;
	(void)snprintf(label, sizeof(label), "From <%s>", q.sender);
	if ((r = explain_mail_auth(c, label)) != 0)
		return r;
	if (explain_begin(c, 2, "TLS_Clt at MAIL", label,
	    explain_next_mail) == -1)
		return -1;
	explain_facts_line(&c->t.sec[0], &q);
	policy_access_check(c->env, &q, &res);
	if (res.verdict == POLICY_ACCEPT || res.verdict == POLICY_DISCARD ||
	    res.verdict == POLICY_QUARANTINE) {
		explain_mail_accepted(c, &res);
		explain_end(c);
		return 0;
	}
	/* tls_client refused, or check_mail did */
	s = res.ruleset != NULL ? &c->t.sec[0] : &c->t.sec[1];
	if (res.ruleset == NULL) {
		explain_match(&c->t.sec[0], NULL);
		explain_line(&c->t.sec[0], "result\taccepted");
	}
	explain_match(s, res.key);
	explain_refusal(&res, reply, sizeof(reply));
	explain_line(s, "reply\t%s", reply);
	(void)snprintf(c->tally.last, sizeof(c->tally.last), "%s at MAIL%s: "
	    "%s", res.verdict == POLICY_TEMPFAIL ? "deferred" : "rejected",
	    res.ruleset != NULL ? " by TLS_Clt" : "", reply);
	c->tally.stopped = 1;
	explain_end(c);
	return 1;
}

/* Why a recipient was accepted, from the result's flags and key. */
static void
explain_relay_line(struct explain_section *s, const struct policy_result *res)
{
	if (res->ruleset != NULL && strcmp(res->ruleset, "recipient") == 0)
		explain_line(s, "relay\tallowed, but the recipient resolves "
		    "to nothing deliverable");
	else if (res->verdict != POLICY_ACCEPT &&
	    res->verdict != POLICY_DISCARD && res->verdict != POLICY_QUARANTINE)
		explain_line(s, "relay\trefused");
	else if (res->verdict != POLICY_ACCEPT)
		explain_line(s, "relay\tnot decided: the To: entry ends the "
		    "check (%s)", res->key);
	else if (res->flags & POLICY_F_LOCAL)
		explain_line(s, "relay\tlocal recipient");
	else if (res->flags & POLICY_F_RELAY_CERT)
		explain_line(s, "relay\tthe client's verified certificate may "
		    "relay (%s)", res->key);
	else if (res->flags & POLICY_F_RELAY)
		explain_line(s, "relay\tthe client may relay (%s)", res->key);
	else
		explain_line(s, "relay\tthe domain may be relayed to (%s)",
		    res->key);
}

/* How one final recipient will be delivered. */
static void
explain_target(struct explain_ctx *c, struct explain_section *s,
    const struct policy_target *t)
{
	struct policy_route	 rt;
	const char		*at;
	char			 via[POLICY_NAME_MAX + 64];

	via[0] = '\0';
	if (t->kind == TARGET_REMOTE && (at = strrchr(t->value, '@')) != NULL) {
		policy_route_find(c->env, c->env->cf, at + 1, &rt);
		if (rt.kind == ROUTE_HOST)
			(void)snprintf(via, sizeof(via), ", via %s%s%s port %u",
			    rt.flags & ROUTE_F_MX ? "the MX of " : "", rt.host,
			    rt.user[0] != '\0' ? " as " : "", rt.port);
		else
			(void)snprintf(via, sizeof(via), ", via the MX of %s",
			    at + 1);
	}
	if (t->kind == TARGET_ERROR)
		explain_line(s, "final	error %s: %s", t->value, t->error);
	else
		explain_line(s, "final	%s %s%s%s%s", policy_target_kind_name(
		    t->kind), t->value, via, t->sender[0] != '\0' ?
		    ", sender " : "", t->sender);
}

/*
 * delay-checks: the zone that decided, for a recipient that passed and
 * whose check_relay found no Connect: entry.  1 if it refuses the
 * recipient (reply printed), 0 if the recipient goes on.
 */
static int
explain_rcpt_dnsbl(struct explain_ctx *c, struct explain_section *s,
    const char *rcpt)
{
	const struct explain_dnsbl	*d = &c->dnsbl;
	char				 reply[sizeof(d->reply) +
					    POLICY_PATH_MAX + 8];

	if (!c->dnsbl_decided)
		return 0;
	if (d->temp || d->action == DNSBL_REJECT) {
		config_dnsbl_reply_rcpt(d->reply, rcpt, reply, sizeof(reply));
		explain_line(s, "dnsbl\t%s", d->zone);
		explain_line(s, "reply\t%s", reply);
		(void)snprintf(c->tally.last, sizeof(c->tally.last), "%s",
		    reply);
		return 1;
	}
	if (d->action == DNSBL_DISCARD) {
		explain_line(s, "discard\tthe message is dropped (dnsbl %s)",
		    d->zone);
		c->tally.discard = 1;
	} else {
		explain_line(s, "quarantine\tthe message is held: listed at %s",
		    d->zone);
		if (c->tally.quarantine[0] == '\0') {
			(void)strlcpy(c->tally.quarantine, "listed at ",
			    sizeof(c->tally.quarantine));
			(void)strlcat(c->tally.quarantine, d->zone,
			    sizeof(c->tally.quarantine));
		}
	}
	return 0;
}

static int
explain_rcpt(struct explain_ctx *c, int i)
{
	struct policy_query	 q;
	struct policy_result	 res;
	struct explain_section	*s = &c->t.sec[0];
	char			 label[POLICY_PATH_MAX + 16];
	char			 reply[EXPLAIN_REPLY_MAX];
	size_t			 j;

	if (explain_query(c, &q, POLICY_RCPT, c->in.rcpt[i]) == -1)
		return -1;
	(void)snprintf(label, sizeof(label), "To <%s>", q.rcpt);
	if (explain_begin(c, 1, label, NULL, NULL) == -1)
		return -1;
	policy_access_check(c->env, &q, &res);
	explain_match(s, res.key);
	explain_relay_line(s, &res);
	if (res.verdict == POLICY_ACCEPT && (res.flags & POLICY_F_DNSBL) &&
	    explain_rcpt_dnsbl(c, s, q.rcpt)) {
		policy_targets_free(&res.targets);
		explain_end(c);
		return 0;
	}
	if (res.verdict == POLICY_ACCEPT || res.verdict == POLICY_DISCARD ||
	    res.verdict == POLICY_QUARANTINE) {
		explain_line(s, "reply\t250 2.1.5 Ok");
		for (j = 0; j < res.targets.n; j++)
			explain_target(c, s, &res.targets.t[j]);
		policy_targets_free(&res.targets);
		if (res.verdict == POLICY_DISCARD) {
			explain_line(s, "discard\tthe message is dropped");
			c->tally.discard = 1;
		}
		explain_quarantine(c, s, &res, "the message");
		c->tally.accepted++;
		c->ok[i] = 1;
	} else {
		explain_refusal(&res, reply, sizeof(reply));
		explain_line(s, "reply\t%s", reply);
		(void)snprintf(c->tally.last, sizeof(c->tally.last), "%s",
		    reply);
	}
	explain_end(c);
	return 0;
}

static int
explain_rcpts(struct explain_ctx *c)
{
	int	 i;

	if (c->in.addr == NULL)
		return 0;
	for (i = 0; i < c->in.nrcpt; i++)
		if (explain_rcpt(c, i) == -1)
			return -1;
	return 0;
}

/* 1 if the next hop is to be explained: a message would be queued. */
static int
explain_outbound_due(const struct explain_ctx *c)
{
	if (c->in.server_addr == NULL)
		return 0;
	if (c->in.addr == NULL)
		return 1;
	if (c->tally.stopped || c->tally.discard ||
	    (c->in.nrcpt > 0 && c->tally.accepted == 0)) {
		(void)printf("Try_TLS\tskipped\tno message would be sent to "
		    "the next hop\n");
		return 0;
	}
	return 1;
}

/* Try_TLS (spec 4.1): may STARTTLS be sent to the next hop? */
static int
explain_try_tls(struct explain_ctx *c)
{
	struct policy_query	 q;
	struct policy_result	 res;
	struct explain_section	*s = &c->t.sec[0];
	char			 reply[EXPLAIN_REPLY_MAX];

	if (!explain_outbound_due(c))
		return 1;
	if (explain_begin(c, 1, "Try_TLS", NULL, NULL) == -1)
		return -1;
	if (explain_query(c, &q, POLICY_TRY_TLS, "") == -1) {
		explain_end(c);
		return -1;
	}
	c->tally.out = 1;
	(void)snprintf(c->tally.server, sizeof(c->tally.server), "%s [%s]",
	    q.name, q.addr);
	explain_line(s, "server\t%s", c->tally.server);
	policy_access_check(c->env, &q, &res);
	explain_match(s, res.key);
	if (res.verdict == POLICY_ACCEPT)
		explain_line(s, "result\tSTARTTLS is sent");
	else {
		explain_refusal(&res, reply, sizeof(reply));
		explain_line(s, "reply\t%s", reply);
		explain_line(s, "result\tSTARTTLS is not sent: ${verify} is "
		    "NONE%s", c->in.server_verify != NULL ?
		    " (server-verify is not used)" : "");
		explain_facts_clear_cert(&c->srv, "NONE");
	}
	explain_end(c);
	return 0;
}

/* TLS_Srv (spec 3.1, 3.4): may the mail go on over this connection? */
static int
explain_tls_srv(struct explain_ctx *c)
{
	struct policy_query	 q;
	struct policy_result	 res;
	struct explain_section	*s = &c->t.sec[0];
	char			 reply[EXPLAIN_REPLY_MAX];

	if (explain_begin(c, 1, "TLS_Srv", NULL, NULL) == -1)
		return -1;
	if (explain_query(c, &q, POLICY_TLS_SRV, "") == -1) {
		explain_end(c);
		return -1;
	}
	explain_facts_line(s, &q);
	policy_access_check(c->env, &q, &res);
	explain_match(s, res.key);
	if (res.verdict == POLICY_ACCEPT) {
		explain_line(s, "result\taccepted: the mail goes on over this "
		    "connection");
		explain_end(c);
		return 0;
	}
	explain_refusal(&res, reply, sizeof(reply));
	explain_line(s, "reply\t%s", reply);
	explain_line(s, "result\t%s; every recipient of the connection is %s",
	    strcmp(q.verify, "SOFTWARE") == 0 ? "the connection is dropped "
	    "without QUIT" : "QUIT is sent", res.code / 100 == 4 ?
	    "deferred" : "bounced");
	c->tally.srv_refused = 1;
	(void)snprintf(c->tally.out_last, sizeof(c->tally.out_last),
	    "%s: every recipient %s", reply, res.code / 100 == 4 ?
	    "deferred" : "bounced");
	explain_end(c);
	return 1;
}

/* TLS_Rcpt (spec 3.1, 3.4) for one recipient. */
static int
explain_tls_rcpt(struct explain_ctx *c, const char *rcpt)
{
	struct policy_query	 q;
	struct policy_result	 res;
	struct explain_section	*s = &c->t.sec[0];
	char			 label[POLICY_PATH_MAX + 16];
	char			 reply[EXPLAIN_REPLY_MAX];

	if (explain_query(c, &q, POLICY_TLS_RCPT, rcpt) == -1)
		return -1;
	(void)snprintf(label, sizeof(label), "TLS_Rcpt <%s>", q.rcpt);
	if (explain_begin(c, 1, label, NULL, NULL) == -1)
		return -1;
	policy_access_check(c->env, &q, &res);
	explain_match(s, res.key);
	c->tally.tried++;
	if (res.verdict == POLICY_ACCEPT) {
		explain_line(s, "result\tRCPT TO is sent");
		c->tally.sent++;
	} else {
		explain_refusal(&res, reply, sizeof(reply));
		explain_line(s, "reply\t%s", reply);
		/* a 4xx recipient waits for the next MX host (spec 3.4) */
		explain_line(s, "result\tnot sent over this connection: the "
		    "recipient is %s", res.code / 100 == 4 ? "tried at the next "
		    "MX host, and deferred if none takes it" : "bounced");
		(void)snprintf(c->tally.out_last, sizeof(c->tally.out_last),
		    "<%s> %s: %s", q.rcpt, res.code / 100 == 4 ? "held for the "
		    "next MX host or deferred" : "bounced", reply);
	}
	explain_end(c);
	return 0;
}

static int
explain_tls_rcpts(struct explain_ctx *c)
{
	int	 i;

	for (i = 0; i < c->in.nrcpt; i++)
		if ((c->in.addr == NULL || c->ok[i]) &&
		    explain_tls_rcpt(c, c->in.rcpt[i]) == -1)
			return -1;
	return 0;
}

/* The inbound half of the verdict. */
static void
explain_verdict_in(const struct explain_ctx *c, char *buf, size_t len)
{
	const struct explain_tally	*t = &c->tally;
	char				 discard[QUARANTINE_REASON_MAX + 64];

	if (t->discard)
		(void)strlcpy(discard, " (then discarded)", sizeof(discard));
	else if (t->quarantine[0] != '\0')
		(void)snprintf(discard, sizeof(discard), " (then held: "
		    "quarantine=%s)", t->quarantine);
	else
		discard[0] = '\0';
	if (t->stopped)
		(void)snprintf(buf, len, "%s", t->last);
	else if (c->in.nrcpt == 0)
		(void)snprintf(buf, len, "accepted%s", discard);
	else if (t->accepted == 0)
		(void)snprintf(buf, len, "rejected: no recipient accepted "
		    "(last: %s)", t->last);
	else
		(void)snprintf(buf, len, "accepted for %d of %d recipients%s",
		    t->accepted, c->in.nrcpt, discard);
}

/* The one-line summary. */
static void
explain_verdict(const struct explain_ctx *c)
{
	const struct explain_tally	*t = &c->tally;
	char				 in[sizeof(t->last) + 128] = "";
	char				 out[sizeof(t->out_last) +
					     sizeof(t->server) + 64] = "";

	if (c->in.addr != NULL)
		explain_verdict_in(c, in, sizeof(in));
	if (t->out && t->srv_refused)
		(void)snprintf(out, sizeof(out), "to %s: refused by TLS_Srv: "
		    "%s", t->server, t->out_last);
	else if (t->out && t->tried == 0)
		(void)snprintf(out, sizeof(out), "to %s: the connection may "
		    "be used", t->server);
	else if (t->out && t->sent == t->tried)
		(void)snprintf(out, sizeof(out), "to %s: %d of %d recipients "
		    "sent", t->server, t->sent, t->tried);
	else if (t->out)
		(void)snprintf(out, sizeof(out), "to %s: %d of %d recipients "
		    "sent (last: %s)", t->server, t->sent, t->tried,
		    t->out_last);
	(void)printf("verdict\t%s%s%s\n", in, in[0] != '\0' && out[0] != '\0' ?
	    "; " : "", out);
}

/* Check the facts and every query before anything is printed. */
static int
explain_check(struct explain_ctx *c)
{
	struct policy_query	 q;
	int			 i;

	if (explain_facts_client(&c->in, &c->clt) == -1 ||
	    explain_facts_server(&c->in, &c->srv) == -1)
		return -1;
	if (c->in.addr == NULL && (c->in.from != NULL ||
	    c->in.name[0] != '\0' || c->in.verify != NULL)) {
		(void)fprintf(stderr, "smtpctl: explain: the client needs "
		    "addr\n");
		return -1;
	}
	if (c->in.addr != NULL && (explain_query(c, &q, POLICY_CONNECT,
	    "") == -1 || (c->in.from != NULL && explain_query(c, &q,
	    POLICY_MAIL, "") == -1)))
		return -1;
	if (c->in.server_addr != NULL && explain_query(c, &q, POLICY_TRY_TLS,
	    "") == -1)
		return -1;
	for (i = 0; i < c->in.nrcpt; i++)
		if ((c->in.addr != NULL && explain_query(c, &q, POLICY_RCPT,
		    c->in.rcpt[i]) == -1) || (c->in.server_addr != NULL &&
		    explain_query(c, &q, POLICY_TLS_RCPT, c->in.rcpt[i]) == -1))
			return -1;
	return 0;
}

/* `local users passwd`: smtpctl runs outside any chroot. */
static int
explain_user_exists(void *arg, const char *user)
{
	(void)arg;
	errno = 0;
	if (getpwnam(user) != NULL)
		return 1;
	return errno == 0 || errno == ENOENT || errno == ESRCH ? 0 :
	    POLICY_USER_TMPF;
}

int
smtpctl_explain(const struct config *cf, int argc, char **argv)
{
	struct explain_ctx	*c;
	struct policy_trace	 trace;
	struct policy_env	 env;
	struct policy_db	*db;
	size_t			 i;
	int			 dbfail, r = 0;

	if (argc >= 2 && strcmp(argv[1], "masquerade") == 0)
		return smtpctl_explain_masq(cf, argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "tls-srv") == 0)
		return smtpctl_explain_tls_srv(cf, argc - 2, argv + 2);
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		(void)fprintf(stderr, "smtpctl: explain: %s\n",
		    strerror(errno));
		return 1;
	}
	if (explain_input_parse(argc, argv, &c->in) == -1) {
		free(c);
		return explain_usage();
	}
	if (explain_check(c) == -1) {
		free(c);
		return 1;
	}
	dbfail = explain_db_open(cf->database_path, &db);
	policy_env_init(&env, db, dbfail, cf->hostname);
	policy_env_configure(&env, cf);
	env.user_exists = explain_user_exists;
	trace.probe = explain_probe;
	trace.step = explain_step;
	trace.arg = &c->t;
	env.trace = &trace;
	c->env = &env;
	c->cf = cf;
	for (i = 0; r == 0 && i < sizeof(explain_stages) /
	    sizeof(explain_stages[0]); i++)
		r = explain_stages[i](c);
	policy_db_close(db);
	if (r != -1)
		explain_verdict(c);
	free(c);
	return r == -1 ? 1 : 0;
}
