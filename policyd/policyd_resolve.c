/*
 * policyd_resolve.c: the queue's questions.  Both are answered with
 * IMSG_POLICY_RESOLVE_RESULT, the final recipients of policy_resolve.c:
 *
 *   IMSG_POLICY_RESOLVE	the recipient of a DSN of the queue's, resolved
 *				as a RCPT would be (a local sender is never
 *				handed to the mta)
 *   IMSG_POLICY_EXPAND	the items of a .forward or :include: file that
 *				smtpd-local read for the queue
 *
 * A question that waits for a user lookup or for keys of the PostgreSQL
 * store is parked (policyd.c) and
 * decided again when an answer comes in.  A DSN recipient or a file that
 * resolves to nothing deliverable gets one failed target, so that the
 * queue bounces it rather than asks forever; a member that failed for now
 * makes the whole answer a temporary failure, asked again later.  What
 * the queue sends is checked as a broken peer's would be: a question that
 * does not follow its layout is proc_peer_bad(); the text of a file is a
 * user's and only fails that file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mailaddr.h"
#include "proc.h"
#include "util.h"
#include "policy.h"
#include "policyd.h"

/* Send the queue the final recipients, or "ask again later". */
static void
policyd_req_send(const struct policyd_req *req, int status,
    const struct policy_targets *ts)
{
	struct imsg_out		 out;
	size_t			 n = status == POLICY_RESOLVE_OK ? ts->n : 0;

	imsg_out_init(&out, IMSG_POLICY_RESOLVE_RESULT, req->id);
	imsg_put_u32(&out, n > 0 ? STATUS_OK : STATUS_TEMPFAIL);
	policyd_put_targets(&out, ts, n);
	if (out.bad) {
		imsg_out_free(&out);
		log_warnx("%08x: the recipients of %s do not fit in one "
		    "message; it waits", req->id, req->expand ? req->source :
		    "a DSN");
		policyd_req_send(req, POLICY_RESOLVE_TMPF, ts);
		return;
	}
	(void)proc_send(PROC_QUEUE, &out, -1);
}

void
policyd_req_tempfail(const struct policyd_req *req)
{
	struct policy_targets	 ts;

	memset(&ts, 0, sizeof(ts));
	policyd_req_send(req, POLICY_RESOLVE_TMPF, &ts);
}

void
policyd_req_free(struct policyd_req *req)
{
	free(req->rcpt);
	free(req->self);
	free(req->source);
	free(req->text);
	free(req);
}

/* One failed target, value addr, with reply line. */
static void
policyd_req_fail(const struct policyd_req *req, const char *addr,
    const char *line)
{
	struct policy_targets	 ts;
	struct policy_target	 t;

	t.kind = TARGET_ERROR;
	t.value = (char *)(uintptr_t)addr;
	t.sender = (char *)(uintptr_t)"";
	t.error = (char *)(uintptr_t)line;
	ts.t = &t;
	ts.n = 1;
	policyd_req_send(req, POLICY_RESOLVE_OK, &ts);
}

/* The address a file that gives nothing fails as: its user, else the
 * postmaster (the queue's envelope keeps the address it was given as). */
static void
policyd_req_addr(const struct policyd_req *req, char *out, size_t len)
{
	const char	*host = conf != NULL && conf->hostname[0] != '\0' ?
			    conf->hostname : "localhost";

	if (!req->expand) {
		(void)strlcpy(out, req->rcpt, len);
		return;
	}
	(void)snprintf(out, len, "%s@%s", req->self[0] != '\0' ? req->self :
	    "postmaster", host);
	if (!mailaddr_mailbox_valid(out))
		(void)snprintf(out, len, "postmaster@%s", host);
}

/*
 * Decide a question: 0 when answered, -1 if it waits for a user lookup.
 * Nothing at all: a DSN recipient fails (a loop ate it), a .forward is its
 * user's own mailbox (it had only comments), an :include: file fails.
 */
