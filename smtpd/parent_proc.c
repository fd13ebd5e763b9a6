/*
 * parent_proc.c: the children of the parent: fork+exec, the channels
 * between them, configs, and restarts (backoff only for a crash loop).
 *
 * Each child is a fresh executable (no inherited address space) that gets
 * its parent channel on fd 3.  Channels between two children are
 * socketpairs the parent creates and passes to both ends; when a child is
 * restarted its peers get a new channel and treat the old one's EOF as the
 * peer's death.  A child never takes the parent down: bad messages from it
 * get it killed and restarted.
 *
 * Restarts: a child that dies or is stopped (SIGSTOP and the like; the
 * parent asks waitpid for stops too, and kills a stopped child) is started
 * again at once, so that one crash of the front end costs its clients no
 * more than the reconnection.  Only a crash loop waits: after
 * CHILD_QUICK_RESTARTS deaths in a row, each within CHILD_YOUNG_SECS of
 * its start, the next start waits 1 s, then twice as long each time, up
 * to CHILD_BACKOFF_MAX; a child that ran CHILD_YOUNG_SECS is healthy and
 * its count starts over.
 *
 * The table has one slot per child: slot == proc_id for every process
 * but tlsproxy, which runs "tls processes" instances in slots PROC_TLS +
 * instance.  Each instance is a peer of its own for the front end and the
 * outbound client (IMSG_PEER_CHANNEL carries the instance), gets the key
 * set for itself, and dies and restarts alone.  A reload that changes the
 * number starts the new instances and stops the ones beyond it.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "parent.h"
#include "paths.h"
#include "proc.h"
#include "util.h"

/* a child that dies sooner after its start died young */
#define CHILD_YOUNG_SECS	5
/* young deaths in a row that are still restarted at once */
#define CHILD_QUICK_RESTARTS	3
/* the longest wait, in seconds, of a child in a crash loop */
#define CHILD_BACKOFF_MAX	60
#define SHUTDOWN_GRACE_SECS	5

struct child {
	const char	*exe;
	/* "tlsproxy[1]" for a tlsproxy instance when there are several */
	char		 label[24];
	/* how much a peer's complaint about this child is believed */
	int		 trust;
	pid_t		 pid;
	struct imsgev	*iev;
	struct event	*timer;
	/* when it was last started (CLOCK_MONOTONIC seconds) */
	time_t		 started;
	/* deaths in a row, each within CHILD_YOUNG_SECS of its start */
	unsigned	 young_deaths;
	unsigned	 restarts;
	uint32_t	 applied;
};

static struct child	 children[PARENT_NSLOTS] = {
	[PROC_SMTP] =	{ "smtpd-smtp", "", 0, -1, NULL, NULL, 0, 0, 0, 0 },
	[PROC_MTA] =	{ "smtpd-mta", "", 0, -1, NULL, NULL, 0, 0, 0, 0 },
	[PROC_QUEUE] =	{ "smtpd-queue", "", 2, -1, NULL, NULL, 0, 0, 0, 0 },
	[PROC_POLICY] =	{ "smtpd-policyd", "", 1, -1, NULL, NULL, 0, 0, 0,
			  0 },
	[PROC_AUTH] =	{ "smtpd-auth", "", 1, -1, NULL, NULL, 0, 0, 0, 0 },
	/* root: no complaint of the queue restarts it */
	[PROC_LOCAL] =	{ "smtpd-local", "", 3, -1, NULL, NULL, 0, 0, 0, 0 },
};

/* Which children talk to each other. */
static const struct {
	enum proc_id	 a;
	enum proc_id	 b;
} links[] = {
	{ PROC_SMTP, PROC_QUEUE },
	{ PROC_SMTP, PROC_POLICY },
	{ PROC_MTA, PROC_QUEUE },
	{ PROC_MTA, PROC_POLICY },
	{ PROC_QUEUE, PROC_POLICY },
	{ PROC_SMTP, PROC_TLS },
	{ PROC_MTA, PROC_TLS },
	{ PROC_SMTP, PROC_AUTH },
	{ PROC_MTA, PROC_AUTH },
	{ PROC_QUEUE, PROC_LOCAL },
};

static int		 shutting_down;
static struct event	*shutdown_timer;
extern struct event_base *parent_base;

static void	parent_proc_dispatch(struct imsgev *, struct imsg *, void *);
static void	parent_proc_closed(struct imsgev *, const char *, void *);
static void	parent_proc_start(int);

