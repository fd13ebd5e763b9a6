/*
 * test_config.c: the smtpd.conf parser (common/parse.y, common/config.c).
 *
 * Proves that every keyword parses into its field, that the canonical
 * dump parses back to the same dump, that macros and include work, that
 * each class of error rejects the config with a "file:line:" message on
 * the right line, the order of route lookup and the listener names.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "unit.h"

static char	 captured[8192];

static struct config *
parse(const char *text)
{
	return config_parse_buffer(text, strlen(text));
}

static FILE	*capture_tmp;
static int	 capture_saved = -1;

/* Send stderr (where log_warnx goes in debug mode) to a temp file. */
static void
capture_begin(void)
{
	captured[0] = '\0';
	if ((capture_tmp = tmpfile()) == NULL)
		return;
	(void)fflush(stderr);
	capture_saved = dup(STDERR_FILENO);
	(void)dup2(fileno(capture_tmp), STDERR_FILENO);
}

/* Restore stderr and read what was written into captured[]. */
static void
capture_end(void)
{
	size_t	 n;

	if (capture_tmp == NULL)
		return;
	(void)fflush(stderr);
	(void)dup2(capture_saved, STDERR_FILENO);
	(void)close(capture_saved);
	rewind(capture_tmp);
	n = fread(captured, 1, sizeof(captured) - 1, capture_tmp);
	captured[n] = '\0';
	(void)fclose(capture_tmp);
	capture_tmp = NULL;
}

static struct config *
parse_capture(const char *text)
{
	struct config	*c;

	capture_begin();
	c = parse(text);
	capture_end();
	return c;
}

static struct config *
parse_file_capture(const char *dir, const char *name)
{
	struct config	*c;
	char		 path[512];

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	capture_begin();
	c = config_parse_file(path, 0);
	capture_end();
	return c;
}

static void
test_defaults(void)
{
	struct config	*c = config_new();

	UNIT_CHECK(c->hostname[0] != '\0' &&
	    config_domain_valid(c->hostname), "default hostname is valid");
	UNIT_CHECK(strcmp(c->queue_path, PATH_SPOOL) == 0, "default queue");
	UNIT_CHECK(strcmp(c->control_path, PATH_CONTROL) == 0,
	    "default control");
	UNIT_CHECK(strcmp(c->database_path, PATH_DATABASE) == 0,
	    "default database");
	UNIT_CHECK(!c->resolver_set, "default resolver unset");
	UNIT_CHECK(TAILQ_EMPTY(&c->listeners) && TAILQ_EMPTY(&c->routes),
	    "default no listener, no route");
	UNIT_CHECK(c->limit_message_size == 35 * 1024 * 1024 &&
	    c->limit_recipients == 100 && c->limit_errors == 10 &&
	    c->limit_command_line == 512 && c->limit_text_line == 1000 &&
	    c->limit_sessions == 1024 && c->limit_messages == 1000 &&
	    c->limit_junk_commands == 100, "default limits");
	UNIT_CHECK(c->timeout_command == 300 && c->timeout_data == 600 &&
	    c->timeout_session == 3600, "default timeouts");
	UNIT_CHECK(c->smtp_greeting_delay == 0 &&
	    c->privacy == PRIV_AUTHWARNINGS && c->smtp_banner[0] == '\0',
	    "default smtp: privacy authwarnings, VRFY and EXPN answered");
	UNIT_CHECK(c->smtp_reverse_dns && c->smtp_dns_timeout == 5,
	    "default reverse-dns yes, dns-timeout 5s");
	UNIT_CHECK(c->limit_data_rate == 500 && c->smtp_forbid_pipelining,
	    "default data-rate 500, forbid-unauth-pipelining yes");
	UNIT_CHECK(c->queue_lifetime == 5 * 86400 &&
	    c->queue_delay_warning == 4 * 3600 &&
	    c->queue_retry_min == 300 && c->queue_retry_max == 3600,
	    "default queue times");
	UNIT_CHECK(c->double_bounce[0] == '\0', "default double-bounce drop");
	UNIT_CHECK(c->mta_port == 25 && c->mta_connections == 200 &&
	    c->mta_host_connections == 10 &&
	    c->mta_messages_per_connection == 100, "default mta");
	UNIT_CHECK(c->mta_timeout_connect == 30 &&
	    c->mta_timeout_command == 300 && c->mta_timeout_data == 600 &&
	    c->mta_timeout_idle == 10, "default mta timeouts");
	UNIT_CHECK(TAILQ_EMPTY(&c->pkis) && c->tls_ca_file[0] == '\0' &&
	    c->tls_ca_path[0] == '\0' && c->mta_pki[0] == '\0' &&
	    strcmp(c->tls_protocols, "secure") == 0 &&
	    strcmp(c->tls_ciphers, "default") == 0 && c->tls_processes == 1 &&
	    c->timeout_tls_handshake == 30 && c->timeout_tls_idle == 900,
	    "default tls settings");
	UNIT_CHECK(c->tls_session_lifetime == 3600,
	    "default tls session-lifetime");
	config_free(c);
}

