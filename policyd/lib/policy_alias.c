/*
 * policy_alias.c: the items of an aliases list, in the syntax of
 * sendmail's aliases(5).  The one parser of such lists: makemap and
 * "smtpctl map add aliases" check and store them with it, the resolver
 * reads them back with it.
 *
 * A list is items separated by commas; blanks around an item are
 * ignored, an empty item is refused.  An item is one of
 *   user, user@domain	an address: a local part (dot-string or quoted
 *			string) alone or with a domain or address literal,
 *			by the grammar of common/mailaddr.c
 *   \user		a local user that is not aliased again
 *   |command args	a program; the value is "command args"
 *   /path		a file; the value is the path
 *   :include:/path	a file of more items (":include:" in any case)
 * Any item may be double-quoted as a whole, and a program, file or
 * include item must be to hold a comma or a double quote; inside the
 * quotes a backslash takes the next character literally.  A quoted
 * string followed by "@domain" is an address with a quoted local part,
 * and a quoted string that is not a program, file or include is a
 * quoted local user.  Only printable ASCII is accepted (no tab inside an
 * item).  Values are at most POLICY_PATH_MAX - 1 octets.
 *
 * Stored form (policy_alias_list_normal()): the items joined by ", ",
 * each as policy_alias_item_format() writes it: an address as written;
 * a program, file or include item in double quotes when it holds a
 * blank, a comma or a double quote (a quote or backslash inside then
 * escaped).  policy_alias_next() reads a stored list back as exactly the
 * items it was made of.
 *
 * Failure behaviour: pure functions; a refused list or name is -1 with a
 * reason, nothing else.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mailaddr.h"
#include "util.h"
#include "policy.h"

#define ALIAS_INCLUDE		":include:"
#define ALIAS_INCLUDE_LEN	(sizeof(ALIAS_INCLUDE) - 1)
#define ALIAS_EMPTY_ITEM	"empty item (two commas in a row, or a " \
				"comma at the start or end)"

static int
alias_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* 1 if s holds only printable ASCII (blanks included, tabs not). */
static int
alias_printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

/*
 * The quoted string at *p (its opening quote), without the quotes and
 * with each backslash escape resolved, into out; *p is moved past the
 * closing quote.  0, or -1 with *why set.
 */
static int
alias_unquote(const char **p, char *out, size_t outlen, const char **why)
{
	const char	*s;
	size_t		 n = 0;

	for (s = *p + 1; *s != '"'; s++) {
		if (*s == '\\' && s[1] != '\0')
			s++;
		if (*s == '\0') {
			*why = "double quote without its closing quote";
			return -1;
		}
		if (n + 1 >= outlen) {
			*why = "item longer than 1023 octets";
			return -1;
		}
		out[n++] = *s;
	}
	out[n] = '\0';
	*p = s + 1;
	return 0;
}

/* An absolute path that names a file (not a directory); NULL if fine. */
static const char *
alias_path_check(const char *path)
{
	size_t	 len = strlen(path);

	if (path[0] != '/')
		return "an :include: path must be absolute";
	if (len < 2 || path[len - 1] == '/')
		return "a file path must name a file, not a directory";
	return NULL;
}

/*
 * A program, file or include item in text (unquoted): 1 with *it set,
 * 0 if text is none of them, -1 with *why set.
 */
static int
alias_target(const char *text, struct policy_alias_item *it,
    const char **why)
{
	const char	*v;

	if (text[0] == '|') {
		it->kind = POLICY_ALIAS_PROGRAM;
		for (v = text + 1; alias_blank(*v); v++)
			;
		if (*v == '\0') {
			*why = "a program item needs a command after '|'";
			return -1;
		}
	} else if (text[0] == '/') {
		it->kind = POLICY_ALIAS_FILE;
		v = text;
	} else if (strncasecmp(text, ALIAS_INCLUDE, ALIAS_INCLUDE_LEN) == 0) {
		it->kind = POLICY_ALIAS_INCLUDE;
		for (v = text + ALIAS_INCLUDE_LEN; alias_blank(*v); v++)
			;
	} else
		return 0;
	if (it->kind != POLICY_ALIAS_PROGRAM &&
	    (*why = alias_path_check(v)) != NULL)
		return -1;
	(void)strlcpy(it->value, v, sizeof(it->value));
	return 1;
}

/* An address item of len octets at s, kept as written; 0 or -1. */
static int
alias_address(const char *s, size_t len, struct policy_alias_item *it,
    const char **why)
{
	char	*v = it->value;

	if (len >= sizeof(it->value)) {
		*why = "item longer than 1023 octets";
		return -1;
	}
	memcpy(v, s, len);
	v[len] = '\0';
	it->kind = POLICY_ALIAS_ADDRESS;
	if (mailaddr_local_valid(v, len) || mailaddr_mailbox_valid(v) ||
	    (v[0] == '\\' && mailaddr_local_valid(v + 1, len - 1)))
		return 0;
	if (v[0] != '"' && strpbrk(v, " \t") != NULL)
		*why = "blank inside an address (a comma missing?)";
	else
		*why = "not an address, |program, /file or :include:/path";
	return -1;
}

/* An item that starts with a double quote, at *p; 0 or -1. */
static int
alias_item_quoted(const char **p, struct policy_alias_item *it,
    const char **why)
{
	char		 text[POLICY_PATH_MAX];
	const char	*start = *p;
	int		 r;

	if (alias_unquote(p, text, sizeof(text), why) == -1)
		return -1;
	if (!alias_printable(text)) {
		*why = "control character or 8-bit octet in an item";
		return -1;
	}
	if (**p == '@') {
		*p += strcspn(*p, " \t,");
		return alias_address(start, (size_t)(*p - start), it, why);
	}
	if ((r = alias_target(text, it, why)) != 0)
		return r == 1 ? 0 : -1;
	return alias_address(start, (size_t)(*p - start), it, why);
}

