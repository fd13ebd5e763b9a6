/*
 * mta_policy.c: the outbound client's questions to policyd, sendmail's
 * client-side TLS rulesets (spec 3.1, 4.1):
 *
 *   Try_TLS	after EHLO offered STARTTLS: may we send it?
 *   TLS_Srv	once per connection, after STARTTLS was tried or skipped
 *   TLS_Rcpt	before each RCPT: may this recipient go over this link?
 *
 * Interface (mta_core.h): mta_policy_ask() sends one question for a
 * session, whose id correlates the answer; mta_policy_result() hands the
 * answer, a ready SMTP reply line, to mta_session_policy_done().  A
 * session asks one question at a time.
 *
 * Failure behaviour: an answer that does not parse is a bad peer; one
 * for a session that is gone or no longer asking is dropped.  When
 * policyd is not there the question is answered at once as a temporary
 * failure (never as an allow): mta_session_policy_down() does the same
 * for the sessions that were waiting when it died.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "proc.h"
#include "util.h"
#include "mta_core.h"

#define MTA_POLICY_REPLY_MAX	512

/*
 * The server's name as the rulesets probe it and as the handshake sends
 * it (SNI, when it is a host name): the MX or route host without a
 * trailing dot, else "[address]".
 */
void
mta_policy_server_name(struct mta_session *s, char *buf, size_t len)
{
	struct mta_batch	*b = s->batch;
	size_t			 n;

	if (b != NULL && b->hops[b->hop].name[0] != '\0')
		(void)strlcpy(buf, b->hops[b->hop].name, len);
	else
		(void)snprintf(buf, len, "[%s]", s->relay->addr);
	n = strlen(buf);
	if (n > 1 && buf[n - 1] == '.')
		buf[n - 1] = '\0';
}

/* Ask policyd; 0, or -1 if it is not there (nothing was sent). */
int
mta_policy_ask(struct mta_session *s, uint32_t kind, const char *rcpt)
{
	struct imsg_out		 out;
	const struct mta_tls_facts *f = &s->facts;
	char			 name[CONF_HOST_MAX + 2];

	mta_policy_server_name(s, name, sizeof(name));
	imsg_out_init(&out, IMSG_POLICY_QUERY, s->id);
	imsg_put_u32(&out, kind);
	imsg_put_str(&out, s->relay->addr);
	imsg_put_str(&out, name);
	imsg_put_str(&out, "");
	imsg_put_str(&out, "");
	imsg_put_str(&out, rcpt != NULL ? rcpt : "");
	imsg_put_str(&out, "");
	imsg_put_str(&out, f->verify);
	imsg_put_str(&out, "");
	imsg_put_u32(&out, 0);
	imsg_put_str(&out, f->version);
	imsg_put_u32(&out, f->bits);
	imsg_put_str(&out, f->subject);
	imsg_put_str(&out, f->issuer);
	imsg_put_str(&out, f->cn);
	/* ${client_resolve} belongs to inbound clients only */
	imsg_put_str(&out, "");
	if (proc_send(PROC_POLICY, &out, -1) == -1)
		return -1;
	s->asking = kind;
	return 0;
}

/* Whether an answer is one of ours: a verdict, and for a refusal a
 * reply code, enhanced status of its class and clean text. */
static int
mta_policy_reply_valid(uint32_t verdict, uint32_t code, const char *enh,
    const char *text)
{
	if (verdict != POLICY_ACCEPT && verdict != POLICY_REJECT &&
	    verdict != POLICY_TEMPFAIL)
		return 0;
	if (verdict == POLICY_ACCEPT)
		return 1;
	if (code < 400 || code > 599 || enh[0] != (char)('0' + code / 100))
		return 0;
	return text_is_clean(text);
}

/* IMSG_POLICY_RESULT (layout in proto.h). */
void
mta_policy_result(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct mta_session	*s;
	uint32_t		 verdict, code;
	const char		*enh, *text;
	char			 reply[MTA_POLICY_REPLY_MAX];
	uint32_t		 features;

	(void)iev;
	(void)arg;
	verdict = imsg_get_u32(m);
	(void)imsg_get_u32(m);
	code = imsg_get_u32(m);
	enh = imsg_get_str(m);
	text = imsg_get_str(m);
	(void)imsg_get_str(m);
	features = imsg_get_u32(m);	/* Try_TLS: Clt_Features letters */
	(void)imsg_get_u32(m);
	(void)imsg_get_str(m);		/* a RCPT's rewrite: never ours */
	/* a RCPT's targets: none in an answer to the mta */
	if (imsg_get_u32(m) != 0) {
		proc_peer_bad(PROC_POLICY, "malformed policy result", m->type);
		return;
	}
	(void)imsg_get_u32(m);		/* ClientConn, ClientRate: connect */
	(void)imsg_get_u32(m);
	if (imsg_get_end(m) == -1 ||
	    !mta_policy_reply_valid(verdict, code, enh, text)) {
		proc_peer_bad(PROC_POLICY, "malformed policy result", m->type);
		return;
	}
	if ((s = mta_session_find(m->id)) == NULL || s->asking == 0 ||
	    s->state != MTA_S_POLICY)
		return;
	(void)snprintf(reply, sizeof(reply), "%u %s %s", code, enh, text);
	if (s->asking == POLICY_TRY_TLS)
		s->clt_features = features;
	mta_session_policy_done(s, verdict, reply, enh);
}
