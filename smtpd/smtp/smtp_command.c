/*
 * smtp_command.c: parse one SMTP command line into a struct smtp_command
 * (RFC 5321 4.1, with the parameters of SIZE (RFC 1870), 8BITMIME
 * (RFC 6152), DSN (RFC 3461), AUTH (RFC 4954), CHUNKING (RFC 3030) and
 * SMTPUTF8 (RFC 6531)).  A path may hold UTF-8 whether or not SMTPUTF8
 * was given: refusing it without is the session's (553 5.6.7).
 *
 * Pure functions, no state: the session decides what a command means in
 * its current state.  Every refusal is a complete reply line from the
 * static texts below, which smtp-doc.txt lists.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto.h"
#include "smtp_command.h"

/* One verb: its name and the function that parses its argument. */
struct smtp_verb_def {
	const char	*name;
	enum smtp_verb	 verb;
	int		(*parse)(const char *, int, struct smtp_command *,
			    const char **);
};

/* How a parameter's keyword=value is handed to its parser. */
struct smtp_param_def {
	const char	*keyword;
	unsigned	 bit;		/* to refuse duplicates */
	int		(*parse)(const char *, struct smtp_command *);
	const char	*err;
	/* replies of their own for a repeated or an empty parameter
	 * (sendmail's for AUTH=, spec 8); NULL: the generic ones */
	const char	*err_dup;
	const char	*err_empty;
	/* a keyword that takes no value (SMTPUTF8) */
	int		 novalue;
};

#define SMTP_ERR_PARAM_EHLO	"555 5.5.4 Parameters need EHLO"
#define SMTP_ERR_PARAM_UNKNOWN	"555 5.5.4 Unsupported parameter"
#define SMTP_ERR_PARAM_DUP	"555 5.5.4 Duplicate parameter"
#define SMTP_ERR_NOARGS		"501 5.5.4 Syntax error, no parameters allowed"

/* Parse an unsigned decimal of at most 20 digits; -1 on overflow/junk. */
static int
smtp_command_number(const char *s, size_t len, uint64_t *v)
{
	size_t	 i;

	if (len == 0 || len > 20)
		return -1;
	*v = 0;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (*v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		*v = *v * 10 + (uint64_t)(s[i] - '0');
	}
	return 0;
}

static int
smtp_param_size(const char *v, struct smtp_command *cmd)
{
	return smtp_command_number(v, strlen(v), &cmd->u.mail.size);
}

static int
smtp_param_body(const char *v, struct smtp_command *cmd)
{
	if (strcasecmp(v, "7BIT") == 0)
		cmd->u.mail.body = SMTP_BODY_7BIT;
	else if (strcasecmp(v, "8BITMIME") == 0)
		cmd->u.mail.body = SMTP_BODY_8BITMIME;
	else
		return -1;
	return 0;
}

static int
smtp_param_ret(const char *v, struct smtp_command *cmd)
{
	if (strcasecmp(v, "FULL") == 0)
		cmd->u.mail.ret = DSN_RET_FULL;
	else if (strcasecmp(v, "HDRS") == 0)
		cmd->u.mail.ret = DSN_RET_HDRS;
	else
		return -1;
	return 0;
}

static int
smtp_param_envid(const char *v, struct smtp_command *cmd)
{
	if (*v == '\0' || strlen(v) > MAILADDR_ENVID_MAX)
		return -1;
	return mailaddr_xtext_decode(v, cmd->u.mail.envid,
	    sizeof(cmd->u.mail.envid));
}

/* AUTH=<mailbox as xtext> or AUTH=<>: decoded; the session decides
 * whether it is trusted (smtp_auth_mail_param()). */
static int
smtp_param_auth(const char *v, struct smtp_command *cmd)
{
	if (strcmp(v, "<>") == 0) {
		(void)strlcpy(cmd->u.mail.auth, v, sizeof(cmd->u.mail.auth));
		return 0;
	}
	if (*v == '\0' || !mailaddr_xtext_valid(v))
		return -1;
	return mailaddr_xtext_decode(v, cmd->u.mail.auth,
	    sizeof(cmd->u.mail.auth));
}

/* NOTIFY=NEVER or a list of SUCCESS, FAILURE, DELAY. */
static int
smtp_param_notify(const char *v, struct smtp_command *cmd)
{
	static const struct {
		const char	*name;
		uint32_t	 bit;
	} kw[] = {
		{ "SUCCESS", DSN_NOTIFY_SUCCESS },
		{ "FAILURE", DSN_NOTIFY_FAILURE },
		{ "DELAY", DSN_NOTIFY_DELAY },
	};
	size_t	 i, n;

	if (strcasecmp(v, "NEVER") == 0) {
		cmd->u.rcpt.notify = DSN_NOTIFY_NEVER;
		return 0;
	}
	for (;;) {
		n = strcspn(v, ",");
		for (i = 0; i < sizeof(kw) / sizeof(kw[0]); i++)
			if (strlen(kw[i].name) == n &&
			    strncasecmp(v, kw[i].name, n) == 0)
				break;
		if (i == sizeof(kw) / sizeof(kw[0]))
			return -1;
		cmd->u.rcpt.notify |= kw[i].bit;
		if (v[n] == '\0')
			return 0;
		v += n + 1;
	}
}

