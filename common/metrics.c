/*
 * metrics.c: the counters, gauges and histograms of every process in the
 * Prometheus text exposition format (version 0.0.4), for "smtpctl show
 * metrics" and a metrics listener's HTTP answer (smtpd/smtp/smtp_metrics.c).
 *
 * Each process answers the lines stats.c writes, "KIND PROCESS INSTANCE
 * NAME VALUE [KEY LABEL]" (KIND counter, gauge, or a histogram's bucket,
 * sum and count; INSTANCE -1 for a process that runs once); they come
 * process after process, and the format wants each metric family once,
 * its samples together under one TYPE line, so they are kept and printed
 * at the end, sorted by name.  A counter "queue.delivery.ok" becomes
 * smtpd_queue_delivery_ok_total{process="queue"}, a gauge keeps its name
 * without the suffix, a histogram gets _bucket, _sum (in seconds) and
 * _count; other octets than letters, digits and '_' become '_'.  A line
 * that does not follow the layout is refused (-1): the caller says so
 * and goes on.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "util.h"

#define METRICS_NAME_MAX	128
#define METRICS_MAX		4096	/* samples kept */

enum metric_kind {
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_BUCKET,
	METRIC_SUM,
	METRIC_COUNT
};

struct metric {
	char		 family[METRICS_NAME_MAX];
	char		 process[32];
	int		 instance;
	enum metric_kind kind;
	char		 key[32];	/* "" without a label */
	char		 label[48];
	long long	 le;		/* a bucket's bound (us), -1 +Inf */
	long long	 value;
};

struct metrics {
	struct metric	*m;
	size_t		 n, cap;
};

struct metrics *
metrics_new(void)
{
	return calloc(1, sizeof(struct metrics));
}

void
metrics_free(struct metrics *ms)
{
	if (ms == NULL)
		return;
	free(ms->m);
	free(ms);
}

/* "smtpd_" and name with '.' (and anything odd) as '_', "_total" for a
 * counter; -1 if it does not fit. */
static int
metrics_family(const char *name, enum metric_kind kind, char *out,
    size_t size)
{
	size_t	 i, n;

	n = (size_t)snprintf(out, size, "smtpd_%s%s", name,
	    kind == METRIC_COUNTER ? "_total" : "");
	if (n >= size)
		return -1;
	for (i = 0; out[i] != '\0'; i++)
		if (!((out[i] >= 'a' && out[i] <= 'z') ||
		    (out[i] >= 'A' && out[i] <= 'Z') ||
		    (out[i] >= '0' && out[i] <= '9') || out[i] == '_'))
			out[i] = '_';
	return 0;
}

static int
metrics_word_clean(const char *s)
{
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    *s == '.' || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

/* A label value as stats.c makes it, so that it needs no escaping. */
static int
metrics_label_clean(const char *s)
{
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("._-:[]/@", *s) != NULL))
			return 0;
	return 1;
}

static int
metrics_kind(const char *word, enum metric_kind *kind)
{
	static const char *const names[] = {
		"counter", "gauge", "bucket", "sum", "count"
	};
	size_t	 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(word, names[i]) == 0) {
			*kind = (enum metric_kind)i;
			return 0;
		}
	return -1;
}

static struct metric *
metrics_grow(struct metrics *ms)
{
	struct metric	*grown;
	size_t		 cap;

	if (ms->n == METRICS_MAX)
		return NULL;
	if (ms->n == ms->cap) {
		cap = ms->cap ? ms->cap * 2 : 128;
		if ((grown = reallocarray(ms->m, cap, sizeof(*ms->m))) == NULL)
			return NULL;
		ms->m = grown;
		ms->cap = cap;
	}
	memset(&ms->m[ms->n], 0, sizeof(ms->m[ms->n]));
	return &ms->m[ms->n];
}

/* The optional " KEY VALUE" after the value: a bucket's "le BOUND". */
static int
metrics_line_label(struct metric *m, const char *rest)
{
	char		 key[32], label[48];
	const char	*errstr;
	int		 n = 0;

	if (*rest == '\0')
		return m->kind == METRIC_BUCKET ? -1 : 0;
	if (sscanf(rest, " %31s %47s%n", key, label, &n) != 2 ||
	    rest[n] != '\0' || !metrics_word_clean(key) ||
	    !metrics_label_clean(label))
		return -1;
	if (m->kind == METRIC_BUCKET) {
		if (strcmp(key, "le") != 0)
			return -1;
		m->le = strtonum(label, -1, LLONG_MAX, &errstr);
		return errstr != NULL ? -1 : 0;
	}
	if (m->kind != METRIC_COUNTER && m->kind != METRIC_GAUGE)
		return -1;
	(void)strlcpy(m->key, key, sizeof(m->key));
	(void)strlcpy(m->label, label, sizeof(m->label));
	return 0;
}

