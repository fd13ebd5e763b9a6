/*
 * policy_generics.c: the genericstable (sendmail's FEATURE(genericstable),
 * smtpd-maps(5)): the outbound form of one address.
 *
 * The front end (and smtpctl explain) asks only about addresses that
 * generics applies to: one of a generics domain, or an unqualified one,
 * which comes qualified with the hostname as sendmail's $j.  The keys
 * are sendmail's ruleset 93 order: the whole address, then its user
 * alone.  The value is returned as stored: an address, or a user the
 * caller qualifies.  policy_env_lookup() reports each probe to the trace
 * of smtpctl explain.
 */
#include <string.h>

#include "mailaddr.h"
#include "util.h"
#include "policy.h"

#define MAP_GENERICS	"genericstable"

int
policy_generics_find(const struct policy_env *env, const char *addr,
    char *value, size_t valuelen, char *key, size_t keylen)
{
	const char	*at = strrchr(addr, '@');
	int		 r;

	value[0] = key[0] = '\0';
	if (at == NULL || at == addr || !mailaddr_mailbox_valid(addr))
		return POLICY_DB_NOTFOUND;
	(void)strlcpy(key, addr, keylen);
	r = policy_env_lookup(env, MAP_GENERICS, key, value, valuelen);
	if (r != POLICY_DB_NOTFOUND)
		return r;
	if ((size_t)(at - addr) >= keylen)
		return POLICY_DB_NOTFOUND;
	memcpy(key, addr, (size_t)(at - addr));
	key[at - addr] = '\0';
	r = policy_env_lookup(env, MAP_GENERICS, key, value, valuelen);
	if (r != POLICY_DB_FOUND)
		key[0] = '\0';
	return r;
}
