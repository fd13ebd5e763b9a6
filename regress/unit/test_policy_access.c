/*
 * test_policy_access.c: connect, MAIL and RCPT decisions and routes on a
 * temporary database: shadowing (a more specific OK hides a RELAY), relay
 * by Connect: address, To: RELAY, local domains, relay-domains, the
 * %-hack (judged and queued as rewritten), routing in a local part,
 * blacklist_recipients on and off, the REJECT/ERROR texts of spec 2.2,
 * TMPF, the mailertable (every RHS form of spec 9.1, %1 and %2, local
 * domains never routed, a next hop that is this host), the query
 * decoder, and that a handle opened before makemap sees the change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "unit_policy.h"
#include "config.h"
#include "imsg.h"
#include "proto.h"
#include "policy.h"

static char		 tmpdir[] = "/tmp/test_policy_access.XXXXXX";
static char		 dbpath[256];
static struct policy_env env;

static void
load(const char *map, const char *text)
{
	unit_policy_load(tmpdir, dbpath, map, text);
}

/* every local name is a user here but one with '@', which no login has:
 * these tests are about access */
static int
any_user(void *arg, const char *user)
{
	(void)arg;
	return strchr(user, '@') == NULL;
}

static struct policy_result
ask(uint32_t kind, const char *addr, const char *name, const char *sender,
    const char *rcpt)
{
	struct policy_query	 q;
	struct policy_result	 res;

	memset(&q, 0, sizeof(q));
	q.kind = kind;
	(void)policy_addr_canon(addr, q.addr, sizeof(q.addr));
	(void)policy_name_canon(name, q.name, sizeof(q.name));
	(void)strlcpy(q.sender, sender, sizeof(q.sender));
	(void)strlcpy(q.rcpt, rcpt, sizeof(q.rcpt));
	policy_access_check(&env, &q, &res);
	/* the final recipients are policy_resolve's tests' */
	policy_targets_free(&res.targets);
	return res;
}

/* 1 if res is the reply "code enh text"; prints what it got if not. */
static int
is_reply(const struct policy_result *res, uint32_t verdict, uint32_t code,
    const char *enh, const char *text)
{
	if (res->verdict == verdict && res->code == code &&
	    strcmp(res->enhanced, enh) == 0 && strcmp(res->text, text) == 0)
		return 1;
	(void)printf("  got %u %u %s \"%s\" key=%s\n", res->verdict, res->code,
	    res->enhanced, res->text, res->key);
	return 0;
}

static int
is_accept(const struct policy_result *res, uint32_t flags, const char *key)
{
	if (res->verdict == POLICY_ACCEPT && res->flags == flags &&
	    strcmp(res->key, key) == 0)
		return 1;
	(void)printf("  got verdict %u flags 0x%x key=%s (%u %s)\n",
	    res->verdict, res->flags, res->key, res->code, res->text);
	return 0;
}

static void
test_connect(void)
{
	struct policy_result	 r;

	r = ask(POLICY_CONNECT, "192.0.2.10", "mail.bad.example", "", "");
	UNIT_CHECK(is_reply(&r, POLICY_REJECT, 550, "5.7.1", "Access denied") &&
	    strcmp(r.key, "connect:bad.example") == 0,
	    "connect REJECT: 550 5.7.1 Access denied, key reported");
	r = ask(POLICY_CONNECT, "192.0.2.10", "ok.bad.example", "", "");
	UNIT_CHECK(is_accept(&r, POLICY_F_OK, "connect:ok.bad.example"),
	    "a more specific OK shadows a REJECT of the parent");
	r = ask(POLICY_CONNECT, "198.51.100.7", "[198.51.100.7]", "", "");
	UNIT_CHECK(is_accept(&r, POLICY_F_RELAY, "connect:198.51.100"),
	    "connect RELAY by address sets POLICY_F_RELAY");
	r = ask(POLICY_CONNECT, "203.0.113.5", "h.example", "", "");
	UNIT_CHECK(is_reply(&r, POLICY_REJECT, 550, "5.7.0", "no spam") &&
	    r.key[0] != '\0', "connect ERROR: text without prefix");
	r = ask(POLICY_CONNECT, "203.0.113.9", "h.example", "", "");
	UNIT_CHECK(r.verdict == POLICY_DISCARD, "connect DISCARD");
	r = ask(POLICY_CONNECT, "203.0.113.10", "h.example", "", "");
	UNIT_CHECK(is_reply(&r, POLICY_REJECT, 553, "5.3.0", "SKIP"),
	    "unknown value at connect: 553 5.3.0 <value>");
	r = ask(POLICY_CONNECT, "192.0.2.99", "[192.0.2.99]", "", "");
	UNIT_CHECK(is_accept(&r, POLICY_F_DNSBL, ""),
	    "no entry: accepted, the DNSBLs apply");
}

static void
test_mail(void)
{
	struct policy_result	 r;

	r = ask(POLICY_MAIL, "192.0.2.99", "h.example", "joe+x@Spam.Example",
	    "");
	UNIT_CHECK(is_reply(&r, POLICY_REJECT, 550, "5.7.1",
	    "<joe+x@Spam.Example>... Access denied"),
	    "From: REJECT: 550 5.7.1 <s>... Access denied");
	r = ask(POLICY_MAIL, "192.0.2.99", "h.example", "boss+x@spam.example",
	    "");
	UNIT_CHECK(is_accept(&r, POLICY_F_OK, "from:boss+*@spam.example"),
	    "From:user+*@dom OK shadows the domain REJECT");
	r = ask(POLICY_MAIL, "192.0.2.99", "h.example", "", "");
	UNIT_CHECK(is_accept(&r, 0, ""), "<> gets no lookup");
	r = ask(POLICY_MAIL, "192.0.2.99", "h.example", "full@tmp.example", "");
	UNIT_CHECK(is_reply(&r, POLICY_TEMPFAIL, 450, "4.0.0",
	    "<full@tmp.example>... mailbox full"), "From: ERROR:450 at MAIL");
	r = ask(POLICY_MAIL, "192.0.2.99", "h.example", "x@odd.example", "");
	UNIT_CHECK(is_reply(&r, POLICY_REJECT, 553, "5.3.0",
	    "<x@odd.example>... WHATEVER"), "unknown value at MAIL");
	r = ask(POLICY_MAIL, "192.0.2.99", "h.example", "postmaster@x.example",
	    "");
	UNIT_CHECK(is_accept(&r, POLICY_F_OK, "from:postmaster@"),
	    "U probe: From:user@ matches any domain");
}

