/*
 * smtpctl_explain_dane.c: "explain tls-srv DOMAIN", what DANE (RFC 7672)
 * makes of a destination as the outbound client would see it with "mta
 * dane yes": the MX answer and its DNSSEC status, then for each MX host
 * its address status, its TLSA records (usable or why not) and the
 * verdict: DANE required, TLS required without authentication,
 * opportunistic TLS, or deferred; then the
 * MTA-STS policy kept for the domain (smtpctl_explain_sts.c).
 *
 * The lookups are the daemon's (the resolver and trust anchor of the
 * config, smtpctl_resolver()), made synchronously; the rules are those
 * of smtpd/mta/mta_dane.c.  Access-map Clt_Features entries are not
 * consulted here.  Exit status as in smtpctl.h: 0 when mail could go
 * out (DANE or not), 1 when every host would be deferred or a lookup
 * failed.
 */
#include <stdio.h>
#include <string.h>

#include <unbound.h>

#include "config.h"
#include "dane.h"
#include "dns.h"
#include "smtpctl.h"

#define EXPLAIN_MX_MAX		16
#define EXPLAIN_T_A		1
#define EXPLAIN_T_MX		15
#define EXPLAIN_T_AAAA		28
#define EXPLAIN_T_TLSA		52

/* "secure", "insecure" or "bogus (why)" of an answer, into buf. */
static const char *
explain_dane_status(const struct ub_result *res, char *buf, size_t len)
{
	if (res->bogus)
		(void)snprintf(buf, len, "bogus (%s)", res->why_bogus != NULL ?
		    res->why_bogus : "validation failed");
	else
		(void)snprintf(buf, len, "%s", res->secure ? "secure" :
		    "insecure");
	return buf;
}

/* A lookup; NULL (reason printed) if libunbound failed. */
static struct ub_result *
explain_dane_resolve(struct ub_ctx *ub, const char *name, int type)
{
	struct ub_result	*res = NULL;
	int			 r;

	if ((r = ub_resolve(ub, name, type, 1, &res)) != 0) {
		(void)printf("%s: lookup failed: %s\n", name, ub_strerror(r));
		return NULL;
	}
	return res;
}

/* One TLSA record: printed with whether the mta would use it; 1 if so. */
static int
explain_dane_record(const uint8_t *rd, size_t len)
{
	struct dane_tlsa	 t;
	char			 hex[2 * 32 + 1];
	size_t			 i;

	if (dane_tlsa_parse(rd, len, &t) == -1) {
		(void)printf("  a malformed record: unusable\n");
		return 0;
	}
	for (i = 0; i < t.len && i < 32; i++)
		(void)snprintf(hex + 2 * i, 3, "%02x", t.data[i]);
	hex[2 * i] = '\0';
	(void)printf("  %u %u %u %s%s: %s, ", t.usage, t.selector, t.mtype,
	    hex, t.len > 32 ? "..." : "", dane_usage_name(t.usage));
	if (t.usage != DANE_USAGE_EE && t.usage != DANE_USAGE_TA) {
		(void)printf("unusable for SMTP\n");
		return 0;
	}
	if (t.selector > 1 || t.mtype > 2 || (t.mtype == 1 && t.len != 32) ||
	    (t.mtype == 2 && t.len != 64)) {
		(void)printf("unusable (selector, matching type or length)\n");
		return 0;
	}
	(void)printf("usable%s\n", t.len > 64 ? " (checked by its SHA-512 "
	    "digest)" : "");
	return 1;
}

/* 1 if an A or AAAA answer of host is secure, -1 if both failed. */
static int
explain_dane_addr(struct ub_ctx *ub, const char *host)
{
	struct ub_result	*res;
	char			 st[160];
	int			 secure = 0, failed = 0, type;

	for (type = EXPLAIN_T_A; type != -1;
	    type = type == EXPLAIN_T_A ? EXPLAIN_T_AAAA : -1) {
		if ((res = explain_dane_resolve(ub, host, type)) == NULL) {
			failed++;
			continue;
		}
		(void)printf("%s %s: %s, %s\n", host, type == EXPLAIN_T_A ?
		    "A" : "AAAA", res->havedata ? "found" : "none",
		    explain_dane_status(res, st, sizeof(st)));
		if (res->bogus || (res->rcode != 0 && res->rcode != 3))
			failed++;
		else if (res->havedata && res->secure)
			secure = 1;
		ub_resolve_free(res);
	}
	return failed == 2 ? -1 : secure;
}

