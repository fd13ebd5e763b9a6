/*
 * test_hdraddr.c: header address lists rewritten, everything else kept
 * byte for byte; malformed values refused.
 */
#include <string.h>
#include <strings.h>

#include "hdraddr.h"
#include "unit.h"

/* host.example and its subdomains become example.org; no domain: local.test */
static int
test_cb(void *arg, const char *local, size_t llen, const char *domain,
    size_t dlen, char *buf, size_t bufsize)
{
	(void)arg;
	if (llen == 4 && strncmp(local, "root", 4) == 0)
		return 0;
	if (domain == NULL) {
		(void)strlcpy(buf, "local.test", bufsize);
		return 1;
	}
	if ((dlen == 12 && strncasecmp(domain, "host.example", 12) == 0) ||
	    (dlen > 13 && strncasecmp(domain + dlen - 13, ".host.example",
	    13) == 0)) {
		(void)strlcpy(buf, "example.org", bufsize);
		return 1;
	}
	return 0;
}

/* The genericstable's form: the whole address al@gen.example replaced. */
static int
whole_cb(void *arg, const char *local, size_t llen, const char *domain,
    size_t dlen, char *buf, size_t bufsize)
{
	(void)arg;
	if (llen != 2 || strncmp(local, "al", 2) != 0 ||
	    (domain != NULL && (dlen != 11 ||
	    strncasecmp(domain, "gen.example", 11) != 0)))
		return 0;
	(void)strlcpy(buf, "al.smith@corp.example", bufsize);
	return 2;
}

static int
rewrites_whole(const char *in, const char *want)
{
	char	 out[512];
	size_t	 outlen = 0;

	if (hdraddr_rewrite(in, strlen(in), out, sizeof(out), &outlen,
	    whole_cb, NULL) < 0)
		return 0;
	return outlen == strlen(want) && memcmp(out, want, outlen) == 0;
}

static void
test_whole(void)
{
	UNIT_CHECK(rewrites_whole(" \"Al\" (x)\r\n\t<al@gen.example>, "
	    "bo@gen.example", " \"Al\" (x)\r\n\t<al.smith@corp.example>, "
	    "bo@gen.example"), "a whole address replaced, the rest kept");
	UNIT_CHECK(rewrites_whole(" al (Al)", " al.smith@corp.example (Al)"),
	    "an unqualified address replaced whole");
	UNIT_CHECK(rewrites_whole(" <@r.example:al@gen.example>",
	    " <@r.example:al.smith@corp.example>"), "the route stays");
	UNIT_CHECK(rewrites_whole(" al@other.example", " al@other.example"),
	    "another domain untouched");
}

/* 1 if in rewrites to want (NULL: refused) with that many changes. */
static int
rewrites(const char *in, const char *want, int changes)
{
	char	 out[512];
	size_t	 outlen = 0;
	int	 n;

	n = hdraddr_rewrite(in, strlen(in), out, sizeof(out), &outlen, test_cb,
	    NULL);
	if (want == NULL)
		return n == -1;
	return n == changes && outlen == strlen(want) &&
	    memcmp(out, want, outlen) == 0;
}

