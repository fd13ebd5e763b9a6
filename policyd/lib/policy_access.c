/*
 * policy_access.c: the access-map decisions of policyd, as sendmail's
 * cf makes them with FEATURE(access_db) and FEATURE(blacklist_recipients)
 * (spec 1.6, 2.2, 2.4):
 *
 *   connect  check_relay: D +Connect on the client name, then A +Connect
 *            on the address; the first key found decides.
 *   MAIL     check_mail: nothing for <>; else F, U, D with +From.
 *   RCPT     the %-hack first: "user%host@local" is judged, and queued
 *            (policy_result.rcpt), as "user@host"; then the To: checks
 *            (F, U, D for local domains; F, D for others; U for an
 *            unqualified recipient; none with "policy
 *            blacklist-recipients no"), then the relay decision:
 *            Rcpt_ok (local domain, relay-domains, To: RELAY) and, when
 *            that did not allow it or the local part routes ("@", "%",
 *            "!"), Relay_ok on the client.
 *
 * Interface: policy_access_check() fills a policy_result from a checked
 * query; the maps come through a policy_env (NULL db = empty maps).
 * SKIP (spec 1.2 step 3): with env->skip, a SKIP found by the connect
 * check's D probe ends D as "not found" and A still runs; one found by A
 * ends it as "not found".  Elsewhere (and without env->skip) SKIP is an
 * unknown value, as in sendmail (spec 2.2).
 *
 * Every probe goes through policy_env_lookup(), which logs it at debug
 * level and reports it to env->trace: "smtpctl explain" watches the very
 * decisions policyd makes.
 * Failure behaviour: any TMPF answers 451 4.3.0 (spec 2.2), except that a
 * temporary failure in Rcpt_ok is forgiven when Relay_ok allows the
 * client to relay (spec 2.4).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "log.h"
#include "mailaddr.h"
#include "proc.h"
#include "util.h"
#include "proto.h"
#include "policy.h"

#define MAP_ACCESS	"access"
#define MAP_RELAY	"relay-domains"

/* The most '%' signs the %-hack resolves in one recipient. */
#define ACCESS_HOPS_MAX	10

/* Which check applies a right-hand side: texts differ (spec 2.2). */
enum access_stage {
	STAGE_CONNECT,
	STAGE_MAIL,
	STAGE_RCPT
};

/* The maps of one decision; the skip option is on (see smtpd-maps(5)). */
void
policy_env_init(struct policy_env *env, struct policy_db *db, int dbfail,
    const char *hostname)
{
	memset(env, 0, sizeof(*env));
	env->db = db;
	env->dbfail = dbfail;
	env->hostname = hostname;
	env->skip = 1;
	env->blacklist = 1;
}

/* The "policy" settings of smtpd.conf (smtpd-maps(5)). */
void
policy_env_configure(struct policy_env *env, const struct config *cf)
{
	if (cf == NULL)
		return;
	env->skip = cf->policy_skip;
	env->dotdomain = cf->policy_lookupdotdomain;
	env->delay_checks = cf->policy_delay_checks;
	env->blacklist = cf->policy_blacklist_recipients;
	env->tls_perm_error = cf->policy_tls_perm_error;
	env->cf = cf;
}

/* Tell the observer, if any, which step of a decision starts now. */
void
policy_env_step(const struct policy_env *env, const char *fmt, ...)
{
	char	 what[POLICY_TEXT_MAX];
	va_list	 ap;

	if (env->trace == NULL || env->trace->step == NULL)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	env->trace->step(env->trace->arg, what);
}

int
policy_env_lookup(const struct policy_env *env, const char *map,
    const char *key, char *value, size_t valuelen)
{
	char		 masked[POLICY_VALUE_MAX + 1];
	const char	*show = value;
	int		 r;

	if (env->lookup != NULL)
		r = env->lookup(env->lookup_arg, map, key, value, valuelen);
	else if (env->dbfail)
		r = POLICY_DB_TMPF;
	else if (env->db == NULL)
		r = POLICY_DB_NOTFOUND;
	else
		r = policy_db_lookup(env->db, map, key, value, valuelen);
	/* an authinfo value is shown only with its secret masked */
	if (r == POLICY_DB_FOUND && value != NULL &&
	    strcmp(map, POLICY_MAP_AUTHINFO) == 0) {
		policy_authinfo_mask(value, masked, sizeof(masked));
		show = masked;
	}
	/* an aliases list may run to 64K: the log gets its start */
	log_debug("probe %s %s: %.300s", map, key, r == POLICY_DB_NOTFOUND ?
	    "not found" : r == POLICY_DB_TMPF ? "TMPF" : show != NULL ?
	    show : "found");
	if (env->trace != NULL && env->trace->probe != NULL)
		env->trace->probe(env->trace->arg, map, key, r,
		    r != POLICY_DB_FOUND ? NULL : show != NULL ? show : "");
	return r;
}

