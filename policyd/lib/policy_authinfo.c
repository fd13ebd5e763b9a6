/*
 * policy_authinfo.c: the "authinfo" map, the credentials the outbound
 * client uses to authenticate to a next hop (sendmail's authinfo ruleset
 * with FEATURE(authinfo), spec 8).
 *
 * Keys are probed as sendmail does: D !AuthInfo on the server's name
 * (the name and its parent domains), A !AuthInfo on its address (the
 * address and its prefixes), then the bare "AuthInfo:" default.  A value
 * is a list of quoted items separated by blanks:
 *   "U:user"  authorization id     "I:authid"  authentication id
 *   "P:secret" or "P=base64"       "R:realm"   "M:MECH1 MECH2"
 *   "T:VERIFY" or "T:ENCR"         (ours, not sendmail's: see below)
 * At least one of U: and I: is needed (the missing one is the other),
 * and P:.  No item may repeat, no other letter is known, no item may hold
 * a double quote, CR, LF or NUL (nor may the decoded secret).
 *
 * T: is what a session must be before the mta sends the credential:
 * VERIFY, the default, is TLS whose certificate verified (${verify} OK);
 * ENCR is any TLS, for a next hop whose certificate cannot verify.
 * sendmail sends it over any session; an unverified TLS session is no
 * protection against whoever sits in the middle, hence the default.
 *
 * Interface (policy.h): policy_authinfo_parse() checks and splits a
 * value; policy_authinfo_mask() copies a value (valid or not) with the
 * secret replaced by "****", for every line that shows one;
 * policy_authinfo_find() answers the mta's question.
 * Failure behaviour: -1 with a reason that never quotes the secret; a
 * database failure or a stored value that does not parse is TMPF.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "log.h"
#include "util.h"
#include "policy.h"

#define AUTHINFO_TAG	"AuthInfo"
#define AUTHINFO_MASK	"****"

/* Where the text of item letter c goes, or NULL for an unknown letter. */
static char *
authinfo_slot(struct policy_authinfo *ai, char c, size_t *len)
{
	*len = sizeof(ai->user);
	switch (c) {
	case 'U':
		return ai->user;
	case 'I':
		return ai->authid;
	case 'P':
		return ai->secret;
	case 'R':
		return ai->realm;
	case 'M':
		return ai->mechs;
	}
	return NULL;
}

/* The text of "T:" (n octets at text) into ai->tls. */
static const char *
authinfo_tls(struct policy_authinfo *ai, const char *text, size_t n)
{
	if (n == 6 && strncasecmp(text, "VERIFY", n) == 0)
		ai->tls = AUTHINFO_TLS_VERIFY;
	else if (n == 4 && strncasecmp(text, "ENCR", n) == 0)
		ai->tls = AUTHINFO_TLS_ENCR;
	else
		return "\"T:\" is VERIFY or ENCR";
	return NULL;
}

/* The secret of "P=base64": decoded in place, no NUL in it. */
static const char *
authinfo_decode(char *secret)
{
	char	 buf[POLICY_AUTHINFO_MAX];
	int	 n;

	n = base64_decode(secret, buf, sizeof(buf) - 1);
	if (n <= 0) {
		explicit_bzero(buf, sizeof(buf));
		return "P= secret is not valid base64";
	}
	buf[n] = '\0';
	if (strlen(buf) != (size_t)n || !text_is_clean(buf)) {
		explicit_bzero(buf, sizeof(buf));
		return "the decoded P= secret holds a NUL or control character";
	}
	(void)strlcpy(secret, buf, POLICY_AUTHINFO_MAX);
	explicit_bzero(buf, sizeof(buf));
	return NULL;
}

/* One quoted item at *p; *p moves past it.  NULL, or the reason. */
static const char *
authinfo_item(const char **p, struct policy_authinfo *ai, int *seen)
{
	const char	*s = *p, *end;
	char		*slot;
	size_t		 len, n;
	int		 letter;

	if (*s != '"')
		return "items must be double-quoted (\"U:user\" \"P:secret\")";
	if ((end = strchr(s + 1, '"')) == NULL)
		return "unterminated double quote";
	if (end - s < 3 || (s[2] != ':' && !(s[1] == 'P' && s[2] == '=')))
		return "an item is a letter, ':' and its text (\"P=\" for "
		    "base64)";
	if ((slot = authinfo_slot(ai, s[1], &len)) == NULL && s[1] != 'T')
		return "unknown item letter (known: U I P R M T)";
	letter = s[1] - 'A';
	if (*seen & (1 << letter))
		return "an item is given twice";
	*seen |= 1 << letter;
	n = (size_t)(end - s - 3);
	if (n == 0)
		return "an item with an empty text";
	*p = end + 1;
	if (slot == NULL)
		return authinfo_tls(ai, s + 3, n);
	if (n >= len)
		return "an item too long";
	(void)snprintf(slot, len, "%.*s", (int)n, s + 3);
	if (s[2] == '=')
		return authinfo_decode(slot);
	return NULL;
}

