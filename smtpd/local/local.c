/*
 * local.c: the local delivery process (bin/smtpd-local): it delivers the
 * queue's envelopes for local mailboxes, each in a child that has become
 * the user.
 *
 * Table of contents:
 *   local_deliver.c  requests, the user checked again, the children and
 *                    their exit statuses
 *   local_mbox.c     the child: the mbox of the user, locked, appended,
 *                    fsynced, or truncated back
 *
 * The one process that can take another user's identity, so the one that
 * stays root: it talks to the queue and the parent only (no socket of its
 * own, no listener), and it cannot chroot, since it opens the mailboxes
 * of the system (and, later, the users' homes).  It is confined by
 * proc_confine_root(): not traceable, PR_SET_NO_NEW_PRIVS, its own
 * seccomp list (common/sandbox.c).  The long-lived process opens no
 * mailbox.  If the queue goes away, the deliveries in flight are undone
 * and dropped (the queue requeues them).
 */
#include <stdlib.h>

#include "log.h"
#include "proc.h"
#include "local.h"

static void	local_peer_down(enum proc_id);
static void	local_config_apply(struct config *, struct config *);
static void	local_ctl(uint32_t, uint32_t, const char *);

static const struct imsg_handler local_queue_handlers[] = {
	{ IMSG_LOCAL_DELIVER,		local_deliver_imsg },
	{ IMSG_LOCAL_EXPAND,		local_expand_imsg },
};

static const struct proc_def local_def = {
	.id = PROC_LOCAL,
	.name = "local",
	.user = "root",
	.handlers = {
		[PROC_QUEUE] = local_queue_handlers,
	},
	.nhandlers = {
		[PROC_QUEUE] = sizeof(local_queue_handlers) /
		    sizeof(local_queue_handlers[0]),
	},
	.peer_down = local_peer_down,
	.config_apply = local_config_apply,
	.ctl = local_ctl,
	.shutdown = local_deliver_shutdown,
};

int
main(int argc, char **argv)
{
	proc_setup(&local_def, argc, argv);
	/* before the filter, which the spawner must not have */
	local_exec_init();
	proc_confine_root();
	proc_run();
	return 0;
}

static void
local_peer_down(enum proc_id id)
{
	if (id != PROC_QUEUE)
		return;
	log_info("queue gone, undoing %zu delivery request(s)",
	    local_deliver_count());
	local_deliver_queue_down();
	local_expand_queue_down();
}

static void
local_config_apply(struct config *nconf, struct config *old)
{
	if (old == NULL)
		log_info("local delivery ready: mbox in %s",
		    nconf->local_mailbox_dir);
	local_deliver_run();
}

static void
local_ctl(uint32_t ctlid, uint32_t cmd, const char *arg)
{
	if (cmd != CTL_SHOW_STATUS) {
		proc_ctl_end(ctlid, 1, "not supported by local");
		return;
	}
	proc_ctl_line(ctlid, "local.requests=%zu", local_deliver_count());
	proc_ctl_end(ctlid, 0, "");
}
