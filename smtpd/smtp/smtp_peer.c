/*
 * smtp_peer.c: the front end's questions to policyd and the queue, their
 * answers, the spool's free space as the queue reports it (queue
 * min-free), and what happens to waiting sessions when either goes away.
 *
 * Correlation: a policy question and every queue message carry the
 * session id; a session has at most one question in flight.  An answer
 * for a session that is gone is dropped (a message file that came with
 * it is closed and rolled back).  A malformed answer marks the peer bad
 * (proc_peer_bad()); the sessions waiting on it then get a 4xx reply from
 * smtp_peer_down().  Reply text from policyd is checked before it goes to
 * a client: a code of the wrong class, a malformed enhanced status or a
 * text with control characters is replaced by a default.  DISCARD (at
 * connect for the whole session, at MAIL or RCPT for the transaction)
 * accepts the message and then rolls it back (sendmail semantics);
 * QUARANTINE, at the same stages, accepts it and has the queue hold it
 * with the first reason given (a malformed reason marks policyd bad).
 * An accepted RCPT may come back rewritten (the %-hack: "user%host@local"
 * is queued as "user@host"); the rewrite must be a valid recipient.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "smtp_dns.h"
#include "smtp_dnsbl.h"
#include "smtp_generics.h"
#include "smtp_milter.h"
#include "smtp_milter_proto.h"
#include "smtp_session.h"
#include "util.h"

#define SMTP_PEER_POLICY_FAIL \
	"451 4.3.0 Temporary policy failure, try again later"
#define SMTP_PEER_REPLY_MAX	512
#define SMTP_PEER_TEXT_MAX	400

/* An answer from policyd, checked. */
struct smtp_verdict {
	uint32_t	 verdict;	/* enum policy_verdict */
	char		 reply[SMTP_PEER_REPLY_MAX];	/* for REJECT/TEMPFAIL */
	uint32_t	 flags;			/* POLICY_F_* */
	uint32_t	 features_set;		/* connect: Srv_Features */
	uint32_t	 features_clear;
	uint32_t	 client_conn;		/* connect: ClientConn: */
	uint32_t	 client_rate;		/* connect: ClientRate: */
	/* QUARANTINE: the reason */
	char		 reason[QUARANTINE_REASON_MAX + 1];
	/* RCPT: what it resolved to (pointers into the imsg) */
	struct smtp_target {
		uint32_t	 kind;
		const char	*value;
		const char	*sender;
		const char	*error;
	}		*targets;
	size_t		 ntargets;
};

/* The TLS and AUTH facts of a policy query (layout in proto.h). */
static void
smtp_peer_policy_tls(struct imsg_out *out, struct smtp_session *s)
{
	const struct smtp_tls	*t = s->tls;

	imsg_put_str(out, t != NULL ? t->verify : "");
	imsg_put_str(out, s->auth_mech != NULL ? s->auth_mech : "");
	imsg_put_u32(out, s->auth_ssf);
	imsg_put_str(out, t != NULL ? t->protocol : "");
	imsg_put_u32(out, t != NULL ? t->bits : 0);
	imsg_put_str(out, t != NULL ? t->subject : "");
	imsg_put_str(out, t != NULL ? t->issuer : "");
	imsg_put_str(out, t != NULL ? t->cn_subject : "");
}

void
smtp_peer_policy_query(struct smtp_session *s, enum policy_kind kind)
{
	struct imsg_out	 out;
	char		 name[SMTP_SESSION_NAME_MAX];
	const char	*rcpt = "";

	if (kind == POLICY_RCPT && conf->policy_delay_checks &&
	    !smtp_dnsbl_ready(s->dnsbl)) {
		/* the verdict may need the blocklists: ask once they are
		 * in (smtp_peer_dnsbl_done()) */
		s->query = (uint8_t)kind;
		s->wait = SMTP_WAIT_DNSBL;
		return;
	}
	if (kind == POLICY_RCPT)
		rcpt = s->tx->pending.rcpt;
	imsg_out_init(&out, IMSG_POLICY_QUERY, s->id);
	imsg_put_u32(&out, kind);
	/* a local submission is the loopback client to the access rules */
	imsg_put_str(&out, s->local != NULL ? "127.0.0.1" : s->addr);
	imsg_put_str(&out, smtp_session_name(s, name, sizeof(name)));
	imsg_put_str(&out, s->helo != NULL ? s->helo : "");
	imsg_put_str(&out, s->tx != NULL ? s->tx->sender : "");
	imsg_put_str(&out, rcpt);
	imsg_put_str(&out, s->auth_user != NULL ? s->auth_user : "");
	smtp_peer_policy_tls(&out, s);
	imsg_put_str(&out, smtp_dns_resolve_name(s->resolve));
	s->query = (uint8_t)kind;
	s->wait = SMTP_WAIT_POLICY;
	if (proc_send(PROC_POLICY, &out, -1) == -1) {
		stats_add("smtp.error.policy", 1);
		smtp_peer_policy_fail(s);
	}
}

