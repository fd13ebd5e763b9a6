/*
 * local_deliver.c: the queue's IMSG_LOCAL_DELIVER requests, each answered
 * with one IMSG_LOCAL_RESULT.
 *
 * Interface in local.h.  A request is checked again, whatever the queue
 * says.  For a mailbox, the name ("user" or "user+detail") must name a
 * user of the system (getpwnam of the part before '+'; unknown: 5.1.1),
 * and never uid 0 (mail to root is for an alias; a 4.3.0 that keeps it
 * queued, and a warning).  A |program or /file target runs as the user
 * the request names (the owner of the .forward), or, for an alias, as
 * local default-user ("mail" if the system has it, else "nobody"), and
 * never as root either.  Then a child is forked that becomes the user
 * and delivers by the rule of the mailbox (config_local_delivery_find:
 * the user's, the domain's of the address the mail was sent to, the
 * default, mbox) or to the program or file (local_child.c).  Its result
 * is the line it wrote on its result pipe (local_result.c), else its exit
 * status (sysexits) read in local_exits[].  This process opens no mailbox
 * itself.
 *
 * At most LOCAL_CHILDREN_MAX children run, one per user at a time, so
 * that two messages for one mailbox go in the order they came; the other
 * requests wait.  Each child has a pidfd (taken right after the fork), on
 * which its exit is seen and through which it is killed if it outlives
 * its own time limit by LOCAL_KILL_GRACE seconds.  If the queue goes away
 * the children are told to undo their deliveries (SIGTERM), since their
 * results could no longer be reported, and the waiting requests are
 * dropped: the queue requeues them.  A malformed request is a broken
 * queue (proc_peer_bad).
 */
#include <sys/pidfd.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "log.h"
#include "proc.h"
#include "util.h"
#include "local.h"

struct local_req {
	TAILQ_ENTRY(local_req)	 entry;
	uint32_t		 id;		/* the queue's batch id */
	uint64_t		 evpid;
	char			*sender;
	char			*rcpt;
	char			*orig;
	uint32_t		 kind;		/* TARGET_MAILBOX, ... */
	time_t			 ctime;		/* the message's */
	uint32_t		 flags;		/* LOCAL_DELIVER_F_* */
	/* the child ended without a result: it may have delivered */
	int			 unsure;
	char			 user[LOCAL_USER_MAX];
	char			*home;
	uid_t			 uid;
	gid_t			 gid;
	int			 msgfd;
	int			 resultfd;	/* the result pipe, read end */
	/* the child: -1 while the request waits */
	pid_t			 pid;
	int			 pidfd;
	/* started by the spawner: not ours to wait for */
	int			 spawned;
	/* killed after its time; no result is sent for an orphan */
	int			 killed;
	int			 orphan;
	struct event		*ev_exit;
	struct event		*ev_kill;
};

static TAILQ_HEAD(, local_req)	 local_reqs = TAILQ_HEAD_INITIALIZER(local_reqs);
static size_t			 local_nreqs, local_nrunning;

/* What each exit status of a child means. */
static const struct {
	int		 code;
	uint32_t	 status;
	const char	*estatus;
	const char	*text;
} local_exits[] = {
	{ 0, STATUS_OK, "2.0.0", "delivered to mailbox" },
	{ EX_DATAERR, STATUS_PERMFAIL, "5.4.6", "mail loops back to me" },
	{ EX_NOUSER, STATUS_PERMFAIL, "5.1.1", "User unknown" },
	{ EX_TEMPFAIL, STATUS_TEMPFAIL, "4.2.0",
	    "mailbox locked by another process, or the delivery timed out" },
	{ EX_CANTCREAT, STATUS_TEMPFAIL, "4.3.0", "cannot open the mailbox "
	    "safely (not a regular file of the user with one link)" },
	{ EX_IOERR, STATUS_TEMPFAIL, "4.3.0",
	    "write error on the mailbox (full?); truncated back" },
	{ EX_NOINPUT, STATUS_TEMPFAIL, "4.3.0", "cannot read the message" },
	{ EX_OSERR, STATUS_TEMPFAIL, "4.3.0",
	    "cannot take the identity of the user" },
	{ EX_NOPERM, STATUS_PERMFAIL, "5.7.1", "refused by local policy" },
};

size_t
local_deliver_count(void)
{
	return local_nreqs;
}

