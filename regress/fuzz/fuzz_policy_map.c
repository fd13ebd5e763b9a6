/*
 * fuzz_policy_map.c: libFuzzer target for the text formats of the policy
 * maps: one line of a makemap file (policy_makemap_line), one entry of
 * "smtpctl access/map add" (policy_entry_check, policy_entry_key_check:
 * access values, mailertable routes, TLS_* and authinfo values) and an
 * authinfo value (policy_authinfo_parse, policy_authinfo_mask).  The
 * first octet chooses the map; the rest is the line, and split at its
 * first NUL (or blank) it is also the key and value of an entry.
 *
 * Beyond "no crash": a makemap line that loads gives a lowercased key
 * without blank or '"' and a value without tab or blank at either end,
 * each within 1024 octets; an entry policy_entry_check() takes is one
 * makemap would load from "key value" as the same key and value, and its
 * key passes policy_entry_key_check(); an authinfo value that parses has
 * a user, an authentication id and a secret, none holding a control
 * character but tab, nor any item but a decoded P= secret a '"'; and policy_authinfo_mask() never lets a secret through: every
 * "P: or "P= it writes is followed by the mask.
 *
 * The aliases map has its own format: the input is one aliases entry
 * (policy_makemap_alias) and an aliases list (policy_alias_next).  An
 * entry that loads has a lowercased name and a list that
 * policy_entry_check() takes and that is already in its stored form; any
 * list that parses, stored (policy_alias_list_normal), reads back as the
 * same items, and its stored form is stored as itself.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy_db.h"
#include "policy.h"

#define IN_MAX	(POLICY_KEY_MAX + POLICY_VALUE_MAX + 64)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *maps[] = {
	"access", "authinfo", "local-host-names", "mailertable",
	"relay-domains", "virtusertable", "local-users", "virtual-domains",
	"aliases"
};

/* the items of an aliases list, one per line as "kind value" */
static char	 items_a[IN_MAX * 2 + 64], items_b[IN_MAX * 2 + 64];
static char	 stored[POLICY_ALIAS_VALUE_MAX + 1];
static char	 restored[POLICY_ALIAS_VALUE_MAX + 1];

static void
check_makemap(const char *map, const char *in, size_t len)
{
	char		 line[IN_MAX + 2];
	char		*key, *value;
	const char	*why = NULL;
	size_t		 n;
	int		 r;

	memcpy(line, in, len);
	line[len] = '\0';
	r = policy_makemap_line(line, len, policy_map_kind(map), &key, &value,
	    &why);
	if (r == -1 && why == NULL)
		abort();
	if (r != 1)
		return;
	n = strlen(value);
	if (key[0] == '\0' || strlen(key) > POLICY_KEY_MAX ||
	    n > POLICY_VALUE_MAX || strpbrk(key, " \t\"") != NULL ||
	    strchr(value, '\t') != NULL ||
	    (n > 0 && (value[0] == ' ' || value[n - 1] == ' ')))
		abort();
	for (; *key != '\0'; key++)
		if (isupper((unsigned char)*key))
			abort();
}

/* An entry that may be added by hand is one makemap loads as such. */
static void
check_entry(const char *map, const char *key, const char *value)
{
	char		 err[256], line[IN_MAX + 4], lkey[POLICY_KEY_MAX + 1];
	char		*k, *v;
	const char	*why = NULL;
	size_t		 i;

	if (policy_entry_check(map, key, value, err, sizeof(err)) == -1) {
		if (err[0] == '\0')
			abort();
		return;
	}
	if (policy_entry_key_check(map, key, err, sizeof(err)) == -1)
		abort();
	(void)snprintf(line, sizeof(line), "%s%s%s\n", key,
	    value[0] != '\0' ? " " : "", value);
	if (policy_makemap_line(line, strlen(line), policy_map_kind(map), &k,
	    &v, &why) != 1)
		abort();
	for (i = 0; key[i] != '\0'; i++)
		lkey[i] = (char)tolower((unsigned char)key[i]);
	lkey[i] = '\0';
	if (strcmp(k, lkey) != 0 || strcmp(v, value) != 0)
		abort();
}

static void
check_no_quote(const char *s)
{
	if (strpbrk(s, "\"\r\n") != NULL)
		abort();
}

