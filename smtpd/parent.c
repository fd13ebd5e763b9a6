/*
 * parent.c: smtpd(8), the root parent.
 *
 * It parses the config, binds what needs root (listeners, control
 * socket), creates the directories the children are confined to, starts
 * the children and supervises them.  It never handles mail or network
 * input itself: its only peers are its own children and root's smtpctl.
 *
 *   main()                 options, config check, privileged setup
 *   parent_prepare_dirs()  chroot, spool and database directories
 *   parent_reload()        SIGHUP / smtpctl reload
 *   parent_signal()        SIGTERM, SIGINT, SIGHUP, SIGCHLD (deaths and
 *                          stops of the children)
 * Children: parent_proc.c; sockets: parent_listen.c; smtpctl:
 * parent_control.c.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "parent.h"
#include "paths.h"
#include "proc.h"
#include "util.h"

struct parent_options	 parent_opts = {
	PATH_SMTPD_CONF, LIBEXECDIR, 0, 0
};
struct config		*parent_conf;
struct event_base	*parent_base;

static const char *parent_users[] = {
	SMTPD_USER, SMTPD_MTA_USER, SMTPD_QUEUE_USER, SMTPD_POLICY_USER,
	SMTPD_TLS_USER, SMTPD_AUTH_USER
};

static void
usage(void)
{
	(void)fprintf(stderr,
	    "usage: smtpd [-dhnv] [-f file] [-x libexecdir]\n");
	exit(1);
}

/* mkdir -p with a final owner and mode for the last component only. */
static int
parent_mkdir(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
	char		 buf[PATH_MAX], *p;
	struct stat	 sb;

	if (strlcpy(buf, path, sizeof(buf)) >= sizeof(buf))
		return -1;
	for (p = buf + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (stat(path, &sb) == 0)
		return S_ISDIR(sb.st_mode) ? 0 : -1;
	if (mkdir(path, mode) == -1 || chown(path, uid, gid) == -1 ||
	    chmod(path, mode) == -1)
		return -1;
	return 0;
}

/*
 * policyd's own directory in the database's (MTA-STS policies of the
 * outbound client): the only place it may write, so the maps beside it
 * stay read-only to it.
 */
static void
parent_prepare_sts_dir(const char *dbdir)
{
	struct passwd	*pw;
	struct stat	 sb;
	char		 path[PATH_MAX];

	if ((pw = getpwnam(SMTPD_POLICY_USER)) == NULL)
		fatalx("user %s does not exist", SMTPD_POLICY_USER);
	if (snprintf(path, sizeof(path), "%s/%s", dbdir, PATH_STS_DIR) >=
	    (int)sizeof(path))
		fatalx("MTA-STS directory under %s: path too long", dbdir);
	if (parent_mkdir(path, pw->pw_uid, pw->pw_gid, 0700) == -1)
		fatal("MTA-STS directory %s", path);
	/* never hand a symbolic link's target to policyd */
	if (lstat(path, &sb) == -1 || !S_ISDIR(sb.st_mode))
		fatalx("MTA-STS directory %s: not a directory", path);
	if (chown(path, pw->pw_uid, pw->pw_gid) == -1 ||
	    chmod(path, 0700) == -1)
		fatal("MTA-STS directory %s", path);
}

/*
 * The empty chroot, the spool (owned by the queue user, 0700, as the
 * queue must be the only process able to read it) and the database
 * directory with policyd's MTA-STS directory in it.  Existing
 * directories are checked, not re-permissioned, except the spool and
 * the MTA-STS directory, whose owners the queue and policyd depend on.
 */
void
parent_prepare_dirs(const struct config *cf)
{
	struct passwd	*pw;
	char		 dbdir[PATH_MAX];

	if ((pw = getpwnam(SMTPD_QUEUE_USER)) == NULL)
		fatalx("user %s does not exist", SMTPD_QUEUE_USER);
	if (parent_mkdir(PATH_CHROOT, 0, 0, 0755) == -1)
		fatal("chroot directory %s", PATH_CHROOT);
	if (parent_mkdir(cf->queue_path, pw->pw_uid, pw->pw_gid, 0700) == -1)
		fatal("queue directory %s", cf->queue_path);
	if (chown(cf->queue_path, pw->pw_uid, pw->pw_gid) == -1 ||
	    chmod(cf->queue_path, 0700) == -1)
		fatal("queue directory %s", cf->queue_path);
	(void)strlcpy(dbdir, cf->database_path, sizeof(dbdir));
	if (parent_mkdir(dirname(dbdir), 0, 0, 0755) == -1)
		fatal("database directory for %s", cf->database_path);
	parent_prepare_sts_dir(dbdir);
	parent_pickup_prepare(cf);
}

/* Every child user must exist before anything starts. */
static void
parent_check_users(void)
{
	size_t	 i;

	for (i = 0; i < sizeof(parent_users) / sizeof(parent_users[0]); i++)
		if (getpwnam(parent_users[i]) == NULL)
			fatalx("user %s does not exist (make install creates "
			    "it)", parent_users[i]);
}

/* A refused reload: one line, the same for smtpctl and the log. */
static int
parent_reload_refused(struct config *nconf, char *err, size_t errlen)
{
	config_free(nconf);
	(void)strlcat(err, "; old configuration kept", errlen);
	log_warnx("reload: %s", err);
	return -1;
}

/*
 * Re-read the config.  On any error the running config stays in force,
 * err says why and the log says the same; the queue is never touched.
 */
int
parent_reload(char *err, size_t errlen)
{
	struct config	*nconf, *old = parent_conf;
	int		 relisten, old_tls;

	if ((nconf = config_parse_file(parent_opts.conffile, 0)) == NULL) {
		(void)snprintf(err, errlen, "%s has errors (see the log)",
		    parent_opts.conffile);
		return parent_reload_refused(NULL, err, errlen);
	}
	if (parent_pki_load(nconf, err, errlen) == -1)
		return parent_reload_refused(nconf, err, errlen);
	relisten = parent_listen_changed(old, nconf);
	if (relisten && parent_listen_bind_all(nconf) == -1) {
		(void)snprintf(err, errlen, "cannot bind the new listeners");
		return parent_reload_refused(nconf, err, errlen);
	}
	parent_prepare_dirs(nconf);
	nconf->generation = old->generation + 1;
	parent_conf = nconf;
	parent_proc_broadcast_config();
	parent_pki_send();
	if (old->tls_processes != nconf->tls_processes)
		parent_proc_tls_resize();
	if (relisten)
		parent_listen_send();
	if (strcmp(old->queue_path, nconf->queue_path) != 0)
		parent_proc_restart(PROC_QUEUE, "queue path changed");
	if (strcmp(old->database_path, nconf->database_path) != 0)
		parent_proc_restart(PROC_POLICY, "database path changed");
	if (strcmp(old->control_path, nconf->control_path) != 0)
		log_warnx("control path change takes effect at restart");
	if (strcmp(old->sendmail_socket, nconf->sendmail_socket) != 0)
		log_warnx("sendmail socket change takes effect at restart");
	old_tls = old->tls_processes;
	config_free(old);
	log_info("configuration reloaded (generation %u)",
	    nconf->generation);
	(void)snprintf(err, errlen, "configuration reloaded");
	if (old_tls != nconf->tls_processes)
		(void)snprintf(err, errlen, "configuration reloaded; tls "
		    "processes %d -> %d", old_tls, nconf->tls_processes);
	return 0;
}

static void
parent_signal(int sig, short ev, void *arg)
{
	char	 msg[256];
	pid_t	 pid;
	int	 status;

	(void)ev;
	(void)arg;
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		log_info("received signal %d, shutting down", sig);
		parent_pickup_stop();
		parent_proc_shutdown();
		break;
	case SIGHUP:
		/* a refusal is logged by parent_reload() */
		(void)parent_reload(msg, sizeof(msg));
		break;
	case SIGCHLD:
		/* a stop raises SIGCHLD too: WUNTRACED reports it */
		while ((pid = waitpid(-1, &status, WNOHANG | WUNTRACED)) > 0) {
			if (parent_pickup_reaped(pid, status))
				continue;
			if (WIFSTOPPED(status))
				parent_proc_stopped(pid, WSTOPSIG(status));
			else
				parent_proc_reaped(pid, status);
		}
		break;
	}
}

