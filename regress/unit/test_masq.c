/*
 * test_masq.c: the masquerade settings (parsed, refused, dumped and read
 * again) and sendmail's order of masquerade rules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "masq.h"
#include "unit.h"

#define BASE	"hostname host.a.example\nmasquerade as a.example\n" \
		"masquerade domains { b.example }\n" \
		"masquerade exposed-users { root }\n" \
		"masquerade exceptions { keep.a.example }\n"

static struct config *
parse(const char *text)
{
	return config_parse_buffer(text, strlen(text));
}

/* 1 if addr (user or user@domain) gets rule r and the domain want. */
static int
rule_is(const struct config *cf, const char *addr, enum masq_rule r,
    const char *want)
{
	char		 out[256];
	const char	*at = strchr(addr, '@');
	size_t		 llen = at != NULL ? (size_t)(at - addr) : strlen(addr);

	if (masq_address(cf, addr, llen, at != NULL ? at + 1 : NULL,
	    at != NULL ? strlen(at + 1) : 0, out, sizeof(out)) != r)
		return 0;
	return strcmp(out, want) == 0;
}

static void
test_rules(void)
{
	struct config	*c;

	if ((c = parse(BASE)) == NULL) {
		UNIT_CHECK(0, "base config parses");
		return;
	}
	UNIT_CHECK(rule_is(c, "al@b.example", MASQ_RULE_DOMAIN, "a.example"),
	    "masquerade domain");
	UNIT_CHECK(rule_is(c, "al@B.Example", MASQ_RULE_DOMAIN, "a.example"),
	    "masquerade domain in any case");
	UNIT_CHECK(rule_is(c, "al@x.b.example", MASQ_RULE_OTHER, ""),
	    "subdomain kept without entire-domain");
	UNIT_CHECK(rule_is(c, "al@host.a.example", MASQ_RULE_LOCAL,
	    "a.example"), "the hostname is ours");
	UNIT_CHECK(rule_is(c, "al@host", MASQ_RULE_LOCAL, "a.example"),
	    "its first label too");
	UNIT_CHECK(rule_is(c, "al@localhost", MASQ_RULE_LOCAL, "a.example"),
	    "localhost");
	UNIT_CHECK(rule_is(c, "al", MASQ_RULE_UNQUALIFIED, "a.example"),
	    "unqualified gets the masquerade domain");
	UNIT_CHECK(rule_is(c, "root@b.example", MASQ_RULE_EXPOSED, ""),
	    "exposed user keeps its host");
	UNIT_CHECK(rule_is(c, "root", MASQ_RULE_EXPOSED_UNQUALIFIED,
	    "host.a.example"), "unqualified exposed user gets the hostname");
	UNIT_CHECK(rule_is(c, "root@keep.a.example", MASQ_RULE_EXCEPTION, ""),
	    "exception before exposed user");
	UNIT_CHECK(rule_is(c, "al@x.keep.a.example", MASQ_RULE_EXCEPTION, ""),
	    "subdomain of an exception");
	UNIT_CHECK(rule_is(c, "al@other.example", MASQ_RULE_OTHER, ""),
	    "other domain kept");
	c->masq_entire_domain = 1;
	UNIT_CHECK(rule_is(c, "al@x.b.example", MASQ_RULE_SUBDOMAIN,
	    "a.example"), "entire-domain: subdomain");
	UNIT_CHECK(rule_is(c, "al@xb.example", MASQ_RULE_OTHER, ""),
	    "entire-domain: a longer name is no subdomain");
	c->masq_limited = 1;
	UNIT_CHECK(rule_is(c, "al@host.a.example", MASQ_RULE_OTHER, ""),
	    "limited: our names kept");
	UNIT_CHECK(rule_is(c, "al@b.example", MASQ_RULE_DOMAIN, "a.example"),
	    "limited: listed domains still");
	c->masq_as[0] = '\0';
	UNIT_CHECK(rule_is(c, "al", MASQ_RULE_UNQUALIFIED, "host.a.example"),
	    "no masquerade domain: unqualified gets the hostname");
	UNIT_CHECK(rule_is(c, "al@b.example", MASQ_RULE_DOMAIN, ""),
	    "no masquerade domain: host kept");
	config_free(c);
}

