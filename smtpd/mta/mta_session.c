/*
 * mta_session.c: one SMTP client connection of the outbound client.
 *
 * Interface in mta_core.h.  The dialogue is a state machine (enum
 * mta_state): each complete reply goes to the handler of the current
 * state through mta_session_on[], which sends the next command and moves
 * on.  With PIPELINING, MAIL, every RCPT and DATA leave in one write and
 * the replies are matched in order.  The body is streamed from the
 * message fd through mta_data.c as the socket drains.
 *
 * Failure behaviour: a refused or lost connection, a timeout, garbage
 * from the server, a 4xx greeting or EHLO, or a 421 anywhere hands the
 * recipients still open back to the batch, which tries its next hop.
 * Replies to MAIL, RCPT and DATA are final for the recipients they
 * concern.  A message that cannot be read ends the connection without the
 * final dot, so that nothing truncated is delivered.
 *
 * STARTTLS (RFC 3207) is tried whenever the server offers it, tlsproxy
 * is there and Try_TLS does not forbid it: on 220 the socket goes to
 * tlsproxy (mta_tls.c), whatever the server sent after the 220 is
 * dropped unread, and the dialogue starts again with EHLO over the
 * plaintext end.  A server that refuses STARTTLS (454, 5xx) gets the
 * message in plaintext on the same connection, as sendmail does.
 *
 * The TLS rulesets (spec 3, 4.1; questions in mta_policy.c): after the
 * last EHLO, tls_server judges the connection with its ${verify} (NONE,
 * TEMP, USAGE, PROTOCOL when no handshake was done); a refusal fails the
 * hop with its reply (4xx: the batch tries its next hop, then defers;
 * 5xx: bounces), with QUIT unless the handshake itself failed
 * (SOFTWARE), which always drops the connection.  Before each
 * transaction tls_rcpt judges every recipient for this connection; one
 * refused is never offered here: a 5xx bounces it alone, a 4xx holds it
 * back for the batch's next hop (an MX that meets the requirement: the
 * fix for the multi-MX downgrade) and defers it when none is left.  While
 * policyd is asked the session is in MTA_S_POLICY; an absent policyd is a
 * temporary failure, never an allow.
 *
 * SMTP AUTH (mta_auth.c) comes after tls_server passed and before the
 * first transaction, in MTA_S_AUTH; mta_session_auth_done() goes on or
 * fails the hop.  A 530 to MAIL on a connection that did not
 * authenticate defers (the server wants a credential we lack or could
 * not use here) rather than bounces.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "log.h"
#include "mtasts.h"
#include "proc.h"
#include "util.h"
#include "mta_core.h"
#include "mta_route.h"
#include "mta_sts.h"

#define MTA_LINE_MAX		4096	/* longest reply line we read */
#define MTA_BODY_HIWAT		(2 * MTA_DATA_CHUNK)
#define MTA_QUIT_TIMEOUT	10

static TAILQ_HEAD(, mta_session) mta_sessions =
    TAILQ_HEAD_INITIALIZER(mta_sessions);

static void	mta_session_tx_begin(struct mta_session *);
static void	mta_session_tx_screen(struct mta_session *);
static void	mta_session_tx_send(struct mta_session *);
static void	mta_session_timeout(int, short, void *);
static int	mta_session_policy_answer(struct mta_session *, uint32_t,
		    const char *, const char *);

static const char *mta_state_names[] = {
	"connect", "greeting", "EHLO", "HELO", "idle", "RSET", "MAIL",
	"RCPT", "DATA", "message body", "end of data", "QUIT", "STARTTLS",
	"TLS handshake", "policy check", "AUTH"
};

#define MTA_POLICY_DOWN	"451 4.3.0 Temporary policy failure, try again later"
#define MTA_SMTPUTF8_MISSING	"554 5.6.7 SMTPUTF8 is required, but was " \
	"not offered by the next hop"

void
mta_session_timer(struct mta_session *s, int secs)
{
	struct timeval	 tv = { secs, 0 };

	(void)evtimer_add(s->timer, &tv);
}

/* Queue one command line; the write happens from the event loop. */
static void
mta_session_send(struct mta_session *s, const char *line, size_t len)
{
	(void)evbuffer_add(bufferevent_get_output(s->bev), line, len);
}

static void
mta_session_printf(struct mta_session *s, const char *fmt, const char *arg)
{
	(void)evbuffer_add_printf(bufferevent_get_output(s->bev), fmt, arg);
}

/* Close at once, without a word to the server. */
static void
mta_session_free(struct mta_session *s, const char *why)
{
	mta_pool_closed(s);
	log_info("connection to %s closed: %s (%d message%s)", s->peer,
	    why, s->nmessages, s->nmessages == 1 ? "" : "s");
	if (s->state == MTA_S_TLS)
		mta_tls_abort(s->id);
	TAILQ_REMOVE(&mta_sessions, s, entry);
	if (s->timer != NULL)
		event_free(s->timer);
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	else if (s->fd != -1)
		(void)close(s->fd);
	mta_auth_clear(s);
	free(s);
}

/* Let go of the batch, and return it, before the session ends. */
static struct mta_batch *
mta_session_detach(struct mta_session *s)
{
	struct mta_batch	*b = s->batch;

	s->batch = NULL;
	if (b != NULL) {
		b->session = NULL;
		b->state = MTA_BATCH_NEW;
	}
	return b;
}

/*
 * The hop failed the open recipients.  The connection goes (politely if
 * the server is still talking); the batch tries elsewhere, or the same
 * hop afresh if a reused connection died before it said anything.
 */
static void
mta_session_fail(struct mta_session *s, int polite, int status,
    const char *enh, const char *text)
{
	struct mta_batch	*b;
	int			 same = s->reused && !s->heard;

	b = mta_session_detach(s);
	if (polite)
		mta_session_quit(s);
	else
		mta_session_free(s, text);
	if (b != NULL)
		mta_batch_hop_failed(b, same, status, enh, text);
}

