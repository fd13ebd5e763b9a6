/*
 * policy_reply.c: SMTP replies built from access-map right-hand sides the
 * way sendmail builds them (spec 2.1), and the fixed texts of spec 2.2.
 *
 * A reply is a code, an enhanced status and a text; the text of a 450,
 * 550 or 553 reply gets "<mailbox>... " in front when a mailbox is
 * current (MAIL, RCPT).  Only 4xx and 5xx codes are taken from a map
 * value: "ERROR:250 ok" would turn a refusal into a success, so a value
 * whose code is not 4xx/5xx is treated as text without a code
 * (553 5.3.0).  Failure behaviour: none; an over-long text is cut.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "proto.h"
#include "policy.h"

/* What kind of access-map value v is; *body = the text of an error. */
enum policy_rhs
policy_rhs_parse(const char *v, const char **body)
{
	*body = v;
	if (strcasecmp(v, "OK") == 0)
		return POLICY_RHS_OK;
	if (strcasecmp(v, "RELAY") == 0)
		return POLICY_RHS_RELAY;
	if (strcasecmp(v, "REJECT") == 0)
		return POLICY_RHS_REJECT;
	if (strcasecmp(v, "DISCARD") == 0)
		return POLICY_RHS_DISCARD;
	if (strcasecmp(v, "SKIP") == 0)
		return POLICY_RHS_SKIP;
	if (strncasecmp(v, "QUARANTINE:", 11) == 0) {
		*body = v + 11;
		return POLICY_RHS_QUARANTINE;
	}
	if (strncasecmp(v, "ERROR:", 6) == 0) {
		*body = v + 6;
		return POLICY_RHS_ERROR;
	}
	if (isdigit((unsigned char)v[0]) && isdigit((unsigned char)v[1]) &&
	    isdigit((unsigned char)v[2]) && v[3] == ' ')
		return POLICY_RHS_ERROR;
	return POLICY_RHS_UNKNOWN;
}

void
policy_result_accept(struct policy_result *res, uint32_t flags,
    const char *key)
{
	res->verdict = POLICY_ACCEPT;
	res->flags |= flags;
	res->code = 0;
	res->enhanced[0] = '\0';
	res->text[0] = '\0';
	(void)strlcpy(res->key, key != NULL ? key : "", sizeof(res->key));
}

/* A refusal; the verdict follows the first digit of the code. */
void
policy_result_reply(struct policy_result *res, const char *mailbox,
    uint32_t code, const char *enhanced, const char *text)
{
	int	 prefix;

	prefix = mailbox != NULL && (code == 450 || code == 550 || code == 553);
	res->verdict = code / 100 == 4 ? POLICY_TEMPFAIL : POLICY_REJECT;
	res->code = code;
	(void)strlcpy(res->enhanced, enhanced, sizeof(res->enhanced));
	(void)snprintf(res->text, sizeof(res->text), "%s%s%s%s",
	    prefix ? "<" : "", prefix ? mailbox : "", prefix ? ">... " : "",
	    text);
}

/* QUARANTINE:reason (spec 2.2): accepted, the message held; the text
 * keeps its case (spec 1.1). */
void
policy_result_quarantine(struct policy_result *res, const char *reason,
    const char *key)
{
	policy_result_accept(res, 0, key);
	res->verdict = POLICY_QUARANTINE;
	(void)strlcpy(res->text, reason, sizeof(res->text));
}

/* TMPF (spec 2.2): the same text at every stage. */
void
policy_result_tempfail(struct policy_result *res)
{
	policy_result_reply(res, NULL, 451, "4.3.0",
	    "Temporary system failure. Please try again later.");
}

/*
 * The length of an enhanced status "x.y.z" (class 2, 4 or 5) at the start
 * of s, followed by stop (a blank stop also takes the end of s); 0 if
 * there is none.
 */
