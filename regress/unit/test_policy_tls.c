/*
 * test_policy_tls.c: the TLS rulesets of spec 3-5 on a temporary
 * database: the requirement grammar, every step of the evaluation with
 * its exact reply text, the error pairs, the no-access-map case, the
 * probe orders of TLS_Srv/TLS_Clt/TLS_Rcpt, Try_TLS, the Srv_Features
 * letters, and CERTISSUER/CERTSUBJECT with the +XX encoded DNs of 5.4.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "proto.h"
#include "policy.h"

static char		 tmpdir[] = "/tmp/test_policy_tls.XXXXXX";
static char		 dbpath[256];
static struct policy_env env;

/* The probes of the last decision, one per line. */
static char		 probes[8192];

static void
trace_probe(void *arg, const char *map, const char *key, int result,
    const char *value)
{
	(void)arg;
	(void)map;
	(void)result;
	(void)value;
	(void)strlcat(probes, key, sizeof(probes));
	(void)strlcat(probes, "\n", sizeof(probes));
}

static const struct policy_trace trace = { trace_probe, NULL, NULL };

static void
load(const char *text)
{
	char	 path[300], err[512];
	FILE	*fp;

	(void)snprintf(path, sizeof(path), "%s/access.txt", tmpdir);
	if ((fp = fopen(path, "w")) == NULL || fputs(text, fp) == EOF ||
	    fclose(fp) != 0 || policy_makemap(dbpath, "access", path, err,
	    sizeof(err)) == -1) {
		(void)printf("load: %s\n", err);
		exit(1);
	}
}

/* A query with TLS facts; name/addr are the peer's. */
static struct policy_query
query(uint32_t kind, const char *name, const char *addr, const char *verify,
    uint32_t bits)
{
	struct policy_query	 q;
	const char		*why;

	memset(&q, 0, sizeof(q));
	q.kind = kind;
	if (kind == POLICY_TLS_RCPT || kind == POLICY_RCPT)
		(void)strlcpy(q.rcpt, "x@y", sizeof(q.rcpt));
	if (policy_query_fill(&q, addr, name, &why) == -1) {
		(void)printf("query: %s\n", why);
		exit(1);
	}
	(void)strlcpy(q.verify, verify, sizeof(q.verify));
	q.cipher_bits = bits;
	return q;
}

static struct policy_result
decide(const struct policy_query *q)
{
	struct policy_result	 res;

	probes[0] = '\0';
	policy_access_check(&env, q, &res);
	/* the final recipients are policy_resolve's tests' */
	policy_targets_free(&res.targets);
	return res;
}

static int
is_reply(const struct policy_result *res, uint32_t code, const char *enh,
    const char *text)
{
	if (res->verdict != POLICY_ACCEPT && res->code == code &&
	    strcmp(res->enhanced, enh) == 0 && strcmp(res->text, text) == 0)
		return 1;
	(void)printf("  got %u %u %s \"%s\"\n", res->verdict, res->code,
	    res->enhanced, res->text);
	return 0;
}

static int
is_ok(const struct policy_result *res)
{
	if (res->verdict == POLICY_ACCEPT)
		return 1;
	(void)printf("  got %u %u %s \"%s\"\n", res->verdict, res->code,
	    res->enhanced, res->text);
	return 0;
}

/* Judge facts against one requirement, without the map. */
static struct policy_result
judge(const char *rhs, const char *verify, uint32_t bits, const char *cn)
{
	struct policy_tls_facts	 f;
	struct policy_result	 res;

	memset(&f, 0, sizeof(f));
	memset(&res, 0, sizeof(res));
	f.verify = verify;
	f.cipher_bits = bits;
	f.cn_subject = cn;
	f.cert_subject = "/CN=mx.example";
	f.cert_issuer = "/O=Test+20CA";
	f.tls_name = "mx.example";
	policy_tls_req_check(rhs, 0, &f, &res);
	return res;
}

