/*
 * test_config_milter.c: the filter statements of smtpd.conf and a
 * listener's filter list (common/config_milter.c): defaults, options,
 * the order per listener, unix sockets and the sendmail filters, the
 * canonical text parsing back the same, and the refusals (a socket that
 * is neither inet:PORT@ADDR nor unix:/PATH, a bad name, a name given
 * twice, a listener or sendmail naming an unknown filter or one twice).
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "unit.h"

static struct config *
parsed(const char *text)
{
	return config_parse_buffer(text, strlen(text));
}

static int
refused(const char *text)
{
	struct config	*c = parsed(text);

	config_free(c);
	return c == NULL;
}

static const char	 text[] =
	"filter dkim \"inet:8891@127.0.0.1\"\n"
	"filter \"spam\" \"inet:11332@::1\" on-failure reject "
	"timeouts 5 2 3 1m\n"
	"filter av \"inet:7357@127.0.0.1\" on-failure accept\n"
	"listen on 127.0.0.1 port 2525 filter spam filter dkim\n";

static void
test_parse(void)
{
	struct config			*c, *c2 = NULL;
	const struct conf_filter	*f;
	const struct listener		*l;
	char				*t1 = NULL, *t2 = NULL;
	size_t				 len = 0;

	c = parsed(text);
	UNIT_CHECK(c != NULL && c->nfilters == 3, "three filters");
	if (c == NULL)
		return;
	f = &c->filters[0];
	UNIT_CHECK(strcmp(f->name, "dkim") == 0 &&
	    f->on_failure == CONF_FILTER_TEMPFAIL &&
	    f->timeout_connect == 300 && f->timeout_send == 10 &&
	    f->timeout_reply == 10 && f->timeout_eom == 300 &&
	    f->ss.ss_family == AF_INET &&
	    ntohs(((const struct sockaddr_in *)&f->ss)->sin_port) == 8891,
	    "defaults: tempfail, sendmail's timeouts");
	f = &c->filters[1];
	UNIT_CHECK(f->on_failure == CONF_FILTER_REJECT &&
	    f->timeout_connect == 5 && f->timeout_send == 2 &&
	    f->timeout_reply == 3 && f->timeout_eom == 60 &&
	    f->ss.ss_family == AF_INET6, "options and IPv6");
	UNIT_CHECK(c->filters[2].on_failure == CONF_FILTER_ACCEPT,
	    "on-failure accept");
	l = TAILQ_FIRST(&c->listeners);
	UNIT_CHECK(l != NULL && l->nfilters == 2 && l->filters[0] == 1 &&
	    l->filters[1] == 0, "the listener's filters in its order");
	t1 = config_dump_string(c, &len);
	if (t1 != NULL)
		c2 = config_parse_buffer(t1, len);
	if (c2 != NULL)
		t2 = config_dump_string(c2, NULL);
	UNIT_CHECK(t1 != NULL && t2 != NULL && strcmp(t1, t2) == 0 &&
	    strstr(t1, "filter \"spam\" \"inet:11332@::1\" on-failure reject "
	    "timeouts 5 2 3 60\n") != NULL &&
	    strstr(t1, " filter \"spam\" filter \"dkim\"\n") != NULL,
	    "canonical text round trip");
	free(t1);
	free(t2);
	config_free(c);
	config_free(c2);
}

static const char	 unix_text[] =
	"filter a \"inet:8891@127.0.0.1\"\n"
	"filter b \"unix:/run/b.sock\"\n"
	"filter c \"local:/var/run/c.sock\" on-failure accept\n"
	"listen on 127.0.0.1 port 2525 filter b\n"
	"sendmail filter c\n"
	"sendmail filter a\n";

static void
test_unix(void)
{
	struct config			*c, *c2 = NULL;
	const struct sockaddr_un	*sa_un;
	char				*t1 = NULL, *t2 = NULL;
	size_t				 len = 0;

	c = parsed(unix_text);
	UNIT_CHECK(c != NULL && c->nfilters == 3, "unix filters parsed");
	if (c == NULL)
		return;
	sa_un = (const struct sockaddr_un *)&c->filters[1].ss;
	UNIT_CHECK(sa_un->sun_family == AF_UNIX &&
	    strcmp(sa_un->sun_path, "/run/b.sock") == 0 &&
	    c->filters[1].sslen == sizeof(*sa_un), "unix:/PATH");
	sa_un = (const struct sockaddr_un *)&c->filters[2].ss;
	UNIT_CHECK(sa_un->sun_family == AF_UNIX &&
	    strcmp(sa_un->sun_path, "/var/run/c.sock") == 0,
	    "sendmail's local:/PATH");
	UNIT_CHECK(c->sendmail_nfilters == 2 && c->sendmail_filters[0] == 2 &&
	    c->sendmail_filters[1] == 0, "the sendmail filters in order");
	t1 = config_dump_string(c, &len);
	if (t1 != NULL)
		c2 = config_parse_buffer(t1, len);
	if (c2 != NULL)
		t2 = config_dump_string(c2, NULL);
	UNIT_CHECK(t1 != NULL && t2 != NULL && strcmp(t1, t2) == 0 &&
	    strstr(t1, "filter \"b\" \"unix:/run/b.sock\" ") != NULL &&
	    strstr(t1, "sendmail filter \"c\"\nsendmail filter \"a\"\n") !=
	    NULL, "unix and sendmail filters: canonical text round trip");
	free(t1);
	free(t2);
	config_free(c);
	config_free(c2);
}

static void
test_refused(void)
{
	char	 buf[256];

	UNIT_CHECK(refused("filter a \"unix:run/a.sock\"\n"),
	    "a relative unix path");
	UNIT_CHECK(refused("filter a \"unix:\"\n"), "an empty unix path");
	UNIT_CHECK(refused("filter a \"file:/run/a.sock\"\n"),
	    "an unknown socket kind");
	(void)snprintf(buf, sizeof(buf), "filter a \"unix:/%0*d\"\n",
	    (int)sizeof(((struct sockaddr_un *)0)->sun_path) - 1, 0);
	UNIT_CHECK(refused(buf), "a unix path longer than sun_path");
	(void)snprintf(buf, sizeof(buf), "filter a \"unix:/%0*d\"\n",
	    (int)sizeof(((struct sockaddr_un *)0)->sun_path) - 2, 0);
	UNIT_CHECK(!refused(buf), "a unix path that fills sun_path");
	UNIT_CHECK(refused("sendmail filter a\n"),
	    "sendmail naming an unknown filter");
	UNIT_CHECK(refused("filter a \"unix:/run/a.sock\"\n"
	    "sendmail filter a\nsendmail filter a\n"),
	    "a sendmail filter twice");
	UNIT_CHECK(refused("filter a \"inet:x@127.0.0.1\"\n"), "bad port");
	UNIT_CHECK(refused("filter a \"inet:0@127.0.0.1\"\n"), "port 0");
	UNIT_CHECK(refused("filter a \"inet:25@mx.example\"\n"),
	    "a host name");
	UNIT_CHECK(refused("filter \"a b\" \"inet:25@127.0.0.1\"\n"),
	    "a name with a space");
	UNIT_CHECK(refused("filter a \"inet:1@127.0.0.1\"\n"
	    "filter a \"inet:2@127.0.0.1\"\n"), "a name twice");
	UNIT_CHECK(refused("listen on 127.0.0.1 filter a\n"),
	    "an unknown filter");
	UNIT_CHECK(refused("filter a \"inet:1@127.0.0.1\"\n"
	    "listen on 127.0.0.1 filter a filter a\n"),
	    "a filter twice on a listener");
	UNIT_CHECK(refused("filter a \"inet:1@127.0.0.1\" timeouts 0 1 1 1\n"),
	    "a zero timeout");
}

int
main(void)
{
	log_init("test_config_milter", 1);
	test_parse();
	test_unix();
	test_refused();
	return unit_done();
}