static void
local_deliver_free(struct local_req *r)
{
	TAILQ_REMOVE(&local_reqs, r, entry);
	local_nreqs--;
	if (r->pid != -1)
		local_nrunning--;
	if (r->ev_exit != NULL)
		event_free(r->ev_exit);
	if (r->ev_kill != NULL)
		event_free(r->ev_kill);
	if (r->pidfd != -1)
		(void)close(r->pidfd);
	if (r->msgfd != -1)
		(void)close(r->msgfd);
	if (r->resultfd != -1)
		(void)close(r->resultfd);
	free(r->home);
	free(r->sender);
	free(r->rcpt);
	free(r->orig);
	free(r);
	stats_set("local.requests", (int64_t)local_nreqs);
}

/* Answer the queue and forget the request. */
static void
local_deliver_result(struct local_req *r, uint32_t status,
    const char *estatus, const char *text)
{
	struct imsg_out	 out;

	if (!r->orphan) {
		imsg_out_init(&out, IMSG_LOCAL_RESULT, r->id);
		imsg_put_u64(&out, r->evpid);
		imsg_put_u32(&out, status);
		imsg_put_str(&out, estatus);
		imsg_put_str(&out, text);
		imsg_put_u32(&out, r->unsure ? LOCAL_RESULT_F_UNSURE : 0);
		if (proc_send(PROC_QUEUE, &out, -1) == -1)
			log_warnx("%016llx: result lost (queue gone)",
			    (unsigned long long)r->evpid);
	}
	stats_add(status == STATUS_OK ? "local.delivery.ok" :
	    status == STATUS_TEMPFAIL ? "local.delivery.tempfail" :
	    "local.delivery.permfail", 1);
	local_deliver_free(r);
}

/* A temporary failure of the system: retried. */
static int
local_deliver_errno_temp(int e)
{
	return e == EIO || e == EMFILE || e == ENFILE || e == ENOMEM ||
	    e == EINTR || e == ERANGE || e == EAGAIN;
}

/* The user a program or file of an alias runs as (sendmail's
 * DefaultUser): local default-user, else "mail" if the system has it,
 * else "nobody". */
static const char *
local_deliver_default_user(void)
{
	if (conf->local_default_user[0] != '\0')
		return conf->local_default_user;
	return getpwnam("mail") != NULL ? "mail" : "nobody";
}

/*
 * The user a request is delivered as: the mailbox's for a mailbox, for a
 * program or file the one the request names, else the default user.  0
 * to deliver, -1 when the request was answered already.
 */
static int
local_deliver_who(struct local_req *r, const char *runas)
{
	size_t	 len;

	if (r->kind == TARGET_MAILBOX) {
		/* "\\user": the mark that the .forward was not to be read */
		if (r->rcpt[0] == '\\')
			memmove(r->rcpt, r->rcpt + 1, strlen(r->rcpt));
		len = strcspn(r->rcpt, "+");
		if (len == 0 || len >= sizeof(r->user) || r->rcpt[0] == '.' ||
		    memchr(r->rcpt, '/', len) != NULL ||
		    !text_is_clean(r->rcpt) ||
		    (runas[0] != '\0' && (strlen(runas) != len ||
		    memcmp(runas, r->rcpt, len) != 0))) {
			local_deliver_result(r, STATUS_PERMFAIL, "5.1.3",
			    "bad mailbox name");
			return -1;
		}
		memcpy(r->user, r->rcpt, len);
		r->user[len] = '\0';
		return 0;
	}
	if (r->kind != TARGET_PROGRAM && r->kind != TARGET_FILE) {
		local_deliver_result(r, STATUS_TEMPFAIL, "4.3.0",
		    "not a target of local delivery");
		return -1;
	}
	if (runas[0] == '\0')
		runas = local_deliver_default_user();
	if (!text_is_clean(r->rcpt) || !text_is_clean(runas) ||
	    strlcpy(r->user, runas, sizeof(r->user)) >= sizeof(r->user)) {
		local_deliver_result(r, STATUS_PERMFAIL, "5.1.3",
		    "bad target or user");
		return -1;
	}
	return 0;
}

/*
 * The user of the delivery, checked again: 0 to deliver, -1 when the
 * request was answered already.
 */
