/*
 * config_proxy.c: the peers a listener takes a PROXY protocol header
 * from (listen ... proxy-protocol { "10.0.0.0/8" "::1" }).
 *
 * An entry is a numeric IPv4 or IPv6 address, with an optional prefix
 * length (32 or 128 without one).  A peer on an IPv6 socket in the
 * IPv4-mapped form (::ffff:a.b.c.d) is compared as the IPv4 address it
 * is, so a listener on :: trusts "10.0.0.1" as written.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int
config_net_parse(const char *s, struct conf_net *n)
{
	char		 buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	long		 bits;

	memset(n, 0, sizeof(*n));
	if (strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return -1;
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, n->addr) == 1)
		n->af = AF_INET;
	else if (inet_pton(AF_INET6, buf, n->addr) == 1)
		n->af = AF_INET6;
	else
		return -1;
	n->bits = n->af == AF_INET ? 32 : 128;
	if (slash == NULL)
		return 0;
	if (*slash < '0' || *slash > '9')
		return -1;
	bits = strtol(slash, &end, 10);
	if (*end != '\0' || bits < 0 || bits > n->bits)
		return -1;
	n->bits = (uint8_t)bits;
	return 0;
}

void
config_net_format(const struct conf_net *n, char *buf, size_t size)
{
	char	 a[INET6_ADDRSTRLEN];

	if (inet_ntop(n->af, n->addr, a, sizeof(a)) == NULL)
		(void)strlcpy(a, "?", sizeof(a));
	if (n->bits == (n->af == AF_INET ? 32 : 128))
		(void)snprintf(buf, size, "%s", a);
	else
		(void)snprintf(buf, size, "%s/%u", a, n->bits);
}

/* Whether the first bits of a and b agree. */
static int
config_net_prefix(const uint8_t *a, const uint8_t *b, unsigned int bits)
{
	unsigned int	 whole = bits / 8, rest = bits % 8;
	uint8_t		 mask;

	if (memcmp(a, b, whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (uint8_t)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

int
config_net_match(const struct conf_net *nets, size_t n,
    const struct sockaddr_storage *ss)
{
	static const uint8_t	 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };
	const uint8_t		*addr;
	int			 af = ss->ss_family;
	size_t			 i;

	if (af == AF_INET)
		addr = (const uint8_t *)
		    &((const struct sockaddr_in *)ss)->sin_addr;
	else if (af == AF_INET6) {
		addr = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
		if (memcmp(addr, mapped, sizeof(mapped)) == 0) {
			af = AF_INET;
			addr += sizeof(mapped);
		}
	} else
		return 0;
	for (i = 0; i < n; i++)
		if (nets[i].af == af &&
		    config_net_prefix(nets[i].addr, addr, nets[i].bits))
			return 1;
	return 0;
}

const struct listener *
config_listener_find(const struct config *c, const char *name)
{
	const struct listener	*l;

	TAILQ_FOREACH(l, &c->listeners, entry)
		if (strcmp(l->name, name) == 0)
			return l;
	return NULL;
}
