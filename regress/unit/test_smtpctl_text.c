/*
 * test_smtpctl_text.c: smtpctl's printing of the daemon's answer lines
 * (smtpd/ctl/smtpctl_text.c).
 *
 * Proves that printable ASCII comes out unchanged, that ESC, BEL, CR, the
 * other C0 controls, DEL and every 8-bit octet (C1 controls such as CSI
 * 0x9b included) are printed as \ooo, and that a backslash is doubled, so
 * that a literal "\033" in a line cannot pass for an escaped ESC.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpctl.h"
#include "unit.h"

static int
prints_as(const char *in, const char *want)
{
	char	*out = NULL;
	size_t	 len = 0;
	FILE	*fp;
	int	 ok;

	if ((fp = open_memstream(&out, &len)) == NULL)
		return 0;
	smtpctl_text_print(fp, in);
	(void)fclose(fp);
	ok = out != NULL && strcmp(out, want) == 0;
	if (!ok)
		(void)printf("     got \"%s\"\n", out != NULL ? out : "(null)");
	free(out);
	return ok;
}

static void
test_plain(void)
{
	UNIT_CHECK(prints_as("", ""), "empty line");
	UNIT_CHECK(prints_as("smtp.sessions=3", "smtp.sessions=3"),
	    "a stats line unchanged");
	UNIT_CHECK(prints_as("0123456789abcdef|01234567|relay|pending|"
	    "<a@b.example>|x ~!@#$%^&*()_+{}[]:;\"'<>,.?/",
	    "0123456789abcdef|01234567|relay|pending|"
	    "<a@b.example>|x ~!@#$%^&*()_+{}[]:;\"'<>,.?/"),
	    "every printable ASCII octet but the backslash unchanged");
}

static void
test_controls(void)
{
	UNIT_CHECK(prints_as("\x1b[2J\x1b]0;owned\x07",
	    "\\033[2J\\033]0;owned\\007"), "ESC and BEL escaped");
	UNIT_CHECK(prints_as("a\rb\nc\td", "a\\015b\\012c\\011d"),
	    "CR, LF and TAB escaped");
	UNIT_CHECK(prints_as("\x01\x1f\x7f", "\\001\\037\\177"),
	    "C0 bounds and DEL escaped");
	UNIT_CHECK(prints_as("\x9b" "31m", "\\23331m"),
	    "8-bit CSI escaped");
	UNIT_CHECK(prints_as("caf\xc3\xa9", "caf\\303\\251"),
	    "8-bit octets escaped");
}

static void
test_backslash(void)
{
	UNIT_CHECK(prints_as("\\033", "\\\\033"),
	    "a literal backslash doubled");
	UNIT_CHECK(prints_as("\\", "\\\\"), "a lone backslash doubled");
}

int
main(void)
{
	test_plain();
	test_controls();
	test_backslash();
	return unit_done();
}