/* The question cannot be answered: 4xx, as if policyd said TEMPFAIL. */
void
smtp_peer_policy_fail(struct smtp_session *s)
{
	s->wait = SMTP_WAIT_NONE;
	switch (s->query) {
	case POLICY_CONNECT:
		smtp_session_close(s, "421 4.3.0 Temporary policy failure, "
		    "try again later", "policy unavailable");
		break;
	case POLICY_MAIL:
		smtp_tx_free(s);
		smtp_session_reply(s, "%s", SMTP_PEER_POLICY_FAIL);
		break;
	case POLICY_TLS_CLT:
		/* no command waits: the whole session defers (never allow) */
		smtp_session_nullserver(s, SMTP_PEER_POLICY_FAIL);
		if (s->state == SMTP_ST_CONNECT && !s->delaying)
			smtp_session_greet(s);
		else
			smtp_session_resume(s);
		break;
	default:
		if (s->tx != NULL)
			smtp_tx_rcpt_clear(&s->tx->pending);
		smtp_session_reply(s, "%s", SMTP_PEER_POLICY_FAIL);
		break;
	}
}

/* "X.Y.Z" with X the class of code and Y, Z of 1 to 3 digits. */
static int
smtp_peer_enhanced_valid(const char *e, uint32_t code)
{
	size_t	 i, n;

	if (e[0] != (char)('0' + code / 100) || e[1] != '.')
		return 0;
	e += 2;
	for (i = 0; i < 2; i++) {
		for (n = 0; isdigit((unsigned char)e[n]); n++)
			;
		if (n < 1 || n > 3)
			return 0;
		e += n;
		if (*e != (i == 0 ? '.' : '\0'))
			return 0;
		e++;
	}
	return 1;
}

/* Build the reply of a REJECT or TEMPFAIL from policyd's fields. */
static void
smtp_peer_verdict_reply(struct smtp_verdict *v, uint32_t code,
    const char *enh, const char *text)
{
	int		 perm = v->verdict == POLICY_REJECT;
	uint32_t	 low = perm ? 500 : 400;

	if (code < low || code > low + 99) {
		code = perm ? 550 : 451;
		enh = "";
		text = "";
	}
	if (!smtp_peer_enhanced_valid(enh, code))
		enh = perm ? "5.7.1" : "4.3.0";
	if (*text == '\0' || strlen(text) > SMTP_PEER_TEXT_MAX ||
	    !text_is_clean(text))
		text = perm ? "Access denied" :
		    "Temporary failure, try again later";
	(void)snprintf(v->reply, sizeof(v->reply), "%u %s %s", code, enh,
	    text);
}

/* The sendmail-style log line of a refusal. */
static void
smtp_peer_log_reject(struct smtp_session *s, const char *ruleset,
    const char *arg, const char *reply)
{
	char	 name[SMTP_SESSION_NAME_MAX];
	char	 relay[SMTP_SESSION_RELAY_MAX];

	(void)smtp_session_name(s, name, sizeof(name));
	(void)smtp_session_relay(s, relay, sizeof(relay));
	/* a local submission asks no connect query: its filters' connect
	 * stage runs before its greeting */
	if (s->query == POLICY_CONNECT ||
	    (s->local != NULL && s->state == SMTP_ST_CONNECT))
		log_info("%08x: ruleset=%s, arg1=%s, arg2=%s, relay=%s, "
		    "reject=%s", s->id, ruleset, name, s->addr, relay, reply);
	else
		log_info("%08x: ruleset=%s, arg1=<%s>, relay=%s, reject=%s",
		    s->id, ruleset, arg, relay, reply);
}

static void	smtp_peer_features(struct smtp_session *,
		    const struct smtp_verdict *);

/* DISCARD at connect: every message of the session is dropped. */
static void
smtp_peer_connect_discard(struct smtp_session *s)
{
	s->discard = 1;
	log_info("%08x: ruleset=check_relay, arg1=[%s], discard: every "
	    "message of the session is dropped", s->id, s->addr);
}

/* QUARANTINE at connect: every message of the session is held. */
static void
smtp_peer_connect_quarantine(struct smtp_session *s, const char *reason)
{
	if (s->quarantine[0] != '\0')
		return;
	(void)strlcpy(s->quarantine, reason, sizeof(s->quarantine));
	log_info("%08x: ruleset=check_relay, arg1=[%s], quarantine=%s: "
	    "every message of the session is held", s->id, s->addr, reason);
}

/* QUARANTINE at MAIL or RCPT: this message is held; the first reason
 * stays (sendmail keeps the first). */
static void
smtp_peer_tx_quarantine(struct smtp_tx *tx, const struct smtp_verdict *v)
{
	if (v->verdict == POLICY_QUARANTINE && tx->quarantine[0] == '\0')
		(void)strlcpy(tx->quarantine, v->reason,
		    sizeof(tx->quarantine));
}

static void	smtp_peer_connect_greet(struct smtp_session *);

/* The connect filters answered: a refusal is the greeting's (spec 2.3,
 * as a Connect: entry's), a temporary one closes with 421. */