/*
 * ORCPT=addr-type;xtext, kept as "addr-type;decoded".  The utf-8 type
 * (RFC 6533 3) is not xtext but utf-8-addr-xtext, or utf-8-addr-unitext
 * with UTF-8 as it is, which only a transaction with SMTPUTF8 may carry
 * (the session checks orcpt_unitext); both are kept as the address in
 * UTF-8.
 */
static int
smtp_param_orcpt(const char *v, struct smtp_command *cmd)
{
	char	*out = cmd->u.rcpt.orcpt;
	size_t	 i, n = strcspn(v, ";");

	if (n == 0 || v[n] != ';' || v[n + 1] == '\0' ||
	    strlen(v) > MAILADDR_ORCPT_MAX)
		return -1;
	for (i = 0; i < n; i++) {
		if (!isalnum((unsigned char)v[i]) && v[i] != '-')
			return -1;
		out[i] = (char)tolower((unsigned char)v[i]);
	}
	out[n] = ';';
	if (strncmp(out, "utf-8;", 6) == 0) {
		cmd->u.rcpt.orcpt_unitext = !mailaddr_is_ascii(v + n + 1);
		return mailaddr_uxtext_decode(v + n + 1, 1, out + n + 1,
		    sizeof(cmd->u.rcpt.orcpt) - n - 1);
	}
	return mailaddr_xtext_decode(v + n + 1, out + n + 1,
	    sizeof(cmd->u.rcpt.orcpt) - n - 1);
}

static int
smtp_param_smtputf8(const char *v, struct smtp_command *cmd)
{
	(void)v;
	cmd->u.mail.smtputf8 = 1;
	return 0;
}

static int
smtp_param_requiretls(const char *v, struct smtp_command *cmd)
{
	(void)v;
	cmd->u.mail.requiretls = 1;
	return 0;
}

static const struct smtp_param_def smtp_mail_params[] = {
	{ "SIZE", 0x01, smtp_param_size, "555 5.5.4 Invalid SIZE value",
	    NULL, NULL, 0 },
	{ "BODY", 0x02, smtp_param_body, "555 5.5.4 Invalid BODY value",
	    NULL, NULL, 0 },
	{ "RET", 0x04, smtp_param_ret, "555 5.5.4 Invalid RET value",
	    NULL, NULL, 0 },
	{ "ENVID", 0x08, smtp_param_envid, "555 5.5.4 Invalid ENVID value",
	    NULL, NULL, 0 },
	{ "AUTH", 0x10, smtp_param_auth,
	    "501 5.5.4 Syntax error in AUTH parameter value",
	    "501 5.5.0 Duplicate AUTH parameter",
	    "501 5.5.2 AUTH= requires a value", 0 },
	{ "SMTPUTF8", 0x20, smtp_param_smtputf8,
	    "555 5.5.4 SMTPUTF8 takes no value", NULL, NULL, 1 },
	{ "REQUIRETLS", 0x40, smtp_param_requiretls,
	    "555 5.5.4 REQUIRETLS takes no value", NULL, NULL, 1 },
};

static const struct smtp_param_def smtp_rcpt_params[] = {
	{ "NOTIFY", 0x01, smtp_param_notify,
	    "555 5.5.4 Invalid NOTIFY value",
	    NULL, NULL, 0 },
	{ "ORCPT", 0x02, smtp_param_orcpt, "555 5.5.4 Invalid ORCPT value",
	    NULL, NULL, 0 },
};

/* Parse one "KEYWORD=value" (value required) against a table. */
static int
smtp_command_param(char *kv, const struct smtp_param_def *defs, size_t n,
    unsigned *seen, struct smtp_command *cmd, const char **err)
{
	char	*val;
	size_t	 i;

	if ((val = strchr(kv, '=')) != NULL)
		*val++ = '\0';
	for (i = 0; i < n; i++)
		if (strcasecmp(kv, defs[i].keyword) == 0)
			break;
	if (i < n && defs[i].novalue && val != NULL) {
		*err = defs[i].err;
		return -1;
	}
	if (i == n || (val == NULL && defs[i].err_empty == NULL &&
	    !defs[i].novalue)) {
		*err = SMTP_ERR_PARAM_UNKNOWN;
		return -1;
	}
	if (*seen & defs[i].bit) {
		*err = defs[i].err_dup != NULL ? defs[i].err_dup :
		    SMTP_ERR_PARAM_DUP;
		return -1;
	}
	if ((val == NULL || *val == '\0') && defs[i].err_empty != NULL) {
		*err = defs[i].err_empty;
		return -1;
	}
	*seen |= defs[i].bit;
	if (defs[i].parse(val, cmd) == -1) {
		*err = defs[i].err;
		return -1;
	}
	return 0;
}

