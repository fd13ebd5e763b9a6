/*
 * smtp_local.c: sessions on the sendmail command's socket (`sendmail
 * socket`, sendmail(8)): local submissions, identified by SO_PEERCRED.
 *
 * A local session is ordinary SMTP through the same transaction code as
 * TCP (250 only once the queue has the message on disk), except:
 *  - the client is "localhost", its address "local" in the logs; to the
 *    access rules it is the loopback client 127.0.0.1, so it may relay as
 *    a local submission does in sendmail; no connect check (check_relay
 *    runs only for network clients), no greeting delay, no per-address
 *    limit, no STARTTLS or AUTH (the listener has neither flag);
 *  - it is greeted only once the parent has named the peer's uid
 *    (IMSG_SMTP_UID_LOOKUP): an unknown uid is refused with 554, an NSS
 *    failure with 421;
 *  - the trace header names the user (smtp_local_received()):
 *        Received: (from USER@localhost, uid UID)
 *                by HOST (smtpd) id QUEUEID[ for <RCPT>]; DATE
 *    and a user not trusted (root, the front end's user, sendmail
 *    trusted-users) whose envelope sender is not USER, USER@localhost or
 *    USER@HOST gets sendmail's
 *        X-Authentication-Warning: HOST: USER set sender to ADDR using -f
 *    before it: only this side, not the command the user runs, decides.
 *
 * Failure behaviour: a connection whose credentials cannot be read is
 * closed with a log line; a malformed answer from the parent is a bug and
 * ends the process, as for every parent message.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "log.h"
#include "paths.h"
#include "proc.h"
#include "smtp_dns.h"
#include "smtp_session.h"
#include "util.h"

/* 1 if name is root, the front end's user or in sendmail trusted-users. */
static int
smtp_local_trusted(uid_t uid, const char *name)
{
	char	 list[CONF_AUTH_STRING_MAX], *p, *w;

	if (uid == 0 || strcmp(name, SMTPD_USER) == 0)
		return 1;
	(void)strlcpy(list, conf->sendmail_trusted, sizeof(list));
	for (p = list; (w = strsep(&p, ", ")) != NULL;)
		if (*w != '\0' && strcmp(w, name) == 0)
			return 1;
	return 0;
}

/* Ask the parent for the name of the peer's uid; the greeting waits. */
static void
smtp_local_lookup(struct smtp_session *s)
{
	struct imsg_out	 out;

	imsg_out_init(&out, IMSG_SMTP_UID_LOOKUP, s->id);
	imsg_put_u32(&out, (uint32_t)s->local->uid);
	s->wait = SMTP_WAIT_USER;
	(void)bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	if (proc_send(PROC_PARENT, &out, -1) == -1)
		smtp_session_close(s, "421 4.3.0 Local error, try again later",
		    "cannot ask the parent for the user");
}

/* A connection on the sendmail socket: who is it, then a session. */
void
smtp_local_accept(int fd, const char *listener)
{
	struct smtp_session	*s;
	struct smtp_local	*l;
	struct ucred		 cred;
	socklen_t		 len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1 ||
	    len != sizeof(cred)) {
		log_warn("local submission: SO_PEERCRED");
		(void)close(fd);
		return;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		log_warn("local submission");
		(void)close(fd);
		return;
	}
	l->uid = cred.uid;
	l->pid = cred.pid;
	if ((s = smtp_session_open(fd, "local", listener, LISTEN_F_LOCAL)) ==
	    NULL) {
		free(l);
		return;
	}
	s->local = l;
	s->resolve = SMTP_DNS_OK;
	if ((s->ptrname = strdup("localhost")) == NULL) {
		smtp_session_close(s, "421 4.3.0 Local error, try again later",
		    "out of memory");
		return;
	}
	stats_add("smtp.session.local", 1);
	smtp_local_lookup(s);
}

