/*
 * local_expand.c: the queue's IMSG_LOCAL_EXPAND requests, each answered
 * with one IMSG_LOCAL_EXPANDED: the text of a user's ~/.forward, or of an
 * :include: file, for policyd to resolve (queue_expand.c).
 *
 * Interface in local.h.  A file is read in a child, never by this
 * process: a .forward with the rights of its user, an include from a
 * .forward with the rights of that .forward's user, an include from the
 * aliases as root (the aliases are root's), which then makes the file's
 * owner the user its programs and files run as.  The checks are those of
 * sendmail's DontBlameSendmail defaults:
 *   - a regular file, not a symlink, at most LOCAL_EXPAND_MAX octets, no
 *     NUL octet;
 *   - owned by its user or root (a .forward), by the reading user or root
 *     (an include from a .forward);
 *   - not writable by group or others, and neither is any directory on
 *     its path (each must be owned by root or by the file's user).
 * A .forward that fails them is ignored with a log line and the mailbox
 * is delivered, as sendmail does; an include that fails them, or that is
 * missing, is bounced.  No .forward at all (seen by lstat(2) as root,
 * which reads nothing) needs no child.  mail for uid 0 reads none: it
 * needs an alias anyway (local_deliver.c).
 *
 * The child writes one line on its pipe, "TEXT uid", "NONE why", "TEMP
 * X.Y.Z why" or "PERM X.Y.Z why", and for TEXT the file after it; this
 * process reads at most LOCAL_EXPAND_MAX octets more, then the child's
 * exit.  A child that says nothing or too much is a temporary failure.
 */
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "mailaddr.h"
#include "proc.h"
#include "util.h"
#include "local.h"

/* seconds a child may take to read a file */
#define EXPAND_TIMEOUT	60

struct local_xreq {
	TAILQ_ENTRY(local_xreq)	 entry;
	uint32_t		 id;
	uint64_t		 evpid;
	uint32_t		 kind;		/* TARGET_MAILBOX, _INCLUDE */
	char			 path[PATH_MAX];
	/* who reads it: the child's identity; root for an alias include */
	char			 user[LOCAL_USER_MAX];
	uid_t			 uid;
	gid_t			 gid;
	gid_t			 groups[LOCAL_GROUPS_MAX];
	int			 ngroups;
	pid_t			 pid;
	int			 pidfd;
	int			 pipefd;
	char			*buf;
	size_t			 len;
	int			 eof;
	int			 exited;
	struct event		*ev_read;
	struct event		*ev_exit;
	struct event		*ev_kill;
};

static TAILQ_HEAD(, local_xreq)	 local_xreqs =
    TAILQ_HEAD_INITIALIZER(local_xreqs);

static void
local_expand_free(struct local_xreq *x)
{
	TAILQ_REMOVE(&local_xreqs, x, entry);
	if (x->ev_read != NULL)
		event_free(x->ev_read);
	if (x->ev_exit != NULL)
		event_free(x->ev_exit);
	if (x->ev_kill != NULL)
		event_free(x->ev_kill);
	if (x->pidfd != -1)
		(void)close(x->pidfd);
	if (x->pipefd != -1)
		(void)close(x->pipefd);
	if (x->pid != -1) {
		(void)kill(x->pid, SIGKILL);
		(void)waitpid(x->pid, NULL, 0);
	}
	free(x->buf);
	free(x);
}

/* Answer the queue and forget the request. */
static void
local_expand_answer(struct local_xreq *x, uint32_t outcome, const char *enh,
    const char *text, const char *owner)
{
	struct imsg_out	 out;

	imsg_out_init(&out, IMSG_LOCAL_EXPANDED, x->id);
	imsg_put_u32(&out, outcome);
	imsg_put_str(&out, enh);
	imsg_put_str(&out, text);
	imsg_put_str(&out, owner);
	if (proc_send(PROC_QUEUE, &out, -1) == -1)
		log_warnx("%016llx: expansion lost (queue gone)",
		    (unsigned long long)x->evpid);
	stats_add("local.expand", 1);
	local_expand_free(x);
}

/*
 * The child's side.
 */

/* Write all of buf; the pipe is the child's only way out. */
static void
local_expand_put(int fd, const char *buf, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			_exit(EX_IOERR);
		}
		buf += n;
		len -= (size_t)n;
	}
}

