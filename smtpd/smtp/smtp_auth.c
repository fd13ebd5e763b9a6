/*
 * smtp_auth.c: SMTP AUTH (RFC 4954) in the front end, which never links
 * SASL and never sees a password: it relays the exchange to smtpd-auth.
 *
 * Interface (smtp_session.h): smtp_auth_offered() gives the mechanisms
 * EHLO lists; smtp_auth_command() runs the AUTH command and
 * smtp_auth_line() takes each client line of an exchange; smtp_auth_mechs()
 * and smtp_auth_result() handle smtpd-auth's messages.  After a success
 * the session has auth_user, auth_mech and auth_ssf, which every policy
 * query carries, Received: shows and MAIL's AUTH= is checked against.
 *
 * What the client sent after AUTH in the same packet is thrown away
 * (AUTH ends a pipelined group, RFC 4954 4), and nothing is read while
 * smtpd-auth works.  Mechanisms that EHLO did not offer in this state
 * (PLAIN before TLS with AuthOptions p) get 504 without smtpd-auth ever
 * hearing of them: no user is looked up, so there is no oracle.  A
 * failure is answered after a short random delay; auth max-failures of
 * them end the session.
 *
 * Failure behaviour: smtpd-auth gone: 454 to the exchanges in progress
 * and no AUTH offered until it is back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "log.h"
#include "proc.h"
#include "smtp_session.h"
#include "util.h"

/* the random delay before a 535, in milliseconds: base + [0, spread) */
#define SMTP_AUTH_DELAY_BASE	250
#define SMTP_AUTH_DELAY_SPREAD	750
#define SMTP_AUTH_MECHS_MAX	1024

#define SMTP_AUTH_TEMPFAIL	"454 4.7.0 Temporary authentication failure"

/* what smtpd-auth said EHLO offers, without and with TLS; "" = nothing */
static char	 smtp_auth_plain[SMTP_AUTH_MECHS_MAX];
static char	 smtp_auth_tls[SMTP_AUTH_MECHS_MAX];
/* the lists above came from the smtpd-auth now running */
static int	 smtp_auth_known;

/* list without PLAIN and LOGIN, in buf; NULL if nothing is left. */
static const char *
smtp_auth_no_plaintext(const char *list, char *buf, size_t len)
{
	char	 copy[SMTP_AUTH_MECHS_MAX], *word, *last;

	(void)strlcpy(copy, list, sizeof(copy));
	buf[0] = '\0';
	for (word = strtok_r(copy, " ", &last); word != NULL;
	    word = strtok_r(NULL, " ", &last)) {
		if (strcmp(word, "PLAIN") == 0 || strcmp(word, "LOGIN") == 0)
			continue;
		if (buf[0] != '\0')
			(void)strlcat(buf, " ", len);
		(void)strlcat(buf, word, len);
	}
	return buf[0] != '\0' ? buf : NULL;
}

/*
 * The identity EXTERNAL authenticates (spec 8): ${cert_subject} of a
 * client certificate that verified, when "auth mechanisms" lists
 * EXTERNAL; NULL otherwise.
 */
static const char *
smtp_auth_external(struct smtp_session *s)
{
	if (s->tls_state != SMTP_TLS_ON || s->tls == NULL ||
	    strcmp(s->tls->verify, "OK") != 0 || s->tls->subject[0] == '\0' ||
	    !config_word_in(conf->auth_mechanisms, "EXTERNAL"))
		return NULL;
	return s->tls->subject;
}

/*
 * The mechanisms EHLO lists for this session; NULL if AUTH is not on.
 * Srv_Features (spec 4.2): A hides AUTH; c drops the plaintext
 * mechanisms before TLS, as AuthOptions p does for everyone.  EXTERNAL
 * comes first when the client's certificate verified.
 */
