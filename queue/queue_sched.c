/*
 * queue_sched.c: the schedule of the queue: which envelope goes to the
 * outbound client when.
 *
 * Interface (queue.h): envelopes are added after their commit, found by
 * id, rescheduled or dropped by the result and control modules; the
 * startup load rebuilds the schedule from envelope/.  Pending envelopes
 * sit in a binary heap ordered by next try time (O(log n) per change);
 * envelopes of one message for one domain are linked in a group, so a
 * batch for IMSG_MTA_DELIVER is collected from its group without a scan
 * of the queue.  At most QUEUE_INFLIGHT_MAX envelopes are in flight;
 * every result or timer wakes the dispatcher again.
 *
 * A domain whose next hop cannot be reached (every result a temporary
 * X.4.x failure) is put on hold for retry-min, doubling up to retry-max
 * while it stays down: its envelopes that come due are deferred to the
 * end of the hold in memory only (no attempt, no envelope rewrite; the
 * file keeps an older next try, which after a restart only means an
 * earlier attempt), and when the hold ends one probe batch goes first
 * while the others wait for its verdict.  So a dead next hop costs one
 * attempt per hold instead of one per envelope.  Envelopes that must be
 * tried to bounce or to warn, and those scheduled by smtpctl, go anyway.
 *
 * An envelope with a quarantine reason (QUARANTINE in the access map,
 * or smtpctl quarantine) is quarantined: it is in its group but not in
 * the heap, so it is never dispatched, never bounced and never expired
 * until smtpctl release makes it due (or queue_quarantine.c removes it
 * past queue quarantine-lifetime); the reason is in its file, so it
 * stays held across restarts.
 *
 * Failure behaviour: an envelope that is missing or does not parse, or
 * whose message file is missing or has another size than the envelope
 * records, is moved to corrupt/ and forgotten; any other read failure
 * (EMFILE, EIO, ENOMEM...) requeues the envelope a little later.  A lost
 * mta hands every batch to the result module, which requeues what has no
 * result.
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "proc.h"
#include "queue.h"
#include "queue_pool.h"
#include "util.h"

struct spool		 queue_spool;

static int	 qentry_cmp(struct qentry *, struct qentry *);
static int	 qmsg_cmp(struct qmsg *, struct qmsg *);
static int	 qgroup_cmp(struct qgroup *, struct qgroup *);
static int	 qbatch_cmp(struct qbatch *, struct qbatch *);

RB_HEAD(qentry_tree, qentry);
RB_PROTOTYPE(qentry_tree, qentry, entry, qentry_cmp);
RB_GENERATE(qentry_tree, qentry, entry, qentry_cmp)
RB_HEAD(qmsg_tree, qmsg);
RB_PROTOTYPE(qmsg_tree, qmsg, entry, qmsg_cmp);
RB_GENERATE(qmsg_tree, qmsg, entry, qmsg_cmp)
/* A string shared by those that hold a reference: a destination
 * domain's name, kept by its groups (with one group per message and
 * domain, a queue of 100 000 messages to 10 000 domains would otherwise
 * keep 100 000 copies) and by its hold, and the reason of a hold. */
struct qname {
	RB_ENTRY(qname)		 entry;
	const char		*key;		/* name, or a lookup's string */
	uint32_t		 refs;
	char			 name[];
};

static int	 qname_cmp(struct qname *, struct qname *);
RB_HEAD(qname_tree, qname);
RB_PROTOTYPE(qname_tree, qname, entry, qname_cmp);
RB_GENERATE(qname_tree, qname, entry, qname_cmp)
RB_HEAD(qgroup_tree, qgroup);
RB_PROTOTYPE(qgroup_tree, qgroup, entry, qgroup_cmp);
RB_GENERATE(qgroup_tree, qgroup, entry, qgroup_cmp)
/* A domain on hold: its next hop could not be reached. */
struct qdomain {
	RB_ENTRY(qdomain)	 entry;
	char			*name;
	time_t			 until;		/* hold ends, a probe goes */
	uint32_t		 fails;		/* probes failed in a row */
	int			 probing;	/* a probe batch is out */
	TAILQ_HEAD(, qentry)	 held;		/* waiting for the probe */
	/* "X.Y.Z text", shared (queue_sched_name_get()): every domain
	 * routed to a smarthost that is down has the same one */
	char			*reason;
};

static int	 qdomain_cmp(struct qdomain *, struct qdomain *);
RB_HEAD(qdomain_tree, qdomain);
RB_PROTOTYPE(qdomain_tree, qdomain, entry, qdomain_cmp);
RB_GENERATE(qdomain_tree, qdomain, entry, qdomain_cmp)
/* The parsed copy of a freshly committed envelope (QUEUE_CACHE_MAX), by
 * id and in age order; apart from the entry, which most envelopes of a
 * big queue would carry empty. */
struct qcache {
	RB_ENTRY(qcache)	 entry;
	TAILQ_ENTRY(qcache)	 order;
	uint64_t		 evpid;
	struct envelope		 ev;
};

static int	 qcache_cmp(struct qcache *, struct qcache *);
RB_HEAD(qcache_tree, qcache);
RB_PROTOTYPE(qcache_tree, qcache, entry, qcache_cmp);
RB_GENERATE(qcache_tree, qcache, entry, qcache_cmp)
RB_HEAD(qbatch_tree, qbatch);
RB_PROTOTYPE(qbatch_tree, qbatch, entry, qbatch_cmp);
RB_GENERATE(qbatch_tree, qbatch, entry, qbatch_cmp)

static struct qentry_tree	 sched_entries = RB_INITIALIZER(&sched_entries);
static struct qmsg_tree		 sched_msgs = RB_INITIALIZER(&sched_msgs);
static struct qgroup_tree	 sched_groups = RB_INITIALIZER(&sched_groups);
static struct qname_tree	 sched_names = RB_INITIALIZER(&sched_names);
static struct qbatch_tree	 sched_batches = RB_INITIALIZER(&sched_batches);
static struct qdomain_tree	 sched_domains = RB_INITIALIZER(&sched_domains);
static struct qcache_tree	 sched_cache = RB_INITIALIZER(&sched_cache);
static TAILQ_HEAD(, qcache)	 sched_cached = TAILQ_HEAD_INITIALIZER(sched_cached);
static size_t			 sched_ncached;

