/*
 * policy_probe.c: the ordered key lists of sendmail's access-map lookups
 * (spec 1.2): D (domain), A (address), F (user@domain), U (user@),
 * E (exact) and the mailertable walk (spec 9.1), plus the canonical forms
 * of client addresses and names the keys are made from (spec 1.4).
 *
 * Pure functions: they touch no database.  A caller runs the keys in
 * order and the first one found decides (policy_env_search()).  Keys are
 * lowercased with double quotes removed (spec 1.1); a key longer than
 * POLICY_KEY_MAX is left out, since no stored key can be that long.
 * Failure behaviour: allocation failure sets keys->nomem and makes the
 * probe functions return -1; the caller treats that as TMPF.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailaddr.h"
#include "util.h"
#include "policy.h"

void
policy_keys_init(struct policy_keys *keys)
{
	memset(keys, 0, sizeof(*keys));
}

void
policy_keys_free(struct policy_keys *keys)
{
	size_t	 i;

	for (i = 0; i < keys->n; i++)
		free(keys->key[i]);
	free(keys->key);
	policy_keys_init(keys);
}

/* Append "tag:s" (or s when tag is NULL), lowercased, without quotes. */
int
policy_keys_add(struct policy_keys *keys, const char *tag, const char *s)
{
	char	 buf[POLICY_KEY_MAX + 2], *k, **nk;
	size_t	 o = 0;
	int	 n;

	n = snprintf(buf, sizeof(buf), "%s%s%s", tag != NULL ? tag : "",
	    tag != NULL ? ":" : "", s);
	if (n < 0 || (size_t)n > POLICY_KEY_MAX)
		return keys->nomem ? -1 : 0;
	for (k = buf; *k != '\0'; k++)
		if (*k != '"')
			buf[o++] = (char)tolower((unsigned char)*k);
	buf[o] = '\0';
	if (keys->n == keys->cap) {
		nk = reallocarray(keys->key, keys->cap + 16, sizeof(*nk));
		if (nk == NULL) {
			keys->nomem = 1;
			return -1;
		}
		keys->key = nk;
		keys->cap += 16;
	}
	if ((keys->key[keys->n] = strdup(buf)) == NULL) {
		keys->nomem = 1;
		return -1;
	}
	keys->n++;
	return keys->nomem ? -1 : 0;
}

/* One probe step: "Tag:s", then "s" in mode '+'. */
static void
probe_pair(struct policy_keys *keys, const char *tag, const char *s, int flags)
{
	(void)policy_keys_add(keys, tag, s);
	if (flags & POLICY_PROBE_UNTAGGED)
		(void)policy_keys_add(keys, NULL, s);
}

/* Cut the last ":group" or "::group" off s; 0 if there is no colon. */
static int
probe_cut_group(char *s)
{
	char	*p;

	if ((p = strrchr(s, ':')) == NULL)
		return 0;
	while (p > s && p[-1] == ':')
		p--;
	*p = '\0';
	return 1;
}

/* 1 if s (inside brackets, len octets) is digits and dots only. */
static int
probe_is_dotted(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (!isdigit((unsigned char)s[i]) && s[i] != '.')
			return 0;
	return len > 0;
}

/*
 * The next, shorter name D probes (spec 1.2 steps 4-6): "[a.b.c]" from
 * "[a.b.c.d]", "[IPv6:a]" from "[IPv6:a:b]", "b.c" from "a.b.c".
 * 0 when nothing is left to strip.
 */
static int
probe_domain_shorten(char *h)
{
	size_t	 len = strlen(h);
	char	*p, *inner = h + 1;
	int	 cut;

	if (h[0] == '[' && len > 2 && h[len - 1] == ']') {
		h[len - 1] = '\0';
		if (probe_is_dotted(inner, len - 2)) {
			p = strrchr(inner, '.');
			cut = p != NULL;
			if (cut)
				*p = '\0';
		} else
			cut = strncasecmp(inner, "ipv6", 4) == 0 &&
			    probe_cut_group(inner);
		len = strlen(h);
		h[len] = ']';
		h[len + 1] = '\0';
		return cut;
	}
	if ((p = strchr(h, '.')) == NULL || p[1] == '\0')
		return 0;
	memmove(h, p + 1, strlen(p + 1) + 1);
	return 1;
}