/* A connection-level failure: 4.4.1 before the dialogue, 4.4.2 after. */
static void
mta_session_lost(struct mta_session *s, const char *what)
{
	char	 text[MTA_ERR_MAX];

	(void)snprintf(text, sizeof(text), "%s: %s", s->peer, what);
	mta_session_fail(s, 0, STATUS_TEMPFAIL,
	    s->state <= MTA_S_GREETING ? "4.4.1" : "4.4.2", text);
}

/* A failure the server told us about in a reply. */
static void
mta_session_refused(struct mta_session *s)
{
	const struct mta_reply	*r = &s->reply;

	mta_session_fail(s, r->code != 421, r->code >= 500 ?
	    STATUS_PERMFAIL : STATUS_TEMPFAIL, mta_reply_status(r), r->text);
}

/* Every open recipient gets the same result from a reply. */
static void
mta_session_result_all(struct mta_session *s, enum mta_rcpt_state which)
{
	struct mta_batch	*b = s->batch;
	const struct mta_reply	*r = &s->reply;
	int			 status;
	size_t			 i;

	if (r->code / 100 == 2)
		status = STATUS_OK;
	else
		status = r->code >= 500 ? STATUS_PERMFAIL : STATUS_TEMPFAIL;
	for (i = 0; i < b->nrcpt; i++)
		if (b->rcpts[i].state == which)
			mta_batch_result(b, i, status, mta_reply_status(r),
			    r->text);
}

/*
 * The transaction is over: the connection goes back, and the batch ends,
 * or takes the recipients tls_rcpt held back to its next hop.
 */
static void
mta_session_tx_end(struct mta_session *s, int dirty)
{
	struct mta_batch	*b;
	size_t			 i;

	s->dirty = dirty;
	s->nmessages++;
	stats_add("mta.transaction", 1);
	b = mta_session_detach(s);
	for (i = 0; i < b->nrcpt; i++)
		if (b->rcpts[i].state == MTA_RCPT_HELD)
			break;
	if (i < b->nrcpt) {
		mta_pool_release(s);
		mta_batch_hop_failed(b, 0, b->err.status, b->err.enh,
		    b->err.text);
		return;
	}
	mta_batch_done(b);
	mta_pool_release(s);
}

/* Banner: 2xx -> EHLO, anything else -> the next hop. */
static int
mta_session_on_greeting(struct mta_session *s)
{
	if (s->reply.code / 100 != 2) {
		mta_session_refused(s);
		return -1;
	}
	mta_session_printf(s, "EHLO %s\r\n", conf->hostname);
	s->state = MTA_S_EHLO;
	return 0;
}

/* The dialogue is open: the first transaction starts. */
static void
mta_session_ready(struct mta_session *s)
{
	stats_time_add("mta.connect.us", "mta.connect.count", s->opened_us);
	s->opened_us = 0;
	mta_session_tx_begin(s);
}

/*
 * Ask policyd kind about this connection; the answer comes to
 * mta_session_policy_done().  Without policyd the answer is a temporary
 * failure at once.  Returns what the continuation returns, or 0.
 */
static int
mta_session_ask(struct mta_session *s, uint32_t kind)
{
	s->state = MTA_S_POLICY;
	mta_session_timer(s, conf->mta_timeout_command);
	if (proc_peer(PROC_POLICY) != NULL &&
	    mta_policy_ask(s, kind, NULL) == 0)
		return 0;
	s->asking = kind;
	stats_add("mta.error.policy", 1);
	return mta_session_policy_answer(s, POLICY_TEMPFAIL, MTA_POLICY_DOWN,
	    "4.3.0");
}

/* tls_server (spec 3.1) once per connection, then the transaction. */
static int
mta_session_tls_server(struct mta_session *s)
{
	if (s->tls_checked) {
		mta_session_ready(s);
		return 0;
	}
	return mta_session_ask(s, POLICY_TLS_SRV);
}

/*
 * DANE applies and cannot be satisfied on this connection: ${verify} is
 * verify (DANE_NOTLS, DANE_TEMP, DANE_FAIL), and the MX is deferred,
 * never used in cleartext (RFC 7672 2.2).  Returns -1.
 */
static int
mta_session_dane_defer(struct mta_session *s, const char *verify,
    const char *why)
{
	char	 text[MTA_ERR_MAX];

	(void)strlcpy(s->facts.verify, verify, sizeof(s->facts.verify));
	mta_dane_count(verify);
	/* DANE_TEMP here is ours (tlsproxy away), not the host's */
	if (s->batch != NULL && strcmp(verify, "DANE_TEMP") != 0)
		mta_tlsrpt_dane(s->batch->domain,
		    s->batch->hops[s->batch->hop].name, &s->dane, verify,
		    s->relay != NULL ? s->relay->addr : NULL);
	(void)snprintf(text, sizeof(text), "DANE: %s: %s (verify=%s)",
	    s->peer, why, verify);
	log_info("%s", text);
	mta_session_fail(s, s->bev != NULL && bufferevent_getfd(s->bev) != -1,
	    STATUS_TEMPFAIL, "4.7.5", text);
	return -1;
}

/* STARTTLS can be sent: offered, and tlsproxy is there; else ${verify}
 * says why not. */
static int
mta_session_tls_offered(struct mta_session *s)
{
	if (!(s->ehlo.ext & MTA_EXT_STARTTLS)) {
		(void)strlcpy(s->facts.verify, "NONE", sizeof(s->facts.verify));
		return 0;
	}
	if (proc_peer(PROC_TLS) == NULL) {
		/* sendmail: "client TLS init failed" is TEMP */
		(void)strlcpy(s->facts.verify, "TEMP", sizeof(s->facts.verify));
		return 0;
	}
	return 1;
}

