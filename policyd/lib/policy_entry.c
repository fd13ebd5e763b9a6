/*
 * policy_entry.c: the check of one map entry before "smtpctl access add"
 * or "smtpctl map add" stores it.
 *
 * The key and value must be a line makemap would accept (no control
 * character, CR and LF included; no blank or double quote in the key; no
 * tab in the value; at most 1024 octets each; a set map takes no value),
 * so that an entry added by hand is one makemap could have loaded.
 * Beyond that the value must mean something to its map:
 *   access       keys tagged Connect:, From: or To: (or untagged); values
 *                OK, RELAY, REJECT, DISCARD, ERROR:[D.S.N:]ddd [x.y.z]
 *                text or the old "ddd text" with a 4xx/5xx code, a text
 *                and an enhanced status of the code's class; SKIP only
 *                where it is honoured (Connect: and untagged keys);
 *                QUARANTINE:reason with 1 to 255 printable characters.
 *   mailertable  "mailer:rest" with a mailer policy_route.c delivers
 *                with, or error:... as above.
 *   TLS_Clt:, TLS_Srv:, TLS_Rcpt: a requirement (spec 3.2) or OK; the
 *                bare tag is their default.
 *   Try_TLS:     YES or NO.  Srv_Features: letters of spec 4.2, or temp.
 *   CERTISSUER:  RELAY or SUBJECT.  CERTSUBJECT: RELAY.
 *   ClientConn:, ClientRate: a number (0 = no limit); the bare tag is
 *                their default.
 *   authinfo     keys AuthInfo:name, AuthInfo:address or the bare
 *                AuthInfo:; values the quoted items of
 *                policy_authinfo.c (reasons never quote the secret).
 *   virtusertable  keys user@domain (a "+detail" in user is literal),
 *                user+*@domain, user++@domain, +*@domain, ++@domain or
 *                @domain; values an address or a local user, either of
 *                which may hold %1, %2 and %3, or error:... as above (a
 *                sendmail keyword such as "nouser" allowed, spec 2.1).
 *   genericstable  keys user or user@domain; values an address or a
 *                user.
 *   local-users  user names (local parts without a domain).
 *   virtual-domains  domain names.
 *   aliases      the stored form of policy_alias.c: a name of 1 to 64
 *                printable octets (quoted names are stored unquoted, so
 *                it may hold blanks) and a list of items; the value may
 *                be up to POLICY_ALIAS_VALUE_MAX octets.
 * Tags of other sendmail rulesets (Spam:, ...) are refused until this
 * version looks them up: an entry that can never match must not look as
 * if it worked.
 *
 * Interface: policy_entry_check() (a whole entry) and
 * policy_entry_key_check() (a key to delete) return 0, or -1 with a
 * reason in err.
 * Failure behaviour: none beyond that; nothing is touched.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mailaddr.h"
#include "util.h"
#include "policy.h"

/* The access-map tags this version looks up (spec 1.6, 3-5). */
static const char *entry_tags[] = { "connect", "from", "to" };

/* The tags whose values are not OK/RELAY/REJECT/... and their checks. */
static const char	*entry_tls_req_check(const char *);
static const char	*entry_try_tls_check(const char *);
static const char	*entry_features_check(const char *);
static const char	*entry_clt_features_check(const char *);
static const char	*entry_certissuer_check(const char *);
static const char	*entry_certsubject_check(const char *);
static const char	*entry_limit_check(const char *);

static const struct {
	const char	*tag;
	int		 bare;		/* "Tag:" alone is a default */
	const char	*(*check)(const char *);
} entry_special[] = {
	{ "tls_clt",		1, entry_tls_req_check },
	{ "tls_srv",		1, entry_tls_req_check },
	{ "tls_rcpt",		1, entry_tls_req_check },
	{ "try_tls",		1, entry_try_tls_check },
	{ "srv_features",	1, entry_features_check },
	{ "clt_features",	1, entry_clt_features_check },
	{ "certissuer",		0, entry_certissuer_check },
	{ "certsubject",	0, entry_certsubject_check },
	{ "clientconn",		1, entry_limit_check },
	{ "clientrate",		1, entry_limit_check },
};

static const char *entry_mailers[] = {
	"smtp", "esmtp", "smtp8", "dsmtp", "relay", "error"
};