static size_t
reply_enhanced_len(const char *s, char stop)
{
	size_t	 i = 0, part, digits;

	if (s[0] != '2' && s[0] != '4' && s[0] != '5')
		return 0;
	for (part = 0; part < 3; part++) {
		if (part > 0 && s[i++] != '.')
			return 0;
		for (digits = 0; isdigit((unsigned char)s[i]); digits++)
			i++;
		if (digits == 0 || digits > 3 || (part == 0 && digits != 1))
			return 0;
	}
	if (s[i] == stop || (stop == ' ' && s[i] == '\0'))
		return i;
	return 0;
}

/* 1 if s starts with a 4xx or 5xx code and a blank (or ends there). */
static int
reply_code(const char *s, uint32_t *code)
{
	if ((s[0] != '4' && s[0] != '5') || !isdigit((unsigned char)s[1]) ||
	    !isdigit((unsigned char)s[2]) || (s[3] != ' ' && s[3] != '\0'))
		return 0;
	*code = (uint32_t)((s[0] - '0') * 100 + (s[1] - '0') * 10 +
	    (s[2] - '0'));
	return 1;
}

/* Skip a mailertable error keyword ("nouser:", "nouser "), spec 9.1. */
static const char *
reply_skip_keyword(const char *s)
{
	const char	*p = s;

	while (isalpha((unsigned char)*p))
		p++;
	if (p == s || (*p != ':' && *p != ' '))
		return s;
	p++;
	while (*p == ' ')
		p++;
	return isdigit((unsigned char)*p) ? p : s;
}

/*
 * Parse the part after "ERROR:" (or a bare "ddd text" value): an optional
 * "D.S.N:" (or, with keyword, an error keyword), then "ddd [x.y.z] text"
 * or plain text.  Fills code, enhanced and text (quotes around the text
 * removed, spec 2.1 policyd rule).  Returns 1 if a code was given.
 */
int
policy_reply_parse(const char *body, int keyword, uint32_t *code,
    char *enhanced, size_t enhlen, char *text, size_t textlen)
{
	char		 dsn[POLICY_ENH_MAX] = "", t[POLICY_TEXT_MAX];
	size_t		 n, len;
	const char	*s = body;

	if ((n = reply_enhanced_len(s, ':')) > 0 && n < sizeof(dsn)) {
		(void)snprintf(dsn, sizeof(dsn), "%.*s", (int)n, s);
		s += n + 1;
	} else if (keyword)
		s = reply_skip_keyword(s);
	(void)strlcpy(t, s, sizeof(t));
	len = strlen(t);
	if (len >= 2 && t[0] == '"' && t[len - 1] == '"') {
		t[len - 1] = '\0';
		memmove(t, t + 1, len - 1);
	}
	if (!reply_code(t, code)) {
		*code = 553;
		(void)strlcpy(enhanced, "5.3.0", enhlen);
		(void)strlcpy(text, t, textlen);
		return 0;
	}
	s = t + 3;
	while (*s == ' ')
		s++;
	if ((n = reply_enhanced_len(s, ' ')) > 0) {
		(void)snprintf(enhanced, enhlen, "%.*s", (int)n, s);
		for (s += n; *s == ' '; s++)
			;
	} else if (dsn[0] != '\0')
		(void)strlcpy(enhanced, dsn, enhlen);
	else
		(void)snprintf(enhanced, enhlen, "%c.0.0", t[0]);
	(void)strlcpy(text, s, textlen);
	return 1;
}

/* A refusal from an ERROR: value (body = what follows "ERROR:"). */
void
policy_result_error(struct policy_result *res, const char *mailbox,
    const char *body)
{
	char		 enh[POLICY_ENH_MAX], text[POLICY_TEXT_MAX];
	uint32_t	 code;

	(void)policy_reply_parse(body, 0, &code, enh, sizeof(enh), text,
	    sizeof(text));
	policy_result_reply(res, mailbox, code, enh, text);
}
