/*
 * smtp_masq.c: masquerading in the front end (smtpd.conf(5) masquerade,
 * spec 9.5), done once as the message is written to the queue file, so
 * that a milter that signs at intake signs the final From:.  Local
 * recipients therefore see the masqueraded headers too.
 *
 * Only with "masquerade as" set, or with generics domains (the
 * genericstable's forms, smtp_generics.c, come first).  The sender fields (sendmail's H_FROM
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
#include "smtp_generics.h"
#include "smtp_masq.h"
#include "smtp_session.h"

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
smtp_masq_body(struct smtp_data *d, struct smtp_session *s)
{
	if (conf->masq_as[0] == '\0' && !smtp_generics_on())
		return 0;
	if (smtp_generics_on() &&
	    (s->tx->generics = smtp_generics_new()) == NULL)
		return -1;
	return smtp_data_fields(d, smtp_masq_field, smtp_generics_on() ?
	    smtp_generics_hold : NULL, s);
}

/* What hdraddr's callback works with. */
struct smtp_masq_ctx {
	struct smtp_session	*s;
	int			 qualify_only;
};

/*
 * hdraddr's callback: the genericstable's form of the address, if it has
 * one (not masqueraded again, as in sendmail), else the domain the rules
 * give, if they change it.  In a recipient field without masquerade
 * recipients only an unqualified address changes: it gets the hostname
 * (as sendmail qualifies a local address for the SMTP mailer).
 */
static int
smtp_masq_cb(void *arg, const char *local, size_t llen, const char *domain,
    size_t dlen, char *buf, size_t bufsize)
{
	struct smtp_masq_ctx	*ctx = arg;

	if (!ctx->qualify_only && smtp_generics_address(ctx->s, local, llen,
	    domain, dlen, buf, bufsize) == 1)
		return 2;
	if (conf->masq_as[0] == '\0')
		return 0;
	if (ctx->qualify_only) {
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

enum smtp_masq_field_kind
smtp_masq_field_kind(const char *field, size_t len, size_t *voff)
{
	const char	*colon;
	size_t		 n;

	if ((colon = memchr(field, ':', len)) == NULL)
		return SMTP_MASQ_FIELD_NONE;
	n = (size_t)(colon - field);
	*voff = n + 1;
	/* obs-optional: white space before the colon */
	while (n > 0 && (field[n - 1] == ' ' || field[n - 1] == '\t'))
		n--;
	if (smtp_masq_named(smtp_masq_senders, field, n))
		return SMTP_MASQ_FIELD_ALL;
	if (smtp_masq_named(smtp_masq_recipients, field, n))
		return conf->masq_recipients ? SMTP_MASQ_FIELD_ALL :
		    SMTP_MASQ_FIELD_QUALIFY;
	return SMTP_MASQ_FIELD_NONE;
}

int
smtp_masq_field(void *arg, const char *field, size_t len, char *out,
    size_t outsize, size_t *outlen)
{
	struct smtp_masq_ctx		 ctx;
	enum smtp_masq_field_kind	 kind;
	size_t				 n, vlen;

	if ((kind = smtp_masq_field_kind(field, len, &n)) ==
	    SMTP_MASQ_FIELD_NONE || n > outsize)
		return 0;
	ctx.s = arg;
	ctx.qualify_only = kind == SMTP_MASQ_FIELD_QUALIFY;
	memcpy(out, field, n);
	if (hdraddr_rewrite(field + n, len - n, out + n, outsize - n, &vlen,
	    smtp_masq_cb, &ctx) <= 0)
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
