/*
 * test_policy_trace.c: the trace a decision reports (what "smtpctl
 * explain" prints): every probe in order with its result, the same keys
 * the probe functions make (spec 1.5), stopping at the first hit; TMPF
 * reported; the SKIP option (spec 1.2 step 3) with and without it;
 * policy_query_fill(); and the bare-tag default sequence for TLS_Srv.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "unit_policy.h"
#include "proto.h"
#include "policy.h"

#define TRACE_MAX	128

/* every local name is a user here: these tests are about access */
static int
any_user(void *arg, const char *user)
{
	(void)arg;
	(void)user;
	return 1;
}

static char		 tmpdir[] = "/tmp/test_policy_trace.XXXXXX";
static char		 dbpath[256];

/* What the observer saw. */
static struct {
	char	 line[TRACE_MAX][POLICY_KEY_MAX + 64];
	int	 n;
	int	 steps;
} seen;

static void
on_probe(void *arg, const char *map, const char *key, int r,
    const char *value)
{
	(void)arg;
	if (seen.n < TRACE_MAX)
		(void)snprintf(seen.line[seen.n++], sizeof(seen.line[0]),
		    "%s %s %s", map, key, r == POLICY_DB_NOTFOUND ? "?" :
		    r == POLICY_DB_TMPF ? "TMPF" : value);
}

static void
on_step(void *arg, const char *what)
{
	(void)arg;
	(void)what;
	seen.steps++;
}

static const struct policy_trace trace = { on_probe, on_step, NULL };

static void
load(const char *map, const char *text)
{
	unit_policy_load(tmpdir, dbpath, map, text);
}

/* Decide one query with the trace on. */
static struct policy_result
ask(struct policy_env *env, uint32_t kind, const char *addr, const char *name,
    const char *sender, const char *rcpt)
{
	struct policy_query	 q;
	struct policy_result	 res;
	const char		*why;

	memset(&q, 0, sizeof(q));
	memset(&seen, 0, sizeof(seen));
	q.kind = kind;
	(void)strlcpy(q.sender, sender, sizeof(q.sender));
	(void)strlcpy(q.rcpt, rcpt, sizeof(q.rcpt));
	if (policy_query_fill(&q, addr, name, &why) == -1) {
		(void)printf("fill: %s\n", why);
		exit(1);
	}
	env->trace = &trace;
	policy_access_check(env, &q, &res);
	/* the final recipients are policy_resolve's tests' */
	policy_targets_free(&res.targets);
	return res;
}

/* 1 if the access probes seen are exactly the NULL-ended keys given. */
static int
saw(const char *first, ...)
{
	va_list		 ap;
	const char	*k;
	char		 want[POLICY_KEY_MAX + 64];
	int		 i = 0, good = 1;

	va_start(ap, first);
	for (k = first; k != NULL; k = va_arg(ap, const char *), i++) {
		(void)snprintf(want, sizeof(want), "%s", k);
		if (i >= seen.n || strcmp(seen.line[i], want) != 0) {
			(void)printf("  probe %d: want \"%s\" got \"%s\"\n", i,
			    want, i < seen.n ? seen.line[i] : "(none)");
			good = 0;
			break;
		}
	}
	va_end(ap);
	if (good && i != seen.n) {
		(void)printf("  %d more probes, first \"%s\"\n", seen.n - i,
		    seen.line[i]);
		good = 0;
	}
	return good;
}

static void
test_connect_sequence(struct policy_env *env)
{
	struct policy_result	 r;

	r = ask(env, POLICY_CONNECT, "192.0.2.10", "mail.sub.example.com", "",
	    "");
	UNIT_CHECK(r.verdict == POLICY_ACCEPT && saw(
	    "access connect:mail.sub.example.com ?",
	    "access mail.sub.example.com ?",
	    "access connect:sub.example.com ?", "access sub.example.com ?",
	    "access connect:example.com ?", "access example.com ?",
	    "access connect:com ?", "access com ?",
	    "access connect:192.0.2.10 ?", "access 192.0.2.10 ?",
	    "access connect:192.0.2 ?", "access 192.0.2 ?",
	    "access connect:192.0 ?", "access 192.0 ?",
	    "access connect:192 ?", "access 192 ?",
	    "access srv_features:mail.sub.example.com ?",
	    "access srv_features:sub.example.com ?",
	    "access srv_features:example.com ?", "access srv_features:com ?",
	    "access srv_features:192.0.2.10 ?",
	    "access srv_features:192.0.2 ?", "access srv_features:192.0 ?",
	    "access srv_features:192 ?", "access srv_features: ?", NULL) &&
	    seen.steps == 5,
	    "check_relay trace: D then A, tagged then untagged (spec 1.5), "
	    "then srv_features: D, A, tag only (spec 4.2)");
	r = ask(env, POLICY_CONNECT, "198.51.100.7", "", "", "");
	UNIT_CHECK(r.verdict == POLICY_REJECT && saw(
	    "access connect:[198.51.100.7] ?", "access [198.51.100.7] ?",
	    "access connect:[198.51.100] ?", "access [198.51.100] ?",
	    "access connect:[198.51] ?", "access [198.51] ?",
	    "access connect:[198] ?", "access [198] ?",
	    "access connect:198.51.100.7 ?", "access 198.51.100.7 ?",
	    "access connect:198.51.100 REJECT", NULL),
	    "an unresolved client: bracketed D, then A up to the first hit");
}