static void
test_grammar(void)
{
	struct policy_tls_req	 r;

	UNIT_CHECK(policy_tls_req_parse("VERIFY", &r) == 0 && r.verify &&
	    r.bits == 0 && r.errors == POLICY_TLS_DEFAULT, "VERIFY");
	UNIT_CHECK(policy_tls_req_parse("verify:112", &r) == 0 && r.verify &&
	    r.bits == 112, "VERIFY:bits, any case");
	UNIT_CHECK(policy_tls_req_parse("PERM+ENCR:128", &r) == 0 &&
	    !r.verify && r.bits == 128 && r.errors == POLICY_TLS_PERM,
	    "PERM+ENCR:bits");
	UNIT_CHECK(policy_tls_req_parse("TEMP+VERIFY+CN", &r) == 0 &&
	    r.errors == POLICY_TLS_TEMP && r.next == 1 &&
	    r.ext[0].kind == POLICY_TLS_EXT_CN_NAME, "TEMP+VERIFY+CN");
	UNIT_CHECK(policy_tls_req_parse("VERIFY+CN:mx.example++CI:/C=US/O="
	    "Darth+20Mail+20+28Cert+29", &r) == 0 && r.next == 2 &&
	    r.ext[0].kind == POLICY_TLS_EXT_CN &&
	    strcmp(r.ext[0].arg, "mx.example") == 0 &&
	    r.ext[1].kind == POLICY_TLS_EXT_CI && strcmp(r.ext[1].arg,
	    "/C=US/O=Darth+20Mail+20+28Cert+29") == 0,
	    "++ separates extensions; +XX inside a DN is not a separator");
	UNIT_CHECK(policy_tls_req_parse("OK", &r) == -1 &&
	    policy_tls_req_parse("NONE", &r) == -1 &&
	    policy_tls_req_parse("ENCR", &r) == -1 &&
	    policy_tls_req_parse("VERIFY:x", &r) == -1 &&
	    policy_tls_req_parse("VERIFY+XX:y", &r) == -1 &&
	    policy_tls_req_parse("", &r) == -1, "not requirements");
}

static void
test_evaluation(void)
{
	struct policy_result	 r;

	r = judge("VERIFY", "OK", 256, "mx.example");
	UNIT_CHECK(is_ok(&r), "VERIFY with OK");
	r = judge("VERIFY:128", "TRUSTED", 256, "mx.example");
	UNIT_CHECK(is_ok(&r), "VERIFY with TRUSTED (DANE, sendmail 8.16)");
	r = judge("VERIFY", "DANE_FAIL", 256, "");
	UNIT_CHECK(r.verdict != POLICY_ACCEPT, "VERIFY with DANE_FAIL");
	r = judge("VERIFY", "FAIL", 256, "");
	UNIT_CHECK(is_reply(&r, 403, "4.7.0", "authentication failed"),
	    "FAIL: authentication failed");
	r = judge("VERIFY", "NO", 256, "");
	UNIT_CHECK(is_reply(&r, 403, "4.7.0", "not authenticated"), "NO");
	r = judge("VERIFY", "NOT", 256, "");
	UNIT_CHECK(is_reply(&r, 403, "4.7.0", "no authentication requested"),
	    "NOT");
	r = judge("VERIFY", "NONE", 0, "");
	UNIT_CHECK(is_reply(&r, 403, "4.7.0",
	    "other side does not support STARTTLS"), "NONE");
	r = judge("VERIFY", "", 0, "");
	UNIT_CHECK(is_reply(&r, 403, "4.7.0", "authentication required"),
	    "empty verify: authentication required");
	r = judge("PERM+VERIFY", "TEMP", 0, "");
	UNIT_CHECK(is_reply(&r, 503, "5.7.0", "authentication failure TEMP"),
	    "other values, and PERM+ gives 503 5.7.0");
	r = judge("VERIFY:256", "OK", 128, "");
	UNIT_CHECK(is_reply(&r, 403, "4.7.0",
	    "encryption too weak 128 less than 256"), "too weak");
	r = judge("ENCR:112", "FAIL", 128, "");
	UNIT_CHECK(is_ok(&r), "ENCR ignores verify");
	r = judge("ENCR:112+CN:x.example", "NO", 256, "mx.example");
	UNIT_CHECK(is_reply(&r, 403, "4.7.0",
	    "CN mx.example does not match x.example"),
	    "extensions are checked under ENCR too");
	r = judge("VERIFY+CN", "OK", 256, "MX.example");
	UNIT_CHECK(is_ok(&r), "CN alone is the peer name, any case");
	r = judge("VERIFY+CN", "OK", 256, "");
	UNIT_CHECK(is_reply(&r, 403, "4.7.0",
	    "CN  does not match mx.example"), "empty CN: two blanks");
	r = judge("VERIFY+CS:/CN=other", "OK", 256, "mx.example");
	UNIT_CHECK(is_reply(&r, 403, "4.7.0",
	    "Cert Subject /CN=mx.example does not match /CN=other"), "CS");
	r = judge("VERIFY+CI:/o=test+20ca", "OK", 256, "mx.example");
	UNIT_CHECK(is_ok(&r), "CI matches without regard to case");
	r = judge("TEMP+VERIFY+CI:/O=Other", "OK", 256, "mx.example");
	UNIT_CHECK(is_reply(&r, 403, "4.7.0",
	    "Cert Issuer /O=Test+20CA does not match /O=Other"), "CI");
	r = judge(NULL, "SOFTWARE", 0, "");
	UNIT_CHECK(is_reply(&r, 403, "4.7.0", "TLS handshake failed."),
	    "SOFTWARE aborts even without an entry");
	r = judge("PERM+ENCR:1", "PROTOCOL", 0, "");
	UNIT_CHECK(is_reply(&r, 503, "5.7.0", "STARTTLS failed."),
	    "PROTOCOL aborts with the entry's error pair");
	r = judge("OK", "NO", 0, "");
	UNIT_CHECK(is_ok(&r), "a value that is no requirement accepts");
}

