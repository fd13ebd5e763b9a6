/*
 * queue.h: the modules of the queue process and what they share.
 *
 *   queue.c		main, proc_def and the imsg handler tables
 *   queue_commit.c	incoming messages: create, rollback, group commit
 *   queue_sched.c	in-memory schedule, startup load, dispatch to mta
 *   queue_result.c	delivery results: logs, retries, DSNs
 *   queue_ctl.c	smtpctl requests
 *   queue_quarantine.c	held envelopes: quarantine and release
 *   queue_resolve.c	where the queue's own DSNs go (asked of policyd)
 *   queue_space.c	the spool's free space, reported to the front end
 *   queue_spool.c	files (queue_spool.h)
 *   queue_envelope.c	envelope format (queue_envelope.h)
 *   queue_bounce.c	DSN text (queue_bounce.h)
 *   queue_etrn.c	ETRN: a domain's envelopes due now
 *   queue_pool.c	the slabs of the schedule's records (queue_pool.h)
 *
 * The schedule keeps a small record per envelope (struct qentry), per
 * message and domain (struct qgroup) and per message (struct qmsg); the
 * envelope itself stays on disk and is read when it is dispatched or
 * shown, so 100k queued one-recipient messages cost about 30 MB
 * (BENCHMARKS.md, "A queue of 100 000 deferred messages").  The one
 * exception is the common path commit -> first dispatch: up to
 * QUEUE_CACHE_MAX freshly committed envelopes keep their parsed copy, so
 * they go out without being read back.
 */
#ifndef QUEUE_H
#define QUEUE_H

#include <sys/tree.h>
#include <sys/queue.h>

#include <stdint.h>
#include <time.h>

#include "imsg.h"
#include "queue_envelope.h"
#include "queue_spool.h"

#define QUEUE_BATCH_MAX		100	/* recipients per IMSG_MTA_DELIVER */
#define QUEUE_INFLIGHT_MAX	1000	/* envelopes handed to mta at once */
#define QUEUE_REQUEUE_DELAY	10	/* seconds, after an mta crash */
#define QUEUE_CACHE_MAX		4096	/* envelopes kept parsed in memory
					   from commit to first dispatch */

enum qstate {
	QE_PENDING = 0,		/* in the heap */
	QE_INFLIGHT,		/* in a batch */
	QE_HELD,		/* due, but its domain is on hold */
	QE_QUARANTINED,		/* held until smtpctl release: never due */
	QE_RESOLVING		/* a DSN whose recipient policyd resolves */
};

/* qentry flags: the envelope's ENVELOPE_F_* bits, and: */
#define QENTRY_F_WARNED		0x100	/* delay warning age was handled */
#define QENTRY_F_FORCE		0x200	/* smtpctl schedule: ignore a hold */
#define QENTRY_F_HELD		0x400	/* deferred by its domain's hold */
/* settled here, never handed to the mta: a local mailer or a member
 * that failed in policyd */
#define QENTRY_F_LOCAL		0x800
/* a target of smtpd-local (a mailbox, a program, a file): handed to it
 * when it is up, else settled here */
#define QENTRY_F_MAILBOX	0x1000
/* a mailbox whose .forward, or an include whose file, is still to be
 * read (queue_expand.c) */
#define QENTRY_F_EXPAND		0x2000
/* a try of smtpd-local may have delivered it without its result coming
 * back: the next asks with LOCAL_DELIVER_F_RECHECK (queue_result.c) */
#define QENTRY_F_RECHECK	0x4000

struct qmsg {
	RB_ENTRY(qmsg)		 entry;
	uint32_t		 msgid;
	uint32_t		 nevp;
	long long		 size;		/* checked at startup; -2 unknown */
};

/* The envelopes of one message for one destination domain. */
struct qgroup {
	RB_ENTRY(qgroup)	 entry;
	uint32_t		 msgid;
	uint32_t		 n;		/* entries, in flight too */
	char			*domain;
	struct qmsg		*msg;
	TAILQ_HEAD(, qentry)	 entries;	/* those not in flight */
};

/*
 * Kept for every queued envelope, so packed: a queue of 100 000 one-
 * recipient messages holds 100 000 of these, and as many groups and
 * messages.  The parsed copy of a fresh envelope (QUEUE_CACHE_MAX) is
 * kept apart (queue_sched_cached()), and dropped when it is held.
 */
struct qentry {
	RB_ENTRY(qentry)	 entry;
	TAILQ_ENTRY(qentry)	 gentry;
	uint64_t		 evpid;
	time_t			 ctime;
	time_t			 nexttry;
	struct qgroup		*grp;
	struct qbatch		*batch;
	TAILQ_ENTRY(qentry)	 hentry;	/* its domain's held list */
	uint32_t		 retries;
	uint32_t		 flags;		/* QENTRY_F_*, ENVELOPE_F_* */
	uint32_t		 heapidx;
	uint8_t			 bidx;		/* < QUEUE_BATCH_MAX */
	uint8_t			 state;		/* enum qstate */
	uint8_t			 removed;	/* smtpctl remove while in flight */
};
_Static_assert(QUEUE_BATCH_MAX <= 256, "qentry.bidx is 8 bits");

struct qresult {
	int			 got;
	uint32_t		 status;
	uint32_t		 flags;
	int64_t			 xdelay;
	char			 estatus[ENVELOPE_STATUS_MAX];
	char			 relay[CONF_HOST_MAX];
	char			 text[ENVELOPE_TEXT_LINE];
};

