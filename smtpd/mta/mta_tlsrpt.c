/*
 * mta_tlsrpt.c: TLS-RPT (RFC 8460) records of the outbound client, and
 * the JSON report of one day that "smtpctl tlsrpt" prints.
 *
 * Interface in mta_sts.h.  A record is one policy domain on one UTC day:
 * the policy in force when it was first counted (policy-string as the
 * domain published it, in our canonical order; for DANE, a record per
 * MX host with its TLSA records), the sessions that met it, and up to MTA_TLSRPT_DETAILS distinct failures (result-type, MX,
 * address or reason) with their counts; past that, failures are counted
 * in the summary only.  At most MTA_TLSRPT_MAX records are kept, the
 * oldest day going first.
 *
 * The records are kept by policyd too (policyd_tlsrpt.c), in a text
 * form of our own: every MTA_TLSRPT_FLUSH seconds the records that
 * changed are sent (IMSG_POLICY_TLSRPT_PUT), and when the mta starts it
 * asks for yesterday's and today's first (IMSG_POLICY_TLSRPT_LOAD) and
 * adds them to what it counted meanwhile; nothing is sent before that
 * answer, so that a row is never replaced by a partial count.  A restart
 * loses at most the last MTA_TLSRPT_FLUSH seconds.
 *
 * Failure behaviour: nothing is ever refused; what does not fit is
 * dropped from the details and still counted.  A record read back that
 * does not parse is logged and left out.
 */
#include <sys/queue.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "mtasts.h"
#include "proc.h"
#include "util.h"
#include "mta_core.h"
#include "mta_sts.h"

#define MTA_TLSRPT_MAX		1024	/* domain-days */
#define MTA_TLSRPT_DETAILS	16	/* distinct failures per record */
#define MTA_TLSRPT_LINE		512
#define MTA_TLSRPT_FLUSH	5	/* seconds between writes to policyd */
#define MTA_TLSRPT_TEXT_MAX	32768	/* a record's text form */

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
	/* a DANE policy (policy-type tlsa) of one MX host and its TLSA
	 * records, else the domain's MTA-STS policy or none */
	int			 tlsa;
	char			 host[CONF_HOST_MAX];
	struct mta_tlsa		 rr[MTA_TLSA_MAX];
	size_t			 nrr;
	int			 has_policy;
	enum mtasts_mode	 mode;
	uint32_t		 max_age;
	char			 mx[MTASTS_MX_MAX][MTASTS_HOST_MAX];
	size_t			 nmx;
	uint64_t		 success;
	uint64_t		 failure;
	struct mta_tlsrpt_detail details[MTA_TLSRPT_DETAILS];
	size_t			 ndetails;
	int			 dirty;		/* changed since sent */
};

static TAILQ_HEAD(, mta_tlsrpt_rec) mta_tlsrpt_recs =
    TAILQ_HEAD_INITIALIZER(mta_tlsrpt_recs);
static size_t			 mta_tlsrpt_n;
static struct event		*mta_tlsrpt_ev;
/* the load from policyd: asked for, answered in full */
static int			 mta_tlsrpt_asked, mta_tlsrpt_loaded;

static void
mta_tlsrpt_today(char *day, size_t size)
{
	time_t		 now = time(NULL);
	struct tm	 tm;

	(void)gmtime_r(&now, &tm);
	(void)strftime(day, size, "%Y-%m-%d", &tm);
}

/* The record of domain on day (host NULL: its MTA-STS one, else the
 * DANE one of that MX host), made if needed. */
static struct mta_tlsrpt_rec *
mta_tlsrpt_find(const char *day, const char *domain, const char *host)
{
	struct mta_tlsrpt_rec	*r;

	TAILQ_FOREACH(r, &mta_tlsrpt_recs, entry)
		if (strcmp(r->day, day) == 0 &&
		    strcasecmp(r->domain, domain) == 0 &&
		    r->tlsa == (host != NULL) && (host == NULL ||
		    strcasecmp(r->host, host) == 0))
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
		if (host != NULL) {
			r->tlsa = 1;
			(void)strlcpy(r->host, host, sizeof(r->host));
		}
		TAILQ_INSERT_TAIL(&mta_tlsrpt_recs, r, entry);
	}
	r->dirty = 1;
	return r;
}

