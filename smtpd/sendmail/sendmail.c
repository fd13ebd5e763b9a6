/*
 * sendmail.c: sendmail(8), the command programs run to send mail; as
 * mailq(8) it is -bp, as newaliases(8) -bi (the basename of argv[0]).
 *
 * The options are sendmail 8's, parsed as its getopt(3) parses them
 * (flags bundle, a value is glued to its letter or in the next word, the
 * options end at the first recipient), by hand for -d and -q, whose value
 * is glued only, and to keep the letters in one table.
 *
 * Submitting: the message is read from stdin, its headers completed
 * (sendmail_msg.c), then handed to the daemon over the sendmail socket
 * (sendmail_smtp.c) or, when that cannot be reached, written to the drop
 * directory (sendmail_drop.c) for the daemon to pick up when it starts.
 * -bp, -bi and -q run smtpctl(8), which needs root, as sendmail's own
 * do (its queue is not the users').
 *
 * The config (smtpd.conf, or -C FILE) is read only for the hostname, the
 * socket, the drop directory, the control socket and the message size
 * limit; a default config that cannot be read means the built-in
 * defaults, an unreadable -C FILE is an error.
 *
 * Exit codes are sysexits(3): EX_USAGE for a bad option, EX_NOUSER when
 * a recipient was refused, EX_TEMPFAIL when the message could be neither
 * submitted nor dropped, EX_NOPERM for what only root may do, EX_OK when
 * the daemon or the drop directory has the message.
 */
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "paths.h"
#include "sendmail.h"
#include "util.h"

struct sm_opts	 sm_opts;
struct sm_conf	 sm_conf;
struct sm_user	 sm_user;

static const char	*sm_progname = "sendmail";

void
sm_warnx(const char *fmt, ...)
{
	va_list	 ap;

	(void)fprintf(stderr, "%s: ", sm_progname);
	va_start(ap, fmt);
	(void)vfprintf(stderr, fmt, ap);
	va_end(ap);
	(void)fputc('\n', stderr);
}