/* Every keyword, each with a value that differs from its default. */
static const char	 all_keywords[] =
	"hostname mx.example.org\n"
	"queue /tmp/spool\n"
	"queue lifetime 2d\n"
	"queue delay-warning 3h\n"
	"queue retry-min 1m\n"
	"queue retry-max 2h\n"
	"queue min-free 2G\n"
	"control \"/tmp/ctl.sock\"\n"
	"database /tmp/maps.db\n"
	"resolver 127.0.0.53 port 5353\n"
	"listen on 127.0.0.1 port 2525\n"
	"listen on ::1\n"
	"route Example.ORG via mx.example.net port 2526\n"
	"route * via \"[192.0.2.1]\"\n"
	"limit message-size 10M\n"
	"limit recipients 7\n"
	"limit errors 3\n"
	"limit command-line 1024\n"
	"limit text-line 2000\n"
	"limit sessions 50\n"
	"limit sessions-per-address 5\n"
	"limit messages 9\n"
	"limit junk-commands 5\n"
	"limit data-rate 0\n"
	"timeout command 61\n"
	"timeout data 11m\n"
	"timeout session 2h\n"
	"smtp greeting-delay 2s\n"
	"smtp vrfy yes\n"
	"smtp expn yes\n"
	"smtp reverse-dns no\n"
	"smtp dns-timeout 9s\n"
	"smtp forbid-unauth-pipelining no\n"
	"bounce double-bounce \"postmaster@example.org\"\n"
	"mta port 587\n"
	"mta connections 20\n"
	"mta host-connections 2\n"
	"mta messages-per-connection 5\n"
	"mta timeout connect 1m\n"
	"mta timeout command 2m\n"
	"mta timeout data 3m\n"
	"mta timeout idle 4s\n"
	"pki mx.example.org cert /etc/ssl/mx.crt key /etc/ssl/mx.key\n"
	"pki \"alt.example.org\" cert \"/etc/ssl/alt.crt\" key /k/alt.key\n"
	"ca file /etc/ssl/ca.pem\n"
	"ca path /etc/ssl/certs\n"
	"tls protocols \"tlsv1.2,tlsv1.3\"\n"
	"tls ciphers \"HIGH:!aNULL\"\n"
	"tls processes 2\n"
	"tls session-lifetime 5m\n"
	"timeout tls-handshake 45s\n"
	"timeout tls-idle 20m\n"
	"mta pki alt.example.org\n"
	"listen on 127.0.0.2 tls verify\n"
	"listen on 127.0.0.3 port 587 tls-require pki alt.example.org\n"
	"listen on 127.0.0.4 smtps\n";

