/*
 * test_mta_reply.c: SMTP reply parsing of the outbound client: single and
 * multi-line replies, enhanced status codes, EHLO keywords, garbage.
 */
#include <string.h>

#include "unit.h"
#include "mta_reply.h"

/* Feed lines until one completes the reply; the last feed result. */
static int
feed(struct mta_reply *r, const char **lines)
{
	int	 v = -1;

	mta_reply_init(r);
	for (; *lines != NULL; lines++)
		if ((v = mta_reply_feed(r, *lines, strlen(*lines))) != 0)
			return v;
	return v;
}

static void
test_single(void)
{
	struct mta_reply	 r;
	const char		*l1[] = { "250 OK", NULL };
	const char		*l2[] = { "354", NULL };
	const char		*l3[] = { "550 5.1.1 <a@b>: no such user", NULL };
	const char		*l4[] = { "250 5.1.1 wrong class", NULL };
	const char		*l5[] = { "451 4.7.1234 too many digits", NULL };

	UNIT_CHECK(feed(&r, l1) == 1 && r.code == 250, "single line complete");
	UNIT_CHECK(strcmp(r.text, "250 OK") == 0, "single line text");
	UNIT_CHECK(strcmp(mta_reply_status(&r), "2.0.0") == 0,
	    "status derived from 2xx");
	UNIT_CHECK(feed(&r, l2) == 1 && r.code == 354 &&
	    strcmp(r.text, "354") == 0, "code without text");
	UNIT_CHECK(feed(&r, l3) == 1 && strcmp(r.enh, "5.1.1") == 0,
	    "enhanced status parsed");
	UNIT_CHECK(strcmp(r.text, "550 5.1.1 <a@b>: no such user") == 0,
	    "text kept as received");
	UNIT_CHECK(feed(&r, l4) == 1 && r.enh[0] == '\0' &&
	    strcmp(mta_reply_status(&r), "2.0.0") == 0,
	    "enhanced status of another class ignored");
	UNIT_CHECK(feed(&r, l5) == 1 && r.enh[0] == '\0' &&
	    strcmp(mta_reply_status(&r), "4.0.0") == 0,
	    "malformed enhanced status ignored, 4.0.0 derived");
}

static void
test_multi(void)
{
	struct mta_reply	 r;
	const char		*l1[] = { "550-5.7.1 first line",
	    "550-5.7.1 second line", "550 5.7.1 third", NULL };
	const char		*l2[] = { "220-mx.example ESMTP", "220-", "220 ok",
	    NULL };
	const char		*l3[] = { "250-a", "251 b", NULL };
	int			 v;

	mta_reply_init(&r);
	v = mta_reply_feed(&r, l1[0], strlen(l1[0]));
	UNIT_CHECK(v == 0, "continuation line asks for more");
	UNIT_CHECK(feed(&r, l1) == 1 && r.nlines == 3, "multi-line complete");
	UNIT_CHECK(strcmp(r.text, "550 5.7.1 first line second line third")
	    == 0, "multi-line joined, repeated status dropped");
	UNIT_CHECK(feed(&r, l2) == 1 &&
	    strcmp(r.text, "220 mx.example ESMTP ok") == 0,
	    "empty continuation line skipped");
	UNIT_CHECK(feed(&r, l3) == -1, "code change inside a reply is garbage");
}

static void
test_garbage(void)
{
	struct mta_reply	 r;
	const char		*bad[] = { "hello", "25", "250x", "650 x",
	    "2a0 x", "", "199 x", "260 x", NULL };
	const char		*ctl[] = { "250 a\tb\001c\177d\303\251e", NULL };
	char			 big[2000];
	size_t			 i;
	int			 ok = 1;

	for (i = 0; bad[i] != NULL; i++) {
		mta_reply_init(&r);
		if (mta_reply_feed(&r, bad[i], strlen(bad[i])) != -1)
			ok = 0;
	}
	UNIT_CHECK(ok, "malformed reply lines refused");
	UNIT_CHECK(feed(&r, ctl) == 1 && strcmp(r.text, "250 abcde") == 0,
	    "control and non-ASCII octets stripped");
	memset(big, 'x', sizeof(big));
	memcpy(big, "250 ", 4);
	mta_reply_init(&r);
	UNIT_CHECK(mta_reply_feed(&r, big, sizeof(big)) == 1 &&
	    strlen(r.text) == MTA_REPLY_TEXT_MAX - 1 && r.code == 250,
	    "long text cut, code kept");
}

