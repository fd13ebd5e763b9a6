/*
 * mta_route.h: pure helpers of next hop selection, kept apart from the
 * asynchronous resolution in mta_route.c so that they can be tested alone.
 *
 * MX lists are sorted by preference with equal preferences shuffled
 * (RFC 5321 5.1), a null MX (RFC 7505) is recognised, and when this host
 * is one of the exchangers only the more preferred ones are kept, so that
 * mail never loops back to us.
 */
#ifndef MTA_ROUTE_H
#define MTA_ROUTE_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define MTA_MX_MAX		16	/* exchangers tried per domain */

struct mta_mx {
	char		 host[CONF_HOST_MAX];	/* "" for the null MX "." */
	int		 pref;
};

/* 1 if two host names are the same, ignoring case and a final dot. */
int		 mta_route_host_eq(const char *, const char *);
void		 mta_route_mx_sort(struct mta_mx *, size_t);
/* 1 if the list is exactly one null MX. */
int		 mta_route_mx_null(const struct mta_mx *, size_t);
/* Drop null entries, and if self is an exchanger every one with a
 * preference not below its own; the count kept.  *found tells whether
 * self was in the list. */
size_t		 mta_route_mx_prune(struct mta_mx *, size_t, const char *,
		    int *);
/* "[192.0.2.1]", "[IPv6:2001:db8::1]" or "[::1]" with a port into ss:
 * 1 done, 0 not bracketed, -1 bracketed but not an address. */
int		 mta_route_literal(const char *, uint16_t,
		    struct sockaddr_storage *, socklen_t *);

#endif
