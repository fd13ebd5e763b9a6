/*
 * smtp_milter_unix.h: the front end's side of a milter on a unix socket
 * (smtp_milter_unix.c): the parent connects it, outside the chroot, and
 * passes the descriptor back.
 */
#ifndef SMTP_MILTER_UNIX_H
#define SMTP_MILTER_UNIX_H

#include <stdint.h>

struct imsg;
struct imsgev;

/* Ask the parent to connect the filter at index of the config for the
 * session id (IMSG_SMTP_MILTER_CONNECT); -1 if it cannot be asked. */
int	 smtp_milter_unix_ask(uint32_t id, int index);
/* IMSG_SMTP_MILTER_CONNECTED, from the parent. */
void	 smtp_milter_unix_result(struct imsgev *, struct imsg *, void *);

#endif
