/*
 * smtp_listener.c: accept inbound connections on the sockets the parent
 * bound (see smtp_listener.h).
 *
 * Accepting is on only while a config is in force, smtpctl has not
 * paused it and no descriptor shortage is being waited out.  Over
 * conf->limit_sessions a client gets "421 4.3.2 Too many sessions, try
 * again later" and is closed at once.  The parent is trusted: a malformed
 * listener message from it is a bug and ends the process.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "proc.h"
#include "smtp_listener.h"
#include "smtp_session.h"

#define SMTP_LISTENER_MAX	256	/* listener indexes the parent may use */
#define SMTP_ACCEPT_BATCH	64	/* accepts per readiness event */
#define SMTP_ACCEPT_BACKOFF	1	/* seconds to wait out EMFILE */

struct smtp_listener {
	int		 fd;
	struct event	*ev;
	uint32_t	 flags;		/* LISTEN_F_* */
	int		 active;	/* ev is added */
	char		 name[80];
};

static struct smtp_listener	*smtp_listeners[SMTP_LISTENER_MAX];
static int			 smtp_listener_stopped;
static int			 smtp_listener_backing_off;
static struct event		*smtp_listener_ev_backoff;

/* Turn one listener's accept event on or off. */
static void
smtp_listener_arm(struct smtp_listener *l, int on)
{
	if (on && !l->active)
		(void)event_add(l->ev, NULL);
	else if (!on && l->active)
		(void)event_del(l->ev);
	l->active = on;
}

void
smtp_listener_update(void)
{
	int	 on, i;

	on = conf != NULL && !smtp_listener_stopped &&
	    !smtp_listener_backing_off;
	for (i = 0; i < SMTP_LISTENER_MAX; i++)
		if (smtp_listeners[i] != NULL)
			smtp_listener_arm(smtp_listeners[i], on);
}

void
smtp_listener_pause(int paused)
{
	smtp_listener_stopped = paused;
	smtp_listener_update();
}

int
smtp_listener_paused(void)
{
	return smtp_listener_stopped;
}

static void
smtp_listener_backoff_cb(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	smtp_listener_backing_off = 0;
	smtp_listener_update();
}

/* Out of descriptors: stop accepting for a moment instead of spinning. */
static void
smtp_listener_backoff(void)
{
	struct timeval	 tv = { SMTP_ACCEPT_BACKOFF, 0 };

	if (smtp_listener_ev_backoff == NULL &&
	    (smtp_listener_ev_backoff = evtimer_new(proc_base,
	    smtp_listener_backoff_cb, NULL)) == NULL)
		return;
	smtp_listener_backing_off = 1;
	smtp_listener_update();
	(void)evtimer_add(smtp_listener_ev_backoff, &tv);
}

/* Over the session limit: say so and hang up. */
static void
smtp_listener_refuse(int fd, const char *name)
{
	static const char	 msg[] =
	    "421 4.3.2 Too many sessions, try again later\r\n";

	(void)send(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	(void)close(fd);
	stats_add("smtp.session.refused", 1);
	log_info("connection refused on %s: too many sessions (%zu)", name,
	    smtp_session_count());
}

static void
smtp_listener_accept(int fd, short ev, void *arg)
{
	struct smtp_listener	*l = arg;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	int			 c, i, on = 1;

	(void)ev;
	for (i = 0; i < SMTP_ACCEPT_BATCH; i++) {
		sslen = sizeof(ss);
		c = accept4(fd, (struct sockaddr *)&ss, &sslen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				log_warn("accept on %s", l->name);
				stats_add("smtp.error.accept", 1);
				smtp_listener_backoff();
			} else if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				log_warn("accept on %s", l->name);
			return;
		}
		if (smtp_session_count() >= conf->limit_sessions) {
			smtp_listener_refuse(c, l->name);
			continue;
		}
		if (l->flags & LISTEN_F_LOCAL) {
			smtp_local_accept(c, l->name);
			continue;
		}
		/* replies are batched here: Nagle would only add delay */
		(void)setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
		smtp_session_new(c, &ss, l->name, l->flags);
	}
}

static void
smtp_listener_free(int i)
{
	struct smtp_listener	*l = smtp_listeners[i];

	if (l == NULL)
		return;
	event_free(l->ev);
	(void)close(l->fd);
	free(l);
	smtp_listeners[i] = NULL;
}

void
smtp_listener_close_all(void)
{
	int	 i;

	for (i = 0; i < SMTP_LISTENER_MAX; i++)
		smtp_listener_free(i);
}

/* IMSG_SMTP_LISTENER: id = index, fd, str name, u32 flags. */
void
smtp_listener_add(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct smtp_listener	*l;
	const char		*name;
	uint32_t		 flags;

	(void)iev;
	(void)arg;
	name = imsg_get_str(m);
	flags = imsg_get_u32(m);
	if (imsg_get_end(m) == -1 || m->fd == -1 ||
	    m->id >= SMTP_LISTENER_MAX)
		fatalx("bad listener message from parent");
	smtp_listener_free((int)m->id);
	/* accept() runs in batches until EAGAIN: it must never block */
	if (fcntl(m->fd, F_SETFL, fcntl(m->fd, F_GETFL) | O_NONBLOCK) == -1)
		fatal("listener %s: O_NONBLOCK", name);
	if ((l = calloc(1, sizeof(*l))) == NULL)
		fatal("listener");
	l->fd = m->fd;
	l->flags = flags;
	(void)strlcpy(l->name, name, sizeof(l->name));
	l->ev = event_new(proc_base, l->fd, EV_READ | EV_PERSIST,
	    smtp_listener_accept, l);
	if (l->ev == NULL)
		fatalx("listener event");
	smtp_listeners[m->id] = l;
	log_debug("listening on %s", l->name);
	smtp_listener_update();
}

/* IMSG_SMTP_LISTENERS_RESET: close every listener. */
void
smtp_listener_reset(struct imsgev *iev, struct imsg *m, void *arg)
{
	(void)iev;
	(void)arg;
	(void)m;
	smtp_listener_close_all();
}
