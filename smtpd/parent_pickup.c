/*
 * parent_pickup.c: the offline drop directory (`sendmail drop-dir`):
 * mail the sendmail command wrote while the daemon was not running,
 * submitted again as the user who wrote it.
 *
 * The directory is created by root at start, mode 1733: anyone may
 * create a file, nobody may list it, and the sticky bit keeps users from
 * removing each other's files.  A scan runs PICKUP_FIRST s after start,
 * then every PICKUP_INTERVAL s (so a message dropped while the daemon was
 * starting is not left behind).  Each file of the scan, one at a time:
 *  - is opened O_NOFOLLOW and must be a regular file with one link, of a
 *    user of the system, no larger than `limit message-size` plus its
 *    envelope, and younger than `queue lifetime`;
 *  - is submitted by a child that takes the owner's identity (groups,
 *    gid, uid, as smtpd-local's delivery children do) and runs bin/sendmail
 *    --pickup with the opened file on stdin, so the front end sees the
 *    owner in SO_PEERCRED and every check of a local submission applies;
 *  - is unlinked only when that child exits 0, i.e. after the daemon's
 *    250 (the queue has it on disk).  EX_TEMPFAIL (and a file still
 *    being written, EX_NOINPUT, for PICKUP_PARTIAL_MAX s) leaves it for
 *    the next scan; any other end moves it to the directory's .refused/
 *    (root, 0700) with a log line: never lost silently, never retried
 *    forever.
 * The child dies with the parent (PR_SET_PDEATHSIG), so a kill -9 of the
 * daemon cannot leave a submission going on behind a new daemon's scan;
 * the only duplicate possible is a message acknowledged in the instant
 * before the unlink.
 *
 * Failure behaviour: every refusal is a log line naming the file and its
 * owner; a drop directory that is not ours (owner, type) disables the
 * pickup with a warning; nothing here stops the daemon.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
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
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "parent.h"
#include "paths.h"
#include "util.h"

#define PICKUP_FIRST		1	/* s after start */
#define PICKUP_INTERVAL		60	/* s between scans */
#define PICKUP_BATCH		256	/* files taken per scan */
#define PICKUP_HEAD_MAX		(1024 * 1024)	/* the envelope part */
/* a file that is still short of its size after this long is dead */
#define PICKUP_PARTIAL_MAX	600
#define PICKUP_REFUSED		".refused"

extern struct event_base	*parent_base;

struct pickup {
	char		**names;	/* the scan's files, not yet taken */
	size_t		  nnames;
	size_t		  next;
	struct event	 *timer;
	int		  dirfd;	/* the drop directory, -1 if unusable */
	char		  dir[PATH_MAX];	/* its path */
	/* the file being submitted */
	pid_t		  pid;
	int		  fd;
	char		  name[NAME_MAX + 1];
	char		  user[256];
	uid_t		  uid;
	time_t		  mtime;
};

static struct pickup	 pickup = { .dirfd = -1, .pid = -1, .fd = -1 };

static void	parent_pickup_next(void);

/* The directory: created 1733 root, or checked to be ours. */
static int
parent_pickup_dir(const char *path)
{
	struct stat	 sb;
	int		 fd;

	if (mkdir(path, 0700) == -1 && errno != EEXIST) {
		log_warn("sendmail drop-dir %s", path);
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || fstat(fd, &sb) == -1) {
		log_warn("sendmail drop-dir %s", path);
		if (fd != -1)
			(void)close(fd);
		return -1;
	}
	if (sb.st_uid != 0 || fchown(fd, 0, 0) == -1 ||
	    fchmod(fd, S_ISVTX | S_IRWXU | S_IWGRP | S_IXGRP | S_IWOTH |
	    S_IXOTH) == -1) {
		log_warnx("sendmail drop-dir %s is not root's: no offline "
		    "pickup", path);
		(void)close(fd);
		return -1;
	}
	if (mkdirat(fd, PICKUP_REFUSED, 0700) == -1 && errno != EEXIST)
		log_warn("sendmail drop-dir %s/%s", path, PICKUP_REFUSED);
	return fd;
}

/* At start and reload: the directory of the config in force. */
void
parent_pickup_prepare(const struct config *cf)
{
	/* a submission going on keeps its directory */
	if (pickup.pid != -1 || (pickup.dirfd != -1 &&
	    strcmp(pickup.dir, cf->sendmail_drop_dir) == 0))
		return;
	if (pickup.dirfd != -1)
		(void)close(pickup.dirfd);
	pickup.dirfd = parent_pickup_dir(cf->sendmail_drop_dir);
	(void)strlcpy(pickup.dir, cf->sendmail_drop_dir, sizeof(pickup.dir));
}