static struct pool		 sched_entry_pool = POOL_INITIALIZER(struct qentry);
static struct pool		 sched_group_pool = POOL_INITIALIZER(struct qgroup);
static struct pool		 sched_msg_pool = POOL_INITIALIZER(struct qmsg);

static struct qentry	**sched_heap;
static size_t		  sched_heapn, sched_heapcap;
static size_t		  sched_nentries, sched_nmsgs, sched_ninflight;
static size_t		  sched_nquarantined;
/* envelopes by enum qstate, for the metrics */
static size_t		  sched_nstate[QE_RESOLVING + 1];
static const char *const  sched_state_names[QE_RESOLVING + 1] = {
	"pending", "inflight", "held", "quarantined", "resolving"
};
static uint32_t		  sched_batchid;
static int		  sched_is_paused;
static struct event	 *sched_ev;

static int
qentry_cmp(struct qentry *a, struct qentry *b)
{
	return a->evpid < b->evpid ? -1 : a->evpid > b->evpid;
}

static int
qmsg_cmp(struct qmsg *a, struct qmsg *b)
{
	return a->msgid < b->msgid ? -1 : a->msgid > b->msgid;
}

static int
qgroup_cmp(struct qgroup *a, struct qgroup *b)
{
	if (a->msgid != b->msgid)
		return a->msgid < b->msgid ? -1 : 1;
	return strcmp(a->domain, b->domain);
}

static int
qcache_cmp(struct qcache *a, struct qcache *b)
{
	return a->evpid < b->evpid ? -1 : a->evpid > b->evpid;
}

static int
qname_cmp(struct qname *a, struct qname *b)
{
	return strcmp(a->key, b->key);
}

static int
qbatch_cmp(struct qbatch *a, struct qbatch *b)
{
	return a->id < b->id ? -1 : a->id > b->id;
}

static int
qdomain_cmp(struct qdomain *a, struct qdomain *b)
{
	return strcmp(a->name, b->name);
}

/* Every change of an envelope's state after it is counted. */
static void
queue_sched_state(struct qentry *e, enum qstate state)
{
	sched_nstate[e->state]--;
	e->state = state;
	sched_nstate[state]++;
}

static void
queue_sched_state_refresh(void)
{
	size_t	 i;

	for (i = 0; i <= QE_RESOLVING; i++)
		stats_set_by("queue.envelope.state", "state",
		    sched_state_names[i], (int64_t)sched_nstate[i]);
}

static void
queue_sched_stats(void)
{
	stats_set("queue.envelope.count", (int64_t)sched_nentries);
	stats_set("queue.envelope.inflight", (int64_t)sched_ninflight);
	stats_set("queue.message.count", (int64_t)sched_nmsgs);
	stats_set("queue.envelope.quarantined", (int64_t)sched_nquarantined);
}

/*
 * The heap of pending envelopes, smallest next try time on top.
 */

static void
queue_sched_heap_set(size_t i, struct qentry *e)
{
	sched_heap[i] = e;
	e->heapidx = (uint32_t)i;
}

static void
queue_sched_heap_up(size_t i)
{
	struct qentry	*e = sched_heap[i];
	size_t		 p;

	while (i > 0) {
		p = (i - 1) / 2;
		if (sched_heap[p]->nexttry <= e->nexttry)
			break;
		queue_sched_heap_set(i, sched_heap[p]);
		i = p;
	}
	queue_sched_heap_set(i, e);
}

static void
queue_sched_heap_down(size_t i)
{
	struct qentry	*e = sched_heap[i];
	size_t		 c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= sched_heapn)
			break;
		if (c + 1 < sched_heapn &&
		    sched_heap[c + 1]->nexttry < sched_heap[c]->nexttry)
			c++;
		if (e->nexttry <= sched_heap[c]->nexttry)
			break;
		queue_sched_heap_set(i, sched_heap[c]);
		i = c;
	}
	queue_sched_heap_set(i, e);
}

static void
queue_sched_heap_push(struct qentry *e)
{
	if (sched_heapn == sched_heapcap) {
		sched_heapcap = sched_heapcap ? sched_heapcap * 2 : 1024;
		sched_heap = xreallocarray(sched_heap, sched_heapcap,
		    sizeof(*sched_heap));
	}
	queue_sched_heap_set(sched_heapn++, e);
	queue_sched_heap_up(e->heapidx);
}

static void
queue_sched_heap_remove(struct qentry *e)
{
	size_t		 i = e->heapidx;
	struct qentry	*last = sched_heap[--sched_heapn];

	if (i == sched_heapn)
		return;
	queue_sched_heap_set(i, last);
	queue_sched_heap_down(i);
	queue_sched_heap_up(last->heapidx);
}

/*
 * Messages, groups and entries.
 */

static struct qmsg *
queue_sched_msg_get(uint32_t msgid)
{
	struct qmsg	 key, *m;

	key.msgid = msgid;
	if ((m = RB_FIND(qmsg_tree, &sched_msgs, &key)) != NULL)
		return m;
	m = queue_pool_get(&sched_msg_pool);
	m->msgid = msgid;
	m->size = -2;
	RB_INSERT(qmsg_tree, &sched_msgs, m);
	sched_nmsgs++;
	return m;
}

static void
queue_sched_msg_free(struct qmsg *m)
{
	RB_REMOVE(qmsg_tree, &sched_msgs, m);
	sched_nmsgs--;
	queue_pool_put(&sched_msg_pool, m);
}

/* The shared copy of a domain name, one more reference to it. */
static char *
queue_sched_name_get(const char *domain)
{
	struct qname	 key, *n;
	size_t		 len;

	key.key = domain;
	if ((n = RB_FIND(qname_tree, &sched_names, &key)) == NULL) {
		len = strlen(domain) + 1;
		n = xcalloc(1, sizeof(*n) + len);
		memcpy(n->name, domain, len);
		n->key = n->name;
		RB_INSERT(qname_tree, &sched_names, n);
	}
	n->refs++;
	return n->name;
}

