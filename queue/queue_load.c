/*
 * queue_load.c: sendmail's QueueLA (limit load-queue N): at a load
 * average of N or more the queue holds every delivery; messages are
 * still accepted and queued, and go out once the load is below N again.
 * The parent reads the load (IMSG_LOAD_AVERAGE) every 5 s while a load
 * limit is set, and after each config, so a reload that lifts the limit
 * lets the deliveries go at once.  Holding is logged "deferring
 * deliveries: load average: LA", ending "resuming deliveries: load
 * average: LA" (LA rounded down, as sendmail prints loads).
 * Failure behaviour: the parent is trusted; a malformed message from it
 * ends the process.
 */
#include <stdint.h>

#include "log.h"
#include "proc.h"
#include "queue.h"

static uint32_t	 queue_load;		/* hundredths */
static int	 queue_load_holding;

int
queue_load_held(void)
{
	return queue_load_holding;
}

/* IMSG_LOAD_AVERAGE: u32 load x 100. */
void
queue_load_average(struct imsgev *iev, struct imsg *m, void *arg)
{
	int	 hold;

	(void)iev;
	(void)arg;
	queue_load = imsg_get_u32(m);
	if (imsg_get_end(m) == -1)
		fatalx("bad load average message from parent");
	hold = conf != NULL && conf->limit_load_queue != -1 &&
	    (uint64_t)queue_load >= (uint64_t)conf->limit_load_queue * 100;
	if (hold == queue_load_holding)
		return;
	queue_load_holding = hold;
	stats_set("queue.load_held", hold);
	log_info("%s deliveries: load average: %u", hold ? "deferring" :
	    "resuming", queue_load / 100);
	if (!hold)
		queue_sched_wakeup();
}
