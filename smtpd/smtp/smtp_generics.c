/*
 * smtp_generics.c: the genericstable (smtpd.conf(5) generics, sendmail's
 * FEATURE(genericstable)) as a message is received.
 *
 * The front end cannot read the maps: it sends policyd the addresses of
 * a complete header field that generics applies to (common/masq.c) in
 * IMSG_POLICY_GENERICS, and the body receiver holds that field, and
 * reads no further input, until the answer is here; the field is then
 * written with the genericstable's forms first and the masquerade rules
 * for the rest (smtp_masq.c).  A field with no such address never waits.
 * With masquerade envelope the envelope sender is asked about the same
 * way, once, before the commit.
 *
 * Failure behaviour: policyd gone, no answer within "timeout command",
 * or a temporary failure: the message is received to its end and
 * refused with SMTP_GENERICS_FAIL (never sent on unrewritten), counted
 * as smtp.error.generics and logged.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "hdraddr.h"
#include "log.h"
#include "mailaddr.h"
#include "masq.h"
#include "proc.h"
#include "util.h"
#include "smtp_generics.h"
#include "smtp_masq.h"
#include "smtp_session.h"

struct smtp_generics {
	uint32_t	 seq;		/* the last request's number */
	int		 waiting;	/* a request is out */
	int		 envelope;	/* ... about the envelope sender */
	int		 failed;	/* the message ends with the 451 */
	struct event	*timer;
	size_t		 n;
	char		 addr[GENERICS_ADDRS_MAX][MAILADDR_PATH_MAX];
	char		 value[GENERICS_ADDRS_MAX][MAILADDR_PATH_MAX];
};

int
smtp_generics_on(void)
{
	return conf->generics_domains[0] != '\0';
}

struct smtp_generics *
smtp_generics_new(void)
{
	return calloc(1, sizeof(struct smtp_generics));
}

void
smtp_generics_free(struct smtp_generics *g)
{
	if (g == NULL)
		return;
	if (g->timer != NULL)
		event_free(g->timer);
	free(g);
}

int
smtp_generics_failed(const struct smtp_generics *g)
{
	return g != NULL && g->failed;
}

/* A lookup cannot be made or answered: the message will be refused. */
static void
smtp_generics_fail(struct smtp_session *s, const char *why)
{
	struct smtp_generics	*g = s->tx->generics;

	if (!g->failed) {
		log_info("%08x: msgid %08x: genericstable lookup failed: %s",
		    s->id, s->tx->msgid, why);
		stats_add("smtp.error.generics", 1);
	}
	g->failed = 1;
	g->n = 0;
}

/*
 * The envelope sender's answer, applied before the masquerade rules
 * (which an address the genericstable gave is not put through again).
 */
static void
smtp_generics_envelope(struct smtp_session *s)
{
	struct smtp_tx		*tx = s->tx;
	struct smtp_generics	*g = tx->generics;
	char			 addr[MAILADDR_PATH_MAX];
	int			 r;

	if (g->n != 1 || g->value[0][0] == '\0')
		return;
	r = masq_generics_address(conf, g->value[0], addr, sizeof(addr));
	if (r == -1 || !mailaddr_mailbox_valid(addr))
		return;
	(void)strlcpy(tx->sender, addr, sizeof(tx->sender));
	tx->generic_sender = 1;
}

/* The session goes on after an answer, or without one. */
static void
smtp_generics_done(struct smtp_session *s)
{
	struct smtp_generics	*g = s->tx->generics;

	g->waiting = 0;
	if (g->timer != NULL)
		(void)evtimer_del(g->timer);
	s->wait = SMTP_WAIT_NONE;
	(void)bufferevent_enable(s->bev, EV_READ);
	smtp_session_body_release(s);
	if (g->envelope) {
		if (!g->failed)
			smtp_generics_envelope(s);
		smtp_tx_commit(s);
	} else
		smtp_data_release(&s->tx->data);
	smtp_session_resume(s);
}