static void
queue_sched_name_put(char *name)
{
	struct qname	*n = (struct qname *)(void *)(name -
	    offsetof(struct qname, name));

	if (--n->refs > 0)
		return;
	RB_REMOVE(qname_tree, &sched_names, n);
	free(n);
}

static struct qgroup *
queue_sched_group_get(uint32_t msgid, const char *domain)
{
	struct qgroup	 key, *g;

	key.msgid = msgid;
	key.domain = (char *)(uintptr_t)domain;
	if ((g = RB_FIND(qgroup_tree, &sched_groups, &key)) != NULL)
		return g;
	g = queue_pool_get(&sched_group_pool);
	g->msgid = msgid;
	g->domain = queue_sched_name_get(domain);
	g->msg = queue_sched_msg_get(msgid);
	TAILQ_INIT(&g->entries);
	RB_INSERT(qgroup_tree, &sched_groups, g);
	return g;
}

int
queue_sched_msgid_inuse(uint32_t msgid)
{
	struct qmsg	 key;

	key.msgid = msgid;
	return RB_FIND(qmsg_tree, &sched_msgs, &key) != NULL;
}

struct qentry *
queue_sched_find(uint64_t evpid)
{
	struct qentry	 key;

	key.evpid = evpid;
	return RB_FIND(qentry_tree, &sched_entries, &key);
}

/* The entry of the smallest id >= evpid, or NULL. */
struct qentry *
queue_sched_find_from(uint64_t evpid)
{
	struct qentry	 key;

	key.evpid = evpid;
	return RB_NFIND(qentry_tree, &sched_entries, &key);
}

struct qentry *
queue_sched_first(void)
{
	return RB_MIN(qentry_tree, &sched_entries);
}

struct qentry *
queue_sched_next(struct qentry *e)
{
	return RB_NEXT(qentry_tree, &sched_entries, e);
}

/* Schedule an envelope; NULL if its id is already known. */
struct qentry *
queue_sched_add(const struct envelope *ev)
{
	struct qentry	*e;

	if (queue_sched_find(ev->id) != NULL)
		return NULL;
	e = queue_pool_get(&sched_entry_pool);
	e->evpid = ev->id;
	e->ctime = ev->ctime;
	e->nexttry = ev->nexttry;
	e->retries = ev->retries;
	e->flags = ev->flags;
	if (ev->mailer != TARGET_REMOTE)
		e->flags |= QENTRY_F_LOCAL;
	/* the targets smtpd-local delivers */
	if (ev->mailer == TARGET_MAILBOX || ev->mailer == TARGET_PROGRAM ||
	    ev->mailer == TARGET_FILE)
		e->flags |= QENTRY_F_MAILBOX;
	if (queue_expand_needed(ev))
		e->flags |= QENTRY_F_EXPAND;
	e->state = ev->quarantine[0] != '\0' ? QE_QUARANTINED : QE_PENDING;
	sched_nstate[e->state]++;
	e->grp = queue_sched_group_get(id_envelope_msgid(ev->id), ev->domain);
	e->grp->msg->nevp++;
	e->grp->n++;
	TAILQ_INSERT_TAIL(&e->grp->entries, e, gentry);
	RB_INSERT(qentry_tree, &sched_entries, e);
	if (e->state == QE_QUARANTINED)
		sched_nquarantined++;
	else
		queue_sched_heap_push(e);
	sched_nentries++;
	queue_sched_stats();
	return e;
}

static struct qcache *
queue_sched_cache_find(const struct qentry *e)
{
	struct qcache	 key;

	if (sched_ncached == 0)
		return NULL;
	key.evpid = e->evpid;
	return RB_FIND(qcache_tree, &sched_cache, &key);
}

/* The parsed copy of an envelope, or NULL. */
const struct envelope *
queue_sched_cached(const struct qentry *e)
{
	struct qcache	*c = queue_sched_cache_find(e);

	return c != NULL ? &c->ev : NULL;
}

static void
queue_sched_cache_free(struct qcache *c)
{
	RB_REMOVE(qcache_tree, &sched_cache, c);
	TAILQ_REMOVE(&sched_cached, c, order);
	sched_ncached--;
	free(c);
}

/* Drop the parsed copy of an envelope, if it has one. */
static void
queue_sched_uncache(struct qentry *e)
{
	struct qcache	*c = queue_sched_cache_find(e);

	if (c != NULL)
		queue_sched_cache_free(c);
}

/* Keep a parsed copy of a just committed envelope for its first
 * dispatch; the oldest copies go when there are too many. */
void
queue_sched_cache(struct qentry *e, const struct envelope *ev)
{
	struct qcache	*c;

	if (e->state != QE_PENDING || queue_sched_cache_find(e) != NULL ||
	    (c = malloc(sizeof(*c))) == NULL)
		return;
	c->evpid = e->evpid;
	c->ev = *ev;
	c->ev.committed_us = stats_clock_us();
	if (sched_ncached >= QUEUE_CACHE_MAX)
		queue_sched_cache_free(TAILQ_FIRST(&sched_cached));
	RB_INSERT(qcache_tree, &sched_cache, c);
	TAILQ_INSERT_TAIL(&sched_cached, c, order);
	sched_ncached++;
}

static struct qdomain *
queue_sched_domain_find(const char *name)
{
	struct qdomain	 key;

	key.name = (char *)(uintptr_t)name;
	return RB_FIND(qdomain_tree, &sched_domains, &key);
}

/* An entry leaves wherever it waits (heap or held list). */
static void
queue_sched_unwait(struct qentry *e)
{
	struct qdomain	*d;

	if (e->state == QE_PENDING)
		queue_sched_heap_remove(e);
	else if (e->state == QE_HELD &&
	    (d = queue_sched_domain_find(e->grp->domain)) != NULL)
		TAILQ_REMOVE(&d->held, e, hentry);
	else if (e->state == QE_QUARANTINED)
		sched_nquarantined--;
}

