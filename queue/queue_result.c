/*
 * queue_result.c: what happens to envelopes once the outbound client has
 * tried them (IMSG_MTA_RESULT, IMSG_MTA_DONE, or a lost mta), or
 * smtpd-local has (IMSG_LOCAL_RESULT, or a lost smtpd-local).
 *
 * A batch is settled as a whole after its IMSG_MTA_DONE arrives; every
 * batch done in one event-loop pass is settled together, so their DSNs
 * share one spool transaction and their rewritten envelopes another (one
 * data sync and one directory fsync for all of them):
 *   delivered	logged, removed (and a "relayed" DSN if NOTIFY=SUCCESS and
 *		the next hop did not take the DSN request; if that DSN
 *		cannot be written the envelope is kept, flagged dsn-pending,
 *		and only the DSN is tried again later);
 *   tempfail	retried after retry_min doubling up to retry_max, with one
 *		delay DSN once older than delay_warning; older than the
 *		queue lifetime it fails;
 *   permfail	failed at once.
 * The failed recipients of the batch that want a DSN get one DSN; a failed
 * bounce (sender <>) goes to the double-bounce address, or is dropped.
 * Every DSN is committed (phase 1) before the envelopes it reports are
 * removed or rewritten (phase 2), so a crash in between repeats a DSN at
 * worst and never loses one.  Envelopes without a result (mta or
 * smtpd-local died) are requeued shortly without counting a retry.  Each
 * batch of the mta also tells the scheduler whether its next hop was reachable (queue_sched_domain_result).
 * An enhanced status from mta is used only if it is a well-formed X.Y.Z
 * of the class of the result; otherwise the result's default is used.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mailaddr.h"
#include "proc.h"
#include "queue.h"
#include "queue_bounce.h"
#include "util.h"

#include <event2/event.h>

enum result_fate {
	FATE_REQUEUE = 0,	/* no result: try again soon */
	FATE_RETRY,		/* rewrite with the next try time */
	FATE_DROP,		/* delivered, removed or not reportable */
	FATE_REPORTED		/* dropped once its DSN is committed */
};

enum result_dsn {
	DSN_FAILED = 0,
	DSN_DELAYED,
	DSN_RELAYED,
	DSN_DOUBLE,
	DSN_KINDS
};

struct result_dsn_set {
	size_t		 idx[QUEUE_BATCH_MAX];
	size_t		 n;
	int		 unit;
	int		 failed;
	uint32_t	 newmsgid;
	struct envelope	 evp;
};

struct result_ctx {
	struct qbatch		*b;
	time_t			 now;
	enum result_fate	 fate[QUEUE_BATCH_MAX];
	int			 dsn_of[QUEUE_BATCH_MAX];
	struct result_dsn_set	 dsn[DSN_KINDS];
};

#define RESULT_SETTLE_MAX	256	/* batches settled in one pass */

static TAILQ_HEAD(, qbatch)	 result_done = TAILQ_HEAD_INITIALIZER(result_done);
static struct event		*result_ev;

time_t
queue_result_backoff(time_t min, time_t max, uint32_t retries)
{
	time_t	 d = min > 0 ? min : 1;
	uint32_t i;

	for (i = 1; i < retries && d < max; i++)
		d *= 2;
	return d > max ? max : d;
}

/* sendmail's mailer= of an envelope */
static const char *
queue_result_mailer(const struct envelope *e)
{
	switch (e->mailer) {
	case TARGET_MAILBOX:
		return "local";
	case TARGET_PROGRAM:
		return "prog";
	case TARGET_FILE:
		return "*file*";
	case TARGET_INCLUDE:
		return "*include*";
	case TARGET_ERROR:
		return "error";
	default:
		return "esmtp";
	}
}