static void
test_rcpt(void)
{
	struct policy_result	 r;
	const char		*a = "192.0.2.99", *n = "client.example";

	r = ask(POLICY_RCPT, a, n, "s@x", "u@Local.Example");
	UNIT_CHECK(is_accept(&r, POLICY_F_LOCAL, "local.example"),
	    "recipient in local-host-names: local");
	r = ask(POLICY_RCPT, a, n, "s@x", "u@mx.test");
	UNIT_CHECK(is_accept(&r, POLICY_F_LOCAL, "mx.test"),
	    "recipient at the hostname: local");
	r = ask(POLICY_RCPT, a, n, "s@x", "u@sub.local.example");
	UNIT_CHECK(is_reply(&r, POLICY_REJECT, 550, "5.7.1",
	    "<u@sub.local.example>... Relaying denied"),
	    "local-host-names has no subdomains; relaying denied text");
	r = ask(POLICY_RCPT, a, n, "s@x", "u@partner.example");
	UNIT_CHECK(is_accept(&r, 0, "to:partner.example"),
	    "To:domain RELAY allows relaying to it");
	r = ask(POLICY_RCPT, a, n, "s@x", "u@deep.relayed.example");
	UNIT_CHECK(is_accept(&r, 0, "relayed.example"),
	    "relay-domains covers subdomains");
	r = ask(POLICY_RCPT, a, n, "s@x", "gone@local.example");
	UNIT_CHECK(is_reply(&r, POLICY_REJECT, 550, "5.2.1",
	    "<gone@local.example>... Mailbox disabled for this recipient"),
	    "To: REJECT: 550 5.2.1 Mailbox disabled");
	r = ask(POLICY_RCPT, a, n, "s@x", "abuse@local.example");
	UNIT_CHECK(is_reply(&r, POLICY_REJECT, 550, "5.2.1",
	    "<abuse@local.example>... Mailbox disabled for this recipient") &&
	    strcmp(r.key, "to:abuse@") == 0,
	    "To:user@ (U) applies to local domains");
	r = ask(POLICY_RCPT, a, n, "s@x", "abuse@other.example");
	UNIT_CHECK(r.code == 550 && strstr(r.text, "Relaying denied") != NULL,
	    "To:user@ does not apply to other domains");
	r = ask(POLICY_RCPT, a, n, "s@x", "postmaster");
	UNIT_CHECK(is_accept(&r, POLICY_F_LOCAL, ""), "unqualified: local");
	r = ask(POLICY_RCPT, a, n, "s@x", "u%victim.example@local.example");
	UNIT_CHECK(r.code == 550 && strstr(r.text,
	    "<u%victim.example@local.example>... Relaying denied") != NULL,
	    "the %-hack is judged as u@victim.example");
}

/* allow_untrusted_routing = no: routing in a local part needs Relay_ok. */
static void
test_rcpt_routing(void)
{
	static const char	*routed[] = {
		"\"u@victim.example\"@local.example",
		"victim.example!u@mx.test",
		"u%victim.example@relayed.example",
		"u!v%victim.example@partner.example",
	};
	struct policy_result	 r;
	char			 want[300];
	size_t			 i;
	int			 ok = 1;

	for (i = 0; i < sizeof(routed) / sizeof(routed[0]); i++) {
		(void)snprintf(want, sizeof(want), "<%s>... Relaying denied",
		    routed[i]);
		r = ask(POLICY_RCPT, "192.0.2.99", "client.example", "s@x",
		    routed[i]);
		ok &= is_reply(&r, POLICY_REJECT, 550, "5.7.1", want) &&
		    r.flags == 0;
	}
	UNIT_CHECK(ok, "a local part with @, ! or % needs relay rights, "
	    "even to a local or relayed domain");
	r = ask(POLICY_RCPT, "127.0.0.1", "localhost", "s@x",
	    "\"u@victim.example\"@elsewhere.example");
	UNIT_CHECK(is_accept(&r, POLICY_F_RELAY, "127.0.0.1"),
	    "a client that may relay may route in the local part");
	r = ask(POLICY_RCPT, "127.0.0.1", "localhost", "s@x",
	    "\"u@victim.example\"@local.example");
	UNIT_CHECK(is_reply(&r, POLICY_REJECT, 550, "5.1.1",
	    "<\"u@victim.example\"@local.example>... User unknown"),
	    "at a local domain such a local part is a local name, no user");
	r = ask(POLICY_RCPT, "198.51.100.7", "[198.51.100.7]", "s@x",
	    "victim.example!u@local.example");
	UNIT_CHECK(is_accept(&r, POLICY_F_RELAY, "connect:198.51.100"),
	    "Connect: RELAY may route in the local part");
	r = ask(POLICY_RCPT, "192.0.2.99", "client.example", "s@x",
	    "u%partner.example@local.example");
	UNIT_CHECK(is_accept(&r, 0, "to:partner.example"),
	    "a %-hack that ends at a domain we relay to needs no rights");
}

