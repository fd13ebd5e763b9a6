/*
 * metrics.c: the counters and gauges of every process in the Prometheus
 * text exposition format (version 0.0.4), for "smtpctl show metrics" and
 * a metrics listener's HTTP answer (smtpd/smtp/smtp_metrics.c).
 *
 * Each process answers lines "KIND PROCESS INSTANCE NAME VALUE" (KIND
 * counter or gauge, INSTANCE -1 for a process that runs once); they come
 * process after process, and the format wants each metric family once,
 * its samples together under one TYPE line, so they are kept and printed
 * at the end, sorted by name.  A counter "queue.delivery.ok" becomes
 * smtpd_queue_delivery_ok_total{process="queue"}, a gauge keeps its name
 * without the suffix; other octets than letters, digits and '_' become
 * '_'.  A line that does not follow the layout is refused (-1): the
 * caller says so and goes on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "util.h"

#define METRICS_NAME_MAX	128
#define METRICS_MAX		4096	/* samples kept */

struct metric {
	char		 family[METRICS_NAME_MAX];
	char		 process[32];
	int		 instance;
	int		 gauge;
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
metrics_family(const char *name, int gauge, char *out, size_t size)
{
	size_t	 i, n;

	n = (size_t)snprintf(out, size, "smtpd_%s%s", name,
	    gauge ? "" : "_total");
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

int
metrics_line(struct metrics *ms, const char *line)
{
	char		 kind[16], proc[32], name[METRICS_NAME_MAX];
	struct metric	*m, *grown;
	long long	 value;
	int		 inst, n = 0;

	if (sscanf(line, "%15s %31s %d %127s %lld%n", kind, proc, &inst,
	    name, &value, &n) != 5 || line[n] != '\0' ||
	    (strcmp(kind, "counter") != 0 && strcmp(kind, "gauge") != 0) ||
	    !metrics_word_clean(proc) || !metrics_word_clean(name))
		return -1;
	if (ms->n == METRICS_MAX)
		return -1;
	if (ms->n == ms->cap) {
		if ((grown = reallocarray(ms->m, ms->cap ? ms->cap * 2 : 128,
		    sizeof(*ms->m))) == NULL)
			return -1;
		ms->m = grown;
		ms->cap = ms->cap ? ms->cap * 2 : 128;
	}
	m = &ms->m[ms->n];
	m->gauge = strcmp(kind, "gauge") == 0;
	if (metrics_family(name, m->gauge, m->family,
	    sizeof(m->family)) == -1)
		return -1;
	(void)strlcpy(m->process, proc, sizeof(m->process));
	m->instance = inst;
	m->value = value;
	ms->n++;
	return 0;
}

static int
metrics_cmp(const void *a, const void *b)
{
	const struct metric	*x = a, *y = b;
	int			 c;

	if ((c = strcmp(x->family, y->family)) != 0)
		return c;
	if ((c = strcmp(x->process, y->process)) != 0)
		return c;
	return (x->instance > y->instance) - (x->instance < y->instance);
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
			    m->gauge ? "gauge" : "counter");
		if (m->instance >= 0)
			(void)fprintf(fp, "%s{process=\"%s\",instance=\"%d\"} "
			    "%lld\n", m->family, m->process, m->instance,
			    m->value);
		else
			(void)fprintf(fp, "%s{process=\"%s\"} %lld\n",
			    m->family, m->process, m->value);
	}
}
