/*
 * policy_query.c: decoding of IMSG_POLICY_QUERY (layout in proto.h) into
 * a struct policy_query, with every field checked before any lookup.
 *
 * Checks: known kind; each string fits its buffer and has no control
 * character; the client address is an IP address and the client name a
 * host name or "[address]" (both put in canonical form, spec 1.4); a
 * sender is "" or a mailbox and a recipient a mailbox or Postmaster, by
 * the grammar the front end parsed them with (common/mailaddr.c; one
 * optional pair of angle brackets is removed); ${client_resolve} is OK,
 * FAIL, FORGED, TEMP or "".
 * Failure behaviour: two kinds, kept apart because the second is chosen
 * by outsiders.  A payload that does not follow the layout, an unknown
 * kind or resolve word is a broken peer: -1 with a reason, and the caller
 * reports the peer with proc_peer_bad().  A field that is well framed but
 * whose value is refused (an address, a HELO or client name, a
 * certificate name the peer relayed from a client, a DNS answer or a next
 * hop) is 1, with a refusal of that one command in the result: 501 5.1.7
 * or 501 5.1.3 for an address, 550 5.7.1 for any other field, and 451
 * 4.7.0 for the mta's questions about a next hop.  No value
 * a client chooses can make policyd report its peer.
 */
#include <stdio.h>
#include <string.h>

#include "imsg.h"
#include "proto.h"
#include "util.h"
#include "mailaddr.h"
#include "policy.h"

#define QUERY_BAD_SENDER	"bad sender address"
#define QUERY_BAD_RCPT		"bad recipient address"

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

/*
 * Read a string field into buf.  -1 if the payload does not hold one (a
 * broken peer); a field that is too long or not clean text is a value
 * the peer relayed from outside, so it only sets *refused (first wins)
 * and the query is answered with a refusal.
 */
static int
query_str(struct imsg *m, char *buf, size_t size, const char *field,
    const char **refused)
{
	const char	*s = imsg_get_str(m);

	buf[0] = '\0';
	if (m->bad)
		return -1;
	if (strlcpy(buf, s, size) >= size || !text_is_clean(buf)) {
		buf[0] = '\0';
		if (*refused == NULL)
			*refused = field;
	}
	return 0;
}

/* ${client_resolve}: one of the four words of spec 6, or "".  The front
 * end computes it, never a client: anything else is a broken peer. */
static int
query_resolve(struct imsg *m, char *buf, size_t size)
{
	if (imsg_get_strbuf(m, buf, size) == -1)
		return -1;
	if (buf[0] == '\0' || strcmp(buf, "OK") == 0 ||
	    strcmp(buf, "FAIL") == 0 || strcmp(buf, "FORGED") == 0 ||
	    strcmp(buf, "TEMP") == 0)
		return 0;
	return -1;
}

/*
 * Remove one pair of angle brackets and check what is left with the
 * grammar the front end parsed it with (common/mailaddr.c).
 */
static int
query_mailbox(char *s, int rcpt)
{
	size_t	 len = strlen(s);

	if (len >= 2 && s[0] == '<' && s[len - 1] == '>') {
		memmove(s, s + 1, len - 2);
		s[len - 2] = '\0';
	}
	if (s[0] == '\0')
		return rcpt ? -1 : 0;
	return (rcpt ? mailaddr_rcpt_valid(s) : mailaddr_mailbox_valid(s)) ?
	    0 : -1;
}

/*
 * The answer to a query whose field is refused: a 5xx for that command.
 * The mta's questions are about a next hop, whose certificate or name
 * may be what is refused: that defers the mail there, never bounces it.
 */
