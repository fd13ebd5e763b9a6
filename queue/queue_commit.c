/*
 * queue_commit.c: messages on their way in from the front end.
 *
 * IMSG_QUEUE_MESSAGE_CREATE makes incoming/<msgid> and hands its fd to
 * the session; IMSG_QUEUE_MESSAGE_COMMIT is validated field by field and
 * checked against the file size, then parked.  A quarantine reason in
 * the commit is stored in every envelope, which the schedule then holds.  Every COMMIT read in one
 * event-loop pass is made durable by one spool transaction (group
 * commit, see queue_spool.h), and only then is each answered with
 * IMSG_QUEUE_MESSAGE_COMMITTED, the front end's cue to say 250.
 *
 * Failure behaviour: a malformed payload (an AUTH= value that is empty,
 * too long or not clean text included: the front end never sends one),
 * or a message id that is not the session's, marks the front end as
 * broken (proc_peer_bad); invalid field values get STATUS_PERMFAIL, disk
 * trouble STATUS_TEMPFAIL, and the incoming file is removed in both
 * cases.  If the front end goes away, everything it had in progress is
 * rolled back.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"
#include "proc.h"
#include "queue.h"
#include "util.h"

#define COMMIT_INCOMING_MAX	20000	/* messages being received at once */

/* A message file handed to a session and not yet committed. */
struct qincoming {
	RB_ENTRY(qincoming)	 entry;
	uint32_t		 msgid;
	uint32_t		 session;
	struct qcommit		*commit;	/* parked for the next pass */
	/* the session is gone while its commit was being synced */
	int			 orphan;
	/* IMSG_QUEUE_MESSAGE_REWRITE handed out incoming/<msgid>.new */
	int			 rewrite;
};

struct qrcpt {
	char			*rcpt;
	char			*orcpt;
	uint32_t		 notify;
	/* a filter's addrcpt: policyd resolves it when it comes due */
	int			 resolve;
	uint32_t		 mailer;	/* enum target_kind */
	char			*sender;	/* "" = the message's */
	char			*orig;
	char			*error;		/* TARGET_ERROR's reply */
	/* staged on disk; scheduled only once the commit is durable */
	struct envelope		*env;
};

struct qcommit {
	TAILQ_ENTRY(qcommit)	 entry;
	struct qincoming	*in;
	struct envelope		 tmpl;		/* everything but recipients */
	size_t			 nrcpt;
	struct qrcpt		*rcpts;
	int			 unit;
	/* handed to the sync thread; the session may go away meanwhile */
	int			 inflight;
	int64_t			 received;	/* stats_clock_us() at COMMIT */
};

static int	 qincoming_cmp(struct qincoming *, struct qincoming *);
RB_HEAD(qincoming_tree, qincoming);
RB_PROTOTYPE(qincoming_tree, qincoming, entry, qincoming_cmp);
RB_GENERATE(qincoming_tree, qincoming, entry, qincoming_cmp)

static struct qincoming_tree	 commit_incoming =
    RB_INITIALIZER(&commit_incoming);
static size_t			 commit_nincoming;
static TAILQ_HEAD(, qcommit)	 commit_pending =
    TAILQ_HEAD_INITIALIZER(commit_pending);
static TAILQ_HEAD(, qcommit)	 commit_inflight =
    TAILQ_HEAD_INITIALIZER(commit_inflight);
static struct event		*commit_ev;

static void	 queue_commit_run(int, short, void *);
static void	 queue_commit_synced(struct spool_tx *);

static int
qincoming_cmp(struct qincoming *a, struct qincoming *b)
{
	return a->msgid < b->msgid ? -1 : a->msgid > b->msgid;
}

void
queue_commit_init(void)
{
	if ((commit_ev = event_new(proc_base, -1, 0, queue_commit_run, NULL)) ==
	    NULL)
		fatalx("cannot create the commit event");
	queue_sync_init(queue_commit_synced);
}

size_t
queue_commit_incoming(void)
{
	return commit_nincoming;
}

/* Is an id taken by a message being received or one in the schedule? */
int
queue_commit_msgid_inuse(uint32_t msgid)
{
	struct qincoming	 key;

	key.msgid = msgid;
	return RB_FIND(qincoming_tree, &commit_incoming, &key) != NULL ||
	    queue_sched_msgid_inuse(msgid);
}