/* Octets no map may hold: the makemap rules for one line. */
static const char *
entry_text_check(const char *s, int iskey)
{
	const unsigned char	*p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '\r' || *p == '\n')
			return "carriage return or line feed";
		if (*p == '\t' && !iskey)
			return "tab inside the value";
		if (*p < 0x20 || *p == 0x7f)
			return "control character";
		if (iskey && (*p == ' ' || *p == '\t'))
			return "blank inside the key";
		if (iskey && *p == '"')
			return "double quote in the key";
	}
	return NULL;
}

/*
 * The tag of an access key, lowercased into tag: what precedes the first
 * ':' if that is letters and '_' only; "" for an untagged key (an
 * "IPv6:..." address is untagged).
 */
static void
entry_tag(const char *key, char *tag, size_t taglen)
{
	size_t	 i;

	tag[0] = '\0';
	for (i = 0; key[i] != ':'; i++)
		if (key[i] == '\0' || i + 1 >= taglen ||
		    !(isalpha((unsigned char)key[i]) || key[i] == '_'))
			return;
	(void)snprintf(tag, taglen, "%.*s", (int)i, key);
	if (strcasecmp(tag, "ipv6") == 0)
		tag[0] = '\0';
	text_lower(tag);
}

/* An error value (what follows ERROR:, or "ddd text"; with keyword, a
 * sendmail error keyword may come first); NULL if fine. */
static const char *
entry_error_check(const char *body, int keyword)
{
	char		 enh[POLICY_ENH_MAX], text[POLICY_TEXT_MAX];
	uint32_t	 code;
	int		 coded;

	coded = policy_reply_parse(body, keyword, &code, enh, sizeof(enh), text,
	    sizeof(text));
	if (!coded && isdigit((unsigned char)text[0]) &&
	    isdigit((unsigned char)text[1]) &&
	    isdigit((unsigned char)text[2]) &&
	    (text[3] == ' ' || text[3] == '\0'))
		return "the reply code must be 4xx or 5xx";
	if (text[0] == '\0')
		return "an error value needs a reply text";
	if (coded && enh[0] != (char)('0' + code / 100))
		return "the enhanced status does not match the reply code";
	return NULL;
}

/* A TLS requirement; NULL if fine. */
static const char *
entry_tls_req_check(const char *value)
{
	struct policy_tls_req	 req;

	if (strcasecmp(value, "OK") == 0 ||
	    policy_tls_req_parse(value, &req) == 0)
		return NULL;
	return "not a TLS requirement (expected [PERM+|TEMP+]VERIFY, "
	    "VERIFY:bits or ENCR:bits, then +CN, +CN:name, +CS:dn or +CI:dn "
	    "joined by ++; or OK)";
}

static const char *
entry_try_tls_check(const char *value)
{
	if (strcasecmp(value, "YES") == 0 || strcasecmp(value, "NO") == 0)
		return NULL;
	return "Try_TLS takes YES or NO";
}

/* Srv_Features: letters (one per blank-separated word) or "temp". */
static const char *
entry_features_check(const char *value)
{
	const char	*p;

	if (strncasecmp(value, "temp", 4) == 0)
		return NULL;
	for (p = value; *p != '\0'; p++) {
		if (*p == ' ' || *p == '\t')
			continue;
		if (strchr("AaBbCcDdEeLlPpSsVvRrXx", *p) == NULL)
			return "Srv_Features takes the letters A B C D E L P S V "
			    "X (lowercase sets, uppercase clears), one per "
			    "word, or temp";
		while (p[1] != '\0' && p[1] != ' ' && p[1] != '\t')
			p++;
	}
	return NULL;
}

/* Clt_Features: letters, one per blank-separated word (D, M). */
static const char *
entry_clt_features_check(const char *value)
{
	const char	*p;

	for (p = value; *p != '\0'; p++) {
		if (*p == ' ' || *p == '\t')
			continue;
		if (strchr("DdMm", *p) == NULL)
			return "Clt_Features takes the letters D (no DANE) and "
			    "M (no MTA-STS), one per word";
		while (p[1] != '\0' && p[1] != ' ' && p[1] != '\t')
			p++;
	}
	return NULL;
}

