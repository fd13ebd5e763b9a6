/*
 * queue_bounce.c: DSN text (RFC 3464) for the queue's bounces, delay
 * warnings and "relayed" notices.
 *
 * Layout: headers from MAILER-DAEMON, then a multipart/report with a
 * human-readable part, the message/delivery-status part (one per-message
 * block, one block per recipient) and the returned content: the whole
 * original as message/rfc822 (RET=FULL or no RET), or its header as
 * text/rfc822-headers (RET=HDRS, and always for delayed and relayed).
 * A "relayed" notice names a recipient whose mail the local mailer took
 * as "delivered" (RFC 3464 2.3.3): that was the final delivery, not a
 * hand-over to a server that cannot report.
 * Internationalized mail (RFC 6533): when an address the DSN names or the
 * original sender is not ASCII, or the original header holds 8-bit
 * octets, the parts are message/global-delivery-status and
 * message/global or message/global-headers, and an address that is not
 * ASCII is typed "utf-8;" and given in UTF-8 (utf-8-address); every other
 * DSN stays message/delivery-status as RFC 3464 has it.
 * Lines end in CRLF like every message file of the spool (the front end
 * stores what it received that way), so the copied original and our own
 * text never mix line ends.  Errors of the output stream are returned,
 * never fatal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailaddr.h"
#include "proto.h"
#include "queue_bounce.h"
#include "util.h"

#define EOL	"\r\n"

static const char *action_words[] = { "failed", "delayed", "relayed" };

/* Whether none (0), some (1) or all (2) recipients were delivered here. */
static int
bounce_delivered(const struct bounce_info *bi, const struct bounce_rcpt *r,
    size_t n)
{
	size_t	 i, here = 0;

	if (bi->action != BOUNCE_RELAYED)
		return 0;
	for (i = 0; i < n; i++)
		if (queue_envelope_local(r[i].evp))
			here++;
	return here == 0 ? 0 : here == n ? 2 : 1;
}

static const char *
bounce_action_word(const struct bounce_info *bi, const struct envelope *e)
{
	if (bi->action == BOUNCE_RELAYED && queue_envelope_local(e))
		return "delivered";
	return action_words[bi->action];
}

int
queue_bounce_wanted(const struct envelope *e, enum bounce_action action)
{
	if (e->notify & DSN_NOTIFY_NEVER)
		return 0;
	switch (action) {
	case BOUNCE_FAILED:
		return e->notify == 0 || (e->notify & DSN_NOTIFY_FAILURE);
	case BOUNCE_DELAYED:
		return e->notify == 0 || (e->notify & DSN_NOTIFY_DELAY);
	case BOUNCE_RELAYED:
		return (e->notify & DSN_NOTIFY_SUCCESS) != 0;
	}
	return 0;
}

int
queue_bounce_global_envelope(const struct envelope *e)
{
	return (e->utf8 & UTF8_F_HEADERS) || !mailaddr_is_ascii(e->sender) ||
	    !mailaddr_is_ascii(e->rcpt) || !mailaddr_is_ascii(e->orig) ||
	    !mailaddr_is_ascii(e->orcpt);
}

/* Whether the DSN must be of RFC 6533's "global" kind. */
static int
bounce_global(const struct bounce_info *bi, const struct bounce_rcpt *r,
    size_t n)
{
	size_t	 i;

	if (!mailaddr_is_ascii(bi->to))
		return 1;
	for (i = 0; i < n; i++)
		if (queue_bounce_global_envelope(r[i].evp))
			return 1;
	return 0;
}

/* The address type of a recipient field (RFC 6533 3). */
static const char *
bounce_addr_type(const char *addr)
{
	return mailaddr_is_ascii(addr) ? "rfc822" : "utf-8";
}

const char *
queue_bounce_action_name(enum bounce_action action)
{
	return action_words[action];
}

/* The host part of "host [addr]"; "" when only an address is known. */
static void
bounce_relay_host(const char *relay, char *buf, size_t size)
{
	size_t	 n = strcspn(relay, " [");

	buf[0] = '\0';
	if (n == 0 || n >= size)
		return;
	memcpy(buf, relay, n);
	buf[n] = '\0';
}

static void
bounce_headers(FILE *out, const struct bounce_info *bi, int delivered,
    int global)
{
	static const char	*subj[] = { "Failure", "Delay", "Relayed" };
	char			 date[64];

	(void)fprintf(out, "From: Mail Delivery System <MAILER-DAEMON@%s>" EOL,
	    bi->hostname);
	(void)fprintf(out, "To: <%s>" EOL, bi->to);
	(void)fprintf(out, "Subject: Delivery Status Notification (%s)" EOL,
	    delivered == 2 ? "Success" : subj[bi->action]);
	(void)fprintf(out, "Date: %s" EOL,
	    date_rfc5322(bi->now, date, sizeof(date)));
	(void)fprintf(out, "Message-ID: <%08x.dsn.%08x@%s>" EOL,
	    bi->newmsgid, bi->msgid, bi->hostname);
	(void)fprintf(out, "Auto-Submitted: auto-replied" EOL);
	(void)fprintf(out, "MIME-Version: 1.0" EOL);
	(void)fprintf(out, "Content-Type: multipart/report; "
	    "report-type=%sdelivery-status;" EOL "\tboundary=\"%s\"" EOL,
	    global ? "global-" : "", bi->boundary);
	(void)fprintf(out, EOL "This is a MIME-encapsulated message." EOL EOL);
}

