/*
 * policyd_tlsrpt.c: the outbound client's TLS-RPT records (RFC 8460),
 * one row per UTC day and policy domain, kept in the MTA-STS database
 * (policyd_sts.c) so that a restart of the mta loses at most the counts
 * of its last flush.
 *
 * Table tlsrpt(day, domain, record): the record is the mta's own text
 * form, which it parses again when it reads it back (nothing read from
 * here is trusted).  IMSG_POLICY_TLSRPT_PUT replaces a row and drops
 * the rows older than TLSRPT_KEEP_DAYS; IMSG_POLICY_TLSRPT_LOAD answers
 * every row from a day on, then an empty one.
 *
 * Failure behaviour: a malformed request is a bad peer; a record over
 * TLSRPT_RECORD_MAX or a day that is not YYYY-MM-DD is not stored; a
 * database error is logged and the load answers what it has (nothing),
 * so the mta counts on from zero.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "proc.h"
#include "policy.h"
#include "policyd.h"

#define TLSRPT_RECORD_MAX	32768	/* the mta's is at most some 16 KB */
#define TLSRPT_KEEP_DAYS	"-31 days"

static const char	*tlsrpt_schema =
	"CREATE TABLE IF NOT EXISTS tlsrpt ("
	" day TEXT NOT NULL, domain TEXT NOT NULL, record TEXT NOT NULL,"
	" PRIMARY KEY (day, domain))";

static int
policyd_tlsrpt_day_valid(const char *d)
{
	size_t	 i;

	if (strlen(d) != 10 || d[4] != '-' || d[7] != '-')
		return 0;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (d[i] < '0' || d[i] > '9'))
			return 0;
	return 1;
}

/* The database with the table made; NULL after a logged error. */
static sqlite3 *
policyd_tlsrpt_db(void)
{
	sqlite3	*db;

	if ((db = policyd_sts_db()) == NULL)
		return NULL;
	if (sqlite3_exec(db, tlsrpt_schema, NULL, NULL, NULL) != SQLITE_OK) {
		policyd_sts_fail("TLS-RPT table");
		return NULL;
	}
	return db;
}

static int
policyd_tlsrpt_exec(sqlite3 *db, const char *sql, const char *a,
    const char *b, const char *c)
{
	sqlite3_stmt	*st = NULL;
	int		 r;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
	    (a != NULL && sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC) !=
	    SQLITE_OK) ||
	    (b != NULL && sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC) !=
	    SQLITE_OK) ||
	    (c != NULL && sqlite3_bind_text(st, 3, c, -1, SQLITE_STATIC) !=
	    SQLITE_OK)) {
		(void)sqlite3_finalize(st);
		return -1;
	}
	r = sqlite3_step(st);
	(void)sqlite3_finalize(st);
	return r == SQLITE_DONE ? 0 : -1;
}

void
policyd_tlsrpt_put(struct imsgev *iev, struct imsg *m, void *arg)
{
	char		 day[16], domain[CONF_HOST_MAX];
	const char	*record;
	sqlite3		*db;

	(void)iev;
	(void)arg;
	(void)imsg_get_strbuf(m, day, sizeof(day));
	(void)imsg_get_strbuf(m, domain, sizeof(domain));
	record = imsg_get_str(m);
	if (imsg_get_end(m) == -1 || m->fd != -1) {
		if (m->fd != -1)
			(void)close(m->fd);
		proc_peer_bad(PROC_MTA, "malformed TLS-RPT record", m->type);
		return;
	}
	stats_add("policy.tlsrpt.put", 1);
	if (!policyd_tlsrpt_day_valid(day) || domain[0] == '\0' ||
	    strlen(record) > TLSRPT_RECORD_MAX) {
		log_info("TLS-RPT record of %s on %s not stored: out of bounds",
		    domain, day);
		return;
	}
	if ((db = policyd_tlsrpt_db()) == NULL)
		return;
	if (policyd_tlsrpt_exec(db, "INSERT OR REPLACE INTO tlsrpt (day, "
	    "domain, record) VALUES (?, ?, ?)", day, domain, record) == -1 ||
	    policyd_tlsrpt_exec(db, "DELETE FROM tlsrpt WHERE day < "
	    "date('now', '" TLSRPT_KEEP_DAYS "')", NULL, NULL, NULL) == -1)
		policyd_sts_fail("TLS-RPT store");
}

static void
policyd_tlsrpt_send(const char *day, const char *domain, const char *rec)
{
	struct imsg_out	 out;

	imsg_out_init(&out, IMSG_POLICY_TLSRPT_RECORD, 0);
	imsg_put_str(&out, day);
	imsg_put_str(&out, domain);
	imsg_put_str(&out, rec);
	(void)proc_send(PROC_MTA, &out, -1);
}

void
policyd_tlsrpt_load(struct imsgev *iev, struct imsg *m, void *arg)
{
	char		 since[16];
	const char	*day, *domain, *rec;
	sqlite3		*db;
	sqlite3_stmt	*st = NULL;
	int		 r = SQLITE_DONE;

	(void)iev;
	(void)arg;
	(void)imsg_get_strbuf(m, since, sizeof(since));
	if (imsg_get_end(m) == -1 || m->fd != -1 ||
	    !policyd_tlsrpt_day_valid(since)) {
		if (m->fd != -1)
			(void)close(m->fd);
		proc_peer_bad(PROC_MTA, "malformed TLS-RPT load", m->type);
		return;
	}
	if ((db = policyd_tlsrpt_db()) != NULL &&
	    (sqlite3_prepare_v2(db, "SELECT day, domain, record FROM tlsrpt "
	    "WHERE day >= ? ORDER BY day", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, since, -1, SQLITE_STATIC) != SQLITE_OK))
		r = SQLITE_ERROR;
	while (st != NULL && r != SQLITE_ERROR &&
	    (r = sqlite3_step(st)) == SQLITE_ROW) {
		day = (const char *)sqlite3_column_text(st, 0);
		domain = (const char *)sqlite3_column_text(st, 1);
		rec = (const char *)sqlite3_column_text(st, 2);
		if (day != NULL && domain != NULL && rec != NULL &&
		    policyd_tlsrpt_day_valid(day) &&
		    strlen(domain) < CONF_HOST_MAX &&
		    strlen(rec) <= TLSRPT_RECORD_MAX)
			policyd_tlsrpt_send(day, domain, rec);
	}
	(void)sqlite3_finalize(st);
	if (db != NULL && r != SQLITE_DONE)
		policyd_sts_fail("TLS-RPT load");
	policyd_tlsrpt_send("", "", "");
}
