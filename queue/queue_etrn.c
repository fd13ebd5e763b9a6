/*
 * queue_etrn.c: ETRN from the front end (IMSG_QUEUE_ETRN): the remote
 * envelopes to a domain, or to it and its subdomains, are due now.
 *
 * The domain is a client's word, passed on by the front end, so it is
 * checked again here; a bad one is logged and ignored.  Like smtpctl
 * schedule, an ETRN also tries a domain whose next hop is on hold: the
 * client says it is up again.  Quarantined envelopes stay held.
 *
 * Each ETRN walks the whole schedule, and any client may send one, so a
 * client repeating ETRN could keep this process busy with a big queue.
 * A request repeated within ETRN_REPEAT_SECONDS finds nothing new to do
 * (what it scheduled is being tried) and is not rescanned, and no more
 * than ETRN_SCANS_PER_SECOND walks are made in a second; what is skipped
 * is logged and goes at its normal retry time.
 */
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "proc.h"
#include "queue.h"

#define ETRN_REPEAT_SECONDS	30
#define ETRN_RECENT		32	/* requests remembered for that */
#define ETRN_SCANS_PER_SECOND	10

struct etrn_recent {
	char		 domain[CONF_HOST_MAX];
	int		 sub;
	time_t		 at;
};

static struct etrn_recent	 etrn_recent[ETRN_RECENT];
static time_t			 etrn_second;
static unsigned int		 etrn_scans;

/* Whether the envelope's domain is domain, or below it with sub. */
static int
queue_etrn_match(const char *have, const char *domain, int sub)
{
	size_t	 hn = strlen(have), dn = strlen(domain);

	if (strcasecmp(have, domain) == 0)
		return 1;
	return sub && hn > dn && have[hn - dn - 1] == '.' &&
	    strcasecmp(have + hn - dn, domain) == 0;
}

/* Make the matching envelopes due; how many were. */
static size_t
queue_etrn_run(const char *domain, int sub)
{
	struct qentry	*e;
	time_t		 now = time(NULL);
	size_t		 n = 0;

	for (e = queue_sched_first(); e != NULL; e = queue_sched_next(e)) {
		if (e->state != QE_PENDING && e->state != QE_HELD)
			continue;
		if (e->flags & (QENTRY_F_LOCAL | QENTRY_F_MAILBOX))
			continue;
		if (!queue_etrn_match(e->grp->domain, domain, sub))
			continue;
		queue_sched_schedule_now(e, now);
		n++;
	}
	return n;
}

/* Whether the same request was scanned in the last ETRN_REPEAT_SECONDS;
 * if not, *slot is where to remember it: its old place or the oldest. */
static int
queue_etrn_repeated(const char *domain, int sub, time_t now,
    struct etrn_recent **slot)
{
	struct etrn_recent	*r;
	size_t			 i;

	*slot = &etrn_recent[0];
	for (i = 0; i < ETRN_RECENT; i++) {
		r = &etrn_recent[i];
		if (r->at != 0 && r->sub == sub &&
		    strcasecmp(r->domain, domain) == 0) {
			*slot = r;
			return now - r->at < ETRN_REPEAT_SECONDS;
		}
		if (r->at < (*slot)->at)
			*slot = r;
	}
	return 0;
}

/* Whether another walk fits in this second's budget. */
static int
queue_etrn_budget(time_t now)
{
	if (now != etrn_second) {
		etrn_second = now;
		etrn_scans = 0;
	}
	if (etrn_scans >= ETRN_SCANS_PER_SECOND)
		return 0;
	etrn_scans++;
	return 1;
}

void
queue_etrn(struct imsgev *iev, struct imsg *m, void *arg)
{
	char		 domain[CONF_HOST_MAX];
	struct etrn_recent *slot;
	const char	*at;
	uint32_t	 flags;
	size_t		 n;
	time_t		 now = time(NULL);
	int		 sub;

	(void)iev;
	(void)arg;
	flags = imsg_get_u32(m);
	if (imsg_get_strbuf(m, domain, sizeof(domain)) == -1 ||
	    imsg_get_end(m) == -1 || (flags & ~ETRN_F_SUBDOMAINS) != 0) {
		proc_peer_bad(PROC_SMTP, "malformed etrn", m->type);
		return;
	}
	if (!config_domain_valid(domain)) {
		log_warnx("%08x: ETRN for an invalid domain ignored", m->id);
		return;
	}
	sub = (flags & ETRN_F_SUBDOMAINS) != 0;
	at = sub ? "@" : "";
	if (queue_etrn_repeated(domain, sub, now, &slot)) {
		stats_add("queue.etrn.repeated", 1);
		log_info("%08x: ETRN %s%s: repeated within %d s, not rescanned",
		    m->id, at, domain, ETRN_REPEAT_SECONDS);
		return;
	}
	if (!queue_etrn_budget(now)) {
		stats_add("queue.etrn.skipped", 1);
		log_warnx("%08x: ETRN %s%s: more than %d in a second, skipped",
		    m->id, at, domain, ETRN_SCANS_PER_SECOND);
		return;
	}
	(void)strlcpy(slot->domain, domain, sizeof(slot->domain));
	slot->sub = sub;
	slot->at = now;
	n = queue_etrn_run(domain, sub);
	stats_add("queue.etrn", 1);
	log_info("%08x: ETRN %s%s: %zu envelopes scheduled", m->id, at,
	    domain, n);
	if (n > 0)
		queue_sched_wakeup();
}
