/*
 * test_queue_pool.c: the schedule's records from slabs: objects are
 * zeroed, distinct and aligned, a freed one is reused before the pool
 * maps more, and the records of a queue entry stay within their budget
 * (a queue of 100 000 deferred one-recipient messages is asked to cost
 * at most 300 bytes each).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"
#include "queue_pool.h"
#include "unit.h"

#define NOBJ	20000

struct obj {
	uint64_t	 a, b, c;
	char		 tail[3];
};

static int
all_zero(const void *p, size_t n)
{
	const unsigned char	*c = p;
	size_t			 i;

	for (i = 0; i < n; i++)
		if (c[i] != 0)
			return 0;
	return 1;
}

static void
test_objects(void)
{
	struct pool	  p = POOL_INITIALIZER(struct obj);
	struct obj	**o = calloc(NOBJ, sizeof(*o));
	struct obj	 *again;
	size_t		  i, mapped;
	int		  zero = 1, aligned = 1, distinct = 1;

	UNIT_CHECK(o != NULL, "array");
	for (i = 0; i < NOBJ; i++) {
		o[i] = queue_pool_get(&p);
		zero &= all_zero(o[i], sizeof(*o[i]));
		aligned &= ((uintptr_t)o[i] % sizeof(void *)) == 0;
		memset(o[i], 0xa5, sizeof(*o[i]));
		if (i > 0)
			distinct &= (char *)o[i] >= (char *)o[i - 1] +
			    sizeof(*o[i]) || (char *)o[i] + sizeof(*o[i]) <=
			    (char *)o[i - 1];
	}
	UNIT_CHECK(zero, "new objects are zeroed");
	UNIT_CHECK(aligned, "objects are pointer-aligned");
	UNIT_CHECK(distinct, "neighbours do not overlap");
	mapped = queue_pool_mapped(&p);
	UNIT_CHECK(mapped >= NOBJ * sizeof(struct obj) &&
	    mapped < NOBJ * sizeof(struct obj) + 2 * 256 * 1024,
	    "the slabs hold the objects with little slack");
	queue_pool_put(&p, o[7]);
	again = queue_pool_get(&p);
	UNIT_CHECK(again == o[7], "a freed object is reused");
	UNIT_CHECK(all_zero(again, sizeof(*again)), "a reused object is zeroed");
	for (i = 0; i < NOBJ; i++)
		queue_pool_put(&p, o[i]);
	for (i = 0; i < NOBJ; i++)
		(void)queue_pool_get(&p);
	UNIT_CHECK(queue_pool_mapped(&p) == mapped,
	    "freed objects are taken before a new slab");
	queue_pool_put(&p, NULL);
	free(o);
}

static void
test_budget(void)
{
	/* entry, group and message of a one-recipient message, and its heap
	 * slot, leave room for the domain's share and the heap's slack */
	UNIT_CHECK(sizeof(struct qentry) <= 120, "qentry <= 120 bytes");
	UNIT_CHECK(sizeof(struct qgroup) <= 72, "qgroup <= 72 bytes");
	UNIT_CHECK(sizeof(struct qmsg) <= 48, "qmsg <= 48 bytes");
	UNIT_CHECK(sizeof(struct qentry) + sizeof(struct qgroup) +
	    sizeof(struct qmsg) + sizeof(struct qentry *) <= 248,
	    "the records of one envelope fit in 248 bytes");
}

int
main(void)
{
	test_objects();
	test_budget();
	return unit_done();
}
