/*
 * smtp_metrics.c: a metrics listener (listen ... metrics): what
 * "smtpctl show metrics" prints, served over HTTP for a Prometheus
 * scraper.
 *
 * A connection sends one request: "GET /metrics" (or "GET /") with
 * HTTP/1.0 or 1.1, headers ignored, at most SMTP_METRICS_REQ_MAX octets
 * in SMTP_METRICS_TIMEOUT seconds.  The front end asks the parent
 * (IMSG_SMTP_METRICS), which gathers every process's lines as for
 * smtpctl; the answer is 200 with the text format (common/metrics.c),
 * and the connection closes.  Another method gets 405, another path 404,
 * anything that is not a request line 400; a client that is too slow or
 * too long is closed.  No more than SMTP_METRICS_CONNS are served at
 * once; more are closed at accept.  Nothing here is SMTP: no session, no
 * policy, and the listener is loopback unless the admin says otherwise.
 */
#include <sys/queue.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "log.h"
#include "metrics.h"
#include "proc.h"
#include "smtp_metrics.h"

#define SMTP_METRICS_CONNS	16
#define SMTP_METRICS_REQ_MAX	4096
#define SMTP_METRICS_TIMEOUT	10

struct smtp_metrics_conn {
	TAILQ_ENTRY(smtp_metrics_conn)	 entry;
	uint32_t			 id;
	struct bufferevent		*bev;
	struct metrics			*ms;
	int				 asked;	/* waiting for the parent */
	int				 done;	/* closes once written */
};

static TAILQ_HEAD(, smtp_metrics_conn)	 smtp_metrics_conns =
    TAILQ_HEAD_INITIALIZER(smtp_metrics_conns);
static size_t				 smtp_metrics_nconns;
static uint32_t				 smtp_metrics_nextid = 1;

static void
smtp_metrics_free(struct smtp_metrics_conn *c)
{
	TAILQ_REMOVE(&smtp_metrics_conns, c, entry);
	smtp_metrics_nconns--;
	bufferevent_free(c->bev);
	metrics_free(c->ms);
	free(c);
}

static struct smtp_metrics_conn *
smtp_metrics_find(uint32_t id)
{
	struct smtp_metrics_conn	*c;

	TAILQ_FOREACH(c, &smtp_metrics_conns, entry)
		if (c->id == id)
			return c;
	return NULL;
}

/* Queue an answer and close once it is written. */
static void
smtp_metrics_reply(struct smtp_metrics_conn *c, const char *status,
    const char *body, size_t len)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);

	(void)evbuffer_add_printf(out, "HTTP/1.0 %s\r\n"
	    "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, len);
	(void)evbuffer_add(out, body, len);
	c->done = 1;
	(void)bufferevent_disable(c->bev, EV_READ);
	(void)bufferevent_enable(c->bev, EV_WRITE);
}

static void
smtp_metrics_error(struct smtp_metrics_conn *c, const char *status)
{
	char	 body[64];
	int	 n;

	n = snprintf(body, sizeof(body), "%s\n", status);
	smtp_metrics_reply(c, status, body, n > 0 ? (size_t)n : 0);
}

/* The request line: which answer it asks for. */
static void
smtp_metrics_request(struct smtp_metrics_conn *c, const char *line)
{
	struct imsg_out	 out;
	const char	*path, *proto;

	if ((path = strchr(line, ' ')) == NULL ||
	    (proto = strchr(path + 1, ' ')) == NULL ||
	    (strcmp(proto + 1, "HTTP/1.0") != 0 &&
	    strcmp(proto + 1, "HTTP/1.1") != 0)) {
		smtp_metrics_error(c, "400 Bad Request");
		return;
	}
	if ((size_t)(path - line) != 3 || strncmp(line, "GET", 3) != 0) {
		smtp_metrics_error(c, "405 Method Not Allowed");
		return;
	}
	path++;
	if (!((proto - path == 8 && strncmp(path, "/metrics", 8) == 0) ||
	    (proto - path == 1 && path[0] == '/'))) {
		smtp_metrics_error(c, "404 Not Found");
		return;
	}
	imsg_out_init(&out, IMSG_SMTP_METRICS, c->id);
	if (proc_send(PROC_PARENT, &out, -1) == -1) {
		smtp_metrics_error(c, "503 Service Unavailable");
		return;
	}
	c->asked = 1;
	(void)bufferevent_disable(c->bev, EV_READ);
}

