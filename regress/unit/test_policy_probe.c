/*
 * test_policy_probe.c: the access-map probe sequences of spec 1.2 and the
 * worked examples of spec 1.5, key by key and in order, plus the
 * mailertable walk (spec 9.1) and the canonical address forms (1.4).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "policy.h"

/* 1 if keys holds exactly the NULL-terminated list given, in order. */
static int
keys_are(const struct policy_keys *keys, ...)
{
	va_list		 ap;
	const char	*want;
	size_t		 i = 0;
	int		 ok = 1;

	va_start(ap, keys);
	while ((want = va_arg(ap, const char *)) != NULL) {
		if (i >= keys->n || strcmp(keys->key[i], want) != 0) {
			(void)printf("  key %zu: want %s, got %s\n", i, want,
			    i < keys->n ? keys->key[i] : "(end)");
			ok = 0;
		}
		i++;
	}
	va_end(ap);
	if (i != keys->n) {
		(void)printf("  %zu keys, want %zu\n", keys->n, i);
		ok = 0;
	}
	return ok;
}

static void
test_connect_name(void)
{
	struct policy_keys	 k;
	int			 f = POLICY_PROBE_UNTAGGED;

	policy_keys_init(&k);
	(void)policy_probe_domain(&k, "Connect", "mail.sub.example.com", f);
	(void)policy_probe_addr(&k, "Connect", "192.0.2.10", f);
	UNIT_CHECK(keys_are(&k,
	    "connect:mail.sub.example.com", "mail.sub.example.com",
	    "connect:sub.example.com", "sub.example.com",
	    "connect:example.com", "example.com", "connect:com", "com",
	    "connect:192.0.2.10", "192.0.2.10", "connect:192.0.2", "192.0.2",
	    "connect:192.0", "192.0", "connect:192", "192", NULL),
	    "check_relay: D on the name then A on the address (spec 1.5)");
	policy_keys_free(&k);
}

static void
test_connect_literal(void)
{
	struct policy_keys	 k;

	policy_keys_init(&k);
	(void)policy_probe_domain(&k, "Connect", "[192.0.2.10]",
	    POLICY_PROBE_UNTAGGED);
	UNIT_CHECK(keys_are(&k,
	    "connect:[192.0.2.10]", "[192.0.2.10]",
	    "connect:[192.0.2]", "[192.0.2]", "connect:[192.0]", "[192.0]",
	    "connect:[192]", "[192]", NULL),
	    "D on a bracketed IPv4 literal drops octets inside the brackets");
	policy_keys_free(&k);
}

static void
test_connect_ipv6(void)
{
	struct policy_keys	 k;

	policy_keys_init(&k);
	(void)policy_probe_domain(&k, "Connect",
	    "[IPv6:2001:db8:0:0:0:0:0:5]", 0);
	UNIT_CHECK(keys_are(&k,
	    "connect:[ipv6:2001:db8:0:0:0:0:0:5]",
	    "connect:[ipv6:2001:db8:0:0:0:0:0]",
	    "connect:[ipv6:2001:db8:0:0:0:0]", "connect:[ipv6:2001:db8:0:0:0]",
	    "connect:[ipv6:2001:db8:0:0]", "connect:[ipv6:2001:db8:0]",
	    "connect:[ipv6:2001:db8]", "connect:[ipv6:2001]", "connect:[ipv6]",
	    NULL), "D on an IPv6 literal strips groups down to [IPv6]");
	policy_keys_free(&k);

	policy_keys_init(&k);
	(void)policy_probe_addr(&k, "Connect", "IPv6:2001:db8:0:0:0:0:0:5", 0);
	UNIT_CHECK(keys_are(&k,
	    "connect:ipv6:2001:db8:0:0:0:0:0:5", "connect:ipv6:2001:db8:0:0:0:0:0",
	    "connect:ipv6:2001:db8:0:0:0:0", "connect:ipv6:2001:db8:0:0:0",
	    "connect:ipv6:2001:db8:0:0", "connect:ipv6:2001:db8:0",
	    "connect:ipv6:2001:db8", "connect:ipv6:2001", "connect:ipv6", NULL),
	    "A on an IPv6 address ends with Connect:IPv6");
	policy_keys_free(&k);

	policy_keys_init(&k);
	(void)policy_probe_addr(&k, NULL, "IPv6:2001:db8::5", 0);
	UNIT_CHECK(keys_are(&k, "ipv6:2001:db8::5", "ipv6:2001:db8",
	    "ipv6:2001", "ipv6", NULL), "A drops a '::group' in one step");
	policy_keys_free(&k);
}

