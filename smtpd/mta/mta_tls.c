/*
 * mta_tls.c: the outbound client's side of tlsproxy(8).
 *
 * Interface (mta_core.h): mta_tls_start() hands a server socket to
 * tlsproxy for a client handshake (IMSG_TLS_CLIENT_START), with the
 * server's name (SNI when it is a host name) and "mta pki" as the client
 * certificate; mta_tls_result() gives the session tlsproxy's answer, the
 * plaintext end of the connection or the reason it failed;
 * mta_tls_abort() tells tlsproxy a session it works for is gone.  The
 * STARTTLS=client log line with the TLS facts is tlsproxy's.  With
 * several tlsproxy instances each handshake goes to the next one that is
 * up (round robin); the session remembers which, and an answer from
 * another instance is ignored.
 *
 * Failure behaviour: a malformed answer is a bad peer (tlsproxy is
 * restarted); an answer for a session that is gone has its descriptor
 * closed and is otherwise ignored.
 */
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "mta_core.h"
#include "mta_sts.h"

/* Send fd to tlsproxy for a handshake; -1 (fd closed) if it is gone. */
int
mta_tls_start(uint32_t id, int fd, const char *name)
{
	struct imsg_out		 out;
	struct mta_session	*s;
	int			 inst;

	if ((s = mta_session_find(id)) == NULL ||
	    (inst = proc_peer_pick(PROC_TLS)) == -1) {
		(void)close(fd);
		return -1;
	}
	s->tls_inst = (uint32_t)inst;
	imsg_out_init(&out, IMSG_TLS_CLIENT_START, id);
	imsg_put_str(&out, name);
	imsg_put_str(&out, conf->mta_pki);
	imsg_put_u32(&out, mta_sts_tls_flags(s, name));
	return proc_send_n(PROC_TLS, s->tls_inst, &out, fd);
}

void
mta_tls_abort(uint32_t id)
{
	struct imsg_out		 out;
	struct mta_session	*s;

	if ((s = mta_session_find(id)) == NULL ||
	    proc_peer_n(PROC_TLS, s->tls_inst) == NULL)
		return;
	imsg_out_init(&out, IMSG_TLS_ABORT, id);
	(void)proc_send_n(PROC_TLS, s->tls_inst, &out, -1);
}

/* The TLS facts the rulesets use (TLS_Srv, TLS_Rcpt); skip the rest. */
static void
mta_tls_facts(struct imsg *m, struct mta_tls_facts *f)
{
	(void)strlcpy(f->version, imsg_get_str(m), sizeof(f->version));
	(void)imsg_get_str(m);		/* cipher */
	f->bits = imsg_get_u32(m);
	(void)imsg_get_u32(m);		/* algorithm bits */
	(void)strlcpy(f->verify, imsg_get_str(m), sizeof(f->verify));
	(void)strlcpy(f->subject, imsg_get_str(m), sizeof(f->subject));
	(void)strlcpy(f->issuer, imsg_get_str(m), sizeof(f->issuer));
	(void)strlcpy(f->cn, imsg_get_str(m), sizeof(f->cn));
	(void)imsg_get_str(m);		/* cn issuer */
	(void)imsg_get_str(m);		/* fingerprint */
	(void)imsg_get_str(m);		/* SNI sent */
}

/* IMSG_TLS_RESULT: u32 status, str error, the TLS facts, str SNI. */
void
mta_tls_result(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct mta_session	*s;
	struct mta_tls_facts	 facts;
	char			 error[256];
	uint32_t		 status;

	memset(&facts, 0, sizeof(facts));
	status = imsg_get_u32(m);
	(void)strlcpy(error, imsg_get_str(m), sizeof(error));
	mta_tls_facts(m, &facts);
	if (imsg_get_end(m) == -1 || (status == STATUS_OK) != (m->fd != -1)) {
		if (m->fd != -1)
			(void)close(m->fd);
		proc_peer_bad(PROC_TLS, "bad TLS result", m->type);
		return;
	}
	if (mta_sts_tls_result(m->id, m->fd, facts.verify, error))
		return;
	if ((s = mta_session_find(m->id)) == NULL || s->state != MTA_S_TLS ||
	    s->tls_inst != proc_peer_instance()) {
		if (m->fd != -1)
			(void)close(m->fd);
		return;
	}
	mta_session_tls_done(s, m->fd, &facts, error);
}
