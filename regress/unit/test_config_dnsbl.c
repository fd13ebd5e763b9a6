/*
 * test_config_dnsbl.c: the dnsbl statements of smtpd.conf
 * (common/config_dnsbl.c): the zones in file order with their options,
 * the canonical text parsing back the same, the refusals, the query
 * names of IPv4 and IPv6 addresses (RFC 5782), "answer" matching, and
 * the replies (sendmail's texts, a message's own code, the recipient
 * prefix under delay-checks).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "unit.h"

static struct config *
parsed(const char *text)
{
	return config_parse_buffer(text, strlen(text));
}

static int
refused(const char *text)
{
	struct config	*c = parsed(text);

	config_free(c);
	return c == NULL;
}

static void
test_parse(void)
{
	struct config		*c, *c2;
	const struct dnsbl	*b;
	char			*t1, *t2;

	c = parsed("dnsbl Bl.Example.ORG\n"
	    "dnsbl q.test quarantine tempfail\n"
	    "dnsbl m.test message \"Go away\" answer 127.0.0.2 "
	    "answer 127.0.1.0/24\n"
	    "dnsbl d.test discard\n");
	UNIT_CHECK(c != NULL, "zones parse");
	if (c == NULL)
		return;
	b = TAILQ_FIRST(&c->dnsbls);
	UNIT_CHECK(b != NULL && strcmp(b->zone, "bl.example.org") == 0 &&
	    b->action == DNSBL_REJECT && !b->tempfail && b->nanswers == 0,
	    "the first zone, lowercased, rejects, any answer");
	b = TAILQ_NEXT(b, entry);
	UNIT_CHECK(b != NULL && b->action == DNSBL_QUARANTINE && b->tempfail,
	    "quarantine and tempfail");
	b = TAILQ_NEXT(b, entry);
	UNIT_CHECK(b != NULL && strcmp(b->message, "Go away") == 0 &&
	    b->nanswers == 2 && b->answers[1].bits == 24,
	    "a message and two answers");
	b = TAILQ_NEXT(b, entry);
	UNIT_CHECK(b != NULL && b->action == DNSBL_DISCARD &&
	    TAILQ_NEXT(b, entry) == NULL, "discard, last in file order");
	t1 = config_dump_string(c, NULL);
	c2 = t1 != NULL ? parsed(t1) : NULL;
	t2 = c2 != NULL ? config_dump_string(c2, NULL) : NULL;
	UNIT_CHECK(t2 != NULL && strcmp(t1, t2) == 0,
	    "the canonical text parses back the same");
	free(t1);
	free(t2);
	config_free(c2);
	config_free(c);
	UNIT_CHECK(refused("dnsbl bl.test\ndnsbl BL.test\n"),
	    "a zone given twice is refused");
	UNIT_CHECK(refused("dnsbl \"bad zone\"\n"), "not a domain: refused");
	UNIT_CHECK(refused("dnsbl bl.test answer 127.0.0.2/33\n"),
	    "a prefix past 32 bits is refused");
	UNIT_CHECK(refused("dnsbl bl.test answer ::1\n"),
	    "an IPv6 answer is refused (A records only)");
	UNIT_CHECK(refused("dnsbl bl.test message \"\"\n"),
	    "an empty message is refused");
}

static void
test_qname(void)
{
	char	 q[256];

	UNIT_CHECK(config_dnsbl_qname("192.0.2.99", "bl.test", q,
	    sizeof(q)) == 0 && strcmp(q, "99.2.0.192.bl.test") == 0,
	    "IPv4: the octets reversed");
	UNIT_CHECK(config_dnsbl_qname("2001:db8::1", "bl.test", q,
	    sizeof(q)) == 0 && strcmp(q, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test") == 0,
	    "IPv6: 32 nibbles, the lowest first (RFC 5782 2.4)");
	UNIT_CHECK(config_dnsbl_qname("unknown", "bl.test", q,
	    sizeof(q)) == -1, "not an address: no name");
	UNIT_CHECK(config_dnsbl_qname("192.0.2.99", "bl.test", q, 10) == -1,
	    "a name that does not fit: none");
}

static void
test_listed(void)
{
	struct config		*c;
	const struct dnsbl	*any, *some;
	static const uint8_t	 a2[4] = { 127, 0, 0, 2 };
	static const uint8_t	 a3[4] = { 127, 0, 0, 3 };
	static const uint8_t	 a9[4] = { 127, 0, 1, 9 };

	c = parsed("dnsbl any.test\n"
	    "dnsbl some.test answer 127.0.0.2 answer 127.0.1.0/24\n");
	UNIT_CHECK(c != NULL, "zones parse");
	if (c == NULL)
		return;
	any = TAILQ_FIRST(&c->dnsbls);
	some = TAILQ_NEXT(any, entry);
	UNIT_CHECK(config_dnsbl_listed(any, a3), "no answer list: any A");
	UNIT_CHECK(config_dnsbl_listed(some, a2), "an exact answer");
	UNIT_CHECK(!config_dnsbl_listed(some, a3), "another one is not");
	UNIT_CHECK(config_dnsbl_listed(some, a9), "one in the prefix");
	config_free(c);
}

/* The reply of the first zone of text for 192.0.2.9 (temp: failed). */
static int
reply_is(const char *text, int temp, const char *rcpt, const char *want)
{
	struct config	*c = parsed(text);
	char		 r[512], p[600];

	if (c == NULL)
		return 0;
	config_dnsbl_reply(TAILQ_FIRST(&c->dnsbls), "192.0.2.9", temp, r,
	    sizeof(r));
	config_free(c);
	if (rcpt != NULL) {
		config_dnsbl_reply_rcpt(r, rcpt, p, sizeof(p));
		(void)strlcpy(r, p, sizeof(r));
	}
	if (strcmp(r, want) == 0)
		return 1;
	(void)printf("  got \"%s\"\n", r);
	return 0;
}

