/*
 * tls_pki.c: the certificates, keys and CA set of tlsproxy.
 *
 * tlsproxy never opens a key file: it is confined from its start, and the
 * root parent reads the files and sends them (IMSG_TLS_PKI_BEGIN, one
 * IMSG_TLS_PKI per "pki", IMSG_TLS_PKI_CA chunks, IMSG_TLS_PKI_END).  The
 * received PEM text is staged here; at the end it is built into a "set":
 * per pki a server context without and with a client-certificate
 * request and a client context, a default server context (the first pki,
 * with every other added so libtls can still match a certificate name),
 * and the X509 store used by tls_verify.c.  The staged text is kept (and
 * wiped on replacement) so that a new "tls protocols"/"tls ciphers" can
 * rebuild the set without the parent.  "tls ciphers" left at "default"
 * gives the server contexts CONF_TLS_CIPHERS_SERVER (TLS 1.2 AEAD only)
 * and the client ones CONF_TLS_CIPHERS_CLIENT (config.h says why).
 *
 * Sessions hold a reference to the set they started with: a reload
 * serves new handshakes with the new set and drops no session.
 *
 * Failure: a set that does not build (bad PEM, key not matching the
 * certificate, bad protocol or cipher string) is refused with a reason
 * and the previous set stays in force.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <tls.h>

#include "log.h"
#include "tlsproxy.h"

/* the parent refuses bigger files; this only bounds a confused stream */
#define TLS_PKI_MAX		64
#define TLS_PKI_CA_MAX		(16 * 1024 * 1024)

struct tls_pki_raw {
	char		 name[CONF_PKI_NAME_MAX];
	uint8_t		*cert;
	size_t		 certlen;
	uint8_t		*key;
	size_t		 keylen;
};

struct tls_pki_entry {
	char		 name[CONF_PKI_NAME_MAX];
	struct tls	*server[2];	/* [verify]: asks for a client cert */
	struct tls_config *client;
};

struct tls_pkiset {
	int			 refs;
	size_t			 n;
	struct tls_pki_entry	*e;
	struct tls		*server_default[2];
	struct tls_config	*client_nocert;
	X509_STORE		*store;
};

static struct {
	struct tls_pki_raw	 pki[TLS_PKI_MAX];
	size_t			 n;
	uint8_t			*ca;
	size_t			 calen;
	int			 complete;
}			 stage;
static struct tls_pkiset *current;
/* what the set in force was built from (tls_pki_stage_digest()) */
static struct {
	int		 valid;
	unsigned char	 certs[32];
	unsigned char	 all[32];
}			 built;

static void
tls_pki_wipe(uint8_t *p, size_t len)
{
	if (p == NULL)
		return;
	explicit_bzero(p, len);
	free(p);
}

static void
tls_pki_stage_clear(void)
{
	size_t	 i;

	for (i = 0; i < stage.n; i++) {
		tls_pki_wipe(stage.pki[i].cert, stage.pki[i].certlen);
		tls_pki_wipe(stage.pki[i].key, stage.pki[i].keylen);
	}
	free(stage.ca);
	memset(&stage, 0, sizeof(stage));
}

void
tls_pki_stage_begin(void)
{
	tls_pki_stage_clear();
}

/* One pki; -1 if it cannot be kept (the stream is then refused). */
int
tls_pki_stage_add(const char *name, const void *cert, size_t certlen,
    const void *key, size_t keylen)
{
	struct tls_pki_raw	*r;

	if (stage.n == TLS_PKI_MAX || certlen == 0 || keylen == 0 ||
	    strlen(name) >= sizeof(r->name))
		return -1;
	r = &stage.pki[stage.n];
	if ((r->cert = malloc(certlen + 1)) == NULL)
		return -1;
	if ((r->key = malloc(keylen + 1)) == NULL) {
		free(r->cert);
		r->cert = NULL;
		return -1;
	}
	(void)strlcpy(r->name, name, sizeof(r->name));
	memcpy(r->cert, cert, certlen);
	memcpy(r->key, key, keylen);
	r->cert[certlen] = r->key[keylen] = '\0';
	r->certlen = certlen;
	r->keylen = keylen;
	stage.n++;
	return 0;
}

