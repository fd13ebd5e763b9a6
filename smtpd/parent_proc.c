/*
 * parent_proc.c: the children of the parent: fork+exec, the channels
 * between them, configs, and restarts with backoff.
 *
 * Each child is a fresh executable (no inherited address space) that gets
 * its parent channel on fd 3.  Channels between two children are
 * socketpairs the parent creates and passes to both ends; when a child is
 * restarted its peers get a new channel and treat the old one's EOF as the
 * peer's death.  A child never takes the parent down: bad messages from it
 * get it killed and restarted.
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

/* a child that ran this long is healthy: restart it at once next time */
#define CHILD_HEALTHY_SECS	60
#define CHILD_BACKOFF_MAX	60
#define SHUTDOWN_GRACE_SECS	5

struct child {
	const char	*exe;
	/* how much a peer's complaint about this child is believed */
	int		 trust;
	pid_t		 pid;
	struct imsgev	*iev;
	struct event	*timer;
	time_t		 started;
	int		 backoff;
	unsigned	 restarts;
	uint32_t	 applied;
};

static struct child	 children[PROC_COUNT] = {
	[PROC_SMTP] =	{ "smtpd-smtp", 0, -1, NULL, NULL, 0, 0, 0, 0 },
	[PROC_MTA] =	{ "smtpd-mta", 0, -1, NULL, NULL, 0, 0, 0, 0 },
	[PROC_QUEUE] =	{ "smtpd-queue", 2, -1, NULL, NULL, 0, 0, 0, 0 },
	[PROC_POLICY] =	{ "smtpd-policyd", 1, -1, NULL, NULL, 0, 0, 0, 0 },
	[PROC_TLS] =	{ "smtpd-tlsproxy", 1, -1, NULL, NULL, 0, 0, 0, 0 },
	[PROC_AUTH] =	{ "smtpd-auth", 1, -1, NULL, NULL, 0, 0, 0, 0 },
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
	{ PROC_SMTP, PROC_TLS },
	{ PROC_MTA, PROC_TLS },
	{ PROC_SMTP, PROC_AUTH },
};

static int		 shutting_down;
static struct event	*shutdown_timer;
extern struct event_base *parent_base;

static void	parent_proc_dispatch(struct imsgev *, struct imsg *, void *);
static void	parent_proc_closed(struct imsgev *, const char *, void *);
static void	parent_proc_start(enum proc_id);

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
parent_proc_exec(enum proc_id id, int fd)
{
	char	 path[PATH_MAX], rootbuf[PATH_MAX];
	char	*argv[8];
	int	 argc = 0;

	if (fd != PROC_PARENT_FD) {
		if (dup2(fd, PROC_PARENT_FD) == -1)
			_exit(127);
	} else if (fcntl(fd, F_SETFD, 0) == -1)
		_exit(127);
	closefrom(PROC_PARENT_FD + 1);
	(void)snprintf(path, sizeof(path), "%s/%s", parent_opts.libexecdir,
	    children[id].exe);
	argv[argc++] = path;
	argv[argc++] = "-r";
	argv[argc++] = (char *)parent_proc_root(id, rootbuf, sizeof(rootbuf));
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
parent_proc_spawn(enum proc_id id)
{
	struct child	*c = &children[id];
	int		 sp[2];
	pid_t		 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		log_warn("socketpair for %s", proc_name(id));
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_warn("fork for %s", proc_name(id));
		(void)close(sp[0]);
		(void)close(sp[1]);
		return -1;
	}
	if (pid == 0) {
		(void)close(sp[0]);
		parent_proc_exec(id, sp[1]);
	}
	(void)close(sp[1]);
	c->pid = pid;
	c->started = time(NULL);
	c->applied = 0;
	c->iev = imsgev_open(parent_base, sp[0], proc_name(id),
	    parent_proc_dispatch, parent_proc_closed, (void *)(intptr_t)id);
	if (c->iev == NULL) {
		log_warn("channel to %s", proc_name(id));
		(void)close(sp[0]);
		(void)kill(pid, SIGKILL);
		return -1;
	}
	log_debug("started %s, pid %d", proc_name(id), (int)pid);
	return 0;
}

