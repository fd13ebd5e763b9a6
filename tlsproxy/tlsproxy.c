/*
 * tlsproxy.c: smtpd-tlsproxy, the one process that holds the TLS keys and
 * runs every handshake (tlsproxy(8)).
 *
 * It is confined (user _smtptls, the empty chroot, not dumpable) before
 * it reads anything: the root parent sends the certificates, keys and CA
 * certificates over the parent channel (tls_pki.c).  The front end asks
 * for a server handshake on a client socket (PREPARE, then START), the
 * outbound client for a client handshake on a server socket
 * (CLIENT_START); each gets IMSG_TLS_RESULT with the TLS facts and the
 * plaintext end of a socketpair, and tlsproxy relays (tls_session.c,
 * tls_relay.c).  One process serves many sessions on libevent; the parent
 * runs "tls processes" of them (instance -i N), each with the whole key
 * set, and the front end and the outbound client spread their handshakes
 * over them.  With more than one, an instance names itself "tlsproxy[N]"
 * in the log, in "show status" and as the prefix of its "show stats"
 * counters.
 *
 * Failure: a malformed request is reported with proc_peer_bad(); a lost
 * peer ends its sessions; a key set that does not build leaves the old
 * one in force.  Handshake trouble costs one session only.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tls.h>

#include "log.h"
#include "paths.h"
#include "proc.h"
#include "tlsproxy.h"

static void	tlsproxy_pki_begin(struct imsgev *, struct imsg *, void *);
static void	tlsproxy_pki(struct imsgev *, struct imsg *, void *);
static void	tlsproxy_pki_ca(struct imsgev *, struct imsg *, void *);
static void	tlsproxy_pki_end(struct imsgev *, struct imsg *, void *);
static void	tlsproxy_prepare(struct imsgev *, struct imsg *, void *);
static void	tlsproxy_server_start(struct imsgev *, struct imsg *, void *);
static void	tlsproxy_client_start(struct imsgev *, struct imsg *, void *);
static void	tlsproxy_abort(struct imsgev *, struct imsg *, void *);
static void	tlsproxy_result(enum proc_id, uint32_t,
		    const struct tls_facts *, int);
static void	tlsproxy_config_apply(struct config *, struct config *);
static void	tlsproxy_peer_down(enum proc_id);
static void	tlsproxy_ctl(uint32_t, uint32_t, const char *);
static void	tlsproxy_shutdown(void);

static const struct imsg_handler tlsproxy_parent_handlers[] = {
	{ IMSG_TLS_PKI_BEGIN,		tlsproxy_pki_begin },
	{ IMSG_TLS_PKI,			tlsproxy_pki },
	{ IMSG_TLS_PKI_CA,		tlsproxy_pki_ca },
	{ IMSG_TLS_PKI_END,		tlsproxy_pki_end },
};

static const struct imsg_handler tlsproxy_smtp_handlers[] = {
	{ IMSG_TLS_SERVER_PREPARE,	tlsproxy_prepare },
	{ IMSG_TLS_SERVER_START,	tlsproxy_server_start },
	{ IMSG_TLS_ABORT,		tlsproxy_abort },
};

static const struct imsg_handler tlsproxy_mta_handlers[] = {
	{ IMSG_TLS_CLIENT_START,	tlsproxy_client_start },
	{ IMSG_TLS_ABORT,		tlsproxy_abort },
};

#define NHANDLERS(t)	(sizeof(t) / sizeof((t)[0]))

/* how this instance names itself (tlsproxy_label()) */
static char	 tlsproxy_name[24] = "tlsproxy";

static const struct proc_def tlsproxy_def = {
	.id = PROC_TLS,
	.name = "tlsproxy",
	.user = SMTPD_TLS_USER,
	.handlers = {
		[PROC_PARENT] = tlsproxy_parent_handlers,
		[PROC_SMTP] = tlsproxy_smtp_handlers,
		[PROC_MTA] = tlsproxy_mta_handlers,
	},
	.nhandlers = {
		[PROC_PARENT] = NHANDLERS(tlsproxy_parent_handlers),
		[PROC_SMTP] = NHANDLERS(tlsproxy_smtp_handlers),
		[PROC_MTA] = NHANDLERS(tlsproxy_mta_handlers),
	},
	.peer_down = tlsproxy_peer_down,
	.config_apply = tlsproxy_config_apply,
	.ctl = tlsproxy_ctl,
	.shutdown = tlsproxy_shutdown,
};

/* Handshakes and relays at once: every front-end and outbound session. */
static size_t
tlsproxy_capacity(void)
{
	if (conf == NULL)
		return 0;
	return conf->limit_sessions + (size_t)conf->mta_connections;
}

