/*
 * policy_route.c: the next hop of a destination domain, for the mta (and
 * for the RCPT checks, which refuse a route that cannot work).
 *
 * Order: a local domain (class {w}, policy_domain_local()) is never
 * routed: ROUTE_LOCAL, before everything else.  Then the "mailertable"
 * map (spec 9.1: "a.b.c", ".b.c", ".c", "."), then the config's "route"
 * lines (config_route_find()), else ROUTE_MX.  A mailertable value counts
 * only if it has the form "mailer:rest"; %1 in it is the part of the
 * domain left of the matched key, %2 the one label just left of it (both
 * empty for an exact match):
 *   smtp, esmtp, smtp8, dsmtp, relay:  rest = host (its MX, else its
 *       A/AAAA: ROUTE_HOST with ROUTE_F_MX), "[host]" (A/AAAA only),
 *       "[address]" or an address (no DNS), or "user@" and any of these
 *       (the recipient is sent as the address user@host); each with an
 *       optional ":port" (our extension).
 *   local:  ROUTE_LOCAL; "local:user" names the local user.
 *   error:  "D.S.N:ddd text", "keyword:ddd text" or "ddd text" (spec
 *       2.1): ROUTE_ERROR with the code and "D.S.N text".
 * A ROUTE_HOST that is this host (an address literal reaching one of our
 * listeners at the port the mta would use, or a name in {w} when a
 * listener uses that port) is a configuration error: ROUTE_ERROR 553
 * 5.3.5, as sendmail's "mail loops back to me".  Failure behaviour: a
 * database failure answers 451 4.3.0; an unsupported mailer or a
 * malformed host answers ROUTE_ERROR 451 4.3.5, so mail waits in the
 * queue while the admin fixes the map (logged as a warning).
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "log.h"
#include "mailaddr.h"
#include "proc.h"
#include "proto.h"
#include "util.h"
#include "policy.h"

#define MAP_MAILERTABLE	"mailertable"
#define ROUTE_LOOP_TEXT	"config error: mail loops back to me (MX problem?)"

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
	rt->flags = 0;
	rt->user[0] = '\0';
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

/*
 * "host[:port]", "[host][:port]" or "[addr][:port]" into rt: 0 or -1.
 * A host name without brackets is looked up for its MX (ROUTE_F_MX).
 */