static void
test_nomap(void)
{
	struct policy_tls_facts	 f;
	struct policy_result	 r;

	memset(&f, 0, sizeof(f));
	f.verify = "SOFTWARE";
	f.cn_subject = f.cert_subject = f.cert_issuer = f.tls_name = "";
	memset(&r, 0, sizeof(r));
	policy_tls_req_check(NULL, 1, &f, &r);
	UNIT_CHECK(is_reply(&r, 403, "4.7.0", "TLS handshake."),
	    "no access map: SOFTWARE says \"TLS handshake.\"");
	f.verify = "PROTOCOL";
	memset(&r, 0, sizeof(r));
	policy_tls_req_check(NULL, 1, &f, &r);
	UNIT_CHECK(is_ok(&r), "no access map: PROTOCOL is accepted");
}

static void
test_tls_srv(void)
{
	struct policy_query	 q;
	struct policy_result	 r;

	q = query(POLICY_TLS_SRV, "mx1.secure.example", "198.51.100.7",
	    "NO", 256);
	r = decide(&q);
	UNIT_CHECK(strcmp(probes, "tls_srv:mx1.secure.example\n"
	    "tls_srv:secure.example\ntls_srv:example\ntls_srv:198.51.100.7\n"
	    "tls_srv:198.51.100\ntls_srv:198.51\ntls_srv:198\ntls_srv:\n") ==
	    0 && is_ok(&r), "spec 1.5: the TLS_Srv probes, no untagged key");
	load("TLS_Srv:secure.example VERIFY:128\nTLS_Srv: ENCR:64\n"
	    "TLS_Srv:198.51.100 PERM+VERIFY\n");
	r = decide(&q);
	UNIT_CHECK(is_reply(&r, 403, "4.7.0", "not authenticated") &&
	    strcmp(r.key, "tls_srv:secure.example") == 0,
	    "the name decides before the address");
	q = query(POLICY_TLS_SRV, "other.example", "198.51.100.9", "FAIL",
	    256);
	r = decide(&q);
	UNIT_CHECK(is_reply(&r, 503, "5.7.0", "authentication failed"),
	    "then the address");
	q = query(POLICY_TLS_SRV, "plain.example", "192.0.2.1", "NONE", 0);
	r = decide(&q);
	UNIT_CHECK(is_reply(&r, 403, "4.7.0",
	    "encryption too weak 0 less than 64"), "then the bare default");
}

static void
test_tls_clt_and_mail(void)
{
	struct policy_query	 q;
	struct policy_result	 r;

	load("TLS_Clt:[127.0.0.1] VERIFY\nTLS_Clt:192.0.2.5 ENCR:128\n");
	q = query(POLICY_TLS_CLT, "", "127.0.0.1", "NO", 256);
	r = decide(&q);
	UNIT_CHECK(is_reply(&r, 403, "4.7.0", "not authenticated"),
	    "TLS_Clt after STARTTLS");
	q.kind = POLICY_MAIL;
	(void)strlcpy(q.sender, "a@b.example", sizeof(q.sender));
	r = decide(&q);
	UNIT_CHECK(is_reply(&r, 403, "4.7.0", "not authenticated") &&
	    r.ruleset != NULL && strcmp(r.ruleset, "tls_client") == 0,
	    "tls_client runs first at MAIL");
	q.sender[0] = '\0';
	r = decide(&q);
	UNIT_CHECK(r.verdict == POLICY_TEMPFAIL && r.code == 403, "even for <>");
	q = query(POLICY_MAIL, "", "127.0.0.1", "", 0);
	r = decide(&q);
	UNIT_CHECK(is_reply(&r, 403, "4.7.0", "authentication required"),
	    "no STARTTLS: authentication required");
	q = query(POLICY_MAIL, "", "192.0.2.5", "OK", 256);
	(void)strlcpy(q.sender, "a@b.example", sizeof(q.sender));
	r = decide(&q);
	UNIT_CHECK(is_ok(&r), "strong enough");
}

