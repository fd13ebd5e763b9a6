/*
 * queue_expand.c: the files a local recipient may lead to, read before
 * it is delivered: the .forward of a mailbox's user, and an :include:
 * file from an alias (or from a .forward).  As in sendmail, this happens
 * when the envelope comes due, not at RCPT time: only smtpd-local may
 * read users' files, and it reads each with the rights of its user
 * (IMSG_LOCAL_EXPAND, answered by IMSG_LOCAL_EXPANDED).
 *
 * No .forward (or an unsafe one, which smtpd-local ignores with a log
 * line): the mailbox is delivered.  A file with items: policyd resolves
 * them (queue_resolve.c) and they replace the envelope, one level deeper.
 * An include that cannot be used is bounced; a temporary failure tries
 * again after `queue retry-min`.  A mailbox marked "\user" (named by
 * itself in its .forward, or as "\user" in a list) skips its .forward.
 * Whether the .forward was read is kept in memory only: after a restart
 * it is read again, which delivers the same.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "mailaddr.h"
#include "proc.h"
#include "queue.h"
#include "util.h"

/* the largest file text policyd takes (POLICY_ALIAS_VALUE_MAX) */
#define EXPAND_TEXT_MAX		65536

/* an envelope whose file smtpd-local is reading */
struct qexpand {
	TAILQ_ENTRY(qexpand)	 entry;
	uint32_t		 id;
	uint64_t		 evpid;
	uint32_t		 kind;		/* TARGET_MAILBOX, _INCLUDE */
	uint32_t		 depth;		/* the envelope's */
	char			 self[ENVELOPE_USER_MAX];
	char			 source[MAILADDR_TARGET_MAX + 16];
};

static TAILQ_HEAD(, qexpand)	 expand_pending =
    TAILQ_HEAD_INITIALIZER(expand_pending);
static uint32_t			 expand_id;

/* Does the envelope lead to a file that must be read first? */
int
queue_expand_needed(const struct envelope *ev)
{
	return ev->mailer == TARGET_INCLUDE ||
	    (ev->mailer == TARGET_MAILBOX && ev->rcpt[0] != '\\');
}

/* Ask smtpd-local for the file of e (ev); e waits, out of the heap. */
void
queue_expand_start(struct qentry *e, const struct envelope *ev, time_t now)
{
	struct qexpand	*x;
	struct imsg_out	 out;

	x = xcalloc(1, sizeof(*x));
	if (expand_id == 0)
		expand_id = arc4random();
	x->id = ++expand_id;
	x->evpid = e->evpid;
	x->kind = ev->mailer;
	x->depth = ev->depth;
	if (ev->mailer == TARGET_MAILBOX) {
		(void)snprintf(x->self, sizeof(x->self), "%.*s",
		    (int)strcspn(ev->rcpt, "+"), ev->rcpt);
		(void)snprintf(x->source, sizeof(x->source), "the .forward "
		    "of %s", x->self);
	} else
		(void)strlcpy(x->source, ev->rcpt, sizeof(x->source));
	imsg_out_init(&out, IMSG_LOCAL_EXPAND, x->id);
	imsg_put_u64(&out, ev->id);
	imsg_put_u32(&out, ev->mailer);
	imsg_put_str(&out, ev->rcpt);
	imsg_put_str(&out, ev->user);
	if (proc_send(PROC_LOCAL, &out, -1) == -1) {
		free(x);
		queue_sched_reschedule(e, now + QUEUE_REQUEUE_DELAY);
		return;
	}
	queue_sched_resolving(e);
	TAILQ_INSERT_TAIL(&expand_pending, x, entry);
}

/* smtpd-local went away: every file is asked for again. */
void
queue_expand_local_down(void)
{
	struct qexpand	*x;
	struct qentry	*e;
	time_t		 now = time(NULL);

	while ((x = TAILQ_FIRST(&expand_pending)) != NULL) {
		TAILQ_REMOVE(&expand_pending, x, entry);
		if ((e = queue_sched_find(x->evpid)) != NULL)
			queue_sched_reschedule(e, now + QUEUE_REQUEUE_DELAY);
		free(x);
	}
}

/* What the answer means for e. */
static void
queue_expand_apply(const struct qexpand *x, struct qentry *e,
    uint32_t outcome, const char *enh, const char *text, const char *owner)
{
	time_t	 now = time(NULL);

	switch (outcome) {
	case EXPAND_NONE:
		e->flags &= ~(uint32_t)QENTRY_F_EXPAND;
		queue_sched_reschedule(e, now);
		break;
	case EXPAND_TEXT:
		queue_resolve_expand(e, x->kind == TARGET_MAILBOX ? x->self :
		    "", x->source, owner, text, x->depth + 1, now);
		break;
	case EXPAND_PERMFAIL:
		log_info("%016llx: %s: %s", (unsigned long long)e->evpid,
		    x->source, text);
		queue_resolve_fail(e, enh, text);
		break;
	default:
		log_info("%016llx: %s: %s; tried again later",
		    (unsigned long long)e->evpid, x->source, text);
		queue_sched_reschedule(e, now + conf->queue_retry_min);
		break;
	}
}

/* IMSG_LOCAL_EXPANDED */
void
queue_expand_result(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct qexpand	*x;
	struct qentry	*e;
	const char	*enh, *text, *owner;
	uint32_t	 outcome;

	(void)iev;
	(void)arg;
	outcome = imsg_get_u32(m);
	enh = imsg_get_str(m);
	text = imsg_get_str(m);
	owner = imsg_get_str(m);
	if (imsg_get_end(m) == -1 || outcome > EXPAND_PERMFAIL ||
	    strlen(text) > EXPAND_TEXT_MAX || strlen(owner) >=
	    ENVELOPE_USER_MAX || (outcome != EXPAND_TEXT &&
	    !text_is_clean(text)) || !text_is_clean(owner) ||
	    strcspn(owner, "/@:| ") != strlen(owner) ||
	    (outcome == EXPAND_PERMFAIL &&
	    !queue_result_estatus_ok(enh, STATUS_PERMFAIL))) {
		proc_peer_bad(PROC_LOCAL, "malformed expand result", m->type);
		return;
	}
	TAILQ_FOREACH(x, &expand_pending, entry)
		if (x->id == m->id)
			break;
	if (x == NULL)
		return;
	TAILQ_REMOVE(&expand_pending, x, entry);
	if ((e = queue_sched_find(x->evpid)) != NULL) {
		if (e->removed) {
			log_info("%016llx: removed by smtpctl",
			    (unsigned long long)e->evpid);
			queue_sched_drop(e);
		} else
			queue_expand_apply(x, e, outcome, enh, text, owner);
	}
	free(x);
	queue_sched_wakeup();
}
