/*
 * smtpctl_map.c: "smtpctl access add|delete|show" and "smtpctl map
 * add|delete|show MAP": single entries of the map database, edited in
 * place as makemap would load them.
 *
 *   access add KEY VALUE       map add MAP KEY [VALUE]
 *   access delete KEY          map delete MAP KEY
 *   access show [PREFIX]       map show MAP [PREFIX]
 *   authinfo add KEY VALUE | delete KEY | show [PREFIX]
 *
 * The database is written directly, so the daemon need not run; a
 * running smtpd-policyd sees the change at its next query.  Keys are
 * lowercased as makemap does; every entry is checked first
 * (policy_entry_check()) and the database is created or opened only once
 * the input is known to be good, so a refused command changes nothing.
 * SQL only ever sees bound parameters (policy_db.c).  Output: one
 * "KEY<TAB>VALUE" line per entry added, removed or shown ("KEY" alone
 * in a set map).  An aliases entry is stored as makemap would store it
 * (the name unquoted and lowercased, the list in the stored form of
 * policy_alias.c) and printed so.  An authinfo value is always printed
 * with its secret replaced by "****" (policy_authinfo_mask()), and no
 * error message quotes one.  Exit status as in smtpctl.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"
#include "policy.h"
#include "smtpctl.h"

/* What "show" prints: entries of map whose key starts with prefix. */
struct map_show {
	const char	*map;
	const char	*prefix;
	int		 set;
};

static int
map_usage(void)
{
	(void)fprintf(stderr,
	    "usage: smtpctl access add KEY VALUE | delete KEY | show [PREFIX]\n"
	    "       smtpctl map add MAP KEY [VALUE] | delete MAP KEY | "
	    "show MAP [PREFIX]\n"
	    "       smtpctl authinfo add KEY VALUE | delete KEY | "
	    "show [PREFIX]\n");
	return 2;
}

/* Print one entry as "KEY<TAB>VALUE" ("KEY" alone without a value),
 * an authinfo secret masked. */
static void
map_print(const char *map, const char *key, const char *value)
{
	char	 masked[POLICY_VALUE_MAX + 1];

	if (value[0] == '\0') {
		(void)printf("%s\n", key);
		return;
	}
	if (strcmp(map, POLICY_MAP_AUTHINFO) == 0) {
		policy_authinfo_mask(value, masked, sizeof(masked));
		value = masked;
	}
	(void)printf("%s\t%s\n", key, value);
}

/* 1 if the database file exists, 0 if not, -1 (reported) on error. */
static int
map_db_exists(const char *path)
{
	struct stat	 st;

	/* a PostgreSQL store: the server says what it holds */
	if (policy_db_remote() || stat(path, &st) == 0)
		return 1;
	if (errno == ENOENT)
		return 0;
	(void)fprintf(stderr, "smtpctl: %s: %s\n", path, strerror(errno));
	return -1;
}

static int
map_add(const char *dbpath, const char *map, const char *key,
    const char *value)
{
	struct policy_db	*db;
	char			 err[512], lkey[POLICY_KEY_MAX + 1];
	int			 rc;

	if (policy_entry_check(map, key, value, err, sizeof(err)) == -1) {
		(void)fprintf(stderr, "smtpctl: %s add %s: %s\n", map, key, err);
		return 1;
	}
	if (policy_db_open(dbpath, 1, &db, err, sizeof(err)) == -1) {
		(void)fprintf(stderr, "smtpctl: %s\n", err);
		return 1;
	}
	rc = policy_db_set(db, map, key, value, err, sizeof(err));
	policy_db_close(db);
	if (rc == 0)
		rc = policy_db_perms(dbpath, err, sizeof(err));
	if (rc == -1) {
		(void)fprintf(stderr, "smtpctl: %s add %s: %s\n", map, key, err);
		return 1;
	}
	(void)strlcpy(lkey, key, sizeof(lkey));
	text_lower(lkey);
	map_print(map, lkey, value);
	return 0;
}

/* The old value of an entry being deleted: an aliases list may be long. */
#define MAP_OLD_MAX	(POLICY_ALIAS_VALUE_MAX + 1)

static int
map_delete(const char *dbpath, const char *map, const char *key)
{
	struct policy_db	*db;
	char			 err[512], *old;
	char			 lkey[POLICY_KEY_MAX + 1];
	int			 r;

	if (policy_entry_key_check(map, key, err, sizeof(err)) == -1) {
		(void)fprintf(stderr, "smtpctl: %s delete %s: %s\n", map, key,
		    err);
		return 1;
	}
	if ((r = map_db_exists(dbpath)) != 1) {
		if (r == 0)
			(void)fprintf(stderr, "smtpctl: %s delete %s: no such "
			    "entry\n", map, key);
		return 1;
	}
	if ((old = malloc(MAP_OLD_MAX)) == NULL) {
		(void)fprintf(stderr, "smtpctl: out of memory\n");
		return 1;
	}
	if (policy_db_open(dbpath, 1, &db, err, sizeof(err)) == -1) {
		(void)fprintf(stderr, "smtpctl: %s\n", err);
		free(old);
		return 1;
	}
	r = policy_db_lookup(db, map, key, old, MAP_OLD_MAX);
	if (r == POLICY_DB_FOUND)
		r = policy_db_delete(db, map, key, err, sizeof(err));
	else if (r == POLICY_DB_TMPF)
		(void)snprintf(err, sizeof(err), "database lookup failed");
	policy_db_close(db);
	if (r == POLICY_DB_FOUND) {
		(void)strlcpy(lkey, key, sizeof(lkey));
		text_lower(lkey);
		map_print(map, lkey, old);
	} else
		(void)fprintf(stderr, "smtpctl: %s delete %s: %s\n", map, key,
		    r == POLICY_DB_NOTFOUND ? "no such entry" : err);
	explicit_bzero(old, MAP_OLD_MAX);
	free(old);
	return r == POLICY_DB_FOUND ? 0 : 1;
}

