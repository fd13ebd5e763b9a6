/*
 * local_exec.c: the spawner of smtpd-local, the one process that may
 * start a delivery child able to execute a program (an MDA, a |program).
 *
 * smtpd-local's seccomp filter forbids execve(2), and a filter cannot be
 * lifted: every process it forks inherits it, and so would procmail,
 * dovecot-lda or a user's program, which make system calls nobody can
 * list.  So before smtpd-local loads its filter it forks this spawner
 * (local_exec_init()), which keeps no channel but a SOCK_SEQPACKET
 * socket to smtpd-local and serves one request type: a delivery job
 * (local_exec_spawn()) with the message fd and the write end of the
 * result pipe.  It checks the job again (a program or an MDA only; the
 * user from the system's passwd, never uid 0), forks the delivery child
 * (local_child.c: the user's identity, then local_command.c), and
 * answers with a pidfd of it, through which smtpd-local sees its end
 * and kills it at its time limit; the spawner reaps it.  The child's
 * result comes on its result pipe, as any child's.
 *
 * The spawner is root, not dumpable, without a filter, and dies with
 * smtpd-local (PR_SET_PDEATHSIG).  It is not PR_SET_NO_NEW_PRIVS, which
 * its children would inherit: an MDA keeps its set-id bits (Debian's
 * procmail is setuid root, setgid mail, for /var/mail), a |program is
 * made PR_SET_NO_NEW_PRIVS before its exec (local_command.c).  It reads only what smtpd-local writes, with every
 * length checked; a bad request is refused, never fatal.
 */
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "proto.h"
#include "util.h"
#include "local.h"

/* the largest request: the header and the job's strings */
#define EXEC_REQUEST_MAX	8192
/* the strings of a request, in this order */
enum {
	EXEC_S_USER, EXEC_S_SENDER, EXEC_S_RCPT, EXEC_S_ORIG, EXEC_S_HOST,
	EXEC_S_SMRSH, EXEC_S_ARG, EXEC_S_ID, EXEC_S_COUNT
};

struct exec_header {
	uint32_t	 kind;
	uint32_t	 method;
	int64_t		 now;
};

struct exec_reply {
	int32_t		 pid;		/* -1: refused */
	int32_t		 err;		/* errno when refused */
};

static int	 exec_sock = -1;

/* Send a message with up to two fds. */
static int
exec_send(int s, const void *buf, size_t len, const int *fds, int nfds)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(2 * sizeof(int))];
	} cbuf;
	struct cmsghdr	*cmsg;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)buf;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (nfds > 0) {
		memset(&cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(cmsg), fds, (size_t)nfds * sizeof(int));
	}
	return sendmsg(s, &msg, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* Receive a message and its fds (at most 2, *nfds of them); its
 * length, 0 at the end, -1 (and no fd) when truncated. */
static ssize_t
exec_recv(int s, void *buf, size_t len, int *fds, int *nfds)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(2 * sizeof(int))];
	} cbuf;
	struct cmsghdr	*cmsg;
	ssize_t		 n;
	int		 got = 0, i;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = buf;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf.buf;
	msg.msg_controllen = sizeof(cbuf.buf);
	if ((n = recvmsg(s, &msg, MSG_CMSG_CLOEXEC)) <= 0)
		return n;
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		got = (int)((cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		if (got > 2)
			got = 2;
		memcpy(fds, CMSG_DATA(cmsg), (size_t)got * sizeof(int));
		break;
	}
	if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		for (i = 0; i < got; i++)
			(void)close(fds[i]);
		return -1;
	}
	*nfds = got;
	return n;
}