static void
test_keywords_fields(const struct config *c)
{
	UNIT_CHECK(strcmp(c->hostname, "mx.example.org") == 0, "hostname");
	UNIT_CHECK(strcmp(c->queue_path, "/tmp/spool") == 0, "queue path");
	UNIT_CHECK(strcmp(c->control_path, "/tmp/ctl.sock") == 0, "control");
	UNIT_CHECK(strcmp(c->database_path, "/tmp/maps.db") == 0,
	    "database");
	UNIT_CHECK(c->resolver_set && c->resolver_port == 5353 &&
	    strcmp(c->resolver_addr, "127.0.0.53") == 0, "resolver");
	UNIT_CHECK(c->queue_lifetime == 2 * 86400 &&
	    c->queue_delay_warning == 3 * 3600 && c->queue_retry_min == 60 &&
	    c->queue_retry_max == 7200, "queue times");
	UNIT_CHECK(c->limit_message_size == 10 * 1024 * 1024 &&
	    c->limit_recipients == 7 && c->limit_errors == 3 &&
	    c->limit_command_line == 1024 && c->limit_text_line == 2000 &&
	    c->limit_sessions == 50 && c->limit_messages == 9 &&
	    c->limit_junk_commands == 5, "limits");
	UNIT_CHECK(c->limit_sessions_per_address == 5 &&
	    c->queue_min_free == 2ULL * 1024 * 1024 * 1024,
	    "limit sessions-per-address, queue min-free");
	UNIT_CHECK(c->timeout_command == 61 && c->timeout_data == 660 &&
	    c->timeout_session == 7200, "timeouts");
	UNIT_CHECK(c->smtp_greeting_delay == 2 &&
	    !(c->privacy & (PRIV_NOVRFY | PRIV_NOEXPN)), "smtp options");
	UNIT_CHECK(!c->smtp_reverse_dns && c->smtp_dns_timeout == 9,
	    "smtp reverse-dns, dns-timeout");
	UNIT_CHECK(c->limit_data_rate == 0 && !c->smtp_forbid_pipelining,
	    "limit data-rate 0, smtp forbid-unauth-pipelining no");
	UNIT_CHECK(strcmp(c->double_bounce, "postmaster@example.org") == 0,
	    "bounce double-bounce address");
	UNIT_CHECK(c->mta_port == 587 && c->mta_connections == 20 &&
	    c->mta_host_connections == 2 &&
	    c->mta_messages_per_connection == 5, "mta numbers");
	UNIT_CHECK(c->mta_timeout_connect == 60 &&
	    c->mta_timeout_command == 120 && c->mta_timeout_data == 180 &&
	    c->mta_timeout_idle == 4, "mta timeouts");
}

/* The TLS keywords of all_keywords. */
static void
test_keywords_tls(const struct config *c)
{
	const struct pki	*p = TAILQ_FIRST(&c->pkis);
	const struct listener	*l;

	UNIT_CHECK(p != NULL && strcmp(p->name, "mx.example.org") == 0 &&
	    strcmp(p->cert_file, "/etc/ssl/mx.crt") == 0 &&
	    strcmp(p->key_file, "/etc/ssl/mx.key") == 0, "pki, first");
	p = p != NULL ? TAILQ_NEXT(p, entry) : NULL;
	UNIT_CHECK(p != NULL && strcmp(p->name, "alt.example.org") == 0 &&
	    strcmp(p->key_file, "/k/alt.key") == 0, "pki, second");
	UNIT_CHECK(config_pki_find(c, "ALT.example.org") == p &&
	    config_pki_find(c, "none.example") == NULL, "pki lookup");
	UNIT_CHECK(strcmp(c->tls_ca_file, "/etc/ssl/ca.pem") == 0 &&
	    strcmp(c->tls_ca_path, "/etc/ssl/certs") == 0, "ca file, path");
	UNIT_CHECK(strcmp(c->tls_protocols, "tlsv1.2,tlsv1.3") == 0 &&
	    strcmp(c->tls_ciphers, "HIGH:!aNULL") == 0 &&
	    c->tls_processes == 2, "tls protocols, ciphers, processes");
	UNIT_CHECK(c->timeout_tls_handshake == 45 &&
	    c->timeout_tls_idle == 1200, "tls timeouts");
	UNIT_CHECK(c->tls_session_lifetime == 300, "tls session-lifetime");
	UNIT_CHECK(strcmp(c->mta_pki, "alt.example.org") == 0, "mta pki");
	TAILQ_FOREACH(l, &c->listeners, entry)
		if (strcmp(l->addr, "127.0.0.2") == 0)
			break;
	UNIT_CHECK(l != NULL && l->port == 25 &&
	    l->flags == (LISTEN_F_TLS | LISTEN_F_TLS_VERIFY) &&
	    l->pki[0] == '\0', "listen tls verify");
	l = l != NULL ? TAILQ_NEXT(l, entry) : NULL;
	UNIT_CHECK(l != NULL && l->port == 587 &&
	    l->flags == (LISTEN_F_TLS | LISTEN_F_TLS_REQUIRE) &&
	    strcmp(l->pki, "alt.example.org") == 0, "listen tls-require pki");
	l = l != NULL ? TAILQ_NEXT(l, entry) : NULL;
	UNIT_CHECK(l != NULL && l->port == 465 && l->flags == LISTEN_F_SMTPS,
	    "listen smtps defaults to port 465");
}

