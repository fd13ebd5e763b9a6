/*
 * smtp_proxy_tls.c: the TLS facts in a PROXY version 2 header's TLVs,
 * for a proxy that ends the client's TLS itself (HAProxy's
 * "proxy-v2-options ssl,cert-cn,ssl-cipher").
 *
 * The PP2_TYPE_SSL TLV holds a client byte (bit 0: the client spoke TLS;
 * bits 1 and 2: it gave a certificate on this connection or session), a
 * verify word (0: the certificate verified) and its own TLVs: version,
 * the certificate's CN, the cipher.  They become the session's ${verify}
 * (OK, FAIL, or NOT when no certificate was given: whether the proxy
 * asked for one is not said), ${tls_version}, ${cipher} and
 * ${cn_subject}; the proxy gives neither the key size, so ${cipher_bits}
 * is 0 and an ENCR requirement is not met, nor the subject and issuer
 * DNs, so CERTISSUER/CERTSUBJECT never match.  Only a trusted proxy's
 * header gets here (smtp_proxy.c).
 *
 * Failure behaviour: a TLV that overruns its parent, a value with a NUL
 * or a control, or one too long for the facts makes the header
 * malformed (-1), and the connection is closed by the caller.
 */
#include <stdint.h>
#include <string.h>

#include "macro.h"
#include "smtp_proxy.h"
#include "smtp_session.h"

#define SMTP_PROXY_TLV_SSL		0x20
#define SMTP_PROXY_TLV_SSL_VERSION	0x21
#define SMTP_PROXY_TLV_SSL_CN		0x22
#define SMTP_PROXY_TLV_SSL_CIPHER	0x23
#define SMTP_PROXY_SSL_CLIENT_TLS	0x01
#define SMTP_PROXY_SSL_CLIENT_CERT	0x06	/* this connection or session */

/* The next TLV of t (len left): its type, value and length; -1 if it
 * does not fit, 0 at the end. */
static int
smtp_proxy_tls_next(const uint8_t **t, size_t *len, uint8_t *type,
    const uint8_t **value, size_t *vlen)
{
	if (*len == 0)
		return 0;
	if (*len < 3)
		return -1;
	*type = (*t)[0];
	*vlen = ((size_t)(*t)[1] << 8) | (*t)[2];
	if (*vlen > *len - 3)
		return -1;
	*value = *t + 3;
	*t += 3 + *vlen;
	*len -= 3 + *vlen;
	return 1;
}

/* A printable value into out; -1 if it has a control or does not fit. */
static int
smtp_proxy_tls_text(const uint8_t *v, size_t n, char *out, size_t size)
{
	size_t	 i;

	if (n >= size)
		return -1;
	for (i = 0; i < n; i++)
		if (v[i] < 0x20 || v[i] == 0x7f)
			return -1;
	(void)memcpy(out, v, n);
	out[n] = '\0';
	return 0;
}

/* The sub-TLVs of PP2_TYPE_SSL; others (signature and key algorithms)
 * are framed and skipped. */
static int
smtp_proxy_tls_ssl(const uint8_t *t, size_t len, struct smtp_tls *out)
{
	const uint8_t	*v;
	size_t		 n;
	uint8_t		 type;
	char		 cn[TLS_DN_MAX];
	int		 r;

	while ((r = smtp_proxy_tls_next(&t, &len, &type, &v, &n)) == 1) {
		if (type == SMTP_PROXY_TLV_SSL_VERSION &&
		    smtp_proxy_tls_text(v, n, out->protocol,
		    sizeof(out->protocol)) == -1)
			return -1;
		if (type == SMTP_PROXY_TLV_SSL_CIPHER &&
		    smtp_proxy_tls_text(v, n, out->cipher,
		    sizeof(out->cipher)) == -1)
			return -1;
		if (type == SMTP_PROXY_TLV_SSL_CN) {
			if (smtp_proxy_tls_text(v, n, cn, sizeof(cn)) == -1)
				return -1;
			(void)macro_encode(cn, out->cn_subject,
			    sizeof(out->cn_subject));
		}
	}
	return r;
}

int
smtp_proxy_tls_parse(const uint8_t *t, size_t len, struct smtp_tls *out)
{
	const uint8_t	*v;
	size_t		 n;
	uint32_t	 verify;
	uint8_t		 type;
	int		 r, found = 0;

	memset(out, 0, sizeof(*out));
	while ((r = smtp_proxy_tls_next(&t, &len, &type, &v, &n)) == 1) {
		if (type != SMTP_PROXY_TLV_SSL)
			continue;
		if (found || n < 5)
			return -1;
		found = 1;
		if (!(v[0] & SMTP_PROXY_SSL_CLIENT_TLS))
			continue;
		verify = ((uint32_t)v[1] << 24) | ((uint32_t)v[2] << 16) |
		    ((uint32_t)v[3] << 8) | v[4];
		if (!(v[0] & SMTP_PROXY_SSL_CLIENT_CERT))
			(void)strlcpy(out->verify, "NOT", sizeof(out->verify));
		else
			(void)strlcpy(out->verify, verify == 0 ? "OK" : "FAIL",
			    sizeof(out->verify));
		if (smtp_proxy_tls_ssl(v + 5, n - 5, out) == -1)
			return -1;
		/* a TLS client that the proxy could not name the version
		 * of still spoke TLS */
		if (out->protocol[0] == '\0')
			(void)strlcpy(out->protocol, "TLS",
			    sizeof(out->protocol));
	}
	if (r == -1)
		return -1;
	return out->verify[0] != '\0';
}