/* The sendmail-shaped line of one delivery attempt. */
static void
queue_result_log(const struct qbatch *b, size_t i, time_t now, const char *stat,
    const char *sep)
{
	const struct envelope	*e = &b->evs[i];
	const struct qresult	*r = &b->res[i];
	char			 d1[32], d2[32], relay[CONF_HOST_MAX + 16];
	char			 orig[CONF_ADDR_MAX + 16];

	relay[0] = '\0';
	if (r->relay[0] != '\0')
		(void)snprintf(relay, sizeof(relay), ", relay=%s", r->relay);
	orig[0] = '\0';
	if (e->orig[0] != '\0')
		(void)snprintf(orig, sizeof(orig), ", orig_to=<%s>", e->orig);
	log_info("%08x: to=<%s>%s, delay=%s, xdelay=%s, mailer=%s%s, "
	    "dsn=%s, stat=%s%s%s%s", e->msgid, e->rcpt, orig,
	    duration_fmt(now - e->ctime, d1, sizeof(d1)),
	    duration_fmt((time_t)r->xdelay, d2, sizeof(d2)),
	    queue_result_mailer(e), relay, r->estatus, stat, sep,
	    r->text, sep[0] == ' ' ? ")" : "");
	proc_monitor("%08x: to=<%s> stat=%s", e->msgid, e->rcpt, stat);
}

static void
queue_result_dsn_add(struct result_ctx *c, size_t i, enum result_dsn kind)
{
	struct result_dsn_set	*d = &c->dsn[kind];

	d->idx[d->n++] = i;
	c->dsn_of[i] = (int)kind;
}

/* A recipient failed for good: pick its DSN, if any. */
static void
queue_result_failed(struct result_ctx *c, size_t i)
{
	const struct envelope	*e = &c->b->evs[i];

	stats_add("queue.bounce", 1);
	if (e->sender[0] != '\0') {
		if (queue_bounce_wanted(e, BOUNCE_FAILED)) {
			c->fate[i] = FATE_REPORTED;
			queue_result_dsn_add(c, i, DSN_FAILED);
		} else
			log_info("%08x: to=<%s>: no failure DSN requested",
			    e->msgid, e->rcpt);
		return;
	}
	if ((e->flags & ENVELOPE_F_DOUBLE) || conf->double_bounce[0] == '\0') {
		log_info("%08x: to=<%s>: failed bounce dropped%s", e->msgid,
		    e->rcpt, (e->flags & ENVELOPE_F_DOUBLE) ?
		    " (double bounce)" : " (no double-bounce address)");
		return;
	}
	c->fate[i] = FATE_REPORTED;
	queue_result_dsn_add(c, i, DSN_DOUBLE);
}

/* A temporary failure: retry later, warn once, or give up. */
static void
queue_result_tempfail(struct result_ctx *c, size_t i)
{
	struct envelope	*e = &c->b->evs[i];
	time_t		 age = c->now - e->ctime;
	char		 msg[ENVELOPE_TEXT_LINE + 64], dur[32];

	queue_result_log(c->b, i, c->now, "Deferred", ": ");
	stats_add("queue.delivery.tempfail", 1);
	if (age >= conf->queue_lifetime) {
		(void)snprintf(msg, sizeof(msg),
		    "could not deliver for %s: %s",
		    duration_fmt(age, dur, sizeof(dur)), c->b->res[i].text);
		(void)strlcpy(e->last_error, msg, sizeof(e->last_error));
		queue_result_failed(c, i);
		return;
	}
	e->retries++;
	e->nexttry = c->now + queue_result_backoff(conf->queue_retry_min,
	    conf->queue_retry_max, e->retries);
	c->fate[i] = FATE_RETRY;
	if (age >= conf->queue_delay_warning)
		c->b->ents[i]->flags |= QENTRY_F_WARNED;
	if ((e->flags & ENVELOPE_F_DELAY_SENT) == 0 &&
	    age >= conf->queue_delay_warning && e->sender[0] != '\0' &&
	    queue_bounce_wanted(e, BOUNCE_DELAYED))
		queue_result_dsn_add(c, i, DSN_DELAYED);
}