/* Run keys in order; the first found (or a TMPF) ends the search. */
int
policy_env_search(const struct policy_env *env, const char *map,
    const struct policy_keys *keys, char *value, size_t valuelen,
    char *matched, size_t matchedlen)
{
	size_t	 i;
	int	 r;

	matched[0] = '\0';
	if (keys->nomem)
		return POLICY_DB_TMPF;
	for (i = 0; i < keys->n; i++) {
		r = policy_env_lookup(env, map, keys->key[i], value, valuelen);
		if (r != POLICY_DB_NOTFOUND) {
			(void)strlcpy(matched, keys->key[i], matchedlen);
			return r;
		}
	}
	return POLICY_DB_NOTFOUND;
}

/*
 * Apply a value found for key at a stage (spec 2.2).  Returns 0 when the
 * value counts as "no entry" (OK and RELAY in the To: checks), else 1.
 */
static int
access_apply(struct policy_result *res, enum access_stage stage,
    const char *value, const char *mailbox, const char *key)
{
	const char	*body;

	switch (policy_rhs_parse(value, &body)) {
	case POLICY_RHS_OK:
		if (stage == STAGE_RCPT)
			return 0;
		policy_result_accept(res, POLICY_F_OK, key);
		break;
	case POLICY_RHS_RELAY:
		if (stage == STAGE_RCPT)
			return 0;
		/* relay rights come from Relay_ok, never from From: */
		policy_result_accept(res, stage == STAGE_CONNECT ?
		    POLICY_F_RELAY : POLICY_F_OK, key);
		break;
	case POLICY_RHS_REJECT:
		if (stage == STAGE_RCPT)
			policy_result_reply(res, mailbox, 550, "5.2.1",
			    "Mailbox disabled for this recipient");
		else
			policy_result_reply(res, mailbox, 550, "5.7.1",
			    "Access denied");
		break;
	case POLICY_RHS_DISCARD:
		policy_result_accept(res, 0, key);
		res->verdict = POLICY_DISCARD;
		break;
	case POLICY_RHS_QUARANTINE:
		/* held like DISCARD drops: at RCPT too the check ends here */
		if (!quarantine_reason_valid(body)) {
			policy_result_reply(res, mailbox, 553, "5.3.0", value);
			break;
		}
		policy_result_quarantine(res, body, key);
		break;
	case POLICY_RHS_ERROR:
		policy_result_error(res, mailbox, body);
		break;
	case POLICY_RHS_SKIP:		/* here an unknown value: spec 2.2 */
	case POLICY_RHS_UNKNOWN:
		policy_result_reply(res, mailbox, 553, "5.3.0", value);
		break;
	}
	(void)strlcpy(res->key, key, sizeof(res->key));
	return 1;
}

/* The result of an access-map search r (value found under key). */
static void
access_conclude(struct policy_result *res, int r, enum access_stage stage,
    const char *value, const char *mailbox, const char *key)
{
	if (r == POLICY_DB_TMPF) {
		policy_result_tempfail(res);
		(void)strlcpy(res->key, key, sizeof(res->key));
	} else if (r == POLICY_DB_NOTFOUND)
		policy_result_accept(res, 0, "");
	else
		(void)access_apply(res, stage, value, mailbox, key);
}

/* Search the access map and apply what is found; keys are freed. */
static void
access_decide(const struct policy_env *env, struct policy_keys *keys,
    enum access_stage stage, const char *mailbox, struct policy_result *res)
{
	char	 value[POLICY_VALUE_MAX + 1], key[POLICY_KEY_MAX + 1];
	int	 r;

	r = policy_env_search(env, MAP_ACCESS, keys, value, sizeof(value), key,
	    sizeof(key));
	policy_keys_free(keys);
	access_conclude(res, r, stage, value, mailbox, key);
}

/*
 * Search the access map with the keys of a D or A probe, then free them;
 * with the skip option a SKIP value counts as "not found" (spec 1.2
 * step 3: only D and A honour it).
 */
int
policy_env_search_da(const struct policy_env *env, struct policy_keys *keys,
    char *value, size_t valuelen, char *key, size_t keylen)
{
	int	 r;

	r = policy_env_search(env, MAP_ACCESS, keys, value, valuelen, key,
	    keylen);
	policy_keys_free(keys);
	if (r == POLICY_DB_FOUND && env->skip && strcasecmp(value,
	    "SKIP") == 0) {
		policy_env_step(env, "SKIP at %s: not found", key);
		return POLICY_DB_NOTFOUND;
	}
	return r;
}