static void
smtp_peer_connect_filtered(struct smtp_session *s, const char *reply)
{
	char	 line[SMTP_PEER_REPLY_MAX];

	if (reply == NULL) {
		smtp_peer_connect_greet(s);
		return;
	}
	smtp_peer_log_reject(s, "milter", "", reply);
	stats_add("smtp.connect.rejected", 1);
	if (reply[0] == '4') {
		(void)snprintf(line, sizeof(line), "421%s", reply + 3);
		smtp_session_close(s, line, "rejected by a filter");
		return;
	}
	smtp_session_nullserver(s, reply);
	if (!s->delaying)
		smtp_session_greet(s);
}

/* The connect checks passed (or, for a local submission, its user is
 * known): the filters' connect stage first. */
void
smtp_peer_connect_go(struct smtp_session *s)
{
	if (smtp_milter_on(s) && s->milter == NULL) {
		smtp_milter_stage(s, SMFIC_CONNECT, NULL,
		    smtp_peer_connect_filtered);
		return;
	}
	smtp_peer_connect_greet(s);
}

/* tls_client on smtps, else the greeting. */
static void
smtp_peer_connect_greet(struct smtp_session *s)
{
	if (s->tls != NULL) {
		/* smtps: tls_client runs before the greeting */
		smtp_peer_policy_query(s, POLICY_TLS_CLT);
		return;
	}
	if (!s->delaying)
		smtp_session_greet(s);
}

/*
 * The blocklists, once the Connect: probes found no entry (spec 9.10):
 * a listing or a tempfail zone's failure refuses the session as a
 * Connect: entry would (spec 2.3), or holds or drops its messages.  -1
 * while an answer is awaited (the session waits for it), 0 once done.
 */
static int
smtp_peer_connect_dnsbl(struct smtp_session *s)
{
	struct smtp_dnsbl_result	 r;
	int				 n;

	if ((n = smtp_dnsbl_verdict(s->dnsbl, &r)) == -1) {
		s->wait = SMTP_WAIT_DNSBL;
		return -1;
	}
	if (n == 0)
		return 0;
	if (r.temp || r.action == DNSBL_REJECT) {
		smtp_peer_log_reject(s, "check_relay", "", r.reply);
		stats_add("smtp.connect.rejected", 1);
		smtp_session_nullserver(s, r.reply);
	} else if (r.action == DNSBL_QUARANTINE)
		smtp_peer_connect_quarantine(s, r.reason);
	else
		smtp_peer_connect_discard(s);
	return 0;
}

/* A blocklist answer came (smtp_dnsbl.c): go on if it was awaited. */
void
smtp_peer_dnsbl_done(void *arg)
{
	struct smtp_session	*s = arg;

	if (s->wait != SMTP_WAIT_DNSBL || s->state == SMTP_ST_CLOSING)
		return;
	if (s->query == POLICY_CONNECT) {
		if (smtp_peer_connect_dnsbl(s) == -1)
			return;
		s->wait = SMTP_WAIT_NONE;
		smtp_peer_connect_go(s);
		return;
	}
	if (!smtp_dnsbl_ready(s->dnsbl))
		return;
	s->wait = SMTP_WAIT_NONE;
	smtp_peer_policy_query(s, POLICY_RCPT);
}

/*
 * delay_checks (spec 1.8, 9.10): the blocklists at RCPT, once the
 * recipient passed and check_relay found no Connect: entry.  A refusal
 * is the reply to this RCPT, its 550 prefixed with the recipient; -1
 * then, 0 if the recipient goes on (held or dropped with its message).
 */
static int
smtp_peer_rcpt_dnsbl(struct smtp_session *s)
{
	struct smtp_tx			*tx = s->tx;
	struct smtp_dnsbl_result	 r;
	char				 reply[SMTP_PEER_REPLY_MAX];
	char				 relay[SMTP_SESSION_RELAY_MAX];

	/* not ready only if a reload turned delay-checks on meanwhile */
	if (smtp_dnsbl_verdict(s->dnsbl, &r) != 1)
		return 0;
	if (r.temp || r.action == DNSBL_REJECT) {
		config_dnsbl_reply_rcpt(r.reply, tx->pending.rcpt, reply,
		    sizeof(reply));
		smtp_peer_log_reject(s, "check_rcpt", tx->pending.rcpt,
		    reply);
		stats_add("smtp.rcpt.rejected", 1);
		smtp_tx_rcpt_clear(&tx->pending);
		smtp_session_reply(s, "%s", reply);
		return -1;
	}
	(void)smtp_session_relay(s, relay, sizeof(relay));
	if (r.action == DNSBL_QUARANTINE) {
		if (tx->quarantine[0] == '\0')
			(void)strlcpy(tx->quarantine, r.reason,
			    sizeof(tx->quarantine));
		log_info("%08x: ruleset=check_rcpt, arg1=<%s>, relay=%s, "
		    "quarantine=%s", s->id, tx->pending.rcpt, relay, r.reason);
	} else {
		tx->discard = 1;
		log_info("%08x: ruleset=check_rcpt, arg1=<%s>, relay=%s, "
		    "discard", s->id, tx->pending.rcpt, relay);
	}
	return 0;
}