/* DANE required: STARTTLS whatever Try_TLS said, or defer when the
 * server does not offer it or tlsproxy is away. */
static int
mta_session_dane_starttls(struct mta_session *s)
{
	if (!(s->ehlo.ext & MTA_EXT_STARTTLS))
		return mta_session_dane_defer(s, "DANE_NOTLS",
		    "STARTTLS not offered");
	if (proc_peer(PROC_TLS) == NULL)
		return mta_session_dane_defer(s, "DANE_TEMP",
		    "TLS proxy unavailable");
	mta_session_send(s, "STARTTLS\r\n", 10);
	s->state = MTA_S_STARTTLS;
	mta_session_timer(s, conf->mta_timeout_command);
	return 0;
}

/* After the last EHLO or HELO: STARTTLS if it can be tried, or judge. */
static int
mta_session_after_ehlo(struct mta_session *s)
{
	if (s->tls || s->tls_checked)
		return mta_session_tls_server(s);
	/* with DANE, Try_TLS is asked for its Clt_Features letters */
	if (!mta_dane_tls_required(&s->dane) && !mta_session_tls_offered(s))
		return mta_session_tls_server(s);
	return mta_session_ask(s, POLICY_TRY_TLS);
}

static int
mta_session_on_ehlo(struct mta_session *s)
{
	if (s->reply.code / 100 == 2)
		return mta_session_after_ehlo(s);
	if (s->reply.code / 100 == 5) {
		memset(&s->ehlo, 0, sizeof(s->ehlo));
		mta_session_printf(s, "HELO %s\r\n", conf->hostname);
		s->state = MTA_S_HELO;
		return 0;
	}
	mta_session_refused(s);
	return -1;
}


/* ${verify} after a STARTTLS that got code instead of 220 (spec 3.5). */
static const char *
mta_session_starttls_verify(int code)
{
	if (code / 100 == 4)
		return "TEMP";
	if (code == 501)
		return "USAGE";
	if (code / 100 == 5)
		return "NONE";
	return "PROTOCOL";
}

/*
 * 220: hand the socket to tlsproxy, dropping unread whatever came after
 * the reply.  Any other answer: go on in plaintext.  -1 either way when
 * the session no longer reads from this socket.
 */
static int
mta_session_on_starttls(struct mta_session *s)
{
	struct evbuffer	*in = bufferevent_get_input(s->bev);
	char		 name[CONF_HOST_MAX + 2];
	int		 fd;

	if (s->reply.code != 220 && mta_dane_tls_required(&s->dane))
		return mta_session_dane_defer(s, "DANE_NOTLS",
		    "STARTTLS refused");
	if (s->reply.code != 220) {
		log_info("%s: STARTTLS refused (%s), going on without TLS",
		    s->peer, s->reply.text);
		stats_add("mta.tls.refused", 1);
		(void)strlcpy(s->facts.verify, mta_session_starttls_verify(
		    s->reply.code), sizeof(s->facts.verify));
		return mta_session_tls_server(s);
	}
	fd = bufferevent_getfd(s->bev);
	(void)bufferevent_disable(s->bev, EV_READ | EV_WRITE);
	(void)bufferevent_setfd(s->bev, -1);
	(void)evbuffer_drain(in, evbuffer_get_length(in));
	s->state = MTA_S_TLS;
	mta_session_timer(s, conf->timeout_tls_handshake +
	    MTA_QUIT_TIMEOUT);
	mta_policy_server_name(s, name, sizeof(name));
	if (mta_tls_start(s->id, fd, name, &s->dane) == -1) {
		s->state = MTA_S_STARTTLS;
		mta_session_lost(s, "TLS proxy unavailable");
	}
	return -1;
}

/* tlsproxy's answer: EHLO again over fd, or the hop failed. */
void
mta_session_tls_done(struct mta_session *s, int fd,
    const struct mta_tls_facts *facts, const char *error)
{
	if (fd == -1) {
		/* spec 3.4: SOFTWARE always ends the connection; tls_server
		 * gives the reply (and so defer or bounce) */
		stats_add("mta.tls.failed", 1);
		log_info("%s: TLS handshake failed: verify=%s %s", s->peer,
		    facts->verify, error);
		(void)strlcpy(s->facts.verify, "SOFTWARE",
		    sizeof(s->facts.verify));
		(void)mta_session_ask(s, POLICY_TLS_SRV);
		return;
	}
	stats_add("mta.tls.session", 1);
	log_info("%s: TLS on, verify=%s", s->peer, facts->verify);
	s->facts = *facts;
	s->tls = 1;
	memset(&s->ehlo, 0, sizeof(s->ehlo));
	mta_reply_init(&s->reply);
	(void)bufferevent_setfd(s->bev, fd);
	(void)bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	if (s->dane.state == MTA_DANE_REQUIRED &&
	    strcmp(facts->verify, "TRUSTED") != 0) {
		(void)mta_session_dane_defer(s, "DANE_FAIL", "the certificate "
		    "matches no TLSA record of the host");
		return;
	}
	if (s->dane.state == MTA_DANE_REQUIRED) {
		mta_dane_count(facts->verify);
		(void)strlcpy(s->dane_host, s->batch->hops[s->batch->hop].name,
		    sizeof(s->dane_host));
		mta_tlsrpt_dane(s->batch->domain, s->dane_host, &s->dane,
		    facts->verify, s->relay != NULL ? s->relay->addr : NULL);
	}
	mta_session_printf(s, "EHLO %s\r\n", conf->hostname);
	s->state = MTA_S_EHLO;
	mta_session_timer(s, conf->mta_timeout_command);
}

static int
mta_session_on_helo(struct mta_session *s)
{
	if (s->reply.code / 100 != 2) {
		mta_session_refused(s);
		return -1;
	}
	return mta_session_after_ehlo(s);
}

