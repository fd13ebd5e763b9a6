/*
 * queue_resolve.c: envelopes whose recipient policyd resolves again.
 *
 * A DSN is addressed to a sender, and a sender of a local domain is a
 * local user, an alias or nobody: it must never be handed to the mta
 * (which would route it out, or back to us).  So a DSN envelope is
 * written with the "resolve" flag; when it comes due, policyd resolves
 * its recipient as it would a RCPT (IMSG_POLICY_RESOLVE).  And the items
 * of a .forward or :include: file that smtpd-local read for an envelope
 * (queue_expand.c) are resolved as the members of an alias list
 * (IMSG_POLICY_EXPAND), one level deeper than the envelope.  Either answer
 * replaces the envelope by one envelope per final recipient: remote,
 * local, or a failed one, which the schedule bounces in turn (a failed
 * bounce goes to the double-bounce address or is dropped, so this ends;
 * so does a recipient that cannot be resolved for the whole queue
 * lifetime).  A program, file or include from a file runs as the file's
 * owner (the envelope's "user").
 *
 * The new envelopes are made durable before the old one is removed: a
 * crash in between resolves the old one again (a duplicate at worst,
 * never a lost one).  A DSN keeps the null sender whatever list it
 * reaches; other mail takes a list owner's address as its sender.  A
 * temporary failure, or policyd going away, tries again after
 * QUEUE_REQUEUE_DELAY.
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

/* an envelope whose recipient policyd is resolving */
struct qresolve {
	TAILQ_ENTRY(qresolve)	 entry;
	uint32_t		 id;
	uint64_t		 evpid;
	/* the items of a file: its source, owner and the new level */
	int			 expand;
	char			 source[MAILADDR_TARGET_MAX + 16];
	char			 owner[ENVELOPE_USER_MAX];
	uint32_t		 depth;
};

/* a final recipient of the answer */
struct qtarget {
	uint32_t	 kind;
	const char	*value;
	const char	*sender;
	const char	*error;
};

static TAILQ_HEAD(, qresolve)	 resolve_pending =
    TAILQ_HEAD_INITIALIZER(resolve_pending);
static uint32_t			 resolve_id;

/* Send policyd the question of r (out is its payload); e waits, out of
 * the heap. */
static void
queue_resolve_ask(struct qentry *e, struct qresolve *r, struct imsg_out *out,
    time_t now)
{
	if (proc_send(PROC_POLICY, out, -1) == -1) {
		free(r);
		queue_sched_reschedule(e, now + QUEUE_REQUEUE_DELAY);
		return;
	}
	/* out of the heap already if smtpd-local read its file */
	if (e->state != QE_RESOLVING)
		queue_sched_resolving(e);
	TAILQ_INSERT_TAIL(&resolve_pending, r, entry);
}

static struct qresolve *
queue_resolve_new(const struct qentry *e)
{
	struct qresolve	*r;

	r = xcalloc(1, sizeof(*r));
	/* from a random start: a late answer from before a restart of ours
	 * must not match a new question */
	if (resolve_id == 0)
		resolve_id = arc4random();
	r->id = ++resolve_id;
	r->evpid = e->evpid;
	return r;
}

/* Ask policyd what e's recipient (a DSN's) is. */
void
queue_resolve_start(struct qentry *e, const char *rcpt, time_t now)
{
	struct qresolve	*r = queue_resolve_new(e);
	struct imsg_out	 out;

	imsg_out_init(&out, IMSG_POLICY_RESOLVE, r->id);
	imsg_put_str(&out, rcpt);
	queue_resolve_ask(e, r, &out, now);
}

/*
 * Ask policyd what the items of a file smtpd-local read for e become:
 * the .forward of self (else an :include: file), source for the logs,
 * its programs, files and includes run as owner, depth levels down.
 */
void
queue_resolve_expand(struct qentry *e, const char *self, const char *source,
    const char *owner, const char *text, uint32_t depth, time_t now)
{
	struct qresolve	*r = queue_resolve_new(e);
	struct imsg_out	 out;

	r->expand = 1;
	(void)strlcpy(r->source, source, sizeof(r->source));
	(void)strlcpy(r->owner, owner, sizeof(r->owner));
	r->depth = depth;
	imsg_out_init(&out, IMSG_POLICY_EXPAND, r->id);
	imsg_put_str(&out, self);
	imsg_put_str(&out, source);
	imsg_put_u32(&out, depth);
	imsg_put_str(&out, text);
	queue_resolve_ask(e, r, &out, now);
}

/* policyd went away: every question waits for the next one. */
void
queue_resolve_policy_down(void)
{
	struct qresolve	*r;
	struct qentry	*e;
	time_t		 now = time(NULL);

	while ((r = TAILQ_FIRST(&resolve_pending)) != NULL) {
		TAILQ_REMOVE(&resolve_pending, r, entry);
		if ((e = queue_sched_find(r->evpid)) != NULL)
			queue_sched_reschedule(e, now + QUEUE_REQUEUE_DELAY);
		free(r);
	}
}

