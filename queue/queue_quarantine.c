/*
 * queue_quarantine.c: putting envelopes on quarantine and taking them off
 * (smtpctl quarantine and smtpctl release), and removing what was held
 * past "queue quarantine-lifetime".
 *
 * Interface (queue.h): queue_quarantine_apply() takes envelopes that are
 * not in flight, rewrites each file with the new reason ("" = released,
 * then due at once) in one durable transaction, and only then changes
 * the schedule, so that what "smtpctl show queue" says is what a restart
 * will find.  A held envelope is never tried or bounced; once
 * released, its lifetime still counts from its arrival, so mail held past
 * "queue lifetime" gets one attempt and bounces if that fails
 * temporarily.  Held mail older than "queue quarantine-lifetime"
 * (counted from its arrival, like "queue lifetime") is removed without a
 * DSN, as smtpctl remove would: what a quarantine holds is mostly mail
 * nobody should be told about; a sweep looks every minute (more often
 * for a shorter lifetime).
 *
 * Failure behaviour: an envelope that cannot be read or rewritten keeps
 * its old state and is not counted; nothing else changes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"
#include "proc.h"
#include "queue.h"
#include "util.h"

static struct event	*quarantine_ev;

/* The next sweep: in a minute, or the lifetime if that is shorter. */
static void
queue_quarantine_arm(void)
{
	struct timeval	 tv;

	tv.tv_sec = conf->queue_quarantine_lifetime < 60 ?
	    conf->queue_quarantine_lifetime : 60;
	tv.tv_usec = 0;
	(void)evtimer_add(quarantine_ev, &tv);
}

/* Remove the held envelopes past the quarantine lifetime. */
static void
queue_quarantine_sweep(int fd, short ev, void *arg)
{
	struct qentry	*e, *next;
	time_t		 now = time(NULL);
	char		 dur[32];

	(void)fd;
	(void)ev;
	(void)arg;
	/* the walk is over the whole queue: none for a big queue that
	 * holds nothing */
	if (queue_sched_quarantined() == 0) {
		queue_quarantine_arm();
		return;
	}
	for (e = queue_sched_first(); e != NULL; e = next) {
		next = queue_sched_next(e);
		if (e->state != QE_QUARANTINED ||
		    now - e->ctime < conf->queue_quarantine_lifetime)
			continue;
		log_info("%016llx: held in quarantine for %s, past queue "
		    "quarantine-lifetime: removed", (unsigned long long)e->evpid,
		    duration_fmt(now - e->ctime, dur, sizeof(dur)));
		stats_add("queue.envelope.quarantine_expired", 1);
		queue_sched_drop(e);
	}
	queue_quarantine_arm();
}

void
queue_quarantine_init(void)
{
	quarantine_ev = evtimer_new(proc_base, queue_quarantine_sweep, NULL);
	if (quarantine_ev == NULL)
		fatalx("cannot create the quarantine timer");
}

/* A config is in force (the first one too): sweep now, with its limit. */
void
queue_quarantine_configure(void)
{
	(void)evtimer_del(quarantine_ev);
	event_active(quarantine_ev, EV_TIMEOUT, 1);
}

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