/* Sort one result into its fate and DSN. */
static void
queue_result_classify(struct result_ctx *c, size_t i)
{
	struct envelope		*e = &c->b->evs[i];
	const struct qresult	*r = &c->b->res[i];

	c->fate[i] = FATE_DROP;
	c->dsn_of[i] = -1;
	if (c->b->ents[i]->removed) {
		log_info("%08x: to=<%s>: removed by smtpctl", e->msgid,
		    e->rcpt);
		return;
	}
	if (!r->got) {
		c->fate[i] = FATE_REQUEUE;
		return;
	}
	if (e->flags & ENVELOPE_F_DSN_PENDING) {
		/* delivered before; only its "relayed" DSN is missing */
		c->fate[i] = FATE_REPORTED;
		queue_result_dsn_add(c, i, DSN_RELAYED);
		return;
	}
	e->lasttry = c->now;
	(void)strlcpy(e->last_status, r->estatus, sizeof(e->last_status));
	(void)strlcpy(e->last_error, r->text, sizeof(e->last_error));
	(void)strlcpy(e->last_relay, r->relay, sizeof(e->last_relay));
	if (r->status == STATUS_OK) {
		queue_result_log(c->b, i, c->now, "Sent", " (");
		stats_add("queue.delivery.ok", 1);
		stats_hist_add("queue.delivery.delay.seconds",
		    (int64_t)(c->now - e->ctime) * 1000000);
		/* privacy noreceipts: no success DSN, whatever the
		 * envelope asked for before the flag was set */
		if (e->sender[0] != '\0' &&
		    !(conf->privacy & PRIV_NORECEIPTS) &&
		    queue_bounce_wanted(e, BOUNCE_RELAYED) &&
		    (r->flags & MTA_RESULT_F_DSN_RELAYED) == 0) {
			c->fate[i] = FATE_REPORTED;
			queue_result_dsn_add(c, i, DSN_RELAYED);
		}
	} else if (r->status == STATUS_TEMPFAIL)
		queue_result_tempfail(c, i);
	else {
		queue_result_log(c->b, i, c->now, "Bounced", ": ");
		stats_add("queue.delivery.permfail", 1);
		queue_result_failed(c, i);
	}
}

/* Write the DSN text of a set into an incoming file. */
static int
queue_result_dsn_text(struct result_ctx *c, enum result_dsn kind, int fd,
    const char *to)
{
	static const enum bounce_action	 act[DSN_KINDS] = {
		BOUNCE_FAILED, BOUNCE_DELAYED, BOUNCE_RELAYED, BOUNCE_FAILED
	};
	struct result_dsn_set	*d = &c->dsn[kind];
	struct bounce_rcpt	 r[QUEUE_BATCH_MAX];
	struct bounce_info	 bi;
	const struct envelope	*e0 = &c->b->evs[d->idx[0]];
	char			 boundary[64];
	FILE			*out, *orig;
	size_t			 i;
	int			 ofd, rc;

	for (i = 0; i < d->n; i++) {
		const struct qresult	*res = &c->b->res[d->idx[i]];

		r[i].evp = &c->b->evs[d->idx[i]];
		r[i].status = res->estatus;
		r[i].relay = res->relay;
		r[i].diagnostic = r[i].evp->last_error;
		r[i].last_attempt = c->now;
	}
	memset(&bi, 0, sizeof(bi));
	bi.action = act[kind];
	bi.hostname = conf->hostname;
	bi.to = to;
	bi.msgid = e0->msgid;
	bi.newmsgid = d->newmsgid;
	bi.now = c->now;
	bi.retry_until = e0->ctime + conf->queue_lifetime;
	(void)snprintf(boundary, sizeof(boundary), "%08x.%08x/dsn",
	    d->newmsgid, arc4random());
	bi.boundary = boundary;
	bi.privacy = conf->privacy;
	if ((out = fdopen(fd, "w")) == NULL) {
		(void)close(fd);
		return -1;
	}
	if ((ofd = queue_spool_message_open(&queue_spool, e0->msgid)) == -1 ||
	    (orig = fdopen(ofd, "r")) == NULL) {
		log_warn("%08x: open message for its DSN", e0->msgid);
		if (ofd != -1)
			(void)close(ofd);
		(void)fclose(out);
		return -1;
	}
	rc = queue_bounce_write(out, &bi, r, d->n, orig);
	if (fclose(out) == EOF)
		rc = -1;
	(void)fclose(orig);
	return rc;
}

