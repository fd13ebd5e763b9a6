/*
 * policy_tls.c: sendmail's TLS rulesets as policyd decisions (spec 3-5):
 *
 *   tls_client	TLS_Clt: may this client (with its ${verify}) go on?
 *   tls_server	TLS_Srv: may we go on with this next hop?
 *   tls_rcpt	TLS_Rcpt: may this recipient be sent over this connection?
 *   try_tls	Try_TLS: may we send STARTTLS to this next hop?
 *   srv_features	Srv_Features: which extensions this client is offered
 *   RelayTLS	CERTISSUER/CERTSUBJECT: does a verified certificate grant
 *			relaying?
 *
 * A requirement ("PERM+VERIFY:112+CN:mx.example++CI:/C=US/...") is parsed
 * by policy_tls_req_parse() and judged against the facts of the query by
 * policy_tls_req_check(); both are pure, so the unit tests and smtpctl
 * explain see exactly what the daemon decides.  Failure behaviour: a
 * temporary map failure in a requirement lookup answers 451 4.3.0 (spec
 * 3.1); in try_tls it suppresses STARTTLS; in srv_features it makes the
 * session a temporary failure; in RelayTLS it grants nothing.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto.h"
#include "util.h"
#include "policy.h"

#define MAP_ACCESS	"access"

/* The reasons of spec 3.3 step 4, by ${verify}. */
static const struct {
	const char	*verify;
	const char	*reason;
} tls_verify_reasons[] = {
	{ "",		"authentication required" },
	{ "FAIL",	"authentication failed" },
	{ "NO",		"not authenticated" },
	{ "NOT",	"no authentication requested" },
	{ "NONE",	"other side does not support STARTTLS" },
};

/* Case-insensitive prefix test; returns what follows or NULL. */
static const char *
tls_prefix(const char *s, const char *prefix)
{
	size_t	 n = strlen(prefix);

	return strncasecmp(s, prefix, n) == 0 ? s + n : NULL;
}

