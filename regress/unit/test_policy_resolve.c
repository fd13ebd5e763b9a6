/*
 * test_policy_resolve.c: what a recipient resolves to, on a temporary
 * database: local names ({w}), the virtusertable probes of spec 9.2 and
 * their %1 %2 %3, error values, virtual domains, aliases (lists, owners,
 * self reference, "\user", duplicates, the depth and expansion limits),
 * local users (the callback, pending, a temporary failure, the map) and
 * what policy_resolve_parse() refuses before check_rcpt.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "unit_policy.h"
#include "config.h"
#include "proto.h"
#include "policy.h"

static char		 tmpdir[] = "/tmp/test_policy_resolve.XXXXXX";
static char		 dbpath[256];
static struct policy_env env;
static struct config	*cf;
static int		 user_answer = 1;

static void
load(const char *map, const char *text)
{
	unit_policy_load(tmpdir, dbpath, map, text);
}

/* users: alice, bob, carol; "slow" is being looked up; the rest none */
static int
users(void *arg, const char *user)
{
	(void)arg;
	if (strcmp(user, "slow") == 0)
		return POLICY_USER_PENDING;
	if (strcmp(user, "broken") == 0)
		return POLICY_USER_TMPF;
	if (strcmp(user, "alice") == 0 || strcmp(user, "bob") == 0 ||
	    strcmp(user, "carol") == 0)
		return user_answer;
	return 0;
}

/* The targets of a result as "kind:value[>sender][=error]" joined by " ". */
static void
targets_text(const struct policy_targets *ts, char *got, size_t len)
{
	size_t	 i;

	got[0] = '\0';
	for (i = 0; i < ts->n; i++) {
		if (i > 0)
			(void)strlcat(got, " ", len);
		(void)strlcat(got, policy_target_kind_name(ts->t[i].kind), len);
		(void)strlcat(got, ":", len);
		(void)strlcat(got, ts->t[i].value, len);
		if (ts->t[i].sender[0] != '\0') {
			(void)strlcat(got, ">", len);
			(void)strlcat(got, ts->t[i].sender, len);
		}
		if (ts->t[i].error[0] != '\0') {
			(void)strlcat(got, "=", len);
			(void)strlcat(got, ts->t[i].error, len);
		}
	}
}

/* Compare a result with want; prints what it got if it differs. */
static int
matches(const char *what, int r, struct policy_targets *ts, int status,
    const char *want)
{
	char	 got[8192];

	got[0] = '\0';
	if (r == POLICY_RESOLVE_OK) {
		targets_text(ts, got, sizeof(got));
		policy_targets_free(ts);
	}
	if (r == status && strcmp(got, want) == 0)
		return 1;
	(void)printf("  %s: got %d \"%s\"\n", what, r, got);
	return 0;
}

/* Resolve rcpt and compare with want (see targets_text()). */
static int
resolves(const char *rcpt, int status, const char *want)
{
	struct policy_targets	 ts;

	return matches(rcpt, policy_resolve(&env, rcpt, NULL, &ts), &ts,
	    status, want);
}

/* Expand the text of a .forward of self ("": an :include: file). */
static int
expands(const char *self, const char *text, size_t depth, int status,
    const char *want)
{
	struct policy_targets	 ts;

	return matches(text, policy_resolve_expand(&env, self, "the file",
	    text, depth, &ts), &ts, status, want);
}

static void
test_local_names(void)
{
	UNIT_CHECK(policy_domain_local(&env, "mx.test") == 1 &&
	    policy_domain_local(&env, "mx") == 1 &&
	    policy_domain_local(&env, "localhost") == 1 &&
	    policy_domain_local(&env, "localhost.localdomain") == 1 &&
	    policy_domain_local(&env, "[127.0.0.1]") == 1 &&
	    policy_domain_local(&env, "Other.Test") == 1,
	    "local: hostname, its first label, localhost(.localdomain), a "
	    "listener literal, local-host-names");
	UNIT_CHECK(policy_domain_local(&env, "sub.mx.test") == 0 &&
	    policy_domain_local(&env, "[127.0.0.2]") == 0 &&
	    policy_domain_local(&env, "test") == 0,
	    "not local: a subdomain, another literal, the parent");
	UNIT_CHECK(policy_domain_virtual(&env, "virt.test") == 1 &&
	    policy_domain_virtual(&env, "mx.test") == 0,
	    "virtual-domains is its own set");
}

