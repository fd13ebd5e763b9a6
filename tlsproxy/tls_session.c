/*
 * tls_session.c: one TLS connection of tlsproxy, from the request of the
 * front end or outbound client to the end of its relay.
 *
 * Server side: PREPARE creates the session (listener, client address),
 * START brings the socket.  The first record is read and must be a
 * ClientHello (else ${verify} PROTOCOL); its SNI picks the pki; libtls
 * then runs the handshake, fed first with the octets already read.
 * Client side: START brings the socket, the name for SNI and the client
 * pki.  Both sides run without libtls verification; tls_verify.c gives
 * ${verify}.  Every step is non-blocking on libevent, under the
 * "timeout tls-handshake" timer.
 *
 * Then: the facts are logged (sendmail's STARTTLS= lines), a socketpair
 * is made, the result goes to the requester with one end (through the
 * callback given to tls_session_init()) and tls_relay.c relays.  On
 * failure the result carries no descriptor and the session is freed.
 *
 * ${verify} on failure: TEMP for a timeout or a local shortage, PROTOCOL
 * for a peer that does not speak TLS, SOFTWARE for a failed handshake.
 *
 * Failure: nothing a peer sends ends the process; each error costs its
 * session only.
 */
#include <sys/socket.h>
#include <sys/tree.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <tls.h>

#include "log.h"
#include "proc.h"
#include "tlsproxy.h"

/* a ClientHello record: header and the largest record allowed */
#define TLS_HELLO_BUFSIZE	(5 + 16384 + 2048)

enum tls_session_state {
	TLS_S_PREPARED,		/* server: waiting for the socket */
	TLS_S_HELLO,		/* server: reading the ClientHello */
	TLS_S_HANDSHAKE,
	TLS_S_RELAY
};

struct tls_session {
	RB_ENTRY(tls_session)	 entry;
	enum proc_id		 peer;
	uint32_t		 id;
	int			 client;	/* we are the TLS client */
	enum tls_session_state	 state;
	uint32_t		 flags;		/* TLS_F_* */
	int			 fd;
	struct tls		*ctx;
	struct tls_pkiset	*set;
	struct event		*ev_read, *ev_write, *ev_timer;
	char			 listener[80];
	char			 relay[TLS_NAME_MAX + 4];	/* for logs */
	uint8_t			*hello;		/* ClientHello octets read */
	size_t			 hellolen, hellooff;
	struct tls_facts	 facts;
	struct tls_relay	*relaying;
};

RB_HEAD(tls_session_tree, tls_session);

static struct tls_session_tree	 tls_sessions =
    RB_INITIALIZER(&tls_sessions);
static size_t			 tls_nsessions;
static tls_session_result_fn	 tls_result_fn;

static void	tls_session_io(int, short, void *);
static void	tls_session_step(struct tls_session *);

static int
tls_session_cmp(const struct tls_session *a, const struct tls_session *b)
{
	if (a->peer != b->peer)
		return a->peer < b->peer ? -1 : 1;
	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	return 0;
}

/* libbsd leaves __unused undefined, so spell out RB_GENERATE_STATIC */
RB_GENERATE_INTERNAL(tls_session_tree, tls_session, entry, tls_session_cmp,
    __attribute__((__unused__)) static)

void
tls_session_init(tls_session_result_fn fn)
{
	tls_result_fn = fn;
}

struct tls_session *
tls_session_find(enum proc_id peer, uint32_t id)
{
	struct tls_session	 key;

	key.peer = peer;
	key.id = id;
	return RB_FIND(tls_session_tree, &tls_sessions, &key);
}

size_t
tls_session_count(void)
{
	return tls_nsessions;
}

int
tls_session_started(const struct tls_session *s)
{
	return s->state != TLS_S_PREPARED;
}

