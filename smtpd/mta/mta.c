/*
 * mta.c: the outbound client process (bin/smtpd-mta): it delivers the
 * queue's batches to the next hop over SMTP.
 *
 * Table of contents:
 *   mta_batch.c    a delivery job, from IMSG_MTA_DELIVER to IMSG_MTA_DONE
 *   mta_route.c    the route from policyd, MX and address lookups
 *   mta_cache.c    resolved routes kept per domain for a short time
 *   mta_dns.c      libunbound glue, MX rdata decoding, the DNSSEC-
 *                  validating resolver of "mta dane yes"
 *   mta_dane.c     DANE: TLSA answers of MX hosts, connection reuse
 *   mta_pool.c     connections per next hop, reuse, limits
 *   mta_session.c  the SMTP client state machine
 *   mta_command.c  MAIL/RCPT command lines and their parameters
 *   mta_reply.c    reply and EHLO parsing
 *   mta_data.c     the dot-stuffed CRLF body stream
 *   mta_tls.c      STARTTLS handshakes through tlsproxy
 *   mta_auth.c     SMTP AUTH with policyd's authinfo, the mechanisms
 *                  run by smtpd-auth's SASL client
 *
 * Runs as SMTPD_MTA_USER chrooted to the empty directory; the resolver
 * reads /etc/resolv.conf and /etc/hosts before the chroot.  If the queue
 * goes away every batch and connection is dropped (results could not be
 * delivered; the queue retries).  If policyd goes away the batches
 * waiting for a route are deferred with 4.3.0.  If tlsproxy goes away
 * the connections in a handshake fail like a lost connection.
 */
#include <stdlib.h>

#include "log.h"
#include "paths.h"
#include "proc.h"
#include "mta_cache.h"
#include "mta_core.h"
#include "mta_sts.h"
#include "mta_dns.h"

static void	mta_flush_idle(struct imsgev *, struct imsg *, void *);
static void	mta_peer_down(enum proc_id);
static void	mta_config_apply(struct config *, struct config *);
static void	mta_ctl(uint32_t, uint32_t, const char *);
static void	mta_shutdown(void);

static const struct imsg_handler mta_parent_handlers[] = {
	{ IMSG_MTA_TRUST_ANCHOR,	mta_dns_imsg_anchor },
};

static const struct imsg_handler mta_queue_handlers[] = {
	{ IMSG_MTA_DELIVER,		mta_batch_imsg_deliver },
	{ IMSG_MTA_FLUSH_IDLE,		mta_flush_idle },
};

static const struct imsg_handler mta_policy_handlers[] = {
	{ IMSG_POLICY_ROUTE_RESULT,	mta_route_imsg_result },
	{ IMSG_POLICY_RESULT,		mta_policy_result },
	{ IMSG_POLICY_AUTHINFO_RESULT,	mta_auth_imsg_result },
	{ IMSG_POLICY_STS_RESULT,	mta_sts_imsg_stored },
	{ IMSG_POLICY_TLSRPT_RECORD,	mta_tlsrpt_imsg_record },
};

static const struct imsg_handler mta_tls_handlers[] = {
	{ IMSG_TLS_RESULT,		mta_tls_result },
};

static const struct imsg_handler mta_auth_handlers[] = {
	{ IMSG_AUTH_CLIENT_RESULT,	mta_auth_imsg_client },
};

static const struct proc_def mta_def = {
	.id = PROC_MTA,
	.name = "mta",
	.user = SMTPD_MTA_USER,
	.handlers = {
		[PROC_PARENT] = mta_parent_handlers,
		[PROC_QUEUE] = mta_queue_handlers,
		[PROC_POLICY] = mta_policy_handlers,
		[PROC_TLS] = mta_tls_handlers,
		[PROC_AUTH] = mta_auth_handlers,
	},
	.nhandlers = {
		[PROC_PARENT] = sizeof(mta_parent_handlers) /
		    sizeof(mta_parent_handlers[0]),
		[PROC_QUEUE] = sizeof(mta_queue_handlers) /
		    sizeof(mta_queue_handlers[0]),
		[PROC_POLICY] = sizeof(mta_policy_handlers) /
		    sizeof(mta_policy_handlers[0]),
		[PROC_TLS] = sizeof(mta_tls_handlers) /
		    sizeof(mta_tls_handlers[0]),
		[PROC_AUTH] = sizeof(mta_auth_handlers) /
		    sizeof(mta_auth_handlers[0]),
	},
	.peer_down = mta_peer_down,
	.config_apply = mta_config_apply,
	.ctl = mta_ctl,
	.shutdown = mta_shutdown,
};

int
main(int argc, char **argv)
{
	proc_setup(&mta_def, argc, argv);
	if (mta_dns_init() == -1)
		fatalx("cannot create the resolver context");
	mta_route_init();
	proc_confine(proc_root(), SMTPD_MTA_USER);
	proc_run();
	return 0;
}

/* IMSG_MTA_FLUSH_IDLE from the queue. */
static void
mta_flush_idle(struct imsgev *iev, struct imsg *m, void *arg)
{
	if (imsg_get_end(m) == -1) {
		proc_peer_bad(PROC_QUEUE, "malformed flush", m->type);
		return;
	}
	mta_pool_flush_idle();
}

static void
mta_peer_down(enum proc_id id)
{
	if (id == PROC_QUEUE) {
		log_info("queue gone, dropping %zu batch(es)",
		    mta_batch_count());
		mta_pool_abort_all();
		mta_batch_abort_all();
	} else if (id == PROC_POLICY) {
		mta_route_policy_down();
		mta_session_policy_down();
		mta_sts_policy_down();
		mta_tlsrpt_policy_down();
	}
	else if (id == PROC_TLS) {
		mta_session_tls_down(proc_peer_instance());
		mta_sts_tls_down(proc_peer_instance());
	}
	else if (id == PROC_AUTH)
		mta_session_sasl_down();
}

static void
mta_config_apply(struct config *nconf, struct config *old)
{
	mta_dns_configure(nconf);
	/* ports and resolvers may have changed */
	mta_cache_flush();
	if (old == NULL)
		mta_batch_config_ready();
	mta_tlsrpt_start();
}

static void
mta_ctl(uint32_t ctlid, uint32_t cmd, const char *arg)
{
	int	 nconn, nidle;

	if (cmd == CTL_TLSRPT) {
		mta_sts_report(ctlid, arg);
		return;
	}
	if (cmd != CTL_SHOW_STATUS) {
		proc_ctl_end(ctlid, 1, "not supported by mta");
		return;
	}
	mta_pool_status(&nconn, &nidle);
	proc_ctl_line(ctlid, "mta.connections=%d", nconn);
	proc_ctl_line(ctlid, "mta.idle=%d", nidle);
	proc_ctl_line(ctlid, "mta.batches=%zu", mta_batch_count());
	proc_ctl_end(ctlid, 0, "");
}

/* SIGTERM: close what is open; the queue retries what was not done. */
static void
mta_shutdown(void)
{
	mta_pool_abort_all();
	mta_batch_abort_all();
}