/* One IMSG_MTA_DELIVER in flight. */
struct qbatch {
	RB_ENTRY(qbatch)	 entry;
	uint32_t		 id;
	size_t			 n;
	struct qentry		*ents[QUEUE_BATCH_MAX];
	int			 probe;		/* tries a domain on hold */
	int			 local;		/* settled without mta (DSN only) */
	int			 to_local;	/* IMSG_LOCAL_DELIVER to smtpd-local */
	time_t			 started;	/* handed over (the xdelay) */
	struct envelope		*evs;		/* n loaded envelopes */
	struct qresult		*res;		/* n results */
	int			 queued;	/* on the settle list */
	TAILQ_ENTRY(qbatch)	 done;		/* waiting to be settled */
};

extern struct spool	 queue_spool;

/* queue_sched.c */
void		 queue_sched_init(void);
int		 queue_sched_load(void);
struct qentry	*queue_sched_add(const struct envelope *);
void		 queue_sched_cache(struct qentry *, const struct envelope *);
const struct envelope *queue_sched_cached(const struct qentry *);
void		 queue_sched_schedule_now(struct qentry *, time_t);
/* Quarantine: hold a waiting envelope (memory only), or let a held one
 * go at now; the caller has rewritten the envelope file first. */
void		 queue_sched_quarantine(struct qentry *);
void		 queue_sched_release(struct qentry *, time_t);
size_t		 queue_sched_quarantined(void);
/* A due DSN leaves the heap while policyd resolves its recipient. */
void		 queue_sched_resolving(struct qentry *);
/* What a batch taught about its domain's next hop: -1 unreachable (why:
 * a result saying so), 1 reachable, 0 nothing; probe: the batch was the
 * domain's probe. */
void		 queue_sched_domain_result(const char *, int probe, int verdict,
		    const struct qresult *why, time_t);
/* "X.Y.Z text" of a domain on hold, or NULL. */
const char	*queue_sched_domain_reason(const char *);
int		 queue_sched_forget(struct qentry *);
void		 queue_sched_drop(struct qentry *);
void		 queue_sched_reschedule(struct qentry *, time_t);
struct qentry	*queue_sched_find(uint64_t);
int		 queue_sched_msgid_inuse(uint32_t);
struct qentry	*queue_sched_find_from(uint64_t);
struct qentry	*queue_sched_first(void);
struct qentry	*queue_sched_next(struct qentry *);
struct qbatch	*queue_sched_batch_find(uint32_t);
void		 queue_sched_batch_free(struct qbatch *);
void		 queue_sched_wakeup(void);
void		 queue_sched_pause(int);
int		 queue_sched_paused(void);

/* queue_load.c */
void		 queue_load_average(struct imsgev *, struct imsg *, void *);
int		 queue_load_held(void);
void		 queue_sched_peer_down(int);
size_t		 queue_sched_count(void);
size_t		 queue_sched_inflight(void);
size_t		 queue_sched_messages(void);

/* queue_commit.c */
void		 queue_commit_init(void);

/* queue_space.c */
void		 queue_space_init(void);
void		 queue_space_report(void);

/* queue_sync.c */
void		 queue_sync_init(void (*)(struct spool_tx *));
int		 queue_sync_busy(void);
void		 queue_sync_submit(struct spool_tx *);

void		 queue_commit_create(struct imsgev *, struct imsg *, void *);
void		 queue_commit_commit(struct imsgev *, struct imsg *, void *);
void		 queue_commit_rollback(struct imsgev *, struct imsg *, void *);
void		 queue_commit_rewrite(struct imsgev *, struct imsg *, void *);

/* queue_etrn.c */
void		 queue_etrn(struct imsgev *, struct imsg *, void *);
void		 queue_commit_smtp_down(void);
int		 queue_commit_msgid_inuse(uint32_t);
size_t		 queue_commit_incoming(void);

/* queue_expand.c: .forward and :include: files, read by smtpd-local */
int		 queue_expand_needed(const struct envelope *);
void		 queue_expand_start(struct qentry *, const struct envelope *,
		    time_t);
void		 queue_expand_result(struct imsgev *, struct imsg *, void *);
void		 queue_expand_local_down(void);

/* queue_resolve.c: recipients resolved by policyd: DSNs', files' items */
void		 queue_resolve_start(struct qentry *, const char *rcpt, time_t);
void		 queue_resolve_expand(struct qentry *, const char *self,
		    const char *source, const char *owner, const char *text,
		    uint32_t depth, time_t);
void		 queue_resolve_fail(struct qentry *, const char *enh,
		    const char *text);
void		 queue_resolve_result(struct imsgev *, struct imsg *, void *);
void		 queue_resolve_policy_down(void);

/* queue_result.c */
void		 queue_result_result(struct imsgev *, struct imsg *, void *);
void		 queue_result_done(struct imsgev *, struct imsg *, void *);
void		 queue_result_local(struct imsgev *, struct imsg *, void *);
void		 queue_result_init(void);
void		 queue_result_batch(struct qbatch *);
int		 queue_result_estatus_ok(const char *, uint32_t status);
time_t		 queue_result_backoff(time_t, time_t, uint32_t);

/* queue_quarantine.c: the sweep of held mail past its lifetime */
void		 queue_quarantine_init(void);
void		 queue_quarantine_configure(void);
/* queue_quarantine.c: rewrite the envelopes (none in flight) with a
 * reason, "" to release them; the number changed. */
size_t		 queue_quarantine_apply(struct qentry **, size_t,
		    const char *reason, time_t);

/* queue_ctl.c */
void		 queue_ctl(uint32_t, uint32_t, const char *);
/* Copy a field for a '|'-separated line: '|', '%' and control octets
 * become %XX. */
void		 queue_ctl_field(char *, size_t, const char *);

#endif