static int
mta_session_on_rset(struct mta_session *s)
{
	if (s->reply.code / 100 != 2) {
		mta_session_refused(s);
		return -1;
	}
	s->dirty = 0;
	mta_session_tx_send(s);
	return 0;
}

/* The next recipient still to be offered at or after rcur. */
static size_t
mta_session_next_rcpt(struct mta_session *s, size_t from)
{
	struct mta_batch	*b = s->batch;

	while (from < b->nrcpt && b->rcpts[from].state != MTA_RCPT_PENDING)
		from++;
	return from;
}

/* Send RCPT for recipient i; -1 (session gone) if it cannot be built. */
static int
mta_session_send_rcpt(struct mta_session *s, size_t i)
{
	char	 line[MTA_RCPT_LINE_MAX];
	int	 n;

	n = mta_command_rcpt(line, sizeof(line), &s->batch->rcpts[i],
	    mta_batch_rcpt_to(s->batch, i), s->ehlo.ext);
	if (n == -1) {
		mta_batch_result(s->batch, i, STATUS_PERMFAIL, "5.1.3",
		    "recipient address too long");
		return 0;
	}
	mta_session_send(s, line, (size_t)n);
	s->nsent++;
	return 1;
}

/* Start a transaction for the batch: MAIL, and with PIPELINING the rest. */
static void
mta_session_tx_send(struct mta_session *s)
{
	struct mta_batch	*b = s->batch;
	char			 line[CONF_ADDR_MAX * 4 + 128];
	size_t			 i;
	int			 n;

	n = mta_command_mail(line, sizeof(line), b, s->ehlo.ext);
	if (n != -1)
		n = mta_auth_mail_param(s, line, sizeof(line), n);
	if (n == -1) {
		(void)mta_session_detach(s);
		mta_batch_fail_all(b, STATUS_PERMFAIL, "5.1.7",
		    "sender address too long");
		mta_pool_release(s);
		return;
	}
	mta_session_send(s, line, (size_t)n);
	s->state = MTA_S_MAIL;
	mta_session_timer(s, conf->mta_timeout_command);
	if (!(s->ehlo.ext & MTA_EXT_PIPELINING))
		return;
	for (i = 0; i < b->nrcpt; i++)
		if (b->rcpts[i].state == MTA_RCPT_PENDING)
			(void)mta_session_send_rcpt(s, i);
	mta_session_send(s, "DATA\r\n", 6);
}

/* The recipients are judged: RSET if needed, then the transaction. */
static void
mta_session_tx_go(struct mta_session *s)
{
	mta_session_timer(s, conf->mta_timeout_command);
	if (s->dirty) {
		mta_session_send(s, "RSET\r\n", 6);
		s->state = MTA_S_RSET;
		return;
	}
	mta_session_tx_send(s);
}

/*
 * tls_rcpt for each open recipient from s->screen on, one question at a
 * time (spec 3.1); then the transaction, or its end if none is left.
 */
static void
mta_session_tx_screen(struct mta_session *s)
{
	struct mta_batch	*b = s->batch;
	size_t			 open = 0, i;

	for (i = s->screen; i < b->nrcpt; i++) {
		if (b->rcpts[i].state != MTA_RCPT_PENDING)
			continue;
		s->screen = i;
		s->state = MTA_S_POLICY;
		mta_session_timer(s, conf->mta_timeout_command);
		if (proc_peer(PROC_POLICY) != NULL &&
		    mta_policy_ask(s, POLICY_TLS_RCPT,
		    mta_batch_rcpt_to(b, i)) == 0)
			return;
		stats_add("mta.error.policy", 1);
		mta_batch_result(b, i, STATUS_TEMPFAIL, "4.3.0",
		    MTA_POLICY_DOWN);
	}
	for (i = 0; i < b->nrcpt; i++)
		if (b->rcpts[i].state == MTA_RCPT_PENDING)
			open++;
	if (open == 0) {
		mta_session_tx_end(s, s->dirty);
		return;
	}
	mta_session_tx_go(s);
}

/*
 * RFC 6531 3.4: to a next hop without SMTPUTF8 a message that needs it
 * (UTF-8 in its header or in the sender's local part) is returned, and so
 * is each recipient with a UTF-8 local part; U-label domains go as
 * A-labels (mta_command_addr()).
 */
static void
mta_session_tx_utf8(struct mta_session *s)
{
	struct mta_batch	*b = s->batch;
	char			 tmp[CONF_ADDR_MAX * 3];
	size_t			 i;

	if ((s->ehlo.ext & MTA_EXT_SMTPUTF8) ||
	    !(b->utf8 & UTF8_F_SMTPUTF8))
		return;
	for (i = 0; i < b->nrcpt; i++) {
		if (b->rcpts[i].state != MTA_RCPT_PENDING)
			continue;
		if (!(b->utf8 & UTF8_F_HEADERS) &&
		    mta_command_addr(tmp, sizeof(tmp), b->sender, 0) == 0 &&
		    mta_command_addr(tmp, sizeof(tmp),
		    mta_batch_rcpt_to(b, i), 0) == 0)
			continue;
		stats_add("mta.error.smtputf8", 1);
		mta_batch_result(b, i, STATUS_PERMFAIL, "5.6.7",
		    MTA_SMTPUTF8_MISSING);
	}
}

/* 1 if b asked for REQUIRETLS and has a sender (a bounce is exempt). */
int
mta_session_requiretls(const struct mta_batch *b)
{
	return (b->msgflags & MSG_F_REQUIRETLS) && b->sender[0] != '\0';
}

/* 1 if s's certificate verified, for the server name name. */
int
mta_session_name_verified(const struct mta_session *s, const char *name)
{
	return s->tls && s->sts_host[0] != '\0' &&
	    mta_route_host_eq(s->sts_host, name) &&
	    (strcmp(s->facts.verify, "OK") == 0 ||
	    strcmp(s->facts.verify, "TRUSTED") == 0);
}