/*
 * The %-hack: "u%h@local" is judged exactly as a RCPT of "u@h" would be
 * and, once accepted, queued as that (policy_result.rcpt).
 */
static void
test_rcpt_hack(void)
{
	struct policy_result	 r;
	char			 deep[300];
	int			 i;

	r = ask(POLICY_RCPT, "127.0.0.1", "localhost", "s@x",
	    "X%Far.Example@local.example");
	UNIT_CHECK(is_accept(&r, POLICY_F_RELAY, "127.0.0.1") &&
	    strcmp(r.rcpt, "X@Far.Example") == 0,
	    "relaying client: u%far@local is relayed and queued as u@far, "
	    "in its case");
	r = ask(POLICY_RCPT, "127.0.0.1", "localhost", "s@x",
	    "gone%local.example@mx.test");
	UNIT_CHECK(is_reply(&r, POLICY_REJECT, 550, "5.2.1",
	    "<gone%local.example@mx.test>... Mailbox disabled for this "
	    "recipient") && r.rcpt[0] == '\0',
	    "the rewrite meets the To: entries of the address it names");
	r = ask(POLICY_RCPT, "127.0.0.1", "localhost", "s@x",
	    "u%blocked.example@mx.test");
	UNIT_CHECK(r.code == 550 && strcmp(r.key, "to:blocked.example") == 0,
	    "a To: REJECT of the rewritten domain refuses a relaying client");
	r = ask(POLICY_RCPT, "192.0.2.99", "client.example", "s@x",
	    "u%local.example@mx.test");
	UNIT_CHECK(is_accept(&r, POLICY_F_LOCAL, "local.example") &&
	    strcmp(r.rcpt, "u@local.example") == 0,
	    "u%local2@local1: local, queued as u@local2");
	r = ask(POLICY_RCPT, "192.0.2.99", "client.example", "s@x",
	    "u%victim.example@local.example");
	UNIT_CHECK(r.code == 550 && r.rcpt[0] == '\0',
	    "refused: no rewrite in the result");
	r = ask(POLICY_RCPT, "127.0.0.1", "localhost", "s@x",
	    "u%@local.example");
	UNIT_CHECK(is_reply(&r, POLICY_REJECT, 501, "5.1.3",
	    "Bad recipient address syntax"),
	    "a rewrite that is no mailbox is refused, even for a relay");
	r = ask(POLICY_RCPT, "127.0.0.1", "localhost", "s@x",
	    "\"u%far.example\"@local.example");
	UNIT_CHECK(is_accept(&r, POLICY_F_RELAY, "127.0.0.1") &&
	    r.rcpt[0] == '\0', "no %-hack in a quoted local part");
	(void)strlcpy(deep, "u", sizeof(deep));
	for (i = 0; i < 11; i++)
		(void)strlcat(deep, "%l.ex", sizeof(deep));
	(void)strlcat(deep, "@mx.test", sizeof(deep));
	r = ask(POLICY_RCPT, "127.0.0.1", "localhost", "s@x", deep);
	UNIT_CHECK(r.verdict == POLICY_REJECT && r.code == 501,
	    "more than 10 %-hack steps are refused");
	deep[strlen(deep) - strlen("%l.ex@mx.test")] = '\0';
	(void)strlcat(deep, "@mx.test", sizeof(deep));
	r = ask(POLICY_RCPT, "127.0.0.1", "localhost", "s@x", deep);
	UNIT_CHECK(is_accept(&r, POLICY_F_LOCAL, "l.ex") &&
	    strcmp(r.rcpt, "u@l.ex") == 0, "10 steps are resolved");
	r = ask(POLICY_RCPT, "192.0.2.99", "client.example", "s@x",
	    "u@local.example");
	UNIT_CHECK(r.rcpt[0] == '\0', "no %-hack: no rewrite");
}

/* FEATURE(blacklist_recipients) off: only To: RELAY of a domain counts. */
static void
test_rcpt_no_blacklist(void)
{
	struct policy_result	 r;
	struct policy_env	 saved = env;

	env.blacklist = 0;
	r = ask(POLICY_RCPT, "192.0.2.99", "client.example", "s@x",
	    "gone@local.example");
	UNIT_CHECK(is_accept(&r, POLICY_F_LOCAL, "local.example"),
	    "off: To:user@dom REJECT is not applied");
	r = ask(POLICY_RCPT, "192.0.2.99", "client.example", "s@x",
	    "abuse@local.example");
	UNIT_CHECK(is_accept(&r, POLICY_F_LOCAL, "local.example"),
	    "off: To:user@ REJECT is not applied");
	r = ask(POLICY_RCPT, "127.0.0.1", "localhost", "s@x",
	    "u@blocked.example");
	UNIT_CHECK(is_accept(&r, POLICY_F_RELAY, "127.0.0.1"),
	    "off: To:domain REJECT is ignored, the client relays");
	r = ask(POLICY_RCPT, "192.0.2.99", "client.example", "s@x",
	    "u@partner.example");
	UNIT_CHECK(is_accept(&r, 0, "to:partner.example"),
	    "off: To:domain RELAY still allows relaying to it");
	r = ask(POLICY_RCPT, "192.0.2.99", "client.example", "s@x",
	    "bob@hold.example");
	UNIT_CHECK(is_reply(&r, POLICY_REJECT, 550, "5.7.1",
	    "<bob@hold.example>... Relaying denied"),
	    "off: To: QUARANTINE is not applied, relaying is judged");
	env.dbfail = 1;
	r = ask(POLICY_RCPT, "192.0.2.99", "client.example", "s@x",
	    "u@far.example");
	UNIT_CHECK(r.verdict == POLICY_TEMPFAIL,
	    "off: a TMPF of the To: RELAY probe still defers");
	env = saved;
	r = ask(POLICY_RCPT, "127.0.0.1", "localhost", "s@x",
	    "u@blocked.example");
	UNIT_CHECK(is_reply(&r, POLICY_REJECT, 550, "5.2.1",
	    "<u@blocked.example>... Mailbox disabled for this recipient"),
	    "on: To:domain REJECT refuses even a client that may relay");
}