/* The record of domain today, with pol if it had none. */
static struct mta_tlsrpt_rec *
mta_tlsrpt_get(const char *domain, const struct mtasts_policy *pol)
{
	struct mta_tlsrpt_rec	*r;
	char			 day[11];

	mta_tlsrpt_today(day, sizeof(day));
	r = mta_tlsrpt_find(day, domain, NULL);
	if (pol != NULL && !r->has_policy) {
		r->has_policy = 1;
		r->mode = pol->mode;
		r->max_age = pol->max_age;
		r->nmx = pol->nmx;
		memcpy(r->mx, pol->mx, sizeof(r->mx));
	}
	return r;
}

/* n more failures of a kind in r's details, if there is room.  Tabs and
 * line ends become spaces: the text form is made of them. */
static void
mta_tlsrpt_detail_add(struct mta_tlsrpt_rec *r, const char *type,
    const char *mx, const char *detail, uint64_t n)
{
	struct mta_tlsrpt_detail	*d;
	size_t				 i;

	for (i = 0; i < r->ndetails; i++) {
		d = &r->details[i];
		if (strcmp(d->type, type) == 0 && strcmp(d->mx, mx) == 0 &&
		    strncmp(d->detail, detail, sizeof(d->detail) - 1) == 0) {
			d->count += n;
			return;
		}
	}
	if (r->ndetails == MTA_TLSRPT_DETAILS)
		return;
	d = &r->details[r->ndetails++];
	(void)strlcpy(d->type, type, sizeof(d->type));
	(void)strlcpy(d->mx, mx, sizeof(d->mx));
	(void)strlcpy(d->detail, detail, sizeof(d->detail));
	for (i = 0; d->detail[i] != '\0'; i++)
		if (d->detail[i] == '\t' || d->detail[i] == '\n')
			d->detail[i] = ' ';
	d->count = n;
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

	stats_add("mta.sts.failure", 1);
	r->failure++;
	if (mx == NULL)
		mx = "";
	if (detail == NULL)
		detail = "";
	mta_tlsrpt_detail_add(r, type, mx, detail, 1);
}

/*
 * A DANE outcome for an MX host of domain (RFC 8460 policy-type tlsa):
 * verify TRUSTED met its records d; DANE_FAIL (no record matched the
 * server's chain), DANE_NOTLS (no STARTTLS) and DANE_TEMP (the TLSA
 * lookup failed or was bogus) did not.
 */
