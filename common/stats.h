/*
 * stats.h: the counters of "smtpctl show stats" and "show metrics"
 * (stats.c).
 */
#ifndef STATS_H
#define STATS_H

#include <stdint.h>

/* A name must be a string constant (it is kept, not copied).  A value
 * given by a set or gauge function is a gauge (a level that goes up and
 * down), one only added to a counter; "show metrics" says which. */
void		 stats_add(const char *name, int64_t delta);
void		 stats_set(const char *name, int64_t value);
void		 stats_gauge_add(const char *name, int64_t delta);
int64_t		 stats_get(const char *name);
/* The same with one label: key a constant ("listener"), value copied
 * (at most 47 octets, others than letters, digits and ".-:[]/@"
 * become '_'). */
void		 stats_add_by(const char *name, const char *key,
		    const char *value, int64_t delta);
void		 stats_gauge_add_by(const char *name, const char *key,
		    const char *value, int64_t delta);
void		 stats_set_by(const char *name, const char *key,
		    const char *value, int64_t n);
/* A duration counted in the fixed buckets of every histogram. */
void		 stats_hist_add(const char *name, int64_t us);
void		 stats_prefix_set(const char *prefix);
void		 stats_refresh_set(void (*fn)(void));
/* Timing counters: a monotonic clock in microseconds, and an interval
 * from since to now added to sum (us) and counted in count, so that a
 * mean is sum/count.  since 0 means "not timed" and adds nothing. */
int64_t		 stats_clock_us(void);
void		 stats_time_add(const char *sum, const char *count,
		    int64_t since);
/* The answers to CTL_SHOW_STATS and CTL_SHOW_METRICS, line by line. */
void		 stats_ctl_show(uint32_t ctlid);
void		 stats_ctl_metrics(uint32_t ctlid, const char *proc, int inst);

#endif
