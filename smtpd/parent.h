/*
 * parent.h: the root parent process: supervision of the children, the
 * channels between them, the listening sockets and the control socket.
 */
#ifndef PARENT_H
#define PARENT_H

#include <sys/types.h>

#include "config.h"
#include "imsg.h"
#include "proc.h"
#include "proto.h"

struct parent_options {
	const char	*conffile;
	const char	*libexecdir;
	int		 debug;
	int		 verbose;
};

extern struct parent_options	 parent_opts;
extern struct config		*parent_conf;

/*
 * parent_proc.c: children.  A slot is a child: slot == proc_id, except
 * that tlsproxy instance i is slot PROC_TLS + i.  The functions taking a
 * proc_id act on instance 0 (parent_proc_restart: on every instance).
 */
#define PARENT_NSLOTS	(PROC_TLS + PROC_INSTANCES_MAX)
void		 parent_proc_start_all(void);
void		 parent_proc_reaped(pid_t, int status);
void		 parent_proc_stopped(pid_t, int sig);
void		 parent_proc_broadcast_config(void);
void		 parent_proc_restart(enum proc_id, const char *why);
void		 parent_proc_tls_resize(void);
void		 parent_proc_shutdown(void);
int		 parent_proc_running(enum proc_id);
int		 parent_proc_send(enum proc_id, struct imsg_out *);
int		 parent_proc_send_fd(enum proc_id, struct imsg_out *, int);
void		 parent_proc_status(uint32_t ctlid);
int		 parent_proc_all_gone(void);
enum proc_id	 parent_proc_slot_id(int slot);
const char	*parent_proc_label(int slot);
int		 parent_proc_slot_running(int slot);
int		 parent_proc_slot_current(int slot);
int		 parent_proc_send_slot(int slot, struct imsg_out *);
void		 parent_proc_restart_slot(int slot, const char *why);

/* parent_user.c: passwd lookups for policyd (`local users passwd`) */
void		 parent_user_lookup(struct imsgev *, struct imsg *, void *);

/* parent_submit.c: the sendmail command's socket and its peers' names */
int		 parent_submit_bind(const char *path);
void		 parent_submit_send(uint32_t index);
void		 parent_submit_close(void);
void		 parent_submit_uid_lookup(struct imsgev *, struct imsg *, void *);

/* parent_milter.c: the front end's connections to unix-socket milters */
void		 parent_milter_connect(struct imsgev *, struct imsg *, void *);

/* parent_pickup.c: the sendmail command's offline drop directory */
void		 parent_pickup_prepare(const struct config *);
void		 parent_pickup_init(void);

/* parent_load.c */
void		 parent_load_init(void);
void		 parent_load_send(void);

/* parent_anchor.c */
void		 parent_anchor_send(void);
int		 parent_pickup_reaped(pid_t, int status);
void		 parent_pickup_stop(void);

/* parent_listen.c: sockets bound as root */
int		 parent_listen_bind_all(const struct config *);
void		 parent_listen_send(void);
void		 parent_listen_close_all(void);
int		 parent_listen_changed(const struct config *,
		    const struct config *);
int		 parent_unix_bind(const char *what, const char *path,
		    mode_t mode, int backlog);
int		 parent_control_bind(const char *path);

/* parent_control.c: smtpctl connections */
void		 parent_control_init(int fd);
void		 parent_control_close(void);
void		 parent_control_line(uint32_t ctlid, const char *line);
void		 parent_control_line_printf(uint32_t ctlid, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 parent_control_event_printf(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
/* slot: of parent_proc.c; PARENT_NSLOTS = every child */
void		 parent_control_monitor_sync(int slot);
void		 parent_control_end(uint32_t ctlid, int slot, int status,
		    const char *msg);
void		 parent_control_event(const char *line);
/* from the child in slot: passed on only if it may send it */
void		 parent_control_child_line(uint32_t ctlid, int slot,
		    const char *line);
void		 parent_control_child_event(int slot, const char *line);
void		 parent_control_proc_lost(int slot);
void		 parent_control_child_request(int slot, uint32_t id);

/* parent_pki.c: TLS certificates, keys and CAs, for tlsproxy only */
int		 parent_pki_load(const struct config *, char *, size_t);
void		 parent_pki_send(void);
void		 parent_pki_send_slot(int slot);
void		 parent_pki_free(void);

/* parent.c */
int		 parent_reload(char *err, size_t errlen);
void		 parent_prepare_dirs(const struct config *);

#endif