static void
queue_commit_free(struct qcommit *c)
{
	size_t	 i;

	for (i = 0; i < c->nrcpt; i++) {
		free(c->rcpts[i].rcpt);
		free(c->rcpts[i].orcpt);
		free(c->rcpts[i].sender);
		free(c->rcpts[i].orig);
		free(c->rcpts[i].error);
		free(c->rcpts[i].env);
	}
	free(c->rcpts);
	free(c);
}

/*
 * Forget an incoming message, removing its file.  A commit in the sync
 * thread's hands is left to finish: its files are the thread's until it
 * is done, and if it succeeds the message is queued though no 250 can be
 * sent (the client will retry: a duplicate, never a loss).
 */
static void
queue_commit_incoming_drop(struct qincoming *in, int unlink_file)
{
	if (in->commit != NULL && in->commit->inflight) {
		/* the sync thread owns its files; finishing drops it */
		in->orphan = 1;
		return;
	}
	if (in->commit != NULL) {
		TAILQ_REMOVE(&commit_pending, in->commit, entry);
		queue_commit_free(in->commit);
	}
	if (unlink_file)
		queue_spool_message_discard(&queue_spool, in->msgid);
	if (in->rewrite)
		queue_spool_message_rewrite_discard(&queue_spool, in->msgid);
	RB_REMOVE(qincoming_tree, &commit_incoming, in);
	commit_nincoming--;
	stats_set("queue.incoming", (int64_t)commit_nincoming);
	free(in);
}

static void
queue_commit_reply(uint32_t type, uint32_t session, uint32_t status,
    uint32_t msgid, int fd)
{
	struct imsg_out	 out;

	imsg_out_init(&out, type, session);
	imsg_put_u32(&out, status);
	imsg_put_u32(&out, msgid);
	(void)proc_send(PROC_SMTP, &out, fd);
}

/* IMSG_QUEUE_MESSAGE_CREATE: a new incoming file for a session. */
void
queue_commit_create(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct qincoming	*in;
	uint32_t		 msgid = 0, flags = imsg_get_u32(m);
	int			 fd = -1;

	if (imsg_get_end(m) == -1 || (flags & ~(uint32_t)CREATE_F_READ) != 0) {
		proc_peer_bad(PROC_SMTP, "malformed create", m->type);
		return;
	}
	if (commit_nincoming < COMMIT_INCOMING_MAX)
		fd = queue_spool_message_create(&queue_spool, &msgid,
		    queue_commit_msgid_inuse, (flags & CREATE_F_READ) != 0);
	else
		log_warnx("too many messages being received; tempfail");
	if (fd == -1) {
		stats_add("queue.create.tempfail", 1);
		queue_commit_reply(IMSG_QUEUE_MESSAGE_CREATED, m->id,
		    STATUS_TEMPFAIL, 0, -1);
		return;
	}
	in = xcalloc(1, sizeof(*in));
	in->msgid = msgid;
	in->session = m->id;
	RB_INSERT(qincoming_tree, &commit_incoming, in);
	commit_nincoming++;
	stats_set("queue.incoming", (int64_t)commit_nincoming);
	queue_commit_reply(IMSG_QUEUE_MESSAGE_CREATED, m->id, STATUS_OK, msgid, fd);
}

/* The incoming message msgid of session; NULL if it is not its own. */
static struct qincoming *
queue_commit_incoming_find(uint32_t msgid, uint32_t session)
{
	struct qincoming	 key, *in;

	key.msgid = msgid;
	in = RB_FIND(qincoming_tree, &commit_incoming, &key);
	if (in == NULL || in->session != session)
		return NULL;
	return in;
}

/*
 * IMSG_QUEUE_MESSAGE_REWRITE: the session's filters changed the message;
 * the second file replaces the first when it is committed.
 */
void
queue_commit_rewrite(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct qincoming	*in;
	uint32_t		 msgid = imsg_get_u32(m);
	int			 fd;

	if (imsg_get_end(m) == -1) {
		proc_peer_bad(PROC_SMTP, "malformed rewrite", m->type);
		return;
	}
	in = queue_commit_incoming_find(msgid, m->id);
	if (in == NULL || in->commit != NULL || in->rewrite) {
		proc_peer_bad(PROC_SMTP, "rewrite of a foreign, committed or "
		    "rewritten message", m->type);
		return;
	}
	if ((fd = queue_spool_message_rewrite(&queue_spool, msgid)) == -1) {
		stats_add("queue.create.tempfail", 1);
		queue_commit_reply(IMSG_QUEUE_MESSAGE_REWRITING, m->id,
		    STATUS_TEMPFAIL, msgid, -1);
		return;
	}
	in->rewrite = 1;
	queue_commit_reply(IMSG_QUEUE_MESSAGE_REWRITING, m->id, STATUS_OK,
	    msgid, fd);
}

