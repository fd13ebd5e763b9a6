/*
 * policy_db_backend.h: what a store of the policy maps implements behind
 * policy_db.h.  policy_db.c checks and lowercases every key (and checks
 * every value) before a backend sees it, so both stores hold the same
 * rows: maps(map, key, value) and map_source(map, source, entries,
 * updated).  A backend never calls fatal().
 */
#ifndef POLICY_DB_BACKEND_H
#define POLICY_DB_BACKEND_H

#include <stddef.h>

#include "policy_db.h"

/* a new SQLite file: root and _smtppol only */
#define POLICY_DB_MODE		0640

struct policy_db_backend;

struct policy_db_ops {
	int	(*open)(const char *where, int readwrite,
		    struct policy_db_backend **, char *err, size_t errlen);
	void	(*close)(struct policy_db_backend *);
	void	(*refresh)(struct policy_db_backend *);
	int	(*lookup)(struct policy_db_backend *, const char *map,
		    const char *lkey, char *value, size_t valuelen);
	int	(*set)(struct policy_db_backend *, const char *map,
		    const char *lkey, const char *value, char *err,
		    size_t errlen);
	int	(*delete)(struct policy_db_backend *, const char *map,
		    const char *lkey, char *err, size_t errlen);
	int	(*list)(struct policy_db_backend *, const char *map,
		    policy_db_list_cb, void *arg, char *err, size_t errlen);
	int	(*begin)(struct policy_db_backend *, const char *map,
		    char *err, size_t errlen);
	int	(*insert)(struct policy_db_backend *, const char *map,
		    const char *lkey, const char *value);
	int	(*commit)(struct policy_db_backend *, const char *map,
		    const char *source, long entries, char *err,
		    size_t errlen);
	void	(*rollback)(struct policy_db_backend *);
};

extern const struct policy_db_ops policy_db_sqlite_ops;
extern const struct policy_db_ops policy_db_pgsql_ops;

/* The position of map in the list of maps (0..31), -1 if unknown. */
int	policy_map_index(const char *map);

#endif
