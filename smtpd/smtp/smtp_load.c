/*
 * smtp_load.c: the system's load average as the parent reads it
 * (IMSG_LOAD_AVERAGE; the front end cannot read /proc in its chroot),
 * and sendmail's two front-end limits on it:
 *
 *   limit load-refuse N  (RefuseLA) at a load of N or more no listener
 *                        but the sendmail socket accepts; each time the
 *                        load reaches it, every listener logs "rejecting
 *                        connections on daemon NAME: load average: LA"
 *   limit load-delay N   (DelayLA) at a load of N or more each command
 *                        line of a session waits a second before it runs
 *
 * Loads are compared in hundredths; LA in the log is the load rounded
 * down, as sendmail prints it.
 * Failure behaviour: the parent is trusted; a malformed message from it
 * ends the process.
 */
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "log.h"
#include "proc.h"
#include "smtp_listener.h"
#include "smtp_load.h"
#include "smtp_session.h"

#define SMTP_LOAD_DELAY		1	/* seconds per command (DelayLA) */

static uint32_t	 smtp_load;		/* hundredths */
static int	 smtp_load_was_refusing;

static int
smtp_load_over(int64_t limit)
{
	return conf != NULL && limit != -1 &&
	    (uint64_t)smtp_load >= (uint64_t)limit * 100;
}

int
smtp_load_refusing(void)
{
	return smtp_load_over(conf != NULL ? conf->limit_load_refuse : -1);
}

uint32_t
smtp_load_current(void)
{
	return smtp_load / 100;
}

/* IMSG_LOAD_AVERAGE: u32 load x 100. */
void
smtp_load_average(struct imsgev *iev, struct imsg *m, void *arg)
{
	int	 refusing;

	(void)iev;
	(void)arg;
	smtp_load = imsg_get_u32(m);
	if (imsg_get_end(m) == -1)
		fatalx("bad load average message from parent");
	stats_set("smtp.load", (int64_t)smtp_load);
	refusing = smtp_load_refusing();
	if (refusing && !smtp_load_was_refusing) {
		stats_add("smtp.load.refused", 1);
		smtp_listener_log_load(smtp_load / 100);
	}
	smtp_load_was_refusing = refusing;
	smtp_listener_update();
}

/* The second of a delayed command is over: let it run. */
static void
smtp_load_delayed(struct smtp_session *s)
{
	s->load_waited = 1;
	smtp_session_resume(s);
}

int
smtp_load_delay(struct smtp_session *s)
{
	if (s->load_waited) {
		s->load_waited = 0;
		return 0;
	}
	/* a line still arriving waits once, when it is complete */
	if (!smtp_load_over(conf->limit_load_delay) ||
	    (s->lflags & LISTEN_F_LOCAL) ||
	    evbuffer_search_eol(bufferevent_get_input(s->bev), NULL, NULL,
	    EVBUFFER_EOL_LF).pos == -1)
		return 0;
	if (smtp_session_pause(s, SMTP_LOAD_DELAY, smtp_load_delayed) == -1)
		return 0;
	stats_add("smtp.load.delayed", 1);
	return 1;
}