static void
test_keywords(void)
{
	struct config		*c = parse(all_keywords);
	const struct listener	*l;
	const struct route	*r;

	UNIT_CHECK(c != NULL, "every keyword parses");
	if (c == NULL)
		return;
	test_keywords_fields(c);
	test_keywords_tls(c);
	l = TAILQ_FIRST(&c->listeners);
	UNIT_CHECK(l != NULL && strcmp(l->name, "127.0.0.1:2525") == 0 &&
	    l->port == 2525 && l->flags == LISTEN_F_NONE &&
	    l->ss.ss_family == AF_INET &&
	    l->sslen == sizeof(struct sockaddr_in), "IPv4 listener");
	r = TAILQ_FIRST(&c->routes);
	UNIT_CHECK(r != NULL && strcmp(r->domain, "example.org") == 0 &&
	    strcmp(r->host, "mx.example.net") == 0 && r->port == 2526,
	    "route lowercased, with port");
	r = r != NULL ? TAILQ_NEXT(r, entry) : NULL;
	UNIT_CHECK(r != NULL && strcmp(r->domain, "*") == 0 &&
	    strcmp(r->host, "[192.0.2.1]") == 0 && r->port == 0,
	    "default route, port 0 = mta port");
	config_free(c);
	c = parse("bounce double-bounce \"a@b.example\"\n"
	    "bounce double-bounce drop\nsmtp vrfy yes\nsmtp vrfy no\n");
	UNIT_CHECK(c != NULL && c->double_bounce[0] == '\0' &&
	    (c->privacy & PRIV_NOVRFY), "drop and no; the last statement wins");
	config_free(c);
	c = parse("smtp greeting-delay 0\nlimit message-size 1000\n");
	UNIT_CHECK(c != NULL && c->smtp_greeting_delay == 0 &&
	    c->limit_message_size == 1000, "greeting-delay 0, plain size");
	config_free(c);
}

/* Dump, parse the dump, dump again: the two texts must be equal. */
static void
test_roundtrip_one(const char *text, const char *name)
{
	struct config	*c, *c2 = NULL;
	char		*d1 = NULL, *d2 = NULL;
	size_t		 len = 0;

	if ((c = parse(text)) != NULL)
		d1 = config_dump_string(c, &len);
	if (d1 != NULL)
		c2 = config_parse_buffer(d1, len);
	if (c2 != NULL)
		d2 = config_dump_string(c2, NULL);
	UNIT_CHECK(d1 != NULL && d2 != NULL && strcmp(d1, d2) == 0 &&
	    strlen(d1) == len, name);
	if (c != NULL && c2 != NULL)
		UNIT_CHECK(strcmp(c->hostname, c2->hostname) == 0 &&
		    c->queue_lifetime == c2->queue_lifetime &&
		    c->limit_message_size == c2->limit_message_size &&
		    c->mta_timeout_idle == c2->mta_timeout_idle &&
		    c->resolver_set == c2->resolver_set &&
		    c->timeout_tls_idle == c2->timeout_tls_idle &&
		    c->tls_session_lifetime == c2->tls_session_lifetime &&
		    strcmp(c->mta_pki, c2->mta_pki) == 0,
		    "re-parsed fields equal");
	free(d1);
	free(d2);
	config_free(c);
	config_free(c2);
}

static void
test_roundtrip(void)
{
	struct config	*c = config_new();
	char		*d;

	test_roundtrip_one("", "round trip: defaults");
	test_roundtrip_one(all_keywords, "round trip: every keyword");
	test_roundtrip_one("queue \"/tmp/a \\\"b\\\" \\\\c\"\n"
	    "limit message-size 1000\ntimeout command 90\n",
	    "round trip: escapes and odd units");
	d = config_dump_string(c, NULL);
	UNIT_CHECK(d != NULL && strstr(d, "generation") == NULL &&
	    strstr(d, "\nlimit message-size 35M\n") != NULL &&
	    strstr(d, "\nbounce double-bounce drop\n") != NULL &&
	    strstr(d, "\nqueue lifetime 5d\n") != NULL &&
	    strstr(d, "\nlimit sessions-per-address 50\n") != NULL &&
	    strstr(d, "\nqueue min-free 100M\n") != NULL,
	    "dump: defaults included, no generation");
	free(d);
	config_free(c);
	c = parse("queue \"/tmp/q\\\"x\"\n");
	UNIT_CHECK(c != NULL && strcmp(c->queue_path, "/tmp/q\"x") == 0,
	    "escaped quote in string");
	config_free(c);
}

