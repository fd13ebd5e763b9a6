/*
 * smtp_session.c: life cycle and I/O of an inbound SMTP session.
 *
 * Interface (smtp_session.h): smtp_session_new() takes an accepted
 * socket, turns it away with 421 if its address already has limit
 * sessions-per-address sessions (smtp_client.c) and, unless "smtp
 * reverse-dns no", looks the client's name up (smtp_dns.c) before it
 * logs the connection and asks policyd; the rest of the front end finds
 * sessions by id, queues replies and closes them.  Input is read as it comes (PIPELINING) into the
 * bufferevent, up to SMTP_INPUT_MAX octets, and executed strictly in
 * order by smtp_session_process(); replies collect in the output buffer
 * and go out in one write per event loop turn.  While a command waits
 * for a peer, or the client does not read its replies, nothing more is
 * parsed.
 *
 * Slow clients: besides the idle timeouts of the bufferevent (restarted
 * by every read), a deadline runs for each command line, timeout command
 * from the moment the session looks for it, and for each DATA body or
 * BDAT chunk, which starts with timeout data of time and earns
 * 1/limit data-rate s more for every octet, never above timeout data
 * (Postfix's smtpd_per_request_deadline and smtpd_min_data_rate).  A
 * client that half-closes gets the replies to everything it sent first.
 * After HELO (PIPELINING not offered), input that was already here when a
 * reply was queued ends the session with 554 5.5.0 (Postfix's
 * smtpd_forbid_unauth_pipelining).
 *
 * Failure behaviour: any trouble with one client (bad input, timeouts,
 * allocation failure for its buffers) ends that session with a reply and
 * a log line; nothing here ends the process.
 */
#include <sys/socket.h>
#include <sys/tree.h>

#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "log.h"
#include "proc.h"
#include "smtp_dns.h"
#include "smtp_dnsbl.h"
#include "smtp_listener.h"
#include "smtp_load.h"
#include "smtp_session.h"
#include "util.h"

/* Unparsed input kept per session; reading pauses beyond it. */
#define SMTP_INPUT_MAX		(64 * 1024)
/* Replies the client has not read; execution pauses beyond it. */
#define SMTP_OUTPUT_MAX		(16 * 1024)
/* RFC 3461 4: DSN parameters lengthen MAIL by up to 100 octets and RCPT
 * by up to 500 (with SIZE, BODY and AUTH beside them); allowed for MAIL
 * and RCPT once the client said EHLO */
#define SMTP_LINE_ESMTP_EXTRA	600

RB_HEAD(smtp_tree, smtp_session);

static int	smtp_session_cmp(struct smtp_session *, struct smtp_session *);
/* libbsd leaves __unused undefined, so spell out RB_GENERATE_STATIC */
RB_GENERATE_INTERNAL(smtp_tree, smtp_session, entry, smtp_session_cmp,
    __attribute__((__unused__)) static)

static struct smtp_tree	 smtp_sessions = RB_INITIALIZER(&smtp_sessions);
static size_t		 smtp_nsessions;
/* one command line at a time is copied out of a session's input */
static char		*smtp_linebuf;
static size_t		 smtp_linecap;

static void	smtp_session_process(struct smtp_session *);

static int
smtp_session_cmp(struct smtp_session *a, struct smtp_session *b)
{
	return a->id < b->id ? -1 : a->id > b->id;
}

struct smtp_session *
smtp_session_find(uint32_t id)
{
	struct smtp_session	 key;

	key.id = id;
	return RB_FIND(smtp_tree, &smtp_sessions, &key);
}

size_t
smtp_session_count(void)
{
	return smtp_nsessions;
}

void
smtp_session_foreach(void (*fn)(struct smtp_session *))
{
	struct smtp_session	*s, *next;

	RB_FOREACH_SAFE(s, smtp_tree, &smtp_sessions, next)
		fn(s);
}

/* ${client_name}: the forward-confirmed name, else "[address]". */
const char *
smtp_session_name(struct smtp_session *s, char *buf, size_t size)
{
	if (s->resolve == SMTP_DNS_OK && s->ptrname != NULL)
		(void)strlcpy(buf, s->ptrname, size);
	else
		(void)snprintf(buf, size, "[%s]", s->addr);
	return buf;
}

/*
 * The client in log lines: "NAME [ADDR]", where NAME is ${client_name},
 * or sendmail's "PTRNAME [ADDR] (may be forged)" when the name the PTR
 * record gave does not lead back to the address.
 */
const char *
smtp_session_relay(struct smtp_session *s, char *buf, size_t size)
{
	char	 name[SMTP_SESSION_NAME_MAX];

	if (s->resolve == SMTP_DNS_FORGED && s->ptrname != NULL)
		(void)snprintf(buf, size, "%s [%s] (may be forged)",
		    s->ptrname, s->addr);
	else
		(void)snprintf(buf, size, "%s [%s]",
		    smtp_session_name(s, name, sizeof(name)), s->addr);
	return buf;
}