static int
local_deliver_user(struct local_req *r, const char *runas)
{
	struct passwd	*pw;
	int		 bounce;

	if (local_deliver_who(r, runas) == -1)
		return -1;
	errno = 0;
	if ((pw = getpwnam(r->user)) == NULL) {
		if (local_deliver_errno_temp(errno))
			local_deliver_result(r, STATUS_TEMPFAIL, "4.3.0",
			    "cannot look the user up");
		else if (r->kind == TARGET_MAILBOX)
			local_deliver_result(r, STATUS_PERMFAIL, "5.1.1",
			    "User unknown");
		else {
			log_warnx("%016llx: no user %s to run %s as",
			    (unsigned long long)r->evpid, r->user, r->rcpt);
			local_deliver_result(r, STATUS_TEMPFAIL, "4.3.0",
			    "the user to deliver as is unknown");
		}
		return -1;
	}
	if (pw->pw_uid == 0) {
		/* local root-mail: kept queued, or bounced at once */
		bounce = conf->local_root_mail == LOCAL_ROOT_BOUNCE;
		log_warnx("%016llx: mail for %s (uid 0) %s: %s",
		    (unsigned long long)r->evpid, r->user,
		    bounce ? "bounced" : "not delivered",
		    r->kind == TARGET_MAILBOX ? "it needs an alias" :
		    "programs and files never run as root");
		local_deliver_result(r, bounce ? STATUS_PERMFAIL :
		    STATUS_TEMPFAIL, bounce ? "5.7.1" : "4.3.0",
		    r->kind == TARGET_MAILBOX ? "mail to root needs an alias "
		    "(see aliases(5)); not delivered as root" :
		    "not delivered as root");
		return -1;
	}
	r->uid = pw->pw_uid;
	r->gid = pw->pw_gid;
	r->home = xstrdup(pw->pw_dir != NULL ? pw->pw_dir : "/");
	return 0;
}

/*
 * The groups of the child: the user's from the system (as initgroups),
 * and the group "mail" when the mailbox directory is setgid to it
 * (Debian's /var/mail, 2775 root:mail), so that the dot-lock can be made.
 */
static int
local_deliver_groups(const struct local_req *r, struct local_job *j)
{
	struct stat	 sb;
	struct group	*gr;
	int		 n = LOCAL_GROUPS_MAX - 1;

	if (getgrouplist(r->user, r->gid, j->groups, &n) == -1)
		return -1;
	j->ngroups = n;
	if (stat(conf->local_mailbox_dir, &sb) == 0 &&
	    (sb.st_mode & S_ISGID) && (gr = getgrnam("mail")) != NULL &&
	    gr->gr_gid == sb.st_gid)
		j->groups[j->ngroups++] = gr->gr_gid;
	return 0;
}

/* In the child: the message on stdin, the result pipe on
 * LOCAL_RESULT_FD, nothing else open but stderr. */
static void __attribute__((noreturn))
local_deliver_child(const struct local_job *j, int msgfd, int resultfd)
{
	if (dup2(msgfd, STDIN_FILENO) == -1 ||
	    dup2(resultfd, LOCAL_RESULT_FD) == -1)
		_exit(EX_OSERR);
	closefrom(LOCAL_RESULT_FD + 1);
	local_child_run(j, STDIN_FILENO, LOCAL_RESULT_FD);
}

/* The line the child wrote on its pipe: 1 read into res, 0 none, -1
 * garbage (logged). */
static int
local_deliver_read(struct local_req *r, struct local_result *res)
{
	char	 buf[LOCAL_RESULT_MAX + 1];
	ssize_t	 n;

	if ((n = read(r->resultfd, buf, sizeof(buf))) <= 0)
		return 0;
	if (local_result_parse(buf, (size_t)n, res) == -1) {
		log_warnx("%016llx: delivery to %s wrote a result that does "
		    "not parse; retried", (unsigned long long)r->evpid,
		    r->user);
		return -1;
	}
	return 1;
}

/* The exit status of a child that wrote no result, by local_exits[]. */
static void
local_deliver_exit_code(struct local_req *r, int code)
{
	char	 text[128];
	size_t	 i;

	for (i = 0; i < sizeof(local_exits) / sizeof(local_exits[0]); i++)
		if (local_exits[i].code == code) {
			local_deliver_result(r, local_exits[i].status,
			    local_exits[i].estatus, local_exits[i].text);
			return;
		}
	(void)snprintf(text, sizeof(text),
	    "delivery failed with exit status %d", code);
	local_deliver_result(r, STATUS_TEMPFAIL, "4.3.0", text);
}

/*
 * What the child's end means: its own result if it exited and wrote
 * one (but a success only with exit status 0), else its exit status; a
 * child of the spawner has no exit status here, only its result.
 */
