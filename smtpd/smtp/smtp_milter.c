/*
 * smtp_milter.c: a session's milters (see smtp_milter.h), one
 * connection per filter of its listener, opened at the connect stage.
 * A stage asks the filters one after the other; the first that refuses
 * decides the reply; an accept leaves that filter out for the rest of
 * the transaction (the session, at connect or HELO); a failed filter
 * costs its failure mode and is not asked again in this session.
 */
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "proc.h"
#include "smtp_milter_int.h"
#include "smtp_milter_unix.h"
#include "smtp_session.h"
#include "stats.h"

#define SMTP_MILTER_FAILREJECT	"554 5.7.1 Message filter unavailable"
#define SMTP_MILTER_REJECT	"550 5.7.1 Command rejected"
#define SMTP_MILTER_TEMPREJECT	"451 4.7.1 Service unavailable, try " \
				"again later"

struct smtp_milter_packet	 smtp_milter_pkt;

static void	smtp_milter_run(struct smtp_milter *);

/* The session's filters: the sendmail filters for a local submission,
 * else its listener's. */
static const uint8_t *
smtp_milter_list(const struct smtp_session *s, size_t *n)
{
	const struct listener	*l;

	if (s->local != NULL) {
		*n = conf->sendmail_nfilters;
		return conf->sendmail_filters;
	}
	if ((l = config_listener_find(conf, s->listener)) == NULL) {
		*n = 0;
		return NULL;
	}
	*n = l->nfilters;
	return l->filters;
}

int
smtp_milter_on(const struct smtp_session *s)
{
	size_t	 n;

	(void)smtp_milter_list(s, &n);
	return n > 0;
}

struct smtp_milter *
smtp_milter_new(struct smtp_session *s)
{
	const uint8_t		*list;
	struct smtp_milter	*m;
	size_t			 i, n;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	list = smtp_milter_list(s, &n);
	for (i = 0; i < n; i++) {
		(void)strlcpy(m->one[i].name, conf->filters[list[i]].name,
		    sizeof(m->one[i].name));
		m->one[i].on_failure = conf->filters[list[i]].on_failure;
		m->one[i].asking = -1;
		m->one[i].m = m;
	}
	m->n = i;
	m->s = s;
	return m;
}

/* The step of this stage is over for the session: on to next. */
void
smtp_milter_finish(struct smtp_milter *m, const char *reply)
{
	struct smtp_session	*s = m->s;

	s->wait = SMTP_WAIT_NONE;
	m->next(s, reply);
	if (!m->sync)
		smtp_session_resume(s);
}

/* The reply of a filter that failed, NULL for on-failure accept. */
const char *
smtp_milter_fail_reply(const struct smtp_milter_one *one)
{
	if (one->on_failure == CONF_FILTER_TEMPFAIL)
		return SMTP_MILTER_TEMPFAIL;
	if (one->on_failure == CONF_FILTER_REJECT)
		return SMTP_MILTER_FAILREJECT;
	return NULL;
}

/* A filter failed: logged, its connection closed for the session. */
void
smtp_milter_fail_log(struct smtp_milter *m, struct smtp_milter_one *one)
{
	log_warnx("%08x: milter: filter %s failed at stage %c, %s", m->s->id,
	    one->name, m->cmd, one->on_failure == CONF_FILTER_TEMPFAIL ?
	    "tempfail" : one->on_failure == CONF_FILTER_REJECT ? "reject" :
	    "accept");
	stats_add_by("smtp.milter.failed", "filter", one->name, 1);
	smtp_milter_conn_free(one->conn);
	one->conn = NULL;
}

static void
smtp_milter_failed(struct smtp_milter *m, struct smtp_milter_one *one)
{
	smtp_milter_fail_log(m, one);
	if (smtp_milter_fail_reply(one) != NULL) {
		one->skip = SMTP_MILTER_BROKEN;
		smtp_milter_finish(m, smtp_milter_fail_reply(one));
		return;
	}
	one->skip = SMTP_MILTER_SKIP_SESSION;
	m->cur++;
	smtp_milter_run(m);
}

