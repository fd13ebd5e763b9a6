/*
 * policy_local.c: which domains are this host's (sendmail's class {w},
 * spec 9.4) and which are virtual-only (VIRTUSER_DOMAIN).
 *
 * {w} is the configured host name, its first label, "localhost",
 * "localhost.localdomain", "[addr]" of every listener that is bound to
 * one address (a wildcard listener names no address), and the
 * local-host-names map.  Matching is exact: a subdomain of a local
 * domain is not local.  Domains come lowercased, without trailing dot;
 * an address literal in any spelling inet_pton(3) reads.
 */
#include <netinet/in.h>

#include <string.h>
#include <strings.h>

#include "config.h"
#include "policy.h"

#define MAP_LOCAL	"local-host-names"
#define MAP_VIRTUAL	"virtual-domains"

/* 1 if name is the host name or its first label. */
static int
local_is_hostname(const char *hostname, const char *name)
{
	const char	*dot;

	if (hostname == NULL || hostname[0] == '\0')
		return 0;
	if (strcasecmp(name, hostname) == 0)
		return 1;
	if ((dot = strchr(hostname, '.')) == NULL)
		return 0;
	return strlen(name) == (size_t)(dot - hostname) &&
	    strncasecmp(name, hostname, (size_t)(dot - hostname)) == 0;
}

/* 1 if "[addr]" is the address of a listener bound to one address. */
static int
local_is_listener(const struct config *cf, const char *literal)
{
	const struct listener	*l;
	char			 inner[POLICY_ADDR_MAX], want[POLICY_ADDR_MAX];
	char			 have[POLICY_ADDR_MAX];
	size_t			 n = strlen(literal);

	if (cf == NULL || n < 3 || literal[0] != '[' || literal[n - 1] != ']' ||
	    n - 2 >= sizeof(inner))
		return 0;
	memcpy(inner, literal + 1, n - 2);
	inner[n - 2] = '\0';
	if (policy_addr_canon(inner, want, sizeof(want)) == -1)
		return 0;
	TAILQ_FOREACH(l, &cf->listeners, entry) {
		if (policy_addr_canon(l->addr, have, sizeof(have)) == -1 ||
		    strcmp(have, "0.0.0.0") == 0 ||
		    strcmp(have, "IPv6:0:0:0:0:0:0:0:0") == 0)
			continue;
		if (strcmp(have, want) == 0)
			return 1;
	}
	return 0;
}

int
policy_domain_local(const struct policy_env *env, const char *domain)
{
	int	 r;

	if (local_is_hostname(env->hostname, domain) ||
	    strcasecmp(domain, "localhost") == 0 ||
	    strcasecmp(domain, "localhost.localdomain") == 0 ||
	    local_is_listener(env->cf, domain))
		return 1;
	r = policy_env_lookup(env, MAP_LOCAL, domain, NULL, 0);
	return r == POLICY_DB_TMPF ? -1 : r == POLICY_DB_FOUND;
}

int
policy_domain_virtual(const struct policy_env *env, const char *domain)
{
	int	 r;

	r = policy_env_lookup(env, MAP_VIRTUAL, domain, NULL, 0);
	return r == POLICY_DB_TMPF ? -1 : r == POLICY_DB_FOUND;
}