/*
 * RFC 8689 4.2.1: a message that asked for REQUIRETLS goes only to a
 * host of a DNSSEC-secure MX answer or of an MTA-STS enforce policy (or
 * of a route the admin set), over TLS whose certificate verified for the
 * host's name (TLS_F_VERIFY_NAME, asked by mta_sts_tls_flags()) or by
 * DANE, to a server that offers REQUIRETLS after STARTTLS.  Here it is
 * held back for the next MX, and returned with 5.7.30 when none is left.
 */
static void
mta_session_tx_requiretls(struct mta_session *s)
{
	struct mta_batch	*b = s->batch;
	const struct mta_hop	*hop;
	/* room for the peer and a host name; cut to the reply's size */
	char			 why[2 * MTA_ERR_MAX];
	size_t			 i;

	if (!mta_session_requiretls(b))
		return;
	hop = &b->hops[b->hop];
	if (!hop->routed && !hop->mx_secure &&
	    b->sts_mode != MTASTS_MODE_ENFORCE)
		(void)snprintf(why, sizeof(why), "the MX of %s is neither "
		    "DNSSEC-signed nor named by an MTA-STS policy", b->domain);
	else if (s->facts.version[0] == '\0')
		(void)snprintf(why, sizeof(why), "no TLS with %s", s->peer);
	else if (!mta_session_name_verified(s, hop->name))
		(void)snprintf(why, sizeof(why), "the certificate of %s was "
		    "not verified for %s (verify=%s)", s->peer, hop->name,
		    s->facts.verify);
	else if (!(s->ehlo.ext & MTA_EXT_REQUIRETLS))
		(void)snprintf(why, sizeof(why), "%s does not offer "
		    "REQUIRETLS", s->peer);
	else
		return;
	stats_add("mta.requiretls.held", 1);
	log_info("%s: REQUIRETLS message %08x not sent here: %s", s->peer,
	    b->msgid, why);
	for (i = 0; i < b->nrcpt; i++)
		if (b->rcpts[i].state == MTA_RCPT_PENDING)
			b->rcpts[i].state = MTA_RCPT_HELD;
	b->err.status = STATUS_PERMFAIL;
	(void)strlcpy(b->err.enh, "5.7.30", sizeof(b->err.enh));
	(void)strlcpy(b->err.text, "550 5.7.30 REQUIRETLS support required: ",
	    sizeof(b->err.text));
	(void)strlcat(b->err.text, why, sizeof(b->err.text));
}

static void
mta_session_tx_begin(struct mta_session *s)
{
	s->heard = 0;
	s->mail_failed = 0;
	s->rcur = 0;
	s->nsent = 0;
	s->nreplied = 0;
	s->naccepted = 0;
	s->screen = 0;
	mta_session_tx_utf8(s);
	mta_session_tx_requiretls(s);
	mta_session_tx_screen(s);
}

/* Every RCPT was answered: on to DATA, or end a transaction with none. */
static void
mta_session_rcpts_done(struct mta_session *s)
{
	if (s->ehlo.ext & MTA_EXT_PIPELINING) {
		s->state = MTA_S_DATA;
		return;
	}
	if (s->naccepted == 0) {
		mta_session_tx_end(s, 1);
		return;
	}
	mta_session_send(s, "DATA\r\n", 6);
	s->state = MTA_S_DATA;
}

/* Without PIPELINING: offer the next recipient, or move on. */
static void
mta_session_rcpt_next(struct mta_session *s)
{
	size_t	 i;

	if (s->ehlo.ext & MTA_EXT_PIPELINING) {
		if (s->nreplied >= s->nsent)
			mta_session_rcpts_done(s);
		return;
	}
	for (i = mta_session_next_rcpt(s, s->rcur); i < s->batch->nrcpt;
	    i = mta_session_next_rcpt(s, i + 1)) {
		if (mta_session_send_rcpt(s, i)) {
			s->state = MTA_S_RCPT;
			return;
		}
	}
	mta_session_rcpts_done(s);
}

static int
mta_session_on_mail(struct mta_session *s)
{
	if (s->reply.code == 530 && !s->authed) {
		/* authentication required: defer, never bounce */
		stats_add("mta.auth.required", 1);
		mta_session_fail(s, 1, STATUS_TEMPFAIL, "4.7.0", s->reply.text);
		/* still reading: the replies to what was pipelined, then
		 * QUIT's, end it */
		return 0;
	}
	s->state = MTA_S_RCPT;
	if (s->reply.code / 100 != 2) {
		s->mail_failed = 1;
		mta_session_result_all(s, MTA_RCPT_PENDING);
		if (!(s->ehlo.ext & MTA_EXT_PIPELINING)) {
			mta_session_tx_end(s, 1);
			return 0;
		}
	}
	mta_session_rcpt_next(s);
	return 0;
}

static int
mta_session_on_rcpt(struct mta_session *s)
{
	struct mta_batch	*b = s->batch;
	size_t			 i;

	s->nreplied++;
	if (!s->mail_failed) {
		i = mta_session_next_rcpt(s, s->rcur);
		if (i >= b->nrcpt) {
			mta_session_lost(s, "protocol error: reply to no RCPT");
			return -1;
		}
		s->rcur = i + 1;
		if (s->reply.code / 100 == 2) {
			b->rcpts[i].state = MTA_RCPT_ACCEPTED;
			s->naccepted++;
		} else
			mta_batch_result(b, i, s->reply.code >= 500 ?
			    STATUS_PERMFAIL : STATUS_TEMPFAIL,
			    mta_reply_status(&s->reply), s->reply.text);
	}
	mta_session_rcpt_next(s);
	return 0;
}