/* Forget an envelope (memory only); 1 if its message has none left. */
int
queue_sched_forget(struct qentry *e)
{
	struct qgroup	*g = e->grp;
	struct qmsg	*m = g->msg;
	int		 empty;

	queue_sched_uncache(e);
	queue_sched_unwait(e);
	if (e->state != QE_INFLIGHT && e->state != QE_RESOLVING)
		TAILQ_REMOVE(&g->entries, e, gentry);
	RB_REMOVE(qentry_tree, &sched_entries, e);
	if (--g->n == 0) {
		RB_REMOVE(qgroup_tree, &sched_groups, g);
		queue_sched_name_put(g->domain);
		queue_pool_put(&sched_group_pool, g);
	}
	sched_nentries--;
	sched_nstate[e->state]--;
	queue_pool_put(&sched_entry_pool, e);
	empty = --m->nevp == 0;
	if (empty)
		queue_sched_msg_free(m);
	queue_sched_stats();
	return empty;
}

/* Remove an envelope for good, and its message with the last one. */
void
queue_sched_drop(struct qentry *e)
{
	uint32_t	 msgid = e->grp->msgid;

	(void)queue_spool_envelope_remove(&queue_spool, e->evpid);
	if (queue_sched_forget(e))
		(void)queue_spool_message_remove(&queue_spool, msgid);
}

/* Move a pending or returning envelope to a new next try time. */
void
queue_sched_reschedule(struct qentry *e, time_t nexttry)
{
	e->nexttry = nexttry;
	if (e->state == QE_PENDING) {
		queue_sched_heap_down(e->heapidx);
		queue_sched_heap_up(e->heapidx);
		return;
	}
	queue_sched_unwait(e);
	if (e->state == QE_INFLIGHT || e->state == QE_RESOLVING)
		TAILQ_INSERT_TAIL(&e->grp->entries, e, gentry);
	queue_sched_state(e, QE_PENDING);
	e->batch = NULL;
	queue_sched_heap_push(e);
}

/* A due DSN waits, out of the heap, while policyd resolves it. */
void
queue_sched_resolving(struct qentry *e)
{
	queue_sched_heap_remove(e);
	TAILQ_REMOVE(&e->grp->entries, e, gentry);
	queue_sched_state(e, QE_RESOLVING);
}

void
queue_sched_quarantine(struct qentry *e)
{
	if (e->state == QE_INFLIGHT || e->state == QE_RESOLVING ||
	    e->state == QE_QUARANTINED)
		return;
	queue_sched_uncache(e);
	queue_sched_unwait(e);
	queue_sched_state(e, QE_QUARANTINED);
	sched_nquarantined++;
	queue_sched_stats();
}

void
queue_sched_release(struct qentry *e, time_t now)
{
	if (e->state != QE_QUARANTINED)
		return;
	queue_sched_reschedule(e, now);
	queue_sched_stats();
}

size_t
queue_sched_quarantined(void)
{
	return sched_nquarantined;
}

/* smtpctl schedule: due now, even if its domain is on hold. */
void
queue_sched_schedule_now(struct qentry *e, time_t now)
{
	e->flags |= QENTRY_F_FORCE;
	queue_sched_reschedule(e, now);
}

size_t
queue_sched_count(void)
{
	return sched_nentries;
}

size_t
queue_sched_inflight(void)
{
	return sched_ninflight;
}

size_t
queue_sched_messages(void)
{
	return sched_nmsgs;
}

/*
 * Startup load.
 */

struct sched_load {
	uint32_t	*corrupt;	/* messages whose envelopes were bad */
	size_t		 ncorrupt, capcorrupt;
	size_t		 loaded;
	size_t		 failed;	/* read errors that may go away */
};

static void
queue_sched_load_corrupt_msg(struct sched_load *ld, uint32_t msgid)
{
	if (ld->ncorrupt == ld->capcorrupt) {
		ld->capcorrupt = ld->capcorrupt ? ld->capcorrupt * 2 : 16;
		ld->corrupt = xreallocarray(ld->corrupt, ld->capcorrupt,
		    sizeof(*ld->corrupt));
	}
	ld->corrupt[ld->ncorrupt++] = msgid;
}

/* One file of envelope/: check it and its message, then schedule it. */
static void
queue_sched_load_envelope(const char *name, void *arg)
{
	struct sched_load	*ld = arg;
	struct envelope		 e;
	struct qmsg		*m;
	struct qentry		*qe;
	const char		*why;
	unsigned long long	 id;

	if (queue_envelope_hex_parse(name, 16, &id) == -1) {
		queue_spool_corrupt(&queue_spool, SPOOL_ENVELOPE, name,
		    "not an envelope name");
		return;
	}
	if (queue_spool_envelope_read(&queue_spool, id, &e, &why) == -1) {
		if (!queue_spool_error_is_corrupt(errno)) {
			log_warn("envelope/%s: cannot read", name);
			ld->failed++;
			return;
		}
		queue_spool_corrupt(&queue_spool, SPOOL_ENVELOPE, name, why);
		return;
	}
	m = queue_sched_msg_get(e.msgid);
	if (m->size == -2)
		m->size = queue_spool_message_size(&queue_spool,
		    SPOOL_MESSAGE, e.msgid);
	if (m->size == -1 && errno != ENOENT) {
		log_warn("message/%08x: cannot stat", e.msgid);
		m->size = -2;
		if (m->nevp == 0)
			queue_sched_msg_free(m);
		ld->failed++;
		return;
	}
	if (m->size < 0 || (unsigned long long)m->size != e.size) {
		queue_spool_corrupt(&queue_spool, SPOOL_ENVELOPE, name,
		    m->size < 0 ? "message file missing" :
		    "message size differs from the envelope");
		if (m->nevp == 0)
			queue_sched_msg_free(m);
		queue_sched_load_corrupt_msg(ld, e.msgid);
		return;
	}
	if ((qe = queue_sched_add(&e)) == NULL)
		return;
	/* the last run may have ended in the middle of its delivery */
	qe->flags |= QENTRY_F_RECHECK;
	ld->loaded++;
}

