/*
 * test_mailaddr.c: RFC 5321 path, mailbox, domain and address literal
 * syntax, size limits, and RFC 3461 xtext.
 */
#include <string.h>

#include "mailaddr.h"
#include "unit.h"

/* Parse s as a path; 1 if the result and the mailbox are as expected. */
static int
path_is(const char *s, int flags, enum mailaddr_result want,
    const char *mailbox)
{
	char		 out[MAILADDR_PATH_MAX];
	const char	*end = NULL;
	enum mailaddr_result r;

	r = mailaddr_path_parse(s, flags, out, sizeof(out), &end);
	if (r != want)
		return 0;
	if (r != MAILADDR_OK || mailbox == NULL)
		return 1;
	return strcmp(out, mailbox) == 0 && end != NULL && end[-1] == '>';
}

static void
test_paths(void)
{
	char	 big[400];

	UNIT_CHECK(path_is("<user@example.com>", 0, MAILADDR_OK,
	    "user@example.com"), "plain path");
	UNIT_CHECK(path_is("<>", MAILADDR_F_NULL, MAILADDR_OK, ""),
	    "null path allowed for MAIL");
	UNIT_CHECK(path_is("<>", 0, MAILADDR_SYNTAX, NULL),
	    "null path refused for RCPT");
	UNIT_CHECK(path_is("<Postmaster>", MAILADDR_F_POSTMASTER, MAILADDR_OK,
	    "Postmaster"), "bare postmaster for RCPT");
	UNIT_CHECK(path_is("<postmaster>", 0, MAILADDR_SYNTAX, NULL),
	    "bare postmaster refused without the flag");
	UNIT_CHECK(path_is("<root>", MAILADDR_F_POSTMASTER, MAILADDR_SYNTAX,
	    NULL), "other bare local part refused");
	UNIT_CHECK(path_is("<@a.example,@b.example:u@c.example>", 0,
	    MAILADDR_OK, "u@c.example"), "source route dropped");
	UNIT_CHECK(path_is("<@a.example u@c.example>", 0, MAILADDR_SYNTAX,
	    NULL), "broken source route");
	UNIT_CHECK(path_is("<\"john doe\"@example.com>", 0, MAILADDR_OK,
	    "\"john doe\"@example.com"), "quoted local part");
	UNIT_CHECK(path_is("<\"a\\\"b>\"@example.com>", 0, MAILADDR_OK,
	    "\"a\\\"b>\"@example.com"), "quoted pair and > inside quotes");
	UNIT_CHECK(path_is("<\"unterminated@example.com>", 0,
	    MAILADDR_SYNTAX, NULL), "unterminated quote");
	UNIT_CHECK(path_is("<user@[192.0.2.1]>", 0, MAILADDR_OK,
	    "user@[192.0.2.1]"), "IPv4 literal");
	UNIT_CHECK(path_is("<user@[IPv6:2001:db8::1]>", 0, MAILADDR_OK,
	    "user@[IPv6:2001:db8::1]"), "IPv6 literal");
	UNIT_CHECK(path_is("<user@[300.0.2.1]>", 0, MAILADDR_SYNTAX, NULL),
	    "bad IPv4 literal");
	UNIT_CHECK(path_is("<user@[2001:db8::1]>", 0, MAILADDR_SYNTAX, NULL),
	    "IPv6 literal without tag");
	UNIT_CHECK(path_is("user@example.com", 0, MAILADDR_SYNTAX, NULL),
	    "missing brackets");
	UNIT_CHECK(path_is("<user@example.com", 0, MAILADDR_SYNTAX, NULL),
	    "missing closing bracket");
	UNIT_CHECK(path_is("<user>", 0, MAILADDR_SYNTAX, NULL),
	    "missing domain");
	UNIT_CHECK(path_is("<@example.com>", 0, MAILADDR_SYNTAX, NULL),
	    "missing local part");
	UNIT_CHECK(path_is("<a..b@example.com>", 0, MAILADDR_SYNTAX, NULL),
	    "double dot");
	UNIT_CHECK(path_is("<.a@example.com>", 0, MAILADDR_SYNTAX, NULL),
	    "leading dot");
	UNIT_CHECK(path_is("<a.@example.com>", 0, MAILADDR_SYNTAX, NULL),
	    "trailing dot in local part");
	UNIT_CHECK(path_is("<a b@example.com>", 0, MAILADDR_SYNTAX, NULL),
	    "space in dot-string");
	UNIT_CHECK(path_is("<a@b@example.com>", 0, MAILADDR_SYNTAX, NULL),
	    "two @");
	UNIT_CHECK(path_is("<a@-example.com>", 0, MAILADDR_SYNTAX, NULL),
	    "label starting with hyphen");
	UNIT_CHECK(path_is("<a@example.com.>", 0, MAILADDR_SYNTAX, NULL),
	    "trailing dot in domain");
	UNIT_CHECK(path_is("<a@exa_mple.com>", 0, MAILADDR_SYNTAX, NULL),
	    "underscore in domain");
	UNIT_CHECK(path_is("<\xc3\xa9@example.com>", 0, MAILADDR_OK,
	    "\xc3\xa9@example.com"), "UTF-8 local part (RFC 6531)");
	UNIT_CHECK(path_is("<a\r@example.com>", 0, MAILADDR_SYNTAX, NULL),
	    "CR in local part");
	UNIT_CHECK(path_is("<\"a\rb\"@example.com>", 0, MAILADDR_SYNTAX,
	    NULL), "CR in quoted local part");
	UNIT_CHECK(path_is("<a|b{c}@example.com>", 0, MAILADDR_OK,
	    "a|b{c}@example.com"), "atext specials");

	big[0] = '<';
	memset(big + 1, 'a', 65);
	(void)strlcpy(big + 66, "@example.com>", sizeof(big) - 66);
	UNIT_CHECK(path_is(big, 0, MAILADDR_TOOLONG, NULL),
	    "local part of 65 octets refused");
	big[0] = '<';
	memset(big + 1, 'a', 64);
	(void)strlcpy(big + 65, "@example.com>", sizeof(big) - 65);
	UNIT_CHECK(path_is(big, 0, MAILADDR_OK, NULL) &&
	    mailaddr_mailbox_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaa@example.com"),
	    "local part of 64 octets accepted");
}

