/*
 * config_self.c: whether a next hop is this host, by the listeners of the
 * config: the rule policyd applies to a static route and the mta to every
 * address it resolved, so that mail never loops back to us.
 *
 * An address at a port is ours when a listener on that port is bound to
 * that very address, or is bound to the wildcard of the address's family
 * and the address is loopback (127.0.0.0/8, ::1) or one the caller knows
 * to be an interface's.  An IPv4-mapped IPv6 address counts as its IPv4
 * address (a connection to it reaches the IPv4 listeners).  The port of
 * a sockaddr passed in is ignored: the caller says which port it would
 * connect to.  Pure functions of their arguments; nothing here fails.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <string.h>

#include "config.h"

/* The address of sa as IPv4 (mapped addresses too) or IPv6. */
static void
self_addr(const struct sockaddr *sa, int *family, struct in_addr *a4,
    struct in6_addr *a6)
{
	const struct sockaddr_in6	*sin6;

	memset(a4, 0, sizeof(*a4));
	memset(a6, 0, sizeof(*a6));
	*family = sa->sa_family;
	if (sa->sa_family == AF_INET) {
		*a4 = ((const struct sockaddr_in *)sa)->sin_addr;
		return;
	}
	sin6 = (const struct sockaddr_in6 *)sa;
	*a6 = sin6->sin6_addr;
	if (IN6_IS_ADDR_V4MAPPED(a6)) {
		*family = AF_INET;
		memcpy(&a4->s_addr, &a6->s6_addr[12], 4);
	}
}

/* 1 if the address is loopback. */
static int
self_loopback(int family, const struct in_addr *a4, const struct in6_addr *a6)
{
	if (family == AF_INET)
		return (ntohl(a4->s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(a6);
}

int
config_listener_port_used(const struct config *c, uint16_t port)
{
	const struct listener	*l;

	TAILQ_FOREACH(l, &c->listeners, entry)
		if (l->port == port)
			return 1;
	return 0;
}

int
config_listener_reached(const struct config *c, const struct sockaddr *sa,
    uint16_t port, int local)
{
	const struct listener	*l;
	struct in_addr		 a4, l4;
	struct in6_addr		 a6, l6;
	int			 family, lfamily, wildcard;

	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return 0;
	self_addr(sa, &family, &a4, &a6);
	local = local || self_loopback(family, &a4, &a6);
	TAILQ_FOREACH(l, &c->listeners, entry) {
		if (l->port != port)
			continue;
		self_addr((const struct sockaddr *)&l->ss, &lfamily, &l4, &l6);
		if (lfamily != family)
			continue;
		if (family == AF_INET) {
			wildcard = l4.s_addr == htonl(INADDR_ANY);
			if (l4.s_addr == a4.s_addr || (wildcard && local))
				return 1;
		} else {
			wildcard = IN6_IS_ADDR_UNSPECIFIED(&l6);
			if (IN6_ARE_ADDR_EQUAL(&l6, &a6) || (wildcard && local))
				return 1;
		}
	}
	return 0;
}
