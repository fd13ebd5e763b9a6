/*
 * config.c: the parsed smtpd.conf outside the grammar: defaults, the
 * canonical text form, the route lookup and the checks the parser shares
 * with the defaults.
 *
 * config_new() fills every default named in config.h and smtpd.conf(5);
 * it only fails (fatal) on memory exhaustion.  config_dump() writes one
 * statement per line, every field included, so that parsing its output
 * gives the same config again: the parent sends exactly that text to the
 * children.  The generation number is not part of the text.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "util.h"

/* Longest DNS name without the root dot and longest label, RFC 1035 2.3.4. */
#define DOMAIN_NAME_MAX		253
#define DOMAIN_LABEL_MAX	63

int
config_domain_valid(const char *s)
{
	size_t		 len = strlen(s), label = 0, i;
	unsigned char	 c, prev = '.';

	if (len == 0 || len > DOMAIN_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0 || prev == '-')
				return 0;
			label = 0;
		} else if (isalnum(c) || c == '-') {
			if (c == '-' && label == 0)
				return 0;
			if (++label > DOMAIN_LABEL_MAX)
				return 0;
		} else
			return 0;
		prev = c;
	}
	return prev != '.' && prev != '-';
}

/*
 * Unless a hostname is set: gethostname(), qualified through the resolver
 * (files first, as nsswitch says) when it has no dot, else "localhost".
 * Kept out of parsing so that children, which always receive a hostname,
 * never query the resolver from their chroot.
 */
void
config_hostname_default(struct config *c)
{
	char			 name[CONF_HOST_MAX];
	struct addrinfo		 hints, *res;

	if (c->hostname[0] != '\0')
		return;
	(void)strlcpy(c->hostname, "localhost", sizeof(c->hostname));
	if (gethostname(name, sizeof(name)) == -1)
		return;
	name[sizeof(name) - 1] = '\0';
	if (!config_domain_valid(name))
		return;
	(void)strlcpy(c->hostname, name, sizeof(c->hostname));
	if (strchr(name, '.') != NULL)
		return;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_flags = AI_CANONNAME;
	if (getaddrinfo(name, NULL, &hints, &res) != 0)
		return;
	if (res->ai_canonname != NULL && strchr(res->ai_canonname, '.') &&
	    config_domain_valid(res->ai_canonname))
		(void)strlcpy(c->hostname, res->ai_canonname,
		    sizeof(c->hostname));
	freeaddrinfo(res);
}

