/*
 * test_policy_db.c: makemap into a temporary database: import, lookups
 * that ignore case, whole-map replacement, refused lines (named
 * file:line) leaving the database as it was, set maps, unknown maps,
 * the schema version, file mode, and set/delete/list.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "unit.h"
#include "policy.h"

static char	 tmpdir[] = "/tmp/test_policy_db.XXXXXX";
static char	 dbpath[256], txtpath[256];

static void
write_file(const char *text, size_t len)
{
	FILE	*fp = fopen(txtpath, "w");

	if (fp == NULL || fwrite(text, 1, len, fp) != len || fclose(fp) != 0) {
		perror(txtpath);
		exit(1);
	}
}

/* makemap map from text; returns its result, err in errbuf. */
static int
makemap_text(const char *map, const char *text, char *errbuf, size_t errlen)
{
	write_file(text, strlen(text));
	errbuf[0] = '\0';
	return policy_makemap(dbpath, map, txtpath, errbuf, errlen);
}

/* Look key up in map through a fresh read-only handle. */
static int
lookup(const char *map, const char *key, char *value, size_t len)
{
	struct policy_db	*db;
	char			 err[256];
	int			 r;

	if (policy_db_open(dbpath, 0, &db, err, sizeof(err)) == -1) {
		(void)printf("  open: %s\n", err);
		return -2;
	}
	r = policy_db_lookup(db, map, key, value, len);
	policy_db_close(db);
	return r;
}

static void
test_import(void)
{
	char		 err[256], v[POLICY_VALUE_MAX + 1];
	struct stat	 st;

	UNIT_CHECK(makemap_text("access",
	    "# comment\n\nConnect:192.0.2   REJECT\n"
	    "From:Spammer@Example.COM\tERROR:5.7.1:550 Go # away  \n"
	    "  To:example.net RELAY\n", err, sizeof(err)) == 0,
	    "makemap imports an access file");
	UNIT_CHECK(lookup("access", "connect:192.0.2", v, sizeof(v)) ==
	    POLICY_DB_FOUND && strcmp(v, "REJECT") == 0, "lookup finds a key");
	UNIT_CHECK(lookup("access", "FROM:spammer@example.com", v, sizeof(v)) ==
	    POLICY_DB_FOUND && strcmp(v, "ERROR:5.7.1:550 Go # away") == 0,
	    "keys are case-insensitive; '#' stays in a value; blanks trimmed");
	UNIT_CHECK(lookup("access", "to:example.net", v, sizeof(v)) ==
	    POLICY_DB_FOUND, "leading blanks before a key are skipped");
	UNIT_CHECK(lookup("access", "connect:192.0", v, sizeof(v)) ==
	    POLICY_DB_NOTFOUND, "no prefix matching in the store");
	UNIT_CHECK(lookup("mailertable", "connect:192.0.2", v, sizeof(v)) ==
	    POLICY_DB_NOTFOUND, "maps are separate");
	UNIT_CHECK(stat(dbpath, &st) == 0 && (st.st_mode & 0777) == 0640,
	    "database file mode 0640");
}

static void
test_replace(void)
{
	char	 err[256], v[POLICY_VALUE_MAX + 1];

	UNIT_CHECK(makemap_text("access", "Connect:198.51.100 OK\n", err,
	    sizeof(err)) == 0, "second import");
	UNIT_CHECK(lookup("access", "connect:192.0.2", v, sizeof(v)) ==
	    POLICY_DB_NOTFOUND && lookup("access", "connect:198.51.100", v,
	    sizeof(v)) == POLICY_DB_FOUND, "makemap replaces the whole map");
}

/* A bad file must fail with file:line and leave the old map in place. */
static void
check_refused(const char *text, size_t len, const char *line,
    const char *name)
{
	char	 err[512], want[300], v[POLICY_VALUE_MAX + 1];
	int	 r;

	write_file(text, len);
	r = policy_makemap(dbpath, "access", txtpath, err, sizeof(err));
	(void)snprintf(want, sizeof(want), "%s:%s:", txtpath, line);
	UNIT_CHECK(r == -1 && strncmp(err, want, strlen(want)) == 0 &&
	    lookup("access", "connect:198.51.100", v, sizeof(v)) ==
	    POLICY_DB_FOUND && lookup("access", "good:key", v, sizeof(v)) ==
	    POLICY_DB_NOTFOUND, name);
	if (r != -1 || strncmp(err, want, strlen(want)) != 0)
		(void)printf("  err: %s\n", err);
}