/* Fill the envelope of a new DSN message. */
static int
queue_result_dsn_envelope(struct result_ctx *c, struct result_dsn_set *d,
    enum result_dsn kind, const char *to)
{
	struct envelope	*n = &d->evp;
	long long	 size;
	size_t		 i;

	size = queue_spool_message_size(&queue_spool, SPOOL_INCOMING,
	    d->newmsgid);
	memset(n, 0, sizeof(*n));
	n->id = id_envelope(d->newmsgid);
	n->msgid = d->newmsgid;
	n->type = ENVELOPE_BOUNCE;
	(void)strlcpy(n->rcpt, to, sizeof(n->rcpt));
	(void)strlcpy(n->helo, conf->hostname, sizeof(n->helo));
	(void)strlcpy(n->client_name, conf->hostname, sizeof(n->client_name));
	(void)strlcpy(n->proto, "LOCAL", sizeof(n->proto));
	/* made here, submitted by no one (RFC 4954 5) */
	(void)strlcpy(n->auth, "<>", sizeof(n->auth));
	n->body = c->b->evs[d->idx[0]].body;
	/* RFC 6533: the parts of an internationalized DSN are 8-bit, but
	 * only a non-ASCII recipient (its To:) needs SMTPUTF8 */
	for (i = 0; i < d->n; i++)
		if (queue_bounce_global_envelope(&c->b->evs[d->idx[i]]))
			n->body = 1;
	if (!mailaddr_is_ascii(to)) {
		n->body = 1;
		n->utf8 = UTF8_F_SMTPUTF8 | UTF8_F_HEADERS;
	}
	n->size = size < 0 ? 0 : (uint64_t)size;
	n->ctime = n->nexttry = c->now;
	n->flags = ENVELOPE_F_RESOLVE |
	    (kind == DSN_DOUBLE ? ENVELOPE_F_DOUBLE : 0);
	if (size < 0 || queue_envelope_domain(to, n->domain,
	    sizeof(n->domain)) == -1)
		return -1;
	return 0;
}

/* Phase 1 for one set: write the DSN message and add it to tx. */
static void
queue_result_dsn_make(struct result_ctx *c, enum result_dsn kind,
    struct spool_tx *tx)
{
	struct result_dsn_set	*d = &c->dsn[kind];
	const char		*to;
	int			 fd;

	d->unit = -1;
	if (d->n == 0)
		return;
	to = kind == DSN_DOUBLE ? conf->double_bounce :
	    c->b->evs[d->idx[0]].sender;
	d->unit = queue_spool_tx_unit(tx);
	if (!queue_envelope_rcpt_valid(to)) {
		log_warnx("%08x: cannot send a DSN to <%s>",
		    c->b->evs[d->idx[0]].msgid, to);
		queue_spool_tx_unit_fail(tx, d->unit);
		return;
	}
	fd = queue_spool_message_create(&queue_spool, &d->newmsgid,
	    queue_commit_msgid_inuse, 0);
	if (fd == -1) {
		/* never discard an id that is not ours (another session's) */
		d->newmsgid = 0;
		queue_spool_tx_unit_fail(tx, d->unit);
		return;
	}
	if (queue_result_dsn_text(c, kind, fd, to) == -1 ||
	    queue_result_dsn_envelope(c, d, kind, to) == -1 ||
	    queue_spool_tx_message(tx, d->unit, d->newmsgid) == -1 ||
	    queue_spool_tx_envelope(tx, d->unit, &d->evp) == -1) {
		log_warnx("%08x: cannot write DSN %08x",
		    c->b->evs[d->idx[0]].msgid, d->newmsgid);
		queue_spool_tx_unit_fail(tx, d->unit);
	}
}

/* After phase 1: schedule the DSNs that made it, log them. */
static void
queue_result_dsn_settle(struct result_ctx *c, enum result_dsn kind,
    struct spool_tx *tx)
{
	static const char	*why[DSN_KINDS] = {
		NULL, "Warning: could not send message for past %s",
		"Return receipt: relayed, expect no further notifications",
		"double bounce to the double-bounce address: %s"
	};
	struct result_dsn_set	*d = &c->dsn[kind];
	const struct envelope	*e0;
	char			 reason[ENVELOPE_TEXT_LINE + 64], dur[32];

