/*
 * fuzz_smtp_command.c: libFuzzer target for smtp_command_parse(), the
 * parser of every command line a client sends (verbs, paths, ESMTP
 * parameters).  The first octet chooses HELO or EHLO mode; the rest is
 * the line, as the session hands it over (no CR, LF or NUL).
 *
 * Beyond "no crash": a refusal is a reply line "5xx x.y.z text"; an
 * accepted HELO/EHLO argument passes mailaddr_helo_valid(); an accepted
 * MAIL sender is "" or a valid mailbox, an accepted RCPT a valid
 * recipient; decoded ENVID=, AUTH= and ORCPT= values are printable
 * ASCII; and MAIL and RCPT written back out (addresses in brackets,
 * parameters in xtext) parse to the same value.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailaddr.h"
#include "proto.h"
#include "smtp_command.h"

#define LINE_MAX_FUZZ	4096

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_printable(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x20 || *s > 0x7e)
			abort();
}

static void
check_reply(const char *err)
{
	if (err == NULL || strlen(err) < 6 || (err[0] != '5') ||
	    err[3] != ' ' || strpbrk(err, "\r\n") != NULL)
		abort();
}

/* An xtext copy of s appended to a line, as a client would send it. */
static void
put_xtext(char *line, size_t size, const char *kw, const char *s)
{
	char	 x[MAILADDR_ORCPT_MAX * 3 + 1];
	size_t	 n = strlen(line);

	if (mailaddr_xtext_encode(s, x, sizeof(x)) == -1)
		abort();
	(void)snprintf(line + n, size - n, " %s=%s", kw, x);
}

static void
mail_again(const struct smtp_command *cmd)
{
	const struct smtp_mail	*m = &cmd->u.mail;
	struct smtp_command	 again;
	char			 line[LINE_MAX_FUZZ];
	const char		*err;
	size_t			 n;

	(void)snprintf(line, sizeof(line), "MAIL FROM:<%s>", m->sender);
	n = strlen(line);
	if (m->size != 0)
		(void)snprintf(line + n, sizeof(line) - n, " SIZE=%llu",
		    (unsigned long long)m->size);
	n = strlen(line);
	if (m->body != SMTP_BODY_UNSET)
		(void)snprintf(line + n, sizeof(line) - n, " BODY=%s",
		    m->body == SMTP_BODY_7BIT ? "7BIT" : "8BITMIME");
	n = strlen(line);
	if (m->ret != DSN_RET_UNSET)
		(void)snprintf(line + n, sizeof(line) - n, " RET=%s",
		    m->ret == DSN_RET_FULL ? "FULL" : "HDRS");
	if (m->envid[0] != '\0')
		put_xtext(line, sizeof(line), "ENVID", m->envid);
	if (strcmp(m->auth, "<>") == 0)
		(void)strlcat(line, " AUTH=<>", sizeof(line));
	else if (m->auth[0] != '\0')
		put_xtext(line, sizeof(line), "AUTH", m->auth);
	if (smtp_command_parse(line, 1, &again, &err) == -1 ||
	    again.verb != SMTP_CMD_MAIL ||
	    memcmp(&again.u.mail, m, sizeof(*m)) != 0)
		abort();
}

static void
rcpt_again(const struct smtp_command *cmd)
{
	const struct smtp_rcpt	*r = &cmd->u.rcpt;
	struct smtp_command	 again;
	char			 line[LINE_MAX_FUZZ];
	const char		*err, *semi;
	size_t			 n;

	(void)snprintf(line, sizeof(line), "RCPT TO:<%s>", r->rcpt);
	n = strlen(line);
	if (r->notify & DSN_NOTIFY_NEVER)
		(void)snprintf(line + n, sizeof(line) - n, " NOTIFY=NEVER");
	else if (r->notify != 0)
		(void)snprintf(line + n, sizeof(line) - n, " NOTIFY=%s%s%s",
		    r->notify & DSN_NOTIFY_SUCCESS ? "SUCCESS," : "",
		    r->notify & DSN_NOTIFY_FAILURE ? "FAILURE," : "",
		    r->notify & DSN_NOTIFY_DELAY ? "DELAY," : "");
	if (r->notify != 0 && !(r->notify & DSN_NOTIFY_NEVER))
		line[strlen(line) - 1] = '\0';	/* the last comma */
	if (r->orcpt[0] != '\0') {
		if ((semi = strchr(r->orcpt, ';')) == NULL)
			abort();
		n = strlen(line);
		(void)snprintf(line + n, sizeof(line) - n, " ORCPT=%.*s;",
		    (int)(semi - r->orcpt), r->orcpt);
		n = strlen(line);
		if (mailaddr_xtext_encode(semi + 1, line + n,
		    sizeof(line) - n) == -1)
			abort();
	}
	/* the xtext written is never longer than the one received */
	if (smtp_command_parse(line, 1, &again, &err) == -1 ||
	    again.verb != SMTP_CMD_RCPT ||
	    memcmp(&again.u.rcpt, r, sizeof(*r)) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct smtp_command	 cmd;
	char			*line;
	const char		*err = NULL;
	int			 esmtp;

	if (len < 1 || len > LINE_MAX_FUZZ)
		return 0;
	esmtp = data[0] & 1;
	if (memchr(data + 1, '\0', len - 1) != NULL ||
	    memchr(data + 1, '\r', len - 1) != NULL ||
	    memchr(data + 1, '\n', len - 1) != NULL)
		return 0;
	if ((line = malloc(len)) == NULL)
		return 0;
	memcpy(line, data + 1, len - 1);
	line[len - 1] = '\0';
	if (smtp_command_parse(line, esmtp, &cmd, &err) == -1) {
		check_reply(err);
		free(line);
		return 0;
	}
	switch (cmd.verb) {
	case SMTP_CMD_HELO:
	case SMTP_CMD_EHLO:
		if (!mailaddr_helo_valid(cmd.arg))
			abort();
		break;
	case SMTP_CMD_MAIL:
		if (cmd.u.mail.sender[0] != '\0' &&
		    !mailaddr_mailbox_valid(cmd.u.mail.sender))
			abort();
		check_printable(cmd.u.mail.envid);
		check_printable(cmd.u.mail.auth);
		mail_again(&cmd);
		break;
	case SMTP_CMD_RCPT:
		if (!mailaddr_rcpt_valid(cmd.u.rcpt.rcpt))
			abort();
		check_printable(cmd.u.rcpt.orcpt);
		rcpt_again(&cmd);
		break;
	default:
		break;
	}
	free(line);
	return 0;
}
