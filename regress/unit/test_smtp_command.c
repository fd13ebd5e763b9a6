/*
 * test_smtp_command.c: parsing of every SMTP command and ESMTP
 * parameter into typed values, and the reply for each refusal.
 */
#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "smtp_command.h"
#include "unit.h"

static struct smtp_command	 cmd;
static const char		*err;

/* Parse with EHLO given; 1 if it parsed. */
static int
ok(const char *line)
{
	err = NULL;
	return smtp_command_parse(line, 1, &cmd, &err) == 0;
}

/* 1 if line is refused with a reply starting with want. */
static int
refused(const char *line, int esmtp, const char *want)
{
	err = NULL;
	if (smtp_command_parse(line, esmtp, &cmd, &err) != -1 || err == NULL)
		return 0;
	return strncmp(err, want, strlen(want)) == 0;
}

static void
test_verbs(void)
{
	UNIT_CHECK(ok("EHLO mail.example.com") && cmd.verb == SMTP_CMD_EHLO &&
	    strcmp(cmd.arg, "mail.example.com") == 0, "EHLO");
	UNIT_CHECK(ok("helo [192.0.2.1]") && cmd.verb == SMTP_CMD_HELO,
	    "helo in lower case with literal");
	UNIT_CHECK(refused("EHLO", 1, "501 5.5.2 Syntax: EHLO"),
	    "EHLO without argument");
	UNIT_CHECK(refused("HELO", 1, "501 5.5.2 Syntax: HELO"),
	    "HELO without argument");
	UNIT_CHECK(refused("EHLO bad_name", 1, "501 5.5.2 Invalid domain"),
	    "EHLO with invalid domain");
	UNIT_CHECK(refused("EHLO a b", 1, "501 5.5.2 Invalid domain"),
	    "EHLO with two words");
	UNIT_CHECK(ok("DATA") && cmd.verb == SMTP_CMD_DATA, "DATA");
	UNIT_CHECK(refused("DATA x", 1, "501 5.5.4"), "DATA with argument");
	UNIT_CHECK(ok("RSET") && cmd.verb == SMTP_CMD_RSET, "RSET");
	UNIT_CHECK(ok("QUIT") && cmd.verb == SMTP_CMD_QUIT, "QUIT");
	UNIT_CHECK(refused("QUIT now", 1, "501 5.5.4"), "QUIT with argument");
	UNIT_CHECK(ok("NOOP") && ok("NOOP anything") &&
	    cmd.verb == SMTP_CMD_NOOP, "NOOP with and without argument");
	UNIT_CHECK(ok("HELP") && ok("HELP MAIL") && cmd.verb == SMTP_CMD_HELP,
	    "HELP");
	UNIT_CHECK(ok("VRFY root") && cmd.verb == SMTP_CMD_VRFY, "VRFY");
	UNIT_CHECK(refused("VRFY", 1, "501 5.5.2 Syntax: VRFY"),
	    "VRFY without argument");
	UNIT_CHECK(ok("EXPN staff") && cmd.verb == SMTP_CMD_EXPN, "EXPN");
	UNIT_CHECK(refused("EXPN", 1, "501 5.5.2 Syntax: EXPN"),
	    "EXPN without argument");
	UNIT_CHECK(ok("VERB") && cmd.verb == SMTP_CMD_VERB, "VERB");
	UNIT_CHECK(ok("etrn @example.org") && cmd.verb == SMTP_CMD_ETRN &&
	    strcmp(cmd.arg, "@example.org") == 0, "ETRN and its argument");
	UNIT_CHECK(ok("ETRN") && cmd.arg[0] == '\0',
	    "ETRN without argument: the session answers it");
	UNIT_CHECK(ok("STARTTLS") && cmd.verb == SMTP_CMD_STARTTLS,
	    "STARTTLS");
	UNIT_CHECK(ok("AUTH PLAIN") && cmd.verb == SMTP_CMD_AUTH, "AUTH");
	UNIT_CHECK(refused("FOO", 1, "500 5.5.1") &&
	    cmd.verb == SMTP_CMD_UNKNOWN, "unknown verb");
	UNIT_CHECK(refused("MAILX FROM:<a@b.c>", 1, "500 5.5.1"),
	    "verb prefix is not the verb");
	UNIT_CHECK(refused("", 1, "500 5.5.1"), "empty line");
	UNIT_CHECK(strcmp(smtp_command_name(SMTP_CMD_BDAT), "BDAT") == 0,
	    "command names");
}

