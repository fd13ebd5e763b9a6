/*
 * test_common_dns.c: the shared resolver of common/dns.c: names decoded
 * from rdata (valid, case, root, malformed, refused octets, bounds), the
 * per-user options given to libunbound, switching between the system
 * context and configured forwarders, and a query's life on a context
 * replaced while it was open (its close frees that context: "make asan"
 * checks the unit tests for leaks and use after free).
 */
#include <string.h>

#include <event2/event.h>

#include "unit.h"
#include "config.h"
#include "dns.h"
#include "log.h"
#include "proc.h"

static int
parse(const char *rd, size_t len, char *name, size_t size)
{
	return dns_name_parse((const uint8_t *)rd, len, name, size);
}

static void
test_name(void)
{
	char	 name[DNS_NAME_MAX];

	UNIT_CHECK(parse("\x03mx1\x07" "Example\x04TEST\x00", 18, name,
	    sizeof(name)) == 0 && strcmp(name, "mx1.example.test") == 0,
	    "name decoded, lowercased, no final dot");
	UNIT_CHECK(parse("\x00", 1, name, sizeof(name)) == 0 &&
	    name[0] == '\0', "the root decoded as \"\"");
	UNIT_CHECK(parse("\x05[a]!~\x00", 7, name, sizeof(name)) == 0 &&
	    strcmp(name, "[a]!~") == 0, "printable ASCII kept");
	UNIT_CHECK(parse("", 0, name, sizeof(name)) == -1 &&
	    parse("\x00", 1, name, 0) == -1, "no rdata, no buffer: refused");
	UNIT_CHECK(parse("\xc0\x0c", 2, name, sizeof(name)) == -1,
	    "compression pointer refused");
	UNIT_CHECK(parse("\x05mx\x00", 4, name, sizeof(name)) == -1 &&
	    parse("\x02mx", 3, name, sizeof(name)) == -1,
	    "label past the end, missing final zero refused");
	UNIT_CHECK(parse("\x02mx\x00\x00", 5, name, sizeof(name)) == -1,
	    "trailing octets refused");
	UNIT_CHECK(parse("\x03m.x\x00", 5, name, sizeof(name)) == -1 &&
	    parse("\x03m\\x\x00", 5, name, sizeof(name)) == -1 &&
	    parse("\x03m x\x00", 5, name, sizeof(name)) == -1 &&
	    parse("\x03m\nx\x00", 5, name, sizeof(name)) == -1 &&
	    parse("\x03m\x7fx\x00", 5, name, sizeof(name)) == -1 &&
	    parse("\x03m\xc3x\x00", 5, name, sizeof(name)) == -1,
	    "dot, backslash, space, controls, non-ASCII refused");
}

static void
test_name_bounds(void)
{
	char	 rd[400], name[DNS_NAME_MAX + 64];
	size_t	 i;

	rd[0] = 64;
	memset(rd + 1, 'a', 64);
	rd[65] = 0;
	UNIT_CHECK(parse(rd, 66, name, sizeof(name)) == -1,
	    "64-octet label refused");
	UNIT_CHECK(parse("\x02mx\x01" "a\x00", 6, name, 5) == 0 &&
	    strcmp(name, "mx.a") == 0 &&
	    parse("\x02mx\x01" "a\x00", 6, name, 4) == -1,
	    "a name that fits with its NUL, one that does not");
	/* 4 labels of 63: a 255-character name, 1 + 4 * 64 octets */
	for (i = 0; i < 4; i++) {
		rd[i * 64] = 63;
		memset(rd + i * 64 + 1, 'b', 63);
	}
	rd[4 * 64] = 0;
	UNIT_CHECK(parse(rd, 4 * 64 + 1, name, sizeof(name)) == 0 &&
	    strlen(name) == 255, "255 characters decoded");
	rd[4 * 64] = 1;
	rd[4 * 64 + 1] = 'c';
	rd[4 * 64 + 2] = 0;
	UNIT_CHECK(parse(rd, 4 * 64 + 3, name, sizeof(name)) == -1,
	    "over DNS_NAME_MAX refused, however large the buffer");
}

static void
conf_resolver(struct config *c, const char *addr, uint16_t port)
{
	memset(c, 0, sizeof(*c));
	if (addr == NULL)
		return;
	c->resolver_set = 1;
	(void)strlcpy(c->resolver_addr, addr, sizeof(c->resolver_addr));
	c->resolver_port = port;
}