static void
test_relay_client(void)
{
	struct policy_result	 r;

	r = ask(POLICY_RCPT, "198.51.100.7", "[198.51.100.7]", "s@x",
	    "u@far.example");
	UNIT_CHECK(is_accept(&r, POLICY_F_RELAY, "connect:198.51.100"),
	    "Connect:addr RELAY lets the client relay");
	r = ask(POLICY_RCPT, "198.51.100.8", "[198.51.100.8]", "s@x",
	    "u@far.example");
	UNIT_CHECK(r.code == 550 && strstr(r.text, "Relaying denied") != NULL,
	    "Connect:addr OK shadows the network's RELAY");
	r = ask(POLICY_RCPT, "192.0.2.50", "gw.trusted.example", "s@x",
	    "u@far.example");
	UNIT_CHECK(is_accept(&r, POLICY_F_RELAY, "connect:trusted.example"),
	    "Connect:name RELAY lets the client relay (D after A)");
	r = ask(POLICY_RCPT, "127.0.0.1", "localhost", "s@x", "u@far.example");
	UNIT_CHECK(is_accept(&r, POLICY_F_RELAY, "127.0.0.1"),
	    "127.0.0.1 relays (spec 2.4 Relay_ok step 1)");
	r = ask(POLICY_RCPT, "::1", "[::1]", "s@x", "u@far.example");
	UNIT_CHECK(is_accept(&r, POLICY_F_RELAY, "IPv6:0:0:0:0:0:0:0:1"),
	    "::1 relays");
	r = ask(POLICY_RCPT, "10.1.2.3", "[10.1.2.3]", "s@x", "u@far.example");
	UNIT_CHECK(is_accept(&r, POLICY_F_RELAY, "10.1"),
	    "relay-domains address prefix lets the client relay");
}

static void
test_tmpf(void)
{
	struct policy_result	 r;
	struct policy_env	 saved = env;

	env.dbfail = 1;
	r = ask(POLICY_CONNECT, "192.0.2.10", "h.example", "", "");
	UNIT_CHECK(is_reply(&r, POLICY_TEMPFAIL, 451, "4.3.0",
	    "Temporary system failure. Please try again later."),
	    "TMPF at connect: 451 4.3.0");
	r = ask(POLICY_RCPT, "127.0.0.1", "localhost", "s@x", "u@mx.test");
	UNIT_CHECK(r.verdict == POLICY_TEMPFAIL, "TMPF at RCPT: tempfail");
	env = saved;
	env.db = NULL;
	r = ask(POLICY_RCPT, "192.0.2.10", "h.example", "s@x", "u@mx.test");
	UNIT_CHECK(is_accept(&r, POLICY_F_LOCAL, "mx.test"),
	    "no database: empty maps, the hostname is still local");
	env = saved;
}

static void
test_route(void)
{
	struct policy_route	 rt;

	policy_route_find(&env, NULL, "a.b.routed.example", &rt);
	UNIT_CHECK(rt.kind == ROUTE_HOST && strcmp(rt.host, "[192.0.2.1]") == 0
	    && rt.port == 2525, "mailertable .parent match with [addr]:port");
	UNIT_CHECK(rt.flags == 0, "[addr] is no MX lookup");
	policy_route_find(&env, NULL, "routed.example", &rt);
	UNIT_CHECK(rt.kind == ROUTE_HOST && strcmp(rt.host, "mx.routed.example")
	    == 0 && rt.port == 0 && rt.flags == ROUTE_F_MX &&
	    rt.user[0] == '\0', "exact mailertable entry, name host: its MX");
	policy_route_find(&env, NULL, "dead.example", &rt);
	UNIT_CHECK(rt.kind == ROUTE_ERROR && rt.code == 550 &&
	    strcmp(rt.text, "5.1.2 Host gone") == 0, "mailertable error:");
	policy_route_find(&env, NULL, "local.test", &rt);
	UNIT_CHECK(rt.kind == ROUTE_LOCAL && rt.user[0] == '\0',
	    "local: is the local mailer");
	policy_route_find(&env, NULL, "luser.example", &rt);
	UNIT_CHECK(rt.kind == ROUTE_LOCAL && strcmp(rt.user, "bob") == 0,
	    "local:user names the user");
	policy_route_find(&env, NULL, "weird.example", &rt);
	UNIT_CHECK(rt.kind == ROUTE_ERROR && rt.code == 451 &&
	    strncmp(rt.text, "4.3.5 ", 6) == 0,
	    "unsupported mailer: 451, mail waits");
	policy_route_find(&env, NULL, "user.example", &rt);
	UNIT_CHECK(rt.kind == ROUTE_HOST && strcmp(rt.host, "hub.example")
	    == 0 && rt.port == 2526 && rt.flags == ROUTE_F_MX &&
	    strcmp(rt.user, "catch@Hub.example") == 0,
	    "mailer:user@host:port: RCPT user@host, host's MX at the port");
	policy_route_find(&env, NULL, "ulit.example", &rt);
	UNIT_CHECK(rt.kind == ROUTE_HOST && strcmp(rt.host, "[192.0.2.3]")
	    == 0 && rt.flags == 0 && strcmp(rt.user, "u@[192.0.2.3]") == 0,
	    "mailer:user@[addr]");
	policy_route_find(&env, NULL, "ubad.example", &rt);
	UNIT_CHECK(rt.kind == ROUTE_ERROR && rt.code == 451,
	    "mailer:user@[name] is no mailbox: 451");
	policy_route_find(&env, NULL, "bname.example", &rt);
	UNIT_CHECK(rt.kind == ROUTE_HOST && strcmp(rt.host, "hub.example")
	    == 0 && rt.flags == 0, "mailer:[name]: A/AAAA only");
	policy_route_find(&env, NULL, "x.y.pct.example", &rt);
	UNIT_CHECK(rt.kind == ROUTE_HOST && strcmp(rt.host,
	    "x.y.gw.example") == 0 && rt.flags == ROUTE_F_MX,
	    "%1 is what is left of the matched key");
	policy_route_find(&env, NULL, "q.b.two.example", &rt);
	UNIT_CHECK(rt.kind == ROUTE_HOST && strcmp(rt.host, "b.gw.example")
	    == 0 && rt.flags == 0, "%2 is the one label left of the key");
	policy_route_find(&env, NULL, "mx.test", &rt);
	UNIT_CHECK(rt.kind == ROUTE_LOCAL, "the host name is never routed");
	policy_route_find(&env, NULL, "local.example", &rt);
	UNIT_CHECK(rt.kind == ROUTE_LOCAL,
	    "a local-host-names domain is never routed, mailertable or not");
	policy_route_find(&env, NULL, "plain.example", &rt);
	UNIT_CHECK(rt.kind == ROUTE_MX, "no entry: MX");
	env.dbfail = 1;
	policy_route_find(&env, NULL, "plain.example", &rt);
	UNIT_CHECK(rt.kind == ROUTE_ERROR && rt.code == 451 &&
	    strncmp(rt.text, "4.3.0 ", 6) == 0, "TMPF: 451 4.3.0");
	env.dbfail = 0;
}

