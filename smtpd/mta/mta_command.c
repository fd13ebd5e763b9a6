/*
 * mta_command.c: the MAIL and RCPT command lines of the outbound client,
 * with the ESMTP parameters the next hop advertised (SIZE, BODY, RET,
 * ENVID, NOTIFY, ORCPT).
 *
 * Interface in mta_core.h.  Pure functions.  Addresses were checked free
 * of control characters and angle brackets when the batch arrived;
 * ENVID and ORCPT are sent as xtext (RFC 3461 4), a utf-8 ORCPT as
 * RFC 6533 3 has it (mta_command_orcpt()).  The AUTH= parameter
 * (RFC 4954 5) is always encoded.  A line that does not fit the buffer
 * is refused (-1), never cut.
 *
 * SMTPUTF8 (RFC 6531): MAIL carries the parameter when the message asked
 * for it and the next hop offers it.  To a next hop that does not, an
 * address whose only non-ASCII part is its domain goes with the domain
 * as A-labels (the session has failed the others already).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "mailaddr.h"
#include "proto.h"
#include "mta_core.h"

/* The queue keeps ENVID and ORCPT decoded: "a+41" is a value of its
 * own and must go out as "a+2B41". */
int
mta_command_xtext(char *buf, size_t size, const char *s)
{
	return mailaddr_xtext_encode(s, buf, size);
}

/* Append to a line under construction; -1 once it no longer fits. */
static int
mta_command_add(char *buf, size_t size, size_t *n, const char *s)
{
	size_t	 l = strlen(s);

	if (*n + l >= size)
		return -1;
	memcpy(buf + *n, s, l + 1);
	*n += l;
	return 0;
}

/* An address as this next hop may see it; -1 if it cannot. */
int
mta_command_addr(char *buf, size_t size, const char *addr, uint32_t ext)
{
	const char	*at = strrchr(addr, '@');
	char		 dom[CONF_HOST_MAX];

	if ((ext & MTA_EXT_SMTPUTF8) || mailaddr_is_ascii(addr))
		return strlcpy(buf, addr, size) < size ? 0 : -1;
	if (at == NULL || !mailaddr_ascii_n(addr, (size_t)(at - addr)) ||
	    mailaddr_domain_ascii(at + 1, dom, sizeof(dom)) == -1)
		return -1;
	return snprintf(buf, size, "%.*s@%s", (int)(at - addr), addr, dom) <
	    (int)size ? 0 : -1;
}

int
mta_command_mail(char *buf, size_t size, const struct mta_batch *b,
    uint32_t ext)
{
	char	 tmp[CONF_ADDR_MAX * 3 + 32], x[CONF_ADDR_MAX * 3];
	size_t	 n = 0;
	int	 r = 0;

	buf[0] = '\0';
	if (mta_command_addr(x, sizeof(x), b->sender, ext) == -1)
		return -1;
	(void)snprintf(tmp, sizeof(tmp), "MAIL FROM:<%s>", x);
	r |= mta_command_add(buf, size, &n, tmp);
	if ((ext & MTA_EXT_SMTPUTF8) && (b->utf8 & UTF8_F_SMTPUTF8))
		r |= mta_command_add(buf, size, &n, " SMTPUTF8");
	if ((ext & MTA_EXT_REQUIRETLS) && (b->msgflags & MSG_F_REQUIRETLS))
		r |= mta_command_add(buf, size, &n, " REQUIRETLS");
	if (ext & MTA_EXT_SIZE) {
		(void)snprintf(tmp, sizeof(tmp), " SIZE=%lld",
		    (long long)b->size);
		r |= mta_command_add(buf, size, &n, tmp);
	}
	if ((ext & MTA_EXT_8BITMIME) && b->body8)
		r |= mta_command_add(buf, size, &n, " BODY=8BITMIME");
	if ((ext & MTA_EXT_DSN) && b->dsn_ret == DSN_RET_FULL)
		r |= mta_command_add(buf, size, &n, " RET=FULL");
	if ((ext & MTA_EXT_DSN) && b->dsn_ret == DSN_RET_HDRS)
		r |= mta_command_add(buf, size, &n, " RET=HDRS");
	if ((ext & MTA_EXT_DSN) && b->envid[0] != '\0') {
		if (mta_command_xtext(x, sizeof(x), b->envid) == -1)
			return -1;
		(void)snprintf(tmp, sizeof(tmp), " ENVID=%s", x);
		r |= mta_command_add(buf, size, &n, tmp);
	}
	r |= mta_command_add(buf, size, &n, "\r\n");
	return r ? -1 : (int)n;
}