/* The protocol word of Received: and the logs (RFC 3848). */
const char *
smtp_session_proto(struct smtp_session *s)
{
	/* RFC 6531 3.7.3: UTF8SMTP... for a transaction with SMTPUTF8 */
	static const char	*names[2][4] = {
		{ "ESMTP", "ESMTPA", "ESMTPS", "ESMTPSA" },
		{ "UTF8SMTP", "UTF8SMTPA", "UTF8SMTPS", "UTF8SMTPSA" }
	};
	int			 utf8 = s->tx != NULL && s->tx->smtputf8;

	if (!s->esmtp)
		return "SMTP";
	return names[utf8][(s->auth_user != NULL) +
	    2 * (s->tls_state == SMTP_TLS_ON)];
}

/* Text form of the peer address; IPv4-mapped IPv6 shown as IPv4. */
void
smtp_session_addr(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	const struct sockaddr_in6	*sin6;
	const struct sockaddr_in	*sin;
	const void			*a = NULL;
	int				 af = ss->ss_family;

	if (af == AF_INET) {
		sin = (const struct sockaddr_in *)ss;
		a = &sin->sin_addr;
	} else if (af == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)ss;
		a = &sin6->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			af = AF_INET;
			a = &sin6->sin6_addr.s6_addr[12];
		}
	}
	if (a == NULL || inet_ntop(af, a, buf, size) == NULL)
		(void)strlcpy(buf, "unknown", size);
}

