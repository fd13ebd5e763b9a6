/*
 * test_config_self.c: config_listener_reached() and _port_used(), the
 * rule that tells a next hop that is this host: an address bound by a
 * listener at that port, or loopback or an interface address at the port
 * of a wildcard listener of its family; IPv4-mapped addresses as IPv4.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string.h>

#include "unit.h"
#include "config.h"

static struct config	*cf;

/* 1 if addr (IPv4 or IPv6 text) at port reaches a listener of cf. */
static int
reached(const char *addr, uint16_t port, int local)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1)
		sin6->sin6_family = AF_INET6;
	else
		return -1;
	return config_listener_reached(cf, (struct sockaddr *)&ss, port,
	    local);
}

int
main(void)
{
	static const char	 text[] =
	    "listen on 127.0.0.1 port 25\n"
	    "listen on 192.0.2.10 port 25\n"
	    "listen on 0.0.0.0 port 587\n"
	    "listen on ::1 port 25\n"
	    "listen on :: port 2525\n";

	if ((cf = config_parse_buffer(text, strlen(text))) == NULL) {
		UNIT_CHECK(0, "config parses");
		return unit_done();
	}
	UNIT_CHECK(reached("127.0.0.1", 25, 0) == 1 &&
	    reached("192.0.2.10", 25, 0) == 1 && reached("::1", 25, 0) == 1,
	    "a bound address at its port is us");
	UNIT_CHECK(reached("127.0.0.2", 25, 0) == 0 &&
	    reached("192.0.2.11", 25, 1) == 0,
	    "another address at a port bound to one address is not us");
	UNIT_CHECK(reached("127.0.0.1", 26, 0) == 0 &&
	    reached("192.0.2.10", 587, 0) == 0,
	    "our address at a port nobody listens on there is not us");
	UNIT_CHECK(reached("127.9.9.9", 587, 0) == 1 &&
	    reached("192.0.2.99", 587, 1) == 1 &&
	    reached("192.0.2.99", 587, 0) == 0,
	    "wildcard IPv4: loopback and interface addresses are us");
	UNIT_CHECK(reached("::1", 2525, 0) == 1 &&
	    reached("2001:db8::1", 2525, 1) == 1 &&
	    reached("2001:db8::1", 2525, 0) == 0 &&
	    reached("127.0.0.1", 2525, 0) == 0,
	    "wildcard IPv6: its family only (the listener is IPv6-only)");
	UNIT_CHECK(reached("::ffff:127.0.0.1", 25, 0) == 1 &&
	    reached("::ffff:127.0.0.1", 2525, 0) == 0,
	    "an IPv4-mapped address is its IPv4 address");
	UNIT_CHECK(config_listener_port_used(cf, 587) &&
	    config_listener_port_used(cf, 2525) &&
	    !config_listener_port_used(cf, 465), "ports in use");
	config_free(cf);
	return unit_done();
}
