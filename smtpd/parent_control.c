/*
 * parent_control.c: the control socket that smtpctl(8) talks to.
 *
 * Only root may connect (checked with SO_PEERCRED; the socket is also mode
 * 0600).  A connection carries one IMSG_CTL_REQUEST; the parent answers
 * it itself or routes it to the children that own the subject, passes
 * their IMSG_CTL_LINE output through and sends one IMSG_CTL_END when the
 * last of them is done.  Anything else on the socket closes that
 * connection and nothing more: the control socket never takes the daemon
 * down (OpenSMTPD's CVE-2025-62875 was exactly that).
 *
 * The front end's metrics listener asks for "show metrics" too
 * (IMSG_SMTP_METRICS, that one request only): it gets a connection of its
 * own without a socket, whose answer lines and END go to the front end
 * under its request number, and which ends with its END.
 *
 * What children send is believed no further than they were asked: an
 * answer line counts only from a child the request was routed to and
 * that has not ended its part, and monitor events only from the queue
 * (the one process that has any: messages queued, deliveries ended; the
 * parent adds its own).  Anything else is dropped with a log line, so a
 * compromised child can neither answer another client's request nor
 * write into root's monitor.  smtpctl escapes what it prints as well.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "parent.h"
#include "proc.h"
#include "util.h"

#define CONTROL_MAX_CONNS	64
/* metrics requests of the front end being answered at once */
#define CONTROL_MAX_CHILD_REQUESTS	8
/* a monitor that stops reading is dropped past this much backlog */
#define CONTROL_MAX_BACKLOG	(1024 * 1024)
#define PARENT_CONTROL_ALL	((1u << PROC_SMTP) | (1u << PROC_MTA) | \
				 (1u << PROC_QUEUE) | (1u << PROC_POLICY) | \
				 (1u << PROC_TLS) | (1u << PROC_AUTH))
/* the children whose IMSG_CTL_EVENT is passed to the monitors */
#define PARENT_CONTROL_EVENTS	(1u << PROC_QUEUE)

struct parent_ctl_conn {
	TAILQ_ENTRY(parent_ctl_conn)	 entry;
	uint32_t		 id;
	struct imsgev		*iev;
	/* children whose IMSG_CTL_END is still due, by slot (parent.h),
	 * and how many */
	uint8_t			 waiting[PARENT_NSLOTS];
	int			 nwaiting;
	int			 requested;
	int			 status;
	int			 monitor;
	char			 msg[512];
	/* a request of a child's (no iev): its slot, never 0, and number */
	int			 child;
	uint32_t		 child_id;
};

/* Which children answer a command; the parent adds its own part. */
static const struct {
	uint32_t	 cmd;
	uint32_t	 procs;
} parent_control_routes[] = {
	{ CTL_SHOW_QUEUE,	1u << PROC_QUEUE },
	{ CTL_SCHEDULE,		1u << PROC_QUEUE },
	{ CTL_REMOVE,		1u << PROC_QUEUE },
	{ CTL_RELEASE,		1u << PROC_QUEUE },
	{ CTL_QUARANTINE,	1u << PROC_QUEUE },
	{ CTL_PAUSE_MTA,	1u << PROC_QUEUE },
	{ CTL_RESUME_MTA,	1u << PROC_QUEUE },
	{ CTL_PAUSE_SMTP,	1u << PROC_SMTP },
	{ CTL_RESUME_SMTP,	1u << PROC_SMTP },
	{ CTL_SHOW_STATS,	PARENT_CONTROL_ALL },
	{ CTL_SHOW_METRICS,	PARENT_CONTROL_ALL },
	{ CTL_SHOW_STATUS,	PARENT_CONTROL_ALL },
	{ CTL_TLSRPT,		1u << PROC_MTA },
};

extern struct event_base	*parent_base;
static TAILQ_HEAD(, parent_ctl_conn)	 parent_control_conns =
    TAILQ_HEAD_INITIALIZER(parent_control_conns);
static struct event		*parent_control_ev;
static int			 parent_control_fd = -1;
static uint32_t			 parent_control_nextid = 1;
static size_t			 parent_control_nconns;
static size_t			 parent_control_nchild;
static int			 parent_control_monitors;

static void	parent_control_accept(int, short, void *);
static void	parent_control_dispatch(struct imsgev *, struct imsg *, void *);
static void	parent_control_closed(struct imsgev *, const char *, void *);

void
parent_control_init(int fd)
{
	parent_control_fd = fd;
	parent_control_ev = event_new(parent_base, fd, EV_READ | EV_PERSIST,
	    parent_control_accept, NULL);
	if (parent_control_ev == NULL || event_add(parent_control_ev, NULL) == -1)
		fatalx("control socket event");
}

