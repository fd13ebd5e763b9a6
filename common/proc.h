/*
 * proc.h: the skeleton every child process runs on.
 *
 * A child is exec'd by the parent with its parent channel on fd 3.  It
 * calls proc_setup() with a description of itself, does what needs root
 * (open keys, the spool, the database), calls proc_confine() to chroot and
 * drop to its own user, then proc_run().  Channels to its peers and its
 * configuration arrive over the parent channel; the skeleton installs them
 * and calls back into the process.
 *
 * Failure kinds: a malformed message from a peer is reported with
 * proc_peer_bad(), which closes the channel and asks the parent to restart
 * that peer; fatal() is for local trouble only and ends this process,
 * which the parent then restarts.
 */
#ifndef PROC_H
#define PROC_H

#include <stdint.h>

#include "config.h"
#include "imsg.h"
#include "proto.h"
#include "stats.h"

#define PROC_PARENT_FD		3
/*
 * Instances of one peer a process can have channels to (the parent runs
 * "tls processes" tlsproxy instances, at most this many; every other
 * process runs once, as instance 0).
 */
#define PROC_INSTANCES_MAX	64

struct event_base;

struct proc_def {
	enum proc_id		  id;
	const char		 *name;		/* "smtp", "queue", ... */
	const char		 *user;		/* compiled-in user name */
	/* handler table for messages from each peer (parent included);
	 * NULL for a peer this process never talks to */
	const struct imsg_handler *handlers[PROC_COUNT];
	size_t			  nhandlers[PROC_COUNT];
	/* a new channel to the peer is up / the old one is gone (for a
	 * peer with several instances, proc_peer_instance() says which) */
	void			(*peer_up)(enum proc_id);
	void			(*peer_down)(enum proc_id);
	/* install a new config; old is NULL the first time, and is freed by
	 * the skeleton after the call */
	void			(*config_apply)(struct config *, struct config *);
	/* a control request for this process (show, schedule, pause...);
	 * answer with proc_ctl_line() and one proc_ctl_end() */
	void			(*ctl)(uint32_t ctlid, uint32_t cmd,
				    const char *arg);
	/* SIGTERM: stop cleanly (may be NULL) */
	void			(*shutdown)(void);
};

/* The config in force; NULL until the first one arrived. */
extern struct config		*conf;
extern struct event_base	*proc_base;
/* -d was given: stay in the foreground, log to stderr */
extern int			 proc_debug;

void		 proc_setup(const struct proc_def *, int, char **);
void		 proc_nofile_raise(void);
const char	*proc_root(void);
void		 proc_confine(const char *root, const char *user);
/* smtpd-local: stays root, no chroot; the rest of proc_confine() */
void		 proc_confine_root(void);
void		 proc_run(void);

const char	*proc_name(enum proc_id);
/* the channel to a peer's first instance that is up, or NULL */
struct imsgev	*proc_peer(enum proc_id);
int		 proc_send(enum proc_id, struct imsg_out *, int fd);
/* one instance of a peer; an instance whose channel is up, or -1 */
struct imsgev	*proc_peer_n(enum proc_id, unsigned inst);
int		 proc_send_n(enum proc_id, unsigned inst, struct imsg_out *,
		    int fd);
int		 proc_peer_pick(enum proc_id);
/* the instance of the peer whose message (or peer_up/peer_down) is
 * being handled; proc_peer_bad() acts on that instance */
unsigned	 proc_peer_instance(void);
/* this process's own instance, from -i (0 if not given) */
unsigned	 proc_instance(void);
int		 proc_compose(enum proc_id, uint32_t type, uint32_t id, int fd,
		    const void *, size_t);
void		 proc_peer_bad(enum proc_id, const char *why, uint32_t type);

void		 proc_ctl_line(uint32_t ctlid, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 proc_ctl_end(uint32_t ctlid, int status, const char *msg);
void		 proc_monitor(const char *, ...)
		    __attribute__((format(printf, 1, 2)));

#endif