/* Microseconds on the monotonic clock. */
static int64_t
smtp_session_now(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Arm the deadline usecs from now. */
static void
smtp_session_deadline_set(struct smtp_session *s, int64_t usecs)
{
	struct timeval	 tv;

	if (usecs < 0)
		usecs = 0;
	tv.tv_sec = (time_t)(usecs / 1000000);
	tv.tv_usec = (suseconds_t)(usecs % 1000000);
	(void)evtimer_add(s->deadline, &tv);
}

/*
 * Command or data phase: the idle timeout between two reads; a body
 * starts with timeout data on its deadline, a command phase with none
 * (smtp_session_line() arms it when it waits for a line).
 */
void
smtp_session_data_timeouts(struct smtp_session *s, int data)
{
	struct timeval	 tv;

	tv.tv_sec = data ? conf->timeout_data : conf->timeout_command;
	tv.tv_usec = 0;
	(void)bufferevent_set_timeouts(s->bev, &tv, &tv);
	(void)evtimer_del(s->deadline);
	if (!data)
		return;
	s->body_octets = 0;
	s->body_deadline = smtp_session_now() +
	    (int64_t)conf->timeout_data * 1000000;
	smtp_session_deadline_set(s, (int64_t)conf->timeout_data * 1000000);
}

/*
 * The session waits for a peer of ours in the middle of a body, reading
 * nothing (a genericstable answer): the client cannot send meanwhile, so
 * its body's clock stops until smtp_session_body_release().
 */
void
smtp_session_body_hold(struct smtp_session *s)
{
	if ((s->state != SMTP_ST_DATA && s->state != SMTP_ST_CHUNK) ||
	    s->body_holding || !evtimer_pending(s->deadline, NULL))
		return;
	s->body_held = s->body_deadline - smtp_session_now();
	if (s->body_held < 0)
		s->body_held = 0;
	(void)evtimer_del(s->deadline);
	s->body_holding = 1;
}

void
smtp_session_body_release(struct smtp_session *s)
{
	if (!s->body_holding)
		return;
	s->body_holding = 0;
	s->body_deadline = smtp_session_now() + s->body_held;
	smtp_session_deadline_set(s, s->body_held);
}

/* n body octets were taken: they earn n / limit data-rate seconds. */
static void
smtp_session_body_credit(struct smtp_session *s, size_t n)
{
	int64_t	 now, max;

	if (n == 0)
		return;
	s->body_octets += n;
	now = smtp_session_now();
	max = now + (int64_t)conf->timeout_data * 1000000;
	if (conf->limit_data_rate == 0)
		s->body_deadline = max;
	else
		s->body_deadline += (int64_t)n * 1000000 /
		    (int64_t)conf->limit_data_rate;
	if (s->body_deadline > max)
		s->body_deadline = max;
	/* octets read before a hold began count once it is released */
	if (s->body_holding) {
		s->body_held = s->body_deadline > now ?
		    s->body_deadline - now : 0;
		return;
	}
	smtp_session_deadline_set(s, s->body_deadline - now);
}

/* Arm the timer: seconds from now. */
static void
smtp_session_timer_set(struct smtp_session *s, long secs)
{
	struct timeval	 tv;

	tv.tv_sec = secs > 0 ? secs : 0;
	tv.tv_usec = 0;
	(void)evtimer_add(s->timer, &tv);
}

static void
smtp_session_free(struct smtp_session *s)
{
	/* before smtp_tls_release(), which frees the listener's name */
	if (s->listener != NULL)
		stats_gauge_add_by("smtp.listener.active", "listener",
		    s->listener, -1);
	if (s->tx != NULL)
		smtp_tx_free(s);
	smtp_tls_release(s);
	smtp_auth_release(s);
	RB_REMOVE(smtp_tree, &smtp_sessions, s);
	smtp_nsessions--;
	smtp_client_release(s->addr);
	smtp_listener_release(s->lslot, s->lgen);
	stats_gauge_add("smtp.session.active", -1);
	smtp_dns_cancel(s->dns);
	smtp_dnsbl_cancel(s->dnsbl);
	event_free(s->timer);
	event_free(s->deadline);
	bufferevent_free(s->bev);
	free(s->ptrname);
	free(s->helo);
	free(s->nullserver);
	free(s->local);
	free(s);
}

/* Log the end and free at once (only from the top of a callback). */
static void
smtp_session_end(struct smtp_session *s, const char *reason)
{
	char	 relay[SMTP_SESSION_RELAY_MAX];

	if (s->state != SMTP_ST_CLOSING)
		log_info("%08x: disconnect from %s (%s)", s->id,
		    smtp_session_relay(s, relay, sizeof(relay)), reason);
	smtp_session_free(s);
}

void
smtp_session_reply(struct smtp_session *s, const char *fmt, ...)
{
	struct evbuffer	*out = bufferevent_get_output(s->bev);
	va_list		 ap;

	if (s->state == SMTP_ST_CLOSING)
		return;
	va_start(ap, fmt);
	(void)evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	(void)evbuffer_add(out, "\r\n", 2);
}

/*
 * Queue the last reply (if any) and stop: nothing more is read, and the
 * session is freed once its output is written (or at once, through the
 * timer, if there is nothing to write).
 */
void
smtp_session_close(struct smtp_session *s, const char *reply,
    const char *reason)
{
	char	 relay[SMTP_SESSION_RELAY_MAX];

	if (s->state == SMTP_ST_CLOSING)
		return;
	if (reply != NULL)
		smtp_session_reply(s, "%s", reply);
	log_info("%08x: disconnect from %s (%s)", s->id,
	    smtp_session_relay(s, relay, sizeof(relay)), reason);
	s->state = SMTP_ST_CLOSING;
	/* the socket is with tlsproxy (or gone): nothing can be written */
	if (bufferevent_getfd(s->bev) == -1)
		(void)evbuffer_drain(bufferevent_get_output(s->bev),
		    evbuffer_get_length(bufferevent_get_output(s->bev)));
	(void)bufferevent_disable(s->bev, EV_READ);
	(void)evtimer_del(s->timer);
	(void)evtimer_del(s->deadline);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		event_active(s->timer, EV_TIMEOUT, 1);
}

/* A client too slow or silent: 421 (Postfix's text) and close. */
static void
smtp_session_timeout(struct smtp_session *s, const char *reason)
{
	stats_add("smtp.error.timeout", 1);
	smtp_session_reply(s, "421 4.4.2 %s Error: timeout exceeded",
	    conf->hostname);
	smtp_session_close(s, NULL, reason);
}

/* A client mistake: reply, count, and close past the error limit. */
void
smtp_session_error(struct smtp_session *s, const char *reply)
{
	smtp_session_reply(s, "%s", reply);
	stats_add("smtp.error.command", 1);
	if (++s->nerrors >= conf->limit_errors) {
		stats_add("smtp.error.limit", 1);
		smtp_session_close(s, "421 4.7.0 Too many errors",
		    "too many errors");
	}
}

/* Send the greeting, once the connect verdict and the delay are past. */
void
smtp_session_greet(struct smtp_session *s)
{
	if (s->state != SMTP_ST_CONNECT)
		return;
	smtp_privacy_greet(s);
	s->state = SMTP_ST_HELO;
	smtp_session_process(s);
}

/*
 * Whether the extension of a Srv_Features letter (lowercase) is on for
 * this client: an uppercase letter in its entry clears it, a lowercase
 * one sets it, otherwise dflt (the listener's and the config's choice).
 */
int
smtp_session_feature(const struct smtp_session *s, int letter, int dflt)
{
	if (s->features_clear & POLICY_FEATURE(letter))
		return 0;
	if (s->features_set & POLICY_FEATURE(letter))
		return 1;
	return dflt;
}

/* From now on refuse all but QUIT, HELO, EHLO, NOOP, RSET with reply. */
void
smtp_session_nullserver(struct smtp_session *s, const char *reply)
{
	char	*r;

	if ((r = strdup(reply)) == NULL) {
		smtp_session_close(s, "421 4.3.0 Local error, try again later",
		    "out of memory");
		return;
	}
	free(s->nullserver);
	s->nullserver = r;
}

static void
smtp_session_pause_end(int fd, short ev, void *arg)
{
	struct smtp_session	*s;

	(void)fd;
	(void)ev;
	if ((s = smtp_session_find((uint32_t)(uintptr_t)arg)) == NULL ||
	    s->state == SMTP_ST_CLOSING || s->wait != SMTP_WAIT_THROTTLE)
		return;
	s->wait = SMTP_WAIT_NONE;
	s->pause_done(s);
}

/*
 * A one-shot timer keyed by the session id, not its pointer: a session
 * closed meanwhile is simply not found.
 */
int
smtp_session_pause(struct smtp_session *s, int seconds,
    void (*done)(struct smtp_session *))
{
	struct timeval	 tv = { seconds, 0 };

	s->wait = SMTP_WAIT_THROTTLE;
	s->pause_done = done;
	if (event_base_once(proc_base, -1, EV_TIMEOUT, smtp_session_pause_end,
	    (void *)(uintptr_t)s->id, &tv) == -1) {
		s->wait = SMTP_WAIT_NONE;
		return -1;
	}
	return 0;
}

/* A peer answered: execute what has been waiting. */
void
smtp_session_resume(struct smtp_session *s)
{
	smtp_session_process(s);
}

/* Check a raw command line (with its LF); NULL if it is acceptable. */
static const char *
smtp_session_line_check(const char *p, size_t len)
{
	if (memchr(p, '\0', len) != NULL)
		return "500 5.5.2 NUL character in command line";
	if (len < 2 || p[len - 2] != '\r' ||
	    memchr(p, '\r', len - 2) != NULL ||
	    memchr(p, '\n', len - 1) != NULL)
		return "500 5.5.2 Bare CR or LF in command line";
	return NULL;
}

/* Throw away input up to the end of an overlong line; 1 once done. */
static int
smtp_session_skipline(struct smtp_session *s, struct evbuffer *in)
{
	struct evbuffer_ptr	 p;

	p = evbuffer_search(in, "\n", 1, NULL);
	if (p.pos == -1) {
		(void)evbuffer_drain(in, evbuffer_get_length(in));
		return 0;
	}
	(void)evbuffer_drain(in, (size_t)p.pos + 1);
	s->skipline = 0;
	return 1;
}

static void
smtp_session_line_bad(struct smtp_session *s, const char *reply)
{
	stats_add("smtp.error.line", 1);
	smtp_session_error(s, reply);
}

/* An overlong line: a command's, or one of an AUTH exchange. */
static void
smtp_session_line_toolong(struct smtp_session *s)
{
	if (s->auth_state == SMTP_AUTH_CHALLENGE)
		smtp_auth_toolong(s);
	else
		smtp_session_line_bad(s, "500 5.5.2 Line too long");
}

/* The longest command line the session may send, CRLF included. */
static size_t
smtp_session_line_max(struct smtp_session *s)
{
	size_t	 max, auth = smtp_auth_line_max(s);

	max = conf->limit_command_line +
	    (s->esmtp ? SMTP_LINE_ESMTP_EXTRA : 0);
	return auth > max ? auth : max;
}

/* Whether a line of len octets is too long for its verb. */
static int
smtp_session_line_long(struct smtp_session *s, const char *p, size_t len)
{
	if (s->auth_state == SMTP_AUTH_CHALLENGE)
		return len > smtp_auth_line_max(s);
	if (len <= conf->limit_command_line)
		return 0;
	if (strncasecmp(p, "AUTH ", 5) == 0)
		return len > smtp_auth_line_max(s);
	if (!s->esmtp || len > smtp_session_line_max(s))
		return 1;
	return strncasecmp(p, "MAIL ", 5) != 0 &&
	    strncasecmp(p, "RCPT ", 5) != 0;
}

/* A command line is about to run: check for pipelining once answered. */
static void
smtp_session_sync_mark(struct smtp_session *s, const char *line)
{
	size_t	 i;

	for (i = 0; i < sizeof(s->syncverb) - 1 &&
	    isalpha((unsigned char)line[i]); i++)
		s->syncverb[i] = (char)toupper((unsigned char)line[i]);
	s->syncverb[i] = '\0';
	s->synccheck = 1;
}

/*
 * RFC 5321 4.1.1 / RFC 2920: without PIPELINING (after HELO) the client
 * waits for each reply.  Input that is already here when a reply has
 * just been queued was sent before the client could read it: 554 and
 * close (BDAT's chunk follows its command by design).  1 if closed.
 */
static int
smtp_session_sync_lost(struct smtp_session *s)
{
	char	 relay[SMTP_SESSION_RELAY_MAX];
	size_t	 n = evbuffer_get_length(bufferevent_get_input(s->bev));

	if (!s->synccheck)
		return 0;
	/* the chunk's octets follow BDAT by design: check after its reply */
	if (s->state == SMTP_ST_CHUNK)
		return 0;
	s->synccheck = 0;
	/* a local -bs client pipes a script: no spam bot to catch there */
	if (!conf->smtp_forbid_pipelining || s->esmtp || s->helo == NULL ||
	    s->local != NULL ||
	    s->state == SMTP_ST_CLOSING || n == 0)
		return 0;
	stats_add("smtp.error.pipelining", 1);
	log_info("%08x: improper command pipelining after %s from %s: %zu "
	    "octets", s->id, s->syncverb[0] != '\0' ? s->syncverb : "?",
	    smtp_session_relay(s, relay, sizeof(relay)), n);
	smtp_session_close(s, "554 5.5.0 Error: SMTP protocol synchronization",
	    "SMTP protocol synchronization");
	return 1;
}

/* Take one command line off the input; 0 if none is complete yet. */
static int
smtp_session_line_take(struct smtp_session *s)
{
	struct evbuffer		*in = bufferevent_get_input(s->bev);
	struct evbuffer_ptr	 p;
	const char		*err;
	size_t			 len, max = smtp_session_line_max(s);

	if (s->skipline && !smtp_session_skipline(s, in))
		return 0;
	p = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
	if (p.pos == -1) {
		if (evbuffer_get_length(in) <= max)
			return 0;
		s->skipline = 1;
		smtp_session_line_toolong(s);
		return 1;
	}
	len = (size_t)p.pos + 1;
	if (len > max || len >= smtp_linecap) {
		(void)evbuffer_drain(in, len);
		smtp_session_line_toolong(s);
		return 1;
	}
	if (evbuffer_remove(in, smtp_linebuf, len) != (int)len)
		return 0;
	if (smtp_session_line_long(s, smtp_linebuf, len)) {
		smtp_session_line_toolong(s);
		return 1;
	}
	if ((err = smtp_session_line_check(smtp_linebuf, len)) != NULL) {
		smtp_session_line_bad(s, err);
		return 1;
	}
	smtp_linebuf[len - 2] = '\0';
	smtp_session_sync_mark(s, smtp_linebuf);
	if (s->auth_state == SMTP_AUTH_CHALLENGE)
		smtp_auth_line(s, smtp_linebuf);
	else
		smtp_exec_line(s, smtp_linebuf);
	return 1;
}

/*
 * One command line; the deadline of timeout command starts when the
 * session first finds none complete, so a byte at a time does not
 * restart it.
 */
static int
smtp_session_line(struct smtp_session *s)
{
	if (smtp_load_delay(s))
		return 0;
	if (smtp_session_line_take(s)) {
		/* a DATA or BDAT line has just armed the body's own deadline */
		if (s->state != SMTP_ST_DATA && s->state != SMTP_ST_CHUNK)
			(void)evtimer_del(s->deadline);
		return 1;
	}
	if (!evtimer_pending(s->deadline, NULL))
		smtp_session_deadline_set(s,
		    (int64_t)conf->timeout_command * 1000000);
	return 0;
}

/* DATA or BDAT input, crediting the octets taken (limit data-rate). */
static int
smtp_session_body(struct smtp_session *s)
{
	struct evbuffer	*in = bufferevent_get_input(s->bev);
	size_t		 before = evbuffer_get_length(in);
	int		 r;

	if (s->state == SMTP_ST_DATA)
		r = smtp_tx_data_input(s);
	else
		r = smtp_tx_chunk_input(s);
	/* at the end of the body the command deadline takes over */
	if (s->state == SMTP_ST_DATA || s->state == SMTP_ST_CHUNK)
		smtp_session_body_credit(s, before - evbuffer_get_length(in));
	return r;
}

/* Input before the greeting: the client does not wait for us. */
static void
smtp_session_early(struct smtp_session *s)
{
	stats_add("smtp.error.early_talker", 1);
	smtp_session_close(s,
	    "554 5.5.0 Protocol error: input before the greeting",
	    "early talker");
}

/* One step of the input loop; 0 when it cannot go on for now. */
static int
smtp_session_step(struct smtp_session *s)
{
	switch (s->state) {
	case SMTP_ST_CONNECT:
		if (evbuffer_get_length(bufferevent_get_input(s->bev)) > 0)
			smtp_session_early(s);
		return 0;
	case SMTP_ST_CLOSING:
		return 0;
	case SMTP_ST_DATA:
	case SMTP_ST_CHUNK:
		return smtp_session_body(s);
	default:
		return smtp_session_line(s);
	}
}

/*
 * Execute buffered input, in order, until it runs out, a command waits
 * for a peer, the client stops reading, or the session closes.  After
 * the client's EOF, the session closes once all it sent is answered.
 */
static void
smtp_session_process(struct smtp_session *s)
{
	struct evbuffer	*out = bufferevent_get_output(s->bev);

	for (;;) {
		if (s->wait != SMTP_WAIT_NONE && s->state != SMTP_ST_CONNECT)
			return;
		if (smtp_session_sync_lost(s))
			break;
		if (evbuffer_get_length(out) > SMTP_OUTPUT_MAX) {
			s->wait = SMTP_WAIT_OUTPUT;
			return;
		}
		if (!smtp_session_step(s))
			break;
	}
	if (s->eof && (s->wait == SMTP_WAIT_NONE || s->state == SMTP_ST_CONNECT))
		smtp_session_close(s, NULL, "client closed connection");
	if (s->state == SMTP_ST_CLOSING)
		(void)evbuffer_drain(bufferevent_get_input(s->bev),
		    evbuffer_get_length(bufferevent_get_input(s->bev)));
}

static void
smtp_session_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	smtp_session_process(arg);
}

