/*
 * test_smtp_dns.c: the client's name in the front end: reverse query
 * names of IPv4 and IPv6 addresses, PTR rdata decoding (valid, case,
 * malformed, not a host name), the ${client_resolve} words, and how a
 * session shows its client (${client_name} and the log form).
 */
#include <string.h>

#include "unit.h"
#include "smtp_dns.h"
#include "smtp_session.h"

static int
parse(const char *rd, size_t len, char *name, size_t size)
{
	return smtp_dns_name_parse((const uint8_t *)rd, len, name, size);
}

static void
test_qname(void)
{
	char	 q[128];
	uint8_t	 bin[16];

	UNIT_CHECK(smtp_dns_ptr_qname("192.0.2.7", q, sizeof(q), bin) == 4 &&
	    strcmp(q, "7.2.0.192.in-addr.arpa") == 0 && bin[0] == 192 &&
	    bin[3] == 7, "IPv4: reversed octets under in-addr.arpa");
	UNIT_CHECK(smtp_dns_ptr_qname("2001:db8::5", q, sizeof(q), bin) == 16 &&
	    strcmp(q, "5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d."
	    "0.1.0.0.2.ip6.arpa") == 0 && bin[15] == 5,
	    "IPv6: reversed nibbles under ip6.arpa");
	UNIT_CHECK(smtp_dns_ptr_qname("unknown", q, sizeof(q), bin) == -1 &&
	    smtp_dns_ptr_qname("192.0.2", q, sizeof(q), bin) == -1,
	    "not an address: refused");
	UNIT_CHECK(smtp_dns_ptr_qname("2001:db8::5", q, 40, bin) == -1 &&
	    smtp_dns_ptr_qname("192.0.2.7", q, 10, bin) == -1,
	    "a buffer too small: refused");
}

static void
test_rdata(void)
{
	char	 name[SMTP_DNS_NAME_MAX], big[320];
	size_t	 i;

	UNIT_CHECK(parse("\x04mail\x07" "Example\x03net\x00", 18, name,
	    sizeof(name)) == 0 && strcmp(name, "mail.example.net") == 0,
	    "PTR rdata decoded, lowercased, no final dot");
	UNIT_CHECK(parse("\x05mx-1_\x01" "a\x00", 9, name, sizeof(name)) == 0 &&
	    strcmp(name, "mx-1_.a") == 0, "'-' and '_' are allowed");
	UNIT_CHECK(parse("\x00", 1, name, sizeof(name)) == -1,
	    "the root is no host name");
	UNIT_CHECK(parse("\x03" "a b\x00", 5, name, sizeof(name)) == -1 &&
	    parse("\x03[a]\x00", 5, name, sizeof(name)) == -1 &&
	    parse("\x03" "a.b\x00", 5, name, sizeof(name)) == -1,
	    "space, brackets, a dot inside a label refused");
	UNIT_CHECK(parse("\xc0\x0c", 2, name, sizeof(name)) == -1,
	    "compression pointer refused");
	UNIT_CHECK(parse("\x04" "ab\x00", 4, name, sizeof(name)) == -1 &&
	    parse("\x01" "a\x00\x00", 4, name, sizeof(name)) == -1,
	    "label past the end, trailing octets refused");
	for (i = 0; i < 5 * 60; i += 60) {
		big[i] = 59;
		memset(big + i + 1, 'a', 59);
	}
	big[i] = 0;
	UNIT_CHECK(parse(big, i + 1, name, sizeof(name)) == -1,
	    "a name longer than the buffer refused");
	UNIT_CHECK(parse(big, 4 * 60 + 1, name, sizeof(name)) == -1,
	    "unterminated name refused");
}

static void
test_words(void)
{
	UNIT_CHECK(strcmp(smtp_dns_resolve_name(SMTP_DNS_OK), "OK") == 0 &&
	    strcmp(smtp_dns_resolve_name(SMTP_DNS_FAIL), "FAIL") == 0 &&
	    strcmp(smtp_dns_resolve_name(SMTP_DNS_FORGED), "FORGED") == 0 &&
	    strcmp(smtp_dns_resolve_name(SMTP_DNS_TEMP), "TEMP") == 0 &&
	    strcmp(smtp_dns_resolve_name(SMTP_DNS_NONE), "") == 0,
	    "${client_resolve} words; \"\" without a lookup");
}

static void
test_session_name(void)
{
	struct smtp_session	 s;
	char			 name[SMTP_SESSION_NAME_MAX];
	char			 relay[SMTP_SESSION_RELAY_MAX];
	char			 ptr[] = "mx.example.net";

	memset(&s, 0, sizeof(s));
	(void)strlcpy(s.addr, "192.0.2.7", sizeof(s.addr));
	UNIT_CHECK(strcmp(smtp_session_name(&s, name, sizeof(name)),
	    "[192.0.2.7]") == 0 && strcmp(smtp_session_relay(&s, relay,
	    sizeof(relay)), "[192.0.2.7] [192.0.2.7]") == 0,
	    "not looked up: [addr]");
	s.resolve = SMTP_DNS_OK;
	s.ptrname = ptr;
	UNIT_CHECK(strcmp(smtp_session_name(&s, name, sizeof(name)),
	    "mx.example.net") == 0 && strcmp(smtp_session_relay(&s, relay,
	    sizeof(relay)), "mx.example.net [192.0.2.7]") == 0,
	    "confirmed: the name");
	s.resolve = SMTP_DNS_FORGED;
	UNIT_CHECK(strcmp(smtp_session_name(&s, name, sizeof(name)),
	    "[192.0.2.7]") == 0 && strcmp(smtp_session_relay(&s, relay,
	    sizeof(relay)), "mx.example.net [192.0.2.7] (may be forged)") == 0,
	    "forged: [addr] as client_name, the PTR name in logs");
	s.resolve = SMTP_DNS_TEMP;
	s.ptrname = NULL;
	UNIT_CHECK(strcmp(smtp_session_name(&s, name, sizeof(name)),
	    "[192.0.2.7]") == 0, "temporary failure: [addr]");
}

int
main(void)
{
	test_qname();
	test_rdata();
	test_words();
	test_session_name();
	return unit_done();
}