static void
map_show_one(const char *key, const char *value, void *arg)
{
	const struct map_show	*sh = arg;

	if (strncmp(key, sh->prefix, strlen(sh->prefix)) != 0)
		return;
	map_print(sh->map, key, sh->set ? "" : value);
}

static int
map_show(const char *dbpath, const char *map, const char *prefix)
{
	struct policy_db	*db;
	struct map_show		 sh;
	char			 err[512], lprefix[POLICY_KEY_MAX + 1];
	int			 r;

	if (policy_map_kind(map) == POLICY_MAP_UNKNOWN) {
		(void)fprintf(stderr, "smtpctl: unknown map %s (known: %s)\n",
		    map, policy_map_names());
		return 1;
	}
	if ((r = map_db_exists(dbpath)) != 1)
		return r == 0 ? 0 : 1;		/* no database: empty maps */
	(void)strlcpy(lprefix, prefix, sizeof(lprefix));
	text_lower(lprefix);
	sh.map = map;
	sh.prefix = lprefix;
	sh.set = policy_map_kind(map) == POLICY_MAP_SET;
	if (policy_db_open(dbpath, 0, &db, err, sizeof(err)) == -1) {
		(void)fprintf(stderr, "smtpctl: %s\n", err);
		return 1;
	}
	r = policy_db_list(db, map, map_show_one, &sh, err, sizeof(err));
	policy_db_close(db);
	if (r == -1) {
		(void)fprintf(stderr, "smtpctl: %s show: %s\n", map, err);
		return 1;
	}
	return 0;
}

/* An aliases entry from the command line, stored as makemap would: the
 * name unquoted and lowercased, the list in its stored form. */
static int
map_alias_add(const char *dbpath, const char *name, const char *list)
{
	char		 key[POLICY_KEY_MAX + 1], *value;
	const char	*why;
	size_t		 nitems;
	int		 rc;

	if ((value = malloc(POLICY_ALIAS_VALUE_MAX + 1)) == NULL) {
		(void)fprintf(stderr, "smtpctl: out of memory\n");
		return 1;
	}
	if (policy_alias_name(name, strlen(name), key, sizeof(key),
	    &why) == -1 || policy_alias_list_normal(list, value,
	    POLICY_ALIAS_VALUE_MAX + 1, &nitems, &why) == -1) {
		(void)fprintf(stderr, "smtpctl: aliases add %s: %s\n", name,
		    why);
		free(value);
		return 1;
	}
	rc = map_add(dbpath, "aliases", key, value);
	free(value);
	return rc;
}

/* The key of an alias name as given (maybe quoted), for delete. */
static int
map_alias_delete(const char *dbpath, const char *name)
{
	char		 key[POLICY_KEY_MAX + 1];
	const char	*why;

	if (policy_alias_name(name, strlen(name), key, sizeof(key),
	    &why) == -1) {
		(void)fprintf(stderr, "smtpctl: aliases delete %s: %s\n", name,
		    why);
		return 1;
	}
	return map_delete(dbpath, "aliases", key);
}

/* One verb on one map, with its nargs words after the map. */
static int
map_verb(const char *dbpath, const char *map, const char *verb, int nargs,
    char **args)
{
	int	 set = policy_map_kind(map) == POLICY_MAP_SET;

	if (policy_map_kind(map) == POLICY_MAP_ALIASES &&
	    strcmp(verb, "add") == 0 && nargs == 2)
		return map_alias_add(dbpath, args[0], args[1]);
	if (policy_map_kind(map) == POLICY_MAP_ALIASES &&
	    strcmp(verb, "delete") == 0 && nargs == 1)
		return map_alias_delete(dbpath, args[0]);

	if (strcmp(verb, "add") == 0 && nargs == 1 + !set)
		return map_add(dbpath, map, args[0], set ? "" : args[1]);
	if (strcmp(verb, "add") == 0 && set && nargs == 2)
		return map_add(dbpath, map, args[0], args[1]);	/* refused */
	if (strcmp(verb, "delete") == 0 && nargs == 1)
		return map_delete(dbpath, map, args[0]);
	if (strcmp(verb, "show") == 0 && nargs <= 1)
		return map_show(dbpath, map, nargs == 1 ? args[0] : "");
	return map_usage();
}

/* access VERB [KEY [VALUE]] */
int
smtpctl_access(const struct config *cf, int argc, char **argv)
{
	if (argc < 2)
		return map_usage();
	return map_verb(cf->database_path, "access", argv[1], argc - 2,
	    argv + 2);
}

/* map VERB MAP [KEY [VALUE]] */
int
smtpctl_map(const struct config *cf, int argc, char **argv)
{
	if (argc < 3)
		return map_usage();
	return map_verb(cf->database_path, argv[2], argv[1], argc - 3,
	    argv + 3);
}

/* authinfo VERB [KEY [VALUE]] */
int
smtpctl_authinfo(const struct config *cf, int argc, char **argv)
{
	if (argc < 2)
		return map_usage();
	return map_verb(cf->database_path, POLICY_MAP_AUTHINFO, argv[1],
	    argc - 2, argv + 2);
}