/* The job of a request, its strings pointing into buf. */
static int
exec_job_parse(char *buf, size_t len, struct local_job *j, const char **s)
{
	struct exec_header	 h;
	size_t			 off = sizeof(h), i, n;

	if (len < sizeof(h))
		return -1;
	memcpy(&h, buf, sizeof(h));
	for (i = 0; i < EXEC_S_COUNT; i++) {
		if (off >= len || (n = strnlen(buf + off, len - off)) ==
		    len - off)
			return -1;
		s[i] = buf + off;
		off += n + 1;
	}
	if (off != len || !(h.kind == TARGET_PROGRAM ||
	    (h.kind == TARGET_MAILBOX && h.method == LOCAL_METHOD_MDA)) ||
	    strlcpy(j->rule.arg, s[EXEC_S_ARG], sizeof(j->rule.arg)) >=
	    sizeof(j->rule.arg) || strlcpy(j->id, s[EXEC_S_ID],
	    sizeof(j->id)) >= sizeof(j->id))
		return -1;
	j->kind = h.kind;
	j->rule.method = (enum local_method)h.method;
	j->now = (time_t)h.now;
	j->user = s[EXEC_S_USER];
	j->sender = s[EXEC_S_SENDER];
	j->rcpt = s[EXEC_S_RCPT];
	j->orig = s[EXEC_S_ORIG];
	j->hostname = s[EXEC_S_HOST];
	j->smrsh_dir = s[EXEC_S_SMRSH];
	j->safe_file_dir = "";
	j->dir = "";
	return 0;
}

/* The user of a job, checked again here: never root. */
static int
exec_job_user(struct local_job *j, char **home)
{
	struct passwd	*pw;
	int		 n = LOCAL_GROUPS_MAX;

	if ((pw = getpwnam(j->user)) == NULL || pw->pw_uid == 0)
		return -1;
	j->uid = pw->pw_uid;
	j->gid = pw->pw_gid;
	if (getgrouplist(j->user, j->gid, j->groups, &n) == -1)
		return -1;
	j->ngroups = n;
	*home = xstrdup(pw->pw_dir != NULL ? pw->pw_dir : "/");
	j->home = *home;
	return 0;
}

/* One request: fork its child; the reply's pid, or -1 with errno. */
static pid_t
exec_serve_one(char *buf, size_t len, const int *fds)
{
	struct local_job	 j;
	const char		*s[EXEC_S_COUNT];
	char			*home = NULL;
	pid_t			 pid;

	memset(&j, 0, sizeof(j));
	if (exec_job_parse(buf, len, &j, s) == -1 ||
	    exec_job_user(&j, &home) == -1) {
		free(home);
		errno = EPERM;
		return -1;
	}
	j.ppid = getpid();
	if ((pid = fork()) == 0) {
		(void)signal(SIGCHLD, SIG_DFL);
		if (dup2(fds[0], STDIN_FILENO) == -1 ||
		    dup2(fds[1], LOCAL_RESULT_FD) == -1)
			_exit(EX_OSERR);
		closefrom(LOCAL_RESULT_FD + 1);
		local_child_run(&j, STDIN_FILENO, LOCAL_RESULT_FD);
	}
	free(home);
	return pid;
}

/* The spawner's life: requests until smtpd-local goes away. */
static void __attribute__((noreturn))
exec_serve(int s, pid_t ppid)
{
	static char		 buf[EXEC_REQUEST_MAX];
	struct exec_reply	 rep;
	struct pollfd		 pfd;
	ssize_t			 n;
	pid_t			 pid;
	int			 fds[2], nfds, pidfd, i;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1 ||
	    getppid() != ppid || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		_exit(1);
	(void)signal(SIGTERM, SIG_DFL);
	for (;;) {
		/* reap the children that ended, at least once a second */
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		pfd.fd = s;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 1000) <= 0)
			continue;
		nfds = 0;
		if ((n = exec_recv(s, buf, sizeof(buf), fds, &nfds)) == 0)
			_exit(0);
		memset(&rep, 0, sizeof(rep));
		pidfd = -1;
		if (n < 0 || nfds != 2) {
			for (i = 0; i < nfds; i++)
				(void)close(fds[i]);
			rep.pid = -1;
			rep.err = EINVAL;
		} else {
			pid = exec_serve_one(buf, (size_t)n, fds);
			rep.pid = (int32_t)pid;
			rep.err = pid == -1 ? errno : 0;
			if (pid != -1 && (pidfd = pidfd_open(pid, 0)) == -1) {
				(void)kill(pid, SIGKILL);
				rep.pid = -1;
				rep.err = errno;
			}
			(void)close(fds[0]);
			(void)close(fds[1]);
		}
		if (exec_send(s, &rep, sizeof(rep), &pidfd,
		    pidfd != -1 ? 1 : 0) == -1 && errno != EINTR)
			log_warn("spawner: reply lost");
		if (pidfd != -1)
			(void)close(pidfd);
	}
}