/* The flags of a D probe: mode '+' or '!', and lookupdotdomain. */
int
policy_env_dflags(const struct policy_env *env, int flags)
{
	return flags | (env->dotdomain ? POLICY_PROBE_DOTDOMAIN : 0);
}

/*
 * check_relay (spec 1.6): D +Connect on the name, then A on the address;
 * mailbox: the recipient whose reply it prefixes (delay_checks), or NULL.
 */
static void
access_check_relay(const struct policy_env *env, const struct policy_query *q,
    const char *mailbox, struct policy_result *res)
{
	struct policy_keys	 keys;
	char			 value[POLICY_VALUE_MAX + 1];
	char			 key[POLICY_KEY_MAX + 1];
	int			 r;

	policy_env_step(env, "check_relay: D +Connect on %s", q->name);
	policy_keys_init(&keys);
	(void)policy_probe_domain(&keys, "Connect", q->name,
	    policy_env_dflags(env, POLICY_PROBE_UNTAGGED));
	r = policy_env_search_da(env, &keys, value, sizeof(value), key,
	    sizeof(key));
	if (r == POLICY_DB_NOTFOUND) {
		policy_env_step(env, "check_relay: A +Connect on %s", q->addr);
		(void)policy_probe_addr(&keys, "Connect", q->addr,
		    POLICY_PROBE_UNTAGGED);
		r = policy_env_search_da(env, &keys, value, sizeof(value),
		    key, sizeof(key));
	}
	access_conclude(res, r, STAGE_CONNECT, value, mailbox, key);
	/* sendmail's dnsbl rules follow the probes and run only when they
	 * found nothing: an OK or RELAY entry skips them */
	if (r == POLICY_DB_NOTFOUND)
		res->flags |= POLICY_F_DNSBL;
}

/* At connect: check_relay (unless delayed), then srv_features. */
void
policy_access_connect(const struct policy_env *env,
    const struct policy_query *q, struct policy_result *res)
{
	if (env->delay_checks) {
		policy_env_step(env, "delay_checks: check_relay runs at RCPT");
		policy_result_accept(res, 0, "");
	} else
		access_check_relay(env, q, NULL, res);
	if (res->verdict == POLICY_ACCEPT || res->verdict == POLICY_DISCARD ||
	    res->verdict == POLICY_QUARANTINE)
		policy_tls_features(env, q, res);
}

/* check_mail (spec 1.6); mailbox prefixes a refusal (the sender, or
 * the recipient under delay_checks). */
static void
access_check_mail(const struct policy_env *env, const struct policy_query *q,
    const char *mailbox, struct policy_result *res)
{
	struct policy_keys	 keys;
	char			 local[POLICY_PATH_MAX];
	const char		*domain;
	int			 f = POLICY_PROBE_UNTAGGED;

	if (q->sender[0] == '\0') {
		policy_env_step(env, "check_mail: <> is never looked up");
		policy_result_accept(res, 0, "");	/* <>: spec 1.7 */
		return;
	}
	policy_mailbox_split(q->sender, local, sizeof(local), &domain);
	policy_env_step(env, "check_mail: %s+From on <%s>", domain[0] != '\0' ?
	    "F, U, D " : "U ", q->sender);
	policy_keys_init(&keys);
	if (domain[0] != '\0')
		(void)policy_probe_full(&keys, "From", q->sender, f);
	(void)policy_probe_user(&keys, "From", local, f);
	if (domain[0] != '\0')
		(void)policy_probe_domain(&keys, "From", domain,
		    policy_env_dflags(env, f));
	access_decide(env, &keys, STAGE_MAIL, mailbox, res);
}

/* At MAIL: tls_client, then check_mail unless it is delayed. */
void
policy_access_mail(const struct policy_env *env,
    const struct policy_query *q, struct policy_result *res)
{
	policy_env_step(env, "Basic_check_mail: tls_client with verify=%s",
	    q->verify[0] != '\0' ? q->verify : "(none)");
	policy_tls_peer(env, "TLS_Clt", q, res);
	if (res->verdict != POLICY_ACCEPT) {
		res->ruleset = "tls_client";
		return;
	}
	res->key[0] = '\0';
	if (env->delay_checks) {
		policy_env_step(env, "delay_checks: check_mail runs at RCPT");
		policy_result_accept(res, 0, "");
		return;
	}
	access_check_mail(env, q, q->sender, res);
}