static void
local_deliver_outcome(struct local_req *r, int status)
{
	struct local_result	 res;
	char			 text[128];
	int			 got;

	got = local_deliver_read(r, &res);
	if (r->spawned) {
		/* the spawner's child: its result is all there is */
		if (got == 1 && !r->killed) {
			local_deliver_result(r, res.status, res.estatus,
			    res.text);
			return;
		}
		r->unsure = 1;
		local_deliver_result(r, STATUS_TEMPFAIL, "4.3.0", r->killed ?
		    "delivery timed out; killed" :
		    "the delivery ended without a result");
		return;
	}
	if (WIFEXITED(status)) {
		if (got == 1 && (res.status != STATUS_OK ||
		    WEXITSTATUS(status) == 0)) {
			local_deliver_result(r, res.status, res.estatus,
			    res.text);
			return;
		}
		if (got == 0) {
			local_deliver_exit_code(r, WEXITSTATUS(status));
			return;
		}
		(void)snprintf(text, sizeof(text), "delivery failed with "
		    "exit status %d", WEXITSTATUS(status));
		if (got == -1)
			(void)strlcpy(text, "the delivery's result does not "
			    "parse", sizeof(text));
		local_deliver_result(r, STATUS_TEMPFAIL, "4.3.0", text);
		return;
	}
	r->unsure = 1;
	if (r->killed)
		(void)strlcpy(text, "delivery timed out; killed",
		    sizeof(text));
	else
		(void)snprintf(text, sizeof(text),
		    "delivery died of signal %d", WTERMSIG(status));
	local_deliver_result(r, STATUS_TEMPFAIL, "4.3.0", text);
}

static void
local_deliver_exited(int fd, short ev, void *arg)
{
	struct local_req	*r = arg;
	int			 status = -1;

	if (!r->spawned && waitpid(r->pid, &status, WNOHANG) <= 0)
		return;
	local_nrunning--;
	r->pid = -1;
	local_deliver_outcome(r, status);
	local_deliver_run();
}

/* A child that outlived its own time limit. */
static void
local_deliver_kill(int fd, short ev, void *arg)
{
	struct local_req	*r = arg;

	log_warnx("%016llx: delivery to %s timed out; killed",
	    (unsigned long long)r->evpid, r->user);
	r->killed = 1;
	if (pidfd_send_signal(r->pidfd, SIGKILL, NULL, 0) == -1)
		log_warn("pidfd_send_signal");
}

/* The domain of the address the mail was sent to, or NULL. */
static const char *
local_deliver_domain(const struct local_req *r)
{
	const char	*at = strrchr(r->orig, '@');

	return at != NULL && at[1] != '\0' ? at + 1 : NULL;
}

/* What the child of r needs, but its groups. */
static void
local_deliver_job(const struct local_req *r, struct local_job *j)
{
	const struct local_delivery	*rule;

	memset(j, 0, sizeof(*j));
	j->uid = r->uid;
	j->gid = r->gid;
	j->ppid = getpid();
	j->kind = r->kind;
	/* chosen now, not at the request: a reload may have changed it */
	if (r->kind == TARGET_MAILBOX && (rule = config_local_delivery_find(
	    conf, r->user, local_deliver_domain(r))) != NULL)
		j->rule = *rule;
	j->user = r->user;
	j->home = r->home;
	j->sender = r->sender;
	j->rcpt = r->rcpt;
	j->orig = r->orig;
	j->dir = conf->local_mailbox_dir;
	j->hostname = conf->hostname;
	j->smrsh_dir = conf->local_smrsh_dir;
	j->safe_file_dir = conf->local_safe_file_dir;
	(void)snprintf(j->id, sizeof(j->id), "%016llx",
	    (unsigned long long)r->evpid);
	j->ctime = r->ctime;
	j->recheck = (r->flags & LOCAL_DELIVER_F_RECHECK) != 0;
	j->now = time(NULL);
}

/*
 * The child of r, with its pidfd: forked here, or, for a program or an
 * MDA, by the spawner (local_exec.c), since this process may not exec.
 * -1 if it could not be started.
 */
static pid_t
local_deliver_fork(struct local_req *r, const struct local_job *j,
    int resultfd)
{
	pid_t	 pid;

	if (local_exec_needed(j)) {
		if ((pid = local_exec_spawn(j, r->msgfd, resultfd,
		    &r->pidfd)) == -1)
			log_warn("%016llx: spawner", (unsigned long long)r->evpid);
		r->spawned = pid != -1;
		return pid;
	}
	if ((pid = fork()) == -1) {
		log_warn("fork");
		return -1;
	}
	if (pid == 0)
		local_deliver_child(j, r->msgfd, resultfd);
	if ((r->pidfd = pidfd_open(pid, 0)) == -1)
		fatal("pidfd_open");
	return pid;
}