	if (d->n == 0)
		return;
	e0 = &c->b->evs[d->idx[0]];
	if (!queue_spool_tx_unit_ok(tx, d->unit)) {
		if (d->newmsgid != 0)
			queue_spool_message_discard(&queue_spool, d->newmsgid);
		d->failed = 1;
		return;
	}
	if (kind == DSN_FAILED)
		(void)strlcpy(reason, e0->last_error, sizeof(reason));
	else if (kind == DSN_DELAYED)
		(void)snprintf(reason, sizeof(reason), why[kind],
		    duration_fmt(conf->queue_delay_warning, dur, sizeof(dur)));
	else
		(void)snprintf(reason, sizeof(reason), why[kind],
		    e0->last_error);
	log_info("%08x: %08x: DSN: %s", e0->msgid, d->newmsgid, reason);
	stats_add("queue.dsn", 1);
	(void)queue_sched_add(&d->evp);
}

/* After phase 1: keep the envelopes whose DSN is not written yet. */
static void
queue_result_dsn_fates(struct result_ctx *c)
{
	struct envelope	*e;
	size_t		 i;

	for (i = 0; i < c->b->n; i++) {
		if (c->dsn_of[i] == -1)
			continue;
		e = &c->b->evs[i];
		if (!c->dsn[c->dsn_of[i]].failed) {
			if (c->dsn_of[i] == DSN_DELAYED)
				e->flags |= ENVELOPE_F_DELAY_SENT;
			continue;
		}
		/* no DSN yet: keep the envelope so that one is made later;
		 * a delivered one must not go out again, only its DSN */
		if (c->fate[i] == FATE_REPORTED) {
			c->fate[i] = FATE_RETRY;
			e->nexttry = c->now + conf->queue_retry_min;
			if (c->dsn_of[i] == DSN_RELAYED)
				e->flags |= ENVELOPE_F_DSN_PENDING;
		}
	}
}

/* Phase 1: commit every DSN of the batches in one transaction. */
static void
queue_result_phase_dsn(struct result_ctx *cs, size_t n)
{
	struct spool_tx	 tx;
	size_t		 j;
	int		 k, any = 0;

	for (j = 0; j < n; j++)
		for (k = 0; k < DSN_KINDS; k++)
			any |= cs[j].dsn[k].n > 0;
	if (!any)
		return;
	queue_spool_tx_init(&tx, &queue_spool);
	for (j = 0; j < n; j++)
		for (k = 0; k < DSN_KINDS; k++)
			queue_result_dsn_make(&cs[j], (enum result_dsn)k, &tx);
	(void)queue_spool_tx_commit(&tx);
	for (j = 0; j < n; j++)
		for (k = 0; k < DSN_KINDS; k++)
			queue_result_dsn_settle(&cs[j], (enum result_dsn)k,
			    &tx);
	queue_spool_tx_free(&tx);
	for (j = 0; j < n; j++)
		queue_result_dsn_fates(&cs[j]);
}

/* Phase 2: rewrite the retried envelopes durably, in one transaction. */
static void
queue_result_phase_rewrite(struct result_ctx *cs, size_t n)
{
	struct spool_tx	 tx;
	size_t		 i, j, nrw = 0;

	queue_spool_tx_init(&tx, &queue_spool);
	for (j = 0; j < n; j++) {
		for (i = 0; i < cs[j].b->n; i++) {
			if (cs[j].fate[i] != FATE_RETRY)
				continue;
			(void)queue_spool_tx_envelope(&tx,
			    queue_spool_tx_unit(&tx), &cs[j].b->evs[i]);
			nrw++;
		}
	}
	if (nrw > 0 && queue_spool_tx_commit(&tx) > 0)
		log_warnx("%zu envelopes: some could not be rewritten; "
		    "their retry state lives in memory only", nrw);
	queue_spool_tx_free(&tx);
}

/* What the batch says of its next hop: -1 not reached (every result a
 * temporary X.4.x, network or routing, failure: refused, timed out, no
 * route, DNS), 1 reached, 0 nothing known. */
