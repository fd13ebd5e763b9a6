/*
 * mta_auth.c: SMTP AUTH (RFC 4954) of the outbound client to a next hop,
 * with a credential of policyd's authinfo map (spec 8).
 *
 * Interface in mta_core.h.  After the last EHLO, once tls_server has
 * passed, mta_auth_start() decides: AUTH is tried when the server offers
 * it with PLAIN or LOGIN, and the dialogue runs over TLS or a route with
 * auth-plaintext names this host.  Then policyd is asked for the
 * credential of this one server (IMSG_POLICY_AUTHINFO); with none the
 * session goes on without AUTH.  The exchange itself is done here, with
 * no SASL library: PLAIN sends authzid NUL authcid NUL secret in one
 * line, LOGIN the authentication id and the secret after each 334.
 * CRAM-MD5, DIGEST-MD5 and SCRAM are not offered by this client.
 *
 * Secrets: the credential lives in s->auth from policyd's answer to the
 * end of the exchange, and is wiped (explicit_bzero) then, or when the
 * session ends first; so are the received imsg payload and every line
 * that carries it (written by reference and wiped by libevent's cleanup
 * callback once sent).  No log line holds the secret.
 *
 * Failure behaviour: 235 goes on to the transaction (MAIL carries
 * AUTH=<>, option A); any other reply to the exchange fails the hop
 * temporarily (sendmail defers when authentication fails: a wrong
 * secret is the admin's to fix, and bouncing would lose the mail), with
 * the server's reply as the reason.  A policyd that is gone or fails
 * is a temporary failure too; a malformed answer is a bad peer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "base64.h"
#include "log.h"
#include "proc.h"
#include "util.h"
#include "mta_core.h"

#define MTA_AUTH_ITEM_MAX	1025	/* an authinfo item and its NUL */
#define MTA_AUTH_POLICY_DOWN \
	"451 4.3.0 Temporary authinfo failure, try again later"

enum mta_auth_step {
	MTA_AUTH_S_ASK,		/* waiting for policyd's credential */
	MTA_AUTH_S_PLAIN,	/* AUTH PLAIN sent: 235 expected */
	MTA_AUTH_S_LOGIN,	/* AUTH LOGIN sent: 334 for the id */
	MTA_AUTH_S_LOGIN_ID,	/* id sent: 334 for the secret */
	MTA_AUTH_S_LOGIN_SECRET	/* secret sent: 235 expected */
};

struct mta_auth {
	enum mta_auth_step	 step;
	const char		*mech;
	char			 authid[MTA_AUTH_ITEM_MAX];
	char			 user[MTA_AUTH_ITEM_MAX];
	char			 secret[MTA_AUTH_ITEM_MAX];
	/* R: is kept but unused: PLAIN and LOGIN have no realm */
	char			 realm[MTA_AUTH_ITEM_MAX];
	char			 mechs[MTA_AUTH_ITEM_MAX];
};

