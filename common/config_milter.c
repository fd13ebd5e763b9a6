/*
 * config_milter.c: the milters of smtpd.conf ("filter NAME SOCKET ..."),
 * their sockets checked and resolved once, numerically, and their
 * canonical text.  Interface in config.h; the front end connects to
 * inet ones itself (smtpd/smtp/smtp_milter.c), the parent to unix ones
 * (smtpd/parent_milter.c).
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* sendmail's defaults: C:5m, S:10s, R:10s, E:5m */
#define CONFIG_MILTER_CONNECT	300
#define CONFIG_MILTER_SEND	10
#define CONFIG_MILTER_REPLY	10
#define CONFIG_MILTER_EOM	300

static const char *const config_milter_fail_names[] = {
	"tempfail", "reject", "accept"
};

/* "inet:PORT@ADDR", ADDR numeric (the front end resolves no name for a
 * filter); -1 if it is not that. */
static int
config_milter_inet(struct conf_filter *f, const char *spec)
{
	struct addrinfo	 hints, *res;
	char		 port[8], host[CONF_HOST_MAX];
	const char	*at;
	size_t		 plen;

	if (strncmp(spec, "inet:", 5) != 0 || (at = strchr(spec, '@')) == NULL)
		return -1;
	plen = (size_t)(at - (spec + 5));
	if (plen == 0 || plen >= sizeof(port) ||
	    strlcpy(host, at + 1, sizeof(host)) >= sizeof(host))
		return -1;
	memcpy(port, spec + 5, plen);
	port[plen] = '\0';
	if (strspn(port, "0123456789") != plen || atoi(port) < 1 ||
	    atoi(port) > 65535)
		return -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	memcpy(&f->ss, res->ai_addr, res->ai_addrlen);
	f->sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* "unix:/PATH" or sendmail's "local:/PATH", the path absolute and within
 * sun_path; -1 if it is not that. */
static int
config_milter_unix(struct conf_filter *f, const char *spec)
{
	struct sockaddr_un	*sa_un = (struct sockaddr_un *)&f->ss;
	const char		*path;

	if (strncmp(spec, "unix:", 5) == 0)
		path = spec + 5;
	else if (strncmp(spec, "local:", 6) == 0)
		path = spec + 6;
	else
		return -1;
	if (path[0] != '/')
		return -1;
	memset(sa_un, 0, sizeof(*sa_un));
	sa_un->sun_family = AF_UNIX;
	if (strlcpy(sa_un->sun_path, path, sizeof(sa_un->sun_path)) >=
	    sizeof(sa_un->sun_path))
		return -1;
	f->sslen = sizeof(*sa_un);
	return 0;
}

int
config_milter_find(const struct config *c, const char *name)
{
	size_t	 i;

	for (i = 0; i < c->nfilters; i++)
		if (strcmp(c->filters[i].name, name) == 0)
			return (int)i;
	return -1;
}

int
config_milter_add(struct config *c, const char *name, const char *socket,
    char *err, size_t errlen)
{
	struct conf_filter	*f;

	if (c->nfilters == CONF_FILTER_MAX) {
		(void)snprintf(err, errlen, "filter: at most %d filters",
		    CONF_FILTER_MAX);
		return -1;
	}
	if (*name == '\0' || strlen(name) >= CONF_FILTER_NAME_MAX ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789-_.") != strlen(name)) {
		(void)snprintf(err, errlen, "filter \"%s\": not a name", name);
		return -1;
	}
	if (config_milter_find(c, name) != -1) {
		(void)snprintf(err, errlen, "filter %s given twice", name);
		return -1;
	}
	f = &c->filters[c->nfilters];
	memset(f, 0, sizeof(*f));
	if (strlcpy(f->socket, socket, sizeof(f->socket)) >=
	    sizeof(f->socket) || (config_milter_inet(f, socket) == -1 &&
	    config_milter_unix(f, socket) == -1)) {
		(void)snprintf(err, errlen, "filter %s: \"%s\" is neither "
		    "inet:PORT@ADDR with a numeric address nor unix:/PATH "
		    "(at most %zu octets)", name, socket,
		    sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		return -1;
	}
	(void)strlcpy(f->name, name, sizeof(f->name));
	f->on_failure = CONF_FILTER_TEMPFAIL;
	f->timeout_connect = CONFIG_MILTER_CONNECT;
	f->timeout_send = CONFIG_MILTER_SEND;
	f->timeout_reply = CONFIG_MILTER_REPLY;
	f->timeout_eom = CONFIG_MILTER_EOM;
	c->nfilters++;
	return 0;
}

void
config_milter_dump(const struct config *c, FILE *fp)
{
	const struct conf_filter	*f;
	size_t				 i;

	for (i = 0; i < c->nfilters; i++) {
		f = &c->filters[i];
		(void)fprintf(fp, "filter \"%s\" \"%s\" on-failure %s timeouts "
		    "%d %d %d %d\n", f->name, f->socket,
		    config_milter_fail_names[f->on_failure],
		    f->timeout_connect, f->timeout_send, f->timeout_reply,
		    f->timeout_eom);
	}
}
