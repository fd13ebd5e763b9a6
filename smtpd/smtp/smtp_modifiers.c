/*
 * smtp_modifiers.c: the DaemonPortOptions letters of a listener that
 * act on commands (listen ... modifiers "LETTERS" in smtpd.conf(5); a,
 * A and S are the listener's auth and tls flags, set by the parser).
 *
 *   u  a bare user name in MAIL FROM or RCPT TO is taken as
 *      user@hostname; without it a bare sender is refused with
 *      sendmail's "553 5.5.4 <user>... Domain name required for sender
 *      address user" (a bare recipient stays a syntax error)
 *   f  the sender's domain must be fully qualified (have a dot, or be
 *      an address literal): "553 5.5.4 <addr>... Real domain name
 *      required for sender address"
 *   E  no ETRN: smtp_modifiers_etrn() says whether ETRN may run here
 *
 * The sendmail socket's sessions (sendmail -bs) are never affected.
 * Interface: smtp_modifiers_line() before a command line is parsed,
 * smtp_modifiers_sender() once a sender is parsed.
 * Failure behaviour: none; a line too long to qualify is left to the
 * parser, which refuses it.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mailaddr.h"
#include "proc.h"
#include "smtp_session.h"

/* A path that is a bare user: "<user>" or "user"; its length or 0. */
static size_t
smtp_modifiers_bare(const char *p, int *brackets, const char **rest)
{
	size_t	 n;

	*brackets = *p == '<';
	if (*brackets)
		p++;
	n = strcspn(p, *brackets ? ">@ " : "@ ");
	if (n == 0 || p[n] == '@' || (*brackets && p[n] != '>') ||
	    !mailaddr_local_valid(p, n) || mailaddr_local_has_routing(p, n))
		return 0;
	*rest = p + n + (*brackets ? 1 : 0);
	return n;
}

/*
 * MAIL FROM or RCPT TO with a bare user.  With u, line is rewritten into
 * buf with "@hostname" and buf is returned; without u a bare sender is
 * answered here and NULL returned; any other line is returned as it is.
 */
const char *
smtp_modifiers_line(struct smtp_session *s, const char *line, char *buf,
    size_t size)
{
	const char	*p, *rest;
	size_t		 n, plen;
	int		 brackets, r;

	if (s->lflags & LISTEN_F_LOCAL)
		return line;
	if (strncasecmp(line, "MAIL FROM:", 10) == 0)
		plen = 10;
	else if (strncasecmp(line, "RCPT TO:", 8) == 0)
		plen = 8;
	else
		return line;
	/* sendmail and our parser allow blanks after the colon */
	for (p = line + plen; *p == ' '; p++)
		;
	if ((n = smtp_modifiers_bare(p, &brackets, &rest)) == 0 ||
	    (plen == 8 && n == 10 && strncasecmp(p + brackets, "postmaster",
	    10) == 0))
		return line;
	if (!(s->lflags & LISTEN_F_UNQUALIFIED)) {
		if (plen == 8)
			return line;
		stats_add("smtp.mail.unqualified", 1);
		(void)snprintf(buf, size, "553 5.5.4 %.*s... Domain name "
		    "required for sender address %.*s", (int)(rest - p), p,
		    (int)n, p + brackets);
		smtp_session_error(s, buf);
		return NULL;
	}
	r = snprintf(buf, size, "%.*s<%.*s@%s>%s", (int)plen, line, (int)n,
	    p + brackets, conf->hostname, rest);
	return r < 0 || (size_t)r >= size ? line : buf;
}

/* f: 1 if the sender was refused for an unqualified domain. */
int
smtp_modifiers_sender(struct smtp_session *s, const char *sender)
{
	const char	*at;

	if (!(s->lflags & LISTEN_F_FQDN_SENDER) || sender[0] == '\0' ||
	    (at = strrchr(sender, '@')) == NULL)
		return 0;
	if (at[1] == '[' || strchr(at + 1, '.') != NULL)
		return 0;
	stats_add("smtp.mail.unqualified", 1);
	smtp_session_reply(s, "553 5.5.4 <%s>... Real domain name required "
	    "for sender address", sender);
	return 1;
}

int
smtp_modifiers_etrn(const struct smtp_session *s)
{
	return !(s->lflags & LISTEN_F_NO_ETRN);
}
