/*
 * policy_query.c: decoding of IMSG_POLICY_QUERY (layout in proto.h) into
 * a struct policy_query, with every field checked before any lookup.
 *
 * Checks: known kind; each string fits its buffer and has no control
 * character; the client address is an IP address and the client name a
 * host name or "[address]" (both put in canonical form, spec 1.4); a
 * MAIL query's sender and a RCPT query's recipient are mailboxes (one
 * optional pair of angle brackets is removed; a recipient must not be
 * empty); ${client_resolve} is OK, FAIL, FORGED, TEMP or "".
 * Failure behaviour: -1 with a reason (also for trailing octets: the
 * sender and this parser are built from the same proto.h); the caller
 * reports the peer with proc_peer_bad().
 */
#include <stdio.h>
#include <string.h>

#include "imsg.h"
#include "proto.h"
#include "util.h"
#include "policy.h"

const char *
policy_kind_name(uint32_t kind)
{
	switch (kind) {
	case POLICY_CONNECT:
		return "connect";
	case POLICY_HELO:
		return "helo";
	case POLICY_MAIL:
		return "mail";
	case POLICY_RCPT:
		return "rcpt";
	case POLICY_TLS_CLT:
		return "tls_client";
	case POLICY_TRY_TLS:
		return "try_tls";
	case POLICY_TLS_SRV:
		return "tls_server";
	case POLICY_TLS_RCPT:
		return "tls_rcpt";
	}
	return "unknown";
}

/* Read a string field into buf; -1 if too long or not clean text. */
static int
query_str(struct imsg *m, char *buf, size_t size)
{
	if (imsg_get_strbuf(m, buf, size) == -1)
		return -1;
	return text_is_clean(buf) ? 0 : -1;
}

/* ${client_resolve}: one of the four words of spec 6, or "". */
static int
query_resolve(struct imsg *m, char *buf, size_t size)
{
	if (query_str(m, buf, size) == -1)
		return -1;
	if (buf[0] == '\0' || strcmp(buf, "OK") == 0 ||
	    strcmp(buf, "FAIL") == 0 || strcmp(buf, "FORGED") == 0 ||
	    strcmp(buf, "TEMP") == 0)
		return 0;
	return -1;
}

/* Remove one pair of angle brackets and check what is left. */
static int
query_mailbox(char *s, int empty_ok)
{
	size_t	 len = strlen(s);

	if (len >= 2 && s[0] == '<' && s[len - 1] == '>') {
		memmove(s, s + 1, len - 2);
		s[len - 2] = '\0';
	}
	if (s[0] == '\0')
		return empty_ok ? 0 : -1;
	if (strpbrk(s, "<>") != NULL || s[0] == '@' ||
	    s[strlen(s) - 1] == '@')
		return -1;
	return 0;
}

int
policy_query_parse(struct imsg *m, struct policy_query *q, const char **why)
{
	char	 addr[POLICY_NAME_MAX], name[POLICY_NAME_MAX];

	memset(q, 0, sizeof(*q));
	q->kind = imsg_get_u32(m);
	if (query_str(m, addr, sizeof(addr)) == -1 ||
	    query_str(m, name, sizeof(name)) == -1 ||
	    query_str(m, q->helo, sizeof(q->helo)) == -1 ||
	    query_str(m, q->sender, sizeof(q->sender)) == -1 ||
	    query_str(m, q->rcpt, sizeof(q->rcpt)) == -1 ||
	    query_str(m, q->auth, sizeof(q->auth)) == -1 ||
	    query_str(m, q->verify, sizeof(q->verify)) == -1 ||
	    query_str(m, q->auth_mech, sizeof(q->auth_mech)) == -1) {
		*why = "malformed policy query";
		return -1;
	}
	q->auth_ssf = imsg_get_u32(m);
	if (query_str(m, q->tls_version, sizeof(q->tls_version)) == -1) {
		*why = "malformed policy query";
		return -1;
	}
	q->cipher_bits = imsg_get_u32(m);
	if (query_str(m, q->cert_subject, sizeof(q->cert_subject)) == -1 ||
	    query_str(m, q->cert_issuer, sizeof(q->cert_issuer)) == -1 ||
	    query_str(m, q->cn_subject, sizeof(q->cn_subject)) == -1 ||
	    query_resolve(m, q->resolve, sizeof(q->resolve)) == -1 ||
	    imsg_get_end(m) == -1) {
		*why = "malformed policy query";
		return -1;
	}
	return policy_query_fill(q, addr, name, why);
}

/*
 * Complete a query whose kind, helo, sender and rcpt are set: the client
 * address and name in canonical form ("" name = "[addr]"), the mailboxes
 * checked and without brackets.  smtpctl explain builds its queries with
 * this too.  0, or -1 with *why set.
 */
int
policy_query_fill(struct policy_query *q, const char *addr, const char *name,
    const char **why)
{
	char	 lit[POLICY_NAME_MAX];

	*why = "policy query with a bad field";
	if (q->kind < POLICY_CONNECT || q->kind > POLICY_TLS_RCPT)
		return -1;
	if (policy_addr_canon(addr, q->addr, sizeof(q->addr)) == -1) {
		*why = "bad client address";
		return -1;
	}
	if (name[0] == '\0') {
		(void)snprintf(lit, sizeof(lit), "[%s]", q->addr);
		name = lit;
	}
	if (policy_name_canon(name, q->name, sizeof(q->name)) == -1) {
		*why = "bad client name";
		return -1;
	}
	if (query_mailbox(q->sender, 1) == -1 ||
	    query_mailbox(q->rcpt, q->kind != POLICY_RCPT &&
	    q->kind != POLICY_TLS_RCPT) == -1) {
		*why = "bad mailbox";
		return -1;
	}
	*why = NULL;
	return 0;
}