void
sm_buf_add(struct sm_buf *b, const void *p, size_t n)
{
	size_t	 cap;

	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 8192;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->data = xreallocarray(b->data, cap, 1);
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
sm_buf_free(struct sm_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/*
 * Add a recipient; an unqualified one (a local user, as sendmail) gets
 * @hostname.  0, or -1 with a message if it is no valid address.
 */
int
sm_env_rcpt_add(struct sm_env *e, const char *addr)
{
	char	 q[MAILADDR_PATH_MAX];
	size_t	 i;
	int	 n;

	n = strchr(addr, '@') == NULL ?
	    snprintf(q, sizeof(q), "%s@%s", addr, sm_conf.hostname) :
	    snprintf(q, sizeof(q), "%s", addr);
	if (n < 0 || (size_t)n >= sizeof(q))
		q[0] = '\0';
	if (!mailaddr_rcpt_valid(q)) {
		sm_warnx("%s... invalid recipient address", addr);
		return -1;
	}
	for (i = 0; i < e->nrcpt; i++)
		if (strcasecmp(e->rcpts[i], q) == 0)
			return 0;
	if (e->nrcpt == e->rcptcap) {
		e->rcptcap = e->rcptcap ? e->rcptcap * 2 : 8;
		e->rcpts = xreallocarray(e->rcpts, e->rcptcap,
		    sizeof(*e->rcpts));
	}
	e->rcpts[e->nrcpt++] = xstrdup(q);
	return 0;
}

void
sm_env_free(struct sm_env *e)
{
	size_t	 i;

	for (i = 0; i < e->nrcpt; i++)
		free(e->rcpts[i]);
	free(e->rcpts);
	memset(e, 0, sizeof(*e));
}

static void __attribute__((noreturn))
sm_usage(const char *why)
{
	sm_warnx("%s", why);
	(void)fprintf(stderr, "usage: %s [-itv] [-C file] "
	    "[-F name] [-f sender] [-N dsn] [-R ret] [-V envid] "
	    "[-bm | -bs | -bp | -bi | -q] [recipient ...]\n", sm_progname);
	exit(EX_USAGE);
}

/* -N: never, or a list of success, failure, delay. */
static void
sm_opt_notify(struct sm_env *e, const char *v)
{
	char	 buf[64], *p, *w;

	if (strlcpy(buf, v, sizeof(buf)) >= sizeof(buf))
		sm_usage("-N: list too long");
	for (p = buf; (w = strsep(&p, ",")) != NULL;)
		if (strcasecmp(w, "never") != 0 &&
		    strcasecmp(w, "success") != 0 &&
		    strcasecmp(w, "failure") != 0 &&
		    strcasecmp(w, "delay") != 0)
			sm_usage("-N: never, or success, failure, delay");
	(void)strlcpy(e->notify, v, sizeof(e->notify));
	for (p = e->notify; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
}

/* -f / -r: the envelope sender ("<>" or "" for the null sender). */
static void
sm_opt_sender(struct sm_env *e, const char *v)
{
	char	 a[MAILADDR_PATH_MAX];
	size_t	 n;

	if (strlcpy(a, v[0] == '<' ? v + 1 : v, sizeof(a)) >= sizeof(a))
		sm_usage("-f: address too long");
	n = strlen(a);
	if (v[0] == '<' && n > 0 && a[n - 1] == '>')
		a[n - 1] = '\0';
	if (a[0] != '\0' && strchr(a, '@') == NULL &&
	    snprintf(e->sender, sizeof(e->sender), "%s@%s", a,
	    sm_conf.hostname) >= (int)sizeof(e->sender))
		sm_usage("-f: address too long");
	if (a[0] == '\0' || strchr(a, '@') != NULL)
		(void)strlcpy(e->sender, a, sizeof(e->sender));
	if (e->sender[0] != '\0' && !mailaddr_mailbox_valid(e->sender))
		sm_usage("-f: invalid sender address");
	e->sender_set = 1;
}

/* A sendmail boolean option value: none, or one starting t or y, is on. */
static int
sm_opt_bool(const char *v)
{
	return v == NULL || *v == '\0' || *v == 't' || *v == 'T' ||
	    *v == 'y' || *v == 'Y';
}

/* -o options: i matters, the rest are accepted; some are worth a word. */
static void
sm_opt_o(const char *p)
{
	if (p[0] == 'i') {
		sm_opts.iflag = sm_opt_bool(p + 1);
		return;
	}
	if (p[0] == 'Q' || p[0] == 'd' || p[0] == 'e' || p[0] == 'm' ||
	    p[0] == 'o' || p[0] == 'L' || p[0] == 'A' || p[0] == 'M')
		return;
	sm_warnx("-o%s ignored", p);
}

/*
 * The long names of the -o letters above, which -O takes as
 * Name=value; a name sendmail knows but that means nothing here is
 * warned about as an unknown -o letter is.
 */
static const char	*sm_long_quiet[] = {
	"QueueDirectory", "DeliveryMode", "ErrorMode", "MeToo",
	"OldStyleHeaders", "LogLevel", "AliasFile", NULL
};

static void
sm_opt_O(const char *p)
{
	char		 name[64];
	const char	*eq;
	size_t		 n, i;

	eq = strchr(p, '=');
	n = eq != NULL ? (size_t)(eq - p) : strlen(p);
	if (n == 0 || n >= sizeof(name))
		sm_usage("-O: Option=value");
	memcpy(name, p, n);
	name[n] = '\0';
	if (strcasecmp(name, "IgnoreDots") == 0) {
		sm_opts.iflag = sm_opt_bool(eq != NULL ? eq + 1 : NULL);
		return;
	}
	for (i = 0; sm_long_quiet[i] != NULL; i++)
		if (strcasecmp(name, sm_long_quiet[i]) == 0)
			return;
	sm_warnx("-O %s ignored", name);
}

/* -b modes. */
static void
sm_opt_b(const char *p)
{
	if (strcmp(p, "m") == 0)
		sm_opts.mode = SM_MODE_SEND;
	else if (strcmp(p, "s") == 0)
		sm_opts.mode = SM_MODE_SMTP;
	else if (strcmp(p, "p") == 0)
		sm_opts.mode = SM_MODE_QUEUE;
	else if (strcmp(p, "i") == 0)
		sm_opts.mode = SM_MODE_ALIASES;
	else
		sm_usage("unsupported -b mode (-bm, -bs, -bp, -bi)");
}

/*
 * sendmail 8's option letters as its getopt(3) string has them (a ':'
 * after a letter that takes a value), with Postfix's no-op U and x.
 */
static const char	 sm_optstring[] =
    "A:B:b:C:cD:d:e:F:f:Gh:IiL:M:mN:nO:o:p:Q:q:R:r:sTtUV:vX:x";

/* An option with its value (NULL for a flag). */
static void
sm_opt_letter(struct sm_env *e, int c, const char *v)
{
	switch (c) {
	case 'b':
		sm_opt_b(v);
		break;
	case 'C':
		sm_opts.conffile = v;
		sm_opts.conf_given = 1;
		break;
	case 'F':
		sm_opts.fullname = v;
		break;
	case 'f':
	case 'r':
		sm_opts.sender = v;
		break;
	case 'I':
		sm_opts.mode = SM_MODE_ALIASES;
		break;
	case 'i':
		sm_opts.iflag = 1;
		break;
	case 't':
		sm_opts.tflag = 1;
		break;
	case 'v':
		sm_opts.verbose = 1;
		break;
	case 'N':
		sm_opt_notify(e, v);
		break;
	case 'R':
		if (strcasecmp(v, "full") != 0 && strcasecmp(v, "hdrs") != 0)
			sm_usage("-R: full or hdrs");
		(void)strlcpy(e->ret, strcasecmp(v, "full") == 0 ? "FULL" :
		    "HDRS", sizeof(e->ret));
		break;
	case 'V':
		if (strlen(v) > MAILADDR_ENVID_MAX || !mailaddr_xtext_valid(v))
			sm_usage("-V: an envelope id of at most 100 xtext "
			    "octets");
		(void)strlcpy(e->envid, v, sizeof(e->envid));
		break;
	case 'q':
		/* -q alone runs the queue; -qInterval (a daemon's) is not ours */
		if (*v != '\0')
			sm_usage("-q with an interval or a selection is not "
			    "supported: smtpd runs its queue itself");
		sm_opts.mode = SM_MODE_RUNQ;
		break;
	case 'o':
		sm_opt_o(v);
		break;
	case 'O':
		sm_opt_O(v);
		break;
	case 'Q':
		sm_usage("-Q (quarantine) is not supported");
		break;
	case 'X':
		sm_warnx("-X (traffic log) ignored");
		break;
	case 'd':
	case 'D':
		sm_warnx("-%c (debugging) ignored", c);
		break;
	default:
		/* A B e h L M p, c G m n s T U x: no meaning here */
		break;
	}
}

/*
 * The letters of one option word at argv[*i], as getopt(3) takes them:
 * flags cluster ("-ti" is -t -i), a letter with a value ends the word,
 * the value glued to it or the next word.  -d and -q take a glued value
 * only, as sendmail's obsolete() makes them.
 */
static void
sm_opt_word(char **argv, int *i, struct sm_env *e)
{
	const char	*a = argv[*i], *o, *v;

	for (a++; *a != '\0'; a++) {
		if ((o = strchr(sm_optstring, *a)) == NULL || *a == ':')
			sm_usage("unknown option");
		if (o[1] != ':') {
			sm_opt_letter(e, *a, NULL);
			continue;
		}
		v = a + 1;
		if (*v == '\0' && *a != 'd' && *a != 'q') {
			if (argv[*i + 1] == NULL)
				sm_usage("option requires an argument");
			v = argv[++*i];
		}
		sm_opt_letter(e, *a, v);
		return;
	}
}

/* The options; the index of the first recipient. */
static int
sm_parse(int argc, char **argv, struct sm_env *e)
{
	int	 i;

	for (i = 1; i < argc; i++) {
		if (argv[i][0] != '-' || argv[i][1] == '\0')
			break;
		if (strcmp(argv[i], "--") == 0) {
			sm_opts.dashdash = 1;
			return i + 1;
		}
		if (strcmp(argv[i], "--pickup") == 0)
			sm_opts.mode = SM_MODE_PICKUP;
		else
			sm_opt_word(argv, &i, e);
	}
	return i;
}

/* The running user: the name of the real uid, as sendmail's. */
static int
sm_user_init(void)
{
	struct passwd	*pw;
	char		*c;

	sm_user.uid = getuid();
	if ((pw = getpwuid(sm_user.uid)) == NULL) {
		sm_warnx("uid %u is not a user of this system",
		    (unsigned)sm_user.uid);
		return -1;
	}
	(void)strlcpy(sm_user.name, pw->pw_name, sizeof(sm_user.name));
	(void)strlcpy(sm_user.gecos, pw->pw_gecos != NULL ? pw->pw_gecos : "",
	    sizeof(sm_user.gecos));
	/* GECOS: the full name is the first comma separated field */
	if ((c = strchr(sm_user.gecos, ',')) != NULL)
		*c = '\0';
	return 0;
}

/* The few settings of the config; defaults if the default is unreadable. */
static int
sm_conf_init(void)
{
	struct config	*cf;

	if (!sm_opts.conf_given && access(sm_opts.conffile, R_OK) == -1)
		cf = config_new();
	else if ((cf = config_parse_settings(sm_opts.conffile)) == NULL) {
		sm_warnx("cannot use %s", sm_opts.conffile);
		return -1;
	}
	(void)strlcpy(sm_conf.hostname, cf->hostname, sizeof(sm_conf.hostname));
	(void)strlcpy(sm_conf.socket, cf->sendmail_socket,
	    sizeof(sm_conf.socket));
	(void)strlcpy(sm_conf.drop_dir, cf->sendmail_drop_dir,
	    sizeof(sm_conf.drop_dir));
	(void)strlcpy(sm_conf.control, cf->control_path,
	    sizeof(sm_conf.control));
	sm_conf.message_size = cf->limit_message_size;
	config_free(cf);
	return 0;
}

/*
 * -bp, -bi, -q: smtpctl beside this program (or in SBINDIR's place),
 * run with the same config; only root may, as smtpctl says.  newaliases
 * takes -v on (each alias as it is stored), as sendmail's does.
 */
static int
sm_smtpctl(const char *name, const char *cmd, const char *arg)
{
	char		 self[PATH_MAX], path[PATH_MAX + 16], *slash;
	char		*av[8];
	ssize_t		 n;
	int		 ac = 0;

	if (geteuid() != 0) {
		sm_warnx("permission denied: only root may %s",
		    sm_opts.mode == SM_MODE_QUEUE ? "list the mail queue" :
		    sm_opts.mode == SM_MODE_ALIASES ? "rebuild the aliases" :
		    "run the mail queue");
		return EX_NOPERM;
	}
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) == -1)
		return EX_OSERR;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) != NULL)
		*slash = '\0';
	(void)snprintf(path, sizeof(path), "%s/smtpctl", self);
	av[ac++] = (char *)name;
	av[ac++] = (char *)"-f";
	av[ac++] = (char *)sm_opts.conffile;
	if (sm_opts.mode == SM_MODE_ALIASES && sm_opts.verbose)
		av[ac++] = (char *)"-v";
	if (cmd != NULL)
		av[ac++] = (char *)cmd;
	if (arg != NULL)
		av[ac++] = (char *)arg;
	av[ac] = NULL;
	(void)fflush(stdout);
	(void)execv(path, av);
	sm_warnx("%s: %s", path, strerror(errno));
	return EX_UNAVAILABLE;
}

