/*
 * policy_route.c: the next hop of a destination domain, for the mta.
 *
 * Order: the "mailertable" map (spec 9.1: "a.b.c", ".b.c", ".c", "."),
 * then the config's "route" lines (config_route_find()), else ROUTE_MX.
 * A mailertable value counts only if it has the form "mailer:rest":
 *   smtp, esmtp, smtp8, dsmtp, relay:  rest = host, "[host]" or
 *       "[address]", each with an optional ":port" (our extension).
 *       The result is ROUTE_HOST: the mta connects to that host's
 *       addresses (no MX lookup, brackets or not); "[address]" stays
 *       bracketed so the mta skips DNS.
 *   error:  "D.S.N:ddd text", "keyword:ddd text" or "ddd text" (spec
 *       2.1): ROUTE_ERROR with the code and "D.S.N text".
 * Unlike sendmail, local domains are routed too (there is no local
 * delivery here).  Failure behaviour: a database failure, an unsupported
 * mailer or a malformed host answers ROUTE_ERROR 451 so mail waits in
 * the queue while the admin fixes the map (logged as a warning).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "log.h"
#include "proc.h"
#include "proto.h"
#include "policy.h"

#define MAP_MAILERTABLE	"mailertable"

static const char *route_mailers[] = {
	"smtp", "esmtp", "smtp8", "dsmtp", "relay"
};

int
policy_route_domain_valid(const char *domain)
{
	char	 canon[POLICY_NAME_MAX];

	return policy_name_canon(domain, canon, sizeof(canon)) == 0;
}

static void
route_error(struct policy_route *rt, uint32_t code, const char *enh,
    const char *text)
{
	rt->kind = ROUTE_ERROR;
	rt->host[0] = '\0';
	rt->port = 0;
	rt->code = code;
	(void)snprintf(rt->text, sizeof(rt->text), "%s %.2000s", enh,
	    text);
}

/* ":port" after a host, or nothing: 0 if malformed, else 1. */
static int
route_port(const char *s, uint32_t *port)
{
	char	*end;
	long	 v;

	*port = 0;
	if (*s == '\0')
		return 1;
	if (*s != ':' || !isdigit((unsigned char)s[1]))
		return 0;
	v = strtol(s + 1, &end, 10);
	if (*end != '\0' || v < 1 || v > 65535)
		return 0;
	*port = (uint32_t)v;
	return 1;
}

/* "host[:port]", "[host][:port]" or "[addr][:port]" into rt: 0 or -1. */
static int
route_host(const char *spec, struct policy_route *rt)
{
	char		 name[POLICY_NAME_MAX], canon[POLICY_NAME_MAX];
	char		 addr[POLICY_ADDR_MAX];
	const char	*end, *inner;
	size_t		 n;

	if (spec[0] == '[') {
		if ((end = strchr(spec, ']')) == NULL)
			return -1;
		inner = spec + 1;
		n = (size_t)(end - inner);
		end++;
	} else {
		inner = spec;
		n = strcspn(spec, ":");
		end = spec + n;
	}
	if (n == 0 || n >= sizeof(name) || !route_port(end, &rt->port))
		return -1;
	(void)snprintf(name, sizeof(name), "%.*s", (int)n, inner);
	if (policy_addr_canon(name, addr, sizeof(addr)) == 0) {
		inner = strncmp(addr, "IPv6:", 5) == 0 ? addr + 5 : addr;
		(void)snprintf(rt->host, sizeof(rt->host), "[%s]", inner);
	} else if (policy_name_canon(name, canon, sizeof(canon)) == 0)
		(void)strlcpy(rt->host, canon, sizeof(rt->host));
	else
		return -1;
	rt->kind = ROUTE_HOST;
	return 0;
}

/* Apply a mailertable value; 0 if it is not of the form "mailer:rest". */
static int
route_mailertable(const char *key, const char *value, struct policy_route *rt)
{
	char		 enh[POLICY_ENH_MAX], text[POLICY_TEXT_MAX];
	const char	*colon = strchr(value, ':');
	size_t		 i, n;

	if (colon == NULL || colon == value) {
		log_warnx("mailertable %s: \"%s\" is not mailer:host, ignored",
		    key, value);
		return 0;
	}
	n = (size_t)(colon - value);
	if (n == 5 && strncasecmp(value, "error", 5) == 0) {
		(void)policy_reply_parse(colon + 1, 1, &rt->code, enh,
		    sizeof(enh), text, sizeof(text));
		route_error(rt, rt->code, enh, text);
		return 1;
	}
	for (i = 0; i < sizeof(route_mailers) / sizeof(route_mailers[0]); i++)
		if (strlen(route_mailers[i]) == n &&
		    strncasecmp(value, route_mailers[i], n) == 0)
			break;
	if (i == sizeof(route_mailers) / sizeof(route_mailers[0]) ||
	    route_host(colon + 1, rt) == -1) {
		log_warnx("mailertable %s: \"%s\" is not supported "
		    "(mailers: smtp, esmtp, smtp8, dsmtp, relay, error)",
		    key, value);
		route_error(rt, 451, "4.3.5",
		    "Unsupported mailertable entry for this domain");
	}
	return 1;
}

/* The mailertable walk: 1 if an entry decided, 0 if none. */
static int
route_find_map(const struct policy_env *env, const char *domain,
    struct policy_route *rt)
{
	struct policy_keys	 keys;
	char			 value[POLICY_VALUE_MAX + 1];
	size_t			 i;
	int			 r, done = 0;

	policy_keys_init(&keys);
	if (policy_probe_mailertable(&keys, domain) == -1)
		done = -1;
	for (i = 0; done == 0 && i < keys.n; i++) {
		r = policy_env_lookup(env, MAP_MAILERTABLE, keys.key[i], value,
		    sizeof(value));
		if (r == POLICY_DB_TMPF)
			done = -1;
		else if (r == POLICY_DB_FOUND)
			done = route_mailertable(keys.key[i], value, rt);
	}
	policy_keys_free(&keys);
	if (done == -1)
		route_error(rt, 451, "4.3.0",
		    "Temporary system failure. Please try again later.");
	return done != 0;
}

void
policy_route_find(const struct policy_env *env, const struct config *cf,
    const char *domain, struct policy_route *rt)
{
	const struct route	*r;
	char			 d[POLICY_NAME_MAX];

	memset(rt, 0, sizeof(*rt));
	rt->kind = ROUTE_MX;
	if (policy_name_canon(domain, d, sizeof(d)) == -1) {
		route_error(rt, 553, "5.1.2", "Invalid destination domain");
		return;
	}
	if (route_find_map(env, d, rt))
		return;
	if (cf != NULL && (r = config_route_find(cf, d)) != NULL) {
		rt->kind = ROUTE_HOST;
		(void)strlcpy(rt->host, r->host, sizeof(rt->host));
		rt->port = r->port;
	}
}

/* Log a route at debug; a mailertable error at info. */
void
policy_route_log(const char *domain, const struct policy_route *rt)
{
	stats_add("policy.route", 1);
	switch (rt->kind) {
	case ROUTE_MX:
		log_debug("route %s: mx", domain);
		break;
	case ROUTE_HOST:
		log_debug("route %s: host %s port %u", domain, rt->host,
		    rt->port);
		break;
	default:
		log_info("route %s: error %u %s", domain, rt->code, rt->text);
		break;
	}
}