/* Give two running children a fresh channel to each other. */
static void
parent_proc_link(enum proc_id a, enum proc_id b)
{
	struct imsg_out	 out;
	int		 sp[2];

	if (children[a].iev == NULL || children[b].iev == NULL)
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		log_warn("socketpair %s-%s", proc_name(a), proc_name(b));
		return;
	}
	imsg_out_init(&out, IMSG_PEER_CHANNEL, 0);
	imsg_put_u32(&out, b);
	(void)imsgev_send(children[a].iev, &out, sp[0]);
	imsg_out_init(&out, IMSG_PEER_CHANNEL, 0);
	imsg_put_u32(&out, a);
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

/* Link a (re)started child with every running peer. */
static void
parent_proc_link_peers(enum proc_id id)
{
	size_t	 i;

	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		if (links[i].a == id)
			parent_proc_link(id, links[i].b);
		else if (links[i].b == id)
			parent_proc_link(links[i].a, id);
	}
}

/* Send the canonical config text in chunks. */
void
parent_proc_send_config(enum proc_id id)
{
	struct imsg_out	 out;
	char		*text, *p;
	size_t		 len, chunk;
	char		 save;

	if (children[id].iev == NULL)
		return;
	if ((text = config_dump_string(parent_conf, &len)) == NULL) {
		log_warnx("cannot render the config for %s", proc_name(id));
		return;
	}
	imsg_out_init(&out, IMSG_CONF_BEGIN, 0);
	imsg_put_u32(&out, parent_conf->generation);
	(void)parent_proc_send(id, &out);
	for (p = text; len > 0; p += chunk, len -= chunk) {
		chunk = len > 16384 ? 16384 : len;
		save = p[chunk];
		p[chunk] = '\0';
		imsg_out_init(&out, IMSG_CONF_DATA, 0);
		imsg_put_str(&out, p);
		(void)parent_proc_send(id, &out);
		p[chunk] = save;
	}
	free(text);
	imsg_out_init(&out, IMSG_CONF_END, 0);
	(void)parent_proc_send(id, &out);
}

void
parent_proc_broadcast_config(void)
{
	int	 id;

	for (id = PROC_SMTP; id < PROC_COUNT; id++)
		parent_proc_send_config((enum proc_id)id);
}

/* Everything a fresh child needs after its peers are linked. */
static void
parent_proc_setup_child(enum proc_id id)
{
	parent_proc_send_config(id);
	if (id == PROC_TLS)
		parent_pki_send();
	if (id == PROC_SMTP)
		parent_listen_send();
	parent_control_monitor_sync(id);
}

void
parent_proc_start_all(void)
{
	size_t	 i;
	int	 id;

	for (id = PROC_SMTP; id < PROC_COUNT; id++)
		if (parent_proc_spawn((enum proc_id)id) == -1)
			fatalx("cannot start %s", proc_name((enum proc_id)id));
	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		parent_proc_link(links[i].a, links[i].b);
	for (id = PROC_SMTP; id < PROC_COUNT; id++)
		parent_proc_setup_child((enum proc_id)id);
}

static void
parent_proc_start(enum proc_id id)
{
	if (shutting_down)
		return;
	if (parent_proc_spawn(id) == -1) {
		parent_proc_restart(id, "spawn failed");
		return;
	}
	parent_proc_link_peers(id);
	parent_proc_setup_child(id);
	log_info("%s restarted (pid %d)", proc_name(id), (int)children[id].pid);
	parent_control_event_printf("proc %s restarted pid=%d", proc_name(id),
	    (int)children[id].pid);
}

static void
parent_proc_timer(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	parent_proc_start((enum proc_id)(intptr_t)arg);
}

/*
 * Schedule a start after the backoff; a child that died young waits
 * twice as long as last time, up to a minute.
 */
static void
parent_proc_schedule(enum proc_id id)
{
	struct child	*c = &children[id];
	struct timeval	 tv;

	if (time(NULL) - c->started >= CHILD_HEALTHY_SECS)
		c->backoff = 0;
	else if (c->backoff == 0)
		c->backoff = 1;
	else if (c->backoff < CHILD_BACKOFF_MAX)
		c->backoff *= 2;
	if (c->timer == NULL)
		c->timer = evtimer_new(parent_base, parent_proc_timer,
		    (void *)(intptr_t)id);
	if (c->timer == NULL)
		fatalx("evtimer_new");
	tv.tv_sec = c->backoff;
	tv.tv_usec = c->backoff == 0 ? 100000 : 0;
	(void)evtimer_add(c->timer, &tv);
}