/* IMSG_QUEUE_MESSAGE_ROLLBACK */
void
queue_commit_rollback(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct qincoming	*in;
	uint32_t		 msgid = imsg_get_u32(m);

	if (imsg_get_end(m) == -1) {
		proc_peer_bad(PROC_SMTP, "malformed rollback", m->type);
		return;
	}
	if ((in = queue_commit_incoming_find(msgid, m->id)) == NULL) {
		proc_peer_bad(PROC_SMTP, "rollback of a foreign message",
		    m->type);
		return;
	}
	log_debug("%08x: rolled back", msgid);
	queue_commit_incoming_drop(in, 1);
}

/* The front end died: no 250 can be sent any more, so undo it all. */
void
queue_commit_smtp_down(void)
{
	struct qincoming	*in, *next;
	size_t			 n = 0;

	for (in = RB_MIN(qincoming_tree, &commit_incoming); in != NULL;
	    in = next) {
		next = RB_NEXT(qincoming_tree, &commit_incoming, in);
		queue_commit_incoming_drop(in, 1);
		n++;
	}
	if (n > 0)
		log_info("front end lost: %zu incoming messages rolled back",
		    n);
}

/* Copy a string field of a commit; -1 if too long or not clean text. */
static int
queue_commit_str(char *dst, size_t size, const char *src)
{
	return strlcpy(dst, src, size) >= size || !text_is_clean(dst) ?
	    -1 : 0;
}

/* Read the message-wide part of a COMMIT into the envelope template. */
static const char *
queue_commit_parse_tmpl(struct imsg *m, struct envelope *t, uint64_t *nrcpt)
{
	const char	*why = NULL;

	t->type = ENVELOPE_RELAY;
	t->size = imsg_get_u64(m);
	if (queue_commit_str(t->sender, sizeof(t->sender), imsg_get_str(m)) == -1 ||
	    !queue_envelope_sender_valid(t->sender))
		why = "bad sender";
	t->ret = imsg_get_u32(m);
	if (queue_commit_str(t->envid, sizeof(t->envid), imsg_get_str(m)) == -1)
		why = "bad envid";
	if (queue_commit_str(t->helo, sizeof(t->helo), imsg_get_str(m)) == -1)
		why = "bad helo";
	if (queue_commit_str(t->client_addr, sizeof(t->client_addr),
	    imsg_get_str(m)) == -1)
		why = "bad client address";
	if (queue_commit_str(t->client_name, sizeof(t->client_name),
	    imsg_get_str(m)) == -1)
		why = "bad client name";
	if (queue_commit_str(t->proto, sizeof(t->proto), imsg_get_str(m)) == -1 ||
	    t->proto[0] == '\0')
		why = "bad protocol";
	t->body = imsg_get_u32(m);
	t->utf8 = imsg_get_u32(m);
	t->msgflags = imsg_get_u32(m);
	/* the front end checked it: a bad one is a broken peer, which
	 * queue_commit_commit() sees as an empty value */
	if (queue_commit_str(t->auth, sizeof(t->auth), imsg_get_str(m)) == -1)
		t->auth[0] = '\0';
	*nrcpt = imsg_get_u32(m);
	if (t->ret > DSN_RET_HDRS || t->body > 1 ||
	    (t->utf8 & ~(uint32_t)(UTF8_F_SMTPUTF8 | UTF8_F_HEADERS)) != 0 ||
	    (t->msgflags & ~(uint32_t)MSG_F_ALL) != 0)
		why = "bad ret, body, utf8 or message flags";
	if (*nrcpt < 1 || *nrcpt > COMMIT_RCPT_MAX)
		why = "bad recipient count";
	return why;
}

/* "4xx x.y.z text" or "5xx x.y.z text". */
static int
queue_commit_reply_line(const char *s)
{
	return (s[0] == '4' || s[0] == '5') && isdigit((unsigned char)s[1]) &&
	    isdigit((unsigned char)s[2]) && s[3] == ' ' && s[4] == s[0] &&
	    s[5] == '.';
}