/* Append PEM text to the CA set. */
int
tls_pki_stage_ca(const void *pem, size_t len)
{
	uint8_t	*p;

	if (len > TLS_PKI_CA_MAX - stage.calen)
		return -1;
	if ((p = realloc(stage.ca, stage.calen + len + 1)) == NULL)
		return -1;
	memcpy(p + stage.calen, pem, len);
	stage.calen += len;
	p[stage.calen] = '\0';
	stage.ca = p;
	return 0;
}

/* The cipher list of a server or client context. */
static const char *
tls_pki_ciphers(const struct config *c, int server)
{
	if (strcasecmp(c->tls_ciphers, CONF_TLS_CIPHERS_DEFAULT) != 0)
		return c->tls_ciphers;
	return server ? CONF_TLS_CIPHERS_SERVER : CONF_TLS_CIPHERS_CLIENT;
}

/* A libtls config with our protocol, cipher and no-verification rules. */
static struct tls_config *
tls_pki_config(const struct config *c, int server, char *err, size_t errlen)
{
	struct tls_config	*tc;
	uint32_t		 protocols;

	if ((tc = tls_config_new()) == NULL) {
		(void)strlcpy(err, "tls_config_new failed", errlen);
		return NULL;
	}
	if (tls_config_parse_protocols(&protocols, c->tls_protocols) == -1 ||
	    tls_config_set_protocols(tc, protocols) == -1) {
		(void)snprintf(err, errlen, "tls protocols \"%s\" invalid",
		    c->tls_protocols);
		tls_config_free(tc);
		return NULL;
	}
	if (tls_config_set_ciphers(tc, tls_pki_ciphers(c, server)) == -1) {
		(void)snprintf(err, errlen, "tls ciphers: %s",
		    tls_config_error(tc));
		tls_config_free(tc);
		return NULL;
	}
	/* tls_verify.c judges the peer; the handshake must not */
	tls_config_insecure_noverifycert(tc);
	tls_config_insecure_noverifyname(tc);
	tls_config_insecure_noverifytime(tc);
	return tc;
}

/* Add one staged keypair to a config (set, or added as an extra one). */
static int
tls_pki_keypair(struct tls_config *tc, const struct tls_pki_raw *r,
    int extra, char *err, size_t errlen)
{
	int	 rv;

	if (extra)
		rv = tls_config_add_keypair_mem(tc, r->cert, r->certlen,
		    r->key, r->keylen);
	else
		rv = tls_config_set_keypair_mem(tc, r->cert, r->certlen,
		    r->key, r->keylen);
	if (rv == -1)
		(void)snprintf(err, errlen, "pki %s: %s", r->name,
		    tls_config_error(tc));
	return rv;
}

/*
 * What names a server context's sessions (tls_ticket.c): its pki names
 * and whether it asks for a client certificate; the same at each build.
 */