static void
test_forms(void)
{
	UNIT_CHECK(rewrites(" alice@host.example", " alice@example.org", 1),
	    "bare addr-spec");
	UNIT_CHECK(rewrites(" Alice <alice@HOST.example>",
	    " Alice <alice@example.org>", 1), "angle address");
	UNIT_CHECK(rewrites(" alice@a.b.host.example",
	    " alice@example.org", 1), "subdomain by the callback");
	UNIT_CHECK(rewrites(" bob@other.example", " bob@other.example", 0),
	    "unrelated domain untouched");
	UNIT_CHECK(rewrites(" \"Smith, Al\" <al@host.example>, b@host.example",
	    " \"Smith, Al\" <al@example.org>, b@example.org", 2),
	    "quoted display name with a comma, two addresses");
	UNIT_CHECK(rewrites(" =?utf-8?q?J=C3=B6rg?= <j@host.example>",
	    " =?utf-8?q?J=C3=B6rg?= <j@example.org>", 1),
	    "encoded word kept");
	UNIT_CHECK(rewrites(" (Al (the) Boss) al@host.example (x@host.example)",
	    " (Al (the) Boss) al@example.org (x@host.example)", 1),
	    "comments kept, an address inside one ignored");
	UNIT_CHECK(rewrites(" Al\r\n\t<al@host.example>,\r\n bo@host.example",
	    " Al\r\n\t<al@example.org>,\r\n bo@example.org", 2),
	    "folding kept");
	UNIT_CHECK(rewrites(" al@ host . example", " al@ host . example", 0),
	    "spaced domain is not a name we know");
	UNIT_CHECK(rewrites(" undisclosed-recipients: ;",
	    " undisclosed-recipients: ;", 0), "empty group");
	UNIT_CHECK(rewrites(" team: a@host.example, \"b\" <b@host.example>;, "
	    "c@x.example", " team: a@example.org, \"b\" <b@example.org>;, "
	    "c@x.example", 2), "group with members");
	UNIT_CHECK(rewrites(" <@relay.example,@r2.example:al@host.example>",
	    " <@relay.example,@r2.example:al@example.org>", 1),
	    "route kept");
	UNIT_CHECK(rewrites(" alice (Alice)", " alice@local.test (Alice)", 1),
	    "unqualified qualified before its comment");
	UNIT_CHECK(rewrites(" Alice <alice>", " Alice <alice@local.test>", 1),
	    "unqualified angle address");
	UNIT_CHECK(rewrites(" root, root@host.example",
	    " root, root@host.example", 0), "callback keeps");
	UNIT_CHECK(rewrites(" \"a b\"@host.example", " \"a b\"@example.org", 1),
	    "quoted local-part");
	UNIT_CHECK(rewrites(" al@[192.0.2.1]", " al@[192.0.2.1]", 0),
	    "domain literal");
	UNIT_CHECK(rewrites(" <>", " <>", 0), "null address");
	UNIT_CHECK(rewrites("", "", 0), "empty value");
	UNIT_CHECK(rewrites(" a@host.example, , b@y.example",
	    " a@example.org, , b@y.example", 1), "empty list element");
}

static void
test_malformed(void)
{
	UNIT_CHECK(rewrites(" Al <al@host.example", NULL, 0),
	    "unclosed angle");
	UNIT_CHECK(rewrites(" \"Al <al@host.example>", NULL, 0),
	    "unclosed quote");
	UNIT_CHECK(rewrites(" (Al al@host.example", NULL, 0),
	    "unclosed comment");
	UNIT_CHECK(rewrites(" John Smith@host.example", NULL, 0),
	    "phrase as local-part");
	UNIT_CHECK(rewrites(" a@host.example b@host.example", NULL, 0),
	    "missing comma");
	UNIT_CHECK(rewrites(" a@", NULL, 0), "no domain");
	UNIT_CHECK(rewrites(" g1: g2: a@b;;", NULL, 0), "nested group");
	UNIT_CHECK(rewrites(" a.@host.example", NULL, 0), "trailing dot");
	UNIT_CHECK(rewrites(" al@h\xc3\xa9.example", NULL, 0),
	    "8-bit domain left alone");
}

static void
test_bounds(void)
{
	char	 in[300], out[32];
	size_t	 outlen = 0;

	memset(in, 'a', sizeof(in));
	memcpy(in + 280, "@host.example", 13);
	UNIT_CHECK(hdraddr_rewrite(in, 293, out, sizeof(out), &outlen,
	    test_cb, NULL) == -1, "result over the output size refused");
	UNIT_CHECK(hdraddr_rewrite(" a@host.example", 15, out, 15, &outlen,
	    test_cb, NULL) == 1 && outlen == 14, "shorter result fits");
}

int
main(void)
{
	test_forms();
	test_malformed();
	test_bounds();
	test_whole();
	return unit_done();
}
