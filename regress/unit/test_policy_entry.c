/*
 * test_policy_entry.c: the checks "smtpctl access add" and "map add"
 * make before anything is stored: makemap's line rules (control
 * characters, CR/LF, blanks and quotes in keys, lengths, set maps take
 * no value), access-map tags and values (ERROR: without text, 2xx codes,
 * mismatched enhanced status, unknown keywords, SKIP only at Connect:),
 * mailertable values, keys for delete; virtusertable keys and values,
 * local-users and virtual-domains names, aliases entries in their
 * stored form.
 */
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "policy.h"

static char	 err[512];

static int
ok(const char *map, const char *key, const char *value)
{
	err[0] = '\0';
	if (policy_entry_check(map, key, value, err, sizeof(err)) == 0)
		return 1;
	(void)printf("  refused %s %s \"%s\": %s\n", map, key, value, err);
	return 0;
}

/* 1 if refused with a reason containing want. */
static int
refused(const char *map, const char *key, const char *value, const char *want)
{
	err[0] = '\0';
	if (policy_entry_check(map, key, value, err, sizeof(err)) == -1 &&
	    strstr(err, want) != NULL)
		return 1;
	(void)printf("  %s %s \"%s\": got \"%s\"\n", map, key, value, err);
	return 0;
}

static void
test_access_values(void)
{
	UNIT_CHECK(ok("access", "Connect:192.0.2", "REJECT") &&
	    ok("access", "connect:192.0.2", "ok") &&
	    ok("access", "From:joe@example.com", "RELAY") &&
	    ok("access", "To:example.net", "DISCARD") &&
	    ok("access", "CONNECT:IPv6:2001:db8:0:0:0:0:0:5", "OK"),
	    "keywords at any case, tags at any case");
	UNIT_CHECK(ok("access", "From:spam.example", "ERROR:5.7.1:550 Go away") &&
	    ok("access", "From:x.example", "ERROR:450 4.2.0 later") &&
	    ok("access", "From:y.example", "ERROR:\"550 quoted text\"") &&
	    ok("access", "From:z.example", "550 old style") &&
	    ok("access", "From:w.example", "ERROR:no code is 553"),
	    "ERROR: forms of spec 2.1 and the old ddd text");
	UNIT_CHECK(refused("access", "Connect:x", "ERROR:", "reply text"),
	    "ERROR: without text is refused");
	UNIT_CHECK(refused("access", "Connect:x", "ERROR:550", "reply text"),
	    "ERROR:550 without text is refused");
	UNIT_CHECK(refused("access", "Connect:x", "ERROR:250 fine", "4xx or 5xx"),
	    "a 2xx code is refused");
	UNIT_CHECK(refused("access", "Connect:x", "ERROR:550 4.7.1 no",
	    "does not match"), "an enhanced status of the wrong class");
	UNIT_CHECK(refused("access", "Connect:x", "REJCT", "unknown value") &&
	    refused("access", "Connect:x", "QUARANTINE", "unknown value"),
	    "unknown keywords are refused");
	UNIT_CHECK(ok("access", "Connect:192.0.2", "QUARANTINE:Held for review") &&
	    ok("access", "From:x.example", "quarantine:spam?") &&
	    ok("access", "To:y.example", "Quarantine:x") &&
	    ok("access", "z.example", "QUARANTINE:x"),
	    "QUARANTINE:text at Connect:, From:, To: and untagged keys");
	UNIT_CHECK(refused("access", "Connect:x", "QUARANTINE:", "reason") &&
	    refused("access", "Connect:x", "QUARANTINE:\x01x", "control") &&
	    refused("access", "From:x", "QUARANTINE:\xc3\xa9", "reason"),
	    "QUARANTINE: needs a printable reason");
	UNIT_CHECK(ok("access", "Connect:x.example", "SKIP") &&
	    ok("access", "192.0.2", "skip") &&
	    refused("access", "From:x.example", "SKIP", "only in Connect:") &&
	    refused("access", "To:x.example", "SKIP", "only in Connect:"),
	    "SKIP only where D/A honour it (spec 2.2)");
	UNIT_CHECK(refused("access", "Spam:abuse@", "FRIEND", "unknown tag"),
	    "tags this version does not look up");
	UNIT_CHECK(ok("access", "TLS_Srv:mx.example", "VERIFY") &&
	    ok("access", "TLS_Srv:", "PERM+ENCR:128") &&
	    ok("access", "TLS_Clt:[127.0.0.1]", "VERIFY:112+CN:a++CI:/O=x") &&
	    ok("access", "TLS_Rcpt:boss@", "OK") &&
	    refused("access", "TLS_Srv:x", "VERIFY:lots", "not a TLS "
	    "requirement") && refused("access", "TLS_Clt:", "ENCR",
	    "not a TLS requirement") && refused("access", "TLS_Rcpt:a@",
	    "VERIFY+XY:z", "not a TLS requirement"),
	    "TLS requirements are checked (spec 3.2)");
	UNIT_CHECK(ok("access", "Try_TLS:", "NO") &&
	    refused("access", "Try_TLS:x", "MAYBE", "YES or NO"), "Try_TLS");
	UNIT_CHECK(ok("access", "Clt_Features:", "D") &&
	    ok("access", "Clt_Features:mx.example", "d M") &&
	    refused("access", "Clt_Features:x", "S", "takes the letters D"),
	    "Clt_Features: D and M only");
	UNIT_CHECK(ok("access", "Srv_Features:", "S p V") &&
	    ok("access", "Srv_Features:192.0.2", "tempfail") &&
	    refused("access", "Srv_Features:x", "Q", "takes the letters"),
	    "Srv_Features letters");
	UNIT_CHECK(ok("access", "CERTISSUER:/O=Test+20CA", "SUBJECT") &&
	    ok("access", "CERTSUBJECT:/CN=x", "RELAY") &&
	    refused("access", "CERTSUBJECT:/CN=x", "SUBJECT", "takes RELAY") &&
	    refused("access", "CERTISSUER:", "RELAY", "needs a value"),
	    "CERTISSUER and CERTSUBJECT");
	UNIT_CHECK(ok("access", "ClientConn:", "10") &&
	    ok("access", "ClientRate:192.0.2", "0") &&
	    ok("access", "ClientConn:IPv6:2001:db8::1", "2") &&
	    ok("access", "ClientRate:", "SKIP") &&
	    refused("access", "ClientRate:10.1", "many", "take a number") &&
	    refused("access", "ClientConn:10.1", "-1", "take a number") &&
	    refused("access", "ClientConn:10.1", "2147483648",
	    "take a number") && refused("access", "ClientRate:1", "5 5",
	    "take a number"), "ClientConn: and ClientRate: numbers");
	UNIT_CHECK(refused("access", "Connect:", "REJECT", "after the tag"),
	    "a bare Connect: never matches (spec 1.3)");
	UNIT_CHECK(ok("access", "example.com", "REJECT") &&
	    ok("access", "joe@", "OK"), "untagged keys");
}

