/*
 * smtp_exec.c: what each SMTP command does, given the session's state.
 *
 * smtp_exec_line() parses a command line (smtp_command.c) and runs the
 * verb's handler from a table.  A handler checks that its command fits
 * the state (503 otherwise), then replies at once or starts a question to
 * a peer (smtp_peer.c) whose answer produces the reply.  STARTTLS and
 * AUTH have their own handlers so that their issues plug in here.
 *
 * On a tls-require listener every command but NOOP, EHLO, STARTTLS and
 * QUIT gets "530 5.7.0" until TLS is on (RFC 3207 4); HELO is refused
 * too, since a client that sent it can never see STARTTLS offered.  The
 * octets of a refused BDAT chunk are still read and discarded.
 *
 * Two checks come before any state: a BDAT whose chunk will not be read
 * (a syntax error, or a size over limit message-size) ends the session,
 * since the client sends the octets anyway and nothing after them could
 * be told from a command; and commands that move no mail (NOOP, RSET,
 * VRFY, EXPN, HELP, VERB, ETRN, an empty BDAT that is not the last) end
 * it past limit junk-commands, counted since the last accepted message.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "log.h"
#include "proc.h"
#include "smtp_milter.h"
#include "smtp_milter_proto.h"
#include "smtp_session.h"

typedef void	(*smtp_exec_fn)(struct smtp_session *, struct smtp_command *);

#define SMTP_ERR_NEED_HELO	"503 5.5.1 Send HELO/EHLO first"
#define SMTP_ERR_NEED_MAIL	"503 5.5.1 Need MAIL command"
#define SMTP_ERR_NEED_RCPT	"503 5.5.1 Need RCPT command"
/* RFC 6531 3.5: a non-ASCII path in a transaction without SMTPUTF8 */
#define SMTP_ERR_UTF8_SENDER	"553 5.6.7 Non-ASCII sender address needs " \
	"the SMTPUTF8 parameter"
#define SMTP_ERR_UTF8_RCPT	"553 5.6.7 Non-ASCII recipient address needs " \
	"the SMTPUTF8 parameter"
/* RFC 6533 3: utf-8-addr-unitext only where SMTPUTF8 is */
#define SMTP_ERR_UTF8_ORCPT	"555 5.6.7 Non-ASCII ORCPT needs the " \
	"SMTPUTF8 parameter"
/* sendmail's MAXBADCOMMANDS for a nullserver session */
#define SMTP_NULLSERVER_MAX	25
/* a MAIL or RCPT line with "@hostname" added (listen ... modifiers u) */
#define SMTP_EXEC_QUALIFIED_MAX	(1024 + CONF_HOST_MAX)
/* seconds a RCPT waits past limit bad-rcpt-throttle (sendmail's
 * BadRcptThrottleDelay) */
#define SMTP_EXEC_RCPT_THROTTLE	1
#define SMTP_ERR_NEED_TLS	"530 5.7.0 Must issue a STARTTLS command first"
#define SMTP_ERR_BDAT_SIZE	"552 5.3.4 Message size exceeds fixed maximum " \
	"message size"

/* EHLO or HELO: (re)start the session, dropping any transaction. */
static void	smtp_exec_helo_filtered(struct smtp_session *,
		    const char *);

static void
smtp_exec_helo(struct smtp_session *s, struct smtp_command *cmd)
{
	char	*helo;

	if ((helo = strdup(cmd->arg)) == NULL) {
		smtp_session_close(s, "421 4.3.0 Local error, try again later",
		    "out of memory");
		return;
	}
	smtp_tx_free(s);
	free(s->helo);
	s->helo = helo;
	s->esmtp = cmd->verb == SMTP_CMD_EHLO;
	/* a refused session (nullserver) answers by itself */
	if (smtp_milter_on(s) && s->nullserver == NULL) {
		smtp_milter_stage(s, SMFIC_HELO, NULL, smtp_exec_helo_filtered);
		return;
	}
	smtp_exec_helo_filtered(s, NULL);
}