/* The output is written: finish a close, or go on executing. */
static void
smtp_session_write_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_session	*s = arg;

	(void)bev;
	if (s->state == SMTP_ST_CLOSING) {
		smtp_session_free(s);
		return;
	}
	if (smtp_tls_flushed(s))
		return;
	if (s->wait == SMTP_WAIT_OUTPUT) {
		s->wait = SMTP_WAIT_NONE;
		smtp_session_process(s);
	}
}

static void
smtp_session_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_session	*s = arg;
	char			 reason[128];

	(void)bev;
	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) &&
	    s->state != SMTP_ST_CLOSING) {
		smtp_session_timeout(s, "timeout");
		return;
	}
	/* a half-close (shutdown(SHUT_WR)): answer what came before it */
	if ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_READING) &&
	    s->state != SMTP_ST_CLOSING) {
		s->eof = 1;
		smtp_session_process(s);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		(void)strlcpy(reason, "timeout writing", sizeof(reason));
	else if (what & BEV_EVENT_EOF)
		(void)strlcpy(reason, "client closed connection",
		    sizeof(reason));
	else
		(void)snprintf(reason, sizeof(reason), "error: %s",
		    strerror(errno));
	smtp_session_end(s, reason);
}

/* A command line or a body took too long (smtp_session_line/body). */
static void
smtp_session_deadline_cb(int fd, short ev, void *arg)
{
	struct smtp_session	*s = arg;
	char			 reason[128];

	(void)fd;
	(void)ev;
	if (s->state == SMTP_ST_CLOSING)
		return;
	if (s->state == SMTP_ST_DATA || s->state == SMTP_ST_CHUNK) {
		stats_add("smtp.error.data_rate", 1);
		(void)snprintf(reason, sizeof(reason), "timeout: %llu octets "
		    "of message data, below limit data-rate",
		    (unsigned long long)s->body_octets);
	} else {
		stats_add("smtp.error.deadline", 1);
		(void)snprintf(reason, sizeof(reason), "timeout: command line "
		    "not complete in %ds", conf->timeout_command);
	}
	smtp_session_timeout(s, reason);
}

