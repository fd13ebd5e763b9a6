/*
 * smtp_tls.c: STARTTLS (RFC 3207) and implicit TLS (smtps) for inbound
 * sessions, through tlsproxy(8).
 *
 * Interface (smtp_session.h): smtp_tls_starttls() runs the STARTTLS
 * command, smtp_tls_smtps() starts the handshake of an smtps listener
 * right after accept; smtp_tls_ready() and smtp_tls_result() handle
 * tlsproxy's answers.  The front end never sees a TLS record: once
 * tlsproxy said READY and our "220 2.0.0 Ready to start TLS" is written,
 * the client socket is handed over (no copy kept) and the session goes
 * on over the plaintext end tlsproxy returns with the TLS facts.
 *
 * Input the client pipelined after STARTTLS is thrown away unexecuted
 * (CVE-2011-0411): the session stops reading at STARTTLS and drops its
 * buffer when it hands the socket over.  After the handshake the SMTP
 * state starts afresh (no HELO/EHLO, no transaction) as RFC 3207 4.2
 * says.
 *
 * With several tlsproxy instances ("tls processes"), each session's
 * PREPARE goes to the next instance that is up (round robin) and
 * everything after it to the same one; answers from any other instance
 * are ignored.
 *
 * Failure behaviour: tlsproxy not there or not ready: 454 and the session
 * goes on in plaintext.  A failed handshake, or its tlsproxy instance
 * dying after the socket was handed over, ends the session with a log
 * line.  A session that ends while tlsproxy works for it sends
 * IMSG_TLS_ABORT.
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "log.h"
#include "proc.h"
#include "smtp_session.h"

#define SMTP_TLS_LISTEN	(LISTEN_F_TLS | LISTEN_F_TLS_REQUIRE)

/* Whether the listener can do STARTTLS now, Srv_Features aside. */
static int
smtp_tls_possible(struct smtp_session *s)
{
	return (s->lflags & SMTP_TLS_LISTEN) && !(s->lflags & LISTEN_F_SMTPS)
	    && s->tls_state == SMTP_TLS_OFF;
}

/* Whether EHLO lists STARTTLS: Srv_Features S hides it (spec 4.2). */
int
smtp_tls_offered(struct smtp_session *s)
{
	return smtp_tls_possible(s) && smtp_session_feature(s, 's', 1);
}

/* The TLS_F_* flags of a handshake: ask for a certificate unless V. */
static uint32_t
smtp_tls_flags(struct smtp_session *s)
{
	uint32_t	 flags = 0;

	if (smtp_session_feature(s, 'v', (s->lflags & LISTEN_F_TLS_VERIFY) !=
	    0))
		flags |= TLS_F_VERIFY_PEER;
	if (s->lflags & LISTEN_F_SMTPS)
		flags |= TLS_F_SMTPS;
	return flags;
}

/* Ask tlsproxy whether a handshake can start; -1 if it is not there. */
static int
smtp_tls_prepare(struct smtp_session *s)
{
	struct imsg_out	 out;
	int		 inst;

	if ((inst = proc_peer_pick(PROC_TLS)) == -1)
		return -1;
	s->tls_inst = (uint32_t)inst;
	imsg_out_init(&out, IMSG_TLS_SERVER_PREPARE, s->id);
	imsg_put_str(&out, s->listener != NULL ? s->listener : "");
	imsg_put_str(&out, s->addr);
	imsg_put_u32(&out, smtp_tls_flags(s));
	if (proc_send_n(PROC_TLS, s->tls_inst, &out, -1) == -1)
		return -1;
	s->tls_state = SMTP_TLS_PREPARING;
	s->wait = SMTP_WAIT_TLS;
	return 0;
}

/* The STARTTLS command (no argument: the parser checked). */
void
smtp_tls_starttls(struct smtp_session *s)
{
	struct evbuffer	*in = bufferevent_get_input(s->bev);
	size_t		 left;

	if (s->tls_state == SMTP_TLS_ON) {
		smtp_session_error(s, "503 5.5.1 TLS already active");
		return;
	}
	if (!smtp_tls_possible(s)) {
		smtp_session_error(s, "502 5.5.1 Command not implemented");
		return;
	}
	if (!smtp_tls_offered(s)) {
		smtp_session_error(s, "503 5.5.0 TLS not available");
		return;
	}
	if (s->state != SMTP_ST_IDLE) {
		smtp_session_error(s, "503 5.5.1 STARTTLS not allowed during "
		    "a mail transaction");
		return;
	}
	if ((left = evbuffer_get_length(in)) > 0) {
		log_info("%08x: %zu octets after STARTTLS discarded", s->id,
		    left);
		stats_add("smtp.tls.pipelined", 1);
		(void)evbuffer_drain(in, left);
	}
	if (smtp_tls_prepare(s) == -1) {
		stats_add("smtp.tls.unavailable", 1);
		smtp_session_reply(s, "454 4.7.0 TLS not available due to "
		    "temporary reason");
		return;
	}
	(void)bufferevent_disable(s->bev, EV_READ);
}