static void
test_tls_rcpt(void)
{
	struct policy_query	 q;
	struct policy_result	 r;

	load("TLS_Rcpt:secure.example VERIFY\nTLS_Rcpt:boss@ ENCR:256\n");
	q = query(POLICY_TLS_RCPT, "mx.example", "192.0.2.1", "NO", 128);
	(void)strlcpy(q.rcpt, "Joe+x@Sub.Secure.example", sizeof(q.rcpt));
	r = decide(&q);
	UNIT_CHECK(strcmp(probes, "tls_rcpt:joe+x@sub.secure.example\n"
	    "tls_rcpt:joe+*@sub.secure.example\n"
	    "tls_rcpt:joe@sub.secure.example\ntls_rcpt:joe+x@\n"
	    "tls_rcpt:joe+*@\ntls_rcpt:joe@\ntls_rcpt:sub.secure.example\n"
	    "tls_rcpt:secure.example\n") == 0 &&
	    is_reply(&r, 403, "4.7.0", "not authenticated"),
	    "F, U, D, then E; parents of the domain");
	(void)strlcpy(q.rcpt, "boss@else.example", sizeof(q.rcpt));
	r = decide(&q);
	UNIT_CHECK(is_reply(&r, 403, "4.7.0",
	    "encryption too weak 128 less than 256"), "user@ entry");
	(void)strlcpy(q.rcpt, "x@else.example", sizeof(q.rcpt));
	r = decide(&q);
	UNIT_CHECK(is_ok(&r), "no entry: ok");
}

static void
test_try_tls(void)
{
	struct policy_query	 q;
	struct policy_result	 r;

	load("Try_TLS: NO\nTry_TLS:good.example YES\n");
	q = query(POLICY_TRY_TLS, "mx.good.example", "192.0.2.1", "", 0);
	r = decide(&q);
	UNIT_CHECK(is_ok(&r), "a YES entry wins over the NO default");
	q = query(POLICY_TRY_TLS, "mx.bad.example", "192.0.2.2", "", 0);
	r = decide(&q);
	UNIT_CHECK(is_reply(&r, 550, "5.7.1",
	    "do not try TLS with mx.bad.example [192.0.2.2]"), "NO");
}

static void
test_features(void)
{
	struct policy_query	 q;
	struct policy_result	 r;
	uint32_t		 set, clr;

	UNIT_CHECK(policy_tls_features_parse("S p AP\tv", &set, &clr) == 0 &&
	    set == (POLICY_FEATURE('p') | POLICY_FEATURE('v')) &&
	    clr == (POLICY_FEATURE('s') | POLICY_FEATURE('a')),
	    "first letter of each word; case sets or clears");
	UNIT_CHECK(policy_tls_features_parse("TempFail", &set, &clr) == -1,
	    "temp");
	load("Srv_Features:[127.0.0.1] S P\nSrv_Features: v\n"
	    "Srv_Features:192.0.2.9 tempfail\nConnect:192.0.2.66 REJECT\n");
	q = query(POLICY_CONNECT, "", "127.0.0.1", "", 0);
	r = decide(&q);
	UNIT_CHECK(r.verdict == POLICY_ACCEPT && r.features_clear ==
	    (POLICY_FEATURE('s') | POLICY_FEATURE('p')) && r.features_set == 0,
	    "connect carries the letters of the first match only");
	q = query(POLICY_CONNECT, "", "192.0.2.9", "", 0);
	r = decide(&q);
	UNIT_CHECK(r.verdict == POLICY_ACCEPT &&
	    (r.flags & POLICY_F_SESSION_TEMP), "temp: a tempfail session");
	q = query(POLICY_CONNECT, "", "192.0.2.66", "", 0);
	r = decide(&q);
	UNIT_CHECK(r.verdict == POLICY_REJECT && r.features_set == 0,
	    "no srv_features after a rejected connect");
}

