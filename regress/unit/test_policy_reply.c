/*
 * test_policy_reply.c: replies built from access-map values (spec 2.1):
 * ERROR forms with and without D.S.N and enhanced codes, the <addr>...
 * prefix for 450/550/553 only, the README discrepancy (450 gives 4.0.0),
 * quote removal, text without a code (553 5.3.0), and the verdicts.
 */
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "proto.h"
#include "policy.h"

/* 1 if ERROR:body at mailbox gives verdict, code, enhanced and text. */
static int
error_gives(const char *body, const char *mailbox, uint32_t verdict,
    uint32_t code, const char *enh, const char *text)
{
	struct policy_result	 res;

	memset(&res, 0, sizeof(res));
	policy_result_error(&res, mailbox, body);
	if (res.verdict == verdict && res.code == code &&
	    strcmp(res.enhanced, enh) == 0 && strcmp(res.text, text) == 0)
		return 1;
	(void)printf("  %s -> %u %u %s \"%s\"\n", body, res.verdict, res.code,
	    res.enhanced, res.text);
	return 0;
}

static void
test_error_forms(void)
{
	UNIT_CHECK(error_gives("5.7.1:550 Go away", "a@b", POLICY_REJECT, 550,
	    "5.7.1", "<a@b>... Go away"), "ERROR:D.S.N:550 text at MAIL");
	UNIT_CHECK(error_gives("550 Go away", NULL, POLICY_REJECT, 550, "5.0.0",
	    "Go away"), "ERROR:550 text at connect: 5.0.0, no prefix");
	UNIT_CHECK(error_gives("450 mailbox full", "a@b", POLICY_TEMPFAIL, 450,
	    "4.0.0", "<a@b>... mailbox full"),
	    "README discrepancy: ERROR:450 gives 4.0.0 (the code's behaviour)");
	UNIT_CHECK(error_gives("550 5.7.0 Spam here", "r@x", POLICY_REJECT, 550,
	    "5.7.0", "<r@x>... Spam here"), "enhanced code in the text wins");
	UNIT_CHECK(error_gives("4.7.1:550 5.7.2 x", NULL, POLICY_REJECT, 550,
	    "5.7.2", "x"), "text enhanced code wins over the D.S.N");
	UNIT_CHECK(error_gives("4.2.2:452 Too much", "a@b", POLICY_TEMPFAIL,
	    452, "4.2.2", "Too much"), "no prefix for 452 (only 450/550/553)");
	UNIT_CHECK(error_gives("554 Rejected", "a@b", POLICY_REJECT, 554,
	    "5.0.0", "Rejected"), "no prefix for 554");
	UNIT_CHECK(error_gives("\"550 Quoted text\"", "a@b", POLICY_REJECT, 550,
	    "5.0.0", "<a@b>... Quoted text"),
	    "one pair of surrounding quotes is removed");
	UNIT_CHECK(error_gives("go away", "a@b", POLICY_REJECT, 553, "5.3.0",
	    "<a@b>... go away"), "text without a code: 553 5.3.0 with prefix");
	UNIT_CHECK(error_gives("5.7.1:go away", NULL, POLICY_REJECT, 553,
	    "5.3.0", "go away"), "D.S.N without a code: still 553 5.3.0");
	UNIT_CHECK(error_gives("550", NULL, POLICY_REJECT, 550, "5.0.0", ""),
	    "a code alone");
	UNIT_CHECK(error_gives("250 fine", NULL, POLICY_REJECT, 553, "5.3.0",
	    "250 fine"), "a 2xx code is not taken from a map value");
	UNIT_CHECK(error_gives("5.7.1", NULL, POLICY_REJECT, 553, "5.3.0",
	    "5.7.1"), "a D.S.N without ':' is text");
}

static void
test_keyword(void)
{
	char		 enh[POLICY_ENH_MAX], text[POLICY_TEXT_MAX];
	uint32_t	 code;

	UNIT_CHECK(policy_reply_parse("nouser:550 No such user", 1, &code, enh,
	    sizeof(enh), text, sizeof(text)) == 1 && code == 550 &&
	    strcmp(enh, "5.0.0") == 0 && strcmp(text, "No such user") == 0,
	    "mailertable error:keyword:ddd text");
	UNIT_CHECK(policy_reply_parse("5.1.1:550 User unknown", 1, &code, enh,
	    sizeof(enh), text, sizeof(text)) == 1 && code == 550 &&
	    strcmp(enh, "5.1.1") == 0 && strcmp(text, "User unknown") == 0,
	    "mailertable error:D.S.N:ddd text");
	UNIT_CHECK(policy_reply_parse("nouser:550 x", 0, &code, enh,
	    sizeof(enh), text, sizeof(text)) == 0 && code == 553,
	    "keywords only in mailertable errors");
}

static void
test_fixed(void)
{
	struct policy_result	 res;

	memset(&res, 0, sizeof(res));
	policy_result_tempfail(&res);
	UNIT_CHECK(res.verdict == POLICY_TEMPFAIL && res.code == 451 &&
	    strcmp(res.enhanced, "4.3.0") == 0 && strcmp(res.text,
	    "Temporary system failure. Please try again later.") == 0,
	    "TMPF text (spec 2.2)");
	policy_result_reply(&res, "r@x", 550, "5.7.1", "Relaying denied");
	UNIT_CHECK(strcmp(res.text, "<r@x>... Relaying denied") == 0,
	    "prefix form \"<addr>... text\"");
	policy_result_accept(&res, POLICY_F_OK, "connect:192.0.2");
	UNIT_CHECK(res.verdict == POLICY_ACCEPT && res.code == 0 &&
	    res.text[0] == '\0' && (res.flags & POLICY_F_OK) &&
	    strcmp(res.key, "connect:192.0.2") == 0,
	    "accept clears the reply and keeps the key");
}

int
main(void)
{
	test_error_forms();
	test_keyword();
	test_fixed();
	return unit_done();
}