/* Seconds that only go forward, for the ages of the children. */
static time_t
parent_proc_now(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

enum proc_id
parent_proc_slot_id(int slot)
{
	return slot < PROC_TLS ? (enum proc_id)slot : PROC_TLS;
}

/* The instance of the process in a slot: 0 but for tlsproxy. */
static unsigned
parent_proc_slot_inst(int slot)
{
	return slot < PROC_TLS ? 0 : (unsigned)(slot - PROC_TLS);
}

static int
parent_proc_slot_of(enum proc_id id, unsigned inst)
{
	return id == PROC_TLS ? PROC_TLS + (int)inst : (int)id;
}

/* A slot the config asks for: every process, "tls processes" tlsproxies. */
static int
parent_proc_wanted(int slot)
{
	if (slot <= PROC_PARENT || slot >= PARENT_NSLOTS)
		return 0;
	return slot < PROC_TLS ||
	    parent_proc_slot_inst(slot) < (unsigned)parent_conf->tls_processes;
}

/* How the log and smtpctl name the child of a slot. */
const char *
parent_proc_label(int slot)
{
	struct child	*c = &children[slot];

	if (slot < PROC_TLS || (slot == PROC_TLS &&
	    parent_conf->tls_processes == 1))
		return proc_name(parent_proc_slot_id(slot));
	(void)snprintf(c->label, sizeof(c->label), "tlsproxy[%u]",
	    parent_proc_slot_inst(slot));
	return c->label;
}

/* The tlsproxy slots get their executable the first time they are used. */
static void
parent_proc_slots_init(void)
{
	int	 slot;

	for (slot = PROC_TLS; slot < PARENT_NSLOTS; slot++) {
		if (children[slot].exe != NULL)
			continue;
		children[slot].exe = "smtpd-tlsproxy";
		children[slot].trust = 1;
		children[slot].pid = -1;
	}
}

/* The directory a child is chrooted to. */
static const char *
parent_proc_root(enum proc_id id, char *buf, size_t len)
{
	switch (id) {
	case PROC_QUEUE:
		return parent_conf->queue_path;
	case PROC_POLICY:
		(void)strlcpy(buf, parent_conf->database_path, len);
		return dirname(buf);
	case PROC_AUTH:
		/* the directory of the password source, if AUTH is used */
		if (!config_auth_used(parent_conf))
			return PATH_CHROOT;
		(void)strlcpy(buf, parent_conf->auth_source_path, len);
		return dirname(buf);
	default:
		return PATH_CHROOT;
	}
}

/* In the child after fork: put the channel on fd 3 and exec. */
static void
parent_proc_exec(int slot, int fd)
{
	char	 path[PATH_MAX], rootbuf[PATH_MAX], inst[16];
	char	*argv[10];
	int	 argc = 0;

	if (fd != PROC_PARENT_FD) {
		if (dup2(fd, PROC_PARENT_FD) == -1)
			_exit(127);
	} else if (fcntl(fd, F_SETFD, 0) == -1)
		_exit(127);
	closefrom(PROC_PARENT_FD + 1);
	(void)snprintf(path, sizeof(path), "%s/%s", parent_opts.libexecdir,
	    children[slot].exe);
	argv[argc++] = path;
	argv[argc++] = "-r";
	argv[argc++] = (char *)parent_proc_root(parent_proc_slot_id(slot),
	    rootbuf, sizeof(rootbuf));
	if (slot >= PROC_TLS) {
		(void)snprintf(inst, sizeof(inst), "%u",
		    parent_proc_slot_inst(slot));
		argv[argc++] = "-i";
		argv[argc++] = inst;
	}
	if (parent_opts.debug)
		argv[argc++] = "-d";
	if (log_verbose_get())
		argv[argc++] = "-v";
	argv[argc] = NULL;
	execv(path, argv);
	(void)fprintf(stderr, "smtpd: cannot exec %s: %s\n", path,
	    strerror(errno));
	_exit(127);
}

/* fork+exec one child; 0 on success. */
static int
parent_proc_spawn(int slot)
{
	struct child	*c = &children[slot];
	const char	*label = parent_proc_label(slot);
	int		 sp[2];
	pid_t		 pid;

	/* a start that fails counts as a young death */
	c->started = parent_proc_now();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		log_warn("socketpair for %s", label);
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_warn("fork for %s", label);
		(void)close(sp[0]);
		(void)close(sp[1]);
		return -1;
	}
	if (pid == 0) {
		(void)close(sp[0]);
		parent_proc_exec(slot, sp[1]);
	}
	(void)close(sp[1]);
	c->pid = pid;
	c->applied = 0;
	c->iev = imsgev_open(parent_base, sp[0], label, parent_proc_dispatch,
	    parent_proc_closed, (void *)(intptr_t)slot);
	if (c->iev == NULL) {
		log_warn("channel to %s", label);
		(void)close(sp[0]);
		(void)kill(pid, SIGKILL);
		return -1;
	}
	log_debug("started %s, pid %d", label, (int)pid);
	return 0;
}

