/*
 * smtpctl.c: smtpctl(8), the administrator's control program.
 *
 * It reads the config (default /etc/mail/smtpd.conf) to find the control
 * socket and the database, sends one request over the socket and prints
 * the answer lines as they come, escaped (smtpctl_text.c).  The map
 * commands (makemap, access, map, explain: ctl_locals) use the database
 * directly, so they work whether or not the daemon runs.  Run by the
 * name newaliases (a link to smtpctl) it is newaliases(8)
 * (smtpctl_makemap.c).  Exit status: 0 success, 1 the daemon or the
 * command failed, 2 usage error.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "imsg.h"
#include "log.h"
#include "metrics.h"
#include "paths.h"
#include "policy_db.h"
#include "proto.h"
#include "util.h"
#include "smtpctl.h"

#define CTL_READ_MAX	(IMSG_HDR_SIZE + IMSG_MAX_PAYLOAD)

/* show metrics: the lines, printed at the end */
static struct metrics	*ctl_metrics;
#define CTL_ARG_MAX	256	/* what the parent takes in a request */

/* The words of each command; "ARG" takes the user's word as argument,
 * "ARGS" two or more words, joined with blanks. */
static const struct ctl_verb {
	const char	*w1;
	const char	*w2;
	uint32_t	 cmd;
} ctl_verbs[] = {
	{ "show",	"queue",	CTL_SHOW_QUEUE },
	{ "show",	"stats",	CTL_SHOW_STATS },
	{ "show",	"status",	CTL_SHOW_STATUS },
	{ "show",	"metrics",	CTL_SHOW_METRICS },
	{ "schedule",	"ARG",		CTL_SCHEDULE },
	{ "remove",	"ARG",		CTL_REMOVE },
	{ "pause",	"smtp",		CTL_PAUSE_SMTP },
	{ "pause",	"mta",		CTL_PAUSE_MTA },
	{ "resume",	"smtp",		CTL_RESUME_SMTP },
	{ "resume",	"mta",		CTL_RESUME_MTA },
	{ "log",	"verbose",	CTL_LOG_VERBOSE },
	{ "log",	"brief",	CTL_LOG_BRIEF },
	{ "reload",	NULL,		CTL_RELOAD },
	{ "monitor",	NULL,		CTL_MONITOR },
	{ "release",	"ARG",		CTL_RELEASE },
	{ "quarantine",	"ARGS",		CTL_QUARANTINE },
	{ "tlsrpt",	NULL,		CTL_TLSRPT },
	{ "tlsrpt",	"ARG",		CTL_TLSRPT },
};

/* The commands that work on the database, not through the daemon. */
static const struct ctl_local {
	const char	*name;
	int		(*run)(const struct config *, int, char **);
} ctl_locals[] = {
	{ "makemap",	smtpctl_makemap },
	{ "access",	smtpctl_access },
	{ "map",	smtpctl_map },
	{ "authinfo",	smtpctl_authinfo },
	{ "explain",	smtpctl_explain },
	{ "tlsa",	smtpctl_tlsa },
	{ "mta-sts",	smtpctl_mta_sts },
};

static void
usage(void)
{
	(void)fprintf(stderr,
	    "usage: smtpctl [-f file] [-s socket] command [argument ...]\n"
	    "commands: show queue | show stats | show status | show metrics |\n"
	    "          schedule ID|all | remove ID|all |\n"
	    "          release ID|all | quarantine ID|all REASON |\n"
	    "          pause smtp|mta | resume smtp|mta |\n"
	    "          log verbose|brief | reload | monitor |\n"
	    "          makemap TABLE FILE |\n"
	    "          access add KEY VALUE | access delete KEY |\n"
	    "          access show [PREFIX] |\n"
	    "          map add|delete|show MAP [KEY [VALUE]] |\n"
	    "          authinfo add KEY VALUE | authinfo delete KEY |\n"
	    "          authinfo show [PREFIX] |\n"
	    "          explain [addr ADDRESS [name NAME] [helo NAME]\n"
	    "              [from SENDER] [verify V] [bits N] [cn NAME]\n"
	    "              [cert-subject DN] [cert-issuer DN] [auth-mech M]\n"
	    "              [auth-ssf N] [resolve OUTCOME]] [rcpt RECIPIENT ...]\n"
	    "              [server-addr ADDRESS [server NAME]\n"
	    "              [server-verify V] [server-bits N] [server-cn NAME]\n"
	    "              [server-cert-subject DN] "
	    "[server-cert-issuer DN]] |\n"
	    "          explain masquerade ADDRESS |\n"
	    "          tlsa [check] [PKI] | mta-sts DOMAIN [enforce|testing] |\n"
	    "          mta-sts check FILE [HOST ...] | tlsrpt [YYYY-MM-DD]\n");
	exit(2);
}

