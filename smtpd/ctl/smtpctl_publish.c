/*
 * smtpctl_publish.c: what this host publishes in DNS and over HTTPS so
 * that senders authenticate it (RFC 7672 DANE, RFC 8461 MTA-STS, RFC
 * 8460 TLS-RPT).  Nothing is sent anywhere; the admin copies the lines.
 *
 *   tlsa [PKI]			a TLSA record set per pki: "3 1 1" for the
 *				certificate's public key, "2 1 1" for each
 *				issuer in the same file
 *   tlsa check [PKI]		what DNS publishes for each host, validated
 *				(dnssec trust-anchor, the resolver), against
 *				the certificates
 *   mta-sts DOMAIN [enforce|testing]
 *				the _mta-sts and _smtp._tls TXT records and
 *				the policy file, one "mx:" per host name
 *   mta-sts check FILE [HOST ...]
 *				whether a policy file is valid and covers the
 *				hosts (by default those of the pkis), read as
 *				a sender would read it (common/mtasts.c)
 *
 * The host a pki stands for is its name when that is a host name with a
 * dot (what an SNI would select), else the config's hostname.
 *
 * "3 1 1" (DANE-EE, SubjectPublicKeyInfo, SHA-256) is the record RFC
 * 7672 3.1.1 recommends: it names the key, not the certificate, so a
 * renewal with the same key keeps it valid.  Only certificate files are
 * read (they are public); the keys are never opened.  Exit status as in
 * smtpctl.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <unbound.h>

#include "config.h"
#include "dane.h"
#include "mtasts.h"
#include "util.h"
#include "smtpctl.h"

/* RFC 8461 3.2: a week is the usual max_age; a sender caches that long */
#define PUBLISH_STS_MAX_AGE	604800

static int	publish_host_seen(const struct config *, const struct pki *);

static int
publish_usage(void)
{
	(void)fprintf(stderr, "usage: smtpctl tlsa [check] [PKI]\n"
	    "       smtpctl mta-sts DOMAIN [enforce|testing]\n"
	    "       smtpctl mta-sts check FILE [HOST ...]\n");
	return 2;
}

static const char *
publish_pki_host(const struct config *cf, const struct pki *p)
{
	if (strchr(p->name, '.') != NULL && config_domain_valid(p->name))
		return p->name;
	return cf->hostname;
}

/* The SHA-256 of x's SubjectPublicKeyInfo, in hex; -1 on failure. */
static int
publish_spki_sha256(X509 *x, char *hex, size_t hexlen)
{
	unsigned char	 md[EVP_MAX_MD_SIZE], *der = NULL;
	unsigned int	 mdlen, i;
	int		 len;

	if ((len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der)) <= 0)
		return -1;
	if (EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(),
	    NULL) != 1) {
		OPENSSL_free(der);
		return -1;
	}
	OPENSSL_free(der);
	if (hexlen < mdlen * 2 + 1)
		return -1;
	for (i = 0; i < mdlen; i++)
		(void)snprintf(hex + i * 2, 3, "%02x", md[i]);
	return 0;
}

static void
publish_subject_print(const char *what, X509 *x)
{
	char	 dn[512];

	if (X509_NAME_oneline(X509_get_subject_name(x), dn,
	    sizeof(dn)) == NULL)
		(void)strlcpy(dn, "?", sizeof(dn));
	(void)printf("; %s: ", what);
	smtpctl_text_print(stdout, dn);
	(void)printf("\n");
}

/* The records of one pki; -1 (reason on stderr) if its file is no
 * certificate. */
static int
publish_tlsa_pki(const struct config *cf, const struct pki *p)
{
	FILE	*fp;
	X509	*x;
	char	 hex[EVP_MAX_MD_SIZE * 2 + 1];
	int	 n = 0, rc = 0;

	if ((fp = fopen(p->cert_file, "r")) == NULL) {
		(void)fprintf(stderr, "smtpctl: pki %s: %s: %s\n", p->name,
		    p->cert_file, strerror(errno));
		return -1;
	}
	(void)printf("; pki %s, %s\n", p->name, p->cert_file);
	while ((x = PEM_read_X509(fp, NULL, NULL, NULL)) != NULL) {
		if (publish_spki_sha256(x, hex, sizeof(hex)) == -1) {
			(void)fprintf(stderr, "smtpctl: pki %s: certificate "
			    "%d of %s has no usable public key\n", p->name,
			    n + 1, p->cert_file);
			X509_free(x);
			rc = -1;
			break;
		}
		publish_subject_print(n == 0 ? "certificate" : "issuer", x);
		(void)printf("_25._tcp.%s. IN TLSA %d 1 1 %s\n",
		    publish_pki_host(cf, p), n == 0 ? 3 : 2, hex);
		X509_free(x);
		n++;
	}
	(void)fclose(fp);
	if (rc == 0 && n == 0) {
		(void)fprintf(stderr, "smtpctl: pki %s: no PEM certificate "
		    "in %s\n", p->name, p->cert_file);
		rc = -1;
	}
	return rc;
}