/* Give two running children a fresh channel to each other. */
static void
parent_proc_link(int a, int b)
{
	struct imsg_out	 out;
	int		 sp[2];

	if (children[a].iev == NULL || children[b].iev == NULL)
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		log_warn("socketpair %s-%s", parent_proc_label(a),
		    parent_proc_label(b));
		return;
	}
	imsg_out_init(&out, IMSG_PEER_CHANNEL, 0);
	imsg_put_u32(&out, parent_proc_slot_id(b));
	imsg_put_u32(&out, parent_proc_slot_inst(b));
	(void)imsgev_send(children[a].iev, &out, sp[0]);
	imsg_out_init(&out, IMSG_PEER_CHANNEL, 0);
	imsg_put_u32(&out, parent_proc_slot_id(a));
	imsg_put_u32(&out, parent_proc_slot_inst(a));
	(void)imsgev_send(children[b].iev, &out, sp[1]);
}

/* 1 if the two children have a channel: only then can one judge the other. */
static int
parent_proc_linked(enum proc_id a, enum proc_id b)
{
	size_t	 i;

	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if ((links[i].a == a && links[i].b == b) ||
		    (links[i].a == b && links[i].b == a))
			return 1;
	return 0;
}

/* Link a (re)started child with every running instance of its peers. */
static void
parent_proc_link_peers(int slot)
{
	enum proc_id	 id = parent_proc_slot_id(slot), peer;
	int		 other;

	for (other = PROC_SMTP; other < PARENT_NSLOTS; other++) {
		peer = parent_proc_slot_id(other);
		if (other != slot && parent_proc_wanted(other) &&
		    parent_proc_linked(id, peer))
			parent_proc_link(slot, other);
	}
}

/* Send the canonical config text in chunks. */
static void
parent_proc_send_config(int slot)
{
	struct imsg_out	 out;
	char		*text, *p;
	size_t		 len, chunk;
	char		 save;

	if (children[slot].iev == NULL)
		return;
	if ((text = config_dump_string(parent_conf, &len)) == NULL) {
		log_warnx("cannot render the config for %s",
		    parent_proc_label(slot));
		return;
	}
	if (slot == PROC_MTA)
		parent_anchor_send();
	imsg_out_init(&out, IMSG_CONF_BEGIN, 0);
	imsg_put_u32(&out, parent_conf->generation);
	(void)parent_proc_send_slot(slot, &out);
	for (p = text; len > 0; p += chunk, len -= chunk) {
		chunk = len > 16384 ? 16384 : len;
		save = p[chunk];
		p[chunk] = '\0';
		imsg_out_init(&out, IMSG_CONF_DATA, 0);
		imsg_put_str(&out, p);
		(void)parent_proc_send_slot(slot, &out);
		p[chunk] = save;
	}
	free(text);
	imsg_out_init(&out, IMSG_CONF_END, 0);
	(void)parent_proc_send_slot(slot, &out);
	/* the load limits act (or stop) from the first moment of a config */
	if (slot == PROC_SMTP || slot == PROC_QUEUE)
		parent_load_send();
}

void
parent_proc_broadcast_config(void)
{
	int	 slot;

	for (slot = PROC_SMTP; slot < PARENT_NSLOTS; slot++)
		parent_proc_send_config(slot);
}

/* Everything a fresh child needs after its peers are linked. */
static void
parent_proc_setup_child(int slot)
{
	parent_proc_send_config(slot);
	if (slot >= PROC_TLS)
		parent_pki_send_slot(slot);
	if (slot == PROC_SMTP)
		parent_listen_send();
	parent_control_monitor_sync(slot);
}