static void
test_macros(void)
{
	struct config	*c;

	c = parse("lo = \"127.0.0.1\"\np = 2526\nlimits = \"limit errors 4\"\n"
	    "listen on $lo port $p\n$limits\n");
	UNIT_CHECK(c != NULL && TAILQ_FIRST(&c->listeners) != NULL &&
	    strcmp(TAILQ_FIRST(&c->listeners)->name, "127.0.0.1:2526") == 0,
	    "string and number macros expand");
	UNIT_CHECK(c != NULL && c->limit_errors == 4,
	    "a macro may hold several words");
	config_free(c);
	c = parse("h = \"a.example\"\nh = \"b.example\"\nhostname $h\n");
	UNIT_CHECK(c != NULL && strcmp(c->hostname, "b.example") == 0,
	    "a macro redefined takes its new value");
	config_free(c);
	c = parse_capture("hostname \"$h\"\n");
	UNIT_CHECK(c == NULL, "no expansion inside quotes ($ is invalid)");
	config_free(c);
	c = parse_capture("\nhostname $nope\n");
	UNIT_CHECK(c == NULL && strstr(captured,
	    "(config):2: macro \"nope\" is not defined") != NULL,
	    "undefined macro: error on its line");
	config_free(c);
	c = parse_capture("bad-name = \"x\"\n");
	UNIT_CHECK(c == NULL && strstr(captured,
	    "(config):1: invalid macro name") != NULL, "invalid macro name");
	config_free(c);
}

/* Write text to dir/name. */
static int
write_file(const char *dir, const char *name, const char *text)
{
	char	 path[512];
	FILE	*fp;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fp = fopen(path, "w")) == NULL)
		return -1;
	(void)fputs(text, fp);
	return fclose(fp);
}

/* Errors inside included files name the included file and its line. */
static void
test_include_errors(const char *dir)
{
	struct config	*c;
	char		 want[600];

	c = parse_file_capture(dir, "badmain.conf");
	(void)snprintf(want, sizeof(want), "%s/bad.conf:3: unexpected "
	    "\"bogus\" after \"limit\"", dir);
	UNIT_CHECK(c == NULL && strstr(captured, want) != NULL,
	    "error in included file: its name and line");
	(void)snprintf(want, sizeof(want), "%s/badmain.conf:3: limit "
	    "recipients 0 is out of range", dir);
	UNIT_CHECK(strstr(captured, want) != NULL,
	    "line numbers of the includer go on after the include");
	config_free(c);
	c = parse_file_capture(dir, "loop.conf");
	UNIT_CHECK(c == NULL && strstr(captured, "nested too deeply") != NULL,
	    "include loop is stopped");
	config_free(c);
	c = parse_file_capture(dir, "missing.conf");
	UNIT_CHECK(c == NULL && strstr(captured, "missing.conf") != NULL,
	    "missing config file");
	config_free(c);
	c = parse_capture("\n\ninclude \"/nonexistent/x.conf\"\n");
	UNIT_CHECK(c == NULL && strstr(captured, "(config):3: include "
	    "\"/nonexistent/x.conf\"") != NULL, "missing include file");
	config_free(c);
}

static void
test_include(void)
{
	static const char *const files[] = { "inner.conf", "deep.conf",
	    "main.conf", "bad.conf", "badmain.conf", "loop.conf" };
	char		 dir[] = "/tmp/test_config.XXXXXX", path[512];
	struct config	*c;
	size_t		 i;

	if (mkdtemp(dir) == NULL) {
		UNIT_CHECK(0, "mkdtemp");
		return;
	}
	(void)write_file(dir, "inner.conf", "limit errors 5\n"
	    "include \"deep.conf\"\nlimit sessions 6");
	(void)write_file(dir, "deep.conf", "mta port 2525\n");
	(void)write_file(dir, "main.conf", "x = \"mx.example.org\"\n"
	    "include \"inner.conf\"\nhostname $x\nlimit recipients 8\n");
	(void)write_file(dir, "bad.conf", "# comment\n\nlimit bogus 1\n");
	(void)write_file(dir, "badmain.conf", "limit errors 5\n"
	    "include \"bad.conf\"\nlimit recipients 0\n");
	(void)write_file(dir, "loop.conf", "include \"loop.conf\"\n");
	(void)snprintf(path, sizeof(path), "%s/main.conf", dir);
	c = config_parse_file(path, 0);
	UNIT_CHECK(c != NULL && c->limit_errors == 5 &&
	    c->limit_sessions == 6 && c->mta_port == 2525 &&
	    c->limit_recipients == 8 &&
	    strcmp(c->hostname, "mx.example.org") == 0,
	    "nested relative includes, last line without newline");
	config_free(c);
	test_include_errors(dir);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		(void)unlink(path);
	}
	(void)rmdir(dir);
}