/* The certificates of a pki's file, leaf first; 0 if none could be read
 * (the reason on stderr). */
static size_t
publish_certs_load(const struct pki *p, X509 **certs, size_t max)
{
	FILE	*fp;
	size_t	 n = 0;

	if ((fp = fopen(p->cert_file, "r")) == NULL) {
		(void)fprintf(stderr, "smtpctl: pki %s: %s: %s\n", p->name,
		    p->cert_file, strerror(errno));
		return 0;
	}
	while (n < max && (certs[n] = PEM_read_X509(fp, NULL, NULL,
	    NULL)) != NULL)
		n++;
	(void)fclose(fp);
	if (n == 0)
		(void)fprintf(stderr, "smtpctl: pki %s: no PEM certificate "
		    "in %s\n", p->name, p->cert_file);
	return n;
}

/* A validating resolver as the daemon's: the config's forwarder (or the
 * system's), and the trust anchor; NULL (reason on stderr) if not.
 * explain tls-srv uses it too (smtpctl.h). */
struct ub_ctx *
smtpctl_resolver(const struct config *cf)
{
	struct ub_ctx	*ub;
	char		 fwd[96];
	int		 r;

	/* libunbound reads the file at the first query, and would only
	 * log there that it cannot */
	if (access(cf->dnssec_anchor, R_OK) == -1) {
		(void)fprintf(stderr, "smtpctl: dnssec trust-anchor %s: %s\n",
		    cf->dnssec_anchor, strerror(errno));
		return NULL;
	}
	if ((ub = ub_ctx_create()) == NULL) {
		(void)fprintf(stderr, "smtpctl: cannot make a resolver\n");
		return NULL;
	}
	(void)ub_ctx_set_option(ub, "do-not-query-localhost:", "no");
	(void)ub_ctx_set_option(ub, "local-zone:", "test. transparent");
	if (cf->resolver_set) {
		(void)snprintf(fwd, sizeof(fwd), "%s@%u", cf->resolver_addr,
		    cf->resolver_port);
		r = ub_ctx_set_fwd(ub, fwd);
	} else
		r = ub_ctx_resolvconf(ub, "/etc/resolv.conf");
	if (r == 0 && (r = ub_ctx_add_ta_file(ub, cf->dnssec_anchor)) != 0)
		(void)fprintf(stderr, "smtpctl: dnssec trust-anchor %s: %s\n",
		    cf->dnssec_anchor, ub_strerror(r));
	else if (r != 0)
		(void)fprintf(stderr, "smtpctl: resolver: %s\n",
		    ub_strerror(r));
	if (r != 0) {
		ub_ctx_delete(ub);
		return NULL;
	}
	return ub;
}

/* One record against the certificates: DANE-EE the leaf, DANE-TA an
 * issuer; 1 if it matches, 0 if not or unusable. */
static int
publish_record_check(const uint8_t *rdata, size_t len, X509 **certs,
    size_t ncerts)
{
	static struct dane_tlsa	 t;
	char			 hex[2 * 64 + 1];
	size_t			 i, first, last;
	int			 m = 0;

	if (dane_tlsa_parse(rdata, len, &t) == -1) {
		(void)printf("  a malformed TLSA record: unusable\n");
		return 0;
	}
	for (i = 0; i < t.len && i < 32; i++)
		(void)snprintf(hex + 2 * i, 3, "%02x", t.data[i]);
	(void)printf("  %u %u %u %s%s: ", t.usage, t.selector, t.mtype, hex,
	    t.len > 32 ? "..." : "");
	if (t.usage != DANE_USAGE_EE && t.usage != DANE_USAGE_TA) {
		(void)printf("%s, not used for SMTP (RFC 7672 3.1.3)\n",
		    dane_usage_name(t.usage));
		return 0;
	}
	first = t.usage == DANE_USAGE_EE ? 0 : 1;
	last = t.usage == DANE_USAGE_EE ? 1 : ncerts;
	for (i = first; i < last && m == 0; i++)
		m = dane_tlsa_match(&t, certs[i]);
	if (m == -1) {
		(void)printf("%s, unusable (unknown selector or matching "
		    "type)\n", dane_usage_name(t.usage));
		return 0;
	}
	(void)printf("%s, %s\n", dane_usage_name(t.usage), m ?
	    (t.usage == DANE_USAGE_EE ? "matches the certificate" :
	    "matches an issuer in the file") : "matches no certificate");
	return m;
}