/* One MX host: records and verdict; 0 if mail could go out there. */
static int
explain_dane_host(struct ub_ctx *ub, const char *host, int mx_secure)
{
	struct ub_result	*res;
	char			 name[CONF_HOST_MAX + 16], st[160];
	size_t			 i, usable = 0;
	int			 addr;

	if ((addr = explain_dane_addr(ub, host)) == -1) {
		(void)printf("%s: verdict: deferred (no address lookup "
		    "succeeded)\n", host);
		return 1;
	}
	if (!mx_secure || !addr) {
		(void)printf("%s: verdict: no DANE (%s), opportunistic TLS\n",
		    host, mx_secure ? "address answers not secure" :
		    "MX answer not secure");
		return 0;
	}
	(void)snprintf(name, sizeof(name), "_25._tcp.%s", host);
	if ((res = explain_dane_resolve(ub, name, EXPLAIN_T_TLSA)) == NULL ||
	    res->bogus || (res->rcode != 0 && res->rcode != 3)) {
		(void)printf("%s: %s\n%s: verdict: deferred, never in "
		    "cleartext (verify=DANE_TEMP)\n", name, res == NULL ?
		    "lookup failed" : res->bogus ? explain_dane_status(res, st,
		    sizeof(st)) : "server failure", host);
		if (res != NULL)
			ub_resolve_free(res);
		return 1;
	}
	(void)printf("%s: %s, %s\n", name, res->havedata ? "records" :
	    "no record", explain_dane_status(res, st, sizeof(st)));
	for (i = 0; res->havedata && res->data[i] != NULL; i++)
		usable += explain_dane_record((uint8_t *)res->data[i],
		    (size_t)res->len[i]);
	if (res->secure && usable > 0)
		(void)printf("%s: verdict: DANE required: STARTTLS, and the "
		    "certificate must match one of %zu usable record(s) "
		    "(verify=TRUSTED, else DANE_FAIL or DANE_NOTLS: "
		    "deferred)\n", host, usable);
	else if (res->secure && res->havedata)
		(void)printf("%s: verdict: no usable record: STARTTLS "
		    "required, without authentication (else DANE_NOTLS: "
		    "deferred)\n", host);
	else
		(void)printf("%s: verdict: no DANE (%s), opportunistic TLS\n",
		    host, !res->secure ? "TLSA answer not secure" :
		    "no record");
	ub_resolve_free(res);
	return 0;
}

/* The MX hosts of domain (or domain itself) into mx; their count. */
static size_t
explain_dane_mx(const struct ub_result *res, const char *domain,
    char mx[][CONF_HOST_MAX])
{
	size_t	 i, n = 0;

	for (i = 0; res->havedata && res->data[i] != NULL &&
	    n < EXPLAIN_MX_MAX; i++) {
		if (res->len[i] < 3 || dns_name_parse((uint8_t *)res->data[i] +
		    2, (size_t)res->len[i] - 2, mx[n], CONF_HOST_MAX) == -1 ||
		    mx[n][0] == '\0')
			continue;
		(void)printf("  MX %u %s\n", (unsigned)((uint8_t)res->data[i][0]
		    << 8 | (uint8_t)res->data[i][1]), mx[n]);
		n++;
	}
	if (!res->havedata && res->rcode == 0)
		(void)strlcpy(mx[n++], domain, CONF_HOST_MAX);
	return n;
}

int
smtpctl_explain_tls_srv(const struct config *cf, int argc, char **argv)
{
	static char		 mx[EXPLAIN_MX_MAX][CONF_HOST_MAX];
	struct ub_result	*res;
	struct ub_ctx		*ub;
	char			 st[160];
	size_t			 i, n;
	int			 rc = 1, secure;

	if (argc != 1) {
		(void)fprintf(stderr, "usage: smtpctl explain tls-srv "
		    "domain\n");
		return 2;
	}
	(void)printf("mta dane %s%s\n", cf->mta_dane ? "yes" : "no",
	    cf->mta_dane ? "" : ": DANE is not used; shown as it would be");
	if ((ub = smtpctl_resolver(cf)) == NULL)
		return 1;
	if ((res = explain_dane_resolve(ub, argv[0], EXPLAIN_T_MX)) == NULL) {
		ub_ctx_delete(ub);
		return 1;
	}
	(void)printf("%s MX: %s, %s\n", argv[0], res->havedata ? "found" :
	    res->rcode == 3 ? "no such domain" : res->rcode != 0 ?
	    "server failure" : "none (the domain is its own MX)",
	    explain_dane_status(res, st, sizeof(st)));
	secure = res->secure;
	/* without DANE the mta does not validate: a bogus answer is used */
	n = res->bogus && cf->mta_dane ? 0 : explain_dane_mx(res, argv[0], mx);
	ub_resolve_free(res);
	if (n == 0)
		(void)printf("%s: verdict: deferred or bounced by the MX "
		    "lookup, no host is tried\n", argv[0]);
	for (i = 0; i < n; i++)
		if (explain_dane_host(ub, mx[i], secure) == 0)
			rc = 0;
	ub_ctx_delete(ub);
	smtpctl_explain_sts(cf, argv[0], mx, n);
	return rc;
}
