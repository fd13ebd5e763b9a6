/*
 * queue_pool.h: fixed-size objects for the schedule's records.
 *
 * The schedule keeps three small records per queued envelope (entry,
 * group, message) for as long as it waits, a hundred thousand and more.
 * From malloc each costs its size rounded up plus a header, and they are
 * interleaved with the short-lived batches and results, which then
 * cannot go back to the system.  A pool hands out objects of one size
 * from slabs of its own (anonymous mappings), zeroed, and keeps freed
 * ones for reuse; slabs are kept for the life of the process.
 */
#ifndef QUEUE_POOL_H
#define QUEUE_POOL_H

#include <stddef.h>

struct pool_free;

struct pool {
	size_t			 size;		/* of an object, rounded */
	struct pool_free	*free;		/* objects given back */
	char			*slab;		/* the rest of the last slab */
	size_t			 left;		/* objects left in it */
	size_t			 slabs;		/* mapped so far */
};

#define POOL_INITIALIZER(type)	{ sizeof(type), NULL, NULL, 0, 0 }

/* A zeroed object; never NULL (out of memory is fatal, as xcalloc). */
void	*queue_pool_get(struct pool *);
void	 queue_pool_put(struct pool *, void *);
/* Octets mapped by the pool. */
size_t	 queue_pool_mapped(const struct pool *);

#endif
