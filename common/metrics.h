/*
 * metrics.h: the processes' "show metrics" lines gathered and printed in
 * the Prometheus text format (metrics.c).
 */
#ifndef METRICS_H
#define METRICS_H

#include <stdio.h>

struct metrics;

struct metrics	*metrics_new(void);
void		 metrics_free(struct metrics *);
/* One line "KIND PROCESS INSTANCE NAME VALUE [KEY LABEL]"; -1 if malformed or no
 * room (the line is skipped). */
int		 metrics_line(struct metrics *, const char *line);
/* Every family sorted by name, one TYPE line each. */
void		 metrics_print(struct metrics *, FILE *);

#endif