/* 1 if rt is the 553 of a next hop that is this host. */
static int
is_loop(const struct policy_route *rt)
{
	if (rt->kind == ROUTE_ERROR && rt->code == 553 && strcmp(rt->text,
	    "5.3.5 config error: mail loops back to me (MX problem?)") == 0)
		return 1;
	(void)printf("  got kind %u host %s port %u: %u %s\n", rt->kind,
	    rt->host, rt->port, rt->code, rt->text);
	return 0;
}

/* Static next hops that are this host, by the config's listeners. */
static void
test_route_self(void)
{
	static const char	 text[] =
	    "hostname \"mx.test\"\n"
	    "listen on 127.0.0.1 port 2525\n"
	    "listen on 0.0.0.0 port 2600\n"
	    "listen on 192.0.2.50 port 2525\n"
	    "mta port 2525\n"
	    "route \"lit.example\" via \"[127.0.0.1]\"\n"
	    "route \"name.example\" via \"localhost\"\n"
	    "route \"port.example\" via \"[127.0.0.1]\" port 26\n"
	    "route \"wild.example\" via \"[127.0.0.5]\" port 2600\n"
	    "route \"bound.example\" via \"[192.0.2.50]\"\n"
	    "route \"other.example\" via \"[127.0.0.5]\"\n"
	    "route \"*\" via \"[192.0.2.7]\"\n";
	struct policy_route	 rt;
	struct config		*cf;
	struct policy_env	 saved = env;

	if ((cf = config_parse_buffer(text, strlen(text))) == NULL) {
		UNIT_CHECK(0, "route config parses");
		return;
	}
	env.cf = cf;
	policy_route_find(&env, cf, "lit.example", &rt);
	UNIT_CHECK(is_loop(&rt), "route to [127.0.0.1] at our port: 553");
	policy_route_find(&env, cf, "name.example", &rt);
	UNIT_CHECK(is_loop(&rt), "route to localhost at our port: 553");
	policy_route_find(&env, cf, "wild.example", &rt);
	UNIT_CHECK(is_loop(&rt), "loopback at a wildcard listener's port");
	policy_route_find(&env, cf, "bound.example", &rt);
	UNIT_CHECK(is_loop(&rt), "a listener's own address at its port");
	policy_route_find(&env, cf, "selfmt.example", &rt);
	UNIT_CHECK(is_loop(&rt), "mailertable smtp:[127.0.0.1]: 553");
	policy_route_find(&env, cf, "port.example", &rt);
	UNIT_CHECK(rt.kind == ROUTE_HOST && rt.port == 26,
	    "our address at a port nobody listens on is not us");
	policy_route_find(&env, cf, "other.example", &rt);
	UNIT_CHECK(rt.kind == ROUTE_HOST,
	    "127.0.0.5 at a port bound to 127.0.0.1 only is not us");
	policy_route_find(&env, cf, "far.example", &rt);
	UNIT_CHECK(rt.kind == ROUTE_HOST && strcmp(rt.host, "[192.0.2.7]") == 0,
	    "route \"*\" elsewhere");
	policy_route_find(&env, cf, "localhost", &rt);
	UNIT_CHECK(rt.kind == ROUTE_LOCAL, "route \"*\" skips localhost");
	policy_route_find(&env, cf, "[192.0.2.50]", &rt);
	UNIT_CHECK(rt.kind == ROUTE_LOCAL,
	    "a listener's [addr] is local, not routed");
	config_free(cf);
	env = saved;
}

/* A RCPT from a client whose ${client_resolve} is resolve. */
static struct policy_result
ask_resolved(const char *addr, const char *name, const char *resolve,
    const char *rcpt)
{
	struct policy_query	 q;
	struct policy_result	 res;

	memset(&q, 0, sizeof(q));
	q.kind = POLICY_RCPT;
	(void)policy_addr_canon(addr, q.addr, sizeof(q.addr));
	(void)policy_name_canon(name, q.name, sizeof(q.name));
	(void)strlcpy(q.sender, "s@x", sizeof(q.sender));
	(void)strlcpy(q.rcpt, rcpt, sizeof(q.rcpt));
	(void)strlcpy(q.resolve, resolve, sizeof(q.resolve));
	policy_access_check(&env, &q, &res);
	/* the final recipients are policy_resolve's tests' */
	policy_targets_free(&res.targets);
	return res;
}

