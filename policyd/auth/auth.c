/*
 * auth.c: smtpd-auth, the SASL process (smtpd-auth(8) in smtpd(8)).  This
 * file is its table of contents: what it talks to and who handles what.
 *
 *   parent  config; the chroot is the directory of the password source
 *   smtp    IMSG_AUTH_START / STEP / CANCEL -> IMSG_AUTH_RESULT;
 *           IMSG_AUTH_MECHS when the channel comes up and on every config
 *   mta     IMSG_AUTH_CLIENT_START / STEP / END -> IMSG_AUTH_CLIENT_RESULT
 *           (our AUTH to a next hop)
 *
 * SASL itself is in auth_sasl.c (server) and auth_sasl_client.c.  It is the only process that links
 * libsasl2 and runs as _smtpauth, whose group sasl may read the sasldb:
 * the library and its plugins parse what clients send, so they live
 * apart from the access map (policyd) and from the sockets (smtp).  The
 * library is set up as root (plugins are loaded from /usr/lib), then the
 * process is confined to the directory of the password source.
 *
 * Failure behaviour: a malformed message from the front end or the mta
 * is reported with proc_peer_bad(); a client's or a server's bad input
 * ends its exchange only.  A
 * config whose password source is outside our chroot ends this process
 * so that the parent restarts it in the right one.
 */
#include <sys/tree.h>

#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"
#include "paths.h"
#include "proc.h"
#include "util.h"

/* One exchange in progress, by peer and that peer's session id: a
 * server one for smtp, a client one for the mta. */
struct auth_session {
	RB_ENTRY(auth_session)	 entry;
	enum proc_id		 peer;
	uint32_t		 id;
	struct auth_exchange	*x;
	struct auth_client	*c;
};

RB_HEAD(auth_tree, auth_session);

static int	auth_session_cmp(struct auth_session *, struct auth_session *);
RB_GENERATE_INTERNAL(auth_tree, auth_session, entry, auth_session_cmp,
    __attribute__((__unused__)) static)

static struct auth_tree	 auth_sessions = RB_INITIALIZER(&auth_sessions);

/* What EHLO offers without [0] and with [1] TLS, for the config in
 * force: computed once per config, sent to the front end and checked
 * against at every START. */
static char		 auth_offered[2][AUTH_MECHS_MAX];

static void	auth_start(struct imsgev *, struct imsg *, void *);
static void	auth_step(struct imsgev *, struct imsg *, void *);
static void	auth_cancel(struct imsgev *, struct imsg *, void *);
static void	auth_client_start(struct imsgev *, struct imsg *, void *);
static void	auth_client_step(struct imsgev *, struct imsg *, void *);
static void	auth_client_end(struct imsgev *, struct imsg *, void *);
static void	auth_config(struct config *, struct config *);
static void	auth_peer_up(enum proc_id);
static void	auth_peer_down(enum proc_id);
static void	auth_shutdown(void);

static const struct imsg_handler auth_smtp_handlers[] = {
	{ IMSG_AUTH_START,	auth_start },
	{ IMSG_AUTH_STEP,	auth_step },
	{ IMSG_AUTH_CANCEL,	auth_cancel },
};

static const struct imsg_handler auth_mta_handlers[] = {
	{ IMSG_AUTH_CLIENT_START,	auth_client_start },
	{ IMSG_AUTH_CLIENT_STEP,	auth_client_step },
	{ IMSG_AUTH_CLIENT_END,		auth_client_end },
};

static const struct proc_def auth_def = {
	.id = PROC_AUTH,
	.name = "auth",
	.user = SMTPD_AUTH_USER,
	.handlers = {
		[PROC_SMTP] = auth_smtp_handlers,
		[PROC_MTA] = auth_mta_handlers,
	},
	.nhandlers = {
		[PROC_SMTP] = sizeof(auth_smtp_handlers) /
		    sizeof(auth_smtp_handlers[0]),
		[PROC_MTA] = sizeof(auth_mta_handlers) /
		    sizeof(auth_mta_handlers[0]),
	},
	.peer_up = auth_peer_up,
	.peer_down = auth_peer_down,
	.config_apply = auth_config,
	.shutdown = auth_shutdown,
};

int
main(int argc, char **argv)
{
	proc_setup(&auth_def, argc, argv);
	auth_sasl_init();
	auth_sasl_client_init();
	proc_confine(proc_root(), SMTPD_AUTH_USER);
	auth_sasl_confined();
	proc_run();
	return 0;
}