/* A new session in the tree; NULL if the id is taken or no memory. */
static struct tls_session *
tls_session_new(enum proc_id peer, uint32_t id)
{
	struct tls_session	*s;

	if (tls_session_find(peer, id) != NULL ||
	    (s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->peer = peer;
	s->id = id;
	s->fd = -1;
	s->ev_timer = evtimer_new(proc_base, tls_session_io, s);
	if (s->ev_timer == NULL) {
		free(s);
		return NULL;
	}
	(void)RB_INSERT(tls_session_tree, &tls_sessions, s);
	tls_nsessions++;
	stats_set("tls.session.active", (int64_t)tls_nsessions);
	return s;
}

void
tls_session_free(struct tls_session *s)
{
	if (s == NULL)
		return;
	RB_REMOVE(tls_session_tree, &tls_sessions, s);
	tls_nsessions--;
	stats_set("tls.session.active", (int64_t)tls_nsessions);
	tls_relay_free(s->relaying);
	if (s->ev_read != NULL)
		event_free(s->ev_read);
	if (s->ev_write != NULL)
		event_free(s->ev_write);
	event_free(s->ev_timer);
	tls_free(s->ctx);
	if (s->fd != -1)
		(void)close(s->fd);
	tls_pki_unref(s->set);
	free(s->hello);
	free(s);
}

/* Every session of a peer that went away. */
void
tls_session_drop_peer(enum proc_id peer)
{
	struct tls_session	*s, *next;

	RB_FOREACH_SAFE(s, tls_session_tree, &tls_sessions, next)
		if (s->peer == peer)
			tls_session_free(s);
}

/* PREPARE: a server session waiting for its socket. */
struct tls_session *
tls_session_prepare(enum proc_id peer, uint32_t id, const char *listener,
    const char *addr, uint32_t flags)
{
	struct tls_session	*s;
	struct timeval		 tv;

	if ((s = tls_session_new(peer, id)) == NULL)
		return NULL;
	s->state = TLS_S_PREPARED;
	s->flags = flags;
	(void)strlcpy(s->listener, listener, sizeof(s->listener));
	(void)snprintf(s->relay, sizeof(s->relay), "[%s]", addr);
	/* a requester that never starts does not keep it forever */
	tv.tv_sec = conf != NULL ? conf->timeout_tls_handshake : 30;
	tv.tv_usec = 0;
	(void)evtimer_add(s->ev_timer, &tv);
	return s;
}

/* The handshake failed: log, tell the requester, free. */
static void
tls_session_fail(struct tls_session *s, uint32_t status, const char *verify,
    const char *why)
{
	struct tls_facts	*f = &s->facts;

	f->status = status;
	(void)strlcpy(f->verify, verify, sizeof(f->verify));
	(void)strlcpy(f->error, why, sizeof(f->error));
	log_info("%08x: STARTTLS=%s, error: %s failed=-1, reason=%s, "
	    "verify=%s, relay=%s", s->id, s->client ? "client" : "server",
	    s->client ? "connect" : "accept", why, verify, s->relay);
	stats_add("tls.handshake.failed", 1);
	stats_add_by(s->client ? "tls.client.failed" : "tls.server.failed",
	    "verify", verify, 1);
	tls_result_fn(s->peer, s->id, f, -1);
	tls_session_free(s);
}

/* Watch the socket for what the TLS layer (or the hello) waits for. */
static int
tls_session_events(struct tls_session *s, int fd)
{
	s->ev_read = event_new(proc_base, fd, EV_READ, tls_session_io, s);
	s->ev_write = event_new(proc_base, fd, EV_WRITE, tls_session_io, s);
	return s->ev_read != NULL && s->ev_write != NULL ? 0 : -1;
}

/* Arm the handshake timer and the descriptor; -1 on local trouble. */
static int
tls_session_arm(struct tls_session *s, int fd)
{
	struct timeval	 tv;
	int		 fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    tls_session_events(s, fd) == -1)
		return -1;
	tv.tv_sec = conf != NULL ? conf->timeout_tls_handshake : 30;
	tv.tv_usec = 0;
	(void)evtimer_add(s->ev_timer, &tv);
	return 0;
}

/* libtls reads through this: the ClientHello octets first. */
static ssize_t
tls_session_read_cb(struct tls *ctx, void *buf, size_t len, void *arg)
{
	struct tls_session	*s = arg;
	size_t			 n;
	ssize_t			 r;

	(void)ctx;
	if (s->hellooff < s->hellolen) {
		n = s->hellolen - s->hellooff;
		if (n > len)
			n = len;
		memcpy(buf, s->hello + s->hellooff, n);
		s->hellooff += n;
		return (ssize_t)n;
	}
	if ((r = read(s->fd, buf, len)) == -1 &&
	    (errno == EAGAIN || errno == EINTR))
		return TLS_WANT_POLLIN;
	return r;
}

static ssize_t
tls_session_write_cb(struct tls *ctx, const void *buf, size_t len,
    void *arg)
{
	struct tls_session	*s = arg;
	ssize_t			 r;

	(void)ctx;
	if ((r = write(s->fd, buf, len)) == -1 &&
	    (errno == EAGAIN || errno == EINTR))
		return TLS_WANT_POLLOUT;
	return r;
}

/* START: take the client's socket and wait for its ClientHello. */
void
tls_session_server_start(struct tls_session *s, int fd, uint32_t flags)
{
	s->fd = fd;
	s->flags |= flags;
	s->state = TLS_S_HELLO;
	if ((s->set = tls_pki_current()) == NULL) {
		tls_session_fail(s, STATUS_TEMPFAIL, TLS_VERIFY_TEMP,
		    "no certificate loaded");
		return;
	}
	(void)tls_pki_ref(s->set);
	if ((s->hello = malloc(TLS_HELLO_BUFSIZE)) == NULL ||
	    tls_session_arm(s, fd) == -1) {
		tls_session_fail(s, STATUS_TEMPFAIL, TLS_VERIFY_TEMP,
		    "out of resources");
		return;
	}
	(void)event_add(s->ev_read, NULL);
}

/* The listener's own pki, from the config in force ("" if none). */
static const char *
tls_session_listener_pki(const struct tls_session *s)
{
	const struct listener	*l;

	if (conf == NULL)
		return "";
	TAILQ_FOREACH(l, &conf->listeners, entry)
		if (strcmp(l->name, s->listener) == 0)
			return l->pki;
	return "";
}

/* The ClientHello is in: choose the pki and start libtls on it. */
static void
tls_session_accept(struct tls_session *s, int sni_invalid)
{
	struct tls	*srv;

	if (sni_invalid) {
		log_info("%08x: STARTTLS=server, relay=%s, invalid SNI "
		    "ignored", s->id, s->relay);
		stats_add("tls.sni.invalid", 1);
	}
	srv = tls_pki_server(s->set, s->facts.sni, tls_session_listener_pki(s),
	    s->flags & TLS_F_VERIFY_PEER);
	if (srv == NULL) {
		tls_session_fail(s, STATUS_TEMPFAIL, TLS_VERIFY_TEMP,
		    "no certificate loaded");
		return;
	}
	if (tls_accept_cbs(srv, &s->ctx, tls_session_read_cb,
	    tls_session_write_cb, s) == -1) {
		tls_session_fail(s, STATUS_TEMPFAIL, TLS_VERIFY_SOFTWARE,
		    tls_error(srv));
		return;
	}
	s->state = TLS_S_HANDSHAKE;
	tls_session_step(s);
}

/* Read what has come of the first record and look at it. */
static void
tls_session_hello(struct tls_session *s)
{
	ssize_t	 n;
	int	 invalid;

	n = read(s->fd, s->hello + s->hellolen,
	    TLS_HELLO_BUFSIZE - s->hellolen);
	if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
		(void)event_add(s->ev_read, NULL);
		return;
	}
	if (n <= 0) {
		tls_session_fail(s, STATUS_TEMPFAIL, TLS_VERIFY_SOFTWARE,
		    n == 0 ? "connection closed before ClientHello" :
		    strerror(errno));
		return;
	}
	s->hellolen += n;
	switch (tls_hello_parse(s->hello, s->hellolen, s->facts.sni,
	    sizeof(s->facts.sni), &invalid)) {
	case TLS_HELLO_MORE:
		if (s->hellolen == TLS_HELLO_BUFSIZE)
			break;
		(void)event_add(s->ev_read, NULL);
		return;
	case TLS_HELLO_DONE:
		tls_session_accept(s, invalid);
		return;
	case TLS_HELLO_GARBAGE:
		break;
	}
	stats_add("tls.handshake.garbage", 1);
	tls_session_fail(s, STATUS_PERMFAIL, TLS_VERIFY_PROTOCOL,
	    "not a TLS ClientHello");
}