/* Kill a child so that it is restarted (its death is seen by SIGCHLD). */
void
parent_proc_restart(enum proc_id id, const char *why)
{
	struct child	*c = &children[id];

	if (c->pid > 0) {
		log_warnx("restarting %s (pid %d): %s", proc_name(id),
		    (int)c->pid, why);
		(void)kill(c->pid, SIGKILL);
		return;
	}
	parent_proc_schedule(id);
}

/* SIGCHLD: a child exited; log how and restart it. */
void
parent_proc_reaped(pid_t pid, int status)
{
	struct child	*c = NULL;
	int		 id;

	for (id = PROC_SMTP; id < PROC_COUNT; id++)
		if (children[id].pid == pid)
			c = &children[id];
	if (c == NULL)
		return;
	id = (int)(c - children);
	c->pid = -1;
	if (c->iev != NULL) {
		imsgev_close(c->iev);
		c->iev = NULL;
	}
	parent_control_proc_lost((enum proc_id)id);
	if (shutting_down) {
		if (parent_proc_all_gone())
			(void)event_base_loopexit(parent_base, NULL);
		return;
	}
	c->restarts++;
	if (WIFSIGNALED(status))
		log_warnx("%s (pid %d) killed by signal %d", proc_name(id),
		    (int)pid, WTERMSIG(status));
	else
		log_warnx("%s (pid %d) exited with status %d", proc_name(id),
		    (int)pid, WEXITSTATUS(status));
	parent_control_event_printf("proc %s died pid=%d", proc_name(id),
	    (int)pid);
	parent_proc_schedule((enum proc_id)id);
}

int
parent_proc_all_gone(void)
{
	int	 id;

	for (id = PROC_SMTP; id < PROC_COUNT; id++)
		if (children[id].pid > 0)
			return 0;
	return 1;
}

static void
parent_proc_shutdown_timer(int fd, short ev, void *arg)
{
	int	 id;

	(void)fd;
	(void)ev;
	(void)arg;
	for (id = PROC_SMTP; id < PROC_COUNT; id++)
		if (children[id].pid > 0) {
			log_warnx("%s did not stop, killing it", proc_name(id));
			(void)kill(children[id].pid, SIGKILL);
		}
}

