/*
 * smtp_privacy.c: what the privacy flags (sendmail's PrivacyOptions)
 * change in a session, with sendmail's replies, and the greeting of
 * smtp banner (confSMTP_LOGIN_MSG).
 *
 *   novrfy		VRFY: 252 2.5.2 Cannot VRFY user; try RCPT ...
 *   noexpn		EXPN: 502 5.7.0 Sorry, we do not allow this operation
 *   noverb (noexpn)	VERB: 502 5.7.0 Verbose unavailable
 *   needmailhelo	MAIL first: 503 5.0.0 Polite people say HELO first
 *   needvrfyhelo,
 *   needexpnhelo	VRFY/EXPN first: 503 5.0.0 I demand that you
 *			introduce yourself first
 *   noreceipts		no DSN in EHLO; RET, ENVID, NOTIFY, ORCPT: 504 5.7.0
 *
 * Without needmailhelo, MAIL before HELO still gets 503 5.5.1 Send
 * HELO/EHLO first: this server always wants the client's name, so
 * sendmail's "didn't use HELO protocol" warning has no case here.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "proc.h"
#include "smtp_session.h"

/* The banner when smtp banner is not set: no version in it. */
#define SMTP_BANNER_DEFAULT	"$j ready"

static int
smtp_privacy(uint32_t bits)
{
	return (conf->privacy & bits) != 0;
}

/* One line of the greeting; the first gets ESMTP as its second word,
 * as sendmail puts it there. */
static void
smtp_privacy_greet_line(struct smtp_session *s, const char *line, size_t n,
    int first, int last)
{
	size_t	 w;

	if (!first && n > 0 && *line == ' ') {
		line++;
		n--;
	}
	if (!first) {
		smtp_session_reply(s, "220%c%.*s", last ? ' ' : '-', (int)n,
		    line);
		return;
	}
	for (w = 0; w < n && line[w] != ' '; w++)
		;
	smtp_session_reply(s, "220%c%.*s ESMTP%.*s", last ? ' ' : '-',
	    (int)w, line, (int)(n - w), line + w);
}

/* The 220 greeting: smtp banner expanded, split at each "\n". */
void
smtp_privacy_greet(struct smtp_session *s)
{
	char		 text[CONF_BANNER_MAX + 2 * CONF_HOST_MAX + 64];
	const char	*tmpl, *p, *nl;
	int		 first = 1;

	tmpl = conf->smtp_banner[0] != '\0' ? conf->smtp_banner :
	    SMTP_BANNER_DEFAULT;
	if (config_banner_expand(tmpl, conf->hostname, time(NULL), text,
	    sizeof(text)) == -1) {
		log_warnx("%08x: smtp banner does not expand; the default "
		    "greeting is sent", s->id);
		(void)config_banner_expand(SMTP_BANNER_DEFAULT, conf->hostname,
		    0, text, sizeof(text));
	}
	for (p = text; (nl = strstr(p, "\\n")) != NULL; p = nl + 2) {
		smtp_privacy_greet_line(s, p, (size_t)(nl - p), first, 0);
		first = 0;
	}
	smtp_privacy_greet_line(s, p, strlen(p), first, 1);
}

/*
 * The reply to a command before HELO/EHLO; NULL if it may run (VRFY and
 * EXPN, as in sendmail: novrfy/noexpn answer before needvrfyhelo and
 * needexpnhelo are looked at) or gets the usual 503.
 */
const char *
smtp_privacy_before_helo(enum smtp_verb verb, int *runs)
{
	*runs = 0;
	switch (verb) {
	case SMTP_CMD_MAIL:
		return smtp_privacy(PRIV_NEEDMAILHELO) ?
		    "503 5.0.0 Polite people say HELO first" : NULL;
	case SMTP_CMD_VRFY:
		*runs = smtp_privacy(PRIV_NOVRFY) ||
		    !smtp_privacy(PRIV_NEEDVRFYHELO);
		return *runs ? NULL :
		    "503 5.0.0 I demand that you introduce yourself first";
	case SMTP_CMD_EXPN:
		*runs = smtp_privacy(PRIV_NOEXPN) ||
		    !smtp_privacy(PRIV_NEEDEXPNHELO);
		return *runs ? NULL :
		    "503 5.0.0 I demand that you introduce yourself first";
	default:
		return NULL;
	}
}