/* One file of message/: keep it if envelopes refer to it. */
static void
queue_sched_load_message(const char *name, void *arg)
{
	struct sched_load	*ld = arg;
	unsigned long long	 id;
	size_t			 i;

	if (queue_envelope_hex_parse(name, 8, &id) == -1) {
		queue_spool_corrupt(&queue_spool, SPOOL_MESSAGE, name,
		    "not a message name");
		return;
	}
	if (queue_sched_msgid_inuse((uint32_t)id))
		return;
	for (i = 0; i < ld->ncorrupt; i++) {
		if (ld->corrupt[i] == (uint32_t)id) {
			queue_spool_corrupt(&queue_spool, SPOOL_MESSAGE, name,
			    "its envelopes are corrupt");
			return;
		}
	}
	log_info("%s: removed: no envelope left", name);
	(void)queue_spool_message_remove(&queue_spool, (uint32_t)id);
}

/* Rebuild the schedule from the spool; the number of envelopes. */
int
queue_sched_load(void)
{
	struct sched_load	 ld;

	memset(&ld, 0, sizeof(ld));
	if (queue_spool_incoming_clear(&queue_spool) == -1 ||
	    queue_spool_walk(&queue_spool, SPOOL_ENVELOPE,
	    queue_sched_load_envelope, &ld) == -1)
		goto fail;
	if (ld.failed > 0) {
		/* a restart (by the parent) rather than a message removed
		 * for want of an envelope that could not be read */
		log_warnx("%zu envelopes could not be read", ld.failed);
		goto fail;
	}
	if (queue_spool_walk(&queue_spool, SPOOL_MESSAGE,
	    queue_sched_load_message, &ld) == -1)
		goto fail;
	free(ld.corrupt);
	log_info("queue loaded: %zu envelopes of %zu messages", ld.loaded,
	    sched_nmsgs);
	return (int)ld.loaded;
fail:
	free(ld.corrupt);
	return -1;
}

/*
 * Batches and dispatch.
 */

struct qbatch *
queue_sched_batch_find(uint32_t id)
{
	struct qbatch	 key;

	key.id = id;
	return RB_FIND(qbatch_tree, &sched_batches, &key);
}

/*
 * Up to QUEUE_INFLIGHT_MAX parsed envelopes (5 KiB each) are in flight,
 * on the heap among longer-lived blocks, so their pages stay in the
 * process once they are freed.  When nothing is in flight any more (at
 * most once a second), they are given back.
 */
static void
queue_sched_trim(void)
{
	static time_t	 last;
	time_t		 now;

	if (sched_ninflight != 0 || (now = time(NULL)) == last)
		return;
	last = now;
	(void)malloc_trim(0);
}

void
queue_sched_batch_free(struct qbatch *b)
{
	RB_REMOVE(qbatch_tree, &sched_batches, b);
	sched_ninflight -= b->n;
	free(b->evs);
	free(b->res);
	free(b);
	queue_sched_stats();
	queue_sched_trim();
}

static struct qbatch *
queue_sched_batch_new(void)
{
	struct qbatch	*b = xcalloc(1, sizeof(*b));

	do {
		if (++sched_batchid == ID_NONE)
			sched_batchid = 1;
		b->id = sched_batchid;
	} while (queue_sched_batch_find(b->id) != NULL);
	RB_INSERT(qbatch_tree, &sched_batches, b);
	return b;
}

/*
 * Domains on hold.
 */

/* Put the entries waiting for a domain's probe back in the heap. */
static void
queue_sched_domain_unhold(struct qdomain *d, time_t when)
{
	struct qentry	*e;

	while ((e = TAILQ_FIRST(&d->held)) != NULL) {
		TAILQ_REMOVE(&d->held, e, hentry);
		queue_sched_state(e, QE_PENDING);
		e->nexttry = when;
		queue_sched_heap_push(e);
	}
}

static void
queue_sched_domain_release(const char *name, time_t now)
{
	struct qdomain	*d;

	if ((d = queue_sched_domain_find(name)) == NULL)
		return;
	log_info("%s: next hop reachable again, hold lifted", d->name);
	queue_sched_domain_unhold(d, now);
	RB_REMOVE(qdomain_tree, &sched_domains, d);
	queue_sched_name_put(d->name);
	queue_sched_name_put(d->reason);
	free(d);
}

const char *
queue_sched_domain_reason(const char *name)
{
	struct qdomain	*d = queue_sched_domain_find(name);

	return d != NULL ? d->reason : NULL;
}

void
queue_sched_domain_result(const char *name, int probe, int verdict,
    const struct qresult *why, time_t now)
{
	struct qdomain	*d = queue_sched_domain_find(name);
	char		 dur[32];
	char		 reason[ENVELOPE_STATUS_MAX + ENVELOPE_TEXT_LINE + 40];

	if (verdict > 0) {
		queue_sched_domain_release(name, now);
		return;
	}
	if (d != NULL && probe && verdict == 0) {
		/* the probe came back without an answer (mta died) */
		d->probing = 0;
		d->until = now + QUEUE_REQUEUE_DELAY;
		queue_sched_domain_unhold(d, d->until);
		return;
	}
	if (verdict == 0 || (d != NULL && !probe))
		return;
	if (d == NULL) {
		d = xcalloc(1, sizeof(*d));
		d->name = queue_sched_name_get(name);
		TAILQ_INIT(&d->held);
		RB_INSERT(qdomain_tree, &sched_domains, d);
	}
	d->probing = 0;
	d->fails++;
	d->until = now + queue_result_backoff(conf->queue_retry_min,
	    conf->queue_retry_max, d->fails);
	(void)snprintf(reason, sizeof(reason),
	    "%s delivery temporarily suspended: %s",
	    why != NULL ? why->estatus : "4.4.1",
	    why != NULL ? why->text : "next hop unreachable");
	if (d->reason != NULL)
		queue_sched_name_put(d->reason);
	d->reason = queue_sched_name_get(reason);
	queue_sched_domain_unhold(d, d->until);
	log_info("%s: next hop unreachable, deliveries held for %s", d->name,
	    duration_fmt(d->until - now, dur, sizeof(dur)));
}