/* SIGTERM: stop every child, then leave the event loop. */
void
parent_proc_shutdown(void)
{
	struct timeval	 tv = { SHUTDOWN_GRACE_SECS, 0 };
	int		 id;

	if (shutting_down)
		return;
	shutting_down = 1;
	for (id = PROC_SMTP; id < PROC_COUNT; id++) {
		if (children[id].timer != NULL)
			(void)evtimer_del(children[id].timer);
		if (children[id].pid > 0)
			(void)kill(children[id].pid, SIGTERM);
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
parent_proc_running(enum proc_id id)
{
	return id > PROC_PARENT && id < PROC_COUNT && children[id].iev != NULL;
}

int
parent_proc_send(enum proc_id id, struct imsg_out *out)
{
	if (!parent_proc_running(id)) {
		imsg_out_free(out);
		return -1;
	}
	return imsgev_send(children[id].iev, out, -1);
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

/* "show status": one line per child. */
void
parent_proc_status(uint32_t ctlid)
{
	char		 path[64];
	struct stat	 sb;
	int		 id;
	long		 uid;

	for (id = PROC_SMTP; id < PROC_COUNT; id++) {
		const struct child	*c = &children[id];

		uid = -1;
		(void)snprintf(path, sizeof(path), "/proc/%d", (int)c->pid);
		if (c->pid > 0 && stat(path, &sb) == 0)
			uid = (long)sb.st_uid;
		parent_control_line_printf(ctlid, "proc %s pid=%d uid=%ld "
		    "state=%s restarts=%u", proc_name(id), (int)c->pid, uid,
		    c->iev != NULL ? "running" : "restarting", c->restarts);
	}
}

/* IMSG_CONF_APPLIED: the child runs with this generation. */
static void
parent_proc_conf_applied(struct imsgev *iev, struct imsg *m, void *arg)
{
	enum proc_id	 id = (enum proc_id)(intptr_t)arg;
	uint32_t	 gen = imsg_get_u32(m);

	(void)iev;
	if (imsg_get_end(m) == -1) {
		parent_proc_restart(id, "malformed IMSG_CONF_APPLIED");
		return;
	}
	children[id].applied = gen;
	log_debug("%s runs config generation %u", proc_name(id), gen);
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
	enum proc_id	 from = (enum proc_id)(intptr_t)arg;
	uint32_t	 peer = imsg_get_u32(m);
	const char	*why = imsg_get_str(m);
	char		 reason[256];

	(void)iev;
	if (imsg_get_end(m) == -1 || peer <= PROC_PARENT ||
	    peer >= PROC_COUNT || !parent_proc_linked(from, (enum proc_id)peer)) {
		parent_proc_restart(from, "malformed IMSG_PEER_BAD");
		return;
	}
	(void)snprintf(reason, sizeof(reason), "%s reports: %s",
	    proc_name(from), text_is_clean(why) ? why : "(unprintable)");
	if (children[peer].trust <= children[from].trust) {
		parent_proc_restart((enum proc_id)peer, reason);
		return;
	}
	log_warnx("%s; relinking", reason);
	parent_proc_link(from, (enum proc_id)peer);
}

static void
parent_proc_ctl_line(struct imsgev *iev, struct imsg *m, void *arg)
{
	const char	*line = imsg_get_str(m);

	(void)iev;
	if (imsg_get_end(m) == -1) {
		parent_proc_restart((enum proc_id)(intptr_t)arg,
		    "malformed IMSG_CTL_LINE");
		return;
	}
	parent_control_line(m->id, line);
}

static void
parent_proc_ctl_end(struct imsgev *iev, struct imsg *m, void *arg)
{
	uint32_t	 status = imsg_get_u32(m);
	const char	*msg = imsg_get_str(m);

	(void)iev;
	if (imsg_get_end(m) == -1) {
		parent_proc_restart((enum proc_id)(intptr_t)arg,
		    "malformed IMSG_CTL_END");
		return;
	}
	parent_control_end(m->id, (enum proc_id)(intptr_t)arg,
	    status != 0, msg);
}

static void
parent_proc_ctl_event(struct imsgev *iev, struct imsg *m, void *arg)
{
	const char	*line = imsg_get_str(m);

	(void)iev;
	if (imsg_get_end(m) == -1) {
		parent_proc_restart((enum proc_id)(intptr_t)arg,
		    "malformed IMSG_CTL_EVENT");
		return;
	}
	parent_control_event(line);
}

static const struct imsg_handler parent_child_handlers[] = {
	{ IMSG_CONF_APPLIED,	parent_proc_conf_applied },
	{ IMSG_PEER_BAD,	parent_proc_peer_bad },
	{ IMSG_CTL_LINE,	parent_proc_ctl_line },
	{ IMSG_CTL_END,		parent_proc_ctl_end },
	{ IMSG_CTL_EVENT,	parent_proc_ctl_event },
};

static void
parent_proc_dispatch(struct imsgev *iev, struct imsg *m, void *arg)
{
	enum proc_id	 id = (enum proc_id)(intptr_t)arg;
	char		 why[64];

	/* no message from a child carries a descriptor */
	if (m->fd != -1) {
		(void)close(m->fd);
		m->fd = -1;
		parent_proc_restart(id, "descriptor passed to the parent");
		return;
	}
	if (imsgev_dispatch_table(parent_child_handlers,
	    sizeof(parent_child_handlers) / sizeof(parent_child_handlers[0]),
	    iev, m, arg) == -1) {
		(void)snprintf(why, sizeof(why), "unexpected imsg type %u",
		    m->type);
		parent_proc_restart(id, why);
	}
}

/* The channel broke: the process is dead or dying; SIGCHLD restarts it. */
static void
parent_proc_closed(struct imsgev *iev, const char *reason, void *arg)
{
	enum proc_id	 id = (enum proc_id)(intptr_t)arg;
	struct child	*c = &children[id];

	if (c->iev != iev)
		return;
	c->iev = NULL;
	parent_control_proc_lost(id);
	if (!shutting_down && c->pid > 0) {
		log_warnx("channel to %s lost (%s)", proc_name(id), reason);
		(void)kill(c->pid, SIGKILL);
	}
}