/* Queue body data until the output holds enough or the end is out. */
static int
mta_session_body_fill(struct mta_session *s)
{
	struct evbuffer		*out = bufferevent_get_output(s->bev);
	struct mta_batch	*b;
	char			 text[MTA_ERR_MAX];
	int			 r = 0;

	while (evbuffer_get_length(out) < MTA_BODY_HIWAT &&
	    (r = mta_data_fill(&s->data, out)) == 0)
		;
	if (r == 1) {
		s->state = MTA_S_DOT;
		return 0;
	}
	if (r == 0)
		return 0;
	(void)snprintf(text, sizeof(text), "cannot read message: %s",
	    strerror(errno));
	log_warnx("batch %08x: %s", s->batch->id, text);
	b = mta_session_detach(s);
	mta_session_free(s, text);
	mta_batch_fail_all(b, STATUS_TEMPFAIL, "4.3.0", text);
	return -1;
}

static int
mta_session_on_data(struct mta_session *s)
{
	if (s->reply.code != 354) {
		mta_session_result_all(s, MTA_RCPT_ACCEPTED);
		mta_session_tx_end(s, 1);
		return 0;
	}
	mta_session_timer(s, conf->mta_timeout_data);
	if (s->mail_failed || s->naccepted == 0) {
		/* a server that should have refused DATA: send nothing */
		s->mail_failed = 1;
		mta_session_send(s, ".\r\n", 3);
		s->state = MTA_S_DOT;
		return 0;
	}
	mta_data_init(&s->data, s->batch->fd);
	s->state = MTA_S_BODY;
	return mta_session_body_fill(s);
}

static int
mta_session_on_dot(struct mta_session *s)
{
	if (!s->mail_failed)
		mta_session_result_all(s, MTA_RCPT_ACCEPTED);
	mta_session_tx_end(s, s->mail_failed);
	return 0;
}

static int
mta_session_on_quit(struct mta_session *s)
{
	mta_session_free(s, "QUIT");
	return -1;
}

/* A reply while none was expected (idle, streaming): drop the link. */
static int
mta_session_on_unexpected(struct mta_session *s)
{
	if (s->state == MTA_S_READY) {
		mta_session_quit(s);
		return -1;
	}
	mta_session_lost(s, "protocol error: unexpected reply");
	return -1;
}

/* Try_TLS's answer: STARTTLS, or on without it (${verify} NONE). */
static int
mta_session_on_try_tls(struct mta_session *s, uint32_t verdict)
{
	if (mta_dane_tls_required(&s->dane)) {
		if (!mta_dane_clt_off(s))
			return mta_session_dane_starttls(s);
		if (!mta_session_tls_offered(s))
			return mta_session_tls_server(s);
	}
	if (verdict == POLICY_ACCEPT) {
		mta_session_send(s, "STARTTLS\r\n", 10);
		s->state = MTA_S_STARTTLS;
		mta_session_timer(s, conf->mta_timeout_command);
		return 0;
	}
	log_info("%s: try_tls: STARTTLS not tried", s->peer);
	stats_add("mta.tls.skipped", 1);
	(void)strlcpy(s->facts.verify, "NONE", sizeof(s->facts.verify));
	return mta_session_tls_server(s);
}

/* tls_server's answer: the transaction, or the hop fails with it. */
static int
mta_session_on_tls_srv(struct mta_session *s, uint32_t verdict,
    const char *reply, const char *enh)
{
	char	 sts[MTA_ERR_MAX];
	int	 polite;

	if (verdict == POLICY_ACCEPT &&
	    mta_sts_session_verdict(s, sts, sizeof(sts)) == -1) {
		verdict = POLICY_TEMPFAIL;
		reply = sts;
		enh = "4.7.5";
	}
	if (verdict == POLICY_ACCEPT) {
		s->tls_checked = 1;
		switch (mta_auth_start(s)) {
		case 0:
			mta_session_ready(s);
			return 0;
		case 1:
			return 0;
		default:
			return -1;
		}
	}
	stats_add("mta.tls.server_refused", 1);
	log_info("%s: tls_server refused the connection: %s", s->peer,
	    reply);
	polite = strcmp(s->facts.verify, "SOFTWARE") != 0 && s->bev != NULL &&
	    bufferevent_getfd(s->bev) != -1;
	mta_session_fail(s, polite, verdict == POLICY_REJECT ?
	    STATUS_PERMFAIL : STATUS_TEMPFAIL, enh, reply);
	return -1;
}

/* tls_rcpt's answer for the recipient s->screen; then the next one. */
static int
mta_session_on_tls_rcpt(struct mta_session *s, uint32_t verdict,
    const char *reply, const char *enh)
{
	struct mta_batch	*b = s->batch;

	if (verdict == POLICY_REJECT) {
		stats_add("mta.tls.rcpt_refused", 1);
		mta_batch_result(b, s->screen, STATUS_PERMFAIL, enh, reply);
	} else if (verdict == POLICY_TEMPFAIL) {
		stats_add("mta.tls.rcpt_refused", 1);
		log_info("%s: tls_rcpt: <%s> not sent here: %s", s->peer,
		    b->rcpts[s->screen].rcpt, reply);
		b->rcpts[s->screen].state = MTA_RCPT_HELD;
		b->err.status = STATUS_TEMPFAIL;
		(void)strlcpy(b->err.enh, enh, sizeof(b->err.enh));
		(void)strlcpy(b->err.text, reply, sizeof(b->err.text));
	}
	s->screen++;
	mta_session_tx_screen(s);
	return 0;
}

/* The answer to the question in flight; -1 if the session is gone. */
static int
mta_session_policy_answer(struct mta_session *s, uint32_t verdict,
    const char *reply, const char *enh)
{
	uint32_t	 kind = s->asking;

	s->asking = 0;
	switch (kind) {
	case POLICY_TRY_TLS:
		return mta_session_on_try_tls(s, verdict);
	case POLICY_TLS_SRV:
		return mta_session_on_tls_srv(s, verdict, reply, enh);
	default:
		return mta_session_on_tls_rcpt(s, verdict, reply, enh);
	}
}

