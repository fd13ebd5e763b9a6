/*
 * smtpctl_explain_sts.c: the MTA-STS part of "explain tls-srv DOMAIN":
 * the policy the outbound client keeps for the domain (policyd's
 * DBDIR/mta-sts/policies.db, read only), whether its max_age is over,
 * and for each MX host whether the policy names it.  DANE wins where it
 * applies (RFC 8461 2): the DANE lines above say where.
 *
 * The policy is parsed again with common/mtasts.c, as the mta does when
 * it reads it back.  Failure behaviour: a missing or unreadable database,
 * or a row that does not parse, is said and is no error.
 */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "config.h"
#include "mtasts.h"
#include "paths.h"
#include "smtpctl.h"

/* The kept row of domain: 1 with pol, id and fetched, 0 if none. */
static int
explain_sts_row(const struct config *cf, const char *domain,
    struct mtasts_policy *pol, char *id, size_t idsize, long long *fetched)
{
	char		 path[PATH_MAX], dir[PATH_MAX];
	const char	*why;
	sqlite3		*db = NULL;
	sqlite3_stmt	*st = NULL;
	int		 found = 0;

	(void)strlcpy(dir, cf->database_path, sizeof(dir));
	if (snprintf(path, sizeof(path), "%s/%s/%s", dirname(dir),
	    PATH_STS_DIR, PATH_STS_DB) >= (int)sizeof(path) ||
	    sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT id, fetched, policy FROM sts "
	    "WHERE domain = ?", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC) != SQLITE_OK) {
		(void)printf("MTA-STS: no policy kept (%s)\n", db != NULL ?
		    sqlite3_errmsg(db) : "out of memory");
		goto done;
	}
	if (sqlite3_step(st) != SQLITE_ROW) {
		(void)printf("MTA-STS: no policy kept for %s (the mta fetches "
		    "it at its first delivery there)\n", domain);
		goto done;
	}
	(void)snprintf(id, idsize, "%s", sqlite3_column_text(st, 0) != NULL ?
	    (const char *)sqlite3_column_text(st, 0) : "");
	*fetched = sqlite3_column_int64(st, 1);
	if (sqlite3_column_bytes(st, 2) <= 0 ||
	    mtasts_policy_parse(sqlite3_column_blob(st, 2),
	    (size_t)sqlite3_column_bytes(st, 2), pol, &why) == -1) {
		(void)printf("MTA-STS: the policy kept for %s does not parse\n",
		    domain);
		goto done;
	}
	found = 1;
done:
	(void)sqlite3_finalize(st);
	(void)sqlite3_close(db);
	return found;
}

void
smtpctl_explain_sts(const struct config *cf, const char *domain,
    char mx[][CONF_HOST_MAX], size_t n)
{
	struct mtasts_policy	 pol;
	char			 id[64];
	long long		 fetched = 0, left;
	size_t			 i;

	(void)printf("mta mta-sts %s\n", cf->mta_sts ? "yes" :
	    "no: MTA-STS is not used; shown as it would be");
	if (!explain_sts_row(cf, domain, &pol, id, sizeof(id), &fetched))
		return;
	left = fetched + (long long)pol.max_age - (long long)time(NULL);
	(void)printf("MTA-STS: policy of %s, id %s, mode %s, max_age %u, %s\n",
	    domain, id, mtasts_mode_name(pol.mode), pol.max_age, left > 0 ?
	    "in force" : "expired (fetched again before use)");
	for (i = 0; i < pol.nmx; i++)
		(void)printf("  mx: %s\n", pol.mx[i]);
	for (i = 0; i < n; i++)
		(void)printf("%s: MTA-STS: %s\n", mx[i],
		    pol.mode == MTASTS_MODE_NONE ? "mode none, no check" :
		    !mtasts_mx_match(&pol, mx[i]) ?
		    (pol.mode == MTASTS_MODE_ENFORCE ? "not named by the "
		    "policy: not used (unless DANE applies)" : "not named by "
		    "the policy: logged (testing)") : pol.mode ==
		    MTASTS_MODE_ENFORCE ? "named: TLS verified for this name "
		    "required (unless DANE applies)" : "named: TLS checked "
		    "and logged (testing)");
}