/* Each class of error: the text, and what must be logged for it. */
static const struct {
	const char	*text;
	const char	*want;
} errors[] = {
	{ "\nfoo bar\n", "(config):2: unknown keyword \"foo\"" },
	{ "\n\nlimit\n", "(config):3: missing argument after \"limit\"" },
	{ "limit recipients\n", "(config):1: missing argument after "
	    "\"recipients\"" },
	{ "\nlimit foo 3\n", "(config):2: unexpected \"foo\" after "
	    "\"limit\"" },
	{ "hostname a.example extra\n", "(config):1: unexpected \"extra\"" },
	{ "\nlimit errors 0\n", "(config):2: limit errors 0 is out of range" },
	{ "limit recipients 0\n", "(config):1: limit recipients 0 is out" },
	{ "limit command-line 511\n", "(config):1: limit command-line 511" },
	{ "limit text-line 999\n", "(config):1: limit text-line 999" },
	{ "limit sessions 0\n", "(config):1: limit sessions 0" },
	{ "limit junk-commands 0\n", "(config):1: limit junk-commands 0" },
	{ "limit messages 0\n", "(config):1: limit messages 0" },
	{ "limit data-rate -1\n", "(config):1: " },
	{ "smtp forbid-unauth-pipelining maybe\n", "(config):1: " },
	{ "limit sessions-per-address 0\n",
	    "(config):1: limit sessions-per-address 0" },
	{ "queue min-free 1Q\n", "(config):1: invalid size \"1Q\"" },
	{ "limit recipients 99999999999999999999\n",
	    "(config):1: number 99999999999999999999 is too large" },
	{ "limit recipients 3000000000\n", "(config):1: limit recipients "
	    "3000000000 is out of range" },
	{ "limit message-size 0\n", "(config):1: limit message-size 0" },
	{ "limit message-size 10X\n", "(config):1: invalid size \"10X\"" },
	{ "timeout command 0\n", "(config):1: timeout command 0" },
	{ "timeout data 5x\n", "(config):1: invalid duration \"5x\"" },
	{ "queue lifetime 0s\n", "(config):1: queue lifetime 0" },
	{ "queue retry-min 2h\n\n", "(config):1: queue retry-max 3600s is "
	    "less than retry-min 7200s" },
	{ "queue relative/path\n", "(config):1: queue: path "
	    "\"relative/path\" is not absolute" },
	{ "control sock\n", "(config):1: control: path" },
	{ "database maps.db\n", "(config):1: database: path" },
	{ "hostname \"bad_name\"\n", "(config):1: hostname \"bad_name\" is "
	    "not a valid domain name" },
	{ "hostname \"-a.example\"\n", "(config):1: hostname" },
	{ "resolver localhost\n", "(config):1: resolver \"localhost\" is "
	    "not a numeric" },
	{ "resolver 127.0.0.1 port 0\n", "(config):1: port 0 is out of" },
	{ "listen on localhost\n", "(config):1: listen on \"localhost\": "
	    "not a numeric" },
	{ "listen on 127.0.0.1 port 70000\n", "(config):1: port 70000" },
	{ "listen on 127.0.0.1 port 25 port 26\n", "(config):1: listen: "
	    "port given twice" },
	{ "listen on ::1\nlisten on 0::1 port 25\n", "(config):2: listen on "
	    "[::1]:25 given twice" },
	{ "listen 127.0.0.1\n", "(config):1: unexpected \"127.0.0.1\" after "
	    "\"listen\"" },
	{ "route a.example via b.example\nroute A.EXAMPLE via c.example\n",
	    "(config):2: route for a.example given twice" },
	{ "route a_b via b.example\n", "(config):1: route \"a_b\"" },
	{ "route a.example via \"[999.1.1.1]\"\n", "(config):1: route "
	    "a.example via \"[999.1.1.1]\"" },
	{ "route a.example via b.example port 0\n", "(config):1: port 0" },
	{ "smtp vrfy maybe\n", "(config):1: unexpected \"maybe\" after "
	    "\"vrfy\"" },
	{ "smtp dns-timeout 0\n", "(config):1: smtp dns-timeout 0" },
	{ "smtp dns-timeout 2m\n", "(config):1: smtp dns-timeout 120" },
	{ "smtp reverse-dns maybe\n", "(config):1: unexpected \"maybe\" "
	    "after \"reverse-dns\"" },
	{ "bounce double-bounce nobody\n", "(config):1: bounce double-bounce "
	    "\"nobody\": not an address" },
	{ "bounce double-bounce \"a b@example.org\"\n", "(config):1: bounce" },
	{ "mta port 0\n", "(config):1: mta port 0" },
	{ "mta connections 0\n", "(config):1: mta connections 0" },
	{ "mta host-connections 0\n", "(config):1: mta host-connections 0" },
	{ "mta messages-per-connection 0\n", "(config):1: mta messages-per" },
	{ "mta timeout idle 0\n", "(config):1: mta timeout idle 0" },
	{ "mta timeout foo 5\n", "(config):1: unexpected \"foo\" after "
	    "\"timeout\"" },
	{ "\nhostname \"abc\n", "(config):2: unterminated quoted string" },
	{ "listen on 127.0.0.1 tls\n", "(config):1: listen: tls needs a pki "
	    "declared before" },
	{ "pki a.example cert /a key /b\nlisten on ::1 tls smtps\n",
	    "(config):2: listen: only one of tls, tls-require and smtps" },
	{ "listen on ::1 verify\n", "(config):1: listen: verify and pki "
	    "need tls" },
	{ "pki a.example cert /a key /b\nlisten on ::1 tls pki b.example\n",
	    "(config):2: listen: pki \"b.example\" is not declared" },
	{ "pki a_b cert /a key /b\n", "(config):1: pki \"a_b\": not a host" },
	{ "pki a.example cert /a key /b\npki A.example cert /c key /d\n",
	    "(config):2: pki A.example given twice" },
	{ "pki a.example cert rel.crt key /b\n", "(config):1: pki cert: "
	    "path \"rel.crt\" is not absolute" },
	{ "pki a.example cert /a\n", "(config):1: missing argument after" },
	{ "ca file ca.pem\n", "(config):1: ca file: path" },
	{ "ca path certs\n", "(config):1: ca path: path" },
	{ "mta pki none.example\n", "(config):1: mta: pki \"none.example\" "
	    "is not declared" },
	{ "tls protocols \"tlsv1.3 x\"\n", "(config):1: tls protocols" },
	{ "tls ciphers \"\"\n", "(config):1: tls ciphers" },
	{ "tls processes 0\n", "(config):1: tls processes 0 is out of range" },
	{ "timeout tls-handshake 0\n", "(config):1: timeout tls-handshake 0" },
	{ "timeout tls-idle 0\n", "(config):1: timeout tls-idle 0" },
	{ "tls session-lifetime 8d\n",
	    "(config):1: tls session-lifetime 691200 is out of range" },
	{ "hostname \"a\\q\"\n", "(config):1: invalid escape" },
	{ "hostname a.example\n\x01\n", "(config):2: invalid character 0x01" },
	{ "hostname $\n", "(config):1: '$' without a macro name" },
	{ "limit errors 5 # comment\n\nlimit ! 5\n",
	    "(config):3: unexpected \"!\" after \"limit\"" },
	{ "limit \\\n errors \\\n 0\n", "(config):3: limit errors 0" },
};

