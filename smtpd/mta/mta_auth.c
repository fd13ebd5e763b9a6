/*
 * mta_auth.c: SMTP AUTH (RFC 4954) of the outbound client to a next hop,
 * with a credential of policyd's authinfo map (spec 8).
 *
 * Interface in mta_core.h.  After the last EHLO, once tls_server has
 * passed, mta_auth_start() decides: AUTH is tried when the server offers
 * it and the dialogue runs over TLS or a route with auth-plaintext names
 * this host.  Then policyd is asked for the credential of this one
 * server (IMSG_POLICY_AUTHINFO); with none the session goes on without
 * AUTH.  A credential goes only over TLS whose certificate verified
 * (${verify} OK), or any TLS if its T: is ENCR, or any session to a host
 * with auth-plaintext; otherwise it is wiped unused and the session goes
 * on without AUTH, as with no mechanism in common (a server that needs
 * AUTH answers MAIL 530 and the mail waits; one that does not gets it).
 * With one, the mechanism is run by a Cyrus SASL client in
 * smtpd-auth (IMSG_AUTH_CLIENT_*): the library picks the strongest
 * mechanism of those the server offers and authinfo's M: allows
 * (SCRAM, DIGEST-MD5, CRAM-MD5, PLAIN, LOGIN, ...); this file only
 * relays the server's 334 challenges and writes the responses.
 *
 * Secrets: the credential passes through here once, from policyd's
 * answer straight into the START for smtpd-auth; both messages are
 * wiped (imsg_out_secret, explicit_bzero of the received payload).  A
 * response may carry the secret (PLAIN): its payload is wiped, and the
 * line is written by reference and wiped by libevent's cleanup callback
 * once sent.  No log line holds a response.
 *
 * mta_auth_mail_param() adds MAIL's AUTH= (the message's value, as
 * xtext) for a server that offers AUTH, unless AuthOptions A is set and
 * this session did not authenticate (spec 8).
 *
 * Failure behaviour: 235 goes on to the transaction; any other reply to
 * the exchange fails the hop temporarily (sendmail defers when
 * authentication fails: a wrong secret is the admin's to fix, and
 * bouncing would lose the mail), with the server's reply as the reason.
 * No mechanism in common: the session goes on without AUTH, as sendmail
 * does.  When our SASL client rejects what the server sent, we cancel
 * with "*" and the hop fails temporarily.  A policyd or smtpd-auth that
 * is gone or fails is a temporary failure too; a malformed answer is a
 * bad peer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "log.h"
#include "proc.h"
#include "util.h"
#include "mta_core.h"

#define MTA_AUTH_ITEM_MAX	1025	/* an authinfo item and its NUL */
#define MTA_AUTH_MECH_MAX	32
#define MTA_AUTH_POLICY_DOWN \
	"451 4.3.0 Temporary authinfo failure, try again later"
#define MTA_AUTH_SASL_DOWN \
	"451 4.3.0 Temporary authentication failure, try again later"

enum mta_auth_step {
	MTA_AUTH_S_ASK,		/* waiting for policyd's credential */
	MTA_AUTH_S_CLIENT,	/* waiting for smtpd-auth's next line */
	MTA_AUTH_S_SERVER,	/* a line sent: the server's 334 or 235 */
	MTA_AUTH_S_CANCEL	/* "*" sent: the server's 501 */
};

/* The exchange: no credential is kept here. */
struct mta_auth {
	enum mta_auth_step	 step;
	int			 started;	/* smtpd-auth holds an exchange */
	char			 mech[MTA_AUTH_MECH_MAX];
	char			 reason[256];
};

/* What policyd's authinfo answer holds (spec 8). */
struct mta_authinfo {
	char			 authid[MTA_AUTH_ITEM_MAX];
	char			 user[MTA_AUTH_ITEM_MAX];
	char			 secret[MTA_AUTH_ITEM_MAX];
	char			 realm[MTA_AUTH_ITEM_MAX];
	char			 mechs[MTA_AUTH_ITEM_MAX];
	uint32_t		 tls;		/* enum authinfo_tls */
};