/* 1 if domain or a parent is in relay-domains ({R}), -1 TMPF. */
static int
access_domain_relay(const struct policy_env *env, const char *domain,
    char *key, size_t keylen)
{
	const char	*d = domain;
	int		 r;

	while (d != NULL && *d != '\0') {
		r = policy_env_lookup(env, MAP_RELAY, d, NULL, 0);
		if (r != POLICY_DB_NOTFOUND) {
			(void)strlcpy(key, d, keylen);
			return r == POLICY_DB_TMPF ? -1 : 1;
		}
		if (d[0] == '[')
			break;
		if ((d = strchr(d, '.')) != NULL)
			d++;
	}
	return 0;
}

/* Search keys for a RELAY value: 1 RELAY, 0 other or none, -1 TMPF. */
static int
access_search_relay(const struct policy_env *env, const char *map,
    struct policy_keys *keys, char *key, size_t keylen)
{
	char	 value[POLICY_VALUE_MAX + 1];
	int	 r;

	r = policy_env_search(env, map, keys, value, sizeof(value), key,
	    keylen);
	policy_keys_free(keys);
	if (r == POLICY_DB_TMPF)
		return -1;
	if (r == POLICY_DB_FOUND && (strcmp(map, MAP_RELAY) == 0 ||
	    strcasecmp(value, "RELAY") == 0))
		return 1;
	return 0;
}

/* Relay_ok steps 1-4 (spec 2.4): the client address. */
static int
access_relay_addr(const struct policy_env *env, const struct policy_query *q,
    char *key, size_t keylen)
{
	struct policy_keys	 keys;
	char			 lit[POLICY_ADDR_MAX + 2];
	int			 r;

	policy_env_step(env, "Relay_ok: may client %s relay?", q->addr);
	if (strcmp(q->addr, "127.0.0.1") == 0 ||
	    strcmp(q->addr, "IPv6:0:0:0:0:0:0:0:1") == 0) {
		policy_env_step(env, "Relay_ok: %s is loopback", q->addr);
		(void)strlcpy(key, q->addr, keylen);
		return 1;
	}
	policy_keys_init(&keys);
	(void)policy_probe_addr(&keys, NULL, q->addr, 0);
	if ((r = access_search_relay(env, MAP_RELAY, &keys, key, keylen)) != 0)
		return r;
	(void)policy_probe_addr(&keys, "Connect", q->addr,
	    POLICY_PROBE_UNTAGGED);
	if ((r = access_search_relay(env, MAP_ACCESS, &keys, key, keylen)) != 0)
		return r;
	(void)snprintf(lit, sizeof(lit), "[%s]", q->addr);
	if ((r = policy_domain_local(env, lit)) != 0)
		(void)strlcpy(key, lit, keylen);
	return r;
}

/*
 * Relay_ok step 6 (spec 2.4): a client whose name could not be found or
 * confirmed may not relay on its name.  1 with res filled if refused.
 */
static int
access_relay_resolve(const struct policy_env *env,
    const struct policy_query *q, struct policy_result *res)
{
	char	 text[POLICY_NAME_MAX + 64];

	if (strcmp(q->resolve, "TEMP") == 0)
		(void)snprintf(text, sizeof(text), "Relaying temporarily "
		    "denied. Cannot resolve PTR record for %s", q->addr);
	else if (strcmp(q->resolve, "FORGED") == 0)
		(void)snprintf(text, sizeof(text), "Relaying denied. IP name "
		    "possibly forged %s", q->name);
	else if (strcmp(q->resolve, "FAIL") == 0)
		(void)snprintf(text, sizeof(text), "Relaying denied. IP name "
		    "lookup failed %s", q->name);
	else
		return 0;
	policy_env_step(env, "Relay_ok: client_resolve is %s", q->resolve);
	policy_result_reply(res, q->rcpt, q->resolve[0] == 'T' ? 450 : 550,
	    q->resolve[0] == 'T' ? "4.4.0" : "5.7.1", text);
	res->key[0] = '\0';
	return 1;
}

/*
 * Relay_ok (spec 2.4): may this client relay?  1 yes, 0 no, -1 TMPF,
 * 2 refused by step 6 (res filled).
 */
static int
access_relay_client(const struct policy_env *env,
    const struct policy_query *q, char *key, size_t keylen,
    struct policy_result *res)
{
	struct policy_keys	 keys;
	int			 r;

	if ((r = access_relay_addr(env, q, key, keylen)) != 0)
		return r;
	if (access_relay_resolve(env, q, res))
		return 2;
	if (q->name[0] != '[') {
		if ((r = policy_domain_local(env, q->name)) != 0) {
			(void)strlcpy(key, q->name, keylen);
			return r;
		}
		if ((r = access_domain_relay(env, q->name, key, keylen)) != 0)
			return r;
	}
	policy_keys_init(&keys);
	(void)policy_probe_domain(&keys, "Connect", q->name,
	    policy_env_dflags(env, POLICY_PROBE_UNTAGGED));
	return access_search_relay(env, MAP_ACCESS, &keys, key, keylen);
}