/* D: LookUpDomain (spec 1.2). */
int
policy_probe_domain(struct policy_keys *keys, const char *tag,
    const char *host, int flags)
{
	char		 h[POLICY_KEY_MAX + 1];
	const char	*dot;

	if (strlcpy(h, host, sizeof(h)) >= sizeof(h))
		return 0;
	do {
		probe_pair(keys, tag, h, flags);
		if ((flags & POLICY_PROBE_DOTDOMAIN) && h[0] != '[' &&
		    (dot = strchr(h, '.')) != NULL && dot[1] != '\0')
			probe_pair(keys, tag, dot, flags);
	} while (probe_domain_shorten(h));
	return keys->nomem ? -1 : 0;
}

/* A: LookUpAddr (spec 1.2): drop ":group" (IPv6) or ".octet" (IPv4). */
int
policy_probe_addr(struct policy_keys *keys, const char *tag,
    const char *addr, int flags)
{
	char	 a[POLICY_KEY_MAX + 1], *p;

	if (strlcpy(a, addr, sizeof(a)) >= sizeof(a))
		return 0;
	for (;;) {
		probe_pair(keys, tag, a, flags);
		if (probe_cut_group(a))
			continue;
		if ((p = strrchr(a, '.')) == NULL)
			break;
		*p = '\0';
	}
	return keys->nomem ? -1 : 0;
}

/*
 * The user and +detail of a local part: the user is what comes before the
 * first '+', which must not be the first octet.  ulen = the user's length;
 * 0 if there is no detail.
 */
static size_t
probe_user_len(const char *local, size_t len)
{
	const char	*plus = memchr(local, '+', len);

	if (plus == NULL || plus == local)
		return 0;
	return (size_t)(plus - local);
}

/* F or U: "u+d@dom", then with a detail "u+*@dom" and "u@dom". */
static int
probe_mailbox(struct policy_keys *keys, const char *tag, const char *local,
    size_t llen, const char *domain, int flags)
{
	char	 k[POLICY_KEY_MAX + 2];
	size_t	 ulen = probe_user_len(local, llen);
	int	 n;

	n = snprintf(k, sizeof(k), "%.*s@%s", (int)llen, local, domain);
	if (n < 0 || (size_t)n >= sizeof(k))
		return keys->nomem ? -1 : 0;
	probe_pair(keys, tag, k, flags);
	if (ulen > 0) {
		(void)snprintf(k, sizeof(k), "%.*s+*@%s", (int)ulen, local,
		    domain);
		probe_pair(keys, tag, k, flags);
		(void)snprintf(k, sizeof(k), "%.*s@%s", (int)ulen, local,
		    domain);
		probe_pair(keys, tag, k, flags);
	}
	return keys->nomem ? -1 : 0;
}

/* F: LookUpFull on "user@domain" (the last '@' splits). */
int
policy_probe_full(struct policy_keys *keys, const char *tag,
    const char *mailbox, int flags)
{
	const char	*at = strrchr(mailbox, '@');

	if (at == NULL)
		return keys->nomem ? -1 : 0;
	return probe_mailbox(keys, tag, mailbox, (size_t)(at - mailbox),
	    at + 1, flags);
}

/* U: LookUpUser on a local part: "u+d@", "u+*@", "u@". */
int
policy_probe_user(struct policy_keys *keys, const char *tag,
    const char *local, int flags)
{
	return probe_mailbox(keys, tag, local, strlen(local), "", flags);
}

/* E: one exact key; "" probes the bare tag "Tag:". */
int
policy_probe_exact(struct policy_keys *keys, const char *tag, const char *s,
    int flags)
{
	probe_pair(keys, tag, s, flags);
	return keys->nomem ? -1 : 0;
}

/*
 * The lookups of the rulesets with a bare-tag default (spec 1.3: TLS_Srv,
 * TLS_Clt, Try_TLS, Srv_Features, ...): D on the name and A on the
 * address, both mode '!', then "Tag:" alone.  name or addr may be "".
 */
int
policy_probe_tagdefault(struct policy_keys *keys, const char *tag,
    const char *name, const char *addr)
{
	if (name[0] != '\0')
		(void)policy_probe_domain(keys, tag, name, 0);
	if (addr[0] != '\0')
		(void)policy_probe_addr(keys, tag, addr, 0);
	return policy_probe_exact(keys, tag, "", 0);
}

/* mailertable (spec 9.1): "a.b.c", ".b.c", ".c", "." */
int
policy_probe_mailertable(struct policy_keys *keys, const char *host)
{
	const char	*p;

	(void)policy_keys_add(keys, NULL, host);
	if (host[0] != '[')
		for (p = strchr(host, '.'); p != NULL && p[1] != '\0';
		    p = strchr(p + 1, '.'))
			(void)policy_keys_add(keys, NULL, p);
	(void)policy_keys_add(keys, NULL, ".");
	return keys->nomem ? -1 : 0;
}