void
mta_auth_clear(struct mta_session *s)
{
	struct imsg_out	 out;

	if (s->auth == NULL)
		return;
	if (s->auth->started) {
		imsg_out_init(&out, IMSG_AUTH_CLIENT_END, s->id);
		(void)proc_send(PROC_AUTH, &out, -1);
	}
	explicit_bzero(s->auth, sizeof(*s->auth));
	free(s->auth);
	s->auth = NULL;
}

/* libevent is done with a line we wrote by reference: wipe it. */
static void
mta_auth_line_cleanup(const void *data, size_t len, void *extra)
{
	(void)data;
	explicit_bzero(extra, len);
	free(extra);
}

/* Send "a b CRLF" (b may be ""), by reference so that it is wiped. */
static int
mta_auth_send(struct mta_session *s, const char *a, const char *b)
{
	size_t	 size = strlen(a) + strlen(b) + 4;
	char	*line;
	int	 n;

	if ((line = malloc(size)) == NULL)
		return -1;
	n = snprintf(line, size, "%s%s%s\r\n", a, a[0] != '\0' &&
	    b[0] != '\0' ? " " : "", b);
	if (n < 0 || (size_t)n >= size ||
	    evbuffer_add_reference(bufferevent_get_output(s->bev), line,
	    (size_t)n, mta_auth_line_cleanup, line) == -1) {
		explicit_bzero(line, size);
		free(line);
		return -1;
	}
	return 0;
}

/* The name the server is logged by. */
static const char *
mta_auth_relay(struct mta_session *s)
{
	struct mta_batch	*b = s->batch;

	if (b != NULL && b->hops[b->hop].name[0] != '\0')
		return b->hops[b->hop].name;
	return s->relay != NULL ? s->relay->addr : "";
}

/* The exchange ended; its state goes, the session goes on or not. */
static void
mta_auth_end(struct mta_session *s, int status, const char *enh,
    const char *text)
{
	mta_auth_clear(s);
	mta_session_auth_done(s, status, enh, text);
}

int
mta_auth_start(struct mta_session *s)
{
	struct imsg_out	 out;
	char		 name[CONF_HOST_MAX + 2];

	if (!(s->ehlo.ext & MTA_EXT_AUTH) || s->relay == NULL)
		return 0;
	if (s->ehlo.auth_mechs[0] == '\0') {
		log_debug("%s: AUTH offered without a mechanism: not tried",
		    s->peer);
		return 0;
	}
	if (!s->tls && !config_route_auth_plaintext(conf, mta_auth_relay(s))) {
		log_debug("%s: AUTH not tried without TLS", s->peer);
		stats_add("mta.auth.skipped_plaintext", 1);
		return 0;
	}
	s->auth = xcalloc(1, sizeof(*s->auth));
	s->auth->step = MTA_AUTH_S_ASK;
	s->state = MTA_S_AUTH;
	mta_session_timer(s, conf->mta_timeout_command);
	mta_policy_server_name(s, name, sizeof(name));
	imsg_out_init(&out, IMSG_POLICY_AUTHINFO, s->id);
	imsg_put_str(&out, name);
	imsg_put_str(&out, s->relay->addr);
	if (proc_send(PROC_POLICY, &out, -1) == 0)
		return 1;
	stats_add("mta.error.policy", 1);
	mta_auth_end(s, STATUS_TEMPFAIL, "4.3.0", MTA_AUTH_POLICY_DOWN);
	return -1;
}

