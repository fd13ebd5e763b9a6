/*
 * policy_db.c: the policy maps behind one interface (policy_db.h), kept
 * in SQLite (policy_db_sqlite.c, the default) or PostgreSQL
 * (policy_db_pgsql.c, `database postgresql`).  The store is chosen once,
 * at config load (policy_db_select()); everything a map holds is checked
 * and lowercased here, so both stores hold the same rows and answer the
 * same lookups.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "paths.h"
#include "util.h"
#include "policy_db.h"
#include "policy_db_backend.h"

struct policy_db {
	const struct policy_db_ops	*ops;
	struct policy_db_backend	*be;
};

/* `database postgresql` of the config in force; "" for SQLite */
static char	 policy_db_conninfo[POLICY_CONNINFO_MAX];
/* libpq's default passfile: POLICY_PG_PASSFILE beside the database */
static char	 policy_db_passfile[PATH_MAX];

static const struct {
	const char		*name;
	enum policy_map_kind	 kind;
} policy_maps[] = {
	{ "access",		POLICY_MAP_PAIRS },
	{ "aliases",		POLICY_MAP_ALIASES },
	{ "authinfo",		POLICY_MAP_PAIRS },
	{ "genericstable",	POLICY_MAP_PAIRS },
	{ "local-host-names",	POLICY_MAP_SET },
	{ "local-users",	POLICY_MAP_SET },
	{ "mailertable",	POLICY_MAP_PAIRS },
	{ "relay-domains",	POLICY_MAP_SET },
	{ "virtual-domains",	POLICY_MAP_SET },
	{ "virtusertable",	POLICY_MAP_PAIRS },
};

void
policy_db_select(const char *conninfo, const char *dbpath, int chrooted)
{
	const char	*slash = strrchr(dbpath, '/');
	int		 dirlen;

	(void)strlcpy(policy_db_conninfo, conninfo != NULL ? conninfo : "",
	    sizeof(policy_db_conninfo));
	/* policyd is chrooted to the database's directory */
	dirlen = chrooted || slash == NULL ? 0 : (int)(slash - dbpath);
	(void)snprintf(policy_db_passfile, sizeof(policy_db_passfile),
	    "%.*s/%s", dirlen, dbpath, POLICY_PG_PASSFILE);
}

const char *
policy_db_pgpass(void)
{
	return policy_db_passfile;
}

int
policy_db_remote(void)
{
	return policy_db_conninfo[0] != '\0';
}

int
policy_map_index(const char *map)
{
	size_t	 i;

	for (i = 0; i < sizeof(policy_maps) / sizeof(policy_maps[0]); i++)
		if (strcmp(policy_maps[i].name, map) == 0)
			return (int)i;
	return -1;
}

enum policy_map_kind
policy_map_kind(const char *map)
{
	int	 i;

	if ((i = policy_map_index(map)) == -1)
		return POLICY_MAP_UNKNOWN;
	return policy_maps[i].kind;
}

const char *
policy_map_names(void)
{
	return "access, aliases, authinfo, genericstable, local-host-names, "
	    "local-users, "
	    "mailertable, relay-domains, virtual-domains, virtusertable";
}

/*
 * An aliases entry as makemap stores it: a name of clean text (it may
 * hold blanks: a quoted name is stored unquoted) and a value of clean
 * text, both within their sizes.  The items themselves are checked by
 * policy_entry_check(), which the callers run first.
 */
static int
policy_db_alias_check(const char *key, const char *value, char *lkey,
    size_t lkeylen, char *err, size_t errlen)
{
	size_t	 klen = strlen(key), vlen = strlen(value);

	if (klen == 0 || klen > POLICY_KEY_MAX || !text_is_clean(key))
		(void)snprintf(err, errlen, "invalid key");
	else if (vlen == 0 || vlen > POLICY_ALIAS_VALUE_MAX ||
	    !text_is_clean(value))
		(void)snprintf(err, errlen, "invalid aliases value");
	else {
		(void)strlcpy(lkey, key, lkeylen);
		text_lower(lkey);
		return 0;
	}
	return -1;
}

/* Check a key and value as makemap would; lowercased key into lkey. */
static int
policy_db_entry_check(const char *map, const char *key, const char *value,
    char *lkey, size_t lkeylen, char *err, size_t errlen)
{
	enum policy_map_kind	 kind = policy_map_kind(map);
	char			 line[POLICY_KEY_MAX + POLICY_VALUE_MAX + 4];
	char			*k, *v;
	const char		*why = NULL;
	int			 n;

	if (kind == POLICY_MAP_UNKNOWN) {
		(void)snprintf(err, errlen, "unknown map %s (known: %s)", map,
		    policy_map_names());
		return -1;
	}
	if (kind == POLICY_MAP_ALIASES)
		return policy_db_alias_check(key, value, lkey, lkeylen, err,
		    errlen);
	n = snprintf(line, sizeof(line), "%s%s%s", key,
	    kind == POLICY_MAP_SET ? "" : " ", kind == POLICY_MAP_SET ? "" :
	    value);
	if (n < 0 || (size_t)n >= sizeof(line) || strchr(key, ' ') != NULL ||
	    strchr(key, '\t') != NULL || strchr(key, '#') != NULL) {
		(void)snprintf(err, errlen, "invalid key");
		return -1;
	}
	if (policy_makemap_line(line, (size_t)n, kind, &k, &v, &why) != 1) {
		(void)snprintf(err, errlen, "%s", why != NULL ? why :
		    "empty key");
		return -1;
	}
	if (policy_makemap_key(k, lkey, lkeylen) == -1) {
		(void)snprintf(err, errlen, "key with a domain that is no "
		    "valid IDN");
		return -1;
	}
	return 0;
}