static void
check_authinfo(const char *value)
{
	struct policy_authinfo	 ai;
	char			 masked[POLICY_VALUE_MAX + 64];
	const char		*why, *p;
	size_t			 n, sizes[2], i;

	if (policy_authinfo_parse(value, &ai, &why) == 0) {
		if (ai.user[0] == '\0' || ai.authid[0] == '\0' ||
		    ai.secret[0] == '\0')
			abort();
		check_no_quote(ai.user);
		check_no_quote(ai.authid);
		/* a P= secret may decode to a quote, not to a control */
		for (p = ai.secret; *p != '\0'; p++)
			if (((unsigned char)*p < 0x20 && *p != '\t') ||
			    *p == 0x7f)
				abort();
		check_no_quote(ai.realm);
		check_no_quote(ai.mechs);
	} else if (why == NULL)
		abort();
	sizes[0] = (unsigned char)value[0] % 64 + 1;
	sizes[1] = sizeof(masked);
	for (i = 0; i < 2; i++) {
		n = sizes[i];
		policy_authinfo_mask(value, masked, n);
		if (strlen(masked) >= n)
			abort();
		for (p = masked; (p = strchr(p, '"')) != NULL; p++)
			if ((p[1] == 'P' || p[1] == 'p') &&
			    (p[2] == ':' || p[2] == '=') &&
			    strncmp(p + 3, "****", strlen(p + 3) < 4 ?
			    strlen(p + 3) : 4) != 0)
				abort();
	}
}

/* The items of list into out; 1 parsed, 0 refused (with a reason). */
static int
alias_items(const char *list, char *out, size_t outlen)
{
	struct policy_alias_item	 it;
	const char			*p = list, *why = NULL;
	int				 r;

	out[0] = '\0';
	while ((r = policy_alias_next(&p, &it, &why)) == 1) {
		if (it.value[0] == '\0' || (it.kind != POLICY_ALIAS_ADDRESS &&
		    it.kind != POLICY_ALIAS_PROGRAM &&
		    it.kind != POLICY_ALIAS_FILE &&
		    it.kind != POLICY_ALIAS_INCLUDE))
			abort();
		(void)snprintf(out + strlen(out), outlen - strlen(out),
		    "%d %s\n", (int)it.kind, it.value);
	}
	if (r == -1 && why == NULL)
		abort();
	return r == 0;
}

/* A list stored reads back as the same items and stores as itself. */
static void
check_alias_list(const char *list)
{
	const char	*why = NULL;
	size_t		 n, m;

	if (!alias_items(list, items_a, sizeof(items_a)))
		return;
	if (policy_alias_list_normal(list, stored, sizeof(stored), &n,
	    &why) == -1) {
		if (why == NULL)
			abort();
		return;
	}
	if (!alias_items(stored, items_b, sizeof(items_b)) ||
	    strcmp(items_a, items_b) != 0 ||
	    policy_alias_list_normal(stored, restored, sizeof(restored), &m,
	    &why) == -1 || strcmp(stored, restored) != 0 || m != n)
		abort();
}

/* An aliases entry that loads is one the entry checks take as stored. */
static void
check_alias_entry(const char *entry)
{
	char		 key[POLICY_KEY_MAX + 1], err[256];
	const char	*why = NULL, *k;
	size_t		 n;

	if (policy_makemap_alias(entry, key, sizeof(key), stored,
	    sizeof(stored), &why) == -1) {
		if (why == NULL)
			abort();
		return;
	}
	for (k = key; *k != '\0'; k++)
		if (isupper((unsigned char)*k))
			abort();
	if (key[0] == '\0' || policy_entry_check("aliases", key, stored, err,
	    sizeof(err)) == -1 || policy_alias_list_normal(stored, restored,
	    sizeof(restored), &n, &why) == -1 || strcmp(stored, restored) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char		 text[IN_MAX + 1];
	const char	*map, *key, *value;
	char		*sep;

	if (len < 1 || len > IN_MAX)
		return 0;
	map = maps[data[0] % (sizeof(maps) / sizeof(maps[0]))];
	data++;
	len--;
	memcpy(text, data, len);
	text[len] = '\0';
	if (strcmp(map, "aliases") == 0) {
		check_alias_entry(text);
		check_alias_list(text);
		return 0;
	}
	check_makemap(map, (const char *)data, len);
	key = text;
	if ((sep = strchr(text, ' ')) != NULL)
		*sep = '\0';
	value = sep != NULL ? sep + 1 : text + len;
	if (memchr(data, '\0', len) != NULL) {
		key = text;
		value = text + strlen(text) + 1;
		if (sep != NULL)
			*sep = ' ';
	}
	check_entry(map, key, value);
	check_authinfo(value);
	return 0;
}