/* HELO or EHLO, once the filters let it pass (reply NULL). */
static void
smtp_exec_helo_filtered(struct smtp_session *s, const char *reply)
{
	if (reply != NULL) {
		smtp_session_reply(s, "%s", reply);
		return;
	}
	s->state = SMTP_ST_IDLE;
	if (!s->esmtp) {
		smtp_session_reply(s, "250 %s Hello %s [%s]", conf->hostname,
		    s->helo, s->addr);
		return;
	}
	smtp_session_reply(s, "250-%s Hello %s [%s]", conf->hostname,
	    s->helo, s->addr);
	if (s->nullserver != NULL) {
		/* spec 2.3: a refused session lists nothing else */
		smtp_session_reply(s, "250 ENHANCEDSTATUSCODES");
		return;
	}
	if (smtp_session_feature(s, 'p', 1))
		smtp_session_reply(s, "250-PIPELINING");
	smtp_session_reply(s, "250-SIZE %zu", conf->limit_message_size);
	smtp_session_reply(s, "250-8BITMIME");
	smtp_session_reply(s, "250-ENHANCEDSTATUSCODES");
	if (smtp_privacy_offer_dsn(s))
		smtp_session_reply(s, "250-DSN");
	smtp_session_reply(s, "250-CHUNKING");
	smtp_session_reply(s, "250-SMTPUTF8");
	if (s->tls_state == SMTP_TLS_ON)
		smtp_session_reply(s, "250-REQUIRETLS");
	if (smtp_privacy_offer_vrfy(s))
		smtp_session_reply(s, "250-VRFY");
	if (!(conf->privacy & PRIV_NOETRN) && smtp_modifiers_etrn(s))
		smtp_session_reply(s, "250-ETRN");
	if (smtp_tls_offered(s))
		smtp_session_reply(s, "250-STARTTLS");
	if (smtp_auth_offered(s) != NULL)
		smtp_session_reply(s, "250-AUTH %s", smtp_auth_offered(s));
	smtp_session_reply(s, "250 HELP");
}

/* queue min-free (sendmail's MinFreeBlocks): 1 if MAIL was refused. */
static int
smtp_exec_mail_nospace(struct smtp_session *s, uint64_t size)
{
	uint64_t	 avail;

	if (smtp_peer_queue_room(size, &avail))
		return 0;
	stats_add("smtp.error.storage", 1);
	log_info("%08x: MAIL refused: %llu octets free in the spool, %llu "
	    "wanted", s->id, (unsigned long long)avail,
	    (unsigned long long)(conf->queue_min_free + size));
	smtp_session_reply(s, "452 4.3.1 Insufficient system storage");
	return 1;
}

/* MAIL FROM: checks of our own, then the sender goes to policyd. */
static void
smtp_exec_mail(struct smtp_session *s, struct smtp_command *cmd)
{
	struct smtp_mail	*m = &cmd->u.mail;

	if (s->state == SMTP_ST_HELO) {
		smtp_session_error(s, SMTP_ERR_NEED_HELO);
		return;
	}
	if (s->state != SMTP_ST_IDLE) {
		smtp_session_error(s, "503 5.5.1 Sender already specified");
		return;
	}
	if (!m->smtputf8 && !mailaddr_is_ascii(m->sender)) {
		smtp_session_error(s, SMTP_ERR_UTF8_SENDER);
		return;
	}
	if (m->requiretls && s->tls_state != SMTP_TLS_ON) {
		/* RFC 8689 4.1: only offered, so only taken, under TLS */
		smtp_session_error(s, "530 5.7.10 REQUIRETLS needs a TLS "
		    "session");
		return;
	}
	if (smtp_session_feature(s, 'l', (s->lflags & LISTEN_F_AUTH_REQUIRE) !=
	    0) && s->auth_user == NULL) {
		stats_add("smtp.auth.required", 1);
		smtp_session_error(s, "530 5.7.0 Authentication required");
		return;
	}
	if (smtp_privacy_dsn(cmd) != NULL) {
		smtp_session_error(s, smtp_privacy_dsn(cmd));
		return;
	}
	if (s->nmessages >= conf->limit_messages) {
		smtp_session_reply(s, "421 4.7.0 %s Too many messages in this "
		    "session, closing connection", conf->hostname);
		smtp_session_close(s, NULL, "too many messages");
		return;
	}
	if (m->size > conf->limit_message_size) {
		smtp_session_reply(s, "552 5.3.4 Message size exceeds fixed "
		    "maximum message size");
		return;
	}
	if (proc_peer(PROC_QUEUE) == NULL) {
		stats_add("smtp.error.queue", 1);
		smtp_session_reply(s, "451 4.3.0 Mail queue unavailable, try "
		    "again later");
		return;
	}
	if (smtp_modifiers_sender(s, m->sender) ||
	    smtp_exec_mail_nospace(s, m->size))
		return;
	if ((s->tx = smtp_tx_new()) == NULL) {
		smtp_session_reply(s, "451 4.3.0 Local error, try again later");
		return;
	}
	(void)strlcpy(s->tx->sender, m->sender, sizeof(s->tx->sender));
	(void)strlcpy(s->tx->envid, m->envid, sizeof(s->tx->envid));
	s->tx->ret = m->ret;
	s->tx->body = m->body;
	s->tx->smtputf8 = m->smtputf8;
	s->tx->requiretls = m->requiretls;
	smtp_auth_mail_param(s, m->auth, s->tx->auth, sizeof(s->tx->auth));
	if (m->auth[0] != '\0' && log_verbose_get())
		log_debug("%08x: MAIL AUTH=%s kept as %s", s->id, m->auth,
		    s->tx->auth);
	s->tx->discard = s->discard;
	(void)strlcpy(s->tx->quarantine, s->quarantine,
	    sizeof(s->tx->quarantine));
	smtp_peer_policy_query(s, POLICY_MAIL);
}

