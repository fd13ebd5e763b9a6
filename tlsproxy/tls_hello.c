/*
 * tls_hello.c: the first record a TLS client sends, read (peeked) before
 * any handshake, for two reasons: a peer that sends something else
 * (an SMTP command, HTTP, noise) is told apart from a failed handshake
 * (${verify} PROTOCOL), and the SNI it asks for chooses the pki before
 * libtls sees the connection (RFC 8446 4.1.2, RFC 6066 3).
 *
 * tls_hello_parse() looks only at the first record.  A server_name
 * extension outside it (a ClientHello split over records) counts as no
 * SNI.  An SNI that is not a host name is reported as invalid and never
 * copied out, so it is neither logged nor passed on.
 *
 * Failure: none; every length is checked against what was read.
 */
#include <string.h>

#include "tlsproxy.h"

#define TLS_REC_HANDSHAKE	22
#define TLS_HS_CLIENT_HELLO	1
#define TLS_EXT_SERVER_NAME	0
#define TLS_SNI_HOST_NAME	0
#define TLS_REC_MAX		(16384 + 2048)

/* A cursor over the octets of the record that have arrived. */
struct tls_hello_cur {
	const uint8_t	*p;
	size_t		 left;
	int		 short_read;	/* ran past what arrived */
};

static uint32_t
tls_hello_get(struct tls_hello_cur *c, size_t n)
{
	uint32_t	 v = 0;
	size_t		 i;

	if (c->left < n) {
		c->short_read = 1;
		c->left = 0;
		return 0;
	}
	for (i = 0; i < n; i++)
		v = v << 8 | c->p[i];
	c->p += n;
	c->left -= n;
	return v;
}

static void
tls_hello_skip(struct tls_hello_cur *c, size_t n)
{
	if (c->left < n) {
		c->short_read = 1;
		c->left = 0;
		return;
	}
	c->p += n;
	c->left -= n;
}

/* The server_name extension's host name, validated. */
static void
tls_hello_sni(struct tls_hello_cur *c, size_t extlen, char *sni,
    size_t size, int *invalid)
{
	char	 name[TLS_NAME_MAX];
	size_t	 len;

	if (extlen < 5 || c->left < extlen) {
		*invalid = 1;
		return;
	}
	(void)tls_hello_get(c, 2);		/* list length */
	if (tls_hello_get(c, 1) != TLS_SNI_HOST_NAME) {
		*invalid = 1;
		return;
	}
	len = tls_hello_get(c, 2);
	if (len == 0 || len >= sizeof(name) || len > extlen - 5) {
		*invalid = 1;
		return;
	}
	memcpy(name, c->p, len);
	name[len] = '\0';
	if (memchr(name, '\0', len) != NULL || !tls_text_hostname_valid(name))
		*invalid = 1;
	else
		(void)strlcpy(sni, name, size);
}

/* Walk the extensions for server_name. */
static void
tls_hello_extensions(struct tls_hello_cur *c, char *sni, size_t size,
    int *invalid)
{
	struct tls_hello_cur	 ext;
	size_t			 total, type, len;

	total = tls_hello_get(c, 2);
	while (total >= 4 && !c->short_read) {
		type = tls_hello_get(c, 2);
		len = tls_hello_get(c, 2);
		total -= 4;
		if (c->short_read || len > total)
			return;
		if (len > c->left) {
			c->short_read = 1;
			return;
		}
		if (type == TLS_EXT_SERVER_NAME) {
			ext.p = c->p;
			ext.left = len;
			ext.short_read = 0;
			tls_hello_sni(&ext, len, sni, size, invalid);
			return;
		}
		tls_hello_skip(c, len);
		total -= len;
	}
}

enum tls_hello_result
tls_hello_parse(const uint8_t *buf, size_t len, char *sni, size_t size,
    int *invalid)
{
	struct tls_hello_cur	 c;
	size_t			 reclen;

	sni[0] = '\0';
	*invalid = 0;
	if (len >= 1 && buf[0] != TLS_REC_HANDSHAKE)
		return TLS_HELLO_GARBAGE;
	if (len >= 2 && buf[1] != 3)
		return TLS_HELLO_GARBAGE;
	if (len < 5)
		return TLS_HELLO_MORE;
	reclen = (size_t)buf[3] << 8 | buf[4];
	if (reclen < 4 || reclen > TLS_REC_MAX)
		return TLS_HELLO_GARBAGE;
	if (len > 5 && buf[5] != TLS_HS_CLIENT_HELLO)
		return TLS_HELLO_GARBAGE;
	c.p = buf + 5;
	c.left = len - 5 < reclen ? len - 5 : reclen;
	c.short_read = 0;
	(void)tls_hello_get(&c, 4);		/* type, length */
	(void)tls_hello_get(&c, 2 + 32);	/* version, random */
	tls_hello_skip(&c, tls_hello_get(&c, 1));	/* session id */
	tls_hello_skip(&c, tls_hello_get(&c, 2));	/* cipher suites */
	tls_hello_skip(&c, tls_hello_get(&c, 1));	/* compression */
	if (!c.short_read && c.left > 0)
		tls_hello_extensions(&c, sni, size, invalid);
	else if (!c.short_read && len - 5 < reclen)
		c.short_read = 1;	/* the extensions are yet to come */
	if (c.short_read && len - 5 < reclen) {
		sni[0] = '\0';
		*invalid = 0;
		return TLS_HELLO_MORE;
	}
	return TLS_HELLO_DONE;
}