const char *
smtp_auth_offered(struct smtp_session *s)
{
	static char	 filtered[SMTP_AUTH_MECHS_MAX];
	const char	*list;

	if (!(s->lflags & LISTEN_F_AUTH) || s->auth_user != NULL ||
	    !smtp_auth_known || !smtp_session_feature(s, 'a', 1))
		return NULL;
	if (smtp_auth_external(s) != NULL) {
		(void)strlcpy(filtered, "EXTERNAL", sizeof(filtered));
		if (smtp_auth_tls[0] != '\0') {
			(void)strlcat(filtered, " ", sizeof(filtered));
			(void)strlcat(filtered, smtp_auth_tls, sizeof(filtered));
		}
		return filtered;
	}
	if (s->tls_state == SMTP_TLS_ON)
		list = smtp_auth_tls;
	else if (smtp_session_feature(s, 'c', 0))
		return smtp_auth_no_plaintext(smtp_auth_plain, filtered,
		    sizeof(filtered));
	else
		list = smtp_auth_plain;
	return list[0] != '\0' ? list : NULL;
}

/* IMSG_AUTH_MECHS: str without TLS, str with TLS. */
void
smtp_auth_mechs(struct imsgev *iev, struct imsg *m, void *arg)
{
	char	 plain[SMTP_AUTH_MECHS_MAX], tls[SMTP_AUTH_MECHS_MAX];

	(void)iev;
	(void)arg;
	if (imsg_get_strbuf(m, plain, sizeof(plain)) == -1 ||
	    imsg_get_strbuf(m, tls, sizeof(tls)) == -1 ||
	    imsg_get_end(m) == -1 || !text_is_clean(plain) ||
	    !text_is_clean(tls)) {
		proc_peer_bad(PROC_AUTH, "bad mechanism list", m->type);
		return;
	}
	(void)strlcpy(smtp_auth_plain, plain, sizeof(smtp_auth_plain));
	(void)strlcpy(smtp_auth_tls, tls, sizeof(smtp_auth_tls));
	smtp_auth_known = 1;
}

/* Stop reading and drop what the client pipelined behind its line. */
static void
smtp_auth_hold(struct smtp_session *s)
{
	struct evbuffer	*in = bufferevent_get_input(s->bev);
	size_t		 left;

	if ((left = evbuffer_get_length(in)) > 0) {
		log_info("%08x: %zu octets after AUTH discarded", s->id, left);
		stats_add("smtp.auth.pipelined", 1);
		(void)evbuffer_drain(in, left);
	}
	(void)bufferevent_disable(s->bev, EV_READ);
	s->auth_state = SMTP_AUTH_WAIT;
	s->wait = SMTP_WAIT_AUTH;
}

/* The exchange is over (either way): read and execute again. */
static void
smtp_auth_done(struct smtp_session *s)
{
	s->auth_state = SMTP_AUTH_NONE;
	s->wait = SMTP_WAIT_NONE;
	(void)bufferevent_enable(s->bev, EV_READ);
}

/* Check "AUTH mechanism [initial-response]"; the mechanism upper-cased. */
static const char *
smtp_auth_parse(const char *arg, char *mech, size_t size, const char **ir)
{
	size_t	 i, n = strcspn(arg, " ");

	if (n == 0 || n >= size)
		return n == 0 ? "501 5.5.2 Syntax: AUTH mechanism "
		    "[initial-response]" : "504 5.5.4 Unrecognized "
		    "authentication type";
	for (i = 0; i < n; i++) {
		mech[i] = arg[i] >= 'a' && arg[i] <= 'z' ?
		    (char)(arg[i] - 'a' + 'A') : arg[i];
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_",
		    mech[i]) == NULL)
			return "501 5.5.2 Syntax: AUTH mechanism "
			    "[initial-response]";
	}
	mech[n] = '\0';
	*ir = arg[n] == ' ' ? arg + n + 1 : NULL;
	if (*ir != NULL && (**ir == '\0' || strchr(*ir, ' ') != NULL))
		return "501 5.5.2 Syntax: AUTH mechanism [initial-response]";
	return NULL;
}

