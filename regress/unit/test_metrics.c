/*
 * test_metrics.c: the lines of the processes gathered into Prometheus
 * text: labels, histograms in bucket order, and malformed lines refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "unit.h"

/* The text printed for the lines, in a buffer the caller frees. */
static char *
print(const char *const *lines, size_t n, int *refused)
{
	struct metrics	*ms;
	char		*buf = NULL;
	size_t		 len = 0, i;
	FILE		*fp;

	*refused = 0;
	if ((ms = metrics_new()) == NULL ||
	    (fp = open_memstream(&buf, &len)) == NULL) {
		metrics_free(ms);
		return NULL;
	}
	for (i = 0; i < n; i++)
		if (metrics_line(ms, lines[i]) == -1)
			(*refused)++;
	metrics_print(ms, fp);
	(void)fclose(fp);
	metrics_free(ms);
	return buf;
}

static void
test_labels(void)
{
	static const char *const lines[] = {
		"counter smtp -1 smtp.listener.session 3 listener [::1]:25",
		"counter smtp -1 smtp.listener.session 5 listener 192.0.2.1:25",
		"gauge queue -1 queue.envelope.state 2 state pending",
		"counter tlsproxy 1 tls.server.failed 1 verify PROTOCOL",
	};
	char	*t;
	int	 refused;

	t = print(lines, 4, &refused);
	UNIT_CHECK(t != NULL && refused == 0, "labelled lines taken");
	if (t == NULL)
		return;
	UNIT_CHECK(strstr(t, "# TYPE smtpd_smtp_listener_session_total "
	    "counter\nsmtpd_smtp_listener_session_total{process=\"smtp\","
	    "listener=\"192.0.2.1:25\"} 5\nsmtpd_smtp_listener_session_total"
	    "{process=\"smtp\",listener=\"[::1]:25\"} 3\n") != NULL,
	    "one family, a sample per label value, in order");
	UNIT_CHECK(strstr(t, "smtpd_queue_envelope_state{process=\"queue\","
	    "state=\"pending\"} 2\n") != NULL, "a labelled gauge");
	UNIT_CHECK(strstr(t, "smtpd_tls_server_failed_total{process="
	    "\"tlsproxy\",instance=\"1\",verify=\"PROTOCOL\"} 1\n") != NULL,
	    "instance, then the label");
	free(t);
}

static void
test_histogram(void)
{
	static const char *const lines[] = {
		"count queue -1 queue.commit.seconds 4",
		"bucket queue -1 queue.commit.seconds 4 le -1",
		"sum queue -1 queue.commit.seconds 2500000",
		"bucket queue -1 queue.commit.seconds 3 le 5000",
		"bucket queue -1 queue.commit.seconds 1 le 1000",
	};
	char	*t;
	int	 refused;

	t = print(lines, 5, &refused);
	UNIT_CHECK(t != NULL && refused == 0, "histogram lines taken");
	if (t == NULL)
		return;
	UNIT_CHECK(strcmp(t, "# TYPE smtpd_queue_commit_seconds histogram\n"
	    "smtpd_queue_commit_seconds_bucket{process=\"queue\","
	    "le=\"0.001\"} 1\n"
	    "smtpd_queue_commit_seconds_bucket{process=\"queue\","
	    "le=\"0.005\"} 3\n"
	    "smtpd_queue_commit_seconds_bucket{process=\"queue\","
	    "le=\"+Inf\"} 4\n"
	    "smtpd_queue_commit_seconds_sum{process=\"queue\"} 2.500000\n"
	    "smtpd_queue_commit_seconds_count{process=\"queue\"} 4\n") == 0,
	    "buckets by bound, +Inf last, then sum in seconds and count");
	free(t);
}

static void
test_refused(void)
{
	static const char *const lines[] = {
		"bucket queue -1 queue.commit.seconds 4",
		"bucket queue -1 queue.commit.seconds 4 lx 5",
		"bucket queue -1 queue.commit.seconds 4 le five",
		"counter smtp -1 smtp.listener.session 3 listener",
		"counter smtp -1 smtp.listener.session 3 listener a\"b",
		"counter smtp -1 smtp.listener.session 3 listener a b",
		"sum queue -1 queue.commit.seconds 4 le 5",
		"histogram queue -1 x 1",
		"counter smtp -1 Bad.Name 1",
	};
	char	*t;
	int	 refused;

	t = print(lines, sizeof(lines) / sizeof(lines[0]), &refused);
	UNIT_CHECK(t != NULL && refused == 9 && t[0] == '\0',
	    "malformed lines refused, nothing printed");
	free(t);
}

int
main(void)
{
	test_labels();
	test_histogram();
	test_refused();
	return unit_done();
}
