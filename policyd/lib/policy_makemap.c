/*
 * policy_makemap.c: "smtpctl makemap MAP FILE", the import of a sendmail
 * text map into the policy database.
 *
 * File format: one entry per line.  Pair maps (access, mailertable,
 * authinfo, virtusertable, genericstable): "key<blanks>value", the value running to the
 * end of the line (trailing blanks dropped, '#' kept: it may be part of a
 * reply text).  Set maps (local-host-names, relay-domains, local-users,
 * virtual-domains): one key per line, an optional "# comment" after it.
 * Lines that are blank or start with '#' are skipped.  Keys are
 * lowercased.  A line is refused if it has a NUL, a CR, any other control
 * character (a tab only separates), a double quote in the key (probe keys
 * never carry one, so it could never match), a key or value over 1024
 * octets, a missing value or a duplicate key.  A domain in a key is
 * stored as A-labels (policy_makemap_key()), as the lookups ask for it.  An authinfo, virtusertable,
 * local-users or virtual-domains line must also be an entry
 * policy_entry_check() accepts (authinfo reasons never quote the secret).
 *
 * The aliases map has sendmail's aliases(5) format instead: "name:
 * items" (the name may be double-quoted, blanks may precede the colon);
 * a line that starts with a blank continues the entry before it, and so
 * does any line after one that ends in a backslash (which is removed); a
 * line whose first non-blank octet is '#' is skipped, and an empty or
 * blank line ends the entry.  The items are checked and stored by
 * policy_alias.c; a name seen twice is a warning, and the last one wins
 * (as sendmail's newaliases).  An error names the entry's first line.
 *
 * Failure behaviour: the whole file goes in one transaction; the first
 * bad line (reported as "file:line: reason") rolls it back, so readers
 * see either the old map or the new one, never a mix.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailaddr.h"
#include "util.h"
#include "policy.h"

/* longest line accepted: key, blanks, value */
#define MAKEMAP_LINE_MAX	(POLICY_KEY_MAX + POLICY_VALUE_MAX + 256)
/* longest aliases entry accepted, continuation lines joined (blanks
 * between items are dropped from what is stored) */
#define MAKEMAP_ALIAS_MAX	(4 * POLICY_ALIAS_VALUE_MAX)

/* One makemap run: where it writes, what it reports. */
struct makemap {
	struct policy_db		*db;
	const char			*map;
	const char			*file;
	enum policy_map_kind		 kind;
	struct policy_makemap_report	*rep;
	long				 stored;	/* distinct keys */
};

static int
makemap_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Refuse octets no map may hold; tabs are left for the splitter. */
static int
makemap_line_clean(const char *line, size_t len, const char **why)
{
	size_t		 i;
	unsigned char	 c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)line[i];
		if (c == '\0')
			*why = "NUL character";
		else if (c == '\r')
			*why = "carriage return (DOS line ending?)";
		else if ((c < 0x20 && c != '\t') || c == 0x7f)
			*why = "control character";
		else
			continue;
		return -1;
	}
	return 0;
}

/* Split "key<blanks>rest"; rest has no trailing blanks. */
static void
makemap_split(char *s, char **key, char **rest)
{
	char	*e;

	*key = s;
	while (*s != '\0' && !makemap_blank(*s))
		s++;
	if (*s != '\0')
		*s++ = '\0';
	while (makemap_blank(*s))
		s++;
	*rest = s;
	e = s + strlen(s);
	while (e > s && makemap_blank(e[-1]))
		*--e = '\0';
}

int
policy_makemap_line(char *line, size_t len, enum policy_map_kind kind,
    char **key, char **value, const char **why)
{
	char	*s, *hash;

	if (kind == POLICY_MAP_ALIASES) {
		*why = "the aliases map has its own format";
		return -1;
	}
	if (len > 0 && line[len - 1] == '\n')
		line[--len] = '\0';
	if (makemap_line_clean(line, len, why) == -1)
		return -1;
	for (s = line; makemap_blank(*s); s++)
		;
	if (*s == '\0' || *s == '#')
		return 0;
	if (kind == POLICY_MAP_SET && (hash = strchr(s, '#')) != NULL)
		*hash = '\0';
	makemap_split(s, key, value);
	if (kind == POLICY_MAP_SET && **value != '\0')
		*why = "more than one word (one name per line)";
	else if (kind != POLICY_MAP_SET && **value == '\0')
		*why = "key without a value";
	else if (strlen(*key) > POLICY_KEY_MAX)
		*why = "key longer than 1024 octets";
	else if (strlen(*value) > POLICY_VALUE_MAX)
		*why = "value longer than 1024 octets";
	else if (strchr(*value, '\t') != NULL)
		*why = "tab inside the value";
	else if (strchr(*key, '"') != NULL)
		*why = "double quote in the key";
	else {
		text_lower(*key);
		return 1;
	}
	return -1;
}

