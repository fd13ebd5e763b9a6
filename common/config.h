/*
 * config.h: the parsed smtpd.conf, shared by every process.
 *
 * The parent parses the file (common/parse.y), then sends each child the
 * canonical text form (config_dump()), which the child parses again with
 * config_parse_buffer().  One parser serves both, so a child can never see
 * a config the parent would have refused.  Every field below is a keyword
 * documented in smtpd.conf(5); the default is set in config_new().
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define CONF_HOST_MAX		256
#define CONF_ADDR_MAX		256	/* an SMTP path, RFC 5321 4.5.3.1.3 */

#include "paths.h"

/* LISTEN_F_* flags of a listener; the TLS and AUTH issues add more. */
#define LISTEN_F_NONE		0x00

struct listener {
	TAILQ_ENTRY(listener)	 entry;
	/* "addr:port" with IPv6 addresses in brackets, for logs */
	char			 name[80];
	char			 addr[64];
	uint16_t		 port;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	uint32_t		 flags;
};

/* route DOMAIN via HOST [port N]: a static next hop, no MX lookup. */
struct route {
	TAILQ_ENTRY(route)	 entry;
	/* lowercased; "*" is the default route (smarthost) */
	char			 domain[CONF_HOST_MAX];
	/* a name, or an address in brackets: "[127.0.0.1]" skips DNS */
	char			 host[CONF_HOST_MAX];
	uint16_t		 port;
};

struct config {
	/* bumped on every reload so replies can be matched to a config */
	uint32_t		 generation;

	char			 hostname[CONF_HOST_MAX];
	char			 queue_path[PATH_MAX];
	char			 control_path[PATH_MAX];
	char			 database_path[PATH_MAX];

	/* resolver ADDR [port N]; unset: the servers of /etc/resolv.conf */
	int			 resolver_set;
	char			 resolver_addr[64];
	uint16_t		 resolver_port;

	TAILQ_HEAD(, listener)	 listeners;
	TAILQ_HEAD(, route)	 routes;

	/* limit ... */
	size_t			 limit_message_size;	/* 35 MiB */
	size_t			 limit_recipients;	/* 100 per message */
	size_t			 limit_errors;		/* 10 per session */
	size_t			 limit_command_line;	/* 512 octets */
	size_t			 limit_text_line;	/* 1000 octets */
	size_t			 limit_sessions;	/* 1024 at once */
	size_t			 limit_messages;	/* 1000 per session */

	/* timeout ... (seconds) */
	int			 timeout_command;	/* 300 */
	int			 timeout_data;		/* 600, per DATA/BDAT */
	int			 timeout_session;	/* 3600 */

	/* smtp ... */
	int			 smtp_greeting_delay;	/* 0 seconds */
	int			 smtp_vrfy;		/* off */
	int			 smtp_expn;		/* off */

	/* queue ... (seconds) */
	time_t			 queue_lifetime;	/* 5 days */
	time_t			 queue_delay_warning;	/* 4 hours */
	time_t			 queue_retry_min;	/* 5 minutes */
	time_t			 queue_retry_max;	/* 1 hour */

	/* bounce double-bounce ADDR | drop */
	char			 double_bounce[CONF_ADDR_MAX];

	/* mta ... */
	uint16_t		 mta_port;		/* 25 */
	int			 mta_host_connections;	/* 10 per next hop */
	int			 mta_connections;	/* 200 in all */
	int			 mta_messages_per_connection; /* 100 */
	int			 mta_timeout_connect;	/* 30 */
	int			 mta_timeout_command;	/* 300 */
	int			 mta_timeout_data;	/* 600 */
	int			 mta_timeout_idle;	/* 10: reuse window */
};

struct config	*config_new(void);
void		 config_free(struct config *);
/* Parse a file (with include and macros); NULL and errors on stderr/log. */
struct config	*config_parse_file(const char *path, int verbose);
/* Parse canonical text received from the parent. */
struct config	*config_parse_buffer(const char *text, size_t len);
/* Write the canonical text form (also what "smtpd -nv" prints). */
int		 config_dump(const struct config *, FILE *);
char		*config_dump_string(const struct config *, size_t *);
/* The route for a domain: exact, then parent domains, then "*". */
const struct route *config_route_find(const struct config *, const char *);
/* 1 if s is a syntactically valid domain name (LDH labels, no root dot). */
int		 config_domain_valid(const char *);
/* For the parser: config_new() but the hostname left empty, then its
 * default (gethostname(), qualified, else "localhost") set if still empty. */
struct config	*config_new_nohost(void);
void		 config_hostname_default(struct config *);

#endif
