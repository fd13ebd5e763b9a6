/*
 * test_mta_cache.c: the outbound client's route cache: hits within the
 * TTL, expiry at min(DNS TTL, cap), the shorter cap of static routes,
 * case-insensitive domains, reshuffling of equal-preference hosts that
 * keeps each host's addresses together, and the flush.
 */
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "mta_core.h"
#include "mta_cache.h"

/* A hop named name at 192.0.2.last with MX preference pref. */
static void
hop_set(struct mta_hop *h, const char *name, int last, int pref)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&h->ss;

	memset(h, 0, sizeof(*h));
	(void)strlcpy(h->name, name, sizeof(h->name));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(25);
	sin->sin_addr.s_addr = htonl(0xc0000200 | (uint32_t)last);
	h->sslen = sizeof(*sin);
	h->pref = pref;
}

static int
hop_last(const struct mta_hop *h)
{
	return (int)(ntohl(((const struct sockaddr_in *)&h->ss)->sin_addr.
	    s_addr) & 0xff);
}

static void
test_ttl(void)
{
	struct mta_hop	 h, *got = NULL;
	size_t		 n = 0;

	hop_set(&h, "mx.example.test", 1, 10);
	mta_cache_put("Example.TEST", 0, 1000, 30, &h, 1);
	UNIT_CHECK(mta_cache_get("example.test", 1029, &got, &n) == 1 &&
	    n == 1 && hop_last(got) == 1, "hit before the DNS TTL, any case");
	free(got);
	UNIT_CHECK(mta_cache_get("example.test", 1030, &got, &n) == 0,
	    "expired at the DNS TTL");
	UNIT_CHECK(mta_cache_count() == 0, "an expired entry is dropped");

	mta_cache_put("example.test", 0, 1000, 3600, &h, 1);
	UNIT_CHECK(mta_cache_get("example.test", 1000 + MTA_CACHE_TTL_MX, &got,
	    &n) == 0, "a long DNS TTL is capped for MX routes");
	mta_cache_put("static.test", 1, 1000, 3600, &h, 1);
	got = NULL;
	UNIT_CHECK(mta_cache_get("static.test", 1000 + MTA_CACHE_TTL_STATIC -
	    1, &got, &n) == 1, "a static route is kept a little while");
	free(got);
	UNIT_CHECK(mta_cache_get("static.test", 1000 + MTA_CACHE_TTL_STATIC,
	    &got, &n) == 0, "and no longer than its own cap");
	mta_cache_put("zero.test", 0, 1000, 0, &h, 1);
	UNIT_CHECK(mta_cache_get("zero.test", 1000, &got, &n) == 0,
	    "a TTL of 0 caches nothing");
	UNIT_CHECK(mta_cache_get("other.test", 1000, &got, &n) == 0,
	    "another domain misses");
}

/*
 * Hosts a (two addresses) and b (one) at preference 10, c at 20: every
 * copy keeps a's addresses in order and adjacent, c last; both orders of
 * a and b turn up.
 */
static void
test_shuffle(void)
{
	struct mta_hop	 h[4], *got;
	size_t		 n, round;
	int		 a_first = 0, b_first = 0, ok = 1;

	hop_set(&h[0], "a.test", 1, 10);
	hop_set(&h[1], "a.test", 2, 10);
	hop_set(&h[2], "b.test", 3, 10);
	hop_set(&h[3], "c.test", 4, 20);
	mta_cache_put("mx.test", 0, 0, 60, h, 4);
	for (round = 0; round < 200; round++) {
		if (mta_cache_get("mx.test", 1, &got, &n) != 1 || n != 4) {
			ok = 0;
			break;
		}
		if (hop_last(&got[0]) == 1 && hop_last(&got[1]) == 2 &&
		    hop_last(&got[2]) == 3)
			a_first++;
		else if (hop_last(&got[0]) == 3 && hop_last(&got[1]) == 1 &&
		    hop_last(&got[2]) == 2)
			b_first++;
		else
			ok = 0;
		if (hop_last(&got[3]) != 4)
			ok = 0;
		free(got);
	}
	UNIT_CHECK(ok, "a host's addresses stay together, preferences in order");
	UNIT_CHECK(a_first > 0 && b_first > 0,
	    "hosts of equal preference are reshuffled on each hit");
	mta_cache_flush();
	UNIT_CHECK(mta_cache_count() == 0 &&
	    mta_cache_get("mx.test", 1, &got, &n) == 0, "flush forgets all");
}

/* A full cache makes room from expired entries only. */
static void
test_bound(void)
{
	struct mta_hop	 h;
	char		 name[64];
	size_t		 i, n;
	struct mta_hop	*got;

	hop_set(&h, "x.test", 1, 0);
	for (i = 0; i < MTA_CACHE_MAX; i++) {
		(void)snprintf(name, sizeof(name), "d%zu.test", i);
		mta_cache_put(name, 0, 0, i == 0 ? 5 : 60, &h, 1);
	}
	UNIT_CHECK(mta_cache_count() == MTA_CACHE_MAX, "cache filled");
	mta_cache_put("late.test", 0, 1, 60, &h, 1);
	UNIT_CHECK(mta_cache_get("late.test", 1, &got, &n) == 0 &&
	    mta_cache_count() == MTA_CACHE_MAX,
	    "full: a new route is not kept");
	mta_cache_put("late.test", 0, 10, 60, &h, 1);
	UNIT_CHECK(mta_cache_get("late.test", 10, &got, &n) == 1,
	    "an expired entry makes room");
	free(got);
	mta_cache_flush();
}

int
main(void)
{
	test_ttl();
	test_shuffle();
	test_bound();
	return unit_done();
}