/* Greeting delay over, session lifetime over, or a deferred free. */
static void
smtp_session_timer_cb(int fd, short ev, void *arg)
{
	struct smtp_session	*s = arg;

	(void)fd;
	(void)ev;
	if (s->state == SMTP_ST_CLOSING) {
		smtp_session_free(s);
		return;
	}
	if (s->delaying) {
		s->delaying = 0;
		smtp_session_timer_set(s, conf->timeout_session -
		    (long)(time(NULL) - s->started));
		if (s->wait == SMTP_WAIT_NONE)
			smtp_session_greet(s);
		return;
	}
	stats_add("smtp.error.timeout", 1);
	smtp_session_reply(s, "421 4.4.2 %s Session too long, closing "
	    "connection", conf->hostname);
	smtp_session_close(s, NULL, "session timeout");
}

/* Allocate and register a session; NULL (fd closed) on failure. */
static struct smtp_session *
smtp_session_alloc(int fd)
{
	struct smtp_session	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		(void)close(fd);
		return NULL;
	}
	s->bev = bufferevent_socket_new(proc_base, fd, BEV_OPT_CLOSE_ON_FREE);
	s->timer = evtimer_new(proc_base, smtp_session_timer_cb, s);
	s->deadline = evtimer_new(proc_base, smtp_session_deadline_cb, s);
	if (s->bev == NULL || s->timer == NULL || s->deadline == NULL) {
		if (s->bev != NULL)
			bufferevent_free(s->bev);
		else
			(void)close(fd);
		if (s->timer != NULL)
			event_free(s->timer);
		if (s->deadline != NULL)
			event_free(s->deadline);
		free(s);
		return NULL;
	}
	do {
		s->id = id_random32();
	} while (smtp_session_find(s->id) != NULL);
	RB_INSERT(smtp_tree, &smtp_sessions, s);
	smtp_nsessions++;
	s->lslot = -1;
	return s;
}