/* Read IMSG_POLICY_AUTHINFO_RESULT into ai; -1 if malformed. */
static int
mta_auth_parse(struct imsg *m, uint32_t *status, struct mta_authinfo *ai)
{
	*status = imsg_get_u32(m);
	if (*status == AUTHINFO_FOUND &&
	    (imsg_get_strbuf(m, ai->authid, sizeof(ai->authid)) == -1 ||
	    imsg_get_strbuf(m, ai->user, sizeof(ai->user)) == -1 ||
	    imsg_get_strbuf(m, ai->secret, sizeof(ai->secret)) == -1 ||
	    imsg_get_strbuf(m, ai->realm, sizeof(ai->realm)) == -1 ||
	    imsg_get_strbuf(m, ai->mechs, sizeof(ai->mechs)) == -1))
		return -1;
	if (*status == AUTHINFO_FOUND)
		ai->tls = imsg_get_u32(m);
	if (imsg_get_end(m) == -1 || *status > AUTHINFO_TEMPFAIL ||
	    ai->tls > AUTHINFO_TLS_ENCR)
		return -1;
	if (*status == AUTHINFO_FOUND && (ai->authid[0] == '\0' ||
	    ai->secret[0] == '\0' || !text_is_clean(ai->authid) ||
	    !text_is_clean(ai->user) || !text_is_clean(ai->secret) ||
	    !text_is_clean(ai->realm) || !text_is_clean(ai->mechs)))
		return -1;
	return 0;
}

/* 1 if this session may carry the credential (its T:, auth-plaintext). */
static int
mta_auth_session_fits(struct mta_session *s, const struct mta_authinfo *ai)
{
	/* without TLS we got here only through auth-plaintext, which is
	 * no weaker a permission than TLS with any certificate */
	if (!s->tls || config_route_auth_plaintext(conf, mta_auth_relay(s)))
		return 1;
	return strcmp(s->facts.verify, "OK") == 0 ||
	    strcmp(s->facts.verify, "TRUSTED") == 0 ||
	    ai->tls == AUTHINFO_TLS_ENCR;
}

/* The credential stays unused: the session goes on without AUTH. */
static void
mta_auth_skip_unverified(struct mta_session *s)
{
	log_info("%s: AUTH=client, relay=%s: not tried, the certificate did "
	    "not verify (verify=%s); authinfo \"T:ENCR\" allows it", s->peer,
	    mta_auth_relay(s), s->facts.verify);
	stats_add("mta.auth.skipped_unverified", 1);
	mta_auth_end(s, STATUS_OK, NULL, NULL);
}

/* Hand the credential to smtpd-auth's SASL client; -1 if it is gone. */
static int
mta_auth_client_start(struct mta_session *s, const struct mta_authinfo *ai)
{
	struct imsg_out	 out;
	char		 name[CONF_HOST_MAX + 2];
	const char	*server = name;

	mta_policy_server_name(s, name, sizeof(name));
	if (name[0] == '[')
		server = s->relay->addr;
	imsg_out_init(&out, IMSG_AUTH_CLIENT_START, s->id);
	imsg_out_secret(&out);
	imsg_put_str(&out, server);
	imsg_put_str(&out, s->ehlo.auth_mechs);
	imsg_put_str(&out, ai->user);
	imsg_put_str(&out, ai->authid);
	imsg_put_str(&out, ai->secret);
	imsg_put_str(&out, ai->realm);
	imsg_put_str(&out, ai->mechs);
	imsg_put_u32(&out, s->tls ? 1 : 0);
	imsg_put_u32(&out, s->tls ? s->facts.bits : 0);
	if (proc_send(PROC_AUTH, &out, -1) == -1)
		return -1;
	s->auth->started = 1;
	s->auth->step = MTA_AUTH_S_CLIENT;
	return 0;
}

