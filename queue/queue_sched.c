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
 * Failure behaviour: an envelope that no longer loads is moved to
 * corrupt/ and forgotten; a message file that cannot be opened moves its
 * envelopes there too.  A lost mta hands every batch to the result module,
 * which requeues what has no result.
 */
#include <sys/time.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "proc.h"
#include "queue.h"
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
RB_HEAD(qgroup_tree, qgroup);
RB_PROTOTYPE(qgroup_tree, qgroup, entry, qgroup_cmp);
RB_GENERATE(qgroup_tree, qgroup, entry, qgroup_cmp)
RB_HEAD(qbatch_tree, qbatch);
RB_PROTOTYPE(qbatch_tree, qbatch, entry, qbatch_cmp);
RB_GENERATE(qbatch_tree, qbatch, entry, qbatch_cmp)

static struct qentry_tree	 sched_entries = RB_INITIALIZER(&sched_entries);
static struct qmsg_tree		 sched_msgs = RB_INITIALIZER(&sched_msgs);
static struct qgroup_tree	 sched_groups = RB_INITIALIZER(&sched_groups);
static struct qbatch_tree	 sched_batches = RB_INITIALIZER(&sched_batches);

static struct qentry	**sched_heap;
static size_t		  sched_heapn, sched_heapcap;
static size_t		  sched_nentries, sched_nmsgs, sched_ninflight;
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
qbatch_cmp(struct qbatch *a, struct qbatch *b)
{
	return a->id < b->id ? -1 : a->id > b->id;
}

static void
sched_stats(void)
{
	stats_set("queue.envelope.count", (int64_t)sched_nentries);
	stats_set("queue.envelope.inflight", (int64_t)sched_ninflight);
	stats_set("queue.message.count", (int64_t)sched_nmsgs);
}

/*
 * The heap of pending envelopes, smallest next try time on top.
 */

static void
heap_set(size_t i, struct qentry *e)
{
	sched_heap[i] = e;
	e->heapidx = i;
}

static void
heap_up(size_t i)
{
	struct qentry	*e = sched_heap[i];
	size_t		 p;

	while (i > 0) {
		p = (i - 1) / 2;
		if (sched_heap[p]->nexttry <= e->nexttry)
			break;
		heap_set(i, sched_heap[p]);
		i = p;
	}
	heap_set(i, e);
}

static void
heap_down(size_t i)
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
		heap_set(i, sched_heap[c]);
		i = c;
	}
	heap_set(i, e);
}

static void
heap_push(struct qentry *e)
{
	if (sched_heapn == sched_heapcap) {
		sched_heapcap = sched_heapcap ? sched_heapcap * 2 : 1024;
		sched_heap = xreallocarray(sched_heap, sched_heapcap,
		    sizeof(*sched_heap));
	}
	heap_set(sched_heapn++, e);
	heap_up(e->heapidx);
}

static void
heap_remove(struct qentry *e)
{
	size_t		 i = e->heapidx;
	struct qentry	*last = sched_heap[--sched_heapn];

	if (i == sched_heapn)
		return;
	heap_set(i, last);
	heap_down(i);
	heap_up(last->heapidx);
}

/*
 * Messages, groups and entries.
 */

static struct qmsg *
sched_msg_get(uint32_t msgid)
{
	struct qmsg	 key, *m;

	key.msgid = msgid;
	if ((m = RB_FIND(qmsg_tree, &sched_msgs, &key)) != NULL)
		return m;
	m = xcalloc(1, sizeof(*m));
	m->msgid = msgid;
	m->size = -2;
	RB_INSERT(qmsg_tree, &sched_msgs, m);
	sched_nmsgs++;
	return m;
}

static void
sched_msg_free(struct qmsg *m)
{
	RB_REMOVE(qmsg_tree, &sched_msgs, m);
	sched_nmsgs--;
	free(m);
}