/* Must e go out even though its domain is on hold?  Yes when an attempt
 * is needed to bounce it or to send its delay warning. */
static int
queue_sched_domain_bypass(const struct qentry *e, time_t now)
{
	time_t	 age = now - e->ctime;

	if (age >= conf->queue_lifetime)
		return 1;
	return age >= conf->queue_delay_warning &&
	    (e->flags & (QENTRY_F_WARNED | ENVELOPE_F_DELAY_SENT)) == 0;
}

/* The top of the heap is due: 1 if its domain holds it back (deferred to
 * the end of the hold, or waiting for the probe), else 0 with *probe set
 * if it is the domain's probe. */
static int
queue_sched_domain_wait(struct qentry *e, time_t now, int *probe)
{
	struct qdomain	*d;
	int		 force = (e->flags & QENTRY_F_FORCE) != 0;

	*probe = 0;
	e->flags &= ~(uint32_t)QENTRY_F_FORCE;
	if ((e->flags & ENVELOPE_F_DSN_PENDING) ||
	    (d = queue_sched_domain_find(e->grp->domain)) == NULL)
		return 0;
	if (!d->probing && (force || d->until <= now)) {
		d->probing = 1;
		*probe = 1;
		return 0;
	}
	if (force || queue_sched_domain_bypass(e, now))
		return 0;
	e->flags |= QENTRY_F_HELD;
	/* the parsed copy is for a first dispatch that is near; this one
	 * waits for its domain */
	queue_sched_uncache(e);
	if (!d->probing) {
		queue_sched_reschedule(e, d->until);
		return 1;
	}
	queue_sched_heap_remove(e);
	queue_sched_state(e, QE_HELD);
	TAILQ_INSERT_TAIL(&d->held, e, hentry);
	return 1;
}

/*
 * Batches.
 */

/* the entries a batch settles in the queue, without the mta */
#define SCHED_F_HERE	(ENVELOPE_F_DSN_PENDING | QENTRY_F_LOCAL)
/* entries of one batch share these bits: mailboxes go apart, to
 * smtpd-local, and so do the files it must read first */
#define SCHED_F_KIND	(SCHED_F_HERE | QENTRY_F_MAILBOX | QENTRY_F_EXPAND)

/* Take the due envelopes of first's group (first included) into a batch;
 * entries in flight are not in the group's list, so each batch scans only
 * entries that wait. */
static void
queue_sched_batch_collect(struct qbatch *b, struct qentry *first, time_t now)
{
	struct qentry	*e, *next;
	uint32_t	 kind = first->flags & SCHED_F_KIND;

	for (e = first; e != NULL; e = next) {
		next = TAILQ_NEXT(e, gentry);
		/* smtpd-local takes one envelope per request */
		if (e != first && (b->n == QUEUE_BATCH_MAX || b->to_local ||
		    sched_ninflight + b->n >= QUEUE_INFLIGHT_MAX))
			break;
		if (e->state != QE_PENDING || e->nexttry > now ||
		    (e->flags & SCHED_F_KIND) != kind)
			continue;
		queue_sched_heap_remove(e);
		TAILQ_REMOVE(&e->grp->entries, e, gentry);
		queue_sched_state(e, QE_INFLIGHT);
		b->ents[b->n++] = e;
	}
	/* sized to the batch: an envelope is some 4.6 KB, and zeroing room
	 * for QUEUE_BATCH_MAX of them cost more than the rest of a
	 * one-recipient dispatch */
	b->evs = xcalloc(b->n, sizeof(*b->evs));
	b->res = xcalloc(b->n, sizeof(*b->res));
}

/* An envelope of a batch cannot be used: keep its file, forget it. */
static void
queue_sched_batch_corrupt(struct qentry *e, const char *why)
{
	char		 name[24];
	uint32_t	 msgid = e->grp->msgid;

	(void)snprintf(name, sizeof(name), "%016llx",
	    (unsigned long long)e->evpid);
	queue_spool_corrupt(&queue_spool, SPOOL_ENVELOPE, name, why);
	stats_add("queue.corrupt", 1);
	if (queue_sched_forget(e)) {
		(void)snprintf(name, sizeof(name), "%08x", msgid);
		queue_spool_corrupt(&queue_spool, SPOOL_MESSAGE, name,
		    "its envelopes are corrupt");
	}
}

/* The envelope of a batch entry: its cached copy, or read from disk.
 * -1 with errno as queue_spool_envelope_read(). */
static int
queue_sched_batch_envelope(struct qentry *e, struct envelope *ev,
    const char **why)
{
	struct qcache	*c = queue_sched_cache_find(e);

	if (c != NULL) {
		*ev = c->ev;
		queue_sched_cache_free(c);
		return 0;
	}
	return queue_spool_envelope_read(&queue_spool, e->evpid, ev, why);
}

/*
 * The result of an envelope settled here: a DSN still to write for a
 * delivered one (its stored result), a member that failed in policyd
 * (its reply), or a local mailer smtpd-local does not take (a program,
 * a file, an include, or a mailbox while smtpd-local is down), which
 * waits.
 */
static void
queue_sched_batch_replay(struct qbatch *b, size_t n)
{
	const struct envelope	*ev = &b->evs[n];
	struct qresult		*r = &b->res[n];

	r->got = 1;
	if (ev->flags & ENVELOPE_F_DSN_PENDING) {
		r->status = STATUS_OK;
		(void)strlcpy(r->estatus, queue_result_estatus_ok(
		    ev->last_status, STATUS_OK) ? ev->last_status : "2.0.0",
		    sizeof(r->estatus));
		(void)strlcpy(r->relay, ev->last_relay, sizeof(r->relay));
		(void)strlcpy(r->text, ev->last_error, sizeof(r->text));
		return;
	}
	if (ev->mailer == TARGET_ERROR) {
		r->status = ev->last_error[0] == '4' ? STATUS_TEMPFAIL :
		    STATUS_PERMFAIL;
		(void)strlcpy(r->estatus, queue_result_estatus_ok(
		    ev->last_status, r->status) ? ev->last_status :
		    r->status == STATUS_TEMPFAIL ? "4.0.0" : "5.0.0",
		    sizeof(r->estatus));
		(void)strlcpy(r->text, ev->last_error, sizeof(r->text));
		return;
	}
	r->status = STATUS_TEMPFAIL;
	(void)strlcpy(r->estatus, "4.3.0", sizeof(r->estatus));
	(void)strlcpy(r->text, "local delivery is not available yet; the "
	    "message waits in the queue", sizeof(r->text));
}

