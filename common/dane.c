/*
 * dane.c: a TLSA record against a certificate (RFC 6698 2.1, RFC 7671).
 *
 * The selector picks what is compared: the whole certificate (0) or its
 * SubjectPublicKeyInfo (1), both in DER; the matching type how: octet
 * for octet (0), or by SHA-256 (1) or SHA-512 (2) of it.  A digest whose
 * length is not the algorithm's, or an unknown selector or type, makes
 * the record unusable, which RFC 7671 4.1 says to skip, not to fail on.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "dane.h"

int
dane_tlsa_parse(const uint8_t *rdata, size_t len, struct dane_tlsa *t)
{
	if (len < 4 || len - 3 > DANE_DATA_MAX)
		return -1;
	t->usage = rdata[0];
	t->selector = rdata[1];
	t->mtype = rdata[2];
	t->len = len - 3;
	(void)memcpy(t->data, rdata + 3, t->len);
	return 0;
}

/* The DER the selector names, allocated by OpenSSL; -1 on failure. */
static int
dane_selected(uint8_t selector, X509 *cert, unsigned char **der)
{
	*der = NULL;
	if (selector == 0)
		return i2d_X509(cert, der);
	if (selector == 1)
		return i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), der);
	return -1;
}

int
dane_tlsa_match(const struct dane_tlsa *t, X509 *cert)
{
	const EVP_MD	*md = NULL;
	unsigned char	*der, digest[EVP_MAX_MD_SIZE];
	unsigned int	 dlen;
	int		 n, r;

	if (t->selector > 1 || t->mtype > 2)
		return -1;
	if (t->mtype == 1)
		md = EVP_sha256();
	else if (t->mtype == 2)
		md = EVP_sha512();
	if (md != NULL && t->len != (size_t)EVP_MD_get_size(md))
		return -1;
	if ((n = dane_selected(t->selector, cert, &der)) <= 0)
		return 0;
	if (md == NULL)
		r = (size_t)n == t->len && memcmp(der, t->data, t->len) == 0;
	else
		r = EVP_Digest(der, (size_t)n, digest, &dlen, md, NULL) == 1 &&
		    dlen == t->len && memcmp(digest, t->data, t->len) == 0;
	OPENSSL_free(der);
	return r;
}

const char *
dane_usage_name(uint8_t usage)
{
	static const char *const names[] = {
		"PKIX-TA", "PKIX-EE", "DANE-TA", "DANE-EE"
	};

	return usage < 4 ? names[usage] : "unknown";
}
