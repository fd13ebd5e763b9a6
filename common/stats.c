/*
 * stats.c: the counters, gauges and histograms of a child process, as
 * "smtpctl show stats" prints them and "show metrics" labels them.
 *
 * A sample is a name (a string constant, kept), optionally one label
 * (its key a constant, its value copied: a listener's name, a verdict),
 * and a value.  A histogram counts durations in fixed buckets, the same
 * for every histogram so that a scraper can add them across processes.
 * Everything lives in fixed tables: a sample that finds no room is not
 * counted (never an allocation, never a failure of the caller).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "proc.h"
#include "stats.h"
#include "util.h"

#define STATS_MAX	256
#define STATS_HIST_MAX	8
#define STATS_VALUE_MAX	48

/* Upper bounds in microseconds, from a local delivery to a day queued. */
static const int64_t stats_hist_le[] = {
	1000, 5000, 10000, 50000, 100000, 500000, 1000000, 5000000,
	10000000, 60000000, 300000000, 3600000000LL, 86400000000LL
};
#define STATS_HIST_BUCKETS	\
	(sizeof(stats_hist_le) / sizeof(stats_hist_le[0]))

struct stats_sample {
	const char	*name;
	const char	*key;		/* NULL: no label */
	char		 value[STATS_VALUE_MAX];
	int64_t		 n;
	int		 gauge;		/* a level, not a count of events */
};

struct stats_hist {
	const char	*name;
	int64_t		 bucket[STATS_HIST_BUCKETS + 1];	/* last: +Inf */
	int64_t		 sum_us;
	int64_t		 count;
};

static struct stats_sample	 stats[STATS_MAX];
static size_t			 stats_n;
static struct stats_hist	 stats_hist[STATS_HIST_MAX];
static size_t			 stats_nhist;
static const char		*stats_prefix = "";
static void			(*stats_refresh)(void);

/* A label value that needs no quoting in either format: letters, digits
 * and ".-:[]/@" (a listener "[::1]:25"), others '_'. */
static void
stats_value_copy(char *dst, const char *src)
{
	size_t	 i;
	char	 c;

	for (i = 0; i < STATS_VALUE_MAX - 1 && src[i] != '\0'; i++) {
		c = src[i];
		dst[i] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr(".-:[]/@", c) != NULL) ?
		    c : '_';
	}
	dst[i] = '\0';
}

static int
stats_same_label(const struct stats_sample *s, const char *key,
    const char *value)
{
	if (key == NULL || s->key == NULL)
		return key == s->key;
	return strcmp(s->key, key) == 0 && strcmp(s->value, value) == 0;
}

static struct stats_sample *
stats_slot(const char *name, const char *key, const char *value)
{
	char		 clean[STATS_VALUE_MAX];
	size_t		 i;

	if (key != NULL) {
		stats_value_copy(clean, value);
		value = clean;
	}
	/* names are string constants: compare pointers first */
	for (i = 0; i < stats_n; i++)
		if (stats[i].name == name &&
		    stats_same_label(&stats[i], key, value))
			return &stats[i];
	for (i = 0; i < stats_n; i++)
		if (strcmp(stats[i].name, name) == 0 &&
		    stats_same_label(&stats[i], key, value))
			return &stats[i];
	if (stats_n == STATS_MAX)
		return NULL;
	stats[stats_n].name = name;
	stats[stats_n].key = key;
	if (key != NULL)
		(void)strlcpy(stats[stats_n].value, value,
		    sizeof(stats[stats_n].value));
	return &stats[stats_n++];
}

/*
 * A prefix for the names "show stats" prints ("" by default), so that
 * the instances of one process can be told apart.  Kept, not copied.
 */
void
stats_prefix_set(const char *prefix)
{
	stats_prefix = prefix;
}

/* Levels that are cheaper to compute when asked than to keep current
 * (the queue's envelopes by state) are set by fn before each answer. */
void
stats_refresh_set(void (*fn)(void))
{
	stats_refresh = fn;
}

void
stats_add(const char *name, int64_t delta)
{
	stats_add_by(name, NULL, NULL, delta);
}

void
stats_set(const char *name, int64_t value)
{
	stats_set_by(name, NULL, NULL, value);
}

void
stats_gauge_add(const char *name, int64_t delta)
{
	stats_gauge_add_by(name, NULL, NULL, delta);
}

void
stats_add_by(const char *name, const char *key, const char *value,
    int64_t delta)
{
	struct stats_sample	*s;

	if ((s = stats_slot(name, key, value)) != NULL)
		s->n += delta;
}

void
stats_gauge_add_by(const char *name, const char *key, const char *value,
    int64_t delta)
{
	struct stats_sample	*s;

	if ((s = stats_slot(name, key, value)) == NULL)
		return;
	s->n += delta;
	s->gauge = 1;
}

void
stats_set_by(const char *name, const char *key, const char *value,
    int64_t n)
{
	struct stats_sample	*s;

	if ((s = stats_slot(name, key, value)) == NULL)
		return;
	s->n = n;
	s->gauge = 1;
}

