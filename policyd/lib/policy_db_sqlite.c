/*
 * policy_db_sqlite.c: the SQLite backend of the policy maps, the default
 * (see policy_db.h; policy_db.c checks keys and values before they come
 * here).
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
#include "policy_db_backend.h"

#define POLICY_DB_BUSY_MS	500

struct policy_db_backend {
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

static void	sqlite_close(struct policy_db_backend *);
static void	sqlite_rollback(struct policy_db_backend *);

static const char sqlite_schema[] =
	"CREATE TABLE IF NOT EXISTS maps ("
	" map TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
	" PRIMARY KEY (map, key)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS map_source ("
	" map TEXT PRIMARY KEY NOT NULL, source TEXT NOT NULL,"
	" entries INTEGER NOT NULL, updated INTEGER NOT NULL);"
	"PRAGMA user_version = 1;";

static void
sqlite_err(char *err, size_t errlen, const char *what, sqlite3 *sql)
{
	(void)snprintf(err, errlen, "%s: %s", what,
	    sql != NULL ? sqlite3_errmsg(sql) : "out of memory");
}

/* Create the file with our mode before SQLite does (it would use 0644). */
static int
sqlite_create(const char *path, int *created, char *err, size_t errlen)
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
sqlite_version(sqlite3 *sql, int *version, int *ntables)
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
sqlite_schema_check(struct policy_db_backend *db, const char *path, char *err,
    size_t errlen)
{
	int	 version, ntables;

	if (sqlite_version(db->sql, &version, &ntables) == -1) {
		sqlite_err(err, errlen, path, db->sql);
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
	if (sqlite3_exec(db->sql, sqlite_schema, NULL, NULL,
	    NULL) != SQLITE_OK) {
		sqlite_err(err, errlen, path, db->sql);
		return -1;
	}
	return 0;
}

static int
sqlite_open(const char *path, int readwrite, struct policy_db_backend **dbp,
    char *err, size_t errlen)
{
	struct policy_db_backend *db;
	int			 flags, created = 0;

	*dbp = NULL;
	if (readwrite && sqlite_create(path, &created, err, errlen) == -1)
		return -1;
	if ((db = calloc(1, sizeof(*db))) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return -1;
	}
	db->readwrite = readwrite;
	flags = readwrite ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
	if (sqlite3_open_v2(path, &db->sql, flags, NULL) != SQLITE_OK) {
		sqlite_err(err, errlen, path, db->sql);
		sqlite_close(db);
		return -1;
	}
	(void)sqlite3_busy_timeout(db->sql, POLICY_DB_BUSY_MS);
	if (sqlite_schema_check(db, path, err, errlen) == -1 ||
	    (created && policy_db_perms(path, err, errlen) == -1)) {
		sqlite_close(db);
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
		sqlite_err(err, errlen, path, db->sql);
		sqlite_close(db);
		return -1;
	}
	*dbp = db;
	return 0;
}

static void
sqlite_close(struct policy_db_backend *db)
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

static void
sqlite_refresh(struct policy_db_backend *db)
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
sqlite_filled(struct policy_db_backend *db, const char *map)
{
	uint32_t	 bit;
	int		 i, rc;

	if (db->any == NULL)
		return 1;
	if ((i = policy_map_index(map)) == -1)
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

static int
sqlite_lookup(struct policy_db_backend *db, const char *map, const char *lkey,
    char *value, size_t valuelen)
{
	const char	*v;
	int		 rc, ret;

	if (!sqlite_filled(db, map))
		return POLICY_DB_NOTFOUND;
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
sqlite_exec(struct policy_db_backend *db, const char *query, const char *a,
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

static int
sqlite_set(struct policy_db_backend *db, const char *map, const char *lkey,
    const char *value, char *err, size_t errlen)
{
	if (sqlite_exec(db, "INSERT OR REPLACE INTO maps (map, key, value) "
	    "VALUES (?1, ?2, ?3)", map, lkey, value) != SQLITE_DONE) {
		sqlite_err(err, errlen, "set", db->sql);
		return -1;
	}
	return 0;
}

static int
sqlite_delete(struct policy_db_backend *db, const char *map,
    const char *lkey, char *err, size_t errlen)
{
	if (sqlite_exec(db, "DELETE FROM maps WHERE map = ?1 AND key = ?2",
	    map, lkey, NULL) != SQLITE_DONE) {
		sqlite_err(err, errlen, "delete", db->sql);
		return POLICY_DB_TMPF;
	}
	return sqlite3_changes(db->sql) > 0 ? POLICY_DB_FOUND :
	    POLICY_DB_NOTFOUND;
}

static int
sqlite_list(struct policy_db_backend *db, const char *map,
    policy_db_list_cb cb,
    void *arg, char *err, size_t errlen)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (sqlite3_prepare_v2(db->sql, "SELECT key, value FROM maps "
	    "WHERE map = ?1 ORDER BY key", -1, &st, NULL) != SQLITE_OK) {
		sqlite_err(err, errlen, "list", db->sql);
		return -1;
	}
	rc = sqlite3_bind_text(st, 1, map, -1, SQLITE_STATIC);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		cb((const char *)sqlite3_column_text(st, 0),
		    (const char *)sqlite3_column_text(st, 1), arg);
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_DONE)
		sqlite_err(err, errlen, "list", db->sql);
	(void)sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Start replacing map: a write transaction that first empties it. */
static int
sqlite_begin(struct policy_db_backend *db, const char *map, char *err,
    size_t errlen)
{
	if (sqlite3_exec(db->sql, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL) != SQLITE_OK) {
		sqlite_err(err, errlen, "begin", db->sql);
		return -1;
	}
	if (sqlite_exec(db, "DELETE FROM maps WHERE map = ?1", map, NULL,
	    NULL) != SQLITE_DONE) {
		sqlite_err(err, errlen, "empty map", db->sql);
		sqlite_rollback(db);
		return -1;
	}
	return 0;
}

/* Insert one checked entry: POLICY_DB_INSERT_OK, _DUPLICATE or _ERROR. */
static int
sqlite_insert(struct policy_db_backend *db, const char *map, const char *key,
    const char *value)
{
	int	 rc;

	if (db->put == NULL && (rc = sqlite3_prepare_v2(db->sql,
	    "INSERT INTO maps (map, key, value) VALUES (?1, ?2, ?3)", -1,
	    &db->put, NULL)) != SQLITE_OK)
		return POLICY_DB_INSERT_ERROR;
	if (sqlite3_bind_text(db->put, 1, map, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(db->put, 2, key, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(db->put, 3, value, -1, SQLITE_STATIC) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		rc = sqlite3_step(db->put);
	(void)sqlite3_reset(db->put);
	(void)sqlite3_clear_bindings(db->put);
	return rc == SQLITE_DONE ? POLICY_DB_INSERT_OK :
	    rc == SQLITE_CONSTRAINT ? POLICY_DB_INSERT_DUPLICATE :
	    POLICY_DB_INSERT_ERROR;
}

/* Record where the map came from and commit the replacement. */
static int
sqlite_commit(struct policy_db_backend *db, const char *map,
    const char *source, long entries, char *err, size_t errlen)
{
	char	 n[32];

	(void)snprintf(n, sizeof(n), "%ld", entries);
	if (sqlite_exec(db, "INSERT OR REPLACE INTO map_source (map, source,"
	    " entries, updated) VALUES (?1, ?2, CAST(?3 AS INTEGER), "
	    "strftime('%s', 'now'))", map, source, n) != SQLITE_DONE ||
	    sqlite3_exec(db->sql, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite_err(err, errlen, "commit", db->sql);
		sqlite_rollback(db);
		return -1;
	}
	return 0;
}

static void
sqlite_rollback(struct policy_db_backend *db)
{
	if (sqlite3_get_autocommit(db->sql) == 0)
		(void)sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
}

const struct policy_db_ops policy_db_sqlite_ops = {
	.open = sqlite_open,
	.close = sqlite_close,
	.refresh = sqlite_refresh,
	.lookup = sqlite_lookup,
	.set = sqlite_set,
	.delete = sqlite_delete,
	.list = sqlite_list,
	.begin = sqlite_begin,
	.insert = sqlite_insert,
	.commit = sqlite_commit,
	.rollback = sqlite_rollback,
};