/*
 * ClientConn and ClientRate of the map (sendmail's check_relay with
 * FEATURE(conncontrol/ratecontrol, `nodelay')): they apply before
 * Connect: entries are acted on, so even an OK or a REJECT of the client
 * does not exempt it.  1 if the session was closed.
 */
static int
smtp_peer_connect_limits(struct smtp_session *s, const struct smtp_verdict *v)
{
	enum smtp_client_verdict	 c;
	char				 why[128];
	const char			*reply;

	if (s->lflags & LISTEN_F_LOCAL)
		return 0;
	c = smtp_client_limits(s->addr, &s->client_place, v->client_conn,
	    v->client_rate);
	if (c == SMTP_CLIENT_OK)
		return 0;
	reply = smtp_session_limit_text(c, s->addr, 1, why, sizeof(why));
	stats_add(c == SMTP_CLIENT_RATE ? "smtp.session.refused_rate" :
	    "smtp.session.refused_conn", 1);
	log_info("%08x: ruleset=check_relay, arg1=[%s], %s, reject=%s",
	    s->id, s->addr, why, reply);
	smtp_session_close(s, reply, why);
	return 1;
}

static void
smtp_peer_connect_verdict(struct smtp_session *s, struct smtp_verdict *v)
{
	char	 line[SMTP_PEER_REPLY_MAX];

	if (smtp_peer_connect_limits(s, v))
		return;
	if (v->verdict == POLICY_ACCEPT || v->verdict == POLICY_DISCARD ||
	    v->verdict == POLICY_QUARANTINE) {
		if (v->verdict == POLICY_DISCARD)
			smtp_peer_connect_discard(s);
		if (v->verdict == POLICY_QUARANTINE)
			smtp_peer_connect_quarantine(s, v->reason);
		smtp_peer_features(s, v);
		if ((v->flags & POLICY_F_DNSBL) &&
		    smtp_peer_connect_dnsbl(s) == -1)
			return;
		smtp_peer_connect_go(s);
		return;
	}
	smtp_peer_log_reject(s, "check_relay", "", v->reply);
	stats_add("smtp.connect.rejected", 1);
	if (v->verdict == POLICY_TEMPFAIL || strncmp(v->reply, "421 ",
	    4) == 0) {
		/* a temporary refusal of the greeting is always 421 */
		(void)snprintf(line, sizeof(line), "421%s", v->reply + 3);
		smtp_session_close(s, line, "rejected by policy");
		return;
	}
	/* spec 2.3: greet, then refuse every command with the reply */
	smtp_session_nullserver(s, v->reply);
	if (!s->delaying)
		smtp_session_greet(s);
}

/* The Srv_Features of a connect verdict (spec 4.2). */
static void
smtp_peer_features(struct smtp_session *s, const struct smtp_verdict *v)
{
	s->features_set = v->features_set;
	s->features_clear = v->features_clear;
	if (v->flags & POLICY_F_SESSION_TEMP) {
		log_info("%08x: srv_features: temporary failure, every "
		    "command is deferred", s->id);
		smtp_session_nullserver(s, "450 4.3.0 Please try again later.");
	}
}

/*
 * tls_client after a handshake (spec 3.4): a refusal leaves TLS up but
 * turns the session into a nullserver with the refusal's text.
 */
static void
smtp_peer_tls_clt_verdict(struct smtp_session *s, struct smtp_verdict *v)
{
	if (v->verdict == POLICY_REJECT || v->verdict == POLICY_TEMPFAIL) {
		/* policyd logs the ruleset=tls_client line */
		stats_add("smtp.tls.client_refused", 1);
		smtp_session_nullserver(s, v->reply);
	}
	if (s->state == SMTP_ST_CONNECT && !s->delaying)
		smtp_session_greet(s);
}

/* MAIL passed the policy; reply NULL if the filters let it pass too. */
static void
smtp_peer_mail_filtered(struct smtp_session *s, const char *reply)
{
	if (reply != NULL) {
		smtp_peer_log_reject(s, "milter", s->tx->sender, reply);
		stats_add("smtp.mail.rejected", 1);
		smtp_tx_free(s);
		smtp_session_reply(s, "%s", reply);
		return;
	}
	s->state = SMTP_ST_MAIL;
	smtp_session_reply(s, "250 2.1.0 Ok");
	/* the message file is made while the recipients are checked,
	 * so that DATA seldom has to wait for it */
	smtp_peer_queue_create(s);
}

static void
smtp_peer_mail_verdict(struct smtp_session *s, struct smtp_verdict *v)
{
	if (v->verdict == POLICY_ACCEPT || v->verdict == POLICY_DISCARD ||
	    v->verdict == POLICY_QUARANTINE) {
		if (v->verdict == POLICY_DISCARD)
			s->tx->discard = 1;
		smtp_peer_tx_quarantine(s->tx, v);
		if (smtp_milter_on(s)) {
			smtp_milter_stage(s, SMFIC_MAIL, NULL,
			    smtp_peer_mail_filtered);
			return;
		}
		smtp_peer_mail_filtered(s, NULL);
		return;
	}
	smtp_peer_log_reject(s, "check_mail", s->tx->sender, v->reply);
	stats_add("smtp.mail.rejected", 1);
	smtp_tx_free(s);
	smtp_session_reply(s, "%s", v->reply);
}