/* A final reply of the filter at cur. */
static void
smtp_milter_answer(struct smtp_milter *m, struct smtp_milter_one *one,
    const struct smtp_milter_reply *r)
{
	switch (r->code) {
	case SMFIR_CONTINUE:
	case SMFIR_SKIP:
		break;
	case SMFIR_ACCEPT:
		one->skip = m->cmd == SMFIC_CONNECT || m->cmd == SMFIC_HELO ?
		    SMTP_MILTER_SKIP_SESSION : SMTP_MILTER_SKIP_TX;
		break;
	case SMFIR_DISCARD:
		if (m->s->tx != NULL)
			m->s->tx->discard = 1;
		one->skip = SMTP_MILTER_SKIP_TX;
		break;
	case SMFIR_REJECT:
		smtp_milter_finish(m, SMTP_MILTER_REJECT);
		return;
	case SMFIR_TEMPFAIL:
		smtp_milter_finish(m, SMTP_MILTER_TEMPREJECT);
		return;
	case SMFIR_REPLYCODE:
		if (smtp_milter_reply_code(r, m->reply,
		    sizeof(m->reply)) == -1) {
			smtp_milter_failed(m, one);
			return;
		}
		smtp_milter_finish(m, m->reply);
		return;
	default:
		smtp_milter_failed(m, one);
		return;
	}
	m->cur++;
	smtp_milter_run(m);
}

/* 1 if the session waits for this filter's step. */
static int
smtp_milter_asked(const struct smtp_milter *m,
    const struct smtp_milter_one *one)
{
	const struct smtp_session	*s = m->s;

	return m->cur < m->n && one == &m->one[m->cur] &&
	    s->wait == SMTP_WAIT_MILTER && s->state != SMTP_ST_CLOSING &&
	    (s->tx == NULL || !s->tx->rewriting);
}

/*
 * A filter failed while nobody waited for it (it closed or timed out
 * between steps, or while the queue makes a file): it is out, and by
 * its failure mode the next stage that would ask it gets its reply.
 */
static void
smtp_milter_idle_failed(struct smtp_milter *m, struct smtp_milter_one *one)
{
	log_warnx("%08x: milter: filter %s failed between steps, %s",
	    m->s->id, one->name, smtp_milter_fail_reply(one) != NULL ?
	    "its failure mode follows" : "left out");
	stats_add_by("smtp.milter.failed", "filter", one->name, 1);
	smtp_milter_conn_free(one->conn);
	one->conn = NULL;
	one->in_tx = 0;
	one->skip = smtp_milter_fail_reply(one) != NULL ?
	    SMTP_MILTER_BROKEN : SMTP_MILTER_SKIP_SESSION;
}

static void
smtp_milter_done(void *arg, enum smtp_milter_outcome o,
    const struct smtp_milter_reply *r)
{
	struct smtp_milter_one	*one = arg;
	struct smtp_milter	*m = one->m;

	if (!smtp_milter_asked(m, one)) {
		/* only a failure comes unasked; anything else is dropped
		 * with the connection all the same */
		smtp_milter_idle_failed(m, one);
		return;
	}
	if (m->msg != NULL) {
		smtp_milter_msg_done(m, o, r);
		return;
	}
	if (o == SMTP_MILTER_FAILED)
		smtp_milter_failed(m, one);
	else if (o == SMTP_MILTER_READY)
		smtp_milter_run(m);
	else
		smtp_milter_answer(m, one, r);
}

/* Modifications come at the end of the message only (the connection
 * refuses them at any other step). */
static int
smtp_milter_mod(void *arg, const struct smtp_milter_reply *r)
{
	struct smtp_milter_one	*one = arg;
	struct smtp_milter	*m = one->m;

	if (m->msg == NULL || !smtp_milter_asked(m, one))
		return -1;
	return smtp_milter_mods_take(m, r);
}

static void
smtp_milter_timeouts(const struct conf_filter *f,
    struct smtp_milter_timeouts *t)
{
	t->connect = f->timeout_connect;
	t->send = f->timeout_send;
	t->reply = f->timeout_reply;
	t->eom = f->timeout_eom;
}

/* Connect one (its outcome comes from the loop); a unix socket is the
 * parent's to connect (smtp_milter_connected()). */
static int
smtp_milter_open(struct smtp_milter *m, struct smtp_milter_one *one)
{
	const struct conf_filter	*f;
	struct smtp_milter_timeouts	 t;
	int				 i;

	if ((i = config_milter_find(conf, one->name)) == -1)
		return -1;
	f = &conf->filters[i];
	if (f->ss.ss_family == AF_UNIX) {
		if (smtp_milter_unix_ask(m->s->id, i) == -1)
			return -1;
		one->asking = i;
		return 0;
	}
	smtp_milter_timeouts(f, &t);
	one->conn = smtp_milter_conn_open(proc_base, -1,
	    (const struct sockaddr *)&f->ss, f->sslen, &t, smtp_milter_done,
	    smtp_milter_mod, one);
	return one->conn == NULL ? -1 : 0;
}

