/*
 * fuzz_mta_reply.c: libFuzzer target for smtpd/mta/mta_reply.c, what the
 * outbound client makes of a next hop's replies and EHLO keywords.  The
 * input is split at LF (a CR before it dropped) into lines; they are fed
 * as replies one after the other, and the text of each line after its
 * code is also fed as an EHLO keyword line.
 *
 * Beyond "no crash": a reply's code is 200-559 and the same on every
 * line; its text starts with the code, holds only printable ASCII and is
 * NUL-terminated within MTA_REPLY_TEXT_MAX; mta_reply_status() of a 2xx,
 * 4xx or 5xx reply is an "x.y.z" of the code's class; and the AUTH mechanisms kept are distinct
 * RFC 4422 names, space separated, and imply MTA_EXT_AUTH.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mta_reply.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_reply(const struct mta_reply *r)
{
	char		 code[8];
	const char	*st, *p;

	if (r->code < 200 || r->code > 559 ||
	    memchr(r->text, '\0', sizeof(r->text)) == NULL)
		abort();
	(void)snprintf(code, sizeof(code), "%d", r->code);
	if (strncmp(r->text, code, 3) != 0)
		abort();
	for (p = r->text; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			abort();
	st = mta_reply_status(r);
	if (code[0] == '3')	/* 334, 354: not an outcome, no status */
		return;
	if (st[0] != code[0] || st[1] != '.' ||
	    mta_reply_enhanced(st, r->code, NULL, 0) != strlen(st))
		abort();
	if (r->enh[0] != '\0' && strcmp(st, r->enh) != 0)
		abort();
}

static void
check_ehlo(const struct mta_ehlo *e)
{
	const char	*p = e->auth_mechs, *q;
	size_t		 n, i;

	if (memchr(e->auth_mechs, '\0', sizeof(e->auth_mechs)) == NULL)
		abort();
	if (*p != '\0' && !(e->ext & MTA_EXT_AUTH))
		abort();
	while (*p != '\0') {
		n = strcspn(p, " ");
		if (n == 0 || n > 20)
			abort();
		for (i = 0; i < n; i++)
			if (!isupper((unsigned char)p[i]) &&
			    !isdigit((unsigned char)p[i]) && p[i] != '-' &&
			    p[i] != '_')
				abort();
		for (q = p + n; (q = strstr(q, " ")) != NULL; q++)
			if (strncmp(q + 1, p, n) == 0 &&
			    (q[1 + n] == ' ' || q[1 + n] == '\0'))
				abort();
		p += n;
		if (*p == ' ' && *++p == '\0')
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct mta_reply	 r;
	struct mta_ehlo		 e;
	const char		*s = (const char *)data, *end = s + len, *nl;
	char			*line;
	size_t			 n;
	int			 code = 0, rv;

	if ((line = malloc(len + 1)) == NULL)
		return 0;
	mta_reply_init(&r);
	memset(&e, 0, sizeof(e));
	while (s < end) {
		nl = memchr(s, '\n', (size_t)(end - s));
		n = nl != NULL ? (size_t)(nl - s) : (size_t)(end - s);
		memcpy(line, s, n);
		line[n] = '\0';
		s += n + (nl != NULL);
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if ((rv = mta_reply_feed(&r, line, n)) == -1) {
			mta_reply_init(&r);
			code = 0;
			continue;
		}
		if (code != 0 && r.code != code)
			abort();
		code = r.code;
		if (n > 4)
			mta_ehlo_line(&e, line + 4);
		if (rv == 1) {
			check_reply(&r);
			mta_reply_init(&r);
			code = 0;
		}
	}
	free(line);
	check_ehlo(&e);
	return 0;
}
