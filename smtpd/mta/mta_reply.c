/*
 * mta_reply.c: SMTP reply and EHLO parsing for the outbound client.
 *
 * Interface in mta_reply.h.  Everything here is pure and bounded: a line
 * that is not "DDD", "DDD text" or "DDD-text", or a continuation whose
 * code differs from the first line, makes the reply garbage (-1) and the
 * caller drops the connection.  Text longer than MTA_REPLY_TEXT_MAX is
 * cut; the code and status are never lost to truncation.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "mta_reply.h"

void
mta_reply_init(struct mta_reply *r)
{
	memset(r, 0, sizeof(*r));
}

/* Parse the 3-digit code at the start of a line; -1 if it is not one. */
static int
mta_reply_code(const char *line, size_t len)
{
	if (len < 3 || line[0] < '2' || line[0] > '5' ||
	    line[1] < '0' || line[1] > '5' ||
	    !isdigit((unsigned char)line[2]))
		return -1;
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return -1;
	return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

/* Append text to the reply, dropping control and non-ASCII octets. */
static void
mta_reply_append(struct mta_reply *r, const char *s, size_t len)
{
	size_t	 n = strlen(r->text), i;

	for (i = 0; i < len && n + 1 < sizeof(r->text); i++) {
		unsigned char	 c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f)
			continue;
		r->text[n++] = (char)c;
	}
	r->text[n] = '\0';
}

size_t
mta_reply_enhanced(const char *s, int code, char *buf, size_t size)
{
	size_t	 i = 0, part, digits;

	if (s[0] != '0' + code / 100 || (s[0] != '2' && s[0] != '4' &&
	    s[0] != '5') || s[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (digits = 0; isdigit((unsigned char)s[i]); digits++)
			i++;
		if (digits == 0 || digits > 3)
			return 0;
		if (part == 0 && s[i++] != '.')
			return 0;
	}
	if (s[i] != '\0' && s[i] != ' ')
		return 0;
	if (buf != NULL && i < size) {
		memcpy(buf, s, i);
		buf[i] = '\0';
	}
	return i;
}

int
mta_reply_feed(struct mta_reply *r, const char *line, size_t len)
{
	int	 code = mta_reply_code(line, len);
	char	 enh[MTA_ENH_MAX];
	size_t	 skip = 0;
	char	 body[MTA_REPLY_TEXT_MAX];
	size_t	 blen;

	if (code == -1 || (r->nlines > 0 && code != r->code))
		return -1;
	blen = len > 4 ? len - 4 : 0;
	if (blen >= sizeof(body))
		blen = sizeof(body) - 1;
	memcpy(body, line + (len > 4 ? 4 : len), blen);
	body[blen] = '\0';
	if (r->nlines == 0) {
		r->code = code;
		(void)snprintf(r->text, sizeof(r->text), "%d", code);
		if (mta_reply_enhanced(body, code, r->enh, sizeof(r->enh)) == 0)
			r->enh[0] = '\0';
	} else if (r->enh[0] != '\0' &&
	    (skip = mta_reply_enhanced(body, code, enh, sizeof(enh))) != 0 &&
	    strcmp(enh, r->enh) == 0) {
		while (body[skip] == ' ')
			skip++;
	} else
		skip = 0;
	if (body[skip] != '\0') {
		mta_reply_append(r, " ", 1);
		mta_reply_append(r, body + skip, strlen(body + skip));
	}
	r->nlines++;
	return (len > 3 && line[3] == '-') ? 0 : 1;
}

const char *
mta_reply_status(const struct mta_reply *r)
{
	if (r->enh[0] != '\0')
		return r->enh;
	switch (r->code / 100) {
	case 2:
		return "2.0.0";
	case 4:
		return "4.0.0";
	default:
		return "5.0.0";
	}
}

/* Compare the keyword at the start of s, up to a space or the end. */
static int
mta_ehlo_is(const char *s, const char *kw)
{
	size_t	 n = strlen(kw);

	return strncasecmp(s, kw, n) == 0 && (s[n] == '\0' || s[n] == ' ');
}

/* One mechanism name of an AUTH line, if valid and new, to the list. */
static void
mta_ehlo_auth_add(struct mta_ehlo *e, const char *s, size_t n)
{
	char	 word[24];
	size_t	 i;

	/* RFC 4422 3.1: 1 to 20 of A-Z, 0-9, "-" and "_" */
	if (n == 0 || n > 20)
		return;
	for (i = 0; i < n; i++) {
		word[i] = (char)toupper((unsigned char)s[i]);
		if (!isupper((unsigned char)word[i]) &&
		    !isdigit((unsigned char)word[i]) && word[i] != '-' &&
		    word[i] != '_')
			return;
	}
	word[n] = '\0';
	if (config_word_in(e->auth_mechs, word) ||
	    strlen(e->auth_mechs) + n + 2 > sizeof(e->auth_mechs))
		return;
	if (e->auth_mechs[0] != '\0')
		(void)strlcat(e->auth_mechs, " ", sizeof(e->auth_mechs));
	(void)strlcat(e->auth_mechs, word, sizeof(e->auth_mechs));
}

/* "AUTH mech ..." or the pre-RFC "AUTH=mech ...". */
static int
mta_ehlo_auth(struct mta_ehlo *e, const char *s)
{
	size_t	 n;

	if (strncasecmp(s, "AUTH", 4) != 0 || (s[4] != ' ' && s[4] != '='))
		return 0;
	e->ext |= MTA_EXT_AUTH;
	for (s += 5; *s != '\0'; s += n) {
		s += strspn(s, " ");
		n = strcspn(s, " ");
		mta_ehlo_auth_add(e, s, n);
	}
	return 1;
}

void
mta_ehlo_line(struct mta_ehlo *e, const char *s)
{
	static const struct {
		const char	*kw;
		uint32_t	 flag;
	} kws[] = {
		{ "PIPELINING",		 MTA_EXT_PIPELINING },
		{ "SIZE",		 MTA_EXT_SIZE },
		{ "8BITMIME",		 MTA_EXT_8BITMIME },
		{ "DSN",		 MTA_EXT_DSN },
		{ "ENHANCEDSTATUSCODES", MTA_EXT_ENHANCED },
		{ "CHUNKING",		 MTA_EXT_CHUNKING },
		{ "STARTTLS",		 MTA_EXT_STARTTLS },
		{ "SMTPUTF8",		 MTA_EXT_SMTPUTF8 },
		{ "REQUIRETLS",		 MTA_EXT_REQUIRETLS },
	};
	size_t			 i;
	char			*end;
	unsigned long long	 v;

	if (mta_ehlo_auth(e, s))
		return;
	for (i = 0; i < sizeof(kws) / sizeof(kws[0]); i++) {
		if (!mta_ehlo_is(s, kws[i].kw))
			continue;
		e->ext |= kws[i].flag;
		if (kws[i].flag != MTA_EXT_SIZE || s[4] != ' ')
			return;
		if (!isdigit((unsigned char)s[5]))
			return;
		v = strtoull(s + 5, &end, 10);
		if (*end == '\0' || *end == ' ')
			e->size_max = (uint64_t)v;
		return;
	}
}