static void
test_line_rules(void)
{
	char	 big[POLICY_KEY_MAX + 8];

	UNIT_CHECK(refused("access", "Connect:x", "REJECT\n", "line feed") &&
	    refused("access", "Connect:x\r", "REJECT", "carriage return") &&
	    refused("access", "Connect:x", "ERROR:550 a\001b", "control"),
	    "CR, LF and control characters are refused");
	UNIT_CHECK(refused("access", "Connect:a b", "OK", "blank") &&
	    refused("access", "Connect:\"x\"", "OK", "double quote") &&
	    refused("access", "#Connect:x", "OK", "comment") &&
	    refused("access", "", "OK", "empty key"),
	    "keys makemap could not load are refused");
	UNIT_CHECK(refused("access", "Connect:x", "ERROR:550 a\tb", "tab") &&
	    refused("access", "Connect:x", " OK", "blank at") &&
	    refused("access", "Connect:x", "", "without a value"),
	    "values makemap would not store as given are refused");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	UNIT_CHECK(refused("access", big, "OK", "longer than 1024"),
	    "an oversized key is refused");
	big[POLICY_KEY_MAX] = '\0';
	UNIT_CHECK(refused("access", "Connect:x", big, "unknown value"),
	    "a 1024-octet value passes the length rule");
	UNIT_CHECK(ok("access", "From:a'b;--@x.example", "OK"),
	    "SQL metacharacters are just octets");
	UNIT_CHECK(refused("nosuch", "k", "v", "unknown map"),
	    "unknown maps are refused");
}

static void
test_other_maps(void)
{
	UNIT_CHECK(ok("local-host-names", "Example.COM", "") &&
	    refused("local-host-names", "example.com", "x", "no value") &&
	    refused("relay-domains", "a#b", "", "'#'"),
	    "set maps: one name, no value, no '#'");
	UNIT_CHECK(ok("mailertable", ".example.net", "esmtp:[192.0.2.40]:2525") &&
	    ok("mailertable", "gone.example", "error:5.1.2:550 Host unknown") &&
	    refused("mailertable", "x.example", "local:", "unsupported") &&
	    refused("mailertable", "x.example", "relayhost", "mailer:") &&
	    refused("mailertable", "x.example", "error:", "reply text") &&
	    refused("mailertable", "x.example", "smtp:", "mailer:host"),
	    "mailertable values");
	UNIT_CHECK(policy_entry_key_check("access", "Connect:x", err,
	    sizeof(err)) == 0 && policy_entry_key_check("access", "a#b", err,
	    sizeof(err)) == 0 && policy_entry_key_check("access", "a\nb", err,
	    sizeof(err)) == -1 && policy_entry_key_check("relay-domains",
	    "a#b", err, sizeof(err)) == -1 && policy_entry_key_check("nosuch",
	    "k", err, sizeof(err)) == -1, "keys to delete");
}

