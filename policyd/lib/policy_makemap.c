/*
 * policy_makemap.c: "smtpctl makemap MAP FILE", the import of a sendmail
 * text map into the policy database.
 *
 * File format: one entry per line.  Pair maps (access, mailertable):
 * "key<blanks>value", the value running to the end of the line (trailing
 * blanks dropped, '#' kept: it may be part of a reply text).  Set maps
 * (local-host-names, relay-domains): one key per line, an optional
 * "# comment" after it.  Lines that are blank or start with '#' are
 * skipped.  Keys are lowercased.  A line is refused if it has a NUL, a
 * CR, any other control character (a tab only separates), a double quote
 * in the key (probe keys never carry one, so it could never match), a key
 * or value over 1024 octets, a missing value or a duplicate key.  An
 * authinfo line must also be an entry policy_entry_check() accepts (its
 * reasons never quote the secret).
 *
 * Failure behaviour: the whole file goes in one transaction; the first
 * bad line (reported as "file:line: reason") rolls it back, so readers
 * see either the old map or the new one, never a mix.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "util.h"
#include "policy.h"

/* longest line accepted: key, blanks, value */
#define MAKEMAP_LINE_MAX	(POLICY_KEY_MAX + POLICY_VALUE_MAX + 256)

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

/* Check and insert one line; 1 entry, 0 skipped, -1 with *why set. */
static int
makemap_line_load(struct policy_db *db, const char *map,
    enum policy_map_kind kind, char *buf, size_t len, const char **why)
{
	static char	 reason[256];
	char		*key, *value;
	int		 r, rc;

	if (len > MAKEMAP_LINE_MAX) {
		*why = "line too long";
		return -1;
	}
	if ((r = policy_makemap_line(buf, len, kind, &key, &value, why)) != 1)
		return r;
	if (strcmp(map, POLICY_MAP_AUTHINFO) == 0 &&
	    policy_entry_check(map, key, value, reason, sizeof(reason)) == -1) {
		*why = reason;
		return -1;
	}
	if ((rc = policy_db_insert(db, map, key, value)) == SQLITE_OK)
		return 1;
	*why = rc == SQLITE_CONSTRAINT ? "duplicate key" : "database error";
	return -1;
}

/* Load every line of fp into the open transaction; 0 or -1 with err. */
static int
makemap_load(struct policy_db *db, const char *map, enum policy_map_kind kind,
    FILE *fp, const char *file, long *entries, char *err, size_t errlen)
{
	char		*buf = NULL;
	const char	*why = "";
	size_t		 cap = 0;
	ssize_t		 n;
	unsigned long	 lineno = 0;
	int		 r = 0;

	errno = 0;
	while (r != -1 && (n = getline(&buf, &cap, fp)) != -1) {
		lineno++;
		r = makemap_line_load(db, map, kind, buf, (size_t)n, &why);
		if (r == 1)
			(*entries)++;
	}
	if (buf != NULL)
		explicit_bzero(buf, cap);	/* authinfo lines hold secrets */
	free(buf);
	if (r == -1) {
		(void)snprintf(err, errlen, "%s:%lu: %s", file, lineno, why);
		return -1;
	}
	if (ferror(fp)) {
		(void)snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return -1;
	}
	return 0;
}

int
policy_makemap(const char *dbpath, const char *map, const char *file,
    char *err, size_t errlen)
{
	struct policy_db	*db;
	enum policy_map_kind	 kind = policy_map_kind(map);
	FILE			*fp;
	long			 entries = 0;
	int			 rc;

	if (kind == POLICY_MAP_UNKNOWN) {
		(void)snprintf(err, errlen, "unknown map %s (known: %s)", map,
		    policy_map_names());
		return -1;
	}
	if (strcmp(file, "-") == 0)
		fp = stdin;
	else if ((fp = fopen(file, "r")) == NULL) {
		(void)snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return -1;
	}
	rc = policy_db_open(dbpath, 1, &db, err, errlen);
	if (rc == 0 && (rc = policy_db_begin(db, map, err, errlen)) == 0) {
		rc = makemap_load(db, map, kind, fp, file, &entries, err,
		    errlen);
		if (rc == 0)
			rc = policy_db_commit(db, map, file, entries, err,
			    errlen);
		else
			policy_db_rollback(db);
	}
	policy_db_close(db);
	if (fp != stdin)
		(void)fclose(fp);
	if (rc == 0)
		rc = policy_db_perms(dbpath, err, errlen);
	return rc;
}
