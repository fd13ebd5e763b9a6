/*
 * masq.h: sendmail's masquerade rules (spec 9.5) for one address, shared
 * by the front end, which applies them as a message is received, and
 * smtpctl explain, which shows them.
 *
 * In sendmail's order: an exception's domain (or a subdomain of it) is
 * left alone; an exposed user keeps its host (an unqualified one gets
 * the hostname); a masquerade domain (with entire-domain, a subdomain of
 * one too) or, unless limited, one of this host's names becomes the
 * masquerade domain; an unqualified address gets the masquerade domain,
 * or the hostname when none is set.  This host's names are the hostname,
 * its first label, "localhost" and "localhost.localdomain" (the front
 * end has no map: names of local-host-names belong in masquerade
 * domains).  Pure functions of the config.
 */
#ifndef MASQ_H
#define MASQ_H

#include <stddef.h>

#include "config.h"

enum masq_rule {
	MASQ_RULE_OTHER = 0,	/* a domain that is not ours: kept */
	MASQ_RULE_EXCEPTION,	/* masquerade exceptions: kept */
	MASQ_RULE_EXPOSED,	/* an exposed user: kept */
	MASQ_RULE_EXPOSED_UNQUALIFIED,	/* an exposed user: the hostname */
	MASQ_RULE_DOMAIN,	/* a masquerade domain */
	MASQ_RULE_SUBDOMAIN,	/* under one, entire-domain */
	MASQ_RULE_LOCAL,	/* one of this host's names */
	MASQ_RULE_UNQUALIFIED	/* no domain */
};

/*
 * The rule for local@domain (domain NULL, dlen 0: unqualified), and the
 * domain it gets in out; out is "" when the address is kept.
 */
enum masq_rule	 masq_address(const struct config *, const char *local,
		    size_t llen, const char *domain, size_t dlen, char *out,
		    size_t outsize);
/*
 * generics (sendmail's FEATURE(genericstable), applied before the rules
 * above): 1 if the genericstable is asked about local@domain, with the
 * address it is asked as in key: an unqualified one with the hostname
 * (sendmail's $j).  Only with generics domains: an address of one of
 * them (with generics entire-domain, of a subdomain too), or an
 * unqualified one.  0 if not asked, -1 if the key does not fit.
 */
int		 masq_generics_key(const struct config *, const char *local,
		    size_t llen, const char *domain, size_t dlen, char *key,
		    size_t keysize);
/*
 * The outbound address for a genericstable value, in out: an address as
 * it is (1: sendmail's ruleset 93 returns it, it is not masqueraded); a
 * user with the domain the rules above give an unqualified address (0).
 * -1 if it does not fit.
 */
int		 masq_generics_address(const struct config *,
		    const char *value, char *out, size_t outsize);
/* The rule as smtpctl explain names it. */
const char	*masq_rule_name(enum masq_rule);

#endif