static int
auth_session_cmp(struct auth_session *a, struct auth_session *b)
{
	if (a->peer != b->peer)
		return a->peer < b->peer ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

static struct auth_session *
auth_session_find(enum proc_id peer, uint32_t id)
{
	struct auth_session	 key;

	key.peer = peer;
	key.id = id;
	return RB_FIND(auth_tree, &auth_sessions, &key);
}

static void
auth_session_drop(struct auth_session *as)
{
	RB_REMOVE(auth_tree, &auth_sessions, as);
	auth_sasl_free(as->x);
	auth_sasl_client_free(as->c);
	stats_add(as->peer == PROC_MTA ? "auth.client.active" :
	    "auth.exchange.active", -1);
	free(as);
}

/* Tell the front end what EHLO offers, without and with TLS. */
static void
auth_mechs_send(void)
{
	struct imsg_out	 out;

	if (conf == NULL || proc_peer(PROC_SMTP) == NULL)
		return;
	imsg_out_init(&out, IMSG_AUTH_MECHS, 0);
	imsg_put_str(&out, auth_offered[0]);
	imsg_put_str(&out, auth_offered[1]);
	(void)proc_send(PROC_SMTP, &out, -1);
}

/* The chroot must still hold the password source (see parent_proc.c). */
static void
auth_config(struct config *nconf, struct config *old)
{
	char	 buf[PATH_MAX];

	(void)old;
	(void)strlcpy(buf, nconf->auth_source_path, sizeof(buf));
	if (config_auth_used(nconf) && strcmp(dirname(buf), proc_root()) != 0)
		fatalx("password source %s is outside %s: restarting",
		    nconf->auth_source_path, proc_root());
	auth_sasl_mechs(0, auth_offered[0], sizeof(auth_offered[0]));
	auth_sasl_mechs(1, auth_offered[1], sizeof(auth_offered[1]));
	log_debug("mechanisms: without TLS \"%s\", with TLS \"%s\"",
	    auth_offered[0], auth_offered[1]);
	auth_mechs_send();
}

static void
auth_peer_up(enum proc_id id)
{
	if (id == PROC_SMTP)
		auth_mechs_send();
}

/* The front end or the mta is gone: so are its exchanges. */
static void
auth_peer_down(enum proc_id id)
{
	struct auth_session	*as, *next;

	RB_FOREACH_SAFE(as, auth_tree, &auth_sessions, next)
		if (as->peer == id)
			auth_session_drop(as);
}

static void
auth_shutdown(void)
{
	auth_peer_down(PROC_SMTP);
	auth_peer_down(PROC_MTA);
}

/* An answer that ends an exchange. */
static void
auth_answer_fail(struct auth_answer *a, enum auth_status status,
    const char *why)
{
	memset(a, 0, sizeof(*a));
	a->status = status;
	(void)strlcpy(a->reason, why, sizeof(a->reason));
}

/* Answer the front end; the exchange is dropped unless it goes on. */
static void
auth_result_send(uint32_t id, struct auth_session *as, struct auth_answer *a)
{
	struct imsg_out	 out;

	/* the name is the client's and the reason may quote it: the front
	 * end refuses control characters from us, so none may pass */
	if (a->status == AUTH_OK && !text_is_clean(a->user))
		auth_answer_fail(a, AUTH_FAIL, "authenticated name has "
		    "control characters");
	text_clean(a->reason);
	imsg_out_init(&out, IMSG_AUTH_RESULT, id);
	imsg_put_u32(&out, a->status);
	switch (a->status) {
	case AUTH_CONTINUE:
		imsg_put_str(&out, a->challenge);
		break;
	case AUTH_OK:
		imsg_put_str(&out, a->user);
		imsg_put_str(&out, a->mech);
		imsg_put_u32(&out, a->ssf);
		stats_add("auth.success", 1);
		break;
	default:
		imsg_put_str(&out, a->reason);
		stats_add(a->status == AUTH_TEMPFAIL ? "auth.tempfail" :
		    "auth.failure", 1);
		break;
	}
	free(a->challenge);
	a->challenge = NULL;
	(void)proc_send(PROC_SMTP, &out, -1);
	if (as != NULL && a->status != AUTH_CONTINUE)
		auth_session_drop(as);
}

/*
 * Read a START: -1 if it does not follow the layout (a broken front end),
 * 1 if a value a client chose (the mechanism name, EXTERNAL's identity
 * from its certificate) is refused, which fails that one exchange.
 */
static int
auth_start_parse(struct imsg *m, struct auth_request *req)
{
	const char	*mech;

	memset(req, 0, sizeof(*req));
	mech = imsg_get_str(m);
	req->has_initial = imsg_get_u32(m) != 0;
	req->initial = imsg_get_str(m);
	req->addr = imsg_get_str(m);
	req->tls = imsg_get_u32(m) != 0;
	req->tls_bits = imsg_get_u32(m);
	(void)imsg_get_u32(m);		/* listener flags */
	req->external = imsg_get_str(m);
	if (imsg_get_end(m) == -1)
		return -1;
	if (strlcpy(req->mech, mech, sizeof(req->mech)) >= sizeof(req->mech) ||
	    req->mech[0] == '\0' ||
	    strspn(req->mech, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") !=
	    strlen(req->mech) ||
	    (req->external[0] != '\0' && (!req->tls ||
	    !text_is_clean(req->external))))
		return 1;
	return 0;
}

/* Fail one exchange of the front end before it starts. */
static void
auth_start_refuse(uint32_t id, const char *why)
{
	struct auth_answer	 a;

	auth_answer_fail(&a, AUTH_FAIL, why);
	auth_result_send(id, NULL, &a);
}

/* IMSG_AUTH_START: a fresh exchange for the session. */
static void
auth_start(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct auth_request	 req;
	struct auth_answer	 a;
	struct auth_session	*as;
	char			 offered[AUTH_MECHS_MAX];
	int			 r = -1;

	if (m->fd != -1 || (r = auth_start_parse(m, &req)) == -1 ||
	    auth_session_find(PROC_SMTP, m->id) != NULL) {
		if (m->fd != -1)
			(void)close(m->fd);
		proc_peer_bad(PROC_SMTP, "malformed or duplicate AUTH start",
		    m->type);
		return;
	}
	stats_add("auth.exchange", 1);
	if (r == 1) {
		auth_start_refuse(m->id, "mechanism or identity refused");
		return;
	}
	/* the front end checked it too: only what EHLO offered can start */
	(void)strlcpy(offered, auth_offered[req.tls], sizeof(offered));
	if (req.external[0] != '\0' &&
	    config_word_in(conf->auth_mechanisms, "EXTERNAL"))
		(void)strlcat(offered, " EXTERNAL", sizeof(offered));
	if (!config_word_in(offered, req.mech)) {
		auth_start_refuse(m->id, "mechanism not offered");
		return;
	}
	if ((as = calloc(1, sizeof(*as))) == NULL) {
		auth_answer_fail(&a, AUTH_TEMPFAIL, "out of memory");
		auth_result_send(m->id, NULL, &a);
		return;
	}
	as->peer = PROC_SMTP;
	as->id = m->id;
	if ((as->x = auth_sasl_start(&req, &a)) == NULL) {
		free(as);
		auth_result_send(m->id, NULL, &a);
		return;
	}
	RB_INSERT(auth_tree, &auth_sessions, as);
	stats_add("auth.exchange.active", 1);
	auth_result_send(m->id, as, &a);
}

/* IMSG_AUTH_STEP: the client's answer to our last challenge. */
static void
auth_step(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct auth_session	*as;
	struct auth_answer	 a;
	const char		*line;

	line = imsg_get_str(m);
	if (m->fd != -1 || imsg_get_end(m) == -1 ||
	    (as = auth_session_find(PROC_SMTP, m->id)) == NULL) {
		if (m->fd != -1)
			(void)close(m->fd);
		proc_peer_bad(PROC_SMTP, "malformed or unexpected AUTH step",
		    m->type);
		return;
	}
	auth_sasl_step(as->x, line, &a);
	auth_result_send(m->id, as, &a);
}

/* IMSG_AUTH_CANCEL: "*", an overlong line, or the session ended. */
static void
auth_cancel(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct auth_session	*as;

	if (m->fd != -1 || imsg_get_end(m) == -1) {
		if (m->fd != -1)
			(void)close(m->fd);
		proc_peer_bad(PROC_SMTP, "malformed AUTH cancel", m->type);
		return;
	}
	/* the exchange may have ended already: its RESULT crossed this */
	if ((as = auth_session_find(PROC_SMTP, m->id)) != NULL)
		auth_session_drop(as);
}

/* Answer the mta; the exchange is dropped unless it goes on. */
static void
auth_client_result_send(uint32_t id, struct auth_session *as,
    struct auth_answer *a, int first)
{
	struct imsg_out	 out;

	imsg_out_init(&out, IMSG_AUTH_CLIENT_RESULT, id);
	imsg_out_secret(&out);
	imsg_put_u32(&out, a->status);
	if (a->status == AUTH_CONTINUE) {
		imsg_put_str(&out, first ? a->mech : "");
		imsg_put_u32(&out, a->has_response ? 1 : 0);
		imsg_put_str(&out, a->challenge != NULL ? a->challenge : "");
	} else {
		/* it may quote the server: the mta refuses control chars */
		text_clean(a->reason);
		imsg_put_str(&out, a->reason);
		stats_add(a->status == AUTH_TEMPFAIL ? "auth.client.tempfail" :
		    "auth.client.failure", 1);
	}
	/* the response may carry the secret (PLAIN): not kept here */
	if (a->challenge != NULL) {
		explicit_bzero(a->challenge, strlen(a->challenge));
		free(a->challenge);
		a->challenge = NULL;
	}
	(void)proc_send(PROC_MTA, &out, -1);
	if (as != NULL && a->status != AUTH_CONTINUE)
		auth_session_drop(as);
}

/* Read a client START: -1 if it does not parse, 1 if a value is refused. */
static int
auth_client_parse(struct imsg *m, struct auth_client_request *req)
{
	memset(req, 0, sizeof(*req));
	req->server = imsg_get_str(m);
	req->offered = imsg_get_str(m);
	req->user = imsg_get_str(m);
	req->authid = imsg_get_str(m);
	req->secret = imsg_get_str(m);
	req->realm = imsg_get_str(m);
	req->allowed = imsg_get_str(m);
	req->tls = imsg_get_u32(m) != 0;
	req->tls_bits = imsg_get_u32(m);
	if (imsg_get_end(m) == -1)
		return -1;
	/* from the authinfo map and the server's EHLO: not the mta's fault */
	if (req->authid[0] == '\0' ||
	    strlen(req->user) >= AUTH_CRED_MAX ||
	    strlen(req->authid) >= AUTH_CRED_MAX ||
	    strlen(req->secret) >= AUTH_CRED_MAX ||
	    strlen(req->realm) >= AUTH_CRED_MAX ||
	    strlen(req->offered) >= AUTH_MECHS_MAX ||
	    strlen(req->allowed) >= AUTH_MECHS_MAX)
		return 1;
	return 0;
}

/* IMSG_AUTH_CLIENT_START: the mta authenticates to a next hop. */
static void
auth_client_start(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct auth_client_request	 req;
	struct auth_answer		 a;
	struct auth_session		*as;
	int				 bad, r = -1;

	bad = m->fd != -1 || (r = auth_client_parse(m, &req)) == -1 ||
	    auth_session_find(PROC_MTA, m->id) != NULL;
	if (bad) {
		if (m->fd != -1)
			(void)close(m->fd);
		explicit_bzero((void *)(uintptr_t)m->data, m->len);
		proc_peer_bad(PROC_MTA, "malformed or duplicate client AUTH "
		    "start", m->type);
		return;
	}
	stats_add("auth.client", 1);
	as = NULL;
	if (r == 1)
		auth_answer_fail(&a, AUTH_TEMPFAIL, "authinfo entry or server "
		    "mechanism list too long");
	else if ((as = calloc(1, sizeof(*as))) == NULL)
		auth_answer_fail(&a, AUTH_TEMPFAIL, "out of memory");
	else if ((as->c = auth_sasl_client_start(&req, &a)) == NULL) {
		free(as);
		as = NULL;
	}
	/* the credential is in the exchange now, or not needed */
	explicit_bzero((void *)(uintptr_t)m->data, m->len);
	if (as != NULL) {
		as->peer = PROC_MTA;
		as->id = m->id;
		RB_INSERT(auth_tree, &auth_sessions, as);
		stats_add("auth.client.active", 1);
	}
	auth_client_result_send(m->id, as, &a, 1);
}

/* IMSG_AUTH_CLIENT_STEP: the server's next challenge. */
static void
auth_client_step(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct auth_session	*as;
	struct auth_answer	 a;
	const char		*challenge;

	challenge = imsg_get_str(m);
	if (m->fd != -1 || imsg_get_end(m) == -1 ||
	    (as = auth_session_find(PROC_MTA, m->id)) == NULL) {
		if (m->fd != -1)
			(void)close(m->fd);
		proc_peer_bad(PROC_MTA, "malformed or unexpected client AUTH "
		    "step", m->type);
		return;
	}
	auth_sasl_client_step(as->c, challenge, &a);
	auth_client_result_send(m->id, as, &a, 0);
}

/* IMSG_AUTH_CLIENT_END: 235, a refusal, or the session is gone. */
static void
auth_client_end(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct auth_session	*as;

	if (m->fd != -1 || imsg_get_end(m) == -1) {
		if (m->fd != -1)
			(void)close(m->fd);
		proc_peer_bad(PROC_MTA, "malformed client AUTH end", m->type);
		return;
	}
	/* a failed step ended it here already */
	if ((as = auth_session_find(PROC_MTA, m->id)) != NULL)
		auth_session_drop(as);
}