/* Whether AUTH may start now; the refusal has been sent if not. */
static int
smtp_auth_allowed(struct smtp_session *s)
{
	if (s->auth_user != NULL) {
		smtp_session_error(s, "503 5.5.1 Already authenticated");
		return 0;
	}
	if (s->state != SMTP_ST_IDLE) {
		smtp_session_error(s, "503 5.5.1 AUTH not permitted during a "
		    "mail transaction");
		return 0;
	}
	if ((s->lflags & LISTEN_F_AUTH) && s->esmtp && !smtp_auth_known) {
		/* smtpd-auth is (re)starting */
		smtp_session_reply(s, SMTP_AUTH_TEMPFAIL);
		return 0;
	}
	if (!s->esmtp || smtp_auth_offered(s) == NULL) {
		smtp_session_error(s, "503 5.3.3 AUTH not available");
		return 0;
	}
	return 1;
}

/* The AUTH command: checks of our own, then START to smtpd-auth. */
void
smtp_auth_command(struct smtp_session *s, const char *arg)
{
	struct imsg_out	 out;
	const char	*err, *ir;
	char		 mech[32];

	if (!smtp_auth_allowed(s))
		return;
	if ((err = smtp_auth_parse(arg, mech, sizeof(mech), &ir)) != NULL) {
		smtp_session_error(s, err);
		return;
	}
	if (!config_word_in(smtp_auth_offered(s), mech)) {
		stats_add("smtp.auth.not_offered", 1);
		smtp_session_error(s, "504 5.5.4 Unrecognized authentication "
		    "type");
		return;
	}
	imsg_out_init(&out, IMSG_AUTH_START, s->id);
	imsg_put_str(&out, mech);
	imsg_put_u32(&out, ir != NULL);
	imsg_put_str(&out, ir != NULL ? ir : "");
	imsg_put_str(&out, s->addr);
	imsg_put_u32(&out, s->tls_state == SMTP_TLS_ON);
	imsg_put_u32(&out, s->tls != NULL ? s->tls->bits : 0);
	imsg_put_u32(&out, s->lflags);
	imsg_put_str(&out, smtp_auth_external(s) != NULL ?
	    smtp_auth_external(s) : "");
	if (proc_send(PROC_AUTH, &out, -1) == -1) {
		smtp_session_reply(s, SMTP_AUTH_TEMPFAIL);
		return;
	}
	stats_add("smtp.auth.start", 1);
	(void)strlcpy(s->auth_try, mech, sizeof(s->auth_try));
	smtp_auth_hold(s);
}

/* Tell smtpd-auth to drop the exchange of this session. */
static void
smtp_auth_cancel_send(struct smtp_session *s)
{
	struct imsg_out	 out;

	if (proc_peer(PROC_AUTH) == NULL)
		return;
	imsg_out_init(&out, IMSG_AUTH_CANCEL, s->id);
	(void)proc_send(PROC_AUTH, &out, -1);
}

/* A client line after our 334: "*" cancels, anything else is a step. */
void
smtp_auth_line(struct smtp_session *s, const char *line)
{
	struct imsg_out	 out;

	if (strcmp(line, "*") == 0) {
		smtp_auth_cancel_send(s);
		s->auth_state = SMTP_AUTH_NONE;
		stats_add("smtp.auth.cancelled", 1);
		smtp_session_error(s, "501 5.0.0 AUTH aborted");
		return;
	}
	imsg_out_init(&out, IMSG_AUTH_STEP, s->id);
	imsg_put_str(&out, line);
	if (proc_send(PROC_AUTH, &out, -1) == -1) {
		s->auth_state = SMTP_AUTH_NONE;
		smtp_session_reply(s, SMTP_AUTH_TEMPFAIL);
		return;
	}
	smtp_auth_hold(s);
}

/* A line of the exchange longer than auth line-max (RFC 4954 4). */
void
smtp_auth_toolong(struct smtp_session *s)
{
	smtp_auth_cancel_send(s);
	s->auth_state = SMTP_AUTH_NONE;
	stats_add("smtp.auth.toolong", 1);
	smtp_session_error(s, "500 5.5.6 Authentication Exchange line is too "
	    "long");
}