static void
test_config(void)
{
	struct config	*c, *c2 = NULL;
	char		*d1 = NULL, *d2 = NULL;
	char		 path[] = "/tmp/test_masq.XXXXXX", text[512];
	size_t		 len = 0;
	int		 fd;
	static const char file[] =
	    "# ours\nc.example d.example\n\nE.example # too\n";

	UNIT_CHECK(parse("masquerade as \"a b\"\n") == NULL,
	    "masquerade as refuses a non-domain");
	UNIT_CHECK(parse("masquerade domains { a.example bad_name }\n") ==
	    NULL, "domains refuses a non-domain");
	UNIT_CHECK(parse("masquerade exposed-users { \"a(b\" }\n") == NULL,
	    "exposed-users refuses a non-name");
	UNIT_CHECK(parse("masquerade domains-file /nonexistent/masq\n") ==
	    NULL, "missing domains-file is an error");
	if ((fd = mkstemp(path)) == -1)
		return;
	UNIT_CHECK(write(fd, file, sizeof(file) - 1) ==
	    (ssize_t)(sizeof(file) - 1), "domains-file written");
	(void)close(fd);
	(void)snprintf(text, sizeof(text), BASE "masquerade domains-file %s\n"
	    "masquerade domains { c.example }\nmasquerade envelope yes\n"
	    "masquerade recipients yes\n", path);
	c = parse(text);
	UNIT_CHECK(c != NULL && strcmp(c->masq_domains,
	    "b.example c.example d.example e.example") == 0 &&
	    c->masq_envelope && c->masq_recipients && !c->masq_limited,
	    "domains-file joins the list, once each, lowercased");
	if (c != NULL)
		d1 = config_dump_string(c, &len);
	if (d1 != NULL)
		c2 = config_parse_buffer(d1, len);
	if (c2 != NULL)
		d2 = config_dump_string(c2, NULL);
	UNIT_CHECK(d1 != NULL && d2 != NULL && strcmp(d1, d2) == 0 &&
	    strstr(d1, "domains-file") == NULL && strcmp(c2->masq_domains,
	    c->masq_domains) == 0 && strcmp(c2->masq_as, "a.example") == 0,
	    "the dump has the list, not the file, and reads back");
	free(d1);
	free(d2);
	config_free(c);
	config_free(c2);
	(void)unlink(path);
}

/* 1 if local@domain (or local) is asked about as want ("" = not asked). */
static int
generics_key_is(const struct config *cf, const char *addr, const char *want)
{
	char		 key[256];
	const char	*at = strchr(addr, '@');
	size_t		 llen = at != NULL ? (size_t)(at - addr) : strlen(addr);
	int		 r;

	r = masq_generics_key(cf, addr, llen, at != NULL ? at + 1 : NULL,
	    at != NULL ? strlen(at + 1) : 0, key, sizeof(key));
	if (want[0] == '\0')
		return r == 0;
	return r == 1 && strcmp(key, want) == 0;
}

static void
test_generics(void)
{
	struct config	*c, *e, *n, *again;
	char		 out[256], *text;
	size_t		 len;

	c = parse(BASE "generics domains { gen.example }\n");
	e = parse(BASE "generics domains { gen.example }\n"
	    "generics entire-domain yes\n");
	n = parse(BASE);
	if (c == NULL || e == NULL || n == NULL) {
		UNIT_CHECK(0, "generics configs parse");
		return;
	}
	UNIT_CHECK(generics_key_is(c, "al@gen.example", "al@gen.example"),
	    "an address of a generics domain is asked about");
	UNIT_CHECK(generics_key_is(c, "al@Gen.Example", "al@Gen.Example"),
	    "in any case");
	UNIT_CHECK(generics_key_is(c, "al", "al@host.a.example"),
	    "an unqualified one as user@hostname");
	UNIT_CHECK(generics_key_is(c, "al@b.example", ""),
	    "another domain is not");
	UNIT_CHECK(generics_key_is(c, "al@x.gen.example", ""),
	    "a subdomain is not without entire-domain");
	UNIT_CHECK(generics_key_is(e, "al@x.gen.example", "al@x.gen.example"),
	    "a subdomain is with entire-domain");
	UNIT_CHECK(generics_key_is(n, "al", "") &&
	    generics_key_is(n, "al@gen.example", ""),
	    "nothing is asked about without generics domains");
	UNIT_CHECK(masq_generics_address(c, "al.smith@corp.example", out,
	    sizeof(out)) == 1 && strcmp(out, "al.smith@corp.example") == 0,
	    "a value with a domain is the result, not masqueraded");
	UNIT_CHECK(masq_generics_address(c, "al.smith", out, sizeof(out)) ==
	    0 && strcmp(out, "al.smith@a.example") == 0,
	    "a user gets the masquerade domain");
	UNIT_CHECK(masq_generics_address(c, "root", out, sizeof(out)) == 0 &&
	    strcmp(out, "root@host.a.example") == 0,
	    "an exposed user the hostname");
	UNIT_CHECK(masq_generics_address(c, "al.smith", out, 8) == -1,
	    "a result too long is refused");
	text = config_dump_string(e, &len);
	again = text != NULL ? config_parse_buffer(text, len) : NULL;
	UNIT_CHECK(again != NULL && strcmp(again->generics_domains,
	    "gen.example") == 0 && again->generics_entire_domain == 1,
	    "generics settings dumped and read again");
	UNIT_CHECK(parse(BASE "generics domains { \"a_b!\" }\n") ==
	    NULL, "a generics domain that is not a domain is refused");
	free(text);
	config_free(again);
	config_free(c);
	config_free(e);
	config_free(n);
}

int
main(void)
{
	test_rules();
	test_config();
	test_generics();
	return unit_done();
}