/* ${alg_bits}: libtls gives the effective bits only (spec 6). */
static uint32_t
tls_session_alg_bits(const char *cipher, uint32_t bits)
{
	if (strstr(cipher, "DES-CBC3") != NULL ||
	    strstr(cipher, "3DES") != NULL)
		return 168;
	return bits;
}

/* The facts of an established connection. */
static void
tls_session_facts(struct tls_session *s)
{
	struct tls_facts	*f = &s->facts;
	const uint8_t		*chain;
	const char		*v;
	size_t			 len = 0;
	int			 bits;

	f->status = STATUS_OK;
	f->error[0] = '\0';
	v = tls_conn_version(s->ctx);
	(void)strlcpy(f->protocol, v != NULL ? v : "", sizeof(f->protocol));
	v = tls_conn_cipher(s->ctx);
	(void)strlcpy(f->cipher, v != NULL ? v : "", sizeof(f->cipher));
	bits = tls_conn_cipher_strength(s->ctx);
	f->cipher_bits = bits > 0 ? (uint32_t)bits : 0;
	f->alg_bits = tls_session_alg_bits(f->cipher, f->cipher_bits);
	chain = tls_peer_cert_provided(s->ctx) ?
	    tls_peer_cert_chain_pem(s->ctx, &len) : NULL;
	tls_verify_peer(tls_pki_store(s->set), chain, len,
	    s->client || (s->flags & TLS_F_VERIFY_PEER), f);
	if (s->client && (s->flags & TLS_F_VERIFY_NAME))
		tls_verify_name(chain, len, s->relay, f);
}