/* IMSG_POLICY_AUTHINFO_RESULT (layout in proto.h). */
void
mta_auth_imsg_result(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct mta_session	*s;
	struct mta_authinfo	 ai;
	uint32_t		 status;
	int			 bad, r;

	(void)iev;
	(void)arg;
	memset(&ai, 0, sizeof(ai));
	bad = mta_auth_parse(m, &status, &ai);
	/* the payload held the secret: it must not linger in our buffer */
	explicit_bzero((void *)(uintptr_t)m->data, m->len);
	s = mta_session_find(m->id);
	if (bad || s == NULL || s->state != MTA_S_AUTH || s->auth == NULL ||
	    s->auth->step != MTA_AUTH_S_ASK) {
		explicit_bzero(&ai, sizeof(ai));
		if (bad)
			proc_peer_bad(PROC_POLICY, "malformed authinfo result",
			    m->type);
		return;
	}
	if (status != AUTHINFO_FOUND) {
		log_debug("%s: authinfo: %s", s->peer, status == AUTHINFO_NONE ?
		    "no entry, AUTH not tried" : "temporary failure");
		mta_auth_end(s, status == AUTHINFO_NONE ? STATUS_OK :
		    STATUS_TEMPFAIL, "4.3.0", MTA_AUTH_POLICY_DOWN);
		return;
	}
	if (!mta_auth_session_fits(s, &ai)) {
		explicit_bzero(&ai, sizeof(ai));
		mta_auth_skip_unverified(s);
		return;
	}
	r = mta_auth_client_start(s, &ai);
	explicit_bzero(&ai, sizeof(ai));
	if (r == -1) {
		stats_add("mta.error.auth", 1);
		mta_auth_end(s, STATUS_TEMPFAIL, "4.3.0", MTA_AUTH_SASL_DOWN);
	}
}

void
mta_auth_policy_down(struct mta_session *s)
{
	if (s->state != MTA_S_AUTH || s->auth == NULL ||
	    s->auth->step != MTA_AUTH_S_ASK)
		return;
	stats_add("mta.error.policy", 1);
	mta_auth_end(s, STATUS_TEMPFAIL, "4.3.0", MTA_AUTH_POLICY_DOWN);
}

/* smtpd-auth died: its exchanges are gone; one waited on fails now. */
void
mta_auth_sasl_down(struct mta_session *s)
{
	if (s->state != MTA_S_AUTH || s->auth == NULL)
		return;
	s->auth->started = 0;
	if (s->auth->step != MTA_AUTH_S_CLIENT)
		return;
	stats_add("mta.error.auth", 1);
	mta_auth_end(s, STATUS_TEMPFAIL, "4.3.0", MTA_AUTH_SASL_DOWN);
}

/* Our SASL client gave up inside the exchange: cancel with "*". */
static void
mta_auth_cancel(struct mta_session *s, const char *reason)
{
	struct mta_auth	*a = s->auth;

	log_info("%s: AUTH=client, relay=%s, mech=%s, cancelled: %s",
	    s->peer, mta_auth_relay(s), a->mech, reason);
	a->started = 0;
	(void)snprintf(a->reason, sizeof(a->reason),
	    "451 4.7.0 AUTH %s cancelled by the client: %s", a->mech, reason);
	if (bufferevent_write(s->bev, "*\r\n", 3) == -1) {
		mta_auth_end(s, STATUS_TEMPFAIL, "4.3.0", a->reason);
		return;
	}
	a->step = MTA_AUTH_S_CANCEL;
	mta_session_timer(s, conf->mta_timeout_command);
}

/* The first result was no line: no mechanism in common, or trouble. */
static void
mta_auth_client_none(struct mta_session *s, uint32_t status,
    const char *reason)
{
	struct mta_auth	*a = s->auth;

	if (status == AUTH_FAIL) {
		log_info("%s: AUTH=client, relay=%s: %s (server offers \"%s\")",
		    s->peer, mta_auth_relay(s), reason, s->ehlo.auth_mechs);
		stats_add("mta.auth.no_mechanism", 1);
		a->started = 0;
		mta_auth_end(s, STATUS_OK, NULL, NULL);
		return;
	}
	a->started = 0;
	log_warnx("%s: AUTH=client, relay=%s: %s", s->peer,
	    mta_auth_relay(s), reason);
	mta_auth_end(s, STATUS_TEMPFAIL, "4.3.0", MTA_AUTH_SASL_DOWN);
}