static void
test_mail(void)
{
	UNIT_CHECK(ok("MAIL FROM:<a@example.com>") &&
	    cmd.verb == SMTP_CMD_MAIL &&
	    strcmp(cmd.u.mail.sender, "a@example.com") == 0 &&
	    cmd.u.mail.size == 0 && cmd.u.mail.body == SMTP_BODY_UNSET,
	    "MAIL FROM");
	UNIT_CHECK(ok("mail from:<>") && cmd.u.mail.sender[0] == '\0',
	    "null sender, lower case");
	UNIT_CHECK(ok("MAIL FROM: <a@example.com>"), "space after colon");
	UNIT_CHECK(refused("MAIL <a@example.com>", 1, "501 5.5.2 Syntax: MAIL"),
	    "MAIL without FROM:");
	UNIT_CHECK(refused("MAIL FROM:", 1, "501 5.5.2 Syntax: MAIL"),
	    "MAIL FROM: without path");
	UNIT_CHECK(refused("MAIL FROM:a@example.com", 1, "501 5.1.7"),
	    "sender without brackets");
	UNIT_CHECK(refused("MAIL FROM:<a@example.com>x", 1, "501 5.1.7"),
	    "junk after path");
	UNIT_CHECK(ok("MAIL FROM:<a@example.com> SIZE=1000 BODY=8BITMIME "
	    "RET=HDRS ENVID=abc+2Bd AUTH=<>") && cmd.u.mail.size == 1000 &&
	    cmd.u.mail.body == SMTP_BODY_8BITMIME &&
	    cmd.u.mail.ret == DSN_RET_HDRS &&
	    strcmp(cmd.u.mail.envid, "abc+d") == 0, "every MAIL parameter");
	UNIT_CHECK(ok("MAIL FROM:<> body=7bit ret=full") &&
	    cmd.u.mail.body == SMTP_BODY_7BIT &&
	    cmd.u.mail.ret == DSN_RET_FULL, "parameters in lower case");
	UNIT_CHECK(ok("MAIL FROM:<> AUTH=user+40example.com"),
	    "AUTH= xtext accepted");
	UNIT_CHECK(refused("MAIL FROM:<> SIZE=1000", 0,
	    "555 5.5.4 Parameters need EHLO"), "parameters after HELO");
	UNIT_CHECK(refused("MAIL FROM:<> SIZE=10x", 1,
	    "555 5.5.4 Invalid SIZE"), "bad SIZE");
	UNIT_CHECK(refused("MAIL FROM:<> SIZE=", 1, "555 5.5.4 Invalid SIZE"),
	    "empty SIZE");
	UNIT_CHECK(refused("MAIL FROM:<> SIZE=99999999999999999999999", 1,
	    "555 5.5.4 Invalid SIZE"), "SIZE overflow");
	UNIT_CHECK(refused("MAIL FROM:<> BODY=BINARYMIME", 1,
	    "555 5.5.4 Invalid BODY"), "bad BODY");
	UNIT_CHECK(refused("MAIL FROM:<> RET=ALL", 1, "555 5.5.4 Invalid RET"),
	    "bad RET");
	UNIT_CHECK(refused("MAIL FROM:<> ENVID=a+0Db", 1,
	    "555 5.5.4 Invalid ENVID"), "ENVID with encoded CR");
	UNIT_CHECK(refused("MAIL FROM:<> AUTH=a=b", 1,
	    "501 5.5.4 Syntax error in AUTH parameter value"), "bad AUTH");
	UNIT_CHECK(refused("MAIL FROM:<> AUTH=", 1,
	    "501 5.5.2 AUTH= requires a value"), "empty AUTH");
	UNIT_CHECK(refused("MAIL FROM:<> AUTH", 1,
	    "501 5.5.2 AUTH= requires a value"), "AUTH without =");
	UNIT_CHECK(refused("MAIL FROM:<> AUTH=<> AUTH=<>", 1,
	    "501 5.5.0 Duplicate AUTH parameter"), "duplicate AUTH");
	UNIT_CHECK(ok("MAIL FROM:<> AUTH=u+2Bx+40example.com") &&
	    strcmp(cmd.u.mail.auth, "u+x@example.com") == 0,
	    "AUTH= decoded");
	UNIT_CHECK(refused("MAIL FROM:<> SIZE=1 SIZE=2", 1,
	    "555 5.5.4 Duplicate"), "duplicate parameter");
	UNIT_CHECK(refused("MAIL FROM:<> FOO=bar", 1,
	    "555 5.5.4 Unsupported"), "unknown parameter");
	UNIT_CHECK(refused("MAIL FROM:<> SIZE", 1,
	    "555 5.5.4 Unsupported"), "parameter without value");
	UNIT_CHECK(ok("MAIL FROM:<j\xc3\xb6rg@example.com> SMTPUTF8") &&
	    cmd.u.mail.smtputf8 == 1, "SMTPUTF8 (RFC 6531)");
	UNIT_CHECK(ok("MAIL FROM:<a@example.com>") && cmd.u.mail.smtputf8 == 0,
	    "no SMTPUTF8");
	UNIT_CHECK(refused("MAIL FROM:<> SMTPUTF8=1", 1,
	    "555 5.5.4 SMTPUTF8 takes no value"), "SMTPUTF8 with a value");
	UNIT_CHECK(refused("MAIL FROM:<> SMTPUTF8 SMTPUTF8", 1,
	    "555 5.5.4 Duplicate"), "SMTPUTF8 twice");
	UNIT_CHECK(refused("MAIL FROM:<> NOTIFY=NEVER", 1,
	    "555 5.5.4 Unsupported"), "RCPT parameter on MAIL");
}