/* A decimal bit count; -1 if s is not one. */
static long
tls_bits_parse(const char *s, size_t len)
{
	long	 v = 0;
	size_t	 i;

	if (len == 0 || len > 6)
		return -1;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* One extension "CN:name", "CN", "CS:dn" or "CI:dn" of len octets. */
static int
tls_ext_parse(struct policy_tls_req *req, const char *s, size_t len)
{
	struct policy_tls_ext	*e;
	const char		*arg = NULL;

	if (req->next >= POLICY_TLS_EXT_MAX)
		return -1;
	e = &req->ext[req->next];
	if (len == 2 && strncasecmp(s, "CN", 2) == 0)
		e->kind = POLICY_TLS_EXT_CN_NAME;
	else if (len > 3 && strncasecmp(s, "CN:", 3) == 0)
		e->kind = POLICY_TLS_EXT_CN;
	else if (len > 3 && strncasecmp(s, "CS:", 3) == 0)
		e->kind = POLICY_TLS_EXT_CS;
	else if (len > 3 && strncasecmp(s, "CI:", 3) == 0)
		e->kind = POLICY_TLS_EXT_CI;
	else
		return -1;
	if (e->kind != POLICY_TLS_EXT_CN_NAME)
		arg = s + 3;
	if (arg != NULL && (size_t)snprintf(e->arg, sizeof(e->arg), "%.*s",
	    (int)(len - 3), arg) >= sizeof(e->arg))
		return -1;
	req->next++;
	return 0;
}

/* The "+ext++ext..." tail after a requirement; s starts after the '+'. */
static int
tls_exts_parse(struct policy_tls_req *req, const char *s)
{
	const char	*sep;
	size_t		 len;

	for (;;) {
		sep = strstr(s, "++");
		len = sep != NULL ? (size_t)(sep - s) : strlen(s);
		if (tls_ext_parse(req, s, len) == -1)
			return -1;
		if (sep == NULL)
			return 0;
		s = sep + 2;
	}
}

/*
 * Parse a TLS requirement (spec 3.2).  0 and req filled, or -1 when the
 * value is not a requirement (which means: no requirement, accept).
 */
int
policy_tls_req_parse(const char *rhs, struct policy_tls_req *req)
{
	const char	*p, *end;
	size_t		 len;
	long		 bits;

	memset(req, 0, sizeof(*req));
	if ((p = tls_prefix(rhs, "PERM+")) != NULL)
		req->errors = POLICY_TLS_PERM;
	else if ((p = tls_prefix(rhs, "TEMP+")) != NULL)
		req->errors = POLICY_TLS_TEMP;
	else
		p = rhs;
	end = strchr(p, '+');
	len = end != NULL ? (size_t)(end - p) : strlen(p);
	if (len == 6 && strncasecmp(p, "VERIFY", 6) == 0) {
		req->verify = 1;
		bits = 0;
	} else if (len > 7 && strncasecmp(p, "VERIFY:", 7) == 0) {
		req->verify = 1;
		bits = tls_bits_parse(p + 7, len - 7);
	} else if (len > 5 && strncasecmp(p, "ENCR:", 5) == 0)
		bits = tls_bits_parse(p + 5, len - 5);
	else
		return -1;
	if (bits < 0)
		return -1;
	req->bits = (uint32_t)bits;
	if (end != NULL && tls_exts_parse(req, end + 1) == -1)
		return -1;
	return 0;
}

/* The error pair of a requirement (spec 3.2): PERM+ 503, else 403. */
static void
tls_fail(struct policy_result *res, int errors, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
tls_fail(struct policy_result *res, int errors, const char *fmt, ...)
{
	char	 text[POLICY_TEXT_MAX];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (errors == POLICY_TLS_PERM)
		policy_result_reply(res, NULL, 503, "5.7.0", text);
	else
		policy_result_reply(res, NULL, 403, "4.7.0", text);
}

/* Spec 3.3 step 4: why an unverified peer fails a VERIFY requirement. */
static void
tls_fail_verify(struct policy_result *res, int errors, const char *verify)
{
	size_t	 i;

	for (i = 0; i < sizeof(tls_verify_reasons) /
	    sizeof(tls_verify_reasons[0]); i++)
		if (strcmp(verify, tls_verify_reasons[i].verify) == 0) {
			tls_fail(res, errors, "%s", tls_verify_reasons[i].reason);
			return;
		}
	tls_fail(res, errors, "authentication failure %s", verify);
}

/* Spec 3.3 step 7: every extension must hold; 0 ok, -1 res filled. */
static int
tls_exts_check(const struct policy_tls_req *req,
    const struct policy_tls_facts *f, struct policy_result *res)
{
	const struct policy_tls_ext	*e;
	size_t				 i;

	for (i = 0; i < req->next; i++) {
		e = &req->ext[i];
		switch (e->kind) {
		case POLICY_TLS_EXT_CN_NAME:
		case POLICY_TLS_EXT_CN:
			if (strcasecmp(f->cn_subject, e->kind ==
			    POLICY_TLS_EXT_CN ? e->arg : f->tls_name) != 0) {
				tls_fail(res, req->errors, "CN %s does not "
				    "match %s", f->cn_subject, e->kind ==
				    POLICY_TLS_EXT_CN ? e->arg : f->tls_name);
				return -1;
			}
			break;
		case POLICY_TLS_EXT_CS:
			if (strcasecmp(f->cert_subject, e->arg) != 0) {
				tls_fail(res, req->errors, "Cert Subject %s "
				    "does not match %s", f->cert_subject,
				    e->arg);
				return -1;
			}
			break;
		case POLICY_TLS_EXT_CI:
			if (strcasecmp(f->cert_issuer, e->arg) != 0) {
				tls_fail(res, req->errors, "Cert Issuer %s "
				    "does not match %s", f->cert_issuer, e->arg);
				return -1;
			}
			break;
		}
	}
	return 0;
}

/*
 * Judge the facts against what the map said (spec 3.3, 3.4).  rhs is the
 * value found, or NULL if no entry was; nomap: there is no access map at
 * all.  res is accepted or refused.
 */
void
policy_tls_req_check(const char *rhs, int nomap,
    const struct policy_tls_facts *f, struct policy_result *res)
{
	struct policy_tls_req	 req;
	uint32_t		 actual;
	int			 isreq;

	isreq = rhs != NULL && policy_tls_req_parse(rhs, &req) == 0;
	if (!isreq)
		memset(&req, 0, sizeof(req));
	if (req.errors == POLICY_TLS_DEFAULT && f->perm_error)
		req.errors = POLICY_TLS_PERM;
	if (strcmp(f->verify, "SOFTWARE") == 0) {
		tls_fail(res, req.errors, nomap ? "TLS handshake." :
		    "TLS handshake failed.");
		return;
	}
	if (strcmp(f->verify, "PROTOCOL") == 0 && !nomap) {
		tls_fail(res, req.errors, "STARTTLS failed.");
		return;
	}
	if (!isreq) {
		policy_result_accept(res, 0, "");
		return;
	}
	/* sendmail 8.16+: DANE's TRUSTED satisfies VERIFY like OK */
	if (req.verify && strcmp(f->verify, "OK") != 0 &&
	    strcmp(f->verify, "TRUSTED") != 0) {
		tls_fail_verify(res, req.errors, f->verify);
		return;
	}
	actual = f->cipher_bits > f->auth_ssf ? f->cipher_bits : f->auth_ssf;
	if (actual < req.bits) {
		tls_fail(res, req.errors, "encryption too weak %u less than %u",
		    actual, req.bits);
		return;
	}
	if (tls_exts_check(&req, f, res) == -1)
		return;
	policy_result_accept(res, 0, "");
}

/* The facts of a query as the TLS rulesets see them. */
void
policy_tls_facts_from(const struct policy_query *q,
    struct policy_tls_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->verify = q->verify;
	f->cipher_bits = q->cipher_bits;
	f->auth_ssf = q->auth_ssf;
	f->cn_subject = q->cn_subject;
	f->cert_subject = q->cert_subject;
	f->cert_issuer = q->cert_issuer;
	f->tls_name = q->name;
}

/*
 * The bare-tag default lookups (spec 1.3): D '!' on name, A '!' on addr,
 * then "Tag:".  name and addr may be "".
 */
int
policy_tls_lookup(const struct policy_env *env, const char *tag,
    const char *name, const char *addr, char *value, size_t valuelen,
    char *key, size_t keylen)
{
	struct policy_keys	 keys;
	int			 r;

	policy_keys_init(&keys);
	if (name[0] != '\0') {
		policy_env_step(env, "%s: D !%s on %s", tag, tag, name);
		(void)policy_probe_domain(&keys, tag, name,
		    policy_env_dflags(env, 0));
		r = policy_env_search_da(env, &keys, value, valuelen, key,
		    keylen);
		if (r != POLICY_DB_NOTFOUND)
			return r;
	}
	if (addr[0] != '\0') {
		policy_env_step(env, "%s: A !%s on %s", tag, tag, addr);
		(void)policy_probe_addr(&keys, tag, addr, 0);
		r = policy_env_search_da(env, &keys, value, valuelen, key,
		    keylen);
		if (r != POLICY_DB_NOTFOUND)
			return r;
	}
	policy_env_step(env, "%s: the default %s:", tag, tag);
	(void)policy_probe_exact(&keys, tag, "", 0);
	r = policy_env_search(env, MAP_ACCESS, &keys, value, valuelen, key,
	    keylen);
	policy_keys_free(&keys);
	return r;
}

/* Judge what a lookup found; r is its POLICY_DB_* result. */
static void
tls_conclude(const struct policy_env *env, const struct policy_query *q,
    int r, const char *value, const char *key, struct policy_result *res)
{
	struct policy_tls_facts	 f;

	if (r == POLICY_DB_TMPF) {
		policy_result_tempfail(res);
		(void)strlcpy(res->key, key, sizeof(res->key));
		return;
	}
	policy_tls_facts_from(q, &f);
	f.perm_error = env->tls_perm_error;
	policy_tls_req_check(r == POLICY_DB_FOUND ? value : NULL,
	    env->db == NULL && env->lookup == NULL && !env->dbfail, &f,
	    res);
	(void)strlcpy(res->key, key, sizeof(res->key));
}

/* tls_client (server side) and tls_server (client side): spec 3.1. */
void
policy_tls_peer(const struct policy_env *env, const char *tag,
    const struct policy_query *q, struct policy_result *res)
{
	char	 value[POLICY_VALUE_MAX + 1], key[POLICY_KEY_MAX + 1];
	int	 r;

	r = policy_tls_lookup(env, tag, q->name, q->addr, value,
	    sizeof(value), key, sizeof(key));
	tls_conclude(env, q, r, value, key, res);
}

/*
 * tls_rcpt (spec 3.1): SearchList !TLS_Rcpt of F u@dom, U u@, D dom and
 * the bare tag, on the recipient.
 */
void
policy_tls_rcpt(const struct policy_env *env, const struct policy_query *q,
    struct policy_result *res)
{
	struct policy_keys	 keys;
	char			 rcpt[POLICY_PATH_MAX], local[POLICY_PATH_MAX];
	char			 value[POLICY_VALUE_MAX + 1];
	char			 key[POLICY_KEY_MAX + 1];
	char			*at;
	int			 r;

	(void)strlcpy(rcpt, q->rcpt, sizeof(rcpt));
	text_lower(rcpt);
	policy_env_step(env, "tls_rcpt: F, U, D, E !TLS_Rcpt on <%s>", rcpt);
	policy_keys_init(&keys);
	if ((at = strrchr(rcpt, '@')) != NULL) {
		(void)policy_probe_full(&keys, "TLS_Rcpt", rcpt, 0);
		(void)snprintf(local, sizeof(local), "%.*s", (int)(at - rcpt),
		    rcpt);
		(void)policy_probe_user(&keys, "TLS_Rcpt", local, 0);
		(void)policy_probe_domain(&keys, "TLS_Rcpt", at + 1,
		    policy_env_dflags(env, 0));
	} else
		(void)policy_probe_user(&keys, "TLS_Rcpt", rcpt, 0);
	(void)policy_probe_exact(&keys, "TLS_Rcpt", "", 0);
	r = policy_env_search(env, MAP_ACCESS, &keys, value, sizeof(value),
	    key, sizeof(key));
	policy_keys_free(&keys);
	tls_conclude(env, q, r, value, key, res);
}

/*
 * clt_features (spec 4.3, sendmail 8.17): D !Clt_Features on the server
 * name, then the bare tag; no address probe.  The letters D (no DANE)
 * and M (no MTA-STS), in either case, go back in features_set; others,
 * a TMPF or "temp" are ignored (nothing is turned off).
 */
void
policy_tls_clt_features(const struct policy_env *env,
    const struct policy_query *q, struct policy_result *res)
{
	char		 value[POLICY_VALUE_MAX + 1], key[POLICY_KEY_MAX + 1];
	uint32_t	 set, clr;

	if (policy_tls_lookup(env, "Clt_Features", q->name, "", value,
	    sizeof(value), key, sizeof(key)) != POLICY_DB_FOUND ||
	    policy_tls_features_parse(value, &set, &clr) == -1)
		return;
	res->features_set = (set | clr) &
	    (POLICY_FEATURE('d') | POLICY_FEATURE('m'));
	res->features_clear = 0;
}

/* try_tls (spec 4.1): REJECT means "do not send STARTTLS". */
void
policy_tls_try(const struct policy_env *env, const struct policy_query *q,
    struct policy_result *res)
{
	char	 value[POLICY_VALUE_MAX + 1], key[POLICY_KEY_MAX + 1];
	char	 text[POLICY_TEXT_MAX];
	int	 r;

	r = policy_tls_lookup(env, "Try_TLS", q->name, q->addr, value,
	    sizeof(value), key, sizeof(key));
	if (r == POLICY_DB_TMPF) {
		policy_result_tempfail(res);
	} else if (r == POLICY_DB_FOUND && strcasecmp(value, "NO") == 0) {
		(void)snprintf(text, sizeof(text), "do not try TLS with %s "
		    "[%s]", q->name, q->addr);
		policy_result_reply(res, NULL, 550, "5.7.1", text);
	} else
		policy_result_accept(res, 0, "");
	(void)strlcpy(res->key, key, sizeof(res->key));
}

/*
 * The letters of a Srv_Features value (spec 4.2): the first character of
 * each blank-separated word; uppercase clears, lowercase sets.  Returns
 * -1 if the value starts with "temp".  Unknown letters are ignored
 * (policy_entry_check() refuses them when an entry is stored).
 */
int
policy_tls_features_parse(const char *value, uint32_t *set, uint32_t *clr)
{
	const char	*p = value;
	int		 c;

	*set = *clr = 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, "temp", 4) == 0)
		return -1;
	while (*p != '\0') {
		c = (unsigned char)*p;
		if (c >= 'a' && c <= 'z')
			*set |= POLICY_FEATURE(c);
		else if (c >= 'A' && c <= 'Z')
			*clr |= POLICY_FEATURE(tolower(c));
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		while (*p == ' ' || *p == '\t')
			p++;
	}
	return 0;
}

