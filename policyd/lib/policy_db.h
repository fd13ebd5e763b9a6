/*
 * policy_db.h: the database of policy maps (access, mailertable,
 * authinfo, virtusertable, aliases, local-host-names, relay-domains,
 * virtual-domains, local-users) and makemap, its text importer.
 *
 * One table holds every map: maps(map, key, value), keys lowercased.  A
 * "set" map (local-host-names, relay-domains) stores keys with an empty
 * value.  An aliases value may be up to POLICY_ALIAS_VALUE_MAX octets,
 * every other one up to POLICY_VALUE_MAX.  The store is SQLite (a file;
 * the schema version is PRAGMA user_version, POLICY_DB_VERSION) or, after
 * policy_db_select() with a conninfo, PostgreSQL (the same two tables in
 * the connection's schema, the version in policy_schema, and a trigger
 * that NOTIFYs POLICY_PG_CHANNEL on every change of maps).
 * These functions are shared by smtpd-policyd (read-only lookups) and
 * smtpctl (makemap, access add/delete/show), so they never call fatal()
 * and report every failure through a return value and an error text.
 */
#ifndef POLICY_DB_H
#define POLICY_DB_H

#include <stddef.h>

/* the schema this code reads and writes */
#define POLICY_DB_VERSION	1
/* the longest key and the longest value, in octets */
#define POLICY_KEY_MAX		1024
#define POLICY_VALUE_MAX	1024
/* ... but for one stored aliases list, which may be long */
#define POLICY_ALIAS_VALUE_MAX	65536

/* the longest conninfo string of `database postgresql` */
#define POLICY_CONNINFO_MAX	1024
/* libpq's default passfile, in the directory of `database PATH` */
#define POLICY_PG_PASSFILE	"pgpass"
/* what every change of the PostgreSQL maps NOTIFYs (a trigger) */
#define POLICY_PG_CHANNEL	"smtpd_maps"
/* policyd's lookup, prepared once per connection: $1 map, $2 key */
#define POLICY_PG_LOOKUP	"SELECT value FROM maps WHERE map = $1 " \
				"AND key = $2"
/* one row, the schema version, if the maps are there */
#define POLICY_PG_VERSION	"SELECT version FROM policy_schema"

/* Results of policy_db_insert(). */
enum policy_db_insert_result {
	POLICY_DB_INSERT_ERROR = -1,
	POLICY_DB_INSERT_OK = 0,
	POLICY_DB_INSERT_DUPLICATE = 1
};

/* Results of policy_db_lookup() and policy_db_delete(). */
enum policy_db_result {
	POLICY_DB_TMPF = -1,	/* any database error: spec 0 "TMPF" */
	POLICY_DB_NOTFOUND = 0,
	POLICY_DB_FOUND = 1
};

/* What kind of map a name is. */
enum policy_map_kind {
	POLICY_MAP_UNKNOWN = 0,
	POLICY_MAP_PAIRS,	/* "key value" lines */
	POLICY_MAP_SET,		/* one key per line, no value */
	POLICY_MAP_ALIASES	/* "name: items", aliases(5), long values */
};

struct policy_db;

typedef void	(*policy_db_list_cb)(const char *key, const char *value,
		    void *arg);

/* The kind of a map name; POLICY_MAP_UNKNOWN if it is not one we know. */
enum policy_map_kind	 policy_map_kind(const char *map);
/* "access, mailertable, ..." for error messages. */
const char		*policy_map_names(void);

/*
 * Choose the store, at config load: conninfo NULL or "" for SQLite (the
 * path given to policy_db_open()), else a libpq conninfo string, and
 * policy_db_open() ignores its path.  dbpath is `database PATH`, whose
 * directory holds the default passfile (chrooted: policyd, whose root
 * that directory is).  policy_db_remote(): 1 for PostgreSQL.
 */
void	policy_db_select(const char *conninfo, const char *dbpath,
	    int chrooted);
int	policy_db_remote(void);
/* The default passfile's path, as this process reaches it. */
const char *policy_db_pgpass(void);
/* libpq's connection keywords and values for conninfo (arrays of
 * POLICY_PG_PARAMS, NULL ended): our defaults first, then conninfo,
 * which may override them. */
#define POLICY_PG_PARAMS	6
void	policy_pgsql_params(const char *conninfo, const char **keywords,
	    const char **values);
/*
 * Open the database.  readwrite creates the file (mode 0640) and the
 * schema if needed; read-only refuses a store without our schema.
 * 0 on success, -1 with err filled.
 */
int	policy_db_open(const char *path, int readwrite, struct policy_db **,
	    char *err, size_t errlen);