static int
tls_pki_server_name(size_t first, size_t n, int verify, unsigned char *base)
{
	EVP_MD_CTX	*md;
	unsigned char	 v = verify ? 1 : 0;
	unsigned int	 len;
	size_t		 i;
	int		 ok;

	if ((md = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(md, &v, 1) == 1;
	for (i = 0; ok && i < n; i++)
		ok = EVP_DigestUpdate(md, stage.pki[first + i].name,
		    strlen(stage.pki[first + i].name) + 1) == 1;
	ok = ok && EVP_DigestFinal_ex(md, base, &len) == 1 && len == 32;
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}

/*
 * A configured server context for keypairs first..first+n-1 (the first
 * is the default certificate); verify asks for a client certificate.
 */
static struct tls *
tls_pki_server_new(const struct config *c, size_t first, size_t n,
    int verify, char *err, size_t errlen)
{
	struct tls_config	*tc;
	struct tls		*t = NULL;
	unsigned char		 base[32];
	size_t			 i;
	int			 rv;

	if ((tc = tls_pki_config(c, 1, err, errlen)) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (tls_pki_keypair(tc, &stage.pki[first + i], i > 0, err,
		    errlen) == -1)
			goto done;
	if (verify)
		tls_config_verify_client_optional(tc);
	if ((t = tls_server()) == NULL) {
		(void)strlcpy(err, "tls_server failed", errlen);
		goto done;
	}
	if (tls_pki_server_name(first, n, verify, base) == -1) {
		(void)strlcpy(err, "cannot name the session context", errlen);
		tls_free(t);
		t = NULL;
		goto done;
	}
	tls_ticket_capture_begin();
	rv = tls_configure(t, tc);
	if (tls_ticket_capture_end(base, verify) == -1 && rv == 0) {
		(void)snprintf(err, errlen, "pki %s: cannot set up session "
		    "resumption", stage.pki[first].name);
		rv = -1;
	} else if (rv == -1)
		(void)snprintf(err, errlen, "pki %s: %s",
		    stage.pki[first].name, tls_error(t));
	if (rv == -1) {
		tls_free(t);
		t = NULL;
	}
done:
	tls_config_free(tc);
	return t;
}

static void
tls_pki_set_free(struct tls_pkiset *s)
{
	size_t	 i;

	for (i = 0; i < s->n; i++) {
		tls_free(s->e[i].server[0]);
		tls_free(s->e[i].server[1]);
		tls_config_free(s->e[i].client);
	}
	free(s->e);
	tls_free(s->server_default[0]);
	tls_free(s->server_default[1]);
	tls_config_free(s->client_nocert);
	X509_STORE_free(s->store);
	free(s);
}

/* Server and client contexts of pki i. */
static int
tls_pki_set_entry(struct tls_pkiset *s, size_t i, const struct config *c,
    char *err, size_t errlen)
{
	struct tls_pki_entry	*e = &s->e[i];
	int			 v;

	(void)strlcpy(e->name, stage.pki[i].name, sizeof(e->name));
	for (v = 0; v < 2; v++)
		if ((e->server[v] = tls_pki_server_new(c, i, 1, v, err,
		    errlen)) == NULL)
			return -1;
	if ((e->client = tls_pki_config(c, 0, err, errlen)) == NULL)
		return -1;
	return tls_pki_keypair(e->client, &stage.pki[i], 0, err, errlen);
}

/* Build a set from the staged text; NULL and err on any error. */
static struct tls_pkiset *
tls_pki_set_build(const struct config *c, char *err, size_t errlen)
{
	struct tls_pkiset	*s;
	size_t			 i, ncerts;
	int			 v;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (stage.n > 0 && (s->e = calloc(stage.n, sizeof(*s->e))) == NULL)) {
		free(s);
		(void)strlcpy(err, "out of memory", errlen);
		return NULL;
	}
	s->refs = 1;
	s->n = stage.n;
	for (i = 0; i < s->n; i++)
		if (tls_pki_set_entry(s, i, c, err, errlen) == -1)
			goto fail;
	for (v = 0; v < 2 && s->n > 0; v++)
		if ((s->server_default[v] = tls_pki_server_new(c, 0, s->n, v,
		    err, errlen)) == NULL)
			goto fail;
	if ((s->client_nocert = tls_pki_config(c, 0, err, errlen)) == NULL)
		goto fail;
	if ((s->store = tls_verify_store_new(stage.ca, stage.calen,
	    &ncerts)) == NULL) {
		(void)strlcpy(err, "cannot create the CA store", errlen);
		goto fail;
	}
	log_debug("tls: %zu pki, %zu CA certificates", s->n, ncerts);
	return s;
fail:
	tls_pki_set_free(s);
	return NULL;
}

static int
tls_pki_digest_add(EVP_MD_CTX *md, const void *p, size_t len)
{
	return EVP_DigestUpdate(md, &len, sizeof(len)) == 1 &&
	    EVP_DigestUpdate(md, p, len) == 1 ? 0 : -1;
}

/* SHA-256 of the staged pki (names, certificates, keys), and of all. */
static int
tls_pki_stage_digest(unsigned char *certs, unsigned char *all)
{
	EVP_MD_CTX	*md;
	unsigned int	 len;
	size_t		 i;
	int		 rv = -1;

	if ((md = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		goto done;
	for (i = 0; i < stage.n; i++)
		if (tls_pki_digest_add(md, stage.pki[i].name,
		    strlen(stage.pki[i].name)) == -1 ||
		    tls_pki_digest_add(md, stage.pki[i].cert,
		    stage.pki[i].certlen) == -1 ||
		    tls_pki_digest_add(md, stage.pki[i].key,
		    stage.pki[i].keylen) == -1)
			goto done;
	if (EVP_DigestFinal_ex(md, certs, &len) != 1 ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    tls_pki_digest_add(md, certs, 32) == -1 ||
	    tls_pki_digest_add(md, stage.ca != NULL ? stage.ca :
	    (const uint8_t *)"", stage.calen) == -1 ||
	    EVP_DigestFinal_ex(md, all, &len) != 1)
		goto done;
	rv = 0;
done:
	EVP_MD_CTX_free(md);
	return rv;
}

/*
 * The staged set is complete: build it and put it in force.  The same
 * text as the set in force (a reload that changed no file) keeps that
 * set, and with it the TLS 1.2 session cache of its contexts.
 */
int
tls_pki_stage_end(const struct config *c, char *err, size_t errlen)
{
	unsigned char	 certs[32], all[32];

	stage.complete = 1;
	if (c == NULL)
		return 0;
	if (current != NULL && built.valid &&
	    tls_pki_stage_digest(certs, all) == 0 &&
	    memcmp(all, built.all, sizeof(all)) == 0)
		return 0;
	return tls_pki_reconfigure(c, err, errlen);
}

/*
 * Rebuild from the staged text (new set, new protocols/ciphers, a new
 * session lifetime).  New certificates also get new ticket keys, so that
 * no session made with the old ones resumes.
 */
int
tls_pki_reconfigure(const struct config *c, char *err, size_t errlen)
{
	struct tls_pkiset	*s;
	unsigned char		 certs[32], all[32];
	int			 known;

	if (!stage.complete)
		return 0;
	known = tls_pki_stage_digest(certs, all) == 0;
	if ((s = tls_pki_set_build(c, err, errlen)) == NULL)
		return -1;
	if (current != NULL)
		tls_pki_unref(current);
	current = s;
	if (!known || (built.valid &&
	    memcmp(certs, built.certs, sizeof(certs)) != 0))
		tls_ticket_reset();
	built.valid = known;
	memcpy(built.certs, certs, sizeof(certs));
	memcpy(built.all, all, sizeof(all));
	return 0;
}

struct tls_pkiset *
tls_pki_current(void)
{
	return current;
}

struct tls_pkiset *
tls_pki_ref(struct tls_pkiset *s)
{
	s->refs++;
	return s;
}

void
tls_pki_unref(struct tls_pkiset *s)
{
	if (s != NULL && --s->refs == 0)
		tls_pki_set_free(s);
}

/*
 * The server context for a handshake: the pki named like the client's
 * SNI, else the listener's pki, else the default (first pki, libtls
 * matching the other certificates' names).  NULL if there is no pki.
 */
struct tls *
tls_pki_server(struct tls_pkiset *s, const char *sni, const char *lpki,
    int verify)
{
	size_t	 i;

	verify = verify ? 1 : 0;
	for (i = 0; sni[0] != '\0' && i < s->n; i++)
		if (strcasecmp(s->e[i].name, sni) == 0)
			return s->e[i].server[verify];
	for (i = 0; lpki[0] != '\0' && i < s->n; i++)
		if (strcasecmp(s->e[i].name, lpki) == 0)
			return s->e[i].server[verify];
	return s->server_default[verify];
}

/* A fresh client context with the named pki's certificate ("" none). */
struct tls *
tls_pki_client(struct tls_pkiset *s, const char *pki, char *err,
    size_t errlen)
{
	struct tls_config	*tc = s->client_nocert;
	struct tls		*t;
	size_t			 i;

	if (pki[0] != '\0') {
		for (i = 0; i < s->n; i++)
			if (strcasecmp(s->e[i].name, pki) == 0)
				break;
		if (i == s->n) {
			(void)snprintf(err, errlen, "no pki %s", pki);
			return NULL;
		}
		tc = s->e[i].client;
	}
	if ((t = tls_client()) == NULL) {
		(void)strlcpy(err, "tls_client failed", errlen);
		return NULL;
	}
	if (tls_configure(t, tc) == -1) {
		(void)snprintf(err, errlen, "%s", tls_error(t));
		tls_free(t);
		return NULL;
	}
	return t;
}

X509_STORE *
tls_pki_store(struct tls_pkiset *s)
{
	return s->store;
}

size_t
tls_pki_count(const struct tls_pkiset *s)
{
	return s != NULL ? s->n : 0;
}

void
tls_pki_shutdown(void)
{
	tls_pki_unref(current);
	current = NULL;
	tls_pki_stage_clear();
}
