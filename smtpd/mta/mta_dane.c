/*
 * mta_dane.c: DANE for SMTP (RFC 7672) in the outbound client: what the
 * TLSA answer of an MX host means, and which connections may carry mail
 * to a host DANE applies to.
 *
 * Interface in mta_core.h.  The route (mta_route.c) asks for the TLSA
 * records of each host of a DNSSEC-secure MX answer ("mta dane yes"),
 * the session (mta_session.c) requires TLS of a host with usable records
 * and hands them to tlsproxy, which checks the peer's chain against them
 * and answers ${verify} TRUSTED or DANE_FAIL.  RFC 7672 2.2: a secure
 * answer with usable records makes DANE required; an insecure answer or
 * none (NXDOMAIN, NODATA) means no DANE; a failed or bogus lookup defers
 * the host, never cleartext; a secure answer whose records are all
 * unusable makes TLS mandatory, unauthenticated.
 *
 * Failure behaviour: records are DNS input: malformed or unusable ones
 * are skipped (RFC 7671 4.1), never an error.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "dane.h"
#include "log.h"
#include "proc.h"
#include "mta_core.h"

/*
 * 1 if TLSA rdata (usage, selector, matching type, data) is a record an
 * SMTP client may use (RFC 7672 3.1, RFC 7671 4.1).  The matching is
 * tlsproxy's (common/dane.c); this process only digests a record too
 * long to be carried.
 */
static int
mta_dane_usable(const uint8_t *rd, size_t len)
{
	if (len < 4 || len - 3 > DANE_DATA_MAX)
		return 0;
	if (rd[0] != DANE_USAGE_TA && rd[0] != DANE_USAGE_EE)
		return 0;
	if (rd[1] > 1 || rd[2] > 2)
		return 0;
	if (rd[2] == 1 && len - 3 != 32)
		return 0;
	if (rd[2] == 2 && len - 3 != 64)
		return 0;
	return 1;
}

/* Keep the usable records of a secure answer; how many were usable. */
static size_t
mta_dane_records(struct mta_dane *d, const struct mta_dns_answer *a)
{
	const uint8_t		*rd;
	struct mta_tlsa		*c;
	size_t			 i, len, usable = 0;

	for (i = 0; i < a->count; i++) {
		rd = (const uint8_t *)a->rdata[i];
		len = a->rdlen[i] > 0 ? (size_t)a->rdlen[i] : 0;
		if (!mta_dane_usable(rd, len))
			continue;
		usable++;
		if (d->ntlsa == MTA_TLSA_MAX)
			continue;
		c = &d->tlsa[d->ntlsa++];
		c->usage = rd[0];
		c->selector = rd[1];
		c->mtype = rd[2];
		if (len - 3 <= MTA_TLSA_DATA_MAX) {
			c->len = (uint8_t)(len - 3);
			memcpy(c->data, rd + 3, len - 3);
			continue;
		}
		/*
		 * A whole certificate or key (matching type 0) is longer than
		 * what is carried: its SHA-512 digest matches exactly the
		 * same peers as type 2, so it goes as that.
		 */
		c->mtype = 2;
		c->len = SHA512_DIGEST_LENGTH;
		(void)SHA512(rd + 3, len - 3, c->data);
	}
	return usable;
}

void
mta_dane_tlsa(struct mta_dane *d, const char *host,
    const struct mta_dns_answer *a)
{
	memset(d, 0, sizeof(*d));
	if (a->status == MTA_DNS_FAIL) {
		d->state = MTA_DANE_TEMP;
		(void)snprintf(d->why, sizeof(d->why), "%s", a->why != NULL ?
		    a->why : "lookup failed");
		log_info("DANE: TLSA lookup for %s failed: %s", host, d->why);
		return;
	}
	if (a->status != MTA_DNS_OK || !a->secure)
		return;
	if (mta_dane_records(d, a) == 0) {
		memset(d, 0, sizeof(*d));
		if (a->count == 0)
			return;
		/* RFC 7672 2.2: they promise TLS, if nothing to check */
		d->state = MTA_DANE_ENCRYPT;
		log_info("DANE: %s has no usable TLSA record, TLS without "
		    "authentication", host);
		return;
	}
	d->state = MTA_DANE_REQUIRED;
	log_debug("DANE: %s has %zu usable TLSA record(s)", host, d->ntlsa);
}

int
mta_dane_applies(const struct mta_hop *hop)
{
	return hop->dane.state == MTA_DANE_REQUIRED ||
	    hop->dane.state == MTA_DANE_TEMP;
}

int
mta_dane_tls_required(const struct mta_dane *d)
{
	return d->state == MTA_DANE_REQUIRED || d->state == MTA_DANE_ENCRYPT;
}

int
mta_dane_reuse_ok(const struct mta_session *s, const struct mta_hop *hop)
{
	if (hop->dane.state == MTA_DANE_ENCRYPT)
		return s->tls;
	if (!mta_dane_applies(hop))
		return 1;
	return s->dane_host[0] != '\0' && strcmp(s->dane_host, hop->name) == 0;
}

int
mta_dane_clt_off(struct mta_session *s)
{
	if (!(s->clt_features & POLICY_FEATURE('d')))
		return 0;
	log_info("%s: DANE not applied: Clt_Features D", s->peer);
	stats_add("mta.dane.disabled", 1);
	s->dane.state = MTA_DANE_NONE;
	return 1;
}

void
mta_dane_count(const char *verify)
{
	if (strcmp(verify, "TRUSTED") == 0)
		stats_add("mta.dane.trusted", 1);
	else if (strcmp(verify, "DANE_FAIL") == 0)
		stats_add("mta.dane.fail", 1);
	else if (strcmp(verify, "DANE_TEMP") == 0)
		stats_add("mta.dane.temp", 1);
	else if (strcmp(verify, "DANE_NOTLS") == 0)
		stats_add("mta.dane.notls", 1);
}