/*
 * A tlsproxy gets its config and keys before its channels: it handles
 * the parent channel in order, so the first handshake request it reads
 * finds the keys loaded, and an instance that just (re)started never
 * answers "not ready" for want of them.
 */
void
parent_proc_start_all(void)
{
	int	 a, b;

	parent_proc_slots_init();
	for (a = PROC_SMTP; a < PARENT_NSLOTS; a++)
		if (parent_proc_wanted(a) && parent_proc_spawn(a) == -1)
			fatalx("cannot start %s", parent_proc_label(a));
	for (a = PROC_TLS; a < PARENT_NSLOTS; a++)
		if (parent_proc_wanted(a))
			parent_proc_setup_child(a);
	for (a = PROC_SMTP; a < PARENT_NSLOTS; a++)
		for (b = a + 1; b < PARENT_NSLOTS; b++)
			if (parent_proc_linked(parent_proc_slot_id(a),
			    parent_proc_slot_id(b)))
				parent_proc_link(a, b);
	for (a = PROC_SMTP; a < PROC_TLS; a++)
		parent_proc_setup_child(a);
}

static void
parent_proc_start(int slot)
{
	if (shutting_down || !parent_proc_wanted(slot) ||
	    children[slot].pid > 0)
		return;
	if (parent_proc_spawn(slot) == -1) {
		parent_proc_restart_slot(slot, "spawn failed");
		return;
	}
	if (slot >= PROC_TLS)
		parent_proc_setup_child(slot);
	parent_proc_link_peers(slot);
	if (slot < PROC_TLS)
		parent_proc_setup_child(slot);
	log_info("%s %s (pid %d)", parent_proc_label(slot),
	    children[slot].restarts > 0 ? "restarted" : "started",
	    (int)children[slot].pid);
	parent_control_event_printf("proc %s restarted pid=%d",
	    parent_proc_label(slot), (int)children[slot].pid);
}

static void
parent_proc_timer(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	parent_proc_start((int)(intptr_t)arg);
}

/* The wait before the next start of a child that just died (see top). */
static int
parent_proc_backoff(struct child *c)
{
	unsigned	 n;

	if (parent_proc_now() - c->started >= CHILD_YOUNG_SECS)
		c->young_deaths = 0;
	if (++c->young_deaths <= CHILD_QUICK_RESTARTS)
		return 0;
	n = c->young_deaths - CHILD_QUICK_RESTARTS - 1;
	return n >= 6 ? CHILD_BACKOFF_MAX : 1 << n;
}

static void
parent_proc_schedule(int slot)
{
	struct child	*c = &children[slot];
	struct timeval	 tv = { 0, 0 };

	tv.tv_sec = parent_proc_backoff(c);
	if (tv.tv_sec > 0)
		log_warnx("%s keeps dying within %d s of its start: next start "
		    "in %ld s", parent_proc_label(slot), CHILD_YOUNG_SECS,
		    (long)tv.tv_sec);
	if (c->timer == NULL)
		c->timer = evtimer_new(parent_base, parent_proc_timer,
		    (void *)(intptr_t)slot);
	if (c->timer == NULL)
		fatalx("evtimer_new");
	(void)evtimer_add(c->timer, &tv);
}

/* Kill a child so that it is restarted (its death is seen by SIGCHLD). */
void
parent_proc_restart_slot(int slot, const char *why)
{
	struct child	*c = &children[slot];

	if (c->pid > 0) {
		log_warnx("restarting %s (pid %d): %s",
		    parent_proc_label(slot), (int)c->pid, why);
		(void)kill(c->pid, SIGKILL);
		return;
	}
	/* a start already due is not a new death */
	if (c->timer == NULL || !evtimer_pending(c->timer, NULL))
		parent_proc_schedule(slot);
}

/* Restart every instance of a process. */
void
parent_proc_restart(enum proc_id id, const char *why)
{
	int	 slot;

	for (slot = PROC_SMTP; slot < PARENT_NSLOTS; slot++)
		if (parent_proc_slot_id(slot) == id && parent_proc_wanted(slot))
			parent_proc_restart_slot(slot, why);
}

/*
 * After a reload: start the tlsproxy instances the new "tls processes"
 * adds and stop (SIGTERM) those beyond it.  A stopped instance ends the
 * sessions it carried; the front end and the outbound client see its
 * channel close and send new handshakes to the others.
 */