/* Paths near the 256-octet limit. */
static void
test_path_limit(void)
{
	char	 s[400], out[MAILADDR_PATH_MAX];
	const char *end;
	size_t	 i, n;

	/* "<a@" + domain + ">": labels of 50 octets joined by dots */
	for (n = 240; n <= 260; n += 20) {
		(void)strlcpy(s, "<a@", sizeof(s));
		for (i = 3; i < 3 + n; i++)
			s[i] = (i - 3) % 51 == 50 ? '.' : 'b';
		s[3 + n] = '>';
		s[4 + n] = '\0';
		if (n == 240)
			UNIT_CHECK(mailaddr_path_parse(s, 0, out, sizeof(out),
			    &end) == MAILADDR_OK, "path of 245 octets");
		else
			UNIT_CHECK(mailaddr_path_parse(s, 0, out, sizeof(out),
			    &end) != MAILADDR_OK, "path of 265 octets refused");
	}
	UNIT_CHECK(mailaddr_path_parse("<a@example.com>", 0, out, 5, &end) ==
	    MAILADDR_TOOLONG, "output buffer too small");
}

static void
test_domains(void)
{
	char	 label[80];

	UNIT_CHECK(mailaddr_helo_valid("mail.example.com"), "helo domain");
	UNIT_CHECK(mailaddr_helo_valid("localhost"), "helo single label");
	UNIT_CHECK(mailaddr_helo_valid("[127.0.0.1]"), "helo IPv4 literal");
	UNIT_CHECK(mailaddr_helo_valid("[IPv6:::1]"), "helo IPv6 literal");
	UNIT_CHECK(mailaddr_helo_valid("[ipv6:::1]"), "IPv6 tag any case");
	UNIT_CHECK(!mailaddr_helo_valid(""), "empty helo");
	UNIT_CHECK(!mailaddr_helo_valid("foo bar"), "helo with space");
	UNIT_CHECK(!mailaddr_helo_valid("[127.0.0.1"), "unclosed literal");
	UNIT_CHECK(!mailaddr_helo_valid("[1.2.3]"), "short IPv4 literal");
	UNIT_CHECK(!mailaddr_helo_valid("a..b"), "empty label");
	UNIT_CHECK(!mailaddr_helo_valid("a-.b"), "label ending in hyphen");
	UNIT_CHECK(!mailaddr_helo_valid("[tag:foo]"), "unknown literal tag");
	memset(label, 'a', 64);
	label[64] = '\0';
	UNIT_CHECK(!mailaddr_domain_valid(label, 64), "label of 64 octets");
	UNIT_CHECK(mailaddr_domain_valid(label, 63), "label of 63 octets");
	UNIT_CHECK(mailaddr_local_valid("\"x y\"", 5), "quoted local valid");
	UNIT_CHECK(!mailaddr_local_valid("x y", 3), "spaced local invalid");
	UNIT_CHECK(mailaddr_mailbox_valid("u@example.com"), "mailbox valid");
	UNIT_CHECK(!mailaddr_mailbox_valid("u@example.com "),
	    "mailbox with trailing junk");
	UNIT_CHECK(!mailaddr_mailbox_valid("u"), "mailbox without domain");
}