/* Relay_ok step 6 (spec 2.4): ${client_resolve} refuses relaying. */
static void
test_relay_resolve(void)
{
	struct policy_result	 r;

	r = ask_resolved("192.0.2.60", "[192.0.2.60]", "TEMP", "u@far.example");
	UNIT_CHECK(is_reply(&r, POLICY_TEMPFAIL, 450, "4.4.0",
	    "<u@far.example>... Relaying temporarily denied. Cannot resolve "
	    "PTR record for 192.0.2.60"), "TEMP: 450 4.4.0");
	r = ask_resolved("2001:db8::7", "[2001:db8::7]", "TEMP",
	    "u@far.example");
	UNIT_CHECK(is_reply(&r, POLICY_TEMPFAIL, 450, "4.4.0",
	    "<u@far.example>... Relaying temporarily denied. Cannot resolve "
	    "PTR record for IPv6:2001:db8:0:0:0:0:0:7"),
	    "TEMP names ${client_addr} in its full IPv6 form");
	r = ask_resolved("192.0.2.60", "[192.0.2.60]", "FORGED",
	    "u@far.example");
	UNIT_CHECK(is_reply(&r, POLICY_REJECT, 550, "5.7.1",
	    "<u@far.example>... Relaying denied. IP name possibly forged "
	    "[192.0.2.60]"), "FORGED: 550 5.7.1 possibly forged");
	r = ask_resolved("192.0.2.60", "[192.0.2.60]", "FAIL", "u@far.example");
	UNIT_CHECK(is_reply(&r, POLICY_REJECT, 550, "5.7.1",
	    "<u@far.example>... Relaying denied. IP name lookup failed "
	    "[192.0.2.60]"), "FAIL: 550 5.7.1 lookup failed");
	r = ask_resolved("192.0.2.60", "[192.0.2.60]", "", "u@far.example");
	UNIT_CHECK(is_reply(&r, POLICY_REJECT, 550, "5.7.1",
	    "<u@far.example>... Relaying denied"),
	    "no lookup made: the plain refusal");
	r = ask_resolved("198.51.100.7", "[198.51.100.7]", "FAIL",
	    "u@far.example");
	UNIT_CHECK(is_accept(&r, POLICY_F_RELAY, "connect:198.51.100"),
	    "a Connect:addr RELAY (step 3) comes before step 6");
	r = ask_resolved("192.0.2.60", "[192.0.2.60]", "FORGED",
	    "u@local.example");
	UNIT_CHECK(is_accept(&r, POLICY_F_LOCAL, "local.example"),
	    "a local recipient is accepted before Relay_ok");
	r = ask_resolved("192.0.2.50", "gw.trusted.example", "OK",
	    "u@far.example");
	UNIT_CHECK(is_accept(&r, POLICY_F_RELAY, "connect:trusted.example"),
	    "OK: the name's Connect: RELAY (step 8) applies");
}

/* A whole IMSG_POLICY_QUERY as the front end sends it (proto.h). */
static void
query_build_addr(struct imsg_out *out, const char *name, const char *resolve,
    const char *sender, const char *rcpt)
{
	imsg_out_init(out, IMSG_POLICY_QUERY, 7);
	imsg_put_u32(out, POLICY_RCPT);
	imsg_put_str(out, "2001:db8::5");
	imsg_put_str(out, name);
	imsg_put_str(out, "helo.example");
	imsg_put_str(out, sender);
	imsg_put_str(out, rcpt);
	imsg_put_str(out, "");
	imsg_put_str(out, "");
	imsg_put_str(out, "");
	imsg_put_u32(out, 0);
	imsg_put_str(out, "");
	imsg_put_u32(out, 0);
	imsg_put_str(out, "");
	imsg_put_str(out, "");
	imsg_put_str(out, "");
	if (resolve != NULL)
		imsg_put_str(out, resolve);
}

static void
query_build(struct imsg_out *out, const char *name, const char *resolve)
{
	query_build_addr(out, name, resolve, "<s@x.example>", "<r@y.example>");
}

/* Parse a query with these addresses; the refusal's code, 0 if none. */
static uint32_t
query_refused(const char *sender, const char *rcpt, int *ret)
{
	struct imsg_out		 out;
	struct imsg		 m;
	struct policy_query	 q;
	struct policy_result	 res;
	const char		*why;

	memset(&res, 0, sizeof(res));
	query_build_addr(&out, "", "", sender, rcpt);
	imsg_from_buffer(&m, IMSG_POLICY_QUERY, out.buf, out.len);
	*ret = policy_query_parse(&m, &q, &res, &why);
	imsg_out_free(&out);
	return *ret == 1 && res.verdict == POLICY_REJECT ? res.code : 0;
}

/*
 * What the front end's grammar accepts policyd accepts; a value it
 * refuses is a refusal of the command (1), never a broken peer (-1).
 */
static void
test_query_grammar(void)
{
	char	 big[400];
	int	 r;

	UNIT_CHECK(query_refused("", "\"a>b\"@relay.test", &r) == 0 &&
	    r == 0, "a quoted local part with '>' is a recipient");
	UNIT_CHECK(query_refused("\"a<b\"@x.example", "r@y.example",
	    &r) == 0 && r == 0, "a quoted local part with '<' is a sender");
	UNIT_CHECK(query_refused("", "Postmaster", &r) == 0 && r == 0,
	    "RCPT TO:<Postmaster> is a recipient");
	UNIT_CHECK(query_refused("", "a b@y.example", &r) == 501 && r == 1,
	    "an unquoted space in a recipient: 501, not a bad peer");
	UNIT_CHECK(query_refused("s@@x.example", "r@y.example", &r) == 501 &&
	    r == 1, "a bad sender: 501, not a bad peer");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	UNIT_CHECK(query_refused(big, "r@y.example", &r) == 501 && r == 1,
	    "an overlong sender: 501");
	UNIT_CHECK(query_refused("", "r\001@y.example", &r) == 501 && r == 1,
	    "a control character in a recipient: 501");
}

