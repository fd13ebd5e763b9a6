/*
 * parent_load.c: the system's load average for the children that act on
 * it (sendmail's RefuseLA and DelayLA in smtpd-smtp, QueueLA in
 * smtpd-queue: limit load-refuse, load-delay, load-queue).
 *
 * /proc/loadavg is not in the children's chroots, so the parent reads
 * getloadavg(3) every PARENT_LOAD_INTERVAL seconds while one of the
 * limits is set, and right after it sends smtp or the queue a config
 * (so that a reload that lifts a limit ends it at once), and sends both
 * IMSG_LOAD_AVERAGE: the one-minute load times 100.
 *
 * Interface (parent.h): parent_load_init() starts the timer;
 * parent_load_send() sends the load now.
 * Failure behaviour: a load that cannot be read is not sent (the
 * children keep the last one, 0 before any), logged once.
 */
#include <stdlib.h>

#include <event2/event.h>

#include "log.h"
#include "parent.h"
#include "proto.h"

#define PARENT_LOAD_INTERVAL	5	/* seconds between two readings */

extern struct event_base	*parent_base;

static struct event	*parent_load_ev;
static int		 parent_load_failed;

/* Whether any child acts on the load. */
static int
parent_load_wanted(void)
{
	return parent_conf != NULL && (parent_conf->limit_load_refuse != -1 ||
	    parent_conf->limit_load_delay != -1 ||
	    parent_conf->limit_load_queue != -1);
}

static void
parent_load_send_to(enum proc_id id, uint32_t centi)
{
	struct imsg_out	 out;

	if (!parent_proc_running(id))
		return;
	imsg_out_init(&out, IMSG_LOAD_AVERAGE, 0);
	imsg_put_u32(&out, centi);
	(void)parent_proc_send(id, &out);
}

void
parent_load_send(void)
{
	double	 la;

	if (getloadavg(&la, 1) != 1) {
		if (!parent_load_failed)
			log_warnx("cannot read the load average");
		parent_load_failed = 1;
		return;
	}
	parent_load_failed = 0;
	if (la < 0)
		la = 0;
	if (la > 1e6)
		la = 1e6;
	parent_load_send_to(PROC_SMTP, (uint32_t)(la * 100));
	parent_load_send_to(PROC_QUEUE, (uint32_t)(la * 100));
}

static void
parent_load_tick(int fd, short ev, void *arg)
{
	struct timeval	 tv = { PARENT_LOAD_INTERVAL, 0 };

	(void)fd;
	(void)ev;
	(void)arg;
	if (parent_load_wanted())
		parent_load_send();
	(void)evtimer_add(parent_load_ev, &tv);
}

void
parent_load_init(void)
{
	struct timeval	 tv = { PARENT_LOAD_INTERVAL, 0 };

	if ((parent_load_ev = evtimer_new(parent_base, parent_load_tick,
	    NULL)) == NULL)
		fatalx("load average timer");
	(void)evtimer_add(parent_load_ev, &tv);
}
