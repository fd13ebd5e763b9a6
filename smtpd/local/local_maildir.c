/*
 * local_maildir.c: what a delivery child does, as the user, for the rule
 * "local delivery maildir PATH": one message into a Maildir (the layout
 * of qmail, read by Dovecot, Courier, mutt).
 *
 * PATH is the rule's ("~/Maildir" by default, "~/" the user's home).  It,
 * the directories above it, and its tmp/, new/ and cur/ are made, mode
 * 0700, when absent; the Maildir and its three must
 * be a directory of the user, opened without following a symbolic link,
 * else nothing is written (4.3.0, the mail waits).  The message, with our
 * Return-Path: and Delivered-To: headers and its CRLF made LF (no From_
 * line, nothing quoted: Maildir needs neither), is written under a new
 * unique name in tmp/ (O_EXCL), fsynced, linked into new/ under that name
 * plus ",S=SIZE" (which Dovecot reads as the size), and new/ is fsynced;
 * only then is it a success, and the tmp/ name is removed.  The unique
 * name is TIME.MUSECPPIDQ1EIDTCTIME.HOST (HOST with '/' and ':' written
 * as \057 and \072), as Dovecot and Courier make it (one delivery per
 * child) plus the envelope's mark: E and its id, T and the message's
 * creation time.
 *
 * Failure, the time limit (SIGALRM), SIGTERM and the death of
 * smtpd-local all remove what was written, in tmp/ and in new/: a
 * delivery whose result cannot reach the queue is undone, so the queue's
 * next try delivers the message once.  What no handler sees is a
 * SIGKILL of the child, or the death of smtpd-local or of the queue
 * after the message was in new/ but before the queue had its result.
 * The queue then asks again with LOCAL_DELIVER_F_RECHECK (after a
 * restart, a lost smtpd-local, a child that ended without a result), and
 * the child first removes a dead try's files of the mark from tmp/, then
 * looks for the mark in new/ and cur/ (a reader may have moved it
 * there): found, the message is delivered already and is not written
 * again.
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "proto.h"
#include "local.h"

/* What maildir_undo() removes; set before the file exists. */
static volatile sig_atomic_t	 md_tmpfd = -1, md_newfd = -1;
static volatile sig_atomic_t	 md_intmp, md_innew;
static char			 md_tmpname[NAME_MAX + 1];
static char			 md_newname[NAME_MAX + 1];

/* Remove our file from tmp/ and new/ (async-signal-safe). */
static void
maildir_undo(void)
{
	if (md_innew)
		(void)unlinkat(md_newfd, md_newname, 0);
	if (md_intmp)
		(void)unlinkat(md_tmpfd, md_tmpname, 0);
}

static void
maildir_signal(int sig)
{
	(void)sig;
	maildir_undo();
	_exit(EX_TEMPFAIL);
}

/* The end of the child: undone unless delivered, no signal in between. */
static void __attribute__((noreturn))
maildir_exit(int resultfd, int code, uint32_t status, const char *estatus,
    const char *text)
{
	sigset_t	 all;

	(void)sigfillset(&all);
	(void)sigprocmask(SIG_BLOCK, &all, NULL);
	if (code != 0)
		maildir_undo();
	else if (md_intmp)
		(void)unlinkat(md_tmpfd, md_tmpname, 0);
	if (text != NULL)
		local_result_write(resultfd, status, estatus, "%s", text);
	_exit(code);
}

int
local_maildir_path(const struct local_job *j, char *buf, size_t len)
{
	const char	*arg = j->rule.arg[0] != '\0' ? j->rule.arg : "~/Maildir";
	size_t		 n;
	int		 r;

	if (strncmp(arg, "~/", 2) == 0)
		r = snprintf(buf, len, "%s/%s", j->home, arg + 2);
	else
		r = snprintf(buf, len, "%s", arg);
	if (r < 0 || (size_t)r >= len)
		return -1;
	n = (size_t)r;
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = '\0';
	if (buf[0] != '/' || strstr(buf, "/../") != NULL ||
	    (n >= 3 && strcmp(buf + n - 3, "/..") == 0))
		return -1;
	return 0;
}

