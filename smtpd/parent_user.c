/*
 * parent_user.c: "is NAME a user of this system?" for smtpd-policyd
 * (`local users passwd`), which cannot read passwd or ask NSS from its
 * chroot.  The parent answers with getpwnam_r(3) and nothing more: no
 * uid, home or shell leaves it, since policyd only decides whether a
 * recipient exists.
 *
 * Failure behaviour: a question from any other child, or one whose name
 * is empty, too long or not clean text, restarts the asker (policyd
 * always sends a lowercased local part, so anything else is a bug or an
 * attack); an NSS failure other than "no such user" answers
 * USER_TEMPFAIL, which policyd turns into 451.
 */
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "parent.h"
#include "util.h"

#define USER_NAME_MAX	256

static uint32_t
parent_user_status(const char *name)
{
	struct passwd	 pw, *res = NULL;
	char		*buf;
	long		 sz;
	int		 e;

	if ((sz = sysconf(_SC_GETPW_R_SIZE_MAX)) < 1024)
		sz = 16384;
	if ((buf = malloc((size_t)sz)) == NULL)
		return USER_TEMPFAIL;
	e = getpwnam_r(name, &pw, buf, (size_t)sz, &res);
	free(buf);
	if (res != NULL)
		return USER_FOUND;
	/* glibc reports "no such user" as 0 or as one of these */
	if (e == 0 || e == ENOENT || e == ESRCH || e == EBADF || e == EPERM)
		return USER_NOTFOUND;
	log_warnx("user %s: getpwnam: %s", name, strerror(e));
	return USER_TEMPFAIL;
}

/* IMSG_USER_LOOKUP */
void
parent_user_lookup(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct imsg_out	 out;
	int		 slot = (int)(intptr_t)arg;
	const char	*name;
	uint32_t	 status;

	(void)iev;
	name = imsg_get_str(m);
	if (parent_proc_slot_id(slot) != PROC_POLICY) {
		parent_proc_restart_slot(slot, "user lookup from a child "
		    "other than policyd");
		return;
	}
	if (imsg_get_end(m) == -1 || name[0] == '\0' ||
	    strlen(name) >= USER_NAME_MAX || !text_is_clean(name)) {
		parent_proc_restart_slot(slot, "malformed IMSG_USER_LOOKUP");
		return;
	}
	status = parent_user_status(name);
	imsg_out_init(&out, IMSG_USER_RESULT, m->id);
	imsg_put_str(&out, name);
	imsg_put_u32(&out, status);
	(void)parent_proc_send_slot(slot, &out);
}
