/*
 * smtp_listener.c: accept inbound connections on the sockets the parent
 * bound (see smtp_listener.h).
 *
 * Accepting is on only while a config is in force, smtpctl has not
 * paused it and no descriptor shortage is being waited out.  Over
 * conf->limit_sessions a client gets "421 4.3.2 Too many sessions, try
 * again later" and is closed at once.  The parent is trusted: a malformed
 * listener message from it is a bug and ends the process.
 *
 * Each listener has its own two limits (sendmail's per-daemon
 * MaxDaemonChildren and ConnectionRateThrottle): with max-sessions
 * sessions of its own open, it stops accepting until one of them ends,
 * and after connection-rate accepts within one second it stops for
 * SMTP_ACCEPT_THROTTLE seconds.  Meanwhile clients wait in the kernel's
 * backlog (or are refused by it when that is full) instead of being
 * greeted with a refusal, and the other listeners go on.  Sessions count
 * against the listener that accepted them while it is the one of their
 * generation: after a reload resends the listeners, the old sessions no
 * longer count.  At limit load-refuse (smtp_load.c) no listener but the
 * sendmail socket accepts, the same way.
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
#include "smtp_load.h"
#include "smtp_metrics.h"
#include "smtp_proxy.h"
#include "smtp_session.h"

#define SMTP_LISTENER_MAX	256	/* listener indexes the parent may use */
#define SMTP_ACCEPT_BATCH	64	/* accepts per readiness event */
#define SMTP_ACCEPT_BACKOFF	1	/* seconds to wait out EMFILE */
#define SMTP_ACCEPT_THROTTLE	1	/* seconds past connection-rate */

struct smtp_listener {
	int		 fd;
	struct event	*ev;
	uint32_t	 flags;		/* LISTEN_F_* */
	int		 active;	/* ev is added */
	char		 name[80];
	int		 slot;		/* index in smtp_listeners */
	uint32_t	 gen;		/* which sessions are ours */
	uint32_t	 max_sessions;	/* 0: none */
	uint32_t	 connection_rate;	/* accepts per second, 0: none */
	uint32_t	 nsessions;
	int		 full;		/* max-sessions reached */
	int		 throttled;	/* waiting out connection-rate */
	struct event	*ev_throttle;
	time_t		 rate_sec;	/* the second rate_count counts */
	uint32_t	 rate_count;
};

static struct smtp_listener	*smtp_listeners[SMTP_LISTENER_MAX];
static int			 smtp_listener_stopped;
static int			 smtp_listener_backing_off;
static struct event		*smtp_listener_ev_backoff;
static uint32_t			 smtp_listener_gen;

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
			smtp_listener_arm(smtp_listeners[i], on &&
			    !smtp_listeners[i]->full &&
			    !smtp_listeners[i]->throttled &&
			    (!smtp_load_refusing() ||
			    (smtp_listeners[i]->flags & LISTEN_F_LOCAL)));
}

