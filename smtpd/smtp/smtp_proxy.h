/*
 * smtp_proxy.h: the PROXY protocol header of a proxy-protocol listener
 * (smtp_proxy.c), read before the session starts.
 */
#ifndef SMTP_PROXY_H
#define SMTP_PROXY_H

#include <sys/socket.h>

#include <stdint.h>

/* Read the header on fd, accepted on listener from ss; the session (or
 * the end of the connection) follows through smtp_listener_proxied(). */
void	 smtp_proxy_start(int fd, const struct sockaddr_storage *ss,
	    const char *listener, uint32_t lflags, int slot, uint32_t gen);
void	 smtp_proxy_close_all(void);

#endif