static struct qgroup *
sched_group_get(uint32_t msgid, const char *domain)
{
	struct qgroup	 key, *g;

	key.msgid = msgid;
	key.domain = (char *)(uintptr_t)domain;
	if ((g = RB_FIND(qgroup_tree, &sched_groups, &key)) != NULL)
		return g;
	g = xcalloc(1, sizeof(*g));
	g->msgid = msgid;
	g->domain = xstrdup(domain);
	g->msg = sched_msg_get(msgid);
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
queue_sched_add(uint64_t evpid, const char *domain, time_t ctime,
    time_t nexttry, uint32_t retries)
{
	struct qentry	*e;

	if (queue_sched_find(evpid) != NULL)
		return NULL;
	e = xcalloc(1, sizeof(*e));
	e->evpid = evpid;
	e->ctime = ctime;
	e->nexttry = nexttry;
	e->retries = retries;
	e->state = QE_PENDING;
	e->grp = sched_group_get(id_envelope_msgid(evpid), domain);
	e->grp->msg->nevp++;
	TAILQ_INSERT_TAIL(&e->grp->entries, e, gentry);
	RB_INSERT(qentry_tree, &sched_entries, e);
	heap_push(e);
	sched_nentries++;
	sched_stats();
	return e;
}

/* Forget an envelope (memory only); 1 if its message has none left. */
int
queue_sched_forget(struct qentry *e)
{
	struct qgroup	*g = e->grp;
	struct qmsg	*m = g->msg;
	int		 empty;

	if (e->state == QE_PENDING)
		heap_remove(e);
	TAILQ_REMOVE(&g->entries, e, gentry);
	RB_REMOVE(qentry_tree, &sched_entries, e);
	if (TAILQ_EMPTY(&g->entries)) {
		RB_REMOVE(qgroup_tree, &sched_groups, g);
		free(g->domain);
		free(g);
	}
	sched_nentries--;
	free(e);
	empty = --m->nevp == 0;
	if (empty)
		sched_msg_free(m);
	sched_stats();
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
		heap_down(e->heapidx);
		heap_up(e->heapidx);
		return;
	}
	e->state = QE_PENDING;
	e->batch = NULL;
	heap_push(e);
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
};

static int
sched_hex_name(const char *name, size_t width, unsigned long long *v)
{
	size_t	 i;

	if (strlen(name) != width)
		return -1;
	for (i = 0; i < width; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
		    (name[i] >= 'a' && name[i] <= 'f')))
			return -1;
	*v = strtoull(name, NULL, 16);
	return 0;
}

static void
sched_load_corrupt_msg(struct sched_load *ld, uint32_t msgid)
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
sched_load_envelope(const char *name, void *arg)
{
	struct sched_load	*ld = arg;
	struct envelope		 e;
	struct qmsg		*m;
	const char		*why;
	unsigned long long	 id;

	if (sched_hex_name(name, 16, &id) == -1) {
		queue_spool_corrupt(&queue_spool, SPOOL_ENVELOPE, name,
		    "not an envelope name");
		return;
	}
	if (queue_spool_envelope_read(&queue_spool, id, &e, &why) == -1) {
		queue_spool_corrupt(&queue_spool, SPOOL_ENVELOPE, name, why);
		return;
	}
	m = sched_msg_get(e.msgid);
	if (m->size == -2)
		m->size = queue_spool_message_size(&queue_spool,
		    SPOOL_MESSAGE, e.msgid);
	if (m->size < 0 || (unsigned long long)m->size != e.size) {
		queue_spool_corrupt(&queue_spool, SPOOL_ENVELOPE, name,
		    m->size < 0 ? "message file missing" :
		    "message size differs from the envelope");
		if (m->nevp == 0)
			sched_msg_free(m);
		sched_load_corrupt_msg(ld, e.msgid);
		return;
	}
	if (queue_sched_add(e.id, e.domain, e.ctime, e.nexttry,
	    e.retries) != NULL)
		ld->loaded++;
}

/* One file of message/: keep it if envelopes refer to it. */
static void
sched_load_message(const char *name, void *arg)
{
	struct sched_load	*ld = arg;
	unsigned long long	 id;
	size_t			 i;

	if (sched_hex_name(name, 8, &id) == -1) {
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
	    sched_load_envelope, &ld) == -1 ||
	    queue_spool_walk(&queue_spool, SPOOL_MESSAGE,
	    sched_load_message, &ld) == -1) {
		free(ld.corrupt);
		return -1;
	}
	free(ld.corrupt);
	log_info("queue loaded: %zu envelopes of %zu messages", ld.loaded,
	    sched_nmsgs);
	return (int)ld.loaded;
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

void
queue_sched_batch_free(struct qbatch *b)
{
	RB_REMOVE(qbatch_tree, &sched_batches, b);
	sched_ninflight -= b->n;
	free(b->evs);
	free(b->res);
	free(b);
	sched_stats();
}

static struct qbatch *
sched_batch_new(void)
{
	struct qbatch	*b = xcalloc(1, sizeof(*b));

	do {
		if (++sched_batchid == ID_NONE)
			sched_batchid = 1;
		b->id = sched_batchid;
	} while (queue_sched_batch_find(b->id) != NULL);
	b->evs = xcalloc(QUEUE_BATCH_MAX, sizeof(*b->evs));
	b->res = xcalloc(QUEUE_BATCH_MAX, sizeof(*b->res));
	RB_INSERT(qbatch_tree, &sched_batches, b);
	return b;
}

