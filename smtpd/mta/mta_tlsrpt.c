/*
 * mta_tlsrpt.c: TLS-RPT (RFC 8460) records of the outbound client, and
 * the JSON report of one day that "smtpctl tlsrpt" prints.
 *
 * Interface in mta_sts.h.  A record is one policy domain on one UTC day:
 * the policy in force when it was first counted (policy-string as the
 * domain published it, in our canonical order), the sessions that met
 * it, and up to MTA_TLSRPT_DETAILS distinct failures (result-type, MX,
 * address or reason) with their counts; past that, failures are counted
 * in the summary only.  At most MTA_TLSRPT_MAX records are kept, the
 * oldest day going first.  The records live in this process, like the
 * policy cache (mta_sts.c): a restart of the mta starts them again.
 *
 * Failure behaviour: nothing is ever refused; what does not fit is
 * dropped from the details and still counted.
 */
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "mtasts.h"
#include "proc.h"
#include "util.h"
#include "mta_core.h"
#include "mta_sts.h"

#define MTA_TLSRPT_MAX		1024	/* domain-days */
#define MTA_TLSRPT_DETAILS	16	/* distinct failures per record */
#define MTA_TLSRPT_LINE		512

struct mta_tlsrpt_detail {
	char			 type[32];
	char			 mx[CONF_HOST_MAX];
	char			 detail[128];
	uint64_t		 count;
};

struct mta_tlsrpt_rec {
	TAILQ_ENTRY(mta_tlsrpt_rec) entry;
	char			 day[11];	/* YYYY-MM-DD, UTC */
	char			 domain[CONF_HOST_MAX];
	int			 has_policy;
	enum mtasts_mode	 mode;
	uint32_t		 max_age;
	char			 mx[MTASTS_MX_MAX][MTASTS_HOST_MAX];
	size_t			 nmx;
	uint64_t		 success;
	uint64_t		 failure;
	struct mta_tlsrpt_detail details[MTA_TLSRPT_DETAILS];
	size_t			 ndetails;
};

static TAILQ_HEAD(, mta_tlsrpt_rec) mta_tlsrpt_recs =
    TAILQ_HEAD_INITIALIZER(mta_tlsrpt_recs);
static size_t			 mta_tlsrpt_n;

static void
mta_tlsrpt_today(char *day, size_t size)
{
	time_t		 now = time(NULL);
	struct tm	 tm;

	(void)gmtime_r(&now, &tm);
	(void)strftime(day, size, "%Y-%m-%d", &tm);
}

/* The record of domain today, made if needed. */
static struct mta_tlsrpt_rec *
mta_tlsrpt_get(const char *domain, const struct mtasts_policy *pol)
{
	struct mta_tlsrpt_rec	*r;
	char			 day[11];

	mta_tlsrpt_today(day, sizeof(day));
	TAILQ_FOREACH(r, &mta_tlsrpt_recs, entry)
		if (strcmp(r->day, day) == 0 &&
		    strcasecmp(r->domain, domain) == 0)
			break;
	if (r == NULL) {
		if (mta_tlsrpt_n >= MTA_TLSRPT_MAX) {
			r = TAILQ_FIRST(&mta_tlsrpt_recs);
			TAILQ_REMOVE(&mta_tlsrpt_recs, r, entry);
			memset(r, 0, sizeof(*r));
		} else {
			r = xcalloc(1, sizeof(*r));
			mta_tlsrpt_n++;
		}
		(void)strlcpy(r->day, day, sizeof(r->day));
		(void)strlcpy(r->domain, domain, sizeof(r->domain));
		TAILQ_INSERT_TAIL(&mta_tlsrpt_recs, r, entry);
	}
	if (pol != NULL && !r->has_policy) {
		r->has_policy = 1;
		r->mode = pol->mode;
		r->max_age = pol->max_age;
		r->nmx = pol->nmx;
		memcpy(r->mx, pol->mx, sizeof(r->mx));
	}
	return r;
}

void
mta_tlsrpt_success(const char *domain, const struct mtasts_policy *pol)
{
	mta_tlsrpt_get(domain, pol)->success++;
}