/* The RCPT passed the policy and its targets are queued from
 * tx->milter_mark on; a filter's refusal takes them out again. */
static void
smtp_peer_rcpt_filtered(struct smtp_session *s, const char *reply)
{
	struct smtp_tx	*tx = s->tx;

	if (reply != NULL) {
		smtp_peer_log_reject(s, "milter", tx->pending.rcpt, reply);
		stats_add("smtp.rcpt.rejected", 1);
		while (tx->nrcpt > tx->milter_mark)
			smtp_tx_rcpt_clear(&tx->rcpts[--tx->nrcpt]);
		tx->commit_size = tx->milter_size;
		smtp_tx_rcpt_clear(&tx->pending);
		smtp_session_reply(s, "%s", reply);
		return;
	}
	smtp_tx_rcpt_clear(&tx->pending);
	tx->naccepted++;
	s->state = SMTP_ST_RCPT;
	smtp_session_reply(s, "250 2.1.5 Ok");
}

/* Queue the recipient as policyd rewrote it, if it did; -1 no memory. */
static void
smtp_peer_rcpt_verdict(struct smtp_session *s, struct smtp_verdict *v)
{
	struct smtp_tx	*tx = s->tx;
	size_t		 i, n, size;

	if (v->verdict == POLICY_REJECT || v->verdict == POLICY_TEMPFAIL) {
		smtp_peer_log_reject(s, "check_rcpt", tx->pending.rcpt,
		    v->reply);
		stats_add("smtp.rcpt.rejected", 1);
		s->nbadrcpt++;
		smtp_tx_rcpt_clear(&tx->pending);
		smtp_session_reply(s, "%s", v->reply);
		return;
	}
	if ((v->flags & POLICY_F_DNSBL) && smtp_peer_rcpt_dnsbl(s) == -1)
		return;
	for (i = 0, size = tx->commit_size; i < v->ntargets; i++)
		size += smtp_tx_rcpt_size(v->targets[i].value,
		    tx->pending.orcpt, v->targets[i].sender, tx->pending.rcpt,
		    v->targets[i].error) + MAILADDR_PATH_MAX;
	/* the commit is one message: what does not fit waits for another */
	if (tx->nrcpt + v->ntargets > COMMIT_RCPT_MAX ||
	    size > SMTP_COMMIT_MAX) {
		smtp_tx_rcpt_clear(&tx->pending);
		smtp_session_reply(s, "452 4.5.3 Too many recipients");
		return;
	}
	n = tx->nrcpt;
	tx->milter_size = tx->commit_size;
	for (i = 0; i < v->ntargets; i++)
		if (smtp_tx_rcpt_add(tx, v->targets[i].kind,
		    v->targets[i].value, v->targets[i].sender,
		    v->targets[i].error) == -1) {
			/* none of this RCPT's is queued after its 451 */
			while (tx->nrcpt > n)
				smtp_tx_rcpt_clear(&tx->rcpts[--tx->nrcpt]);
			smtp_tx_rcpt_clear(&tx->pending);
			smtp_session_reply(s, "451 4.3.0 Local error, try "
			    "again later");
			return;
		}
	if (v->verdict == POLICY_DISCARD)
		tx->discard = 1;
	smtp_peer_tx_quarantine(tx, v);
	tx->milter_mark = n;
	if (smtp_milter_on(s)) {
		smtp_milter_stage(s, SMFIC_RCPT, tx->pending.rcpt,
		    smtp_peer_rcpt_filtered);
		return;
	}
	smtp_peer_rcpt_filtered(s, NULL);
}

/* One target of an accepted RCPT, checked like the queue checks it. */
static int
smtp_peer_target_valid(const struct smtp_target *t)
{
	if (!mailaddr_target_valid(t->kind, t->value))
		return 0;
	if (t->sender[0] != '\0' && !mailaddr_mailbox_valid(t->sender))
		return 0;
	if (t->kind != TARGET_ERROR)
		return t->error[0] == '\0';
	return (t->error[0] == '4' || t->error[0] == '5') &&
	    strlen(t->error) <= SMTP_PEER_TEXT_MAX && text_is_clean(t->error);
}

/*
 * The rewritten recipient (for logs only: the targets carry it) and the
 * targets of a verdict: -1 if malformed.  Only an accepted, discarded or
 * quarantined RCPT has targets, and an accepted or quarantined one has
 * at least one.
 */