/* An unquoted item at *p: up to the next comma, trailing blanks
 * dropped; 0 or -1. */
static int
alias_item_plain(const char **p, struct policy_alias_item *it,
    const char **why)
{
	char	 text[POLICY_PATH_MAX];
	size_t	 n;
	int	 r;

	n = strcspn(*p, ",\"");
	if ((*p)[n] == '"') {
		*why = "double quote inside an item (quote the whole item)";
		return -1;
	}
	if (n >= sizeof(text)) {
		*why = "item longer than 1023 octets";
		return -1;
	}
	memcpy(text, *p, n);
	*p += n;
	while (n > 0 && alias_blank(text[n - 1]))
		n--;
	text[n] = '\0';
	if (!alias_printable(text)) {
		*why = "control character, tab or 8-bit octet in an item";
		return -1;
	}
	if ((r = alias_target(text, it, why)) != 0)
		return r == 1 ? 0 : -1;
	return alias_address(text, n, it, why);
}

int
policy_alias_next(const char **cursor, struct policy_alias_item *it,
    const char **why)
{
	const char	*p = *cursor;
	int		 r;

	memset(it, 0, sizeof(*it));
	while (alias_blank(*p))
		p++;
	if (*p == '\0') {
		*cursor = p;
		return 0;
	}
	if (*p == ',') {
		*why = ALIAS_EMPTY_ITEM;
		return -1;
	}
	r = *p == '"' ? alias_item_quoted(&p, it, why) :
	    alias_item_plain(&p, it, why);
	if (r == -1)
		return -1;
	while (alias_blank(*p))
		p++;
	if (*p != ',' && *p != '\0') {
		*why = "text after a quoted item (a comma missing?)";
		return -1;
	}
	if (*p == ',') {
		for (p++; alias_blank(*p); p++)
			;
		if (*p == '\0' || *p == ',') {
			*why = ALIAS_EMPTY_ITEM;
			return -1;
		}
	}
	*cursor = p;
	return 1;
}

/* Append c to out (of len octets) at *n, if it fits; -1 if not. */
static int
alias_put(char *out, size_t len, size_t *n, char c)
{
	if (*n + 1 >= len)
		return -1;
	out[(*n)++] = c;
	out[*n] = '\0';
	return 0;
}

int
policy_alias_item_format(const struct policy_alias_item *it, char *out,
    size_t len)
{
	const char	*prefix, *s;
	size_t		 n = 0;
	int		 quote;

	if (len == 0)
		return -1;
	out[0] = '\0';
	if (it->kind == POLICY_ALIAS_ADDRESS)
		return strlcpy(out, it->value, len) < len ? 0 : -1;
	prefix = it->kind == POLICY_ALIAS_PROGRAM ? "|" :
	    it->kind == POLICY_ALIAS_INCLUDE ? ALIAS_INCLUDE : "";
	quote = strpbrk(it->value, " ,\"") != NULL;
	if (quote && alias_put(out, len, &n, '"') == -1)
		return -1;
	for (s = prefix; *s != '\0'; s++)
		if (alias_put(out, len, &n, *s) == -1)
			return -1;
	for (s = it->value; *s != '\0'; s++)
		if ((quote && (*s == '"' || *s == '\\') &&
		    alias_put(out, len, &n, '\\') == -1) ||
		    alias_put(out, len, &n, *s) == -1)
			return -1;
	if (quote && alias_put(out, len, &n, '"') == -1)
		return -1;
	return 0;
}

int
policy_alias_list_normal(const char *list, char *out, size_t len,
    size_t *nitems, const char **why)
{
	struct policy_alias_item	 it;
	char				 one[2 * POLICY_PATH_MAX + 16];
	const char			*p = list;
	int				 r;

	*nitems = 0;
	if (len == 0)
		return -1;
	out[0] = '\0';
	while ((r = policy_alias_next(&p, &it, why)) == 1) {
		if (policy_alias_item_format(&it, one, sizeof(one)) == -1 ||
		    (*nitems > 0 && strlcat(out, ", ", len) >= len) ||
		    strlcat(out, one, len) >= len) {
			*why = "list longer than 65536 octets";
			return -1;
		}
		(*nitems)++;
	}
	if (r == 0 && *nitems == 0) {
		*why = "alias without a value";
		return -1;
	}
	return r;
}

int
policy_alias_name(const char *s, size_t len, char *out, size_t outlen,
    const char **why)
{
	const char	*p = s;

	if (len == 0) {
		*why = "empty alias name";
		return -1;
	}
	if (memchr(s, '@', len) != NULL && s[0] != '"') {
		*why = "an alias name is a local name, without @domain";
		return -1;
	}
	if (!mailaddr_local_valid(s, len)) {
		*why = "the alias name is not a local part (quote it if it "
		    "holds blanks or specials)";
		return -1;
	}
	if (s[0] == '"') {
		if (alias_unquote(&p, out, outlen, why) == -1)
			return -1;
		if (out[0] == '\0') {
			*why = "empty alias name";
			return -1;
		}
	} else if (len >= outlen) {
		*why = "alias name too long";
		return -1;
	} else {
		memcpy(out, s, len);
		out[len] = '\0';
	}
	text_lower(out);
	return 0;
}
