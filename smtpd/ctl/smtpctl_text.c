/*
 * smtpctl_text.c: how smtpctl(8) prints what the daemon sends.
 *
 * The answer lines come from the children, and a child that is not what
 * it should be could send terminal escapes to root's terminal.  So every
 * octet outside printable ASCII is printed as a backslash and three octal
 * digits (ESC is \033, and an 8-bit octet such as 0xe9 is \351), and a
 * backslash itself as \\, so that the output can be read back without
 * doubt.  Printable ASCII, the only text the daemon means to send, comes
 * out unchanged.
 */
#include <stdio.h>

#include "smtpctl.h"

void
smtpctl_text_print(FILE *fp, const char *s)
{
	const unsigned char	*p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '\\')
			(void)fputs("\\\\", fp);
		else if (*p >= 0x20 && *p <= 0x7e)
			(void)fputc(*p, fp);
		else
			(void)fprintf(fp, "\\%03o", *p);
	}
}