static void
test_virtusertable(void)
{
	UNIT_CHECK(resolves("joe+x@v1.test", 0, "remote:1-joe+x@a.test"),
	    "probe 1: u+d@dom, %1 is the whole local part");
	UNIT_CHECK(resolves("kim+x@v1.test", 0, "remote:2-kim-x@a.test"),
	    "probe 2: u++@dom with a detail, %1 %2");
	UNIT_CHECK(resolves("kim+@v1.test", 0, "remote:3-kim-@a.test"),
	    "an empty detail skips u++ and takes u+*");
	UNIT_CHECK(resolves("lee+x@v1.test", 0, "remote:4-lee+x@a.test"),
	    "probe 4: u@dom, %3 is +detail");
	UNIT_CHECK(resolves("zed+x@v1.test", 0, "remote:5-zed-x@a.test"),
	    "probe 5: ++@dom");
	UNIT_CHECK(resolves("zed+@v1.test", 0, "remote:6-zed@a.test"),
	    "probe 6: +*@dom");
	UNIT_CHECK(resolves("zed@v1.test", 0, "remote:7-zed@a.test"),
	    "probe 7: @dom without a detail");
	UNIT_CHECK(resolves("Zoe+Tag@Other.Test", 0,
	    "remote:Zoe+Tag@remote.test"),
	    "a catch-all %1%3 keeps the detail, case kept");
	UNIT_CHECK(resolves("info@mx.test", 0, "mailbox:alice"),
	    "a bare value is a local user");
	UNIT_CHECK(resolves("no@mx.test", 0, "error:no@mx.test=550 5.0.0 "
	    "<no@mx.test>... No such user here"),
	    "error:nouser 550 text (spec 2.1)");
	UNIT_CHECK(resolves("gone@mx.test", 0, "error:gone@mx.test=550 5.1.1 "
	    "<gone@mx.test>... User unknown"),
	    "error:5.1.1:550 text");
	UNIT_CHECK(resolves("x@virt.test", 0, "mailbox:carol"),
	    "a virtual domain gets the virtusertable");
	UNIT_CHECK(resolves("y@virt.test", 0, "error:y@virt.test=550 5.1.1 "
	    "<y@virt.test>... User unknown"),
	    "a virtual domain without an entry: User unknown");
	UNIT_CHECK(resolves("x@sub.virt.test", 0, "remote:x@sub.virt.test"),
	    "not its subdomains");
	UNIT_CHECK(resolves("x@odd.test", 0, "error:x@odd.test=553 5.1.3 "
	    "<x@odd.test>... Resolves to an invalid recipient"),
	    "a value that expands to no address fails, inside policyd");
}

static void
test_aliases(void)
{
	UNIT_CHECK(resolves("staff@mx.test", 0,
	    "mailbox:alice>owner-staff@mx.test "
	    "remote:dave@far.test>owner-staff@mx.test "
	    "program:|/bin/prog -x>owner-staff@mx.test "
	    "file:/var/tmp/f>owner-staff@mx.test "
	    "include::include:/etc/list>owner-staff@mx.test"),
	    "a list: local, remote, program, file, include; owner-staff");
	UNIT_CHECK(resolves("dup@mx.test", 0, "mailbox:alice mailbox:carol"),
	    "duplicates and a nested list are kept once");
	UNIT_CHECK(resolves("bob@mx.test", 0, "mailbox:bob remote:b@far.test"),
	    "a list that names itself: its own mailbox");
	UNIT_CHECK(resolves("carl@mx.test", 0, "error:carl@mx.test=550 5.1.1 "
	    "<carl@mx.test>... User unknown remote:c@far.test"),
	    "the list named as name@local: itself too (no such user here)");
	UNIT_CHECK(resolves("root@localhost", 0, "mailbox:\\alice"),
	    "\\alice: the mailbox, marked so its .forward is not read");
	UNIT_CHECK(resolves("a1@mx.test", 0, "error:a12@mx.test=554 5.4.6 "
	    "aliasing/forwarding loop broken (11 aliases deep; 10 max)"),
	    "a 12-deep chain stops at level 11");
	UNIT_CHECK(resolves("loop1@mx.test", 0, ""),
	    "a loop of two expands each once and ends with nothing");
	UNIT_CHECK(resolves("mixed@mx.test", 0, "mailbox:alice "
	    "error:nosuch@mx.test=550 5.1.1 <nosuch@mx.test>... User unknown"),
	    "an unknown member fails alone");
	UNIT_CHECK(resolves("lists+x@mx.test", 0, "mailbox:carol"),
	    "user+* is looked up before user");
	UNIT_CHECK(resolves("Postmaster", 0, "mailbox:root"),
	    "postmaster without an alias: root's mailbox");
	UNIT_CHECK(resolves("remote@far.test", 0, "remote:remote@far.test"),
	    "a remote address is never aliased");
	UNIT_CHECK(resolves("bob@lall.test", 0, "mailbox:bob remote:b@far.test")
	    && resolves("x@luser.test", 0, "mailbox:carol"),
	    "mailertable local: and local:user make a domain's users local");
	UNIT_CHECK(resolves("u@dead.test", 0, "error:u@dead.test=550 5.1.2 "
	    "<u@dead.test>... Host gone"),
	    "a mailertable error fails the address");
}