/* The second of a throttled RCPT is over: ask policyd now. */
static void
smtp_exec_rcpt_throttled(struct smtp_session *s)
{
	smtp_peer_policy_query(s, POLICY_RCPT);
	smtp_session_resume(s);
}

/*
 * limit bad-rcpt-throttle (sendmail's BadRcptThrottle): once that many
 * RCPTs of the session were refused, each further RCPT waits 1 s before
 * it is looked at; nothing else of the session runs meanwhile, and no
 * other session waits for it.  1 if this RCPT waits.
 */
static int
smtp_exec_rcpt_throttle(struct smtp_session *s)
{
	char		 relay[SMTP_SESSION_RELAY_MAX];

	if (conf->limit_bad_rcpt_throttle == 0 ||
	    s->nbadrcpt < conf->limit_bad_rcpt_throttle)
		return 0;
	if (!s->throttled) {
		s->throttled = 1;
		log_info("%08x: %s: Possible SMTP RCPT flood, throttling.",
		    s->id, smtp_session_relay(s, relay, sizeof(relay)));
	}
	stats_add("smtp.rcpt.throttled", 1);
	return smtp_session_pause(s, SMTP_EXEC_RCPT_THROTTLE,
	    smtp_exec_rcpt_throttled) == 0;
}

/* RCPT TO: the recipient waits in tx->pending for policyd's verdict. */
static void
smtp_exec_rcpt(struct smtp_session *s, struct smtp_command *cmd)
{
	struct smtp_rcptent	*p;

	if (s->state != SMTP_ST_MAIL && s->state != SMTP_ST_RCPT) {
		smtp_session_error(s, s->state == SMTP_ST_BDAT ?
		    "503 5.5.1 RCPT not allowed after BDAT" :
		    "503 5.5.1 Need MAIL before RCPT");
		return;
	}
	if (!s->tx->smtputf8 && !mailaddr_is_ascii(cmd->u.rcpt.rcpt)) {
		smtp_session_error(s, SMTP_ERR_UTF8_RCPT);
		return;
	}
	if (!s->tx->smtputf8 && cmd->u.rcpt.orcpt_unitext) {
		smtp_session_error(s, SMTP_ERR_UTF8_ORCPT);
		return;
	}
	if (smtp_privacy_dsn(cmd) != NULL) {
		smtp_session_error(s, smtp_privacy_dsn(cmd));
		return;
	}
	if (s->tx->naccepted >= conf->limit_recipients) {
		smtp_session_reply(s, "452 4.5.3 Too many recipients");
		return;
	}
	p = &s->tx->pending;
	p->rcpt = strdup(cmd->u.rcpt.rcpt);
	p->orcpt = strdup(cmd->u.rcpt.orcpt);
	p->notify = cmd->u.rcpt.notify;
	if (p->rcpt == NULL || p->orcpt == NULL) {
		smtp_tx_rcpt_clear(p);
		smtp_session_reply(s, "451 4.3.0 Local error, try again later");
		return;
	}
	if (smtp_exec_rcpt_throttle(s))
		return;
	smtp_peer_policy_query(s, POLICY_RCPT);
}