static void
test_query(void)
{
	struct imsg_out		 out;
	struct imsg		 m;
	struct policy_query	 q;
	struct policy_result	 res;
	const char		*why;

	query_build(&out, "", "");
	imsg_from_buffer(&m, IMSG_POLICY_QUERY, out.buf, out.len);
	UNIT_CHECK(policy_query_parse(&m, &q, &res, &why) == 0 &&
	    strcmp(q.addr, "IPv6:2001:db8:0:0:0:0:0:5") == 0 &&
	    strcmp(q.name, "[IPv6:2001:db8:0:0:0:0:0:5]") == 0 &&
	    strcmp(q.rcpt, "r@y.example") == 0 && q.resolve[0] == '\0',
	    "query decoded; address canonical; brackets removed");
	imsg_out_free(&out);

	query_build(&out, "Mail.Example.", "FORGED");
	imsg_from_buffer(&m, IMSG_POLICY_QUERY, out.buf, out.len);
	UNIT_CHECK(policy_query_parse(&m, &q, &res, &why) == 0 &&
	    strcmp(q.name, "mail.example") == 0 &&
	    strcmp(q.resolve, "FORGED") == 0,
	    "client name canonical, client_resolve kept");
	imsg_out_free(&out);

	query_build(&out, "", "MAYBE");
	imsg_from_buffer(&m, IMSG_POLICY_QUERY, out.buf, out.len);
	UNIT_CHECK(policy_query_parse(&m, &q, &res, &why) == -1,
	    "an unknown client_resolve word is refused");
	imsg_out_free(&out);

	query_build(&out, "", NULL);
	imsg_from_buffer(&m, IMSG_POLICY_QUERY, out.buf, out.len);
	UNIT_CHECK(policy_query_parse(&m, &q, &res, &why) == -1,
	    "a query without client_resolve is refused");
	imsg_out_free(&out);

	imsg_out_init(&out, IMSG_POLICY_QUERY, 7);
	imsg_put_u32(&out, POLICY_MAIL);
	imsg_put_str(&out, "192.0.2.1");
	imsg_put_str(&out, "h\r\n.example");
	imsg_from_buffer(&m, IMSG_POLICY_QUERY, out.buf, out.len);
	UNIT_CHECK(policy_query_parse(&m, &q, &res, &why) == -1,
	    "control characters or a short payload are refused");
	imsg_out_free(&out);
}

/* The "policy" settings: delay_checks, lookupdotdomain, skip. */
static void
test_options(void)
{
	struct policy_result	 r;
	struct policy_env	 saved = env;

	env.delay_checks = 1;
	r = ask(POLICY_CONNECT, "192.0.2.99", "bad.example", "", "");
	UNIT_CHECK(is_accept(&r, 0, ""), "delay_checks: connect passes");
	r = ask(POLICY_MAIL, "192.0.2.99", "bad.example", "a@spam.example",
	    "");
	UNIT_CHECK(is_accept(&r, 0, ""), "delay_checks: MAIL passes");
	r = ask(POLICY_RCPT, "192.0.2.99", "bad.example", "a@spam.example",
	    "u@local.example");
	UNIT_CHECK(is_reply(&r, POLICY_REJECT, 550, "5.7.1",
	    "<u@local.example>... Access denied"),
	    "delay_checks: the From: REJECT at RCPT, recipient prefixed");
	r = ask(POLICY_RCPT, "192.0.2.99", "bad.example", "joe@plain.example",
	    "u@local.example");
	UNIT_CHECK(is_reply(&r, POLICY_REJECT, 550, "5.7.1",
	    "<u@local.example>... Access denied"),
	    "delay_checks: then the Connect: REJECT, recipient prefixed");
	r = ask(POLICY_RCPT, "192.0.2.99", "bad.example",
	    "boss+x@spam.example", "u@local.example");
	UNIT_CHECK(r.verdict == POLICY_ACCEPT && (r.flags & POLICY_F_LOCAL) &&
	    !(r.flags & POLICY_F_DNSBL),
	    "delay_checks: a From: OK skips check_relay (spec 1.8)");
	r = ask(POLICY_RCPT, "192.0.2.99", "[192.0.2.99]",
	    "joe@plain.example", "u@local.example");
	UNIT_CHECK(r.verdict == POLICY_ACCEPT && (r.flags & POLICY_F_DNSBL),
	    "delay_checks: no Connect: entry, the DNSBLs apply at RCPT");
	r = ask(POLICY_RCPT, "192.0.2.99", "bad.example", "a@spam.example",
	    "u@elsewhere.example");
	UNIT_CHECK(is_reply(&r, POLICY_REJECT, 550, "5.7.1",
	    "<u@elsewhere.example>... Relaying denied"),
	    "delay_checks: a refused recipient is refused first");
	env = saved;
	r = ask(POLICY_CONNECT, "192.0.2.99", "a.dot.example", "", "");
	UNIT_CHECK(is_accept(&r, POLICY_F_DNSBL, ""), "no lookupdotdomain: "
	    ".dot.example is not probed");
	env.dotdomain = 1;
	r = ask(POLICY_CONNECT, "192.0.2.99", "a.dot.example", "", "");
	UNIT_CHECK(r.verdict == POLICY_REJECT &&
	    strcmp(r.key, "connect:.dot.example") == 0,
	    "lookupdotdomain: Connect:.dot.example matches a.dot.example");
	env = saved;
	env.skip = 0;
	r = ask(POLICY_CONNECT, "203.0.113.10", "h.example", "", "");
	UNIT_CHECK(is_reply(&r, POLICY_REJECT, 553, "5.3.0", "SKIP"),
	    "skip off: SKIP is an unknown value (spec 2.2)");
	env = saved;
}