void
parent_control_close(void)
{
	struct parent_ctl_conn	*c;

	if (parent_control_ev != NULL)
		event_free(parent_control_ev);
	parent_control_ev = NULL;
	if (parent_control_fd != -1)
		(void)close(parent_control_fd);
	parent_control_fd = -1;
	while ((c = TAILQ_FIRST(&parent_control_conns)) != NULL) {
		TAILQ_REMOVE(&parent_control_conns, c, entry);
		imsgev_close(c->iev);
		free(c);
	}
	parent_control_nconns = 0;
}

static struct parent_ctl_conn *
parent_control_find(uint32_t id)
{
	struct parent_ctl_conn	*c;

	TAILQ_FOREACH(c, &parent_control_conns, entry)
		if (c->id == id)
			return c;
	return NULL;
}

static void
parent_control_free(struct parent_ctl_conn *c)
{
	TAILQ_REMOVE(&parent_control_conns, c, entry);
	if (c->child != 0) {
		parent_control_nchild--;
		free(c);
		return;
	}
	parent_control_nconns--;
	if (c->monitor && --parent_control_monitors == 0)
		parent_control_monitor_sync(PARENT_NSLOTS);
	imsgev_close(c->iev);
	free(c);
}

/* Send the final answer; the client closes the connection after it (a
 * child's request ends here). */
static void
parent_control_finish(struct parent_ctl_conn *c)
{
	struct imsg_out	 out;

	imsg_out_init(&out, IMSG_CTL_END, c->child != 0 ? c->child_id :
	    c->id);
	imsg_put_u32(&out, (uint32_t)c->status);
	imsg_put_str(&out, c->msg);
	if (c->child == 0) {
		(void)imsgev_send(c->iev, &out, -1);
		return;
	}
	(void)parent_proc_send_slot(c->child, &out);
	parent_control_free(c);
}

/* Refuse a client before any request: one END with the reason. */
static void
parent_control_refuse(int fd, const char *why)
{
	uint32_t	 hdr[4];
	char		 buf[IMSG_HDR_SIZE + 4 + 128];
	uint32_t	 status = 1;
	size_t		 n = strlen(why) + 1;

	if (n > 128)
		n = 128;
	hdr[0] = IMSG_CTL_END;
	hdr[1] = (uint32_t)(4 + n);
	hdr[2] = 0;
	hdr[3] = 0;
	memcpy(buf, hdr, sizeof(hdr));
	memcpy(buf + IMSG_HDR_SIZE, &status, 4);
	memcpy(buf + IMSG_HDR_SIZE + 4, why, n);
	buf[IMSG_HDR_SIZE + 4 + n - 1] = '\0';
	(void)send(fd, buf, IMSG_HDR_SIZE + 4 + n, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)close(fd);
}

static void
parent_control_accept(int lfd, short ev, void *arg)
{
	struct parent_ctl_conn	*c;
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);
	int		 fd;

	(void)ev;
	(void)arg;
	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("control accept");
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1 ||
	    cred.uid != 0) {
		log_warnx("control: refused connection from uid %ld",
		    (long)cred.uid);
		parent_control_refuse(fd, "permission denied: smtpctl must run as "
		    "root");
		return;
	}
	if (parent_control_nconns >= CONTROL_MAX_CONNS) {
		parent_control_refuse(fd, "too many control connections");
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->id = parent_control_nextid++;
	if (parent_control_nextid == 0)
		parent_control_nextid = 1;
	c->iev = imsgev_open(parent_base, fd, "control", parent_control_dispatch,
	    parent_control_closed, c);
	if (c->iev == NULL) {
		(void)close(fd);
		free(c);
		return;
	}
	TAILQ_INSERT_TAIL(&parent_control_conns, c, entry);
	parent_control_nconns++;
}

static void
parent_control_closed(struct imsgev *iev, const char *reason, void *arg)
{
	struct parent_ctl_conn	*c = arg;

	(void)iev;
	(void)reason;
	c->iev = NULL;
	TAILQ_REMOVE(&parent_control_conns, c, entry);
	parent_control_nconns--;
	if (c->monitor && --parent_control_monitors == 0)
		parent_control_monitor_sync(PARENT_NSLOTS);
	free(c);
}

/*
 * Forward a request to the children in mask (every tlsproxy instance
 * the config asks for); note who must answer.
 */
