/*
 * smtp_listener.h: the listening sockets of the front end.
 *
 * The parent binds the sockets and sends them (IMSG_SMTP_LISTENER); this
 * module accepts on them once a config is present and while not paused,
 * enforces the session limit and each listener's max-sessions and
 * connection-rate, and hands each new client to smtp_session_new().
 */
#ifndef SMTP_LISTENER_H
#define SMTP_LISTENER_H

#include <sys/socket.h>

#include <stdint.h>

#include "imsg.h"

void	 smtp_listener_add(struct imsgev *, struct imsg *, void *);
void	 smtp_listener_reset(struct imsgev *, struct imsg *, void *);
/* Re-evaluate whether to accept (config arrived, pause, resume). */
void	 smtp_listener_update(void);
void	 smtp_listener_pause(int paused);
int	 smtp_listener_paused(void);
void	 smtp_listener_close_all(void);
/* A session counted by the listener of that slot and generation ended. */
void	 smtp_listener_release(int slot, uint32_t gen);
void	 smtp_listener_log_load(uint32_t la);
/* A proxy-protocol connection counted by the listener of that slot and
 * generation: its session from client on fd, with the TLS facts of the
 * header (NULL if none), or (fd -1) its end. */
struct smtp_tls;
void	 smtp_listener_proxied(int fd, const struct sockaddr_storage *client,
	    const struct smtp_tls *tls, const char *name, uint32_t flags,
	    int slot, uint32_t gen);

#endif