static void __attribute__((noreturn))
local_expand_say(int fd, const char *word, const char *why)
{
	char	 line[LOCAL_RESULT_MAX];
	int	 n;

	n = snprintf(line, sizeof(line), "%s %s\n", word, why);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = snprintf(line, sizeof(line), "%s (reason too long)\n", word);
	local_expand_put(fd, line, (size_t)n);
	_exit(0);
}

/*
 * Is every directory above path (absolute) owned by root or uid, and
 * writable by neither group nor others?  NULL if so, else why not.
 */
static const char *
local_expand_dirs_safe(const char *path, uid_t uid, char *why, size_t len)
{
	struct stat	 sb;
	char		 dir[PATH_MAX];
	char		*slash;

	if (strlcpy(dir, path, sizeof(dir)) >= sizeof(dir))
		return "path too long";
	while ((slash = strrchr(dir, '/')) != NULL) {
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(dir, &sb) == -1) {
			(void)snprintf(why, len, "%s: %s", dir, strerror(errno));
			return why;
		}
		if ((sb.st_uid != 0 && sb.st_uid != uid) ||
		    (sb.st_mode & (S_IWGRP | S_IWOTH))) {
			(void)snprintf(why, len, "directory %s is unsafe (owned "
			    "by uid %u, mode %03o)", dir, (unsigned)sb.st_uid,
			    (unsigned)(sb.st_mode & 0777));
			return why;
		}
		if (strcmp(dir, "/") == 0)
			break;
	}
	return NULL;
}