void
parent_proc_tls_resize(void)
{
	struct child	*c;
	int		 slot;

	parent_proc_slots_init();
	for (slot = PROC_TLS; slot < PARENT_NSLOTS; slot++) {
		c = &children[slot];
		if (parent_proc_wanted(slot)) {
			if (c->pid <= 0 && (c->timer == NULL ||
			    !evtimer_pending(c->timer, NULL)))
				parent_proc_start(slot);
			continue;
		}
		if (c->timer != NULL)
			(void)evtimer_del(c->timer);
		if (c->pid > 0) {
			log_info("stopping %s (pid %d): tls processes is now "
			    "%d", parent_proc_label(slot), (int)c->pid,
			    parent_conf->tls_processes);
			(void)kill(c->pid, SIGTERM);
		}
	}
}

/* How a child ended. */
static void
parent_proc_log_status(const char *label, pid_t pid, int status)
{
	if (WIFSIGNALED(status))
		log_warnx("%s (pid %d) killed by signal %d", label, (int)pid,
		    WTERMSIG(status));
	else
		log_warnx("%s (pid %d) exited with status %d", label,
		    (int)pid, WEXITSTATUS(status));
}

/* The slot of a running child by its pid, or -1. */
static int
parent_proc_slot_of_pid(pid_t pid)
{
	int	 slot;

	for (slot = PROC_SMTP; slot < PARENT_NSLOTS; slot++)
		if (children[slot].pid == pid)
			return slot;
	return -1;
}

/*
 * SIGCHLD for a stop: a stopped child serves no one and its peers wait
 * for it forever, so it is killed and, once reaped, restarted like any
 * child that died.  No other child can stop one (each has its own uid),
 * so this is root's doing or a debugger's.
 */
void
parent_proc_stopped(pid_t pid, int sig)
{
	int	 slot;

	if ((slot = parent_proc_slot_of_pid(pid)) == -1)
		return;
	log_warnx("%s (pid %d) stopped by signal %d: killing it to restart it",
	    parent_proc_label(slot), (int)pid, sig);
	(void)kill(pid, SIGKILL);
}

/* SIGCHLD: a child exited; log how and restart it if it is wanted. */
void
parent_proc_reaped(pid_t pid, int status)
{
	struct child	*c;
	const char	*label;
	int		 slot;

	if ((slot = parent_proc_slot_of_pid(pid)) == -1)
		return;
	c = &children[slot];
	label = parent_proc_label(slot);
	c->pid = -1;
	if (c->iev != NULL) {
		imsgev_close(c->iev);
		c->iev = NULL;
	}
	parent_control_proc_lost(slot);
	if (shutting_down) {
		/* a crash on the way out would otherwise go unseen */
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			parent_proc_log_status(label, pid, status);
		if (parent_proc_all_gone())
			(void)event_base_loopexit(parent_base, NULL);
		return;
	}
	if (!parent_proc_wanted(slot)) {
		log_info("%s (pid %d) stopped", label, (int)pid);
		return;
	}
	c->restarts++;
	parent_proc_log_status(label, pid, status);
	parent_control_event_printf("proc %s died pid=%d", label, (int)pid);
	parent_proc_schedule(slot);
}

int
parent_proc_all_gone(void)
{
	int	 slot;

	for (slot = PROC_SMTP; slot < PARENT_NSLOTS; slot++)
		if (children[slot].pid > 0)
			return 0;
	return 1;
}

static void
parent_proc_shutdown_timer(int fd, short ev, void *arg)
{
	int	 slot;

	(void)fd;
	(void)ev;
	(void)arg;
	for (slot = PROC_SMTP; slot < PARENT_NSLOTS; slot++)
		if (children[slot].pid > 0) {
			log_warnx("%s did not stop, killing it",
			    parent_proc_label(slot));
			(void)kill(children[slot].pid, SIGKILL);
		}
}

/* SIGTERM: stop every child, then leave the event loop. */
void
parent_proc_shutdown(void)
{
	struct timeval	 tv = { SHUTDOWN_GRACE_SECS, 0 };
	int		 slot;

	if (shutting_down)
		return;
	shutting_down = 1;
	for (slot = PROC_SMTP; slot < PARENT_NSLOTS; slot++) {
		if (children[slot].timer != NULL)
			(void)evtimer_del(children[slot].timer);
		if (children[slot].pid > 0)
			(void)kill(children[slot].pid, SIGTERM);
	}
	if (parent_proc_all_gone()) {
		(void)event_base_loopexit(parent_base, NULL);
		return;
	}
	shutdown_timer = evtimer_new(parent_base, parent_proc_shutdown_timer,
	    NULL);
	if (shutdown_timer != NULL)
		(void)evtimer_add(shutdown_timer, &tv);
}