static void
tlsproxy_pki_begin(struct imsgev *iev, struct imsg *m, void *arg)
{
	if (imsg_get_end(m) == -1)
		fatalx("bad pki header from parent");
	tls_pki_stage_begin();
}

static void
tlsproxy_pki(struct imsgev *iev, struct imsg *m, void *arg)
{
	const char	*name = imsg_get_str(m);
	const void	*cert, *key;
	size_t		 certlen, keylen;

	cert = imsg_get_data(m, &certlen);
	key = imsg_get_data(m, &keylen);
	if (imsg_get_end(m) == -1)
		fatalx("bad pki message from parent");
	if (tls_pki_stage_add(name, cert, certlen, key, keylen) == -1)
		log_warnx("pki %s: not kept (too many, empty or no memory)",
		    name);
}

static void
tlsproxy_pki_ca(struct imsgev *iev, struct imsg *m, void *arg)
{
	const void	*pem;
	size_t		 len;

	pem = imsg_get_data(m, &len);
	if (imsg_get_end(m) == -1)
		fatalx("bad CA message from parent");
	if (tls_pki_stage_ca(pem, len) == -1)
		log_warnx("CA certificates: too many, some not kept");
}

static void
tlsproxy_pki_end(struct imsgev *iev, struct imsg *m, void *arg)
{
	char	 err[512];

	if (imsg_get_end(m) == -1)
		fatalx("bad pki end from parent");
	if (tls_pki_stage_end(conf, err, sizeof(err)) == -1) {
		log_warnx("new certificates refused, old ones kept: %s", err);
		stats_add("tls.pki.refused", 1);
		return;
	}
	if (conf != NULL)
		log_info("certificates loaded: %zu pki",
		    tls_pki_count(tls_pki_current()));
}

/* IMSG_TLS_SERVER_PREPARE: keep the facts, say whether we can serve. */
static void
tlsproxy_prepare(struct imsgev *iev, struct imsg *m, void *arg)
{
	char			 listener[80], addr[64];
	struct imsg_out		 out;
	uint32_t		 flags, status = STATUS_OK;

	if (imsg_get_strbuf(m, listener, sizeof(listener)) == -1 ||
	    imsg_get_strbuf(m, addr, sizeof(addr)) == -1)
		m->bad = 1;
	flags = imsg_get_u32(m);
	if (imsg_get_end(m) == -1 || tls_session_find(PROC_SMTP, m->id)) {
		proc_peer_bad(PROC_SMTP, "bad or repeated TLS prepare",
		    m->type);
		return;
	}
	if (tls_pki_count(tls_pki_current()) == 0 ||
	    tls_session_count() >= tlsproxy_capacity() ||
	    tls_session_prepare(PROC_SMTP, m->id, listener, addr,
	    flags) == NULL) {
		status = STATUS_TEMPFAIL;
		stats_add("tls.prepare.refused", 1);
	}
	imsg_out_init(&out, IMSG_TLS_SERVER_READY, m->id);
	imsg_put_u32(&out, status);
	(void)proc_send(PROC_SMTP, &out, -1);
}

/* IMSG_TLS_SERVER_START: the client socket of a prepared session. */
static void
tlsproxy_server_start(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct tls_session	*s;
	uint32_t		 flags = imsg_get_u32(m);

	s = tls_session_find(PROC_SMTP, m->id);
	if (imsg_get_end(m) == -1 || m->fd == -1 || s == NULL ||
	    tls_session_started(s)) {
		if (m->fd != -1)
			(void)close(m->fd);
		proc_peer_bad(PROC_SMTP, "TLS start without a socket or a "
		    "prepared session", m->type);
		return;
	}
	tls_session_server_start(s, m->fd, flags);
}

/* IMSG_TLS_CLIENT_START: a handshake as client on a server socket. */
static void
tlsproxy_client_start(struct imsgev *iev, struct imsg *m, void *arg)
{
	char		 name[TLS_NAME_MAX], pki[CONF_PKI_NAME_MAX];
	uint32_t	 flags;

	if (imsg_get_strbuf(m, name, sizeof(name)) == -1 ||
	    imsg_get_strbuf(m, pki, sizeof(pki)) == -1)
		m->bad = 1;
	flags = imsg_get_u32(m);
	if (imsg_get_end(m) == -1 || m->fd == -1 ||
	    tls_session_client_start(PROC_MTA, m->id, m->fd, name, pki,
	    flags) == -1) {
		if (m->fd != -1)
			(void)close(m->fd);
		proc_peer_bad(PROC_MTA, "bad or repeated TLS client start",
		    m->type);
	}
}

