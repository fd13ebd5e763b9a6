/*
 * queue_quarantine.c: putting envelopes on quarantine and taking them off
 * (smtpctl quarantine and smtpctl release).
 *
 * Interface (queue.h): queue_quarantine_apply() takes envelopes that are
 * not in flight, rewrites each file with the new reason ("" = released,
 * then due at once) in one durable transaction, and only then changes
 * the schedule, so that what "smtpctl show queue" says is what a restart
 * will find.  A held envelope is never tried, bounced or expired; once
 * released, its lifetime still counts from its arrival, so mail held past
 * "queue lifetime" gets one attempt and bounces if that fails
 * temporarily.
 *
 * Failure behaviour: an envelope that cannot be read or rewritten keeps
 * its old state and is not counted; nothing else changes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "proc.h"
#include "queue.h"
#include "util.h"

/* Read an envelope and give it its new reason; -1 if it cannot be read. */
static int
queue_quarantine_prepare(struct qentry *e, struct envelope *ev,
    const char *reason, time_t now)
{
	const char	*why = "";

	if (queue_spool_envelope_read(&queue_spool, e->evpid, ev, &why) ==
	    -1) {
		log_warnx("%016llx: cannot read the envelope (%s); its "
		    "quarantine is unchanged", (unsigned long long)e->evpid,
		    why);
		return -1;
	}
	(void)strlcpy(ev->quarantine, reason, sizeof(ev->quarantine));
	if (reason[0] == '\0')
		ev->nexttry = now;
	return 0;
}

/* The schedule follows a rewritten envelope. */
static void
queue_quarantine_settle(struct qentry *e, const char *reason, time_t now)
{
	if (reason[0] == '\0') {
		log_info("%016llx: released from quarantine by smtpctl",
		    (unsigned long long)e->evpid);
		stats_add("queue.envelope.released", 1);
		queue_sched_release(e, now);
	} else {
		log_info("%016llx: quarantine=%s: held by smtpctl",
		    (unsigned long long)e->evpid, reason);
		queue_sched_quarantine(e);
	}
}

size_t
queue_quarantine_apply(struct qentry **ents, size_t n, const char *reason,
    time_t now)
{
	struct spool_tx	 tx;
	struct envelope	*evs;
	int		*units;
	size_t		 i, done = 0;

	if (n == 0)
		return 0;
	evs = xcalloc(n, sizeof(*evs));
	units = xcalloc(n, sizeof(*units));
	queue_spool_tx_init(&tx, &queue_spool);
	for (i = 0; i < n; i++) {
		units[i] = -1;
		if (queue_quarantine_prepare(ents[i], &evs[i], reason,
		    now) == -1)
			continue;
		units[i] = queue_spool_tx_unit(&tx);
		(void)queue_spool_tx_envelope(&tx, units[i], &evs[i]);
	}
	if (queue_spool_tx_commit(&tx) > 0)
		log_warnx("some envelopes could not be rewritten; their "
		    "quarantine is unchanged");
	for (i = 0; i < n; i++) {
		if (units[i] == -1 || !queue_spool_tx_unit_ok(&tx, units[i]))
			continue;
		queue_quarantine_settle(ents[i], reason, now);
		done++;
	}
	queue_spool_tx_free(&tx);
	free(units);
	free(evs);
	return done;
}