static int
queue_result_verdict(const struct qbatch *b)
{
	const struct qresult	*r;
	size_t			 i, ngot = 0;

	if (b->local || b->to_local)
		return 0;
	for (i = 0; i < b->n; i++) {
		r = &b->res[i];
		if (!r->got)
			continue;
		ngot++;
		if (r->status != STATUS_TEMPFAIL ||
		    strncmp(r->estatus, "4.4.", 4) != 0)
			return 1;
	}
	return ngot > 0 ? -1 : 0;
}

/* Apply the fates of one batch in memory and end it. */
static void
queue_result_apply(struct result_ctx *c)
{
	struct qbatch	*b = c->b;
	struct qentry	*e;
	size_t		 i;

	if (!b->local && !b->to_local && b->n > 0)
		queue_sched_domain_result(b->evs[0].domain, b->probe,
		    queue_result_verdict(b), &b->res[0], c->now);
	for (i = 0; i < b->n; i++) {
		e = b->ents[i];
		switch (c->fate[i]) {
		case FATE_REQUEUE:
			if (b->to_local)
				e->flags |= QENTRY_F_RECHECK;
			queue_sched_reschedule(e, c->now + QUEUE_REQUEUE_DELAY);
			break;
		case FATE_RETRY:
			e->retries = b->evs[i].retries;
			e->flags = (e->flags & (QENTRY_F_WARNED |
			    QENTRY_F_FORCE | QENTRY_F_LOCAL | QENTRY_F_MAILBOX |
			    QENTRY_F_EXPAND)) |
			    b->evs[i].flags;
			if (b->to_local &&
			    (b->res[i].flags & LOCAL_RESULT_F_UNSURE))
				e->flags |= QENTRY_F_RECHECK;
			queue_sched_reschedule(e, b->evs[i].nexttry);
			break;
		case FATE_DROP:
		case FATE_REPORTED:
			queue_sched_drop(e);
			break;
		}
	}
	queue_sched_batch_free(b);
}

/* Settle batches: classify, commit the DSNs, rewrite, apply. */
static void
queue_result_settle(struct qbatch **bs, size_t n)
{
	struct result_ctx	*cs;
	size_t			 i, j;

	cs = xcalloc(n, sizeof(*cs));
	for (j = 0; j < n; j++) {
		cs[j].b = bs[j];
		cs[j].now = time(NULL);
		for (i = 0; i < bs[j]->n; i++)
			queue_result_classify(&cs[j], i);
	}
	queue_result_phase_dsn(cs, n);
	queue_result_phase_rewrite(cs, n);
	for (j = 0; j < n; j++)
		queue_result_apply(&cs[j]);
	free(cs);
	queue_sched_wakeup();
}

/* Settle one batch now (mta lost, or a local batch). */
void
queue_result_batch(struct qbatch *b)
{
	if (b->queued) {
		TAILQ_REMOVE(&result_done, b, done);
		b->queued = 0;
	}
	queue_result_settle(&b, 1);
}

/* The batches done in this event-loop pass, settled together. */
static void
queue_result_run(int fd, short ev, void *arg)
{
	struct qbatch	*bs[RESULT_SETTLE_MAX], *b;
	size_t		 n = 0;

	(void)fd;
	(void)ev;
	(void)arg;
	while (n < RESULT_SETTLE_MAX &&
	    (b = TAILQ_FIRST(&result_done)) != NULL) {
		TAILQ_REMOVE(&result_done, b, done);
		b->queued = 0;
		bs[n++] = b;
	}
	if (n > 0)
		queue_result_settle(bs, n);
	if (!TAILQ_EMPTY(&result_done))
		event_active(result_ev, EV_TIMEOUT, 0);
}

void
queue_result_init(void)
{
	if ((result_ev = event_new(proc_base, -1, 0, queue_result_run,
	    NULL)) == NULL)
		fatalx("cannot create the result event");
}

/* Is s an enhanced status code "X.Y.Z" (RFC 3463: class 2, 4 or 5,
 * subject 0-999, detail 0-999) of the class of the result? */
