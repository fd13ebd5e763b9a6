/*
 * config_local.c: the local delivery rules of smtpd.conf ("local
 * delivery METHOD [ARG] [rcpt user|address] [for user NAME | for domain
 * NAME]", rcpt for lmtp only) and the other keywords of smtpd-local's
 * targets, checked, dumped and looked up.
 *
 * A rule is chosen per delivery: the user's, else the domain's (the
 * domain of the address the mail was sent to), else the default rule
 * (no "for"), else mbox.  One rule per scope: a second one for the same
 * user, domain or the default is an error, so the config never depends
 * on the order of its lines.  The words are checked here, not in the
 * grammar, so that the method names and "for" stay plain words that
 * cannot clash with other keywords.  Nothing here fails but on bad
 * input, reported in err.
 */
#include <sys/queue.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "util.h"

static const char *local_method_names[] = {
	[LOCAL_METHOD_MBOX] = "mbox",
	[LOCAL_METHOD_MAILDIR] = "maildir",
	[LOCAL_METHOD_MDA] = "mda",
	[LOCAL_METHOD_LMTP] = "lmtp",
};

const char *
config_local_method_name(enum local_method m)
{
	return local_method_names[m];
}

void
config_local_init(struct config *c)
{
	TAILQ_INIT(&c->local_deliveries);
	c->local_default_user[0] = '\0';
	(void)strlcpy(c->local_smrsh_dir, "/etc/smrsh",
	    sizeof(c->local_smrsh_dir));
	c->local_safe_file_dir[0] = '\0';
	c->local_root_mail = LOCAL_ROOT_DEFER;
}

void
config_local_free(struct config *c)
{
	struct local_delivery	*d;

	while ((d = TAILQ_FIRST(&c->local_deliveries)) != NULL) {
		TAILQ_REMOVE(&c->local_deliveries, d, entry);
		free(d);
	}
}

static int
local_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* A port, 1 to 65535, all digits. */
static int
local_port_valid(const char *s)
{
	size_t	 i;
	long	 n = 0;

	if (*s == '\0' || strlen(s) > 5)
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (!isdigit((unsigned char)s[i]))
			return 0;
		n = n * 10 + (s[i] - '0');
	}
	return n >= 1 && n <= 65535;
}

/* "unix:/PATH", "HOST:PORT" or "[ADDR]:PORT". */
static int
local_lmtp_valid(const char *a)
{
	char		 host[CONF_HOST_MAX];
	const char	*colon;
	size_t		 len;

	if (strncmp(a, "unix:", 5) == 0)
		return a[5] == '/';
	if ((colon = strrchr(a, ':')) == NULL || !local_port_valid(colon + 1))
		return 0;
	len = (size_t)(colon - a);
	if (len == 0 || len >= sizeof(host))
		return 0;
	memcpy(host, a, len);
	host[len] = '\0';
	if (host[0] == '[')
		return len > 2 && host[len - 1] == ']' &&
		    strcspn(host + 1, "[] ") == len - 2;
	return config_domain_valid(host);
}

/* The argument of a method; -1 if it does not suit it. */
static int
local_arg_check(struct local_delivery *d, const char *arg, char *err,
    size_t errlen)
{
	const char	*m = local_method_names[d->method];

	if (arg == NULL) {
		if (d->method == LOCAL_METHOD_MAILDIR)
			arg = "~/Maildir";
		else if (d->method != LOCAL_METHOD_MBOX)
			return local_error(err, errlen, "local delivery %s "
			    "needs an argument", m);
		else
			return 0;
	}
	if (d->method == LOCAL_METHOD_MBOX)
		return local_error(err, errlen, "local delivery mbox takes "
		    "no argument (the mbox is in local mailbox-dir)");
	if (!text_is_clean(arg) ||
	    strlcpy(d->arg, arg, sizeof(d->arg)) >= sizeof(d->arg))
		return local_error(err, errlen, "local delivery %s: bad or "
		    "too long argument", m);
	switch (d->method) {
	case LOCAL_METHOD_MAILDIR:
		if (arg[0] != '/' && strncmp(arg, "~/", 2) != 0)
			return local_error(err, errlen, "local delivery "
			    "maildir \"%s\": not \"~/PATH\" or an absolute "
			    "path", arg);
		break;
	case LOCAL_METHOD_MDA:
		arg += strspn(arg, " \t");
		if (arg[0] == '"')
			arg++;
		if (arg[0] != '/')
			return local_error(err, errlen, "local delivery mda: "
			    "the command must be an absolute path");
		break;
	case LOCAL_METHOD_LMTP:
		if (!local_lmtp_valid(arg))
			return local_error(err, errlen, "local delivery lmtp "
			    "\"%s\": not \"unix:/PATH\", \"HOST:PORT\" or "
			    "\"[ADDR]:PORT\"", arg);
		break;
	case LOCAL_METHOD_MBOX:
		break;
	}
	return 0;
}

/* "for user NAME" or "for domain NAME". */
static int
local_scope_check(struct local_delivery *d, char *const *w, char *err,
    size_t errlen)
{
	size_t	 i;

	if (strcmp(w[0], "for") != 0 || (strcmp(w[1], "user") != 0 &&
	    strcmp(w[1], "domain") != 0))
		return local_error(err, errlen, "local delivery: expected "
		    "\"for user NAME\" or \"for domain NAME\"");
	if (strlcpy(d->name, w[2], sizeof(d->name)) >= sizeof(d->name))
		return local_error(err, errlen, "local delivery: name too "
		    "long");
	if (strcmp(w[1], "domain") == 0) {
		d->scope = LOCAL_SCOPE_DOMAIN;
		for (i = 0; d->name[i] != '\0'; i++)
			d->name[i] = (char)tolower((unsigned char)d->name[i]);
		if (!config_domain_valid(d->name))
			return local_error(err, errlen, "local delivery: bad "
			    "domain \"%s\"", w[2]);
		return 0;
	}
	d->scope = LOCAL_SCOPE_USER;
	if (d->name[0] == '\0' || strcspn(d->name, "/:@+ \t") !=
	    strlen(d->name) || !text_is_clean(d->name))
		return local_error(err, errlen, "local delivery: bad user "
		    "\"%s\"", w[2]);
	return 0;
}