/* The argument of a request: the words after the command's first, for
 * ARG and ARGS; -1 if they do not fit. */
static int
ctl_args_join(const struct ctl_verb *v, int argc, char **argv, char *buf,
    size_t size)
{
	int	 i;

	buf[0] = '\0';
	if (v->w2 == NULL || (strcmp(v->w2, "ARG") != 0 &&
	    strcmp(v->w2, "ARGS") != 0))
		return 0;
	for (i = 1; i < argc; i++) {
		if (i > 1 && strlcat(buf, " ", size) >= size)
			return -1;
		if (strlcat(buf, argv[i], size) >= size)
			return -1;
	}
	return 0;
}

static const struct ctl_verb *
ctl_verb_find(int argc, char **argv)
{
	size_t	 i;

	for (i = 0; i < sizeof(ctl_verbs) / sizeof(ctl_verbs[0]); i++) {
		const struct ctl_verb	*v = &ctl_verbs[i];

		if (strcmp(argv[0], v->w1) != 0)
			continue;
		if (v->w2 == NULL && argc == 1)
			return v;
		if (v->w2 != NULL && strcmp(v->w2, "ARGS") == 0)
			return argc >= 3 ? v : NULL;
		if (v->w2 != NULL && argc == 2 &&
		    (strcmp(v->w2, "ARG") == 0 || strcmp(v->w2, argv[1]) == 0))
			return v;
	}
	return NULL;
}

static int
ctl_connect(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		(void)fprintf(stderr, "smtpctl: socket path too long\n");
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1) {
		(void)fprintf(stderr, "smtpctl: socket: %s\n", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		(void)fprintf(stderr, "smtpctl: cannot connect to %s: %s "
		    "(is smtpd running?)\n", path, strerror(errno));
		(void)close(fd);
		return -1;
	}
	return fd;
}

static int
ctl_send_request(int fd, uint32_t cmd, const char *arg)
{
	struct imsg_out	 out;
	uint32_t	 hdr[4];
	uint8_t		*buf;
	int		 r;

	imsg_out_init(&out, IMSG_CTL_REQUEST, 0);
	imsg_put_u32(&out, cmd);
	imsg_put_str(&out, arg);
	if (out.bad || (buf = malloc(IMSG_HDR_SIZE + out.len)) == NULL) {
		imsg_out_free(&out);
		return -1;
	}
	hdr[0] = out.type;
	hdr[1] = (uint32_t)out.len;
	hdr[2] = 0;
	hdr[3] = 0;
	memcpy(buf, hdr, sizeof(hdr));
	memcpy(buf + IMSG_HDR_SIZE, out.buf, out.len);
	r = write_all(fd, buf, IMSG_HDR_SIZE + out.len);
	free(buf);
	imsg_out_free(&out);
	return r;
}

/* One line of the daemon's, escaped (smtpctl_text.c), with a prefix. */
static void
ctl_print_line(FILE *fp, const char *prefix, const char *s)
{
	(void)fputs(prefix, fp);
	smtpctl_text_print(fp, s);
	(void)fputc('\n', fp);
}

/* Print one answer message (show metrics: keep it, and print them all
 * at the end); returns the exit status at END, else -1. */
static int
ctl_handle(struct imsg *m, uint32_t cmd)
{
	const char	*s;
	uint32_t	 status;

	switch (m->type) {
	case IMSG_CTL_LINE:
		s = imsg_get_str(m);
		if (imsg_get_end(m) == 0 && cmd == CTL_SHOW_METRICS) {
			if (metrics_line(ctl_metrics, s) == -1)
				(void)fprintf(stderr, "smtpctl: a metrics line "
				    "skipped\n");
		}
		else if (imsg_get_end(m) == 0)
			ctl_print_line(stdout, "", s);
		(void)fflush(stdout);
		return -1;
	case IMSG_CTL_END:
		status = imsg_get_u32(m);
		s = imsg_get_str(m);
		if (imsg_get_end(m) == -1) {
			(void)fprintf(stderr, "smtpctl: malformed answer\n");
			return 1;
		}
		if (cmd == CTL_SHOW_METRICS)
			metrics_print(ctl_metrics, stdout);
		if (*s != '\0')
			ctl_print_line(status ? stderr : stdout,
			    status ? "smtpctl: " : "", s);
		return status ? 1 : 0;
	}
	(void)fprintf(stderr, "smtpctl: unexpected answer type %u\n", m->type);
	return 1;
}

