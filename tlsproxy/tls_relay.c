/*
 * tls_relay.c: after a handshake, copy plaintext between the TLS
 * connection and the socketpair end whose twin was handed to the front
 * end or the outbound client.
 *
 * Each direction has one fixed buffer of TLS_RELAY_BUFSIZE octets: when
 * it is full the source is not read until the sink took some, so a slow
 * reader slows the writer down (TCP or socketpair backpressure) and
 * memory never grows.  All four operations are retried in one loop until
 * none makes progress; then exactly the events that can unblock them are
 * armed.  libtls may need the network to be writable to read (and the
 * reverse); its TLS_WANT_POLLIN/POLLOUT answers say which.
 *
 * End: the network side's EOF or close_notify is passed on as EOF of the
 * plaintext end after the buffer is flushed; the plaintext side's EOF
 * sends close_notify after the buffer is flushed.  Either ends the
 * relay, as does an error or no traffic for the idle timeout.  The owner
 * learns it through the done callback (called from the event loop, once)
 * and then frees the relay.
 *
 * Failure: every error ends this relay only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <tls.h>

#include "proc.h"
#include "tlsproxy.h"

/* rounds of one pass before yielding to the other sessions */
#define TLS_RELAY_ROUNDS	8

struct tls_relay {
	struct tls		*ctx;
	int			 netfd;
	int			 plainfd;
	uint8_t			 in[TLS_RELAY_BUFSIZE];	/* network -> plain */
	size_t			 inlen;
	uint8_t			 out[TLS_RELAY_BUFSIZE]; /* plain -> network */
	size_t			 outlen;
	int			 net_eof;
	int			 plain_eof;
	int			 plain_ready;	/* worth a read(2) */
	int			 closing;	/* close_notify being sent */
	short			 want_net;
	short			 want_plain;
	struct event		*ev_net_r, *ev_net_w;
	struct event		*ev_plain_r, *ev_plain_w;
	struct event		*ev_idle;
	int			 idle;
	tls_relay_done_fn	 done;
	void			*arg;
	uint64_t		 nin, nout;
	const char		*why;		/* set once the relay ended */
};

static void	tls_relay_event(int, short, void *);

/* Take n octets off the front of a buffer. */
static void
tls_relay_consume(uint8_t *buf, size_t *len, size_t n)
{
	memmove(buf, buf + n, *len - n);
	*len -= n;
}

/* A libtls return value that is not data: remember what it waits for. */
static int
tls_relay_tls_want(struct tls_relay *r, ssize_t n, const char *op)
{
	if (n == TLS_WANT_POLLIN)
		r->want_net |= EV_READ;
	else if (n == TLS_WANT_POLLOUT)
		r->want_net |= EV_WRITE;
	else {
		r->why = tls_error(r->ctx) != NULL ? tls_error(r->ctx) : op;
		return -1;
	}
	return 0;
}

/* Network to plaintext; 1 on progress, 0 if blocked, -1 when over. */
static int
tls_relay_inbound(struct tls_relay *r)
{
	ssize_t	 n;
	int	 progress = 0;

	if (!r->net_eof && r->inlen < sizeof(r->in)) {
		n = tls_read(r->ctx, r->in + r->inlen, sizeof(r->in) - r->inlen);
		if (n > 0) {
			r->inlen += n;
			r->nin += n;
			progress = 1;
		} else if (n == 0) {
			r->net_eof = 1;
			progress = 1;
		} else if (tls_relay_tls_want(r, n, "tls read error") == -1)
			return -1;
	}
	if (r->inlen > 0) {
		n = write(r->plainfd, r->in, r->inlen);
		if (n > 0) {
			tls_relay_consume(r->in, &r->inlen, n);
			progress = 1;
		} else if (n == -1 && (errno == EAGAIN || errno == EINTR))
			r->want_plain |= EV_WRITE;
		else {
			r->why = "plaintext side closed";
			return -1;
		}
	}
	if (r->net_eof && r->inlen == 0) {
		/*
		 * Answer the peer's close_notify: OpenSSL drops from its
		 * session cache a connection ended without ours, and the
		 * client's TLS 1.2 session ID would not resume.
		 */
		(void)tls_close(r->ctx);
		r->why = "peer closed";
		return -1;
	}
	return progress;
}