int
metrics_line(struct metrics *ms, const char *line)
{
	char		 kind[16], proc[32], name[METRICS_NAME_MAX];
	struct metric	*m;
	long long	 value;
	int		 inst, n = 0;

	if (sscanf(line, "%15s %31s %d %127s %lld%n", kind, proc, &inst,
	    name, &value, &n) != 5 || !metrics_word_clean(proc) ||
	    !metrics_word_clean(name) || (m = metrics_grow(ms)) == NULL ||
	    metrics_kind(kind, &m->kind) == -1 ||
	    metrics_line_label(m, line + n) == -1 ||
	    metrics_family(name, m->kind, m->family, sizeof(m->family)) == -1)
		return -1;
	(void)strlcpy(m->process, proc, sizeof(m->process));
	m->instance = inst;
	m->value = value;
	ms->n++;
	return 0;
}

/* A histogram's samples in the order the format wants: the buckets
 * from the smallest bound to +Inf, then the sum, then the count. */
static long long
metrics_order(const struct metric *m)
{
	if (m->kind == METRIC_BUCKET)
		return m->le == -1 ? LLONG_MAX - 2 : m->le;
	if (m->kind == METRIC_SUM)
		return LLONG_MAX - 1;
	if (m->kind == METRIC_COUNT)
		return LLONG_MAX;
	return 0;
}

static int
metrics_cmp(const void *a, const void *b)
{
	const struct metric	*x = a, *y = b;
	long long		 ox, oy;
	int			 c;

	if ((c = strcmp(x->family, y->family)) != 0)
		return c;
	if ((c = strcmp(x->process, y->process)) != 0)
		return c;
	if (x->instance != y->instance)
		return (x->instance > y->instance) - (x->instance < y->instance);
	if ((c = strcmp(x->key, y->key)) != 0 ||
	    (c = strcmp(x->label, y->label)) != 0)
		return c;
	ox = metrics_order(x);
	oy = metrics_order(y);
	return (ox > oy) - (ox < oy);
}

static const char *
metrics_type(enum metric_kind kind)
{
	switch (kind) {
	case METRIC_COUNTER:
		return "counter";
	case METRIC_GAUGE:
		return "gauge";
	default:
		return "histogram";
	}
}

static const char *
metrics_suffix(enum metric_kind kind)
{
	switch (kind) {
	case METRIC_BUCKET:
		return "_bucket";
	case METRIC_SUM:
		return "_sum";
	case METRIC_COUNT:
		return "_count";
	default:
		return "";
	}
}

/* The labels: process, instance of a process that runs several times,
 * the sample's own label or a bucket's bound in seconds. */
static void
metrics_labels(const struct metric *m, FILE *fp)
{
	(void)fprintf(fp, "{process=\"%s\"", m->process);
	if (m->instance >= 0)
		(void)fprintf(fp, ",instance=\"%d\"", m->instance);
	if (m->key[0] != '\0')
		(void)fprintf(fp, ",%s=\"%s\"", m->key, m->label);
	if (m->kind == METRIC_BUCKET && m->le == -1)
		(void)fprintf(fp, ",le=\"+Inf\"");
	else if (m->kind == METRIC_BUCKET)
		(void)fprintf(fp, ",le=\"%g\"", (double)m->le / 1e6);
	(void)fprintf(fp, "}");
}

void
metrics_print(struct metrics *ms, FILE *fp)
{
	const struct metric	*m;
	size_t			 i;

	qsort(ms->m, ms->n, sizeof(*ms->m), metrics_cmp);
	for (i = 0; i < ms->n; i++) {
		m = &ms->m[i];
		if (i == 0 || strcmp(m->family, ms->m[i - 1].family) != 0)
			(void)fprintf(fp, "# TYPE %s %s\n", m->family,
			    metrics_type(m->kind));
		(void)fprintf(fp, "%s%s", m->family, metrics_suffix(m->kind));
		metrics_labels(m, fp);
		if (m->kind == METRIC_SUM)
			(void)fprintf(fp, " %.6f\n", (double)m->value / 1e6);
		else
			(void)fprintf(fp, " %lld\n", m->value);
	}
}