static void
query_refusal(const char *why, uint32_t kind, struct policy_result *res)
{
	memset(res, 0, sizeof(*res));
	res->ruleset = "query";
	if (kind >= POLICY_TRY_TLS) {
		res->verdict = POLICY_TEMPFAIL;
		res->code = 451;
		(void)strlcpy(res->enhanced, "4.7.0", sizeof(res->enhanced));
		(void)snprintf(res->text, sizeof(res->text),
		    "Policy refused: %s", why);
		return;
	}
	res->verdict = POLICY_REJECT;
	res->code = 501;
	if (strcmp(why, QUERY_BAD_SENDER) == 0) {
		(void)strlcpy(res->enhanced, "5.1.7", sizeof(res->enhanced));
		(void)strlcpy(res->text, "Bad sender address syntax",
		    sizeof(res->text));
	} else if (strcmp(why, QUERY_BAD_RCPT) == 0) {
		(void)strlcpy(res->enhanced, "5.1.3", sizeof(res->enhanced));
		(void)strlcpy(res->text, "Bad recipient address syntax",
		    sizeof(res->text));
	} else {
		res->code = 550;
		(void)strlcpy(res->enhanced, "5.7.1", sizeof(res->enhanced));
		(void)snprintf(res->text, sizeof(res->text),
		    "Policy refused: %s", why);
	}
}

int
policy_query_parse(struct imsg *m, struct policy_query *q,
    struct policy_result *res, const char **why)
{
	char		 addr[POLICY_NAME_MAX], name[POLICY_NAME_MAX];
	const char	*refused = NULL;

	memset(q, 0, sizeof(*q));
	*why = "malformed policy query";
	q->kind = imsg_get_u32(m);
	if (query_str(m, addr, sizeof(addr), "bad client address",
	    &refused) == -1 ||
	    query_str(m, name, sizeof(name), "bad client name", &refused) == -1 ||
	    query_str(m, q->helo, sizeof(q->helo), "bad HELO name",
	    &refused) == -1 ||
	    query_str(m, q->sender, sizeof(q->sender), QUERY_BAD_SENDER,
	    &refused) == -1 ||
	    query_str(m, q->rcpt, sizeof(q->rcpt), QUERY_BAD_RCPT,
	    &refused) == -1 ||
	    query_str(m, q->auth, sizeof(q->auth), "bad authenticated user",
	    &refused) == -1 ||
	    query_str(m, q->verify, sizeof(q->verify), "bad verify result",
	    &refused) == -1 ||
	    query_str(m, q->auth_mech, sizeof(q->auth_mech), "bad auth type",
	    &refused) == -1)
		return -1;
	q->auth_ssf = imsg_get_u32(m);
	if (query_str(m, q->tls_version, sizeof(q->tls_version),
	    "bad TLS version", &refused) == -1)
		return -1;
	q->cipher_bits = imsg_get_u32(m);
	if (query_str(m, q->cert_subject, sizeof(q->cert_subject),
	    "bad certificate subject", &refused) == -1 ||
	    query_str(m, q->cert_issuer, sizeof(q->cert_issuer),
	    "bad certificate issuer", &refused) == -1 ||
	    query_str(m, q->cn_subject, sizeof(q->cn_subject),
	    "bad certificate CN", &refused) == -1 ||
	    query_resolve(m, q->resolve, sizeof(q->resolve)) == -1 ||
	    imsg_get_end(m) == -1)
		return -1;
	if (q->kind < POLICY_CONNECT || q->kind > POLICY_TLS_RCPT) {
		*why = "unknown policy query kind";
		return -1;
	}
	if (refused == NULL &&
	    policy_query_fill(q, addr, name, &refused) == 0)
		return 0;
	*why = refused;
	query_refusal(refused, q->kind, res);
	return 1;
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

	*why = "unknown query kind";
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
	if (query_mailbox(q->sender, 0) == -1) {
		*why = QUERY_BAD_SENDER;
		return -1;
	}
	if ((q->kind == POLICY_RCPT || q->kind == POLICY_TLS_RCPT ||
	    q->rcpt[0] != '\0') && query_mailbox(q->rcpt, 1) == -1) {
		*why = QUERY_BAD_RCPT;
		return -1;
	}
	*why = NULL;
	return 0;
}