static void
test_skip(struct policy_env *env)
{
	struct policy_result	 r;

	r = ask(env, POLICY_CONNECT, "198.51.100.7", "h.skip.example", "", "");
	UNIT_CHECK(r.verdict == POLICY_REJECT && strcmp(r.key,
	    "connect:198.51.100") == 0 && saw(
	    "access connect:h.skip.example ?", "access h.skip.example ?",
	    "access connect:skip.example SKIP",
	    "access connect:198.51.100.7 ?", "access 198.51.100.7 ?",
	    "access connect:198.51.100 REJECT", NULL),
	    "SKIP ends D (no Connect:example probe) and A still runs");
	r = ask(env, POLICY_CONNECT, "203.0.113.10", "h.test", "", "");
	UNIT_CHECK(r.verdict == POLICY_ACCEPT && r.key[0] == '\0',
	    "SKIP ends A as not found: connect accepted");
	env->skip = 0;
	r = ask(env, POLICY_CONNECT, "203.0.113.10", "h.test", "", "");
	UNIT_CHECK(r.verdict == POLICY_REJECT && r.code == 553 &&
	    strcmp(r.text, "SKIP") == 0,
	    "without the skip option SKIP is unknown: 553 5.3.0 SKIP");
	env->skip = 1;
	r = ask(env, POLICY_MAIL, "127.0.0.1", "", "a@skip.example", "");
	UNIT_CHECK(r.verdict == POLICY_REJECT && r.code == 553,
	    "SKIP at MAIL is an unknown value (spec 2.2)");
}

static void
test_rcpt_and_tmpf(struct policy_env *env)
{
	struct policy_result	 r;

	r = ask(env, POLICY_RCPT, "127.0.0.1", "", "", "bob@mx.test");
	UNIT_CHECK(r.verdict == POLICY_ACCEPT && (r.flags & POLICY_F_LOCAL) &&
	    saw("virtusertable bob@mx.test ?", "virtusertable @mx.test ?",
	    "access to:bob@mx.test ?", "access bob@mx.test ?",
	    "access to:bob@ ?", "access bob@ ?", "access to:mx.test ?",
	    "access mx.test ?", "access to:test ?", "access test ?",
	    "aliases bob ?", NULL) &&
	    seen.steps >= 3, "RCPT to the local host: the virtusertable "
	    "once (ruleset 0), F, U, D To: probes, then the aliases "
	    "(recipient())");
	env->dbfail = 1;
	r = ask(env, POLICY_CONNECT, "192.0.2.1", "", "", "");
	UNIT_CHECK(r.verdict == POLICY_TEMPFAIL &&
	    saw("access connect:[192.0.2.1] TMPF", NULL),
	    "a failing database: TMPF reported and probing stops");
	env->dbfail = 0;
}

static void
test_fill_and_tagdefault(void)
{
	struct policy_query	 q;
	struct policy_keys	 k;
	const char		*why;

	memset(&q, 0, sizeof(q));
	q.kind = POLICY_MAIL;
	(void)strlcpy(q.sender, "<Joe@Example.org>", sizeof(q.sender));
	UNIT_CHECK(policy_query_fill(&q, "2001:db8::5", "", &why) == 0 &&
	    strcmp(q.addr, "IPv6:2001:db8:0:0:0:0:0:5") == 0 &&
	    strcmp(q.name, "[IPv6:2001:db8:0:0:0:0:0:5]") == 0 &&
	    strcmp(q.sender, "Joe@Example.org") == 0,
	    "policy_query_fill: canonical address, [addr] name, no brackets");
	UNIT_CHECK(policy_query_fill(&q, "not-an-ip", "", &why) == -1 &&
	    strstr(why, "address") != NULL, "a bad address is named");
	q.kind = POLICY_RCPT;
	q.rcpt[0] = '\0';
	UNIT_CHECK(policy_query_fill(&q, "192.0.2.1", "", &why) == -1,
	    "RCPT needs a recipient");
	policy_keys_init(&k);
	(void)policy_probe_tagdefault(&k, "TLS_Srv", "mx1.secure.example",
	    "198.51.100.7");
	UNIT_CHECK(k.n == 8 && strcmp(k.key[0], "tls_srv:mx1.secure.example") ==
	    0 && strcmp(k.key[3], "tls_srv:198.51.100.7") == 0 &&
	    strcmp(k.key[7], "tls_srv:") == 0,
	    "tls_server sequence of spec 1.5 ends with the bare tag");
	policy_keys_free(&k);
}

int
main(void)
{
	struct policy_env	 env;
	struct policy_db	*db;
	char			 err[256];

	if (mkdtemp(tmpdir) == NULL)
		return 1;
	(void)snprintf(dbpath, sizeof(dbpath), "%s/maps.db", tmpdir);
	load("access", "Connect:198.51.100 REJECT\n"
	    "Connect:skip.example SKIP\nConnect:example REJECT\n"
	    "Connect:203.0.113.10 SKIP\nConnect:203.0.113 REJECT\n"
	    "From:skip.example SKIP\n");
	if (policy_db_open(dbpath, 0, &db, err, sizeof(err)) == -1) {
		(void)printf("open: %s\n", err);
		return 1;
	}
	policy_env_init(&env, db, 0, "mx.test");
	UNIT_CHECK(env.skip == 1 && env.trace == NULL,
	    "policy_env_init: skip on, nobody watching");
	env.user_exists = any_user;
	test_connect_sequence(&env);
	test_skip(&env);
	test_rcpt_and_tmpf(&env);
	test_fill_and_tagdefault();
	policy_db_close(db);
	(void)snprintf(err, sizeof(err), "rm -rf %s", tmpdir);
	UNIT_CHECK(system(err) == 0, "scratch directory removed");
	return unit_done();
}