void
local_exec_init(void)
{
	pid_t	 ppid = getpid();
	int	 sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		fatal("socketpair");
	switch (fork()) {
	case -1:
		fatal("fork");
	case 0:
		if (dup2(sv[1], LOCAL_RESULT_FD + 1) == -1)
			_exit(1);
		/* smtpd-local's channel to the parent: not the spawner's,
		 * nor its children's */
		(void)close(PROC_PARENT_FD);
		closefrom(LOCAL_RESULT_FD + 2);
		exec_serve(LOCAL_RESULT_FD + 1, ppid);
	}
	(void)close(sv[1]);
	exec_sock = sv[0];
}

int
local_exec_needed(const struct local_job *j)
{
	return j->kind == TARGET_PROGRAM || (j->kind == TARGET_MAILBOX &&
	    j->rule.method == LOCAL_METHOD_MDA);
}

/* Append s and its NUL to the request; -1 if it does not fit. */
static int
exec_put(char *buf, size_t *off, const char *s)
{
	size_t	 n = strlen(s) + 1;

	if (n > EXEC_REQUEST_MAX - *off)
		return -1;
	memcpy(buf + *off, s, n);
	*off += n;
	return 0;
}

pid_t
local_exec_spawn(const struct local_job *j, int msgfd, int resultfd,
    int *pidfdp)
{
	static char		 buf[EXEC_REQUEST_MAX];
	struct exec_header	 h;
	struct exec_reply	 rep;
	const char		*s[EXEC_S_COUNT];
	size_t			 off = sizeof(h), i;
	int			 fds[2] = { msgfd, resultfd }, got[2], ngot = 0;

	memset(&h, 0, sizeof(h));
	h.kind = j->kind;
	h.method = (uint32_t)j->rule.method;
	h.now = (int64_t)j->now;
	memcpy(buf, &h, sizeof(h));
	s[EXEC_S_USER] = j->user;
	s[EXEC_S_SENDER] = j->sender;
	s[EXEC_S_RCPT] = j->rcpt;
	s[EXEC_S_ORIG] = j->orig;
	s[EXEC_S_HOST] = j->hostname;
	s[EXEC_S_SMRSH] = j->smrsh_dir;
	s[EXEC_S_ARG] = j->rule.arg;
	s[EXEC_S_ID] = j->id;
	for (i = 0; i < EXEC_S_COUNT; i++)
		if (exec_put(buf, &off, s[i]) == -1) {
			errno = E2BIG;
			return -1;
		}
	/* the spawner answers at once: a fork, no I/O of its own */
	if (exec_sock == -1 || exec_send(exec_sock, buf, off, fds, 2) == -1 ||
	    exec_recv(exec_sock, &rep, sizeof(rep), got, &ngot) !=
	    (ssize_t)sizeof(rep) || (rep.pid != -1) != (ngot == 1)) {
		for (i = 0; i < (size_t)ngot; i++)
			(void)close(got[i]);
		log_warnx("the spawner does not answer");
		errno = EIO;
		return -1;
	}
	if (rep.pid == -1) {
		errno = rep.err;
		return -1;
	}
	*pidfdp = got[0];
	return (pid_t)rep.pid;
}