/* The target fields of one recipient; the reason if not acceptable. */
static const char *
queue_commit_parse_target(struct imsg *m, struct qrcpt *r)
{
	char		 buf[ENVELOPE_TEXT_LINE];
	const char	*why = NULL;

	r->mailer = imsg_get_u32(m);
	if (r->mailer > TARGET_KIND_MAX || (r->mailer == TARGET_REMOTE ?
	    !queue_envelope_rcpt_valid(r->rcpt) :
	    !mailaddr_target_valid(r->mailer, r->rcpt)))
		why = "bad recipient";
	if (queue_commit_str(buf, CONF_ADDR_MAX, imsg_get_str(m)) == -1 ||
	    !queue_envelope_sender_valid(buf))
		why = "bad sender of a recipient";
	r->sender = xstrdup(buf);
	if (queue_commit_str(buf, CONF_ADDR_MAX, imsg_get_str(m)) == -1 ||
	    !mailaddr_rcpt_valid(buf))
		why = "bad original recipient";
	r->orig = xstrdup(buf);
	if (queue_commit_str(buf, sizeof(buf), imsg_get_str(m)) == -1 ||
	    (r->mailer == TARGET_ERROR) != (buf[0] != '\0') ||
	    (buf[0] != '\0' && !queue_commit_reply_line(buf)))
		why = "bad error of a recipient";
	r->error = xstrdup(buf);
	return why;
}

/* Read the recipients; the reason if one of them is not acceptable. */
static const char *
queue_commit_parse_rcpts(struct imsg *m, struct qcommit *c, size_t n)
{
	char		 buf[MAILADDR_TARGET_MAX];
	const char	*why = NULL, *why2;
	uint32_t	 notify, flags;
	size_t		 i;

	c->rcpts = xcalloc(n, sizeof(*c->rcpts));
	for (i = 0; i < n && !m->bad; i++) {
		if (queue_commit_str(buf, sizeof(buf), imsg_get_str(m)) == -1)
			why = "bad recipient";
		c->rcpts[i].rcpt = xstrdup(buf);
		if (queue_commit_str(buf, ENVELOPE_ORCPT_MAX,
		    imsg_get_str(m)) == -1)
			why = "bad orcpt";
		c->rcpts[i].orcpt = xstrdup(buf);
		notify = imsg_get_u32(m);
		if ((notify & ~(uint32_t)0x0f) != 0 ||
		    ((notify & DSN_NOTIFY_NEVER) && notify != DSN_NOTIFY_NEVER))
			why = "bad notify";
		c->rcpts[i].notify = notify;
		flags = imsg_get_u32(m);
		if ((flags & ~(uint32_t)COMMIT_RCPT_F_RESOLVE) != 0)
			why = "bad recipient flags";
		c->rcpts[i].resolve = (flags & COMMIT_RCPT_F_RESOLVE) != 0;
		if ((why2 = queue_commit_parse_target(m, &c->rcpts[i])) != NULL)
			why = why2;
		c->nrcpt++;
	}
	return why;
}

/* Check a parsed COMMIT against its incoming file; NULL if good. */
static const char *
queue_commit_check_file(struct qcommit *c, uint32_t *status)
{
	long long	 size;

	*status = STATUS_TEMPFAIL;
	if (c->in->rewrite && queue_spool_message_rewrite_take(&queue_spool,
	    c->tmpl.msgid) == -1)
		return "rewritten message file missing";
	c->in->rewrite = 0;
	size = queue_spool_message_size(&queue_spool, SPOOL_INCOMING,
	    c->tmpl.msgid);
	if (size < 0)
		return "message file missing";
	if ((unsigned long long)size != c->tmpl.size)
		return "message size differs from the front end's";
	return NULL;
}

