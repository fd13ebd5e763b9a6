/*
 * smtp_command.h: one SMTP command line parsed into a typed value.
 *
 * smtp_command_parse() is a pure function: it takes a command line
 * (without its CRLF, already checked for bare CR, LF and NUL by the
 * session) and fills a struct smtp_command, or answers with the complete
 * reply line the client must get ("501 5.5.2 ..."), which is a static
 * string.  Nothing else in the front end looks at raw command text.
 */
#ifndef SMTP_COMMAND_H
#define SMTP_COMMAND_H

#include <stdint.h>

#include "mailaddr.h"

enum smtp_verb {
	SMTP_CMD_UNKNOWN = 0,
	SMTP_CMD_HELO,
	SMTP_CMD_EHLO,
	SMTP_CMD_MAIL,
	SMTP_CMD_RCPT,
	SMTP_CMD_DATA,
	SMTP_CMD_BDAT,
	SMTP_CMD_RSET,
	SMTP_CMD_NOOP,
	SMTP_CMD_QUIT,
	SMTP_CMD_HELP,
	SMTP_CMD_VRFY,
	SMTP_CMD_EXPN,
	SMTP_CMD_STARTTLS,
	SMTP_CMD_AUTH,
	SMTP_CMD_VERB,
	SMTP_CMD_ETRN,
	SMTP_CMD_COUNT
};

/* BODY= of MAIL FROM (RFC 6152). */
enum smtp_body {
	SMTP_BODY_UNSET = 0,
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME
};

/* MAIL FROM:<sender> and its ESMTP parameters. */
struct smtp_mail {
	char		 sender[MAILADDR_PATH_MAX];	/* "" for <> */
	uint64_t	 size;			/* SIZE=, 0 if not given */
	enum smtp_body	 body;
	uint32_t	 ret;			/* enum dsn_ret */
	char		 envid[MAILADDR_ENVID_MAX + 1];	/* decoded */
	/* AUTH= (RFC 4954 5), decoded; "" if not given */
	char		 auth[MAILADDR_PATH_MAX];
	/* SMTPUTF8 (RFC 6531 3.4): the transaction may carry UTF-8 */
	int		 smtputf8;
	/* REQUIRETLS (RFC 8689 3): relay only over authenticated TLS */
	int		 requiretls;
};

/* RCPT TO:<recipient> and its ESMTP parameters. */
struct smtp_rcpt {
	char		 rcpt[MAILADDR_PATH_MAX];
	uint32_t	 notify;		/* DSN_NOTIFY_* bits, 0 unset */
	/* "addr-type;decoded address" ("" if no ORCPT=) */
	char		 orcpt[MAILADDR_ORCPT_MAX + 1];
	/* ORCPT=utf-8; held UTF-8 as it is (RFC 6533 utf-8-addr-unitext) */
	int		 orcpt_unitext;
};

/* BDAT size [LAST] (RFC 3030). */
struct smtp_bdat {
	uint64_t	 size;
	int		 last;
};

struct smtp_command {
	enum smtp_verb	 verb;
	/* the text after the verb and one space ("" if none); points into
	 * the parsed line */
	const char	*arg;
	union {
		struct smtp_mail	 mail;
		struct smtp_rcpt	 rcpt;
		struct smtp_bdat	 bdat;
	}		 u;
};

/*
 * Parse line into cmd.  esmtp says whether EHLO was given (parameters
 * are refused after HELO).  Returns 0, or -1 with *err set to the reply
 * line (without CRLF).  cmd->verb is set even on error when the verb was
 * recognised.
 */
int		 smtp_command_parse(const char *line, int esmtp,
		    struct smtp_command *cmd, const char **err);
/* The verb in upper case ("MAIL"), for logs. */
const char	*smtp_command_name(enum smtp_verb);

#endif
