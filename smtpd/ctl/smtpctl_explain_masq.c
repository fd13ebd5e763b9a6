/*
 * smtpctl_explain_masq.c: "smtpctl explain masquerade ADDRESS", the
 * masquerade rule (common/masq.c, the one the front end applies) that
 * decides an address of a header, and what it becomes:
 *
 *	alice@host.a.example -> alice@a.example (local host name)
 *
 * For the envelope sender the same rule applies with masquerade
 * envelope; without it, or without masquerade as, a second line says
 * what the front end leaves as it is.  With generics domains, an address
 * they apply to is first looked up in the genericstable (read here, as
 * root, through policyd/lib), and a value found is the result:
 *
 *	alice@a.example -> alice.smith@corp.example (genericstable alice)
 *
 * Bad input, or a database that cannot be read: exit status 1.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "hdraddr.h"
#include "mailaddr.h"
#include "masq.h"
#include "policy.h"
#include "smtpctl.h"
#include "smtpctl_explain.h"

/* The listed domain a subdomain fell under, for the reason. */
static void
explain_masq_parent(const char *list, const char *domain, char *out,
    size_t size)
{
	const char	*d;

	out[0] = '\0';
	for (d = strchr(domain, '.'); d != NULL; d = strchr(d + 1, '.'))
		if (config_masq_in(list, d + 1, strlen(d + 1), 0)) {
			(void)strlcpy(out, d + 1, size);
			return;
		}
}

/* The reason in parentheses for the rule r of local@domain. */
static void
explain_masq_reason(const struct config *cf, enum masq_rule r,
    const char *domain, char *buf, size_t size)
{
	char	 parent[CONF_HOST_MAX];

	switch (r) {
	case MASQ_RULE_DOMAIN:
		(void)snprintf(buf, size, "%s %s", masq_rule_name(r), domain);
		break;
	case MASQ_RULE_SUBDOMAIN:
		explain_masq_parent(cf->masq_domains, domain, parent,
		    sizeof(parent));
		(void)snprintf(buf, size, "masquerade domain %s, entire-domain",
		    parent);
		break;
	case MASQ_RULE_EXCEPTION:
		if (config_masq_in(cf->masq_exceptions, domain, strlen(domain),
		    0))
			(void)strlcpy(parent, domain, sizeof(parent));
		else
			explain_masq_parent(cf->masq_exceptions, domain, parent,
			    sizeof(parent));
		(void)snprintf(buf, size, "%s %s", masq_rule_name(r), parent);
		break;
	default:
		(void)strlcpy(buf, masq_rule_name(r), size);
	}
}

/*
 * The genericstable step: 1 if it decides (printed), 0 if the masquerade
 * rules do, -1 if the database cannot be read.
 */
static int
explain_masq_generics(const struct config *cf, const char *addr,
    size_t llen, const char *domain)
{
	struct policy_db	*db;
	struct policy_env	 env;
	char			 key[MAILADDR_PATH_MAX], value[POLICY_VALUE_MAX + 1];
	char			 found[POLICY_KEY_MAX + 1], out[MAILADDR_PATH_MAX];
	char			 err[512];
	int			 r;

	if (masq_generics_key(cf, addr, llen, domain, domain != NULL ?
	    strlen(domain) : 0, key, sizeof(key)) != 1)
		return 0;
	if (policy_db_open(cf->database_path, 0, &db, err, sizeof(err)) ==
	    -1) {
		(void)fprintf(stderr, "smtpctl: explain masquerade: %s\n",
		    err);
		return -1;
	}
	policy_env_init(&env, db, 0, cf->hostname);
	r = policy_generics_find(&env, key, value, sizeof(value), found,
	    sizeof(found));
	policy_db_close(db);
	if (r == POLICY_DB_TMPF) {
		(void)fprintf(stderr, "smtpctl: explain masquerade: the "
		    "genericstable cannot be read\n");
		return -1;
	}
	if (r == POLICY_DB_NOTFOUND) {
		(void)printf("genericstable: no entry for %s", key);
		if (strchr(key, '@') != NULL)
			(void)printf(" or %.*s", (int)(strchr(key, '@') - key),
			    key);
		(void)printf(": the masquerade rules decide\n");
		return 0;
	}
	r = masq_generics_address(cf, value, out, sizeof(out));
	smtpctl_text_print(stdout, addr);
	(void)fputs(" -> ", stdout);
	smtpctl_text_print(stdout, r == -1 ? value : out);
	(void)printf(" (genericstable %s%s)\n", found, r == 0 ?
	    ", a user: qualified as an unqualified address" : "");
	if (!cf->masq_envelope)
		(void)printf("masquerade envelope no: as a MAIL FROM address "
		    "it stays as it is\n");
	return 1;
}

int
smtpctl_explain_masq(const struct config *cf, int argc, char **argv)
{
	char		 out[HDRADDR_DOMAIN_MAX], reason[CONF_HOST_MAX + 64];
	char		 probe[MAILADDR_PATH_MAX];
	const char	*addr, *at, *domain;
	enum masq_rule	 r;
	size_t		 llen;

	if (argc != 1) {
		(void)fprintf(stderr, "usage: smtpctl explain masquerade "
		    "ADDRESS\n");
		return 1;
	}
	addr = argv[0];
	at = strrchr(addr, '@');
	if ((at != NULL && !mailaddr_mailbox_valid(addr)) || (at == NULL &&
	    (snprintf(probe, sizeof(probe), "%s@a.example", addr) >=
	    (int)sizeof(probe) || !mailaddr_mailbox_valid(probe)))) {
		(void)fprintf(stderr, "smtpctl: explain masquerade: \"%s\" is "
		    "not an address\n", addr);
		return 1;
	}
	llen = at != NULL ? (size_t)(at - addr) : strlen(addr);
	domain = at != NULL ? at + 1 : NULL;
	switch (explain_masq_generics(cf, addr, llen, domain)) {
	case 1:
		return 0;
	case -1:
		return 1;
	default:
		break;
	}
	r = masq_address(cf, addr, llen, domain, domain != NULL ?
	    strlen(domain) : 0, out, sizeof(out));
	explain_masq_reason(cf, r, domain, reason, sizeof(reason));
	smtpctl_text_print(stdout, addr);
	(void)fputs(" -> ", stdout);
	if (out[0] != '\0')
		(void)printf("%.*s@%s", (int)llen, addr, out);
	else
		smtpctl_text_print(stdout, addr);
	(void)printf(" (%s)\n", reason);
	if (cf->masq_as[0] == '\0')
		(void)printf("masquerade as is not set: the front end changes "
		    "no address but by the genericstable\n");
	else if (!cf->masq_envelope)
		(void)printf("masquerade envelope no: as a MAIL FROM address "
		    "it stays as it is\n");
	return 0;
}