static const char *
entry_certissuer_check(const char *value)
{
	if (strcasecmp(value, "RELAY") == 0 ||
	    strcasecmp(value, "SUBJECT") == 0)
		return NULL;
	return "CERTISSUER takes RELAY or SUBJECT";
}

static const char *
entry_certsubject_check(const char *value)
{
	return strcasecmp(value, "RELAY") == 0 ? NULL :
	    "CERTSUBJECT takes RELAY";
}

/* ClientConn:, ClientRate: (policy_limit.c). */
static const char *
entry_limit_check(const char *value)
{
	uint32_t	 n;

	return policy_limit_parse(value, &n) == 0 ? NULL :
	    "ClientConn and ClientRate take a number, 0 to 2147483647";
}

/* An entry of the TLS rulesets; *known = 0 if tag is not one of them. */
static const char *
entry_special_check(const char *key, const char *tag, const char *value,
    int *known)
{
	size_t	 i;

	*known = 0;
	for (i = 0; i < sizeof(entry_special) / sizeof(entry_special[0]); i++)
		if (strcmp(tag, entry_special[i].tag) == 0)
			break;
	if (i == sizeof(entry_special) / sizeof(entry_special[0]))
		return NULL;
	*known = 1;
	if (!entry_special[i].bare && key[strlen(tag) + 1] == '\0')
		return "this tag needs a value after it";
	if (entry_special[i].bare && strcasecmp(value, "SKIP") == 0)
		return NULL;
	return entry_special[i].check(value);
}

/* An access-map entry; NULL if fine. */
static const char *
entry_access_check(const char *key, const char *value)
{
	char		 tag[32];
	const char	*body, *err;
	size_t		 i;
	int		 known;

	entry_tag(key, tag, sizeof(tag));
	err = entry_special_check(key, tag, value, &known);
	if (known)
		return err;
	for (i = 0; tag[0] != '\0' &&
	    i < sizeof(entry_tags) / sizeof(entry_tags[0]); i++)
		if (strcmp(tag, entry_tags[i]) == 0)
			break;
	if (i == sizeof(entry_tags) / sizeof(entry_tags[0]))
		return "unknown tag (this version looks up Connect:, From:, "
		    "To:, TLS_Clt:, TLS_Srv:, TLS_Rcpt:, Try_TLS:, "
		    "Srv_Features:, Clt_Features:, CERTISSUER:, CERTSUBJECT:, ClientConn: and "
		    "ClientRate: keys)";
	if (tag[0] != '\0' && key[strlen(tag) + 1] == '\0')
		return "a Connect:, From: or To: key needs a value after "
		    "the tag";
	switch (policy_rhs_parse(value, &body)) {
	case POLICY_RHS_OK:
	case POLICY_RHS_RELAY:
	case POLICY_RHS_REJECT:
	case POLICY_RHS_DISCARD:
		return NULL;
	case POLICY_RHS_SKIP:
		return tag[0] == '\0' || strcmp(tag, "connect") == 0 ? NULL :
		    "SKIP is honoured only in Connect: entries";
	case POLICY_RHS_ERROR:
		return entry_error_check(body, 0);
	case POLICY_RHS_QUARANTINE:
		return quarantine_reason_valid(body) ? NULL :
		    "QUARANTINE: needs a reason of 1 to 255 printable "
		    "characters";
	case POLICY_RHS_UNKNOWN:
		break;
	}
	return "unknown value (expected OK, RELAY, REJECT, DISCARD, SKIP, "
	    "QUARANTINE:text, ERROR:[D.S.N:]ddd text)";
}

/* A mailertable value: "mailer:rest"; NULL if fine. */
static const char *
entry_mailertable_check(const char *value)
{
	const char	*colon = strchr(value, ':');
	size_t		 i, len;

	if (colon == NULL || colon == value)
		return "the value must be mailer:host or error:...";
	len = (size_t)(colon - value);
	for (i = 0; i < sizeof(entry_mailers) / sizeof(entry_mailers[0]); i++)
		if (strlen(entry_mailers[i]) == len &&
		    strncasecmp(value, entry_mailers[i], len) == 0)
			break;
	if (i == sizeof(entry_mailers) / sizeof(entry_mailers[0]))
		return "unsupported mailer (mailers: smtp, esmtp, smtp8, "
		    "dsmtp, relay, error)";
	if (strncasecmp(value, "error", len) == 0)
		return entry_error_check(colon + 1, 0);
	return colon[1] == '\0' ? "the value must be mailer:host" : NULL;
}

