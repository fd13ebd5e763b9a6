/*
 * smtp_dns.h: the client's name for the inbound front end, as sendmail
 * finds ${client_name} and ${client_resolve} (spec 1.4, 6): the PTR name
 * of the client address, forward-confirmed (its A or AAAA records must
 * hold the address).
 *
 * One libunbound context is made before the chroot from /etc/resolv.conf
 * and /etc/hosts; a config with "resolver ADDR" gets one forwarding
 * there.  A lookup is asynchronous and bounded by "smtp dns-timeout": it
 * ends in exactly one callback, always from the event loop (never from
 * inside smtp_dns_lookup()), unless cancelled.
 */
#ifndef SMTP_DNS_H
#define SMTP_DNS_H

#include <stddef.h>
#include <stdint.h>

#define SMTP_DNS_NAME_MAX	256

/* ${client_resolve} */
enum smtp_dns_resolve {
	SMTP_DNS_NONE = 0,	/* not looked up: "smtp reverse-dns no" */
	SMTP_DNS_OK,		/* a forward-confirmed name */
	SMTP_DNS_FAIL,		/* no PTR record (NXDOMAIN, NODATA) */
	SMTP_DNS_FORGED,	/* the PTR name does not lead back */
	SMTP_DNS_TEMP		/* SERVFAIL or timeout */
};

struct config;
struct dns_resolver;
struct smtp_dns_lookup;

/* The name is the confirmed one (OK), the PTR name (FORGED), else "". */
typedef void (*smtp_dns_cb)(void *, enum smtp_dns_resolve, const char *);

int		 smtp_dns_init(void);
void		 smtp_dns_configure(const struct config *);
/* the resolver the blocklist lookups share (smtp_dnsbl.c) */
struct dns_resolver *smtp_dns_resolver_get(void);
/* addr: the text form of the client address; NULL if out of memory */
struct smtp_dns_lookup *smtp_dns_lookup(const char *addr, int timeout,
		    smtp_dns_cb, void *);
void		 smtp_dns_cancel(struct smtp_dns_lookup *);
/* "OK", "FAIL", "FORGED", "TEMP"; "" for SMTP_DNS_NONE */
const char	*smtp_dns_resolve_name(enum smtp_dns_resolve);

/*
 * The reverse name of an address ("4.3.2.1.in-addr.arpa", nibbles under
 * "ip6.arpa") and the address in binary (4 or 16 octets in bin, its
 * length returned); -1 if addr is not an IP address.
 */
int		 smtp_dns_ptr_qname(const char *addr, char *qname, size_t,
		    uint8_t bin[16]);
/* A PTR rdata (an uncompressed name) as a lowercase host name without
 * the final dot; -1 if it is malformed, not letters, digits, '-' and '_'
 * in labels, or longer than size - 2 characters. */
int		 smtp_dns_name_parse(const uint8_t *, size_t, char *, size_t);

#endif