/* A fresh envelope id for the message: not queued, not among ids[n]. */
static uint64_t
queue_resolve_evpid(uint32_t msgid, const uint64_t *ids, size_t n)
{
	uint64_t	 id;
	size_t		 i;

	for (;;) {
		id = id_envelope(msgid);
		if (queue_sched_find(id) != NULL)
			continue;
		for (i = 0; i < n && ids[i] != id; i++)
			;
		if (i == n)
			return id;
	}
}

/* "user@hostname" as the address a local mailbox was given as. */
static void
queue_resolve_orig(const struct envelope *old, struct envelope *e)
{
	const char	*name = old->rcpt + (old->rcpt[0] == '\\');
	char		 a[sizeof(e->orig)];
	int		 n;

	if (old->orig[0] != '\0' || strcmp(old->rcpt, e->rcpt) == 0)
		return;
	if (!queue_envelope_local(old)) {
		(void)strlcpy(e->orig, old->rcpt, sizeof(e->orig));
		return;
	}
	if (old->mailer != TARGET_MAILBOX)
		return;
	n = snprintf(a, sizeof(a), "%s@%s", name, conf->hostname);
	if (n > 0 && (size_t)n < sizeof(a) && mailaddr_rcpt_valid(a))
		(void)strlcpy(e->orig, a, sizeof(e->orig));
}

/* The envelope for one final recipient, from the one resolved (r). */
static int
queue_resolve_envelope(const struct qresolve *r, const struct envelope *old,
    const struct qtarget *t, struct envelope *e)
{
	size_t	 n;

	*e = *old;
	e->flags &= ~(uint32_t)ENVELOPE_F_RESOLVE;
	e->mailer = t->kind;
	if (strlcpy(e->rcpt, t->value, sizeof(e->rcpt)) >= sizeof(e->rcpt))
		return -1;
	queue_resolve_orig(old, e);
	e->user[0] = '\0';
	if (r->expand) {
		e->depth = r->depth;
		if (t->kind == TARGET_PROGRAM || t->kind == TARGET_FILE ||
		    t->kind == TARGET_INCLUDE)
			(void)strlcpy(e->user, r->owner, sizeof(e->user));
		/* a list owner's address, but a DSN keeps <> */
		if (t->sender[0] != '\0' && old->sender[0] != '\0' &&
		    strlcpy(e->sender, t->sender, sizeof(e->sender)) >=
		    sizeof(e->sender))
			return -1;
	}
	e->domain[0] = '\0';
	if (!queue_envelope_local(e) && queue_envelope_domain(e->rcpt,
	    e->domain, sizeof(e->domain)) == -1)
		return -1;
	if (t->kind == TARGET_ERROR) {
		n = strcspn(t->error + 4, " ");
		(void)snprintf(e->last_status, sizeof(e->last_status), "%.*s",
		    (int)n, t->error + 4);
		queue_envelope_text_set(e->last_error, sizeof(e->last_error),
		    t->error);
	}
	return 0;
}

/*
 * Replace the envelope by those of its final recipients: written and
 * synced first, then scheduled, then the old one removed.  -1 if they
 * could not be written (the old one stays and is resolved again).
 */
static int
queue_resolve_replace(const struct qresolve *r, struct qentry *e,
    const struct qtarget *ts, size_t n)
{
	struct envelope	 old, *evs;
	struct spool_tx	 tx;
	uint64_t	*ids;
	const char	*why = "";
	size_t		 i;
	int		 unit, ok;

	if (queue_spool_envelope_read(&queue_spool, e->evpid, &old,
	    &why) == -1) {
		log_warnx("%016llx: cannot read the envelope to resolve (%s)",
		    (unsigned long long)e->evpid, why);
		return -1;
	}
	evs = xcalloc(n, sizeof(*evs));
	ids = xcalloc(n, sizeof(*ids));
	queue_spool_tx_init(&tx, &queue_spool);
	unit = queue_spool_tx_unit(&tx);
	for (i = 0; i < n; i++) {
		if (queue_resolve_envelope(r, &old, &ts[i], &evs[i]) == -1) {
			queue_spool_tx_unit_fail(&tx, unit);
			break;
		}
		evs[i].id = ids[i] = queue_resolve_evpid(old.msgid, ids, i);
		(void)queue_spool_tx_envelope(&tx, unit, &evs[i]);
	}
	(void)queue_spool_tx_commit(&tx);
	ok = queue_spool_tx_unit_ok(&tx, unit);
	queue_spool_tx_free(&tx);
	for (i = 0; ok && i < n; i++) {
		log_info("%08x: %s <%s> resolved: %s <%s>%s%s", old.msgid,
		    r->expand ? r->source : "DSN to", old.rcpt, queue_envelope_local(&evs[i]) ? "local" :
		    evs[i].mailer == TARGET_ERROR ? "failed" : "remote",
		    evs[i].rcpt, evs[i].mailer == TARGET_ERROR ? ": " : "",
		    evs[i].mailer == TARGET_ERROR ? evs[i].last_error : "");
		(void)queue_sched_add(&evs[i]);
	}
	free(ids);
	free(evs);
	if (!ok)
		return -1;
	queue_sched_drop(e);
	return 0;
}