static int
smtp_peer_targets_get(struct imsg *m, struct smtp_verdict *v)
{
	struct smtp_target	*t;
	const char		*rcpt;
	uint32_t		 n, i;
	int			 ok;

	rcpt = imsg_get_str(m);
	n = imsg_get_u32(m);
	if (rcpt[0] != '\0' && !mailaddr_rcpt_valid(rcpt))
		return -1;
	if (n > CONF_ALIAS_EXPANSION_MAX)
		return -1;
	ok = v->verdict == POLICY_ACCEPT || v->verdict == POLICY_QUARANTINE ||
	    v->verdict == POLICY_DISCARD;
	if (!ok && n > 0)
		return -1;
	if (n == 0)
		return 0;
	if ((v->targets = calloc(n, sizeof(*v->targets))) == NULL)
		return -1;
	v->ntargets = n;
	for (i = 0; i < n; i++) {
		t = &v->targets[i];
		t->kind = imsg_get_u32(m);
		t->value = imsg_get_str(m);
		t->sender = imsg_get_str(m);
		t->error = imsg_get_str(m);
		if (t->kind > TARGET_KIND_MAX || !smtp_peer_target_valid(t))
			return -1;
	}
	return 0;
}

/* The reason of a QUARANTINE verdict. */
static int
smtp_peer_reason_get(struct smtp_verdict *v, const char *text)
{
	v->reason[0] = '\0';
	if (v->verdict != POLICY_QUARANTINE)
		return 0;
	if (!quarantine_reason_valid(text) ||
	    strlcpy(v->reason, text, sizeof(v->reason)) >= sizeof(v->reason))
		return -1;
	return 0;
}

/* The ClientConn: and ClientRate: numbers, last in the result. */
static int
smtp_peer_limits_get(struct imsg *m, struct smtp_verdict *v)
{
	v->client_conn = imsg_get_u32(m);
	v->client_rate = imsg_get_u32(m);
	return imsg_get_end(m);
}

/* Does the verdict carry the targets its query calls for? */
static int
smtp_peer_targets_expected(const struct smtp_session *s,
    const struct smtp_verdict *v)
{
	if (s->query != POLICY_RCPT)
		return v->ntargets == 0;
	if (v->verdict == POLICY_ACCEPT || v->verdict == POLICY_QUARANTINE)
		return v->ntargets > 0;
	return 1;
}

/* IMSG_POLICY_RESULT */
void
smtp_peer_policy_result(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct smtp_session	*s;
	struct smtp_verdict	 v;
	uint32_t		 code;
	const char		*enh, *text;

	(void)iev;
	(void)arg;
	memset(&v, 0, sizeof(v));
	v.verdict = imsg_get_u32(m);
	v.flags = imsg_get_u32(m);
	code = imsg_get_u32(m);
	enh = imsg_get_str(m);
	text = imsg_get_str(m);
	(void)imsg_get_str(m);
	v.features_set = imsg_get_u32(m);
	v.features_clear = imsg_get_u32(m);
	if (v.verdict > POLICY_QUARANTINE ||
	    smtp_peer_reason_get(&v, text) == -1 ||
	    smtp_peer_targets_get(m, &v) == -1 ||
	    smtp_peer_limits_get(m, &v) == -1) {
		free(v.targets);
		proc_peer_bad(PROC_POLICY, "malformed policy result", m->type);
		return;
	}
	s = smtp_session_find(m->id);
	if (s == NULL || s->wait != SMTP_WAIT_POLICY ||
	    s->state == SMTP_ST_CLOSING) {
		free(v.targets);
		return;
	}
	if (!smtp_peer_targets_expected(s, &v)) {
		free(v.targets);
		proc_peer_bad(PROC_POLICY, "policy result without the "
		    "recipients of its RCPT", m->type);
		return;
	}
	s->wait = SMTP_WAIT_NONE;
	if (v.verdict == POLICY_REJECT || v.verdict == POLICY_TEMPFAIL)
		smtp_peer_verdict_reply(&v, code, enh, text);
	if (s->query == POLICY_CONNECT)
		smtp_peer_connect_verdict(s, &v);
	else if (s->query == POLICY_TLS_CLT)
		smtp_peer_tls_clt_verdict(s, &v);
	else if (s->query == POLICY_MAIL)
		smtp_peer_mail_verdict(s, &v);
	else
		smtp_peer_rcpt_verdict(s, &v);
	free(v.targets);
	smtp_session_resume(s);
}

/* Ask the queue for a message file (IMSG_QUEUE_MESSAGE_CREATE). */
void
smtp_peer_queue_create(struct smtp_session *s)
{
	struct imsg_out	 out;

	s->tx->readable = smtp_milter_on(s);
	imsg_out_init(&out, IMSG_QUEUE_MESSAGE_CREATE, s->id);
	imsg_put_u32(&out, s->tx->readable ? CREATE_F_READ : 0);
	if (proc_send(PROC_QUEUE, &out, -1) == -1) {
		s->tx->failed = 1;
		return;
	}
	s->tx->creating = 1;
}

void
smtp_peer_queue_rollback(uint32_t sessid, uint32_t msgid)
{
	struct imsg_out	 out;

	imsg_out_init(&out, IMSG_QUEUE_MESSAGE_ROLLBACK, sessid);
	imsg_put_u32(&out, msgid);
	(void)proc_send(PROC_QUEUE, &out, -1);
}