static void
smtp_exec_data(struct smtp_session *s, struct smtp_command *cmd)
{
	(void)cmd;
	switch (s->state) {
	case SMTP_ST_RCPT:
		smtp_tx_data(s);
		break;
	case SMTP_ST_MAIL:
		smtp_session_error(s, SMTP_ERR_NEED_RCPT);
		break;
	case SMTP_ST_BDAT:
		smtp_session_error(s, "503 5.5.1 DATA not allowed after BDAT");
		break;
	default:
		smtp_session_error(s, SMTP_ERR_NEED_MAIL);
		break;
	}
}

/* BDAT: the chunk's octets follow whatever we answer, so always read
 * them; out of sequence they are discarded and the chunk refused. */
static void
smtp_exec_bdat(struct smtp_session *s, struct smtp_command *cmd)
{
	if (s->state == SMTP_ST_MAIL)
		s->chunk_err = SMTP_ERR_NEED_RCPT;
	else if (s->state != SMTP_ST_RCPT && s->state != SMTP_ST_BDAT)
		s->chunk_err = SMTP_ERR_NEED_MAIL;
	smtp_tx_bdat(s, cmd->u.bdat.size, cmd->u.bdat.last);
}

static void
smtp_exec_rset(struct smtp_session *s, struct smtp_command *cmd)
{
	(void)cmd;
	smtp_tx_free(s);
	if (s->state != SMTP_ST_HELO)
		s->state = SMTP_ST_IDLE;
	smtp_session_reply(s, "250 2.0.0 Ok");
}

static void
smtp_exec_noop(struct smtp_session *s, struct smtp_command *cmd)
{
	(void)cmd;
	smtp_session_reply(s, "250 2.0.0 Ok");
}

static void
smtp_exec_quit(struct smtp_session *s, struct smtp_command *cmd)
{
	(void)cmd;
	smtp_session_reply(s, "221 2.0.0 %s closing connection",
	    conf->hostname);
	smtp_session_close(s, NULL, "quit");
}

static void
smtp_exec_help(struct smtp_session *s, struct smtp_command *cmd)
{
	(void)cmd;
	smtp_session_reply(s, "214-2.0.0 Commands: HELO EHLO MAIL RCPT DATA "
	    "BDAT RSET NOOP QUIT HELP VRFY EXPN VERB ETRN");
	smtp_session_reply(s, "214 2.0.0 End of HELP info");
}

/* STARTTLS: smtp_tls.c does the work with tlsproxy. */
static void
smtp_exec_starttls(struct smtp_session *s, struct smtp_command *cmd)
{
	(void)cmd;
	smtp_tls_starttls(s);
}

/* AUTH: smtp_auth.c relays the exchange to smtpd-auth. */
static void
smtp_exec_auth(struct smtp_session *s, struct smtp_command *cmd)
{
	smtp_auth_command(s, cmd->arg);
}

/* Indexed by enum smtp_verb. */
static const smtp_exec_fn smtp_exec_table[SMTP_CMD_COUNT] = {
	[SMTP_CMD_HELO] = smtp_exec_helo,
	[SMTP_CMD_EHLO] = smtp_exec_helo,
	[SMTP_CMD_MAIL] = smtp_exec_mail,
	[SMTP_CMD_RCPT] = smtp_exec_rcpt,
	[SMTP_CMD_DATA] = smtp_exec_data,
	[SMTP_CMD_BDAT] = smtp_exec_bdat,
	[SMTP_CMD_RSET] = smtp_exec_rset,
	[SMTP_CMD_NOOP] = smtp_exec_noop,
	[SMTP_CMD_QUIT] = smtp_exec_quit,
	[SMTP_CMD_HELP] = smtp_exec_help,
	[SMTP_CMD_VRFY] = smtp_privacy_vrfy,
	[SMTP_CMD_EXPN] = smtp_privacy_expn,
	[SMTP_CMD_STARTTLS] = smtp_exec_starttls,
	[SMTP_CMD_AUTH] = smtp_exec_auth,
	[SMTP_CMD_VERB] = smtp_privacy_verb,
	[SMTP_CMD_ETRN] = smtp_etrn_command,
};

