/*
 * mta_dns.h: DNS for the outbound client, on libunbound.
 *
 * One resolver context is made before the chroot from /etc/resolv.conf
 * and /etc/hosts (unreachable afterwards).  A config with "resolver ADDR
 * port N" gets a fresh context that forwards there.  Queries are
 * asynchronous and their answers are handed out from the event loop
 * (ub_fd() watched by libevent, ub_process() when readable).  Every query
 * ends in exactly one callback unless cancelled; a query unanswered after
 * MTA_DNS_TIMEOUT seconds ends as MTA_DNS_FAIL.
 */
#ifndef MTA_DNS_H
#define MTA_DNS_H

#include <stddef.h>
#include <stdint.h>

#define MTA_DNS_TIMEOUT		15
#define MTA_DNS_NAME_MAX	256

#define MTA_DNS_T_A		1
#define MTA_DNS_T_MX		15
#define MTA_DNS_T_TXT		16
#define MTA_DNS_T_AAAA		28
#define MTA_DNS_T_TLSA		52

enum mta_dns_status {
	MTA_DNS_OK = 0,		/* records in the answer */
	MTA_DNS_NODATA,		/* the name exists, no record of the type */
	MTA_DNS_NXDOMAIN,	/* no such name */
	MTA_DNS_FAIL		/* SERVFAIL, timeout, local trouble */
};

struct config;
struct imsg;
struct imsgev;
struct mta_dns_query;

/* The answer: rdata[i] of rdlen[i] octets; valid during the callback. */
struct mta_dns_answer {
	enum mta_dns_status	 status;
	const char		*why;	/* for logs when status != OK */
	uint32_t		 ttl;	/* seconds the answer may be kept */
	/* DNSSEC (only with "mta dane yes" and a trust anchor): the answer
	 * validated, or failed to (then status is MTA_DNS_FAIL) */
	int			 secure;
	int			 bogus;
	/* the name the answer is for after a CNAME chain, NULL if none */
	const char		*canon;
	size_t			 count;
	char			**rdata;
	int			*rdlen;
};

typedef void (*mta_dns_cb)(void *, const struct mta_dns_answer *);

int		 mta_dns_init(void);
void		 mta_dns_configure(const struct config *);
/* IMSG_MTA_TRUST_ANCHOR from the parent, before each config. */
void		 mta_dns_imsg_anchor(struct imsgev *, struct imsg *, void *);
/* 1 if the answers are DNSSEC-validated: "mta dane yes" and an anchor
 * that libunbound took. */
int		 mta_dns_validating(void);
struct mta_dns_query *mta_dns_query(const char *, int, mta_dns_cb, void *);
void		 mta_dns_cancel(struct mta_dns_query *);

/* MX rdata (2-octet preference, uncompressed name): 0 ok, -1 malformed.
 * The name is lowercased, without the final dot ("" is the root). */
int		 mta_dns_mx_parse(const uint8_t *, size_t, uint16_t *, char *,
		    size_t);

#endif