static void
test_no_cache(void)
{
	struct policy_result	 r;

	load("access", "Connect:192.0.2.10 REJECT\n");
	r = ask(POLICY_CONNECT, "192.0.2.10", "h.example", "", "");
	UNIT_CHECK(r.verdict == POLICY_REJECT && strcmp(r.key,
	    "connect:192.0.2.10") == 0,
	    "an open handle sees makemap's new map at the next query");
}

/* QUARANTINE:text (spec 2.2): accepted at each stage, text kept as is. */
static void
test_quarantine(void)
{
	struct policy_result	 r;

	r = ask(POLICY_CONNECT, "203.0.113.11", "h.example", "", "");
	UNIT_CHECK(r.verdict == POLICY_QUARANTINE && r.code == 0 &&
	    strcmp(r.text, "Held At Connect") == 0 &&
	    strcmp(r.key, "connect:203.0.113.11") == 0,
	    "connect QUARANTINE: verdict, reason in its case, key");
	r = ask(POLICY_MAIL, "192.0.2.99", "h.example", "joe@Held.Example",
	    "");
	UNIT_CHECK(r.verdict == POLICY_QUARANTINE &&
	    strcmp(r.text, "Sender Held") == 0 &&
	    strcmp(r.key, "from:held.example") == 0,
	    "From: quarantine (keyword in any case) at MAIL");
	r = ask(POLICY_MAIL, "192.0.2.99", "h.example", "joe@other.example",
	    "");
	UNIT_CHECK(is_accept(&r, 0, ""), "another sender is not held");
	r = ask(POLICY_RCPT, "192.0.2.99", "h.example", "a@b.example",
	    "bob@hold.example");
	UNIT_CHECK(r.verdict == POLICY_QUARANTINE &&
	    strcmp(r.text, "rcpt held") == 0 &&
	    strcmp(r.key, "to:hold.example") == 0,
	    "To: QUARANTINE ends check_rcpt as DISCARD does");
	r = ask(POLICY_RCPT, "192.0.2.99", "h.example", "a@b.example",
	    "bob@nothold.example");
	UNIT_CHECK(is_reply(&r, POLICY_REJECT, 550, "5.7.1",
	    "<bob@nothold.example>... Relaying denied"),
	    "another remote recipient is still refused relaying");
}

int
main(void)
{
	char	 err[256];

	if (mkdtemp(tmpdir) == NULL)
		return 1;
	(void)snprintf(dbpath, sizeof(dbpath), "%s/maps.db", tmpdir);
	load("access",
	    "Connect:bad.example REJECT\nConnect:ok.bad.example OK\n"
	    "Connect:198.51.100 RELAY\nConnect:198.51.100.8 OK\n"
	    "Connect:203.0.113.5 ERROR:5.7.1:550 5.7.0 no spam\n"
	    "Connect:203.0.113.9 DISCARD\nConnect:203.0.113.10 SKIP\n"
	    "Connect:trusted.example RELAY\nConnect:.dot.example REJECT\n"
	    "From:spam.example REJECT\nFrom:boss+*@spam.example OK\n"
	    "From:full@tmp.example ERROR:450 mailbox full\n"
	    "From:odd.example WHATEVER\nFrom:postmaster@ OK\n"
	    "To:partner.example RELAY\nTo:gone@local.example REJECT\n"
	    "To:abuse@ REJECT\nTo:blocked.example REJECT\n"
	    "Connect:203.0.113.11 QUARANTINE:Held At Connect\n"
	    "From:held.example quarantine:Sender Held\n"
	    "To:hold.example QUARANTINE:rcpt held\n");
	load("local-host-names", "local.example\nl.ex\n");
	load("relay-domains", "relayed.example\n10.1\n");
	load("mailertable", ".routed.example esmtp:[192.0.2.1]:2525\n"
	    "routed.example smtp:mx.routed.example\n"
	    "dead.example error:5.1.2:550 Host gone\n"
	    "local.test local:\nluser.example local:bob\n"
	    "weird.example uucp:hub.example\n"
	    "user.example smtp:catch@Hub.example:2526\n"
	    "ulit.example smtp:u@[192.0.2.3]\n"
	    "ubad.example smtp:u@[hub.example]\n"
	    "bname.example smtp:[hub.example]\n"
	    ".pct.example esmtp:%1.gw.example\n"
	    ".two.example relay:[%2.gw.example]\n"
	    "mx.test smtp:[192.0.2.9]\nlocal.example smtp:[192.0.2.9]\n"
	    "selfmt.example smtp:[127.0.0.1]\n");
	if (policy_db_open(dbpath, 0, &env.db, err, sizeof(err)) == -1) {
		(void)printf("open: %s\n", err);
		return 1;
	}
	env.hostname = "mx.test";
	env.blacklist = 1;
	env.user_exists = any_user;
	test_connect();
	test_mail();
	test_relay_resolve();
	test_rcpt();
	test_rcpt_routing();
	test_rcpt_hack();
	test_rcpt_no_blacklist();
	test_relay_client();
	test_tmpf();
	test_route();
	test_route_self();
	test_query();
	test_query_grammar();
	test_options();
	test_quarantine();
	test_no_cache();
	policy_db_close(env.db);
	(void)snprintf(err, sizeof(err), "rm -rf %s", tmpdir);
	UNIT_CHECK(system(err) == 0, "scratch directory removed");
	return unit_done();
}