/* Write what smtpd-auth answered: AUTH with the mechanism, or a line. */
static void
mta_auth_client_line(struct mta_session *s, const char *mech, int has,
    const char *resp)
{
	struct mta_auth	*a = s->auth;
	char		 cmd[MTA_AUTH_MECH_MAX + 8];
	int		 r;

	if (a->mech[0] == '\0') {
		(void)strlcpy(a->mech, mech, sizeof(a->mech));
		(void)snprintf(cmd, sizeof(cmd), "AUTH %s", mech);
		r = mta_auth_send(s, cmd, has ? (resp[0] != '\0' ? resp : "=") :
		    "");
	} else
		r = mta_auth_send(s, "", resp);
	if (r == -1) {
		mta_auth_end(s, STATUS_TEMPFAIL, "4.3.0",
		    "451 4.3.0 Out of memory during AUTH");
		return;
	}
	a->step = MTA_AUTH_S_SERVER;
	mta_session_timer(s, conf->mta_timeout_command);
}

/* A result for a session that waits for one. */
static void
mta_auth_client_result(struct mta_session *s, uint32_t status,
    const char *mech, int has, const char *text)
{
	int	 first = s->auth->mech[0] == '\0';

	if (status != AUTH_CONTINUE) {
		if (first)
			mta_auth_client_none(s, status, text);
		else
			mta_auth_cancel(s, text);
		return;
	}
	/* a START's answer names the mechanism, a STEP's does not */
	if (first != (mech[0] != '\0')) {
		proc_peer_bad(PROC_AUTH, "client AUTH result out of order",
		    IMSG_AUTH_CLIENT_RESULT);
		return;
	}
	mta_auth_client_line(s, mech, has, text);
}

/* A mechanism name or a base64 line as smtpd-auth may send them. */
static int
mta_auth_word_ok(const char *w, const char *chars, size_t max)
{
	return strlen(w) < max && strspn(w, chars) == strlen(w);
}

#define MTA_AUTH_MECH_CHARS	"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
#define MTA_AUTH_B64_CHARS \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="

/* IMSG_AUTH_CLIENT_RESULT (layout in proto.h). */
void
mta_auth_imsg_client(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct mta_session	*s;
	uint32_t		 status, has = 0;
	const char		*mech = "", *text;

	(void)iev;
	(void)arg;
	status = imsg_get_u32(m);
	if (status == AUTH_CONTINUE) {
		mech = imsg_get_str(m);
		has = imsg_get_u32(m);
	}
	text = imsg_get_str(m);
	if (imsg_get_end(m) == -1 || status == AUTH_OK ||
	    status > AUTH_TEMPFAIL || (status == AUTH_CONTINUE &&
	    (!mta_auth_word_ok(mech, MTA_AUTH_MECH_CHARS, MTA_AUTH_MECH_MAX) ||
	    !mta_auth_word_ok(text, MTA_AUTH_B64_CHARS, IMSG_MAX_PAYLOAD))) ||
	    (status != AUTH_CONTINUE && !text_is_clean(text))) {
		explicit_bzero((void *)(uintptr_t)m->data, m->len);
		proc_peer_bad(PROC_AUTH, "malformed client AUTH result",
		    m->type);
		return;
	}
	/* a result that crossed the session's end is dropped */
	s = mta_session_find(m->id);
	if (s != NULL && s->state == MTA_S_AUTH && s->auth != NULL &&
	    s->auth->step == MTA_AUTH_S_CLIENT)
		mta_auth_client_result(s, status, mech, has != 0, text);
	explicit_bzero((void *)(uintptr_t)m->data, m->len);
}