/* An authinfo entry; NULL if fine. */
static const char *
entry_authinfo_check(const char *key, const char *value)
{
	struct policy_authinfo	 ai;
	const char		*why;

	if (strncasecmp(key, "authinfo:", 9) != 0)
		return "an authinfo key is AuthInfo:name, AuthInfo:address "
		    "or AuthInfo:";
	if (policy_authinfo_parse(value, &ai, &why) == -1)
		return why;
	explicit_bzero(&ai, sizeof(ai));
	return NULL;
}

#define ENTRY_VIRTUSER_KEYS	"a virtusertable key is user@domain, " \
				"user+*@domain, user++@domain, +*@domain, " \
				"++@domain or @domain"

/* A virtusertable key; NULL if fine. */
static const char *
entry_virtuser_key_check(const char *key)
{
	const char	*at = strrchr(key, '@');
	char		 user[MAILADDR_LOCAL_MAX + 1];
	size_t		 len;

	if (at == NULL)
		return ENTRY_VIRTUSER_KEYS;
	if (!mailaddr_domain_valid(at + 1, strlen(at + 1)) &&
	    !mailaddr_literal_valid(at + 1, strlen(at + 1)))
		return "the domain of a virtusertable key is not a domain name";
	if ((len = (size_t)(at - key)) == 0)
		return NULL;
	if (len >= 2 && key[len - 2] == '+' &&
	    (key[len - 1] == '*' || key[len - 1] == '+')) {
		if (len == 2)
			return NULL;
		len -= 2;
		/* the probes split user+detail at the first '+' */
		if (memchr(key, '+', len) != NULL)
			return "the user before +* or ++ cannot hold a '+' "
			    "(the detail starts at the first one)";
	}
	if (len >= sizeof(user))
		return "the user of a virtusertable key is over 64 octets";
	memcpy(user, key, len);
	user[len] = '\0';
	return mailaddr_local_valid(user, len) ? NULL : ENTRY_VIRTUSER_KEYS;
}

/* A virtusertable value; NULL if fine. */
static const char *
entry_virtuser_value_check(const char *value)
{
	char	 buf[POLICY_VALUE_MAX + 1];
	size_t	 i, n = 0;

	if (strncasecmp(value, "error:", 6) == 0)
		return entry_error_check(value + 6, 1);
	/* each %N stands for some text: check the address with an 'x' */
	for (i = 0; value[i] != '\0' && n + 1 < sizeof(buf); i++) {
		if (value[i] == '%' && (value[i + 1] < '1' ||
		    value[i + 1] > '3'))
			return "only %1, %2 and %3 may follow a '%'";
		buf[n++] = value[i] == '%' ? 'x' : value[i];
		if (value[i] == '%')
			i++;
	}
	buf[n] = '\0';
	if (strchr(buf, '@') != NULL ? mailaddr_mailbox_valid(buf) :
	    mailaddr_local_valid(buf, n))
		return NULL;
	return "the value must be an address, a local user or error:...";
}

/*
 * A genericstable entry: the key is a user or user@domain (the lookups
 * of policy_generics.c), the value the outbound address, or a user that
 * the front end qualifies.
 */
static const char *
entry_generics_check(const char *key, const char *value)
{
	const char	*at = strrchr(key, '@');

	if (at == NULL ? !mailaddr_local_valid(key, strlen(key)) :
	    !mailaddr_mailbox_valid(key))
		return "a genericstable key is user or user@domain";
	if (strchr(value, '@') != NULL ? !mailaddr_mailbox_valid(value) :
	    !mailaddr_local_valid(value, strlen(value)))
		return "a genericstable value is an address or a user";
	return NULL;
}

/* An entry of a map the address resolution reads; NULL if fine. */
static const char *
entry_local_check(const char *map, const char *key, const char *value)
{
	const char	*why;

	if (strcmp(map, "virtusertable") == 0) {
		if ((why = entry_virtuser_key_check(key)) != NULL)
			return why;
		return entry_virtuser_value_check(value);
	}
	if (strcmp(map, "genericstable") == 0)
		return entry_generics_check(key, value);
	if (strcmp(map, "local-users") == 0)
		return mailaddr_local_valid(key, strlen(key)) ? NULL :
		    "a local user is a user name, without @domain";
	if (strcmp(map, "virtual-domains") == 0)
		return mailaddr_domain_valid(key, strlen(key)) ? NULL :
		    "not a domain name";
	return NULL;
}