/* The client is known by name (or not): log it, go on to TLS or policy. */
static void
smtp_session_start(struct smtp_session *s)
{
	char	 relay[SMTP_SESSION_RELAY_MAX];

	log_info("%08x: connect from %s on %s", s->id,
	    smtp_session_relay(s, relay, sizeof(relay)),
	    s->listener != NULL ? s->listener : "?");
	if (s->lflags & LISTEN_F_SMTPS) {
		/* implicit TLS: not one octet is read here before it */
		smtp_tls_smtps(s);
		return;
	}
	(void)bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	smtp_peer_policy_query(s, POLICY_CONNECT);
}

/* The reverse lookup ended (smtp_dns.c). */
static void
smtp_session_dns_done(void *arg, enum smtp_dns_resolve r, const char *name)
{
	struct smtp_session	*s = arg;

	s->dns = NULL;
	s->wait = SMTP_WAIT_NONE;
	s->resolve = (uint8_t)r;
	if (name[0] != '\0' && (s->ptrname = strdup(name)) == NULL)
		s->resolve = SMTP_DNS_TEMP;
	if (s->state == SMTP_ST_CLOSING)
		return;
	smtp_session_start(s);
}

/*
 * Look the client up by address (smtp reverse-dns).  Meanwhile input is
 * read only to catch an early talker (none on smtps).  0 if it runs.
 */
