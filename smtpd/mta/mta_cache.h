/*
 * mta_cache.h: resolved routes of the outbound client, per domain.
 *
 * Resolving a route costs a policyd round trip and MX, A and AAAA
 * lookups; a run of batches to one domain should pay that once.  An entry
 * holds the next hops a resolution ended with, for at most the smallest
 * DNS TTL seen on the way and never longer than MTA_CACHE_TTL_MX seconds
 * (MTA_CACHE_TTL_STATIC for a static route from policyd, so that a
 * makemap change applies quickly).  Each hit gets its own copy of the
 * hops with the exchangers of equal preference shuffled again (RFC 5321
 * 5.1), so caching does not pin the load on one of them.
 *
 * Only complete lists of hops are cached, never errors.  The cache is
 * bounded (MTA_CACHE_MAX domains); when it is full and nothing has
 * expired, new routes are simply not cached.  Times are passed in, so the
 * module can be tested without a clock.
 */
#ifndef MTA_CACHE_H
#define MTA_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MTA_CACHE_MAX		1024	/* domains */
#define MTA_CACHE_TTL_MX	60	/* seconds, MX or implicit MX */
#define MTA_CACHE_TTL_STATIC	10	/* seconds, route from policyd */

struct mta_hop;

/* 1 and a fresh copy of the hops (the caller frees it) if domain has a
 * live entry at time now; 0 otherwise. */
int		 mta_cache_get(const char *domain, time_t now,
		    struct mta_hop **, size_t *);
/* Remember the hops of domain for min(ttl, the cap of the route kind)
 * seconds from now; a ttl of 0 caches nothing. */
void		 mta_cache_put(const char *domain, int is_static,
		    time_t now, uint32_t ttl, const struct mta_hop *, size_t);
/* Forget everything (a new config may change ports and resolvers). */
void		 mta_cache_flush(void);
size_t		 mta_cache_count(void);

#endif
