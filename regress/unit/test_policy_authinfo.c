/*
 * test_policy_authinfo.c: authinfo values (spec 8) split into their
 * items (U: defaults to I: and back, P= decoded, T: VERIFY unless
 * ENCR), refused for every
 * malformed form without the reason quoting the secret, masked wherever
 * shown; base64 encoding and its strict decoding; the probe order of the
 * lookup (name and parents, address and prefixes, the bare default).
 */
#include <stdio.h>
#include <string.h>

#include "base64.h"
#include "unit.h"
#include "policy.h"

static struct policy_authinfo	 ai;

static int
parsed(const char *value)
{
	const char	*why = NULL;

	if (policy_authinfo_parse(value, &ai, &why) == 0)
		return 1;
	(void)printf("  refused \"%s\": %s\n", value, why);
	return 0;
}

static int
refused(const char *value, const char *want)
{
	const char	*why = "";

	if (policy_authinfo_parse(value, &ai, &why) == -1 &&
	    strstr(why, want) != NULL && strstr(why, "s3cr") == NULL &&
	    ai.secret[0] == '\0')
		return 1;
	(void)printf("  \"%s\": got \"%s\"\n", value, why);
	return 0;
}

static void
test_parse(void)
{
	UNIT_CHECK(parsed("\"U:bob\" \"I:alice\" \"P:s3cr et\" \"R:r.test\" "
	    "\"M:PLAIN LOGIN\"") && strcmp(ai.user, "bob") == 0 &&
	    strcmp(ai.authid, "alice") == 0 &&
	    strcmp(ai.secret, "s3cr et") == 0 &&
	    strcmp(ai.realm, "r.test") == 0 &&
	    strcmp(ai.mechs, "PLAIN LOGIN") == 0, "all items");
	UNIT_CHECK(parsed("\"I:alice\" \"P=czNjcmV0\"") &&
	    strcmp(ai.user, "alice") == 0 && strcmp(ai.secret, "s3cret") == 0,
	    "U: defaults to I:, P= is decoded");
	UNIT_CHECK(parsed("\"U:bob\"\t\"P:x\"") &&
	    strcmp(ai.authid, "bob") == 0, "I: defaults to U:, tab separates");
	UNIT_CHECK(refused("\"P:s3cr\"", "neither") &&
	    refused("\"U:u\"", "no \"P:secret\"") &&
	    refused("\"U:u\" \"P=s3cr!\"", "not valid base64") &&
	    refused("\"U:u\" \"P=AA==\"", "NUL") &&
	    refused("\"U:u\" \"P:s3cr\" \"Z:1\"", "unknown item letter") &&
	    refused("\"U:u\" \"P:s3cr\" \"P:y\"", "twice") &&
	    refused("\"U:u\" \"P:s3cr\r\"", "carriage return") &&
	    refused("\"U:u\" \"P:s3cr\n\"", "line feed") &&
	    refused("U:u P:s3cr", "double-quoted") &&
	    refused("\"U:u\" \"P:s3cr", "unterminated") &&
	    refused("\"U:u\"\"P:s3cr\"", "separated") &&
	    refused("\"U:\" \"P:s3cr\"", "empty"), "malformed values");
}

/* T: (ours): VERIFY unless the entry says ENCR; nothing else. */
static void
test_parse_tls(void)
{
	UNIT_CHECK(parsed("\"U:bob\" \"P:x\"") &&
	    ai.tls == AUTHINFO_TLS_VERIFY, "without T: a verified "
	    "certificate is needed");
	UNIT_CHECK(parsed("\"U:bob\" \"P:x\" \"T:ENCR\"") &&
	    ai.tls == AUTHINFO_TLS_ENCR && parsed("\"T:encr\" \"U:b\" "
	    "\"P:x\"") && ai.tls == AUTHINFO_TLS_ENCR, "T:ENCR, any case");
	UNIT_CHECK(parsed("\"U:bob\" \"P:x\" \"T:VERIFY\"") &&
	    ai.tls == AUTHINFO_TLS_VERIFY, "T:VERIFY");
	UNIT_CHECK(refused("\"U:u\" \"P:s3cr\" \"T:NONE\"",
	    "VERIFY or ENCR") &&
	    refused("\"U:u\" \"P:s3cr\" \"T:ENCRYPTED\"", "VERIFY or ENCR") &&
	    refused("\"U:u\" \"P:s3cr\" \"T:ENCR\" \"T:ENCR\"", "twice") &&
	    refused("\"U:u\" \"P:s3cr\" \"T=ENCR\"", "a letter") &&
	    refused("\"U:u\" \"P:s3cr\" \"T:\"", "empty"), "bad T:");
}