/* An aliases entry in its stored form; NULL if fine. */
static const char *
entry_aliases_check(const char *key, const char *value)
{
	struct policy_alias_item	 it;
	const char			*p = value, *why = NULL;
	const unsigned char		*k;
	int				 r;

	if (key[0] == '\0')
		return "empty key";
	if (strlen(key) > MAILADDR_LOCAL_MAX)
		return "an alias name is at most 64 octets";
	for (k = (const unsigned char *)key; *k != '\0'; k++)
		if (*k < 0x20 || *k > 0x7e)
			return "an alias name is printable ASCII";
	if (value == NULL || value[0] == '\0')
		return "alias without a value";
	if (strlen(value) > POLICY_ALIAS_VALUE_MAX)
		return "value longer than 65536 octets";
	while ((r = policy_alias_next(&p, &it, &why)) == 1)
		;
	return r == -1 ? why : NULL;
}

/* The map-independent rules; NULL if fine. */
static const char *
entry_line_check(enum policy_map_kind kind, const char *key,
    const char *value)
{
	const char	*why;

	if (key[0] == '\0')
		return "empty key";
	if (key[0] == '#')
		return "a key cannot start with '#' (a comment)";
	if (strlen(key) > POLICY_KEY_MAX)
		return "key longer than 1024 octets";
	if ((why = entry_text_check(key, 1)) != NULL)
		return why;
	if (kind == POLICY_MAP_SET) {
		if (strchr(key, '#') != NULL)
			return "'#' in a name (a comment in the file)";
		return value != NULL && value[0] != '\0' ?
		    "a set map takes no value" : NULL;
	}
	if (value == NULL || value[0] == '\0')
		return "key without a value";
	if (strlen(value) > POLICY_VALUE_MAX)
		return "value longer than 1024 octets";
	if (value[0] == ' ' || value[strlen(value) - 1] == ' ')
		return "blank at the start or end of the value";
	return entry_text_check(value, 0);
}

/* The kind of a map by name; POLICY_MAP_UNKNOWN with err filled. */
static enum policy_map_kind
entry_map_kind(const char *map, char *err, size_t errlen)
{
	enum policy_map_kind	 kind = policy_map_kind(map);

	if (kind == POLICY_MAP_UNKNOWN)
		(void)snprintf(err, errlen, "unknown map %s (known: %s)", map,
		    policy_map_names());
	return kind;
}

int
policy_entry_check(const char *map, const char *key, const char *value,
    char *err, size_t errlen)
{
	enum policy_map_kind	 kind;
	const char		*why;

	if ((kind = entry_map_kind(map, err, errlen)) == POLICY_MAP_UNKNOWN)
		return -1;
	if (kind == POLICY_MAP_ALIASES)
		why = entry_aliases_check(key, value);
	else
		why = entry_line_check(kind, key, value);
	if (why == NULL && strcmp(map, "access") == 0)
		why = entry_access_check(key, value);
	else if (why == NULL && strcmp(map, "mailertable") == 0)
		why = entry_mailertable_check(value);
	else if (why == NULL && strcmp(map, POLICY_MAP_AUTHINFO) == 0)
		why = entry_authinfo_check(key, value);
	else if (why == NULL)
		why = entry_local_check(map, key, value);
	if (why != NULL) {
		(void)snprintf(err, errlen, "%s", why);
		return -1;
	}
	return 0;
}

int
policy_entry_key_check(const char *map, const char *key, char *err,
    size_t errlen)
{
	enum policy_map_kind	 kind;
	const char		*why;

	if ((kind = entry_map_kind(map, err, errlen)) == POLICY_MAP_UNKNOWN)
		return -1;
	/* any valid value will do: only the key is in question */
	if (kind == POLICY_MAP_ALIASES)
		why = entry_aliases_check(key, "x");
	else
		why = entry_line_check(kind, key, kind == POLICY_MAP_SET ?
		    NULL : "x");
	if (why != NULL) {
		(void)snprintf(err, errlen, "%s", why);
		return -1;
	}
	return 0;
}