static void
test_refused(void)
{
	char	 big[POLICY_KEY_MAX + 64];

	check_refused("good:key OK\nbad\x01key OK\n", 22, "2",
	    "control character refused, db unchanged");
	check_refused("good:key OK\r\n", 13, "1", "CR refused");
	check_refused("good:key OK\nx OK\0y\n", 19, "2", "NUL refused");
	check_refused("good:key OK\nlonely\n", 19, "2", "key without value");
	check_refused("good:key OK\nGood:Key REJECT\n", 28, "2",
	    "duplicate key (case-insensitive) refused");
	check_refused("good:key OK\n\"q\" OK\n", 19, "2", "quote in key");
	memset(big, 'a', sizeof(big));
	(void)memcpy(big, "good:key OK\n", 12);
	(void)memcpy(big + 12 + POLICY_KEY_MAX + 1, " OK\n", 5);
	check_refused(big, strlen(big), "2", "key over 1024 octets refused");
}

static void
test_sets(void)
{
	char	 err[256];

	UNIT_CHECK(makemap_text("local-host-names",
	    "Example.ORG\n# c\nmail.example.org # ours\n", err,
	    sizeof(err)) == 0, "set map: one name per line, # comments");
	UNIT_CHECK(lookup("local-host-names", "example.org", NULL, 0) ==
	    POLICY_DB_FOUND && lookup("local-host-names", "MAIL.example.org",
	    NULL, 0) == POLICY_DB_FOUND, "set map entries found");
	UNIT_CHECK(makemap_text("local-host-names", "a.example b.example\n",
	    err, sizeof(err)) == -1 && lookup("local-host-names",
	    "example.org", NULL, 0) == POLICY_DB_FOUND,
	    "two names on a line refused");
	UNIT_CHECK(makemap_text("virtusertable", "x y\n", err,
	    sizeof(err)) == -1 && strstr(err, "unknown map") != NULL,
	    "unknown map name refused");
	UNIT_CHECK(policy_makemap(dbpath, "access", "/nonexistent/file", err,
	    sizeof(err)) == -1 && strstr(err, "/nonexistent/file") != NULL,
	    "missing input file named in the error");
}

static void
count_cb(const char *key, const char *value, void *arg)
{
	(*(int *)arg)++;
}

static void
test_edit(void)
{
	struct policy_db	*db;
	char			 err[256], v[64];
	int			 n = 0;

	if (policy_db_open(dbpath, 1, &db, err, sizeof(err)) == -1) {
		UNIT_CHECK(0, err);
		return;
	}
	UNIT_CHECK(policy_db_set(db, "access", "Connect:203.0.113", "REJECT",
	    err, sizeof(err)) == 0 && policy_db_lookup(db, "access",
	    "connect:203.0.113", v, sizeof(v)) == POLICY_DB_FOUND,
	    "policy_db_set adds a lowercased key");
	UNIT_CHECK(policy_db_set(db, "access", "bad key", "OK", err,
	    sizeof(err)) == -1 && policy_db_set(db, "access", "k", "a\r",
	    err, sizeof(err)) == -1, "policy_db_set validates like makemap");
	UNIT_CHECK(policy_db_list(db, "access", count_cb, &n, err,
	    sizeof(err)) == 0 && n == 2, "policy_db_list walks the map");
	UNIT_CHECK(policy_db_delete(db, "access", "CONNECT:203.0.113", err,
	    sizeof(err)) == POLICY_DB_FOUND && policy_db_delete(db, "access",
	    "connect:203.0.113", err, sizeof(err)) == POLICY_DB_NOTFOUND,
	    "policy_db_delete removes once");
	UNIT_CHECK(policy_db_lookup(db, "access", "connect:198.51.100", v, 2) ==
	    POLICY_DB_TMPF, "a value that does not fit is TMPF, never cut");
	policy_db_close(db);
}

static void
test_schema(void)
{
	struct policy_db	*db;
	sqlite3			*sql;
	char			 err[256], other[300];

	(void)snprintf(other, sizeof(other), "%s/other.db", tmpdir);
	if (sqlite3_open(other, &sql) == SQLITE_OK) {
		(void)sqlite3_exec(sql, "CREATE TABLE t(x)", NULL, NULL, NULL);
		(void)sqlite3_close(sql);
	}
	UNIT_CHECK(policy_db_open(other, 1, &db, err, sizeof(err)) == -1,
	    "a foreign SQLite file is not taken over");
	if (sqlite3_open(dbpath, &sql) == SQLITE_OK) {
		(void)sqlite3_exec(sql, "PRAGMA user_version = 99", NULL, NULL,
		    NULL);
		(void)sqlite3_close(sql);
	}
	UNIT_CHECK(policy_db_open(dbpath, 0, &db, err, sizeof(err)) == -1 &&
	    strstr(err, "newer") != NULL, "a newer schema version is refused");
	(void)unlink(other);
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	(void)snprintf(dbpath, sizeof(dbpath), "%s/maps.db", tmpdir);
	(void)snprintf(txtpath, sizeof(txtpath), "%s/access.txt", tmpdir);
	test_import();
	test_replace();
	test_refused();
	test_sets();
	test_edit();
	test_schema();
	(void)unlink(dbpath);
	(void)unlink(txtpath);
	(void)rmdir(tmpdir);
	return unit_done();
}