/* An smtps client: the handshake comes before anything else. */
void
smtp_tls_smtps(struct smtp_session *s)
{
	if (smtp_tls_prepare(s) == -1) {
		stats_add("smtp.tls.unavailable", 1);
		smtp_session_close(s, NULL, "TLS not available");
	}
}

/* Hand the socket to tlsproxy; the session waits for the RESULT. */
static void
smtp_tls_start(struct smtp_session *s)
{
	struct imsg_out	 out;
	int		 fd;

	fd = smtp_session_detach(s);
	s->tls_state = SMTP_TLS_HANDSHAKE;
	imsg_out_init(&out, IMSG_TLS_SERVER_START, s->id);
	imsg_put_u32(&out, smtp_tls_flags(s));
	if (proc_send_n(PROC_TLS, s->tls_inst, &out, fd) == -1) {
		s->tls_state = SMTP_TLS_OFF;
		smtp_session_close(s, NULL, "TLS not available");
	}
}

/* The output is written: if it ended with our 220, start. 1 if so. */
int
smtp_tls_flushed(struct smtp_session *s)
{
	if (s->tls_state != SMTP_TLS_FLUSHING)
		return 0;
	smtp_tls_start(s);
	return 1;
}

/* IMSG_TLS_SERVER_READY: u32 status. */
void
smtp_tls_ready(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct smtp_session	*s;
	uint32_t		 status;

	(void)iev;
	(void)arg;
	status = imsg_get_u32(m);
	if (imsg_get_end(m) == -1) {
		proc_peer_bad(PROC_TLS, "bad TLS ready", m->type);
		return;
	}
	/* gone: the ABORT is on its way */
	if ((s = smtp_session_find(m->id)) == NULL ||
	    s->state == SMTP_ST_CLOSING ||
	    s->tls_inst != proc_peer_instance())
		return;
	if (s->tls_state != SMTP_TLS_PREPARING) {
		proc_peer_bad(PROC_TLS, "unexpected TLS ready", m->type);
		return;
	}
	if (status != STATUS_OK) {
		stats_add("smtp.tls.unavailable", 1);
		s->tls_state = SMTP_TLS_OFF;
		s->wait = SMTP_WAIT_NONE;
		if (s->lflags & LISTEN_F_SMTPS) {
			smtp_session_close(s, NULL, "TLS not available");
			return;
		}
		smtp_session_reply(s, "454 4.7.0 TLS not available due to "
		    "temporary reason");
		(void)bufferevent_enable(s->bev, EV_READ);
		smtp_session_resume(s);
		return;
	}
	if (s->lflags & LISTEN_F_SMTPS) {
		smtp_tls_start(s);
		return;
	}
	s->tls_state = SMTP_TLS_FLUSHING;
	smtp_session_reply(s, "220 2.0.0 Ready to start TLS");
}

/* Copy the facts of a RESULT (after the status and error) into t. */
static void
smtp_tls_facts(struct imsg *m, struct smtp_tls *t)
{
	(void)strlcpy(t->protocol, imsg_get_str(m), sizeof(t->protocol));
	(void)strlcpy(t->cipher, imsg_get_str(m), sizeof(t->cipher));
	t->bits = imsg_get_u32(m);
	(void)imsg_get_u32(m);
	(void)strlcpy(t->verify, imsg_get_str(m), sizeof(t->verify));
	(void)strlcpy(t->subject, imsg_get_str(m), sizeof(t->subject));
	(void)strlcpy(t->issuer, imsg_get_str(m), sizeof(t->issuer));
	(void)strlcpy(t->cn_subject, imsg_get_str(m), sizeof(t->cn_subject));
	(void)imsg_get_str(m);		/* cn issuer */
	(void)imsg_get_str(m);		/* fingerprint */
	(void)imsg_get_str(m);		/* SNI */
}