int
parent_proc_slot_running(int slot)
{
	return slot > PROC_PARENT && slot < PARENT_NSLOTS &&
	    children[slot].iev != NULL;
}

/* 1 if the child in slot said it runs the parent's config (its
 * indices into it mean what they mean here). */
int
parent_proc_slot_current(int slot)
{
	return parent_proc_slot_running(slot) &&
	    children[slot].applied == parent_conf->generation;
}

/* Whether a process runs (for tlsproxy: its first instance). */
int
parent_proc_running(enum proc_id id)
{
	return parent_proc_slot_running((int)id);
}

int
parent_proc_send_slot(int slot, struct imsg_out *out)
{
	if (!parent_proc_slot_running(slot)) {
		imsg_out_free(out);
		return -1;
	}
	return imsgev_send(children[slot].iev, out, -1);
}

int
parent_proc_send(enum proc_id id, struct imsg_out *out)
{
	return parent_proc_send_slot((int)id, out);
}

int
parent_proc_send_fd(enum proc_id id, struct imsg_out *out, int fd)
{
	if (!parent_proc_running(id)) {
		imsg_out_free(out);
		if (fd != -1)
			(void)close(fd);
		return -1;
	}
	return imsgev_send(children[id].iev, out, fd);
}

/* "show status": one line per child, one per tlsproxy instance. */
void
parent_proc_status(uint32_t ctlid)
{
	char		 path[64];
	struct stat	 sb;
	int		 slot;
	long		 uid;

	for (slot = PROC_SMTP; slot < PARENT_NSLOTS; slot++) {
		const struct child	*c = &children[slot];

		if (!parent_proc_wanted(slot) && c->pid <= 0)
			continue;
		uid = -1;
		(void)snprintf(path, sizeof(path), "/proc/%d", (int)c->pid);
		if (c->pid > 0 && stat(path, &sb) == 0)
			uid = (long)sb.st_uid;
		parent_control_line_printf(ctlid, "proc %s pid=%d uid=%ld "
		    "state=%s restarts=%u", parent_proc_label(slot),
		    (int)c->pid, uid, !parent_proc_wanted(slot) ? "stopping" :
		    c->iev != NULL ? "running" : "restarting", c->restarts);
	}
}

/* IMSG_CONF_APPLIED: the child runs with this generation. */
static void
parent_proc_conf_applied(struct imsgev *iev, struct imsg *m, void *arg)
{
	int		 slot = (int)(intptr_t)arg;
	uint32_t	 gen = imsg_get_u32(m);

	(void)iev;
	if (imsg_get_end(m) == -1) {
		parent_proc_restart_slot(slot, "malformed IMSG_CONF_APPLIED");
		return;
	}
	children[slot].applied = gen;
	log_debug("%s runs config generation %u", parent_proc_label(slot),
	    gen);
}

/*
 * IMSG_PEER_BAD: a child says a peer misbehaved.  A peer trusted no more
 * than the reporter is restarted; a complaint about a more trusted peer
 * only gets both a fresh channel, so a compromised front end cannot have
 * the queue killed at will.
 */
static void
parent_proc_peer_bad(struct imsgev *iev, struct imsg *m, void *arg)
{
	int		 from = (int)(intptr_t)arg, peer;
	uint32_t	 id = imsg_get_u32(m);
	const char	*why = imsg_get_str(m);
	uint32_t	 inst = imsg_get_u32(m);
	char		 reason[256];

	(void)iev;
	if (imsg_get_end(m) == -1 || id <= PROC_PARENT || id >= PROC_COUNT ||
	    (id != PROC_TLS && inst != 0) || inst >= PROC_INSTANCES_MAX ||
	    !parent_proc_linked(parent_proc_slot_id(from), (enum proc_id)id)) {
		parent_proc_restart_slot(from, "malformed IMSG_PEER_BAD");
		return;
	}
	peer = parent_proc_slot_of((enum proc_id)id, inst);
	(void)snprintf(reason, sizeof(reason), "%s reports: %s",
	    parent_proc_label(from), text_is_clean(why) ? why :
	    "(unprintable)");
	if (!parent_proc_wanted(peer))
		return;
	if (children[peer].trust <= children[from].trust) {
		parent_proc_restart_slot(peer, reason);
		return;
	}
	log_warnx("%s; relinking", reason);
	parent_proc_link(from, peer);
}