static void
test_errors(void)
{
	struct config	*c;
	char		 name[128];
	size_t		 i;
	int		 found;

	for (i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
		c = parse_capture(errors[i].text);
		(void)snprintf(name, sizeof(name), "error %zu: %s", i,
		    errors[i].want);
		found = strstr(captured, errors[i].want) != NULL;
		UNIT_CHECK(c == NULL && found, name);
		if (!found)
			(void)printf("     logged: %s", captured);
		config_free(c);
	}
	c = parse_capture("limit errors 0\nfoo\nlimit recipients 5\n"
	    "hostname \"x_y\"\n");
	UNIT_CHECK(c == NULL && strstr(captured, "(config):1:") != NULL &&
	    strstr(captured, "(config):2:") != NULL &&
	    strstr(captured, "(config):3:") == NULL &&
	    strstr(captured, "(config):4:") != NULL,
	    "every error is reported, good lines are not");
	config_free(c);
}

/* Comments, blank lines, continuation, CRLF, no final newline. */
static void
test_lexer(void)
{
	struct config	*c;

	c = parse("# comment\n\n   \t\nlimit \\\n  errors 4 # trailing\r\n"
	    "limit recipients 3");
	UNIT_CHECK(c != NULL && c->limit_errors == 4 &&
	    c->limit_recipients == 3, "comments, continuation, CRLF, no EOL");
	config_free(c);
	c = parse("hostname \"mta\"\n");
	UNIT_CHECK(c != NULL && strcmp(c->hostname, "mta") == 0,
	    "a quoted keyword is a string");
	config_free(c);
	c = parse_capture("hostname mta\n");
	UNIT_CHECK(c == NULL, "a bare keyword is not a string");
	config_free(c);
	c = parse("queue retry-max 10m\nqueue retry-min 10m\n");
	UNIT_CHECK(c != NULL && c->queue_retry_max == 600,
	    "retry-max equal to retry-min is accepted");
	config_free(c);
	c = config_parse_buffer("limit errors 9\nlimit errors 8\n", 15);
	UNIT_CHECK(c != NULL && c->limit_errors == 9,
	    "buffer length is honoured");
	config_free(c);
}

