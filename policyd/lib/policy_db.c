/*
 * policy_db.c: the SQLite store of the policy maps (see policy_db.h).
 *
 * Schema version 1 (PRAGMA user_version = 1):
 *   maps(map, key, value), primary key (map, key), WITHOUT ROWID;
 *   map_source(map, source, entries, updated): what makemap last loaded.
 * Keys are stored lowercased and looked up lowercased, so every lookup is
 * one primary-key probe through a statement prepared once per handle.
 * The file uses the rollback journal (not WAL), so a reader needs only
 * read access to the file itself: policyd opens it read-only in a chroot.
 *
 * Failure behaviour: every SQLite error other than "no row" is reported
 * as POLICY_DB_TMPF (lookups) or -1 with a text (everything else); the
 * caller decides.  A writer that waits more than POLICY_DB_BUSY_MS for a
 * lock gives up with an error rather than blocking its process.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "paths.h"
#include "util.h"
#include "policy_db.h"

#define POLICY_DB_BUSY_MS	500
#define POLICY_DB_MODE		0640

struct policy_db {
	sqlite3		*sql;
	sqlite3_stmt	*get;		/* the lookup, prepared once */
	sqlite3_stmt	*put;		/* makemap's insert, on first use */
	int		 readwrite;
	/*
	 * Read-only handles (policyd) know which maps are empty, so that a
	 * recipient costs no probes of a mailertable or virtusertable that
	 * has no entry: bit i of policy_maps[] is known / has entries, both
	 * dropped when another connection commits (PRAGMA data_version).
	 */
	sqlite3_stmt	*any;
	sqlite3_stmt	*version;
	sqlite3_int64	 data_version;
	uint32_t	 known;
	uint32_t	 filled;
};

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

static const char policy_db_schema[] =
	"CREATE TABLE IF NOT EXISTS maps ("
	" map TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
	" PRIMARY KEY (map, key)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS map_source ("
	" map TEXT PRIMARY KEY NOT NULL, source TEXT NOT NULL,"
	" entries INTEGER NOT NULL, updated INTEGER NOT NULL);"
	"PRAGMA user_version = 1;";

enum policy_map_kind
policy_map_kind(const char *map)
{
	size_t	 i;

	for (i = 0; i < sizeof(policy_maps) / sizeof(policy_maps[0]); i++)
		if (strcmp(policy_maps[i].name, map) == 0)
			return policy_maps[i].kind;
	return POLICY_MAP_UNKNOWN;
}

const char *
policy_map_names(void)
{
	return "access, aliases, authinfo, genericstable, local-host-names, "
	    "local-users, "
	    "mailertable, relay-domains, virtual-domains, virtusertable";
}

static void
policy_db_err(char *err, size_t errlen, const char *what, sqlite3 *sql)
{
	(void)snprintf(err, errlen, "%s: %s", what,
	    sql != NULL ? sqlite3_errmsg(sql) : "out of memory");
}

/* Create the file with our mode before SQLite does (it would use 0644). */
static int
policy_db_create(const char *path, int *created, char *err, size_t errlen)
{
	int	 fd;

	*created = 0;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    POLICY_DB_MODE);
	if (fd == -1 && errno == EEXIST)
		return 0;
	if (fd == -1) {
		(void)snprintf(err, errlen, "cannot create %s: %s", path,
		    strerror(errno));
		return -1;
	}
	*created = 1;
	(void)close(fd);
	return 0;
}