void
smtp_milter_connected(struct smtp_session *s, int filter, int fd, int error)
{
	struct smtp_milter		*m = s->milter;
	struct smtp_milter_one		*one;
	struct smtp_milter_timeouts	 t;
	int				 i;

	/* a session that no longer waits for this filter: the answer is
	 * stale */
	if (m == NULL || s->wait != SMTP_WAIT_MILTER ||
	    s->state == SMTP_ST_CLOSING || m->cur >= m->n ||
	    m->one[m->cur].asking != filter) {
		if (fd != -1)
			(void)close(fd);
		return;
	}
	one = &m->one[m->cur];
	one->asking = -1;
	if (fd == -1) {
		log_warnx("%08x: milter: filter %s: connect: %s", s->id,
		    one->name, strerror(error));
		smtp_milter_failed(m, one);
		return;
	}
	/* a reload may have moved the filter in the config meanwhile */
	if ((i = config_milter_find(conf, one->name)) == -1) {
		(void)close(fd);
		smtp_milter_failed(m, one);
		return;
	}
	smtp_milter_timeouts(&conf->filters[i], &t);
	if ((one->conn = smtp_milter_conn_open(proc_base, fd, NULL, 0, &t,
	    smtp_milter_done, smtp_milter_mod, one)) == NULL) {
		(void)close(fd);
		smtp_milter_failed(m, one);
	}
}

/* The macros of a stage (sendmail's names), sent before its command. */
static void
smtp_milter_macros(struct smtp_milter *m)
{
	struct smtp_session	*s = m->s;
	char			 relay[SMTP_SESSION_RELAY_MAX];
	char			 name[SMTP_SESSION_NAME_MAX], bits[16];
	const char		*n[8], *v[8];
	size_t			 k = 0;

	switch (m->cmd) {
	case SMFIC_CONNECT:
		n[k] = "j", v[k++] = conf->hostname;
		n[k] = "{daemon_name}", v[k++] = s->listener;
		n[k] = "{if_name}", v[k++] = conf->hostname;
		n[k] = "_", v[k++] = smtp_session_relay(s, relay,
		    sizeof(relay));
		n[k] = "{client_addr}", v[k++] = s->addr;
		n[k] = "{client_name}", v[k++] = smtp_session_name(s, name,
		    sizeof(name));
		break;
	case SMFIC_HELO:
		if (s->tls == NULL)
			break;
		(void)snprintf(bits, sizeof(bits), "%u", s->tls->bits);
		n[k] = "{tls_version}", v[k++] = s->tls->protocol;
		n[k] = "{cipher}", v[k++] = s->tls->cipher;
		n[k] = "{cipher_bits}", v[k++] = bits;
		n[k] = "{cert_subject}", v[k++] = s->tls->subject;
		n[k] = "{cert_issuer}", v[k++] = s->tls->issuer;
		n[k] = "{verify}", v[k++] = s->tls->verify;
		break;
	case SMFIC_MAIL:
		n[k] = "{auth_authen}", v[k++] = s->auth_user;
		n[k] = "{auth_type}", v[k++] = s->auth_mech;
		n[k] = "{mail_addr}", v[k++] = s->tx != NULL ?
		    s->tx->sender : NULL;
		break;
	case SMFIC_RCPT:
		n[k] = "{rcpt_addr}", v[k++] = m->rcpt;
		break;
	}
	if (k > 0)
		(void)smtp_milter_packet_macros(&smtp_milter_pkt, m->cmd, n, v,
		    k);
}

/* The stage's command; 1 if this filter asked to be spared it. */
static int
smtp_milter_command(struct smtp_milter *m, uint32_t proto)
{
	struct smtp_session	*s = m->s;
	struct smtp_milter_packet *p = &smtp_milter_pkt;

	switch (m->cmd) {
	case SMFIC_CONNECT:
		if (proto & SMFIP_NOCONNECT)
			return 1;
		/* mail of the sendmail command comes from localhost
		 * [127.0.0.1], as Postfix shows its non-SMTP mail, so that
		 * a filter's idea of internal hosts (OpenDKIM's
		 * InternalHosts) covers it */
		if (s->local != NULL)
			(void)smtp_milter_packet_connect(p, "localhost", '4', 0,
			    "127.0.0.1");
		else
			(void)smtp_milter_packet_connect(p, s->addr,
			    strchr(s->addr, ':') != NULL ? '6' : '4', 0,
			    s->addr);
		break;
	case SMFIC_HELO:
		if (proto & SMFIP_NOHELO)
			return 1;
		(void)smtp_milter_packet_simple(p, SMFIC_HELO,
		    s->helo != NULL ? s->helo : "");
		break;
	case SMFIC_MAIL:
		if (proto & SMFIP_NOMAIL)
			return 1;
		(void)smtp_milter_packet_addr(p, SMFIC_MAIL, s->tx->sender,
		    NULL, 0);
		break;
	case SMFIC_UNKNOWN:
		if (proto & SMFIP_NOUNKNOWN)
			return 1;
		(void)smtp_milter_packet_simple(p, SMFIC_UNKNOWN, m->rcpt);
		break;
	default:
		if (proto & SMFIP_NORCPT)
			return 1;
		(void)smtp_milter_packet_addr(p, SMFIC_RCPT, m->rcpt, NULL, 0);
		break;
	}
	return 0;
}

