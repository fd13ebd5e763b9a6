/*
 * test_policy_db.c: makemap into a temporary database: import, lookups
 * that ignore case, whole-map replacement, refused lines (named
 * file:line) leaving the database as it was, set maps, unknown maps,
 * the schema version, file mode, and set/delete/list; the aliases(5)
 * format (continuations, comments, quoted names, duplicates, the
 * summary numbers, lists longer than 1024 octets), virtusertable,
 * local-users and virtual-domains files with their entry checks.
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
	UNIT_CHECK(makemap_text("userdb", "x y\n", err,
	    sizeof(err)) == -1 && strstr(err, "unknown map") != NULL,
	    "unknown map name refused");
	UNIT_CHECK(policy_makemap(dbpath, "access", "/nonexistent/file", err,
	    sizeof(err)) == -1 && strstr(err, "/nonexistent/file") != NULL,
	    "missing input file named in the error");
}

static int	warnings;
static char	last_warning[512];

static void
warn_cb(void *arg, const char *msg)
{
	warnings++;
	(void)strlcpy(last_warning, msg, sizeof(last_warning));
}

/* makemap aliases from text with a report; err in errbuf. */
static int
makemap_aliases(const char *text, struct policy_makemap_report *rep,
    char *errbuf, size_t errlen)
{
	write_file(text, strlen(text));
	memset(rep, 0, sizeof(*rep));
	rep->warn = warn_cb;
	warnings = 0;
	errbuf[0] = '\0';
	return policy_makemap_run(dbpath, "aliases", txtpath, rep, errbuf,
	    errlen);
}

/* 1 if alias key holds want. */
static int
alias_is(const char *key, const char *want)
{
	char	 v[POLICY_VALUE_MAX + 1];

	if (lookup("aliases", key, v, sizeof(v)) == POLICY_DB_FOUND &&
	    strcmp(v, want) == 0)
		return 1;
	(void)printf("  aliases %s: want [%s]\n", key, want);
	return 0;
}

static void
test_aliases(void)
{
	struct policy_makemap_report	 rep;
	char				 err[512], want[300];

	UNIT_CHECK(makemap_aliases(
	    "# the aliases\n"
	    "Postmaster: root\n"
	    "root : \\root, admin@example.org\n"
	    "\n"
	    "staff: joe,\n"
	    "  ann , bob@x.example,\n"
	    "# a comment inside an entry\n"
	    "\t\"|/usr/bin/prog -a b\", /var/log/staff,\n"
	    "  :INCLUDE:/etc/mail/staff.list\n"
	    "\"John Smith\": jsmith\n"
	    "joined: one,\\\n"
	    "two\n"
	    "prog: \"|/bin/echo \\\"hi\\\"\"\n", &rep, err, sizeof(err)) == 0,
	    "makemap imports an aliases file");
	UNIT_CHECK(alias_is("postmaster", "root") &&
	    alias_is("root", "\\root, admin@example.org"),
	    "names lowercased, blanks before the colon allowed");
	UNIT_CHECK(alias_is("staff", "joe, ann, bob@x.example, "
	    "\"|/usr/bin/prog -a b\", /var/log/staff, "
	    ":include:/etc/mail/staff.list"),
	    "continuation lines joined, comments skipped, stored form");
	UNIT_CHECK(alias_is("john smith", "jsmith"),
	    "a quoted name is stored unquoted");
	UNIT_CHECK(alias_is("joined", "one, two"),
	    "a trailing backslash joins the next line");
	UNIT_CHECK(alias_is("prog", "\"|/bin/echo \\\"hi\\\"\""),
	    "escaped quotes kept in the stored form");
	UNIT_CHECK(rep.entries == 6 && rep.longest == strlen("joe, ann, "
	    "bob@x.example, \"|/usr/bin/prog -a b\", /var/log/staff, "
	    ":include:/etc/mail/staff.list") && rep.total == 10 + 4 + 4 +
	    24 + 5 + rep.longest + 10 + 6 + 6 + 8 + 4 + 19,
	    "the summary: entries, longest list, octets total");
	UNIT_CHECK(makemap_aliases("a: one\nb: x\nA: two\n", &rep, err,
	    sizeof(err)) == 0 && warnings == 1 && alias_is("a", "two") &&
	    strstr(last_warning, ":3: duplicate alias name a") != NULL &&
	    rep.entries == 3, "a duplicate name warns and the last wins");
	(void)snprintf(want, sizeof(want), "%s:3:", txtpath);
	UNIT_CHECK(makemap_aliases("a: one\n\nb: x,\n  ,y\n", &rep, err,
	    sizeof(err)) == -1 && strncmp(err, want, strlen(want)) == 0 &&
	    strstr(err, "empty item") != NULL && alias_is("a", "two") &&
	    rep.failure == POLICY_MAKEMAP_DATA,
	    "a bad entry names its first line; the map is unchanged");
	UNIT_CHECK(makemap_aliases("a: one,\n  two\n\n  c\n", &rep, err,
	    sizeof(err)) == -1 && strstr(err, ":4: line starts with a blank")
	    != NULL, "a blank line ends the entry: a continuation after it "
	    "is refused");
	UNIT_CHECK(makemap_aliases("a one\n", &rep, err, sizeof(err)) == -1 &&
	    strstr(err, ":1: missing ':'") != NULL &&
	    makemap_aliases("a:\n", &rep, err, sizeof(err)) == -1 &&
	    strstr(err, "without a value") != NULL &&
	    makemap_aliases("a@b.example: c\n", &rep, err, sizeof(err)) ==
	    -1 && strstr(err, "without @domain") != NULL &&
	    makemap_aliases("a: b\r\n", &rep, err, sizeof(err)) == -1 &&
	    strstr(err, "carriage return") != NULL,
	    "no colon, no items, a domain in the name, CR: refused");
}

