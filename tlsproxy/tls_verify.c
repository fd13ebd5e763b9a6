/*
 * tls_verify.c: ${verify} for a finished handshake (spec 3.5).
 *
 * libtls runs every handshake without checking the peer, so that a
 * presented but untrusted certificate still completes it; this module
 * then checks the chain the peer sent against the CA set (ca file and
 * the certificates of the hashed ca path, all trusted alike) with
 * libcrypto:
 *   OK    a certificate was presented and its chain verified
 *   FAIL  one was presented and did not verify (expired, unknown CA...)
 *   NO    none was presented although one was asked for
 *   NOT   none was asked for (server side without "verify")
 * Host names are checked only when the client asks (TLS_F_VERIFY_NAME,
 * for MTA-STS: tls_verify_name()); sendmail checks none.
 *
 * Failure: a chain that does not parse is FAIL with its reason; memory
 * trouble is TEMP.  Nothing here ends the process.
 */
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "tlsproxy.h"

/* Every certificate of a PEM buffer into a stack; NULL if none parse. */
static STACK_OF(X509) *
tls_verify_pem_certs(const uint8_t *pem, size_t len)
{
	STACK_OF(X509)	*sk;
	BIO		*bio;
	X509		*x;

	if (len == 0 || len > INT32_MAX ||
	    (bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return NULL;
	if ((sk = sk_X509_new_null()) == NULL) {
		BIO_free(bio);
		return NULL;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		if (sk_X509_push(sk, x) == 0) {
			X509_free(x);
			break;
		}
	ERR_clear_error();
	BIO_free(bio);
	if (sk_X509_num(sk) == 0) {
		sk_X509_free(sk);
		return NULL;
	}
	return sk;
}

/* A store trusting every certificate of the PEM buffer (may be empty). */
X509_STORE *
tls_verify_store_new(const uint8_t *pem, size_t len, size_t *ncerts)
{
	STACK_OF(X509)	*sk;
	X509_STORE	*store;
	int		 i;

	*ncerts = 0;
	if ((store = X509_STORE_new()) == NULL)
		return NULL;
	if ((sk = tls_verify_pem_certs(pem, len)) == NULL)
		return store;
	for (i = 0; i < sk_X509_num(sk); i++)
		if (X509_STORE_add_cert(store, sk_X509_value(sk, i)) == 1)
			(*ncerts)++;
	ERR_clear_error();
	sk_X509_pop_free(sk, X509_free);
	return store;
}

/* Verify leaf with the rest of the chain as untrusted helpers. */
static void
tls_verify_chain(X509_STORE *store, STACK_OF(X509) *chain,
    struct tls_facts *f)
{
	X509_STORE_CTX	*ctx;
	int		 err;

	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(ctx, store, sk_X509_value(chain, 0),
	    chain) != 1) {
		X509_STORE_CTX_free(ctx);
		(void)strlcpy(f->verify, TLS_VERIFY_TEMP, sizeof(f->verify));
		(void)strlcpy(f->verifymsg, "out of memory",
		    sizeof(f->verifymsg));
		return;
	}
	if (X509_verify_cert(ctx) == 1) {
		(void)strlcpy(f->verify, TLS_VERIFY_OK, sizeof(f->verify));
		(void)strlcpy(f->verifymsg, "ok", sizeof(f->verifymsg));
	} else {
		err = X509_STORE_CTX_get_error(ctx);
		(void)strlcpy(f->verify, TLS_VERIFY_FAIL, sizeof(f->verify));
		(void)strlcpy(f->verifymsg,
		    X509_verify_cert_error_string(err), sizeof(f->verifymsg));
	}
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
}

/*
 * Fill verify, verifymsg and the certificate macros from the chain the
 * peer sent (PEM, leaf first; NULL/0 if it sent none).
 */
void
tls_verify_peer(X509_STORE *store, const uint8_t *pem, size_t len,
    int asked, struct tls_facts *f)
{
	STACK_OF(X509)	*chain;

	f->subject[0] = f->issuer[0] = '\0';
	f->cn_subject[0] = f->cn_issuer[0] = f->fingerprint[0] = '\0';
	if (pem == NULL || len == 0) {
		(void)strlcpy(f->verify, asked ? TLS_VERIFY_NO :
		    TLS_VERIFY_NOT, sizeof(f->verify));
		(void)strlcpy(f->verifymsg, "no certificate",
		    sizeof(f->verifymsg));
		return;
	}
	if ((chain = tls_verify_pem_certs(pem, len)) == NULL) {
		(void)strlcpy(f->verify, TLS_VERIFY_FAIL, sizeof(f->verify));
		(void)strlcpy(f->verifymsg, "unparsable certificate",
		    sizeof(f->verifymsg));
		return;
	}
	tls_text_peer(sk_X509_value(chain, 0), f);
	tls_verify_chain(store, chain, f);
	sk_X509_pop_free(chain, X509_free);
}

void
tls_verify_name(const uint8_t *pem, size_t len, const char *host,
    struct tls_facts *f)
{
	STACK_OF(X509)	*chain;
	int		 ok;

	if (strcmp(f->verify, TLS_VERIFY_OK) != 0)
		return;
	if ((chain = tls_verify_pem_certs(pem, len)) == NULL) {
		(void)strlcpy(f->verify, TLS_VERIFY_FAIL, sizeof(f->verify));
		(void)strlcpy(f->verifymsg, "unparsable certificate",
		    sizeof(f->verifymsg));
		return;
	}
	ok = X509_check_host(sk_X509_value(chain, 0), host, 0,
	    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1;
	sk_X509_pop_free(chain, X509_free);
	ERR_clear_error();
	if (ok)
		return;
	(void)strlcpy(f->verify, TLS_VERIFY_FAIL, sizeof(f->verify));
	(void)strlcpy(f->verifymsg, "hostname mismatch", sizeof(f->verifymsg));
}