static void
test_xtext(void)
{
	char	 out[32];

	UNIT_CHECK(mailaddr_xtext_decode("abc+2Bdef", out, sizeof(out)) == 0 &&
	    strcmp(out, "abc+def") == 0, "xtext decodes +2B");
	UNIT_CHECK(mailaddr_xtext_decode("a+3Db", out, sizeof(out)) == 0 &&
	    strcmp(out, "a=b") == 0, "xtext decodes +3D");
	UNIT_CHECK(mailaddr_xtext_decode("a+2b", out, sizeof(out)) == -1,
	    "lowercase hex refused");
	UNIT_CHECK(mailaddr_xtext_decode("a+2", out, sizeof(out)) == -1,
	    "truncated hexchar");
	UNIT_CHECK(mailaddr_xtext_decode("a=b", out, sizeof(out)) == -1,
	    "bare = refused");
	UNIT_CHECK(mailaddr_xtext_decode("a b", out, sizeof(out)) == -1,
	    "space refused");
	UNIT_CHECK(mailaddr_xtext_decode("a+0D+0Ab", out, sizeof(out)) == -1,
	    "encoded CRLF refused");
	UNIT_CHECK(mailaddr_xtext_decode("a+00", out, sizeof(out)) == -1,
	    "encoded NUL refused");
	UNIT_CHECK(mailaddr_xtext_decode("a+20b", out, sizeof(out)) == 0 &&
	    strcmp(out, "a b") == 0, "encoded space allowed");
	UNIT_CHECK(mailaddr_xtext_decode("abcdef", out, 4) == -1,
	    "xtext does not fit");
	UNIT_CHECK(mailaddr_xtext_valid("user+40example.com"), "xtext valid");
	UNIT_CHECK(!mailaddr_xtext_valid("\xc3\xa9"), "8-bit xtext invalid");
	UNIT_CHECK(mailaddr_xtext_encode("a+b=c d\x7f\xc3", out,
	    sizeof(out)) == 19 && strcmp(out, "a+2Bb+3Dc+20d+7F+C3") == 0,
	    "xtext encodes +, =, space, DEL and 8-bit octets");
	UNIT_CHECK(mailaddr_xtext_encode("u+40x", out, sizeof(out)) == 7 &&
	    strcmp(out, "u+2B40x") == 0,
	    "xtext encodes a value that already looks encoded");
	UNIT_CHECK(mailaddr_xtext_encode("<a@b>", out, sizeof(out)) == 5 &&
	    strcmp(out, "<a@b>") == 0, "xtext keeps 33..126");
	UNIT_CHECK(mailaddr_xtext_encode("ab+", out, 4) == -1 &&
	    mailaddr_xtext_encode("abc", out, 3) == -1 &&
	    mailaddr_xtext_encode("abc", out, 4) == 3,
	    "xtext encoding that does not fit refused");
	UNIT_CHECK(mailaddr_xtext_encode("a=b+40", out, sizeof(out)) > 0 &&
	    mailaddr_xtext_decode(out, out, sizeof(out)) == 0 &&
	    strcmp(out, "a=b+40") == 0, "encode then decode is identity");
}

