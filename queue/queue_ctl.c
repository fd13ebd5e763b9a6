/*
 * queue_ctl.c: the smtpctl requests the queue answers.
 *
 *   show queue	one line per envelope:
 *		evpid|msgid|type|state|sender|rcpt|created|next try|retries|
 *		last error
 *		'|' is valid in an address's local part, so in sender, rcpt
 *		and last error every '|', '%' and control octet is written
 *		%XX (uppercase hex): the fields cannot shift.
 *		A quarantined envelope has the state "quarantined" and its
 *		reason as the last error.
 *   schedule X	X = envelope id (16 hex), message id (8 hex) or "all":
 *		make the pending ones due now (quarantined ones stay held)
 *   remove X	the same selection, removed without any DSN
 *   release X	the same selection: quarantined ones become due now
 *   quarantine X reason	hold the selected waiting envelopes
 *   pause mta / resume mta	stop or restart dispatching
 *   show status	key=value lines
 * Every request ends with exactly one proc_ctl_end(); a selection that
 * matches nothing ends with status 1.  Arguments are checked strictly and
 * never trusted further than that.
 */
#include <sys/queue.h>
#include <sys/time.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"
#include "proc.h"
#include "queue.h"
#include "util.h"

enum ctl_sel {
	SEL_ALL,
	SEL_MSG,
	SEL_EVP
};

struct ctl_filter {
	enum ctl_sel	 sel;
	uint64_t	 id;
};

/* An id of the given width, in either case. */
static void	 queue_ctl_show_run(int, short, void *);

static int
queue_ctl_hex(const char *s, size_t width, uint64_t *v)
{
	char			 low[17];
	unsigned long long	 u;
	size_t			 i;

	if (strlen(s) != width || width >= sizeof(low))
		return -1;
	for (i = 0; i <= width; i++)
		low[i] = (char)tolower((unsigned char)s[i]);
	if (queue_envelope_hex_parse(low, width, &u) == -1)
		return -1;
	*v = u;
	return 0;
}

void
queue_ctl_field(char *dst, size_t size, const char *src)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*p;
	size_t			 o = 0;

	for (p = (const unsigned char *)src; *p != '\0'; p++) {
		if (*p == '|' || *p == '%' || *p < 0x20 || *p == 0x7f) {
			if (o + 3 >= size)
				break;
			dst[o++] = '%';
			dst[o++] = hex[*p >> 4];
			dst[o++] = hex[*p & 0x0f];
		} else {
			if (o + 1 >= size)
				break;
			dst[o++] = (char)*p;
		}
	}
	if (size > 0)
		dst[o] = '\0';
}

static int
queue_ctl_filter_parse(const char *arg, struct ctl_filter *f)
{
	if (strcmp(arg, "all") == 0) {
		f->sel = SEL_ALL;
		return 0;
	}
	f->sel = SEL_EVP;
	if (queue_ctl_hex(arg, 16, &f->id) == 0)
		return 0;
	f->sel = SEL_MSG;
	return queue_ctl_hex(arg, 8, &f->id);
}

static int
queue_ctl_filter_match(const struct ctl_filter *f, const struct qentry *e)
{
	switch (f->sel) {
	case SEL_ALL:
		return 1;
	case SEL_MSG:
		return e->grp->msgid == (uint32_t)f->id;
	case SEL_EVP:
		return e->evpid == f->id;
	}
	return 0;
}

/* The first envelope of the selection in id order (the tree's order). */
static struct qentry *
queue_ctl_filter_first(const struct ctl_filter *f)
{
	struct qentry	*e;

	if (f->sel == SEL_EVP)
		return queue_sched_find(f->id);
	for (e = queue_sched_first(); e != NULL; e = queue_sched_next(e))
		if (queue_ctl_filter_match(f, e))
			return e;
	return NULL;
}

static const char *
queue_ctl_state(const struct qentry *e)
{
	if (e->state == QE_INFLIGHT || e->state == QE_RESOLVING)
		return "inflight";
	return e->state == QE_QUARANTINED ? "quarantined" : "pending";
}