static void
test_reply(void)
{
	UNIT_CHECK(reply_is("dnsbl bl.test\n", 0, NULL, "550 5.7.1 Rejected: "
	    "192.0.2.9 listed at bl.test"), "sendmail's 550");
	UNIT_CHECK(reply_is("dnsbl bl.test\n", 1, NULL, "451 4.4.3 Temporary "
	    "lookup failure of 192.0.2.9 at bl.test"), "sendmail's 451");
	UNIT_CHECK(reply_is("dnsbl bl.test message \"Go away\"\n", 0, NULL,
	    "550 5.7.1 Go away"), "a message: 550 5.7.1 and its text");
	UNIT_CHECK(reply_is("dnsbl bl.test message \"554 Mail from "
	    "$&{client_addr} refused\"\n", 0, NULL, "554 5.7.1 Mail from "
	    "192.0.2.9 refused"), "its own code, the address expanded");
	UNIT_CHECK(reply_is("dnsbl bl.test message \"550 5.7.0 see "
	    "${client_addr}\"\n", 0, NULL, "550 5.7.0 see 192.0.2.9"),
	    "its own enhanced status");
	UNIT_CHECK(reply_is("dnsbl bl.test\n", 0, "u@example.org",
	    "550 5.7.1 <u@example.org>... Rejected: 192.0.2.9 listed at "
	    "bl.test"), "at RCPT a 550 names the recipient");
	UNIT_CHECK(reply_is("dnsbl bl.test message \"554 no\"\n", 0,
	    "u@example.org", "554 5.7.1 no"), "a 554 does not");
	UNIT_CHECK(reply_is("dnsbl bl.test\n", 1, "u@example.org",
	    "451 4.4.3 Temporary lookup failure of 192.0.2.9 at bl.test"),
	    "nor a 451");
}

int
main(void)
{
	test_parse();
	test_qname();
	test_listed();
	test_reply();
	return unit_done();
}
