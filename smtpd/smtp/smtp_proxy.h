/*
 * smtp_proxy.h: the PROXY protocol header of a proxy-protocol listener
 * (smtp_proxy.c), read before the session starts.
 */
#ifndef SMTP_PROXY_H
#define SMTP_PROXY_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

/* Read the header on fd, accepted on listener from ss; the session (or
 * the end of the connection) follows through smtp_listener_proxied(). */
void	 smtp_proxy_start(int fd, const struct sockaddr_storage *ss,
	    const char *listener, uint32_t lflags, int slot, uint32_t gen);
void	 smtp_proxy_close_all(void);

struct smtp_tls;
/* smtp_proxy_tls.c: the TLS facts of a version 2 header's TLVs into out;
 * 1 if the client spoke TLS to the proxy, 0 if not, -1 if malformed. */
int	 smtp_proxy_tls_parse(const uint8_t *tlvs, size_t len,
	    struct smtp_tls *out);

#endif