/* Move a file out of the way: .refused/ must be root's own directory. */
static void
parent_pickup_aside(const char *name, const char *owner, const char *why)
{
	struct stat	 sb;
	int		 rfd;

	rfd = openat(pickup.dirfd, PICKUP_REFUSED, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC);
	if (rfd == -1 || fstat(rfd, &sb) == -1 || sb.st_uid != 0 ||
	    (sb.st_mode & 077) != 0 ||
	    renameat(pickup.dirfd, name, rfd, name) == -1) {
		log_warnx("offline %s from %s refused (%s); cannot move it to "
		    "%s/%s/, it stays", name, owner, why,
		    pickup.dir, PICKUP_REFUSED);
		if (rfd != -1)
			(void)close(rfd);
		return;
	}
	(void)close(rfd);
	log_warnx("offline %s from %s refused (%s); moved to %s/%s/", name,
	    owner, why, pickup.dir, PICKUP_REFUSED);
}

/* Checks of an opened file; NULL if it may be submitted. */
static const char *
parent_pickup_check(const struct stat *sb, struct passwd **pw)
{
	if (!S_ISREG(sb->st_mode))
		return "not a regular file";
	if (sb->st_nlink != 1)
		return "hard linked";
	if ((size_t)sb->st_size > parent_conf->limit_message_size +
	    PICKUP_HEAD_MAX)
		return "larger than limit message-size";
	if (time(NULL) - sb->st_mtime > parent_conf->queue_lifetime)
		return "older than queue lifetime";
	if ((*pw = getpwuid(sb->st_uid)) == NULL)
		return "its owner is no user of the system";
	return NULL;
}

/* The sendmail command beside the parent's own executable. */
static void
parent_pickup_path(char *buf, size_t size)
{
	char	 self[PATH_MAX], *slash;
	ssize_t	 n;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) == -1)
		n = 0;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) != NULL)
		*slash = '\0';
	(void)snprintf(buf, size, "%s/sendmail", self);
}