static void
test_users(void)
{
	UNIT_CHECK(resolves("alice+box@mx.test", 0, "mailbox:alice+box"),
	    "a user's mailbox keeps the detail");
	UNIT_CHECK(resolves("nobody1@mx.test", 0, "error:nobody1@mx.test=550 "
	    "5.1.1 <nobody1@mx.test>... User unknown"),
	    "an unknown user");
	UNIT_CHECK(resolves("slow@mx.test", POLICY_RESOLVE_PENDING, ""),
	    "a user being looked up: pending");
	UNIT_CHECK(resolves("broken@mx.test", POLICY_RESOLVE_TMPF, ""),
	    "a failed lookup: TMPF");
	cf->local_users = LOCAL_USERS_MAP;
	UNIT_CHECK(resolves("mapuser@mx.test", 0, "mailbox:mapuser") &&
	    resolves("alice@mx.test", 0, "error:alice@mx.test=550 5.1.1 "
	    "<alice@mx.test>... User unknown"),
	    "local users map: the map only");
	cf->local_users = LOCAL_USERS_PASSWD;
	cf->limit_alias_expansion = 2;
	UNIT_CHECK(resolves("staff@mx.test", POLICY_RESOLVE_TOOMANY, ""),
	    "more targets than limit alias-expansion");
	cf->limit_alias_expansion = 1000;
	cf->limit_alias_depth = 12;
	UNIT_CHECK(resolves("a1@mx.test", 0, "remote:x@far.test"),
	    "limit alias-depth 12 lets the chain through");
	cf->limit_alias_depth = 10;
}

static void
test_parse(void)
{
	struct policy_result	 res;
	struct policy_parsed	 pp;

	memset(&res, 0, sizeof(res));
	UNIT_CHECK(policy_resolve_parse(&env, "no@mx.test", &res, &pp) == 1 &&
	    res.code == 550 && strcmp(res.enhanced, "5.0.0") == 0,
	    "parse: a virtusertable error is the reply before check_rcpt");
	memset(&res, 0, sizeof(res));
	UNIT_CHECK(policy_resolve_parse(&env, "y@virt.test", &res, &pp) == 1 &&
	    res.code == 550 && strcmp(res.text, "<y@virt.test>... User "
	    "unknown") == 0, "parse: an unknown user of a virtual domain");
	memset(&res, 0, sizeof(res));
	UNIT_CHECK(policy_resolve_parse(&env, "u@dead.test", &res, &pp) == 1 &&
	    res.code == 550 && strcmp(res.enhanced, "5.1.2") == 0,
	    "parse: a mailertable error");
	UNIT_CHECK(policy_resolve_parse(&env, "nosuch@mx.test", &res,
	    &pp) == 0 && !pp.remote,
	    "parse: an unknown local user waits for recipient()");
	UNIT_CHECK(policy_resolve_parse(&env, "u@far.test", &res,
	    &pp) == 0 && pp.remote,
	    "parse: a remote recipient that goes out as it is");
}