static void
parent_signals_init(void)
{
	static const int	 sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };
	struct event		*ev;
	size_t			 i;

	(void)signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		ev = evsignal_new(parent_base, sigs[i], parent_signal, NULL);
		if (ev == NULL || evsignal_add(ev, NULL) == -1)
			fatalx("cannot watch signal %d", sigs[i]);
	}
}

/*
 * -n: check the config, print it with -v, and say so.  The pki files are
 * read and checked as at start (so -n needs the right to read the keys).
 */
static int
parent_check_config(struct config *cf)
{
	char	 err[512];

	if (parent_pki_load(cf, err, sizeof(err)) == -1) {
		(void)fprintf(stderr, "smtpd: %s\n", err);
		config_free(cf);
		return 1;
	}
	parent_pki_free();
	if (parent_opts.verbose)
		(void)config_dump(cf, stdout);
	(void)printf("configuration OK\n");
	config_free(cf);
	return 0;
}

int
main(int argc, char **argv)
{
	char	 err[512];
	int	 ch, nflag = 0, ctlfd;

	while ((ch = getopt(argc, argv, "dhnf:vx:")) != -1) {
		switch (ch) {
		case 'd':
			parent_opts.debug = 1;
			break;
		case 'f':
			parent_opts.conffile = optarg;
			break;
		case 'n':
			nflag = 1;
			break;
		case 'v':
			parent_opts.verbose++;
			break;
		case 'x':
			parent_opts.libexecdir = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("smtpd", 1);
	log_verbose_set(parent_opts.verbose);
	proc_nofile_raise();
	if ((parent_conf = config_parse_file(parent_opts.conffile,
	    parent_opts.verbose)) == NULL)
		return 1;
	if (nflag)
		return parent_check_config(parent_conf);
	if (geteuid() != 0)
		fatalx("need root privileges");
	parent_check_users();
	if (parent_pki_load(parent_conf, err, sizeof(err)) == -1)
		fatalx("%s", err);
	parent_prepare_dirs(parent_conf);
	if (parent_listen_bind_all(parent_conf) == -1)
		return 1;
	if ((ctlfd = parent_control_bind(parent_conf->control_path)) == -1)
		return 1;
	(void)parent_submit_bind(parent_conf->sendmail_socket);
	if (!parent_opts.debug && daemon(0, 0) == -1)
		fatal("daemon");
	log_init("parent", parent_opts.debug);
	if ((parent_base = event_base_new()) == NULL)
		fatalx("event_base_new");
	parent_signals_init();
	parent_control_init(ctlfd);
	parent_proc_start_all();
	parent_pickup_init();
	parent_load_init();
	log_info("smtpd started, config %s", parent_opts.conffile);
	(void)event_base_dispatch(parent_base);
	parent_control_close();
	(void)unlink(parent_conf->control_path);
	parent_listen_close_all();
	parent_submit_close();
	parent_pki_free();
	log_info("smtpd stopped");
	return 0;
}