/* One line of show queue; 0, or -1 if its envelope cannot be read now. */
static int
queue_ctl_show_one(uint32_t ctlid, const struct qentry *e)
{
	struct envelope		 evp;
	const struct envelope	*p;
	const char		*why;
	char			 sender[CONF_ADDR_MAX * 3];
	char			 rcpt[MAILADDR_TARGET_MAX * 3];
	char			 err[ENVELOPE_TEXT_LINE * 3];
	const char		*status, *text, *held;

	p = e->state == QE_INFLIGHT ? &e->batch->evs[e->bidx] :
	    queue_sched_cached(e);
	if (p == NULL) {
		if (queue_spool_envelope_read(&queue_spool, e->evpid, &evp,
		    &why) == -1)
			return -1;
		p = &evp;
	}
	queue_ctl_field(sender, sizeof(sender), p->sender);
	queue_ctl_field(rcpt, sizeof(rcpt), p->rcpt);
	status = p->last_status;
	text = p->last_error;
	/* deferred by its domain's hold: say why, as Postfix does */
	if ((e->flags & QENTRY_F_HELD) && text[0] == '\0' &&
	    (held = queue_sched_domain_reason(e->grp->domain)) != NULL) {
		status = "";
		text = held;
	}
	if (e->state == QE_QUARANTINED) {
		status = "";
		text = p->quarantine;
	}
	queue_ctl_field(err, sizeof(err), text);
	proc_ctl_line(ctlid, "%016llx|%08x|%s|%s|%s|%s|%s|%lld|%lld|"
	    "%u|%s%s%s", (unsigned long long)e->evpid, e->grp->msgid,
	    p->type == ENVELOPE_BOUNCE ? "bounce" : "relay",
	    queue_ctl_state(e), sender, rcpt,
	    p->mailer == TARGET_REMOTE ? "esmtp" :
	    p->mailer == TARGET_ERROR ? "error" : "local",
	    (long long)e->ctime,
	    (long long)e->nexttry, e->retries, status,
	    status[0] != '\0' ? " " : "", err);
	return 0;
}

/*
 * show queue goes out in slices of CTL_SHOW_SLICE lines, one slice per
 * pass of the event loop, and the next only once the channel to the
 * parent holds less than CTL_SHOW_BACKLOG: written in one go, 100 000
 * lines (17 MB) stopped every other event of the queue for as long as
 * reading the envelopes took, and reached the parent faster than
 * smtpctl read them, past the backlog at which the parent drops a
 * client.  A listing resumes at the id after the last one shown, so
 * envelopes added or removed meanwhile are simply there or not.
 */
#define CTL_SHOW_SLICE		256
#define CTL_SHOW_BACKLOG	(64 * 1024)

struct ctl_show {
	TAILQ_ENTRY(ctl_show)	 entry;
	uint32_t		 ctlid;
	uint64_t		 from;		/* the next id to show */
};

static TAILQ_HEAD(, ctl_show)	 ctl_shows = TAILQ_HEAD_INITIALIZER(ctl_shows);
static struct event		*ctl_show_ev;

/* One slice of a listing; 1 when it is complete. */
static int
queue_ctl_show_slice(struct ctl_show *s)
{
	struct qentry	*e;
	size_t		 n = 0;

	for (e = queue_sched_find_from(s->from); e != NULL &&
	    n < CTL_SHOW_SLICE; e = queue_sched_next(e)) {
		if (queue_ctl_show_one(s->ctlid, e) == 0)
			n++;
		if (e->evpid == UINT64_MAX)
			return 1;
		s->from = e->evpid + 1;
	}
	return e == NULL;
}

static void
queue_ctl_show_arm(int later)
{
	struct timeval	 tv = { 0, later ? 2000 : 0 };

	if (ctl_show_ev == NULL &&
	    (ctl_show_ev = evtimer_new(proc_base, queue_ctl_show_run,
	    NULL)) == NULL)
		fatalx("cannot create the show queue timer");
	(void)evtimer_add(ctl_show_ev, &tv);
}

static void
queue_ctl_show_run(int fd, short ev, void *arg)
{
	struct ctl_show	*s, *next;
	struct imsgev	*parent = proc_peer(PROC_PARENT);

	(void)fd;
	(void)ev;
	(void)arg;
	if (parent != NULL && imsgev_pending(parent) > CTL_SHOW_BACKLOG) {
		queue_ctl_show_arm(1);
		return;
	}
	TAILQ_FOREACH_SAFE(s, &ctl_shows, entry, next) {
		if (!queue_ctl_show_slice(s))
			continue;
		proc_ctl_end(s->ctlid, 0, "");
		TAILQ_REMOVE(&ctl_shows, s, entry);
		free(s);
	}
	if (!TAILQ_EMPTY(&ctl_shows))
		queue_ctl_show_arm(0);
}

static void
queue_ctl_show_queue(uint32_t ctlid)
{
	struct ctl_show	*s = xcalloc(1, sizeof(*s));

	s->ctlid = ctlid;
	TAILQ_INSERT_TAIL(&ctl_shows, s, entry);
	queue_ctl_show_arm(0);
}

/* schedule or remove; the entries of a message are adjacent in id order. */
static void
queue_ctl_select(uint32_t ctlid, const char *arg, int remove)
{
	struct ctl_filter	 f = { SEL_ALL, 0 };
	struct qentry		*e, *next;
	time_t			 now = time(NULL);
	size_t			 n = 0;

	if (queue_ctl_filter_parse(arg, &f) == -1) {
		proc_ctl_end(ctlid, 1, "expected an envelope id, a message id "
		    "or \"all\"");
		return;
	}
	for (e = queue_ctl_filter_first(&f); e != NULL && queue_ctl_filter_match(&f, e);
	    e = next) {
		next = f.sel == SEL_EVP ? NULL : queue_sched_next(e);
		if (remove && (e->state == QE_INFLIGHT ||
		    e->state == QE_RESOLVING)) {
			e->removed = 1;
			n++;
		} else if (remove) {
			log_info("%016llx: removed by smtpctl",
			    (unsigned long long)e->evpid);
			queue_sched_drop(e);
			n++;
		} else if (e->state != QE_INFLIGHT &&
		    e->state != QE_RESOLVING && e->state != QE_QUARANTINED) {
			queue_sched_schedule_now(e, now);
			n++;
		}
	}
	proc_ctl_line(ctlid, "%zu envelopes %s", n,
	    remove ? "removed" : "scheduled");
	proc_ctl_end(ctlid, n == 0, "");
	if (!remove && n > 0)
		queue_sched_wakeup();
}