/* tls-require before TLS: whether verb must be refused with 530. */
static int
smtp_exec_needs_tls(const struct smtp_session *s, enum smtp_verb verb)
{
	if (!(s->lflags & LISTEN_F_TLS_REQUIRE) || s->tls_state == SMTP_TLS_ON)
		return 0;
	switch (verb) {
	case SMTP_CMD_NOOP:
	case SMTP_CMD_EHLO:
	case SMTP_CMD_STARTTLS:
	case SMTP_CMD_QUIT:
		return 0;
	default:
		return 1;
	}
}

/*
 * A nullserver session (spec 2.3): all but QUIT, HELO, EHLO, NOOP and
 * RSET get the stored reply, and 25 of those end the session.  1 if the
 * command was refused here.
 */
static int
smtp_exec_nullserver(struct smtp_session *s, struct smtp_command *cmd, int r)
{
	switch (cmd->verb) {
	case SMTP_CMD_QUIT:
	case SMTP_CMD_HELO:
	case SMTP_CMD_EHLO:
	case SMTP_CMD_NOOP:
	case SMTP_CMD_RSET:
		return 0;
	default:
		break;
	}
	stats_add("smtp.nullserver.refused", 1);
	if (++s->nbad >= SMTP_NULLSERVER_MAX) {
		smtp_session_reply(s, "421 4.7.0 %s Too many bad commands; "
		    "closing connection", conf->hostname);
		smtp_session_close(s, NULL, "too many bad commands");
		return 1;
	}
	if (r == 0 && cmd->verb == SMTP_CMD_BDAT) {
		s->chunk_err = s->nullserver;
		smtp_tx_bdat(s, cmd->u.bdat.size, cmd->u.bdat.last);
	} else
		smtp_session_reply(s, "%s", s->nullserver);
	return 1;
}

/* A BDAT whose chunk is not read: reply, then close, framing lost. */
static void
smtp_exec_bdat_unframed(struct smtp_session *s, const char *reason)
{
	stats_add("smtp.error.bdat", 1);
	smtp_session_reply(s, "421 4.5.0 %s Lost BDAT framing, closing "
	    "connection", conf->hostname);
	smtp_session_close(s, NULL, reason);
}

/*
 * RFC 3030 2: the chunk's octets follow BDAT without waiting for a
 * reply.  One that cannot be parsed, or that would take the message
 * over limit message-size, is refused without reading the chunk, so
 * the session has to end.  1 if it did.
 */
static int
smtp_exec_bdat_framing(struct smtp_session *s, const struct smtp_command *cmd,
    int r, const char *err)
{
	uint64_t	 max = conf->limit_message_size, got = 0;

	if (cmd->verb != SMTP_CMD_BDAT)
		return 0;
	if (r == -1) {
		smtp_session_error(s, err);
		smtp_exec_bdat_unframed(s, "BDAT syntax error");
		return 1;
	}
	if (s->tx != NULL && s->tx->started)
		got = s->tx->data.size;
	if (got <= max && cmd->u.bdat.size <= max - got)
		return 0;
	smtp_session_reply(s, "%s", SMTP_ERR_BDAT_SIZE);
	smtp_exec_bdat_unframed(s, "BDAT chunk over limit message-size");
	return 1;
}

/* Whether a command moves no mail (Postfix's junk commands). */
static int
smtp_exec_is_junk(const struct smtp_command *cmd)
{
	switch (cmd->verb) {
	case SMTP_CMD_NOOP:
	case SMTP_CMD_RSET:
	case SMTP_CMD_VRFY:
	case SMTP_CMD_EXPN:
	case SMTP_CMD_HELP:
	case SMTP_CMD_VERB:
	case SMTP_CMD_ETRN:
		return 1;
	case SMTP_CMD_BDAT:
		return cmd->u.bdat.size == 0 && !cmd->u.bdat.last;
	default:
		return 0;
	}
}

