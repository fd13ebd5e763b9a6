/*
 * parent_milter.c: the front end's connections to milters on unix
 * sockets (`filter NAME "unix:/PATH"`, smtpd.conf(5)).
 *
 * Such a socket lies outside the front end's chroot, so the front end
 * asks here (IMSG_SMTP_MILTER_CONNECT) with the filter's index in the
 * config, never a path: a compromised front end can make the parent
 * connect only to the filters the configuration names.  The socket is
 * non-blocking, so the connect completes or fails at once (a full
 * backlog is EAGAIN) and the parent never waits for a filter; it passes
 * the descriptor on and never reads or writes on it, so no byte of a
 * filter is parsed by root.
 *
 * Failure behaviour: a question from another child, or of an index that
 * is not a unix filter of the config the front end runs, restarts the
 * asker; an index asked before the front end applied a reload is
 * answered ESTALE, a failed connect with its errno, and the front end
 * applies the filter's failure mode.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "parent.h"

/* A connected non-blocking socket to f, or -1 with *error set. */
static int
parent_milter_socket(const struct conf_filter *f, uint32_t *error)
{
	int	 fd;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		*error = (uint32_t)errno;
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)&f->ss, f->sslen) == -1) {
		*error = (uint32_t)errno;
		(void)close(fd);
		return -1;
	}
	*error = 0;
	return fd;
}

/* The answer to the front end; the descriptor is its from here on. */
static void
parent_milter_reply(uint32_t id, uint32_t index, uint32_t error, int fd)
{
	struct imsg_out	 out;

	imsg_out_init(&out, IMSG_SMTP_MILTER_CONNECTED, id);
	imsg_put_u32(&out, index);
	imsg_put_u32(&out, error);
	(void)parent_proc_send_fd(PROC_SMTP, &out, fd);
}

/* IMSG_SMTP_MILTER_CONNECT: id = session id, u32 filter index. */
void
parent_milter_connect(struct imsgev *iev, struct imsg *m, void *arg)
{
	const struct conf_filter	*f;
	int				 slot = (int)(intptr_t)arg, fd;
	uint32_t			 index, error;

	(void)iev;
	index = imsg_get_u32(m);
	if (parent_proc_slot_id(slot) != PROC_SMTP) {
		parent_proc_restart_slot(slot, "filter connect from a child "
		    "other than smtp");
		return;
	}
	if (imsg_get_end(m) == -1) {
		parent_proc_restart_slot(slot, "malformed "
		    "IMSG_SMTP_MILTER_CONNECT");
		return;
	}
	if (index >= parent_conf->nfilters ||
	    parent_conf->filters[index].ss.ss_family != AF_UNIX) {
		if (!parent_proc_slot_current(slot)) {
			parent_milter_reply(m->id, index, ESTALE, -1);
			return;
		}
		parent_proc_restart_slot(slot, "IMSG_SMTP_MILTER_CONNECT of "
		    "a filter that is not on a unix socket");
		return;
	}
	f = &parent_conf->filters[index];
	if ((fd = parent_milter_socket(f, &error)) == -1)
		log_debug("filter %s: connect %s: %s", f->name, f->socket,
		    strerror((int)error));
	parent_milter_reply(m->id, index, error, fd);
}