/* IMSG_QUEUE_MESSAGE_COMMIT: validate, then park for the group commit. */
void
queue_commit_commit(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct qcommit		*c = xcalloc(1, sizeof(*c));
	struct qincoming	*in;
	const char		*why, *why2;
	uint64_t		 nrcpt = 0;
	uint32_t		 status = STATUS_PERMFAIL;

	c->received = stats_clock_us();
	c->tmpl.msgid = imsg_get_u32(m);
	why = queue_commit_parse_tmpl(m, &c->tmpl, &nrcpt);
	if (!m->bad && nrcpt >= 1 && nrcpt <= COMMIT_RCPT_MAX &&
	    (why2 = queue_commit_parse_rcpts(m, c, nrcpt)) != NULL && why == NULL)
		why = why2;
	if ((queue_commit_str(c->tmpl.quarantine, sizeof(c->tmpl.quarantine),
	    imsg_get_str(m)) == -1 || (c->tmpl.quarantine[0] != '\0' &&
	    !quarantine_reason_valid(c->tmpl.quarantine))) && why == NULL)
		why = "bad quarantine reason";
	if (imsg_get_end(m) == -1 || c->tmpl.auth[0] == '\0' ||
	    (in = queue_commit_incoming_find(c->tmpl.msgid, m->id)) == NULL ||
	    in->commit != NULL) {
		queue_commit_free(c);
		proc_peer_bad(PROC_SMTP, "malformed or foreign commit",
		    m->type);
		return;
	}
	c->in = in;
	if (why == NULL)
		why = queue_commit_check_file(c, &status);
	if (why != NULL) {
		log_warnx("%08x: commit refused: %s", c->tmpl.msgid, why);
		stats_add("queue.commit.refused", 1);
		queue_commit_reply(IMSG_QUEUE_MESSAGE_COMMITTED, m->id, status,
		    c->tmpl.msgid, -1);
		queue_commit_free(c);
		queue_commit_incoming_drop(in, 1);
		return;
	}
	in->commit = c;
	TAILQ_INSERT_TAIL(&commit_pending, c, entry);
	event_active(commit_ev, EV_TIMEOUT, 0);
}

/* A fresh envelope id for recipient n: not queued, not taken in c. */
static uint64_t
queue_commit_evpid(struct qcommit *c, size_t n)
{
	uint64_t	 id;
	size_t		 i;

	for (;;) {
		id = id_envelope(c->tmpl.msgid);
		if (queue_sched_find(id) != NULL)
			continue;
		for (i = 0; i < n; i++)
			if (c->rcpts[i].env != NULL && c->rcpts[i].env->id == id)
				break;
		if (i == n)
			return id;
	}
}

/*
 * The envelope of one recipient: the message's fields and its own.  A
 * member that failed in policyd carries its reply as the last error, and
 * the schedule bounces it at once.
 */
static void
queue_commit_envelope(const struct qcommit *c, const struct qrcpt *r,
    struct envelope *e, time_t now)
{
	char	 enh[ENVELOPE_STATUS_MAX];
	size_t	 n;

	*e = c->tmpl;
	(void)strlcpy(e->rcpt, r->rcpt, sizeof(e->rcpt));
	(void)strlcpy(e->orcpt, r->orcpt, sizeof(e->orcpt));
	e->notify = r->notify;
	e->mailer = r->mailer;
	if (r->resolve)
		e->flags |= ENVELOPE_F_RESOLVE;
	if (strcmp(r->orig, r->rcpt) != 0)
		(void)strlcpy(e->orig, r->orig, sizeof(e->orig));
	if (r->sender[0] != '\0')
		(void)strlcpy(e->sender, r->sender, sizeof(e->sender));
	if (r->mailer == TARGET_ERROR) {
		/* "550 5.1.1 text": the status, and the whole line */
		n = strcspn(r->error + 4, " ");
		(void)snprintf(enh, sizeof(enh), "%.*s", (int)n, r->error + 4);
		(void)strlcpy(e->last_status, enh, sizeof(e->last_status));
		queue_envelope_text_set(e->last_error, sizeof(e->last_error),
		    r->error);
	}
	e->ctime = e->nexttry = now;
}

/* Write the envelopes of one parked commit into the transaction. */
static void
queue_commit_stage(struct qcommit *c, struct spool_tx *tx, time_t now)
{
	struct envelope	 e;
	size_t		 i;

	c->unit = queue_spool_tx_unit(tx);
	if (queue_spool_tx_message(tx, c->unit, c->tmpl.msgid) == -1)
		return;
	for (i = 0; i < c->nrcpt; i++) {
		queue_commit_envelope(c, &c->rcpts[i], &e, now);
		if (!queue_envelope_local(&e) && queue_envelope_domain(e.rcpt,
		    e.domain, sizeof(e.domain)) == -1) {
			queue_spool_tx_unit_fail(tx, c->unit);
			return;
		}
		e.id = queue_commit_evpid(c, i);
		if (queue_spool_tx_envelope(tx, c->unit, &e) == -1)
			return;
		c->rcpts[i].env = xmalloc(sizeof(e));
		*c->rcpts[i].env = e;
	}
}