static void
test_route_find(void)
{
	struct config		*c;
	const struct route	*r;

	c = parse("route example.org via exact.example\n"
	    "route b.c via parent.example\nroute c via top.example\n"
	    "route * via smarthost.example\n");
	if (c == NULL) {
		UNIT_CHECK(0, "route config parses");
		return;
	}
	r = config_route_find(c, "EXAMPLE.org");
	UNIT_CHECK(r != NULL && strcmp(r->host, "exact.example") == 0,
	    "route: exact match, any case");
	r = config_route_find(c, "a.b.c");
	UNIT_CHECK(r != NULL && strcmp(r->host, "parent.example") == 0,
	    "route: nearest parent domain");
	r = config_route_find(c, "x.c");
	UNIT_CHECK(r != NULL && strcmp(r->host, "top.example") == 0,
	    "route: top-level parent");
	r = config_route_find(c, "sub.example.org");
	UNIT_CHECK(r != NULL && strcmp(r->host, "exact.example") == 0,
	    "route: subdomain of a routed domain");
	r = config_route_find(c, "Example.Org.");
	UNIT_CHECK(r != NULL && strcmp(r->host, "exact.example") == 0,
	    "route: a trailing root dot is ignored");
	r = config_route_find(c, "other.net");
	UNIT_CHECK(r != NULL && strcmp(r->domain, "*") == 0,
	    "route: default route last");
	config_free(c);
	c = parse("route example.org via exact.example\n");
	UNIT_CHECK(c != NULL && config_route_find(c, "other.net") == NULL &&
	    config_route_find(c, "xexample.org") == NULL,
	    "route: none without default, no suffix match inside a label");
	config_free(c);
}

static void
test_listen_names(void)
{
	struct config			*c;
	const struct listener		*l;
	const struct sockaddr_in6	*sin6;

	c = parse("listen on ::1\nlisten on \"0:0:0:0:0:0:0:1\" port 2525\n"
	    "listen on 127.0.0.1\nlisten on 2001:DB8::10 port 587\n");
	if (c == NULL || (l = TAILQ_FIRST(&c->listeners)) == NULL) {
		UNIT_CHECK(0, "listeners parse");
		config_free(c);
		return;
	}
	sin6 = (const struct sockaddr_in6 *)&l->ss;
	UNIT_CHECK(strcmp(l->name, "[::1]:25") == 0 &&
	    strcmp(l->addr, "::1") == 0 && l->port == 25,
	    "IPv6 listener name in brackets");
	UNIT_CHECK(l->ss.ss_family == AF_INET6 &&
	    l->sslen == sizeof(struct sockaddr_in6) &&
	    ntohs(sin6->sin6_port) == 25, "IPv6 listener sockaddr");
	l = TAILQ_NEXT(l, entry);
	UNIT_CHECK(l != NULL && strcmp(l->name, "[::1]:2525") == 0,
	    "IPv6 address written canonically");
	l = l != NULL ? TAILQ_NEXT(l, entry) : NULL;
	UNIT_CHECK(l != NULL && strcmp(l->name, "127.0.0.1:25") == 0,
	    "IPv4 listener name");
	l = l != NULL ? TAILQ_NEXT(l, entry) : NULL;
	UNIT_CHECK(l != NULL && strcmp(l->name, "[2001:db8::10]:587") == 0,
	    "IPv6 listener lowercased");
	config_free(c);
}

int
main(void)
{
	log_init("test_config", 1);
	test_defaults();
	test_keywords();
	test_roundtrip();
	test_macros();
	test_include();
	test_errors();
	test_lexer();
	test_route_find();
	test_listen_names();
	return unit_done();
}
