/*
 * smtpctl_explain_input.c: the words of "smtpctl explain" and the TLS
 * facts they describe, checked and put in the form policyd receives.
 *
 *   explain_input_parse()	"word value" pairs (rcpt may repeat)
 *   explain_facts_client()	verify, bits, cn, cert-subject, cert-issuer,
 *				auth-mech, auth-ssf, resolve: the client's session
 *   explain_facts_server()	server-verify, server-bits, server-cn,
 *				server-cert-subject, server-cert-issuer
 *
 * Certificate names are given raw, as a person reads them: a DN in the
 * classic oneline form "/C=US/O=Example Org/CN=mx.example" (what
 * "openssl x509 -noout -subject -nameopt compat" prints; a leading
 * "subject=" or "issuer=" is dropped), a CN as its text.  They are
 * rendered as tlsproxy renders a certificate's (octets above 0x7E as
 * "\xHH" in a DN) and +XX encoded by the macro_encode() tlsproxy uses (common/macro.c),
 * so the values explain judges are the ones the daemon would.
 *
 * Failure behaviour: a value the relay could not have produced (an
 * unknown ${verify}, a DN not in the classic form, one over the 255
 * octets tlsproxy keeps, an encoded value over what a policy query
 * carries, certificate facts without a handshake) is reported on stderr
 * after "smtpctl: explain: " and the caller exits 1.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "macro.h"
#include "proto.h"
#include "util.h"
#include "smtpctl_explain.h"

static const struct explain_word {
	const char	*word;
	size_t		 offset;
} explain_words[] = {
	{ "addr",		offsetof(struct explain_input, addr) },
	{ "name",		offsetof(struct explain_input, name) },
	{ "helo",		offsetof(struct explain_input, helo) },
	{ "from",		offsetof(struct explain_input, from) },
	{ "verify",		offsetof(struct explain_input, verify) },
	{ "bits",		offsetof(struct explain_input, bits) },
	{ "cert-subject",	offsetof(struct explain_input, cert_subject) },
	{ "cert-issuer",	offsetof(struct explain_input, cert_issuer) },
	{ "cn",			offsetof(struct explain_input, cn) },
	{ "auth-mech",		offsetof(struct explain_input, auth_mech) },
	{ "auth-ssf",		offsetof(struct explain_input, auth_ssf) },
	{ "resolve",		offsetof(struct explain_input, resolve) },
	{ "server",		offsetof(struct explain_input, server) },
	{ "server-addr",	offsetof(struct explain_input, server_addr) },
	{ "server-verify",	offsetof(struct explain_input, server_verify) },
	{ "server-bits",	offsetof(struct explain_input, server_bits) },
	{ "server-cn",		offsetof(struct explain_input, server_cn) },
	{ "server-cert-subject",
	    offsetof(struct explain_input, server_subject) },
	{ "server-cert-issuer",
	    offsetof(struct explain_input, server_issuer) },
};

/* ${verify} after a handshake we answered, and after one we started. */
static const char *const explain_verify_client[] = {
	"OK", "NO", "NOT", "FAIL", NULL
};
static const char *const explain_verify_server[] = {
	"OK", "FAIL", "NO", "NONE", "TEMP", "USAGE", "PROTOCOL", "SOFTWARE",
	"FAILURE", NULL
};

/* The words a side's certificate and cipher are given with. */
struct explain_side {
	const char		*prefix;	/* "" or "server-" */
	const char		*verify;
	const char		*bits;
	const char		*cn;
	const char		*subject;
	const char		*issuer;
	const char *const	*verifies;
};

static int	explain_fail(const char *, ...)
		    __attribute__((format(printf, 1, 2)));

/* Report bad input; always -1. */
static int
explain_fail(const char *fmt, ...)
{
	va_list	 ap;

	(void)fputs("smtpctl: explain: ", stderr);
	va_start(ap, fmt);
	(void)vfprintf(stderr, fmt, ap);
	va_end(ap);
	(void)fputc('\n', stderr);
	return -1;
}

