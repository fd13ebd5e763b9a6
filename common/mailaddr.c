/*
 * mailaddr.c: the grammar of RFC 5321 4.1.2 (Path, Mailbox, Local-part,
 * Domain, address-literal) and RFC 3461 xtext, as pure functions.
 *
 * The parser walks the grammar once, left to right, and refuses anything
 * it does not describe; there are no exceptions for "common" mistakes.
 * Failure is a return value, never a log line or an exit.
 *
 * RFC 6531 3.3 extends atext, qtext and the labels of a mailbox's domain
 * with UTF8-non-ascii: a well-formed UTF-8 sequence (RFC 3629: no
 * overlong form, no surrogate, nothing past U+10FFFF) that is not a C1
 * control.  A domain holding one is valid only if libidn2 can turn it
 * into A-labels (IDNA2008), so what passes here can be looked up in the
 * DNS and in the maps.  Whether a transaction may carry such an address
 * (the SMTPUTF8 parameter) is the caller's decision.
 */
#include <arpa/inet.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <idn2.h>

#include "mailaddr.h"
#include "proto.h"
#include "util.h"

/*
 * Length of the UTF8-non-ascii sequence at s (RFC 6532 3.1, RFC 3629 4),
 * 0 if s does not start with one.
 */
size_t
mailaddr_utf8_len(const char *str)
{
	const unsigned char	*s = (const unsigned char *)str;
	uint32_t		 cp;
	size_t			 n, i;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	n = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	cp = s[0] & (n == 2 ? 0x1f : n == 3 ? 0x0f : 0x07);
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp < 0xa0)
		return 0;
	return n;
}

int
mailaddr_is_ascii(const char *s)
{
	return mailaddr_ascii_n(s, strlen(s));
}

int
mailaddr_ascii_n(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 0;
	return 1;
}

/* Length of one atext of RFC 5322 3.2.3 (or RFC 6531) at s, 0 if none. */
static size_t
mailaddr_atext_len(const char *s)
{
	unsigned char	 c = (unsigned char)*s;

	if (c >= 0x80)
		return mailaddr_utf8_len(s);
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~",
	    c) != NULL) ? 1 : 0;
}

/* Letter or digit, ASCII only (isalnum() may follow the locale). */
static int
mailaddr_letdig(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* Length of a dot-string at s (0 if none): atoms joined by single dots. */
static size_t
mailaddr_dotstring_len(const char *s)
{
	size_t	 i = 0, n;

	for (;;) {
		if (mailaddr_atext_len(s + i) == 0)
			return 0;
		while ((n = mailaddr_atext_len(s + i)) != 0)
			i += n;
		if (s[i] != '.')
			return i;
		i++;
	}
}

/* Length of a quoted-string at s including both quotes (0 if none). */
static size_t
mailaddr_quoted_len(const char *s)
{
	size_t		 i = 1, n;
	unsigned char	 c;

	if (s[0] != '"')
		return 0;
	for (;;) {
		c = (unsigned char)s[i];
		if (c == '"')
			return i + 1;
		if (c == '\\') {
			c = (unsigned char)s[i + 1];
			if (c < 32 || c > 126)
				return 0;
			i += 2;
			continue;
		}
		if (c >= 0x80) {
			if ((n = mailaddr_utf8_len(s + i)) == 0)
				return 0;
			i += n;
			continue;
		}
		if (c < 32 || c > 126)
			return 0;
		i++;
	}
}

/* Length of the local part at s (dot-string or quoted-string), 0 if none. */
static size_t
mailaddr_local_len(const char *s)
{
	if (s[0] == '"')
		return mailaddr_quoted_len(s);
	return mailaddr_dotstring_len(s);
}

int
mailaddr_local_valid(const char *s, size_t len)
{
	return len > 0 && len <= MAILADDR_LOCAL_MAX &&
	    mailaddr_local_len(s) == len;
}

int
mailaddr_domain_valid(const char *s, size_t len)
{
	size_t	 i, start = 0;

	if (len == 0 || len > MAILADDR_DOMAIN_MAX)
		return 0;
	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != '.') {
			if (!mailaddr_letdig((unsigned char)s[i]) &&
			    s[i] != '-')
				return 0;
			continue;
		}
		/* a label: s[start..i), 1 to 63 octets, no hyphen at ends */
		if (i == start || i - start > 63 || s[start] == '-' ||
		    s[i - 1] == '-')
			return 0;
		start = i + 1;
	}
	return 1;
}