/*
 * The To: checks of blacklist_recipients (spec 1.6).  Returns 1 when a
 * value decided (res filled), -1 after a TMPF (res filled), 0 to go on
 * after an OK or RELAY, or without the feature (Rcpt_ok then makes its
 * own To: probe of the domain), 2 to go on when no key was found.
 */
static int
access_rcpt_blacklist(const struct policy_env *env, const char *rcpt,
    const char *local, const char *domain, int islocal,
    const char *given, struct policy_result *res)
{
	struct policy_keys	 keys;
	char			 value[POLICY_VALUE_MAX + 1];
	char			 key[POLICY_KEY_MAX + 1];
	int			 r, f = POLICY_PROBE_UNTAGGED;

	if (!env->blacklist) {
		policy_env_step(env, "blacklist-recipients no: no To: checks "
		    "on <%s>", rcpt);
		return 0;
	}
	policy_env_step(env, "To: checks on <%s>", rcpt);
	policy_keys_init(&keys);
	if (domain[0] != '\0')
		(void)policy_probe_full(&keys, "To", rcpt, f);
	if (domain[0] == '\0' || islocal)
		(void)policy_probe_user(&keys, "To", local, f);
	if (domain[0] != '\0')
		(void)policy_probe_domain(&keys, "To", domain,
		    policy_env_dflags(env, f));
	r = policy_env_search(env, MAP_ACCESS, &keys, value, sizeof(value),
	    key, sizeof(key));
	policy_keys_free(&keys);
	if (r == POLICY_DB_TMPF) {
		policy_result_tempfail(res);
		(void)strlcpy(res->key, key, sizeof(res->key));
		return -1;
	}
	if (r == POLICY_DB_NOTFOUND)
		return 2;
	return access_apply(res, STAGE_RCPT, value, given, key);
}

/*
 * Rcpt_ok steps 5-7 and 9 (spec 2.4): 1 if the recipient domain may be
 * relayed to (res filled), 0 if not, -1 if a lookup failed (go on with
 * Relay_ok, which may still allow it).  tried: the To: checks already
 * probed every To: key of the domain and found none.
 */
static int
access_rcpt_ok(const struct policy_env *env, const char *domain, int islocal,
    int tried, struct policy_result *res)
{
	struct policy_keys	 keys;
	char			 key[POLICY_KEY_MAX + 1];
	int			 r;

	policy_env_step(env, "Rcpt_ok: may mail to %s be relayed?", domain);
	if (islocal) {
		policy_env_step(env, "Rcpt_ok: %s is local", domain);
		policy_result_accept(res, POLICY_F_LOCAL, domain);
		return 1;
	}
	if ((r = access_domain_relay(env, domain, key, sizeof(key))) == 1) {
		policy_result_accept(res, 0, key);
		return 1;
	}
	if ((r = policy_domain_virtual(env, domain)) == 1) {
		policy_env_step(env, "Rcpt_ok: %s is a virtual domain", domain);
		policy_result_accept(res, 0, domain);
		return 1;
	}
	if (tried)
		return r;
	policy_keys_init(&keys);
	(void)policy_probe_domain(&keys, "To", domain,
	    policy_env_dflags(env, POLICY_PROBE_UNTAGGED));
	switch (access_search_relay(env, MAP_ACCESS, &keys, key,
	    sizeof(key))) {
	case 1:
		policy_result_accept(res, 0, key);
		return 1;
	case -1:
		return -1;
	}
	return r;
}

/*
 * Rcpt_ok step 4 (spec 8): TRUST_AUTH_MECH ("auth trust").  A client that
 * authenticated with a trusted mechanism may relay; any other mechanism,
 * or none configured, grants nothing.  1 if granted (res filled).
 */
static int
access_rcpt_auth(const struct policy_env *env, const struct policy_query *q,
    struct policy_result *res)
{
	if (q->auth_mech[0] == '\0' || conf == NULL)
		return 0;
	if (!config_word_in(conf->auth_trust, q->auth_mech)) {
		policy_env_step(env, "Rcpt_ok: AUTH mechanism %s is not "
		    "trusted", q->auth_mech);
		return 0;
	}
	policy_env_step(env, "Rcpt_ok: authenticated with trusted %s",
	    q->auth_mech);
	policy_result_accept(res, POLICY_F_RELAY | POLICY_F_RELAY_AUTH, "");
	return 1;
}

/* The text of a refused relay: sendmail's with TRUST_AUTH_MECH set. */
static const char *
access_relay_denied(void)
{
	if (conf != NULL && conf->auth_trust[0] != '\0')
		return "Relaying denied. Proper authentication required.";
	return "Relaying denied";
}

