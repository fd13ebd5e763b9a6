/*
 * smtp.c: the inbound SMTP front end (bin/smtpd-smtp), user _smtpd,
 * chrooted to the empty directory.  This file is its table of contents:
 * what it talks to and who handles each message.
 *
 *   parent   listening sockets (smtp_listener.c), config, control, the
 *            answers to a metrics listener's requests (smtp_metrics.c),
 *            the sockets of unix milters (smtp_milter_unix.c)
 *   policyd  connect/MAIL/RCPT verdicts (smtp_peer.c)
 *   queue    message files and commits (smtp_peer.c, smtp_tx.c), the
 *            spool's free space (smtp_peer.c)
 *   tlsproxy STARTTLS and smtps handshakes (smtp_tls.c)
 *   auth     the AUTH exchanges, relayed to smtpd-auth (smtp_auth.c)
 *   resolver the clients' names (smtp_dns.c, libunbound)
 *
 * Sessions: smtp_session.c (I/O, states), smtp_exec.c (commands),
 * smtp_command.c (parsing), smtp_data.c (message bodies); before one,
 * a PROXY header on a proxy-protocol listener (smtp_proxy.c).
 */
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "proc.h"
#include "smtp_dns.h"
#include "smtp_listener.h"
#include "smtp_metrics.h"
#include "smtp_milter_unix.h"
#include "smtp_proxy.h"
#include "smtp_generics.h"
#include "smtp_load.h"
#include "smtp_session.h"

static void	smtp_config_apply(struct config *, struct config *);
static void	smtp_ctl(uint32_t, uint32_t, const char *);
static void	smtp_shutdown(void);

static const struct imsg_handler smtp_parent_handlers[] = {
	{ IMSG_SMTP_LISTENER,		smtp_listener_add },
	{ IMSG_SMTP_LISTENERS_RESET,	smtp_listener_reset },
	{ IMSG_SMTP_UID_RESULT,		smtp_local_uid_result },
	{ IMSG_LOAD_AVERAGE,		smtp_load_average },
	{ IMSG_CTL_LINE,		smtp_metrics_line },
	{ IMSG_CTL_END,			smtp_metrics_end },
	{ IMSG_SMTP_MILTER_CONNECTED,	smtp_milter_unix_result },
};

static const struct imsg_handler smtp_queue_handlers[] = {
	{ IMSG_QUEUE_MESSAGE_CREATED,	smtp_peer_queue_created },
	{ IMSG_QUEUE_MESSAGE_COMMITTED,	smtp_peer_queue_committed },
	{ IMSG_QUEUE_MESSAGE_REWRITING,	smtp_peer_queue_rewriting },
	{ IMSG_QUEUE_SPACE,		smtp_peer_queue_space },
};

static const struct imsg_handler smtp_policy_handlers[] = {
	{ IMSG_POLICY_RESULT,		smtp_peer_policy_result },
	{ IMSG_POLICY_GENERICS_RESULT,	smtp_generics_result },
};

static const struct imsg_handler smtp_tls_handlers[] = {
	{ IMSG_TLS_SERVER_READY,	smtp_tls_ready },
	{ IMSG_TLS_RESULT,		smtp_tls_result },
};

static const struct imsg_handler smtp_auth_handlers[] = {
	{ IMSG_AUTH_MECHS,		smtp_auth_mechs },
	{ IMSG_AUTH_RESULT,		smtp_auth_result },
};

#define NHANDLERS(t)	(sizeof(t) / sizeof((t)[0]))

static const struct proc_def smtp_def = {
	.id = PROC_SMTP,
	.name = "smtp",
	.user = SMTPD_USER,
	.handlers = {
		[PROC_PARENT] = smtp_parent_handlers,
		[PROC_QUEUE] = smtp_queue_handlers,
		[PROC_POLICY] = smtp_policy_handlers,
		[PROC_TLS] = smtp_tls_handlers,
		[PROC_AUTH] = smtp_auth_handlers,
	},
	.nhandlers = {
		[PROC_PARENT] = NHANDLERS(smtp_parent_handlers),
		[PROC_QUEUE] = NHANDLERS(smtp_queue_handlers),
		[PROC_POLICY] = NHANDLERS(smtp_policy_handlers),
		[PROC_TLS] = NHANDLERS(smtp_tls_handlers),
		[PROC_AUTH] = NHANDLERS(smtp_auth_handlers),
	},
	.peer_down = smtp_peer_down,
	.config_apply = smtp_config_apply,
	.ctl = smtp_ctl,
	.shutdown = smtp_shutdown,
};

/* A config is in force: resolver, buffers, start accepting. */
static void
smtp_config_apply(struct config *nconf, struct config *old)
{
	(void)old;
	smtp_dns_configure(nconf);
	smtp_session_config();
	smtp_listener_update();
}

static void
smtp_ctl(uint32_t ctlid, uint32_t cmd, const char *arg)
{
	(void)arg;
	switch (cmd) {
	case CTL_PAUSE_SMTP:
	case CTL_RESUME_SMTP:
		smtp_listener_pause(cmd == CTL_PAUSE_SMTP);
		log_info("smtp %s", cmd == CTL_PAUSE_SMTP ? "paused" :
		    "resumed");
		proc_ctl_end(ctlid, 0, "");
		break;
	case CTL_SHOW_STATUS:
		proc_ctl_line(ctlid, "smtp.paused=%d", smtp_listener_paused());
		proc_ctl_line(ctlid, "smtp.sessions=%zu", smtp_session_count());
		proc_ctl_end(ctlid, 0, "");
		break;
	default:
		proc_ctl_end(ctlid, 1, "not supported by smtp");
		break;
	}
}

static void
smtp_shutdown(void)
{
	smtp_listener_close_all();
	smtp_proxy_close_all();
	smtp_metrics_close_all();
	smtp_session_shutdown();
}

int
main(int argc, char **argv)
{
	proc_setup(&smtp_def, argc, argv);
	/* /etc/resolv.conf and /etc/hosts are out of reach after the chroot */
	if (smtp_dns_init() == -1)
		fatalx("cannot create the resolver context");
	/* the Received: dates need the zone file, gone after the chroot */
	tzset();
	proc_confine(proc_root(), SMTPD_USER);
	proc_run();
	return 0;
}