void	policy_db_close(struct policy_db *);
/*
 * One exact lookup of key (lowercased here) in map.  value may be NULL.
 * POLICY_DB_FOUND, POLICY_DB_NOTFOUND or POLICY_DB_TMPF.
 */
/* Before each query of a read-only handle: forget which maps are empty
 * if another connection changed the database. */
void	policy_db_refresh(struct policy_db *);
int	policy_db_lookup(struct policy_db *, const char *map, const char *key,
	    char *value, size_t valuelen);
/* The key a lookup of key in map probes, into lkey: 0, or -1 if no
 * stored key can match it. */
int	policy_db_lookup_key(const char *map, const char *key, char *lkey,
	    size_t lkeylen);
/* Add or replace one entry (validated as makemap would): 0 or -1. */
int	policy_db_set(struct policy_db *, const char *map, const char *key,
	    const char *value, char *err, size_t errlen);
/* Remove one entry: FOUND (removed), NOTFOUND or TMPF. */
int	policy_db_delete(struct policy_db *, const char *map, const char *key,
	    char *err, size_t errlen);
/* Call cb for every entry of map, in key order: 0 or -1. */
int	policy_db_list(struct policy_db *, const char *map, policy_db_list_cb,
	    void *arg, char *err, size_t errlen);
/* chown root:_smtppol (when root and the group exists), chmod 0640. */
int	policy_db_perms(const char *path, char *err, size_t errlen);

/*
 * The steps of makemap's transaction: begin (and empty the map), insert
 * each entry (enum policy_db_insert_result),
 * commit (recording the source file), or roll back.
 */
int	policy_db_begin(struct policy_db *, const char *map, char *err,
	    size_t errlen);
int	policy_db_insert(struct policy_db *, const char *map, const char *key,
	    const char *value);
int	policy_db_commit(struct policy_db *, const char *map,
	    const char *source, long entries, char *err, size_t errlen);
void	policy_db_rollback(struct policy_db *);

/*
 * Replace the whole of map with the entries of a sendmail text file
 * ("-" is stdin), in one transaction: on any error (named file:line) the
 * database is left as it was.  0 on success, -1 with err filled.
 */
int	policy_makemap(const char *dbpath, const char *map, const char *file,
	    char *err, size_t errlen);

/* Why policy_makemap_run() failed. */
enum policy_makemap_failure {
	POLICY_MAKEMAP_OK = 0,
	POLICY_MAKEMAP_USAGE,	/* an unknown map */
	POLICY_MAKEMAP_INPUT,	/* the file cannot be opened or read */
	POLICY_MAKEMAP_DATA,	/* a line of it is refused */
	POLICY_MAKEMAP_DB	/* the database cannot be written */
};

/* What policy_makemap_run() reports beyond its result. */
struct policy_makemap_report {
	long		 entries;	/* entries read (a duplicate alias
					 * counts each time it is read) */
	size_t		 longest;	/* the longest value, octets */
	size_t		 total;		/* the keys and values, octets */
	enum policy_makemap_failure failure;
	/* a warning ("file:line: ..."): a duplicate alias, the last of
	 * which is kept; NULL: not told */
	void		(*warn)(void *arg, const char *msg);
	/* each entry as stored; NULL: not told */
	void		(*entry)(void *arg, const char *key, const char *value);
	void		*arg;
};

/* policy_makemap() with a report (report may be NULL). */
int	policy_makemap_run(const char *dbpath, const char *map,
	    const char *file, struct policy_makemap_report *, char *err,
	    size_t errlen);
/*
 * A lowercased key as the lookups form it: the domain in it (after the
 * last '@', else after a "Tag:", past a leading '.') with U-labels as
 * A-labels, so "b\xc3\xbccher.example" and "xn--bcher-kva.example" are
 * one key.  0, or -1 if that domain has no valid A-label form.
 */
int	policy_makemap_key(const char *key, char *out, size_t outsize);
/*
 * Check one line of a map file.  Returns 1 with *key (lowercased) and
 * *value set (pointers into line, which is modified), 0 for a blank or
 * comment line, -1 with *why set for a bad line.
 */
int	policy_makemap_line(char *line, size_t len, enum policy_map_kind,
	    char **key, char **value, const char **why);
/*
 * Check one entry of an aliases file ("name: items", continuation lines
 * joined): the name as stored into key (unquoted, lowercased), the items
 * in their stored form into value.  0, or -1 with *why set.
 */
int	policy_makemap_alias(const char *entry, char *key, size_t keylen,
	    char *value, size_t valuelen, const char **why);

#endif