/* The delay before a 535 is over. */
static void
smtp_auth_fail_cb(int fd, short ev, void *arg)
{
	struct smtp_session	*s;

	(void)fd;
	(void)ev;
	if ((s = smtp_session_find((uint32_t)(uintptr_t)arg)) == NULL ||
	    s->state == SMTP_ST_CLOSING || s->auth_state != SMTP_AUTH_DELAY)
		return;
	smtp_auth_done(s);
	smtp_session_reply(s, "535 5.7.8 Authentication credentials invalid");
	if (++s->auth_failures >= (uint32_t)conf->auth_max_failures) {
		stats_add("smtp.auth.failures_limit", 1);
		smtp_session_close(s, "421 4.7.0 Too many authentication "
		    "failures, closing connection", "too many AUTH failures");
		return;
	}
	smtp_session_resume(s);
}

/* Answer a failure after a random delay (no timing for guessers). */
static void
smtp_auth_fail(struct smtp_session *s, const char *reason)
{
	struct timeval	 tv;
	uint32_t	 ms;

	log_info("%08x: AUTH failed: relay=[%s], mech=%s, reason=%s", s->id,
	    s->addr, s->auth_try, reason);
	stats_add("smtp.auth.failure", 1);
	ms = SMTP_AUTH_DELAY_BASE + arc4random_uniform(SMTP_AUTH_DELAY_SPREAD);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (long)(ms % 1000) * 1000;
	s->auth_state = SMTP_AUTH_DELAY;
	if (event_base_once(proc_base, -1, EV_TIMEOUT, smtp_auth_fail_cb,
	    (void *)(uintptr_t)s->id, &tv) == -1)
		smtp_auth_fail_cb(-1, 0, (void *)(uintptr_t)s->id);
}

/* Success: the session is authenticated from now on. */
static void
smtp_auth_ok(struct smtp_session *s, const char *user, const char *mech,
    uint32_t ssf)
{
	char	*u, *m;

	smtp_auth_done(s);
	if ((u = strdup(user)) == NULL || (m = strdup(mech)) == NULL) {
		free(u);
		smtp_session_reply(s, SMTP_AUTH_TEMPFAIL);
		return;
	}
	s->auth_user = u;
	s->auth_mech = m;
	s->auth_ssf = ssf;
	stats_add("smtp.auth.success", 1);
	log_info("%08x: AUTH=server, relay=[%s], authid=%s, mech=%s, bits=%u",
	    s->id, s->addr, u, m, ssf);
	smtp_session_reply(s, "235 2.7.0 Authentication successful");
}

/* Read a RESULT's fields for its status; -1 if it does not parse. */
static int
smtp_auth_result_parse(struct imsg *m, uint32_t status, char *text,
    size_t tsize, char *mech, size_t msize, uint32_t *ssf)
{
	if (status > AUTH_TEMPFAIL || imsg_get_strbuf(m, text, tsize) == -1)
		return -1;
	if (status == AUTH_OK) {
		if (imsg_get_strbuf(m, mech, msize) == -1)
			return -1;
		*ssf = imsg_get_u32(m);
	}
	if (imsg_get_end(m) == -1 || !text_is_clean(text) ||
	    !text_is_clean(mech))
		return -1;
	return 0;
}

