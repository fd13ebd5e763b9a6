/*
 * smtp_metrics.h: the HTTP side of a metrics listener (smtp_metrics.c).
 */
#ifndef SMTP_METRICS_H
#define SMTP_METRICS_H

#include "imsg.h"

void	 smtp_metrics_accept(int fd, const char *listener);
/* IMSG_CTL_LINE and IMSG_CTL_END from the parent, for a metrics request */
void	 smtp_metrics_line(struct imsgev *, struct imsg *, void *);
void	 smtp_metrics_end(struct imsgev *, struct imsg *, void *);
void	 smtp_metrics_close_all(void);

#endif