int
policy_db_open(const char *path, int readwrite, struct policy_db **dbp,
    char *err, size_t errlen)
{
	struct policy_db	*db;

	*dbp = NULL;
	if ((db = calloc(1, sizeof(*db))) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return -1;
	}
	db->ops = policy_db_remote() ? &policy_db_pgsql_ops :
	    &policy_db_sqlite_ops;
	if (db->ops->open(policy_db_remote() ? policy_db_conninfo : path,
	    readwrite, &db->be, err, errlen) == -1) {
		free(db);
		return -1;
	}
	*dbp = db;
	return 0;
}

void
policy_db_close(struct policy_db *db)
{
	if (db == NULL)
		return;
	db->ops->close(db->be);
	free(db);
}

void
policy_db_refresh(struct policy_db *db)
{
	db->ops->refresh(db->be);
}

int
policy_db_lookup_key(const char *map, const char *key, char *lkey,
    size_t lkeylen)
{
	/* a domain is stored as A-labels (an alias name is no domain); a
	 * key too long or no valid IDN matches no stored key */
	if (policy_map_kind(map) == POLICY_MAP_ALIASES ?
	    strlcpy(lkey, key, lkeylen) >= lkeylen :
	    policy_makemap_key(key, lkey, lkeylen) == -1)
		return -1;
	text_lower(lkey);
	return 0;
}

int
policy_db_lookup(struct policy_db *db, const char *map, const char *key,
    char *value, size_t valuelen)
{
	char	 lkey[POLICY_KEY_MAX + 1];

	if (policy_db_lookup_key(map, key, lkey, sizeof(lkey)) == -1)
		return POLICY_DB_NOTFOUND;
	return db->ops->lookup(db->be, map, lkey, value, valuelen);
}

int
policy_db_set(struct policy_db *db, const char *map, const char *key,
    const char *value, char *err, size_t errlen)
{
	char	 lkey[POLICY_KEY_MAX + 1];

	if (policy_db_entry_check(map, key, value, lkey, sizeof(lkey), err,
	    errlen) == -1)
		return -1;
	if (policy_map_kind(map) == POLICY_MAP_SET)
		value = "";
	return db->ops->set(db->be, map, lkey, value, err, errlen);
}

int
policy_db_delete(struct policy_db *db, const char *map, const char *key,
    char *err, size_t errlen)
{
	char	 lkey[POLICY_KEY_MAX + 1];

	if (strlcpy(lkey, key, sizeof(lkey)) >= sizeof(lkey))
		return POLICY_DB_NOTFOUND;
	text_lower(lkey);
	return db->ops->delete(db->be, map, lkey, err, errlen);
}

int
policy_db_list(struct policy_db *db, const char *map, policy_db_list_cb cb,
    void *arg, char *err, size_t errlen)
{
	return db->ops->list(db->be, map, cb, arg, err, errlen);
}

/* A PostgreSQL server keeps its own permissions: nothing to do there. */
int
policy_db_perms(const char *path, char *err, size_t errlen)
{
	struct group	*gr;
	int		 fd, ret = 0;

	if (policy_db_remote())
		return 0;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		(void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (geteuid() == 0) {
		gr = getgrnam(SMTPD_POLICY_USER);
		if (fchown(fd, 0, gr != NULL ? gr->gr_gid : (gid_t)-1) == -1)
			ret = -1;
	}
	if (ret == 0 && fchmod(fd, POLICY_DB_MODE) == -1)
		ret = -1;
	if (ret == -1)
		(void)snprintf(err, errlen, "%s: cannot set owner and mode: %s",
		    path, strerror(errno));
	(void)close(fd);
	return ret;
}

int
policy_db_begin(struct policy_db *db, const char *map, char *err,
    size_t errlen)
{
	return db->ops->begin(db->be, map, err, errlen);
}

int
policy_db_insert(struct policy_db *db, const char *map, const char *key,
    const char *value)
{
	return db->ops->insert(db->be, map, key, value);
}

int
policy_db_commit(struct policy_db *db, const char *map, const char *source,
    long entries, char *err, size_t errlen)
{
	return db->ops->commit(db->be, map, source, entries, err, errlen);
}

void
policy_db_rollback(struct policy_db *db)
{
	db->ops->rollback(db->be);
}
