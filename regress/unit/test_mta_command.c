/*
 * test_mta_command.c: MAIL and RCPT lines of the outbound client with and
 * without the ESMTP parameters of SIZE, 8BITMIME and DSN; xtext.
 */
#include <string.h>

#include "unit.h"
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
	UNIT_CHECK(mta_command_rcpt(line, sizeof(line), &rc, 0) > 0 &&
	    strcmp(line, "RCPT TO:<u@x.test>\r\n") == 0,
	    "RCPT without DSN has no parameters");
	UNIT_CHECK(mta_command_rcpt(line, sizeof(line), &rc, MTA_EXT_DSN) > 0 &&
	    strcmp(line, "RCPT TO:<u@x.test> NOTIFY=SUCCESS,DELAY "
	    "ORCPT=rfc822;U+40x\r\n") == 0, "RCPT with NOTIFY and xtext ORCPT");
	rc.orcpt = o2;
	rc.notify = DSN_NOTIFY_NEVER;
	UNIT_CHECK(mta_command_rcpt(line, sizeof(line), &rc, MTA_EXT_DSN) > 0 &&
	    strcmp(line, "RCPT TO:<u@x.test> NOTIFY=NEVER "
	    "ORCPT=rfc822;v+20w@x\r\n") == 0, "plain ORCPT encoded, NEVER");
}

int
main(void)
{
	char	 x[32];

	test_mail();
	test_rcpt();
	UNIT_CHECK(mta_command_xtext(x, sizeof(x), "a+b=c") == 9 &&
	    strcmp(x, "a+2Bb+3Dc") == 0, "xtext encodes + and =");
	UNIT_CHECK(mta_command_xtext(x, 4, "abcdef") == -1,
	    "xtext too long refused");
	return unit_done();
}