/* TLS is on over fd: start the SMTP dialogue afresh (RFC 3207 4.2). */
static void
smtp_tls_on(struct smtp_session *s, struct smtp_tls *t, int fd)
{
	s->tls = t;
	s->tls_state = SMTP_TLS_ON;
	s->wait = SMTP_WAIT_NONE;
	stats_add("smtp.tls.session", 1);
	log_info("%08x: TLS on: version=%s cipher=%s bits=%u verify=%s",
	    s->id, t->protocol, t->cipher, t->bits, t->verify);
	smtp_session_attach(s, fd);
	if (s->state == SMTP_ST_CONNECT) {
		smtp_peer_policy_query(s, POLICY_CONNECT);
		return;
	}
	smtp_tx_free(s);
	smtp_auth_release(s);
	free(s->helo);
	s->helo = NULL;
	s->esmtp = 0;
	s->state = SMTP_ST_HELO;
	/* tls_client (spec 3.1): input waits for its verdict */
	smtp_peer_policy_query(s, POLICY_TLS_CLT);
}

/* IMSG_TLS_RESULT: the TLS facts, then the SNI; fd on success. */
void
smtp_tls_result(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct smtp_session	*s;
	struct smtp_tls		 facts, *t;
	uint32_t		 status;
	char			 error[256];

	(void)iev;
	(void)arg;
	memset(&facts, 0, sizeof(facts));
	status = imsg_get_u32(m);
	(void)strlcpy(error, imsg_get_str(m), sizeof(error));
	smtp_tls_facts(m, &facts);
	if (imsg_get_end(m) == -1 || (status == STATUS_OK) != (m->fd != -1)) {
		if (m->fd != -1)
			(void)close(m->fd);
		proc_peer_bad(PROC_TLS, "bad TLS result", m->type);
		return;
	}
	s = smtp_session_find(m->id);
	if (s == NULL || s->tls_state != SMTP_TLS_HANDSHAKE ||
	    s->state == SMTP_ST_CLOSING ||
	    s->tls_inst != proc_peer_instance()) {
		if (m->fd != -1)
			(void)close(m->fd);
		return;
	}
	if (status != STATUS_OK) {
		stats_add("smtp.tls.failed", 1);
		log_info("%08x: TLS handshake failed: verify=%s %s", s->id,
		    facts.verify, error);
		s->tls_state = SMTP_TLS_OFF;
		smtp_session_close(s, NULL, "TLS handshake failed");
		return;
	}
	if ((t = malloc(sizeof(*t))) == NULL) {
		(void)close(m->fd);
		s->tls_state = SMTP_TLS_OFF;
		stats_add("smtp.error.memory", 1);
		smtp_session_close(s, NULL, "out of memory");
		return;
	}
	*t = facts;
	smtp_tls_on(s, t, m->fd);
}

/* the tlsproxy instance smtp_tls_down() was told about */
static unsigned	 smtp_tls_lost_inst;

/* A tlsproxy instance went away: what was waiting for it cannot go on. */
static void
smtp_tls_lost(struct smtp_session *s)
{
	enum smtp_tls_state	 was = s->tls_state;

	if (s->state == SMTP_ST_CLOSING || was == SMTP_TLS_OFF ||
	    was == SMTP_TLS_ON || s->tls_inst != smtp_tls_lost_inst)
		return;
	s->tls_state = SMTP_TLS_OFF;
	s->wait = SMTP_WAIT_NONE;
	if (was != SMTP_TLS_PREPARING || (s->lflags & LISTEN_F_SMTPS)) {
		smtp_session_close(s, NULL, "TLS proxy lost");
		return;
	}
	smtp_session_reply(s, "454 4.7.0 TLS not available due to temporary "
	    "reason");
	(void)bufferevent_enable(s->bev, EV_READ);
	smtp_session_resume(s);
}

void
smtp_tls_down(unsigned inst)
{
	smtp_tls_lost_inst = inst;
	smtp_session_foreach(smtp_tls_lost);
}

/* The session ends: tell tlsproxy if it still works for it. */
void
smtp_tls_release(struct smtp_session *s)
{
	struct imsg_out	 out;

	if (s->tls_state != SMTP_TLS_OFF && s->tls_state != SMTP_TLS_ON &&
	    proc_peer_n(PROC_TLS, s->tls_inst) != NULL) {
		imsg_out_init(&out, IMSG_TLS_ABORT, s->id);
		(void)proc_send_n(PROC_TLS, s->tls_inst, &out, -1);
	}
	s->tls_state = SMTP_TLS_OFF;
	free(s->tls);
	s->tls = NULL;
	free(s->listener);
	s->listener = NULL;
}

/* The TLS clause of Received: (sendmail's shape), "" without TLS. */
void
smtp_tls_received(struct smtp_session *s, char *buf, size_t size)
{
	buf[0] = '\0';
	if (s->tls == NULL || s->tls->protocol[0] == '\0')
		return;
	(void)snprintf(buf, size, "\r\n\t(version=%s cipher=%s bits=%u "
	    "verify=%s)", s->tls->protocol, s->tls->cipher, s->tls->bits,
	    s->tls->verify);
}
