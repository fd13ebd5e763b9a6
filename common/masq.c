/*
 * masq.c: the masquerade rules of masq.h.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "masq.h"
#include "util.h"

static const char *masq_rule_names[] = {
	[MASQ_RULE_OTHER] = "not a masqueraded domain",
	[MASQ_RULE_EXCEPTION] = "masquerade exception",
	[MASQ_RULE_EXPOSED] = "exposed user",
	[MASQ_RULE_EXPOSED_UNQUALIFIED] = "exposed user, unqualified: hostname",
	[MASQ_RULE_DOMAIN] = "masquerade domain",
	[MASQ_RULE_SUBDOMAIN] = "masquerade domain, entire-domain",
	[MASQ_RULE_LOCAL] = "local host name",
	[MASQ_RULE_UNQUALIFIED] = "unqualified",
};

const char *
masq_rule_name(enum masq_rule r)
{
	return masq_rule_names[r];
}

/* 1 if the domain is one of this host's names (class {w} in the config). */
static int
masq_local(const struct config *cf, const char *d, size_t n)
{
	const char	*dot;
	size_t		 hl = strlen(cf->hostname);

	if ((n == hl && strncasecmp(d, cf->hostname, n) == 0) ||
	    (n == 9 && strncasecmp(d, "localhost", 9) == 0) ||
	    (n == 21 && strncasecmp(d, "localhost.localdomain", 21) == 0))
		return 1;
	dot = strchr(cf->hostname, '.');
	return dot != NULL && n == (size_t)(dot - cf->hostname) &&
	    strncasecmp(d, cf->hostname, n) == 0;
}

/* The rule for a qualified address, before the masquerade domain. */
static enum masq_rule
masq_qualified(const struct config *cf, const char *domain, size_t dlen)
{
	if (config_masq_in(cf->masq_domains, domain, dlen, 0))
		return MASQ_RULE_DOMAIN;
	if (cf->masq_entire_domain &&
	    config_masq_in(cf->masq_domains, domain, dlen, 1))
		return MASQ_RULE_SUBDOMAIN;
	if (!cf->masq_limited && masq_local(cf, domain, dlen))
		return MASQ_RULE_LOCAL;
	return MASQ_RULE_OTHER;
}

enum masq_rule
masq_address(const struct config *cf, const char *local, size_t llen,
    const char *domain, size_t dlen, char *out, size_t outsize)
{
	enum masq_rule	 r;

	out[0] = '\0';
	if (domain != NULL &&
	    config_masq_in(cf->masq_exceptions, domain, dlen, 1))
		return MASQ_RULE_EXCEPTION;
	if (config_masq_in(cf->masq_exposed, local, llen, 0)) {
		if (domain != NULL)
			return MASQ_RULE_EXPOSED;
		(void)strlcpy(out, cf->hostname, outsize);
		return MASQ_RULE_EXPOSED_UNQUALIFIED;
	}
	if (domain == NULL) {
		(void)strlcpy(out, cf->masq_as[0] != '\0' ? cf->masq_as :
		    cf->hostname, outsize);
		return MASQ_RULE_UNQUALIFIED;
	}
	r = masq_qualified(cf, domain, dlen);
	/* sendmail: with no masquerade domain set, the host stays */
	if (r != MASQ_RULE_OTHER && cf->masq_as[0] != '\0')
		(void)strlcpy(out, cf->masq_as, outsize);
	return r;
}

int
masq_generics_key(const struct config *cf, const char *local, size_t llen,
    const char *domain, size_t dlen, char *key, size_t keysize)
{
	int	 n;

	if (cf->generics_domains[0] == '\0' || llen == 0)
		return 0;
	if (domain != NULL && !config_masq_in(cf->generics_domains, domain,
	    dlen, 0) && !(cf->generics_entire_domain &&
	    config_masq_in(cf->generics_domains, domain, dlen, 1)))
		return 0;
	if (domain == NULL)
		n = snprintf(key, keysize, "%.*s@%s", (int)llen, local,
		    cf->hostname);
	else
		n = snprintf(key, keysize, "%.*s@%.*s", (int)llen, local,
		    (int)dlen, domain);
	return n < 0 || (size_t)n >= keysize ? -1 : 1;
}

int
masq_generics_address(const struct config *cf, const char *value, char *out,
    size_t outsize)
{
	char	 dom[CONF_HOST_MAX];
	size_t	 n = strlen(value);

	if (strchr(value, '@') != NULL)
		return strlcpy(out, value, outsize) < outsize ? 1 : -1;
	(void)masq_address(cf, value, n, NULL, 0, dom, sizeof(dom));
	if (snprintf(out, outsize, "%s@%s", value, dom) >= (int)outsize)
		return -1;
	return 0;
}