/*
 * ParseRecipient (spec 2.4 step 1), as sendmail's rulesets 3 and 0 turn
 * "user%host@local" into "user@host": that address is judged instead,
 * as a RCPT of it would be, and queued in place of the one given.  The
 * rightmost '%' of an unquoted local part goes first; rcpt keeps its
 * case.  Returns 1 if the domain it ends at is local (or there is none),
 * 0 if not, -1 after a TMPF, -2 if the rewrite is no mailbox or takes
 * more than ACCESS_HOPS_MAX steps.
 */
static int
access_rcpt_unroute(const struct policy_env *env, char *rcpt, size_t len)
{
	char		 local[POLICY_PATH_MAX];
	const char	*domain;
	char		*pct;
	int		 islocal, hops;

	policy_env_step(env, "check_rcpt: is the domain of <%s> local?", rcpt);
	for (hops = 0;; hops++) {
		policy_mailbox_split(rcpt, local, sizeof(local), &domain);
		if (domain[0] == '\0')
			return 1;
		if ((islocal = policy_domain_local(env, domain)) != 1 ||
		    strpbrk(local, "\"\\") != NULL ||
		    (pct = strrchr(local, '%')) == NULL)
			return islocal;
		*pct = '@';
		if (hops == ACCESS_HOPS_MAX || !mailaddr_mailbox_valid(local)) {
			policy_env_step(env, "%%-hack: <%s> is no recipient",
			    local);
			return -2;
		}
		(void)strlcpy(rcpt, local, len);
		policy_env_step(env, "%%-hack: judged as <%s>", rcpt);
	}
}

/*
 * Postfix's allow_untrusted_routing = no: a domain we accept mail for
 * does not make "a@b"@dom, b!a@dom or a%b@dom acceptable, because a next
 * hop that honours the routing would relay for us.  1 if the local part
 * (as the %-hack left it) routes: only Relay_ok may then allow it.
 */
static int
access_rcpt_routed(const struct policy_env *env, const char *rcpt,
    const char *local)
{
	if (!mailaddr_local_has_routing(local, strlen(local)))
		return 0;
	policy_env_step(env, "Rcpt_ok: <%s> routes in its local part; only a "
	    "client that may relay may send it", rcpt);
	return 1;
}

/*
 * check_rcpt up to the delayed checks; queued gets the address to queue
 * (the %-hack's rewrite, else the one given).
 */
static void
access_rcpt_decide(const struct policy_env *env,
    const struct policy_query *q, char *queued, size_t queuedlen,
    struct policy_result *res, struct policy_parsed *pp)
{
	char		 rcpt[POLICY_PATH_MAX], local[POLICY_PATH_MAX];
	char		 key[POLICY_KEY_MAX + 1];
	const char	*domain;
	int		 islocal, black, ok, relay, parsed;

	(void)strlcpy(queued, q->rcpt, queuedlen);
	islocal = access_rcpt_unroute(env, queued, queuedlen);
	if (islocal == -1) {
		policy_result_tempfail(res);
		return;
	}
	if (islocal == -2) {
		policy_result_reply(res, q->rcpt, 501, "5.1.3",
		    "Bad recipient address syntax");
		return;
	}
	if ((parsed = policy_resolve_parse(env, queued, res, pp)) != 0) {
		if (parsed == -1)
			policy_result_tempfail(res);
		return;
	}
	(void)strlcpy(rcpt, queued, sizeof(rcpt));
	text_lower(rcpt);	/* keys are lowercase; replies use q->rcpt */
	policy_mailbox_split(rcpt, local, sizeof(local), &domain);
	if ((black = access_rcpt_blacklist(env, rcpt, local, domain, islocal,
	    q->rcpt, res)) == 1 || black == -1)
		return;
	if (policy_tls_relay(env, q, key, sizeof(key)) == 1) {
		policy_result_accept(res, POLICY_F_RELAY | POLICY_F_RELAY_CERT,
		    key);
		return;
	}
	if (domain[0] == '\0') {
		policy_result_accept(res, POLICY_F_LOCAL, "");
		return;
	}
	if (access_rcpt_auth(env, q, res))
		return;
	if ((ok = access_rcpt_ok(env, domain, islocal, black == 2, res)) == 1) {
		if (!access_rcpt_routed(env, rcpt, local))
			return;
		res->flags = 0;		/* the domain alone grants nothing */
	}
	relay = access_relay_client(env, q, key, sizeof(key), res);
	if (relay == 1)
		policy_result_accept(res, POLICY_F_RELAY, key);
	else if (relay == -1 || ok == -1)
		policy_result_tempfail(res);
	else if (relay == 0) {
		policy_result_reply(res, q->rcpt, 550, "5.7.1",
		    access_relay_denied());
		res->key[0] = '\0';
	}
}