/* Submit, or drop when the daemon cannot be reached. */
static int
sm_deliver(struct sm_env *e, struct sm_buf *msg)
{
	int	 fd, rc, refused = 0;

	if ((fd = sm_smtp_connect()) == -1)
		return sm_drop_write(e, msg);
	rc = sm_smtp_submit(fd, e, msg, &refused);
	(void)close(fd);
	/* the daemon could not take it now: the drop keeps it */
	if (rc == EX_TEMPFAIL && !refused)
		return sm_drop_write(e, msg);
	return rc;
}

/*
 * A recipient word.  As sendmail's getopt(3), the options end at the
 * first recipient, so "bob -v" is no -v; sendmail then bounces the user
 * "-v", we refuse the word before anything is sent.  After "--" such a
 * word is an address.
 */
static int
sm_rcpt_arg(struct sm_env *e, const char *arg)
{
	if (arg[0] == '-' && !sm_opts.dashdash) {
		sm_warnx("%s... not a recipient: options come before the "
		    "recipients (-- before an address that starts with -)",
		    arg);
		return -1;
	}
	return sm_env_rcpt_add(e, arg);
}

/* The default mode: read, complete, submit. */
static int
sm_send(struct sm_env *e, char **rcpts, int n)
{
	struct sm_buf	 msg;
	int		 i, rc;

	memset(&msg, 0, sizeof(msg));
	if (sm_opts.sender != NULL)
		sm_opt_sender(e, sm_opts.sender);
	for (i = 0; i < n; i++)
		if (sm_rcpt_arg(e, rcpts[i]) == -1)
			return EX_NOUSER;
	if (!sm_opts.tflag && e->nrcpt == 0)
		sm_usage("no recipients given");
	if (!e->sender_set && snprintf(e->sender, sizeof(e->sender), "%s@%s",
	    sm_user.name, sm_conf.hostname) >= (int)sizeof(e->sender)) {
		sm_warnx("user name too long for an address");
		return EX_NOUSER;
	}
	if ((rc = sm_msg_read(STDIN_FILENO, &msg)) != 0 ||
	    (rc = sm_msg_headers(&msg, e)) != 0) {
		sm_buf_free(&msg);
		return rc;
	}
	if (e->nrcpt == 0) {
		sm_buf_free(&msg);
		sm_warnx("no recipients found in the message");
		return EX_USAGE;
	}
	rc = sm_deliver(e, &msg);
	sm_buf_free(&msg);
	return rc;
}