/* Parse the space-separated parameters that follow a path. */
static int
smtp_command_params(const char *p, int esmtp,
    const struct smtp_param_def *defs, size_t n, struct smtp_command *cmd,
    const char **err)
{
	char		 kv[MAILADDR_ORCPT_MAX + 32];
	size_t		 len;
	unsigned	 seen = 0;

	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return 0;
		if (!esmtp) {
			*err = SMTP_ERR_PARAM_EHLO;
			return -1;
		}
		len = strcspn(p, " ");
		if (len >= sizeof(kv)) {
			*err = SMTP_ERR_PARAM_UNKNOWN;
			return -1;
		}
		memcpy(kv, p, len);
		kv[len] = '\0';
		if (smtp_command_param(kv, defs, n, &seen, cmd, err) == -1)
			return -1;
		p += len;
	}
}

/* "FROM:" or "TO:" then optional spaces; NULL if the prefix is missing. */
static const char *
smtp_command_prefix(const char *arg, const char *prefix)
{
	size_t	 n = strlen(prefix);

	if (strncasecmp(arg, prefix, n) != 0)
		return NULL;
	arg += n;
	while (*arg == ' ')
		arg++;
	return arg;
}

static int
smtp_parse_helo(const char *arg, int esmtp, struct smtp_command *cmd,
    const char **err)
{
	(void)esmtp;
	if (*arg == '\0') {
		*err = cmd->verb == SMTP_CMD_EHLO ?
		    "501 5.5.2 Syntax: EHLO hostname" :
		    "501 5.5.2 Syntax: HELO hostname";
		return -1;
	}
	if (!mailaddr_helo_valid(arg)) {
		*err = "501 5.5.2 Invalid domain name or address literal";
		return -1;
	}
	return 0;
}

/* How one of MAIL and RCPT is parsed, and the replies it gives. */
struct smtp_path_def {
	const char			*prefix;	/* "FROM:" */
	int				 flags;	/* MAILADDR_F_* */
	const char			*err_syntax;
	const char			*err_bad;
	const char			*err_long;
	const struct smtp_param_def	*params;
	size_t				 nparams;
};

static const struct smtp_path_def smtp_path_mail = {
	"FROM:", MAILADDR_F_NULL,
	"501 5.5.2 Syntax: MAIL FROM:<address>",
	"501 5.1.7 Bad sender address syntax",
	"501 5.1.7 Sender address too long",
	smtp_mail_params, sizeof(smtp_mail_params) / sizeof(smtp_mail_params[0])
};

static const struct smtp_path_def smtp_path_rcpt = {
	"TO:", MAILADDR_F_POSTMASTER,
	"501 5.5.2 Syntax: RCPT TO:<address>",
	"501 5.1.3 Bad recipient address syntax",
	"501 5.1.3 Recipient address too long",
	smtp_rcpt_params, sizeof(smtp_rcpt_params) / sizeof(smtp_rcpt_params[0])
};

/* "FROM:<path> params" or "TO:<path> params": the path into buf. */
static int
smtp_parse_path(const char *arg, int esmtp, const struct smtp_path_def *def,
    char *buf, size_t size, struct smtp_command *cmd, const char **err)
{
	const char	*p, *end;

	if ((p = smtp_command_prefix(arg, def->prefix)) == NULL || *p == '\0') {
		*err = def->err_syntax;
		return -1;
	}
	switch (mailaddr_path_parse(p, def->flags, buf, size, &end)) {
	case MAILADDR_OK:
		break;
	case MAILADDR_TOOLONG:
		*err = def->err_long;
		return -1;
	default:
		*err = def->err_bad;
		return -1;
	}
	if (*end != '\0' && *end != ' ') {
		*err = def->err_bad;
		return -1;
	}
	return smtp_command_params(end, esmtp, def->params, def->nparams, cmd,
	    err);
}

static int
smtp_parse_mail(const char *arg, int esmtp, struct smtp_command *cmd,
    const char **err)
{
	return smtp_parse_path(arg, esmtp, &smtp_path_mail,
	    cmd->u.mail.sender, sizeof(cmd->u.mail.sender), cmd, err);
}