int
local_maildir_mark(const struct local_job *j, char *buf, size_t len)
{
	int	 r;

	r = snprintf(buf, len, "E%sT%lld.", j->id, (long long)j->ctime);
	return r < 0 || (size_t)r >= len ? -1 : 0;
}

int
local_maildir_name(char *buf, size_t len, time_t sec, long usec, pid_t pid,
    const char *mark, const char *host)
{
	size_t	 n;
	int	 r;

	r = snprintf(buf, len, "%lld.M%ldP%dQ1%s", (long long)sec, usec,
	    (int)pid, mark);
	if (r < 0 || (size_t)r >= len)
		return -1;
	for (n = (size_t)r; *host != '\0'; host++) {
		if (*host == '/' || *host == ':') {
			r = snprintf(buf + n, len - n, "\\%03o",
			    (unsigned char)*host);
			if (r < 0 || (size_t)r >= len - n)
				return -1;
			n += (size_t)r;
			continue;
		}
		if (n + 1 >= len)
			return -1;
		buf[n++] = *host;
	}
	buf[n] = '\0';
	return 0;
}

/* The directories above the Maildir, made (0700) where absent, as
 * "mkdir -p" would; the Maildir itself is checked by maildir_dir(). */
static void
maildir_parents(char *path)
{
	char	*p;

	for (p = strchr(path + 1, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		(void)mkdir(path, 0700);
		*p = '/';
	}
}

/* A directory of the user, made if absent: its fd, or -1. */
static int
maildir_dir(int at, const char *path, uid_t uid)
{
	struct stat	 sb;
	int		 fd, flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			    O_CLOEXEC;

	if ((fd = openat(at, path, flags)) == -1 && errno == ENOENT &&
	    (mkdirat(at, path, 0700) == 0 || errno == EEXIST))
		fd = openat(at, path, flags);
	if (fd == -1)
		return -1;
	if (fstat(fd, &sb) == -1 || !S_ISDIR(sb.st_mode) || sb.st_uid != uid) {
		(void)close(fd);
		return -1;
	}
	return fd;
}

/*
 * Is a file of the mark in the directory at fd?  In tmp/ (unlink set) it
 * is a dead try's, and removed.  1 found, 0 not, -1 unreadable.
 */
static int
maildir_find(int fd, const char *mark, int unlink)
{
	DIR		*d;
	struct dirent	*de;
	int		 dfd, found = 0;

	if ((dfd = dup(fd)) == -1)
		return -1;
	if ((d = fdopendir(dfd)) == NULL) {
		(void)close(dfd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strstr(de->d_name, mark) == NULL)
			continue;
		found = 1;
		if (!unlink)
			break;
		(void)unlinkat(fd, de->d_name, 0);
	}
	(void)closedir(d);
	return found;
}

/* An earlier try of this envelope may have delivered it: 1 if it did
 * (its file is in new/ or cur/), 0 if not, -1 if we cannot tell.  What
 * a dead try left in tmp/ goes either way. */
static int
maildir_recheck(int tmpfd, int newfd, int curfd, const char *mark)
{
	int	 r;

	if (maildir_find(tmpfd, mark, 1) == -1)
		return -1;
	/* a try killed after its link may not have synced new/ */
	if ((r = maildir_find(newfd, mark, 0)) != 0)
		return r == 1 && fsync(newfd) == -1 ? -1 : r;
	return maildir_find(curfd, mark, 0);
}

/* The message into tmp/NAME, fsynced; its size, or -1. */
static off_t
maildir_write(const struct local_job *j, int tmpfd, FILE *in)
{
	struct stat	 sb;
	FILE		*out;
	int		 fd, r;

	md_tmpfd = tmpfd;
	md_intmp = 1;
	fd = openat(tmpfd, md_tmpname, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1) {
		/* not ours: never removed */
		md_intmp = 0;
		return -1;
	}
	if ((out = fdopen(fd, "w")) == NULL) {
		(void)close(fd);
		return -1;
	}
	r = local_message_headers(j, out);
	if (r == 0)
		r = local_message_copy(in, out);
	if (fflush(out) == EOF || ferror(out) || fsync(fd) == -1 ||
	    fstat(fd, &sb) == -1)
		r = -1;
	if (fclose(out) == EOF)
		r = -1;
	return r == 0 ? sb.st_size : -1;
}

/* Link tmp/NAME into new/ as NAME,S=SIZE and fsync new/. */
static int
maildir_link(int tmpfd, int newfd, off_t size)
{
	if ((size_t)snprintf(md_newname, sizeof(md_newname), "%s,S=%lld",
	    md_tmpname, (long long)size) >= sizeof(md_newname))
		return -1;
	md_newfd = newfd;
	md_innew = 1;
	if (linkat(tmpfd, md_tmpname, newfd, md_newname, 0) == -1) {
		md_innew = 0;
		return -1;
	}
	return fsync(newfd);
}

void
local_maildir_child(const struct local_job *j, int msgfd, int resultfd)
{
	struct timeval	 tv;
	FILE		*in;
	char		 path[PATH_MAX], mark[64];
	off_t		 size;
	int		 r, dirfd, tmpfd, newfd, curfd;

	local_child_signals(j->ppid, maildir_signal);
	if ((r = local_message_open(j, msgfd, &in)) != 0)
		maildir_exit(resultfd, r, 0, NULL, NULL);
	if (local_maildir_path(j, path, sizeof(path)) == -1)
		maildir_exit(resultfd, EX_CANTCREAT, STATUS_TEMPFAIL, "4.3.0",
		    "bad Maildir path");
	maildir_parents(path);
	if ((dirfd = maildir_dir(AT_FDCWD, path, j->uid)) == -1 ||
	    (tmpfd = maildir_dir(dirfd, "tmp", j->uid)) == -1 ||
	    (newfd = maildir_dir(dirfd, "new", j->uid)) == -1 ||
	    (curfd = maildir_dir(dirfd, "cur", j->uid)) == -1)
		maildir_exit(resultfd, EX_CANTCREAT, STATUS_TEMPFAIL, "4.3.0",
		    "cannot use the Maildir safely (not directories of the "
		    "user, or a symbolic link)");
	if (local_maildir_mark(j, mark, sizeof(mark)) == -1)
		maildir_exit(resultfd, EX_SOFTWARE, STATUS_TEMPFAIL, "4.3.0",
		    "cannot mark the message for the Maildir");
	if (j->recheck && (r = maildir_recheck(tmpfd, newfd, curfd,
	    mark)) != 0)
		maildir_exit(resultfd, r == 1 ? 0 : EX_IOERR, r == 1 ?
		    STATUS_OK : STATUS_TEMPFAIL, r == 1 ? "2.0.0" : "4.3.0",
		    r == 1 ? "delivered to maildir already (found after an "
		    "interrupted try)" : "cannot read the Maildir to tell "
		    "whether an interrupted try delivered");
	(void)close(curfd);
	(void)gettimeofday(&tv, NULL);
	if (local_maildir_name(md_tmpname, sizeof(md_tmpname), tv.tv_sec,
	    (long)tv.tv_usec, getpid(), mark, j->hostname) == -1)
		maildir_exit(resultfd, EX_CANTCREAT, STATUS_TEMPFAIL, "4.3.0",
		    "cannot name the message in the Maildir");
	if ((size = maildir_write(j, tmpfd, in)) == -1)
		maildir_exit(resultfd, EX_IOERR, STATUS_TEMPFAIL,
		    errno == EDQUOT ? "4.2.2" : "4.3.0", errno == EDQUOT ?
		    "mailbox full (over quota)" :
		    "write error in the Maildir (full?); removed");
	if (maildir_link(tmpfd, newfd, size) == -1)
		maildir_exit(resultfd, EX_IOERR, STATUS_TEMPFAIL, "4.3.0",
		    "cannot move the message into the Maildir's new/");
	maildir_exit(resultfd, 0, STATUS_OK, "2.0.0", "delivered to maildir");
}