/*
 * Fail e's recipient for good with the reply "550 ENH <addr>... text", as
 * one failed target that the schedule bounces; put off when the envelope
 * cannot be read or replaced.
 */
static void
queue_resolve_fail_as(const struct qresolve *r, struct qentry *e,
    const char *enh, const char *text)
{
	struct envelope	 old;
	struct qtarget	 t;
	const char	*why = "";
	char		 line[ENVELOPE_TEXT_LINE + CONF_ADDR_MAX];
	char		 pm[CONF_ADDR_MAX + CONF_HOST_MAX];

	if (queue_spool_envelope_read(&queue_spool, e->evpid, &old,
	    &why) == -1) {
		queue_sched_reschedule(e, time(NULL) + QUEUE_REQUEUE_DELAY);
		return;
	}
	t.kind = TARGET_ERROR;
	t.value = queue_envelope_local(&old) ? old.orig : old.rcpt;
	t.sender = "";
	if (!mailaddr_mailbox_valid(t.value)) {
		(void)snprintf(pm, sizeof(pm), "postmaster@%s", conf->hostname);
		t.value = pm;
	}
	(void)snprintf(line, sizeof(line), "550 %s <%.300s>... %.300s", enh,
	    t.value, text);
	t.error = line;
	if (queue_resolve_replace(r, e, &t, 1) == -1)
		queue_sched_reschedule(e, time(NULL) + QUEUE_REQUEUE_DELAY);
}

/* A local file that cannot be used (queue_expand.c): bounced. */
void
queue_resolve_fail(struct qentry *e, const char *enh, const char *text)
{
	struct qresolve	 r;

	memset(&r, 0, sizeof(r));
	queue_resolve_fail_as(&r, e, enh, text);
}

/* The targets of an answer: the count, or -1 if one is malformed. */
static int
queue_resolve_targets(struct imsg *m, struct qtarget **out)
{
	struct qtarget	*ts;
	uint32_t	 n, i;

	*out = NULL;
	n = imsg_get_u32(m);
	if (n > CONF_ALIAS_EXPANSION_MAX)
		return -1;
	ts = xcalloc(n > 0 ? n : 1, sizeof(*ts));
	for (i = 0; i < n; i++) {
		ts[i].kind = imsg_get_u32(m);
		ts[i].value = imsg_get_str(m);
		ts[i].sender = imsg_get_str(m);
		ts[i].error = imsg_get_str(m);
		if (ts[i].kind > TARGET_KIND_MAX ||
		    !mailaddr_target_valid(ts[i].kind, ts[i].value) ||
		    (ts[i].kind == TARGET_ERROR) != (ts[i].error[0] != '\0') ||
		    (ts[i].error[0] != '\0' && strlen(ts[i].error) < 10) ||
		    (ts[i].sender[0] != '\0' &&
		    !queue_envelope_rcpt_valid(ts[i].sender))) {
			free(ts);
			return -1;
		}
	}
	*out = ts;
	return (int)n;
}

/* IMSG_POLICY_RESOLVE_RESULT */
void
queue_resolve_result(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct qresolve	*r;
	struct qentry	*e;
	struct qtarget	*ts;
	uint32_t	 status;
	int		 n;

	(void)iev;
	(void)arg;
	status = imsg_get_u32(m);
	if ((n = queue_resolve_targets(m, &ts)) == -1 ||
	    imsg_get_end(m) == -1 || status > STATUS_PERMFAIL ||
	    (status == STATUS_OK) != (n > 0)) {
		free(ts);
		proc_peer_bad(PROC_POLICY, "malformed resolve result",
		    m->type);
		return;
	}
	TAILQ_FOREACH(r, &resolve_pending, entry)
		if (r->id == m->id)
			break;
	if (r == NULL) {
		free(ts);
		return;
	}
	TAILQ_REMOVE(&resolve_pending, r, entry);
	e = queue_sched_find(r->evpid);
	if (e != NULL && e->removed) {
		log_info("%016llx: removed by smtpctl",
		    (unsigned long long)e->evpid);
		queue_sched_drop(e);
	} else if (e != NULL && status != STATUS_OK &&
	    time(NULL) - e->ctime >= conf->queue_lifetime)
		/* rather than asked about forever */
		queue_resolve_fail_as(r, e, "5.4.0", "Could not be resolved "
		    "within the queue lifetime");
	else if (e != NULL && (status != STATUS_OK ||
	    queue_resolve_replace(r, e, ts, (size_t)n) == -1))
		queue_sched_reschedule(e, time(NULL) + QUEUE_REQUEUE_DELAY);
	free(r);
	free(ts);
	queue_sched_wakeup();
}