/*
 * The address a DSN names for a recipient: its own, or for the local
 * mailer the address it was given as (else user@hostname), the local
 * target going in X-Actual-Recipient, as sendmail's DSNs have it.
 */
static void
bounce_final(const struct bounce_info *bi, const struct envelope *e,
    char *out, size_t len)
{
	int	 n;

	if (!queue_envelope_local(e)) {
		(void)strlcpy(out, e->rcpt, len);
		return;
	}
	if (e->orig[0] != '\0' && strchr(e->orig, '@') != NULL) {
		(void)strlcpy(out, e->orig, len);
		return;
	}
	n = snprintf(out, len, "%s@%s", e->mailer == TARGET_MAILBOX ?
	    e->rcpt + (e->rcpt[0] == '\\') : "postmaster", bi->hostname);
	if (n < 0 || (size_t)n >= len)
		(void)strlcpy(out, e->rcpt, len);
}

static void
bounce_human(FILE *out, const struct bounce_info *bi,
    const struct bounce_rcpt *r, size_t n, int delivered)
{
	static const char	*intro_delivered[] = {
		NULL,
		"Your message was delivered to, or relayed to a next server "
		    "that will not send delivery notifications for, the "
		    "following recipients:",
		"Your message was delivered to the following recipients:"
	};
	static const char	*intro[] = {
		"Your message could not be delivered to the following "
		    "recipients; this error is permanent:",
		"Your message has not been delivered yet to the following "
		    "recipients.  Delivery will be retried; you need not "
		    "send it again:",
		"Your message was relayed to the following recipients, whose "
		    "next server will not send delivery notifications:"
	};
	char			 date[64], rcpt[MAILADDR_TARGET_MAX];
	size_t			 i;

	(void)fprintf(out, "--%s" EOL, bi->boundary);
	(void)fprintf(out, "Content-Type: text/plain; charset=utf-8" EOL);
	(void)fprintf(out, "Content-Description: Notification" EOL EOL);
	(void)fprintf(out, "This is the mail system at %s." EOL EOL,
	    bi->hostname);
	(void)fprintf(out, "%s" EOL EOL, delivered ?
	    intro_delivered[delivered] : intro[bi->action]);
	for (i = 0; i < n; i++) {
		bounce_final(bi, r[i].evp, rcpt, sizeof(rcpt));
		(void)fprintf(out, "<%s>", rcpt);
		if (r[i].diagnostic[0] != '\0')
			(void)fprintf(out, ": %s", r[i].diagnostic);
		(void)fprintf(out, EOL);
	}
	if (bi->action == BOUNCE_DELAYED)
		(void)fprintf(out, EOL "The mail system will give up on %s." EOL,
		    date_rfc5322(bi->retry_until, date, sizeof(date)));
	(void)fprintf(out, EOL);
}

/*
 * Original-Recipient: the ORCPT as it came, "type;address".  A utf-8 one
 * goes in UTF-8 in a global DSN and as utf-8-addr-xtext in any other
 * (RFC 6533 3), which keeps that 7-bit.
 */
static void
bounce_orcpt(FILE *out, const char *orcpt, int global)
{
	char	 x[ENVELOPE_ORCPT_MAX * 2];

	if (strchr(orcpt, ';') == NULL) {
		(void)fprintf(out, "Original-Recipient: rfc822;%s" EOL, orcpt);
		return;
	}
	if (global || strncmp(orcpt, "utf-8;", 6) != 0 ||
	    mailaddr_uxtext_encode(orcpt + 6, 0, x, sizeof(x)) == -1) {
		(void)fprintf(out, "Original-Recipient: %s" EOL, orcpt);
		return;
	}
	(void)fprintf(out, "Original-Recipient: utf-8;%s" EOL, x);
}

