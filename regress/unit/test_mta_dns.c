/*
 * test_mta_dns.c: MX handling of the outbound client: rdata decoding
 * (valid, null MX, malformed), sorting with shuffled equal preferences,
 * pruning when this host is an exchanger, address literals.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <string.h>

#include "unit.h"
#include "mta_dns.h"
#include "mta_route.h"

static int
parse(const char *rd, size_t len, uint16_t *pref, char *name)
{
	return mta_dns_mx_parse((const uint8_t *)rd, len, pref, name,
	    MTA_DNS_NAME_MAX);
}

static void
test_rdata(void)
{
	char		 name[MTA_DNS_NAME_MAX], big[400];
	uint16_t	 pref = 0;
	size_t		 i;

	UNIT_CHECK(parse("\x00\x0a\x03mx1\x07" "example\x04test\x00", 20,
	    &pref, name) == 0 && pref == 10 &&
	    strcmp(name, "mx1.example.test") == 0, "MX rdata decoded");
	UNIT_CHECK(parse("\x01\x02\x02MX\x01" "A\x00", 8, &pref, name) == 0 &&
	    pref == 258 && strcmp(name, "mx.a") == 0,
	    "preference in network order, name lowercased");
	UNIT_CHECK(parse("\x00\x00\x00", 3, &pref, name) == 0 && pref == 0 &&
	    name[0] == '\0', "null MX decoded as the root");
	UNIT_CHECK(parse("\x00\x0a", 2, &pref, name) == -1, "too short");
	UNIT_CHECK(parse("\x00\x0a\xc0\x0c", 4, &pref, name) == -1,
	    "compression pointer refused");
	UNIT_CHECK(parse("\x00\x0a\x05mx\x00", 6, &pref, name) == -1,
	    "label past the end refused");
	UNIT_CHECK(parse("\x00\x0a\x02mx", 5, &pref, name) == -1,
	    "missing final zero refused");
	UNIT_CHECK(parse("\x00\x0a\x02mx\x00\x00", 7, &pref, name) == -1,
	    "trailing octets refused");
	UNIT_CHECK(parse("\x00\x0a\x03m.x\x00", 7, &pref, name) == -1,
	    "dot inside a label refused");
	UNIT_CHECK(parse("\x00\x0a\x03m\nx\x00", 7, &pref, name) == -1,
	    "control character refused");
	big[0] = 0;
	big[1] = 1;
	big[2] = 64;
	memset(big + 3, 'a', 64);
	big[67] = 0;
	UNIT_CHECK(parse(big, 68, &pref, name) == -1, "64-octet label refused");
	for (i = 0; i < 6; i++) {
		big[2 + i * 51] = 50;
		memset(big + 3 + i * 51, 'b', 50);
	}
	big[2 + 6 * 51] = 0;
	UNIT_CHECK(parse(big, 3 + 6 * 51, &pref, name) == -1,
	    "name over 255 octets refused");
}

static void
test_sort(void)
{
	struct mta_mx	 mx[4];
	int		 i, seen_a = 0, seen_b = 0;

	for (i = 0; i < 200; i++) {
		memset(mx, 0, sizeof(mx));
		(void)strlcpy(mx[0].host, "c", sizeof(mx[0].host));
		mx[0].pref = 30;
		(void)strlcpy(mx[1].host, "a", sizeof(mx[1].host));
		mx[1].pref = 10;
		(void)strlcpy(mx[2].host, "d", sizeof(mx[2].host));
		mx[2].pref = 20;
		(void)strlcpy(mx[3].host, "b", sizeof(mx[3].host));
		mx[3].pref = 10;
		mta_route_mx_sort(mx, 4);
		if (mx[0].pref != 10 || mx[1].pref != 10 ||
		    strcmp(mx[2].host, "d") != 0 ||
		    strcmp(mx[3].host, "c") != 0)
			break;
		if (strcmp(mx[0].host, "a") == 0)
			seen_a++;
		else
			seen_b++;
	}
	UNIT_CHECK(i == 200, "sorted by preference");
	UNIT_CHECK(seen_a > 20 && seen_b > 20, "equal preferences shuffled");
}

static size_t
setmx(struct mta_mx *mx, const char **hosts, const int *prefs, size_t n)
{
	size_t	 i;

	memset(mx, 0, sizeof(*mx) * n);
	for (i = 0; i < n; i++) {
		(void)strlcpy(mx[i].host, hosts[i], sizeof(mx[i].host));
		mx[i].pref = prefs[i];
	}
	return n;
}

static void
test_prune(void)
{
	struct mta_mx	 mx[4];
	const char	*h1[] = { "a.test", "me.test", "b.test", "c.test" };
	const int	 p1[] = { 10, 20, 20, 30 };
	const char	*h2[] = { "ME.TEST.", "b.test" };
	const int	 p2[] = { 5, 10 };
	const char	*h3[] = { "", "b.test" };
	const int	 p3[] = { 0, 10 };
	const char	*h4[] = { "" };
	const int	 p4[] = { 0 };
	size_t		 n;
	int		 found;

	n = mta_route_mx_prune(mx, setmx(mx, h1, p1, 4), "me.test", &found);
	UNIT_CHECK(found && n == 1 && strcmp(mx[0].host, "a.test") == 0,
	    "only exchangers preferred to us are kept");
	n = mta_route_mx_prune(mx, setmx(mx, h2, p2, 2), "me.test", &found);
	UNIT_CHECK(found && n == 0, "we are the best MX: none left");
	n = mta_route_mx_prune(mx, setmx(mx, h1, p1, 4), "other.test", &found);
	UNIT_CHECK(!found && n == 4, "not an exchanger: list unchanged");
	n = mta_route_mx_prune(mx, setmx(mx, h3, p3, 2), "me.test", &found);
	UNIT_CHECK(!found && n == 1 && strcmp(mx[0].host, "b.test") == 0,
	    "null entry beside real MX dropped");
	UNIT_CHECK(mta_route_mx_null(mx, setmx(mx, h4, p4, 1)),
	    "single null MX recognised");
	UNIT_CHECK(!mta_route_mx_null(mx, setmx(mx, h3, p3, 2)),
	    "null MX with others is not a null MX");
	UNIT_CHECK(mta_route_host_eq("Mx.Example.", "mx.example") &&
	    !mta_route_host_eq("mx.example", "mx.example.org"),
	    "host names compared without case and final dot");
}

static void
test_literal(void)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 len;

	UNIT_CHECK(mta_route_literal("[127.0.0.2]", 2525, &ss, &len) == 1 &&
	    sin->sin_family == AF_INET && ntohs(sin->sin_port) == 2525 &&
	    sin->sin_addr.s_addr == htonl(0x7f000002), "IPv4 literal");
	UNIT_CHECK(mta_route_literal("[IPv6:::1]", 25, &ss, &len) == 1 &&
	    sin6->sin6_family == AF_INET6 && len == sizeof(*sin6),
	    "IPv6 literal with tag");
	UNIT_CHECK(mta_route_literal("[::1]", 25, &ss, &len) == 1,
	    "IPv6 literal without tag");
	UNIT_CHECK(mta_route_literal("mx.example", 25, &ss, &len) == 0,
	    "a name is not a literal");
	UNIT_CHECK(mta_route_literal("[mx.example]", 25, &ss, &len) == -1 &&
	    mta_route_literal("[IPv6:1.2.3.4]", 25, &ss, &len) == -1 &&
	    mta_route_literal("[1.2.3]", 25, &ss, &len) == -1,
	    "bad literals refused");
}

int
main(void)
{
	test_rdata();
	test_sort();
	test_prune();
	test_literal();
	return unit_done();
}
