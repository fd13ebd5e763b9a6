/*
 * test_local_maildir.c: the pure parts of smtpd-local's Maildir writer
 * (smtpd/local/local_maildir.c): the rule's path with "~/" made the
 * home, trailing slashes dropped, ".." refused; the unique name with the
 * host's '/' and ':' escaped.
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
	char	 name[64];

	UNIT_CHECK(path_is("", "/home/bob/Maildir"), "~/Maildir by default");
	UNIT_CHECK(path_is("~/Mail/box/", "/home/bob/Mail/box"),
	    "~/ is the home, trailing slashes dropped");
	UNIT_CHECK(path_is("/srv/mail/bob", "/srv/mail/bob"),
	    "an absolute path");
	UNIT_CHECK(path_is("~/../alice/Maildir", NULL), "\"..\" refused");
	UNIT_CHECK(path_is("~/Maildir/..", NULL), "a last \"..\" refused");
	UNIT_CHECK(local_maildir_name(name, sizeof(name), 1700000000, 42,
	    123, "relay.test") == 0 &&
	    strcmp(name, "1700000000.M42P123Q1.relay.test") == 0,
	    "TIME.MUSECPPIDQ1.HOST");
	UNIT_CHECK(local_maildir_name(name, sizeof(name), 1, 2, 3, "a/b:c") ==
	    0 && strcmp(name, "1.M2P3Q1.a\\057b\\072c") == 0,
	    "'/' and ':' of the host escaped");
	UNIT_CHECK(local_maildir_name(name, 12, 1, 2, 3, "relay.test") == -1,
	    "too long for the buffer");
	return unit_done();
}
