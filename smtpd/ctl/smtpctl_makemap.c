/*
 * smtpctl_makemap.c: "smtpctl makemap MAP FILE" and newaliases(8), the
 * imports of a text map into the database (policy_makemap.c does the
 * work, in one transaction).
 *
 *   smtpctl makemap MAP FILE	prints "DATABASE: map MAP loaded from FILE"
 *				and, for aliases, sendmail's summary line
 *   newaliases [-v] [-f CONF]	imports the file of "local aliases" (default
 *				/etc/aliases) into the aliases map; prints
 *				the summary line, and with -v each alias
 *
 * The summary line is sendmail's: "FILE: N aliases, longest L bytes, T
 * bytes total" (N counts every entry read, L is the longest stored list,
 * T the names and lists together).  Warnings (a duplicate alias name,
 * of which the last is kept) go to stderr and do not fail the import.
 * The database is written directly, so the daemon need not run.
 * Exit status: smtpctl's (smtpctl.h) for makemap; for newaliases those of
 * sysexits(3), as sendmail's: EX_USAGE, EX_NOPERM (not root), EX_CONFIG
 * (the config is refused), EX_NOINPUT (the aliases file cannot be read),
 * EX_DATAERR (a line of it is refused), EX_CANTCREAT (the database
 * cannot be written).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "paths.h"
#include "policy_db.h"
#include "smtpctl.h"

/* Who is talking: "smtpctl" or "newaliases". */
struct makemap_out {
	const char	*prog;
	int		 verbose;
};

static void
makemap_warn(void *arg, const char *msg)
{
	const struct makemap_out	*out = arg;

	(void)fprintf(stderr, "%s: warning: ", out->prog);
	smtpctl_text_print(stderr, msg);
	(void)fputc('\n', stderr);
}

/* newaliases -v: each alias as it is stored (printable ASCII only, as
 * policy_alias.c checks), as "map show" prints it. */
static void
makemap_entry(void *arg, const char *key, const char *value)
{
	const struct makemap_out	*out = arg;

	if (out->verbose)
		(void)printf("%s: %s\n", key, value);
}

static void
makemap_summary(const char *file, const struct policy_makemap_report *rep)
{
	smtpctl_text_print(stdout, file);
	(void)printf(": %ld aliases, longest %zu bytes, %zu bytes total\n",
	    rep->entries, rep->longest, rep->total);
}

/* Import file into map; the report filled, a failure printed. */
static int
makemap_import(const struct config *cf, const char *map, const char *file,
    struct makemap_out *out, struct policy_makemap_report *rep)
{
	char	 err[512];

	memset(rep, 0, sizeof(*rep));
	rep->warn = makemap_warn;
	rep->entry = makemap_entry;
	rep->arg = out;
	if (policy_makemap_run(cf->database_path, map, file, rep, err,
	    sizeof(err)) == 0)
		return 0;
	(void)fprintf(stderr, "%s: ", out->prog);
	if (strcmp(out->prog, "smtpctl") == 0)
		(void)fprintf(stderr, "makemap %s: ", map);
	smtpctl_text_print(stderr, err);
	(void)fputc('\n', stderr);
	return -1;
}

int
smtpctl_makemap(const struct config *cf, int argc, char **argv)
{
	struct policy_makemap_report	 rep;
	struct makemap_out		 out = { "smtpctl", 0 };

	if (argc != 3) {
		(void)fprintf(stderr, "usage: smtpctl makemap MAP FILE\n");
		return 2;
	}
	if (makemap_import(cf, argv[1], argv[2], &out, &rep) == -1)
		return rep.failure == POLICY_MAKEMAP_USAGE ? 2 : 1;
	(void)printf("%s: map %s loaded from %s\n", policy_db_remote() ?
	    "postgresql" : cf->database_path, argv[1], argv[2]);
	if (policy_map_kind(argv[1]) == POLICY_MAP_ALIASES)
		makemap_summary(argv[2], &rep);
	return 0;
}

static int
newaliases_usage(void)
{
	(void)fprintf(stderr, "usage: newaliases [-v] [-f file]\n");
	return EX_USAGE;
}

/* The sysexits(3) status of a failed import. */
static int
newaliases_status(enum policy_makemap_failure failure)
{
	switch (failure) {
	case POLICY_MAKEMAP_INPUT:
		return EX_NOINPUT;
	case POLICY_MAKEMAP_DATA:
		return EX_DATAERR;
	case POLICY_MAKEMAP_DB:
		return EX_CANTCREAT;
	case POLICY_MAKEMAP_OK:
	case POLICY_MAKEMAP_USAGE:
		break;
	}
	return EX_SOFTWARE;
}

int
smtpctl_newaliases(int argc, char **argv)
{
	struct policy_makemap_report	 rep;
	struct makemap_out		 out = { "newaliases", 0 };
	struct config			*cf;
	const char			*conffile = PATH_SMTPD_CONF;
	int				 ch, rc = 0;

	while ((ch = getopt(argc, argv, "f:v")) != -1) {
		switch (ch) {
		case 'f':
			conffile = optarg;
			break;
		case 'v':
			out.verbose = 1;
			break;
		default:
			return newaliases_usage();
		}
	}
	if (optind != argc)
		return newaliases_usage();
	log_init("newaliases", 1);
	if (geteuid() != 0) {
		(void)fprintf(stderr, "newaliases: need root privileges\n");
		return EX_NOPERM;
	}
	if ((cf = config_parse_file(conffile, 0)) == NULL) {
		(void)fprintf(stderr, "newaliases: cannot use %s\n", conffile);
		return EX_CONFIG;
	}
	policy_db_select(cf->database_conninfo, cf->database_path, 0);
	if (makemap_import(cf, "aliases", cf->local_aliases, &out,
	    &rep) == -1)
		rc = newaliases_status(rep.failure);
	else
		makemap_summary(cf->local_aliases, &rep);
	config_free(cf);
	return rc;
}