int
policy_makemap_key(const char *key, char *out, size_t outsize)
{
	const char	*d;
	size_t		 n;

	if (mailaddr_is_ascii(key))
		return strlcpy(out, key, outsize) < outsize ? 0 : -1;
	if ((d = strrchr(key, '@')) != NULL)
		d++;
	else if ((d = strchr(key, ':')) != NULL)
		d++;
	else
		d = key;
	if (*d == '.')
		d++;
	n = (size_t)(d - key);
	if (n >= outsize)
		return -1;
	memcpy(out, key, n);
	return mailaddr_domain_ascii(d, out + n, outsize - n);
}

/* The maps whose entries makemap checks with policy_entry_check(). */
static int
makemap_checked(const char *map)
{
	return strcmp(map, POLICY_MAP_AUTHINFO) == 0 ||
	    strcmp(map, "virtusertable") == 0 ||
	    strcmp(map, "genericstable") == 0 ||
	    strcmp(map, "local-users") == 0 ||
	    strcmp(map, "virtual-domains") == 0;
}

/* Count an entry read and tell the observer, if any. */
static void
makemap_count(struct makemap *mm, const char *key, const char *value)
{
	struct policy_makemap_report	*rep = mm->rep;
	size_t				 vlen = strlen(value);

	rep->entries++;
	rep->total += strlen(key) + vlen;
	if (vlen > rep->longest)
		rep->longest = vlen;
	if (rep->entry != NULL)
		rep->entry(rep->arg, key, value);
}

/* Check and insert one line; 1 entry, 0 skipped, -1 with *why set. */
static int
makemap_line_load(struct makemap *mm, char *buf, size_t len,
    const char **why)
{
	static char	 reason[256];
	char		*raw, *value, key[POLICY_KEY_MAX + 1];
	int		 r, rc;

	if (len > MAKEMAP_LINE_MAX) {
		*why = "line too long";
		return -1;
	}
	if ((r = policy_makemap_line(buf, len, mm->kind, &raw, &value,
	    why)) != 1)
		return r;
	if (policy_makemap_key(raw, key, sizeof(key)) == -1) {
		*why = "key with a domain that is no valid IDN";
		return -1;
	}
	if (makemap_checked(mm->map) && policy_entry_check(mm->map, key, value,
	    reason, sizeof(reason)) == -1) {
		*why = reason;
		return -1;
	}
	if ((rc = policy_db_insert(mm->db, mm->map, key,
	    value)) != POLICY_DB_INSERT_OK) {
		*why = rc == POLICY_DB_INSERT_DUPLICATE ? "duplicate key" :
		    "database error";
		mm->rep->failure = rc == POLICY_DB_INSERT_DUPLICATE ?
		    POLICY_MAKEMAP_DATA : POLICY_MAKEMAP_DB;
		return -1;
	}
	mm->stored++;
	/* an authinfo secret is never shown */
	makemap_count(mm, key, strcmp(mm->map, POLICY_MAP_AUTHINFO) == 0 ?
	    "****" : value);
	return 1;
}

/* Length of the name at the start of an aliases entry. */
static size_t
makemap_alias_name_len(const char *s)
{
	size_t	 i;

	if (s[0] != '"')
		return strcspn(s, ": \t");
	for (i = 1; s[i] != '\0' && s[i] != '"'; i++)
		if (s[i] == '\\' && s[i + 1] != '\0')
			i++;
	return s[i] == '"' ? i + 1 : i;
}

int
policy_makemap_alias(const char *entry, char *key, size_t keylen,
    char *value, size_t valuelen, const char **why)
{
	const char	*p;
	size_t		 n, nitems;

	n = makemap_alias_name_len(entry);
	if (policy_alias_name(entry, n, key, keylen, why) == -1)
		return -1;
	for (p = entry + n; makemap_blank(*p); p++)
		;
	if (*p != ':') {
		*why = "missing ':' after the alias name";
		return -1;
	}
	return policy_alias_list_normal(p + 1, value, valuelen, &nitems, why);
}