int64_t
stats_get(const char *name)
{
	struct stats_sample	*s;

	return (s = stats_slot(name, NULL, NULL)) == NULL ? 0 : s->n;
}

void
stats_hist_add(const char *name, int64_t us)
{
	struct stats_hist	*h = NULL;
	size_t			 i;

	for (i = 0; i < stats_nhist && h == NULL; i++)
		if (stats_hist[i].name == name ||
		    strcmp(stats_hist[i].name, name) == 0)
			h = &stats_hist[i];
	if (h == NULL) {
		if (stats_nhist == STATS_HIST_MAX)
			return;
		h = &stats_hist[stats_nhist++];
		h->name = name;
	}
	if (us < 0)
		us = 0;
	for (i = 0; i < STATS_HIST_BUCKETS && us > stats_hist_le[i]; i++)
		;
	h->bucket[i]++;
	h->sum_us += us;
	h->count++;
}

/* CLOCK_MONOTONIC is read through the vDSO: no system call per event. */
int64_t
stats_clock_us(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return 0;
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
stats_time_add(const char *sum, const char *count, int64_t since)
{
	int64_t	 now;

	if (since == 0 || (now = stats_clock_us()) < since)
		return;
	stats_add(sum, now - since);
	stats_add(count, 1);
}

/* "name=N", "name[value]=N"; a histogram's buckets cumulative, as
 * "name.le[SECONDS]=N", then "name.sum.us=N" and "name.count=N". */
void
stats_ctl_show(uint32_t ctlid)
{
	const struct stats_hist	*h;
	size_t			 i, b;
	int64_t			 cum;

	if (stats_refresh != NULL)
		stats_refresh();
	for (i = 0; i < stats_n; i++) {
		if (stats[i].key == NULL)
			proc_ctl_line(ctlid, "%s%s=%lld", stats_prefix,
			    stats[i].name, (long long)stats[i].n);
		else
			proc_ctl_line(ctlid, "%s%s[%s]=%lld", stats_prefix,
			    stats[i].name, stats[i].value,
			    (long long)stats[i].n);
	}
	for (i = 0; i < stats_nhist; i++) {
		h = &stats_hist[i];
		for (b = 0, cum = 0; b <= STATS_HIST_BUCKETS; b++) {
			cum += h->bucket[b];
			if (b < STATS_HIST_BUCKETS)
				proc_ctl_line(ctlid, "%s%s.le[%g]=%lld",
				    stats_prefix, h->name,
				    (double)stats_hist_le[b] / 1e6,
				    (long long)cum);
			else
				proc_ctl_line(ctlid, "%s%s.le[+Inf]=%lld",
				    stats_prefix, h->name, (long long)cum);
		}
		proc_ctl_line(ctlid, "%s%s.sum.us=%lld", stats_prefix,
		    h->name, (long long)h->sum_us);
		proc_ctl_line(ctlid, "%s%s.count=%lld", stats_prefix, h->name,
		    (long long)h->count);
	}
}

/*
 * The lines metrics.c gathers: "KIND PROCESS INSTANCE NAME VALUE" and,
 * with a label, " KEY LABELVALUE"; a histogram as "bucket" lines (the
 * bound in microseconds as label, -1 for +Inf, cumulative), one "sum"
 * (microseconds) and one "count".  INSTANCE is -1 for a process that
 * runs once (no prefix).
 */
void
stats_ctl_metrics(uint32_t ctlid, const char *proc, int inst)
{
	const struct stats_hist	*h;
	size_t			 i, b;
	int64_t			 cum;

	if (stats_refresh != NULL)
		stats_refresh();
	if (stats_prefix[0] == '\0')
		inst = -1;
	for (i = 0; i < stats_n; i++) {
		if (stats[i].key == NULL)
			proc_ctl_line(ctlid, "%s %s %d %s %lld",
			    stats[i].gauge ? "gauge" : "counter", proc, inst,
			    stats[i].name, (long long)stats[i].n);
		else
			proc_ctl_line(ctlid, "%s %s %d %s %lld %s %s",
			    stats[i].gauge ? "gauge" : "counter", proc, inst,
			    stats[i].name, (long long)stats[i].n,
			    stats[i].key, stats[i].value);
	}
	for (i = 0; i < stats_nhist; i++) {
		h = &stats_hist[i];
		for (b = 0, cum = 0; b <= STATS_HIST_BUCKETS; b++) {
			cum += h->bucket[b];
			proc_ctl_line(ctlid, "bucket %s %d %s %lld le %lld",
			    proc, inst, h->name, (long long)cum,
			    b < STATS_HIST_BUCKETS ?
			    (long long)stats_hist_le[b] : -1LL);
		}
		proc_ctl_line(ctlid, "sum %s %d %s %lld", proc, inst, h->name,
		    (long long)h->sum_us);
		proc_ctl_line(ctlid, "count %s %d %s %lld", proc, inst,
		    h->name, (long long)h->count);
	}
}
