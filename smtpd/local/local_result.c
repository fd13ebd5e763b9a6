/*
 * local_result.c: the result pipe between a delivery child and
 * smtpd-local.
 *
 * Just before it exits, the child may write one line: "CLASS X.Y.Z
 * TEXT\n", CLASS being ok, tempfail or permfail, X.Y.Z an enhanced status
 * of that class (2, 4 or 5), TEXT what the queue logs and puts in a DSN
 * (an MDA's own words, an LMTP server's reply).  The line is written in
 * one write(2) of at most LOCAL_RESULT_MAX octets (less than PIPE_BUF,
 * so it arrives whole), and read by smtpd-local once the child has
 * exited.  The child runs as the user, and what it writes may come from
 * a program of the user, so the reader trusts nothing: a line that does
 * not parse is garbage (-1), and the text's control characters are made
 * '?' before it goes anywhere.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"
#include "util.h"
#include "local.h"

static const char *result_classes[] = {
	[STATUS_OK] = "ok",
	[STATUS_TEMPFAIL] = "tempfail",
	[STATUS_PERMFAIL] = "permfail",
};

void
local_result_write(int fd, uint32_t status, const char *estatus,
    const char *fmt, ...)
{
	char	 text[LOCAL_RESULT_TEXT_MAX], line[LOCAL_RESULT_MAX];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	text_clean(text);
	n = snprintf(line, sizeof(line), "%s %s %s\n",
	    result_classes[status], estatus, text);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* nothing to do if it fails: smtpd-local reads the exit status */
	if (write(fd, line, (size_t)n) == -1)
		return;
}

/* X.Y.Z: a class digit, then 1-3 digits, then 1-3 digits. */
static int
result_estatus_valid(const char *s, size_t len, char class)
{
	size_t	 i, part = 0, digits = 0;

	if (len < 5 || len >= sizeof(((struct local_result *)0)->estatus) ||
	    s[0] != class || s[1] != '.')
		return 0;
	for (i = 2; i < len; i++) {
		if (s[i] == '.') {
			if (digits == 0 || ++part > 1)
				return 0;
			digits = 0;
		} else if (!isdigit((unsigned char)s[i]) || ++digits > 3)
			return 0;
	}
	return part == 1 && digits > 0;
}

int
local_result_parse(const char *buf, size_t len, struct local_result *res)
{
	static const char	 digit[] = { '2', '4', '5' };
	const char		*sp, *end;
	size_t			 i, n;

	if (len == 0 || len > LOCAL_RESULT_MAX || buf[len - 1] != '\n' ||
	    memchr(buf, '\n', len) != buf + len - 1 ||
	    memchr(buf, '\0', len) != NULL)
		return -1;
	end = buf + len - 1;
	if ((sp = memchr(buf, ' ', len)) == NULL)
		return -1;
	for (i = 0; i < sizeof(result_classes) / sizeof(result_classes[0]);
	    i++)
		if ((size_t)(sp - buf) == strlen(result_classes[i]) &&
		    memcmp(buf, result_classes[i], (size_t)(sp - buf)) == 0)
			break;
	if (i == sizeof(result_classes) / sizeof(result_classes[0]))
		return -1;
	res->status = (uint32_t)i;
	buf = sp + 1;
	if ((sp = memchr(buf, ' ', (size_t)(end - buf))) == NULL)
		sp = end;
	n = (size_t)(sp - buf);
	if (!result_estatus_valid(buf, n, digit[i]))
		return -1;
	memcpy(res->estatus, buf, n);
	res->estatus[n] = '\0';
	buf = sp < end ? sp + 1 : end;
	n = (size_t)(end - buf);
	if (n >= sizeof(res->text))
		n = sizeof(res->text) - 1;
	memcpy(res->text, buf, n);
	res->text[n] = '\0';
	text_clean(res->text);
	return 0;
}
