/*
 * policy_db_pgsql.c: the PostgreSQL backend of the policy maps
 * (`database postgresql "CONNINFO"`), for smtpctl and the other
 * synchronous users of policy_db.h; smtpd-policyd asks the same server
 * asynchronously (policyd_pgsql.c) with the statements defined in
 * policy_db.h.
 *
 * The schema is SQLite's: maps(map, key, value) with primary key
 * (map, key), map_source(map, source, entries, updated), and
 * policy_schema(version) in place of PRAGMA user_version.  Keys and
 * values are compared and sorted bytewise (COLLATE "C"), as SQLite does.
 * A statement trigger on maps sends NOTIFY POLICY_PG_CHANNEL on every
 * change, whoever makes it (smtpctl on any node, or psql), so that every
 * policyd drops what it has cached as soon as the change commits.
 *
 * A writer listens too, and after each change waits (at most
 * PGSQL_NOTIFY_WAIT_MS) for its own notification: when it is back, the
 * server has signalled every listener, so when smtpctl returns the
 * relays are being told.
 *
 * Failure behaviour: as SQLite's backend, every error other than "no
 * row" is POLICY_DB_TMPF (lookups) or -1 with the server's text.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "util.h"
#include "policy_db.h"
#include "policy_db_backend.h"

#define PGSQL_NOTIFY_WAIT_MS	1000

struct policy_db_backend {
	PGconn		*conn;
	int		 prepared;	/* makemap's insert */
	/* read-only, and nobody has made the maps: every map is empty,
	 * as with a missing SQLite file */
	int		 empty;
};

static const char pgsql_schema[] =
	"BEGIN;"
	"CREATE TABLE IF NOT EXISTS policy_schema (version integer NOT NULL);"
	"CREATE TABLE IF NOT EXISTS maps ("
	" map text COLLATE \"C\" NOT NULL, key text COLLATE \"C\" NOT NULL,"
	" value text NOT NULL, PRIMARY KEY (map, key));"
	"CREATE TABLE IF NOT EXISTS map_source ("
	" map text PRIMARY KEY, source text NOT NULL,"
	" entries bigint NOT NULL, updated bigint NOT NULL);"
	"CREATE OR REPLACE FUNCTION smtpd_maps_notify() RETURNS trigger"
	" LANGUAGE plpgsql AS $$ BEGIN"
	" PERFORM pg_notify('" POLICY_PG_CHANNEL "', TG_OP);"
	" RETURN NULL; END $$;"
	"CREATE OR REPLACE TRIGGER smtpd_maps_changed AFTER INSERT OR UPDATE"
	" OR DELETE OR TRUNCATE ON maps FOR EACH STATEMENT"
	" EXECUTE FUNCTION smtpd_maps_notify();"
	"INSERT INTO policy_schema SELECT 1"
	" WHERE NOT EXISTS (SELECT 1 FROM policy_schema);"
	"COMMIT;";

void
policy_pgsql_params(const char *conninfo, const char **keywords,
    const char **values)
{
	/* the conninfo comes last, so it may override every default */
	keywords[0] = "client_encoding";
	values[0] = "UTF8";
	keywords[1] = "application_name";
	values[1] = "smtpd";
	/* GSSAPI would read Kerberos files that the chroot does not have */
	keywords[2] = "gssencmode";
	values[2] = "disable";
	/* ~/.pgpass is out of policyd's reach: a file both can read */
	keywords[3] = "passfile";
	values[3] = policy_db_pgpass();
	keywords[4] = "dbname";
	values[4] = conninfo;
	keywords[5] = NULL;
	values[5] = NULL;
}

/* The server's last error as one line. */
static void
pgsql_err(char *err, size_t errlen, const char *what, PGconn *conn)
{
	char	*nl;

	(void)snprintf(err, errlen, "%s: %s", what, conn != NULL ?
	    PQerrorMessage(conn) : "out of memory");
	while ((nl = strchr(err, '\n')) != NULL)
		*nl = nl[1] == '\0' ? '\0' : ' ';
}

/* Run a statement with up to three text parameters; its result. */
static PGresult *
pgsql_exec(struct policy_db_backend *db, const char *query, int n,
    const char *a, const char *b, const char *c)
{
	const char	*params[3] = { a, b, c };

	return PQexecParams(db->conn, query, n, NULL, params, NULL, NULL, 0);
}

/* Run a statement that returns no rows: 0 or -1 (err filled). */
static int
pgsql_command(struct policy_db_backend *db, const char *query, int n,
    const char *a, const char *b, const char *c, const char *what,
    char *err, size_t errlen)
{
	PGresult	*res;
	int		 ok;

	res = pgsql_exec(db, query, n, a, b, c);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	if (!ok)
		pgsql_err(err, errlen, what, db->conn);
	return ok ? 0 : -1;
}

