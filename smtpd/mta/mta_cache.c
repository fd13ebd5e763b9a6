/*
 * mta_cache.c: resolved routes per domain, for a short time (see
 * mta_cache.h for the rules).
 *
 * Entries sit in a red-black tree keyed by the lowercased domain.  An
 * expired entry is dropped when it is looked up, or swept when the cache
 * is full.  Failure behaviour: an entry that cannot be allocated is not
 * cached; the route is then simply resolved again next time.
 */
#include <sys/tree.h>

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"
#include "mta_core.h"
#include "mta_cache.h"

struct mta_cache_entry {
	RB_ENTRY(mta_cache_entry) entry;
	char			 domain[CONF_HOST_MAX];
	time_t			 expires;
	struct mta_hop		*hops;
	size_t			 nhops;
};

RB_HEAD(mta_cache_tree, mta_cache_entry);

static int	mta_cache_cmp(struct mta_cache_entry *,
		    struct mta_cache_entry *);
RB_GENERATE_INTERNAL(mta_cache_tree, mta_cache_entry, entry, mta_cache_cmp,
    __attribute__((__unused__)) static)

static struct mta_cache_tree	 mta_cache = RB_INITIALIZER(&mta_cache);
static size_t			 mta_cache_n;

static int
mta_cache_cmp(struct mta_cache_entry *a, struct mta_cache_entry *b)
{
	return strcmp(a->domain, b->domain);
}

static void
mta_cache_remove(struct mta_cache_entry *e)
{
	RB_REMOVE(mta_cache_tree, &mta_cache, e);
	mta_cache_n--;
	free(e->hops);
	free(e);
}

/* The entry of domain, live or not; NULL if none or the name is long. */
static struct mta_cache_entry *
mta_cache_find(const char *domain)
{
	struct mta_cache_entry	 key;

	if (strlcpy(key.domain, domain, sizeof(key.domain)) >=
	    sizeof(key.domain))
		return NULL;
	text_lower(key.domain);
	return RB_FIND(mta_cache_tree, &mta_cache, &key);
}

/* Length of the run of hops from i that belong to one host. */
static size_t
mta_cache_block(const struct mta_hop *h, size_t n, size_t i)
{
	size_t	 k = i + 1;

	while (k < n && strcmp(h[k].name, h[i].name) == 0)
		k++;
	return k - i;
}

/*
 * Copy the hops host by host, shuffling the hosts of equal preference:
 * pick at random among the hosts of the current preference not yet
 * copied, and copy all of that host's addresses in their order.
 */
static void
mta_cache_shuffle(const struct mta_hop *in, size_t n, struct mta_hop *out)
{
	size_t	 start[MTA_HOPS_MAX];
	size_t	 i, k, nb = 0, lo, hi, o = 0, tmp;

	for (i = 0; i < n; i += mta_cache_block(in, n, i))
		start[nb++] = i;
	for (lo = 0; lo < nb; lo = hi) {
		for (hi = lo + 1; hi < nb &&
		    in[start[hi]].pref == in[start[lo]].pref; hi++)
			;
		for (i = hi - 1; i > lo; i--) {
			k = lo + arc4random_uniform((uint32_t)(i - lo + 1));
			tmp = start[i];
			start[i] = start[k];
			start[k] = tmp;
		}
	}
	for (i = 0; i < nb; i++) {
		k = mta_cache_block(in, n, start[i]);
		memcpy(out + o, in + start[i], k * sizeof(*in));
		o += k;
	}
}

int
mta_cache_get(const char *domain, time_t now, struct mta_hop **hops,
    size_t *nhops)
{
	struct mta_cache_entry	*e;
	struct mta_hop		*h;

	if ((e = mta_cache_find(domain)) == NULL)
		return 0;
	if (now >= e->expires) {
		mta_cache_remove(e);
		return 0;
	}
	if ((h = calloc(e->nhops, sizeof(*h))) == NULL)
		return 0;
	mta_cache_shuffle(e->hops, e->nhops, h);
	*hops = h;
	*nhops = e->nhops;
	return 1;
}

/* Make room: drop what has expired; 1 if there is room now. */
static int
mta_cache_sweep(time_t now)
{
	struct mta_cache_entry	*e, *next;

	if (mta_cache_n < MTA_CACHE_MAX)
		return 1;
	RB_FOREACH_SAFE(e, mta_cache_tree, &mta_cache, next)
		if (now >= e->expires)
			mta_cache_remove(e);
	return mta_cache_n < MTA_CACHE_MAX;
}

void
mta_cache_put(const char *domain, int is_static, time_t now, uint32_t ttl,
    const struct mta_hop *hops, size_t nhops)
{
	struct mta_cache_entry	*e;
	uint32_t		 cap;

	cap = is_static ? MTA_CACHE_TTL_STATIC : MTA_CACHE_TTL_MX;
	if (ttl > cap)
		ttl = cap;
	if (ttl == 0 || nhops == 0 || nhops > MTA_HOPS_MAX)
		return;
	if ((e = mta_cache_find(domain)) != NULL)
		mta_cache_remove(e);
	if (!mta_cache_sweep(now) || (e = calloc(1, sizeof(*e))) == NULL)
		return;
	if ((e->hops = calloc(nhops, sizeof(*hops))) == NULL ||
	    strlcpy(e->domain, domain, sizeof(e->domain)) >=
	    sizeof(e->domain)) {
		free(e->hops);
		free(e);
		return;
	}
	text_lower(e->domain);
	memcpy(e->hops, hops, nhops * sizeof(*hops));
	e->nhops = nhops;
	e->expires = now + (time_t)ttl;
	RB_INSERT(mta_cache_tree, &mta_cache, e);
	mta_cache_n++;
}

void
mta_cache_flush(void)
{
	struct mta_cache_entry	*e;

	while ((e = RB_MIN(mta_cache_tree, &mta_cache)) != NULL)
		mta_cache_remove(e);
}

size_t
mta_cache_count(void)
{
	return mta_cache_n;
}