/* Every default except the hostname, which may need the resolver. */
struct config *
config_new_nohost(void)
{
	struct config	*c = xcalloc(1, sizeof(*c));

	TAILQ_INIT(&c->listeners);
	TAILQ_INIT(&c->routes);
	TAILQ_INIT(&c->dnsbls);
	TAILQ_INIT(&c->pkis);
	(void)strlcpy(c->queue_path, PATH_SPOOL, sizeof(c->queue_path));
	(void)strlcpy(c->control_path, PATH_CONTROL, sizeof(c->control_path));
	(void)strlcpy(c->database_path, PATH_DATABASE,
	    sizeof(c->database_path));
	c->resolver_port = 53;
	(void)strlcpy(c->dnssec_anchor, PATH_TRUST_ANCHOR,
	    sizeof(c->dnssec_anchor));
	c->limit_message_size = 35 * 1024 * 1024;
	c->limit_recipients = 100;
	c->limit_errors = 10;
	c->limit_command_line = 512;
	c->limit_text_line = 1000;
	c->limit_sessions = 1024;
	c->limit_sessions_per_address = 50;
	c->limit_messages = 1000;
	c->limit_junk_commands = 100;
	c->limit_data_rate = 500;
	c->limit_alias_depth = 10;
	c->limit_alias_expansion = 1000;
	c->limit_load_refuse = c->limit_load_queue = c->limit_load_delay = -1;
	(void)strlcpy(c->local_aliases, "/etc/aliases",
	    sizeof(c->local_aliases));
	(void)strlcpy(c->local_mailbox_dir, "/var/mail",
	    sizeof(c->local_mailbox_dir));
	c->local_users = LOCAL_USERS_PASSWD;
	config_local_init(c);
	(void)strlcpy(c->sendmail_socket, PATH_SUBMIT,
	    sizeof(c->sendmail_socket));
	(void)strlcpy(c->sendmail_drop_dir, PATH_OFFLINE,
	    sizeof(c->sendmail_drop_dir));
	c->timeout_command = 5 * 60;
	c->timeout_data = 10 * 60;
	c->timeout_session = 60 * 60;
	c->policy_skip = 1;
	c->policy_blacklist_recipients = 1;
	c->queue_lifetime = 5 * 86400;
	c->queue_quarantine_lifetime = 30 * 86400;
	c->queue_delay_warning = 4 * 3600;
	c->queue_retry_min = 5 * 60;
	c->queue_retry_max = 60 * 60;
	c->queue_min_free = 100 * 1024 * 1024;
	c->mta_port = 25;
	c->mta_host_connections = 10;
	c->mta_connections = 200;
	c->mta_messages_per_connection = 100;
	c->mta_timeout_connect = 30;
	c->mta_timeout_command = 5 * 60;
	c->mta_timeout_data = 10 * 60;
	c->mta_timeout_idle = 10;
	(void)strlcpy(c->tls_protocols, "secure", sizeof(c->tls_protocols));
	(void)strlcpy(c->tls_ciphers, CONF_TLS_CIPHERS_DEFAULT,
	    sizeof(c->tls_ciphers));
	c->tls_processes = 1;
	c->timeout_tls_handshake = 30;
	c->timeout_tls_idle = 15 * 60;
	c->tls_session_lifetime = 60 * 60;
	config_auth_defaults(c);
	c->smtp_reverse_dns = 1;
	c->smtp_dns_timeout = 5;
	c->smtp_forbid_pipelining = 1;
	c->privacy = PRIV_DEFAULT;
	return c;
}

struct config *
config_new(void)
{
	struct config	*c = config_new_nohost();

	config_hostname_default(c);
	return c;
}

void
config_free(struct config *c)
{
	struct listener	*l;
	struct route	*r;
	struct pki	*p;

	if (c == NULL)
		return;
	while ((p = TAILQ_FIRST(&c->pkis)) != NULL) {
		TAILQ_REMOVE(&c->pkis, p, entry);
		free(p);
	}
	while ((l = TAILQ_FIRST(&c->listeners)) != NULL) {
		TAILQ_REMOVE(&c->listeners, l, entry);
		free(l);
	}
	while ((r = TAILQ_FIRST(&c->routes)) != NULL) {
		TAILQ_REMOVE(&c->routes, r, entry);
		free(r);
	}
	config_local_free(c);
	config_dnsbl_free(c);
	free(c);
}

int
config_route_auth_plaintext(const struct config *c, const char *host)
{
	const struct route	*r;
	const char		*h;
	size_t			 n;

	TAILQ_FOREACH(r, &c->routes, entry) {
		if (!r->auth_plaintext)
			continue;
		h = r->host[0] == '[' ? r->host + 1 : r->host;
		n = strcspn(h, "]");
		if (strlen(host) == n && strncasecmp(h, host, n) == 0)
			return 1;
	}
	return 0;
}

const struct route *
config_route_find(const struct config *c, const char *domain)
{
	const struct route	*r;
	char			 name[CONF_HOST_MAX];
	const char		*d = name;
	size_t			 len;

	/* a name too long for any route can still take the default */
	if ((len = strlcpy(name, domain, sizeof(name))) >= sizeof(name))
		d = NULL;
	else if (len > 0 && name[len - 1] == '.')
		name[len - 1] = '\0';	/* the root: "a.example." */
	while (d != NULL && *d != '\0') {
		TAILQ_FOREACH(r, &c->routes, entry)
			if (strcasecmp(r->domain, d) == 0)
				return r;
		if ((d = strchr(d, '.')) != NULL)
			d++;
	}
	TAILQ_FOREACH(r, &c->routes, entry)
		if (strcmp(r->domain, "*") == 0)
			return r;
	return NULL;
}

