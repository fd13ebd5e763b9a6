/*
 * config_privacy.c: the privacy flags (sendmail's PrivacyOptions) and
 * the smtp banner (confSMTP_LOGIN_MSG), their names and canonical text.
 *
 * The flags keep sendmail's names, so a PrivacyOptions line of a
 * sendmail.cf can be copied as it is.  The banner is a template: its
 * macros are expanded for each greeting by the front end, since $b is
 * the time of that greeting.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config.h"
#include "util.h"

static const struct {
	const char	*name;
	uint32_t	 bits;
} config_privacy_names[] = {
	{ "needmailhelo",	PRIV_NEEDMAILHELO },
	{ "needexpnhelo",	PRIV_NEEDEXPNHELO },
	{ "needvrfyhelo",	PRIV_NEEDVRFYHELO },
	{ "noexpn",		PRIV_NOEXPN },
	{ "novrfy",		PRIV_NOVRFY },
	{ "noetrn",		PRIV_NOETRN },
	{ "noverb",		PRIV_NOVERB },
	{ "authwarnings",	PRIV_AUTHWARNINGS },
	{ "noreceipts",		PRIV_NORECEIPTS },
	{ "nobodyreturn",	PRIV_NOBODYRETURN },
	{ "noactualrecipient",	PRIV_NOACTUALRCPT },
	{ "restrictmailq",	PRIV_RESTRICTMAILQ },
	{ "restrictqrun",	PRIV_RESTRICTQRUN },
	{ "restrictexpand",	PRIV_RESTRICTEXPAND },
};

uint32_t
config_privacy_flag(const char *name)
{
	size_t	 i;

	if (strcasecmp(name, "public") == 0)
		return 0;
	if (strcasecmp(name, "goaway") == 0)
		return PRIV_GOAWAY;
	for (i = 0; i < sizeof(config_privacy_names) /
	    sizeof(config_privacy_names[0]); i++)
		if (strcasecmp(name, config_privacy_names[i].name) == 0)
			return config_privacy_names[i].bits;
	return 0;
}

/* "privacy public" for none, else each flag by name (goaway spelt out). */
void
config_privacy_dump(const struct config *c, FILE *fp)
{
	const char	*sep = " ";
	size_t		 i;

	(void)fputs("privacy", fp);
	if (c->privacy == 0)
		(void)fputs(" public", fp);
	for (i = 0; i < sizeof(config_privacy_names) /
	    sizeof(config_privacy_names[0]); i++) {
		if (!(c->privacy & config_privacy_names[i].bits))
			continue;
		(void)fprintf(fp, "%s%s", sep, config_privacy_names[i].name);
		sep = ", ";
	}
	(void)fputc('\n', fp);
	if (c->smtp_banner[0] == '\0')
		return;
	(void)fputs("smtp banner ", fp);
	config_dump_quoted(fp, c->smtp_banner);
	(void)fputc('\n', fp);
}

/* Append s to out; -1 if it does not fit. */
static int
config_banner_put(char *out, size_t size, size_t *len, const char *s)
{
	size_t	 n = strlen(s);

	if (*len + n >= size)
		return -1;
	memcpy(out + *len, s, n);
	*len += n;
	out[*len] = '\0';
	return 0;
}

/* The value of macro m ($j, $v, $b, $$); NULL if there is none. */
static const char *
config_banner_macro(int m, const char *hostname, time_t now, char *buf,
    size_t size)
{
	switch (m) {
	case 'j':
		return hostname;
	case 'v':
		return SMTPD_VERSION;
	case '$':
		return "$";
	case 'b':
		/* RFC 5322 3.3, as sendmail's arpadate() */
		return date_rfc5322(now, buf, size);
	default:
		return NULL;
	}
}

/*
 * Expand tmpl into out.  The two characters backslash and "n" stay as
 * they are here: the front end splits the lines there.  With a NULL
 * hostname it only checks the template (at config time).
 */
int
config_banner_expand(const char *tmpl, const char *hostname, time_t now,
    char *out, size_t size)
{
	char		 date[64], one[2];
	const char	*v;
	size_t		 len = 0;

	if (size == 0)
		return -1;
	out[0] = '\0';
	for (; *tmpl != '\0'; tmpl++) {
		if (*tmpl != '$') {
			one[0] = *tmpl;
			one[1] = '\0';
			v = one;
		} else if ((v = config_banner_macro(tmpl[1],
		    hostname != NULL ? hostname : "", now, date,
		    sizeof(date))) == NULL)
			return -1;
		else
			tmpl++;
		if (config_banner_put(out, size, &len, v) == -1)
			return -1;
	}
	return 0;
}