static int
policy_db_version(sqlite3 *sql, int *version, int *ntables)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (sqlite3_prepare_v2(sql, "PRAGMA user_version", -1, &st,
	    NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(st);
	*version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	(void)sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return -1;
	if (sqlite3_prepare_v2(sql, "SELECT count(*) FROM sqlite_master",
	    -1, &st, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(st);
	*ntables = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	(void)sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Check the schema version; create the schema in an empty writable file. */
static int
policy_db_schema_check(struct policy_db *db, const char *path, char *err,
    size_t errlen)
{
	int	 version, ntables;

	if (policy_db_version(db->sql, &version, &ntables) == -1) {
		policy_db_err(err, errlen, path, db->sql);
		return -1;
	}
	if (version > POLICY_DB_VERSION) {
		(void)snprintf(err, errlen, "%s: schema version %d is newer "
		    "than this program's (%d)", path, version,
		    POLICY_DB_VERSION);
		return -1;
	}
	if (version == POLICY_DB_VERSION)
		return 0;
	if (!db->readwrite || ntables != 0) {
		(void)snprintf(err, errlen, "%s: not a policy map database "
		    "(no schema; make it with smtpctl makemap)", path);
		return -1;
	}
	if (sqlite3_exec(db->sql, policy_db_schema, NULL, NULL,
	    NULL) != SQLITE_OK) {
		policy_db_err(err, errlen, path, db->sql);
		return -1;
	}
	return 0;
}

int
policy_db_open(const char *path, int readwrite, struct policy_db **dbp,
    char *err, size_t errlen)
{
	struct policy_db	*db;
	int			 flags, created = 0;

	*dbp = NULL;
	if (readwrite && policy_db_create(path, &created, err, errlen) == -1)
		return -1;
	if ((db = calloc(1, sizeof(*db))) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return -1;
	}
	db->readwrite = readwrite;
	flags = readwrite ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
	if (sqlite3_open_v2(path, &db->sql, flags, NULL) != SQLITE_OK) {
		policy_db_err(err, errlen, path, db->sql);
		policy_db_close(db);
		return -1;
	}
	(void)sqlite3_busy_timeout(db->sql, POLICY_DB_BUSY_MS);
	if (policy_db_schema_check(db, path, err, errlen) == -1 ||
	    (created && policy_db_perms(path, err, errlen) == -1)) {
		policy_db_close(db);
		return -1;
	}
	if (sqlite3_prepare_v3(db->sql, "SELECT value FROM maps "
	    "WHERE map = ?1 AND key = ?2", -1, SQLITE_PREPARE_PERSISTENT,
	    &db->get, NULL) != SQLITE_OK || (!readwrite &&
	    (sqlite3_prepare_v3(db->sql, "SELECT 1 FROM maps WHERE map = ?1 "
	    "LIMIT 1", -1, SQLITE_PREPARE_PERSISTENT, &db->any,
	    NULL) != SQLITE_OK || sqlite3_prepare_v3(db->sql,
	    "PRAGMA data_version", -1, SQLITE_PREPARE_PERSISTENT,
	    &db->version, NULL) != SQLITE_OK))) {
		policy_db_err(err, errlen, path, db->sql);
		policy_db_close(db);
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
	(void)sqlite3_finalize(db->get);
	(void)sqlite3_finalize(db->put);
	(void)sqlite3_finalize(db->any);
	(void)sqlite3_finalize(db->version);
	(void)sqlite3_close(db->sql);
	free(db);
}

void
policy_db_refresh(struct policy_db *db)
{
	sqlite3_int64	 v;

	if (db->version == NULL)
		return;
	if (sqlite3_step(db->version) == SQLITE_ROW) {
		v = sqlite3_column_int64(db->version, 0);
		if (v != db->data_version)
			db->known = 0;
		db->data_version = v;
	} else
		db->known = 0;
	(void)sqlite3_reset(db->version);
}

/* 0 if a read-only handle knows map to be empty, else 1 (or unknown). */
static int
policy_db_filled(struct policy_db *db, const char *map)
{
	uint32_t	 bit;
	size_t		 i;
	int		 rc;

	if (db->any == NULL)
		return 1;
	for (i = 0; i < sizeof(policy_maps) / sizeof(policy_maps[0]); i++)
		if (strcmp(policy_maps[i].name, map) == 0)
			break;
	if (i == sizeof(policy_maps) / sizeof(policy_maps[0]))
		return 1;
	bit = 1u << i;
	if (!(db->known & bit)) {
		if (sqlite3_bind_text(db->any, 1, map, -1, SQLITE_STATIC) !=
		    SQLITE_OK)
			return 1;
		rc = sqlite3_step(db->any);
		(void)sqlite3_reset(db->any);
		(void)sqlite3_clear_bindings(db->any);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return 1;
		db->known |= bit;
		if (rc == SQLITE_ROW)
			db->filled |= bit;
		else
			db->filled &= ~bit;
	}
	return (db->filled & bit) != 0;
}

int
policy_db_lookup(struct policy_db *db, const char *map, const char *key,
    char *value, size_t valuelen)
{
	char		 lkey[POLICY_KEY_MAX + 1];
	const char	*v;
	int		 rc, ret;

	if (!policy_db_filled(db, map))
		return POLICY_DB_NOTFOUND;

	/* a domain is stored as A-labels (an alias name is no domain); a
	 * key too long or no valid IDN matches no stored key */
	if (policy_map_kind(map) == POLICY_MAP_ALIASES ?
	    strlcpy(lkey, key, sizeof(lkey)) >= sizeof(lkey) :
	    policy_makemap_key(key, lkey, sizeof(lkey)) == -1)
		return POLICY_DB_NOTFOUND;
	text_lower(lkey);
	if (sqlite3_bind_text(db->get, 1, map, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(db->get, 2, lkey, -1, SQLITE_STATIC) != SQLITE_OK)
		ret = POLICY_DB_TMPF;
	else if ((rc = sqlite3_step(db->get)) == SQLITE_DONE)
		ret = POLICY_DB_NOTFOUND;
	else if (rc != SQLITE_ROW)
		ret = POLICY_DB_TMPF;
	else if ((v = (const char *)sqlite3_column_text(db->get, 0)) == NULL)
		ret = POLICY_DB_TMPF;
	else if (value != NULL && strlcpy(value, v, valuelen) >= valuelen)
		ret = POLICY_DB_TMPF;	/* never cut a value silently */
	else
		ret = POLICY_DB_FOUND;
	(void)sqlite3_reset(db->get);
	(void)sqlite3_clear_bindings(db->get);
	return ret;
}

/* Run one statement with up to three text parameters; SQLite's code. */
static int
policy_db_exec(struct policy_db *db, const char *query, const char *a,
    const char *b, const char *c)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((rc = sqlite3_prepare_v2(db->sql, query, -1, &st,
	    NULL)) != SQLITE_OK)
		return rc;
	if ((a != NULL && sqlite3_bind_text(st, 1, a, -1,
	    SQLITE_STATIC) != SQLITE_OK) ||
	    (b != NULL && sqlite3_bind_text(st, 2, b, -1,
	    SQLITE_STATIC) != SQLITE_OK) ||
	    (c != NULL && sqlite3_bind_text(st, 3, c, -1,
	    SQLITE_STATIC) != SQLITE_OK))
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(st);
	(void)sqlite3_finalize(st);
	return rc;
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
policy_db_set(struct policy_db *db, const char *map, const char *key,
    const char *value, char *err, size_t errlen)
{
	char	 lkey[POLICY_KEY_MAX + 1];

	if (policy_db_entry_check(map, key, value, lkey, sizeof(lkey), err,
	    errlen) == -1)
		return -1;
	if (policy_map_kind(map) == POLICY_MAP_SET)
		value = "";
	if (policy_db_exec(db, "INSERT OR REPLACE INTO maps (map, key, value) "
	    "VALUES (?1, ?2, ?3)", map, lkey, value) != SQLITE_DONE) {
		policy_db_err(err, errlen, "set", db->sql);
		return -1;
	}
	return 0;
}

int
policy_db_delete(struct policy_db *db, const char *map, const char *key,
    char *err, size_t errlen)
{
	char	 lkey[POLICY_KEY_MAX + 1];

	if (strlcpy(lkey, key, sizeof(lkey)) >= sizeof(lkey))
		return POLICY_DB_NOTFOUND;
	text_lower(lkey);
	if (policy_db_exec(db, "DELETE FROM maps WHERE map = ?1 AND key = ?2",
	    map, lkey, NULL) != SQLITE_DONE) {
		policy_db_err(err, errlen, "delete", db->sql);
		return POLICY_DB_TMPF;
	}
	return sqlite3_changes(db->sql) > 0 ? POLICY_DB_FOUND :
	    POLICY_DB_NOTFOUND;
}

int
policy_db_list(struct policy_db *db, const char *map, policy_db_list_cb cb,
    void *arg, char *err, size_t errlen)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (sqlite3_prepare_v2(db->sql, "SELECT key, value FROM maps "
	    "WHERE map = ?1 ORDER BY key", -1, &st, NULL) != SQLITE_OK) {
		policy_db_err(err, errlen, "list", db->sql);
		return -1;
	}
	rc = sqlite3_bind_text(st, 1, map, -1, SQLITE_STATIC);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		cb((const char *)sqlite3_column_text(st, 0),
		    (const char *)sqlite3_column_text(st, 1), arg);
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_DONE)
		policy_db_err(err, errlen, "list", db->sql);
	(void)sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
policy_db_perms(const char *path, char *err, size_t errlen)
{
	struct group	*gr;
	int		 fd, ret = 0;

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

/* Start replacing map: a write transaction that first empties it. */
int
policy_db_begin(struct policy_db *db, const char *map, char *err,
    size_t errlen)
{
	if (sqlite3_exec(db->sql, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL) != SQLITE_OK) {
		policy_db_err(err, errlen, "begin", db->sql);
		return -1;
	}
	if (policy_db_exec(db, "DELETE FROM maps WHERE map = ?1", map, NULL,
	    NULL) != SQLITE_DONE) {
		policy_db_err(err, errlen, "empty map", db->sql);
		policy_db_rollback(db);
		return -1;
	}
	return 0;
}

/* Insert one checked entry; SQLITE_CONSTRAINT means a duplicate key. */
int
policy_db_insert(struct policy_db *db, const char *map, const char *key,
    const char *value)
{
	int	 rc;

	if (db->put == NULL && (rc = sqlite3_prepare_v2(db->sql,
	    "INSERT INTO maps (map, key, value) VALUES (?1, ?2, ?3)", -1,
	    &db->put, NULL)) != SQLITE_OK)
		return rc;
	if (sqlite3_bind_text(db->put, 1, map, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(db->put, 2, key, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(db->put, 3, value, -1, SQLITE_STATIC) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(db->put);
	(void)sqlite3_reset(db->put);
	(void)sqlite3_clear_bindings(db->put);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Record where the map came from and commit the replacement. */
int
policy_db_commit(struct policy_db *db, const char *map, const char *source,
    long entries, char *err, size_t errlen)
{
	char	 n[32];

	(void)snprintf(n, sizeof(n), "%ld", entries);
	if (policy_db_exec(db, "INSERT OR REPLACE INTO map_source (map, source,"
	    " entries, updated) VALUES (?1, ?2, CAST(?3 AS INTEGER), "
	    "strftime('%s', 'now'))", map, source, n) != SQLITE_DONE ||
	    sqlite3_exec(db->sql, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		policy_db_err(err, errlen, "commit", db->sql);
		policy_db_rollback(db);
		return -1;
	}
	return 0;
}

void
policy_db_rollback(struct policy_db *db)
{
	if (sqlite3_get_autocommit(db->sql) == 0)
		(void)sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
}