static void
test_tls_srv(void)
{
	struct policy_keys	 k;

	policy_keys_init(&k);
	(void)policy_probe_domain(&k, "TLS_Srv", "mx1.secure.example", 0);
	(void)policy_probe_addr(&k, "TLS_Srv", "198.51.100.7", 0);
	(void)policy_probe_exact(&k, "TLS_Srv", "", 0);
	UNIT_CHECK(keys_are(&k, "tls_srv:mx1.secure.example",
	    "tls_srv:secure.example", "tls_srv:example", "tls_srv:198.51.100.7",
	    "tls_srv:198.51.100", "tls_srv:198.51", "tls_srv:198", "tls_srv:",
	    NULL), "mode '!' has no untagged probes; E with '' is the bare tag");
	policy_keys_free(&k);
}

static void
test_mail_from(void)
{
	struct policy_keys	 k;
	int			 f = POLICY_PROBE_UNTAGGED;

	policy_keys_init(&k);
	(void)policy_probe_full(&k, "From", "joe+list@mail.example.org", f);
	(void)policy_probe_user(&k, "From", "joe+list", f);
	(void)policy_probe_domain(&k, "From", "mail.example.org", f);
	UNIT_CHECK(keys_are(&k,
	    "from:joe+list@mail.example.org", "joe+list@mail.example.org",
	    "from:joe+*@mail.example.org", "joe+*@mail.example.org",
	    "from:joe@mail.example.org", "joe@mail.example.org",
	    "from:joe+list@", "joe+list@", "from:joe+*@", "joe+*@",
	    "from:joe@", "joe@",
	    "from:mail.example.org", "mail.example.org",
	    "from:example.org", "example.org", "from:org", "org", NULL),
	    "check_mail SearchList F, U, D with +detail (spec 1.5)");
	policy_keys_free(&k);

	policy_keys_init(&k);
	(void)policy_probe_full(&k, "To", "Bob@Example.COM", 0);
	(void)policy_probe_user(&k, "To", "bob", 0);
	UNIT_CHECK(keys_are(&k, "to:bob@example.com", "to:bob@", NULL),
	    "without +detail F and U probe once; keys are lowercased");
	policy_keys_free(&k);

	policy_keys_init(&k);
	(void)policy_probe_user(&k, "From", "+list", 0);
	(void)policy_probe_user(&k, "From", "joe+", 0);
	UNIT_CHECK(keys_are(&k, "from:+list@", "from:joe+@", "from:joe+*@",
	    "from:joe@", NULL),
	    "a leading '+' is no detail; an empty detail still is one");
	policy_keys_free(&k);

	policy_keys_init(&k);
	(void)policy_probe_full(&k, "From", "\"joe\"@example.org", 0);
	UNIT_CHECK(keys_are(&k, "from:joe@example.org", NULL),
	    "double quotes are removed from probe keys (spec 1.1)");
	policy_keys_free(&k);
}

static void
test_dotdomain(void)
{
	struct policy_keys	 k;

	policy_keys_init(&k);
	(void)policy_probe_domain(&k, "To", "a.b.c", POLICY_PROBE_DOTDOMAIN);
	UNIT_CHECK(keys_are(&k, "to:a.b.c", "to:.b.c", "to:b.c", "to:.c",
	    "to:c", NULL), "lookupdotdomain adds Tag:.rest after each name");
	policy_keys_free(&k);
}