void
mta_auth_clear(struct mta_session *s)
{
	if (s->auth == NULL)
		return;
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

/* Send "prefix base64(raw) CRLF"; raw is wiped.  0, or -1. */
static int
mta_auth_send(struct mta_session *s, const char *prefix, char *raw,
    size_t rawlen)
{
	size_t	 plen = strlen(prefix), size;
	char	*line;
	int	 n;

	size = plen + BASE64_ENCODED_LEN(rawlen) + 2;
	if ((line = malloc(size)) == NULL) {
		explicit_bzero(raw, rawlen);
		return -1;
	}
	memcpy(line, prefix, plen);
	n = base64_encode(raw, rawlen, line + plen, size - plen - 2);
	explicit_bzero(raw, rawlen);
	if (n != -1)
		memcpy(line + plen + (size_t)n, "\r\n", 2);
	if (n == -1 || evbuffer_add_reference(bufferevent_get_output(s->bev),
	    line, plen + (size_t)n + 2, mta_auth_line_cleanup, line) == -1) {
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

/* The exchange ended; the credential goes, the session goes on or not. */
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
	if (s->ehlo.auth_mechs == 0) {
		log_debug("%s: AUTH offered without PLAIN or LOGIN: not tried",
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

/* AUTH PLAIN with its initial response: authzid NUL authcid NUL secret. */
static int
mta_auth_plain(struct mta_session *s)
{
	struct mta_auth	*a = s->auth;
	char		 raw[3 * MTA_AUTH_ITEM_MAX];
	size_t		 n = 0, l;

	/* the authorization id goes only when it differs */
	if (strcmp(a->user, a->authid) != 0) {
		l = strlen(a->user);
		memcpy(raw, a->user, l);
		n = l;
	}
	raw[n++] = '\0';
	l = strlen(a->authid);
	memcpy(raw + n, a->authid, l);
	n += l;
	raw[n++] = '\0';
	l = strlen(a->secret);
	memcpy(raw + n, a->secret, l);
	n += l;
	a->step = MTA_AUTH_S_PLAIN;
	return mta_auth_send(s, "AUTH PLAIN ", raw, n);
}

/* Pick PLAIN, else LOGIN, of what the server offers and M: allows. */
static const char *
mta_auth_mech(struct mta_session *s)
{
	const char	*m = s->auth->mechs;

	if ((s->ehlo.auth_mechs & MTA_AUTH_PLAIN) &&
	    (m[0] == '\0' || config_word_in(m, "PLAIN")))
		return "PLAIN";
	if ((s->ehlo.auth_mechs & MTA_AUTH_LOGIN) &&
	    (m[0] == '\0' || config_word_in(m, "LOGIN")))
		return "LOGIN";
	return NULL;
}

/* The credential is here: the first command of the exchange. */
static void
mta_auth_begin(struct mta_session *s)
{
	struct mta_auth	*a = s->auth;
	int		 r;

	if ((a->mech = mta_auth_mech(s)) == NULL) {
		log_info("%s: AUTH=client, relay=%s: no mechanism in common "
		    "(the client does PLAIN and LOGIN; authinfo M: %s)",
		    s->peer, mta_auth_relay(s), a->mechs[0] != '\0' ?
		    a->mechs : "any");
		stats_add("mta.auth.no_mechanism", 1);
		mta_auth_end(s, STATUS_OK, NULL, NULL);
		return;
	}
	mta_session_timer(s, conf->mta_timeout_command);
	if (strcmp(a->mech, "PLAIN") == 0)
		r = mta_auth_plain(s);
	else {
		a->step = MTA_AUTH_S_LOGIN;
		r = bufferevent_write(s->bev, "AUTH LOGIN\r\n", 12);
	}
	if (r == -1)
		mta_auth_end(s, STATUS_TEMPFAIL, "4.3.0",
		    "451 4.3.0 Out of memory starting AUTH");
}

/* Read IMSG_POLICY_AUTHINFO_RESULT into a; -1 if malformed. */
static int
mta_auth_parse(struct imsg *m, uint32_t *status, struct mta_auth *a)
{
	*status = imsg_get_u32(m);
	if (*status == AUTHINFO_FOUND &&
	    (imsg_get_strbuf(m, a->authid, sizeof(a->authid)) == -1 ||
	    imsg_get_strbuf(m, a->user, sizeof(a->user)) == -1 ||
	    imsg_get_strbuf(m, a->secret, sizeof(a->secret)) == -1 ||
	    imsg_get_strbuf(m, a->realm, sizeof(a->realm)) == -1 ||
	    imsg_get_strbuf(m, a->mechs, sizeof(a->mechs)) == -1))
		return -1;
	if (imsg_get_end(m) == -1 || *status > AUTHINFO_TEMPFAIL)
		return -1;
	if (*status == AUTHINFO_FOUND && (a->authid[0] == '\0' ||
	    a->secret[0] == '\0' || !text_is_clean(a->authid) ||
	    !text_is_clean(a->user) || !text_is_clean(a->secret) ||
	    !text_is_clean(a->mechs)))
		return -1;
	return 0;
}

/* IMSG_POLICY_AUTHINFO_RESULT (layout in proto.h). */
void
mta_auth_imsg_result(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct mta_session	*s;
	struct mta_auth		 a;
	uint32_t		 status;
	int			 bad;

	(void)iev;
	(void)arg;
	memset(&a, 0, sizeof(a));
	bad = mta_auth_parse(m, &status, &a);
	/* the payload held the secret: it must not linger in our buffer */
	explicit_bzero((void *)(uintptr_t)m->data, m->len);
	if (bad) {
		explicit_bzero(&a, sizeof(a));
		proc_peer_bad(PROC_POLICY, "malformed authinfo result", m->type);
		return;
	}
	s = mta_session_find(m->id);
	if (s == NULL || s->state != MTA_S_AUTH || s->auth == NULL ||
	    s->auth->step != MTA_AUTH_S_ASK) {
		explicit_bzero(&a, sizeof(a));
		return;
	}
	if (status != AUTHINFO_FOUND) {
		log_debug("%s: authinfo: %s", s->peer, status == AUTHINFO_NONE ?
		    "no entry, AUTH not tried" : "temporary failure");
		mta_auth_end(s, status == AUTHINFO_NONE ? STATUS_OK :
		    STATUS_TEMPFAIL, "4.3.0", MTA_AUTH_POLICY_DOWN);
		return;
	}
	a.step = MTA_AUTH_S_ASK;
	*s->auth = a;
	explicit_bzero(&a, sizeof(a));
	mta_auth_begin(s);
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
	    mta_auth_relay(s), s->auth->mech != NULL ? s->auth->mech : "-",
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

/* LOGIN's next step after a 334: the id, then the secret. */
static int
mta_auth_login_next(struct mta_session *s)
{
	struct mta_auth	*a = s->auth;
	char		 raw[MTA_AUTH_ITEM_MAX];
	size_t		 n;

	if (a->step == MTA_AUTH_S_LOGIN) {
		n = strlcpy(raw, a->authid, sizeof(raw));
		a->step = MTA_AUTH_S_LOGIN_ID;
	} else {
		n = strlcpy(raw, a->secret, sizeof(raw));
		a->step = MTA_AUTH_S_LOGIN_SECRET;
	}
	if (mta_auth_send(s, "", raw, n) == 0)
		return 0;
	mta_auth_end(s, STATUS_TEMPFAIL, "4.3.0",
	    "451 4.3.0 Out of memory during AUTH");
	return -1;
}

int
mta_auth_reply(struct mta_session *s)
{
	struct mta_auth	*a = s->auth;

	if (a == NULL || a->step == MTA_AUTH_S_ASK) {
		mta_auth_clear(s);
		mta_session_auth_done(s, STATUS_TEMPFAIL, "4.4.2",
		    "protocol error: unexpected reply");
		return -1;
	}
	switch (a->step) {
	case MTA_AUTH_S_PLAIN:
	case MTA_AUTH_S_LOGIN_SECRET:
		return s->reply.code == 235 ? mta_auth_ok(s) :
		    mta_auth_failed(s);
	default:
		return s->reply.code == 334 ? mta_auth_login_next(s) :
		    mta_auth_failed(s);
	}
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