/*
 * A client address in the form of ${client_addr} (spec 1.4): dotted quad,
 * or "IPv6:" and eight lowercase hex groups without leading zeros; an
 * IPv4-mapped address as IPv4.  Accepts "IPv6:" in front.  0 or -1.
 */
int
policy_addr_canon(const char *in, char *out, size_t outlen)
{
	struct in_addr	 a4;
	struct in6_addr	 a6;
	const uint8_t	*b = a6.s6_addr;
	int		 v6 = 0, n;

	if (strncasecmp(in, "ipv6:", 5) == 0) {
		in += 5;
		v6 = 1;
	}
	if (!v6 && inet_pton(AF_INET, in, &a4) == 1)
		return inet_ntop(AF_INET, &a4, out, outlen) == NULL ? -1 : 0;
	if (inet_pton(AF_INET6, in, &a6) != 1)
		return -1;
	if (IN6_IS_ADDR_V4MAPPED(&a6))
		n = snprintf(out, outlen, "%u.%u.%u.%u", b[12], b[13], b[14],
		    b[15]);
	else
		n = snprintf(out, outlen, "IPv6:%x:%x:%x:%x:%x:%x:%x:%x",
		    b[0] << 8 | b[1], b[2] << 8 | b[3], b[4] << 8 | b[5],
		    b[6] << 8 | b[7], b[8] << 8 | b[9], b[10] << 8 | b[11],
		    b[12] << 8 | b[13], b[14] << 8 | b[15]);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* 1 if s is a host name: letters, digits, '-', '_', non-empty labels. */
static int
probe_name_valid(const char *s)
{
	const char	*p;
	size_t		 label = 0;

	for (p = s; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if (isalnum((unsigned char)*p) || *p == '-' || *p == '_')
			label++;
		else
			return 0;
	}
	return p > s;
}

/*
 * A client name in the form of ${client_name}: a lowercased host name
 * without its trailing dot, U-labels as A-labels, or a bracketed
 * canonical address.  0 or -1.
 */
int
policy_name_canon(const char *in, char *out, size_t outlen)
{
	char	 addr[POLICY_ADDR_MAX], inner[POLICY_ADDR_MAX];
	size_t	 len = strlen(in);

	if (in[0] == '[') {
		if (len < 3 || len - 2 >= sizeof(inner) || in[len - 1] != ']')
			return -1;
		memcpy(inner, in + 1, len - 2);
		inner[len - 2] = '\0';
		if (policy_addr_canon(inner, addr, sizeof(addr)) == -1)
			return -1;
		return (size_t)snprintf(out, outlen, "[%s]", addr) >= outlen ?
		    -1 : 0;
	}
	if (len == 0 || len >= sizeof(inner))
		return -1;
	memcpy(inner, in, len + 1);
	if (len > 1 && inner[len - 1] == '.')
		inner[len - 1] = '\0';
	/* one key for a domain however it is written: U-labels as A-labels */
	if (mailaddr_domain_ascii(inner, out, outlen) == -1)
		return -1;
	return probe_name_valid(out) ? 0 : -1;
}

/* Split a mailbox at its last '@' into local part and domain ("" if
 * none). */
void
policy_mailbox_split(const char *mailbox, char *local, size_t locallen,
    const char **domain)
{
	const char	*at = strrchr(mailbox, '@');

	*domain = at != NULL ? at + 1 : "";
	(void)snprintf(local, locallen, "%.*s", at != NULL ?
	    (int)(at - mailbox) : (int)strlen(mailbox), mailbox);
}

/*
 * A map value with %1 .. %N replaced by args[0 .. N-1] (the mailertable's
 * %1 %2, the virtusertable's %1 %2 %3); any other '%' stays as it is.
 * 0, or -1 if the result does not fit in out.
 */
int
policy_value_subst(const char *value, const char *const *args, size_t nargs,
    char *out, size_t outlen)
{
	const char	*add;
	size_t		 n = 0, len, i;

	for (; *value != '\0'; value++) {
		add = value;
		len = 1;
		if (value[0] == '%' && value[1] >= '1' && value[1] <= '9' &&
		    (i = (size_t)(value[1] - '1')) < nargs) {
			add = args[i];
			len = strlen(add);
			value++;
		}
		if (n + len >= outlen)
			return -1;
		memcpy(out + n, add, len);
		n += len;
	}
	out[n] = '\0';
	return 0;
}