/* Read all of fd (a regular file of size octets) into buf. */
static int
local_expand_slurp(int fd, char *buf, size_t size, size_t *len)
{
	ssize_t	 n;

	*len = 0;
	while (*len < size) {
		if ((n = read(fd, buf + *len, size - *len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	return 0;
}

/*
 * In the child, with its identity taken: open, check and send the file.
 * For a .forward (owner: its user) a failed check says NONE, for an
 * include PERM.
 */
static void __attribute__((noreturn))
local_expand_child(const struct local_xreq *x, int fd)
{
	struct stat	 sb;
	static char	 buf[LOCAL_EXPAND_MAX + 1];
	char		 why[PATH_MAX + 128], head[64];
	const char	*unsafe, *bad = x->kind == TARGET_MAILBOX ? "NONE" :
			    "PERM 5.3.0";
	size_t		 len;
	int		 f;

	(void)alarm(EXPAND_TIMEOUT);
	f = open(x->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	if (f == -1) {
		if (x->kind == TARGET_MAILBOX && (errno == ENOENT ||
		    errno == ENOTDIR))
			local_expand_say(fd, "NONE", "");
		(void)snprintf(why, sizeof(why), "cannot open %s: %s", x->path,
		    errno == ELOOP ? "a symbolic link" : strerror(errno));
		local_expand_say(fd, errno == EACCES || errno == ELOOP ||
		    errno == ENOENT || errno == ENOTDIR ? bad : "TEMP 4.3.0",
		    why);
	}
	if (fstat(f, &sb) == -1) {
		(void)snprintf(why, sizeof(why), "%s: %s", x->path,
		    strerror(errno));
		local_expand_say(fd, "TEMP 4.3.0", why);
	}
	if (!S_ISREG(sb.st_mode)) {
		(void)snprintf(why, sizeof(why), "%s is not a regular file",
		    x->path);
		local_expand_say(fd, bad, why);
	}
	if ((x->uid != 0 && sb.st_uid != 0 && sb.st_uid != x->uid) ||
	    (sb.st_mode & (S_IWGRP | S_IWOTH))) {
		(void)snprintf(why, sizeof(why), "%s is unsafe (owned by uid "
		    "%u, mode %03o)", x->path, (unsigned)sb.st_uid,
		    (unsigned)(sb.st_mode & 0777));
		local_expand_say(fd, bad, why);
	}
	if ((unsafe = local_expand_dirs_safe(x->path, x->uid != 0 ? x->uid :
	    sb.st_uid, why, sizeof(why))) != NULL)
		local_expand_say(fd, bad, unsafe);
	if (sb.st_size > LOCAL_EXPAND_MAX) {
		(void)snprintf(why, sizeof(why), "%s is larger than %d octets",
		    x->path, LOCAL_EXPAND_MAX);
		local_expand_say(fd, bad, why);
	}
	if (local_expand_slurp(f, buf, (size_t)sb.st_size, &len) == -1) {
		(void)snprintf(why, sizeof(why), "cannot read %s: %s", x->path,
		    strerror(errno));
		local_expand_say(fd, "TEMP 4.3.0", why);
	}
	if (memchr(buf, '\0', len) != NULL) {
		(void)snprintf(why, sizeof(why), "%s holds a NUL octet",
		    x->path);
		local_expand_say(fd, bad, why);
	}
	(void)snprintf(head, sizeof(head), "TEXT %u\n", (unsigned)sb.st_uid);
	local_expand_put(fd, head, strlen(head));
	local_expand_put(fd, buf, len);
	_exit(0);
}

/*
 * The parent's side.
 */

/* The owner the items of a file run as: "" (local default-user) for
 * root's, else the name of the file's owner. */
static int
local_expand_owner(const struct local_xreq *x, uid_t uid, char *out,
    size_t len)
{
	struct passwd	*pw;

	out[0] = '\0';
	if (x->kind == TARGET_MAILBOX || x->uid != 0) {
		(void)strlcpy(out, x->user, len);
		return 0;
	}
	if (uid == 0)
		return 0;
	if ((pw = getpwuid(uid)) == NULL || strlcpy(out, pw->pw_name, len) >=
	    len)
		return -1;
	return 0;
}

/* A failure line "X.Y.Z why" of class c: enh and why split, or -1. */
static int
local_expand_failure(char *line, char c, char **enh, char **why)
{
	char	*sp;

	if (line[0] != c || line[1] != '.' || (sp = strchr(line, ' ')) ==
	    NULL || sp - line > 11 || !text_is_clean(line))
		return -1;
	*sp = '\0';
	*enh = line;
	*why = sp + 1;
	return 0;
}

/* What the child said, once it has exited and its pipe is at its end. */
static void
local_expand_done(struct local_xreq *x)
{
	char		 owner[LOCAL_USER_MAX], *nl, *text, *enh, *why;
	unsigned long	 uid;
	char		*end;

	if (x->buf == NULL || (nl = memchr(x->buf, '\n', x->len)) == NULL) {
		log_warnx("%016llx: the child reading %s said nothing",
		    (unsigned long long)x->evpid, x->path);
		local_expand_answer(x, EXPAND_TEMPFAIL, "4.3.0", "reading "
		    "the file failed", "");
		return;
	}
	*nl = '\0';
	text = nl + 1;
	x->buf[x->len] = '\0';
	if (strncmp(x->buf, "TEXT ", 5) == 0) {
		errno = 0;
		uid = strtoul(x->buf + 5, &end, 10);
		if (*end != '\0' || errno != 0 || local_expand_owner(x,
		    (uid_t)uid, owner, sizeof(owner)) == -1) {
			local_expand_answer(x, EXPAND_PERMFAIL, "5.3.0",
			    "the owner of the file is no user", "");
			return;
		}
		/* an empty .forward: as none, the mailbox */
		if (strspn(text, " \t\r\n") == strlen(text) &&
		    x->kind == TARGET_MAILBOX)
			local_expand_answer(x, EXPAND_NONE, "", "", "");
		else
			local_expand_answer(x, EXPAND_TEXT, "", text, owner);
		return;
	}
	if (strncmp(x->buf, "NONE ", 5) == 0 && text_is_clean(x->buf)) {
		if (x->buf[5] != '\0')
			log_warnx("%016llx: %s; ignored", (unsigned long long)
			    x->evpid, x->buf + 5);
		local_expand_answer(x, EXPAND_NONE, "", "", "");
		return;
	}
	if (strncmp(x->buf, "PERM ", 5) == 0 &&
	    local_expand_failure(x->buf + 5, '5', &enh, &why) == 0) {
		local_expand_answer(x, EXPAND_PERMFAIL, enh, why, "");
		return;
	}
	if (strncmp(x->buf, "TEMP ", 5) == 0 &&
	    local_expand_failure(x->buf + 5, '4', &enh, &why) == 0) {
		local_expand_answer(x, EXPAND_TEMPFAIL, enh, why, "");
		return;
	}
	log_warnx("%016llx: the child reading %s said nothing valid",
	    (unsigned long long)x->evpid, x->path);
	local_expand_answer(x, EXPAND_TEMPFAIL, "4.3.0", "reading the file "
	    "failed", "");
}

/* Both ends seen: the child's exit and its pipe's end. */
static void
local_expand_check_done(struct local_xreq *x)
{
	if (x->exited && x->eof)
		local_expand_done(x);
}

static void
local_expand_readable(int fd, short ev, void *arg)
{
	struct local_xreq	*x = arg;
	ssize_t			 n;

	if (x->buf == NULL)
		x->buf = xcalloc(1, LOCAL_RESULT_MAX + LOCAL_EXPAND_MAX + 2);
	n = read(fd, x->buf + x->len, LOCAL_RESULT_MAX + LOCAL_EXPAND_MAX +
	    1 - x->len);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0 && x->len + (size_t)n <= LOCAL_RESULT_MAX +
	    LOCAL_EXPAND_MAX) {
		x->len += (size_t)n;
		return;
	}
	/* the end, an error, or too much: nothing more is read */
	if (n != 0) {
		free(x->buf);
		x->buf = NULL;
		x->len = 0;
	}
	event_del(x->ev_read);
	x->eof = 1;
	local_expand_check_done(x);
}

static void
local_expand_exited(int fd, short ev, void *arg)
{
	struct local_xreq	*x = arg;
	int			 status;

	if (waitpid(x->pid, &status, WNOHANG) <= 0)
		return;
	x->pid = -1;
	x->exited = 1;
	event_del(x->ev_kill);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		free(x->buf);
		x->buf = NULL;
		x->len = 0;
	}
	local_expand_check_done(x);
}

static void
local_expand_kill(int fd, short ev, void *arg)
{
	struct local_xreq	*x = arg;

	log_warnx("%016llx: reading %s timed out; killed",
	    (unsigned long long)x->evpid, x->path);
	if (pidfd_send_signal(x->pidfd, SIGKILL, NULL, 0) == -1)
		log_warn("pidfd_send_signal");
}

/* In the child: become the reader, then read. */
static void __attribute__((noreturn))
local_expand_child_start(const struct local_xreq *x, int fd)
{
	if (dup2(fd, LOCAL_RESULT_FD) == -1)
		_exit(EX_OSERR);
	fd = LOCAL_RESULT_FD;
	closefrom(LOCAL_RESULT_FD + 1);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
	    (x->uid != 0 && (setgroups((size_t)x->ngroups, x->groups) == -1 ||
	    setresgid(x->gid, x->gid, x->gid) == -1 ||
	    setresuid(x->uid, x->uid, x->uid) == -1)))
		local_expand_say(fd, "TEMP 4.3.0", "cannot take the identity "
		    "of the user");
	local_expand_child(x, fd);
}

/* Fork the child of a request; -1 if it was answered instead. */
static int
local_expand_fork(struct local_xreq *x)
{
	struct timeval	 tv = { EXPAND_TIMEOUT + LOCAL_KILL_GRACE, 0 };
	int		 p[2];
	pid_t		 pid;

	if (pipe2(p, O_CLOEXEC) == -1) {
		log_warn("pipe");
		local_expand_answer(x, EXPAND_TEMPFAIL, "4.3.0", "cannot "
		    "start reading the file", "");
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_warn("fork");
		(void)close(p[0]);
		(void)close(p[1]);
		local_expand_answer(x, EXPAND_TEMPFAIL, "4.3.0", "cannot "
		    "start reading the file", "");
		return -1;
	}
	if (pid == 0) {
		(void)close(p[0]);
		local_expand_child_start(x, p[1]);
	}
	(void)close(p[1]);
	x->pid = pid;
	x->pipefd = p[0];
	if ((x->pidfd = pidfd_open(pid, 0)) == -1)
		fatal("pidfd_open");
	if (fcntl(x->pipefd, F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl");
	x->ev_read = event_new(proc_base, x->pipefd, EV_READ | EV_PERSIST,
	    local_expand_readable, x);
	x->ev_exit = event_new(proc_base, x->pidfd, EV_READ,
	    local_expand_exited, x);
	x->ev_kill = evtimer_new(proc_base, local_expand_kill, x);
	if (x->ev_read == NULL || x->ev_exit == NULL || x->ev_kill == NULL ||
	    event_add(x->ev_read, NULL) == -1 ||
	    event_add(x->ev_exit, NULL) == -1 ||
	    evtimer_add(x->ev_kill, &tv) == -1)
		fatalx("cannot watch a child reading a file");
	return 0;
}

/* The identity x is read with: user's uid, gid and groups; 1 when it
 * cannot be had, answered already. */
static int
local_expand_identity(struct local_xreq *x, const struct passwd *pw)
{
	int	 n = LOCAL_GROUPS_MAX;

	x->uid = pw->pw_uid;
	x->gid = pw->pw_gid;
	if (strlcpy(x->user, pw->pw_name, sizeof(x->user)) >=
	    sizeof(x->user) ||
	    getgrouplist(pw->pw_name, pw->pw_gid, x->groups, &n) == -1) {
		local_expand_answer(x, EXPAND_TEMPFAIL, "4.3.0", "cannot "
		    "work out the groups of the user", "");
		return 1;
	}
	x->ngroups = n;
	return 0;
}

/*
 * A .forward: the user of the mailbox, the path in the home; 1 when it
 * is answered already (no such user or file: nothing to read).
 */
static int
local_expand_forward(struct local_xreq *x, const char *rcpt)
{
	struct passwd	*pw;
	struct stat	 sb;
	char		 name[LOCAL_USER_MAX];
	size_t		 len = strcspn(rcpt, "+");

	if (len == 0 || len >= sizeof(name)) {
		local_expand_answer(x, EXPAND_NONE, "", "", "");
		return 1;
	}
	memcpy(name, rcpt, len);
	name[len] = '\0';
	if ((pw = getpwnam(name)) == NULL || pw->pw_uid == 0 ||
	    pw->pw_dir == NULL || pw->pw_dir[0] != '/') {
		/* the delivery says why (unknown, root) */
		local_expand_answer(x, EXPAND_NONE, "", "", "");
		return 1;
	}
	(void)snprintf(x->path, sizeof(x->path), "%s%s.forward", pw->pw_dir,
	    pw->pw_dir[strlen(pw->pw_dir) - 1] == '/' ? "" : "/");
	if (lstat(x->path, &sb) == -1 && (errno == ENOENT ||
	    errno == ENOTDIR)) {
		local_expand_answer(x, EXPAND_NONE, "", "", "");
		return 1;
	}
	return local_expand_identity(x, pw);
}

/* An include: read as the .forward's user, else as root; 1 when it is
 * answered already. */
static int
local_expand_include(struct local_xreq *x, const char *rcpt,
    const char *runas)
{
	struct passwd	*pw;
	const char	*path = rcpt + 9;	/* ":include:" */

	if (path[0] != '/' || strstr(path, "/../") != NULL ||
	    strlcpy(x->path, path, sizeof(x->path)) >= sizeof(x->path)) {
		local_expand_answer(x, EXPAND_PERMFAIL, "5.3.0", "bad "
		    ":include: path", "");
		return 1;
	}
	if (runas[0] == '\0') {
		x->uid = 0;
		return 0;
	}
	if ((pw = getpwnam(runas)) == NULL || pw->pw_uid == 0) {
		local_expand_answer(x, EXPAND_PERMFAIL, "5.3.0", "the user "
		    "of the :include: is unknown", "");
		return 1;
	}
	return local_expand_identity(x, pw);
}

/* IMSG_LOCAL_EXPAND from the queue. */
void
local_expand_imsg(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct local_xreq	*x;
	const char		*rcpt, *runas;
	int			 r;

	x = xcalloc(1, sizeof(*x));
	TAILQ_INSERT_TAIL(&local_xreqs, x, entry);
	x->id = m->id;
	x->pid = -1;
	x->pidfd = -1;
	x->pipefd = -1;
	x->evpid = imsg_get_u64(m);
	x->kind = imsg_get_u32(m);
	rcpt = imsg_get_str(m);
	runas = imsg_get_str(m);
	if (m->fd != -1 || imsg_get_end(m) == -1 ||
	    (x->kind != TARGET_MAILBOX && x->kind != TARGET_INCLUDE) ||
	    !mailaddr_target_valid(x->kind, rcpt) || rcpt[0] == '\\' ||
	    !text_is_clean(runas) || strlen(runas) >= LOCAL_USER_MAX) {
		local_expand_free(x);
		proc_peer_bad(PROC_QUEUE, "malformed expand request", m->type);
		return;
	}
	r = x->kind == TARGET_MAILBOX ? local_expand_forward(x, rcpt) :
	    local_expand_include(x, rcpt, runas);
	if (r == 0)
		(void)local_expand_fork(x);
}

/* The queue is gone: nobody to answer; the children are killed. */
void
local_expand_queue_down(void)
{
	while (!TAILQ_EMPTY(&local_xreqs))
		local_expand_free(TAILQ_FIRST(&local_xreqs));
}