int
queue_result_estatus_ok(const char *s, uint32_t status)
{
	static const char	 cls[] = { '2', '4', '5' };
	size_t			 part, len;

	if (status > STATUS_PERMFAIL || s[0] != cls[status] || s[1] != '.')
		return 0;
	s += 2;
	for (part = 0; part < 2; part++) {
		for (len = 0; isdigit((unsigned char)s[len]); len++)
			;
		if (len == 0 || len > 3 || (len > 1 && s[0] == '0'))
			return 0;
		s += len;
		if (part == 0 && *s++ != '.')
			return 0;
	}
	return *s == '\0';
}

/*
 * Keep result r of envelope evpid in its batch m->id, a batch of the mta
 * or of smtpd-local (to_local), as peer says; NULL (peer broken) if the
 * batch or the envelope is not one peer is working on.
 */
static struct qbatch *
queue_result_keep(enum proc_id peer, struct imsg *m, uint64_t evpid,
    int to_local, struct qresult *r)
{
	static const char	*dflt[] = { "2.0.0", "4.0.0", "5.0.0" };
	struct qbatch		*b;
	struct qentry		*e;

	if (imsg_get_end(m) == -1 || r->status > STATUS_PERMFAIL) {
		proc_peer_bad(peer, "malformed delivery result", m->type);
		return NULL;
	}
	if ((b = queue_sched_batch_find(m->id)) == NULL || b->queued ||
	    b->to_local != to_local || (e = queue_sched_find(evpid)) == NULL ||
	    e->batch != b || b->res[e->bidx].got) {
		proc_peer_bad(peer, "result for an unknown recipient", m->type);
		return NULL;
	}
	if (!queue_result_estatus_ok(r->estatus, r->status))
		(void)strlcpy(r->estatus, dflt[r->status], sizeof(r->estatus));
	if (to_local)
		r->xdelay = (int64_t)(time(NULL) - b->started);
	r->got = 1;
	b->res[e->bidx] = *r;
	return b;
}

/* IMSG_MTA_RESULT: keep the result until the batch is done. */
void
queue_result_result(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct qresult		 r;
	uint64_t		 evpid;

	memset(&r, 0, sizeof(r));
	evpid = imsg_get_u64(m);
	r.status = imsg_get_u32(m);
	queue_envelope_text_set(r.estatus, sizeof(r.estatus), imsg_get_str(m));
	queue_envelope_text_set(r.relay, sizeof(r.relay), imsg_get_str(m));
	r.xdelay = imsg_get_i64(m);
	queue_envelope_text_set(r.text, sizeof(r.text), imsg_get_str(m));
	r.flags = imsg_get_u32(m);
	(void)queue_result_keep(PROC_MTA, m, evpid, 0, &r);
}

/* Settle a batch whose results are all in, once this event-loop pass is
 * over (with the others done in it). */
static void
queue_result_batch_done(struct qbatch *b)
{
	if (result_ev == NULL) {
		queue_result_batch(b);
		return;
	}
	b->queued = 1;
	TAILQ_INSERT_TAIL(&result_done, b, done);
	event_active(result_ev, EV_TIMEOUT, 0);
}

/* IMSG_MTA_DONE: the batch is settled with the others of this pass. */
void
queue_result_done(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct qbatch	*b;

	if (imsg_get_end(m) == -1 ||
	    (b = queue_sched_batch_find(m->id)) == NULL || b->queued ||
	    b->to_local) {
		proc_peer_bad(PROC_MTA, "done for an unknown batch", m->type);
		return;
	}
	queue_result_batch_done(b);
}

/* IMSG_LOCAL_RESULT: the one result of a local batch, which it ends. */
void
queue_result_local(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct qbatch		*b;
	struct qresult		 r;
	uint64_t		 evpid;

	memset(&r, 0, sizeof(r));
	evpid = imsg_get_u64(m);
	r.status = imsg_get_u32(m);
	queue_envelope_text_set(r.estatus, sizeof(r.estatus), imsg_get_str(m));
	queue_envelope_text_set(r.text, sizeof(r.text), imsg_get_str(m));
	r.flags = imsg_get_u32(m);
	if ((b = queue_result_keep(PROC_LOCAL, m, evpid, 1, &r)) != NULL)
		queue_result_batch_done(b);
}
