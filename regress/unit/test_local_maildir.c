/*
 * test_local_maildir.c: the pure parts of smtpd-local's Maildir writer
 * (smtpd/local/local_maildir.c): the rule's path with "~/" made the
 * home, trailing slashes dropped, ".." refused; the envelope's mark; the
 * unique name with the mark and the host's '/' and ':' escaped.
 */
#include <limits.h>
#include <string.h>

#include "local.h"
#include "unit.h"

static int
path_is(const char *arg, const char *want)
{
	struct local_job	 j;
	char			 buf[PATH_MAX];

	memset(&j, 0, sizeof(j));
	j.home = "/home/bob";
	(void)strlcpy(j.rule.arg, arg, sizeof(j.rule.arg));
	if (local_maildir_path(&j, buf, sizeof(buf)) == -1)
		return want == NULL;
	return want != NULL && strcmp(buf, want) == 0;
}

int
main(void)
{
	struct local_job	 j;
	char			 name[80], mark[64];

	memset(&j, 0, sizeof(j));
	(void)strlcpy(j.id, "00c0ffee00000001", sizeof(j.id));
	j.ctime = 1699999999;

	UNIT_CHECK(path_is("", "/home/bob/Maildir"), "~/Maildir by default");
	UNIT_CHECK(path_is("~/Mail/box/", "/home/bob/Mail/box"),
	    "~/ is the home, trailing slashes dropped");
	UNIT_CHECK(path_is("/srv/mail/bob", "/srv/mail/bob"),
	    "an absolute path");
	UNIT_CHECK(path_is("~/../alice/Maildir", NULL), "\"..\" refused");
	UNIT_CHECK(path_is("~/Maildir/..", NULL), "a last \"..\" refused");
	UNIT_CHECK(local_maildir_mark(&j, mark, sizeof(mark)) == 0 &&
	    strcmp(mark, "E00c0ffee00000001T1699999999.") == 0,
	    "the mark: E, the envelope id, T, the creation time");
	UNIT_CHECK(local_maildir_name(name, sizeof(name), 1700000000, 42,
	    123, mark, "relay.test") == 0 &&
	    strcmp(name, "1700000000.M42P123Q1E00c0ffee00000001T1699999999."
	    "relay.test") == 0, "TIME.MUSECPPIDQ1MARK.HOST");
	UNIT_CHECK(local_maildir_name(name, sizeof(name), 1, 2, 3, "E1T2.",
	    "a/b:c") == 0 && strcmp(name, "1.M2P3Q1E1T2.a\\057b\\072c") == 0,
	    "'/' and ':' of the host escaped");
	UNIT_CHECK(local_maildir_name(name, 12, 1, 2, 3, "E1T2.",
	    "relay.test") == -1, "too long for the buffer");
	UNIT_CHECK(local_maildir_mark(&j, mark, 8) == -1,
	    "a mark too long for the buffer");
	return unit_done();
}