const struct pki *
config_pki_find(const struct config *c, const char *name)
{
	const struct pki	*p;

	TAILQ_FOREACH(p, &c->pkis, entry)
		if (strcasecmp(p->name, name) == 0)
			return p;
	return NULL;
}

/* A string in double quotes, with the two escapes the lexer knows
 * (config_auth.c uses it too). */
void
config_dump_quoted(FILE *fp, const char *s)
{
	(void)fputc('"', fp);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			(void)fputc('\\', fp);
		(void)fputc(*s, fp);
	}
	(void)fputc('"', fp);
}

/* Seconds in the largest unit that divides them exactly. */
static void
config_dump_duration(FILE *fp, long long s)
{
	if (s != 0 && s % 86400 == 0)
		(void)fprintf(fp, "%lldd\n", s / 86400);
	else if (s != 0 && s % 3600 == 0)
		(void)fprintf(fp, "%lldh\n", s / 3600);
	else if (s != 0 && s % 60 == 0)
		(void)fprintf(fp, "%lldm\n", s / 60);
	else
		(void)fprintf(fp, "%llds\n", s);
}

/* Octets in the largest binary unit that divides them exactly. */
static void
config_dump_size(FILE *fp, unsigned long long n)
{
	const unsigned long long	 g = 1024ULL * 1024 * 1024;

	if (n != 0 && n % g == 0)
		(void)fprintf(fp, "%lluG\n", n / g);
	else if (n != 0 && n % (1024 * 1024) == 0)
		(void)fprintf(fp, "%lluM\n", n / (1024 * 1024));
	else if (n != 0 && n % 1024 == 0)
		(void)fprintf(fp, "%lluK\n", n / 1024);
	else
		(void)fprintf(fp, "%llu\n", n);
}

static void
config_dump_paths(const struct config *c, FILE *fp)
{
	(void)fputs("hostname ", fp);
	config_dump_quoted(fp, c->hostname);
	(void)fputs("\nqueue ", fp);
	config_dump_quoted(fp, c->queue_path);
	(void)fputs("\ncontrol ", fp);
	config_dump_quoted(fp, c->control_path);
	(void)fputs("\ndatabase ", fp);
	config_dump_quoted(fp, c->database_path);
	(void)fputc('\n', fp);
	if (c->database_conninfo[0] != '\0') {
		(void)fputs("database postgresql ", fp);
		config_dump_quoted(fp, c->database_conninfo);
		(void)fputc('\n', fp);
	}
	(void)fputs("dnssec trust-anchor ", fp);
	config_dump_quoted(fp, c->dnssec_anchor);
	(void)fputc('\n', fp);
	if (c->resolver_set) {
		(void)fputs("resolver ", fp);
		config_dump_quoted(fp, c->resolver_addr);
		(void)fprintf(fp, " port %u\n", c->resolver_port);
	}
}

static void
config_dump_queue(const struct config *c, FILE *fp)
{
	(void)fputs("queue lifetime ", fp);
	config_dump_duration(fp, c->queue_lifetime);
	(void)fputs("queue quarantine-lifetime ", fp);
	config_dump_duration(fp, c->queue_quarantine_lifetime);
	(void)fputs("queue delay-warning ", fp);
	config_dump_duration(fp, c->queue_delay_warning);
	(void)fputs("queue retry-min ", fp);
	config_dump_duration(fp, c->queue_retry_min);
	(void)fputs("queue retry-max ", fp);
	config_dump_duration(fp, c->queue_retry_max);
	(void)fputs("queue min-free ", fp);
	config_dump_size(fp, c->queue_min_free);
	(void)fputs("bounce double-bounce ", fp);
	if (c->double_bounce[0] == '\0')
		(void)fputs("drop", fp);
	else
		config_dump_quoted(fp, c->double_bounce);
	(void)fputc('\n', fp);
}

