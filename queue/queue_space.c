/*
 * queue_space.c: the free space of the spool, told to the front end.
 *
 * Only the queue can see the spool (it is chrooted to it), but the front
 * end is the one that must refuse MAIL with "452 4.3.1 Insufficient
 * system storage" when the disk fills up (queue min-free).  So every
 * QUEUE_SPACE_INTERVAL seconds, and as soon as a front end connects, the
 * queue sends IMSG_QUEUE_SPACE with the octets its user may still
 * write; the front end compares them with its config.
 *
 * Failure behaviour: a statvfs() that fails is logged once per change
 * and reported as "unknown" (UINT64_MAX), which refuses nothing.
 */
#include <sys/statvfs.h>

#include <stdint.h>

#include <event2/event.h>

#include "log.h"
#include "proc.h"
#include "queue.h"

#define QUEUE_SPACE_INTERVAL	5	/* seconds between two reports */

static struct event	*space_ev;
static int		 space_failing;

/* Octets the queue's user may still write in the spool, or UINT64_MAX. */
static uint64_t
queue_space_free(void)
{
	struct statvfs	 sv;

	/* chrooted to the spool: "/" is its file system */
	if (statvfs("/", &sv) == -1) {
		if (!space_failing)
			log_warn("statvfs of the spool");
		space_failing = 1;
		return UINT64_MAX;
	}
	space_failing = 0;
	return (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
}

void
queue_space_report(void)
{
	struct imsg_out	 out;
	uint64_t	 avail = queue_space_free();

	stats_set("queue.spool.free_mb", avail == UINT64_MAX ? -1 :
	    (int64_t)(avail / (1024 * 1024)));
	imsg_out_init(&out, IMSG_QUEUE_SPACE, 0);
	imsg_put_u64(&out, avail);
	(void)proc_send(PROC_SMTP, &out, -1);
}

static void
queue_space_tick(int fd, short ev, void *arg)
{
	struct timeval	 tv = { QUEUE_SPACE_INTERVAL, 0 };

	(void)fd;
	(void)ev;
	(void)arg;
	queue_space_report();
	(void)evtimer_add(space_ev, &tv);
}

void
queue_space_init(void)
{
	struct timeval	 tv = { QUEUE_SPACE_INTERVAL, 0 };

	if ((space_ev = evtimer_new(proc_base, queue_space_tick, NULL)) ==
	    NULL)
		fatalx("cannot create the spool space timer");
	(void)evtimer_add(space_ev, &tv);
}
