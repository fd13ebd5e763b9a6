/*
 * local_mbox.c: what a delivery child of smtpd-local does, as the user:
 * append one message to the user's mbox (sendmail's and Debian's
 * conventions).
 *
 * The child is the user (local_child.c) before it opens anything.  The mbox, DIR/USER, is opened without following a symlink
 * (or created, mode 0600, with O_EXCL) and refused unless it is a regular
 * file of the user with one link.  It is locked twice, as mail readers
 * expect: the dot-lock USER.lock (created with O_EXCL, tried for
 * LOCAL_LOCK_TRIES seconds, removed when older than LOCAL_LOCK_STALE;
 * where the user may not create files in DIR, the fcntl lock alone), and
 * an fcntl write lock on the whole file.  Then "From SENDER DATE", a
 * Return-Path: and a Delivered-To: header, the message with CRLF made LF
 * and "From " at the start of a line quoted as ">From ", and a blank line;
 * the mbox is fsynced before the child exits 0.
 *
 * Failure: any write or fsync error truncates the mbox back to its old
 * size.  So does SIGALRM (the time limit), SIGTERM (smtpd-local or the
 * queue is going away) and the death of smtpd-local (PR_SET_PDEATHSIG):
 * a delivery whose result cannot reach the queue is undone, and the
 * queue's next try delivers the message once.  The outcome is the exit
 * status (sysexits), mapped to a reply by local_deliver.c.
 */
#include <sys/prctl.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "local.h"

/* seconds the dot-lock is tried, one attempt a second */
#define LOCAL_LOCK_TRIES	10
/* a dot-lock older than this was left by a dead process */
#define LOCAL_LOCK_STALE	(5 * 60)

/* What local_mbox_undo() puts right; set before it is needed. */
static volatile sig_atomic_t	 mbox_fd = -1;
static volatile sig_atomic_t	 mbox_locked;
static off_t			 mbox_oldsize;
static char			 mbox_lockpath[PATH_MAX];

/*
 * Write one line of the message: its line end (CRLF or LF) becomes LF,
 * and a line that starts with "From " gets a '>' (mboxo quoting, as
 * sendmail's mail.local), so no reader takes it for a new message.
 */
int
local_mbox_line_put(FILE *out, const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len >= 5 && memcmp(line, "From ", 5) == 0 &&
	    fputc('>', out) == EOF)
		return -1;
	if (len > 0 && fwrite(line, 1, len, out) != len)
		return -1;
	return fputc('\n', out) == EOF ? -1 : 0;
}

/* Copy the whole message, line by line; -1 on a read or write error. */
int
local_mbox_copy(FILE *in, FILE *out)
{
	char	*line = NULL;
	size_t	 cap = 0;
	ssize_t	 len;
	int	 r = 0;

	while ((len = getline(&line, &cap, in)) != -1)
		if ((r = local_mbox_line_put(out, line, (size_t)len)) == -1)
			break;
	if (ferror(in))
		r = -1;
	free(line);
	return r;
}

/* The value of a header line after "Name:", blanks and <> removed. */
static char *
local_mbox_value(char *v)
{
	size_t	 len;

	v += strspn(v, " \t");
	len = strcspn(v, "\r\n");
	while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	v[len] = '\0';
	if (len >= 2 && v[0] == '<' && v[len - 1] == '>') {
		v[len - 1] = '\0';
		v++;
	}
	return v;
}

/*
 * Does the header of the message carry "Delivered-To: delivered_to"
 * (our own header for this mailbox: the message came back)?  1 yes, 0
 * no, -1 on a read error.  Only the header is read, up to the first
 * empty line.
 */
int
local_mbox_loop_find(FILE *in, const char *delivered_to)
{
	static const char	 name[] = "Delivered-To:";
	char			*line = NULL;
	size_t			 cap = 0;
	int			 r = 0;

	while (getline(&line, &cap, in) != -1) {
		if (line[0] == '\n' || (line[0] == '\r' && line[1] == '\n'))
			break;
		if (strncasecmp(line, name, sizeof(name) - 1) == 0 &&
		    strcasecmp(local_mbox_value(line + sizeof(name) - 1),
		    delivered_to) == 0) {
			r = 1;
			break;
		}
	}
	if (r == 0 && ferror(in))
		r = -1;
	free(line);
	return r;
}

/* Put the mbox back as it was and drop the dot-lock (also from a signal
 * handler: only async-signal-safe calls); -1 if the truncation failed. */
static int
local_mbox_undo(void)
{
	int	 r = 0;

	if (mbox_fd != -1 && ftruncate(mbox_fd, mbox_oldsize) == -1)
		r = -1;
	if (mbox_locked)
		(void)unlink(mbox_lockpath);
	return r;
}

/* Both exit statuses are temporary failures: the queue tries again. */
static void
local_mbox_signal(int sig)
{
	(void)sig;
	_exit(local_mbox_undo() == 0 ? EX_TEMPFAIL : EX_IOERR);
}

/* End the child: undone unless delivered, and no signal in between. */
static void __attribute__((noreturn))
local_mbox_exit(int code)
{
	sigset_t	 all;

	(void)sigfillset(&all);
	(void)sigprocmask(SIG_BLOCK, &all, NULL);
	if (code != 0 && local_mbox_undo() == -1)
		code = EX_IOERR;
	else if (code == 0 && mbox_locked)
		(void)unlink(mbox_lockpath);
	_exit(code);
}