int
explain_input_parse(int argc, char **argv, struct explain_input *in)
{
	size_t	 i, n = sizeof(explain_words) / sizeof(explain_words[0]);
	int	 a;

	memset(in, 0, sizeof(*in));
	for (a = 1; a + 1 < argc; a += 2) {
		if (strcmp(argv[a], "rcpt") == 0) {
			if (in->nrcpt == EXPLAIN_RCPT_MAX)
				return -1;
			in->rcpt[in->nrcpt++] = argv[a + 1];
			continue;
		}
		for (i = 0; i < n; i++)
			if (strcmp(argv[a], explain_words[i].word) == 0)
				break;
		if (i == n)
			return -1;
		*(const char **)((char *)in + explain_words[i].offset) =
		    argv[a + 1];
	}
	if (a != argc || (in->addr == NULL && in->server_addr == NULL &&
	    in->nrcpt == 0))
		return -1;
	/* "explain rcpt R" alone: as a client on the loopback sends it */
	if (in->addr == NULL && in->server_addr == NULL)
		in->addr = "127.0.0.1";
	if (in->name == NULL)
		in->name = "";
	if (in->helo == NULL)
		in->helo = "";
	return 0;
}

/* A bit count (cipher bits, SASL ssf): up to 6 digits. */
static int
explain_number(const char *word, const char *s, uint32_t *v)
{
	size_t	 i;

	*v = 0;
	if (s == NULL)
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (i == 6 || s[i] < '0' || s[i] > '9')
			return explain_fail("%s %s: not a number of bits",
			    word, s);
	if (i == 0)
		return explain_fail("%s: not a number of bits", word);
	for (i = 0; s[i] != '\0'; i++)
		*v = *v * 10 + (uint32_t)(s[i] - '0');
	return 0;
}

/* ${verify}: one of the words the relay produces on that side. */
static int
explain_verify(const char *word, const char *s, const char *const *words,
    char *out, size_t outlen)
{
	char	 list[128] = "";
	size_t	 i;

	for (i = 0; words[i] != NULL; i++) {
		if (strcasecmp(s, words[i]) == 0) {
			(void)strlcpy(out, words[i], outlen);
			return 0;
		}
		(void)strlcat(list, i == 0 ? "" : ", ", sizeof(list));
		(void)strlcat(list, words[i], sizeof(list));
	}
	return explain_fail("%s %s: not a ${verify} value of this side "
	    "(expected %s)", word, s, list);
}

/* The +XX encoding into a query field. */
static int
explain_encode(const char *word, const char *raw, char *out, size_t outlen)
{
	char	 enc[TLS_MACRO_MAX];
	size_t	 n;

	n = macro_encode(raw, enc, sizeof(enc));
	if (n >= outlen)
		return explain_fail("%s: +XX encoded it is %zu octets, more "
		    "than the %zu a policy query carries", word, n,
		    outlen - 1);
	(void)strlcpy(out, enc, outlen);
	return 0;
}

/* A DN in the classic form, rendered as tlsproxy renders one. */
static int
explain_dn(const char *word, const char *s, char *out, size_t outlen)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*p;
	char			 dn[TLS_DN_MAX];
	size_t			 n = 0;

	if (s == NULL)
		return 0;
	if (strncmp(s, "subject=", 8) == 0)
		s += 8;
	else if (strncmp(s, "issuer=", 7) == 0)
		s += 7;
	if (s[0] != '/')
		return explain_fail("%s %s: not a DN in the classic form "
		    "/C=US/O=Example/CN=name (openssl x509 -noout -subject "
		    "-nameopt compat prints it)", word, s);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return explain_fail("%s: control character in the DN",
			    word);
		if (n + (*p > 0x7e ? 4 : 1) >= sizeof(dn))
			return explain_fail("%s: DN longer than %d octets "
			    "(tlsproxy keeps at most that much, spec 5.3)",
			    word, TLS_DN_MAX - 1);
		if (*p > 0x7e) {
			dn[n++] = '\\';
			dn[n++] = 'x';
			dn[n++] = hex[*p >> 4];
			dn[n++] = hex[*p & 0xf];
		} else
			dn[n++] = (char)*p;
	}
	dn[n] = '\0';
	return explain_encode(word, dn, out, outlen);
}

/* A commonName as its text. */
static int
explain_cn(const char *word, const char *s, char *out, size_t outlen)
{
	if (s == NULL)
		return 0;
	if (!text_is_clean(s))
		return explain_fail("%s: control character in the name", word);
	if (strlen(s) >= 255)
		return explain_fail("%s: 255 octets or more (the relay would "
		    "see BadCertificateTooLong)", word);
	return explain_encode(word, s, out, outlen);
}