/* Read answers until END or EOF. */
static int
ctl_read_answers(int fd, uint32_t cmd)
{
	uint8_t		*buf;
	size_t		 len = 0, used;
	ssize_t		 n;
	struct imsg	 m;
	uint32_t	 flags;
	const char	*err;
	int		 rc;

	if ((buf = malloc(CTL_READ_MAX)) == NULL)
		return 1;
	for (;;) {
		n = read(fd, buf + len, CTL_READ_MAX - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			(void)fprintf(stderr, "smtpctl: connection closed by "
			    "smtpd\n");
			free(buf);
			return 1;
		}
		len += (size_t)n;
		while ((used = imsg_wire_parse(buf, len, &m, &flags, &err)) >
		    0) {
			if ((rc = ctl_handle(&m, cmd)) != -1) {
				free(buf);
				return rc;
			}
			memmove(buf, buf + used, len - used);
			len -= used;
		}
		if (err != NULL) {
			(void)fprintf(stderr, "smtpctl: %s\n", err);
			free(buf);
			return 1;
		}
	}
}

static const struct ctl_local *
ctl_local_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(ctl_locals) / sizeof(ctl_locals[0]); i++)
		if (strcmp(ctl_locals[i].name, name) == 0)
			return &ctl_locals[i];
	return NULL;
}

static struct config *
smtpctl_config_read(const char *conffile)
{
	struct config	*cf;

	if ((cf = config_parse_file(conffile, 0)) == NULL)
		(void)fprintf(stderr, "smtpctl: cannot use %s\n", conffile);
	return cf;
}

static int
smtpctl_local_run(const struct ctl_local *local, const char *conffile,
    int argc, char **argv)
{
	struct config	*cf;
	int		 rc;

	if ((cf = smtpctl_config_read(conffile)) == NULL)
		return 1;
	policy_db_select(cf->database_conninfo, cf->database_path, 0);
	rc = local->run(cf, argc, argv);
	config_free(cf);
	return rc;
}

/*
 * A socket given with -s is used as it is: the configuration is read only
 * for its control path, so a daemon run from another configuration file
 * can be asked without naming that file too.
 */
static int
smtpctl_control_connect(const char *conffile, const char *sock)
{
	struct config	*cf;
	int		 fd;

	if (sock != NULL)
		return ctl_connect(sock);
	if ((cf = smtpctl_config_read(conffile)) == NULL)
		return -1;
	fd = ctl_connect(cf->control_path);
	config_free(cf);
	return fd;
}

int
main(int argc, char **argv)
{
	const struct ctl_verb	*v;
	const struct ctl_local	*local;
	const char		*conffile = PATH_SMTPD_CONF, *sock = NULL;
	char			 arg[CTL_ARG_MAX + 1];
	const char		*name;
	int			 ch, fd, rc;

	/* installed as newaliases too (a link to smtpctl) */
	name = argc < 1 ? "" : strrchr(argv[0], '/') != NULL ?
	    strrchr(argv[0], '/') + 1 : argv[0];
	if (strcmp(name, "newaliases") == 0)
		return smtpctl_newaliases(argc, argv);
	while ((ch = getopt(argc, argv, "f:s:")) != -1) {
		switch (ch) {
		case 'f':
			conffile = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	v = NULL;
	if ((local = ctl_local_find(argv[0])) == NULL &&
	    (v = ctl_verb_find(argc, argv)) == NULL)
		usage();
	log_init("smtpctl", 1);
	if (geteuid() != 0) {
		(void)fprintf(stderr, "smtpctl: need root privileges\n");
		return 1;
	}
	if (local != NULL)
		return smtpctl_local_run(local, conffile, argc, argv);
	if (ctl_args_join(v, argc, argv, arg, sizeof(arg)) == -1) {
		(void)fprintf(stderr, "smtpctl: the argument is too long\n");
		return 1;
	}
	if ((fd = smtpctl_control_connect(conffile, sock)) == -1)
		return 1;
	if (ctl_send_request(fd, v->cmd, arg) == -1) {
		(void)fprintf(stderr, "smtpctl: cannot send the request\n");
		(void)close(fd);
		return 1;
	}
	if (v->cmd == CTL_SHOW_METRICS && (ctl_metrics = metrics_new()) ==
	    NULL) {
		(void)fprintf(stderr, "smtpctl: out of memory\n");
		(void)close(fd);
		return 1;
	}
	rc = ctl_read_answers(fd, v->cmd);
	metrics_free(ctl_metrics);
	(void)close(fd);
	return rc;
}