/* lmtp's "rcpt user" (the mailbox name) or "rcpt address". */
static int
local_rcpt_check(struct local_delivery *d, const char *what, char *err,
    size_t errlen)
{
	if (d->method != LOCAL_METHOD_LMTP)
		return local_error(err, errlen, "local delivery %s: rcpt is "
		    "for lmtp only", local_method_names[d->method]);
	if (strcmp(what, "address") == 0)
		d->lmtp_rcpt_address = 1;
	else if (strcmp(what, "user") != 0)
		return local_error(err, errlen, "local delivery lmtp: "
		    "expected \"rcpt user\" or \"rcpt address\"");
	return 0;
}

/* The rule already given for the scope of d, or NULL. */
static const struct local_delivery *
local_scope_find(const struct config *c, enum local_scope scope,
    const char *name)
{
	const struct local_delivery	*d;

	TAILQ_FOREACH(d, &c->local_deliveries, entry) {
		if (d->scope != scope)
			continue;
		if (scope == LOCAL_SCOPE_DEFAULT ||
		    (scope == LOCAL_SCOPE_USER && strcmp(d->name, name) == 0) ||
		    (scope == LOCAL_SCOPE_DOMAIN &&
		    strcasecmp(d->name, name) == 0))
			return d;
	}
	return NULL;
}

int
config_local_delivery_add(struct config *c, char *const *w, size_t n,
    char *err, size_t errlen)
{
	struct local_delivery	 d, *nd;
	size_t			 i, nargs;

	memset(&d, 0, sizeof(d));
	for (i = 0; i < sizeof(local_method_names) /
	    sizeof(local_method_names[0]); i++)
		if (n > 0 && strcmp(w[0], local_method_names[i]) == 0)
			break;
	if (i == sizeof(local_method_names) / sizeof(local_method_names[0]))
		return local_error(err, errlen, "local delivery: expected "
		    "mbox, maildir, mda or lmtp");
	d.method = (enum local_method)i;
	/* METHOD [ARG] [rcpt user|address] [for user|domain NAME] */
	nargs = n - 1;
	if (nargs >= 3 && strcmp(w[n - 3], "for") == 0) {
		if (local_scope_check(&d, w + n - 3, err, errlen) == -1)
			return -1;
		nargs -= 3;
	}
	if (nargs == 3 && strcmp(w[2], "rcpt") == 0) {
		if (local_rcpt_check(&d, w[3], err, errlen) == -1)
			return -1;
		nargs -= 2;
	}
	if (nargs > 1)
		return local_error(err, errlen, "local delivery: too many "
		    "words");
	if (local_arg_check(&d, nargs == 1 ? w[1] : NULL, err, errlen) == -1)
		return -1;
	if (local_scope_find(c, d.scope, d.name) != NULL)
		return local_error(err, errlen, "local delivery given twice "
		    "for %s%s", d.scope == LOCAL_SCOPE_USER ? "user " :
		    d.scope == LOCAL_SCOPE_DOMAIN ? "domain " : "the default",
		    d.name);
	nd = xcalloc(1, sizeof(*nd));
	*nd = d;
	TAILQ_INSERT_TAIL(&c->local_deliveries, nd, entry);
	return 0;
}

const struct local_delivery *
config_local_delivery_find(const struct config *c, const char *user,
    const char *domain)
{
	const struct local_delivery	*d;

	if (user != NULL &&
	    (d = local_scope_find(c, LOCAL_SCOPE_USER, user)) != NULL)
		return d;
	if (domain != NULL && domain[0] != '\0' &&
	    (d = local_scope_find(c, LOCAL_SCOPE_DOMAIN, domain)) != NULL)
		return d;
	return local_scope_find(c, LOCAL_SCOPE_DEFAULT, "");
}

void
config_local_dump(const struct config *c, FILE *fp)
{
	const struct local_delivery	*d;

	TAILQ_FOREACH(d, &c->local_deliveries, entry) {
		(void)fprintf(fp, "local delivery %s",
		    local_method_names[d->method]);
		if (d->arg[0] != '\0') {
			(void)fputc(' ', fp);
			config_dump_quoted(fp, d->arg);
		}
		if (d->lmtp_rcpt_address)
			(void)fputs(" rcpt address", fp);
		if (d->scope != LOCAL_SCOPE_DEFAULT) {
			(void)fputs(d->scope == LOCAL_SCOPE_USER ?
			    " for user " : " for domain ", fp);
			config_dump_quoted(fp, d->name);
		}
		(void)fputc('\n', fp);
	}
	if (c->local_default_user[0] != '\0') {
		(void)fputs("local default-user ", fp);
		config_dump_quoted(fp, c->local_default_user);
		(void)fputc('\n', fp);
	}
	(void)fputs("local smrsh-dir ", fp);
	config_dump_quoted(fp, c->local_smrsh_dir);
	(void)fputc('\n', fp);
	if (c->local_safe_file_dir[0] != '\0') {
		(void)fputs("local safe-file-dir ", fp);
		config_dump_quoted(fp, c->local_safe_file_dir);
		(void)fputc('\n', fp);
	}
	(void)fprintf(fp, "local root-mail %s\n",
	    c->local_root_mail == LOCAL_ROOT_BOUNCE ? "bounce" : "defer");
}