/* Read the envelopes of a batch; those that fail leave the batch:
 * corrupt ones for good, the others requeued a little later. msgsize is
 * the size of the message file, -1 for a local batch. */
static void
queue_sched_batch_load(struct qbatch *b, long long msgsize, time_t now)
{
	struct qentry	*e;
	const char	*why = "";
	size_t		 i, n = 0;

	for (i = 0; i < b->n; i++) {
		e = b->ents[i];
		if (queue_sched_batch_envelope(e, &b->evs[n], &why) == -1) {
			if (queue_spool_error_is_corrupt(errno))
				queue_sched_batch_corrupt(e, why);
			else {
				log_warn("%016llx: cannot read envelope; "
				    "requeued", (unsigned long long)e->evpid);
				queue_sched_reschedule(e,
				    now + QUEUE_REQUEUE_DELAY);
			}
			continue;
		}
		if (msgsize >= 0 && b->evs[n].size != (uint64_t)msgsize) {
			queue_sched_batch_corrupt(e,
			    "message size differs from the envelope");
			continue;
		}
		if (b->local)
			queue_sched_batch_replay(b, n);
		b->ents[n] = e;
		e->batch = b;
		e->bidx = n;
		n++;
	}
	b->n = n;
}

static int
queue_sched_batch_send(struct qbatch *b, int msgfd)
{
	struct imsg_out		 out;
	const struct envelope	*e0 = &b->evs[0];
	size_t			 i;

	imsg_out_init(&out, IMSG_MTA_DELIVER, b->id);
	imsg_put_u32(&out, e0->msgid);
	imsg_put_str(&out, e0->sender);
	imsg_put_u32(&out, e0->ret);
	imsg_put_str(&out, e0->envid);
	imsg_put_str(&out, e0->domain);
	imsg_put_i64(&out, (int64_t)e0->ctime);
	imsg_put_u32(&out, e0->body);
	imsg_put_u32(&out, e0->utf8);
	imsg_put_u32(&out, e0->msgflags);
	imsg_put_str(&out, e0->auth);
	imsg_put_u32(&out, (uint32_t)b->n);
	for (i = 0; i < b->n; i++) {
		imsg_put_u64(&out, b->evs[i].id);
		imsg_put_str(&out, b->evs[i].rcpt);
		imsg_put_str(&out, b->evs[i].orcpt);
		imsg_put_u32(&out, b->evs[i].notify);
	}
	return proc_send(PROC_MTA, &out, msgfd);
}

/* The one envelope of a batch for smtpd-local. */
static int
queue_sched_batch_send_local(struct qbatch *b, int msgfd)
{
	struct imsg_out		 out;
	const struct envelope	*ev = &b->evs[0];

	imsg_out_init(&out, IMSG_LOCAL_DELIVER, b->id);
	imsg_put_u64(&out, ev->id);
	imsg_put_str(&out, ev->sender);
	imsg_put_str(&out, ev->rcpt);
	imsg_put_str(&out, ev->orig);
	imsg_put_i64(&out, (int64_t)ev->ctime);
	imsg_put_u32(&out, ev->mailer);
	/* the user to run a program or file as: a .forward's or an
	 * include's owner; "" for an alias's, which run as local
	 * default-user */
	imsg_put_str(&out, ev->user);
	imsg_put_u32(&out, (b->ents[0]->flags & QENTRY_F_RECHECK) ?
	    LOCAL_DELIVER_F_RECHECK : 0);
	return proc_send(PROC_LOCAL, &out, msgfd);
}

/* Open the message of a batch and learn its size; -1 if it cannot be
 * used now, its entries then being moved to corrupt/ (missing) or
 * requeued (any other error). */
static int
queue_sched_batch_open(struct qbatch *b, uint32_t msgid, long long *size,
    time_t now)
{
	struct stat	 st;
	size_t		 i;
	int		 fd, missing;

	if ((fd = queue_spool_message_open(&queue_spool, msgid)) != -1 &&
	    fstat(fd, &st) == 0) {
		*size = (long long)st.st_size;
		return fd;
	}
	missing = errno == ENOENT;
	log_warn("%08x: open message%s", msgid, missing ? "" : "; requeued");
	if (fd != -1)
		(void)close(fd);
	for (i = 0; i < b->n; i++) {
		if (missing)
			queue_sched_batch_corrupt(b->ents[i],
			    "message file missing");
		else
			queue_sched_reschedule(b->ents[i],
			    now + QUEUE_REQUEUE_DELAY);
	}
	b->n = 0;
	return -1;
}

/*
 * Dispatch.
 */

/* Send a loaded batch to mta or smtpd-local, or settle it here (a
 * pending DSN, a failed member, a local mailer that waits). */
static void
queue_sched_batch_go(struct qbatch *b, int msgfd, time_t now)
{
	size_t	 i;
	int	 r;

	if (b->local) {
		queue_result_batch(b);
		return;
	}
	b->started = now;
	r = b->to_local ? queue_sched_batch_send_local(b, msgfd) :
	    queue_sched_batch_send(b, msgfd);
	if (r == -1) {
		log_warnx("cannot hand batch %u to %s; requeued", b->id,
		    b->to_local ? "local" : "mta");
		if (b->probe)
			queue_sched_domain_result(b->evs[0].domain, 1, 0, NULL,
			    now);
		for (i = 0; i < b->n; i++)
			queue_sched_reschedule(b->ents[i],
			    now + QUEUE_REQUEUE_DELAY);
		queue_sched_batch_free(b);
		return;
	}
	stats_add("queue.dispatch.batch", 1);
	for (i = 0; i < b->n; i++)
		stats_time_add("queue.dispatch.wait.us",
		    "queue.dispatch.wait.count", b->evs[i].committed_us);
	queue_sched_stats();
}

