/*
 * config_masq.c: the masquerade settings of smtpd.conf ("masquerade as",
 * "domains", "domains-file", "exposed-users", "exceptions" and the
 * yes/no switches), checked, stored as lists and dumped; and the generics
 * settings ("generics domains", "domains-file", "entire-domain"), lists
 * of the same kind.
 *
 * A domains-file is read where the config is parsed from its file (the
 * parent as root, before any chroot; smtpctl): its names join the
 * "domains" list, and the canonical text the children get has the list
 * only, so no child opens the file.  Every error is reported in err,
 * nothing here ends the process.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "util.h"

/* A line of the domains-file, longer than any list entry can be. */
#define MASQ_FILE_LINE_MAX	1024

static const char *masq_list_names[] = {
	[CONF_MASQ_DOMAINS] = "masquerade domains",
	[CONF_MASQ_EXPOSED] = "masquerade exposed-users",
	[CONF_MASQ_EXCEPTIONS] = "masquerade exceptions",
	[CONF_MASQ_GENERICS] = "generics domains",
};

static int
masq_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static char *
masq_list(struct config *c, enum config_masq_list which)
{
	switch (which) {
	case CONF_MASQ_EXPOSED:
		return c->masq_exposed;
	case CONF_MASQ_EXCEPTIONS:
		return c->masq_exceptions;
	case CONF_MASQ_GENERICS:
		return c->generics_domains;
	default:
		return c->masq_domains;
	}
}

/* A user name of EXPOSED_USER: atext of a dot-atom local-part. */
static int
masq_user_valid(const char *s)
{
	size_t	 n = strlen(s);

	return n > 0 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~.") == n;
}

/* One name onto a list, lowercased; a name it has already is kept once. */
static int
masq_word_add(struct config *c, enum config_masq_list which, const char *w,
    char *err, size_t errlen)
{
	char	*list = masq_list(c, which);
	size_t	 len = strlen(list), i;

	if (which == CONF_MASQ_EXPOSED ? !masq_user_valid(w) :
	    !config_domain_valid(w))
		return masq_error(err, errlen, "%s: \"%s\" is not a %s",
		    masq_list_names[which], w,
		    which == CONF_MASQ_EXPOSED ? "user name" : "domain");
	if (config_word_in(list, w))
		return 0;
	if (len + strlen(w) + 2 > CONF_MASQ_LIST_MAX)
		return masq_error(err, errlen, "%s: too many names",
		    masq_list_names[which]);
	if (len > 0)
		list[len++] = ' ';
	for (i = 0; w[i] != '\0'; i++)
		list[len++] = (char)tolower((unsigned char)w[i]);
	list[len] = '\0';
	return 0;
}

int
config_masq_list_add(struct config *c, enum config_masq_list which,
    const char *s, char *err, size_t errlen)
{
	char	 word[CONF_HOST_MAX];
	size_t	 n;

	for (;;) {
		s += strspn(s, " \t");
		if ((n = strcspn(s, " \t")) == 0)
			return 0;
		if (n >= sizeof(word))
			return masq_error(err, errlen, "%s: name too long",
			    masq_list_names[which]);
		memcpy(word, s, n);
		word[n] = '\0';
		if (masq_word_add(c, which, word, err, errlen) == -1)
			return -1;
		s += n;
	}
}

/* The names of a domains-file onto a list; "what" names the statement. */
static int
masq_file_read(struct config *c, enum config_masq_list which,
    const char *what, const char *path, char *err, size_t errlen)
{
	FILE	*fp;
	char	 line[MASQ_FILE_LINE_MAX], msg[256];
	int	 lineno = 0, rc = 0;

	if ((fp = fopen(path, "r")) == NULL)
		return masq_error(err, errlen, "%s %s: %s", what, path,
		    strerror(errno));
	while (rc == 0 && fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			rc = masq_error(err, errlen, "%s %s:%d: line too long",
			    what, path, lineno);
			break;
		}
		line[strcspn(line, "#\r\n")] = '\0';
		if (config_masq_list_add(c, which, line, msg,
		    sizeof(msg)) == -1)
			rc = masq_error(err, errlen, "%s:%d: %s", path, lineno,
			    msg);
	}
	if (rc == 0 && ferror(fp))
		rc = masq_error(err, errlen, "%s %s: read error", what, path);
	(void)fclose(fp);
	return rc;
}

int
config_masq_file_add(struct config *c, const char *path, char *err,
    size_t errlen)
{
	return masq_file_read(c, CONF_MASQ_DOMAINS,
	    "masquerade domains-file", path, err, errlen);
}

int
config_generics_file_add(struct config *c, const char *path, char *err,
    size_t errlen)
{
	return masq_file_read(c, CONF_MASQ_GENERICS, "generics domains-file",
	    path, err, errlen);
}

int
config_masq_in(const char *list, const char *name, size_t len, int subdomains)
{
	size_t	 n;

	while (*list != '\0') {
		list += strspn(list, " ");
		n = strcspn(list, " ");
		if (n != 0 && n == len && strncasecmp(list, name, n) == 0)
			return 1;
		if (n != 0 && subdomains && len > n + 1 &&
		    name[len - n - 1] == '.' &&
		    strncasecmp(list, name + len - n, n) == 0)
			return 1;
		list += n;
	}
	return 0;
}

/* A list as "{ "a" "b" }", after the statement's keywords. */
static void
masq_dump_list(FILE *fp, const char *what, const char *list)
{
	char	 word[CONF_HOST_MAX];
	size_t	 n;

	if (*list == '\0')
		return;
	(void)fprintf(fp, "%s {", what);
	while (*list != '\0') {
		list += strspn(list, " ");
		if ((n = strcspn(list, " ")) == 0 || n >= sizeof(word))
			break;
		memcpy(word, list, n);
		word[n] = '\0';
		(void)fputc(' ', fp);
		config_dump_quoted(fp, word);
		list += n;
	}
	(void)fputs(" }\n", fp);
}

void
config_masq_dump(const struct config *c, FILE *fp)
{
	if (c->masq_as[0] != '\0') {
		(void)fputs("masquerade as ", fp);
		config_dump_quoted(fp, c->masq_as);
		(void)fputc('\n', fp);
	}
	masq_dump_list(fp, "masquerade domains", c->masq_domains);
	masq_dump_list(fp, "masquerade exposed-users", c->masq_exposed);
	masq_dump_list(fp, "masquerade exceptions", c->masq_exceptions);
	(void)fprintf(fp, "masquerade entire-domain %s\n",
	    c->masq_entire_domain ? "yes" : "no");
	(void)fprintf(fp, "masquerade envelope %s\n",
	    c->masq_envelope ? "yes" : "no");
	(void)fprintf(fp, "masquerade recipients %s\n",
	    c->masq_recipients ? "yes" : "no");
	(void)fprintf(fp, "masquerade limited %s\n",
	    c->masq_limited ? "yes" : "no");
}

void
config_generics_dump(const struct config *c, FILE *fp)
{
	masq_dump_list(fp, "generics domains", c->generics_domains);
	(void)fprintf(fp, "generics entire-domain %s\n",
	    c->generics_entire_domain ? "yes" : "no");
}
