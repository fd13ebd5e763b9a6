/*
 * test_policy_auth.c: TRUST_AUTH_MECH in policyd's relay decision
 * (policyd/lib/policy_access.c, spec 8 and 2.4 Rcpt_ok step 4).
 *
 * Proves that a client that authenticated with a mechanism of "auth
 * trust" may relay (POLICY_F_RELAY | POLICY_F_RELAY_AUTH), that any other
 * mechanism, or an empty trust list, grants nothing, and that the refusal
 * says "Proper authentication required" only when a trust list is set.
 * The maps are empty (no database); the client is not loopback.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "proc.h"
#include "policy.h"
#include "unit.h"

static struct policy_env env;

static struct policy_result
rcpt(const char *mech)
{
	struct policy_query	 q;
	struct policy_result	 res;

	memset(&q, 0, sizeof(q));
	q.kind = POLICY_RCPT;
	(void)policy_addr_canon("192.0.2.7", q.addr, sizeof(q.addr));
	(void)policy_name_canon("[192.0.2.7]", q.name, sizeof(q.name));
	(void)strlcpy(q.sender, "a@client.example", sizeof(q.sender));
	(void)strlcpy(q.rcpt, "b@remote.example", sizeof(q.rcpt));
	(void)strlcpy(q.auth_mech, mech, sizeof(q.auth_mech));
	if (mech[0] != '\0')
		(void)strlcpy(q.auth, "alice", sizeof(q.auth));
	policy_access_check(&env, &q, &res);
	/* the final recipients are policy_resolve's tests' */
	policy_targets_free(&res.targets);
	return res;
}

int
main(void)
{
	struct policy_result	 r;

	env.hostname = "mx.test";
	conf = config_new();
	r = rcpt("");
	UNIT_CHECK(r.code == 550 && strcmp(r.text,
	    "<b@remote.example>... Relaying denied") == 0,
	    "no AUTH, no trust list: Relaying denied");
	r = rcpt("PLAIN");
	UNIT_CHECK(r.code == 550, "AUTH without TRUST_AUTH_MECH grants nothing");
	(void)strlcpy(conf->auth_trust, "PLAIN LOGIN", sizeof(conf->auth_trust));
	r = rcpt("PLAIN");
	UNIT_CHECK(r.verdict == POLICY_ACCEPT && (r.flags &
	    (POLICY_F_RELAY | POLICY_F_RELAY_AUTH)) ==
	    (POLICY_F_RELAY | POLICY_F_RELAY_AUTH), "trusted PLAIN relays");
	r = rcpt("CRAM-MD5");
	UNIT_CHECK(r.code == 550 && strcmp(r.text, "<b@remote.example>... "
	    "Relaying denied. Proper authentication required.") == 0,
	    "untrusted CRAM-MD5: sendmail's text with TRUST_AUTH_MECH");
	r = rcpt("");
	UNIT_CHECK(r.code == 550 && !(r.flags & POLICY_F_RELAY),
	    "no AUTH with a trust list: denied");
	config_free(conf);
	return unit_done();
}