static void
smtp_generics_timeout(int fd, short ev, void *arg)
{
	struct smtp_session	*s = arg;

	(void)fd;
	(void)ev;
	if (s->tx == NULL || s->tx->generics == NULL ||
	    !s->tx->generics->waiting || s->state == SMTP_ST_CLOSING)
		return;
	smtp_generics_fail(s, "no answer from policyd");
	smtp_generics_done(s);
}

/* Send the addresses collected; the session waits.  -1 if not sent. */
static int
smtp_generics_ask(struct smtp_session *s, int envelope)
{
	struct smtp_generics	*g = s->tx->generics;
	struct imsg_out		 out;
	struct timeval		 tv;
	size_t			 i;

	if (g->timer == NULL &&
	    (g->timer = evtimer_new(proc_base, smtp_generics_timeout,
	    s)) == NULL) {
		smtp_generics_fail(s, "out of memory");
		return -1;
	}
	imsg_out_init(&out, IMSG_POLICY_GENERICS, s->id);
	imsg_put_u32(&out, ++g->seq);
	imsg_put_u32(&out, (uint32_t)g->n);
	for (i = 0; i < g->n; i++)
		imsg_put_str(&out, g->addr[i]);
	if (proc_send(PROC_POLICY, &out, -1) == -1) {
		smtp_generics_fail(s, "policyd unavailable");
		return -1;
	}
	g->waiting = 1;
	g->envelope = envelope;
	s->wait = SMTP_WAIT_GENERICS;
	(void)bufferevent_disable(s->bev, EV_READ);
	smtp_session_body_hold(s);
	tv.tv_sec = conf->timeout_command;
	tv.tv_usec = 0;
	(void)evtimer_add(g->timer, &tv);
	return 0;
}

/* hdraddr's callback for a held field: note the addresses to ask. */
static int
smtp_generics_collect(void *arg, const char *local, size_t llen,
    const char *domain, size_t dlen, char *buf, size_t bufsize)
{
	struct smtp_generics	*g = arg;
	char			 key[MAILADDR_PATH_MAX];
	size_t			 i;

	(void)buf;
	(void)bufsize;
	if (g->n == GENERICS_ADDRS_MAX || masq_generics_key(conf, local,
	    llen, domain, dlen, key, sizeof(key)) != 1)
		return 0;
	for (i = 0; i < g->n; i++)
		if (strcmp(g->addr[i], key) == 0)
			return 0;
	(void)strlcpy(g->addr[g->n], key, sizeof(g->addr[g->n]));
	g->value[g->n][0] = '\0';
	g->n++;
	return 0;
}

int
smtp_generics_hold(void *arg, const char *field, size_t len)
{
	static char		 scratch[SMTP_DATA_FIELD_MAX];
	struct smtp_session	*s = arg;
	struct smtp_generics	*g = s->tx->generics;
	size_t			 voff, olen;

	if (g == NULL || g->failed ||
	    smtp_masq_field_kind(field, len, &voff) != SMTP_MASQ_FIELD_ALL)
		return 0;
	g->n = 0;
	if (hdraddr_rewrite(field + voff, len - voff, scratch,
	    sizeof(scratch), &olen, smtp_generics_collect, g) == -1 ||
	    g->n == 0)
		return 0;
	return smtp_generics_ask(s, 0) == 0;
}

int
smtp_generics_address(struct smtp_session *s, const char *local,
    size_t llen, const char *domain, size_t dlen, char *buf, size_t bufsize)
{
	struct smtp_generics	*g = s->tx != NULL ? s->tx->generics : NULL;
	char			 key[MAILADDR_PATH_MAX];
	size_t			 i;

	if (g == NULL || g->n == 0 || masq_generics_key(conf, local, llen,
	    domain, dlen, key, sizeof(key)) != 1)
		return 0;
	for (i = 0; i < g->n; i++)
		if (strcmp(g->addr[i], key) == 0)
			break;
	if (i == g->n || g->value[i][0] == '\0')
		return 0;
	return masq_generics_address(conf, g->value[i], buf, bufsize) != -1;
}