/*
 * limit junk-commands: the one past the limit is answered 421 and ends
 * the session.  As in Postfix, an accepted message starts the count
 * over.  1 if the session ended.
 */
static int
smtp_exec_junk(struct smtp_session *s, const struct smtp_command *cmd)
{
	if (!smtp_exec_is_junk(cmd))
		return 0;
	if (s->junk_mark != s->nmessages) {
		s->junk_mark = s->nmessages;
		s->njunk = 0;
	}
	if (++s->njunk <= conf->limit_junk_commands)
		return 0;
	stats_add("smtp.error.junk", 1);
	smtp_session_reply(s, "421 4.7.0 %s Error: too many junk commands",
	    conf->hostname);
	smtp_session_close(s, NULL, "too many junk commands");
	return 1;
}

/* Before HELO/EHLO: 1 if the command was refused (privacy flags). */
static int
smtp_exec_before_helo(struct smtp_session *s, const struct smtp_command *cmd)
{
	const char	*reply;
	int		 runs;

	switch (cmd->verb) {
	case SMTP_CMD_HELO:
	case SMTP_CMD_EHLO:
	case SMTP_CMD_BDAT:
	case SMTP_CMD_QUIT:
	case SMTP_CMD_NOOP:
	case SMTP_CMD_RSET:
	case SMTP_CMD_HELP:
		return 0;
	default:
		break;
	}
	reply = smtp_privacy_before_helo(cmd->verb, &runs);
	if (runs)
		return 0;
	smtp_session_error(s, reply != NULL ? reply : SMTP_ERR_NEED_HELO);
	return 1;
}

/* An unknown command the filters saw (SMFIC_UNKNOWN): theirs is the
 * reply if they refused it, else the usual one. */
static void
smtp_exec_unknown_filtered(struct smtp_session *s, const char *reply)
{
	smtp_session_error(s, reply != NULL ? reply :
	    "500 5.5.1 Command unrecognized");
}

/* Parse and execute one command line (CRLF already removed). */
void
smtp_exec_line(struct smtp_session *s, const char *line)
{
	struct smtp_command	 cmd;
	char			 buf[SMTP_EXEC_QUALIFIED_MAX];
	const char		*err;
	int			 r;

	if ((line = smtp_modifiers_line(s, line, buf, sizeof(buf))) == NULL)
		return;
	r = smtp_command_parse(line, s->esmtp, &cmd, &err);
	if (log_verbose_get())
		log_debug("%08x: <<< %s", s->id, cmd.verb == SMTP_CMD_UNKNOWN ?
		    "(unknown command)" : smtp_command_name(cmd.verb));
	if (smtp_exec_bdat_framing(s, &cmd, r, err))
		return;
	if (r == 0 && smtp_exec_junk(s, &cmd))
		return;
	if (s->nullserver != NULL && smtp_exec_nullserver(s, &cmd, r))
		return;
	if (smtp_exec_needs_tls(s, cmd.verb)) {
		if (r == 0 && cmd.verb == SMTP_CMD_BDAT) {
			s->chunk_err = SMTP_ERR_NEED_TLS;
			smtp_tx_bdat(s, cmd.u.bdat.size, cmd.u.bdat.last);
		} else
			smtp_session_error(s, SMTP_ERR_NEED_TLS);
		return;
	}
	if (r == -1 && cmd.verb == SMTP_CMD_UNKNOWN && smtp_milter_on(s)) {
		smtp_milter_stage(s, SMFIC_UNKNOWN, line,
		    smtp_exec_unknown_filtered);
		return;
	}
	if (r == -1) {
		smtp_session_error(s, err);
		return;
	}
	if (s->state == SMTP_ST_HELO && smtp_exec_before_helo(s, &cmd))
		return;
	if (cmd.verb >= SMTP_CMD_COUNT || smtp_exec_table[cmd.verb] == NULL) {
		smtp_session_error(s, "500 5.5.1 Command unrecognized");
		return;
	}
	smtp_exec_table[cmd.verb](s, &cmd);
}