static void
test_certissuer(void)
{
	struct policy_query	 q;
	struct policy_result	 r;
	const char		*issuer = "/C=US/ST=California/O=endmail.org/"
	    "OU=private/CN=Darth+20Mail+20+28Cert+29/"
	    "emailAddress=darth+2Bcert@endmail.org";

	load("CERTISSUER:/C=US/ST=California/O=endmail.org/OU=private/"
	    "CN=Darth+20Mail+20+28Cert+29/emailAddress=darth+2Bcert@"
	    "endmail.org SUBJECT\n"
	    "CERTSUBJECT:/C=US/ST=California/O=endmail.org/OU=private/"
	    "CN=DeathStar/emailAddress=deathstar@endmail.org RELAY\n"
	    "CERTISSUER:/CN=Direct+20CA RELAY\n");
	q = query(POLICY_RCPT, "", "192.0.2.50", "OK", 256);
	(void)strlcpy(q.cert_issuer, issuer, sizeof(q.cert_issuer));
	(void)strlcpy(q.cert_subject, "/C=US/ST=California/O=endmail.org/"
	    "OU=private/CN=DeathStar/emailAddress=deathstar@endmail.org",
	    sizeof(q.cert_subject));
	(void)strlcpy(q.rcpt, "u@remote.example", sizeof(q.rcpt));
	r = decide(&q);
	UNIT_CHECK(r.verdict == POLICY_ACCEPT && (r.flags & POLICY_F_RELAY) &&
	    (r.flags & POLICY_F_RELAY_CERT), "spec 5.4: SUBJECT chain");
	(void)strlcpy(q.cert_subject, "/CN=other", sizeof(q.cert_subject));
	r = decide(&q);
	UNIT_CHECK(is_reply(&r, 550, "5.7.1",
	    "<u@remote.example>... Relaying denied"),
	    "another subject of that issuer: nothing granted");
	(void)strlcpy(q.cert_issuer, "/CN=Direct+20CA", sizeof(q.cert_issuer));
	(void)strlcpy(q.verify, "FAIL", sizeof(q.verify));
	r = decide(&q);
	UNIT_CHECK(r.verdict == POLICY_REJECT,
	    "an unverified certificate grants nothing");
	(void)strlcpy(q.verify, "OK", sizeof(q.verify));
	r = decide(&q);
	UNIT_CHECK(r.verdict == POLICY_ACCEPT && (r.flags & POLICY_F_RELAY),
	    "CERTISSUER RELAY");
}

static void
test_tmpf(void)
{
	struct policy_query	 q;
	struct policy_result	 r;
	struct policy_env	 saved = env;

	env.dbfail = 1;
	q = query(POLICY_TLS_SRV, "mx.example", "192.0.2.1", "OK", 256);
	r = decide(&q);
	UNIT_CHECK(is_reply(&r, 451, "4.3.0",
	    "Temporary system failure. Please try again later."),
	    "TMPF in a requirement lookup: 451 4.3.0");
	q.kind = POLICY_TRY_TLS;
	r = decide(&q);
	UNIT_CHECK(r.verdict == POLICY_TEMPFAIL, "TMPF suppresses STARTTLS");
	env = saved;
}

int
main(void)
{
	char	 err[256];

	if (mkdtemp(tmpdir) == NULL)
		return 1;
	(void)snprintf(dbpath, sizeof(dbpath), "%s/maps.db", tmpdir);
	load("Connect:192.0.2.250 OK\n");
	if (policy_db_open(dbpath, 0, &env.db, err, sizeof(err)) == -1) {
		(void)printf("open: %s\n", err);
		return 1;
	}
	env.hostname = "mx.test";
	env.skip = 1;
	env.trace = &trace;
	test_grammar();
	test_evaluation();
	test_nomap();
	test_tls_srv();
	test_tls_clt_and_mail();
	test_tls_rcpt();
	test_try_tls();
	test_features();
	test_certissuer();
	test_tmpf();
	policy_db_close(env.db);
	(void)snprintf(err, sizeof(err), "rm -rf %s", tmpdir);
	UNIT_CHECK(system(err) == 0, "scratch directory removed");
	return unit_done();
}