/* In the child: become the owner, the file on stdin, run --pickup. */
static void __attribute__((noreturn))
parent_pickup_exec(const struct passwd *pw, int fd, const char *cmd)
{
	char	*env[] = { "PATH=/usr/bin:/bin", NULL };
	pid_t	 parent = getppid();

	if (dup2(fd, STDIN_FILENO) == -1 ||
	    initgroups(pw->pw_name, pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		_exit(EX_OSERR);
	/* after the uid change, which clears it; dies with the daemon */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
		_exit(EX_OSERR);
	(void)close_range(STDERR_FILENO + 1, ~0U, 0);
	(void)execle(cmd, "sendmail", "-C", parent_opts.conffile, "--pickup",
	    (char *)NULL, env);
	_exit(EX_UNAVAILABLE);
}

/* Start the submission of one file; 0 if a child runs for it. */
static int
parent_pickup_start(const char *name)
{
	struct passwd	*pw = NULL;
	struct stat	 sb;
	const char	*why;
	char		 cmd[PATH_MAX + 16], owner[300];
	int		 fd;

	fd = openat(pickup.dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd == -1 && errno == ENOENT)
		return -1;
	if (fd == -1 || fstat(fd, &sb) == -1) {
		parent_pickup_aside(name, "?", fd == -1 && errno == ELOOP ?
		    "a symbolic link" : strerror(errno));
		if (fd != -1)
			(void)close(fd);
		return -1;
	}
	if ((why = parent_pickup_check(&sb, &pw)) != NULL) {
		(void)snprintf(owner, sizeof(owner), "%s (uid %u)", pw != NULL ?
		    pw->pw_name : "?", (unsigned)sb.st_uid);
		parent_pickup_aside(name, owner, why);
		(void)close(fd);
		return -1;
	}
	parent_pickup_path(cmd, sizeof(cmd));
	if ((pickup.pid = fork()) == -1) {
		log_warn("offline %s: fork", name);
		(void)close(fd);
		return -1;
	}
	if (pickup.pid == 0)
		parent_pickup_exec(pw, fd, cmd);
	pickup.fd = fd;
	pickup.uid = sb.st_uid;
	pickup.mtime = sb.st_mtime;
	(void)strlcpy(pickup.name, name, sizeof(pickup.name));
	(void)strlcpy(pickup.user, pw->pw_name, sizeof(pickup.user));
	log_debug("offline %s from %s: submitting", name, pickup.user);
	return 0;
}

/* Unlink the file we submitted, if it is still that file. */
static void
parent_pickup_done(void)
{
	struct stat	 a, b;

	if (fstat(pickup.fd, &a) == 0 && fstatat(pickup.dirfd, pickup.name,
	    &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino && unlinkat(pickup.dirfd, pickup.name, 0) ==
	    -1)
		log_warn("offline %s: unlink", pickup.name);
	log_info("offline %s from %s (uid %u) submitted", pickup.name,
	    pickup.user, (unsigned)pickup.uid);
}

/* What the child's end means for the file. */
static void
parent_pickup_result(int status)
{
	char	 owner[300], why[64];
	int	 code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;

	(void)snprintf(owner, sizeof(owner), "%s (uid %u)", pickup.user,
	    (unsigned)pickup.uid);
	if (code == EX_OK) {
		parent_pickup_done();
		return;
	}
	if (code == EX_NOINPUT &&
	    time(NULL) - pickup.mtime > PICKUP_PARTIAL_MAX) {
		parent_pickup_aside(pickup.name, owner, "incomplete");
		return;
	}
	if (code == -1 || code == EX_TEMPFAIL || code == EX_NOINPUT ||
	    code == EX_CONFIG || code == EX_OSERR || code == EX_UNAVAILABLE) {
		log_info("offline %s from %s: not submitted (%s %d), tried "
		    "again later", pickup.name, owner, code == -1 ? "signal" :
		    "exit", code == -1 ? WTERMSIG(status) : code);
		return;
	}
	(void)snprintf(why, sizeof(why), "sendmail exit %d", code);
	parent_pickup_aside(pickup.name, owner, why);
}

/* SIGCHLD: 1 if pid was the pickup's child (then it is handled). */
int
parent_pickup_reaped(pid_t pid, int status)
{
	if (pickup.pid == -1 || pid != pickup.pid)
		return 0;
	if (WIFSTOPPED(status)) {
		(void)kill(pid, SIGKILL);
		return 1;
	}
	pickup.pid = -1;
	parent_pickup_result(status);
	(void)close(pickup.fd);
	pickup.fd = -1;
	parent_pickup_next();
	return 1;
}

/* The next file of the scan, until one runs or the list is done. */
static void
parent_pickup_next(void)
{
	while (pickup.pid == -1 && pickup.next < pickup.nnames)
		if (parent_pickup_start(pickup.names[pickup.next++]) == 0)
			return;
}

static void
parent_pickup_free_names(void)
{
	size_t	 i;

	for (i = 0; i < pickup.nnames; i++)
		free(pickup.names[i]);
	free(pickup.names);
	pickup.names = NULL;
	pickup.nnames = pickup.next = 0;
}

/* Read the directory (names starting with "." are ours or partial). */
static void
parent_pickup_scan(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 fd;

	if (pickup.dirfd == -1 || pickup.pid != -1)
		return;
	parent_pickup_free_names();
	if ((fd = dup(pickup.dirfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			(void)close(fd);
		log_warn("sendmail drop-dir %s", pickup.dir);
		return;
	}
	rewinddir(d);
	pickup.names = xcalloc(PICKUP_BATCH, sizeof(*pickup.names));
	while (pickup.nnames < PICKUP_BATCH && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			pickup.names[pickup.nnames++] = xstrdup(de->d_name);
	(void)closedir(d);
	parent_pickup_next();
}

static void
parent_pickup_timer(int fd, short ev, void *arg)
{
	struct timeval	 tv = { PICKUP_INTERVAL, 0 };

	(void)fd;
	(void)ev;
	(void)arg;
	parent_pickup_scan();
	(void)evtimer_add(pickup.timer, &tv);
}

/* Once the children are started: the first scan, then the periodic one. */
void
parent_pickup_init(void)
{
	struct timeval	 tv = { PICKUP_FIRST, 0 };

	if ((pickup.timer = evtimer_new(parent_base, parent_pickup_timer,
	    NULL)) == NULL)
		fatalx("pickup timer");
	(void)evtimer_add(pickup.timer, &tv);
}

/* At shutdown: a submission going on is killed (its file stays). */
void
parent_pickup_stop(void)
{
	if (pickup.pid != -1)
		(void)kill(pickup.pid, SIGKILL);
}