static void
parent_control_forward(struct parent_ctl_conn *c, uint32_t mask, uint32_t cmd,
    const char *arg)
{
	struct imsg_out	 out;
	int		 slot;

	for (slot = PROC_SMTP; slot < PARENT_NSLOTS; slot++) {
		if (!(mask & (1u << parent_proc_slot_id(slot))) ||
		    (slot > PROC_TLS && slot - PROC_TLS >=
		    parent_conf->tls_processes))
			continue;
		imsg_out_init(&out, IMSG_CTL_REQUEST, c->id);
		imsg_put_u32(&out, cmd);
		imsg_put_str(&out, arg);
		if (parent_proc_send_slot(slot, &out) == -1) {
			parent_control_line_printf(c->id, "%s: not running",
			    parent_proc_label(slot));
			c->status = 1;
			continue;
		}
		c->waiting[slot] = 1;
		c->nwaiting++;
	}
}

/* Requests the parent answers in full itself. */
static int
parent_control_parent_request(struct parent_ctl_conn *c, uint32_t cmd)
{
	struct imsg_out	 out;
	int		 slot;

	switch (cmd) {
	case CTL_LOG_VERBOSE:
	case CTL_LOG_BRIEF:
		log_verbose_set(cmd == CTL_LOG_VERBOSE);
		for (slot = PROC_SMTP; slot < PARENT_NSLOTS; slot++) {
			imsg_out_init(&out, IMSG_LOG_VERBOSE, 0);
			imsg_put_u32(&out, cmd == CTL_LOG_VERBOSE);
			(void)parent_proc_send_slot(slot, &out);
		}
		(void)snprintf(c->msg, sizeof(c->msg), "logging %s",
		    cmd == CTL_LOG_VERBOSE ? "verbose" : "brief");
		return 1;
	case CTL_RELOAD:
		if (parent_reload(c->msg, sizeof(c->msg)) == -1)
			c->status = 1;
		return 1;
	case CTL_MONITOR:
		c->monitor = 1;
		if (parent_control_monitors++ == 0)
			parent_control_monitor_sync(PARENT_NSLOTS);
		parent_control_line_printf(c->id, "monitoring; interrupt "
		    "to stop");
		return 2;
	}
	return 0;
}

static void
parent_control_request(struct parent_ctl_conn *c, struct imsg *m)
{
	uint32_t	 cmd = imsg_get_u32(m);
	const char	*arg = imsg_get_str(m);
	size_t		 i;
	int		 r;

	if (imsg_get_end(m) == -1 || c->requested || strlen(arg) > 256 ||
	    !text_is_clean(arg)) {
		log_warnx("control: malformed request, closing");
		parent_control_free(c);
		return;
	}
	c->requested = 1;
	if ((r = parent_control_parent_request(c, cmd)) != 0) {
		if (r == 1)
			parent_control_finish(c);
		return;
	}
	if (cmd == CTL_SHOW_STATUS)
		parent_proc_status(c->id);
	for (i = 0; i < sizeof(parent_control_routes) / sizeof(parent_control_routes[0]);
	    i++)
		if (parent_control_routes[i].cmd == cmd)
			break;
	if (i == sizeof(parent_control_routes) / sizeof(parent_control_routes[0])) {
		c->status = 1;
		(void)strlcpy(c->msg, "unknown command", sizeof(c->msg));
		parent_control_finish(c);
		return;
	}
	parent_control_forward(c, parent_control_routes[i].procs, cmd, arg);
	if (c->nwaiting == 0)
		parent_control_finish(c);
}

static void
parent_control_dispatch(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct parent_ctl_conn	*c = arg;

	(void)iev;
	if (m->fd != -1) {
		(void)close(m->fd);
		m->fd = -1;
	}
	if (m->type != IMSG_CTL_REQUEST) {
		log_warnx("control: unexpected message type %u, closing",
		    m->type);
		parent_control_free(c);
		return;
	}
	parent_control_request(c, m);
}

void
parent_control_line(uint32_t ctlid, const char *line)
{
	struct parent_ctl_conn	*c;
	struct imsg_out	 out;

	if ((c = parent_control_find(ctlid)) == NULL)
		return;
	if (c->child != 0) {
		imsg_out_init(&out, IMSG_CTL_LINE, c->child_id);
		imsg_put_str(&out, line);
		(void)parent_proc_send_slot(c->child, &out);
		return;
	}
	if (imsgev_pending(c->iev) > CONTROL_MAX_BACKLOG) {
		log_warnx("control: client does not read its answers, "
		    "dropping it");
		parent_control_free(c);
		return;
	}
	imsg_out_init(&out, IMSG_CTL_LINE, ctlid);
	imsg_put_str(&out, line);
	(void)imsgev_send(c->iev, &out, -1);
}

/*
 * IMSG_CTL_LINE from the child in slot: passed on only if the request
 * was routed to it and its IMSG_CTL_END is still due.  A connection that
 * is gone is no fault of the child's (the client left).
 */