/* A durable commit: its envelopes join the schedule, already parsed. */
static void
queue_commit_schedule(struct qcommit *c)
{
	const struct envelope	*t = &c->tmpl;
	struct qentry		*qe;
	size_t			 i;

	for (i = 0; i < c->nrcpt; i++)
		if ((qe = queue_sched_add(c->rcpts[i].env)) != NULL)
			queue_sched_cache(qe, c->rcpts[i].env);
	/* sendmail's relay=: "name [addr]", or "[addr]" unresolved; the
	 * AUTH= to pass on only when there is one */
	log_info("%08x: from=<%s>, size=%llu, nrcpts=%zu, proto=%s, "
	    "relay=%s%s[%s]%s%s", t->msgid, t->sender,
	    (unsigned long long)t->size, c->nrcpt, t->proto,
	    t->client_name[0] == '[' ? "" : t->client_name,
	    t->client_name[0] == '[' || t->client_name[0] == '\0' ?
	    "" : " ", t->client_addr,
	    strcmp(t->auth, "<>") != 0 ? ", auth=" : "",
	    strcmp(t->auth, "<>") != 0 ? t->auth : "");
	proc_monitor("%08x: queued from=<%s> nrcpts=%zu", t->msgid,
	    t->sender, c->nrcpt);
	stats_add("queue.message.committed", 1);
	if (t->quarantine[0] != '\0') {
		log_info("%08x: quarantine=%s: held until released", t->msgid,
		    t->quarantine);
		stats_add("queue.message.quarantined", 1);
	}
}

/* Answer one commit after the transaction, keep or undo its envelopes. */
static void
queue_commit_finish(struct qcommit *c, struct spool_tx *tx)
{
	struct qincoming	*in = c->in;
	uint32_t		 msgid = c->tmpl.msgid;
	int			 ok = queue_spool_tx_unit_ok(tx, c->unit);

	TAILQ_REMOVE(&commit_inflight, c, entry);
	if (ok)
		queue_commit_schedule(c);
	else {
		log_warnx("%08x: commit failed; tempfail", msgid);
		stats_add("queue.commit.tempfail", 1);
	}
	in->commit = NULL;
	if (!in->orphan)
		queue_commit_reply(IMSG_QUEUE_MESSAGE_COMMITTED, in->session,
		    ok ? STATUS_OK : STATUS_TEMPFAIL, msgid, -1);
	stats_time_add("queue.commit.us", "queue.commit.count", c->received);
	if (c->received != 0)
		stats_hist_add("queue.commit.seconds",
		    stats_clock_us() - c->received);
	queue_commit_incoming_drop(in, !ok);
	queue_commit_free(c);
}

/*
 * The group commit: everything parked since the last one goes into one
 * transaction for the sync thread.  While it syncs, new commits park and
 * form the next batch.
 */
static void
queue_commit_run(int fd, short ev, void *arg)
{
	struct spool_tx	*tx;
	struct qcommit	*c;
	time_t		 now = time(NULL);
	size_t		 n = 0;

	(void)fd;
	(void)ev;
	(void)arg;
	if (queue_sync_busy() || TAILQ_EMPTY(&commit_pending))
		return;
	tx = xcalloc(1, sizeof(*tx));
	queue_spool_tx_init(tx, &queue_spool);
	while ((c = TAILQ_FIRST(&commit_pending)) != NULL) {
		TAILQ_REMOVE(&commit_pending, c, entry);
		queue_commit_stage(c, tx, now);
		c->inflight = 1;
		TAILQ_INSERT_TAIL(&commit_inflight, c, entry);
		n++;
	}
	stats_add("queue.commit.batch", 1);
	if ((int64_t)n > stats_get("queue.commit.batch.max"))
		stats_set("queue.commit.batch.max", (int64_t)n);
	queue_sync_submit(tx);
}

/* The sync thread is done with a transaction: answer, then go again. */
static void
queue_commit_synced(struct spool_tx *tx)
{
	struct qcommit	*c;

	while ((c = TAILQ_FIRST(&commit_inflight)) != NULL)
		queue_commit_finish(c, tx);
	queue_spool_tx_free(tx);
	free(tx);
	queue_sched_wakeup();
	if (!TAILQ_EMPTY(&commit_pending))
		event_active(commit_ev, EV_TIMEOUT, 0);
}