/* RFC 3461 4: a RCPT line with a long ORCPT is far over 512 octets. */
static void
test_rcpt_long(void)
{
	char	 line[1200], orcpt[MAILADDR_ORCPT_MAX + 1];
	size_t	 n;

	memset(orcpt, 'o', sizeof(orcpt));
	memcpy(orcpt, "rfc822;", 7);
	orcpt[MAILADDR_ORCPT_MAX] = '\0';
	n = (size_t)snprintf(line, sizeof(line), "RCPT TO:<%060d@example.org> "
	    "NOTIFY=SUCCESS,FAILURE ORCPT=%s", 0, orcpt);
	UNIT_CHECK(n > 600 && ok(line) &&
	    strlen(cmd.u.rcpt.orcpt) == MAILADDR_ORCPT_MAX,
	    "RCPT with a maximal ORCPT parses (line over 512 octets)");
	orcpt[MAILADDR_ORCPT_MAX - 1] = '\0';
	(void)snprintf(line, sizeof(line), "RCPT TO:<b@example.org> ORCPT=%so"
	    "o", orcpt);
	UNIT_CHECK(refused(line, 1, "555 5.5.4"), "ORCPT over 500 octets");
}

static void
test_rcpt(void)
{
	UNIT_CHECK(ok("RCPT TO:<b@example.org>") && cmd.verb == SMTP_CMD_RCPT &&
	    strcmp(cmd.u.rcpt.rcpt, "b@example.org") == 0 &&
	    cmd.u.rcpt.notify == 0 && cmd.u.rcpt.orcpt[0] == '\0',
	    "RCPT TO");
	UNIT_CHECK(ok("RCPT TO:<Postmaster>") &&
	    strcmp(cmd.u.rcpt.rcpt, "Postmaster") == 0, "RCPT TO:<Postmaster>");
	UNIT_CHECK(refused("RCPT TO:<>", 1, "501 5.1.3"), "null recipient");
	UNIT_CHECK(refused("RCPT <b@example.org>", 1,
	    "501 5.5.2 Syntax: RCPT"), "RCPT without TO:");
	UNIT_CHECK(refused("RCPT TO:<b@@example.org>", 1, "501 5.1.3 Bad"),
	    "bad recipient");
	UNIT_CHECK(ok("RCPT TO:<b@example.org> NOTIFY=SUCCESS,DELAY") &&
	    cmd.u.rcpt.notify == (DSN_NOTIFY_SUCCESS | DSN_NOTIFY_DELAY),
	    "NOTIFY list");
	UNIT_CHECK(ok("RCPT TO:<b@example.org> NOTIFY=never") &&
	    cmd.u.rcpt.notify == DSN_NOTIFY_NEVER, "NOTIFY=NEVER");
	UNIT_CHECK(refused("RCPT TO:<b@example.org> NOTIFY=NEVER,DELAY", 1,
	    "555 5.5.4 Invalid NOTIFY"), "NEVER combined");
	UNIT_CHECK(refused("RCPT TO:<b@example.org> NOTIFY=SUCCESS,", 1,
	    "555 5.5.4 Invalid NOTIFY"), "empty NOTIFY element");
	UNIT_CHECK(ok("RCPT TO:<b@example.org> ORCPT=rfc822;b+40example.org") &&
	    strcmp(cmd.u.rcpt.orcpt, "rfc822;b@example.org") == 0,
	    "ORCPT decoded");
	UNIT_CHECK(ok("RCPT TO:<b@example.org> ORCPT=RFC822;x") &&
	    strcmp(cmd.u.rcpt.orcpt, "rfc822;x") == 0,
	    "ORCPT address type lowered");
	UNIT_CHECK(refused("RCPT TO:<b@example.org> ORCPT=rfc822", 1,
	    "555 5.5.4 Invalid ORCPT"), "ORCPT without ;");
	UNIT_CHECK(refused("RCPT TO:<b@example.org> ORCPT=rfc822;a+0Ab", 1,
	    "555 5.5.4 Invalid ORCPT"), "ORCPT with encoded LF");
	UNIT_CHECK(refused("RCPT TO:<b@example.org> SIZE=1", 1,
	    "555 5.5.4 Unsupported"), "MAIL parameter on RCPT");
	UNIT_CHECK(refused("RCPT TO:<b@example.org> NOTIFY=NEVER", 0,
	    "555 5.5.4 Parameters need EHLO"), "RCPT parameters after HELO");
	test_rcpt_long();
}

