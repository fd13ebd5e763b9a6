/*
 * smtp_load.h: the load average and its limits in the front end
 * (smtp_load.c).
 */
#ifndef SMTP_LOAD_H
#define SMTP_LOAD_H

#include <stdint.h>

#include "imsg.h"

struct smtp_session;

void		 smtp_load_average(struct imsgev *, struct imsg *, void *);
/* limit load-refuse: 1 while the listeners must not accept */
int		 smtp_load_refusing(void);
uint32_t	 smtp_load_current(void);
/* limit load-delay: 1 if the session's next command waits a second */
int		 smtp_load_delay(struct smtp_session *);

#endif