/* A DSN's recipient goes to policyd first (queue_resolve.c). */
static void
queue_sched_resolve(struct qentry *e, time_t now)
{
	struct envelope		 ev;
	const struct envelope	*cached = queue_sched_cached(e);
	const char		*why = "";

	if (cached != NULL) {
		queue_resolve_start(e, cached->rcpt, now);
		return;
	}
	if (queue_spool_envelope_read(&queue_spool, e->evpid, &ev, &why) ==
	    -1) {
		if (queue_spool_error_is_corrupt(errno))
			queue_sched_batch_corrupt(e, why);
		else
			queue_sched_reschedule(e, now + QUEUE_REQUEUE_DELAY);
		return;
	}
	queue_resolve_start(e, ev.rcpt, now);
}

/* A .forward or :include: file goes to smtpd-local first
 * (queue_expand.c). */
static void
queue_sched_expand(struct qentry *e, time_t now)
{
	struct envelope	 ev;
	struct qcache	*c = queue_sched_cache_find(e);
	const char	*why = "";

	if (c != NULL) {
		ev = c->ev;
		queue_sched_cache_free(c);
	} else if (queue_spool_envelope_read(&queue_spool, e->evpid, &ev,
	    &why) == -1) {
		if (queue_spool_error_is_corrupt(errno))
			queue_sched_batch_corrupt(e, why);
		else
			queue_sched_reschedule(e, now + QUEUE_REQUEUE_DELAY);
		return;
	}
	queue_expand_start(e, &ev, now);
}

/* Build and send one batch starting with the envelope on top. */
static void
queue_sched_dispatch_one(time_t now)
{
	struct qbatch	*b;
	struct qentry	*first = sched_heap[0];
	char		 domain[CONF_HOST_MAX];
	long long	 size = -1;
	int		 msgfd = -1, probe;

	if (first->flags & ENVELOPE_F_RESOLVE) {
		queue_sched_resolve(first, now);
		return;
	}
	if ((first->flags & (QENTRY_F_EXPAND | ENVELOPE_F_DSN_PENDING)) ==
	    QENTRY_F_EXPAND && proc_peer(PROC_LOCAL) != NULL) {
		queue_sched_expand(first, now);
		return;
	}
	if (queue_sched_domain_wait(first, now, &probe))
		return;
	/* the batch's entries, first too, may be forgotten while loading */
	(void)strlcpy(domain, first->grp->domain, sizeof(domain));
	b = queue_sched_batch_new();
	b->probe = probe;
	b->local = (first->flags & SCHED_F_HERE) != 0;
	/* a mailbox due for delivery (not a DSN left to write) */
	if ((first->flags & SCHED_F_HERE) == QENTRY_F_LOCAL &&
	    (first->flags & QENTRY_F_MAILBOX) &&
	    proc_peer(PROC_LOCAL) != NULL) {
		b->local = 0;
		b->to_local = 1;
	}
	queue_sched_batch_collect(b, first, now);
	if (!b->local)
		msgfd = queue_sched_batch_open(b, first->grp->msgid, &size,
		    now);
	queue_sched_batch_load(b, size, now);
	sched_ninflight += b->n;
	if (b->n == 0) {
		if (msgfd != -1)
			(void)close(msgfd);
		if (probe)
			queue_sched_domain_result(domain, 1, 0, NULL, now);
		queue_sched_batch_free(b);
		return;
	}
	queue_sched_batch_go(b, msgfd, now);
}

static int
queue_sched_can_dispatch(void)
{
	return !sched_is_paused && !queue_load_held() && conf != NULL &&
	    proc_peer(PROC_MTA) != NULL;
}

/* Hand every due envelope to mta, then sleep until the next is due. */
static void
queue_sched_dispatch(int fd, short ev, void *arg)
{
	struct timeval	 tv;
	time_t		 now = time(NULL), next = 0;

	(void)fd;
	(void)ev;
	(void)arg;
	if (!queue_sched_can_dispatch())
		return;
	while (sched_heapn > 0 && sched_ninflight < QUEUE_INFLIGHT_MAX &&
	    sched_heap[0]->nexttry <= now)
		queue_sched_dispatch_one(now);
	if (sched_ninflight >= QUEUE_INFLIGHT_MAX)
		return;
	if (sched_heapn > 0 && (next == 0 || sched_heap[0]->nexttry < next))
		next = sched_heap[0]->nexttry;
	if (next == 0)
		return;
	tv.tv_sec = next > now ? next - now : 1;
	tv.tv_usec = 0;
	(void)evtimer_add(sched_ev, &tv);
}

void
queue_sched_init(void)
{
	sched_ev = evtimer_new(proc_base, queue_sched_dispatch, NULL);
	if (sched_ev == NULL)
		fatalx("cannot create the scheduler timer");
	stats_refresh_set(queue_sched_state_refresh);
}

/* Run the dispatcher once the current event-loop pass is done. */
void
queue_sched_wakeup(void)
{
	if (sched_ev == NULL)
		return;
	(void)evtimer_del(sched_ev);
	event_active(sched_ev, EV_TIMEOUT, 0);
}

void
queue_sched_pause(int on)
{
	sched_is_paused = on;
	stats_set("queue.paused", on);
	if (!on)
		queue_sched_wakeup();
}

int
queue_sched_paused(void)
{
	return sched_is_paused;
}

/*
 * mta (to_local 0) or smtpd-local (1) is gone: settle each of its batches
 * with what came back, requeue the rest without counting a retry.
 */
void
queue_sched_peer_down(int to_local)
{
	struct qbatch	*b, *next;

	for (b = RB_MIN(qbatch_tree, &sched_batches); b != NULL; b = next) {
		next = RB_NEXT(qbatch_tree, &sched_batches, b);
		if (b->to_local == to_local)
			queue_result_batch(b);
	}
}
