/*
 * test_mta_command.c: MAIL and RCPT lines of the outbound client with and
 * without the ESMTP parameters of SIZE, 8BITMIME and DSN; xtext; the
 * AUTH= parameter of MAIL (mta_auth_mail_param()) by server offer and
 * AuthOptions A.
 */
#include <string.h>

#include "unit.h"
#include "proc.h"
#include "proto.h"
#include "mta_core.h"

static void
test_mail(void)
{
	struct mta_batch	 b;
	char			 line[512], env[] = "id+1=x", snd[] = "a@b.test";
	uint32_t		 all = MTA_EXT_SIZE | MTA_EXT_8BITMIME |
				    MTA_EXT_DSN;

	memset(&b, 0, sizeof(b));
	b.sender = snd;
	b.envid = env;
	b.size = 1234;
	b.body8 = 1;
	b.dsn_ret = DSN_RET_HDRS;
	UNIT_CHECK(mta_command_mail(line, sizeof(line), &b, 0) > 0 &&
	    strcmp(line, "MAIL FROM:<a@b.test>\r\n") == 0,
	    "MAIL without extensions has no parameters");
	UNIT_CHECK(mta_command_mail(line, sizeof(line), &b, all) > 0 &&
	    strcmp(line, "MAIL FROM:<a@b.test> SIZE=1234 BODY=8BITMIME "
	    "RET=HDRS ENVID=id+2B1+3Dx\r\n") == 0,
	    "MAIL with SIZE, BODY, RET, ENVID");
	UNIT_CHECK(mta_command_mail(line, 20, &b, all) == -1,
	    "MAIL too long for the buffer refused");
}

static void
test_rcpt(void)
{
	struct mta_rcpt	 rc;
	char		 line[512], to[] = "u@x.test", o1[] = "rfc822;U+40x",
			 o2[] = "v w@x";

	memset(&rc, 0, sizeof(rc));
	rc.rcpt = to;
	rc.orcpt = o1;
	rc.notify = DSN_NOTIFY_SUCCESS | DSN_NOTIFY_DELAY;
	UNIT_CHECK(mta_command_rcpt(line, sizeof(line), &rc, to, 0) > 0 &&
	    strcmp(line, "RCPT TO:<u@x.test>\r\n") == 0,
	    "RCPT without DSN has no parameters");
	UNIT_CHECK(mta_command_rcpt(line, sizeof(line), &rc, to, MTA_EXT_DSN) > 0 &&
	    strcmp(line, "RCPT TO:<u@x.test> NOTIFY=SUCCESS,DELAY "
	    "ORCPT=rfc822;U+2B40x\r\n") == 0, "RCPT with NOTIFY, ORCPT with + encoded");
	rc.orcpt = o2;
	rc.notify = DSN_NOTIFY_NEVER;
	UNIT_CHECK(mta_command_rcpt(line, sizeof(line), &rc, to, MTA_EXT_DSN) > 0 &&
	    strcmp(line, "RCPT TO:<u@x.test> NOTIFY=NEVER "
	    "ORCPT=rfc822;v+20w@x\r\n") == 0, "plain ORCPT encoded, NEVER");
	UNIT_CHECK(mta_command_rcpt(line, sizeof(line), &rc, "c@hub.test",
	    MTA_EXT_DSN) > 0 && strcmp(line, "RCPT TO:<c@hub.test> "
	    "NOTIFY=NEVER ORCPT=rfc822;v+20w@x\r\n") == 0,
	    "a route's user@host is the RCPT, with the recipient's parameters");
}

/*
 * An ORCPT the front end takes whose 7-bit form, to a next hop without
 * SMTPUTF8, is far longer than its value: each quoted-pair '\' and each
 * UTF-8 character of it becomes "\x{...}" (over 800 characters here).
 */
static void
test_rcpt_long_orcpt(void)
{
	static char	 line[MTA_RCPT_LINE_MAX];
	struct mta_rcpt	 rc;
	char		 to[] = "u@x.test", o[600];
	size_t		 i, n;

	n = (size_t)snprintf(o, sizeof(o), "utf-8;\"");
	for (i = 0; i < 24; i++)
		n += (size_t)snprintf(o + n, sizeof(o) - n, "\\\\");
	n += (size_t)snprintf(o + n, sizeof(o) - n, "\"@");
	for (i = 0; i < 40; i++)
		n += (size_t)snprintf(o + n, sizeof(o) - n, "\xc3\xa9\xc3\xa9.");
	(void)snprintf(o + n, sizeof(o) - n, "x");
	memset(&rc, 0, sizeof(rc));
	rc.rcpt = to;
	rc.orcpt = o;
	UNIT_CHECK(mta_command_rcpt(line, sizeof(line), &rc, to, MTA_EXT_DSN) >
	    0 && strlen(line) > 700, "a long utf-8 ORCPT fits its 7-bit form");
}