/* 235: authenticated; the transaction follows. */
static int
mta_auth_ok(struct mta_session *s)
{
	log_info("AUTH=client, relay=%s, mech=%s, bits=0",
	    mta_auth_relay(s), s->auth->mech);
	stats_add("mta.auth.ok", 1);
	s->authed = 1;
	mta_auth_end(s, STATUS_OK, NULL, NULL);
	return 0;
}

/* Anything but the expected reply: the hop fails, temporarily. */
static int
mta_auth_failed(struct mta_session *s)
{
	const struct mta_reply	*r = &s->reply;
	const char		*enh = "4.7.0";

	log_info("%s: AUTH=client, relay=%s, mech=%s, failed: %s", s->peer,
	    mta_auth_relay(s), s->auth->mech[0] != '\0' ? s->auth->mech : "-",
	    r->text);
	stats_add("mta.auth.failed", 1);
	if (r->code == 535)
		enh = "4.7.8";
	else if (r->code / 100 == 4)
		enh = mta_reply_status(r);
	mta_auth_end(s, STATUS_TEMPFAIL, enh, r->text);
	/* the session said QUIT and waits for its reply */
	return 0;
}

/* 334: the server's challenge goes to our SASL client. */
static int
mta_auth_challenge(struct mta_session *s)
{
	struct imsg_out	 out;
	const char	*t = s->reply.text + 3;

	t += strspn(t, " ");
	imsg_out_init(&out, IMSG_AUTH_CLIENT_STEP, s->id);
	imsg_put_str(&out, t);
	if (!s->auth->started || proc_send(PROC_AUTH, &out, -1) == -1) {
		stats_add("mta.error.auth", 1);
		mta_auth_end(s, STATUS_TEMPFAIL, "4.3.0", MTA_AUTH_SASL_DOWN);
		return -1;
	}
	s->auth->step = MTA_AUTH_S_CLIENT;
	mta_session_timer(s, conf->mta_timeout_command);
	return 0;
}

/* The server's answer to our "*": the hop fails with our reason. */
static int
mta_auth_cancelled(struct mta_session *s)
{
	char	 reason[sizeof(s->auth->reason)];

	stats_add("mta.auth.failed", 1);
	(void)strlcpy(reason, s->auth->reason, sizeof(reason));
	mta_auth_end(s, STATUS_TEMPFAIL, "4.7.0", reason);
	return 0;
}

int
mta_auth_reply(struct mta_session *s)
{
	struct mta_auth	*a = s->auth;

	if (a == NULL || a->step == MTA_AUTH_S_ASK ||
	    a->step == MTA_AUTH_S_CLIENT) {
		mta_auth_clear(s);
		mta_session_auth_done(s, STATUS_TEMPFAIL, "4.4.2",
		    "protocol error: unexpected reply");
		return -1;
	}
	if (a->step == MTA_AUTH_S_CANCEL)
		return mta_auth_cancelled(s);
	if (s->reply.code == 235)
		return mta_auth_ok(s);
	if (s->reply.code == 334)
		return mta_auth_challenge(s);
	return mta_auth_failed(s);
}

int
mta_auth_mail_param(const struct mta_session *s, char *line, size_t size,
    int n)
{
	char	 param[CONF_ADDR_MAX * 3 + 8];
	int	 len;

	/* RFC 4954 5: only to a server that offers AUTH; AuthOptions A:
	 * only once this session authenticated to it */
	if (!(s->ehlo.ext & MTA_EXT_AUTH) || s->batch == NULL || n < 2 ||
	    ((conf->auth_opts & AUTH_OPT_A) && !s->authed))
		return n;
	/* a value too long for the line is passed on as unknown */
	len = mta_command_auth(param, sizeof(param), s->batch->auth);
	if (len == -1 || (size_t)n + (size_t)len >= size)
		len = mta_command_auth(param, sizeof(param), "<>");
	if ((size_t)n + (size_t)len >= size)
		return -1;
	memcpy(line + n - 2, param, (size_t)len);
	memcpy(line + n - 2 + len, "\r\n", 3);
	return n + len;
}
