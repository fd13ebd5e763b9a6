/*
 * local.h: the modules of smtpd-local, the local delivery process.
 *
 *   local.c          the process: handlers, peers, config
 *   local_deliver.c  the requests of the queue: the user checked again,
 *                    the rule chosen, one child per delivery, its result
 *   local_result.c   the result pipe of a child: written, read, checked
 *   local_child.c    the child: the user's identity, then the method
 *   local_message.c  the message: the loop check, our headers, a copy
 *   local_mbox.c     the mbox in local mailbox-dir
 *   local_maildir.c  a Maildir: tmp/, then new/
 *   local_file.c     a /file target, appended in the mbox format
 *   local_exec.c     the spawner: children that may run a program
 *   local_command.c  an MDA or a |program (smrsh), run as the user
 *   local_lmtp.c     LMTP to a server (Dovecot's)
 *   local_expand.c   a .forward or :include: file, read for the queue in
 *                    a child with its user's rights
 */
#ifndef LOCAL_H
#define LOCAL_H

#include <sys/types.h>

#include <stdio.h>

#include "config.h"
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

/* the child's result on its result pipe (local_result.c): "CLASS
 * X.Y.Z TEXT\n", CLASS ok, tempfail or permfail; longer is garbage */
#define LOCAL_RESULT_MAX	512
#define LOCAL_RESULT_TEXT_MAX	400
/* the fd of the result pipe in the child (stdin is the message) */
#define LOCAL_RESULT_FD		3

struct local_result {
	uint32_t	 status;	/* STATUS_OK, _TEMPFAIL, _PERMFAIL */
	char		 estatus[16];
	char		 text[LOCAL_RESULT_TEXT_MAX];
};

/*
 * Everything the child needs, worked out as root before the fork; the
 * child is a copy of smtpd-local, so the pointers stay valid in it.
 */
struct local_job {
	uid_t		 uid;
	gid_t		 gid;
	gid_t		 groups[LOCAL_GROUPS_MAX];
	int		 ngroups;
	pid_t		 ppid;		/* smtpd-local, for the death signal */
	uint32_t	 kind;		/* TARGET_MAILBOX, _PROGRAM, _FILE */
	struct local_delivery rule;	/* how a mailbox is delivered */
	const char	*user;		/* whose identity the child takes */
	const char	*home;		/* the user's home directory */
	const char	*sender;	/* "" for <> */
	const char	*rcpt;		/* "user+detail", "|command", "/file" */
	const char	*orig;		/* the address the mail was sent to */
	const char	*dir;		/* local mailbox-dir */
	const char	*hostname;
	const char	*smrsh_dir;	/* local smrsh-dir */
	const char	*safe_file_dir;	/* local safe-file-dir, "" none */
	char		 id[32];	/* the envelope id, for logs and %i */
	time_t		 ctime;		/* the message's creation time */
	/* an earlier try may have delivered it (LOCAL_DELIVER_F_RECHECK) */
	int		 recheck;
	time_t		 now;
};

/* the largest .forward or :include: file (policyd's alias value limit) */
#define LOCAL_EXPAND_MAX	65536

/* local_expand.c */
void	local_expand_imsg(struct imsgev *, struct imsg *, void *);
void	local_expand_queue_down(void);

/* local_deliver.c */
void	local_deliver_imsg(struct imsgev *, struct imsg *, void *);
void	local_deliver_run(void);
void	local_deliver_queue_down(void);
void	local_deliver_shutdown(void);
size_t	local_deliver_count(void);

/* local_result.c: the result pipe, both ends */
void	local_result_write(int fd, uint32_t status, const char *estatus,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int	local_result_parse(const char *buf, size_t len,
	    struct local_result *);

/* local_child.c: the child, from the fork to its end */
void	local_child_run(const struct local_job *, int msgfd, int resultfd)
	    __attribute__((noreturn));
void	local_child_signals(pid_t ppid, void (*undo)(int));

/* local_exec.c: the spawner of the children that may exec */
void	local_exec_init(void);
int	local_exec_needed(const struct local_job *);
pid_t	local_exec_spawn(const struct local_job *, int msgfd, int resultfd,
	    int *pidfd);

/* the methods, each in the child, as the user; none returns */
void	local_mbox_child(const struct local_job *, int msgfd, int resultfd)
	    __attribute__((noreturn));
void	local_maildir_child(const struct local_job *, int msgfd,
	    int resultfd) __attribute__((noreturn));
/* the pure parts, for the unit tests */
int	local_maildir_path(const struct local_job *, char *, size_t);
int	local_maildir_mark(const struct local_job *, char *, size_t);
int	local_maildir_name(char *, size_t, time_t, long usec, pid_t,
	    const char *mark, const char *host);
void	local_command_child(const struct local_job *, int msgfd,
	    int resultfd) __attribute__((noreturn));
/* the pure parts, for the unit tests */
int	local_command_split(char *line, char **argv, size_t max);
int	local_command_expand(const struct local_job *, const char *word,
	    char *out, size_t len);
int	local_command_smrsh(const char *cmd, const char *dir, char *path,
	    size_t len);
void	local_command_status(int code, uint32_t *status,
	    const char **estatus, const char **text);
/* local_lmtp.c */
void	local_lmtp_child(const struct local_job *, int msgfd, int resultfd)
	    __attribute__((noreturn));
/* for local_file.c: the mbox format, locks, undo and exit of local_mbox.c */
int	local_mbox_append(const struct local_job *, int fd, FILE *in);
void	local_mbox_signal(int);
void	local_mbox_exit(int code) __attribute__((noreturn));
void	local_file_child(const struct local_job *, int msgfd, int resultfd)
	    __attribute__((noreturn));
int	local_file_check(const char *path, const char *safe_dir);
/* the pure parts, for the unit tests */
int	local_mbox_line_put(FILE *, const char *line, size_t len);
int	local_mbox_copy(FILE *in, FILE *out);

/* local_message.c: in the child, for every method */
int	local_message_open(const struct local_job *, int msgfd, FILE **);
int	local_message_headers(const struct local_job *, FILE *);
int	local_message_from_line(const struct local_job *, FILE *);
int	local_message_copy(FILE *in, FILE *out);
int	local_message_loop_find(FILE *, const char *delivered_to);
/* our Delivered-To: address (LMTP writes that header alone) */
void	local_message_self(const struct local_job *, char *, size_t);

#endif
