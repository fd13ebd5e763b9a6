/*
 * queue_pool.c: fixed-size objects from slabs (queue_pool.h).
 *
 * Failure behaviour: a mapping that fails is fatal, as an allocation
 * failure is everywhere else in the queue (xcalloc).
 */
#include <sys/mman.h>

#include <stdint.h>
#include <string.h>

#include "log.h"
#include "queue_pool.h"

#define POOL_SLAB	(256 * 1024)
#define POOL_ALIGN	sizeof(void *)

struct pool_free {
	struct pool_free	*next;
};

static size_t
queue_pool_objsize(const struct pool *p)
{
	size_t	 n = p->size < sizeof(struct pool_free) ?
		    sizeof(struct pool_free) : p->size;

	return (n + POOL_ALIGN - 1) & ~(POOL_ALIGN - 1);
}

static void
queue_pool_grow(struct pool *p)
{
	void	*slab;

	slab = mmap(NULL, POOL_SLAB, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (slab == MAP_FAILED)
		fatal("queue pool: mmap");
	p->slab = slab;
	p->left = POOL_SLAB / queue_pool_objsize(p);
	p->slabs++;
}

void *
queue_pool_get(struct pool *p)
{
	size_t	 sz = queue_pool_objsize(p);
	void	*o;

	if (p->free != NULL) {
		o = p->free;
		p->free = p->free->next;
		memset(o, 0, sz);
		return o;
	}
	if (p->left == 0)
		queue_pool_grow(p);
	/* a fresh mapping is zeroed already */
	o = p->slab;
	p->slab += sz;
	p->left--;
	return o;
}

void
queue_pool_put(struct pool *p, void *o)
{
	struct pool_free	*f = o;

	if (o == NULL)
		return;
	f->next = p->free;
	p->free = f;
}

size_t
queue_pool_mapped(const struct pool *p)
{
	return p->slabs * POOL_SLAB;
}