/* What DNS says for the host of pki p; 0 if senders doing DANE can
 * deliver (or DANE does not apply), 1 if they cannot, or it is unknown. */
static int
publish_tlsa_check_pki(const struct config *cf, struct ub_ctx *ub,
    const struct pki *p)
{
	X509			*certs[16];
	struct ub_result	*res = NULL;
	char			 name[CONF_HOST_MAX + 16];
	size_t			 n, i;
	int			 r, matched = 0, rc = 1;

	if ((n = publish_certs_load(p, certs, 16)) == 0)
		return 1;
	(void)snprintf(name, sizeof(name), "_25._tcp.%s",
	    publish_pki_host(cf, p));
	if ((r = ub_resolve(ub, name, 52, 1, &res)) != 0) {
		(void)printf("%s: lookup failed: %s\n", name, ub_strerror(r));
	} else if (res->bogus) {
		(void)printf("%s: bogus (%s): senders that use DANE will not "
		    "deliver here\n", name, res->why_bogus != NULL ?
		    res->why_bogus : "validation failed");
	} else if (!res->secure) {
		(void)printf("%s: insecure (not signed): DANE does not "
		    "apply\n", name);
		rc = 0;
	} else if (!res->havedata) {
		(void)printf("%s: secure, no TLSA record: DANE does not "
		    "apply\n", name);
		rc = 0;
	} else {
		(void)printf("%s: secure\n", name);
		for (i = 0; res->data[i] != NULL; i++)
			matched |= publish_record_check((uint8_t *)res->data[i],
			    (size_t)res->len[i], certs, n);
		if (matched) {
			(void)printf("%s: senders that use DANE can verify "
			    "this host\n", name);
			rc = 0;
		} else
			(void)printf("%s: no record matches: senders that use "
			    "DANE will not deliver here\n", name);
	}
	if (res != NULL)
		ub_resolve_free(res);
	for (i = 0; i < n; i++)
		X509_free(certs[i]);
	return rc;
}

/* tlsa check [PKI] */
static int
publish_tlsa_check(const struct config *cf, int argc, char **argv)
{
	const struct pki	*p;
	struct ub_ctx		*ub;
	int			 rc = 0;

	if (argc > 3)
		return publish_usage();
	if (argc == 3 && config_pki_find(cf, argv[2]) == NULL) {
		(void)fprintf(stderr, "smtpctl: no pki %s in the config\n",
		    argv[2]);
		return 1;
	}
	if (TAILQ_EMPTY(&cf->pkis)) {
		(void)fprintf(stderr, "smtpctl: no pki in the config: "
		    "there is no certificate to check\n");
		return 1;
	}
	if ((ub = smtpctl_resolver(cf)) == NULL)
		return 1;
	TAILQ_FOREACH(p, &cf->pkis, entry) {
		if (argc == 3 ? strcmp(p->name, argv[2]) != 0 :
		    publish_host_seen(cf, p))
			continue;
		if (publish_tlsa_check_pki(cf, ub, p) != 0)
			rc = 1;
	}
	ub_ctx_delete(ub);
	return rc;
}

int
smtpctl_tlsa(const struct config *cf, int argc, char **argv)
{
	const struct pki	*p;
	int			 rc = 0;

	if (argc >= 2 && strcmp(argv[1], "check") == 0)
		return publish_tlsa_check(cf, argc, argv);
	if (argc > 2)
		return publish_usage();
	if (argc == 2) {
		if ((p = config_pki_find(cf, argv[1])) == NULL) {
			(void)fprintf(stderr, "smtpctl: no pki %s in the "
			    "config\n", argv[1]);
			return 1;
		}
		return publish_tlsa_pki(cf, p) == -1 ? 1 : 0;
	}
	if (TAILQ_EMPTY(&cf->pkis)) {
		(void)fprintf(stderr, "smtpctl: no pki in the config: "
		    "there is no certificate to publish\n");
		return 1;
	}
	TAILQ_FOREACH(p, &cf->pkis, entry)
		if (publish_tlsa_pki(cf, p) == -1)
			rc = 1;
	return rc;
}