static void
test_mailertable(void)
{
	struct policy_keys	 k;

	policy_keys_init(&k);
	(void)policy_probe_mailertable(&k, "a.b.example.com");
	UNIT_CHECK(keys_are(&k, "a.b.example.com", ".b.example.com",
	    ".example.com", ".com", ".", NULL),
	    "mailertable: host, then .parents, then '.' (spec 9.1)");
	policy_keys_free(&k);

	policy_keys_init(&k);
	(void)policy_probe_mailertable(&k, "[192.0.2.1]");
	UNIT_CHECK(keys_are(&k, "[192.0.2.1]", ".", NULL),
	    "mailertable on a literal: exact, then '.'");
	policy_keys_free(&k);
}

static void
test_canon(void)
{
	char	 b[POLICY_NAME_MAX];

	UNIT_CHECK(policy_addr_canon("2001:DB8::5", b, sizeof(b)) == 0 &&
	    strcmp(b, "IPv6:2001:db8:0:0:0:0:0:5") == 0,
	    "IPv6 client_addr: full form without leading zeros (spec 1.4)");
	UNIT_CHECK(policy_addr_canon("IPv6:::1", b, sizeof(b)) == 0 &&
	    strcmp(b, "IPv6:0:0:0:0:0:0:0:1") == 0, "IPv6 loopback form");
	UNIT_CHECK(policy_addr_canon("::ffff:192.0.2.7", b, sizeof(b)) == 0 &&
	    strcmp(b, "192.0.2.7") == 0, "IPv4-mapped prints as IPv4");
	UNIT_CHECK(policy_addr_canon("192.0.2.7", b, sizeof(b)) == 0 &&
	    strcmp(b, "192.0.2.7") == 0, "IPv4 dotted quad");
	UNIT_CHECK(policy_addr_canon("IPv6:192.0.2.7", b, sizeof(b)) == -1 &&
	    policy_addr_canon("example.com", b, sizeof(b)) == -1,
	    "non-addresses are refused");
	UNIT_CHECK(policy_name_canon("[2001:db8::5]", b, sizeof(b)) == 0 &&
	    strcmp(b, "[IPv6:2001:db8:0:0:0:0:0:5]") == 0,
	    "bracketed IPv6 client name in ${client_name} form");
	UNIT_CHECK(policy_name_canon("Mail.Example.COM.", b, sizeof(b)) == 0 &&
	    strcmp(b, "mail.example.com") == 0,
	    "names lowercased, trailing dot dropped");
	UNIT_CHECK(policy_name_canon("a..b", b, sizeof(b)) == -1 &&
	    policy_name_canon("a b", b, sizeof(b)) == -1 &&
	    policy_name_canon("[1.2.3]", b, sizeof(b)) == -1,
	    "malformed names are refused");
}

static void
test_split_and_subst(void)
{
	const char	*args[3] = { "joe", "box", "+box" }, *dom;
	char		 local[64], out[16];

	policy_mailbox_split("\"a@b\"@c.test", local, sizeof(local), &dom);
	UNIT_CHECK(strcmp(local, "\"a@b\"") == 0 && strcmp(dom, "c.test") ==
	    0, "split at the last '@'");
	policy_mailbox_split("Postmaster", local, sizeof(local), &dom);
	UNIT_CHECK(strcmp(local, "Postmaster") == 0 && dom[0] == '\0',
	    "a bare name has no domain");
	UNIT_CHECK(policy_value_subst("%1%3@x", args, 3, out, sizeof(out)) ==
	    0 && strcmp(out, "joe+box@x") == 0, "%1%3");
	UNIT_CHECK(policy_value_subst("%2.%3%9%", args, 2, out,
	    sizeof(out)) == 0 && strcmp(out, "box.%3%9%") == 0,
	    "a % past the arguments stays as it is");
	UNIT_CHECK(policy_value_subst("%1%1%1%1%1%1", args, 1, out,
	    sizeof(out)) == -1, "a result that does not fit is refused");
}

int
main(void)
{
	test_split_and_subst();
	test_connect_name();
	test_connect_literal();
	test_connect_ipv6();
	test_tls_srv();
	test_mail_from();
	test_dotdomain();
	test_mailertable();
	test_canon();
	return unit_done();
}