/* After a change: wait for our own NOTIFY (see above). */
static void
pgsql_await_notify(struct policy_db_backend *db)
{
	struct timespec	 start, now;
	struct pollfd	 pfd;
	PGnotify	*n;
	long		 left;
	int		 got = 0;

	(void)clock_gettime(CLOCK_MONOTONIC, &start);
	pfd.fd = PQsocket(db->conn);
	pfd.events = POLLIN;
	for (;;) {
		if (!PQconsumeInput(db->conn))
			return;
		while ((n = PQnotifies(db->conn)) != NULL) {
			got = 1;
			PQfreemem(n);
		}
		(void)clock_gettime(CLOCK_MONOTONIC, &now);
		left = PGSQL_NOTIFY_WAIT_MS - ((now.tv_sec - start.tv_sec) *
		    1000 + (now.tv_nsec - start.tv_nsec) / 1000000);
		if (got || left <= 0 || pfd.fd == -1 ||
		    poll(&pfd, 1, (int)left) <= 0)
			return;
	}
}

/* The schema version: 0 when there is none, -1 on an error. */
static int
pgsql_version(struct policy_db_backend *db, int *missing)
{
	PGresult	*res;
	int		 v = -1;

	*missing = 0;
	res = PQexec(db->conn, POLICY_PG_VERSION);
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		v = PQntuples(res) == 1 ? atoi(PQgetvalue(res, 0, 0)) : 0;
	else if (strcmp(PQresultErrorField(res, PG_DIAG_SQLSTATE) != NULL ?
	    PQresultErrorField(res, PG_DIAG_SQLSTATE) : "", "42P01") == 0) {
		/* undefined_table: nobody made the schema yet */
		*missing = 1;
		v = 0;
	}
	PQclear(res);
	return v;
}

static int
pgsql_schema_check(struct policy_db_backend *db, int readwrite, char *err,
    size_t errlen)
{
	PGresult	*res;
	int		 v, missing, ok;

	if ((v = pgsql_version(db, &missing)) == -1) {
		pgsql_err(err, errlen, "schema version", db->conn);
		return -1;
	}
	if (v > POLICY_DB_VERSION) {
		(void)snprintf(err, errlen, "schema version %d is newer than "
		    "this program's (%d)", v, POLICY_DB_VERSION);
		return -1;
	}
	if (v == POLICY_DB_VERSION)
		return 0;
	if (!readwrite && missing) {
		db->empty = 1;
		return 0;
	}
	if (!readwrite) {
		(void)snprintf(err, errlen, "an empty policy_schema table");
		return -1;
	}
	res = PQexec(db->conn, pgsql_schema);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	if (!ok) {
		pgsql_err(err, errlen, "schema", db->conn);
		res = PQexec(db->conn, "ROLLBACK");
		PQclear(res);
		return -1;
	}
	return 0;
}

static void
pgsql_close(struct policy_db_backend *db)
{
	if (db == NULL)
		return;
	PQfinish(db->conn);
	free(db);
}

static int
pgsql_open(const char *conninfo, int readwrite,
    struct policy_db_backend **dbp, char *err, size_t errlen)
{
	struct policy_db_backend	*db;
	const char			*kw[POLICY_PG_PARAMS];
	const char			*val[POLICY_PG_PARAMS];

	*dbp = NULL;
	if ((db = calloc(1, sizeof(*db))) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return -1;
	}
	policy_pgsql_params(conninfo, kw, val);
	db->conn = PQconnectdbParams(kw, val, 1);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		pgsql_err(err, errlen, "postgresql", db->conn);
		pgsql_close(db);
		return -1;
	}
	if (pgsql_schema_check(db, readwrite, err, errlen) == -1) {
		pgsql_close(db);
		return -1;
	}
	if (readwrite && pgsql_command(db, "LISTEN \"" POLICY_PG_CHANNEL
	    "\"", 0, NULL, NULL, NULL, "listen", err, errlen) == -1) {
		pgsql_close(db);
		return -1;
	}
	*dbp = db;
	return 0;
}

/* Every lookup asks the server: nothing to bring up to date. */
static void
pgsql_refresh(struct policy_db_backend *db)
{
	(void)db;
}

static int
pgsql_lookup(struct policy_db_backend *db, const char *map, const char *lkey,
    char *value, size_t valuelen)
{
	PGresult	*res;
	int		 ret;

	if (db->empty)
		return POLICY_DB_NOTFOUND;
	res = pgsql_exec(db, POLICY_PG_LOOKUP, 2, map, lkey, NULL);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		ret = POLICY_DB_TMPF;
	else if (PQntuples(res) == 0)
		ret = POLICY_DB_NOTFOUND;
	else if (value != NULL && strlcpy(value, PQgetvalue(res, 0, 0),
	    valuelen) >= valuelen)
		ret = POLICY_DB_TMPF;	/* never cut a value silently */
	else
		ret = POLICY_DB_FOUND;
	PQclear(res);
	return ret;
}

static int
pgsql_set(struct policy_db_backend *db, const char *map, const char *lkey,
    const char *value, char *err, size_t errlen)
{
	if (pgsql_command(db, "INSERT INTO maps (map, key, value) "
	    "VALUES ($1, $2, $3) ON CONFLICT (map, key) DO UPDATE "
	    "SET value = EXCLUDED.value", 3, map, lkey, value, "set", err,
	    errlen) == -1)
		return -1;
	pgsql_await_notify(db);
	return 0;
}