void
mta_tlsrpt_failure(const char *domain, const struct mtasts_policy *pol,
    const char *type, const char *mx, const char *detail)
{
	struct mta_tlsrpt_rec		*r = mta_tlsrpt_get(domain, pol);
	struct mta_tlsrpt_detail	*d;
	size_t				 i;

	stats_add("mta.sts.failure", 1);
	r->failure++;
	if (mx == NULL)
		mx = "";
	if (detail == NULL)
		detail = "";
	for (i = 0; i < r->ndetails; i++) {
		d = &r->details[i];
		if (strcmp(d->type, type) == 0 && strcmp(d->mx, mx) == 0 &&
		    strncmp(d->detail, detail, sizeof(d->detail) - 1) == 0) {
			d->count++;
			return;
		}
	}
	if (r->ndetails == MTA_TLSRPT_DETAILS)
		return;
	d = &r->details[r->ndetails++];
	(void)strlcpy(d->type, type, sizeof(d->type));
	(void)strlcpy(d->mx, mx, sizeof(d->mx));
	(void)strlcpy(d->detail, detail, sizeof(d->detail));
	d->count = 1;
}

/* s as the inside of a JSON string: quotes, backslashes and controls
 * escaped, anything else as it is (names are ASCII). */
static void
mta_tlsrpt_json(char *out, size_t size, const char *s)
{
	size_t	 n = 0;

	for (; *s != '\0' && n + 7 < size; s++) {
		if (*s == '"' || *s == '\\') {
			out[n++] = '\\';
			out[n++] = *s;
		} else if ((unsigned char)*s < 0x20 || *s == 0x7f)
			n += (size_t)snprintf(out + n, size - n, "\\u%04x",
			    (unsigned char)*s);
		else
			out[n++] = *s;
	}
	out[n] = '\0';
}

static void
mta_tlsrpt_policy(uint32_t ctlid, const struct mta_tlsrpt_rec *r)
{
	char	 j[MTA_TLSRPT_LINE];
	size_t	 i;

	mta_tlsrpt_json(j, sizeof(j), r->domain);
	proc_ctl_line(ctlid, "      \"policy\": {");
	if (!r->has_policy) {
		proc_ctl_line(ctlid, "        \"policy-type\": "
		    "\"no-policy-found\",");
		proc_ctl_line(ctlid, "        \"policy-domain\": \"%s\"", j);
		proc_ctl_line(ctlid, "      },");
		return;
	}
	proc_ctl_line(ctlid, "        \"policy-type\": \"sts\",");
	proc_ctl_line(ctlid, "        \"policy-string\": [");
	proc_ctl_line(ctlid, "          \"version: STSv1\",");
	proc_ctl_line(ctlid, "          \"mode: %s\",", mtasts_mode_name(
	    r->mode));
	for (i = 0; i < r->nmx; i++) {
		mta_tlsrpt_json(j, sizeof(j), r->mx[i]);
		proc_ctl_line(ctlid, "          \"mx: %s\",", j);
	}
	proc_ctl_line(ctlid, "          \"max_age: %u\"", r->max_age);
	proc_ctl_line(ctlid, "        ],");
	mta_tlsrpt_json(j, sizeof(j), r->domain);
	proc_ctl_line(ctlid, "        \"policy-domain\": \"%s\",", j);
	proc_ctl_line(ctlid, "        \"mx-host\": [");
	for (i = 0; i < r->nmx; i++) {
		mta_tlsrpt_json(j, sizeof(j), r->mx[i]);
		proc_ctl_line(ctlid, "          \"%s\"%s", j,
		    i + 1 < r->nmx ? "," : "");
	}
	proc_ctl_line(ctlid, "        ]");
	proc_ctl_line(ctlid, "      },");
}