static int
smtp_parse_rcpt(const char *arg, int esmtp, struct smtp_command *cmd,
    const char **err)
{
	return smtp_parse_path(arg, esmtp, &smtp_path_rcpt,
	    cmd->u.rcpt.rcpt, sizeof(cmd->u.rcpt.rcpt), cmd, err);
}

/* BDAT chunk-size [LAST] */
static int
smtp_parse_bdat(const char *arg, int esmtp, struct smtp_command *cmd,
    const char **err)
{
	size_t	 n = strcspn(arg, " ");

	(void)esmtp;
	*err = "501 5.5.4 Syntax: BDAT size [LAST]";
	if (smtp_command_number(arg, n, &cmd->u.bdat.size) == -1)
		return -1;
	if (arg[n] == '\0')
		return 0;
	if (strcasecmp(arg + n + 1, "LAST") != 0)
		return -1;
	cmd->u.bdat.last = 1;
	return 0;
}

static int
smtp_parse_noargs(const char *arg, int esmtp, struct smtp_command *cmd,
    const char **err)
{
	(void)esmtp;
	(void)cmd;
	if (*arg != '\0') {
		*err = SMTP_ERR_NOARGS;
		return -1;
	}
	return 0;
}

static int
smtp_parse_anyargs(const char *arg, int esmtp, struct smtp_command *cmd,
    const char **err)
{
	(void)arg;
	(void)esmtp;
	(void)cmd;
	(void)err;
	return 0;
}

/* VRFY and EXPN need an argument; what it says is not looked at. */
static int
smtp_parse_needarg(const char *arg, int esmtp, struct smtp_command *cmd,
    const char **err)
{
	(void)esmtp;
	if (*arg == '\0') {
		*err = cmd->verb == SMTP_CMD_VRFY ?
		    "501 5.5.2 Syntax: VRFY address" :
		    "501 5.5.2 Syntax: EXPN list";
		return -1;
	}
	return 0;
}

static const struct smtp_verb_def smtp_verbs[] = {
	{ "HELO",	SMTP_CMD_HELO,		smtp_parse_helo },
	{ "EHLO",	SMTP_CMD_EHLO,		smtp_parse_helo },
	{ "MAIL",	SMTP_CMD_MAIL,		smtp_parse_mail },
	{ "RCPT",	SMTP_CMD_RCPT,		smtp_parse_rcpt },
	{ "DATA",	SMTP_CMD_DATA,		smtp_parse_noargs },
	{ "BDAT",	SMTP_CMD_BDAT,		smtp_parse_bdat },
	{ "RSET",	SMTP_CMD_RSET,		smtp_parse_noargs },
	{ "NOOP",	SMTP_CMD_NOOP,		smtp_parse_anyargs },
	{ "QUIT",	SMTP_CMD_QUIT,		smtp_parse_noargs },
	{ "HELP",	SMTP_CMD_HELP,		smtp_parse_anyargs },
	{ "VRFY",	SMTP_CMD_VRFY,		smtp_parse_needarg },
	{ "EXPN",	SMTP_CMD_EXPN,		smtp_parse_needarg },
	{ "STARTTLS",	SMTP_CMD_STARTTLS,	smtp_parse_noargs },
	{ "AUTH",	SMTP_CMD_AUTH,		smtp_parse_anyargs },
	{ "VERB",	SMTP_CMD_VERB,		smtp_parse_anyargs },
	{ "ETRN",	SMTP_CMD_ETRN,		smtp_parse_anyargs },
};

const char *
smtp_command_name(enum smtp_verb verb)
{
	size_t	 i;

	for (i = 0; i < sizeof(smtp_verbs) / sizeof(smtp_verbs[0]); i++)
		if (smtp_verbs[i].verb == verb)
			return smtp_verbs[i].name;
	return "UNKNOWN";
}

int
smtp_command_parse(const char *line, int esmtp, struct smtp_command *cmd,
    const char **err)
{
	const struct smtp_verb_def	*def = NULL;
	size_t				 i, n = strcspn(line, " ");

	memset(cmd, 0, sizeof(*cmd));
	cmd->verb = SMTP_CMD_UNKNOWN;
	cmd->arg = "";
	for (i = 0; i < sizeof(smtp_verbs) / sizeof(smtp_verbs[0]); i++)
		if (strlen(smtp_verbs[i].name) == n &&
		    strncasecmp(line, smtp_verbs[i].name, n) == 0)
			def = &smtp_verbs[i];
	if (def == NULL) {
		*err = "500 5.5.1 Command unrecognized";
		return -1;
	}
	cmd->verb = def->verb;
	if (line[n] == ' ')
		cmd->arg = line + n + 1;
	return def->parse(cmd->arg, esmtp, cmd, err);
}
