/*
 * tls_text.c: sendmail's textual TLS macro values, as pure functions.
 *
 * tls_text_dn() renders a distinguished name in the classic "oneline"
 * form (spec 5.3): "/SN=value" per entry in certificate order, octets
 * outside 0x20-0x7E as "\xHH", at most 255 octets, cut at an entry
 * boundary.  It never uses the library's own printer, whose output
 * changed in OpenSSL 3.  tls_text_cn() gives the first commonName with
 * sendmail's three special values.  All four certificate macros get the
 * +XX encoding of spec 5.2 (macro_encode(), common/macro.c, which
 * smtpctl explain shares).
 *
 * Failure: none; every output is bounded and NUL-terminated (an output
 * buffer too small for the encoding is cut at a whole "+XX").
 */
#include <stdio.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "config.h"
#include "macro.h"
#include "tlsproxy.h"

#define TLS_CN_TOOLONG		255	/* sendmail: MAXNAME - 1 */

static const char	 tls_hex[] = "0123456789ABCDEF";

/*
 * The octets of an entry value as the classic printer saw them: a BMP or
 * Universal string whose characters all fit in one octet is narrowed,
 * anything else is taken as it is.
 */
static size_t
tls_text_value(const ASN1_STRING *v, unsigned char *out, size_t size)
{
	const unsigned char	*d = ASN1_STRING_get0_data(v);
	size_t			 len = (size_t)ASN1_STRING_length(v), i, w = 1;
	size_t			 n = 0, k;

	if (ASN1_STRING_type(v) == V_ASN1_BMPSTRING && len % 2 == 0)
		w = 2;
	else if (ASN1_STRING_type(v) == V_ASN1_UNIVERSALSTRING &&
	    len % 4 == 0)
		w = 4;
	for (i = 0; w > 1 && i < len; i += w)
		for (k = 0; k < w - 1; k++)
			if (d[i + k] != 0)
				w = 1;
	for (i = w - 1; i < len && n < size; i += w)
		out[n++] = d[i];
	return n;
}

/* "/SN=value" of one entry into buf; its length, 0 if it does not fit. */
static size_t
tls_text_entry(const X509_NAME_ENTRY *e, char *buf, size_t size)
{
	const ASN1_OBJECT	*obj = X509_NAME_ENTRY_get_object(e);
	unsigned char		 raw[1024];
	char			 sn[80];
	size_t			 len, i, n;
	int			 nid = OBJ_obj2nid(obj);

	if (nid != NID_undef)
		(void)strlcpy(sn, OBJ_nid2sn(nid), sizeof(sn));
	else if (OBJ_obj2txt(sn, sizeof(sn), obj, 1) <= 0)
		(void)strlcpy(sn, "UNDEF", sizeof(sn));
	len = tls_text_value(X509_NAME_ENTRY_get_data(e), raw, sizeof(raw));
	n = (size_t)snprintf(buf, size, "/%s=", sn);
	if (n >= size)
		return 0;
	for (i = 0; i < len; i++) {
		if (raw[i] < 0x20 || raw[i] > 0x7e) {
			if (n + 4 >= size)
				return 0;
			buf[n++] = '\\';
			buf[n++] = 'x';
			buf[n++] = tls_hex[raw[i] >> 4];
			buf[n++] = tls_hex[raw[i] & 0xf];
		} else {
			if (n + 1 >= size)
				return 0;
			buf[n++] = (char)raw[i];
		}
	}
	buf[n] = '\0';
	return n;
}

/* The classic oneline DN (not yet +XX encoded); returns its length. */
size_t
tls_text_dn(const X509_NAME *name, char *out, size_t size)
{
	char	 one[TLS_DN_MAX];
	size_t	 n = 0, len;
	int	 i, count;

	if (size > TLS_DN_MAX)
		size = TLS_DN_MAX;
	if (size == 0)
		return 0;
	out[0] = '\0';
	count = X509_NAME_entry_count(name);
	for (i = 0; i < count; i++) {
		len = tls_text_entry(X509_NAME_get_entry(name, i), one,
		    sizeof(one));
		if (len == 0 || n + len >= size)
			break;
		memcpy(out + n, one, len + 1);
		n += len;
	}
	return n;
}

/* The raw first commonName, or sendmail's word for why there is none. */
void
tls_text_cn(const X509_NAME *name, char *out, size_t size)
{
	const ASN1_STRING	*v;
	const unsigned char	*d;
	size_t			 len;
	int			 i;

	i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	if (i < 0) {
		(void)strlcpy(out, "BadCertificateUnknown", size);
		return;
	}
	v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	d = ASN1_STRING_get0_data(v);
	len = (size_t)ASN1_STRING_length(v);
	if (len >= TLS_CN_TOOLONG)
		(void)strlcpy(out, "BadCertificateTooLong", size);
	else if (memchr(d, '\0', len) != NULL)
		(void)strlcpy(out, "BadCertificateContainsNUL", size);
	else if (len >= size)
		(void)strlcpy(out, "BadCertificateTooLong", size);
	else {
		memcpy(out, d, len);
		out[len] = '\0';
	}
}

/* SHA-256 of the DER certificate as "AB:CD:..."; -1 on failure. */
int
tls_text_fingerprint(X509 *x, char *out, size_t size)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 len, i;

	if (size < TLS_FP_MAX || X509_digest(x, EVP_sha256(), md, &len) != 1)
		return -1;
	for (i = 0; i < len && 3 * i + 2 < size; i++) {
		out[3 * i] = tls_hex[md[i] >> 4];
		out[3 * i + 1] = tls_hex[md[i] & 0xf];
		out[3 * i + 2] = i + 1 < len ? ':' : '\0';
	}
	return 0;
}

/* An SNI we may log and pass on: a host name (RFC 6066 3: no address). */
int
tls_text_hostname_valid(const char *s)
{
	return config_domain_valid(s) && strlen(s) < TLS_NAME_MAX &&
	    strspn(s, "0123456789.") != strlen(s);
}

/* The four certificate macros and the fingerprint of the peer's cert. */
void
tls_text_peer(X509 *x, struct tls_facts *f)
{
	char	 raw[TLS_DN_MAX];

	(void)tls_text_dn(X509_get_subject_name(x), raw, sizeof(raw));
	(void)macro_encode(raw, f->subject, sizeof(f->subject));
	(void)tls_text_dn(X509_get_issuer_name(x), raw, sizeof(raw));
	(void)macro_encode(raw, f->issuer, sizeof(f->issuer));
	tls_text_cn(X509_get_subject_name(x), raw, sizeof(raw));
	(void)macro_encode(raw, f->cn_subject, sizeof(f->cn_subject));
	tls_text_cn(X509_get_issuer_name(x), raw, sizeof(raw));
	(void)macro_encode(raw, f->cn_issuer, sizeof(f->cn_issuer));
	if (tls_text_fingerprint(x, f->fingerprint,
	    sizeof(f->fingerprint)) == -1)
		f->fingerprint[0] = '\0';
}