int
mailaddr_literal_valid(const char *s, size_t len)
{
	char		 buf[64];
	unsigned char	 addr[16];
	const char	*in;
	size_t		 n;
	int		 af = AF_INET;

	if (len < 3 || s[0] != '[' || s[len - 1] != ']')
		return 0;
	in = s + 1;
	n = len - 2;
	if (n > 5 && strncasecmp(in, "IPv6:", 5) == 0) {
		af = AF_INET6;
		in += 5;
		n -= 5;
	}
	if (n == 0 || n >= sizeof(buf))
		return 0;
	memcpy(buf, in, n);
	buf[n] = '\0';
	return inet_pton(af, buf, addr) == 1;
}

/*
 * A domain of n octets at s with U-labels (RFC 6531 3.3): well-formed
 * UTF-8 that libidn2 turns into a valid domain of A-labels.
 */
static int
mailaddr_idn_valid(const char *s, size_t n)
{
	char	 buf[MAILADDR_DOMAIN_MAX + 1], ascii[MAILADDR_DOMAIN_MAX + 1];
	size_t	 i, u;

	if (n == 0 || n > MAILADDR_DOMAIN_MAX)
		return 0;
	for (i = 0; i < n; i += u) {
		u = (unsigned char)s[i] >= 0x80 ? mailaddr_utf8_len(s + i) : 1;
		if (u == 0 || i + u > n)
			return 0;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (mailaddr_is_ascii(buf))
		return 0;
	return mailaddr_domain_ascii(buf, ascii, sizeof(ascii)) == 0;
}

/* Length of a domain or address literal at s, up to one of stop (0: bad). */
static size_t
mailaddr_host_len(const char *s, const char *stop)
{
	size_t	 n;

	if (s[0] == '[') {
		for (n = 1; s[n] != '\0' && s[n] != ']'; n++)
			;
		if (s[n] != ']')
			return 0;
		n++;
		return mailaddr_literal_valid(s, n) ? n : 0;
	}
	n = strcspn(s, stop);
	return mailaddr_domain_valid(s, n) || mailaddr_idn_valid(s, n) ? n : 0;
}

/* Length of a mailbox at s (local "@" host), 0 if none. */
static size_t
mailaddr_mailbox_len(const char *s, const char *stop)
{
	size_t	 l, h;

	l = mailaddr_local_len(s);
	if (l == 0 || s[l] != '@')
		return 0;
	h = mailaddr_host_len(s + l + 1, stop);
	if (h == 0)
		return 0;
	return l + 1 + h;
}

int
mailaddr_mailbox_valid(const char *s)
{
	size_t	 n = mailaddr_mailbox_len(s, "");
	size_t	 l = mailaddr_local_len(s);

	return n != 0 && s[n] == '\0' && l <= MAILADDR_LOCAL_MAX &&
	    n - l - 1 <= MAILADDR_DOMAIN_MAX && n + 2 <= MAILADDR_PATH_MAX;
}

int
mailaddr_rcpt_valid(const char *s)
{
	return strcasecmp(s, "postmaster") == 0 || mailaddr_mailbox_valid(s);
}

/* A user name and detail: no '@', '/', blank or control octet. */
static int
mailaddr_user_valid(const char *s)
{
	const char	*p;

	if (s[0] == '\0' || s[0] == '-' || s[0] == '.' || s[0] == '+' ||
	    strlen(s) >= MAILADDR_LOCAL_MAX * 4)
		return 0;
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f ||
		    *p == '@' || *p == '/' || *p == '|' || *p == ':')
			return 0;
	return 1;
}

int
mailaddr_target_valid(uint32_t kind, const char *value)
{
	size_t	 n = strlen(value);

	if (n == 0 || n >= MAILADDR_TARGET_MAX || !text_is_clean(value))
		return 0;
	switch (kind) {
	case TARGET_REMOTE:
	case TARGET_ERROR:
		return mailaddr_mailbox_valid(value);
	case TARGET_MAILBOX:
		/* "\\user": sendmail's mark for "not through .forward" */
		return mailaddr_user_valid(value + (value[0] == '\\'));
	case TARGET_PROGRAM:
		return value[0] == '|' && value[1] != '\0';
	case TARGET_FILE:
		return value[0] == '/';
	case TARGET_INCLUDE:
		return strncmp(value, ":include:/", 10) == 0;
	default:
		return 0;
	}
}

int
mailaddr_helo_valid(const char *s)
{
	size_t	 n = strlen(s);

	if (s[0] == '[')
		return mailaddr_literal_valid(s, n);
	return mailaddr_domain_valid(s, n);
}

/* Skip a source route ("@dom,@dom:"); returns its length, 0 if bad. */
static size_t
mailaddr_route_len(const char *s)
{
	size_t	 i = 0, n;

	for (;;) {
		if (s[i] != '@')
			return 0;
		n = strcspn(s + i + 1, ",:>");
		if (!mailaddr_domain_valid(s + i + 1, n))
			return 0;
		i += 1 + n;
		if (s[i] == ':')
			return i + 1;
		if (s[i] != ',')
			return 0;
		i++;
	}
}