static void
test_aliases_long(void)
{
	struct policy_makemap_report	 rep;
	struct policy_db		*db;
	char				 err[512], *text, *v;
	size_t				 i, n = 0;

	text = malloc(POLICY_ALIAS_VALUE_MAX * 2);
	v = malloc(POLICY_ALIAS_VALUE_MAX + 1);
	if (text == NULL || v == NULL) {
		UNIT_CHECK(0, "malloc");
		return;
	}
	n = (size_t)snprintf(text, 16, "big: ");
	for (i = 0; i < 2000; i++)
		n += (size_t)snprintf(text + n, 64, "%suser%04zu@example.org",
		    i > 0 ? ",\n  " : "", i);
	(void)snprintf(text + n, 4, "\n");
	UNIT_CHECK(makemap_aliases(text, &rep, err, sizeof(err)) == 0 &&
	    rep.longest > POLICY_VALUE_MAX && lookup("aliases", "big", v,
	    POLICY_ALIAS_VALUE_MAX + 1) == POLICY_DB_FOUND &&
	    strlen(v) == rep.longest && strncmp(v, "user0000@example.org, "
	    "user0001@", 31) == 0, "a list longer than 1024 octets is stored "
	    "and read back");
	UNIT_CHECK(policy_db_open(dbpath, 1, &db, err, sizeof(err)) == 0 &&
	    policy_db_set(db, "aliases", "Big Name", v, err, sizeof(err)) ==
	    0 && policy_db_lookup(db, "aliases", "big name", NULL, 0) ==
	    POLICY_DB_FOUND, "policy_db_set takes a long aliases value and a "
	    "name with a blank");
	policy_db_close(db);
	for (n = 5, i = 0; n < POLICY_ALIAS_VALUE_MAX + 64; i++)
		n += (size_t)snprintf(text + n, 64, ", u%05zu@example.org", i);
	text[5] = ' ';
	(void)snprintf(text + n, 4, "\n");
	UNIT_CHECK(makemap_aliases(text, &rep, err, sizeof(err)) == -1 &&
	    strstr(err, "longer than 65536") != NULL,
	    "a list over 65536 octets is refused");
	free(text);
	free(v);
}

static void
test_local_maps(void)
{
	char	 err[512], v[POLICY_VALUE_MAX + 1];

	UNIT_CHECK(makemap_text("virtusertable",
	    "info@Example.COM\tjoe\n"
	    "sales+*@example.com sales@example.org\n"
	    "sales++@example.com %1-x%3@example.org\n"
	    "+*@example.com %2\n"
	    "++@example.com %1\n"
	    "old@example.com error:nouser 550 No such user here\n"
	    "gone@example.com error:5.1.6:550 User has moved\n"
	    "@example.com %1%3@example.org\n", err, sizeof(err)) == 0,
	    "makemap imports a virtusertable");
	UNIT_CHECK(lookup("virtusertable", "info@example.com", v, sizeof(v)) ==
	    POLICY_DB_FOUND && strcmp(v, "joe") == 0 &&
	    lookup("virtusertable", "@example.com", v, sizeof(v)) ==
	    POLICY_DB_FOUND && strcmp(v, "%1%3@example.org") == 0,
	    "virtusertable keys and values as written");
	UNIT_CHECK(makemap_text("virtusertable", "a@example.com joe\n"
	    "nodomain joe\n", err, sizeof(err)) == -1 &&
	    strstr(err, ":2: a virtusertable key is") != NULL &&
	    lookup("virtusertable", "info@example.com", NULL, 0) ==
	    POLICY_DB_FOUND, "a bad virtusertable line names its line; the "
	    "map is unchanged");
	UNIT_CHECK(makemap_text("virtusertable", "a@example.com %4@x.example\n",
	    err, sizeof(err)) == -1 && strstr(err, "%1, %2 and %3") != NULL,
	    "an unknown %N is refused");
	UNIT_CHECK(makemap_text("local-users", "Joe\nann # admin\n_smtpd\n",
	    err, sizeof(err)) == 0 && lookup("local-users", "joe", NULL, 0) ==
	    POLICY_DB_FOUND && makemap_text("local-users", "joe@example.com\n",
	    err, sizeof(err)) == -1 && strstr(err, "without @domain") != NULL,
	    "local-users: user names only");
	UNIT_CHECK(makemap_text("virtual-domains", "Example.NET\n", err,
	    sizeof(err)) == 0 && lookup("virtual-domains", "example.net", NULL,
	    0) == POLICY_DB_FOUND && makemap_text("virtual-domains",
	    "-bad.example\n", err, sizeof(err)) == -1 &&
	    strstr(err, "not a domain") != NULL,
	    "virtual-domains: domain names only");
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
	test_aliases();
	test_aliases_long();
	test_local_maps();
	test_schema();
	(void)unlink(dbpath);
	(void)unlink(txtpath);
	(void)rmdir(tmpdir);
	return unit_done();
}