/* Plaintext to network; 1 on progress, 0 if blocked, -1 when over. */
static int
tls_relay_outbound(struct tls_relay *r)
{
	ssize_t	 n;
	size_t	 space;
	int	 progress = 0;

	/*
	 * The socketpair holds no data of ours once a read came back short
	 * or empty: wait for its event (level-triggered, so nothing that
	 * came in between is missed) instead of a read(2) per pass that
	 * finds nothing.  The network side cannot do this: OpenSSL may hold
	 * records it has read ahead.
	 */
	space = sizeof(r->out) - r->outlen;
	if (!r->plain_eof && space > 0 && !r->plain_ready)
		r->want_plain |= EV_READ;
	else if (!r->plain_eof && space > 0) {
		n = read(r->plainfd, r->out + r->outlen, space);
		if (n > 0) {
			r->outlen += n;
			r->plain_ready = (size_t)n == space;
			progress = 1;
		} else if (n == 0) {
			r->plain_eof = 1;
			progress = 1;
		} else if (errno == EAGAIN || errno == EINTR) {
			r->plain_ready = errno == EINTR;
			r->want_plain |= EV_READ;
		} else {
			r->why = "plaintext side error";
			return -1;
		}
	}
	if (r->outlen > 0) {
		n = tls_write(r->ctx, r->out, r->outlen);
		if (n > 0) {
			tls_relay_consume(r->out, &r->outlen, n);
			r->nout += n;
			progress = 1;
		} else if (tls_relay_tls_want(r, n, "tls write error") == -1)
			return -1;
	}
	return progress;
}

/* Plaintext side done and flushed: send close_notify. */
static int
tls_relay_close(struct tls_relay *r)
{
	int	 n;

	r->closing = 1;
	n = tls_close(r->ctx);
	if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT)
		return tls_relay_tls_want(r, n, "");
	r->why = "local close";
	return -1;
}

/*
 * Move data until nothing moves: 0 nothing moved, 1 moved, 2 still
 * moving after TLS_RELAY_ROUNDS (run again later), -1 the relay is over.
 */
static int
tls_relay_pump(struct tls_relay *r)
{
	int	 a, b, moved = 0, round;

	for (round = 0;; round++) {
		if (round == TLS_RELAY_ROUNDS)
			return 2;
		r->want_net = r->want_plain = 0;
		if (r->closing)
			return tls_relay_close(r);
		if ((a = tls_relay_inbound(r)) == -1 ||
		    (b = tls_relay_outbound(r)) == -1)
			return -1;
		if (r->plain_eof && r->outlen == 0)
			return tls_relay_close(r);
		if (!a && !b)
			break;
		moved = 1;
	}
	return moved;
}

static void
tls_relay_arm(struct event *ev, int on)
{
	if (on && !event_pending(ev, EV_READ | EV_WRITE, NULL))
		(void)event_add(ev, NULL);
	else if (!on)
		(void)event_del(ev);
}

static void
tls_relay_run(struct tls_relay *r)
{
	struct timeval	 tv = { r->idle, 0 };
	int		 moved;

	if ((moved = tls_relay_pump(r)) == -1) {
		(void)event_del(r->ev_idle);
		tls_relay_arm(r->ev_net_r, 0);
		tls_relay_arm(r->ev_net_w, 0);
		tls_relay_arm(r->ev_plain_r, 0);
		tls_relay_arm(r->ev_plain_w, 0);
		r->done(r->arg, r->why);
		return;
	}
	tls_relay_arm(r->ev_net_r, r->want_net & EV_READ);
	tls_relay_arm(r->ev_net_w, r->want_net & EV_WRITE);
	tls_relay_arm(r->ev_plain_r, r->want_plain & EV_READ);
	tls_relay_arm(r->ev_plain_w, r->want_plain & EV_WRITE);
	if (moved || !event_pending(r->ev_idle, EV_TIMEOUT, NULL))
		(void)event_add(r->ev_idle, &tv);
	/* a busy relay yields, then goes on where it stopped */
	if (moved == 2)
		event_active(r->ev_net_r, EV_READ, 1);
}