/* Copy n octets to out as a string; MAILADDR_TOOLONG if it does not fit. */
static enum mailaddr_result
mailaddr_copy(char *out, size_t outsize, const char *s, size_t n)
{
	if (n >= outsize)
		return MAILADDR_TOOLONG;
	memcpy(out, s, n);
	out[n] = '\0';
	return MAILADDR_OK;
}

/* The special RCPT TO:<Postmaster> of RFC 5321 4.1.1.3. */
static int
mailaddr_is_postmaster(const char *s)
{
	return strncasecmp(s, "<postmaster>", 12) == 0;
}

enum mailaddr_result
mailaddr_path_parse(const char *s, int flags, char *out, size_t outsize,
    const char **end)
{
	const char	*p;
	size_t		 n, l;

	if (s[0] != '<')
		return MAILADDR_SYNTAX;
	if (s[1] == '>') {
		if (!(flags & MAILADDR_F_NULL))
			return MAILADDR_SYNTAX;
		*end = s + 2;
		return mailaddr_copy(out, outsize, "", 0);
	}
	if ((flags & MAILADDR_F_POSTMASTER) && mailaddr_is_postmaster(s)) {
		*end = s + 12;
		return mailaddr_copy(out, outsize, s + 1, 10);
	}
	p = s + 1;
	if (*p == '@') {
		if ((n = mailaddr_route_len(p)) == 0)
			return MAILADDR_SYNTAX;
		p += n;
	}
	if ((n = mailaddr_mailbox_len(p, ">")) == 0 || p[n] != '>')
		return MAILADDR_SYNTAX;
	l = mailaddr_local_len(p);
	if (l > MAILADDR_LOCAL_MAX || n - l - 1 > MAILADDR_DOMAIN_MAX ||
	    (size_t)(p + n + 1 - s) > MAILADDR_PATH_MAX)
		return MAILADDR_TOOLONG;
	*end = p + n + 1;
	return mailaddr_copy(out, outsize, p, n);
}

int
mailaddr_xtext_valid(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '+') {
			if (hex_upper_value((unsigned char)s[1]) < 0 ||
			    hex_upper_value((unsigned char)s[2]) < 0)
				return 0;
			s += 2;
			continue;
		}
		if (*s < 33 || *s > 126 || *s == '=')
			return 0;
	}
	return 1;
}

int
mailaddr_xtext_decode(const char *s, char *out, size_t outsize)
{
	size_t	 n = 0;
	int	 c;

	if (!mailaddr_xtext_valid(s))
		return -1;
	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (c == '+') {
			c = hex_upper_value((unsigned char)s[1]) * 16 +
			    hex_upper_value((unsigned char)s[2]);
			s += 2;
		}
		if (c < 0x20 || c > 0x7e || n + 1 >= outsize)
			return -1;
		out[n++] = (char)c;
	}
	if (outsize == 0)
		return -1;
	out[n] = '\0';
	return 0;
}

int
mailaddr_xtext_encode(const char *s, char *out, size_t outsize)
{
	static const char	 hex[] = "0123456789ABCDEF";
	size_t			 n = 0;
	unsigned char		 c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (c >= 33 && c <= 126 && c != '+' && c != '=') {
			if (n + 1 >= outsize)
				return -1;
			out[n++] = (char)c;
			continue;
		}
		if (n + 3 >= outsize)
			return -1;
		out[n++] = '+';
		out[n++] = hex[c >> 4];
		out[n++] = hex[c & 0x0f];
	}
	if (n >= outsize)
		return -1;
	out[n] = '\0';
	return (int)n;
}

/*
 * Routing hidden in a local part: "@" (only inside a quoted string),
 * "%" (the percent hack) and "!" (UUCP bang paths) name another host
 * that a next hop may honour.  A quoted pair stands for its octet, so
 * an escaped "\@" counts as well.
 */
int
mailaddr_local_has_routing(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len && s[i] != '\0'; i++)
		if (s[i] == '@' || s[i] == '%' || s[i] == '!')
			return 1;
	return 0;
}

int
mailaddr_domain_ascii(const char *domain, char *out, size_t outsize)
{
	char	*a = NULL;
	size_t	 i, n;
	int	 rc;

	if (mailaddr_is_ascii(domain)) {
		n = strlen(domain);
		if (n >= outsize)
			return -1;
		for (i = 0; i <= n; i++)
			out[i] = (char)tolower((unsigned char)domain[i]);
		return 0;
	}
	rc = idn2_to_ascii_8z(domain, &a, IDN2_NFC_INPUT |
	    IDN2_NONTRANSITIONAL);
	if (rc != IDN2_OK)
		return -1;
	n = strlen(a);
	rc = n < outsize && mailaddr_domain_valid(a, n) ? 0 : -1;
	for (i = 0; rc == 0 && i <= n; i++)
		out[i] = (char)tolower((unsigned char)a[i]);
	idn2_free(a);
	return rc;
}

