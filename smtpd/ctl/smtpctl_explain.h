/*
 * smtpctl_explain.h: what "smtpctl explain" is asked about, shared by
 * smtpctl_explain_input.c (reading and checking the words),
 * smtpctl_explain_dnsbl.c (the blocklist lookups) and smtpctl_explain.c
 * (the stages).
 */
#ifndef SMTPCTL_EXPLAIN_H
#define SMTPCTL_EXPLAIN_H

#include <stdint.h>

#include "config.h"
#include "policy.h"

#define EXPLAIN_RCPT_MAX	100

/* The words as given; NULL when absent. */
struct explain_input {
	const char	*addr;		/* NULL: no inbound session */
	const char	*name;
	const char	*helo;
	const char	*from;		/* NULL: no MAIL stage */
	const char	*rcpt[EXPLAIN_RCPT_MAX];
	int		 nrcpt;
	/* the client's STARTTLS and AUTH */
	const char	*verify;	/* NULL: no STARTTLS */
	const char	*bits;
	const char	*cert_subject;
	const char	*cert_issuer;
	const char	*cn;
	const char	*auth_mech;
	const char	*auth_ssf;
	/* ${client_resolve}: OK, FAIL, FORGED, TEMP; NULL: not looked up */
	const char	*resolve;
	/* the next hop; server_addr NULL: no outbound session */
	const char	*server;
	const char	*server_addr;
	const char	*server_verify;
	const char	*server_bits;
	const char	*server_cn;
	const char	*server_subject;
	const char	*server_issuer;
};

/* One side's TLS facts as policyd gets them: macro values, +XX encoded. */
struct explain_facts {
	char		 verify[POLICY_NAME_MAX];
	uint32_t	 bits;
	uint32_t	 ssf;
	char		 auth_mech[POLICY_NAME_MAX];
	char		 cert_subject[POLICY_NAME_MAX];
	char		 cert_issuer[POLICY_NAME_MAX];
	char		 cn_subject[POLICY_NAME_MAX];
};

/* smtpctl_explain_input.c */
int	explain_input_parse(int argc, char **argv, struct explain_input *);
int	explain_facts_client(const struct explain_input *,
	    struct explain_facts *);
int	explain_facts_server(const struct explain_input *,
	    struct explain_facts *);
void	explain_facts_clear_cert(struct explain_facts *, const char *verify);

/* smtpctl_explain_masq.c: explain masquerade ADDRESS (the words after
 * "masquerade") */
struct config;
int	smtpctl_explain_masq(const struct config *, int argc, char **argv);

/* The zone of the dnsbl stage that decided, and what it does. */
struct explain_dnsbl {
	enum dnsbl_action	 action;
	int			 temp;	/* a failed lookup with tempfail */
	char			 reply[CONF_DNSBL_TEXT_MAX + 64];
	char			 zone[CONF_HOST_MAX];
};

/* Look addr up in each zone, printing the "DNSBL ZONE" lines: 1 if a
 * zone decides (out filled), 0 if none does or there is none. */
int	explain_dnsbl(const struct config *, const char *addr,
	    struct explain_dnsbl *);

#endif