/* srv_features (spec 4.2), after check_relay accepted the client. */
void
policy_tls_features(const struct policy_env *env,
    const struct policy_query *q, struct policy_result *res)
{
	char	 value[POLICY_VALUE_MAX + 1], key[POLICY_KEY_MAX + 1];
	int	 r;

	r = policy_tls_lookup(env, "Srv_Features", q->name, q->addr, value,
	    sizeof(value), key, sizeof(key));
	if (r == POLICY_DB_NOTFOUND)
		return;
	if (r == POLICY_DB_TMPF || policy_tls_features_parse(value,
	    &res->features_set, &res->features_clear) == -1) {
		policy_env_step(env, "srv_features: the session is a "
		    "temporary failure");
		res->flags |= POLICY_F_SESSION_TEMP;
		res->features_set = res->features_clear = 0;
	}
}

/*
 * RelayTLS (spec 5.1): 1 when a verified certificate's issuer (or, via
 * SUBJECT, its subject) maps to RELAY; key names the entry.  A TMPF
 * counts as "not found".
 */
int
policy_tls_relay(const struct policy_env *env, const struct policy_query *q,
    char *key, size_t keylen)
{
	char	 value[POLICY_VALUE_MAX + 1], probe[POLICY_KEY_MAX + 1];
	int	 r;

	if (strcmp(q->verify, "OK") != 0)
		return 0;
	policy_env_step(env, "RelayTLS: CERTISSUER of a verified certificate");
	(void)snprintf(probe, sizeof(probe), "CERTISSUER:%s", q->cert_issuer);
	text_lower(probe);
	r = policy_env_lookup(env, MAP_ACCESS, probe, value, sizeof(value));
	if (r != POLICY_DB_FOUND)
		return 0;
	if (strcasecmp(value, "RELAY") != 0) {
		if (strcasecmp(value, "SUBJECT") != 0)
			return 0;
		(void)snprintf(probe, sizeof(probe), "CERTSUBJECT:%s",
		    q->cert_subject);
		text_lower(probe);
		r = policy_env_lookup(env, MAP_ACCESS, probe, value,
		    sizeof(value));
		if (r != POLICY_DB_FOUND || strcasecmp(value, "RELAY") != 0)
			return 0;
	}
	(void)strlcpy(key, probe, keylen);
	return 1;
}