/* sendmail's STARTTLS= lines (spec 7.1) and the counters. */
static void
tls_session_log(const struct tls_session *s)
{
	const struct tls_facts	*f = &s->facts;
	const char		*side = s->client ? "client" : "server";
	int			 resumed = tls_conn_session_resumed(s->ctx) == 1;

	log_info("%08x: STARTTLS=%s, relay=%s, version=%s, verify=%s, "
	    "cipher=%s, bits=%u/%u, resumed=%s", s->id, side, s->relay,
	    f->protocol, f->verify, f->cipher, f->alg_bits, f->cipher_bits,
	    resumed ? "yes" : "no");
	if (f->fingerprint[0] != '\0')
		log_info("%08x: STARTTLS=%s, cert-subject=%s, cert-issuer=%s, "
		    "verifymsg=%s", s->id, side, f->subject, f->issuer,
		    f->verifymsg);
	if (!s->client && f->sni[0] != '\0')
		log_debug("%08x: STARTTLS=server, sni=%s", s->id, f->sni);
	stats_add("tls.handshake.ok", 1);
	if (resumed)
		stats_add("tls.handshake.resumed", 1);
	if (strcmp(f->verify, TLS_VERIFY_OK) == 0)
		stats_add("tls.verify.ok", 1);
	else if (strcmp(f->verify, TLS_VERIFY_FAIL) == 0)
		stats_add("tls.verify.fail", 1);
}

static void
tls_session_relay_done(void *arg, const char *why)
{
	struct tls_session	*s = arg;
	uint64_t		 in, out;

	tls_relay_counts(s->relaying, &in, &out);
	log_debug("%08x: tls relay ended (%s), in=%llu out=%llu", s->id, why,
	    (unsigned long long)in, (unsigned long long)out);
	tls_session_free(s);
}

