/*
 * queue.c: the queue process, the only one that touches the spool.
 *
 * It runs as _smtpq chrooted to the spool directory.  The front end
 * (smtp) creates, commits and rolls back messages through it
 * (queue_commit.c) and hears how much room the spool has left
 * (queue_space.c); the outbound client (mta) gets batches of envelopes
 * and answers with results (queue_sched.c, queue_result.c); policyd
 * says where the queue's own DSNs go and what the items of a .forward
 * or :include: file become (queue_resolve.c), smtpd-local reads those
 * files (queue_expand.c) and delivers local mail; smtpctl
 * requests arrive from the parent (queue_ctl.c).  This file is the table
 * of contents: the handler tables, the reactions to peers coming and
 * going, and main().
 *
 * Failure behaviour: a spool that cannot be opened is fatal (the parent
 * restarts us); everything else is answered, logged and counted.
 */
#include <fcntl.h>
#include <malloc.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "queue.h"

static const struct imsg_handler queue_parent_handlers[] = {
	{ IMSG_LOAD_AVERAGE,		queue_load_average },
};

static const struct imsg_handler queue_smtp_handlers[] = {
	{ IMSG_QUEUE_MESSAGE_CREATE,	queue_commit_create },
	{ IMSG_QUEUE_MESSAGE_COMMIT,	queue_commit_commit },
	{ IMSG_QUEUE_MESSAGE_ROLLBACK,	queue_commit_rollback },
	{ IMSG_QUEUE_MESSAGE_REWRITE,	queue_commit_rewrite },
	{ IMSG_QUEUE_ETRN,		queue_etrn },
};

static const struct imsg_handler queue_mta_handlers[] = {
	{ IMSG_MTA_RESULT,		queue_result_result },
	{ IMSG_MTA_DONE,		queue_result_done },
};

static const struct imsg_handler queue_local_handlers[] = {
	{ IMSG_LOCAL_RESULT,		queue_result_local },
	{ IMSG_LOCAL_EXPANDED,		queue_expand_result },
};

static const struct imsg_handler queue_policy_handlers[] = {
	{ IMSG_POLICY_RESOLVE_RESULT,	queue_resolve_result },
};

static void
queue_peer_up(enum proc_id id)
{
	if (id == PROC_MTA || id == PROC_POLICY || id == PROC_LOCAL)
		queue_sched_wakeup();
	else if (id == PROC_SMTP)
		queue_space_report();
}

static void
queue_peer_down(enum proc_id id)
{
	if (id == PROC_SMTP)
		queue_commit_smtp_down();
	else if (id == PROC_MTA)
		queue_sched_peer_down(0);
	else if (id == PROC_LOCAL) {
		queue_sched_peer_down(1);
		queue_expand_local_down();
	}
	else if (id == PROC_POLICY)
		queue_resolve_policy_down();
}

static void
queue_config_apply(struct config *new, struct config *old)
{
	if (old == NULL)
		log_info("queue ready: retry %lld..%llds, warn after %llds, "
		    "give up after %llds", (long long)new->queue_retry_min,
		    (long long)new->queue_retry_max,
		    (long long)new->queue_delay_warning,
		    (long long)new->queue_lifetime);
	queue_quarantine_configure();
	queue_sched_wakeup();
}

static void
queue_shutdown(void)
{
	log_info("queue exiting with %zu envelopes queued",
	    queue_sched_count());
}

static const struct proc_def queue_def = {
	.id = PROC_QUEUE,
	.name = "queue",
	.user = SMTPD_QUEUE_USER,
	.handlers = {
		/* the skeleton handles the other parent messages */
		[PROC_PARENT] = queue_parent_handlers,
		[PROC_SMTP] = queue_smtp_handlers,
		[PROC_MTA] = queue_mta_handlers,
		[PROC_POLICY] = queue_policy_handlers,
		[PROC_LOCAL] = queue_local_handlers,
	},
	.nhandlers = {
		[PROC_PARENT] = sizeof(queue_parent_handlers) /
		    sizeof(queue_parent_handlers[0]),
		[PROC_SMTP] = sizeof(queue_smtp_handlers) /
		    sizeof(queue_smtp_handlers[0]),
		[PROC_MTA] = sizeof(queue_mta_handlers) /
		    sizeof(queue_mta_handlers[0]),
		[PROC_POLICY] = 1,
		[PROC_LOCAL] = sizeof(queue_local_handlers) /
		    sizeof(queue_local_handlers[0]),
	},
	.peer_up = queue_peer_up,
	.peer_down = queue_peer_down,
	.config_apply = queue_config_apply,
	.ctl = queue_ctl,
	.shutdown = queue_shutdown,
};

int
main(int argc, char **argv)
{
	int	 rootfd;

	/* A fixed threshold, so that the large short-lived blocks (batches
	 * of many recipients, the results settled in one pass, several MB)
	 * always come from their own mappings and go back when freed; by
	 * default glibc raises the threshold after such a free and serves
	 * the next ones from the heap, where the schedule's records keep
	 * them from ever being returned. */
	(void)mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	proc_setup(&queue_def, argc, argv);
	proc_confine(proc_root(), SMTPD_QUEUE_USER);
	if ((rootfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		fatal("open spool root");
	if (queue_spool_open(&queue_spool, rootfd) == -1)
		fatalx("cannot open the spool directories");
	if (queue_sched_load() == -1)
		fatalx("cannot load the spool");
	queue_sched_init();
	queue_quarantine_init();
	queue_commit_init();
	queue_result_init();
	queue_space_init();
	proc_run();
	return 0;
}
