/*
 * local_deliver.c: the queue's IMSG_LOCAL_DELIVER requests, each answered
 * with one IMSG_LOCAL_RESULT.
 *
 * Interface in local.h.  A request is checked again, whatever the queue
 * says: the mailbox name ("user" or "user+detail") must name a user of
 * the system (getpwnam of the part before '+'; unknown: 5.1.1), and never
 * uid 0 (mail to root is for an alias; a 4.3.0 that keeps it queued, and
 * a warning).  Then a child is forked that becomes the user and writes the
 * mbox (local_mbox.c); its exit status (sysexits) is the result.  This
 * process opens no mailbox itself.
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
	char			 user[LOCAL_USER_MAX];
	uid_t			 uid;
	gid_t			 gid;
	int			 msgfd;
	/* the child: -1 while the request waits */
	pid_t			 pid;
	int			 pidfd;
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

/*
 * The user of the mailbox, checked again: 0 to deliver, -1 when the
 * request was answered already.
 */
static int
local_deliver_user(struct local_req *r)
{
	struct passwd	*pw;
	/* "\\user": the mark that the .forward was not to be read */
	const char	*name = r->rcpt + (r->rcpt[0] == '\\');
	size_t		 len = strcspn(name, "+");

	if (len == 0 || len >= sizeof(r->user) || name[0] == '.' ||
	    memchr(name, '/', len) != NULL || !text_is_clean(name)) {
		local_deliver_result(r, STATUS_PERMFAIL, "5.1.3",
		    "bad mailbox name");
		return -1;
	}
	memcpy(r->user, name, len);
	r->user[len] = '\0';
	errno = 0;
	if ((pw = getpwnam(r->user)) == NULL) {
		if (local_deliver_errno_temp(errno))
			local_deliver_result(r, STATUS_TEMPFAIL, "4.3.0",
			    "cannot look the user up");
		else
			local_deliver_result(r, STATUS_PERMFAIL, "5.1.1",
			    "User unknown");
		return -1;
	}
	if (pw->pw_uid == 0) {
		log_warnx("%016llx: mail for %s (uid 0) not delivered: it "
		    "needs an alias", (unsigned long long)r->evpid, r->user);
		local_deliver_result(r, STATUS_TEMPFAIL, "4.3.0", "mail to "
		    "root needs an alias (see aliases(5)); not delivered as "
		    "root");
		return -1;
	}
	r->uid = pw->pw_uid;
	r->gid = pw->pw_gid;
	return 0;
}

/*
 * The groups of the child: the user's from the system (as initgroups),
 * and the group "mail" when the mailbox directory is setgid to it
 * (Debian's /var/mail, 2775 root:mail), so that the dot-lock can be made.
 */
static int
local_deliver_groups(const struct local_req *r, struct local_mbox_job *j)
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

/* In the child: the message on stdin, nothing else open but stderr. */
static void __attribute__((noreturn))
local_deliver_child(const struct local_mbox_job *j, int msgfd)
{
	if (dup2(msgfd, STDIN_FILENO) == -1)
		_exit(EX_OSERR);
	closefrom(STDERR_FILENO + 1);
	local_mbox_child(j, STDIN_FILENO);
}

static void
local_deliver_exited(int fd, short ev, void *arg)
{
	struct local_req	*r = arg;
	char			 text[128];
	size_t			 i;
	int			 status, code;

	if (waitpid(r->pid, &status, WNOHANG) <= 0)
		return;
	local_nrunning--;
	r->pid = -1;
	if (WIFEXITED(status)) {
		code = WEXITSTATUS(status);
		for (i = 0; i < sizeof(local_exits) / sizeof(local_exits[0]);
		    i++)
			if (local_exits[i].code == code) {
				local_deliver_result(r, local_exits[i].status,
				    local_exits[i].estatus,
				    local_exits[i].text);
				local_deliver_run();
				return;
			}
		(void)snprintf(text, sizeof(text),
		    "delivery failed with exit status %d", code);
	} else if (r->killed)
		(void)strlcpy(text, "delivery timed out; killed",
		    sizeof(text));
	else
		(void)snprintf(text, sizeof(text),
		    "delivery died of signal %d", WTERMSIG(status));
	local_deliver_result(r, STATUS_TEMPFAIL, "4.3.0", text);
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

/* Fork the child of a request; -1 when the request was answered. */
static int
local_deliver_start(struct local_req *r)
{
	struct local_mbox_job	 j;
	struct timeval		 tv = { LOCAL_DELIVERY_TIMEOUT +
				    LOCAL_KILL_GRACE, 0 };
	pid_t			 pid;

	memset(&j, 0, sizeof(j));
	j.uid = r->uid;
	j.gid = r->gid;
	j.ppid = getpid();
	j.user = r->user;
	j.sender = r->sender;
	j.dir = conf->local_mailbox_dir;
	j.hostname = conf->hostname;
	j.now = time(NULL);
	if (local_deliver_groups(r, &j) == -1) {
		local_deliver_result(r, STATUS_TEMPFAIL, "4.3.0",
		    "too many groups for the user");
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_warn("fork");
		local_deliver_result(r, STATUS_TEMPFAIL, "4.3.0",
		    "cannot start the delivery");
		return -1;
	}
	if (pid == 0)
		local_deliver_child(&j, r->msgfd);
	r->pid = pid;
	local_nrunning++;
	if ((r->pidfd = pidfd_open(pid, 0)) == -1)
		fatal("pidfd_open");
	r->ev_exit = event_new(proc_base, r->pidfd, EV_READ,
	    local_deliver_exited, r);
	r->ev_kill = evtimer_new(proc_base, local_deliver_kill, r);
	if (r->ev_exit == NULL || r->ev_kill == NULL ||
	    event_add(r->ev_exit, NULL) == -1 ||
	    evtimer_add(r->ev_kill, &tv) == -1)
		fatalx("cannot watch a delivery child");
	log_debug("%016llx: delivering to %s (for <%s>), pid %d",
	    (unsigned long long)r->evpid, r->user, r->orig, (int)pid);
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

	r = xcalloc(1, sizeof(*r));
	TAILQ_INSERT_TAIL(&local_reqs, r, entry);
	local_nreqs++;
	r->id = m->id;
	r->pid = -1;
	r->pidfd = -1;
	r->msgfd = m->fd;
	m->fd = -1;
	r->evpid = imsg_get_u64(m);
	r->sender = xstrdup(imsg_get_str(m));
	r->rcpt = xstrdup(imsg_get_str(m));
	r->orig = xstrdup(imsg_get_str(m));
	(void)imsg_get_i64(m);
	if (imsg_get_end(m) == -1 || r->msgfd == -1) {
		local_deliver_free(r);
		proc_peer_bad(PROC_QUEUE, "malformed delivery", m->type);
		return;
	}
	stats_set("local.requests", (int64_t)local_nreqs);
	if (local_deliver_user(r) == -1)
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