/* IMSG_AUTH_RESULT: u32 status, then what goes with it (proto.h). */
void
smtp_auth_result(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct smtp_session	*s;
	char			 text[16384], mech[32] = "";
	uint32_t		 status, ssf = 0;

	(void)iev;
	(void)arg;
	status = imsg_get_u32(m);
	if (smtp_auth_result_parse(m, status, text, sizeof(text), mech,
	    sizeof(mech), &ssf) == -1) {
		proc_peer_bad(PROC_AUTH, "bad AUTH result", m->type);
		return;
	}
	/* gone, or cancelled while the answer was on its way */
	if ((s = smtp_session_find(m->id)) == NULL ||
	    s->state == SMTP_ST_CLOSING || s->auth_state != SMTP_AUTH_WAIT)
		return;
	switch (status) {
	case AUTH_CONTINUE:
		smtp_auth_done(s);
		s->auth_state = SMTP_AUTH_CHALLENGE;
		smtp_session_reply(s, "334 %s", text);
		break;
	case AUTH_OK:
		smtp_auth_ok(s, text, mech, ssf);
		break;
	case AUTH_FAIL:
		smtp_auth_fail(s, text);
		return;
	case AUTH_MALFORMED:
		smtp_auth_done(s);
		stats_add("smtp.auth.malformed", 1);
		smtp_session_error(s, "501 5.5.2 Invalid base64 data");
		break;
	default:
		smtp_auth_done(s);
		log_info("%08x: AUTH temporary failure: %s", s->id, text);
		smtp_session_reply(s, SMTP_AUTH_TEMPFAIL);
		break;
	}
	smtp_session_resume(s);
}

/* smtpd-auth went away: no exchange can go on. */
static void
smtp_auth_lost(struct smtp_session *s)
{
	if (s->state == SMTP_ST_CLOSING || s->auth_state == SMTP_AUTH_NONE ||
	    s->auth_state == SMTP_AUTH_DELAY)
		return;
	smtp_auth_done(s);
	smtp_session_reply(s, SMTP_AUTH_TEMPFAIL);
	smtp_session_resume(s);
}

void
smtp_auth_down(void)
{
	smtp_auth_known = 0;
	smtp_session_foreach(smtp_auth_lost);
}

/* The session ends or starts afresh (STARTTLS): forget the identity. */
void
smtp_auth_release(struct smtp_session *s)
{
	if (s->auth_state == SMTP_AUTH_WAIT ||
	    s->auth_state == SMTP_AUTH_CHALLENGE)
		smtp_auth_cancel_send(s);
	s->auth_state = SMTP_AUTH_NONE;
	free(s->auth_user);
	free(s->auth_mech);
	s->auth_user = NULL;
	s->auth_mech = NULL;
	s->auth_ssf = 0;
}

/* The AUTH clause of Received: (sendmail's shape), "" if none. */
void
smtp_auth_received(struct smtp_session *s, char *buf, size_t size)
{
	buf[0] = '\0';
	if (s->auth_user != NULL)
		(void)snprintf(buf, size, "\r\n\t(authenticated bits=%u)",
		    s->auth_ssf);
}

/*
 * MAIL's AUTH= (spec 8), as the envelope keeps it: a value that names
 * the authenticated user (with or without <>) is kept as that user;
 * anything else, and anything from a client that did not authenticate,
 * silently becomes "<>".  An authenticated client that gave no AUTH=
 * gets its authentication id, as sendmail does; an id too long for an
 * envelope gets "<>" rather than a truncated one.
 */
void
smtp_auth_mail_param(struct smtp_session *s, const char *value, char *out,
    size_t size)
{
	const char	*u = s->auth_user;
	size_t		 n;

	(void)strlcpy(out, "<>", size);
	if (u == NULL || u[0] == '\0' || strlen(u) >= size)
		return;
	n = value != NULL ? strlen(value) : 0;
	if (n == 0 || strcmp(value, u) == 0 || (n > 2 && value[0] == '<' &&
	    value[n - 1] == '>' && strlen(u) == n - 2 &&
	    strncmp(value + 1, u, n - 2) == 0))
		(void)strlcpy(out, u, size);
}

/*
 * The longest line AUTH allows now, CRLF included: a response after our
 * 334, or the AUTH command with its initial response ("AUTH ", a
 * mechanism of at most 20 characters, a space); 0 where AUTH is off.
 */
size_t
smtp_auth_line_max(struct smtp_session *s)
{
	if (s->auth_state == SMTP_AUTH_CHALLENGE)
		return conf->auth_line_max + 2;
	if (!(s->lflags & LISTEN_F_AUTH) || !s->esmtp)
		return 0;
	return conf->auth_line_max + 28;
}