/* 1 if the local part of mailbox s holds routing, as policyd asks it. */
static int
local_routed(const char *s)
{
	const char	*at = strrchr(s, '@');

	return mailaddr_local_has_routing(s, (size_t)(at - s));
}

/* RFC 6531 3.3: UTF-8 in local parts, U-labels in domains. */
static void
test_utf8(void)
{
	char	 a[64];

	UNIT_CHECK(mailaddr_mailbox_valid("\xe7\x94\xa8\xe6\x88\xb7@"
	    "\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a"),
	    "UTF-8 local part and U-label domain");
	UNIT_CHECK(mailaddr_mailbox_valid("\"j\xc3\xb6rg s\"@example.com"),
	    "UTF-8 in a quoted local part");
	UNIT_CHECK(!mailaddr_mailbox_valid("\xc3@example.com"),
	    "truncated sequence");
	UNIT_CHECK(!mailaddr_mailbox_valid("\xc0\xafx@example.com"),
	    "overlong form");
	UNIT_CHECK(!mailaddr_mailbox_valid("\xed\xa0\x80@example.com"),
	    "surrogate");
	UNIT_CHECK(!mailaddr_mailbox_valid("\xc2\x85@example.com"),
	    "C1 control (NEL)");
	UNIT_CHECK(!mailaddr_mailbox_valid("\xf4\x90\x80\x80@example.com"),
	    "past U+10FFFF");
	UNIT_CHECK(!mailaddr_mailbox_valid("a@\xe2\x98\x83.example"),
	    "a symbol IDNA2008 refuses in a domain");
	UNIT_CHECK(!mailaddr_helo_valid("b\xc3\xbc" "cher.example"),
	    "HELO stays ASCII");
	UNIT_CHECK(mailaddr_domain_ascii("B\xc3\xbc" "CHER.Example", a,
	    sizeof(a)) == 0 && strcmp(a, "xn--bcher-kva.example") == 0,
	    "U-labels to lowercase A-labels");
	UNIT_CHECK(mailaddr_domain_ascii("Relay.TEST", a, sizeof(a)) == 0 &&
	    strcmp(a, "relay.test") == 0, "ASCII lowercased");
	UNIT_CHECK(mailaddr_domain_ascii("b\xc3\xbc" "cher.example", a, 8) == -1,
	    "too small a buffer");
	UNIT_CHECK(mailaddr_is_ascii("abc") && !mailaddr_is_ascii("\xc3\xa9"),
	    "is_ascii");
}

static void
test_local_routing(void)
{
	UNIT_CHECK(!local_routed("bob@relay.test"), "plain local part");
	UNIT_CHECK(!local_routed("bob.smith+tag@relay.test"),
	    "dots and plus are no routing");
	UNIT_CHECK(local_routed("\"x@evil.test\"@relay.test"),
	    "quoted @ routes");
	UNIT_CHECK(local_routed("\"x\\@evil.test\"@relay.test"),
	    "quoted pair \\@ routes");
	UNIT_CHECK(local_routed("evil.test!x@relay.test"), "bang path routes");
	UNIT_CHECK(local_routed("x%evil.test@relay.test"), "percent hack routes");
	UNIT_CHECK(!mailaddr_local_has_routing("x%evil", 1),
	    "only len octets are read");
	UNIT_CHECK(!mailaddr_local_has_routing("", 0), "empty local part");
}

int
main(void)
{
	test_paths();
	test_path_limit();
	test_domains();
	test_xtext();
	test_utf8();
	test_local_routing();
	return unit_done();
}
