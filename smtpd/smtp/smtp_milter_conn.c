/*
 * smtp_milter_conn.c: a filter connection on the event loop (see
 * smtp_milter_conn.h).  Replies are read from the bufferevent's input
 * only as whole packets, whose length smtp_milter_reply_take() bounds
 * before any of the data is waited for; the input's high-water mark
 * keeps a filter from making the buffer grow past one reply.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "smtp_milter_conn.h"

enum smtp_milter_conn_state {
	SMTP_MILTER_CONN_CONNECTING = 0,
	SMTP_MILTER_CONN_NEGOTIATING,
	SMTP_MILTER_CONN_IDLE,		/* no step in flight */
	SMTP_MILTER_CONN_WAITING,	/* a step waits for its reply */
	SMTP_MILTER_CONN_DRAINING,	/* packets without replies wait to
					 * be written */
	SMTP_MILTER_CONN_FAILED
};

struct smtp_milter_conn {
	struct bufferevent		*bev;
	enum smtp_milter_conn_state	 state;
	struct smtp_milter_timeouts	 timeouts;
	struct smtp_milter_optneg	 optneg;
	smtp_milter_done_fn		 done;
	smtp_milter_mod_fn		 mod;
	void				*arg;
	/* the step in flight is the end of the message */
	int				 eom;
	/* inside a callback of ours: a free waits for its end (dead) */
	int				 busy;
	int				 dead;
};

static void
smtp_milter_conn_destroy(struct smtp_milter_conn *c)
{
	bufferevent_free(c->bev);
	free(c);
}

/* Leave a callback: 1 if the connection was freed meanwhile. */
static int
smtp_milter_conn_leave(struct smtp_milter_conn *c)
{
	if (--c->busy > 0 || !c->dead)
		return 0;
	smtp_milter_conn_destroy(c);
	return 1;
}

static void
smtp_milter_conn_timeouts(struct smtp_milter_conn *c, int rsecs)
{
	struct timeval	 r = { rsecs, 0 }, w = { c->timeouts.send, 0 };

	(void)bufferevent_set_timeouts(c->bev, rsecs > 0 ? &r : NULL,
	    c->timeouts.send > 0 ? &w : NULL);
}

/* The filter failed: no more I/O, one SMTP_MILTER_FAILED. */
static void
smtp_milter_conn_fail(struct smtp_milter_conn *c)
{
	c->state = SMTP_MILTER_CONN_FAILED;
	(void)bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	c->done(c->arg, SMTP_MILTER_FAILED, NULL);
}

static int
smtp_milter_conn_write(struct smtp_milter_conn *c,
    const struct smtp_milter_packet *p)
{
	if (c->state == SMTP_MILTER_CONN_FAILED || p->overflow)
		return -1;
	return bufferevent_write(c->bev, p->buf, p->len);
}

/* One reply: 0 to go on reading, -1 once the step is over or failed
 * (c may be gone then). */
static int
smtp_milter_conn_reply(struct smtp_milter_conn *c,
    const struct smtp_milter_reply *r)
{
	if (c->state == SMTP_MILTER_CONN_NEGOTIATING) {
		if (smtp_milter_reply_optneg(r, &c->optneg) == -1) {
			smtp_milter_conn_fail(c);
			return -1;
		}
		c->state = SMTP_MILTER_CONN_IDLE;
		smtp_milter_conn_timeouts(c, 0);
		c->done(c->arg, SMTP_MILTER_READY, NULL);
		return -1;
	}
	if (c->state != SMTP_MILTER_CONN_WAITING) {
		/* nothing was asked: a reply out of turn */
		smtp_milter_conn_fail(c);
		return -1;
	}
	if (r->code == SMFIR_PROGRESS) {
		/* the filter asks for more time: the limit starts again */
		smtp_milter_conn_timeouts(c, c->eom ? c->timeouts.eom :
		    c->timeouts.reply);
		return 0;
	}
	if (strchr("+-2beihmq", r->code) != NULL) {
		if (!c->eom || c->mod(c->arg, r) == -1) {
			smtp_milter_conn_fail(c);
			return -1;
		}
		return 0;
	}
	c->state = SMTP_MILTER_CONN_IDLE;
	smtp_milter_conn_timeouts(c, 0);
	c->done(c->arg, SMTP_MILTER_REPLY, r);
	return -1;
}

/* Take the replies that are whole; a done callback ends the loop. */
static void
smtp_milter_conn_input(struct smtp_milter_conn *c, struct evbuffer *in)
{
	struct smtp_milter_reply	 r;
	const char			*buf;
	size_t				 len, used;
	int				 rv;

	while (!c->dead && c->state != SMTP_MILTER_CONN_FAILED) {
		len = evbuffer_get_length(in);
		/* a whole reply is at most SMTP_MILTER_REPLY_MAX + 4 */
		if (len > SMTP_MILTER_REPLY_MAX + 4)
			len = SMTP_MILTER_REPLY_MAX + 4;
		buf = (const char *)evbuffer_pullup(in, (ssize_t)len);
		if (buf == NULL && len > 0) {
			smtp_milter_conn_fail(c);
			return;
		}
		if ((rv = smtp_milter_reply_take(buf, len, &r, &used)) == 0)
			return;
		if (rv == -1) {
			smtp_milter_conn_fail(c);
			return;
		}
		/* the reply's data stays valid until it is drained */
		rv = smtp_milter_conn_reply(c, &r);
		(void)evbuffer_drain(in, used);
		if (rv == -1)
			return;
	}
}