/* " AUTH=" and the value as xtext, always encoded: the queue keeps the
 * decoded mailbox, which may look like xtext and still need it ("a+2B"
 * is a mailbox of its own).  "<>" stays as it is. */
int
mta_command_auth(char *buf, size_t size, const char *value)
{
	int	 n;

	if (strcmp(value, "<>") == 0)
		return (size_t)snprintf(buf, size, " AUTH=<>") < size ?
		    (int)strlen(buf) : -1;
	if (strlcpy(buf, " AUTH=", size) >= size ||
	    (n = mailaddr_xtext_encode(value, buf + 6, size - 6)) == -1)
		return -1;
	return n + 6;
}

/* NOTIFY=... from the envelope's bits. */
static void
mta_command_notify(char *buf, size_t size, uint32_t notify)
{
	(void)strlcpy(buf, " NOTIFY=", size);
	if (notify & DSN_NOTIFY_NEVER) {
		(void)strlcat(buf, "NEVER", size);
		return;
	}
	if (notify & DSN_NOTIFY_SUCCESS)
		(void)strlcat(buf, "SUCCESS,", size);
	if (notify & DSN_NOTIFY_FAILURE)
		(void)strlcat(buf, "FAILURE,", size);
	if (notify & DSN_NOTIFY_DELAY)
		(void)strlcat(buf, "DELAY,", size);
	buf[strlen(buf) - 1] = '\0';
}

/*
 * " ORCPT=type;value" of a kept "type;decoded" ORCPT: xtext (RFC 3461
 * 4), but for the utf-8 type (RFC 6533 3) utf-8-addr-unitext to a next
 * hop that offers SMTPUTF8 and the 7-bit utf-8-addr-xtext to any other.
 */
static int
mta_command_orcpt(char *buf, size_t size, const char *orcpt, uint32_t ext)
{
	char		 x[MTA_ORCPT_TEXT_MAX];
	char		 type[MAILADDR_ORCPT_MAX + 1] = "rfc822";
	const char	*semi, *value = orcpt;
	int		 n;

	if ((semi = strchr(orcpt, ';')) != NULL) {
		value = semi + 1;
		(void)snprintf(type, sizeof(type), "%.*s",
		    (int)(semi - orcpt), orcpt);
	}
	if (strcmp(type, "utf-8") == 0)
		n = mailaddr_uxtext_encode(value, (ext & MTA_EXT_SMTPUTF8) != 0,
		    x, sizeof(x));
	else
		n = mta_command_xtext(x, sizeof(x), value);
	if (n == -1)
		return -1;
	n = snprintf(buf, size, " ORCPT=%s;%s", type, x);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int
mta_command_rcpt(char *buf, size_t size, const struct mta_rcpt *rc,
    const char *to, uint32_t ext)
{
	char		 tmp[MTA_RCPT_LINE_MAX], x[CONF_ADDR_MAX * 3];
	size_t		 n = 0;
	int		 r = 0;

	buf[0] = '\0';
	if (mta_command_addr(x, sizeof(x), to, ext) == -1)
		return -1;
	(void)snprintf(tmp, sizeof(tmp), "RCPT TO:<%s>", x);
	r |= mta_command_add(buf, size, &n, tmp);
	if ((ext & MTA_EXT_DSN) && (rc->notify & (DSN_NOTIFY_NEVER |
	    DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY))) {
		mta_command_notify(tmp, sizeof(tmp), rc->notify);
		r |= mta_command_add(buf, size, &n, tmp);
	}
	if ((ext & MTA_EXT_DSN) && rc->orcpt[0] != '\0') {
		if (mta_command_orcpt(tmp, sizeof(tmp), rc->orcpt, ext) == -1)
			return -1;
		r |= mta_command_add(buf, size, &n, tmp);
	}
	r |= mta_command_add(buf, size, &n, "\r\n");
	return r ? -1 : (int)n;
}
