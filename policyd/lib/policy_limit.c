/*
 * policy_limit.c: sendmail's ClientConn: and ClientRate: access-map
 * entries (FEATURE(conncontrol), FEATURE(ratecontrol); spec 9.8).
 *
 * At connect, for each of the two tags, the lookups of sendmail's
 * SearchList <! Tag> <A:${client_addr}> <E:>: the address and its
 * shorter prefixes, then the bare "Tag:" as the default, so an entry for
 * the address wins over the default.  The value is the most open
 * sessions (ClientConn) or connections in 60 s (ClientRate) the address
 * may have; 0 is no limit.  policyd only finds the numbers: the front
 * end counts the sessions and connections of each address and compares
 * (smtpd/smtp/smtp_client.c), as sendmail's rulesets compare them with
 * ${client_connections} and ${client_rate}.
 *
 * Interface: policy_limit_client() fills res->client_conn and
 * res->client_rate (POLICY_LIMIT_NONE where no entry applies);
 * policy_limit_parse() reads one value.
 * Failure behaviour: a temporary map failure or a value that is not a
 * number (a map loaded from a file smtpctl did not check) counts as no
 * entry, with a step for smtpctl explain: a broken map never turns a
 * client away.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "util.h"
#include "policy.h"

#define MAP_ACCESS	"access"

int
policy_limit_parse(const char *value, uint32_t *n)
{
	const char	*p = value;
	uint64_t	 v = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > INT_MAX)
			return -1;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '\0')
		return -1;
	*n = (uint32_t)v;
	return 0;
}

/* One tag: A on the address, then the bare tag. */
static uint32_t
limit_lookup(const struct policy_env *env, const char *tag, const char *addr)
{
	struct policy_keys	 keys;
	char			 value[POLICY_VALUE_MAX + 1];
	char			 key[POLICY_KEY_MAX + 1];
	uint32_t		 n;
	int			 r;

	policy_env_step(env, "%s: A !%s on %s, then the default %s:", tag,
	    tag, addr, tag);
	policy_keys_init(&keys);
	(void)policy_probe_addr(&keys, tag, addr, 0);
	(void)policy_probe_exact(&keys, tag, "", 0);
	r = policy_env_search(env, MAP_ACCESS, &keys, value, sizeof(value),
	    key, sizeof(key));
	policy_keys_free(&keys);
	if (r == POLICY_DB_NOTFOUND)
		return POLICY_LIMIT_NONE;
	if (r != POLICY_DB_FOUND || policy_limit_parse(value, &n) == -1) {
		policy_env_step(env, "%s: %s, no limit from the map", tag,
		    r == POLICY_DB_FOUND ? "not a number" :
		    "temporary map failure");
		return POLICY_LIMIT_NONE;
	}
	policy_env_step(env, "%s: %s %u%s", tag, key, n,
	    n == 0 ? " (no limit)" : "");
	return n;
}

void
policy_limit_client(const struct policy_env *env,
    const struct policy_query *q, struct policy_result *res)
{
	res->client_conn = limit_lookup(env, "ClientConn", q->addr);
	res->client_rate = limit_lookup(env, "ClientRate", q->addr);
}