static void
parent_proc_ctl_line(struct imsgev *iev, struct imsg *m, void *arg)
{
	const char	*line = imsg_get_str(m);

	(void)iev;
	if (imsg_get_end(m) == -1) {
		parent_proc_restart_slot((int)(intptr_t)arg,
		    "malformed IMSG_CTL_LINE");
		return;
	}
	parent_control_child_line(m->id, (int)(intptr_t)arg, line);
}

static void
parent_proc_ctl_end(struct imsgev *iev, struct imsg *m, void *arg)
{
	uint32_t	 status = imsg_get_u32(m);
	const char	*msg = imsg_get_str(m);

	(void)iev;
	if (imsg_get_end(m) == -1) {
		parent_proc_restart_slot((int)(intptr_t)arg,
		    "malformed IMSG_CTL_END");
		return;
	}
	parent_control_end(m->id, (int)(intptr_t)arg, status != 0, msg);
}

static void
parent_proc_ctl_event(struct imsgev *iev, struct imsg *m, void *arg)
{
	const char	*line = imsg_get_str(m);

	(void)iev;
	if (imsg_get_end(m) == -1) {
		parent_proc_restart_slot((int)(intptr_t)arg,
		    "malformed IMSG_CTL_EVENT");
		return;
	}
	parent_control_child_event((int)(intptr_t)arg, line);
}

/* IMSG_SMTP_METRICS: the front end's metrics listener asks. */
static void
parent_proc_metrics(struct imsgev *iev, struct imsg *m, void *arg)
{
	int	 slot = (int)(intptr_t)arg;

	(void)iev;
	if (parent_proc_slot_id(slot) != PROC_SMTP) {
		parent_proc_restart_slot(slot, "metrics request from a child "
		    "other than smtp");
		return;
	}
	if (imsg_get_end(m) == -1) {
		parent_proc_restart_slot(slot, "malformed IMSG_SMTP_METRICS");
		return;
	}
	parent_control_child_request(slot, m->id);
}

static const struct imsg_handler parent_child_handlers[] = {
	{ IMSG_CONF_APPLIED,	parent_proc_conf_applied },
	{ IMSG_PEER_BAD,	parent_proc_peer_bad },
	{ IMSG_CTL_LINE,	parent_proc_ctl_line },
	{ IMSG_CTL_END,		parent_proc_ctl_end },
	{ IMSG_CTL_EVENT,	parent_proc_ctl_event },
	{ IMSG_USER_LOOKUP,	parent_user_lookup },
	{ IMSG_SMTP_UID_LOOKUP,	parent_submit_uid_lookup },
	{ IMSG_SMTP_METRICS,	parent_proc_metrics },
	{ IMSG_SMTP_MILTER_CONNECT, parent_milter_connect },
};

static void
parent_proc_dispatch(struct imsgev *iev, struct imsg *m, void *arg)
{
	int	 slot = (int)(intptr_t)arg;
	char	 why[64];

	/* no message from a child carries a descriptor */
	if (m->fd != -1) {
		(void)close(m->fd);
		m->fd = -1;
		parent_proc_restart_slot(slot, "descriptor passed to the "
		    "parent");
		return;
	}
	if (imsgev_dispatch_table(parent_child_handlers,
	    sizeof(parent_child_handlers) / sizeof(parent_child_handlers[0]),
	    iev, m, arg) == -1) {
		(void)snprintf(why, sizeof(why), "unexpected imsg type %u",
		    m->type);
		parent_proc_restart_slot(slot, why);
	}
}

/* The channel broke: the process is dead or dying; SIGCHLD restarts it. */
static void
parent_proc_closed(struct imsgev *iev, const char *reason, void *arg)
{
	int		 slot = (int)(intptr_t)arg;
	struct child	*c = &children[slot];

	if (c->iev != iev)
		return;
	c->iev = NULL;
	parent_control_proc_lost(slot);
	if (!shutting_down && c->pid > 0 && parent_proc_wanted(slot)) {
		log_warnx("channel to %s lost (%s)", parent_proc_label(slot),
		    reason);
		(void)kill(c->pid, SIGKILL);
	}
}