static void
tls_relay_event(int fd, short ev, void *arg)
{
	struct tls_relay	*r = arg;

	if (fd == r->plainfd && (ev & EV_READ))
		r->plain_ready = 1;
	if (ev & EV_TIMEOUT) {
		r->why = "idle timeout";
		stats_add("tls.relay.idle_timeout", 1);
		r->closing = 1;
		(void)tls_close(r->ctx);
		r->done(r->arg, r->why);
		return;
	}
	tls_relay_run(r);
}

/*
 * Start relaying; plainfd (non-blocking) is owned by the relay from now
 * on, netfd and ctx stay the caller's.  NULL if out of memory (plainfd
 * is then still the caller's).  The first pass runs from the event loop:
 * libtls may already hold application data that came with the
 * handshake's last flight, and the network would never signal it.
 */
struct tls_relay *
tls_relay_start(struct tls *ctx, int netfd, int plainfd, int idle,
    tls_relay_done_fn done, void *arg)
{
	struct tls_relay	*r;
	struct timeval		 tv = { idle, 0 };

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->ctx = ctx;
	r->netfd = netfd;
	r->plainfd = plainfd;
	r->plain_ready = 1;
	r->idle = idle;
	r->done = done;
	r->arg = arg;
	/*
	 * Persistent: an event stays in epoll while the relay wants it
	 * (tls_relay_arm() removes it when not), instead of libevent taking
	 * a one-shot event out at each wakeup and the next pass putting it
	 * back, two epoll_ctl(2) per wakeup.
	 */
	r->ev_net_r = event_new(proc_base, netfd, EV_READ | EV_PERSIST,
	    tls_relay_event, r);
	r->ev_net_w = event_new(proc_base, netfd, EV_WRITE | EV_PERSIST,
	    tls_relay_event, r);
	r->ev_plain_r = event_new(proc_base, plainfd, EV_READ | EV_PERSIST,
	    tls_relay_event, r);
	r->ev_plain_w = event_new(proc_base, plainfd, EV_WRITE | EV_PERSIST,
	    tls_relay_event, r);
	r->ev_idle = evtimer_new(proc_base, tls_relay_event, r);
	if (r->ev_net_r == NULL || r->ev_net_w == NULL ||
	    r->ev_plain_r == NULL || r->ev_plain_w == NULL ||
	    r->ev_idle == NULL) {
		r->plainfd = -1;
		tls_relay_free(r);
		return NULL;
	}
	(void)event_add(r->ev_idle, &tv);
	event_active(r->ev_net_r, EV_READ, 1);
	return r;
}

void
tls_relay_free(struct tls_relay *r)
{
	if (r == NULL)
		return;
	if (r->ev_net_r != NULL)
		event_free(r->ev_net_r);
	if (r->ev_net_w != NULL)
		event_free(r->ev_net_w);
	if (r->ev_plain_r != NULL)
		event_free(r->ev_plain_r);
	if (r->ev_plain_w != NULL)
		event_free(r->ev_plain_w);
	if (r->ev_idle != NULL)
		event_free(r->ev_idle);
	if (r->plainfd != -1)
		(void)close(r->plainfd);
	free(r);
}

void
tls_relay_counts(const struct tls_relay *r, uint64_t *in, uint64_t *out)
{
	*in = r->nin;
	*out = r->nout;
}