static void
test_virtusertable(void)
{
	UNIT_CHECK(ok("virtusertable", "info@example.com", "joe") &&
	    ok("virtusertable", "Info+Tag@Example.com", "joe@example.org") &&
	    ok("virtusertable", "info+*@example.com", "%1%3@example.org") &&
	    ok("virtusertable", "info++@example.com", "%2") &&
	    ok("virtusertable", "+*@example.com", "%1-list") &&
	    ok("virtusertable", "++@example.com", "x@example.org") &&
	    ok("virtusertable", "@example.com", "%1@example.org") &&
	    ok("virtusertable", "@[192.0.2.1]", "joe"),
	    "the seven key forms, addresses and local users with %1 %2 %3");
	UNIT_CHECK(ok("virtusertable", "a@example.com",
	    "error:nouser 550 No such user here") &&
	    ok("virtusertable", "b@example.com",
	    "error:5.1.1:550 User unknown") &&
	    ok("virtusertable", "c@example.com",
	    "error:nouser:550 5.1.1 No one") &&
	    ok("virtusertable", "d@example.com", "ERROR:450 later"),
	    "error: values of spec 2.1 and 9.2");
	UNIT_CHECK(refused("virtusertable", "nodomain", "joe",
	    "virtusertable key is") &&
	    refused("virtusertable", "a@-x.example", "joe", "domain") &&
	    refused("virtusertable", "a+b+*@example.com", "joe",
	    "first one") &&
	    refused("virtusertable", "a..b@example.com", "joe",
	    "virtusertable key is"), "keys of other forms are refused");
	UNIT_CHECK(refused("virtusertable", "a@example.com", "%0@x.example",
	    "%1, %2 and %3") &&
	    refused("virtusertable", "a@example.com", "joe%", "%1, %2") &&
	    refused("virtusertable", "a@example.com", "a@@b", "an address") &&
	    refused("virtusertable", "a@example.com", "error:250 ok",
	    "4xx or 5xx") &&
	    refused("virtusertable", "a@example.com", "error:", "reply text"),
	    "values of other forms are refused");
}

static void
test_genericstable(void)
{
	UNIT_CHECK(ok("genericstable", "al", "al.smith@corp.example") &&
	    ok("genericstable", "al@gen.example", "al.smith@corp.example") &&
	    ok("genericstable", "bo", "bo.jones"),
	    "user and user@domain keys, address and user values");
	UNIT_CHECK(refused("genericstable", "@gen.example", "x@corp.example",
	    "user or user@domain") &&
	    refused("genericstable", "a..b", "x@corp.example",
	    "user or user@domain") &&
	    refused("genericstable", "al", "a@@b", "an address or a user") &&
	    refused("genericstable", "al", "error:550 no",
	    "an address or a user"), "other forms are refused");
}

static void
test_local_sets(void)
{
	UNIT_CHECK(ok("local-users", "joe", "") &&
	    ok("local-users", "www-data", "") &&
	    refused("local-users", "joe@example.com", "", "without @domain") &&
	    refused("local-users", "a..b", "", "user name") &&
	    refused("local-users", "joe", "x", "no value"),
	    "local-users takes user names");
	UNIT_CHECK(ok("virtual-domains", "Example.NET", "") &&
	    refused("virtual-domains", "-x.example", "", "domain name") &&
	    refused("virtual-domains", "a@b.example", "", "domain name"),
	    "virtual-domains takes domain names");
}

static void
test_aliases(void)
{
	UNIT_CHECK(ok("aliases", "postmaster", "root") &&
	    ok("aliases", "john smith", "jsmith, \\root") &&
	    ok("aliases", "list", "a, \"|/usr/bin/prog -x\", /var/log/l, "
	    ":include:/etc/mail/l"),
	    "aliases entries in their stored form, a name with a blank");
	UNIT_CHECK(refused("aliases", "x", "a,,b", "empty item") &&
	    refused("aliases", "x", "", "without a value") &&
	    refused("aliases", "x", ":include:rel", "absolute") &&
	    refused("aliases", "", "a", "empty key") &&
	    refused("aliases", "a\tb", "a", "printable"),
	    "bad aliases entries are refused");
	UNIT_CHECK(policy_entry_key_check("aliases", "john smith", err,
	    sizeof(err)) == 0 && policy_entry_key_check("aliases", "", err,
	    sizeof(err)) == -1, "aliases keys to delete");
}

int
main(void)
{
	test_access_values();
	test_line_rules();
	test_other_maps();
	test_virtusertable();
	test_genericstable();
	test_local_sets();
	test_aliases();
	return unit_done();
}