/* Whether a pki before p stands for the same host. */
static int
publish_host_seen(const struct config *cf, const struct pki *p)
{
	const struct pki	*q;

	TAILQ_FOREACH(q, &cf->pkis, entry) {
		if (q == p)
			return 0;
		if (strcasecmp(publish_pki_host(cf, q),
		    publish_pki_host(cf, p)) == 0)
			return 1;
	}
	return 0;
}

/* A policy file's text, at most one octet past what a sender takes;
 * -1 (reason on stderr) if it cannot be read. */
static int
publish_policy_read(const char *path, char *buf, size_t size, size_t *len)
{
	FILE	*fp;

	if ((fp = fopen(path, "r")) == NULL) {
		(void)fprintf(stderr, "smtpctl: %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	*len = fread(buf, 1, size, fp);
	if (ferror(fp)) {
		(void)fprintf(stderr, "smtpctl: %s: read error\n", path);
		(void)fclose(fp);
		return -1;
	}
	(void)fclose(fp);
	return 0;
}

static int
publish_host_print(const struct mtasts_policy *p, const char *host)
{
	int	 ok = mtasts_mx_match(p, host);

	smtpctl_text_print(stdout, host);
	(void)printf(": %s\n", ok ? "matches" : "does not match");
	return ok;
}

/* mta-sts check FILE [HOST ...]: 0 if valid and every host matches. */
static int
publish_sts_check(const struct config *cf, int argc, char **argv)
{
	static char		 body[MTASTS_POLICY_MAX + 1];
	struct mtasts_policy	 p;
	const struct pki	*k;
	const char		*why;
	size_t			 len;
	int			 i, rc = 0;

	if (argc < 3)
		return publish_usage();
	if (publish_policy_read(argv[2], body, sizeof(body), &len) == -1)
		return 1;
	if (mtasts_policy_parse(body, len, &p, &why) == -1) {
		(void)fprintf(stderr, "smtpctl: %s: not a valid policy: %s\n",
		    argv[2], why);
		return 1;
	}
	(void)printf("%s: valid, mode %s, max_age %u s, %zu mx pattern%s\n",
	    argv[2], mtasts_mode_name(p.mode), p.max_age, p.nmx,
	    p.nmx == 1 ? "" : "s");
	for (i = 3; i < argc; i++)
		if (!publish_host_print(&p, argv[i]))
			rc = 1;
	if (argc == 3)
		TAILQ_FOREACH(k, &cf->pkis, entry)
			if (!publish_host_seen(cf, k) &&
			    !publish_host_print(&p, publish_pki_host(cf, k)))
				rc = 1;
	return rc;
}

int
smtpctl_mta_sts(const struct config *cf, int argc, char **argv)
{
	const struct pki	*p;
	const char		*mode = "testing";
	char			 id[32];
	time_t			 now = time(NULL);
	struct tm		 tm;

	if (argc >= 2 && strcmp(argv[1], "check") == 0)
		return publish_sts_check(cf, argc, argv);
	if (argc < 2 || argc > 3)
		return publish_usage();
	if (argc == 3) {
		if (strcmp(argv[2], "enforce") != 0 &&
		    strcmp(argv[2], "testing") != 0)
			return publish_usage();
		mode = argv[2];
	}
	if (!config_domain_valid(argv[1])) {
		(void)fprintf(stderr, "smtpctl: %s is not a domain name\n",
		    argv[1]);
		return 1;
	}
	/* a sender checks the MX's certificate against these names: with no
	 * certificate, a policy would only make enforcing senders fail */
	if (TAILQ_EMPTY(&cf->pkis)) {
		(void)fprintf(stderr, "smtpctl: no pki in the config: senders "
		    "could not verify this host\n");
		return 1;
	}
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(id, sizeof(id), "%Y%m%d%H%M%S", &tm) == 0)
		(void)strlcpy(id, "1", sizeof(id));
	(void)printf("; DNS (a new id each time the policy changes)\n");
	(void)printf("_mta-sts.%s. IN TXT \"v=STSv1; id=%s\"\n", argv[1], id);
	(void)printf("_smtp._tls.%s. IN TXT \"v=TLSRPTv1; "
	    "rua=mailto:postmaster@%s\"\n", argv[1], argv[1]);
	(void)printf("; https://mta-sts.%s/.well-known/mta-sts.txt "
	    "(text/plain)\n", argv[1]);
	(void)printf("version: STSv1\nmode: %s\n", mode);
	TAILQ_FOREACH(p, &cf->pkis, entry)
		if (!publish_host_seen(cf, p))
			(void)printf("mx: %s\n", publish_pki_host(cf, p));
	(void)printf("max_age: %d\n", PUBLISH_STS_MAX_AGE);
	return 0;
}
