/*
 * smtp_dnsbl.h: the DNS blocklists of the inbound front end ("dnsbl
 * ZONE ...", sendmail's FEATURE(dnsbl) and FEATURE(enhdnsbl), spec 9.10).
 *
 * A session starts the lookups of every zone at connect, in parallel
 * (smtp_dnsbl_start()); the verdict is asked for where sendmail runs the
 * dnsbl rules (after the Connect: probes, or at each RCPT with
 * delay_checks), by then usually known.  A lookup ends in exactly one
 * call of the session's callback, always from the event loop, unless
 * cancelled; answers are cached for their TTL.
 */
#ifndef SMTP_DNSBL_H
#define SMTP_DNSBL_H

#include <stddef.h>

#include "config.h"
#include "proto.h"

struct smtp_dnsbl;

/* What the first zone that decides says. */
struct smtp_dnsbl_result {
	enum dnsbl_action	 action;
	/* a failed lookup in a "tempfail" zone: reply is the 451 */
	int			 temp;
	/* REJECT or temp: the reply line (no recipient prefix) */
	char			 reply[CONF_DNSBL_TEXT_MAX + 64];
	/* QUARANTINE: "listed at ZONE" */
	char			 reason[QUARANTINE_REASON_MAX + 1];
	char			 zone[CONF_HOST_MAX];
};

/*
 * The lookups of addr in the configured zones; cb(arg) after each answer
 * (from the event loop).  NULL if there is no zone, addr is not an IP
 * address, or memory is short (logged).
 */
struct smtp_dnsbl *smtp_dnsbl_start(const char *addr, uint32_t sessid,
		    void (*cb)(void *), void *arg);
void		 smtp_dnsbl_cancel(struct smtp_dnsbl *);
/*
 * The zones in order: -1 while one that could decide has no answer yet,
 * 0 if none lists the address (failures ignored and logged), 1 if one
 * decides (res filled).  NULL (no lookups) is 0.
 */
int		 smtp_dnsbl_verdict(struct smtp_dnsbl *,
		    struct smtp_dnsbl_result *);
/* 1 if smtp_dnsbl_verdict() would not be -1 (nothing logged). */
int		 smtp_dnsbl_ready(struct smtp_dnsbl *);

#endif