/* The filters changed the message: its second file (IMSG_QUEUE_MESSAGE_
 * REWRITE). */
void
smtp_peer_queue_rewrite(struct smtp_session *s)
{
	struct imsg_out	 out;

	imsg_out_init(&out, IMSG_QUEUE_MESSAGE_REWRITE, s->id);
	imsg_put_u32(&out, s->tx->msgid);
	s->tx->rewriting = 1;
	if (proc_send(PROC_QUEUE, &out, -1) == -1) {
		s->tx->rewriting = 0;
		smtp_milter_rewriting(s, -1);
	}
}

/* IMSG_QUEUE_MESSAGE_REWRITING */
void
smtp_peer_queue_rewriting(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct smtp_session	*s;
	uint32_t		 status, msgid;

	(void)iev;
	(void)arg;
	status = imsg_get_u32(m);
	msgid = imsg_get_u32(m);
	if (imsg_get_end(m) == -1 || (status == STATUS_OK) != (m->fd != -1)) {
		if (m->fd != -1)
			(void)close(m->fd);
		proc_peer_bad(PROC_QUEUE, "malformed message rewriting",
		    m->type);
		return;
	}
	s = smtp_session_find(m->id);
	if (s == NULL || s->tx == NULL || !s->tx->rewriting ||
	    s->tx->msgid != msgid || s->state == SMTP_ST_CLOSING) {
		/* the message was rolled back, its second file with it */
		if (m->fd != -1)
			(void)close(m->fd);
		return;
	}
	s->tx->rewriting = 0;
	smtp_milter_rewriting(s, m->fd);
}

/* IMSG_QUEUE_MESSAGE_CREATED */
void
smtp_peer_queue_created(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct smtp_session	*s;
	uint32_t		 status, msgid;

	(void)iev;
	(void)arg;
	status = imsg_get_u32(m);
	msgid = imsg_get_u32(m);
	if (imsg_get_end(m) == -1 || (status == STATUS_OK && m->fd == -1)) {
		if (m->fd != -1)
			(void)close(m->fd);
		proc_peer_bad(PROC_QUEUE, "malformed message created", m->type);
		return;
	}
	s = smtp_session_find(m->id);
	if (s == NULL || s->orphans > 0 || s->tx == NULL || !s->tx->creating) {
		if (s != NULL && s->orphans > 0)
			s->orphans--;
		if (status == STATUS_OK)
			smtp_peer_queue_rollback(m->id, msgid);
		if (m->fd != -1)
			(void)close(m->fd);
		return;
	}
	s->tx->creating = 0;
	if (status != STATUS_OK) {
		s->tx->failed = 1;
		if (m->fd != -1)
			(void)close(m->fd);
	} else {
		s->tx->msgid = msgid;
		s->tx->msgfd = m->fd;
	}
	if (s->wait == SMTP_WAIT_CREATE && s->state != SMTP_ST_CLOSING)
		smtp_tx_created(s);
}

/*
 * The UTF8_F_* of the message.  A transaction without SMTPUTF8 can still
 * end with UTF-8 addresses (a virtusertable or alias value): the message
 * then needs SMTPUTF8 as much as one that asked for it, so that the mta
 * sends it only to a next hop that offers it (RFC 6531 3.4).
 */
static uint32_t
smtp_peer_utf8(const struct smtp_tx *tx)
{
	uint32_t	 f = tx->data.hdr8bit ? UTF8_F_HEADERS : 0;
	size_t		 i;

	if (tx->smtputf8 || !mailaddr_is_ascii(tx->sender))
		return f | UTF8_F_SMTPUTF8;
	for (i = 0; i < tx->nrcpt; i++)
		if (!mailaddr_is_ascii(tx->rcpts[i].rcpt) ||
		    !mailaddr_is_ascii(tx->rcpts[i].sender))
			return f | UTF8_F_SMTPUTF8;
	return f;
}

