/*
 * local.h: the modules of smtpd-local, the local delivery process.
 *
 *   local.c          the process: handlers, peers, config
 *   local_deliver.c  the requests of the queue: the user checked again,
 *                    one child per delivery, its exit status as a result
 *   local_mbox.c     what the child does as the user: append to the mbox
 */
#ifndef LOCAL_H
#define LOCAL_H

#include <sys/types.h>

#include <stdio.h>

#include "imsg.h"

/* seconds a delivery child may take before it gives up (SIGALRM) */
#define LOCAL_DELIVERY_TIMEOUT	300
/* more seconds before smtpd-local kills a child that did not give up */
#define LOCAL_KILL_GRACE	30
/* delivery children running at once; the other requests wait */
#define LOCAL_CHILDREN_MAX	32
/* the supplementary groups a user may have */
#define LOCAL_GROUPS_MAX	64
/* the longest user name */
#define LOCAL_USER_MAX		256

/* Everything the child needs, worked out as root before the fork. */
struct local_mbox_job {
	uid_t		 uid;
	gid_t		 gid;
	gid_t		 groups[LOCAL_GROUPS_MAX];
	int		 ngroups;
	pid_t		 ppid;		/* smtpd-local, for the death signal */
	const char	*user;		/* the mailbox name */
	const char	*sender;	/* "" for <> */
	const char	*dir;		/* local mailbox-dir */
	const char	*hostname;
	time_t		 now;
};

/* local_deliver.c */
void	local_deliver_imsg(struct imsgev *, struct imsg *, void *);
void	local_deliver_run(void);
void	local_deliver_queue_down(void);
void	local_deliver_shutdown(void);
size_t	local_deliver_count(void);

/* local_mbox.c: in the child; never returns */
void	local_mbox_child(const struct local_mbox_job *, int msgfd)
	    __attribute__((noreturn));
/* the pure parts, for the unit tests */
int	local_mbox_line_put(FILE *, const char *line, size_t len);
int	local_mbox_loop_find(FILE *, const char *delivered_to);
int	local_mbox_copy(FILE *in, FILE *out);

#endif