int
policyd_req_decide(struct policyd_req *req)
{
	struct policy_targets	 ts;
	struct policy_target	 self;
	struct policy_env	 env;
	char			 line[POLICY_TEXT_MAX], addr[POLICY_PATH_MAX];
	size_t			 i;
	int			 r;

	policyd_env(&env);
	policy_env_configure(&env, conf);
	env.user_exists = policyd_user_exists;
	r = req->expand ? policy_resolve_expand(&env, req->self, req->source,
	    req->text, req->depth, &ts) : policy_resolve(&env, req->rcpt, NULL,
	    &ts);
	if (policyd_env_missed()) {
		if (r == POLICY_RESOLVE_OK || r == POLICY_RESOLVE_TOOMANY)
			policy_targets_free(&ts);
		return -1;
	}
	if (r == POLICY_RESOLVE_PENDING)
		return -1;
	stats_add(req->expand ? "policy.expand" : "policy.resolve", 1);
	policyd_req_addr(req, addr, sizeof(addr));
	if (r == POLICY_RESOLVE_OK && ts.n == 0 && req->expand &&
	    req->self[0] != '\0') {
		(void)snprintf(line, sizeof(line), "\\%s", req->self);
		self.kind = TARGET_MAILBOX;
		self.value = line;
		self.sender = self.error = (char *)(uintptr_t)"";
		ts.t = &self;
		ts.n = 1;
		policyd_req_send(req, POLICY_RESOLVE_OK, &ts);
		return 0;
	}
	if (r == POLICY_RESOLVE_TOOMANY || (r == POLICY_RESOLVE_OK &&
	    ts.n == 0)) {
		if (r == POLICY_RESOLVE_TOOMANY)
			(void)snprintf(line, sizeof(line), "550 5.5.3 <%.300s>"
			    "... Too many recipients from aliases", addr);
		else if (req->expand)
			(void)snprintf(line, sizeof(line), "550 5.1.1 <%.300s>"
			    "... %.300s has no recipients", addr, req->source);
		else
			(void)snprintf(line, sizeof(line), "554 5.4.6 <%.300s>"
			    "... aliasing/forwarding loop broken", addr);
		policy_targets_free(&ts);
		policyd_req_fail(req, addr, line);
		return 0;
	}
	/* a member that failed for now: the whole question is asked again */
	for (i = 0; r == POLICY_RESOLVE_OK && i < ts.n; i++)
		if (ts.t[i].kind == TARGET_ERROR && ts.t[i].error[0] == '4') {
			policy_targets_free(&ts);
			r = POLICY_RESOLVE_TMPF;
		}
	log_debug("%08x: %s: %s, %zu recipients", req->id, req->expand ?
	    req->source : req->rcpt, r == POLICY_RESOLVE_OK ? "resolved" :
	    "temporary failure", r == POLICY_RESOLVE_OK ? ts.n : 0);
	policyd_req_send(req, r, &ts);
	policy_targets_free(&ts);
	return 0;
}

/* Decide a new question, or park it. */
static void
policyd_req_ask(struct policyd_req *req)
{
	if (policyd_req_decide(req) == 0) {
		policyd_req_free(req);
		return;
	}
	policyd_park_req(req);
}

/* IMSG_POLICY_RESOLVE from the queue: the recipient of one of its DSNs. */
void
policyd_resolve_imsg(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct policyd_req	*req;
	const char		*rcpt;

	(void)iev;
	(void)arg;
	if (m->fd != -1) {
		(void)close(m->fd);
		proc_peer_bad(PROC_QUEUE, "descriptor with a resolve request",
		    m->type);
		return;
	}
	rcpt = imsg_get_str(m);
	if (imsg_get_end(m) == -1 || !mailaddr_rcpt_valid(rcpt) ||
	    strlen(rcpt) >= POLICY_PATH_MAX) {
		proc_peer_bad(PROC_QUEUE, "malformed resolve request",
		    m->type);
		return;
	}
	req = xcalloc(1, sizeof(*req));
	req->id = m->id;
	req->rcpt = xstrdup(rcpt);
	policyd_req_ask(req);
}

/*
 * IMSG_POLICY_EXPAND from the queue: the items of a .forward (self: its
 * user) or of an :include: file (self "").  The text is a user's file,
 * only its size is the queue's to keep to.
 */
void
policyd_expand_imsg(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct policyd_req	*req;
	const char		*self, *source, *text;
	uint32_t		 depth;

	(void)iev;
	(void)arg;
	if (m->fd != -1) {
		(void)close(m->fd);
		proc_peer_bad(PROC_QUEUE, "descriptor with an expand request",
		    m->type);
		return;
	}
	self = imsg_get_str(m);
	source = imsg_get_str(m);
	depth = imsg_get_u32(m);
	text = imsg_get_str(m);
	if (imsg_get_end(m) == -1 || strlen(self) >= POLICY_NAME_MAX ||
	    (self[0] != '\0' && !mailaddr_target_valid(TARGET_MAILBOX,
	    self)) || self[0] == '\\' || source[0] == '\0' ||
	    strlen(source) >= POLICY_PATH_MAX || !text_is_clean(source) ||
	    depth > CONF_ALIAS_DEPTH_MAX + 1 ||
	    strlen(text) > POLICY_ALIAS_VALUE_MAX) {
		proc_peer_bad(PROC_QUEUE, "malformed expand request", m->type);
		return;
	}
	req = xcalloc(1, sizeof(*req));
	req->id = m->id;
	req->expand = 1;
	req->self = xstrdup(self);
	req->source = xstrdup(source);
	req->text = xstrdup(text);
	req->depth = depth;
	policyd_req_ask(req);
}