/*
 * The time limit, the end of smtpd-local, and its SIGTERM all undo the
 * delivery.  The death signal is set after the change of identity,
 * which clears it; if smtpd-local died before, the child is an orphan
 * already and stops.
 */
static void
local_mbox_signals(pid_t ppid)
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = local_mbox_signal;
	(void)sigfillset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1 ||
	    prctl(PR_SET_PDEATHSIG, SIGALRM, 0, 0, 0) == -1)
		_exit(EX_OSERR);
	if (getppid() != ppid)
		_exit(EX_TEMPFAIL);
	(void)alarm(LOCAL_DELIVERY_TIMEOUT);
}

/*
 * The dot-lock: 0 held, 1 not possible here (the user may not create
 * files in the directory: the fcntl lock alone), -1 busy or failed.
 */
static int
local_mbox_dotlock(const char *path)
{
	struct stat	 sb;
	int		 fd, i;

	if ((size_t)snprintf(mbox_lockpath, sizeof(mbox_lockpath), "%s.lock",
	    path) >= sizeof(mbox_lockpath))
		return -1;
	for (i = 0; i < LOCAL_LOCK_TRIES; i++) {
		fd = open(mbox_lockpath, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd != -1) {
			mbox_locked = 1;
			(void)close(fd);
			return 0;
		}
		if (errno == EACCES || errno == EPERM || errno == EROFS)
			return 1;
		if (errno != EEXIST)
			return -1;
		if (lstat(mbox_lockpath, &sb) == 0 &&
		    time(NULL) - sb.st_mtime > LOCAL_LOCK_STALE) {
			(void)unlink(mbox_lockpath);
			continue;
		}
		(void)sleep(1);
	}
	return -1;
}

/* Open (or create) the mbox and check it; -1 if it is not safe. */
static int
local_mbox_open(const struct local_job *j, const char *path)
{
	struct stat	 sb;
	int		 fd, flags = O_WRONLY | O_APPEND | O_NOFOLLOW |
			    O_NOCTTY | O_NONBLOCK | O_CLOEXEC;

	if ((fd = open(path, flags)) == -1 && errno == ENOENT)
		fd = open(path, flags | O_CREAT | O_EXCL, 0600);
	if (fd == -1)
		return -1;
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_uid != j->uid || sb.st_nlink != 1) {
		(void)close(fd);
		return -1;
	}
	return fd;
}

/* The From line, our two headers, the message and a blank line. */
static int
local_mbox_write(const struct local_job *j, int fd, FILE *in)
{
	FILE	*out;
	char	 date[64];
	int	 dfd, r;

	if (ctime_r(&j->now, date) == NULL)
		return -1;
	if ((dfd = dup(fd)) == -1)
		return -1;
	if ((out = fdopen(dfd, "a")) == NULL) {
		(void)close(dfd);
		return -1;
	}
	r = fprintf(out, "From %s %sReturn-Path: <%s>\nDelivered-To: %s@%s\n",
	    j->sender[0] != '\0' ? j->sender : "MAILER-DAEMON", date,
	    j->sender, j->user, j->hostname) < 0 ? -1 : 0;
	if (r == 0)
		r = local_mbox_copy(in, out);
	if (r == 0 && fputc('\n', out) == EOF)
		r = -1;
	if (fflush(out) == EOF || ferror(out))
		r = -1;
	if (fclose(out) == EOF)
		r = -1;
	return r;
}

/* Lock, append, fsync; the exit status of the child. */
static int
local_mbox_deliver(const struct local_job *j, FILE *in)
{
	struct flock	 fl;
	struct stat	 sb;
	char		 path[PATH_MAX];
	int		 fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", j->dir, j->user) >=
	    sizeof(path))
		return EX_CANTCREAT;
	if (local_mbox_dotlock(path) == -1)
		return EX_TEMPFAIL;
	if ((fd = local_mbox_open(j, path)) == -1)
		return EX_CANTCREAT;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_SETLKW, &fl) == -1 || fstat(fd, &sb) == -1)
		return EX_TEMPFAIL;
	mbox_oldsize = sb.st_size;
	mbox_fd = fd;
	if (local_mbox_write(j, fd, in) == -1 || fsync(fd) == -1)
		return EX_IOERR;
	return 0;
}

/* The child is the user already (local_child.c); its exit status says
 * how it went, as the table of local_deliver.c reads it. */
void
local_mbox_child(const struct local_job *j, int msgfd, int resultfd)
{
	FILE	*in;
	char	 self[LOCAL_USER_MAX + 256];
	int	 r;

	local_mbox_signals(j->ppid);
	if (lseek(msgfd, 0, SEEK_SET) == -1 ||
	    (in = fdopen(msgfd, "r")) == NULL)
		local_mbox_exit(EX_NOINPUT);
	(void)snprintf(self, sizeof(self), "%s@%s", j->user, j->hostname);
	if ((r = local_mbox_loop_find(in, self)) == 1)
		local_mbox_exit(EX_DATAERR);
	if (r == -1 || fseek(in, 0, SEEK_SET) == -1)
		local_mbox_exit(EX_NOINPUT);
	local_mbox_exit(local_mbox_deliver(j, in));
}
