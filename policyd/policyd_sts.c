/*
 * policyd_sts.c: the MTA-STS policies the outbound client fetched, kept
 * for it across its restarts (RFC 8461 5.1: a cached policy protects the
 * next fetch from a downgrade).
 *
 * The database is policyd's own, PATH_STS_DIR/PATH_STS_DB under its
 * chroot (the database directory; the parent makes the directory,
 * owned by _smtppol, 0700): the maps beside it stay read-only, so a
 * policyd that writes cannot change an access or route entry.  One
 * table, sts(domain, id, fetched, policy): the policy as it was served,
 * which the mta parses again when it reads it back, so nothing read from
 * here is trusted more than the network it came from.
 *
 * IMSG_POLICY_STS_GET answers with the row or "not found";
 * IMSG_POLICY_STS_PUT replaces the row.  The database is opened at the
 * first request and again after a failure (logged once per failure).
 *
 * Failure behaviour: a malformed request (strings longer than the mta
 * ever sends included) is a bad peer; a policy of no octet or over 64
 * KiB is not stored; a database error is logged and answered "not
 * found", so the mta fetches as if nothing was kept.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "mtasts.h"
#include "paths.h"
#include "proc.h"
#include "policy.h"
#include "policyd.h"

#define STS_ID_MAX	64	/* the mta sends at most 32 */

static sqlite3	*sts_db;

static const char	*sts_schema =
	"CREATE TABLE IF NOT EXISTS sts ("
	" domain TEXT PRIMARY KEY, id TEXT NOT NULL,"
	" fetched INTEGER NOT NULL, policy BLOB NOT NULL)";

/* The database, opened (and made) if needed; NULL after a logged error. */
sqlite3 *
policyd_sts_db(void)
{
	if (sts_db != NULL)
		return sts_db;
	if (sqlite3_open_v2("/" PATH_STS_DIR "/" PATH_STS_DB, &sts_db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(sts_db, 1000) != SQLITE_OK ||
	    sqlite3_exec(sts_db, sts_schema, NULL, NULL, NULL) != SQLITE_OK) {
		log_warnx("MTA-STS database %s/%s: %s", PATH_STS_DIR,
		    PATH_STS_DB, sts_db != NULL ? sqlite3_errmsg(sts_db) :
		    "out of memory");
		(void)sqlite3_close(sts_db);
		sts_db = NULL;
	}
	return sts_db;
}

/* A statement failed: log it and open afresh next time. */
void
policyd_sts_fail(const char *what)
{
	log_warnx("MTA-STS database: %s: %s", what, sqlite3_errmsg(sts_db));
	(void)sqlite3_close(sts_db);
	sts_db = NULL;
}

static void
policyd_sts_answer(uint32_t id, const char *txtid, uint64_t fetched,
    const void *body, size_t len)
{
	struct imsg_out	 out;

	imsg_out_init(&out, IMSG_POLICY_STS_RESULT, id);
	imsg_put_u32(&out, body != NULL);
	imsg_put_str(&out, body != NULL ? txtid : "");
	imsg_put_u64(&out, body != NULL ? fetched : 0);
	imsg_put_data(&out, body, body != NULL ? len : 0);
	(void)proc_send(PROC_MTA, &out, -1);
}

/* Look domain up and answer query id. */
static void
policyd_sts_lookup(uint32_t id, const char *domain)
{
	sqlite3		*db;
	sqlite3_stmt	*st = NULL;
	const void	*body;
	char		 txtid[STS_ID_MAX];
	int		 r, len;

	if ((db = policyd_sts_db()) == NULL ||
	    sqlite3_prepare_v2(db, "SELECT id, fetched, policy FROM sts "
	    "WHERE domain = ?", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC) != SQLITE_OK) {
		if (db != NULL)
			policyd_sts_fail("lookup");
		(void)sqlite3_finalize(st);
		policyd_sts_answer(id, "", 0, NULL, 0);
		return;
	}
	if ((r = sqlite3_step(st)) == SQLITE_ROW &&
	    (body = sqlite3_column_blob(st, 2)) != NULL &&
	    (len = sqlite3_column_bytes(st, 2)) > 0 &&
	    len <= MTASTS_POLICY_MAX) {
		(void)strlcpy(txtid, (const char *)sqlite3_column_text(st, 0) ?
		    (const char *)sqlite3_column_text(st, 0) : "",
		    sizeof(txtid));
		policyd_sts_answer(id, txtid,
		    (uint64_t)sqlite3_column_int64(st, 1), body, (size_t)len);
	} else
		policyd_sts_answer(id, "", 0, NULL, 0);
	(void)sqlite3_finalize(st);
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		policyd_sts_fail("lookup");
}

void
policyd_sts_get(struct imsgev *iev, struct imsg *m, void *arg)
{
	char	 domain[CONF_HOST_MAX];

	(void)iev;
	(void)arg;
	(void)imsg_get_strbuf(m, domain, sizeof(domain));
	if (imsg_get_end(m) == -1 || m->fd != -1) {
		if (m->fd != -1)
			(void)close(m->fd);
		proc_peer_bad(PROC_MTA, "malformed MTA-STS lookup", m->type);
		return;
	}
	stats_add("policy.sts.get", 1);
	policyd_sts_lookup(m->id, domain);
}

/* Replace the row of domain. */
static void
policyd_sts_store(const char *domain, const char *txtid, uint64_t fetched,
    const void *body, size_t len)
{
	sqlite3		*db;
	sqlite3_stmt	*st = NULL;

	if ((db = policyd_sts_db()) == NULL)
		return;
	if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO sts (domain, id, "
	    "fetched, policy) VALUES (?, ?, ?, ?)", -1, &st, NULL) !=
	    SQLITE_OK ||
	    sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, txtid, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, (sqlite3_int64)fetched) != SQLITE_OK ||
	    sqlite3_bind_blob(st, 4, body, (int)len, SQLITE_STATIC) !=
	    SQLITE_OK || sqlite3_step(st) != SQLITE_DONE) {
		(void)sqlite3_finalize(st);
		policyd_sts_fail("store");
		return;
	}
	(void)sqlite3_finalize(st);
	log_debug("MTA-STS policy of %s stored, id %s", domain, txtid);
}

void
policyd_sts_put(struct imsgev *iev, struct imsg *m, void *arg)
{
	char		 domain[CONF_HOST_MAX], txtid[STS_ID_MAX];
	const void	*body;
	uint64_t	 fetched;
	size_t		 len = 0;

	(void)iev;
	(void)arg;
	(void)imsg_get_strbuf(m, domain, sizeof(domain));
	(void)imsg_get_strbuf(m, txtid, sizeof(txtid));
	fetched = imsg_get_u64(m);
	body = imsg_get_data(m, &len);
	if (imsg_get_end(m) == -1 || m->fd != -1) {
		if (m->fd != -1)
			(void)close(m->fd);
		proc_peer_bad(PROC_MTA, "malformed MTA-STS store", m->type);
		return;
	}
	stats_add("policy.sts.put", 1);
	if (len == 0 || len > MTASTS_POLICY_MAX) {
		log_info("MTA-STS policy of %s not stored: its size is out "
		    "of bounds", domain);
		return;
	}
	policyd_sts_store(domain, txtid, fetched, body, len);
}
