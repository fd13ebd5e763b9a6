/*
 * smtp_masq.c: masquerading in the front end (smtpd.conf(5) masquerade,
 * spec 9.5), done once as the message is written to the queue file, so
 * that a milter that signs at intake signs the final From:.  Local
 * recipients therefore see the masqueraded headers too.
 *
 * Only with "masquerade as" set.  The sender fields (sendmail's H_FROM
 * class) always, the recipient fields with
 * "masquerade recipients"; every address of them goes through the rules
 * of common/masq.c, and the field is written again by common/hdraddr.c,
 * which changes nothing but the domains.  Without "masquerade
 * recipients" an unqualified recipient still gets the hostname.  With
 * "masquerade envelope" the MAIL FROM address too.  A field that does not
 * parse, or whose new text would be too long, goes out as it came.
 */
#include <string.h>
#include <strings.h>

#include "hdraddr.h"
#include "mailaddr.h"
#include "masq.h"
#include "proc.h"
#include "smtp_masq.h"

/* sendmail 8.15's H_FROM class; Return-Receipt-To is H_RECEIPTTO there,
 * not rewritten */
static const char *smtp_masq_senders[] = {
	"From", "Sender", "Reply-To", "Errors-To", "Resent-From",
	"Resent-Sender", "Resent-Reply-To", "Disposition-Notification-To",
	NULL
};

/* its H_RCPT class */
static const char *smtp_masq_recipients[] = {
	"To", "Cc", "Bcc", "Resent-To", "Resent-Cc", "Resent-Bcc",
	"Apparently-To", NULL
};

/* 1 if the field name (len octets) is in the list, any case. */
static int
smtp_masq_named(const char **list, const char *name, size_t len)
{
	for (; *list != NULL; list++)
		if (strlen(*list) == len && strncasecmp(*list, name, len) == 0)
			return 1;
	return 0;
}

int
smtp_masq_body(struct smtp_data *d)
{
	if (conf->masq_as[0] == '\0')
		return 0;
	return smtp_data_fields(d, smtp_masq_field);
}

/*
 * hdraddr's callback: the domain the rules give, if they change it.
 * arg is non-NULL for a recipient field without masquerade recipients,
 * where only an unqualified address changes: it gets the hostname (as
 * sendmail qualifies a local address for the SMTP mailer).
 */
static int
smtp_masq_cb(void *arg, const char *local, size_t llen, const char *domain,
    size_t dlen, char *buf, size_t bufsize)
{
	if (arg != NULL) {
		if (domain != NULL)
			return 0;
		(void)strlcpy(buf, conf->hostname, bufsize);
		return 1;
	}
	(void)masq_address(conf, local, llen, domain, dlen, buf, bufsize);
	if (buf[0] == '\0')
		return 0;
	return domain == NULL || dlen != strlen(buf) ||
	    strncmp(domain, buf, dlen) != 0;
}

int
smtp_masq_field(const char *field, size_t len, char *out, size_t outsize,
    size_t *outlen)
{
	const char	*colon;
	size_t		 n, vlen;
	int		 qualify_only;

	if ((colon = memchr(field, ':', len)) == NULL)
		return 0;
	n = (size_t)(colon - field);
	/* obs-optional: white space before the colon */
	while (n > 0 && (field[n - 1] == ' ' || field[n - 1] == '\t'))
		n--;
	if (smtp_masq_named(smtp_masq_senders, field, n))
		qualify_only = 0;
	else if (smtp_masq_named(smtp_masq_recipients, field, n))
		qualify_only = !conf->masq_recipients;
	else
		return 0;
	n = (size_t)(colon - field) + 1;
	if (n > outsize)
		return 0;
	memcpy(out, field, n);
	if (hdraddr_rewrite(field + n, len - n, out + n, outsize - n, &vlen,
	    smtp_masq_cb, qualify_only ? &qualify_only : NULL) <= 0)
		return 0;
	*outlen = n + vlen;
	return 1;
}

void
smtp_masq_sender(char *sender, size_t size)
{
	char		 dom[HDRADDR_DOMAIN_MAX], addr[MAILADDR_PATH_MAX];
	const char	*at;

	if (!conf->masq_envelope || conf->masq_as[0] == '\0' ||
	    sender[0] == '\0' || (at = strrchr(sender, '@')) == NULL)
		return;
	(void)masq_address(conf, sender, (size_t)(at - sender), at + 1,
	    strlen(at + 1), dom, sizeof(dom));
	if (dom[0] == '\0' || strcasecmp(dom, at + 1) == 0)
		return;
	if (snprintf(addr, sizeof(addr), "%.*s@%s", (int)(at - sender),
	    sender, dom) >= (int)sizeof(addr) || !mailaddr_mailbox_valid(addr))
		return;
	(void)strlcpy(sender, addr, size);
}