/* The parent named the uid: greet, or refuse an unknown one. */
static void
smtp_local_named(struct smtp_session *s, uint32_t status, const char *name)
{
	struct smtp_local	*l = s->local;

	s->wait = SMTP_WAIT_NONE;
	if (status == USER_TEMPFAIL) {
		smtp_session_close(s, "421 4.3.0 Cannot look up your user id, "
		    "try again later", "uid lookup failed");
		return;
	}
	if (status != USER_FOUND) {
		log_info("%08x: local submission from uid %u pid %ld refused: "
		    "no such user", s->id, (unsigned)l->uid, (long)l->pid);
		smtp_session_close(s, "554 5.7.1 Your user id is not a user "
		    "of this system", "unknown uid");
		return;
	}
	(void)strlcpy(l->user, name, sizeof(l->user));
	l->trusted = smtp_local_trusted(l->uid, l->user);
	log_info("%08x: connect from localhost [local] on %s: user=%s uid=%u "
	    "pid=%ld%s", s->id, s->listener != NULL ? s->listener : "local",
	    l->user, (unsigned)l->uid, (long)l->pid,
	    l->trusted ? " trusted" : "");
	/* the sendmail filters' connect stage, then the greeting */
	smtp_peer_connect_go(s);
}

/* IMSG_SMTP_UID_RESULT: id = session id, u32 uid, u32 status, str name. */
void
smtp_local_uid_result(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct smtp_session	*s;
	const char		*name;
	uint32_t		 uid, status;

	(void)iev;
	(void)arg;
	uid = imsg_get_u32(m);
	status = imsg_get_u32(m);
	name = imsg_get_str(m);
	if (imsg_get_end(m) == -1 || status > USER_TEMPFAIL ||
	    (status == USER_FOUND && (name[0] == '\0' ||
	    strlen(name) >= sizeof(((struct smtp_local *)0)->user))))
		fatalx("bad IMSG_SMTP_UID_RESULT from parent");
	if ((s = smtp_session_find(m->id)) == NULL || s->local == NULL ||
	    s->wait != SMTP_WAIT_USER || s->local->uid != (uid_t)uid)
		return;
	smtp_local_named(s, status, name);
}

/* 1 if sender is the user's own address (no warning needed). */
static int
smtp_local_own_sender(const struct smtp_local *l, const char *sender)
{
	const char	*at;
	size_t		 n;

	if ((at = strrchr(sender, '@')) == NULL)
		return strcmp(sender, l->user) == 0;
	n = (size_t)(at - sender);
	if (n != strlen(l->user) || strncmp(sender, l->user, n) != 0)
		return 0;
	return strcasecmp(at + 1, "localhost") == 0 ||
	    strcasecmp(at + 1, conf->hostname) == 0;
}

/*
 * The trace header of a local submission (and the sender warning), into
 * buf; its length, or -1 if it does not fit.
 */
int
smtp_local_received(struct smtp_session *s, char *buf, size_t size,
    const char *date)
{
	struct smtp_tx		*tx = s->tx;
	struct smtp_local	*l = s->local;
	char			 warn[MAILADDR_PATH_MAX + 512];
	char			 forclause[MAILADDR_PATH_MAX + 16];
	int			 n;

	warn[0] = '\0';
	if ((conf->privacy & PRIV_AUTHWARNINGS) && !l->trusted &&
	    !smtp_local_own_sender(l, tx->sender)) {
		n = snprintf(warn, sizeof(warn), "X-Authentication-Warning: "
		    "%s: %s set sender to %s using -f\r\n", conf->hostname,
		    l->user, tx->sender[0] != '\0' ? tx->sender : "<>");
		if (n < 0 || (size_t)n >= sizeof(warn))
			return -1;
		log_info("%08x: user %s set sender to <%s>", s->id, l->user,
		    tx->sender);
	}
	forclause[0] = '\0';
	if (tx->naccepted == 1 && tx->nrcpt > 0)
		(void)snprintf(forclause, sizeof(forclause), "\r\n\tfor <%s>",
		    tx->rcpts[0].orig);
	n = snprintf(buf, size, "Received: (from %s@localhost, uid %u)\r\n"
	    "\tby %s (smtpd) id %08x%s;\r\n\t%s\r\n%s", l->user,
	    (unsigned)l->uid, conf->hostname, tx->msgid, forclause, date, warn);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}