/* The TLS options of a listener, after its port. */
static void
config_dump_listen_tls(const struct listener *l, FILE *fp)
{
	if (l->flags & LISTEN_F_SMTPS)
		(void)fputs(" smtps", fp);
	else if (l->flags & LISTEN_F_TLS_REQUIRE)
		(void)fputs(" tls-require", fp);
	else if (l->flags & LISTEN_F_TLS)
		(void)fputs(" tls", fp);
	if (l->flags & LISTEN_F_TLS_VERIFY)
		(void)fputs(" verify", fp);
	if (l->flags & LISTEN_F_AUTH_REQUIRE)
		(void)fputs(" auth", fp);
	else if (l->flags & LISTEN_F_AUTH)
		(void)fputs(" auth-optional", fp);
	if (l->pki[0] != '\0') {
		(void)fputs(" pki ", fp);
		config_dump_quoted(fp, l->pki);
	}
}

/* pki, CA and the settings of tlsproxy; before the listeners using them. */
static void
config_dump_tls(const struct config *c, FILE *fp)
{
	const struct pki	*p;

	TAILQ_FOREACH(p, &c->pkis, entry) {
		(void)fputs("pki ", fp);
		config_dump_quoted(fp, p->name);
		(void)fputs(" cert ", fp);
		config_dump_quoted(fp, p->cert_file);
		(void)fputs(" key ", fp);
		config_dump_quoted(fp, p->key_file);
		(void)fputc('\n', fp);
	}
	if (c->tls_ca_file[0] != '\0') {
		(void)fputs("ca file ", fp);
		config_dump_quoted(fp, c->tls_ca_file);
		(void)fputc('\n', fp);
	}
	if (c->tls_ca_path[0] != '\0') {
		(void)fputs("ca path ", fp);
		config_dump_quoted(fp, c->tls_ca_path);
		(void)fputc('\n', fp);
	}
	(void)fputs("tls protocols ", fp);
	config_dump_quoted(fp, c->tls_protocols);
	(void)fputs("\ntls ciphers ", fp);
	config_dump_quoted(fp, c->tls_ciphers);
	(void)fprintf(fp, "\ntls processes %d\n", c->tls_processes);
	(void)fputs("timeout tls-handshake ", fp);
	config_dump_duration(fp, c->timeout_tls_handshake);
	(void)fputs("timeout tls-idle ", fp);
	config_dump_duration(fp, c->timeout_tls_idle);
	(void)fputs("tls session-lifetime ", fp);
	config_dump_duration(fp, c->tls_session_lifetime);
	if (c->mta_pki[0] != '\0') {
		(void)fputs("mta pki ", fp);
		config_dump_quoted(fp, c->mta_pki);
		(void)fputc('\n', fp);
	}
}

/* A listener's limits and modifier letters (issue 13). */
static void
config_dump_listen_limits(const struct listener *l, FILE *fp)
{
	char	 net[INET6_ADDRSTRLEN + 8];
	size_t	 i;

	if (l->flags & LISTEN_F_METRICS)
		(void)fputs(" metrics", fp);
	if (l->flags & LISTEN_F_PROXY) {
		(void)fputs(" proxy-protocol {", fp);
		for (i = 0; i < l->nproxies; i++) {
			config_net_format(&l->proxies[i], net, sizeof(net));
			(void)fprintf(fp, " \"%s\"", net);
		}
		(void)fputs(" }", fp);
	}
	if (l->max_sessions != 0)
		(void)fprintf(fp, " max-sessions %u", l->max_sessions);
	if (l->connection_rate != 0)
		(void)fprintf(fp, " connection-rate %u", l->connection_rate);
	if (!(l->flags & (LISTEN_F_FQDN_SENDER | LISTEN_F_UNQUALIFIED |
	    LISTEN_F_NO_ETRN)))
		return;
	(void)fprintf(fp, " modifiers \"%s%s%s\"",
	    l->flags & LISTEN_F_FQDN_SENDER ? "f" : "",
	    l->flags & LISTEN_F_UNQUALIFIED ? "u" : "",
	    l->flags & LISTEN_F_NO_ETRN ? "E" : "");
}

/* A listener's milters, in order (issue 16). */
static void
config_dump_listen_filters(const struct config *c, const struct listener *l,
    FILE *fp)
{
	size_t	 i;

	for (i = 0; i < l->nfilters; i++)
		(void)fprintf(fp, " filter \"%s\"",
		    c->filters[l->filters[i]].name);
}

