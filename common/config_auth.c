/*
 * config_auth.c: the AUTH part of smtpd.conf outside the grammar: its
 * defaults, its canonical text, sendmail's AuthOptions letters and the
 * word lists of "auth mechanisms" and "auth trust".
 *
 * Interface (config.h): config_auth_defaults() from config_new(),
 * config_auth_dump() from config_dump(), config_auth_options() for the
 * parser (which warns about unknown letters) and smtpd-auth,
 * config_word_in() for mechanism lists (smtp, policyd, smtpd-auth).
 * Pure functions on their arguments; nothing here fails.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config.h"

/* Separators of AuthOptions (spec 8) and of mechanism lists. */
#define AUTH_OPT_SEP	" \t,"

void
config_auth_defaults(struct config *c)
{
	(void)strlcpy(c->auth_mechanisms, "SCRAM-SHA-256 SCRAM-SHA-1 "
	    "DIGEST-MD5 CRAM-MD5 PLAIN LOGIN", sizeof(c->auth_mechanisms));
	c->auth_trust[0] = '\0';
	(void)strlcpy(c->auth_options, "p,y", sizeof(c->auth_options));
	c->auth_opts = config_auth_options(c->auth_options, NULL);
	c->auth_source = AUTH_SOURCE_SASLDB;
	(void)strlcpy(c->auth_source_path, PATH_SASLDB,
	    sizeof(c->auth_source_path));
	c->auth_max_failures = 3;
	c->auth_line_max = 12288;
}

/*
 * sendmail's parser: the first character of each word is the letter and
 * the rest of the word up to a separator is skipped, so "py" is only p.
 */
uint32_t
config_auth_options(const char *s, int *unknown)
{
	static const char	 letters[] = "Aacdfmpy";
	static const uint32_t	 bits[] = {
		AUTH_OPT_A, AUTH_OPT_ACTIVE, AUTH_OPT_CREDS, AUTH_OPT_DICT,
		AUTH_OPT_FWD, AUTH_OPT_MUTUAL, AUTH_OPT_PLAIN, AUTH_OPT_ANON
	};
	const char	*p;
	uint32_t	 opts = 0;

	if (unknown != NULL)
		*unknown = 0;
	while (*s != '\0') {
		s += strspn(s, AUTH_OPT_SEP);
		if (*s == '\0')
			break;
		if ((p = strchr(letters, *s)) != NULL)
			opts |= bits[p - letters];
		else if (unknown != NULL)
			*unknown = (unsigned char)*s;
		s += strcspn(s, AUTH_OPT_SEP);
	}
	return opts;
}

int
config_word_in(const char *list, const char *word)
{
	size_t	 n, len = strlen(word);

	while (*list != '\0') {
		list += strspn(list, AUTH_OPT_SEP);
		n = strcspn(list, AUTH_OPT_SEP);
		if (n != 0 && n == len && strncasecmp(list, word, n) == 0)
			return 1;
		list += n;
	}
	return 0;
}

int
config_auth_used(const struct config *c)
{
	const struct listener	*l;

	TAILQ_FOREACH(l, &c->listeners, entry)
		if (l->flags & (LISTEN_F_AUTH | LISTEN_F_AUTH_REQUIRE))
			return 1;
	return 0;
}

void
config_auth_dump(const struct config *c, FILE *fp)
{
	(void)fputs("auth mechanisms ", fp);
	config_dump_quoted(fp, c->auth_mechanisms);
	(void)fputs("\nauth trust ", fp);
	config_dump_quoted(fp, c->auth_trust);
	(void)fputs("\nauth options ", fp);
	config_dump_quoted(fp, c->auth_options);
	(void)fputs(c->auth_source == AUTH_SOURCE_SASLAUTHD ?
	    "\nauth saslauthd " : "\nauth sasldb ", fp);
	config_dump_quoted(fp, c->auth_source_path);
	(void)fprintf(fp, "\nauth max-failures %d\n", c->auth_max_failures);
	(void)fprintf(fp, "auth line-max %zu\n", c->auth_line_max);
}
