/*
 * proc.c: the child process skeleton of proc.h: argument handling,
 * confinement, the parent channel (config, peer channels, verbosity,
 * control requests); the counters are stats.c's.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "proc.h"
#include "sandbox.h"

/* supplementary groups a child may keep (see proc_groups()) */
#define PROC_GROUPS_MAX	16

struct config		*conf;
struct event_base	*proc_base;
int			 proc_debug;

static const struct proc_def	*proc_self;
/* channels by peer and instance; only tlsproxy has more than instance 0 */
static struct imsgev		*proc_chan[PROC_COUNT][PROC_INSTANCES_MAX];
/* the instance of the peer whose message or channel event is handled */
static unsigned			 proc_cur_inst;
/* this process's own instance (-i) */
static unsigned			 proc_self_inst;
/* where proc_peer_pick() looks first next time, per peer */
static unsigned			 proc_next_pick[PROC_COUNT];
static const char		*proc_rootdir = "/";
static char			*proc_confbuf;
static size_t			 proc_conflen;
static uint32_t			 proc_confgen;
static int			 proc_monitoring;
static struct event		*proc_ev_term;


static const char *proc_names[PROC_COUNT] = {
	[PROC_PARENT] = "parent",
	[PROC_SMTP] = "smtp",
	[PROC_MTA] = "mta",
	[PROC_QUEUE] = "queue",
	[PROC_POLICY] = "policyd",
	[PROC_AUTH] = "auth",
	[PROC_LOCAL] = "local",
	[PROC_TLS] = "tlsproxy",
};

static void	proc_dispatch(struct imsgev *, struct imsg *, void *);
static void	proc_closed(struct imsgev *, const char *, void *);
static void	proc_parent_dispatch(struct imsgev *, struct imsg *, void *);

/* The channel callbacks' argument: peer id and instance in one word. */
#define PROC_CHAN_ARG(id, inst)	((void *)(intptr_t)((id) | ((inst) << 8)))
#define PROC_CHAN_ID(arg)	((enum proc_id)((intptr_t)(arg) & 0xff))
#define PROC_CHAN_INST(arg)	((unsigned)((intptr_t)(arg) >> 8))

const char *
proc_name(enum proc_id id)
{
	if ((unsigned)id >= PROC_COUNT)
		return "unknown";
	return proc_names[id];
}

const char *
proc_root(void)
{
	return proc_rootdir;
}

static void
proc_sigterm(int sig, short ev, void *arg)
{
	(void)sig;
	(void)ev;
	(void)arg;
	log_debug("exiting on SIGTERM");
	if (proc_self->shutdown != NULL)
		proc_self->shutdown();
	(void)event_base_loopexit(proc_base, NULL);
}

static void
proc_usage(void)
{
	(void)fprintf(stderr, "usage: %s [-dv] [-i instance] [-r root]\n"
	    "(started by smtpd(8), not by hand)\n", proc_self->name);
	exit(1);
}

/*
 * Sessions, message files and group commits all hold descriptors: use
 * the hard limit, not the soft default of 1024.
 */
void
proc_nofile_raise(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur == rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("setrlimit RLIMIT_NOFILE");
}

