/*
 * parent_submit.c: the sendmail command's local submission socket
 * (`sendmail socket`, sendmail(8)) and the user names of its peers.
 *
 * The socket is bound by root before the children start, mode 0666 so
 * that any user can submit, and handed to the front end like a listener
 * (IMSG_SMTP_LISTENER with LISTEN_F_LOCAL, after the TCP ones).  The
 * front end takes SO_PEERCRED of each connection and, having no passwd
 * in its chroot, asks here for the name of the uid (IMSG_SMTP_UID_LOOKUP):
 * the Received: line, the trust of -f and the default sender need it.
 * Only the name goes back: no home, shell or groups.
 *
 * Failure behaviour: a socket that cannot be bound is a warning, not a
 * refusal to start (the command then drops its mail in the drop
 * directory, picked up once the socket works: parent_pickup.c); a path
 * change takes effect at restart, as the control socket's.  A lookup from
 * a child other than smtp restarts that child; an NSS error answers
 * USER_TEMPFAIL, which the front end turns into 421.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <libgen.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "parent.h"
#include "util.h"

static int	 parent_submit_fd = -1;
static char	 parent_submit_path[PATH_MAX];

/* The socket's directory: created 0755 by root if missing. */
static int
parent_submit_dir(const char *path)
{
	char		 dir[PATH_MAX];
	struct stat	 sb;

	(void)strlcpy(dir, path, sizeof(dir));
	if (stat(dirname(dir), &sb) == 0)
		return S_ISDIR(sb.st_mode) ? 0 : -1;
	(void)strlcpy(dir, path, sizeof(dir));
	if (mkdir(dirname(dir), 0755) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

/*
 * Bind the socket, mode 0666.  A file left by a dead daemon is replaced;
 * one a live daemon answers on is not taken over.  0, or -1 logged.
 */
int
parent_submit_bind(const char *path)
{
	int	 fd;

	if (parent_submit_dir(path) == -1) {
		log_warn("sendmail socket %s: directory", path);
		return -1;
	}
	if ((fd = parent_unix_bind("sendmail socket", path, 0666,
	    SOMAXCONN)) == -1)
		return -1;
	parent_submit_fd = fd;
	(void)strlcpy(parent_submit_path, path, sizeof(parent_submit_path));
	return 0;
}

void
parent_submit_close(void)
{
	if (parent_submit_fd == -1)
		return;
	(void)close(parent_submit_fd);
	(void)unlink(parent_submit_path);
	parent_submit_fd = -1;
}

/* Hand the front end a copy of the socket as listener index. */
void
parent_submit_send(uint32_t index)
{
	struct imsg_out	 out;
	int		 fd;

	if (parent_submit_fd == -1 || !parent_proc_running(PROC_SMTP))
		return;
	if ((fd = dup(parent_submit_fd)) == -1) {
		log_warn("dup sendmail socket");
		return;
	}
	imsg_out_init(&out, IMSG_SMTP_LISTENER, index);
	imsg_put_str(&out, "local");
	imsg_put_u32(&out, LISTEN_F_LOCAL);
	imsg_put_u32(&out, 0);		/* no max-sessions, connection-rate */
	imsg_put_u32(&out, 0);
	(void)parent_proc_send_fd(PROC_SMTP, &out, fd);
}

/* getpwuid_r(3) of uid: USER_* status, the name in name. */
static uint32_t
parent_submit_uid_name(uid_t uid, char *name, size_t size)
{
	struct passwd	 pw, *res = NULL;
	char		*buf;
	long		 sz;
	int		 e;

	name[0] = '\0';
	if ((sz = sysconf(_SC_GETPW_R_SIZE_MAX)) < 1024)
		sz = 16384;
	if ((buf = malloc((size_t)sz)) == NULL)
		return USER_TEMPFAIL;
	e = getpwuid_r(uid, &pw, buf, (size_t)sz, &res);
	if (res != NULL && strlcpy(name, pw.pw_name, size) < size &&
	    name[0] != '\0' && text_is_clean(name)) {
		free(buf);
		return USER_FOUND;
	}
	free(buf);
	name[0] = '\0';
	if (res != NULL || e == 0 || e == ENOENT || e == ESRCH ||
	    e == EBADF || e == EPERM)
		return USER_NOTFOUND;
	log_warnx("uid %u: getpwuid: %s", (unsigned)uid, strerror(e));
	return USER_TEMPFAIL;
}

/* IMSG_SMTP_UID_LOOKUP */
void
parent_submit_uid_lookup(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct imsg_out	 out;
	int		 slot = (int)(intptr_t)arg;
	char		 name[256];
	uint32_t	 uid, status;

	(void)iev;
	uid = imsg_get_u32(m);
	if (parent_proc_slot_id(slot) != PROC_SMTP) {
		parent_proc_restart_slot(slot, "uid lookup from a child "
		    "other than smtp");
		return;
	}
	if (imsg_get_end(m) == -1) {
		parent_proc_restart_slot(slot, "malformed IMSG_SMTP_UID_LOOKUP");
		return;
	}
	status = parent_submit_uid_name((uid_t)uid, name, sizeof(name));
	imsg_out_init(&out, IMSG_SMTP_UID_RESULT, m->id);
	imsg_put_u32(&out, uid);
	imsg_put_u32(&out, status);
	imsg_put_str(&out, name);
	(void)parent_proc_send_slot(slot, &out);
}