static void
bounce_status_rcpt(FILE *out, const struct bounce_info *bi,
    const struct bounce_rcpt *r, int global)
{
	char	 date[64], host[CONF_HOST_MAX], rcpt[MAILADDR_TARGET_MAX];

	(void)fprintf(out, EOL);
	if (r->evp->orcpt[0] != '\0')
		bounce_orcpt(out, r->evp->orcpt, global);
	bounce_final(bi, r->evp, rcpt, sizeof(rcpt));
	(void)fprintf(out, "Final-Recipient: %s; %s" EOL,
	    bounce_addr_type(rcpt), rcpt);
	if (queue_envelope_local(r->evp) &&
	    !(bi->privacy & PRIV_NOACTUALRCPT))
		(void)fprintf(out, "X-Actual-Recipient: %s; %s" EOL,
		    bounce_addr_type(r->evp->rcpt), r->evp->rcpt);
	(void)fprintf(out, "Action: %s" EOL, bounce_action_word(bi, r->evp));
	(void)fprintf(out, "Status: %s" EOL, r->status);
	bounce_relay_host(r->relay, host, sizeof(host));
	if (host[0] != '\0')
		(void)fprintf(out, "Remote-MTA: dns; %s" EOL, host);
	if (r->diagnostic[0] != '\0')
		(void)fprintf(out, "Diagnostic-Code: smtp; %s" EOL,
		    r->diagnostic);
	if (r->last_attempt > 0)
		(void)fprintf(out, "Last-Attempt-Date: %s" EOL,
		    date_rfc5322(r->last_attempt, date, sizeof(date)));
	if (bi->action == BOUNCE_DELAYED)
		(void)fprintf(out, "Will-Retry-Until: %s" EOL,
		    date_rfc5322(bi->retry_until, date, sizeof(date)));
}

static void
bounce_status(FILE *out, const struct bounce_info *bi,
    const struct bounce_rcpt *r, size_t n, int global)
{
	char	 date[64];
	size_t	 i;

	(void)fprintf(out, "--%s" EOL, bi->boundary);
	(void)fprintf(out, "Content-Type: message/%sdelivery-status" EOL EOL,
	    global ? "global-" : "");
	(void)fprintf(out, "Reporting-MTA: dns; %s" EOL, bi->hostname);
	if (r[0].evp->envid[0] != '\0')
		(void)fprintf(out, "Original-Envelope-Id: %s" EOL,
		    r[0].evp->envid);
	(void)fprintf(out, "Arrival-Date: %s" EOL,
	    date_rfc5322(r[0].evp->ctime, date, sizeof(date)));
	for (i = 0; i < n; i++)
		bounce_status_rcpt(out, bi, &r[i], global);
	(void)fprintf(out, EOL);
}

/* The header of the original, up to (not including) the empty line. */
static int
bounce_copy_headers(FILE *out, FILE *orig)
{
	char	*line = NULL;
	size_t	 cap = 0;
	ssize_t	 len;
	int	 last_nl = 1;

	while ((len = getline(&line, &cap, orig)) > 0) {
		if (line[0] == '\n' || (line[0] == '\r' && line[1] == '\n'))
			break;
		(void)fwrite(line, 1, (size_t)len, out);
		last_nl = line[len - 1] == '\n';
	}
	free(line);
	if (!last_nl)
		(void)fprintf(out, EOL);
	return ferror(orig) ? -1 : 0;
}

static int
bounce_copy_full(FILE *out, FILE *orig)
{
	char	 buf[8192];
	size_t	 n;
	int	 last_nl = 1;

	while ((n = fread(buf, 1, sizeof(buf), orig)) > 0) {
		(void)fwrite(buf, 1, n, out);
		last_nl = buf[n - 1] == '\n';
	}
	if (!last_nl)
		(void)fprintf(out, EOL);
	return ferror(orig) ? -1 : 0;
}

static int
bounce_returned(FILE *out, const struct bounce_info *bi,
    const struct envelope *e, FILE *orig, int global)
{
	static const char	*types[2][2] = {
		{ "message/rfc822", "text/rfc822-headers" },
		{ "message/global", "message/global-headers" }
	};
	int	 hdrs, rc;

	/* RFC 3461 4.3: only a failure returns the whole message, and
	 * never with privacy nobodyreturn; nor a REQUIRETLS one, whose
	 * bounce (to <>) may travel without TLS (RFC 8689 5) */
	hdrs = e->ret == DSN_RET_HDRS || bi->action != BOUNCE_FAILED ||
	    (bi->privacy & PRIV_NOBODYRETURN) ||
	    (e->msgflags & MSG_F_REQUIRETLS);

	(void)fprintf(out, "--%s" EOL, bi->boundary);
	(void)fprintf(out, "Content-Type: %s" EOL, types[global][hdrs]);
	(void)fprintf(out, "Content-Description: %s" EOL EOL,
	    bi->action == BOUNCE_RELAYED ? "Message Headers" :
	    hdrs ? "Undelivered Message Headers" : "Undelivered Message");
	rewind(orig);
	rc = hdrs ? bounce_copy_headers(out, orig) :
	    bounce_copy_full(out, orig);
	(void)fprintf(out, EOL "--%s--" EOL, bi->boundary);
	return rc;
}

int
queue_bounce_write(FILE *out, const struct bounce_info *bi,
    const struct bounce_rcpt *r, size_t n, FILE *orig)
{
	int	 delivered, global;

	if (n == 0)
		return -1;
	delivered = bounce_delivered(bi, r, n);
	global = bounce_global(bi, r, n);
	bounce_headers(out, bi, delivered, global);
	bounce_human(out, bi, r, n, delivered);
	bounce_status(out, bi, r, n, global);
	if (bounce_returned(out, bi, r[0].evp, orig, global) == -1)
		return -1;
	if (fflush(out) == EOF || ferror(out))
		return -1;
	return 0;
}
