/*
 * local_child.c: a delivery child of smtpd-local, from the fork to the
 * method that delivers.
 *
 * The child holds the message on stdin, its result pipe on
 * LOCAL_RESULT_FD and stderr, nothing else.  It becomes the user (the
 * groups, gid and uid worked out by local_deliver.c) before it opens
 * anything, then runs one method, which never returns: a |program or
 * an MDA (local_command.c), a /file (local_file.c), or for a mailbox the
 * rule's method: the mbox (local_mbox.c), a Maildir (local_maildir.c),
 * LMTP (local_lmtp.c).  Each method ends the child with an exit status
 * (sysexits) and may write its result on the pipe first
 * (local_result.c); smtpd-local prefers that text to its table of exit
 * statuses.
 */
#include <sys/prctl.h>

#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "proto.h"
#include "local.h"

/*
 * The time limit, the end of smtpd-local, and its SIGTERM all undo the
 * delivery: undo is the method's handler, which exits.  The death signal
 * is set after the change of identity, which clears it; if smtpd-local
 * died before, the child is an orphan already and stops.
 */
void
local_child_signals(pid_t ppid, void (*undo)(int))
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = undo;
	(void)sigfillset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1 ||
	    prctl(PR_SET_PDEATHSIG, SIGALRM, 0, 0, 0) == -1)
		_exit(EX_OSERR);
	if (getppid() != ppid)
		_exit(EX_TEMPFAIL);
	(void)alarm(LOCAL_DELIVERY_TIMEOUT);
}

void
local_child_run(const struct local_job *j, int msgfd, int resultfd)
{
	if (setgroups((size_t)j->ngroups, j->groups) == -1 ||
	    setresgid(j->gid, j->gid, j->gid) == -1 ||
	    setresuid(j->uid, j->uid, j->uid) == -1) {
		local_result_write(resultfd, STATUS_TEMPFAIL, "4.3.0",
		    "cannot take the identity of %s", j->user);
		_exit(EX_OSERR);
	}
	if (j->kind == TARGET_PROGRAM)
		local_command_child(j, msgfd, resultfd);
	if (j->kind == TARGET_FILE)
		local_file_child(j, msgfd, resultfd);
	switch (j->rule.method) {
	case LOCAL_METHOD_MAILDIR:
		local_maildir_child(j, msgfd, resultfd);
	case LOCAL_METHOD_MDA:
		local_command_child(j, msgfd, resultfd);
	case LOCAL_METHOD_LMTP:
		local_lmtp_child(j, msgfd, resultfd);
	case LOCAL_METHOD_MBOX:
		break;
	}
	local_mbox_child(j, msgfd, resultfd);
}