static void
smtp_metrics_read_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_metrics_conn	*c = arg;
	struct evbuffer			*in = bufferevent_get_input(bev);
	char				*line;
	size_t				 len;

	if (c->asked || c->done)
		return;
	if ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF)) == NULL) {
		if (evbuffer_get_length(in) > SMTP_METRICS_REQ_MAX)
			smtp_metrics_error(c, "400 Bad Request");
		return;
	}
	if (len == 0 || memchr(line, '\0', len) != NULL)
		smtp_metrics_error(c, "400 Bad Request");
	else
		smtp_metrics_request(c, line);
	free(line);
}

static void
smtp_metrics_write_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_metrics_conn	*c = arg;

	if (c->done && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		smtp_metrics_free(c);
}

static void
smtp_metrics_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_metrics_conn	*c = arg;

	(void)bev;
	(void)what;
	/* EOF, error or timeout: an answer still due finds nobody
	 * (smtp_metrics_find) and is dropped */
	smtp_metrics_free(c);
}

void
smtp_metrics_accept(int fd, const char *listener)
{
	struct smtp_metrics_conn	*c;
	struct timeval			 tv = { SMTP_METRICS_TIMEOUT, 0 };

	if (smtp_metrics_nconns >= SMTP_METRICS_CONNS ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		log_warnx("metrics connection on %s closed: too many",
		    listener);
		(void)close(fd);
		return;
	}
	if ((c->bev = bufferevent_socket_new(proc_base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL || (c->ms = metrics_new()) ==
	    NULL) {
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		else
			(void)close(fd);
		free(c);
		return;
	}
	c->id = smtp_metrics_nextid++;
	if (smtp_metrics_nextid == 0)
		smtp_metrics_nextid = 1;
	bufferevent_setcb(c->bev, smtp_metrics_read_cb, smtp_metrics_write_cb,
	    smtp_metrics_event_cb, c);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	(void)bufferevent_enable(c->bev, EV_READ);
	TAILQ_INSERT_TAIL(&smtp_metrics_conns, c, entry);
	smtp_metrics_nconns++;
}

/* IMSG_CTL_LINE from the parent: one process's line of an answer. */
void
smtp_metrics_line(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct smtp_metrics_conn	*c;
	const char			*line = imsg_get_str(m);

	(void)iev;
	(void)arg;
	if (imsg_get_end(m) == -1 || (c = smtp_metrics_find(m->id)) == NULL ||
	    !c->asked)
		return;
	if (metrics_line(c->ms, line) == -1)
		log_warnx("metrics: a line of the answer skipped");
}

/* IMSG_CTL_END from the parent: the answer is complete. */
void
smtp_metrics_end(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct smtp_metrics_conn	*c;
	uint32_t			 status = imsg_get_u32(m);
	const char			*msg = imsg_get_str(m);
	char				*text = NULL;
	size_t				 len = 0;
	FILE				*fp;

	(void)iev;
	(void)arg;
	if (imsg_get_end(m) == -1 || (c = smtp_metrics_find(m->id)) == NULL ||
	    !c->asked)
		return;
	c->asked = 0;
	if (status != 0 && msg[0] != '\0')
		log_warnx("metrics: %s", msg);
	if ((fp = open_memstream(&text, &len)) == NULL) {
		smtp_metrics_error(c, "503 Service Unavailable");
		return;
	}
	metrics_print(c->ms, fp);
	if (fclose(fp) != 0) {
		free(text);
		smtp_metrics_error(c, "503 Service Unavailable");
		return;
	}
	smtp_metrics_reply(c, "200 OK", text, len);
	free(text);
}

/* The front end stops: open metrics connections are dropped. */
void
smtp_metrics_close_all(void)
{
	struct smtp_metrics_conn	*c;

	while ((c = TAILQ_FIRST(&smtp_metrics_conns)) != NULL)
		smtp_metrics_free(c);
}