static void
config_dump_network(const struct config *c, FILE *fp)
{
	const struct listener	*l;
	const struct route	*r;

	TAILQ_FOREACH(l, &c->listeners, entry) {
		(void)fputs("listen on ", fp);
		config_dump_quoted(fp, l->addr);
		(void)fprintf(fp, " port %u", l->port);
		config_dump_listen_tls(l, fp);
		config_dump_listen_limits(l, fp);
		config_dump_listen_filters(c, l, fp);
		(void)fputc('\n', fp);
	}
	TAILQ_FOREACH(r, &c->routes, entry) {
		(void)fputs("route ", fp);
		config_dump_quoted(fp, r->domain);
		(void)fputs(" via ", fp);
		config_dump_quoted(fp, r->host);
		/* port 0 ("use mta port") has no spelling in the grammar */
		if (r->port != 0)
			(void)fprintf(fp, " port %u", r->port);
		if (r->auth_plaintext)
			(void)fputs(" auth-plaintext", fp);
		(void)fputc('\n', fp);
	}
}

/* The connection and load limits (issue 13). */
static void
config_dump_conn_limits(const struct config *c, FILE *fp)
{
	(void)fprintf(fp, "limit connection-rate-per-address %zu\n",
	    c->limit_connection_rate_per_address);
	(void)fprintf(fp, "limit bad-rcpt-throttle %zu\n",
	    c->limit_bad_rcpt_throttle);
	if (c->limit_load_refuse != -1)
		(void)fprintf(fp, "limit load-refuse %lld\n",
		    (long long)c->limit_load_refuse);
	if (c->limit_load_queue != -1)
		(void)fprintf(fp, "limit load-queue %lld\n",
		    (long long)c->limit_load_queue);
	if (c->limit_load_delay != -1)
		(void)fprintf(fp, "limit load-delay %lld\n",
		    (long long)c->limit_load_delay);
}

static void
config_dump_smtp(const struct config *c, FILE *fp)
{
	(void)fputs("limit message-size ", fp);
	config_dump_size(fp, c->limit_message_size);
	(void)fprintf(fp, "limit recipients %zu\n", c->limit_recipients);
	(void)fprintf(fp, "limit errors %zu\n", c->limit_errors);
	(void)fprintf(fp, "limit command-line %zu\n", c->limit_command_line);
	(void)fprintf(fp, "limit text-line %zu\n", c->limit_text_line);
	(void)fprintf(fp, "limit sessions %zu\n", c->limit_sessions);
	(void)fprintf(fp, "limit sessions-per-address %zu\n",
	    c->limit_sessions_per_address);
	(void)fprintf(fp, "limit messages %zu\n", c->limit_messages);
	(void)fprintf(fp, "limit junk-commands %zu\n",
	    c->limit_junk_commands);
	(void)fprintf(fp, "limit data-rate %zu\n", c->limit_data_rate);
	(void)fprintf(fp, "limit alias-depth %zu\n", c->limit_alias_depth);
	(void)fprintf(fp, "limit alias-expansion %zu\n",
	    c->limit_alias_expansion);
	config_dump_conn_limits(c, fp);
	(void)fputs("timeout command ", fp);
	config_dump_duration(fp, c->timeout_command);
	(void)fputs("timeout data ", fp);
	config_dump_duration(fp, c->timeout_data);
	(void)fputs("timeout session ", fp);
	config_dump_duration(fp, c->timeout_session);
	(void)fputs("smtp greeting-delay ", fp);
	config_dump_duration(fp, c->smtp_greeting_delay);
	(void)fprintf(fp, "smtp reverse-dns %s\n",
	    c->smtp_reverse_dns ? "yes" : "no");
	(void)fputs("smtp dns-timeout ", fp);
	config_dump_duration(fp, c->smtp_dns_timeout);
	(void)fprintf(fp, "smtp forbid-unauth-pipelining %s\n",
	    c->smtp_forbid_pipelining ? "yes" : "no");
}