/*
 * At the end of the message a filter sends its modifications and its
 * verdict, OpenDKIM in separate writes: with Nagle on its side each one
 * waits for the ACK of the one before, which our kernel delays (40 ms
 * on Linux) as we have nothing to send.  A quick ACK after each read of
 * that stage lets the next one go at once.  A unix socket refuses the
 * option, harmlessly.
 */
static void
smtp_milter_conn_quickack(struct smtp_milter_conn *c)
{
	int	on = 1;

	if (c->eom)
		(void)setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP,
		    TCP_QUICKACK, &on, sizeof(on));
}

static void
smtp_milter_conn_read(struct bufferevent *bev, void *arg)
{
	struct smtp_milter_conn	*c = arg;

	c->busy++;
	smtp_milter_conn_quickack(c);
	smtp_milter_conn_input(c, bufferevent_get_input(bev));
	(void)smtp_milter_conn_leave(c);
}

/* The output is written out: a push that waited for it is done. */
static void
smtp_milter_conn_written(struct bufferevent *bev, void *arg)
{
	struct smtp_milter_conn	*c = arg;

	(void)bev;
	if (c->state != SMTP_MILTER_CONN_DRAINING)
		return;
	c->busy++;
	c->state = SMTP_MILTER_CONN_IDLE;
	c->done(c->arg, SMTP_MILTER_READY, NULL);
	(void)smtp_milter_conn_leave(c);
}

static void
smtp_milter_conn_negotiate(struct smtp_milter_conn *c)
{
	struct smtp_milter_packet	 p;

	c->state = SMTP_MILTER_CONN_NEGOTIATING;
	(void)smtp_milter_packet_optneg(&p);
	if (smtp_milter_conn_write(c, &p) == -1) {
		smtp_milter_conn_fail(c);
		return;
	}
	smtp_milter_conn_timeouts(c, c->timeouts.reply);
}

static void
smtp_milter_conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_milter_conn	*c = arg;

	c->busy++;
	if ((what & BEV_EVENT_CONNECTED) &&
	    c->state == SMTP_MILTER_CONN_CONNECTING)
		smtp_milter_conn_negotiate(c);
	else if (c->state != SMTP_MILTER_CONN_FAILED)
		smtp_milter_conn_fail(c);
	(void)smtp_milter_conn_leave(c);
}

struct smtp_milter_conn *
smtp_milter_conn_open(struct event_base *base, int fd,
    const struct sockaddr *sa, socklen_t salen,
    const struct smtp_milter_timeouts *t, smtp_milter_done_fn done,
    smtp_milter_mod_fn mod, void *arg)
{
	struct smtp_milter_conn	*c;
	struct timeval		 tv = { t->connect, 0 };

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->timeouts = *t;
	c->done = done;
	c->mod = mod;
	c->arg = arg;
	if ((c->bev = bufferevent_socket_new(base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		free(c);
		return NULL;
	}
	bufferevent_setcb(c->bev, smtp_milter_conn_read,
	    smtp_milter_conn_written, smtp_milter_conn_event, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0,
	    SMTP_MILTER_REPLY_MAX + 4);
	(void)bufferevent_set_timeouts(c->bev, &tv, &tv);
	(void)bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	/* either way the outcome is reported from the loop, never from
	 * here */
	if (fd != -1 || bufferevent_socket_connect(c->bev, sa,
	    (int)salen) == -1)
		bufferevent_trigger_event(c->bev, fd != -1 ?
		    BEV_EVENT_CONNECTED : BEV_EVENT_ERROR,
		    BEV_TRIG_DEFER_CALLBACKS);
	return c;
}

const struct smtp_milter_optneg *
smtp_milter_conn_optneg(const struct smtp_milter_conn *c)
{
	return &c->optneg;
}

int
smtp_milter_conn_put(struct smtp_milter_conn *c,
    const struct smtp_milter_packet *p)
{
	if (c->state != SMTP_MILTER_CONN_IDLE)
		return -1;
	return smtp_milter_conn_write(c, p);
}

int
smtp_milter_conn_push(struct smtp_milter_conn *c,
    const struct smtp_milter_packet *p)
{
	if (smtp_milter_conn_put(c, p) == -1)
		return -1;
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) <
	    SMTP_MILTER_CONN_HIWAT)
		return 0;
	c->state = SMTP_MILTER_CONN_DRAINING;
	return 1;
}

int
smtp_milter_conn_step(struct smtp_milter_conn *c,
    const struct smtp_milter_packet *p, int eom)
{
	if (c->state != SMTP_MILTER_CONN_IDLE ||
	    smtp_milter_conn_write(c, p) == -1)
		return -1;
	c->state = SMTP_MILTER_CONN_WAITING;
	c->eom = eom;
	smtp_milter_conn_timeouts(c, eom ? c->timeouts.eom :
	    c->timeouts.reply);
	return 0;
}

void
smtp_milter_conn_quit(struct smtp_milter_conn *c,
    const struct smtp_milter_packet *p)
{
	if (c == NULL || c->state != SMTP_MILTER_CONN_IDLE || p->overflow ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		return;
	/* a few octets on an idle non-blocking socket: written at once,
	 * or not at all (the EOF that follows ends the session too) */
	(void)send(bufferevent_getfd(c->bev), p->buf, p->len,
	    MSG_DONTWAIT | MSG_NOSIGNAL);
}

void
smtp_milter_conn_free(struct smtp_milter_conn *c)
{
	if (c == NULL)
		return;
	if (c->busy > 0) {
		c->dead = 1;
		(void)bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		return;
	}
	smtp_milter_conn_destroy(c);
}