static int
smtp_session_dns_start(struct smtp_session *s)
{
	s->dns = smtp_dns_lookup(s->addr, conf->smtp_dns_timeout,
	    smtp_session_dns_done, s);
	if (s->dns == NULL) {
		log_warn("%08x: cannot start the reverse lookup", s->id);
		s->resolve = SMTP_DNS_TEMP;
		return -1;
	}
	s->wait = SMTP_WAIT_DNS;
	if (!(s->lflags & LISTEN_F_SMTPS))
		(void)bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	return 0;
}

/*
 * The reply and log line of a client over one of its limits
 * (smtp_client.c), counted or not yet among its sessions: limit
 * sessions-per-address keeps its own text;
 * ClientConn and ClientRate answer sendmail's (cf/m4/proto.m4 with
 * FEATURE(conncontrol/ratecontrol, `nodelay', `terminate')).
 */
const char *
smtp_session_limit_text(enum smtp_client_verdict v, const char *addr,
    int counted, char *why, size_t len)
{
	if (v == SMTP_CLIENT_RATE) {
		(void)snprintf(why, len, "Connection rate %zu exceeds limit "
		    "%zu", smtp_client_rate(addr), smtp_client_limit(addr, v));
		return "421 4.3.2 Connection rate limit exceeded.";
	}
	(void)snprintf(why, len, "Open connections %zu exceeds limit %zu",
	    smtp_client_sessions(addr) + (counted ? 0 : 1),
	    smtp_client_limit(addr, v));
	return "421 4.3.2 Too many open connections.";
}

/* Over a limit of its address: say so and hang up. */
static void
smtp_session_refuse(int fd, const char *addr, const char *listener,
    enum smtp_client_verdict v)
{
	char		 line[CONF_HOST_MAX + 80], why[128];
	const char	*reply;
	int		 n;

	if (v == SMTP_CLIENT_SESSIONS) {
		n = snprintf(line, sizeof(line), "421 4.7.0 %s Too many "
		    "connections from your address, try again later\r\n",
		    conf->hostname);
		stats_add("smtp.session.refused_address", 1);
		log_info("connection from %s refused on %s: too many sessions "
		    "from that address (%zu)", addr, listener,
		    smtp_client_sessions(addr));
	} else {
		reply = smtp_session_limit_text(v, addr, 0, why,
		    sizeof(why));
		n = snprintf(line, sizeof(line), "%s\r\n", reply);
		stats_add(v == SMTP_CLIENT_RATE ? "smtp.session.refused_rate" :
		    "smtp.session.refused_conn", 1);
		log_info("connection from %s refused on %s: %s: %s", addr,
		    listener, why, reply);
	}
	if (n > 0 && (size_t)n < sizeof(line))
		(void)send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	(void)close(fd);
}

/*
 * The client spoke TLS to the proxy in front (smtp_proxy_tls.c): the
 * session is over TLS from the start, as on smtps, with the proxy's
 * facts; without memory for them it goes on as plaintext.
 */
static void
smtp_session_proxied_tls(struct smtp_session *s, const struct smtp_tls *tls)
{
	if ((s->tls = malloc(sizeof(*s->tls))) == NULL) {
		log_warn("%08x: the proxy's TLS facts are dropped", s->id);
		return;
	}
	*s->tls = *tls;
	s->tls_state = SMTP_TLS_ON;
	stats_add("smtp.proxy.tls", 1);
	log_info("%08x: TLS on at the proxy: version=%s cipher=%s verify=%s",
	    s->id, tls->protocol, tls->cipher, tls->verify);
}

/*
 * A session on fd from addr (held by the caller in smtp_client.c, or
 * "local"), its callbacks and clocks set; NULL (fd closed, logged) if
 * out of memory.
 */