/* Store one aliases entry; the last of a duplicate name wins. */
static int
makemap_alias_store(struct makemap *mm, const char *entry,
    unsigned long line, char *value, const char **why)
{
	char	 key[POLICY_KEY_MAX + 1], msg[POLICY_KEY_MAX + 256];
	int	 rc;

	if (policy_makemap_alias(entry, key, sizeof(key), value,
	    POLICY_ALIAS_VALUE_MAX + 1, why) == -1)
		return -1;
	rc = policy_db_insert(mm->db, mm->map, key, value);
	if (rc == POLICY_DB_INSERT_DUPLICATE) {
		(void)snprintf(msg, sizeof(msg), "%s:%lu: duplicate alias "
		    "name %s, the last one is kept", mm->file, line, key);
		if (mm->rep->warn != NULL)
			mm->rep->warn(mm->rep->arg, msg);
		mm->stored--;
		if (policy_db_delete(mm->db, mm->map, key, msg,
		    sizeof(msg)) == POLICY_DB_FOUND)
			rc = policy_db_insert(mm->db, mm->map, key, value);
	}
	if (rc != POLICY_DB_INSERT_OK) {
		*why = "database error";
		mm->rep->failure = POLICY_MAKEMAP_DB;
		return -1;
	}
	mm->stored++;
	makemap_count(mm, key, value);
	return 0;
}

/* An aliases entry being gathered from its lines. */
struct makemap_entry {
	char		*buf;
	size_t		 len;
	size_t		 cap;
	unsigned long	 first;		/* its first line; 0: none open */
	int		 cont;		/* the last line ended in '\' */
};

/* Append a line to the entry (a trailing backslash removed); 0 or -1. */
static int
makemap_entry_add(struct makemap_entry *e, const char *line, size_t len,
    const char **why)
{
	char	*nbuf;
	size_t	 ncap;

	e->cont = len > 0 && line[len - 1] == '\\';
	if (e->cont)
		len--;
	if (e->len + len > MAKEMAP_ALIAS_MAX) {
		*why = "entry longer than 262144 octets";
		return -1;
	}
	if (e->len + len + 1 > e->cap) {
		ncap = e->cap == 0 ? 1024 : e->cap;
		while (ncap < e->len + len + 1)
			ncap *= 2;
		if ((nbuf = realloc(e->buf, ncap)) == NULL) {
			*why = "out of memory";
			return -1;
		}
		e->buf = nbuf;
		e->cap = ncap;
	}
	memcpy(e->buf + e->len, line, len);
	e->len += len;
	e->buf[e->len] = '\0';
	return 0;
}

/* Store the open entry, if any, and close it; 0, or -1 with *why and
 * *lineno set to its first line. */
static int
makemap_entry_end(struct makemap *mm, struct makemap_entry *e, char *value,
    unsigned long *lineno, const char **why)
{
	unsigned long	 first = e->first;

	e->first = 0;
	e->len = 0;
	e->cont = 0;
	if (first == 0 || makemap_alias_store(mm, e->buf, first, value,
	    why) == 0)
		return 0;
	*lineno = first;
	return -1;
}

/* One line of an aliases file (newline removed); 0 or -1 with *why. */
static int
makemap_alias_line(struct makemap *mm, struct makemap_entry *e, char *line,
    size_t len, char *value, unsigned long *lineno, const char **why)
{
	const char	*s;

	if (makemap_line_clean(line, len, why) == -1)
		return -1;
	if (e->cont)
		return makemap_entry_add(e, line, len, why);
	for (s = line; makemap_blank(*s); s++)
		;
	if (*s == '#')
		return 0;
	if (*s == '\0')
		return makemap_entry_end(mm, e, value, lineno, why);
	if (makemap_blank(line[0])) {
		if (e->first == 0) {
			*why = "line starts with a blank but continues no "
			    "entry";
			return -1;
		}
		return makemap_entry_add(e, line, len, why);
	}
	if (makemap_entry_end(mm, e, value, lineno, why) == -1)
		return -1;
	e->first = *lineno;
	return makemap_entry_add(e, line, len, why);
}

/* Load an aliases file into the open transaction; 0, or -1 with *why
 * and *lineno set. */