/*
 * FEATURE(delay_checks) (spec 1.8): once the recipient passed, check_mail
 * and then check_relay, their refusals prefixed with the recipient.  A
 * From: OK or RELAY skips check_relay.  A DISCARD or QUARANTINE keeps the
 * relay flags.
 */
static void
access_rcpt_delayed(const struct policy_env *env,
    const struct policy_query *q, struct policy_result *res)
{
	struct policy_result	 later;

	policy_env_step(env, "delay_checks: check_mail and check_relay for "
	    "<%s>", q->rcpt);
	memset(&later, 0, sizeof(later));
	access_check_mail(env, q, q->rcpt, &later);
	if (later.verdict == POLICY_ACCEPT && !(later.flags & POLICY_F_OK)) {
		memset(&later, 0, sizeof(later));
		access_check_relay(env, q, q->rcpt, &later);
	}
	if (later.verdict == POLICY_DISCARD ||
	    later.verdict == POLICY_QUARANTINE) {
		res->verdict = later.verdict;
		(void)strlcpy(res->text, later.text, sizeof(res->text));
		(void)strlcpy(res->key, later.key, sizeof(res->key));
	} else if (later.verdict != POLICY_ACCEPT) {
		later.flags = 0;
		*res = later;
	} else
		res->flags |= later.flags & POLICY_F_DNSBL;
}

/*
 * recipient() (spec 9.2, 9.3): what an accepted recipient becomes.  One
 * that resolves to nothing but failures is refused with the first, one
 * with a temporary failure among them with that (sendmail would queue
 * it; here the client keeps it); a local user being looked up leaves
 * the answer pending.
 */
static void
access_rcpt_resolve(const struct policy_env *env,
    const struct policy_query *q, const char *queued,
    const struct policy_parsed *pp, struct policy_result *res)
{
	struct policy_targets	*ts = &res->targets;
	size_t			 i;
	int			 r;

	policy_env_step(env, "recipient: what <%s> resolves to", queued);
	switch ((r = policy_resolve(env, queued, pp, ts))) {
	case POLICY_RESOLVE_PENDING:
		res->pending = 1;
		return;
	case POLICY_RESOLVE_TMPF:
		policy_result_tempfail(res);
		return;
	case POLICY_RESOLVE_TOOMANY:
		policy_result_reply(res, q->rcpt, 550, "5.5.3",
		    "Too many recipients from aliases");
		return;
	}
	/* a temporary failure anywhere: the client tries again later */
	for (i = 0; i < ts->n; i++)
		if (ts->t[i].kind == TARGET_ERROR && ts->t[i].error[0] == '4')
			break;
	if (i == ts->n) {
		for (i = 0; i < ts->n; i++)
			if (ts->t[i].kind != TARGET_ERROR)
				return;
		i = 0;
	}
	if (ts->n > 0)
		policy_target_reply(&ts->t[i], q->rcpt, res);
	else
		policy_result_reply(res, q->rcpt, 554, "5.4.6",
		    "aliasing/forwarding loop broken");
	res->ruleset = "recipient";
	policy_targets_free(ts);
}

/* check_rcpt, then what the recipient resolves to. */
void
policy_access_rcpt(const struct policy_env *env,
    const struct policy_query *q, struct policy_result *res)
{
	struct policy_parsed	 pp;
	char			 queued[POLICY_PATH_MAX];

	pp.remote = 0;
	pp.virtuser = -1;
	access_rcpt_decide(env, q, queued, sizeof(queued), res, &pp);
	if (env->delay_checks && res->verdict == POLICY_ACCEPT &&
	    !(res->flags & (POLICY_F_RELAY_CERT | POLICY_F_RELAY_AUTH)))
		access_rcpt_delayed(env, q, res);
	if ((res->verdict == POLICY_ACCEPT || res->verdict == POLICY_DISCARD ||
	    res->verdict == POLICY_QUARANTINE) && strcmp(queued, q->rcpt) != 0) {
		(void)strlcpy(res->rcpt, queued, sizeof(res->rcpt));
		policy_env_step(env, "%%-hack: <%s> is queued as <%s>",
		    q->rcpt, queued);
	}
	if (res->verdict == POLICY_ACCEPT || res->verdict == POLICY_QUARANTINE)
		access_rcpt_resolve(env, q, queued, &pp, res);
}

