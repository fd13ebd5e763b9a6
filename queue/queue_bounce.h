/*
 * queue_bounce.h: composition of delivery status notifications (RFC 3464
 * multipart/report) and the DSN decisions of RFC 3461 NOTIFY/RET.
 *
 * queue_bounce_write() produces the whole DSN message text from the
 * failed (or delayed, or relayed) envelopes of one message and the
 * original message file; it knows nothing of the spool, so the unit tests
 * call it on plain stdio streams.
 */
#ifndef QUEUE_BOUNCE_H
#define QUEUE_BOUNCE_H

#include <stdio.h>
#include <time.h>

#include "queue_envelope.h"

enum bounce_action {
	BOUNCE_FAILED = 0,
	BOUNCE_DELAYED,
	BOUNCE_RELAYED
};

/* One recipient reported in a DSN. */
struct bounce_rcpt {
	const struct envelope	*evp;
	const char		*status;	/* "5.1.1" */
	const char		*relay;		/* "host [addr]" or "" */
	const char		*diagnostic;	/* reply text or "" */
	time_t			 last_attempt;	/* 0 if never tried */
};

/* What the whole DSN is about. */
struct bounce_info {
	enum bounce_action	 action;
	const char		*hostname;	/* Reporting-MTA */
	const char		*to;		/* the DSN's recipient */
	uint32_t		 msgid;		/* of the original message */
	uint32_t		 newmsgid;	/* of the DSN itself */
	time_t			 now;
	time_t			 retry_until;	/* BOUNCE_DELAYED */
	const char		*boundary;	/* not found in the original */
	/* privacy nobodyreturn (headers only), noactualrecipient (no
	 * X-Actual-Recipient): their PRIV_* bits */
	uint32_t		 privacy;
};

/* Write the DSN; 0, or -1 on a stream error. */
int		 queue_bounce_write(FILE *, const struct bounce_info *,
		    const struct bounce_rcpt *, size_t, FILE *orig);
/* Whether an envelope's NOTIFY asks for a DSN of this kind. */
int		 queue_bounce_wanted(const struct envelope *,
		    enum bounce_action);
/* Whether an envelope makes its DSN an internationalized one (RFC 6533):
 * a non-ASCII address or a header with 8-bit octets. */
int		 queue_bounce_global_envelope(const struct envelope *);
/* The text used in log lines and the Subject for an action. */
const char	*queue_bounce_action_name(enum bounce_action);

#endif
