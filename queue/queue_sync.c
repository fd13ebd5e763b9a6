/*
 * queue_sync.c: the group commit's disk work, off the event loop.
 *
 * A commit transaction spends nearly all its time waiting for the disk
 * (syncfs, then the directory fsyncs).  Done in the event loop, that wait
 * also stalls every CREATE and every delivery result, so a session's next
 * message waits for the previous batch's sync before it can even start.
 * One worker thread runs queue_spool_tx_commit() on one transaction at a
 * time; the loop keeps serving and parks the next commits, which become
 * the next (larger) batch.  The thread touches only the transaction and
 * the spool's directory descriptors; everything else stays in the loop,
 * which learns of the end through a pipe.
 *
 * Failure behaviour: if the thread cannot be started the queue cannot
 * commit at all, which is local trouble: fatal, and the parent restarts
 * the queue.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "proc.h"
#include "queue.h"

static pthread_t	 sync_thread;
static pthread_mutex_t	 sync_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 sync_cond = PTHREAD_COND_INITIALIZER;
/* handed to the thread, taken by it, and given back when synced */
static struct spool_tx	*sync_job;
static struct spool_tx	*sync_result;
static int		 sync_busy;
static int		 sync_pipe[2] = { -1, -1 };
static struct event	*sync_ev;
static void		(*sync_done)(struct spool_tx *);

static void *
queue_sync_main(void *arg)
{
	struct spool_tx	*tx;
	char		 c = 0;

	(void)arg;
	for (;;) {
		(void)pthread_mutex_lock(&sync_lock);
		while (sync_job == NULL)
			(void)pthread_cond_wait(&sync_cond, &sync_lock);
		tx = sync_job;
		sync_job = NULL;
		(void)pthread_mutex_unlock(&sync_lock);
		(void)queue_spool_tx_commit(tx);
		(void)pthread_mutex_lock(&sync_lock);
		sync_result = tx;
		(void)pthread_mutex_unlock(&sync_lock);
		while (write(sync_pipe[1], &c, 1) == -1 && errno == EINTR)
			;
	}
	return NULL;
}

/* The thread is done: hand the transaction back to the loop's owner. */
static void
queue_sync_ready(int fd, short ev, void *arg)
{
	struct spool_tx	*tx;
	char		 c;

	(void)ev;
	(void)arg;
	if (read(fd, &c, 1) != 1)
		return;
	(void)pthread_mutex_lock(&sync_lock);
	tx = sync_result;
	sync_result = NULL;
	(void)pthread_mutex_unlock(&sync_lock);
	sync_busy = 0;
	if (tx != NULL)
		sync_done(tx);
}

/* Start the thread with every signal blocked: signals are the loop's. */
void
queue_sync_init(void (*done)(struct spool_tx *))
{
	sigset_t	 all, old;

	sync_done = done;
	if (pipe2(sync_pipe, O_CLOEXEC) == -1)
		fatal("sync pipe");
	sync_ev = event_new(proc_base, sync_pipe[0], EV_READ | EV_PERSIST,
	    queue_sync_ready, NULL);
	if (sync_ev == NULL || event_add(sync_ev, NULL) == -1)
		fatalx("sync event");
	(void)sigfillset(&all);
	(void)pthread_sigmask(SIG_BLOCK, &all, &old);
	if (pthread_create(&sync_thread, NULL, queue_sync_main, NULL) != 0)
		fatalx("cannot start the sync thread");
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int
queue_sync_busy(void)
{
	return sync_busy;
}

/* Give the thread a staged transaction; only when it is idle. */
void
queue_sync_submit(struct spool_tx *tx)
{
	sync_busy = 1;
	(void)pthread_mutex_lock(&sync_lock);
	sync_job = tx;
	(void)pthread_cond_signal(&sync_cond);
	(void)pthread_mutex_unlock(&sync_lock);
}