static int
makemap_alias_load(struct makemap *mm, FILE *fp, unsigned long *lineno,
    const char **why)
{
	struct makemap_entry	 e;
	char			*buf = NULL, *value;
	size_t			 cap = 0;
	ssize_t			 n;
	int			 r = 0;

	memset(&e, 0, sizeof(e));
	if ((value = malloc(POLICY_ALIAS_VALUE_MAX + 1)) == NULL) {
		*why = "out of memory";
		return -1;
	}
	while (r == 0 && (n = getline(&buf, &cap, fp)) != -1) {
		++*lineno;
		if (n > 0 && buf[n - 1] == '\n')
			buf[--n] = '\0';
		r = makemap_alias_line(mm, &e, buf, (size_t)n, value, lineno,
		    why);
	}
	if (r == 0)
		r = makemap_entry_end(mm, &e, value, lineno, why);
	free(buf);
	free(e.buf);
	free(value);
	return r;
}

/* Load every line of fp into the open transaction; 0 or -1 with err. */
static int
makemap_load(struct makemap *mm, FILE *fp, char *err, size_t errlen)
{
	char		*buf = NULL;
	const char	*why = "";
	size_t		 cap = 0;
	ssize_t		 n;
	unsigned long	 lineno = 0;
	int		 r = 0;

	errno = 0;
	if (mm->kind == POLICY_MAP_ALIASES)
		r = makemap_alias_load(mm, fp, &lineno, &why);
	while (mm->kind != POLICY_MAP_ALIASES && r != -1 &&
	    (n = getline(&buf, &cap, fp)) != -1) {
		lineno++;
		r = makemap_line_load(mm, buf, (size_t)n, &why);
	}
	if (buf != NULL)
		explicit_bzero(buf, cap);	/* authinfo lines hold secrets */
	free(buf);
	if (r == -1) {
		(void)snprintf(err, errlen, "%s:%lu: %s", mm->file, lineno,
		    why);
		if (mm->rep->failure == POLICY_MAKEMAP_OK)
			mm->rep->failure = POLICY_MAKEMAP_DATA;
		return -1;
	}
	if (ferror(fp)) {
		(void)snprintf(err, errlen, "%s: %s", mm->file,
		    strerror(errno));
		mm->rep->failure = POLICY_MAKEMAP_INPUT;
		return -1;
	}
	return 0;
}

/* Replace the map from fp in one transaction; 0 or -1 with err. */
static int
makemap_replace(struct makemap *mm, const char *dbpath, FILE *fp, char *err,
    size_t errlen)
{
	int	 rc;

	mm->rep->failure = POLICY_MAKEMAP_DB;
	if (policy_db_open(dbpath, 1, &mm->db, err, errlen) == -1)
		return -1;
	rc = policy_db_begin(mm->db, mm->map, err, errlen);
	if (rc == 0) {
		mm->rep->failure = POLICY_MAKEMAP_OK;
		rc = makemap_load(mm, fp, err, errlen);
		if (rc == 0 && (rc = policy_db_commit(mm->db, mm->map,
		    mm->file, mm->stored, err, errlen)) == -1)
			mm->rep->failure = POLICY_MAKEMAP_DB;
		else if (rc == -1)
			policy_db_rollback(mm->db);
	}
	policy_db_close(mm->db);
	mm->db = NULL;
	if (rc == 0 && (rc = policy_db_perms(dbpath, err, errlen)) == -1)
		mm->rep->failure = POLICY_MAKEMAP_DB;
	return rc;
}

int
policy_makemap_run(const char *dbpath, const char *map, const char *file,
    struct policy_makemap_report *report, char *err, size_t errlen)
{
	struct policy_makemap_report	 none;
	struct makemap			 mm;
	FILE				*fp;
	int				 rc;

	memset(&none, 0, sizeof(none));
	memset(&mm, 0, sizeof(mm));
	mm.rep = report != NULL ? report : &none;
	mm.map = map;
	mm.file = file;
	mm.kind = policy_map_kind(map);
	mm.rep->entries = 0;
	mm.rep->longest = mm.rep->total = 0;
	mm.rep->failure = POLICY_MAKEMAP_USAGE;
	if (mm.kind == POLICY_MAP_UNKNOWN) {
		(void)snprintf(err, errlen, "unknown map %s (known: %s)", map,
		    policy_map_names());
		return -1;
	}
	mm.rep->failure = POLICY_MAKEMAP_INPUT;
	if (strcmp(file, "-") == 0)
		fp = stdin;
	else if ((fp = fopen(file, "r")) == NULL) {
		(void)snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return -1;
	}
	rc = makemap_replace(&mm, dbpath, fp, err, errlen);
	if (fp != stdin)
		(void)fclose(fp);
	return rc;
}

int
policy_makemap(const char *dbpath, const char *map, const char *file,
    char *err, size_t errlen)
{
	return policy_makemap_run(dbpath, map, file, NULL, err, errlen);
}