#define ORCPT_RCPT	"RCPT TO:<b@example.org> ORCPT="
#define JORG_UTF8	"utf-8;j\xc3\xb6rg@example.org"

/* ORCPT=utf-8; (RFC 6533 3): utf-8-addr-xtext and -unitext, decoded. */
static void
test_rcpt_utf8(void)
{
	UNIT_CHECK(ok(ORCPT_RCPT "utf-8;j\\x{F6}rg@example.org") &&
	    strcmp(cmd.u.rcpt.orcpt, JORG_UTF8) == 0 &&
	    !cmd.u.rcpt.orcpt_unitext, "utf-8-addr-xtext decoded");
	UNIT_CHECK(ok(ORCPT_RCPT "UTF-8;j\xc3\xb6rg@example.org") &&
	    strcmp(cmd.u.rcpt.orcpt, JORG_UTF8) == 0 &&
	    cmd.u.rcpt.orcpt_unitext, "utf-8-addr-unitext, marked");
	UNIT_CHECK(refused(ORCPT_RCPT "utf-8;\\x{7528}+@ex.org", 1,
	    "555 5.5.4 Invalid ORCPT"), "a raw '+' is not utf-8-addr-xtext");
	UNIT_CHECK(ok(ORCPT_RCPT "utf-8;a\\x{2B}b\\x{1F600}@example.org") &&
	    strcmp(cmd.u.rcpt.orcpt, "utf-8;a+b\xf0\x9f\x98\x80@example.org")
	    == 0, "xtext specials and a 5-digit code point");
	UNIT_CHECK(refused(ORCPT_RCPT "utf-8;j\\x{0F6}rg@example.org", 1,
	    "555 5.5.4 Invalid ORCPT"), "leading zero refused");
	UNIT_CHECK(refused(ORCPT_RCPT "utf-8;\\x{41}@example.org", 1,
	    "555 5.5.4 Invalid ORCPT"), "embedded plain ASCII refused");
	UNIT_CHECK(refused(ORCPT_RCPT "utf-8;\\x{D800}@example.org", 1,
	    "555 5.5.4 Invalid ORCPT"), "surrogate refused");
	UNIT_CHECK(refused(ORCPT_RCPT "utf-8;\\x{110000}@example.org", 1,
	    "555 5.5.4 Invalid ORCPT"), "beyond U+10FFFF refused");
	UNIT_CHECK(refused(ORCPT_RCPT "utf-8;a\\x{F6@example.org", 1,
	    "555 5.5.4 Invalid ORCPT"), "unterminated escape refused");
	UNIT_CHECK(refused(ORCPT_RCPT "utf-8;a\\x{0A}b@example.org", 1,
	    "555 5.5.4 Invalid ORCPT"), "an escaped LF refused");
	UNIT_CHECK(refused(ORCPT_RCPT "utf-8;no-address", 1,
	    "555 5.5.4 Invalid ORCPT"), "not a mailbox once decoded");
	UNIT_CHECK(refused(ORCPT_RCPT "utf-8;j\xc3rg@example.org", 1,
	    "555 5.5.4 Invalid ORCPT"), "malformed UTF-8 refused");
}

static void
test_bdat(void)
{
	UNIT_CHECK(ok("BDAT 1000") && cmd.verb == SMTP_CMD_BDAT &&
	    cmd.u.bdat.size == 1000 && !cmd.u.bdat.last, "BDAT");
	UNIT_CHECK(ok("BDAT 0 LAST") && cmd.u.bdat.size == 0 &&
	    cmd.u.bdat.last, "BDAT 0 LAST");
	UNIT_CHECK(ok("bdat 12 last") && cmd.u.bdat.last, "bdat lower case");
	UNIT_CHECK(refused("BDAT", 1, "501 5.5.4 Syntax: BDAT"),
	    "BDAT without size");
	UNIT_CHECK(refused("BDAT x", 1, "501 5.5.4"), "BDAT non-numeric");
	UNIT_CHECK(refused("BDAT 10 FIRST", 1, "501 5.5.4"),
	    "BDAT bad keyword");
	UNIT_CHECK(refused("BDAT -1", 1, "501 5.5.4"), "BDAT negative");
}

int
main(void)
{
	test_verbs();
	test_mail();
	test_rcpt();
	test_rcpt_utf8();
	test_bdat();
	return unit_done();
}