/* --pickup: the parent gives us a drop file on stdin, as its owner. */
static int
sm_pickup(void)
{
	struct sm_env	 e;
	struct sm_buf	 msg;
	int		 fd, rc, refused = 0;

	memset(&e, 0, sizeof(e));
	memset(&msg, 0, sizeof(msg));
	if ((rc = sm_drop_read(STDIN_FILENO, &e, &msg)) != 0)
		goto done;
	if ((fd = sm_smtp_connect()) == -1) {
		rc = EX_TEMPFAIL;
		goto done;
	}
	rc = sm_smtp_submit(fd, &e, &msg, &refused);
	(void)close(fd);
done:
	sm_env_free(&e);
	sm_buf_free(&msg);
	return rc;
}

static int
sm_run(struct sm_env *e, char **rcpts, int n)
{
	int	 fd;

	/* no flag may quietly become a sender where nothing is sent */
	if (sm_opts.sender != NULL && sm_opts.mode != SM_MODE_SEND)
		sm_warnx("-f ignored: %s", sm_opts.mode == SM_MODE_SMTP ?
		    "with -bs the sender is MAIL FROM's" :
		    "no message is sent");
	switch (sm_opts.mode) {
	case SM_MODE_QUEUE:
		return sm_smtpctl("smtpctl", "show", "queue");
	case SM_MODE_ALIASES:
		return sm_smtpctl("newaliases", NULL, NULL);
	case SM_MODE_RUNQ:
		return sm_smtpctl("smtpctl", "schedule", "all");
	case SM_MODE_SMTP:
		if ((fd = sm_smtp_connect()) == -1) {
			(void)printf("421 4.3.0 %s mail system not running, "
			    "try again later\r\n", sm_conf.hostname);
			return EX_TEMPFAIL;
		}
		return sm_smtp_relay(fd);
	case SM_MODE_PICKUP:
		return sm_pickup();
	default:
		return sm_send(e, rcpts, n);
	}
}

int
main(int argc, char **argv)
{
	struct sm_env	 e;
	const char	*base;
	int		 first, rc;

	base = argc > 0 && argv[0] != NULL ? argv[0] : "sendmail";
	if (strrchr(base, '/') != NULL)
		base = strrchr(base, '/') + 1;
	memset(&e, 0, sizeof(e));
	sm_opts.conffile = PATH_SMTPD_CONF;
	if (strcmp(base, "mailq") == 0) {
		sm_progname = "mailq";
		sm_opts.mode = SM_MODE_QUEUE;
	} else if (strcmp(base, "newaliases") == 0) {
		sm_progname = "newaliases";
		sm_opts.mode = SM_MODE_ALIASES;
	}
	log_init(sm_progname, 1);
	/* a daemon that hangs up is an EX_TEMPFAIL, not a death */
	(void)signal(SIGPIPE, SIG_IGN);
	/* -f and the recipients are qualified later, with the config's name */
	first = sm_parse(argc, argv, &e);
	if (sm_conf_init() == -1)
		return EX_CONFIG;
	if (sm_user_init() == -1)
		return EX_NOUSER;
	rc = sm_run(&e, argv + first, argc - first);
	sm_env_free(&e);
	return rc;
}
