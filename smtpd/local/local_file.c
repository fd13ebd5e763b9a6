/*
 * local_file.c: what a delivery child does, as the run-as user (the
 * owner of the .forward, or local default-user for an alias), for a
 * "/file" target: append the message to the file in the mbox format, as
 * sendmail does (From_ line, our headers, ">From " quoting, a blank
 * line), under an fcntl lock, fsynced, truncated back on any failure
 * (local_mbox.c's writer, undo and signals).
 *
 * The path must be absolute and plain: no "." or ".." component, no
 * "//".  With local safe-file-dir (sendmail's SafeFileEnvironment) it
 * must be under that directory, also once the symbolic links of its
 * directories are resolved (as the user sees them).  The file is opened
 * without following a symbolic link (or made, mode 0600, O_EXCL) and
 * refused unless it is a regular file of the user with one link and
 * neither set-user-id nor set-group-id.  A refusal is permanent (5.7.1,
 * the mail bounces with the reason); a write error is temporary.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "proto.h"
#include "local.h"

/* 1 if sub is dir or under it. */
static int
file_under(const char *sub, const char *dir)
{
	size_t	 len = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return 1;
	return strncmp(sub, dir, len) == 0 &&
	    (sub[len] == '/' || sub[len] == '\0');
}

int
local_file_check(const char *path, const char *safe_dir)
{
	char	 dir[PATH_MAX], rdir[PATH_MAX], rsafe[PATH_MAX];
	size_t	 len = strlen(path);

	if (path[0] != '/' || len >= sizeof(dir) || path[len - 1] == '/' ||
	    strstr(path, "//") != NULL || strstr(path, "/./") != NULL ||
	    strstr(path, "/../") != NULL ||
	    (len >= 2 && strcmp(path + len - 2, "/.") == 0) ||
	    (len >= 3 && strcmp(path + len - 3, "/..") == 0))
		return -1;
	if (safe_dir == NULL || safe_dir[0] == '\0')
		return 0;
	if (!file_under(path, safe_dir) || strcmp(path, safe_dir) == 0)
		return -1;
	(void)strlcpy(dir, path, sizeof(dir));
	if (realpath(dirname(dir), rdir) == NULL ||
	    realpath(safe_dir, rsafe) == NULL)
		return -1;
	return file_under(rdir, rsafe) ? 0 : -1;
}

/* Open (or make) the file; -1 if it is not safe to append to. */
static int
file_open(const struct local_job *j, const char *path)
{
	struct stat	 sb;
	int		 fd, flags = O_WRONLY | O_APPEND | O_NOFOLLOW |
			    O_NOCTTY | O_NONBLOCK | O_CLOEXEC;

	if ((fd = open(path, flags)) == -1 && errno == ENOENT)
		fd = open(path, flags | O_CREAT | O_EXCL, 0600);
	if (fd == -1)
		return -1;
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_uid != j->uid || sb.st_nlink != 1 ||
	    (sb.st_mode & (S_ISUID | S_ISGID))) {
		(void)close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

void
local_file_child(const struct local_job *j, int msgfd, int resultfd)
{
	FILE	*in;
	int	 fd, r;

	local_child_signals(j->ppid, local_mbox_signal);
	if ((r = local_message_open(j, msgfd, &in)) != 0)
		local_mbox_exit(r);
	if (local_file_check(j->rcpt, j->safe_file_dir) == -1) {
		local_result_write(resultfd, STATUS_PERMFAIL, "5.7.1",
		    "refused: %s is not a plain absolute path%s", j->rcpt,
		    j->safe_file_dir[0] != '\0' ? " under local safe-file-dir" :
		    "");
		local_mbox_exit(EX_NOPERM);
	}
	if ((fd = file_open(j, j->rcpt)) == -1) {
		if (errno == ENOSPC || errno == EDQUOT || errno == EIO ||
		    errno == EMFILE || errno == ENFILE) {
			local_result_write(resultfd, STATUS_TEMPFAIL, "4.3.0",
			    "cannot open %s: %s", j->rcpt, strerror(errno));
			local_mbox_exit(EX_TEMPFAIL);
		}
		local_result_write(resultfd, STATUS_PERMFAIL, "5.7.1",
		    "refused: %s is not a regular file of %s with one link, "
		    "not set-id (or cannot be made)", j->rcpt, j->user);
		local_mbox_exit(EX_CANTCREAT);
	}
	if ((r = local_mbox_append(j, fd, in)) != 0) {
		local_result_write(resultfd, STATUS_TEMPFAIL, "4.3.0",
		    "write error on %s (full?); truncated back", j->rcpt);
		local_mbox_exit(r);
	}
	local_result_write(resultfd, STATUS_OK, "2.0.0", "delivered to file");
	local_mbox_exit(0);
}