/* The stage's no-reply flag (SMFIP_NR_*). */
static uint32_t
smtp_milter_noreply(char cmd)
{
	switch (cmd) {
	case SMFIC_CONNECT:
		return SMFIP_NR_CONN;
	case SMFIC_HELO:
		return SMFIP_NR_HELO;
	case SMFIC_MAIL:
		return SMFIP_NR_MAIL;
	case SMFIC_UNKNOWN:
		return SMFIP_NR_UNKN;
	default:
		return SMFIP_NR_RCPT;
	}
}

/* Ask the filters from cur on; the last one's answer calls next. */
static void
smtp_milter_run(struct smtp_milter *m)
{
	struct smtp_milter_one	*one;
	uint32_t		 proto;

	for (; m->cur < m->n; m->cur++) {
		one = &m->one[m->cur];
		smtp_milter_pkt.len = 0;
		if (one->skip == SMTP_MILTER_BROKEN) {
			smtp_milter_finish(m, smtp_milter_fail_reply(one));
			return;
		}
		if (one->skip != SMTP_MILTER_ASK)
			continue;
		if (one->conn == NULL) {
			if (smtp_milter_open(m, one) == -1) {
				smtp_milter_failed(m, one);
				return;
			}
			/* its negotiation calls smtp_milter_run() again */
			return;
		}
		if (m->cmd == SMFIC_MAIL || m->cmd == SMFIC_RCPT)
			one->in_tx = 1;
		smtp_milter_macros(m);
		if (smtp_milter_pkt.len > 0 &&
		    smtp_milter_conn_put(one->conn, &smtp_milter_pkt) == -1) {
			smtp_milter_failed(m, one);
			return;
		}
		smtp_milter_pkt.len = 0;
		proto = smtp_milter_conn_optneg(one->conn)->protocol;
		if (smtp_milter_command(m, proto))
			continue;
		if (proto & smtp_milter_noreply(m->cmd)) {
			if (smtp_milter_conn_put(one->conn,
			    &smtp_milter_pkt) == -1) {
				smtp_milter_failed(m, one);
				return;
			}
			continue;
		}
		if (smtp_milter_conn_step(one->conn, &smtp_milter_pkt, 0) == -1)
			smtp_milter_failed(m, one);
		return;
	}
	smtp_milter_finish(m, NULL);
}

void
smtp_milter_stage(struct smtp_session *s, char cmd, const char *rcpt,
    smtp_milter_next_fn next)
{
	struct smtp_milter	*m = s->milter;

	if (m == NULL && (m = s->milter = smtp_milter_new(s)) == NULL) {
		next(s, SMTP_MILTER_TEMPFAIL);
		return;
	}
	m->cmd = cmd;
	m->next = next;
	m->cur = 0;
	(void)strlcpy(m->rcpt, rcpt != NULL ? rcpt : "", sizeof(m->rcpt));
	smtp_milter_pkt.len = 0;
	s->wait = SMTP_WAIT_MILTER;
	m->sync = 1;
	smtp_milter_run(m);
	m->sync = 0;
}

void
smtp_milter_abort(struct smtp_session *s)
{
	struct smtp_milter	*m = s->milter;
	size_t			 i;

	if (m == NULL)
		return;
	smtp_milter_msg_free(m->msg);
	m->msg = NULL;
	(void)smtp_milter_packet_simple(&smtp_milter_pkt, SMFIC_ABORT, NULL);
	for (i = 0; i < m->n; i++) {
		if (m->one[i].in_tx && m->one[i].conn != NULL)
			(void)smtp_milter_conn_put(m->one[i].conn,
			    &smtp_milter_pkt);
		m->one[i].in_tx = 0;
		if (m->one[i].skip == SMTP_MILTER_SKIP_TX)
			m->one[i].skip = SMTP_MILTER_ASK;
	}
	smtp_milter_pkt.len = 0;
}

void
smtp_milter_free(struct smtp_session *s)
{
	struct smtp_milter	*m = s->milter;
	size_t			 i;

	if (m == NULL)
		return;
	(void)smtp_milter_packet_simple(&smtp_milter_pkt, SMFIC_QUIT, NULL);
	for (i = 0; i < m->n; i++) {
		smtp_milter_conn_quit(m->one[i].conn, &smtp_milter_pkt);
		smtp_milter_conn_free(m->one[i].conn);
	}
	smtp_milter_pkt.len = 0;
	smtp_milter_msg_free(m->msg);
	free(m);
	s->milter = NULL;
}