/* limit load-refuse reached: sendmail's line for each listener. */
void
smtp_listener_log_load(uint32_t la)
{
	int	 i;

	for (i = 0; i < SMTP_LISTENER_MAX; i++)
		if (smtp_listeners[i] != NULL &&
		    !(smtp_listeners[i]->flags & LISTEN_F_LOCAL))
			log_info("rejecting connections on daemon %s: load "
			    "average: %u", smtp_listeners[i]->name, la);
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

/* A session of l's: count it (max-sessions). */
static void
smtp_listener_hold(struct smtp_listener *l, struct smtp_session *s)
{
	if (s == NULL)
		return;
	s->lslot = l->slot;
	s->lgen = l->gen;
	l->nsessions++;
}

static void
smtp_listener_throttle_cb(int fd, short ev, void *arg)
{
	struct smtp_listener	*l = arg;

	(void)fd;
	(void)ev;
	l->throttled = 0;
	smtp_listener_update();
}

/* max-sessions reached: stop accepting on l until a session ends. */
static int
smtp_listener_full(struct smtp_listener *l)
{
	if (l->max_sessions == 0 || l->nsessions < l->max_sessions)
		return 0;
	l->full = 1;
	stats_add("smtp.listener.full", 1);
	log_info("rejecting connections on daemon %s: %u children, max %u",
	    l->name, l->nsessions, l->max_sessions);
	smtp_listener_update();
	return 1;
}

/* connection-rate accepts this second: stop accepting on l a while. */
static int
smtp_listener_rate(struct smtp_listener *l)
{
	struct timeval	 tv = { SMTP_ACCEPT_THROTTLE, 0 };
	time_t		 now = time(NULL);

	if (l->connection_rate == 0)
		return 0;
	if (now != l->rate_sec) {
		l->rate_sec = now;
		l->rate_count = 0;
	}
	if (++l->rate_count < l->connection_rate)
		return 0;
	if (l->ev_throttle == NULL && (l->ev_throttle = evtimer_new(proc_base,
	    smtp_listener_throttle_cb, l)) == NULL)
		return 0;
	l->throttled = 1;
	l->rate_count = 0;
	stats_add("smtp.listener.throttled", 1);
	log_info("deferring connections on daemon %s: %u per second",
	    l->name, l->connection_rate);
	smtp_listener_update();
	(void)evtimer_add(l->ev_throttle, &tv);
	return 1;
}

/* After an accept: 1 if l must stop accepting for now. */
static int
smtp_listener_limited(struct smtp_listener *l)
{
	if (smtp_listener_full(l))
		return 1;
	return smtp_listener_rate(l);
}

void
smtp_listener_release(int slot, uint32_t gen)
{
	struct smtp_listener	*l;

	if (slot < 0 || slot >= SMTP_LISTENER_MAX ||
	    (l = smtp_listeners[slot]) == NULL || l->gen != gen ||
	    l->nsessions == 0)
		return;
	l->nsessions--;
	if (l->full && l->nsessions < l->max_sessions) {
		l->full = 0;
		smtp_listener_update();
	}
}

void
smtp_listener_proxied(int fd, const struct sockaddr_storage *client,
    const struct smtp_tls *tls, const char *name, uint32_t flags, int slot,
    uint32_t gen)
{
	struct smtp_session	*s;

	if (fd == -1 || (s = smtp_session_new(fd, client, name, flags,
	    tls)) == NULL) {
		smtp_listener_release(slot, gen);
		return;
	}
	s->lslot = slot;
	s->lgen = gen;
}

/* A proxy-protocol listener's client: counted while its header is read. */
static void
smtp_listener_proxy(struct smtp_listener *l, int c,
    const struct sockaddr_storage *ss)
{
	l->nsessions++;
	smtp_proxy_start(c, ss, l->name, l->flags, l->slot, l->gen);
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
		if (l->flags & LISTEN_F_METRICS) {
			smtp_metrics_accept(c, l->name);
			continue;
		}
		/* replies are batched here: Nagle would only add delay */
		(void)setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
		if (l->flags & LISTEN_F_PROXY)
			smtp_listener_proxy(l, c, &ss);
		else
			smtp_listener_hold(l, smtp_session_new(c, &ss,
			    l->name, l->flags, NULL));
		if (smtp_listener_limited(l))
			return;
	}
}

static void
smtp_listener_free(int i)
{
	struct smtp_listener	*l = smtp_listeners[i];

	if (l == NULL)
		return;
	event_free(l->ev);
	if (l->ev_throttle != NULL)
		event_free(l->ev_throttle);
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

/* IMSG_SMTP_LISTENER: id = index, fd, str name, u32 flags, u32
 * max-sessions, u32 connection-rate. */
void
smtp_listener_add(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct smtp_listener	*l;
	const char		*name;
	uint32_t		 flags, max, rate;

	(void)iev;
	(void)arg;
	name = imsg_get_str(m);
	flags = imsg_get_u32(m);
	max = imsg_get_u32(m);
	rate = imsg_get_u32(m);
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
	l->slot = (int)m->id;
	l->gen = ++smtp_listener_gen;
	l->max_sessions = max;
	l->connection_rate = rate;
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