/* A utf-8 ORCPT (RFC 6533 3): 7-bit without SMTPUTF8, UTF-8 with it. */
static void
test_rcpt_utf8(void)
{
	struct mta_rcpt	 rc;
	char		 line[512], to[] = "u@x.test",
			 o1[] = "utf-8;j\xc3\xb6rg@x.test",
			 o2[] = "utf-8;a+b=c\\d\xe7\x94\xa8@x.test";

	memset(&rc, 0, sizeof(rc));
	rc.rcpt = to;
	rc.orcpt = o1;
	UNIT_CHECK(mta_command_rcpt(line, sizeof(line), &rc, to, MTA_EXT_DSN) >
	    0 && strcmp(line, "RCPT TO:<u@x.test> ORCPT=utf-8;j\\x{F6}rg@x.test"
	    "\r\n") == 0, "no SMTPUTF8: utf-8-addr-xtext");
	UNIT_CHECK(mta_command_rcpt(line, sizeof(line), &rc, to, MTA_EXT_DSN |
	    MTA_EXT_SMTPUTF8) > 0 && strcmp(line, "RCPT TO:<u@x.test> "
	    "ORCPT=utf-8;j\xc3\xb6rg@x.test\r\n") == 0,
	    "SMTPUTF8: utf-8-addr-unitext");
	rc.orcpt = o2;
	UNIT_CHECK(mta_command_rcpt(line, sizeof(line), &rc, to, MTA_EXT_DSN |
	    MTA_EXT_SMTPUTF8) > 0 && strcmp(line, "RCPT TO:<u@x.test> "
	    "ORCPT=utf-8;a\\x{2B}b\\x{3D}c\\x{5C}d\xe7\x94\xa8@x.test\r\n")
	    == 0, "unitext: the xtext specials and \\ escaped");
	UNIT_CHECK(mta_command_rcpt(line, sizeof(line), &rc, to, MTA_EXT_DSN) >
	    0 && strcmp(line, "RCPT TO:<u@x.test> ORCPT=utf-8;a\\x{2B}b\\x{3D}c"
	    "\\x{5C}d\\x{7528}@x.test\r\n") == 0, "xtext: every one escaped");
	test_rcpt_long_orcpt();
}

/* The MAIL line of a batch whose AUTH= value is auth, as a session with
 * these EHLO extensions and authenticated state would send it. */
static const char *
mail_auth_size(char *auth, uint32_t ext, int authed, size_t size)
{
	static char		 line[1200];
	struct mta_batch	 b;
	struct mta_session	 s;
	char			 snd[] = "a@b.test", env[] = "";
	int			 n;

	memset(&b, 0, sizeof(b));
	memset(&s, 0, sizeof(s));
	b.sender = snd;
	b.envid = env;
	b.auth = auth;
	s.batch = &b;
	s.ehlo.ext = ext;
	s.authed = authed;
	n = mta_command_mail(line, size, &b, ext);
	if (n == -1 || (n = mta_auth_mail_param(&s, line, size, n)) == -1 ||
	    (size_t)n != strlen(line))
		return "(error)";
	return line;
}

static const char *
mail_auth(char *auth, uint32_t ext, int authed)
{
	return mail_auth_size(auth, ext, authed, 1200);
}

static void
test_auth_param(void)
{
	struct config	 c;
	char		 id[] = "al+ce=x@b.test", none[] = "<>", sp[] = "a b@c",
			 big[256];

	memset(&c, 0, sizeof(c));
	conf = &c;
	UNIT_CHECK(strcmp(mail_auth(id, MTA_EXT_AUTH, 0),
	    "MAIL FROM:<a@b.test> AUTH=al+2Bce+3Dx@b.test\r\n") == 0,
	    "AUTH= sent as xtext to a server offering AUTH");
	UNIT_CHECK(strcmp(mail_auth(none, MTA_EXT_AUTH, 1),
	    "MAIL FROM:<a@b.test> AUTH=<>\r\n") == 0, "AUTH=<> as it is");
	UNIT_CHECK(strcmp(mail_auth(sp, MTA_EXT_AUTH | MTA_EXT_SIZE, 0),
	    "MAIL FROM:<a@b.test> SIZE=0 AUTH=a+20b@c\r\n") == 0,
	    "AUTH= after the other parameters, space encoded");
	UNIT_CHECK(strcmp(mail_auth(id, MTA_EXT_SIZE, 1),
	    "MAIL FROM:<a@b.test> SIZE=0\r\n") == 0,
	    "no AUTH= to a server that does not offer AUTH");
	c.auth_opts = AUTH_OPT_A;
	UNIT_CHECK(strcmp(mail_auth(id, MTA_EXT_AUTH, 0),
	    "MAIL FROM:<a@b.test>\r\n") == 0,
	    "option A: no AUTH= without authenticating");
	UNIT_CHECK(strcmp(mail_auth(id, MTA_EXT_AUTH, 1),
	    "MAIL FROM:<a@b.test> AUTH=al+2Bce+3Dx@b.test\r\n") == 0,
	    "option A: AUTH= once authenticated");
	memset(big, '+', 255);
	big[255] = '\0';
	UNIT_CHECK(strlen(mail_auth(big, MTA_EXT_AUTH, 1)) == 22 + 6 + 765,
	    "the longest value goes whole, each octet encoded");
	UNIT_CHECK(strcmp(mail_auth_size(id, MTA_EXT_AUTH, 1, 40),
	    "MAIL FROM:<a@b.test> AUTH=<>\r\n") == 0,
	    "a value too long for the line goes as <>");
	UNIT_CHECK(strcmp(mail_auth_size(id, MTA_EXT_AUTH, 1, 30),
	    "(error)") == 0, "not even AUTH=<> fits: refused");
	conf = NULL;
}

int
main(void)
{
	char	 x[32];

	test_mail();
	test_rcpt();
	test_rcpt_utf8();
	test_auth_param();
	UNIT_CHECK(mta_command_xtext(x, sizeof(x), "a+b=c") == 9 &&
	    strcmp(x, "a+2Bb+3Dc") == 0, "xtext encodes + and =");
	UNIT_CHECK(mta_command_xtext(x, 4, "abcdef") == -1,
	    "xtext too long refused");
	UNIT_CHECK(mta_command_xtext(x, sizeof(x), "a+41") == 6 &&
	    strcmp(x, "a+2B41") == 0, "a value that looks like xtext encoded");
	return unit_done();
}
