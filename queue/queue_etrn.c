/*
 * queue_etrn.c: ETRN from the front end (IMSG_QUEUE_ETRN): the remote
 * envelopes to a domain, or to it and its subdomains, are due now.
 *
 * The domain is a client's word, passed on by the front end, so it is
 * checked again here; a bad one is logged and ignored.  Like smtpctl
 * schedule, an ETRN also tries a domain whose next hop is on hold: the
 * client says it is up again.  Quarantined envelopes stay held.
 */
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "proc.h"
#include "queue.h"

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

void
queue_etrn(struct imsgev *iev, struct imsg *m, void *arg)
{
	char		 domain[CONF_HOST_MAX];
	uint32_t	 flags;
	size_t		 n;

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
	n = queue_etrn_run(domain, (flags & ETRN_F_SUBDOMAINS) != 0);
	stats_add("queue.etrn", 1);
	log_info("%08x: ETRN %s%s: %zu envelopes scheduled", m->id,
	    (flags & ETRN_F_SUBDOMAINS) ? "@" : "", domain, n);
	if (n > 0)
		queue_sched_wakeup();
}