static void
test_expand(void)
{
	UNIT_CHECK(expands("alice", "# to both\n\\alice\n  bob@far.test, "
	    "\"|/usr/bin/vacation alice\"\n\n", 1, 0, "mailbox:\\alice "
	    "remote:bob@far.test program:|/usr/bin/vacation alice"),
	    ".forward: comments and blank lines out, one or more per line");
	UNIT_CHECK(expands("alice", "alice@mx.test\nstaff\n", 1, 0,
	    "mailbox:\\alice remote:dave@far.test>owner-staff@mx.test "
	    "program:|/bin/prog -x>owner-staff@mx.test "
	    "file:/var/tmp/f>owner-staff@mx.test "
	    "include::include:/etc/list>owner-staff@mx.test"),
	    ".forward: its user is its mailbox, other names are aliased");
	UNIT_CHECK(expands("", "carol\n/tmp/x\n", 2, 0,
	    "mailbox:carol file:/tmp/x"),
	    ":include: file: a local user keeps its .forward");
	UNIT_CHECK(expands("bob", "carol\n", 11, 0, "error:bob@mx.test=554 "
	    "5.4.6 aliasing/forwarding loop broken (11 aliases deep; 10 "
	    "max)"),
	    "forwarding past limit alias-depth: the loop is broken");
	UNIT_CHECK(expands("bob", "carol\001\n", 1, 0, "error:bob@mx.test="
	    "554 5.3.0 the file is not a list of addresses"),
	    "a file with a control octet fails as a whole");
	UNIT_CHECK(expands("bob", "carol,\n  dave@far.test\r\n", 1, 0,
	    "mailbox:carol remote:dave@far.test"),
	    "a list split over lines with a comma at the end, CRLF lines");
	UNIT_CHECK(expands("bob", "# nothing\n", 1, 0, ""),
	    "a file of comments: no targets");
}

int
main(void)
{
	char	 err[512], *a;
	size_t	 i;

	if (mkdtemp(tmpdir) == NULL)
		return 1;
	(void)snprintf(dbpath, sizeof(dbpath), "%s/maps.db", tmpdir);
	load("local-host-names", "other.test\n");
	load("virtual-domains", "virt.test\nv1.test\nodd.test\n");
	load("local-users", "mapuser\n");
	load("mailertable", "dead.test error:5.1.2:550 Host gone\n"
	    "lall.test local:\nluser.test local:carol\n");
	load("virtusertable", "joe+x@v1.test 1-%1@a.test\n"
	    "kim++@v1.test 2-%1-%2@a.test\nkim+*@v1.test 3-%1-%2@a.test\n"
	    "lee@v1.test 4-%1%3@a.test\n++@v1.test 5-%1-%2@a.test\n"
	    "+*@v1.test 6-%1%2@a.test\n@v1.test 7-%1@a.test\n"
	    "@other.test %1%3@remote.test\ninfo@mx.test alice\n"
	    "no@mx.test error:nouser 550 No such user here\n"
	    "gone@mx.test error:5.1.1:550 User unknown\n"
	    "x@virt.test carol\n@odd.test %2@far.test\n");
	if ((a = malloc(4096)) == NULL)
		return 1;
	(void)strlcpy(a, "staff: alice, dave@far.test, \"|/bin/prog -x\", "
	    "/var/tmp/f, :include:/etc/list\nowner-staff: alice\n"
	    "dup: alice, alice, team, carol\nteam: alice, carol\n"
	    "bob: bob, b@far.test\ncarl: Carl@MX.test, c@far.test\n"
	    "root: \\alice\n"
	    "loop1: loop2\nloop2: loop1\nmixed: alice, nosuch\n"
	    "lists+*: carol\nlists: dave@far.test\n", 4096);
	for (i = 1; i < 12; i++)
		(void)snprintf(a + strlen(a), 4096 - strlen(a),
		    "a%zu: a%zu\n", i, i + 1);
	(void)strlcat(a, "a12: x@far.test\n", 4096);
	load("aliases", a);
	free(a);
	(void)strlcpy(err, "hostname \"mx.test\"\n"
	    "listen on 127.0.0.1 port 2525\n", sizeof(err));
	if ((cf = config_parse_buffer(err, strlen(err))) == NULL) {
		(void)printf("config does not parse\n");
		return 1;
	}
	if (policy_db_open(dbpath, 0, &env.db, err, sizeof(err)) == -1) {
		(void)printf("open: %s\n", err);
		return 1;
	}
	env.hostname = "mx.test";
	env.blacklist = 1;
	env.cf = cf;
	env.user_exists = users;
	test_local_names();
	test_virtusertable();
	test_aliases();
	test_users();
	test_parse();
	test_expand();
	policy_db_close(env.db);
	config_free(cf);
	(void)snprintf(err, sizeof(err), "rm -rf %s", tmpdir);
	UNIT_CHECK(system(err) == 0, "scratch directory removed");
	return unit_done();
}