void
parent_control_child_line(uint32_t ctlid, int slot, const char *line)
{
	struct parent_ctl_conn	*c;

	if (slot <= PROC_PARENT || slot >= PARENT_NSLOTS ||
	    (c = parent_control_find(ctlid)) == NULL)
		return;
	if (!c->waiting[slot]) {
		log_warnx("control: dropped an answer line from %s for "
		    "control connection %u, which did not ask it",
		    parent_proc_label(slot), ctlid);
		return;
	}
	parent_control_line(ctlid, line);
}

void
parent_control_line_printf(uint32_t ctlid, const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	parent_control_line(ctlid, line);
}

/* A child finished its part of a request. */
void
parent_control_end(uint32_t ctlid, int from, int status, const char *msg)
{
	struct parent_ctl_conn	*c;
	size_t		 len;

	if (from <= PROC_PARENT || from >= PARENT_NSLOTS ||
	    (c = parent_control_find(ctlid)) == NULL || !c->waiting[from])
		return;
	c->waiting[from] = 0;
	c->nwaiting--;
	if (status)
		c->status = 1;
	if (*msg != '\0') {
		len = strlen(c->msg);
		(void)snprintf(c->msg + len, sizeof(c->msg) - len, "%s%s",
		    len ? "; " : "", msg);
	}
	if (c->nwaiting == 0)
		parent_control_finish(c);
}

/* A child died: requests waiting on it end with an error for that part. */
void
parent_control_proc_lost(int slot)
{
	struct parent_ctl_conn	*c, *next;
	char		 msg[64];

	(void)snprintf(msg, sizeof(msg), "%s exited before answering",
	    parent_proc_label(slot));
	for (c = TAILQ_FIRST(&parent_control_conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->child == slot) {
			/* nobody to answer: the asking child is gone */
			parent_control_free(c);
			continue;
		}
		if (c->waiting[slot])
			parent_control_end(c->id, slot, 1, msg);
	}
}

/*
 * IMSG_SMTP_METRICS from the child in slot: "show metrics" on its
 * behalf, answered to it under its number id.  A child may ask nothing
 * else this way, and no more than CONTROL_MAX_CHILD_REQUESTS at once.
 */
void
parent_control_child_request(int slot, uint32_t id)
{
	struct parent_ctl_conn	*c;
	struct imsg_out		 out;

	if (parent_control_nchild >= CONTROL_MAX_CHILD_REQUESTS ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		imsg_out_init(&out, IMSG_CTL_END, id);
		imsg_put_u32(&out, 1);
		imsg_put_str(&out, "too many metrics requests");
		(void)parent_proc_send_slot(slot, &out);
		return;
	}
	c->id = parent_control_nextid++;
	if (parent_control_nextid == 0)
		parent_control_nextid = 1;
	c->requested = 1;
	c->child = slot;
	c->child_id = id;
	TAILQ_INSERT_TAIL(&parent_control_conns, c, entry);
	parent_control_nchild++;
	parent_control_forward(c, PARENT_CONTROL_ALL, CTL_SHOW_METRICS, "");
	if (c->nwaiting == 0)
		parent_control_finish(c);
}

void
parent_control_event(const char *line)
{
	struct parent_ctl_conn	*c;

	TAILQ_FOREACH(c, &parent_control_conns, entry)
		if (c->monitor)
			parent_control_line(c->id, line);
}

/* IMSG_CTL_EVENT from the child in slot: only the queue's are events. */
void
parent_control_child_event(int slot, const char *line)
{
	if (!(PARENT_CONTROL_EVENTS & (1u << parent_proc_slot_id(slot)))) {
		log_warnx("control: dropped a monitor event from %s: only the "
		    "queue sends events", parent_proc_label(slot));
		return;
	}
	parent_control_event(line);
}

void
parent_control_event_printf(const char *fmt, ...)
{
	char	 line[512];
	va_list	 ap;

	if (parent_control_monitors == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	parent_control_event(line);
}

/*
 * Tell children whether anyone is monitoring: one child (slot) after its
 * start, or all (PARENT_NSLOTS) when the first monitor comes or the last
 * one goes.
 */
void
parent_control_monitor_sync(int which)
{
	struct imsg_out	 out;
	int		 slot;

	for (slot = PROC_SMTP; slot < PARENT_NSLOTS; slot++) {
		if (which != PARENT_NSLOTS && which != slot)
			continue;
		if (which != PARENT_NSLOTS && parent_control_monitors == 0)
			continue;
		if (!parent_proc_slot_running(slot))
			continue;
		imsg_out_init(&out, IMSG_CTL_REQUEST, ID_NONE);
		imsg_put_u32(&out, CTL_MONITOR);
		imsg_put_str(&out, parent_control_monitors ? "on" : "off");
		(void)parent_proc_send_slot(slot, &out);
	}
}