/* policyd answered (mta_policy.c); reply is a whole reply line. */
void
mta_session_policy_done(struct mta_session *s, uint32_t verdict,
    const char *reply, const char *enh)
{
	(void)mta_session_policy_answer(s, verdict, reply, enh);
}

/* policyd died: every open question is a temporary failure. */
void
mta_session_policy_down(void)
{
	struct mta_session	*s, *next;

	for (s = TAILQ_FIRST(&mta_sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->state == MTA_S_POLICY && s->asking != 0)
			(void)mta_session_policy_answer(s, POLICY_TEMPFAIL,
			    MTA_POLICY_DOWN, "4.3.0");
		else if (s->state == MTA_S_AUTH)
			mta_auth_policy_down(s);
	}
}

/* smtpd-auth died: every AUTH exchange there is gone. */
void
mta_session_sasl_down(void)
{
	struct mta_session	*s, *next;

	for (s = TAILQ_FIRST(&mta_sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		mta_auth_sasl_down(s);
	}
}

/* The AUTH exchange ended (mta_auth.c): the transaction, or the hop
 * fails politely with the server's reply or our reason. */
void
mta_session_auth_done(struct mta_session *s, int status, const char *enh,
    const char *text)
{
	if (status == STATUS_OK) {
		mta_session_ready(s);
		return;
	}
	mta_session_fail(s, s->bev != NULL && bufferevent_getfd(s->bev) != -1,
	    status, enh, text);
}

/* Reply handlers by state; -1 means the session is gone or closing. */
static int (*const mta_session_on[])(struct mta_session *) = {
	[MTA_S_CONNECT] =	mta_session_on_unexpected,
	[MTA_S_GREETING] =	mta_session_on_greeting,
	[MTA_S_EHLO] =		mta_session_on_ehlo,
	[MTA_S_HELO] =		mta_session_on_helo,
	[MTA_S_READY] =		mta_session_on_unexpected,
	[MTA_S_RSET] =		mta_session_on_rset,
	[MTA_S_MAIL] =		mta_session_on_mail,
	[MTA_S_RCPT] =		mta_session_on_rcpt,
	[MTA_S_DATA] =		mta_session_on_data,
	[MTA_S_BODY] =		mta_session_on_unexpected,
	[MTA_S_DOT] =		mta_session_on_dot,
	[MTA_S_QUIT] =		mta_session_on_quit,
	[MTA_S_STARTTLS] =	mta_session_on_starttls,
	[MTA_S_TLS] =		mta_session_on_unexpected,
	[MTA_S_POLICY] =	mta_session_on_unexpected,
	[MTA_S_AUTH] =		mta_auth_reply,
};

/* A complete reply: 421 ends the link anywhere, else the state decides. */
static int
mta_session_reply(struct mta_session *s)
{
	log_debug("%s: %s reply: %s", s->peer,
	    mta_state_names[s->state], s->reply.text);
	s->heard = 1;
	if (s->reply.code == 421 && s->state != MTA_S_QUIT &&
	    s->state != MTA_S_READY) {
		mta_session_refused(s);
		return -1;
	}
	if (s->state != MTA_S_BODY && s->state != MTA_S_READY)
		mta_session_timer(s, s->state == MTA_S_DOT ?
		    conf->mta_timeout_data : conf->mta_timeout_command);
	return mta_session_on[s->state](s);
}

/* One line out of the input: 1 got one, 0 none yet, -1 too long. */
static int
mta_session_getline(struct evbuffer *in, char *line, size_t size,
    size_t *len)
{
	struct evbuffer_ptr	 p;
	size_t			 eol;

	p = evbuffer_search_eol(in, NULL, &eol, EVBUFFER_EOL_CRLF);
	if (p.pos == -1)
		return evbuffer_get_length(in) >= size ? -1 : 0;
	if ((size_t)p.pos >= size)
		return -1;
	(void)evbuffer_remove(in, line, (size_t)p.pos);
	line[p.pos] = '\0';
	(void)evbuffer_drain(in, eol);
	*len = (size_t)p.pos;
	return 1;
}

static void
mta_session_read(struct bufferevent *bev, void *arg)
{
	struct mta_session	*s = arg;
	char			 line[MTA_LINE_MAX];
	size_t			 len;
	int			 r;

	for (;;) {
		r = mta_session_getline(bufferevent_get_input(bev), line,
		    sizeof(line), &len);
		if (r == 0)
			return;
		if (r == -1 || (r = mta_reply_feed(&s->reply, line, len)) == -1) {
			mta_session_lost(s, "protocol error: bad reply");
			return;
		}
		if (s->state == MTA_S_EHLO && s->reply.nlines > 1)
			mta_ehlo_line(&s->ehlo, len > 4 ? line + 4 : "");
		if (r == 0)
			continue;
		r = mta_session_reply(s);
		if (r == -1)
			return;
		mta_reply_init(&s->reply);
	}
}

/* The output drained below the low mark: feed more of the body. */
static void
mta_session_write(struct bufferevent *bev, void *arg)
{
	struct mta_session	*s = arg;

	if (s->state != MTA_S_BODY)
		return;
	mta_session_timer(s, conf->mta_timeout_data);
	(void)mta_session_body_fill(s);
}

static void
mta_session_event(struct bufferevent *bev, short what, void *arg)
{
	struct mta_session	*s = arg;
	char			 why[128];

	if (what & BEV_EVENT_EOF)
		(void)strlcpy(why, "connection closed by server", sizeof(why));
	else
		(void)snprintf(why, sizeof(why), "connection error: %s",
		    strerror(errno));
	if (s->state == MTA_S_QUIT || s->state == MTA_S_READY)
		mta_session_free(s, why);
	else
		mta_session_lost(s, why);
}

static void
mta_session_timeout(int fd, short ev, void *arg)
{
	struct mta_session	*s = arg;
	char			 why[64];

	if (s->state == MTA_S_READY) {
		mta_session_quit(s);
		return;
	}
	if (s->state == MTA_S_QUIT) {
		mta_session_free(s, "timeout after QUIT");
		return;
	}
	(void)snprintf(why, sizeof(why), "timeout in %s",
	    mta_state_names[s->state]);
	mta_session_lost(s, why);
}

/* The TCP connection is up: the SMTP dialogue begins. */
static void
mta_session_up(struct mta_session *s)
{
	int	 one = 1;

	event_free(s->timer);
	s->timer = evtimer_new(proc_base, mta_session_timeout, s);
	s->bev = bufferevent_socket_new(proc_base, s->fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (s->timer == NULL || s->bev == NULL) {
		mta_session_lost(s, "out of memory");
		return;
	}
	s->fd = -1;
	(void)setsockopt(bufferevent_getfd(s->bev), IPPROTO_TCP, TCP_NODELAY,
	    &one, sizeof(one));
	bufferevent_setcb(s->bev, mta_session_read, mta_session_write,
	    mta_session_event, s);
	bufferevent_setwatermark(s->bev, EV_WRITE, MTA_DATA_CHUNK, 0);
	(void)bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	s->state = MTA_S_GREETING;
	mta_session_timer(s, conf->mta_timeout_command);
	log_info("connected to %s", s->peer);
}

/* The non-blocking connect ended, failed or timed out. */
static void
mta_session_connected(int fd, short what, void *arg)
{
	struct mta_session	*s = arg;
	char			 why[128];
	int			 err = s->failing;
	socklen_t		 len = sizeof(err);

	if (err == 0 && (what & EV_TIMEOUT)) {
		mta_session_lost(s, "timeout while connecting");
		return;
	}
	if (err == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err == 0) {
		mta_session_up(s);
		return;
	}
	(void)strlcpy(why, strerror(err), sizeof(why));
	why[0] = (char)tolower((unsigned char)why[0]);
	mta_session_lost(s, why);
}

/* Open a connection for batch b to relay r; errors come back later. */
struct mta_session *
mta_session_connect(struct mta_relay *r, struct mta_batch *b)
{
	struct mta_session	*s;
	struct timeval		 tv = { conf->mta_timeout_connect, 0 };

	s = xcalloc(1, sizeof(*s));
	do {
		s->id = id_random32();
	} while (s->id == ID_NONE || mta_session_find(s->id) != NULL ||
	    mta_sts_id_used(s->id));
	TAILQ_INSERT_TAIL(&mta_sessions, s, entry);
	s->relay = r;
	s->batch = b;
	b->session = s;
	s->state = MTA_S_CONNECT;
	/* RFC 8689 5: "TLS-Required: No" asks for TLS, not for DANE */
	if (!(b->msgflags & MSG_F_TLS_OPTIONAL))
		s->dane = b->hops[b->hop].dane;
	s->opened_us = stats_clock_us();
	(void)snprintf(s->peer, sizeof(s->peer), "%s [%s]:%u",
	    b->hops[b->hop].name, r->addr, r->port);
	s->fd = socket(r->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (s->fd == -1)
		s->failing = errno;
	else if (connect(s->fd, (struct sockaddr *)&r->ss, r->sslen) == -1 &&
	    errno != EINPROGRESS)
		s->failing = errno;
	if (s->failing)
		tv.tv_sec = 0;
	s->timer = event_new(proc_base, s->failing ? -1 : s->fd,
	    s->failing ? 0 : EV_WRITE, mta_session_connected, s);
	if (s->timer == NULL)
		fatal("mta: event_new");
	(void)event_add(s->timer, &tv);
	return s;
}

/* Put a batch on a connection that is already open. */
void
mta_session_start(struct mta_session *s, struct mta_batch *b)
{
	if (!mta_sts_reusable(s, b)) {
		/* not verified for b's policy: a connection of its own */
		mta_session_quit(s);
		b->fresh = 1;
		mta_pool_acquire(b);
		return;
	}
	s->batch = b;
	b->session = s;
	s->reused = 1;
	(void)snprintf(s->peer, sizeof(s->peer), "%s [%s]:%u",
	    b->hops[b->hop].name, s->relay->addr, s->relay->port);
	mta_session_tx_begin(s);
}

void
mta_session_idle(struct mta_session *s)
{
	s->state = MTA_S_READY;
	mta_session_timer(s, conf->mta_timeout_idle);
}

/* Leave the pool and say goodbye; the socket closes on the reply. */
void
mta_session_quit(struct mta_session *s)
{
	mta_pool_closed(s);
	if (s->bev == NULL) {
		mta_session_free(s, "closed while connecting");
		return;
	}
	mta_session_send(s, "QUIT\r\n", 6);
	s->state = MTA_S_QUIT;
	mta_session_timer(s, MTA_QUIT_TIMEOUT);
}

/* Close at once, forgetting the batch (the queue is gone). */
void
mta_session_abort(struct mta_session *s)
{
	(void)mta_session_detach(s);
	mta_session_free(s, "aborted");
}

/* The session of a tlsproxy request, or NULL. */
struct mta_session *
mta_session_find(uint32_t id)
{
	struct mta_session	*s;

	TAILQ_FOREACH(s, &mta_sessions, entry)
		if (s->id == id)
			return s;
	return NULL;
}

/* A tlsproxy instance died: the handshakes it had are lost connections. */
void
mta_session_tls_down(unsigned inst)
{
	struct mta_session	*s, *next;

	for (s = TAILQ_FIRST(&mta_sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->state == MTA_S_TLS && s->tls_inst == inst) {
			s->state = MTA_S_STARTTLS;
			mta_session_lost(s, "TLS proxy lost");
		}
	}
}

void
mta_session_abort_all(void)
{
	struct mta_session	*s, *next;

	for (s = TAILQ_FIRST(&mta_sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->state != MTA_S_QUIT)
			mta_session_abort(s);
	}
}