static void
test_mask(void)
{
	char	 out[256];

	policy_authinfo_mask("\"U:u\" \"P:s3cret\" \"M:PLAIN\"", out,
	    sizeof(out));
	UNIT_CHECK(strcmp(out, "\"U:u\" \"P:****\" \"M:PLAIN\"") == 0,
	    "P: masked");
	policy_authinfo_mask("\"I:i\" \"P=czNjcmV0\"", out, sizeof(out));
	UNIT_CHECK(strcmp(out, "\"I:i\" \"P=****\"") == 0, "P= masked");
	policy_authinfo_mask("\"U:u\" \"p:unterminated secret", out,
	    sizeof(out));
	UNIT_CHECK(strcmp(out, "\"U:u\" \"p:****") == 0,
	    "malformed value masked to its end");
	policy_authinfo_mask("\"P:abcdefgh\"", out, 6);
	UNIT_CHECK(strstr(out, "abc") == NULL, "short buffer never leaks");
}

static void
test_base64(void)
{
	char	 enc[64], dec[64];
	int	 n;

	n = base64_encode("\0alice\0pw", 9, enc, sizeof(enc));
	UNIT_CHECK(n == 12 && strcmp(enc, "AGFsaWNlAHB3") == 0, "encode");
	UNIT_CHECK(base64_encode("ab", 2, enc, sizeof(enc)) == 4 &&
	    strcmp(enc, "YWI=") == 0 && base64_encode("a", 1, enc,
	    sizeof(enc)) == 4 && strcmp(enc, "YQ==") == 0, "encode padding");
	UNIT_CHECK(base64_encode("abc", 3, enc, 4) == -1, "short output");
	n = base64_decode("YWI=", dec, sizeof(dec));
	UNIT_CHECK(n == 2 && memcmp(dec, "ab", 2) == 0, "decode");
	UNIT_CHECK(base64_decode("YWI", dec, sizeof(dec)) == -1 &&
	    base64_decode("YW=I", dec, sizeof(dec)) == -1 &&
	    base64_decode("YWJ=", dec, sizeof(dec)) == -1 &&
	    base64_decode("YQ==YQ==", dec, sizeof(dec)) == -1 &&
	    base64_decode("Y WI", dec, sizeof(dec)) == -1 &&
	    base64_decode("YWJj", dec, 2) == -1, "decode is strict");
}

static void
test_probe_order(void)
{
	struct policy_keys	 k;

	policy_keys_init(&k);
	(void)policy_probe_domain(&k, "AuthInfo", "mx.smart.test", 0);
	(void)policy_probe_addr(&k, "AuthInfo", "192.0.2.25", 0);
	(void)policy_probe_exact(&k, "AuthInfo", "", 0);
	UNIT_CHECK(k.n == 8 &&
	    strcmp(k.key[0], "authinfo:mx.smart.test") == 0 &&
	    strcmp(k.key[1], "authinfo:smart.test") == 0 &&
	    strcmp(k.key[2], "authinfo:test") == 0 &&
	    strcmp(k.key[3], "authinfo:192.0.2.25") == 0 &&
	    strcmp(k.key[6], "authinfo:192") == 0 &&
	    strcmp(k.key[7], "authinfo:") == 0, "D, A, then the bare tag");
	policy_keys_free(&k);
}

int
main(void)
{
	test_parse();
	test_parse_tls();
	test_mask();
	test_base64();
	test_probe_order();
	return unit_done();
}