static void
test_enhanced(void)
{
	char	 b[16];

	UNIT_CHECK(mta_reply_enhanced("2.1.5 ok", 250, b, sizeof(b)) == 5 &&
	    strcmp(b, "2.1.5") == 0, "enhanced 2.1.5");
	UNIT_CHECK(mta_reply_enhanced("4.123.999", 421, b, sizeof(b)) == 9,
	    "enhanced with 3-digit parts at end of text");
	UNIT_CHECK(mta_reply_enhanced("5..1 x", 550, b, sizeof(b)) == 0,
	    "empty part refused");
	UNIT_CHECK(mta_reply_enhanced("5.1.1x", 550, b, sizeof(b)) == 0,
	    "trailing junk refused");
	UNIT_CHECK(mta_reply_enhanced("3.1.1 x", 354, b, sizeof(b)) == 0,
	    "class 3 has no enhanced status");
}

static void
test_ehlo(void)
{
	struct mta_ehlo	 e;

	memset(&e, 0, sizeof(e));
	mta_ehlo_line(&e, "PIPELINING");
	mta_ehlo_line(&e, "size 10240000");
	mta_ehlo_line(&e, "8BITMIME");
	mta_ehlo_line(&e, "DSN");
	mta_ehlo_line(&e, "ENHANCEDSTATUSCODES");
	mta_ehlo_line(&e, "CHUNKING");
	mta_ehlo_line(&e, "STARTTLS");
	UNIT_CHECK(e.ext == (MTA_EXT_PIPELINING | MTA_EXT_SIZE |
	    MTA_EXT_8BITMIME | MTA_EXT_DSN | MTA_EXT_ENHANCED |
	    MTA_EXT_CHUNKING | MTA_EXT_STARTTLS), "every keyword recognised");
	UNIT_CHECK(e.size_max == 10240000, "SIZE parameter, any case");
	memset(&e, 0, sizeof(e));
	mta_ehlo_line(&e, "PIPELININGX");
	mta_ehlo_line(&e, "XAUTH PLAIN LOGIN");
	mta_ehlo_line(&e, "AUTHX PLAIN");
	mta_ehlo_line(&e, "DSNX y");
	mta_ehlo_line(&e, "");
	UNIT_CHECK(e.ext == 0, "unknown and look-alike keywords ignored");
	mta_ehlo_line(&e, "SIZE");
	UNIT_CHECK(e.ext == MTA_EXT_SIZE && e.size_max == 0,
	    "SIZE without limit");
	mta_ehlo_line(&e, "SIZE 12abc");
	UNIT_CHECK(e.size_max == 0, "SIZE with garbage limit ignored");
	memset(&e, 0, sizeof(e));
	mta_ehlo_line(&e, "AUTH CRAM-MD5 SCRAM-SHA-256");
	UNIT_CHECK(e.ext == MTA_EXT_AUTH &&
	    strcmp(e.auth_mechs, "CRAM-MD5 SCRAM-SHA-256") == 0,
	    "AUTH: its mechanisms in order");
	mta_ehlo_line(&e, "auth=login  plain cram-md5");
	UNIT_CHECK(strcmp(e.auth_mechs, "CRAM-MD5 SCRAM-SHA-256 LOGIN PLAIN")
	    == 0, "AUTH= (old form), any case and spacing, each once");
	memset(&e, 0, sizeof(e));
	mta_ehlo_line(&e, "AUTH PL@IN X=Y TWENTY-ONE-CHARACTERS LOGIN");
	UNIT_CHECK(e.ext == MTA_EXT_AUTH && strcmp(e.auth_mechs, "LOGIN") == 0,
	    "names that are not mechanism names ignored");
	memset(&e, 0, sizeof(e));
	mta_ehlo_line(&e, "AUTH");
	UNIT_CHECK(e.ext == 0, "a bare AUTH is not the keyword");
}

int
main(void)
{
	test_single();
	test_multi();
	test_garbage();
	test_enhanced();
	test_ehlo();
	return unit_done();
}
