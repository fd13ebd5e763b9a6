/*
 * smtp_milter_unix.c: milters on unix sockets (see smtp_milter_unix.h).
 * Their sockets lie outside the chroot, so the front end names the
 * filter by its index in the config (never a path) and the parent
 * answers with the connected descriptor or the errno of the connect;
 * smtp_milter_connected() then goes on as for an inet filter, or applies
 * the filter's failure mode.
 */
#include <unistd.h>

#include "imsg.h"
#include "log.h"
#include "proc.h"
#include "smtp_milter.h"
#include "smtp_milter_unix.h"
#include "smtp_session.h"

int
smtp_milter_unix_ask(uint32_t id, int index)
{
	struct imsg_out	 out;

	imsg_out_init(&out, IMSG_SMTP_MILTER_CONNECT, id);
	imsg_put_u32(&out, (uint32_t)index);
	return proc_send(PROC_PARENT, &out, -1);
}

/* id = session id, u32 filter index, u32 errno; fd when it is 0. */
void
smtp_milter_unix_result(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct smtp_session	*s;
	uint32_t		 index, error;

	(void)iev;
	(void)arg;
	index = imsg_get_u32(m);
	error = imsg_get_u32(m);
	/* the parent is trusted: a bad answer is a bug there */
	if (imsg_get_end(m) == -1 || index >= CONF_FILTER_MAX ||
	    (error == 0) != (m->fd != -1))
		fatalx("bad IMSG_SMTP_MILTER_CONNECTED from parent");
	if ((s = smtp_session_find(m->id)) == NULL) {
		if (m->fd != -1)
			(void)close(m->fd);
		return;
	}
	smtp_milter_connected(s, (int)index, m->fd, (int)error);
}
