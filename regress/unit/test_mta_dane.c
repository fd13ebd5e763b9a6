/*
 * test_mta_dane.c: what a TLSA answer means for an MX host (RFC 7672
 * 2.2): secure with usable records -> required, with the records kept
 * (bounded); wholly unusable -> TLS without authentication; insecure or
 * absent -> none; failed or
 * bogus -> temp.  Then which idle connections a batch may reuse, and
 * Clt_Features D.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "unit.h"
#include "mta_core.h"

#define REC_MAX	16

static char	*rd[REC_MAX];
static int	 rl[REC_MAX];
static uint8_t	 buf[REC_MAX][600];

/* Record i: usage, selector, matching type and len octets of data. */
static void
rec_set(size_t i, int usage, int sel, int mtype, size_t len)
{
	buf[i][0] = (uint8_t)usage;
	buf[i][1] = (uint8_t)sel;
	buf[i][2] = (uint8_t)mtype;
	memset(buf[i] + 3, (int)(0xa0 + i), len);
	rd[i] = (char *)buf[i];
	rl[i] = (int)(len + 3);
}

static void
answer(struct mta_dns_answer *a, enum mta_dns_status st, int secure,
    size_t n)
{
	memset(a, 0, sizeof(*a));
	a->status = st;
	a->secure = secure;
	a->count = n;
	a->rdata = rd;
	a->rdlen = rl;
	a->why = "test";
}

static void
test_states(void)
{
	struct mta_dns_answer	 a;
	struct mta_dane		 d;

	rec_set(0, 3, 1, 1, 32);
	answer(&a, MTA_DNS_OK, 1, 1);
	mta_dane_tlsa(&d, "mx.test", &a);
	UNIT_CHECK(d.state == MTA_DANE_REQUIRED && d.ntlsa == 1 &&
	    d.tlsa[0].usage == 3 && d.tlsa[0].selector == 1 &&
	    d.tlsa[0].mtype == 1 && d.tlsa[0].len == 32 &&
	    d.tlsa[0].data[0] == 0xa0, "secure 3 1 1: DANE required");
	answer(&a, MTA_DNS_OK, 0, 1);
	mta_dane_tlsa(&d, "mx.test", &a);
	UNIT_CHECK(d.state == MTA_DANE_NONE, "insecure answer: no DANE");
	answer(&a, MTA_DNS_NXDOMAIN, 1, 0);
	mta_dane_tlsa(&d, "mx.test", &a);
	UNIT_CHECK(d.state == MTA_DANE_NONE, "NXDOMAIN: no DANE");
	answer(&a, MTA_DNS_NODATA, 1, 0);
	mta_dane_tlsa(&d, "mx.test", &a);
	UNIT_CHECK(d.state == MTA_DANE_NONE, "NODATA: no DANE");
	answer(&a, MTA_DNS_FAIL, 0, 0);
	a.bogus = 1;
	mta_dane_tlsa(&d, "mx.test", &a);
	UNIT_CHECK(d.state == MTA_DANE_TEMP && strcmp(d.why, "test") == 0,
	    "bogus or failed: defer");
}