int
smtp_generics_sender(struct smtp_session *s)
{
	struct smtp_tx		*tx = s->tx;
	struct smtp_generics	*g = tx->generics;
	const char		*at;
	char			 key[MAILADDR_PATH_MAX];

	if (g == NULL || !conf->masq_envelope || tx->sender[0] == '\0' ||
	    (at = strrchr(tx->sender, '@')) == NULL ||
	    masq_generics_key(conf, tx->sender, (size_t)(at - tx->sender),
	    at + 1, strlen(at + 1), key, sizeof(key)) != 1)
		return 0;
	g->n = 1;
	(void)strlcpy(g->addr[0], key, sizeof(g->addr[0]));
	g->value[0][0] = '\0';
	return smtp_generics_ask(s, 1) == 0 ? 1 : -1;
}

void
smtp_generics_lost(struct smtp_session *s)
{
	if (s->wait != SMTP_WAIT_GENERICS || s->tx == NULL ||
	    s->tx->generics == NULL || s->state == SMTP_ST_CLOSING)
		return;
	smtp_generics_fail(s, "policyd went away");
	smtp_generics_done(s);
}

/* A value from policyd: an address, a user, or "" for none. */
static int
smtp_generics_value_ok(const char *v)
{
	size_t	 n = strlen(v);

	if (n == 0)
		return 1;
	if (n >= MAILADDR_PATH_MAX)
		return 0;
	return strchr(v, '@') != NULL ? mailaddr_mailbox_valid(v) :
	    mailaddr_local_valid(v, n);
}

/*
 * Take value i.  A UTF-8 one is for a transaction with SMTPUTF8 only
 * (RFC 6531): elsewhere it would put UTF-8 into mail that may go to a
 * next hop that cannot take it, so the address stays as it is.
 */
static void
smtp_generics_value_set(struct smtp_session *s, struct smtp_generics *g,
    uint32_t i, const char *v)
{
	if (!s->tx->smtputf8 && !mailaddr_is_ascii(v)) {
		log_info("%08x: genericstable value <%s> not used: UTF-8 in a "
		    "transaction without SMTPUTF8", s->id, v);
		g->value[i][0] = '\0';
		return;
	}
	(void)strlcpy(g->value[i], v, sizeof(g->value[i]));
}

void
smtp_generics_result(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct smtp_session	*s;
	struct smtp_generics	*g;
	const char		*v[GENERICS_ADDRS_MAX];
	uint32_t		 seq, status, n, i;
	int			 bad = 0;

	(void)iev;
	(void)arg;
	seq = imsg_get_u32(m);
	status = imsg_get_u32(m);
	n = imsg_get_u32(m);
	if (n > GENERICS_ADDRS_MAX) {
		proc_peer_bad(PROC_POLICY, "malformed generics result",
		    m->type);
		return;
	}
	for (i = 0; i < n; i++)
		v[i] = imsg_get_str(m);
	if (imsg_get_end(m) == -1) {
		proc_peer_bad(PROC_POLICY, "malformed generics result",
		    m->type);
		return;
	}
	s = smtp_session_find(m->id);
	if (s == NULL || s->wait != SMTP_WAIT_GENERICS || s->tx == NULL ||
	    (g = s->tx->generics) == NULL || !g->waiting || g->seq != seq ||
	    s->state == SMTP_ST_CLOSING)
		return;
	for (i = 0; i < n; i++)
		if (!smtp_generics_value_ok(v[i]))
			bad = 1;
	if (status != STATUS_OK || n != g->n || bad)
		smtp_generics_fail(s, status != STATUS_OK ?
		    "temporary failure in policyd" : "bad answer from policyd");
	else
		for (i = 0; i < n; i++)
			smtp_generics_value_set(s, g, i, v[i]);
	smtp_generics_done(s);
}
