/*
 * test_config_auth.c: the AUTH part of smtpd.conf (common/config_auth.c
 * and its grammar in common/parse.y).
 *
 * Proves sendmail's AuthOptions parsing (first letter of each word, the
 * separators, unknown letters), the mechanism word lists, the defaults,
 * the listener options auth / auth-optional, that the dump parses back
 * to itself, and that bad values reject the config.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "unit.h"

static struct config *
parse(const char *text)
{
	return config_parse_buffer(text, strlen(text));
}

static void
test_options(void)
{
	int	 unknown;

	UNIT_CHECK(config_auth_options("p,y", &unknown) ==
	    (AUTH_OPT_PLAIN | AUTH_OPT_ANON) && unknown == 0, "p,y");
	UNIT_CHECK(config_auth_options("py", &unknown) == AUTH_OPT_PLAIN,
	    "py means only p (sendmail's parser)");
	UNIT_CHECK(config_auth_options(" A\ta , m", &unknown) ==
	    (AUTH_OPT_A | AUTH_OPT_ACTIVE | AUTH_OPT_MUTUAL), "A a m");
	UNIT_CHECK(config_auth_options("u p", &unknown) == AUTH_OPT_PLAIN &&
	    unknown == 'u', "no u flag: warned and ignored");
	UNIT_CHECK(config_auth_options("", &unknown) == 0, "empty");
}

static void
test_words(void)
{
	UNIT_CHECK(config_word_in("PLAIN LOGIN", "login"), "word found");
	UNIT_CHECK(!config_word_in("PLAIN LOGIN", "LOG"), "no prefix match");
	UNIT_CHECK(!config_word_in("", "PLAIN"), "empty list");
}

static void
test_keywords(void)
{
	struct config	*c, *c2;
	char		*d1, *d2;

	c = parse("auth mechanisms \"CRAM-MD5 PLAIN\"\n"
	    "auth trust \"PLAIN\"\nauth options \"p, d\"\n"
	    "auth sasldb \"/etc/mail/sasl/sasldb2\"\nauth max-failures 5\n"
	    "auth line-max 4K\n"
	    "listen on 127.0.0.1 port 587 auth\n"
	    "listen on 127.0.0.1 port 25 auth-optional\n"
	    "listen on 127.0.0.1 port 26\n");
	UNIT_CHECK(c != NULL, "auth keywords parse");
	if (c == NULL)
		return;
	UNIT_CHECK(strcmp(c->auth_mechanisms, "CRAM-MD5 PLAIN") == 0 &&
	    strcmp(c->auth_trust, "PLAIN") == 0 &&
	    c->auth_opts == (AUTH_OPT_PLAIN | AUTH_OPT_DICT) &&
	    c->auth_source == AUTH_SOURCE_SASLDB &&
	    strcmp(c->auth_source_path, "/etc/mail/sasl/sasldb2") == 0 &&
	    c->auth_max_failures == 5 && c->auth_line_max == 4096,
	    "fields");
	UNIT_CHECK(TAILQ_FIRST(&c->listeners)->flags ==
	    (LISTEN_F_AUTH | LISTEN_F_AUTH_REQUIRE), "listen auth");
	UNIT_CHECK(config_auth_used(c), "auth used");
	d1 = config_dump_string(c, NULL);
	c2 = d1 != NULL ? parse(d1) : NULL;
	d2 = c2 != NULL ? config_dump_string(c2, NULL) : NULL;
	UNIT_CHECK(d2 != NULL && strcmp(d1, d2) == 0, "dump round trip");
	free(d1);
	free(d2);
	config_free(c);
	config_free(c2);
}

static void
test_defaults_and_errors(void)
{
	struct config	*c = parse("listen on 127.0.0.1\n");

	UNIT_CHECK(c != NULL && c->auth_trust[0] == '\0' &&
	    c->auth_opts == (AUTH_OPT_PLAIN | AUTH_OPT_ANON) &&
	    c->auth_line_max == 12288 && c->auth_max_failures == 3 &&
	    strcmp(c->auth_source_path, "/etc/sasldb2") == 0 &&
	    !config_auth_used(c), "defaults");
	config_free(c);
	UNIT_CHECK(parse("auth mechanisms \"plain\"\n") == NULL,
	    "lower-case mechanism refused");
	UNIT_CHECK(parse("auth sasldb \"relative\"\n") == NULL,
	    "relative sasldb refused");
	UNIT_CHECK(parse("auth max-failures 0\n") == NULL,
	    "max-failures 0 refused");
	UNIT_CHECK(parse("listen on 127.0.0.1 auth auth-optional\n") == NULL,
	    "auth and auth-optional together refused");
}

int
main(void)
{
	test_options();
	test_words();
	test_keywords();
	test_defaults_and_errors();
	return unit_done();
}