static int
route_host(const char *spec, struct policy_route *rt)
{
	char		 name[POLICY_NAME_MAX], canon[POLICY_NAME_MAX];
	char		 addr[POLICY_ADDR_MAX];
	const char	*end, *inner;
	size_t		 n;
	int		 bracketed = spec[0] == '[';

	if (bracketed) {
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
	rt->flags = 0;
	if (policy_addr_canon(name, addr, sizeof(addr)) == 0) {
		inner = strncmp(addr, "IPv6:", 5) == 0 ? addr + 5 : addr;
		(void)snprintf(rt->host, sizeof(rt->host), "[%s]", inner);
	} else if (policy_name_canon(name, canon, sizeof(canon)) == 0) {
		(void)strlcpy(rt->host, canon, sizeof(rt->host));
		if (!bracketed)
			rt->flags = ROUTE_F_MX;
	} else
		return -1;
	rt->kind = ROUTE_HOST;
	return 0;
}

/*
 * "user@host[:port]" (host in any form of route_host()): the next hop
 * of host, and the recipient to send, user@host as written without the
 * port; 0, or -1 if that is not a valid mailbox.
 */
static int
route_user(const char *spec, const char *at, struct policy_route *rt)
{
	char		 mbox[POLICY_PATH_MAX];
	const char	*host = at + 1, *close;
	size_t		 hostlen;
	int		 n;

	if (at == spec || route_host(host, rt) == -1)
		return -1;
	if (host[0] == '[' && (close = strchr(host, ']')) != NULL)
		hostlen = (size_t)(close - host) + 1;
	else
		hostlen = strcspn(host, ":");
	n = snprintf(mbox, sizeof(mbox), "%.*s@%.*s", (int)(at - spec), spec,
	    (int)hostlen, host);
	if (n < 0 || (size_t)n >= sizeof(mbox) || n >= CONF_ADDR_MAX ||
	    !mailaddr_mailbox_valid(mbox))
		return -1;
	(void)strlcpy(rt->user, mbox, sizeof(rt->user));
	return 0;
}

/* "local:" or "local:user": 0, or -1 if user is not one word. */
static int
route_local(const char *user, struct policy_route *rt)
{
	if (strlen(user) >= CONF_ADDR_MAX || !text_is_clean(user) ||
	    strchr(user, ' ') != NULL)
		return -1;
	rt->kind = ROUTE_LOCAL;
	(void)strlcpy(rt->user, user, sizeof(rt->user));
	return 0;
}

/*
 * %1 and %2 of a match of key for host (spec 9.1): the part of host left
 * of a ".rest" key (all of host for "."), and the last label of that
 * part; both empty for the exact key, %2 empty for an address literal.
 */
static void
route_args(const char *host, const char *key, char *p1, size_t p1len,
    char *p2, size_t p2len)
{
	size_t		 hl = strlen(host), kl = strlen(key);
	const char	*dot;

	p1[0] = p2[0] = '\0';
	if (key[0] != '.' || strcmp(key, host) == 0)
		return;
	if (strcmp(key, ".") == 0)
		kl = 0;
	if (kl >= hl)
		return;
	(void)snprintf(p1, p1len, "%.*s", (int)(hl - kl), host);
	if (host[0] == '[')
		return;
	dot = strrchr(p1, '.');
	(void)strlcpy(p2, dot != NULL ? dot + 1 : p1, p2len);
}

/* The rest of a "mailer:rest" value by its mailer: 0, or -1 if refused. */
static int
route_mailer(const char *mailer, size_t n, const char *rest,
    struct policy_route *rt)
{
	const char	*at;
	size_t		 i;

	if (n == 5 && strncasecmp(mailer, "local", 5) == 0)
		return route_local(rest, rt);
	for (i = 0; i < sizeof(route_mailers) / sizeof(route_mailers[0]); i++)
		if (strlen(route_mailers[i]) == n &&
		    strncasecmp(mailer, route_mailers[i], n) == 0)
			break;
	if (i == sizeof(route_mailers) / sizeof(route_mailers[0]))
		return -1;
	if ((at = strrchr(rest, '@')) != NULL)
		return route_user(rest, at, rt);
	return route_host(rest, rt);
}

/*
 * Apply a mailertable value found at key for host; 0 if it is not of the
 * form "mailer:rest".  %1 and %2 are replaced in the rest.
 */
static int
route_mailertable(const char *host, const char *key, const char *value,
    struct policy_route *rt)
{
	char		 enh[POLICY_ENH_MAX], text[POLICY_TEXT_MAX];
	char		 p1[POLICY_NAME_MAX], p2[POLICY_NAME_MAX];
	char		 rest[POLICY_VALUE_MAX + 1];
	const char	*colon = strchr(value, ':'), *args[2];
	size_t		 n;
	int		 fits;

	if (colon == NULL || colon == value) {
		log_warnx("mailertable %s: \"%s\" is not mailer:host, ignored",
		    key, value);
		return 0;
	}
	n = (size_t)(colon - value);
	route_args(host, key, p1, sizeof(p1), p2, sizeof(p2));
	args[0] = p1;
	args[1] = p2;
	fits = policy_value_subst(colon + 1, args, 2, rest, sizeof(rest)) ==
	    0;
	if (fits && n == 5 && strncasecmp(value, "error", 5) == 0) {
		(void)policy_reply_parse(rest, 1, &rt->code, enh, sizeof(enh),
		    text, sizeof(text));
		route_error(rt, rt->code, enh, text);
		return 1;
	}
	if (!fits || route_mailer(value, n, rest, rt) == -1) {
		log_warnx("mailertable %s: \"%s\" is not supported "
		    "(mailers: smtp, esmtp, smtp8, dsmtp, relay, local, error)",
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
			done = route_mailertable(domain, keys.key[i], value,
			    rt);
	}
	policy_keys_free(&keys);
	if (done == -1)
		route_error(rt, 451, "4.3.0",
		    "Temporary system failure. Please try again later.");
	return done != 0;
}

/* "[addr]" (with or without "IPv6:") into ss: 0, or -1 if not one. */
static int
route_literal(const char *host, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	char			 inner[POLICY_ADDR_MAX], addr[POLICY_ADDR_MAX];
	size_t			 n = strlen(host);

	if (n < 3 || host[0] != '[' || host[n - 1] != ']' ||
	    n - 2 >= sizeof(inner))
		return -1;
	memcpy(inner, host + 1, n - 2);
	inner[n - 2] = '\0';
	if (policy_addr_canon(inner, addr, sizeof(addr)) == -1)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (strncmp(addr, "IPv6:", 5) != 0) {
		sin->sin_family = AF_INET;
		return inet_pton(AF_INET, addr, &sin->sin_addr) == 1 ? 0 : -1;
	}
	sin6->sin6_family = AF_INET6;
	return inet_pton(AF_INET6, addr + 5, &sin6->sin6_addr) == 1 ? 0 : -1;
}

/* A static next hop that is this host becomes the 553 of a loop. */
static void
route_self_check(const struct policy_env *env, const struct config *cf,
    const char *domain, struct policy_route *rt)
{
	struct sockaddr_storage	 ss;
	uint16_t		 port;
	int			 self;

	if (cf == NULL || rt->kind != ROUTE_HOST)
		return;
	port = rt->port != 0 ? (uint16_t)rt->port : cf->mta_port;
	if (route_literal(rt->host, &ss) == 0)
		self = config_listener_reached(cf, (struct sockaddr *)&ss,
		    port, 0);
	else
		self = config_listener_port_used(cf, port) &&
		    policy_domain_local(env, rt->host) == 1;
	if (!self)
		return;
	log_warnx("route %s: next hop %s port %u is this host", domain,
	    rt->host, port);
	route_error(rt, 553, "5.3.5", ROUTE_LOOP_TEXT);
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
	switch (policy_domain_local(env, d)) {
	case -1:
		route_error(rt, 451, "4.3.0",
		    "Temporary system failure. Please try again later.");
		return;
	case 1:
		rt->kind = ROUTE_LOCAL;
		return;
	}
	if (!route_find_map(env, d, rt) && cf != NULL &&
	    (r = config_route_find(cf, d)) != NULL) {
		rt->kind = ROUTE_HOST;
		(void)strlcpy(rt->host, r->host, sizeof(rt->host));
		rt->port = r->port;
	}
	route_self_check(env, cf, d, rt);
}

/* Log a route at debug; an error at info. */
void
policy_route_log(const char *domain, const struct policy_route *rt)
{
	stats_add("policy.route", 1);
	switch (rt->kind) {
	case ROUTE_MX:
		log_debug("route %s: mx", domain);
		break;
	case ROUTE_HOST:
		log_debug("route %s: host %s%s port %u%s%s%s", domain, rt->host,
		    rt->flags & ROUTE_F_MX ? " (mx)" : "", rt->port,
		    rt->user[0] != '\0' ? " rcpt <" : "", rt->user,
		    rt->user[0] != '\0' ? ">" : "");
		break;
	case ROUTE_LOCAL:
		log_debug("route %s: local%s%s", domain,
		    rt->user[0] != '\0' ? " user " : "", rt->user);
		break;
	default:
		log_info("route %s: error %u %s", domain, rt->code, rt->text);
		break;
	}
}