static void
test_usable(void)
{
	struct mta_dns_answer	 a;
	struct mta_dane		 d;
	unsigned char		 digest[SHA512_DIGEST_LENGTH];
	size_t			 i;

	rec_set(0, 1, 1, 1, 32);	/* PKIX-EE: unusable for SMTP */
	rec_set(1, 3, 2, 1, 32);	/* unknown selector */
	rec_set(2, 3, 1, 3, 32);	/* unknown matching type */
	rec_set(3, 3, 1, 1, 31);	/* short digest */
	rec_set(4, 2, 0, 2, 63);	/* short SHA-512 */
	answer(&a, MTA_DNS_OK, 1, 5);
	mta_dane_tlsa(&d, "mx.test", &a);
	UNIT_CHECK(d.state == MTA_DANE_ENCRYPT && d.ntlsa == 0 &&
	    mta_dane_tls_required(&d),
	    "secure but none usable: TLS, unauthenticated");
	rec_set(5, 3, 0, 0, 500);	/* a whole certificate: its digest */
	answer(&a, MTA_DNS_OK, 1, 6);
	mta_dane_tlsa(&d, "mx.test", &a);
	SHA512(buf[5] + 3, 500, digest);
	UNIT_CHECK(d.state == MTA_DANE_REQUIRED && d.ntlsa == 1 &&
	    d.tlsa[0].mtype == 2 && d.tlsa[0].len == 64 &&
	    d.tlsa[0].selector == 0 && memcmp(d.tlsa[0].data, digest,
	    64) == 0, "a whole certificate goes as its SHA-512 digest");
	for (i = 0; i < 10; i++)
		rec_set(i, 2, 1, 2, 64);
	answer(&a, MTA_DNS_OK, 1, 10);
	mta_dane_tlsa(&d, "mx.test", &a);
	UNIT_CHECK(d.state == MTA_DANE_REQUIRED && d.ntlsa == MTA_TLSA_MAX &&
	    d.tlsa[MTA_TLSA_MAX - 1].data[0] == 0xa0 + MTA_TLSA_MAX - 1,
	    "at most MTA_TLSA_MAX records carried");
	rl[0] = 2;
	answer(&a, MTA_DNS_OK, 1, 1);
	mta_dane_tlsa(&d, "mx.test", &a);
	UNIT_CHECK(d.state == MTA_DANE_ENCRYPT && d.ntlsa == 0,
	    "truncated rdata: an unusable record");
	answer(&a, MTA_DNS_OK, 1, 0);
	mta_dane_tlsa(&d, "mx.test", &a);
	UNIT_CHECK(d.state == MTA_DANE_NONE && !mta_dane_tls_required(&d),
	    "a secure empty answer: no DANE");
}

static void
test_reuse(void)
{
	struct mta_session	*s;
	struct mta_hop		 hop;

	s = calloc(1, sizeof(*s));
	memset(&hop, 0, sizeof(hop));
	(void)strlcpy(hop.name, "mx.test", sizeof(hop.name));
	UNIT_CHECK(s != NULL && mta_dane_reuse_ok(s, &hop) &&
	    !mta_dane_applies(&hop), "no DANE: any connection");
	hop.dane.state = MTA_DANE_REQUIRED;
	UNIT_CHECK(mta_dane_applies(&hop) && !mta_dane_reuse_ok(s, &hop),
	    "DANE: not a connection without a DANE check");
	(void)strlcpy(s->dane_host, "other.test", sizeof(s->dane_host));
	UNIT_CHECK(!mta_dane_reuse_ok(s, &hop),
	    "DANE: not one checked for another host");
	(void)strlcpy(s->dane_host, "mx.test", sizeof(s->dane_host));
	UNIT_CHECK(mta_dane_reuse_ok(s, &hop), "DANE: one checked for it");
	hop.dane.state = MTA_DANE_TEMP;
	UNIT_CHECK(mta_dane_applies(&hop), "a failed lookup applies too");
	s->dane.state = MTA_DANE_REQUIRED;
	(void)strlcpy(s->peer, "mx.test [192.0.2.1]:25", sizeof(s->peer));
	UNIT_CHECK(!mta_dane_clt_off(s) &&
	    s->dane.state == MTA_DANE_REQUIRED, "no Clt_Features: kept");
	s->clt_features = POLICY_FEATURE('m');
	UNIT_CHECK(!mta_dane_clt_off(s), "Clt_Features M: DANE kept");
	s->clt_features |= POLICY_FEATURE('d');
	UNIT_CHECK(mta_dane_clt_off(s) && s->dane.state == MTA_DANE_NONE,
	    "Clt_Features D: DANE off");
	free(s);
}

int
main(void)
{
	test_states();
	test_usable();
	test_reuse();
	return unit_done();
}