static int
pgsql_delete(struct policy_db_backend *db, const char *map, const char *lkey,
    char *err, size_t errlen)
{
	PGresult	*res;
	int		 ret;

	res = pgsql_exec(db, "DELETE FROM maps WHERE map = $1 AND key = $2",
	    2, map, lkey, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		pgsql_err(err, errlen, "delete", db->conn);
		ret = POLICY_DB_TMPF;
	} else
		ret = strcmp(PQcmdTuples(res), "0") != 0 ? POLICY_DB_FOUND :
		    POLICY_DB_NOTFOUND;
	PQclear(res);
	/* inside makemap's transaction the commit is what notifies */
	if (ret == POLICY_DB_FOUND &&
	    PQtransactionStatus(db->conn) == PQTRANS_IDLE)
		pgsql_await_notify(db);
	return ret;
}

static int
pgsql_list(struct policy_db_backend *db, const char *map,
    policy_db_list_cb cb, void *arg, char *err, size_t errlen)
{
	PGresult	*res;
	int		 i, n;

	if (db->empty)
		return 0;
	res = pgsql_exec(db, "SELECT key, value FROM maps WHERE map = $1 "
	    "ORDER BY key COLLATE \"C\"", 1, map, NULL, NULL);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pgsql_err(err, errlen, "list", db->conn);
		PQclear(res);
		return -1;
	}
	n = PQntuples(res);
	for (i = 0; i < n; i++)
		cb(PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), arg);
	PQclear(res);
	return 0;
}

static void
pgsql_rollback(struct policy_db_backend *db)
{
	PGresult	*res;

	if (PQtransactionStatus(db->conn) == PQTRANS_IDLE)
		return;
	res = PQexec(db->conn, "ROLLBACK");
	PQclear(res);
}

/* Start replacing map: a transaction that first empties it.  Readers
 * see the old entries until the commit. */
static int
pgsql_begin(struct policy_db_backend *db, const char *map, char *err,
    size_t errlen)
{
	if (pgsql_command(db, "BEGIN", 0, NULL, NULL, NULL, "begin", err,
	    errlen) == -1)
		return -1;
	if (pgsql_command(db, "DELETE FROM maps WHERE map = $1", 1, map, NULL,
	    NULL, "empty map", err, errlen) == -1) {
		pgsql_rollback(db);
		return -1;
	}
	return 0;
}

/* A duplicate must not abort the transaction (an aliases file may name
 * one twice): it inserts nothing, and that is how it is told. */
static int
pgsql_insert(struct policy_db_backend *db, const char *map, const char *lkey,
    const char *value)
{
	PGresult	*res;
	const char	*params[3] = { map, lkey, value };
	int		 ret;

	if (!db->prepared) {
		res = PQprepare(db->conn, "put", "INSERT INTO maps (map, key, "
		    "value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", 3,
		    NULL);
		db->prepared = PQresultStatus(res) == PGRES_COMMAND_OK;
		PQclear(res);
		if (!db->prepared)
			return POLICY_DB_INSERT_ERROR;
	}
	res = PQexecPrepared(db->conn, "put", 3, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		ret = POLICY_DB_INSERT_ERROR;
	else
		ret = strcmp(PQcmdTuples(res), "0") == 0 ?
		    POLICY_DB_INSERT_DUPLICATE : POLICY_DB_INSERT_OK;
	PQclear(res);
	return ret;
}

/* Record where the map came from and commit the replacement. */
static int
pgsql_commit(struct policy_db_backend *db, const char *map,
    const char *source, long entries, char *err, size_t errlen)
{
	char	 n[32];

	(void)snprintf(n, sizeof(n), "%ld", entries);
	if (pgsql_command(db, "INSERT INTO map_source (map, source, entries, "
	    "updated) VALUES ($1, $2, $3::bigint, "
	    "extract(epoch FROM now())::bigint) ON CONFLICT (map) DO UPDATE "
	    "SET source = EXCLUDED.source, entries = EXCLUDED.entries, "
	    "updated = EXCLUDED.updated", 3, map, source, n, "commit", err,
	    errlen) == -1 || pgsql_command(db, "COMMIT", 0, NULL, NULL, NULL,
	    "commit", err, errlen) == -1) {
		pgsql_rollback(db);
		return -1;
	}
	pgsql_await_notify(db);
	return 0;
}

const struct policy_db_ops policy_db_pgsql_ops = {
	.open = pgsql_open,
	.close = pgsql_close,
	.refresh = pgsql_refresh,
	.lookup = pgsql_lookup,
	.set = pgsql_set,
	.delete = pgsql_delete,
	.list = pgsql_list,
	.begin = pgsql_begin,
	.insert = pgsql_insert,
	.commit = pgsql_commit,
	.rollback = pgsql_rollback,
};