/* Handshake done: facts, socketpair, result, relay. */
static void
tls_session_established(struct tls_session *s)
{
	int	 sp[2], fl;

	(void)evtimer_del(s->ev_timer);
	tls_session_facts(s);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		tls_session_fail(s, STATUS_TEMPFAIL, TLS_VERIFY_TEMP,
		    strerror(errno));
		return;
	}
	if ((fl = fcntl(sp[0], F_GETFL)) == -1 ||
	    fcntl(sp[0], F_SETFL, fl | O_NONBLOCK) == -1 ||
	    (s->relaying = tls_relay_start(s->ctx, s->fd, sp[0],
	    conf != NULL ? conf->timeout_tls_idle : 900,
	    tls_session_relay_done, s)) == NULL) {
		(void)close(sp[0]);
		(void)close(sp[1]);
		tls_session_fail(s, STATUS_TEMPFAIL, TLS_VERIFY_TEMP,
		    "out of resources");
		return;
	}
	s->state = TLS_S_RELAY;
	event_free(s->ev_read);
	event_free(s->ev_write);
	s->ev_read = s->ev_write = NULL;
	tls_session_log(s);
	tls_result_fn(s->peer, s->id, &s->facts, sp[1]);
}

/* One more step of the handshake. */
static void
tls_session_step(struct tls_session *s)
{
	int	 r;

	r = tls_handshake(s->ctx);
	if (r == TLS_WANT_POLLIN)
		(void)event_add(s->ev_read, NULL);
	else if (r == TLS_WANT_POLLOUT)
		(void)event_add(s->ev_write, NULL);
	else if (r == -1)
		tls_session_fail(s, STATUS_TEMPFAIL, TLS_VERIFY_SOFTWARE,
		    tls_error(s->ctx) != NULL ? tls_error(s->ctx) :
		    "handshake failed");
	else
		tls_session_established(s);
}

static void
tls_session_io(int fd, short ev, void *arg)
{
	struct tls_session	*s = arg;

	(void)fd;
	if (ev & EV_TIMEOUT) {
		stats_add("tls.handshake.timeout", 1);
		tls_session_fail(s, STATUS_TEMPFAIL, TLS_VERIFY_TEMP,
		    "handshake timeout");
		return;
	}
	if (s->state == TLS_S_HELLO)
		tls_session_hello(s);
	else if (s->state == TLS_S_HANDSHAKE)
		tls_session_step(s);
}

/*
 * CLIENT_START: run the client side on fd, with SNI set to servername
 * when it is a host name.  0 if started (the result comes later), -1 if
 * the id is taken (fd is then the caller's).
 */
int
tls_session_client_start(enum proc_id peer, uint32_t id, int fd,
    const char *servername, const char *pki, uint32_t flags)
{
	struct tls_session	*s;
	char			 err[256];
	const char		*sni;

	if ((s = tls_session_new(peer, id)) == NULL)
		return -1;
	s->client = 1;
	s->fd = fd;
	s->flags = flags;
	s->state = TLS_S_HANDSHAKE;
	(void)strlcpy(s->relay, servername, sizeof(s->relay));
	sni = tls_text_hostname_valid(servername) ? servername : NULL;
	if (sni != NULL)
		(void)strlcpy(s->facts.sni, sni, sizeof(s->facts.sni));
	if ((s->set = tls_pki_current()) == NULL) {
		tls_session_fail(s, STATUS_TEMPFAIL, TLS_VERIFY_TEMP,
		    "no TLS configuration loaded");
		return 0;
	}
	(void)tls_pki_ref(s->set);
	if ((s->ctx = tls_pki_client(s->set, pki, err, sizeof(err))) == NULL) {
		tls_session_fail(s, STATUS_TEMPFAIL, TLS_VERIFY_TEMP, err);
		return 0;
	}
	if (tls_session_arm(s, fd) == -1 ||
	    tls_connect_socket(s->ctx, fd, sni) == -1) {
		tls_session_fail(s, STATUS_TEMPFAIL, TLS_VERIFY_SOFTWARE,
		    tls_error(s->ctx) != NULL ? tls_error(s->ctx) :
		    "out of resources");
		return 0;
	}
	tls_session_step(s);
	return 0;
}