static void
mta_tlsrpt_detail(uint32_t ctlid, const struct mta_tlsrpt_detail *d,
    int last)
{
	char	 j[MTA_TLSRPT_LINE];
	int	 fetch = strcmp(d->type, "sts-policy-fetch-error") == 0;

	proc_ctl_line(ctlid, "        {");
	proc_ctl_line(ctlid, "          \"result-type\": \"%s\",", d->type);
	if (d->mx[0] != '\0') {
		mta_tlsrpt_json(j, sizeof(j), d->mx);
		proc_ctl_line(ctlid, "          \"receiving-mx-hostname\": "
		    "\"%s\",", j);
	}
	if (d->detail[0] != '\0') {
		mta_tlsrpt_json(j, sizeof(j), d->detail);
		proc_ctl_line(ctlid, "          \"%s\": \"%s\",", fetch ?
		    "failure-reason-code" : "receiving-ip", j);
	}
	proc_ctl_line(ctlid, "          \"failed-session-count\": %llu",
	    (unsigned long long)d->count);
	proc_ctl_line(ctlid, "        }%s", last ? "" : ",");
}

static void
mta_tlsrpt_record(uint32_t ctlid, const struct mta_tlsrpt_rec *r, int last)
{
	size_t	 i;

	proc_ctl_line(ctlid, "    {");
	mta_tlsrpt_policy(ctlid, r);
	proc_ctl_line(ctlid, "      \"summary\": {");
	proc_ctl_line(ctlid, "        \"total-successful-session-count\": "
	    "%llu,", (unsigned long long)r->success);
	proc_ctl_line(ctlid, "        \"total-failure-session-count\": %llu",
	    (unsigned long long)r->failure);
	proc_ctl_line(ctlid, "      },");
	proc_ctl_line(ctlid, "      \"failure-details\": [");
	for (i = 0; i < r->ndetails; i++)
		mta_tlsrpt_detail(ctlid, &r->details[i], i + 1 == r->ndetails);
	proc_ctl_line(ctlid, "      ]");
	proc_ctl_line(ctlid, "    }%s", last ? "" : ",");
}

/* "" is yesterday (UTC), the day a report is normally sent for. */
static int
mta_tlsrpt_day(const char *arg, char *day, size_t size)
{
	time_t		 t = time(NULL) - 86400;
	struct tm	 tm;

	if (arg[0] == '\0') {
		(void)gmtime_r(&t, &tm);
		(void)strftime(day, size, "%Y-%m-%d", &tm);
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	if (strlen(arg) != 10 || strptime(arg, "%Y-%m-%d", &tm) == NULL)
		return -1;
	(void)strlcpy(day, arg, size);
	return 0;
}

void
mta_sts_report(uint32_t ctlid, const char *arg)
{
	const struct mta_tlsrpt_rec	*r, *lastr = NULL;
	char				 day[11], host[MTA_TLSRPT_LINE];

	if (mta_tlsrpt_day(arg, day, sizeof(day)) == -1) {
		proc_ctl_end(ctlid, 1, "tlsrpt: the day is YYYY-MM-DD");
		return;
	}
	TAILQ_FOREACH(r, &mta_tlsrpt_recs, entry)
		if (strcmp(r->day, day) == 0)
			lastr = r;
	mta_tlsrpt_json(host, sizeof(host), conf->hostname);
	proc_ctl_line(ctlid, "{");
	proc_ctl_line(ctlid, "  \"organization-name\": \"%s\",", host);
	proc_ctl_line(ctlid, "  \"date-range\": {");
	proc_ctl_line(ctlid, "    \"start-datetime\": \"%sT00:00:00Z\",", day);
	proc_ctl_line(ctlid, "    \"end-datetime\": \"%sT23:59:59Z\"", day);
	proc_ctl_line(ctlid, "  },");
	proc_ctl_line(ctlid, "  \"contact-info\": \"postmaster@%s\",", host);
	proc_ctl_line(ctlid, "  \"report-id\": \"%s.%s@%s\",", day, "tlsrpt",
	    host);
	proc_ctl_line(ctlid, "  \"policies\": [");
	TAILQ_FOREACH(r, &mta_tlsrpt_recs, entry)
		if (strcmp(r->day, day) == 0)
			mta_tlsrpt_record(ctlid, r, r == lastr);
	proc_ctl_line(ctlid, "  ]");
	proc_ctl_line(ctlid, "}");
	proc_ctl_end(ctlid, 0, "");
}