void
policy_access_check(const struct policy_env *env,
    const struct policy_query *q, struct policy_result *res)
{
	memset(res, 0, sizeof(*res));
	switch (q->kind) {
	case POLICY_CONNECT:
		policy_access_connect(env, q, res);
		break;
	case POLICY_MAIL:
		policy_access_mail(env, q, res);
		break;
	case POLICY_RCPT:
		policy_access_rcpt(env, q, res);
		break;
	case POLICY_TLS_CLT:
		policy_tls_peer(env, "TLS_Clt", q, res);
		break;
	case POLICY_TRY_TLS:
		policy_tls_try(env, q, res);
		break;
	case POLICY_TLS_SRV:
		policy_tls_peer(env, "TLS_Srv", q, res);
		break;
	case POLICY_TLS_RCPT:
		policy_tls_rcpt(env, q, res);
		break;
	default:
		policy_result_accept(res, 0, "");	/* HELO: no checks yet */
		break;
	}
}

/* The ruleset name and arguments of a refusal, as sendmail logs them. */
static const char *
access_log_args(const struct policy_query *q,
    const struct policy_result *res, char *args, size_t len)
{
	switch (q->kind) {
	case POLICY_CONNECT:
		(void)snprintf(args, len, "arg1=%s, arg2=%s", q->name, q->addr);
		return "check_relay";
	case POLICY_MAIL:
		if (res->ruleset != NULL) {
			(void)snprintf(args, len, "arg1=%s, arg2=MAIL",
			    q->verify);
			return "tls_client";
		}
		(void)snprintf(args, len, "arg1=<%s>", q->sender);
		return "check_mail";
	case POLICY_RCPT:
		(void)snprintf(args, len, "arg1=<%s>", q->rcpt);
		return "check_rcpt";
	case POLICY_TLS_CLT:
		(void)snprintf(args, len, "arg1=%s, arg2=STARTTLS", q->verify);
		return "tls_client";
	case POLICY_TRY_TLS:
		(void)snprintf(args, len, "arg1=%s", q->name);
		return "try_tls";
	case POLICY_TLS_SRV:
		(void)snprintf(args, len, "arg1=%s", q->verify);
		return "tls_server";
	case POLICY_TLS_RCPT:
		(void)snprintf(args, len, "arg1=<%s>", q->rcpt);
		return "tls_rcpt";
	}
	(void)snprintf(args, len, "arg1=%s", q->helo);
	return "check_helo";
}

static const char *
access_verdict_name(uint32_t verdict)
{
	static const char *const names[] = {
		"accept", "reject", "tempfail", "discard", "quarantine"
	};

	return verdict < sizeof(names) / sizeof(names[0]) ?
	    names[verdict] : "unknown";
}

/*
 * Log a decision: refusals at info in sendmail's format (spec 7.3),
 * "ruleset=check_rcpt, arg1=<r>, relay=name [addr], reject=550 ...";
 * every decision at debug with the key that made it.  On the client
 * side (try_tls, tls_server, tls_rcpt) relay= is the server name.
 */
void
policy_access_log(const struct policy_query *q,
    const struct policy_result *res)
{
	char		 args[POLICY_PATH_MAX + POLICY_NAME_MAX + 64];
	char		 relay[POLICY_NAME_MAX + POLICY_ADDR_MAX + 4];
	const char	*ruleset;

	log_debug("policy %s addr=%s name=%s verdict=%u flags=0x%x key=%s "
	    "reply=%u %s %s", policy_kind_name(q->kind), q->addr, q->name,
	    res->verdict, res->flags, res->key, res->code, res->enhanced,
	    res->text);
	stats_add("policy.query", 1);
	stats_add_by("policy.decision", "verdict",
	    access_verdict_name(res->verdict), 1);
	if (res->verdict == POLICY_ACCEPT)
		return;
	ruleset = access_log_args(q, res, args, sizeof(args));
	if (q->name[0] == '[' || q->kind >= POLICY_TRY_TLS)
		(void)strlcpy(relay, q->name, sizeof(relay));
	else
		(void)snprintf(relay, sizeof(relay), "%s [%s]", q->name,
		    q->addr);
	if (res->verdict == POLICY_DISCARD) {
		stats_add("policy.discard", 1);
		log_info("ruleset=%s, %s, relay=%s, discard", ruleset, args,
		    relay);
		return;
	}
	if (res->verdict == POLICY_QUARANTINE) {
		stats_add("policy.quarantine", 1);
		log_info("ruleset=%s, %s, relay=%s, quarantine=%s", ruleset,
		    args, relay, res->text);
		return;
	}
	stats_add(res->verdict == POLICY_TEMPFAIL ? "policy.tempfail" :
	    "policy.reject", 1);
	log_info("ruleset=%s, %s, relay=%s, reject=%u %s %s", ruleset, args,
	    relay, res->code, res->enhanced, res->text);
}