/* Octets no value may hold; the reason or NULL. */
static const char *
authinfo_text_check(const char *value)
{
	const unsigned char	*p;

	for (p = (const unsigned char *)value; *p != '\0'; p++) {
		if (*p == '\r' || *p == '\n')
			return "carriage return or line feed in the value";
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return "control character in the value";
	}
	return NULL;
}

int
policy_authinfo_parse(const char *value, struct policy_authinfo *ai,
    const char **why)
{
	const char	*p = value;
	int		 seen = 0;

	memset(ai, 0, sizeof(*ai));
	*why = authinfo_text_check(value);
	while (*why == NULL) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		*why = authinfo_item(&p, ai, &seen);
		if (*why == NULL && *p != '\0' && *p != ' ' && *p != '\t')
			*why = "items must be separated by blanks";
	}
	if (*why == NULL && ai->user[0] == '\0' && ai->authid[0] == '\0')
		*why = "neither \"U:user\" nor \"I:authid\" is given";
	else if (*why == NULL && ai->secret[0] == '\0')
		*why = "no \"P:secret\" (or \"P=base64\") is given";
	if (*why != NULL) {
		explicit_bzero(ai, sizeof(*ai));
		return -1;
	}
	if (ai->user[0] == '\0')
		(void)strlcpy(ai->user, ai->authid, sizeof(ai->user));
	if (ai->authid[0] == '\0')
		(void)strlcpy(ai->authid, ai->user, sizeof(ai->authid));
	return 0;
}

/* 1 if p starts a secret item: a quote, P (any case), ':' or '='. */
static int
authinfo_is_secret(const char *p)
{
	return p[0] == '"' && (p[1] == 'P' || p[1] == 'p') &&
	    (p[2] == ':' || p[2] == '=');
}

void
policy_authinfo_mask(const char *value, char *out, size_t outlen)
{
	const char	*p = value;
	size_t		 o = 0;
	int		 n;

	while (*p != '\0' && o + 1 < outlen) {
		if (!authinfo_is_secret(p)) {
			out[o++] = *p++;
			continue;
		}
		n = snprintf(out + o, outlen - o, "\"%c%c%s", p[1], p[2],
		    AUTHINFO_MASK);
		if (n < 0 || (size_t)n >= outlen - o)
			break;
		o += (size_t)n;
		p += 3;
		p += strcspn(p, "\"");
	}
	out[o] = '\0';
}

/* Run keys in order into value; keys are freed. */
static int
authinfo_search(const struct policy_env *env, struct policy_keys *keys,
    char *value, size_t valuelen, char *key, size_t keylen)
{
	int	 r;

	r = policy_env_search(env, POLICY_MAP_AUTHINFO, keys, value, valuelen,
	    key, keylen);
	policy_keys_free(keys);
	return r;
}

/* The lookups of spec 8: D !AuthInfo, A !AuthInfo, "AuthInfo:". */
static int
authinfo_lookup(const struct policy_env *env, const char *name,
    const char *addr, char *value, size_t valuelen, char *key, size_t keylen)
{
	struct policy_keys	 keys;
	int			 r;

	policy_keys_init(&keys);
	if (name[0] != '\0') {
		(void)policy_probe_domain(&keys, AUTHINFO_TAG, name, 0);
		r = authinfo_search(env, &keys, value, valuelen, key, keylen);
		if (r != POLICY_DB_NOTFOUND)
			return r;
	}
	if (addr[0] != '\0') {
		(void)policy_probe_addr(&keys, AUTHINFO_TAG, addr, 0);
		r = authinfo_search(env, &keys, value, valuelen, key, keylen);
		if (r != POLICY_DB_NOTFOUND)
			return r;
	}
	(void)policy_probe_exact(&keys, AUTHINFO_TAG, "", 0);
	return authinfo_search(env, &keys, value, valuelen, key, keylen);
}

int
policy_authinfo_find(const struct policy_env *env, const char *name,
    const char *addr, struct policy_authinfo *ai, char *key, size_t keylen)
{
	char		 value[POLICY_VALUE_MAX + 1];
	const char	*why;
	int		 r;

	memset(ai, 0, sizeof(*ai));
	r = authinfo_lookup(env, name, addr, value, sizeof(value), key,
	    keylen);
	if (r == POLICY_DB_FOUND && policy_authinfo_parse(value, ai,
	    &why) == -1) {
		log_warnx("authinfo %s: %s: entry ignored, mail to this "
		    "server waits", key, why);
		r = POLICY_DB_TMPF;
	}
	explicit_bzero(value, sizeof(value));
	return r;
}
