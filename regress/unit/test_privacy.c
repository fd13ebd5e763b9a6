/*
 * test_privacy.c: the privacy statement and smtp banner of smtpd.conf
 * (common/parse.y, common/config_privacy.c): sendmail's flag names,
 * commas or spaces, goaway, the smtp vrfy/expn spellings, the canonical
 * dump, and the banner's macros.
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

/* The privacy bits text gives, or 0xffffffff if it is refused. */
static uint32_t
privacy_of(const char *text)
{
	struct config	*c;
	uint32_t	 bits;

	if ((c = parse(text)) == NULL)
		return 0xffffffff;
	bits = c->privacy;
	config_free(c);
	return bits;
}

static void
test_flags(void)
{
	UNIT_CHECK(privacy_of("") == PRIV_AUTHWARNINGS,
	    "default: authwarnings");
	UNIT_CHECK(privacy_of("privacy public\n") == 0, "public: none");
	UNIT_CHECK(privacy_of("privacy noexpn, novrfy noetrn\n") ==
	    (PRIV_NOEXPN | PRIV_NOVRFY | PRIV_NOETRN),
	    "commas and spaces, the set replaced");
	UNIT_CHECK(privacy_of("privacy goaway\n") == (PRIV_NEEDMAILHELO |
	    PRIV_NEEDEXPNHELO | PRIV_NEEDVRFYHELO | PRIV_NOEXPN |
	    PRIV_NOVRFY | PRIV_AUTHWARNINGS | PRIV_NOVERB),
	    "goaway: not noetrn, noreceipts, nobodyreturn, restrict*");
	UNIT_CHECK(privacy_of("privacy NoReceipts,nobodyreturn,"
	    "noactualrecipient\n") == (PRIV_NORECEIPTS | PRIV_NOBODYRETURN |
	    PRIV_NOACTUALRCPT), "case ignored, no spaces");
	UNIT_CHECK(privacy_of("privacy restrictmailq restrictqrun "
	    "restrictexpand\n") == (PRIV_RESTRICTMAILQ | PRIV_RESTRICTQRUN |
	    PRIV_RESTRICTEXPAND), "the restrict flags are accepted");
	UNIT_CHECK(privacy_of("privacy noexpn, bogus\n") == 0xffffffff,
	    "an unknown flag is an error");
	UNIT_CHECK(privacy_of("privacy\n") == 0xffffffff, "no flag: error");
	UNIT_CHECK(privacy_of("smtp vrfy no\nsmtp expn no\n") ==
	    (PRIV_AUTHWARNINGS | PRIV_NOVRFY | PRIV_NOEXPN),
	    "smtp vrfy/expn no: novrfy, noexpn");
	UNIT_CHECK(privacy_of("privacy goaway\nsmtp vrfy yes\n") ==
	    (PRIV_GOAWAY & ~PRIV_NOVRFY), "smtp vrfy yes clears novrfy");
}

static void
test_roundtrip(const char *text, const char *name)
{
	struct config	*c, *c2 = NULL;
	char		*d;
	size_t		 len;

	c = parse(text);
	d = c != NULL ? config_dump_string(c, &len) : NULL;
	if (d != NULL)
		c2 = config_parse_buffer(d, len);
	UNIT_CHECK(c2 != NULL && c2->privacy == c->privacy &&
	    strcmp(c2->smtp_banner, c->smtp_banner) == 0, name);
	free(d);
	config_free(c);
	config_free(c2);
}

static void
test_banner(void)
{
	char	 out[256];

	UNIT_CHECK(config_banner_expand("$j says $$5, v$v\\nmore", "h.test",
	    0, out, sizeof(out)) == 0 &&
	    strcmp(out, "h.test says $5, v" SMTPD_VERSION "\\nmore") == 0,
	    "$j $$ $v, the \\n kept for the front end");
	UNIT_CHECK(config_banner_expand("$b", "h.test", 86400, out,
	    sizeof(out)) == 0 && strlen(out) >= 29 && out[3] == ',',
	    "$b: an RFC 5322 date");
	UNIT_CHECK(config_banner_expand("$z", "h.test", 0, out,
	    sizeof(out)) == -1, "unknown macro refused");
	UNIT_CHECK(config_banner_expand("$", "h.test", 0, out,
	    sizeof(out)) == -1, "a lone $ refused");
	UNIT_CHECK(config_banner_expand("$j$j", "h.test", 0, out, 8) == -1,
	    "too long refused");
	UNIT_CHECK(privacy_of("smtp banner \"$j $w\"\n") == 0xffffffff,
	    "smtp banner with $w: config error");
}

int
main(void)
{
	test_flags();
	test_roundtrip("privacy public\n", "dump of public");
	test_roundtrip("privacy goaway, noetrn\nsmtp banner \"$j \\\"x\\\" "
	    "\\\\n two\"\n", "dump of flags and a banner");
	test_banner();
	return unit_done();
}