/* Fork the child of a request; -1 when the request was answered. */
static int
local_deliver_start(struct local_req *r)
{
	struct local_job	 j;
	struct timeval		 tv = { LOCAL_DELIVERY_TIMEOUT +
				    LOCAL_KILL_GRACE, 0 };
	int			 fds[2];
	pid_t			 pid;

	local_deliver_job(r, &j);
	if (local_deliver_groups(r, &j) == -1) {
		local_deliver_result(r, STATUS_TEMPFAIL, "4.3.0",
		    "too many groups for the user");
		return -1;
	}
	if (pipe2(fds, O_CLOEXEC) == -1) {
		log_warn("pipe2");
		local_deliver_result(r, STATUS_TEMPFAIL, "4.3.0",
		    "cannot start the delivery");
		return -1;
	}
	if ((pid = local_deliver_fork(r, &j, fds[1])) == -1) {
		(void)close(fds[0]);
		(void)close(fds[1]);
		local_deliver_result(r, STATUS_TEMPFAIL, "4.3.0",
		    "cannot start the delivery");
		return -1;
	}
	(void)close(fds[1]);
	r->resultfd = fds[0];
	if (fcntl(r->resultfd, F_SETFL, O_NONBLOCK) == -1)
		log_warn("fcntl");
	r->pid = pid;
	local_nrunning++;
	r->ev_exit = event_new(proc_base, r->pidfd, EV_READ,
	    local_deliver_exited, r);
	r->ev_kill = evtimer_new(proc_base, local_deliver_kill, r);
	if (r->ev_exit == NULL || r->ev_kill == NULL ||
	    event_add(r->ev_exit, NULL) == -1 ||
	    evtimer_add(r->ev_kill, &tv) == -1)
		fatalx("cannot watch a delivery child");
	log_debug("%016llx: delivering to %s as %s (for <%s>), %s, pid %d",
	    (unsigned long long)r->evpid, r->rcpt, r->user, r->orig,
	    r->kind != TARGET_MAILBOX ? "target" :
	    config_local_method_name(j.rule.method), (int)pid);
	return 0;
}

/* Is a child delivering to the mailbox of r already? */
static int
local_deliver_user_busy(const struct local_req *r)
{
	const struct local_req	*o;

	TAILQ_FOREACH(o, &local_reqs, entry)
		if (o != r && o->pid != -1 && strcmp(o->user, r->user) == 0)
			return 1;
	return 0;
}

/* Start the waiting requests that may run now (also once the first
 * config is in). */
void
local_deliver_run(void)
{
	struct local_req	*r, *next;

	if (conf == NULL)
		return;
	for (r = TAILQ_FIRST(&local_reqs); r != NULL; r = next) {
		next = TAILQ_NEXT(r, entry);
		if (local_nrunning >= LOCAL_CHILDREN_MAX)
			return;
		if (r->pid != -1 || r->orphan || local_deliver_user_busy(r))
			continue;
		(void)local_deliver_start(r);
	}
}

/* IMSG_LOCAL_DELIVER from the queue. */
void
local_deliver_imsg(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct local_req	*r;
	const char		*runas;

	r = xcalloc(1, sizeof(*r));
	TAILQ_INSERT_TAIL(&local_reqs, r, entry);
	local_nreqs++;
	r->id = m->id;
	r->pid = -1;
	r->pidfd = -1;
	r->resultfd = -1;
	r->msgfd = m->fd;
	m->fd = -1;
	r->evpid = imsg_get_u64(m);
	r->sender = xstrdup(imsg_get_str(m));
	r->rcpt = xstrdup(imsg_get_str(m));
	r->orig = xstrdup(imsg_get_str(m));
	r->ctime = (time_t)imsg_get_i64(m);
	r->kind = imsg_get_u32(m);
	runas = imsg_get_str(m);
	r->flags = imsg_get_u32(m);
	if (imsg_get_end(m) == -1 || r->msgfd == -1) {
		local_deliver_free(r);
		proc_peer_bad(PROC_QUEUE, "malformed delivery", m->type);
		return;
	}
	stats_set("local.requests", (int64_t)local_nreqs);
	if (local_deliver_user(r, runas) == -1)
		return;
	local_deliver_run();
}

/*
 * The queue is gone: its requests are requeued there.  Waiting ones are
 * dropped; running children undo their delivery (SIGTERM) and are
 * reaped without a result.
 */
void
local_deliver_queue_down(void)
{
	struct local_req	*r, *next;

	for (r = TAILQ_FIRST(&local_reqs); r != NULL; r = next) {
		next = TAILQ_NEXT(r, entry);
		if (r->pid == -1) {
			local_deliver_free(r);
			continue;
		}
		r->orphan = 1;
		if (pidfd_send_signal(r->pidfd, SIGTERM, NULL, 0) == -1)
			log_warn("pidfd_send_signal");
	}
}

void
local_deliver_shutdown(void)
{
	local_deliver_queue_down();
}