static void
config_dump_mta(const struct config *c, FILE *fp)
{
	(void)fprintf(fp, "mta port %u\n", c->mta_port);
	(void)fprintf(fp, "mta mta-sts %s\n", c->mta_sts ? "yes" : "no");
	(void)fprintf(fp, "mta dane %s\n", c->mta_dane ? "yes" : "no");
	(void)fprintf(fp, "mta connections %d\n", c->mta_connections);
	(void)fprintf(fp, "mta host-connections %d\n",
	    c->mta_host_connections);
	(void)fprintf(fp, "mta messages-per-connection %d\n",
	    c->mta_messages_per_connection);
	(void)fputs("mta timeout connect ", fp);
	config_dump_duration(fp, c->mta_timeout_connect);
	(void)fputs("mta timeout command ", fp);
	config_dump_duration(fp, c->mta_timeout_command);
	(void)fputs("mta timeout data ", fp);
	config_dump_duration(fp, c->mta_timeout_data);
	(void)fputs("mta timeout idle ", fp);
	config_dump_duration(fp, c->mta_timeout_idle);
}

static void
config_dump_policy(const struct config *c, FILE *fp)
{
	size_t	 i;

	(void)fprintf(fp, "policy skip %s\n", c->policy_skip ? "yes" : "no");
	(void)fprintf(fp, "policy lookupdotdomain %s\n",
	    c->policy_lookupdotdomain ? "yes" : "no");
	(void)fprintf(fp, "policy delay-checks %s\n",
	    c->policy_delay_checks ? "yes" : "no");
	(void)fprintf(fp, "policy blacklist-recipients %s\n",
	    c->policy_blacklist_recipients ? "yes" : "no");
	(void)fprintf(fp, "policy tls-perm-error %s\n",
	    c->policy_tls_perm_error ? "yes" : "no");
	(void)fputs("local aliases ", fp);
	config_dump_quoted(fp, c->local_aliases);
	(void)fputs("\nlocal mailbox-dir ", fp);
	config_dump_quoted(fp, c->local_mailbox_dir);
	(void)fprintf(fp, "\nlocal users %s\n",
	    c->local_users == LOCAL_USERS_MAP ? "map" : "passwd");
	config_local_dump(c, fp);
	config_dnsbl_dump(c, fp);
	(void)fputs("sendmail socket ", fp);
	config_dump_quoted(fp, c->sendmail_socket);
	(void)fputs("\nsendmail drop-dir ", fp);
	config_dump_quoted(fp, c->sendmail_drop_dir);
	(void)fputs("\nsendmail trusted-users ", fp);
	config_dump_quoted(fp, c->sendmail_trusted);
	(void)fputc('\n', fp);
	for (i = 0; i < c->sendmail_nfilters; i++)
		(void)fprintf(fp, "sendmail filter \"%s\"\n",
		    c->filters[c->sendmail_filters[i]].name);
}

int
config_dump(const struct config *c, FILE *fp)
{
	config_dump_paths(c, fp);
	config_dump_queue(c, fp);
	config_dump_tls(c, fp);
	/* the filters before the listeners that name them */
	config_milter_dump(c, fp);
	config_dump_network(c, fp);
	config_dump_smtp(c, fp);
	config_dump_policy(c, fp);
	config_dump_mta(c, fp);
	config_auth_dump(c, fp);
	config_masq_dump(c, fp);
	config_generics_dump(c, fp);
	config_privacy_dump(c, fp);
	if (fflush(fp) == EOF || ferror(fp))
		return -1;
	return 0;
}

char *
config_dump_string(const struct config *c, size_t *lenp)
{
	FILE	*fp;
	char	*buf = NULL;
	size_t	 len = 0;

	if ((fp = open_memstream(&buf, &len)) == NULL)
		return NULL;
	if (config_dump(c, fp) == -1) {
		(void)fclose(fp);
		free(buf);
		return NULL;
	}
	if (fclose(fp) == EOF) {
		free(buf);
		return NULL;
	}
	if (lenp != NULL)
		*lenp = len;
	return buf;
}
