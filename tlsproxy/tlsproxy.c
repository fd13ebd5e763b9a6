/*
 * tlsproxy.c: smtpd-tlsproxy, the one process that will hold the TLS keys
 * and run every handshake.
 *
 * In this release it is only the confined skeleton: it starts, drops to
 * its own user in the empty chroot and answers "show status".  The
 * STARTTLS hand-over (front end and outbound client pass sockets here)
 * arrives with the tlsproxy issue; until then no channel to the front end
 * or the outbound client is created, and no TLS is offered.
 */
#include <stdlib.h>

#include "log.h"
#include "paths.h"
#include "proc.h"

static void	tlsproxy_ctl(uint32_t, uint32_t, const char *);

static const struct proc_def tlsproxy_def = {
	.id = PROC_TLS,
	.name = "tlsproxy",
	.user = SMTPD_TLS_USER,
	.ctl = tlsproxy_ctl,
};

static void
tlsproxy_ctl(uint32_t ctlid, uint32_t cmd, const char *arg)
{
	(void)arg;
	if (cmd == CTL_SHOW_STATUS) {
		proc_ctl_line(ctlid, "tlsproxy.sessions=0");
		proc_ctl_end(ctlid, 0, "");
		return;
	}
	proc_ctl_end(ctlid, 1, "tlsproxy: unsupported request");
}

int
main(int argc, char **argv)
{
	proc_setup(&tlsproxy_def, argc, argv);
	proc_confine(proc_root(), tlsproxy_def.user);
	proc_run();
	return 0;
}