/* The facts of one side from its words. */
static int
explain_side_facts(const struct explain_side *sd, struct explain_facts *f)
{
	char	 w[64];
	int	 cert;

	if (sd->verify == NULL) {
		if (sd->bits != NULL || sd->cn != NULL ||
		    sd->subject != NULL || sd->issuer != NULL)
			return explain_fail("%sbits, %scn, %scert-subject and "
			    "%scert-issuer describe a TLS session: give "
			    "%sverify too", sd->prefix, sd->prefix,
			    sd->prefix, sd->prefix, sd->prefix);
		return 0;
	}
	(void)snprintf(w, sizeof(w), "%sverify", sd->prefix);
	if (explain_verify(w, sd->verify, sd->verifies, f->verify,
	    sizeof(f->verify)) == -1)
		return -1;
	cert = strcmp(f->verify, "OK") == 0 || strcmp(f->verify, "FAIL") == 0;
	if (!cert && (sd->cn != NULL || sd->subject != NULL ||
	    sd->issuer != NULL))
		return explain_fail("%s %s: no certificate was presented, so "
		    "%scn, %scert-subject and %scert-issuer cannot be given",
		    w, f->verify, sd->prefix, sd->prefix, sd->prefix);
	(void)snprintf(w, sizeof(w), "%sbits", sd->prefix);
	if (explain_number(w, sd->bits, &f->bits) == -1)
		return -1;
	(void)snprintf(w, sizeof(w), "%scn", sd->prefix);
	if (explain_cn(w, sd->cn, f->cn_subject, sizeof(f->cn_subject)) == -1)
		return -1;
	(void)snprintf(w, sizeof(w), "%scert-subject", sd->prefix);
	if (explain_dn(w, sd->subject, f->cert_subject,
	    sizeof(f->cert_subject)) == -1)
		return -1;
	(void)snprintf(w, sizeof(w), "%scert-issuer", sd->prefix);
	return explain_dn(w, sd->issuer, f->cert_issuer,
	    sizeof(f->cert_issuer));
}

int
explain_facts_client(const struct explain_input *in, struct explain_facts *f)
{
	struct explain_side	 sd = { "", in->verify, in->bits, in->cn,
	    in->cert_subject, in->cert_issuer, explain_verify_client };
	size_t			 len;

	memset(f, 0, sizeof(*f));
	if (explain_side_facts(&sd, f) == -1 ||
	    explain_number("auth-ssf", in->auth_ssf, &f->ssf) == -1)
		return -1;
	if (in->auth_mech == NULL)
		return 0;
	len = strlen(in->auth_mech);
	if (len == 0 || len > 20 || strspn(in->auth_mech, "ABCDEFGHIJKLMNOP"
	    "QRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != len)
		return explain_fail("auth-mech %s: not a SASL mechanism name",
		    in->auth_mech);
	(void)strlcpy(f->auth_mech, in->auth_mech, sizeof(f->auth_mech));
	return 0;
}

int
explain_facts_server(const struct explain_input *in, struct explain_facts *f)
{
	struct explain_side	 sd = { "server-", in->server_verify,
	    in->server_bits, in->server_cn, in->server_subject,
	    in->server_issuer, explain_verify_server };

	memset(f, 0, sizeof(*f));
	if (in->server_addr == NULL) {
		if (in->server != NULL || in->server_verify != NULL ||
		    in->server_bits != NULL || in->server_cn != NULL ||
		    in->server_subject != NULL || in->server_issuer != NULL)
			return explain_fail("the next hop needs server-addr");
		return 0;
	}
	if (explain_side_facts(&sd, f) == -1)
		return -1;
	if (in->server_verify == NULL)
		(void)strlcpy(f->verify, "NONE", sizeof(f->verify));
	return 0;
}

/* The facts of a session without (or with a different) handshake. */
void
explain_facts_clear_cert(struct explain_facts *f, const char *verify)
{
	(void)strlcpy(f->verify, verify, sizeof(f->verify));
	if (verify[0] == '\0' || strcmp(verify, "NONE") == 0)
		f->bits = 0;
	f->cert_subject[0] = f->cert_issuer[0] = f->cn_subject[0] = '\0';
}