/* Send IMSG_QUEUE_MESSAGE_COMMIT with everything the envelopes need. */
void
smtp_peer_queue_commit(struct smtp_session *s)
{
	struct smtp_tx	*tx = s->tx;
	struct imsg_out	 out;
	char		 name[SMTP_SESSION_NAME_MAX];
	size_t		 i;

	imsg_out_init(&out, IMSG_QUEUE_MESSAGE_COMMIT, s->id);
	imsg_put_u32(&out, tx->msgid);
	imsg_put_u64(&out, tx->data.written);
	imsg_put_str(&out, tx->sender);
	imsg_put_u32(&out, tx->ret);
	imsg_put_str(&out, tx->envid);
	imsg_put_str(&out, s->helo);
	imsg_put_str(&out, s->addr);
	imsg_put_str(&out, smtp_session_name(s, name, sizeof(name)));
	imsg_put_str(&out, smtp_session_proto(s));
	imsg_put_u32(&out, tx->body == SMTP_BODY_8BITMIME ? 1 : 0);
	imsg_put_u32(&out, smtp_peer_utf8(tx));
	/* RFC 8689 4.1: with REQUIRETLS the header is not looked at */
	imsg_put_u32(&out, tx->requiretls ? MSG_F_REQUIRETLS :
	    tx->data.tls_optional ? MSG_F_TLS_OPTIONAL : 0);
	imsg_put_str(&out, tx->auth);
	imsg_put_u32(&out, (uint32_t)tx->nrcpt);
	for (i = 0; i < tx->nrcpt; i++) {
		imsg_put_str(&out, tx->rcpts[i].rcpt);
		imsg_put_str(&out, tx->rcpts[i].orcpt);
		imsg_put_u32(&out, tx->rcpts[i].notify);
		imsg_put_u32(&out, tx->rcpts[i].resolve ?
		    COMMIT_RCPT_F_RESOLVE : 0);
		imsg_put_u32(&out, tx->rcpts[i].kind);
		imsg_put_str(&out, tx->rcpts[i].sender);
		imsg_put_str(&out, tx->rcpts[i].orig);
		imsg_put_str(&out, tx->rcpts[i].error);
	}
	imsg_put_str(&out, tx->quarantine);
	if (tx->quarantine[0] != '\0')
		log_info("%08x: msgid %08x held: quarantine=%s", s->id,
		    tx->msgid, tx->quarantine);
	tx->committing = 1;
	s->wait = SMTP_WAIT_COMMIT;
	if (proc_send(PROC_QUEUE, &out, -1) == -1)
		smtp_tx_committed(s, STATUS_TEMPFAIL);
}

/* IMSG_QUEUE_MESSAGE_COMMITTED */
void
smtp_peer_queue_committed(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct smtp_session	*s;
	uint32_t		 status, msgid;

	(void)iev;
	(void)arg;
	status = imsg_get_u32(m);
	msgid = imsg_get_u32(m);
	if (imsg_get_end(m) == -1) {
		proc_peer_bad(PROC_QUEUE, "malformed message committed",
		    m->type);
		return;
	}
	s = smtp_session_find(m->id);
	if (s == NULL || s->wait != SMTP_WAIT_COMMIT || s->tx == NULL ||
	    s->tx->msgid != msgid) {
		log_info("msgid %08x: commit answer for a session that is gone "
		    "(status %u)", msgid, status);
		return;
	}
	smtp_tx_committed(s, status);
}

/* The spool's free octets as the queue last told them; unknown at first
 * and while the queue is away. */
static uint64_t	 smtp_peer_spool_free = UINT64_MAX;

/* IMSG_QUEUE_SPACE */
void
smtp_peer_queue_space(struct imsgev *iev, struct imsg *m, void *arg)
{
	uint64_t	 avail;

	(void)iev;
	(void)arg;
	avail = imsg_get_u64(m);
	if (imsg_get_end(m) == -1) {
		proc_peer_bad(PROC_QUEUE, "malformed spool space", m->type);
		return;
	}
	smtp_peer_spool_free = avail;
}

/*
 * queue min-free: 1 if the spool can take size more octets (SIZE=, 0 if
 * not declared) and still keep min-free free, or if its space is not
 * known; *avail is the free space last reported.
 */
int
smtp_peer_queue_room(uint64_t size, uint64_t *avail)
{
	uint64_t	 minfree = conf->queue_min_free;

	*avail = smtp_peer_spool_free;
	if (smtp_peer_spool_free == UINT64_MAX)
		return 1;
	return smtp_peer_spool_free >= minfree &&
	    smtp_peer_spool_free - minfree >= size;
}

/* policyd went away: its waiting sessions get their 4xx now. */
static void
smtp_peer_policy_lost(struct smtp_session *s)
{
	if (s->wait != SMTP_WAIT_POLICY || s->state == SMTP_ST_CLOSING)
		return;
	smtp_peer_policy_fail(s);
	smtp_session_resume(s);
}

/* The queue went away: its message files and answers are lost. */
static void
smtp_peer_queue_lost(struct smtp_session *s)
{
	struct smtp_tx	*tx = s->tx;

	s->orphans = 0;
	if (tx == NULL)
		return;
	if (tx->creating || tx->msgid != 0)
		tx->failed = 1;
	tx->creating = 0;
	if (s->state == SMTP_ST_CLOSING)
		return;
	if (s->wait == SMTP_WAIT_CREATE)
		smtp_tx_created(s);
	else if (s->wait == SMTP_WAIT_COMMIT)
		smtp_tx_committed(s, STATUS_TEMPFAIL);
	else if (tx->rewriting) {
		tx->rewriting = 0;
		smtp_milter_rewriting(s, -1);
	}
}

void
smtp_peer_down(enum proc_id id)
{
	if (id == PROC_POLICY) {
		smtp_session_foreach(smtp_peer_policy_lost);
		smtp_session_foreach(smtp_generics_lost);
	}
	else if (id == PROC_QUEUE) {
		smtp_peer_spool_free = UINT64_MAX;
		smtp_session_foreach(smtp_peer_queue_lost);
	}
	else if (id == PROC_TLS)
		smtp_tls_down(proc_peer_instance());
	else if (id == PROC_AUTH)
		smtp_auth_down();
}