/* IMSG_TLS_ABORT: the requester is done with the session. */
static void
tlsproxy_abort(struct imsgev *iev, struct imsg *m, void *arg)
{
	enum proc_id	 peer = (enum proc_id)(intptr_t)arg;

	if (imsg_get_end(m) == -1) {
		proc_peer_bad(peer, "bad TLS abort", m->type);
		return;
	}
	/* the session may have ended on its own already */
	tls_session_free(tls_session_find(peer, m->id));
}

/* IMSG_TLS_RESULT to the requester, with the plaintext end. */
static void
tlsproxy_result(enum proc_id peer, uint32_t id, const struct tls_facts *f,
    int plainfd)
{
	struct imsg_out	 out;

	imsg_out_init(&out, IMSG_TLS_RESULT, id);
	imsg_put_u32(&out, f->status);
	imsg_put_str(&out, f->error);
	imsg_put_str(&out, f->protocol);
	imsg_put_str(&out, f->cipher);
	imsg_put_u32(&out, f->cipher_bits);
	imsg_put_u32(&out, f->alg_bits);
	imsg_put_str(&out, f->verify);
	imsg_put_str(&out, f->subject);
	imsg_put_str(&out, f->issuer);
	imsg_put_str(&out, f->cn_subject);
	imsg_put_str(&out, f->cn_issuer);
	imsg_put_str(&out, f->fingerprint);
	imsg_put_str(&out, f->sni);
	(void)proc_send(peer, &out, plainfd);
}

/* "tlsproxy" alone, "tlsproxy[N]" (and "tlsproxy[N]." on counters) when
 * there are several. */
static void
tlsproxy_label(const struct config *c)
{
	static char	 prefix[32];

	if (c->tls_processes == 1 && proc_instance() == 0) {
		(void)strlcpy(tlsproxy_name, "tlsproxy",
		    sizeof(tlsproxy_name));
		prefix[0] = '\0';
	} else {
		(void)snprintf(tlsproxy_name, sizeof(tlsproxy_name),
		    "tlsproxy[%u]", proc_instance());
		(void)snprintf(prefix, sizeof(prefix), "%s.", tlsproxy_name);
	}
	log_procname_set(tlsproxy_name);
	stats_prefix_set(prefix);
}

/* New protocols, ciphers or a new session lifetime rebuild the key set;
 * sessions keep theirs. */
static void
tlsproxy_config_apply(struct config *nconf, struct config *old)
{
	char	 err[512];

	tlsproxy_label(nconf);
	tls_ticket_configure(nconf->tls_session_lifetime);
	if (old != NULL &&
	    strcmp(old->tls_protocols, nconf->tls_protocols) == 0 &&
	    strcmp(old->tls_ciphers, nconf->tls_ciphers) == 0 &&
	    old->tls_session_lifetime == nconf->tls_session_lifetime)
		return;
	if (tls_pki_reconfigure(nconf, err, sizeof(err)) == -1)
		log_warnx("TLS settings refused, old ones kept: %s", err);
}

static void
tlsproxy_peer_down(enum proc_id peer)
{
	tls_session_drop_peer(peer);
}

static void
tlsproxy_ctl(uint32_t ctlid, uint32_t cmd, const char *arg)
{
	if (cmd == CTL_SHOW_STATUS) {
		proc_ctl_line(ctlid, "%s.sessions=%zu", tlsproxy_name,
		    tls_session_count());
		proc_ctl_line(ctlid, "%s.handshakes=%lld", tlsproxy_name,
		    (long long)stats_get("tls.handshake.ok"));
		proc_ctl_line(ctlid, "%s.pki=%zu", tlsproxy_name,
		    tls_pki_count(tls_pki_current()));
		proc_ctl_end(ctlid, 0, "");
		return;
	}
	proc_ctl_end(ctlid, 1, "tlsproxy: unsupported request");
}

static void
tlsproxy_shutdown(void)
{
	tls_session_drop_peer(PROC_SMTP);
	tls_session_drop_peer(PROC_MTA);
	tls_pki_shutdown();
	tls_ticket_shutdown();
}

int
main(int argc, char **argv)
{
	proc_setup(&tlsproxy_def, argc, argv);
	if (tls_init() == -1)
		fatalx("tls_init failed");
	if (tls_ticket_init() == -1)
		fatalx("cannot set up session resumption");
	tls_session_init(tlsproxy_result);
	proc_confine(proc_root(), tlsproxy_def.user);
	proc_run();
	return 0;
}
