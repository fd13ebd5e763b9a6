/*
 * test_config_local.c: the local delivery rules of smtpd.conf
 * (common/config_local.c): the rule of a user, else of the domain (any
 * case), else the default, else none (mbox); each method's argument
 * checked; one rule per scope; the canonical text parses back the same.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "unit.h"

static struct config *
parsed(const char *text)
{
	return config_parse_buffer(text, strlen(text));
}

static int
refused(const char *text)
{
	struct config	*c = parsed(text);

	config_free(c);
	return c == NULL;
}

static enum local_method
method_of(const struct config *c, const char *user, const char *domain)
{
	const struct local_delivery	*d;

	d = config_local_delivery_find(c, user, domain);
	return d != NULL ? d->method : LOCAL_METHOD_MBOX;
}

int
main(void)
{
	struct config			*c, *c2;
	const struct local_delivery	*d;
	char				*t1, *t2;

	c = parsed("local delivery maildir\n"
	    "local delivery mda \"/usr/bin/procmail -d %u\" for user bob\n"
	    "local delivery lmtp \"unix:/run/dovecot/lmtp\" for domain "
	    "Example.ORG\n"
	    "local default-user \"mail\"\n"
	    "local smrsh-dir \"/etc/mail/smrsh\"\n"
	    "local safe-file-dir \"/srv/files\"\n");
	UNIT_CHECK(c != NULL, "rules parse");
	if (c == NULL)
		return unit_done();
	UNIT_CHECK(method_of(c, "bob", "example.org") == LOCAL_METHOD_MDA,
	    "the user's rule first");
	UNIT_CHECK(method_of(c, "alice", "EXAMPLE.org") == LOCAL_METHOD_LMTP,
	    "then the domain's, any case");
	UNIT_CHECK(method_of(c, "alice", "other.test") ==
	    LOCAL_METHOD_MAILDIR, "then the default");
	d = config_local_delivery_find(c, "alice", NULL);
	UNIT_CHECK(d != NULL && strcmp(d->arg, "~/Maildir") == 0,
	    "maildir's path defaults to ~/Maildir");
	UNIT_CHECK(strcmp(c->local_default_user, "mail") == 0 &&
	    strcmp(c->local_smrsh_dir, "/etc/mail/smrsh") == 0 &&
	    strcmp(c->local_safe_file_dir, "/srv/files") == 0,
	    "default-user, smrsh-dir, safe-file-dir");
	t1 = config_dump_string(c, NULL);
	c2 = t1 != NULL ? parsed(t1) : NULL;
	t2 = c2 != NULL ? config_dump_string(c2, NULL) : NULL;
	UNIT_CHECK(t2 != NULL && strcmp(t1, t2) == 0,
	    "the canonical text parses back the same");
	free(t1);
	free(t2);
	config_free(c2);
	config_free(c);

	c = parsed("hostname relay.test\n");
	UNIT_CHECK(c != NULL && config_local_delivery_find(c, "bob",
	    "relay.test") == NULL && strcmp(c->local_smrsh_dir,
	    "/etc/smrsh") == 0 && c->local_default_user[0] == '\0' &&
	    c->local_safe_file_dir[0] == '\0', "defaults: mbox, /etc/smrsh");
	config_free(c);

	UNIT_CHECK(refused("local delivery mbox\nlocal delivery maildir\n"),
	    "two default rules");
	UNIT_CHECK(refused("local delivery mbox for user bob\n"
	    "local delivery maildir for user bob\n"), "two for one user");
	UNIT_CHECK(refused("local delivery mbox for domain a.test\n"
	    "local delivery maildir for domain A.TEST\n"),
	    "two for one domain, any case");
	UNIT_CHECK(!refused("local delivery mbox for user bob\n"
	    "local delivery maildir for domain bob\n"),
	    "a user and a domain of one name are two scopes");
	UNIT_CHECK(refused("local delivery mbox \"/var/mail\"\n"),
	    "mbox takes no argument");
	UNIT_CHECK(refused("local delivery maildir \"Maildir\"\n"),
	    "a relative Maildir");
	UNIT_CHECK(refused("local delivery mda\n"), "mda without a command");
	UNIT_CHECK(refused("local delivery mda \"procmail -d %u\"\n"),
	    "an MDA not by its absolute path");
	UNIT_CHECK(refused("local delivery lmtp \"dovecot\"\n"),
	    "an LMTP address without a port");
	UNIT_CHECK(refused("local delivery lmtp \"host.test:0\"\n"),
	    "port 0");
	UNIT_CHECK(!refused("local delivery lmtp \"[127.0.0.1]:24\"\n"),
	    "an address in brackets");
	UNIT_CHECK(refused("local delivery pipe\n"), "an unknown method");
	UNIT_CHECK(refused("local delivery mbox for group x\n"),
	    "an unknown scope");
	UNIT_CHECK(refused("local delivery mbox for user a/b\n"),
	    "a user name with a slash");
	UNIT_CHECK(refused("local default-user root\n"),
	    "default-user root");
	UNIT_CHECK(refused("local smrsh-dir \"smrsh\"\n"),
	    "a relative smrsh-dir");
	c = parsed("local root-mail bounce\n");
	UNIT_CHECK(c != NULL && c->local_root_mail == LOCAL_ROOT_BOUNCE,
	    "root-mail bounce");
	config_free(c);
	c = parsed("hostname relay.test\n");
	UNIT_CHECK(c != NULL && c->local_root_mail == LOCAL_ROOT_DEFER,
	    "root-mail defaults to defer");
	config_free(c);
	UNIT_CHECK(refused("local root-mail deliver\n"),
	    "root-mail neither defer nor bounce");
	return unit_done();
}