void
mta_tlsrpt_dane(const char *domain, const char *host,
    const struct mta_dane *d, const char *verify, const char *ip)
{
	struct mta_tlsrpt_rec	*r;
	const char		*type;
	char			 day[11];

	mta_tlsrpt_today(day, sizeof(day));
	r = mta_tlsrpt_find(day, domain, host);
	if (r->nrr == 0 && d->ntlsa > 0) {
		memcpy(r->rr, d->tlsa, d->ntlsa * sizeof(r->rr[0]));
		r->nrr = d->ntlsa;
		r->has_policy = 1;
	}
	if (strcmp(verify, "TRUSTED") == 0) {
		r->success++;
		return;
	}
	r->failure++;
	if (strcmp(verify, "DANE_NOTLS") == 0)
		type = "starttls-not-supported";
	else if (strcmp(verify, "DANE_TEMP") == 0)
		type = "dnssec-invalid";
	else
		type = "validation-failure";
	mta_tlsrpt_detail_add(r, type, host, ip != NULL ? ip : "", 1);
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

/* A TLSA record in presentation form: "USAGE SELECTOR TYPE HEX". */
static void
mta_tlsrpt_rr(const struct mta_tlsa *t, char *out, size_t size)
{
	size_t	 i, n;

	n = (size_t)snprintf(out, size, "%u %u %u ", t->usage, t->selector,
	    t->mtype);
	for (i = 0; i < t->len && n + 3 <= size; i++)
		n += (size_t)snprintf(out + n, size - n, "%02x", t->data[i]);
}

/* Parse "USAGE SELECTOR TYPE HEX" back into t; -1 if it is not that. */
static int
mta_tlsrpt_rr_parse(const char *line, struct mta_tlsa *t)
{
	unsigned int	 u, sel, mt, x;
	size_t		 len;
	int		 n = 0;

	if (sscanf(line, "%u %u %u %n", &u, &sel, &mt, &n) != 3 || u > 255 ||
	    sel > 255 || mt > 255)
		return -1;
	line += n;
	len = strlen(line);
	if (len % 2 != 0 || len / 2 > MTA_TLSA_DATA_MAX)
		return -1;
	t->usage = (uint8_t)u;
	t->selector = (uint8_t)sel;
	t->mtype = (uint8_t)mt;
	t->len = (uint8_t)(len / 2);
	for (n = 0; (size_t)n < len / 2; n++) {
		if (sscanf(line + 2 * n, "%2x", &x) != 1)
			return -1;
		t->data[n] = (uint8_t)x;
	}
	return 0;
}

static void
mta_tlsrpt_policy_tlsa(uint32_t ctlid, const struct mta_tlsrpt_rec *r)
{
	char	 j[MTA_TLSRPT_LINE];
	size_t	 i;

	proc_ctl_line(ctlid, "        \"policy-type\": \"tlsa\",");
	proc_ctl_line(ctlid, "        \"policy-string\": [");
	for (i = 0; i < r->nrr; i++) {
		mta_tlsrpt_rr(&r->rr[i], j, sizeof(j));
		proc_ctl_line(ctlid, "          \"%s\"%s", j,
		    i + 1 < r->nrr ? "," : "");
	}
	proc_ctl_line(ctlid, "        ],");
	mta_tlsrpt_json(j, sizeof(j), r->domain);
	proc_ctl_line(ctlid, "        \"policy-domain\": \"%s\",", j);
	mta_tlsrpt_json(j, sizeof(j), r->host);
	proc_ctl_line(ctlid, "        \"mx-host\": [");
	proc_ctl_line(ctlid, "          \"%s\"", j);
	proc_ctl_line(ctlid, "        ]");
	proc_ctl_line(ctlid, "      },");
}

static void
mta_tlsrpt_policy(uint32_t ctlid, const struct mta_tlsrpt_rec *r)
{
	char	 j[MTA_TLSRPT_LINE];
	size_t	 i;

	mta_tlsrpt_json(j, sizeof(j), r->domain);
	proc_ctl_line(ctlid, "      \"policy\": {");
	if (r->tlsa) {
		mta_tlsrpt_policy_tlsa(ctlid, r);
		return;
	}
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

/*
 * The text form of r: "v1 HASPOLICY MODE MAXAGE SUCCESS FAILURE NMX
 * NDETAILS", then a line per mx pattern, then one per detail as
 * "TYPE<tab>MX<tab>COUNT<tab>DETAIL"; -1 if it does not fit.
 */
static int
mta_tlsrpt_text(const struct mta_tlsrpt_rec *r, char *out, size_t size)
{
	char	 rr[MTA_TLSRPT_LINE];
	size_t	 n, i;
	int	 w;

	if (r->tlsa)
		w = snprintf(out, size, "t1 %llu %llu %zu %zu\n",
		    (unsigned long long)r->success,
		    (unsigned long long)r->failure, r->nrr, r->ndetails);
	else
		w = snprintf(out, size, "v1 %d %d %u %llu %llu %zu %zu\n",
		    r->has_policy, (int)r->mode, r->max_age,
		    (unsigned long long)r->success,
		    (unsigned long long)r->failure, r->nmx, r->ndetails);
	if (w < 0 || (size_t)w >= size)
		return -1;
	n = (size_t)w;
	for (i = 0; i < r->nmx; i++) {
		w = snprintf(out + n, size - n, "%s\n", r->mx[i]);
		if (w < 0 || (size_t)w >= size - n)
			return -1;
		n += (size_t)w;
	}
	for (i = 0; i < r->nrr; i++) {
		mta_tlsrpt_rr(&r->rr[i], rr, sizeof(rr));
		w = snprintf(out + n, size - n, "%s\n", rr);
		if (w < 0 || (size_t)w >= size - n)
			return -1;
		n += (size_t)w;
	}
	for (i = 0; i < r->ndetails; i++) {
		w = snprintf(out + n, size - n, "%s\t%s\t%llu\t%s\n",
		    r->details[i].type, r->details[i].mx,
		    (unsigned long long)r->details[i].count,
		    r->details[i].detail);
		if (w < 0 || (size_t)w >= size - n)
			return -1;
		n += (size_t)w;
	}
	return 0;
}

/* The next line of *p (cut at its LF) into line; -1 if none. */
static int
mta_tlsrpt_line(const char **p, char *line, size_t size)
{
	const char	*nl = strchr(*p, '\n');
	size_t		 n;

	if (nl == NULL || (n = (size_t)(nl - *p)) >= size)
		return -1;
	(void)memcpy(line, *p, n);
	line[n] = '\0';
	*p = nl + 1;
	return 0;
}

/* One detail line "TYPE<tab>MX<tab>COUNT<tab>DETAIL" into d. */
static int
mta_tlsrpt_detail_parse(char *line, struct mta_tlsrpt_detail *d)
{
	char		*f[4], *c = line;
	const char	*errstr;
	size_t		 i;

	for (i = 0; i < 4; i++) {
		f[i] = c;
		if (i < 3 && (c = strchr(c, '\t')) == NULL)
			return -1;
		if (i < 3)
			*c++ = '\0';
	}
	if (strlcpy(d->type, f[0], sizeof(d->type)) >= sizeof(d->type) ||
	    strlcpy(d->mx, f[1], sizeof(d->mx)) >= sizeof(d->mx) ||
	    strlcpy(d->detail, f[3], sizeof(d->detail)) >= sizeof(d->detail))
		return -1;
	d->count = (uint64_t)strtonum(f[2], 0, LLONG_MAX, &errstr);
	return errstr == NULL && d->type[0] != '\0' ? 0 : -1;
}

/* The details lines after a record's own. */
static int
mta_tlsrpt_parse_details(const char *text, struct mta_tlsrpt_rec *r)
{
	char	 line[MTA_TLSRPT_LINE + CONF_HOST_MAX];
	size_t	 i;

	for (i = 0; i < r->ndetails; i++)
		if (mta_tlsrpt_line(&text, line, sizeof(line)) == -1 ||
		    mta_tlsrpt_detail_parse(line, &r->details[i]) == -1)
			return -1;
	return *text == '\0' ? 0 : -1;
}

/* The text form of a DANE record: "t1 SUCCESS FAILURE NRR NDETAILS",
 * its TLSA records, its details. */
static int
mta_tlsrpt_parse_tlsa(const char *text, struct mta_tlsrpt_rec *r)
{
	char			 line[MTA_TLSRPT_LINE];
	unsigned long long	 ok, failed;
	int			 n = 0;
	size_t			 i;

	if (mta_tlsrpt_line(&text, line, sizeof(line)) == -1 ||
	    sscanf(line, "t1 %llu %llu %zu %zu%n", &ok, &failed, &r->nrr,
	    &r->ndetails, &n) != 4 || line[n] != '\0' ||
	    r->nrr > MTA_TLSA_MAX || r->ndetails > MTA_TLSRPT_DETAILS)
		return -1;
	r->success = ok;
	r->failure = failed;
	r->has_policy = r->nrr > 0;
	for (i = 0; i < r->nrr; i++)
		if (mta_tlsrpt_line(&text, line, sizeof(line)) == -1 ||
		    mta_tlsrpt_rr_parse(line, &r->rr[i]) == -1)
			return -1;
	return mta_tlsrpt_parse_details(text, r);
}

/* A record's text form, as policyd kept it, into r; -1 if malformed. */
static int
mta_tlsrpt_parse(const char *text, struct mta_tlsrpt_rec *r)
{
	char			 line[MTA_TLSRPT_LINE + CONF_HOST_MAX];
	unsigned long long	 ok, failed;
	int			 has, mode, n = 0;
	size_t			 i;

	if (r->tlsa)
		return mta_tlsrpt_parse_tlsa(text, r);
	if (mta_tlsrpt_line(&text, line, sizeof(line)) == -1 ||
	    sscanf(line, "v1 %d %d %u %llu %llu %zu %zu%n", &has, &mode,
	    &r->max_age, &ok, &failed, &r->nmx, &r->ndetails, &n) != 7 ||
	    line[n] != '\0' || (has != 0 && has != 1) ||
	    mode < MTASTS_MODE_NONE || mode > MTASTS_MODE_ENFORCE ||
	    r->nmx > MTASTS_MX_MAX || r->ndetails > MTA_TLSRPT_DETAILS)
		return -1;
	r->has_policy = has;
	r->mode = (enum mtasts_mode)mode;
	r->success = ok;
	r->failure = failed;
	for (i = 0; i < r->nmx; i++)
		if (mta_tlsrpt_line(&text, r->mx[i], sizeof(r->mx[i])) == -1)
			return -1;
	return mta_tlsrpt_parse_details(text, r);
}

/* A record read back from policyd, added to the one counted since. */
static void
mta_tlsrpt_merge(const char *day, const char *domain,
    const struct mta_tlsrpt_rec *in)
{
	struct mta_tlsrpt_rec	*r;
	size_t			 i;

	r = mta_tlsrpt_find(day, domain, in->tlsa ? in->host : NULL);
	if (in->tlsa && r->nrr == 0) {
		memcpy(r->rr, in->rr, sizeof(r->rr));
		r->nrr = in->nrr;
		r->has_policy = in->has_policy;
	}
	if (!in->tlsa && in->has_policy && !r->has_policy) {
		r->has_policy = 1;
		r->mode = in->mode;
		r->max_age = in->max_age;
		r->nmx = in->nmx;
		memcpy(r->mx, in->mx, sizeof(r->mx));
	}
	r->success += in->success;
	r->failure += in->failure;
	for (i = 0; i < in->ndetails; i++)
		mta_tlsrpt_detail_add(r, in->details[i].type,
		    in->details[i].mx, in->details[i].detail,
		    in->details[i].count);
}

/*
 * policyd keeps a row per day and key: the domain for its MTA-STS
 * record, "DOMAIN tlsa HOST" for the DANE one of an MX host (no name
 * holds a space).  -1 if the key does not fit.
 */
static int
mta_tlsrpt_key(const struct mta_tlsrpt_rec *r, char *out, size_t size)
{
	int	 n;

	if (!r->tlsa)
		n = snprintf(out, size, "%s", r->domain);
	else
		n = snprintf(out, size, "%s tlsa %s", r->domain, r->host);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* A key read back: the domain cut off it (in place), r->tlsa/host. */
static int
mta_tlsrpt_key_parse(char *key, struct mta_tlsrpt_rec *r)
{
	char	*sp = strstr(key, " tlsa ");

	if (sp == NULL)
		return 0;
	*sp = '\0';
	r->tlsa = 1;
	if (strlcpy(r->host, sp + 6, sizeof(r->host)) >= sizeof(r->host) ||
	    r->host[0] == '\0')
		return -1;
	return 0;
}

/* IMSG_POLICY_TLSRPT_RECORD: a kept record, or the end of them. */
void
mta_tlsrpt_imsg_record(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct mta_tlsrpt_rec	*in;
	char			 day[16], domain[CONF_HOST_MAX];
	const char		*text;

	(void)iev;
	(void)arg;
	(void)imsg_get_strbuf(m, day, sizeof(day));
	(void)imsg_get_strbuf(m, domain, sizeof(domain));
	text = imsg_get_str(m);
	if (imsg_get_end(m) == -1 || m->fd != -1) {
		if (m->fd != -1)
			(void)close(m->fd);
		proc_peer_bad(PROC_POLICY, "malformed TLS-RPT record", m->type);
		return;
	}
	if (day[0] == '\0') {
		mta_tlsrpt_loaded = 1;
		return;
	}
	in = xcalloc(1, sizeof(*in));
	if (mta_tlsrpt_key_parse(domain, in) == -1 || strlen(day) != 10 ||
	    domain[0] == '\0' || mta_tlsrpt_parse(text, in) == -1)
		log_warnx("TLS-RPT record of %s on %s kept by policyd does "
		    "not parse; left out", domain, day);
	else
		mta_tlsrpt_merge(day, domain, in);
	free(in);
}

static void
mta_tlsrpt_put(const struct mta_tlsrpt_rec *r, char *text, size_t size)
{
	struct imsg_out	 out;
	char		 key[CONF_HOST_MAX];

	if (mta_tlsrpt_text(r, text, size) == -1 ||
	    mta_tlsrpt_key(r, key, sizeof(key)) == -1) {
		log_warnx("TLS-RPT record of %s%s%s on %s too long to keep",
		    r->domain, r->tlsa ? " for " : "", r->host, r->day);
		return;
	}
	imsg_out_init(&out, IMSG_POLICY_TLSRPT_PUT, 0);
	imsg_put_str(&out, r->day);
	imsg_put_str(&out, key);
	imsg_put_str(&out, text);
	(void)proc_send(PROC_POLICY, &out, -1);
}

/* Every MTA_TLSRPT_FLUSH seconds: the load first, then the changes. */
static void
mta_tlsrpt_tick(int fd, short ev, void *arg)
{
	struct mta_tlsrpt_rec	*r;
	struct imsg_out		 out;
	char			*text, day[11];
	time_t			 t = time(NULL) - 86400;
	struct tm		 tm;

	(void)fd;
	(void)ev;
	(void)arg;
	if (proc_peer(PROC_POLICY) == NULL)
		return;
	if (!mta_tlsrpt_loaded) {
		if (mta_tlsrpt_asked)
			return;
		(void)gmtime_r(&t, &tm);
		(void)strftime(day, sizeof(day), "%Y-%m-%d", &tm);
		imsg_out_init(&out, IMSG_POLICY_TLSRPT_LOAD, 0);
		imsg_put_str(&out, day);
		if (proc_send(PROC_POLICY, &out, -1) == 0)
			mta_tlsrpt_asked = 1;
		return;
	}
	text = xcalloc(1, MTA_TLSRPT_TEXT_MAX);
	TAILQ_FOREACH(r, &mta_tlsrpt_recs, entry)
		if (r->dirty) {
			mta_tlsrpt_put(r, text, MTA_TLSRPT_TEXT_MAX);
			r->dirty = 0;
		}
	free(text);
}

/* The config is in force: keep the records with policyd if MTA-STS or
 * DANE is on (a config without keeps what was counted, unsent). */
void
mta_tlsrpt_start(void)
{
	struct timeval	 tv = { MTA_TLSRPT_FLUSH, 0 };

	if ((!conf->mta_sts && !conf->mta_dane) || mta_tlsrpt_ev != NULL)
		return;
	mta_tlsrpt_ev = event_new(proc_base, -1, EV_PERSIST, mta_tlsrpt_tick,
	    NULL);
	if (mta_tlsrpt_ev == NULL || event_add(mta_tlsrpt_ev, &tv) == -1)
		log_warnx("TLS-RPT: no timer; the counts are not kept");
	mta_tlsrpt_tick(-1, 0, NULL);
}

/* policyd went away: a load it did not answer is asked again. */
void
mta_tlsrpt_policy_down(void)
{
	if (!mta_tlsrpt_loaded)
		mta_tlsrpt_asked = 0;
}