/*
 * release X, or quarantine X with a reason: the selected envelopes that
 * can change (held ones to release; waiting ones to hold) are rewritten
 * together.
 */
static void
queue_ctl_hold(uint32_t ctlid, const char *sel, const char *reason)
{
	struct ctl_filter	 f = { SEL_ALL, 0 };
	struct qentry		*e, **ents = NULL;
	size_t			 n = 0, cap = 0, done;
	int			 release = reason[0] == '\0';

	if (queue_ctl_filter_parse(sel, &f) == -1) {
		proc_ctl_end(ctlid, 1, "expected an envelope id, a message id "
		    "or \"all\"");
		return;
	}
	for (e = queue_ctl_filter_first(&f); e != NULL &&
	    queue_ctl_filter_match(&f, e); e = f.sel == SEL_EVP ? NULL :
	    queue_sched_next(e)) {
		if (e->state == QE_INFLIGHT || e->state == QE_RESOLVING ||
		    (e->state == QE_QUARANTINED) != release)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			ents = xreallocarray(ents, cap, sizeof(*ents));
		}
		ents[n++] = e;
	}
	done = queue_quarantine_apply(ents, n, reason, time(NULL));
	free(ents);
	proc_ctl_line(ctlid, "%zu envelopes %s", done, release ? "released" :
	    "quarantined");
	proc_ctl_end(ctlid, done == 0, "");
	if (release && done > 0)
		queue_sched_wakeup();
}

/* "ID reason" of smtpctl quarantine: the reason must be one that
 * QUARANTINE: in the access map could give. */
static void
queue_ctl_quarantine(uint32_t ctlid, const char *arg)
{
	char		 sel[24];
	const char	*sp = strchr(arg, ' ');

	if (sp == NULL || (size_t)(sp - arg) >= sizeof(sel)) {
		proc_ctl_end(ctlid, 1, "expected an id or \"all\", then a "
		    "reason");
		return;
	}
	(void)snprintf(sel, sizeof(sel), "%.*s", (int)(sp - arg), arg);
	if (!quarantine_reason_valid(sp + 1)) {
		proc_ctl_end(ctlid, 1, "the reason must be 1 to 255 printable "
		    "characters");
		return;
	}
	queue_ctl_hold(ctlid, sel, sp + 1);
}

static void
queue_ctl_show_status(uint32_t ctlid)
{
	proc_ctl_line(ctlid, "queue.paused=%d", queue_sched_paused());
	proc_ctl_line(ctlid, "queue.message.count=%zu", queue_sched_messages());
	proc_ctl_line(ctlid, "queue.envelope.count=%zu", queue_sched_count());
	proc_ctl_line(ctlid, "queue.envelope.inflight=%zu",
	    queue_sched_inflight());
	proc_ctl_line(ctlid, "queue.envelope.quarantined=%zu",
	    queue_sched_quarantined());
	proc_ctl_line(ctlid, "queue.incoming=%zu", queue_commit_incoming());
	proc_ctl_line(ctlid, "queue.mta=%s",
	    proc_peer(PROC_MTA) != NULL ? "up" : "down");
	proc_ctl_end(ctlid, 0, "");
}

/* def.ctl of the queue process. */
void
queue_ctl(uint32_t ctlid, uint32_t cmd, const char *arg)
{
	switch (cmd) {
	case CTL_SHOW_QUEUE:
		queue_ctl_show_queue(ctlid);
		break;
	case CTL_SHOW_STATUS:
		queue_ctl_show_status(ctlid);
		break;
	case CTL_SCHEDULE:
		queue_ctl_select(ctlid, arg, 0);
		break;
	case CTL_REMOVE:
		queue_ctl_select(ctlid, arg, 1);
		break;
	case CTL_RELEASE:
		queue_ctl_hold(ctlid, arg, "");
		break;
	case CTL_QUARANTINE:
		queue_ctl_quarantine(ctlid, arg);
		break;
	case CTL_PAUSE_MTA:
	case CTL_RESUME_MTA:
		queue_sched_pause(cmd == CTL_PAUSE_MTA);
		log_info("mta dispatch %s by smtpctl",
		    cmd == CTL_PAUSE_MTA ? "paused" : "resumed");
		proc_ctl_end(ctlid, 0, cmd == CTL_PAUSE_MTA ?
		    "mta paused" : "mta resumed");
		break;
	default:
		proc_ctl_end(ctlid, 1, "not supported by the queue");
		break;
	}
}