/* Take the due envelopes of e's group (e first) into a batch. */
static void
sched_batch_collect(struct qbatch *b, struct qentry *first, time_t now)
{
	struct qentry	*e;

	heap_remove(first);
	first->state = QE_INFLIGHT;
	b->ents[b->n++] = first;
	TAILQ_FOREACH(e, &first->grp->entries, gentry) {
		if (b->n == QUEUE_BATCH_MAX ||
		    sched_ninflight + b->n >= QUEUE_INFLIGHT_MAX)
			break;
		if (e == first || e->state != QE_PENDING || e->nexttry > now)
			continue;
		heap_remove(e);
		e->state = QE_INFLIGHT;
		b->ents[b->n++] = e;
	}
}

/* An envelope of a batch cannot be used: keep its file, forget it. */
static void
sched_batch_corrupt(struct qentry *e, const char *why)
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

/* Read the envelopes of a batch; those that fail leave the batch. */
static void
sched_batch_load(struct qbatch *b, int msgfd)
{
	const char	*why;
	size_t		 i, n = 0;

	for (i = 0; i < b->n; i++) {
		if (msgfd == -1)
			sched_batch_corrupt(b->ents[i], "message file missing");
		else if (queue_spool_envelope_read(&queue_spool,
		    b->ents[i]->evpid, &b->evs[n], &why) == -1)
			sched_batch_corrupt(b->ents[i], why);
		else {
			b->ents[n] = b->ents[i];
			b->ents[n]->batch = b;
			b->ents[n]->bidx = n;
			n++;
		}
	}
	b->n = n;
}

static int
sched_batch_send(struct qbatch *b, int msgfd)
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
	imsg_put_u32(&out, (uint32_t)b->n);
	for (i = 0; i < b->n; i++) {
		imsg_put_u64(&out, b->evs[i].id);
		imsg_put_str(&out, b->evs[i].rcpt);
		imsg_put_str(&out, b->evs[i].orcpt);
		imsg_put_u32(&out, b->evs[i].notify);
	}
	return proc_send(PROC_MTA, &out, msgfd);
}

/* Build and send one batch starting with the envelope on top. */
static void
sched_dispatch_one(time_t now)
{
	struct qbatch	*b = sched_batch_new();
	struct qentry	*first = sched_heap[0];
	int		 msgfd;
	size_t		 i;

	sched_batch_collect(b, first, now);
	msgfd = queue_spool_message_open(&queue_spool, first->grp->msgid);
	if (msgfd == -1)
		log_warn("%08x: open message", first->grp->msgid);
	sched_batch_load(b, msgfd);
	sched_ninflight += b->n;
	if (b->n == 0) {
		if (msgfd != -1)
			(void)close(msgfd);
		queue_sched_batch_free(b);
		return;
	}
	if (sched_batch_send(b, msgfd) == -1) {
		log_warnx("cannot hand batch %u to mta; requeued", b->id);
		for (i = 0; i < b->n; i++)
			queue_sched_reschedule(b->ents[i],
			    now + QUEUE_REQUEUE_DELAY);
		queue_sched_batch_free(b);
		return;
	}
	stats_add("queue.dispatch.batch", 1);
	sched_stats();
}

static int
sched_can_dispatch(void)
{
	return !sched_is_paused && conf != NULL &&
	    proc_peer(PROC_MTA) != NULL;
}

/* Hand every due envelope to mta, then sleep until the next is due. */
static void
sched_dispatch(int fd, short ev, void *arg)
{
	struct timeval	 tv;
	time_t		 now = time(NULL);

	(void)fd;
	(void)ev;
	(void)arg;
	if (!sched_can_dispatch())
		return;
	while (sched_heapn > 0 && sched_ninflight < QUEUE_INFLIGHT_MAX &&
	    sched_heap[0]->nexttry <= now)
		sched_dispatch_one(now);
	if (sched_heapn == 0 || sched_ninflight >= QUEUE_INFLIGHT_MAX)
		return;
	tv.tv_sec = sched_heap[0]->nexttry > now ?
	    sched_heap[0]->nexttry - now : 1;
	tv.tv_usec = 0;
	(void)evtimer_add(sched_ev, &tv);
}

void
queue_sched_init(void)
{
	sched_ev = evtimer_new(proc_base, sched_dispatch, NULL);
	if (sched_ev == NULL)
		fatalx("cannot create the scheduler timer");
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

/* mta is gone: settle every batch with what came back, requeue the rest. */
void
queue_sched_mta_down(void)
{
	struct qbatch	*b;

	while ((b = RB_MIN(qbatch_tree, &sched_batches)) != NULL)
		queue_result_batch(b);
}