/* Parse the arguments the parent gives, start logging and the event base. */
void
proc_setup(const struct proc_def *def, int argc, char **argv)
{
	const char	*errstr;
	int		 ch, verbose = 0;

	proc_self = def;
	while ((ch = getopt(argc, argv, "di:r:v")) != -1) {
		switch (ch) {
		case 'd':
			proc_debug = 1;
			break;
		case 'i':
			proc_self_inst = (unsigned)strtonum(optarg, 0,
			    PROC_INSTANCES_MAX - 1, &errstr);
			if (errstr != NULL)
				proc_usage();
			break;
		case 'r':
			proc_rootdir = optarg;
			break;
		case 'v':
			verbose++;
			break;
		default:
			proc_usage();
		}
	}
	log_init(def->name, proc_debug);
	log_verbose_set(verbose);
	proc_nofile_raise();
	if ((proc_base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	(void)signal(SIGPIPE, SIG_IGN);
	(void)signal(SIGHUP, SIG_IGN);
	(void)signal(SIGINT, SIG_IGN);
	proc_ev_term = evsignal_new(proc_base, SIGTERM, proc_sigterm, NULL);
	if (proc_ev_term == NULL || evsignal_add(proc_ev_term, NULL) == -1)
		fatalx("cannot watch SIGTERM");
	proc_chan[PROC_PARENT][0] = imsgev_open(proc_base, PROC_PARENT_FD,
	    "parent", proc_parent_dispatch, proc_closed,
	    PROC_CHAN_ARG(PROC_PARENT, 0));
	if (proc_chan[PROC_PARENT][0] == NULL)
		fatal("no parent channel on fd %d", PROC_PARENT_FD);
}

/*
 * The supplementary groups of user: those /etc/group lists it in, less
 * its own gid, which is its real and effective gid already.  Only
 * smtpd-auth's user has one (sasl, to read the sasldb); every other
 * child has none.
 */
static int
proc_groups(const char *user, gid_t gid, gid_t *groups, int *n)
{
	gid_t	 all[PROC_GROUPS_MAX];
	int	 i, nall = PROC_GROUPS_MAX;

	if (getgrouplist(user, gid, all, &nall) == -1)
		return -1;
	*n = 0;
	for (i = 0; i < nall; i++)
		if (all[i] != gid)
			groups[(*n)++] = all[i];
	return 0;
}

/*
 * What each child is denied through resource limits, set soft and hard
 * (an unprivileged process may lower a hard limit, never raise it).
 * Every child gets RLIMIT_CORE 0.
 *
 * PROC_LIMIT_NOTASK, RLIMIT_NPROC 0: no fork and no thread.  Linux counts
 * the tasks of a real uid, threads included, over every process of that
 * user, and refuses a clone(2) past the limit.  So it is set only where
 * no thread is ever started: smtp and mta start a libunbound thread for
 * each resolver context at its first query and the queue its sync
 * thread, all after the chroot; and a small count would be no safer, as
 * every other process of the same user (a second daemon on the host)
 * takes from it.
 *
 * PROC_LIMIT_NOWRITE, RLIMIT_FSIZE 0: a write to a regular file fails
 * (and raises SIGXFSZ).  Not for the queue (the spool) nor for smtp,
 * which writes each message into the file the queue hands it.
 */
#define PROC_LIMIT_NOTASK	0x01
#define PROC_LIMIT_NOWRITE	0x02

static const struct proc_limits {
	const char	*name;
	int		 flags;
} proc_limits[] = {
	{ "smtp",	0 },
	{ "mta",	PROC_LIMIT_NOWRITE },
	{ "queue",	0 },
	{ "policyd",	PROC_LIMIT_NOTASK | PROC_LIMIT_NOWRITE },
	{ "tlsproxy",	PROC_LIMIT_NOTASK | PROC_LIMIT_NOWRITE },
	{ "auth",	PROC_LIMIT_NOTASK | PROC_LIMIT_NOWRITE },
	/* forks a child per delivery, which writes the mailbox */
	{ "local",	0 },
};

/*
 * In -d the log goes to stderr, which may be a regular file (smtpd -d
 * 2>file): RLIMIT_FSIZE 0 would kill the process at its next log line.
 */
static int
proc_log_is_file(void)
{
	struct stat	 sb;

	return fstat(STDERR_FILENO, &sb) == 0 && S_ISREG(sb.st_mode);
}

static void
proc_limit_zero(int resource, const char *what)
{
	struct rlimit	 rl;

	rl.rlim_cur = rl.rlim_max = 0;
	if (setrlimit(resource, &rl) == -1)
		fatal("setrlimit %s", what);
}

/* Apply the limits of the process called name (proc_limits[]). */
static void
proc_limits_apply(const char *name)
{
	size_t	 i;
	int	 flags = 0;

	for (i = 0; i < sizeof(proc_limits) / sizeof(proc_limits[0]); i++)
		if (strcmp(proc_limits[i].name, name) == 0)
			flags = proc_limits[i].flags;
	proc_limit_zero(RLIMIT_CORE, "RLIMIT_CORE");
	if (flags & PROC_LIMIT_NOTASK)
		proc_limit_zero(RLIMIT_NPROC, "RLIMIT_NPROC");
	if (!(flags & PROC_LIMIT_NOWRITE))
		return;
	if (proc_log_is_file())
		log_debug("log on a regular file: RLIMIT_FSIZE left as is");
	else
		proc_limit_zero(RLIMIT_FSIZE, "RLIMIT_FSIZE");
}

/*
 * What every child's confinement ends with: no tracing, no new
 * privileges through exec, its limits, and last its seccomp filter (from
 * there on only the calls of its own list work).
 */
static void
proc_confine_rest(void)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("PR_SET_DUMPABLE");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("PR_SET_NO_NEW_PRIVS");
	proc_limits_apply(proc_self->name);
	if (sandbox_enter(proc_self->name) == -1)
		fatalx("cannot enter the seccomp sandbox");
}

/*
 * chroot to root and become user: after this the process can reach only
 * what it opened before, cannot regain privileges, cannot be traced, and
 * is held to its resource limits (proc_limits[]).
 */
void
proc_confine(const char *root, const char *user)
{
	struct passwd	*pw;
	uid_t		 uid;
	gid_t		 gid, groups[PROC_GROUPS_MAX];
	int		 ngroups;

	if ((pw = getpwnam(user)) == NULL)
		fatalx("unknown user %s (run make install)", user);
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (proc_groups(user, gid, groups, &ngroups) == -1)
		fatalx("too many groups for %s", user);
	if (chroot(root) == -1)
		fatal("chroot %s", root);
	if (chdir("/") == -1)
		fatal("chdir /");
	if (setgroups((size_t)ngroups, groups) == -1 ||
	    setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1)
		fatal("cannot drop privileges to %s", user);
	proc_confine_rest();
	log_debug("confined to %s as %s", root, user);
}

/*
 * The confinement of smtpd-local, which must stay root to take a user's
 * identity for each delivery and cannot chroot (it opens the mailboxes
 * of the system, later the users' homes): no tracing, no new privileges
 * through exec, the limits and the seccomp filter of proc_confine().
 */
void
proc_confine_root(void)
{
	proc_confine_rest();
	log_debug("confined as root, without chroot");
}

void
proc_run(void)
{
	(void)event_base_dispatch(proc_base);
	exit(0);
}

/* The channel to a peer: its first instance that is up. */
struct imsgev *
proc_peer(enum proc_id id)
{
	unsigned	 i;

	if ((unsigned)id >= PROC_COUNT)
		return NULL;
	for (i = 0; i < PROC_INSTANCES_MAX; i++)
		if (proc_chan[id][i] != NULL)
			return proc_chan[id][i];
	return NULL;
}

struct imsgev *
proc_peer_n(enum proc_id id, unsigned inst)
{
	if ((unsigned)id >= PROC_COUNT || inst >= PROC_INSTANCES_MAX)
		return NULL;
	return proc_chan[id][inst];
}

/*
 * Round robin over the instances of a peer whose channel is up; -1 if
 * none is.  An instance that is down (restarting, or beyond "tls
 * processes") is skipped, so new work goes to the others meanwhile.
 */
int
proc_peer_pick(enum proc_id id)
{
	unsigned	 i, inst;

	if ((unsigned)id >= PROC_COUNT)
		return -1;
	for (i = 0; i < PROC_INSTANCES_MAX; i++) {
		inst = (proc_next_pick[id] + i) % PROC_INSTANCES_MAX;
		if (proc_chan[id][inst] != NULL) {
			proc_next_pick[id] = inst + 1;
			return (int)inst;
		}
	}
	return -1;
}

unsigned
proc_peer_instance(void)
{
	return proc_cur_inst;
}

unsigned
proc_instance(void)
{
	return proc_self_inst;
}

int
proc_send(enum proc_id id, struct imsg_out *out, int fd)
{
	return imsgev_send(proc_peer(id), out, fd);
}

int
proc_send_n(enum proc_id id, unsigned inst, struct imsg_out *out, int fd)
{
	return imsgev_send(proc_peer_n(id, inst), out, fd);
}

int
proc_compose(enum proc_id id, uint32_t type, uint32_t imsgid, int fd,
    const void *data, size_t len)
{
	return imsgev_compose(proc_peer(id), type, imsgid, fd, data, len);
}

/* Drop a channel we still hold and tell the process about it. */
static void
proc_peer_drop(enum proc_id id, unsigned inst)
{
	struct imsgev	*iev = proc_chan[id][inst];

	if (iev == NULL)
		return;
	proc_chan[id][inst] = NULL;
	imsgev_close(iev);
	proc_cur_inst = inst;
	if (proc_self->peer_down != NULL)
		proc_self->peer_down(id);
	proc_cur_inst = 0;
}

/*
 * A peer sent something we cannot accept.  The parent is the only one
 * that can restart it, so close our side and report.  The instance is
 * the one whose message is being handled.
 */
void
proc_peer_bad(enum proc_id id, const char *why, uint32_t type)
{
	struct imsg_out	 out;
	char		 reason[160];
	unsigned	 inst = proc_cur_inst;

	(void)snprintf(reason, sizeof(reason), "%s (imsg type %u)", why, type);
	log_warnx("dropping %s: %s", proc_name(id), reason);
	stats_add("proc.peer_bad", 1);
	if (id == PROC_PARENT)
		fatalx("bad message from parent: %s", reason);
	proc_peer_drop(id, inst);
	imsg_out_init(&out, IMSG_PEER_BAD, 0);
	imsg_put_u32(&out, id);
	imsg_put_str(&out, reason);
	imsg_put_u32(&out, inst);
	(void)proc_send(PROC_PARENT, &out, -1);
}

static void
proc_closed(struct imsgev *iev, const char *reason, void *arg)
{
	enum proc_id	 id = PROC_CHAN_ID(arg);
	unsigned	 inst = PROC_CHAN_INST(arg);

	if (id == PROC_PARENT) {
		log_debug("parent channel closed (%s), exiting", reason);
		exit(0);
	}
	if (proc_chan[id][inst] != iev)
		return;
	log_info("channel to %s lost: %s", imsgev_name(iev), reason);
	proc_chan[id][inst] = NULL;
	proc_cur_inst = inst;
	if (proc_self->peer_down != NULL)
		proc_self->peer_down(id);
	proc_cur_inst = 0;
}

/*
 * The only messages that may carry a descriptor (proto.h).  Any other
 * message with one is refused, so a peer cannot leak descriptors into
 * this process until it runs out of them.
 */
static int
proc_imsg_takes_fd(uint32_t type)
{
	switch (type) {
	case IMSG_PEER_CHANNEL:
	case IMSG_SMTP_LISTENER:
	case IMSG_QUEUE_MESSAGE_CREATED:
	case IMSG_QUEUE_MESSAGE_REWRITING:
	case IMSG_MTA_DELIVER:
	case IMSG_LOCAL_DELIVER:
	case IMSG_TLS_SERVER_START:
	case IMSG_TLS_CLIENT_START:
	case IMSG_TLS_RESULT:
	case IMSG_SMTP_MILTER_CONNECTED:
		return 1;
	}
	return 0;
}

static void
proc_dispatch(struct imsgev *iev, struct imsg *m, void *arg)
{
	enum proc_id	 id = PROC_CHAN_ID(arg);
	unsigned	 inst = PROC_CHAN_INST(arg);

	if (proc_chan[id][inst] != iev) {
		if (m->fd != -1)
			(void)close(m->fd);
		return;
	}
	proc_cur_inst = inst;
	if (m->fd != -1 && !proc_imsg_takes_fd(m->type)) {
		(void)close(m->fd);
		m->fd = -1;
		proc_peer_bad(id, "descriptor on a message that takes none",
		    m->type);
	} else if (imsgev_dispatch_table(proc_self->handlers[id],
	    proc_self->nhandlers[id], iev, m, (void *)(intptr_t)id) == -1)
		proc_peer_bad(id, "unexpected message", m->type);
	proc_cur_inst = 0;
}

/*
 * IMSG_PEER_CHANNEL: install (or replace) the channel to an instance of
 * a peer.
 */
static void
proc_peer_channel(struct imsgev *iev, struct imsg *m, void *arg)
{
	uint32_t	 id = imsg_get_u32(m);
	uint32_t	 inst = imsg_get_u32(m);
	struct imsgev	*nev;
	char		 name[32];

	(void)iev;
	(void)arg;
	if (imsg_get_end(m) == -1 || m->fd == -1 || id == PROC_PARENT ||
	    id >= PROC_COUNT || inst >= PROC_INSTANCES_MAX ||
	    proc_self->handlers[id] == NULL) {
		if (m->fd != -1)
			(void)close(m->fd);
		log_warnx("ignoring channel for peer %u: not a peer of %s",
		    id, proc_self->name);
		return;
	}
	if (proc_chan[id][inst] != NULL)
		proc_peer_drop(id, inst);
	if (inst == 0)
		(void)strlcpy(name, proc_names[id], sizeof(name));
	else
		(void)snprintf(name, sizeof(name), "%s[%u]", proc_names[id],
		    inst);
	nev = imsgev_open(proc_base, m->fd, name, proc_dispatch,
	    proc_closed, PROC_CHAN_ARG(id, inst));
	if (nev == NULL) {
		(void)close(m->fd);
		log_warn("cannot open channel to %s", name);
		return;
	}
	proc_chan[id][inst] = nev;
	log_debug("channel to %s up", name);
	proc_cur_inst = inst;
	if (proc_self->peer_up != NULL)
		proc_self->peer_up(id);
	proc_cur_inst = 0;
}

static void
proc_conf_begin(struct imsgev *iev, struct imsg *m, void *arg)
{
	(void)iev;
	(void)arg;
	proc_confgen = imsg_get_u32(m);
	if (imsg_get_end(m) == -1)
		fatalx("bad config header from parent");
	free(proc_confbuf);
	proc_confbuf = NULL;
	proc_conflen = 0;
}

static void
proc_conf_data(struct imsgev *iev, struct imsg *m, void *arg)
{
	const char	*s = imsg_get_str(m);
	size_t		 n = strlen(s);
	char		*p;

	(void)iev;
	(void)arg;
	if (imsg_get_end(m) == -1)
		fatalx("bad config chunk from parent");
	if ((p = realloc(proc_confbuf, proc_conflen + n + 1)) == NULL)
		fatal("config buffer");
	memcpy(p + proc_conflen, s, n + 1);
	proc_confbuf = p;
	proc_conflen += n;
}

static void
proc_conf_end(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct config	*nconf, *old = conf;
	uint32_t	 gen;

	(void)iev;
	(void)arg;
	(void)m;
	if (proc_confbuf == NULL)
		fatalx("empty config from parent");
	nconf = config_parse_buffer(proc_confbuf, proc_conflen);
	free(proc_confbuf);
	proc_confbuf = NULL;
	proc_conflen = 0;
	if (nconf == NULL) {
		log_warnx("config from parent does not parse; keeping the old");
		return;
	}
	conf = nconf;
	gen = nconf->generation = proc_confgen;
	if (proc_self->config_apply != NULL)
		proc_self->config_apply(nconf, old);
	if (old != NULL)
		config_free(old);
	(void)proc_compose(PROC_PARENT, IMSG_CONF_APPLIED, 0, -1, &gen,
	    sizeof(gen));
}

static void
proc_log_verbose(struct imsgev *iev, struct imsg *m, void *arg)
{
	uint32_t	 v = imsg_get_u32(m);

	(void)iev;
	(void)arg;
	if (imsg_get_end(m) == 0)
		log_verbose_set((int)v);
}

/* Control requests every process answers the same way. */
static int
proc_ctl_common(uint32_t ctlid, uint32_t cmd, const char *arg)
{
	switch (cmd) {
	case CTL_SHOW_STATS:
		stats_ctl_show(ctlid);
		proc_ctl_end(ctlid, 0, "");
		return 1;
	case CTL_SHOW_METRICS:
		/* smtpctl groups the processes' lines into metric families */
		stats_ctl_metrics(ctlid, proc_self->name, (int)proc_self_inst);
		proc_ctl_end(ctlid, 0, "");
		return 1;
	case CTL_MONITOR:
		proc_monitoring = strcmp(arg, "on") == 0;
		proc_ctl_end(ctlid, 0, "");
		return 1;
	}
	return 0;
}

static void
proc_ctl_request(struct imsgev *iev, struct imsg *m, void *arg)
{
	uint32_t	 cmd = imsg_get_u32(m);
	const char	*carg = imsg_get_str(m);

	(void)iev;
	(void)arg;
	if (imsg_get_end(m) == -1) {
		log_warnx("malformed control request from parent");
		return;
	}
	if (proc_ctl_common(m->id, cmd, carg))
		return;
	if (proc_self->ctl == NULL) {
		/* a process with nothing to report still answers status */
		if (cmd == CTL_SHOW_STATUS)
			proc_ctl_end(m->id, 0, "");
		else
			proc_ctl_end(m->id, 1, "not supported by this process");
		return;
	}
	proc_self->ctl(m->id, cmd, carg);
}

/* The parent messages that the skeleton handles for every process. */
static const struct imsg_handler proc_parent_common[] = {
	{ IMSG_CONF_BEGIN,	proc_conf_begin },
	{ IMSG_CONF_DATA,	proc_conf_data },
	{ IMSG_CONF_END,	proc_conf_end },
	{ IMSG_PEER_CHANNEL,	proc_peer_channel },
	{ IMSG_LOG_VERBOSE,	proc_log_verbose },
	{ IMSG_CTL_REQUEST,	proc_ctl_request },
};

/*
 * Messages from the parent: the common set first, then the process's own
 * table.  The parent is trusted: garbage from it means a bug, so fatal.
 */
static void
proc_parent_dispatch(struct imsgev *iev, struct imsg *m, void *arg)
{
	size_t	 n = sizeof(proc_parent_common) / sizeof(proc_parent_common[0]);
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (proc_parent_common[i].type == m->type) {
			proc_parent_common[i].fn(iev, m, arg);
			return;
		}
	}
	if (imsgev_dispatch_table(proc_self->handlers[PROC_PARENT],
	    proc_self->nhandlers[PROC_PARENT], iev, m, arg) == -1)
		fatalx("unexpected message %u from parent", m->type);
}

void
proc_ctl_line(uint32_t ctlid, const char *fmt, ...)
{
	struct imsg_out	 out;
	char		 line[2048];
	va_list		 ap;

	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	imsg_out_init(&out, IMSG_CTL_LINE, ctlid);
	imsg_put_str(&out, line);
	(void)proc_send(PROC_PARENT, &out, -1);
}

void
proc_ctl_end(uint32_t ctlid, int status, const char *msg)
{
	struct imsg_out	 out;

	imsg_out_init(&out, IMSG_CTL_END, ctlid);
	imsg_put_u32(&out, (uint32_t)status);
	imsg_put_str(&out, msg);
	(void)proc_send(PROC_PARENT, &out, -1);
}

void
proc_monitor(const char *fmt, ...)
{
	struct imsg_out	 out;
	char		 line[1024];
	va_list		 ap;

	if (!proc_monitoring)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	imsg_out_init(&out, IMSG_CTL_EVENT, 0);
	imsg_put_str(&out, line);
	(void)proc_send(PROC_PARENT, &out, -1);
}

