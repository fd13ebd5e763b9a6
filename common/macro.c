/*
 * macro.c: sendmail's +XX encoding of a macro value (spec 5.2), the form
 * in which ${cert_subject}, ${cert_issuer}, ${cn_subject} and
 * ${cn_issuer} are matched against the access map.  tlsproxy encodes the
 * certificates it sees with it, and smtpctl explain the names an admin
 * types, so that both give the same keys.
 *
 * Failure: none; the output is bounded and NUL-terminated, and a buffer
 * too small for the encoding is cut at a whole "+XX".
 */
#include <string.h>

#include "macro.h"

static const char	 macro_hex[] = "0123456789ABCDEF";

/* 1 if the octet is written as +XX (spec 5.2). */
static int
macro_special(unsigned char c)
{
	return c < 0x21 || c > 0x7e || strchr("+\\()<>\"", c) != NULL;
}

size_t
macro_encode(const char *s, char *out, size_t size)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n = 0;

	if (size == 0)
		return 0;
	for (; *p != '\0'; p++) {
		if (macro_special(*p)) {
			if (n + 3 >= size)
				break;
			out[n++] = '+';
			out[n++] = macro_hex[*p >> 4];
			out[n++] = macro_hex[*p & 0xf];
		} else {
			if (n + 1 >= size)
				break;
			out[n++] = (char)*p;
		}
	}
	out[n] = '\0';
	return n;
}
