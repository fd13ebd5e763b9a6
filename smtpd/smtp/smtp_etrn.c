/*
 * smtp_etrn.c: ETRN (RFC 1985), a client asking for the mail queued for
 * its domain to be tried now.
 *
 *   ETRN domain	that domain's envelopes (IMSG_QUEUE_ETRN)
 *   ETRN @domain	the domain and its subdomains (RFC 1985 5.3)
 *   ETRN #name		a named queue: there are none here, so 459 as
 *			sendmail answers an unknown queue group
 *
 * The queue checks the domain again and only reschedules: nothing of
 * the queue goes back to the client, who learns no more than that the
 * run started (sendmail's 250 2.0.0 Queuing for node D started).
 * privacy noetrn gives sendmail's 502 5.7.0.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "proc.h"
#include "smtp_session.h"

/* A domain as ETRN takes it: LDH labels, lowercased into buf. */
static int
smtp_etrn_domain(const char *arg, char *buf, size_t size)
{
	size_t	 i, n = strlen(arg);

	if (n == 0 || n >= size || n > 253)
		return -1;
	for (i = 0; i < n; i++)
		buf[i] = (char)tolower((unsigned char)arg[i]);
	buf[n] = '\0';
	return config_domain_valid(buf) ? 0 : -1;
}

static void
smtp_etrn_log(struct smtp_session *s, const char *arg, const char *result)
{
	char	 relay[SMTP_SESSION_RELAY_MAX];

	log_info("%08x: ETRN %.*s from %s: %s", s->id, 256, arg,
	    smtp_session_relay(s, relay, sizeof(relay)), result);
}

/* Ask the queue to run domain (and its subdomains); -1 if it is down. */
static int
smtp_etrn_send(struct smtp_session *s, const char *domain, int subdomains)
{
	struct imsg_out	 out;

	if (proc_peer(PROC_QUEUE) == NULL)
		return -1;
	imsg_out_init(&out, IMSG_QUEUE_ETRN, s->id);
	imsg_put_u32(&out, subdomains ? ETRN_F_SUBDOMAINS : 0);
	imsg_put_str(&out, domain);
	return proc_send(PROC_QUEUE, &out, -1);
}

void
smtp_etrn_command(struct smtp_session *s, struct smtp_command *cmd)
{
	const char	*arg = cmd->arg;
	char		 domain[CONF_HOST_MAX];
	int		 sub = 0;

	/* privacy noetrn, or the listener's modifier E */
	if ((conf->privacy & PRIV_NOETRN) || !smtp_modifiers_etrn(s)) {
		smtp_etrn_log(s, arg, "rejected");
		smtp_session_reply(s, "502 5.7.0 Sorry, we do not allow this "
		    "operation");
		return;
	}
	if (*arg == '\0') {
		smtp_session_error(s, "500 5.5.2 Parameter required");
		return;
	}
	if (*arg == '#') {
		smtp_etrn_log(s, arg, "no such queue");
		smtp_session_reply(s, "459 4.5.4 Queue %.64s unknown", arg + 1);
		return;
	}
	if (*arg == '@')
		sub = 1;
	if (smtp_etrn_domain(arg + sub, domain, sizeof(domain)) == -1) {
		smtp_session_error(s, "501 5.5.2 Syntax error in parameters");
		return;
	}
	if (smtp_etrn_send(s, domain, sub) == -1) {
		smtp_etrn_log(s, arg, "queue unavailable");
		smtp_session_reply(s, "458 4.3.0 Unable to queue messages for "
		    "node %s", arg);
		return;
	}
	smtp_etrn_log(s, arg, "queue run started");
	smtp_session_reply(s, "250 2.0.0 Queuing for node %s started", arg);
}