/* A hex digit of either case (ABNF's HEXDIG), -1 if none. */
static int
mailaddr_hexdig(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * The code point of the EmbeddedUnicodeChar "\x{HEX}" at s and its
 * length; -1 unless it is one of RFC 6533's HEXPOINTs: two digits for
 * the xtext specials, "\" and U+0080..U+00FF, else no leading zero and
 * no surrogate.
 */
static long
mailaddr_hexpoint(const char *s, size_t *len)
{
	long	 cp = 0;
	size_t	 n;
	int	 v;

	if (strncmp(s, "\\x{", 3) != 0)
		return -1;
	for (n = 0; n < 7; n++) {
		if ((v = mailaddr_hexdig((unsigned char)s[3 + n])) < 0)
			break;
		cp = cp * 16 + v;
	}
	if (s[3 + n] != '}' || n < 2 || n > 6)
		return -1;
	*len = n + 4;
	if (n == 2)
		return (cp >= 0x01 && cp <= 0x09) || (cp >= 0x10 &&
		    cp <= 0x19) || cp == 0x20 || cp == 0x2b || cp == 0x3d ||
		    cp == 0x5c || cp >= 0x7f ? cp : -1;
	if ((n == 3 && cp < 0x100) || (n == 4 && (cp < 0x1000 ||
	    (cp >= 0xd800 && cp <= 0xdfff))) || (n == 5 && cp < 0x10000) ||
	    (n == 6 && (cp < 0x100000 || cp > 0x10ffff)))
		return -1;
	return cp;
}

/* Append the UTF-8 form of cp; -1 if it does not fit. */
static int
mailaddr_utf8_put(long cp, char *out, size_t outsize, size_t *n)
{
	unsigned char	 b[4];
	size_t		 l, i;

	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		l = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | (cp >> 6));
		b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		l = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | (cp >> 12));
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		l = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | (cp >> 18));
		b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (unsigned char)(0x80 | (cp & 0x3f));
		l = 4;
	}
	if (*n + l >= outsize)
		return -1;
	for (i = 0; i < l; i++)
		out[(*n)++] = (char)b[i];
	return 0;
}

int
mailaddr_uxtext_decode(const char *s, int unitext, char *out, size_t outsize)
{
	size_t	 n = 0, len;
	long	 cp;
	int	 c;

	while ((c = (unsigned char)*s) != '\0') {
		if (c >= 0x80) {
			/* utf-8-addr-unitext: only where SMTPUTF8 is */
			if (!unitext || (len = mailaddr_utf8_len(s)) == 0 ||
			    n + len >= outsize)
				return -1;
			memcpy(out + n, s, len);
			n += len;
			s += len;
			continue;
		}
		if (c == '\\')
			cp = mailaddr_hexpoint(s, &len);
		else if (c > 0x20 && c < 0x7f && c != '+' && c != '=') {
			cp = c;
			len = 1;
		} else
			cp = -1;
		if (cp == -1 || mailaddr_utf8_put(cp, out, outsize, &n) == -1)
			return -1;
		s += len;
	}
	if (n == 0 || n >= outsize)
		return -1;
	out[n] = '\0';
	return mailaddr_mailbox_valid(out) ? 0 : -1;
}

/* The code point of the l-octet UTF-8 character at s. */
static long
mailaddr_utf8_cp(const unsigned char *s, size_t l)
{
	long	 cp = s[0] & (l == 2 ? 0x1f : l == 3 ? 0x0f : 0x07);
	size_t	 i;

	for (i = 1; i < l; i++)
		cp = (cp << 6) | (s[i] & 0x3f);
	return cp;
}

int
mailaddr_uxtext_encode(const char *s, int unitext, char *out, size_t outsize)
{
	size_t	 n = 0, l;
	long	 cp;
	int	 c, w;

	while ((c = (unsigned char)*s) != '\0') {
		l = 1;
		cp = c;
		if (c >= 0x80 && (l = mailaddr_utf8_len(s)) == 0)
			return -1;
		if (l > 1)
			cp = mailaddr_utf8_cp((const unsigned char *)s, l);
		if ((l > 1 && unitext) || (l == 1 && c > 0x20 && c < 0x7f &&
		    c != '\\' && c != '+' && c != '=')) {
			if (n + l >= outsize)
				return -1;
			memcpy(out + n, s, l);
			n += l;
		} else {
			w = snprintf(out + n, outsize - n, "\\x{%02lX}", cp);
			if (w < 0 || (size_t)w >= outsize - n)
				return -1;
			n += (size_t)w;
		}
		s += l;
	}
	if (outsize == 0)
		return -1;
	out[n] = '\0';
	return (int)n;
}