struct smtp_session *
smtp_session_open(int fd, const char *addr, const char *listener,
    uint32_t lflags)
{
	struct smtp_session	*s;

	if ((s = smtp_session_alloc(fd)) == NULL) {
		log_warn("cannot allocate a session");
		stats_add("smtp.error.memory", 1);
		return NULL;
	}
	stats_add("smtp.session", 1);
	stats_gauge_add("smtp.session.active", 1);
	(void)strlcpy(s->addr, addr, sizeof(s->addr));
	s->started = time(NULL);
	s->lflags = lflags;
	if ((s->listener = strdup(listener)) == NULL) {
		s->lflags &= ~(LISTEN_F_TLS | LISTEN_F_TLS_REQUIRE |
		    LISTEN_F_SMTPS);
	} else {
		stats_add_by("smtp.listener.session", "listener", listener, 1);
		stats_gauge_add_by("smtp.listener.active", "listener",
		    listener, 1);
	}
	bufferevent_setcb(s->bev, smtp_session_read_cb, smtp_session_write_cb,
	    smtp_session_event_cb, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, SMTP_INPUT_MAX);
	smtp_session_data_timeouts(s, 0);
	s->delaying = conf->smtp_greeting_delay > 0 &&
	    !(lflags & LISTEN_F_LOCAL);
	smtp_session_timer_set(s, s->delaying ? conf->smtp_greeting_delay :
	    conf->timeout_session);
	return s;
}

/* A new client on listener: find its name, start the clocks; NULL if it
 * was turned away. */
struct smtp_session *
smtp_session_new(int fd, const struct sockaddr_storage *ss,
    const char *listener, uint32_t lflags, const struct smtp_tls *tls)
{
	struct smtp_session	*s;
	char			 addr[INET6_ADDRSTRLEN];
	enum smtp_client_verdict v;
	struct smtp_client_place place;

	smtp_session_addr(ss, addr, sizeof(addr));
	if ((v = smtp_client_hold(addr, &place)) != SMTP_CLIENT_OK) {
		smtp_session_refuse(fd, addr, listener, v);
		return NULL;
	}
	if ((s = smtp_session_open(fd, addr, listener, lflags)) == NULL) {
		smtp_client_release(addr);
		return NULL;
	}
	s->client_place = place;
	if (tls != NULL)
		smtp_session_proxied_tls(s, tls);
	/* asked now, so that the answers are there when they are needed */
	s->dnsbl = smtp_dnsbl_start(s->addr, s->id, smtp_peer_dnsbl_done, s);
	if (!conf->smtp_reverse_dns || smtp_session_dns_start(s) == -1)
		smtp_session_start(s);
	return s;
}

/* Talk over fd from now on (tlsproxy's plaintext end). */
void
smtp_session_attach(struct smtp_session *s, int fd)
{
	(void)bufferevent_setfd(s->bev, fd);
	smtp_session_data_timeouts(s, 0);
	(void)bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

/*
 * Take the socket away from the session for tlsproxy: no event is left
 * on it and unread input is thrown away (RFC 3207 5: nothing the client
 * sent in plaintext is carried over).  The caller owns the descriptor.
 */
int
smtp_session_detach(struct smtp_session *s)
{
	struct evbuffer	*in = bufferevent_get_input(s->bev);
	int		 fd = bufferevent_getfd(s->bev);

	(void)bufferevent_disable(s->bev, EV_READ | EV_WRITE);
	(void)bufferevent_setfd(s->bev, -1);
	(void)evbuffer_drain(in, evbuffer_get_length(in));
	/* nothing read in plaintext is left to judge; TLS is a new start */
	s->synccheck = 0;
	(void)evtimer_del(s->deadline);
	return fd;
}

/* A new config: size the command line buffer for its limit after EHLO. */
void
smtp_session_config(void)
{
	size_t	 need;
	char	*p;

	need = conf->limit_command_line + SMTP_LINE_ESMTP_EXTRA + 1;
	/* an AUTH line: see smtp_auth_line_max() */
	if (need < conf->auth_line_max + 32)
		need = conf->auth_line_max + 32;
	if (need <= smtp_linecap)
		return;
	if ((p = realloc(smtp_linebuf, need)) == NULL) {
		log_warn("command line buffer of %zu octets", need);
		return;
	}
	smtp_linebuf = p;
	smtp_linecap = need;
}

/* SIGTERM: tell idle clients, then drop every session. */
static void
smtp_session_stop(struct smtp_session *s)
{
	char	 line[CONF_HOST_MAX + 64];
	int	 n;

	if (s->state != SMTP_ST_CLOSING && evbuffer_get_length(
	    bufferevent_get_output(s->bev)) == 0) {
		n = snprintf(line, sizeof(line),
		    "421 4.3.2 %s Service shutting down\r\n", conf->hostname);
		if (n > 0 && (size_t)n < sizeof(line))
			(void)send(bufferevent_getfd(s->bev), line, (size_t)n,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	smtp_session_end(s, "shutdown");
}

void
smtp_session_shutdown(void)
{
	smtp_session_foreach(smtp_session_stop);
}