static void
test_options(void)
{
	static const char *const good[] = {
		"unblock-lan-zones:", "yes",
		"local-zone:", "127.in-addr.arpa. transparent",
		NULL
	};
	static const char *const bad[] = {
		"no-such-option:", "yes",
		NULL
	};
	struct dns_resolver	 res, refused;
	struct config		 c;

	UNIT_CHECK(dns_resolver_init(&res, good) == 0 && res.cur != NULL &&
	    res.cur == res.system && res.options == good,
	    "a user's options accepted");
	UNIT_CHECK(dns_resolver_init(&refused, bad) == -1,
	    "an option libunbound refuses: no context");
	/* every context a resolver makes gets its user's options */
	res.options = bad;
	conf_resolver(&c, "127.0.0.1", 5353);
	UNIT_CHECK(dns_resolver_configure(&res, &c) == -1 &&
	    res.cur == res.system && res.fwd[0] == '\0',
	    "forwarder's context refused: the old one kept");
}

static int	fired, answered;

static void
on_timeout(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	*(int *)arg = 1;
	fired++;
}

static void
on_answer(void *arg, int err, struct ub_result *res)
{
	(void)arg;
	(void)err;
	(void)res;
	answered++;
}

static void
test_switch(void)
{
	struct dns_resolver	 res;
	struct config		 c;
	struct dns_query	 q;
	struct dns_ctx		*fwd;
	int			 mine = 0;

	UNIT_CHECK(dns_resolver_init(&res, NULL) == 0 &&
	    res.cur == res.system && res.fwd[0] == '\0',
	    "the system context first");
	conf_resolver(&c, NULL, 0);
	UNIT_CHECK(dns_resolver_configure(&res, &c) == 0 &&
	    res.cur == res.system, "no resolver configured: unchanged");
	conf_resolver(&c, "127.0.0.1", 0);
	UNIT_CHECK(dns_resolver_configure(&res, &c) == 1 &&
	    res.cur != res.system && strcmp(res.fwd, "127.0.0.1@53") == 0,
	    "resolver ADDR: a forwarder on port 53");
	UNIT_CHECK(dns_resolver_configure(&res, &c) == 0,
	    "the same resolver again: unchanged");
	UNIT_CHECK(dns_query_open(&q, &res, on_answer, on_timeout,
	    &mine) == 0 && q.ctx == res.cur && !q.running,
	    "a query holds the current context");
	conf_resolver(&c, "::1", 5353);
	UNIT_CHECK(dns_resolver_configure(&res, &c) == 1 &&
	    res.cur != q.ctx && strcmp(res.fwd, "::1@5353") == 0,
	    "resolver ADDR port N: a new forwarder");
	UNIT_CHECK(dns_query_ask(&q, "example.test", 1) == 0 && q.running,
	    "the old context still asks");
	dns_query_cancel(&q);
	UNIT_CHECK(!q.running, "cancelled: no answer awaited");
	dns_query_timer(&q, 0);
	(void)event_base_loop(proc_base, EVLOOP_ONCE);
	UNIT_CHECK(mine == 1 && fired == 1 && answered == 0,
	    "the timer calls its owner, a cancelled question never");
	dns_query_close(&q);
	conf_resolver(&c, "not an address", 53);
	fwd = res.cur;
	UNIT_CHECK(dns_resolver_configure(&res, &c) == -1 && res.cur == fwd &&
	    strcmp(res.fwd, "::1@5353") == 0,
	    "an unusable resolver: the current one kept");
	conf_resolver(&c, NULL, 0);
	UNIT_CHECK(dns_resolver_configure(&res, &c) == 1 &&
	    res.cur == res.system && res.fwd[0] == '\0',
	    "resolver removed: back to the system context");
}

/* The trust anchor of "mta dane yes": comments skipped, forwarding
 * contexts made afresh with it. */
static void
test_anchor(void)
{
	static const char	 ds[] = "; a comment line\n\n"
	    "example. IN DS 12345 13 2 "
	    "3b8c1f2d5e6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e"
	    " ;{id = 12345}\n";
	struct dns_resolver	 res;
	struct config		 c;
	struct dns_ctx		*old;

	UNIT_CHECK(dns_resolver_init(&res, NULL) == 0 &&
	    dns_resolver_anchor(&res, ds) == 0 && res.anchor != NULL,
	    "anchor: a DS record with comments taken");
	UNIT_CHECK(dns_resolver_anchor(&res, ds) == 1,
	    "anchor: the same text again is no change");
	conf_resolver(&c, "127.0.0.1", 0);
	UNIT_CHECK(dns_resolver_configure(&res, &c) == 1 &&
	    res.cur != res.system, "anchor: a forwarder made with it");
	old = res.cur;
	UNIT_CHECK(dns_resolver_configure(&res, &c) == 0 && res.cur == old,
	    "anchor: unchanged, the forwarder kept");
}

int
main(void)
{
	log_init("test", 1);
	if ((proc_base = event_base_new()) == NULL)
		return 1;
	test_name();
	test_name_bounds();
	test_options();
	test_switch();
	test_anchor();
	return unit_done();
}