/* noreceipts: the DSN parameter refused first, in sendmail's order. */
const char *
smtp_privacy_dsn(const struct smtp_command *cmd)
{
	if (!smtp_privacy(PRIV_NORECEIPTS))
		return NULL;
	if (cmd->verb == SMTP_CMD_MAIL) {
		if (cmd->u.mail.ret != 0)
			return "504 5.7.0 Sorry, RET not supported, we do not "
			    "allow DSN";
		if (cmd->u.mail.envid[0] != '\0')
			return "504 5.7.0 Sorry, ENVID not supported, we do "
			    "not allow DSN";
	}
	if (cmd->verb == SMTP_CMD_RCPT) {
		if (cmd->u.rcpt.notify != 0)
			return "504 5.7.0 Sorry, NOTIFY not supported, we do "
			    "not allow DSN";
		if (cmd->u.rcpt.orcpt[0] != '\0')
			return "504 5.7.0 Sorry, ORCPT not supported, we do "
			    "not allow DSN";
	}
	return NULL;
}

/* Whether EHLO lists DSN for this client. */
int
smtp_privacy_offer_dsn(const struct smtp_session *s)
{
	return !smtp_privacy(PRIV_NORECEIPTS) &&
	    smtp_session_feature(s, 'd', 1);
}

/* Whether EHLO lists VRFY: not with novrfy nor Srv_Features x. */
int
smtp_privacy_offer_vrfy(const struct smtp_session *s)
{
	return !smtp_privacy(PRIV_NOVRFY) && smtp_session_feature(s, 'x', 1);
}

static void
smtp_privacy_rejected(struct smtp_session *s, const char *what)
{
	char	 relay[SMTP_SESSION_RELAY_MAX];

	log_info("%08x: %s from %s [rejected]", s->id, what,
	    smtp_session_relay(s, relay, sizeof(relay)));
}

void
smtp_privacy_vrfy(struct smtp_session *s, struct smtp_command *cmd)
{
	(void)cmd;
	if (smtp_privacy(PRIV_NOVRFY)) {
		smtp_privacy_rejected(s, "VRFY");
		smtp_session_reply(s, "252 2.5.2 Cannot VRFY user; try RCPT "
		    "to attempt delivery (or try finger)");
		return;
	}
	if (!smtp_session_feature(s, 'x', 1)) {
		smtp_session_reply(s, "502 5.5.1 VRFY command is disabled");
		return;
	}
	smtp_session_reply(s, "252 2.5.2 Cannot VRFY user, but will accept "
	    "message and attempt delivery");
}

void
smtp_privacy_expn(struct smtp_session *s, struct smtp_command *cmd)
{
	(void)cmd;
	if (smtp_privacy(PRIV_NOEXPN)) {
		smtp_privacy_rejected(s, "EXPN");
		smtp_session_reply(s, "502 5.7.0 Sorry, we do not allow this "
		    "operation");
		return;
	}
	if (!smtp_session_feature(s, 'x', 1)) {
		smtp_session_reply(s, "502 5.5.1 EXPN command is disabled");
		return;
	}
	smtp_session_reply(s, "252 2.5.2 Cannot EXPN list, but will accept "
	    "message and attempt delivery");
}

/* VERB: sendmail's replies; the mode itself changes nothing here, since
 * delivery never happens inside the session. */
void
smtp_privacy_verb(struct smtp_session *s, struct smtp_command *cmd)
{
	(void)cmd;
	if (smtp_privacy(PRIV_NOEXPN | PRIV_NOVERB)) {
		smtp_session_reply(s, "502 5.7.0 Verbose unavailable");
		return;
	}
	smtp_session_reply(s, "250 2.0.0 Verbose mode");
}
