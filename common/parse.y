/*
 * parse.y: the smtpd.conf grammar and its lexer.
 *
 * Interface (config.h): config_parse_file() reads a file with its
 * includes and macros; config_parse_buffer() reads text in memory (the
 * canonical form the parent sends to the children) under the name
 * "(config)".  The grammar is line oriented: each statement ends at a
 * newline, so after an error the parser goes on with the next line and
 * reports every error it finds.
 *
 * Failure: every error is logged as "file:line: message" with
 * log_warnx(), and any error rejects the whole config (NULL is returned).
 * Nothing here ends the process on bad input.
 */

%{
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/queue.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "util.h"

#define PARSE_INCLUDE_DEPTH	16	/* nested includes, stops loops */
#define PARSE_TOKEN_MAX		8192
#define PARSE_PUSHBACK_MAX	64
#define PARSE_NUMBER_MAX	INT_MAX

struct parse_file {
	TAILQ_ENTRY(parse_file)	 entry;
	FILE			*fp;
	char			*name;
	int			 lineno;
	int			 ungetbuf[PARSE_PUSHBACK_MAX];
	int			 ungetlen;
};

struct parse_macro {
	TAILQ_ENTRY(parse_macro) entry;
	char			*name;
	char			*value;
};

/* The options of one "listen on" statement, filled as they are read. */
struct parse_listen_opts {
	int			 port;
	uint32_t		 flags;
	const char		*pki;		/* NULL: not given */
	uint32_t		 max_sessions;
	uint32_t		 connection_rate;
	int			 no_auth;	/* modifier A */
	int			 no_starttls;	/* modifier S */
	/* proxy-protocol { ... } */
	struct conf_net		 proxies[CONF_PROXY_MAX];
	size_t			 nproxies;
	/* filter NAME ...: indices into the config's filters */
	uint8_t			 filters[CONF_FILTER_MAX];
	size_t			 nfilters;
};

typedef struct {
	union {
		int64_t		 number;
		char		*string;
	} v;
} YYSTYPE;

static TAILQ_HEAD(parse_file_list, parse_file) parse_files =
    TAILQ_HEAD_INITIALIZER(parse_files);
static TAILQ_HEAD(, parse_macro) parse_macros =
    TAILQ_HEAD_INITIALIZER(parse_macros);
static struct parse_file	*parse_cur;
static struct config		*parse_conf;
static struct parse_listen_opts	 parse_lopts;
static int			 parse_errors;
static int			 parse_no_files;
static int			 parse_verbose;
static int			 parse_retry_line;
static const char		*parse_retry_file;

/* Every string the lexer made, freed at the end: no leak on errors. */
static char			**parse_strings;
static size_t			 parse_nstrings, parse_capstrings;

/* What yyerror() needs to say more than "syntax error". */
static char			 lex_tok[64], lex_prev[64], lex_first[64];
static int			 lex_ntok, lex_first_kw, lex_last;
static int			 lex_reported;
static const char		*lex_expand;	/* macro text being read */
static size_t			 lex_expand_pos;
static int			 lex_newline;	/* a line ended: count it */
static char			 lex_buf[PARSE_TOKEN_MAX];
static const char		*lex_text;

int		 yylex(void);
int		 yyparse(void);
static void	 yyerror(const char *);
static void	 parse_error(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
static int	 parse_include(const char *);
static int	 parse_macro_set(const char *, const char *);
static int	 parse_range(int64_t, int64_t, int64_t, const char *);
static int	 parse_duration(const char *, int64_t *);
static int	 parse_size(const char *, int64_t *);
static int	 parse_path(char *, const char *, const char *);
static int	 parse_conninfo(const char *);
static int	 parse_hostname(const char *);
static int	 parse_resolver(const char *, int64_t);
static int	 parse_listen(const char *);
static int	 parse_route(const char *, const char *, int64_t);
static void	 parse_route_auth_plaintext(void);
static int	 parse_double_bounce(const char *);
static int	 parse_retry_check(void);
static int	 parse_pki(const char *, const char *, const char *);
static int	 parse_pki_ref(const char *, const char *);
static int	 parse_listen_tls(int);
static int	 parse_listen_auth(int);
static int	 parse_listen_modifiers(const char *);
static int	 parse_listen_proxy(const char *);
static int	 parse_filter_list(uint8_t *, size_t *, const char *,
		    const char *);
static int	 parse_filter(const char *, const char *);
static struct conf_filter *parse_filter_last(void);
static int	 parse_filter_timeouts(int64_t, int64_t, int64_t, int64_t);
static int	 parse_auth_string(char *, const char *, const char *);
static int	 parse_auth_options(const char *);
static int	 parse_trusted_users(const char *);
static int	 parse_listen_check(void);
static int	 parse_tls_string(char *, const char *, const char *,
		    const char *);
static char	*parse_string_keep(const char *);
static int	 parse_local_user(const char *);
static int	 parse_privacy_flag(const char *);
static void	 parse_privacy_toggle(uint32_t, int);
static int	 parse_banner(const char *);

/* The flags of the privacy statement being read. */
static uint32_t			 parse_privacy;

/* The words of "local delivery ...", checked in config_local.c. */
#define PARSE_WORDS_MAX	8
static char			*parse_words[PARSE_WORDS_MAX];
static size_t			 parse_nwords;

/* The names between the braces of a masquerade list, space separated;
 * sizeof(parse_masq_buf) once they did not fit. */
static char			 parse_masq_buf[CONF_MASQ_LIST_MAX];
static size_t			 parse_masq_len;
static int	 parse_masq_add(enum config_masq_list);
%}

%token	BOUNCE COMMAND COMMANDLINE CONNECT CONNECTIONS CONTROL DATA DATABASE
%token	DELAYWARNING DOUBLEBOUNCE DROP ERRORS EXPN GREETINGDELAY
%token	HOSTCONNECTIONS HOSTNAME IDLE INCLUDE LIFETIME LIMIT LISTEN
%token	MESSAGES MESSAGESIZE MESSAGESPERCONN MTA NO ON PORT QUEUE
%token	RECIPIENTS RESOLVER RETRYMAX RETRYMIN ROUTE SESSION SESSIONS SMTP
%token	SESSIONSPERADDR MINFREE
%token	TEXTLINE TIMEOUT VIA VRFY YES ERROR
%token	MTASTS
%token	CA CERT CIPHERS FILENAME KEY PATHNAME PKI PROCESSES PROTOCOLS SMTPS
%token	SESSIONLIFETIME
%token	TLS TLSHANDSHAKE TLSIDLE TLSREQUIRE VERIFY
%token	AUTH AUTHOPTIONAL LINEMAX MAXFAILURES MECHANISMS OPTIONS SASLAUTHD
%token	SASLDB TRUST
%token	POLICY SKIP LOOKUPDOTDOMAIN DELAYCHECKS TLSPERMERROR BLACKLISTRCPT
%token	DNSTIMEOUT REVERSEDNS
%token	DATARATE FORBIDPIPELINING
%token	AUTHPLAINTEXT
%token	JUNKCOMMANDS
%token	LOCAL ALIASES USERS PASSWD MAP ALIASDEPTH ALIASEXPANSION MAILBOXDIR
%token	DELIVERY DEFAULTUSER SMRSHDIR SAFEFILEDIR ROOTMAIL
%token	SENDMAIL SOCKET DROPDIR TRUSTEDUSERS
%token	GENERICS
%token	MASQUERADE AS DOMAINS DOMAINSFILE ENTIREDOMAIN ENVELOPE EXPOSEDUSERS
%token	EXCEPTIONS LIMITED
%token	PRIVACY BANNER
%token	DNSBL MESSAGE QUARANTINE DISCARD TEMPFAIL ANSWER
%token	QUARANTINELIFETIME
%token	CONNRATEPERADDR BADRCPTTHROTTLE LOADREFUSE LOADQUEUE LOADDELAY
%token	MAXSESSIONS CONNECTIONRATE MODIFIERS
%token	PROXYPROTOCOL METRICS
%token	DNSSEC TRUSTANCHOR
%token	DANE
%token	FILTER ONFAILURE TIMEOUTS REJECT ACCEPT
%token	POSTGRESQL
%token	<v.string>	STRING
%token	<v.number>	NUMBER
%type	<v.number>	duration size yesno optport port

%%

grammar		: /* empty */
		| grammar '\n'
		| grammar include '\n'
		| grammar varset '\n'
		| grammar main '\n'
		| grammar error '\n'	{ yyerrok; }
		;

include		: INCLUDE STRING {
			if (parse_include($2) == -1)
				YYERROR;
		}
		;

varset		: STRING '=' STRING {
			if (parse_macro_set($1, $3) == -1)
				YYERROR;
		}
		| STRING '=' NUMBER {
			char	 buf[32];

			(void)snprintf(buf, sizeof(buf), "%lld",
			    (long long)$3);
			if (parse_macro_set($1, buf) == -1)
				YYERROR;
		}
		;

duration	: NUMBER
		| STRING {
			if (parse_duration($1, &$$) == -1)
				YYERROR;
		}
		;

size		: NUMBER
		| STRING {
			if (parse_size($1, &$$) == -1)
				YYERROR;
		}
		;

yesno		: YES	{ $$ = 1; }
		| NO	{ $$ = 0; }
		;

port		: PORT NUMBER {
			if (parse_range($2, 1, 65535, "port") == -1)
				YYERROR;
			$$ = $2;
		}
		;

optport		: /* empty */	{ $$ = 0; }
		| port
		;

main		: HOSTNAME STRING {
			if (parse_hostname($2) == -1)
				YYERROR;
		}
		| QUEUE STRING {
			if (parse_path(parse_conf->queue_path, $2,
			    "queue") == -1)
				YYERROR;
		}
		| QUEUE queueopt
		| CONTROL STRING {
			if (parse_path(parse_conf->control_path, $2,
			    "control") == -1)
				YYERROR;
		}
		| DATABASE STRING {
			if (parse_path(parse_conf->database_path, $2,
			    "database") == -1)
				YYERROR;
		}
		| DATABASE POSTGRESQL STRING {
			if (parse_conninfo($3) == -1)
				YYERROR;
		}
		| RESOLVER STRING optport {
			if (parse_resolver($2, $3) == -1)
				YYERROR;
		}
		| DNSSEC TRUSTANCHOR STRING {
			if (parse_path(parse_conf->dnssec_anchor, $3,
			    "dnssec trust-anchor") == -1)
				YYERROR;
		}
		| FILTER STRING STRING {
			if (parse_filter($2, $3) == -1)
				YYERROR;
		} filteropts
		| LISTEN ON STRING listenopts {
			if (parse_listen($3) == -1)
				YYERROR;
		}
		| ROUTE STRING VIA STRING optport {
			if (parse_route($2, $4, $5) == -1)
				YYERROR;
		}
		| ROUTE STRING VIA STRING optport AUTHPLAINTEXT {
			if (parse_route($2, $4, $5) == -1)
				YYERROR;
			parse_route_auth_plaintext();
		}
		| LIMIT limit
		| LIMIT connlimit
		| TIMEOUT timeout
		| SMTP smtpopt
		| BOUNCE DOUBLEBOUNCE STRING {
			if (parse_double_bounce($3) == -1)
				YYERROR;
		}
		| BOUNCE DOUBLEBOUNCE DROP {
			parse_conf->double_bounce[0] = '\0';
		}
		| MTA mtaopt
		| POLICY policyopt
		| PKI STRING CERT STRING KEY STRING {
			if (parse_pki($2, $4, $6) == -1)
				YYERROR;
		}
		| CA FILENAME STRING {
			if (parse_path(parse_conf->tls_ca_file, $3,
			    "ca file") == -1)
				YYERROR;
		}
		| CA PATHNAME STRING {
			if (parse_path(parse_conf->tls_ca_path, $3,
			    "ca path") == -1)
				YYERROR;
		}
		| TLS tlsopt
		| AUTH authopt
		| LOCAL localopt
		| SENDMAIL sendmailopt
		| MASQUERADE masqopt
		| GENERICS genericsopt
		| PRIVACY privflags {
			parse_conf->privacy = parse_privacy;
			parse_privacy = 0;
		}
		| DNSBL STRING {
			char	 err[256];

			if (config_dnsbl_add(parse_conf, $2, err,
			    sizeof(err)) == -1) {
				parse_error("%s", err);
				YYERROR;
			}
		} dnsblopts
		;

dnsblopts	: /* empty */
		| dnsblopts dnsblopt
		;

dnsblopt	: MESSAGE STRING {
			struct dnsbl	*b;

			b = TAILQ_LAST(&parse_conf->dnsbls, dnsbl_head);
			if ($2[0] == '\0' || !text_is_clean($2) ||
			    strlcpy(b->message, $2, sizeof(b->message)) >=
			    sizeof(b->message)) {
				parse_error("dnsbl %s message: empty, too "
				    "long or not printable text", b->zone);
				YYERROR;
			}
		}
		| QUARANTINE {
			TAILQ_LAST(&parse_conf->dnsbls, dnsbl_head)->action =
			    DNSBL_QUARANTINE;
		}
		| DISCARD {
			TAILQ_LAST(&parse_conf->dnsbls, dnsbl_head)->action =
			    DNSBL_DISCARD;
		}
		| TEMPFAIL {
			TAILQ_LAST(&parse_conf->dnsbls, dnsbl_head)->tempfail =
			    1;
		}
		| ANSWER STRING {
			char	 err[256];

			if (config_dnsbl_answer_add(parse_conf, $2, err,
			    sizeof(err)) == -1) {
				parse_error("%s", err);
				YYERROR;
			}
		}
		;

masqopt		: AS STRING {
			if (!config_domain_valid($2) ||
			    strlcpy(parse_conf->masq_as, $2,
			    sizeof(parse_conf->masq_as)) >=
			    sizeof(parse_conf->masq_as)) {
				parse_error("masquerade as: \"%s\" is not a "
				    "domain", $2);
				YYERROR;
			}
		}
		| DOMAINS '{' masqlist '}' {
			if (parse_masq_add(CONF_MASQ_DOMAINS) == -1)
				YYERROR;
		}
		| DOMAINSFILE STRING {
			char	 err[PATH_MAX + 256];

			if (!parse_no_files && config_masq_file_add(parse_conf,
			    $2, err, sizeof(err)) == -1) {
				parse_error("%s", err);
				YYERROR;
			}
		}
		| EXPOSEDUSERS '{' masqlist '}' {
			if (parse_masq_add(CONF_MASQ_EXPOSED) == -1)
				YYERROR;
		}
		| EXCEPTIONS '{' masqlist '}' {
			if (parse_masq_add(CONF_MASQ_EXCEPTIONS) == -1)
				YYERROR;
		}
		| ENTIREDOMAIN yesno	{ parse_conf->masq_entire_domain = $2; }
		| ENVELOPE yesno	{ parse_conf->masq_envelope = $2; }
		| RECIPIENTS yesno	{ parse_conf->masq_recipients = $2; }
		| LIMITED yesno		{ parse_conf->masq_limited = $2; }
		;

genericsopt	: DOMAINS '{' masqlist '}' {
			if (parse_masq_add(CONF_MASQ_GENERICS) == -1)
				YYERROR;
		}
		| DOMAINSFILE STRING {
			char	 err[PATH_MAX + 256];

			if (!parse_no_files && config_generics_file_add(
			    parse_conf, $2, err, sizeof(err)) == -1) {
				parse_error("%s", err);
				YYERROR;
			}
		}
		| ENTIREDOMAIN yesno	{ parse_conf->generics_entire_domain = $2; }
		;

masqlist	: /* empty */ {
			parse_masq_len = 0;
			parse_masq_buf[0] = '\0';
		}
		| masqlist STRING {
			if (parse_masq_len + strlen($2) + 2 <
			    sizeof(parse_masq_buf))
				parse_masq_len += (size_t)snprintf(
				    parse_masq_buf + parse_masq_len,
				    sizeof(parse_masq_buf) - parse_masq_len,
				    "%s ", $2);
			else
				parse_masq_len = sizeof(parse_masq_buf);
		}
		;

/* privacy FLAG[, FLAG...]: sendmail's PrivacyOptions, commas or spaces */
privflags	: privflag
		| privflags privflag
		| privflags ',' privflag
		;

privflag	: STRING {
			if (parse_privacy_flag($1) == -1)
				YYERROR;
		}
		;

sendmailopt	: SOCKET STRING {
			if (parse_path(parse_conf->sendmail_socket, $2,
			    "sendmail socket") == -1)
				YYERROR;
		}
		| DROPDIR STRING {
			if (parse_path(parse_conf->sendmail_drop_dir, $2,
			    "sendmail drop-dir") == -1)
				YYERROR;
		}
		| TRUSTEDUSERS STRING {
			if (parse_trusted_users($2) == -1)
				YYERROR;
		}
		| FILTER STRING {
			if (parse_filter_list(parse_conf->sendmail_filters,
			    &parse_conf->sendmail_nfilters, "sendmail",
			    $2) == -1)
				YYERROR;
		}
		;

localopt	: ALIASES STRING {
			if (parse_path(parse_conf->local_aliases, $2,
			    "local aliases") == -1)
				YYERROR;
		}
		| MAILBOXDIR STRING {
			if (parse_path(parse_conf->local_mailbox_dir, $2,
			    "local mailbox-dir") == -1)
				YYERROR;
		}
		| USERS PASSWD	{ parse_conf->local_users = LOCAL_USERS_PASSWD; }
		| USERS MAP	{ parse_conf->local_users = LOCAL_USERS_MAP; }
		| DELIVERY words {
			char	 err[256];

			if (parse_nwords > PARSE_WORDS_MAX) {
				parse_error("local delivery: too many words");
				YYERROR;
			}
			if (config_local_delivery_add(parse_conf, parse_words,
			    parse_nwords, err, sizeof(err)) == -1) {
				parse_error("%s", err);
				YYERROR;
			}
		}
		| DEFAULTUSER STRING {
			if (parse_local_user($2) == -1)
				YYERROR;
		}
		| SMRSHDIR STRING {
			if (parse_path(parse_conf->local_smrsh_dir, $2,
			    "local smrsh-dir") == -1)
				YYERROR;
		}
		| SAFEFILEDIR STRING {
			if (parse_path(parse_conf->local_safe_file_dir, $2,
			    "local safe-file-dir") == -1)
				YYERROR;
		}
		| ROOTMAIL BOUNCE {
			parse_conf->local_root_mail = LOCAL_ROOT_BOUNCE;
		}
		| ROOTMAIL STRING {
			/* "defer" is no keyword; "bounce" is one, or quoted */
			if (strcmp($2, "defer") == 0)
				parse_conf->local_root_mail = LOCAL_ROOT_DEFER;
			else if (strcmp($2, "bounce") == 0)
				parse_conf->local_root_mail = LOCAL_ROOT_BOUNCE;
			else {
				parse_error("local root-mail \"%s\": expected "
				    "defer or bounce", $2);
				YYERROR;
			}
		}
		;

words		: STRING {
			parse_nwords = 0;
			parse_words[parse_nwords++] = $1;
		}
		| words STRING {
			if (parse_nwords < PARSE_WORDS_MAX)
				parse_words[parse_nwords] = $2;
			parse_nwords++;
		}
		;

authopt		: MECHANISMS STRING {
			if (parse_auth_string(parse_conf->auth_mechanisms, $2,
			    "auth mechanisms") == -1)
				YYERROR;
		}
		| TRUST STRING {
			if (parse_auth_string(parse_conf->auth_trust, $2,
			    "auth trust") == -1)
				YYERROR;
		}
		| OPTIONS STRING {
			if (parse_auth_options($2) == -1)
				YYERROR;
		}
		| SASLDB STRING {
			if (parse_path(parse_conf->auth_source_path, $2,
			    "auth sasldb") == -1)
				YYERROR;
			parse_conf->auth_source = AUTH_SOURCE_SASLDB;
		}
		| SASLAUTHD STRING {
			if (parse_path(parse_conf->auth_source_path, $2,
			    "auth saslauthd") == -1)
				YYERROR;
			parse_conf->auth_source = AUTH_SOURCE_SASLAUTHD;
		}
		| MAXFAILURES NUMBER {
			if (parse_range($2, 1, 100, "auth max-failures") == -1)
				YYERROR;
			parse_conf->auth_max_failures = $2;
		}
		| LINEMAX size {
			if (parse_range($2, 512, 1024 * 1024,
			    "auth line-max") == -1)
				YYERROR;
			parse_conf->auth_line_max = $2;
		}
		;

tlsopt		: PROTOCOLS STRING {
			if (parse_tls_string(parse_conf->tls_protocols, $2,
			    "tls protocols", "abcdefghijklmnopqrstuvwxyz"
			    "0123456789.,:!-") == -1)
				YYERROR;
		}
		| CIPHERS STRING {
			if (parse_tls_string(parse_conf->tls_ciphers, $2,
			    "tls ciphers", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "abcdefghijklmnopqrstuvwxyz0123456789:+!@=_,.-")
			    == -1)
				YYERROR;
		}
		| PROCESSES NUMBER {
			if (parse_range($2, 1, 64, "tls processes") == -1)
				YYERROR;
			parse_conf->tls_processes = $2;
		}
		| SESSIONLIFETIME duration {
			/* RFC 8446 4.6.1: a ticket lives at most 7 days */
			if (parse_range($2, 0, 7 * 24 * 60 * 60,
			    "tls session-lifetime") == -1)
				YYERROR;
			parse_conf->tls_session_lifetime = $2;
		}
		;

queueopt	: LIFETIME duration {
			if (parse_range($2, 1, PARSE_NUMBER_MAX,
			    "queue lifetime") == -1)
				YYERROR;
			parse_conf->queue_lifetime = $2;
		}
		| QUARANTINELIFETIME duration {
			if (parse_range($2, 1, PARSE_NUMBER_MAX,
			    "queue quarantine-lifetime") == -1)
				YYERROR;
			parse_conf->queue_quarantine_lifetime = $2;
		}
		| DELAYWARNING duration {
			if (parse_range($2, 1, PARSE_NUMBER_MAX,
			    "queue delay-warning") == -1)
				YYERROR;
			parse_conf->queue_delay_warning = $2;
		}
		| RETRYMIN duration {
			if (parse_range($2, 1, PARSE_NUMBER_MAX,
			    "queue retry-min") == -1)
				YYERROR;
			parse_conf->queue_retry_min = $2;
			parse_retry_line = parse_cur->lineno;
			parse_retry_file = parse_string_keep(parse_cur->name);
		}
		| RETRYMAX duration {
			if (parse_range($2, 1, PARSE_NUMBER_MAX,
			    "queue retry-max") == -1)
				YYERROR;
			parse_conf->queue_retry_max = $2;
			parse_retry_line = parse_cur->lineno;
			parse_retry_file = parse_string_keep(parse_cur->name);
		}
		| MINFREE size {
			if (parse_range($2, 0, SSIZE_MAX,
			    "queue min-free") == -1)
				YYERROR;
			parse_conf->queue_min_free = $2;
		}
		;

listenopts	: /* empty */ {
			parse_lopts.port = -1;
			parse_lopts.flags = LISTEN_F_NONE;
			parse_lopts.pki = NULL;
			parse_lopts.max_sessions = 0;
			parse_lopts.connection_rate = 0;
			parse_lopts.no_auth = parse_lopts.no_starttls = 0;
			parse_lopts.nproxies = 0;
			parse_lopts.nfilters = 0;
		}
		| listenopts listenopt
		;

listenopt	: port {
			if (parse_lopts.port != -1) {
				parse_error("listen: port given twice");
				YYERROR;
			}
			parse_lopts.port = $1;
		}
		| TLS {
			if (parse_listen_tls(LISTEN_F_TLS) == -1)
				YYERROR;
		}
		| TLSREQUIRE {
			if (parse_listen_tls(LISTEN_F_TLS |
			    LISTEN_F_TLS_REQUIRE) == -1)
				YYERROR;
		}
		| SMTPS {
			if (parse_listen_tls(LISTEN_F_SMTPS) == -1)
				YYERROR;
		}
		| VERIFY {
			parse_lopts.flags |= LISTEN_F_TLS_VERIFY;
		}
		| AUTH {
			if (parse_listen_auth(LISTEN_F_AUTH |
			    LISTEN_F_AUTH_REQUIRE) == -1)
				YYERROR;
		}
		| AUTHOPTIONAL {
			if (parse_listen_auth(LISTEN_F_AUTH) == -1)
				YYERROR;
		}
		| PKI STRING {
			if (parse_lopts.pki != NULL) {
				parse_error("listen: pki given twice");
				YYERROR;
			}
			if (parse_pki_ref($2, "listen") == -1)
				YYERROR;
			parse_lopts.pki = $2;
		}
		| listenlimit
		;

/* The options of a milter, on the last one added (issue 16). */
filteropts	: /* empty */
		| filteropts filteropt
		;

filteropt	: ONFAILURE TEMPFAIL {
			parse_filter_last()->on_failure = CONF_FILTER_TEMPFAIL;
		}
		| ONFAILURE REJECT {
			parse_filter_last()->on_failure = CONF_FILTER_REJECT;
		}
		| ONFAILURE ACCEPT {
			parse_filter_last()->on_failure = CONF_FILTER_ACCEPT;
		}
		| TIMEOUTS duration duration duration duration {
			if (parse_filter_timeouts($2, $3, $4, $5) == -1)
				YYERROR;
		}
		;

/* Connection limits and modifier letters of a listener (issue 13). */
listenlimit	: MAXSESSIONS NUMBER {
			if (parse_range($2, 0, PARSE_NUMBER_MAX,
			    "listen: max-sessions") == -1)
				YYERROR;
			parse_lopts.max_sessions = (uint32_t)$2;
		}
		| CONNECTIONRATE NUMBER {
			if (parse_range($2, 0, PARSE_NUMBER_MAX,
			    "listen: connection-rate") == -1)
				YYERROR;
			parse_lopts.connection_rate = (uint32_t)$2;
		}
		| MODIFIERS STRING {
			if (parse_listen_modifiers($2) == -1)
				YYERROR;
		}
		| METRICS {
			parse_lopts.flags |= LISTEN_F_METRICS;
		}
		| FILTER STRING {
			if (parse_filter_list(parse_lopts.filters,
			    &parse_lopts.nfilters, "listen", $2) == -1)
				YYERROR;
		}
		| PROXYPROTOCOL '{' proxylist '}' {
			if (parse_lopts.flags & LISTEN_F_PROXY) {
				parse_error("listen: proxy-protocol given "
				    "twice");
				YYERROR;
			}
			if (parse_lopts.nproxies == 0) {
				parse_error("listen: proxy-protocol names no "
				    "proxy");
				YYERROR;
			}
			parse_lopts.flags |= LISTEN_F_PROXY;
		}
		;

/* The trusted proxies of a listener (issue 17). */
proxylist	: /* empty */
		| proxylist STRING {
			if (parse_listen_proxy($2) == -1)
				YYERROR;
		}
		;

/* Connection and load limits (issue 13). */
connlimit	: CONNRATEPERADDR NUMBER {
			if (parse_range($2, 0, PARSE_NUMBER_MAX,
			    "limit connection-rate-per-address") == -1)
				YYERROR;
			parse_conf->limit_connection_rate_per_address = $2;
		}
		| BADRCPTTHROTTLE NUMBER {
			if (parse_range($2, 0, PARSE_NUMBER_MAX,
			    "limit bad-rcpt-throttle") == -1)
				YYERROR;
			parse_conf->limit_bad_rcpt_throttle = $2;
		}
		| LOADREFUSE NUMBER {
			if (parse_range($2, 0, CONF_LOAD_MAX,
			    "limit load-refuse") == -1)
				YYERROR;
			parse_conf->limit_load_refuse = $2;
		}
		| LOADQUEUE NUMBER {
			if (parse_range($2, 0, CONF_LOAD_MAX,
			    "limit load-queue") == -1)
				YYERROR;
			parse_conf->limit_load_queue = $2;
		}
		| LOADDELAY NUMBER {
			if (parse_range($2, 0, CONF_LOAD_MAX,
			    "limit load-delay") == -1)
				YYERROR;
			parse_conf->limit_load_delay = $2;
		}
		;

limit		: MESSAGESIZE size {
			if (parse_range($2, 1, SSIZE_MAX,
			    "limit message-size") == -1)
				YYERROR;
			parse_conf->limit_message_size = $2;
		}
		| RECIPIENTS NUMBER {
			if (parse_range($2, 1, PARSE_NUMBER_MAX,
			    "limit recipients") == -1)
				YYERROR;
			parse_conf->limit_recipients = $2;
		}
		| ERRORS NUMBER {
			if (parse_range($2, 1, PARSE_NUMBER_MAX,
			    "limit errors") == -1)
				YYERROR;
			parse_conf->limit_errors = $2;
		}
		| COMMANDLINE NUMBER {
			if (parse_range($2, 512, PARSE_NUMBER_MAX,
			    "limit command-line") == -1)
				YYERROR;
			parse_conf->limit_command_line = $2;
		}
		| TEXTLINE NUMBER {
			if (parse_range($2, 1000, PARSE_NUMBER_MAX,
			    "limit text-line") == -1)
				YYERROR;
			parse_conf->limit_text_line = $2;
		}
		| SESSIONS NUMBER {
			if (parse_range($2, 1, PARSE_NUMBER_MAX,
			    "limit sessions") == -1)
				YYERROR;
			parse_conf->limit_sessions = $2;
		}
		| SESSIONSPERADDR NUMBER {
			if (parse_range($2, 1, PARSE_NUMBER_MAX,
			    "limit sessions-per-address") == -1)
				YYERROR;
			parse_conf->limit_sessions_per_address = $2;
		}
		| MESSAGES NUMBER {
			if (parse_range($2, 1, PARSE_NUMBER_MAX,
			    "limit messages") == -1)
				YYERROR;
			parse_conf->limit_messages = $2;
		}
		| JUNKCOMMANDS NUMBER {
			if (parse_range($2, 1, PARSE_NUMBER_MAX,
			    "limit junk-commands") == -1)
				YYERROR;
			parse_conf->limit_junk_commands = $2;
		}
		| DATARATE NUMBER {
			if (parse_range($2, 0, PARSE_NUMBER_MAX,
			    "limit data-rate") == -1)
				YYERROR;
			parse_conf->limit_data_rate = $2;
		}
		| ALIASDEPTH NUMBER {
			if (parse_range($2, 1, CONF_ALIAS_DEPTH_MAX,
			    "limit alias-depth") == -1)
				YYERROR;
			parse_conf->limit_alias_depth = $2;
		}
		| ALIASEXPANSION NUMBER {
			if (parse_range($2, 1, CONF_ALIAS_EXPANSION_MAX,
			    "limit alias-expansion") == -1)
				YYERROR;
			parse_conf->limit_alias_expansion = $2;
		}
		;

timeout		: COMMAND duration {
			if (parse_range($2, 1, PARSE_NUMBER_MAX,
			    "timeout command") == -1)
				YYERROR;
			parse_conf->timeout_command = $2;
		}
		| DATA duration {
			if (parse_range($2, 1, PARSE_NUMBER_MAX,
			    "timeout data") == -1)
				YYERROR;
			parse_conf->timeout_data = $2;
		}
		| SESSION duration {
			if (parse_range($2, 1, PARSE_NUMBER_MAX,
			    "timeout session") == -1)
				YYERROR;
			parse_conf->timeout_session = $2;
		}
		| TLSHANDSHAKE duration {
			if (parse_range($2, 1, PARSE_NUMBER_MAX,
			    "timeout tls-handshake") == -1)
				YYERROR;
			parse_conf->timeout_tls_handshake = $2;
		}
		| TLSIDLE duration {
			if (parse_range($2, 1, PARSE_NUMBER_MAX,
			    "timeout tls-idle") == -1)
				YYERROR;
			parse_conf->timeout_tls_idle = $2;
		}
		;

policyopt	: SKIP yesno		{ parse_conf->policy_skip = $2; }
		| LOOKUPDOTDOMAIN yesno	{ parse_conf->policy_lookupdotdomain = $2; }
		| DELAYCHECKS yesno	{ parse_conf->policy_delay_checks = $2; }
		| BLACKLISTRCPT yesno	{
			parse_conf->policy_blacklist_recipients = $2;
		}
		| TLSPERMERROR yesno	{ parse_conf->policy_tls_perm_error = $2; }
		;

smtpopt		: GREETINGDELAY duration {
			if (parse_range($2, 0, PARSE_NUMBER_MAX,
			    "smtp greeting-delay") == -1)
				YYERROR;
			parse_conf->smtp_greeting_delay = $2;
		}
		| VRFY yesno	{ parse_privacy_toggle(PRIV_NOVRFY, !$2); }
		| EXPN yesno	{ parse_privacy_toggle(PRIV_NOEXPN, !$2); }
		| BANNER STRING {
			if (parse_banner($2) == -1)
				YYERROR;
		}
		| REVERSEDNS yesno { parse_conf->smtp_reverse_dns = $2; }
		| DNSTIMEOUT duration {
			if (parse_range($2, 1, 60, "smtp dns-timeout") == -1)
				YYERROR;
			parse_conf->smtp_dns_timeout = $2;
		}
		| FORBIDPIPELINING yesno {
			parse_conf->smtp_forbid_pipelining = $2;
		}
		;

mtaopt		: PORT NUMBER {
			if (parse_range($2, 1, 65535, "mta port") == -1)
				YYERROR;
			parse_conf->mta_port = $2;
		}
		| CONNECTIONS NUMBER {
			if (parse_range($2, 1, PARSE_NUMBER_MAX,
			    "mta connections") == -1)
				YYERROR;
			parse_conf->mta_connections = $2;
		}
		| HOSTCONNECTIONS NUMBER {
			if (parse_range($2, 1, PARSE_NUMBER_MAX,
			    "mta host-connections") == -1)
				YYERROR;
			parse_conf->mta_host_connections = $2;
		}
		| MESSAGESPERCONN NUMBER {
			if (parse_range($2, 1, PARSE_NUMBER_MAX,
			    "mta messages-per-connection") == -1)
				YYERROR;
			parse_conf->mta_messages_per_connection = $2;
		}
		| TIMEOUT mtatimeout
		| mtadane
		| PKI STRING {
			if (parse_pki_ref($2, "mta") == -1)
				YYERROR;
			(void)strlcpy(parse_conf->mta_pki, $2,
			    sizeof(parse_conf->mta_pki));
		}
		| MTASTS yesno		{ parse_conf->mta_sts = $2; }
		;

/* DANE (RFC 7672) for outbound STARTTLS; off unless asked for */
mtadane		: DANE yesno		{ parse_conf->mta_dane = $2; }
		;

mtatimeout	: CONNECT duration {
			if (parse_range($2, 1, PARSE_NUMBER_MAX,
			    "mta timeout connect") == -1)
				YYERROR;
			parse_conf->mta_timeout_connect = $2;
		}
		| COMMAND duration {
			if (parse_range($2, 1, PARSE_NUMBER_MAX,
			    "mta timeout command") == -1)
				YYERROR;
			parse_conf->mta_timeout_command = $2;
		}
		| DATA duration {
			if (parse_range($2, 1, PARSE_NUMBER_MAX,
			    "mta timeout data") == -1)
				YYERROR;
			parse_conf->mta_timeout_data = $2;
		}
		| IDLE duration {
			if (parse_range($2, 1, PARSE_NUMBER_MAX,
			    "mta timeout idle") == -1)
				YYERROR;
			parse_conf->mta_timeout_idle = $2;
		}
		;

%%

struct keyword {
	const char	*name;
	int		 token;
};

/* Sorted by name for bsearch(): keep it so when adding a keyword. */
static const struct keyword	 keywords[] = {
	{ "accept",			ACCEPT },
	{ "alias-depth",		ALIASDEPTH },
	{ "alias-expansion",		ALIASEXPANSION },
	{ "aliases",			ALIASES },
	{ "answer",			ANSWER },
	{ "as",				AS },
	{ "auth",			AUTH },
	{ "auth-optional",		AUTHOPTIONAL },
	{ "auth-plaintext",		AUTHPLAINTEXT },
	{ "bad-rcpt-throttle",		BADRCPTTHROTTLE },
	{ "banner",			BANNER },
	{ "blacklist-recipients",	BLACKLISTRCPT },
	{ "bounce",			BOUNCE },
	{ "ca",				CA },
	{ "cert",			CERT },
	{ "ciphers",			CIPHERS },
	{ "command",			COMMAND },
	{ "command-line",		COMMANDLINE },
	{ "connect",			CONNECT },
	{ "connection-rate",		CONNECTIONRATE },
	{ "connection-rate-per-address",	CONNRATEPERADDR },
	{ "connections",		CONNECTIONS },
	{ "control",			CONTROL },
	{ "dane",			DANE },
	{ "data",			DATA },
	{ "data-rate",			DATARATE },
	{ "database",			DATABASE },
	{ "default-user",		DEFAULTUSER },
	{ "delay-checks",		DELAYCHECKS },
	{ "delay-warning",		DELAYWARNING },
	{ "delivery",			DELIVERY },
	{ "discard",			DISCARD },
	{ "dns-timeout",		DNSTIMEOUT },
	{ "dnsbl",			DNSBL },
	{ "dnssec",			DNSSEC },
	{ "domains",			DOMAINS },
	{ "domains-file",		DOMAINSFILE },
	{ "double-bounce",		DOUBLEBOUNCE },
	{ "drop",			DROP },
	{ "drop-dir",			DROPDIR },
	{ "entire-domain",		ENTIREDOMAIN },
	{ "envelope",			ENVELOPE },
	{ "errors",			ERRORS },
	{ "exceptions",			EXCEPTIONS },
	{ "expn",			EXPN },
	{ "exposed-users",		EXPOSEDUSERS },
	{ "file",			FILENAME },
	{ "filter",			FILTER },
	{ "forbid-unauth-pipelining",	FORBIDPIPELINING },
	{ "generics",			GENERICS },
	{ "greeting-delay",		GREETINGDELAY },
	{ "host-connections",		HOSTCONNECTIONS },
	{ "hostname",			HOSTNAME },
	{ "idle",			IDLE },
	{ "include",			INCLUDE },
	{ "junk-commands",		JUNKCOMMANDS },
	{ "key",			KEY },
	{ "lifetime",			LIFETIME },
	{ "limit",			LIMIT },
	{ "limited",			LIMITED },
	{ "line-max",			LINEMAX },
	{ "listen",			LISTEN },
	{ "load-delay",			LOADDELAY },
	{ "load-queue",			LOADQUEUE },
	{ "load-refuse",		LOADREFUSE },
	{ "local",			LOCAL },
	{ "lookupdotdomain",		LOOKUPDOTDOMAIN },
	{ "mailbox-dir",		MAILBOXDIR },
	{ "map",			MAP },
	{ "masquerade",			MASQUERADE },
	{ "max-failures",		MAXFAILURES },
	{ "max-sessions",		MAXSESSIONS },
	{ "mechanisms",			MECHANISMS },
	{ "message",			MESSAGE },
	{ "message-size",		MESSAGESIZE },
	{ "messages",			MESSAGES },
	{ "messages-per-connection",	MESSAGESPERCONN },
	{ "metrics",			METRICS },
	{ "min-free",			MINFREE },
	{ "modifiers",			MODIFIERS },
	{ "mta",			MTA },
	{ "mta-sts",			MTASTS },
	{ "no",				NO },
	{ "on",				ON },
	{ "on-failure",			ONFAILURE },
	{ "options",			OPTIONS },
	{ "passwd",			PASSWD },
	{ "path",			PATHNAME },
	{ "pki",			PKI },
	{ "policy",			POLICY },
	{ "port",			PORT },
	{ "postgresql",			POSTGRESQL },
	{ "privacy",			PRIVACY },
	{ "processes",			PROCESSES },
	{ "protocols",			PROTOCOLS },
	{ "proxy-protocol",		PROXYPROTOCOL },
	{ "quarantine",			QUARANTINE },
	{ "quarantine-lifetime",	QUARANTINELIFETIME },
	{ "queue",			QUEUE },
	{ "recipients",			RECIPIENTS },
	{ "reject",			REJECT },
	{ "resolver",			RESOLVER },
	{ "retry-max",			RETRYMAX },
	{ "retry-min",			RETRYMIN },
	{ "reverse-dns",		REVERSEDNS },
	{ "root-mail",			ROOTMAIL },
	{ "route",			ROUTE },
	{ "safe-file-dir",		SAFEFILEDIR },
	{ "saslauthd",			SASLAUTHD },
	{ "sasldb",			SASLDB },
	{ "sendmail",			SENDMAIL },
	{ "session",			SESSION },
	{ "session-lifetime",		SESSIONLIFETIME },
	{ "sessions",			SESSIONS },
	{ "sessions-per-address",	SESSIONSPERADDR },
	{ "skip",			SKIP },
	{ "smrsh-dir",			SMRSHDIR },
	{ "smtp",			SMTP },
	{ "smtps",			SMTPS },
	{ "socket",			SOCKET },
	{ "tempfail",			TEMPFAIL },
	{ "text-line",			TEXTLINE },
	{ "timeout",			TIMEOUT },
	{ "timeouts",			TIMEOUTS },
	{ "tls",			TLS },
	{ "tls-handshake",		TLSHANDSHAKE },
	{ "tls-idle",			TLSIDLE },
	{ "tls-perm-error",		TLSPERMERROR },
	{ "tls-require",		TLSREQUIRE },
	{ "trust",			TRUST },
	{ "trust-anchor",		TRUSTANCHOR },
	{ "trusted-users",		TRUSTEDUSERS },
	{ "users",			USERS },
	{ "verify",			VERIFY },
	{ "via",			VIA },
	{ "vrfy",			VRFY },
	{ "yes",			YES },
};

static int
keyword_cmp(const void *k, const void *e)
{
	return strcmp(k, ((const struct keyword *)e)->name);
}

/* The token of a keyword, or STRING. */
static int
keyword_lookup(const char *s)
{
	const struct keyword	*kw;

	kw = bsearch(s, keywords, sizeof(keywords) / sizeof(keywords[0]),
	    sizeof(keywords[0]), keyword_cmp);
	return kw != NULL ? kw->token : STRING;
}

/* Report an error at the current line of the current file. */
static void
parse_error(const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[512];

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	parse_errors++;
	log_warnx("%s:%d: %s", parse_cur != NULL ? parse_cur->name : "?",
	    parse_cur != NULL ? parse_cur->lineno : 0, msg);
}

/* yacc's "syntax error", made specific from the tokens last read. */
static void
yyerror(const char *msg)
{
	if (lex_reported) {
		lex_reported = 0;
		return;
	}
	if (strcmp(msg, "syntax error") != 0)
		parse_error("%s", msg);
	else if (!lex_first_kw && lex_ntok <= 2 && strcmp(lex_tok, "=") != 0)
		parse_error("unknown keyword \"%s\"", lex_first);
	else if (lex_last == '\n' || lex_last == 0)
		parse_error("missing argument after \"%s\"", lex_prev);
	else if (lex_ntok > 1)
		parse_error("unexpected \"%s\" after \"%s\"", lex_tok,
		    lex_prev);
	else
		parse_error("unexpected \"%s\"", lex_tok);
}

/* Keep a lexer string until the end of the parse. */
static char *
parse_string_keep(const char *s)
{
	char	*p;

	if (parse_nstrings == parse_capstrings) {
		parse_capstrings = parse_capstrings ? parse_capstrings * 2 : 64;
		parse_strings = xreallocarray(parse_strings, parse_capstrings,
		    sizeof(*parse_strings));
	}
	p = xstrdup(s);
	parse_strings[parse_nstrings++] = p;
	return p;
}

static void
parse_strings_free(void)
{
	size_t	 i;

	for (i = 0; i < parse_nstrings; i++)
		free(parse_strings[i]);
	free(parse_strings);
	parse_strings = NULL;
	parse_nstrings = parse_capstrings = 0;
}

/*
 * Open a file for reading on top of the stack.  An included file starts
 * at line 0: the include statement's own newline is read from it first.
 */
static struct parse_file *
parse_file_push(FILE *fp, const char *name)
{
	struct parse_file	*f;

	f = xcalloc(1, sizeof(*f));
	f->fp = fp;
	f->name = xstrdup(name);
	f->lineno = TAILQ_EMPTY(&parse_files) ? 1 : 0;
	TAILQ_INSERT_TAIL(&parse_files, f, entry);
	parse_cur = f;
	return f;
}

/* Close the current file and go back to the one that included it. */
static void
parse_file_pop(void)
{
	struct parse_file	*f = parse_cur;

	TAILQ_REMOVE(&parse_files, f, entry);
	(void)fclose(f->fp);
	free(f->name);
	free(f);
	parse_cur = TAILQ_LAST(&parse_files, parse_file_list);
}

/* Put a character back; it is read again before anything else. */
static void
lex_ungetc(int c)
{
	if (c == EOF)
		return;
	if (lex_expand != NULL && lex_expand_pos > 0) {
		lex_expand_pos--;
		return;
	}
	if (parse_cur->ungetlen < PARSE_PUSHBACK_MAX)
		parse_cur->ungetbuf[parse_cur->ungetlen++] = c;
}

/*
 * The next character: from a macro being expanded, then from what was put
 * back, then from the file.  A backslash before a newline joins the lines.
 */
static int
lex_getc(void)
{
	struct parse_file	*f = parse_cur;
	int			 c, next;

	if (lex_expand != NULL) {
		if ((c = (unsigned char)lex_expand[lex_expand_pos]) != '\0') {
			lex_expand_pos++;
			return c;
		}
		/* the end of a macro ends the word it was in */
		lex_expand = NULL;
		return ' ';
	}
	if (f->ungetlen > 0)
		return f->ungetbuf[--f->ungetlen];
	while ((c = getc(f->fp)) == '\\') {
		if ((next = getc(f->fp)) != '\n') {
			lex_ungetc(next);
			break;
		}
		f->lineno++;
	}
	return c;
}

/* After a lexical error: drop the rest of the line but not its end. */
static int
lex_skip_line(void)
{
	int	 c;

	while ((c = lex_getc()) != '\n' && c != EOF)
		;
	lex_ungetc(c);
	lex_reported = 1;
	return ERROR;
}

static int
lex_word_char(int c)
{
	if (c == EOF || c <= ' ' || c >= 0x7f)
		return 0;
	if (isalnum(c))
		return 1;
	return strchr("(){}<>!=#,\"';$\\", c) == NULL;
}

/* A double-quoted string into lex_buf; only \" and \\ are escapes. */
static int
lex_quoted(void)
{
	size_t	 n = 0;
	int	 c;

	for (;;) {
		c = lex_getc();
		if (c == EOF || c == '\n') {
			lex_ungetc(c);
			parse_error("unterminated quoted string");
			return lex_skip_line();
		}
		if (c == '"')
			break;
		if (c == '\\' && (c = lex_getc()) != '"' && c != '\\') {
			parse_error("invalid escape in quoted string");
			return lex_skip_line();
		}
		if (c < ' ' || c == 0x7f) {
			parse_error("control character in quoted string");
			return lex_skip_line();
		}
		if (n + 1 >= sizeof(lex_buf)) {
			parse_error("string too long");
			return lex_skip_line();
		}
		lex_buf[n++] = (char)c;
	}
	lex_buf[n] = '\0';
	yylval.v.string = parse_string_keep(lex_buf);
	return STRING;
}

/* A bare word: a number, a keyword or a string. */
static int
lex_word(int c)
{
	size_t	 n = 0;
	char	*end;
	int	 token;

	do {
		if (n + 1 >= sizeof(lex_buf)) {
			parse_error("word too long");
			return lex_skip_line();
		}
		lex_buf[n++] = (char)c;
	} while (lex_word_char(c = lex_getc()));
	lex_ungetc(c);
	lex_buf[n] = '\0';
	if (strspn(lex_buf, "0123456789") == n) {
		errno = 0;
		yylval.v.number = strtoll(lex_buf, &end, 10);
		if (errno == ERANGE) {
			parse_error("number %s is too large", lex_buf);
			return lex_skip_line();
		}
		return NUMBER;
	}
	if ((token = keyword_lookup(lex_buf)) != STRING)
		return token;
	yylval.v.string = parse_string_keep(lex_buf);
	return STRING;
}

/* $name: go on reading from the macro's value. */
static int
lex_macro(void)
{
	const struct parse_macro	*m;
	char				 name[64];
	size_t				 n = 0;
	int				 c;

	while ((c = lex_getc()) != EOF && (isalnum(c) || c == '_')) {
		if (n + 1 >= sizeof(name)) {
			parse_error("macro name too long");
			return -1;
		}
		name[n++] = (char)c;
	}
	lex_ungetc(c);
	name[n] = '\0';
	if (n == 0) {
		parse_error("'$' without a macro name");
		return -1;
	}
	TAILQ_FOREACH(m, &parse_macros, entry)
		if (strcmp(m->name, name) == 0)
			break;
	if (m == NULL) {
		parse_error("macro \"%s\" is not defined", name);
		return -1;
	}
	lex_expand = m->value;
	lex_expand_pos = 0;
	return 0;
}

/* End of a file: end its last statement, then resume the includer. */
static int
lex_eof(void)
{
	if (lex_last != '\n')
		return '\n';
	if (parse_cur != TAILQ_FIRST(&parse_files)) {
		parse_file_pop();
		return -1;
	}
	return 0;
}

static int
lex_token(void)
{
	int	 c, t;

	for (;;) {
		lex_text = lex_buf;
		while ((c = lex_getc()) == ' ' || c == '\t' || c == '\r')
			;
		if (c == '#')
			while ((c = lex_getc()) != '\n' && c != EOF)
				;
		if (c == '$' && lex_expand == NULL) {
			if (lex_macro() == -1)
				return lex_skip_line();
			continue;
		}
		if (c == EOF) {
			lex_text = "end of file";
			if ((t = lex_eof()) == -1)
				continue;
			return t;
		}
		if (c == '\n') {
			lex_text = "end of line";
			lex_newline = 1;
			return '\n';
		}
		if (c == '"')
			return lex_quoted();
		if (lex_word_char(c))
			return lex_word(c);
		if (c < ' ' || c >= 0x7f) {
			parse_error("invalid character 0x%02x", c);
			return lex_skip_line();
		}
		lex_buf[0] = (char)c;
		lex_buf[1] = '\0';
		return c;
	}
}

/* Remember the statement's first token and the last two for yyerror(). */
static void
lex_note(int token)
{
	if (lex_last == '\n') {
		lex_ntok = 0;
		lex_first_kw = token != STRING && token != NUMBER &&
		    token != ERROR && token >= 256;
		(void)strlcpy(lex_first, lex_text, sizeof(lex_first));
	}
	(void)strlcpy(lex_prev, lex_tok, sizeof(lex_prev));
	(void)strlcpy(lex_tok, lex_text, sizeof(lex_tok));
	lex_ntok++;
	lex_last = token;
	if (token == '\n')
		lex_reported = 0;
}

int
yylex(void)
{
	int	 token;

	if (lex_newline) {
		lex_newline = 0;
		parse_cur->lineno++;
	}
	token = lex_token();
	lex_note(token);
	return token;
}

/* include "file": relative names are taken from the including file's dir. */
static int
parse_include(const char *name)
{
	struct parse_file	*f;
	const char		*slash;
	char			 path[PATH_MAX];
	FILE			*fp;
	int			 depth = 0;

	TAILQ_FOREACH(f, &parse_files, entry)
		depth++;
	if (depth >= PARSE_INCLUDE_DEPTH) {
		parse_error("include \"%s\": nested too deeply", name);
		return -1;
	}
	slash = strrchr(parse_cur->name, '/');
	if (name[0] == '/' || slash == NULL)
		(void)strlcpy(path, name, sizeof(path));
	else if (snprintf(path, sizeof(path), "%.*s/%s",
	    (int)(slash - parse_cur->name), parse_cur->name, name) >=
	    (int)sizeof(path)) {
		parse_error("include \"%s\": path too long", name);
		return -1;
	}
	if ((fp = fopen(path, "r")) == NULL) {
		parse_error("include \"%s\": %s", path, strerror(errno));
		return -1;
	}
	if (parse_verbose)
		log_info("reading %s", path);
	f = parse_file_push(fp, path);
	/* the include statement ends with this newline */
	f->ungetbuf[f->ungetlen++] = '\n';
	return 0;
}

static int
parse_macro_set(const char *name, const char *value)
{
	struct parse_macro	*m;
	size_t			 i;

	for (i = 0; name[i] != '\0'; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_')
			break;
	if (name[i] != '\0' || isdigit((unsigned char)name[0])) {
		parse_error("invalid macro name \"%s\"", name);
		return -1;
	}
	TAILQ_FOREACH(m, &parse_macros, entry)
		if (strcmp(m->name, name) == 0)
			break;
	if (m == NULL) {
		m = xcalloc(1, sizeof(*m));
		m->name = parse_string_keep(name);
		TAILQ_INSERT_TAIL(&parse_macros, m, entry);
	}
	/* an old value may still be read by the lexer: kept till the end */
	m->value = parse_string_keep(value);
	return 0;
}

static void
parse_macros_free(void)
{
	struct parse_macro	*m;

	while ((m = TAILQ_FIRST(&parse_macros)) != NULL) {
		TAILQ_REMOVE(&parse_macros, m, entry);
		free(m);
	}
}

static int
parse_range(int64_t v, int64_t min, int64_t max, const char *what)
{
	if (v >= min && v <= max)
		return 0;
	parse_error("%s %lld is out of range (%lld to %lld)", what,
	    (long long)v, (long long)min, (long long)max);
	return -1;
}

static int
parse_duration(const char *s, int64_t *v)
{
	if ((*v = duration_parse(s)) == -1) {
		parse_error("invalid duration \"%s\": a number with an "
		    "optional unit s, m, h or d", s);
		return -1;
	}
	return 0;
}

static int
parse_size(const char *s, int64_t *v)
{
	if ((*v = size_parse(s)) == -1) {
		parse_error("invalid size \"%s\": a number with an "
		    "optional unit K, M or G", s);
		return -1;
	}
	return 0;
}

static int
parse_path(char *dst, const char *s, const char *what)
{
	if (s[0] != '/') {
		parse_error("%s: path \"%s\" is not absolute", what, s);
		return -1;
	}
	if (strlcpy(dst, s, PATH_MAX) >= PATH_MAX) {
		parse_error("%s: path too long", what);
		return -1;
	}
	return 0;
}

/*
 * database postgresql "CONNINFO": a libpq conninfo string or URI, kept
 * as given (libpq parses it in policyd and smtpctl).  It travels in the
 * config text that every child gets, so a password is refused here: it
 * belongs in a passfile only _smtppol and root can read.
 */
static int
parse_conninfo(const char *s)
{
	const char	*p, *end;
	size_t		 n;

	if (s[0] == '\0' || !text_is_clean(s) ||
	    strlcpy(parse_conf->database_conninfo, s,
	    sizeof(parse_conf->database_conninfo)) >=
	    sizeof(parse_conf->database_conninfo)) {
		parse_error("database postgresql: empty, too long or not "
		    "clean text");
		return -1;
	}
	for (p = s; (p = strcasestr(p, "password")) != NULL; p += 8) {
		n = strspn(p + 8, " \t");
		if (p[8 + n] == '=')
			goto password;
	}
	if (strncmp(s, "postgresql://", 13) == 0 ||
	    strncmp(s, "postgres://", 11) == 0) {
		p = strstr(s, "//") + 2;
		end = p + strcspn(p, "/?");
		n = strcspn(p, "@");
		if (p + n < end && memchr(p, ':', n) != NULL)
			goto password;
	}
	return 0;
password:
	parse_error("database postgresql: no password in smtpd.conf (every "
	    "process reads it): use a passfile");
	parse_conf->database_conninfo[0] = '\0';
	return -1;
}

/* local default-user: a plain user name, never root (sendmail's
 * DefaultUser); whether the system has it is checked by smtpd-local. */
static int
parse_local_user(const char *s)
{
	if (s[0] == '\0' || strcmp(s, "root") == 0 ||
	    strcspn(s, "/:@+ \t") != strlen(s) || !text_is_clean(s) ||
	    strlcpy(parse_conf->local_default_user, s,
	    sizeof(parse_conf->local_default_user)) >=
	    sizeof(parse_conf->local_default_user)) {
		parse_error("local default-user \"%s\": not a user name "
		    "other than root", s);
		return -1;
	}
	return 0;
}

static int
parse_hostname(const char *s)
{
	if (!config_domain_valid(s)) {
		parse_error("hostname \"%s\" is not a valid domain name", s);
		return -1;
	}
	(void)strlcpy(parse_conf->hostname, s, sizeof(parse_conf->hostname));
	return 0;
}

/* A numeric address and port into a sockaddr and its canonical text. */
static int
parse_numeric_addr(const char *s, int port, struct sockaddr_storage *ss,
    socklen_t *sslen, char *canon, size_t size)
{
	struct addrinfo	 hints, *res;
	char		 serv[8];

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	(void)snprintf(serv, sizeof(serv), "%d", port);
	if (getaddrinfo(s, serv, &hints, &res) != 0)
		return -1;
	if (res->ai_addrlen > sizeof(*ss) ||
	    getnameinfo(res->ai_addr, res->ai_addrlen, canon, size, NULL, 0,
	    NI_NUMERICHOST) != 0) {
		freeaddrinfo(res);
		return -1;
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int
parse_resolver(const char *s, int64_t port)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	struct config		*c = parse_conf;

	if (port == 0)
		port = 53;
	if (parse_numeric_addr(s, port, &ss, &sslen, c->resolver_addr,
	    sizeof(c->resolver_addr)) == -1) {
		parse_error("resolver \"%s\" is not a numeric IPv4 or IPv6 "
		    "address", s);
		return -1;
	}
	c->resolver_set = 1;
	c->resolver_port = port;
	return 0;
}

static int
parse_listen(const char *s)
{
	struct listener	*l, *o;
	int		 port = parse_lopts.port;

	if (port == -1 && (parse_lopts.flags & LISTEN_F_METRICS)) {
		parse_error("listen: metrics needs a port");
		return -1;
	}
	if (port == -1)
		port = parse_lopts.flags & LISTEN_F_SMTPS ? 465 : 25;
	if (parse_listen_check() == -1)
		return -1;
	l = xcalloc(1, sizeof(*l));
	if (parse_numeric_addr(s, port, &l->ss, &l->sslen, l->addr,
	    sizeof(l->addr)) == -1) {
		free(l);
		parse_error("listen on \"%s\": not a numeric IPv4 or IPv6 "
		    "address", s);
		return -1;
	}
	l->port = port;
	l->flags = parse_lopts.flags;
	if (parse_lopts.no_auth)
		l->flags &= ~(LISTEN_F_AUTH | LISTEN_F_AUTH_REQUIRE);
	if (parse_lopts.no_starttls)
		l->flags &= ~(LISTEN_F_TLS | LISTEN_F_TLS_REQUIRE);
	l->max_sessions = parse_lopts.max_sessions;
	l->connection_rate = parse_lopts.connection_rate;
	(void)memcpy(l->proxies, parse_lopts.proxies, sizeof(l->proxies));
	l->nproxies = parse_lopts.nproxies;
	(void)memcpy(l->filters, parse_lopts.filters, sizeof(l->filters));
	l->nfilters = parse_lopts.nfilters;
	if (parse_lopts.pki != NULL)
		(void)strlcpy(l->pki, parse_lopts.pki, sizeof(l->pki));
	(void)snprintf(l->name, sizeof(l->name),
	    l->ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", l->addr,
	    l->port);
	TAILQ_FOREACH(o, &parse_conf->listeners, entry)
		if (strcmp(o->name, l->name) == 0) {
			parse_error("listen on %s given twice", l->name);
			free(l);
			return -1;
		}
	TAILQ_INSERT_TAIL(&parse_conf->listeners, l, entry);
	return 0;
}

/* filter NAME SOCKET (issue 16): the options that follow set the last
 * one added. */
static int
parse_filter(const char *name, const char *socket)
{
	char	 err[256];

	if (config_milter_add(parse_conf, name, socket, err,
	    sizeof(err)) == -1) {
		parse_error("%s", err);
		return -1;
	}
	return 0;
}

static struct conf_filter *
parse_filter_last(void)
{
	return &parse_conf->filters[parse_conf->nfilters - 1];
}

static int
parse_filter_timeouts(int64_t c, int64_t s, int64_t r, int64_t e)
{
	struct conf_filter	*f = parse_filter_last();

	if (parse_range(c, 1, 3600, "filter: connect timeout") == -1 ||
	    parse_range(s, 1, 3600, "filter: send timeout") == -1 ||
	    parse_range(r, 1, 3600, "filter: reply timeout") == -1 ||
	    parse_range(e, 1, 3600, "filter: end of message timeout") == -1)
		return -1;
	f->timeout_connect = (int)c;
	f->timeout_send = (int)s;
	f->timeout_reply = (int)r;
	f->timeout_eom = (int)e;
	return 0;
}

/* listen ... filter NAME, sendmail filter NAME: a filter defined
 * before, once per list (what: the statement, for errors). */
static int
parse_filter_list(uint8_t *list, size_t *n, const char *what,
    const char *name)
{
	int	 i;
	size_t	 j;

	if ((i = config_milter_find(parse_conf, name)) == -1) {
		parse_error("%s: filter %s is not defined (before)", what,
		    name);
		return -1;
	}
	for (j = 0; j < *n; j++)
		if (list[j] == (uint8_t)i) {
			parse_error("%s: filter %s given twice", what, name);
			return -1;
		}
	list[(*n)++] = (uint8_t)i;
	return 0;
}

/* One trusted proxy of proxy-protocol { ... }. */
static int
parse_listen_proxy(const char *s)
{
	if (parse_lopts.nproxies == CONF_PROXY_MAX) {
		parse_error("listen: proxy-protocol takes at most %d proxies",
		    CONF_PROXY_MAX);
		return -1;
	}
	if (config_net_parse(s, &parse_lopts.proxies[parse_lopts.nproxies])
	    == -1) {
		parse_error("listen: proxy-protocol: \"%s\" is not a numeric "
		    "address or prefix", s);
		return -1;
	}
	parse_lopts.nproxies++;
	return 0;
}

/*
 * modifiers "LETTERS": sendmail's DaemonPortOptions M= letters that
 * apply here: a (auth), A (no AUTH, wins over a and auth), S (no
 * STARTTLS), f, u, E.  The others have no meaning in this design.
 */
static int
parse_listen_modifiers(const char *s)
{
	const char	*p;

	for (p = s; *p != '\0'; p++) {
		switch (*p) {
		case 'a':
			if (!(parse_lopts.flags & LISTEN_F_AUTH) &&
			    parse_listen_auth(LISTEN_F_AUTH |
			    LISTEN_F_AUTH_REQUIRE) == -1)
				return -1;
			break;
		case 'A':
			parse_lopts.no_auth = 1;
			break;
		case 'S':
			parse_lopts.no_starttls = 1;
			break;
		case 'f':
			parse_lopts.flags |= LISTEN_F_FQDN_SENDER;
			break;
		case 'u':
			parse_lopts.flags |= LISTEN_F_UNQUALIFIED;
			break;
		case 'E':
			parse_lopts.flags |= LISTEN_F_NO_ETRN;
			break;
		default:
			parse_error("listen: modifier '%c' is not one of a, A, "
			    "S, f, u, E", *p);
			return -1;
		}
	}
	return 0;
}

/* auth or auth-optional on a listener: one of them only. */
static int
parse_listen_auth(int flags)
{
	if (parse_lopts.flags & LISTEN_F_AUTH) {
		parse_error("listen: only one of auth and auth-optional");
		return -1;
	}
	parse_lopts.flags |= flags;
	return 0;
}

/* auth mechanisms / trust: SASL mechanism names (RFC 4422 3.1). */
static int
parse_auth_string(char *dst, const char *s, const char *what)
{
	if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_ ") !=
	    strlen(s)) {
		parse_error("%s: \"%s\" is not a list of mechanism names "
		    "(upper case, space separated)", what, s);
		return -1;
	}
	if (strlcpy(dst, s, CONF_AUTH_STRING_MAX) >= CONF_AUTH_STRING_MAX) {
		parse_error("%s: list too long", what);
		return -1;
	}
	return 0;
}

/* One flag of a privacy statement; an unknown name is an error. */
static int
parse_privacy_flag(const char *name)
{
	if (config_privacy_flag(name) == 0 && strcasecmp(name, "public") != 0) {
		parse_error("privacy: unknown flag \"%s\"", name);
		parse_privacy = 0;
		return -1;
	}
	parse_privacy |= config_privacy_flag(name);
	return 0;
}

/* smtp vrfy / smtp expn: other spellings of novrfy / noexpn. */
static void
parse_privacy_toggle(uint32_t bit, int on)
{
	if (on)
		parse_conf->privacy |= bit;
	else
		parse_conf->privacy &= ~bit;
}

/* smtp banner: a template of sendmail's macros, checked here. */
static int
parse_banner(const char *s)
{
	char	 out[CONF_BANNER_MAX + 512];

	if (strlcpy(parse_conf->smtp_banner, s,
	    sizeof(parse_conf->smtp_banner)) >=
	    sizeof(parse_conf->smtp_banner)) {
		parse_error("smtp banner: text too long");
		return -1;
	}
	if (config_banner_expand(s, NULL, 0, out, sizeof(out)) == -1) {
		parse_error("smtp banner: \"%s\": unknown macro (only $j, "
		    "$v, $b and $$)", s);
		parse_conf->smtp_banner[0] = '\0';
		return -1;
	}
	return 0;
}

/*
 * sendmail trusted-users: user names, comma or space separated, that may
 * set the envelope sender of a local submission without a warning.
 */
static int
parse_trusted_users(const char *s)
{
	if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-, ") != strlen(s)) {
		parse_error("sendmail trusted-users: \"%s\" is not a list of "
		    "user names", s);
		return -1;
	}
	if (strlcpy(parse_conf->sendmail_trusted, s,
	    sizeof(parse_conf->sendmail_trusted)) >=
	    sizeof(parse_conf->sendmail_trusted)) {
		parse_error("sendmail trusted-users: list too long");
		return -1;
	}
	return 0;
}

/* The names of a masquerade list statement onto that list. */
static int
parse_masq_add(enum config_masq_list which)
{
	char	 err[512];

	if (parse_masq_len >= sizeof(parse_masq_buf)) {
		parse_error("masquerade: list too long");
		return -1;
	}
	if (config_masq_list_add(parse_conf, which, parse_masq_buf, err,
	    sizeof(err)) == -1) {
		parse_error("%s", err);
		return -1;
	}
	return 0;
}

/* auth options: sendmail's AuthOptions; unknown letters only warn. */
static int
parse_auth_options(const char *s)
{
	int	 unknown;

	if (strlcpy(parse_conf->auth_options, s, CONF_AUTH_STRING_MAX) >=
	    CONF_AUTH_STRING_MAX) {
		parse_error("auth options: too long");
		return -1;
	}
	parse_conf->auth_opts = config_auth_options(s, &unknown);
	if (unknown != 0)
		log_warnx("%s:%d: auth options: unknown letter '%c' ignored",
		    parse_cur->name, parse_cur->lineno,
		    isprint(unknown) ? unknown : '?');
	return 0;
}

/* tls, tls-require or smtps on a listener: one of them only. */
static int
parse_listen_tls(int flags)
{
	if (parse_lopts.flags & (LISTEN_F_TLS | LISTEN_F_SMTPS)) {
		parse_error("listen: only one of tls, tls-require and smtps");
		return -1;
	}
	parse_lopts.flags |= flags;
	return 0;
}

/* The TLS options of a listener make sense together. */
static int
parse_listen_check(void)
{
	uint32_t	 f = parse_lopts.flags;

	if ((f & LISTEN_F_METRICS) && (f != LISTEN_F_METRICS ||
	    parse_lopts.pki != NULL || parse_lopts.no_auth ||
	    parse_lopts.no_starttls || parse_lopts.max_sessions != 0 ||
	    parse_lopts.connection_rate != 0)) {
		parse_error("listen: metrics takes no other option but port");
		return -1;
	}
	if (!(f & (LISTEN_F_TLS | LISTEN_F_SMTPS))) {
		if (f & LISTEN_F_TLS_VERIFY || parse_lopts.pki != NULL) {
			parse_error("listen: verify and pki need tls, "
			    "tls-require or smtps");
			return -1;
		}
		return 0;
	}
	if (TAILQ_EMPTY(&parse_conf->pkis)) {
		parse_error("listen: tls needs a pki declared before");
		return -1;
	}
	return 0;
}

/* pki NAME cert FILE key FILE */
static int
parse_pki(const char *name, const char *cert, const char *key)
{
	struct pki	*p;

	if (!config_domain_valid(name) ||
	    strlen(name) >= CONF_PKI_NAME_MAX) {
		parse_error("pki \"%s\": not a host name", name);
		return -1;
	}
	if (config_pki_find(parse_conf, name) != NULL) {
		parse_error("pki %s given twice", name);
		return -1;
	}
	p = xcalloc(1, sizeof(*p));
	(void)strlcpy(p->name, name, sizeof(p->name));
	if (parse_path(p->cert_file, cert, "pki cert") == -1 ||
	    parse_path(p->key_file, key, "pki key") == -1) {
		free(p);
		return -1;
	}
	TAILQ_INSERT_TAIL(&parse_conf->pkis, p, entry);
	return 0;
}

/* A pki used by a statement must be declared before it. */
static int
parse_pki_ref(const char *name, const char *what)
{
	if (config_pki_find(parse_conf, name) != NULL)
		return 0;
	parse_error("%s: pki \"%s\" is not declared (before this line)",
	    what, name);
	return -1;
}

/* tls protocols / ciphers: a non-empty word list in the given alphabet. */
static int
parse_tls_string(char *dst, const char *s, const char *what,
    const char *alphabet)
{
	if (s[0] == '\0' || strspn(s, alphabet) != strlen(s)) {
		parse_error("%s \"%s\": invalid characters", what, s);
		return -1;
	}
	if (strlcpy(dst, s, CONF_TLS_STRING_MAX) >= CONF_TLS_STRING_MAX) {
		parse_error("%s: too long", what);
		return -1;
	}
	return 0;
}

/* A next hop: a domain name, or an address in brackets. */
static int
parse_route_host_valid(const char *h)
{
	char		 addr[64];
	unsigned char	 bin[sizeof(struct in6_addr)];
	size_t		 len = strlen(h);

	if (h[0] != '[')
		return config_domain_valid(h);
	if (len < 3 || h[len - 1] != ']' || len - 2 >= sizeof(addr))
		return 0;
	memcpy(addr, h + 1, len - 2);
	addr[len - 2] = '\0';
	return inet_pton(AF_INET, addr, bin) == 1 ||
	    inet_pton(AF_INET6, addr, bin) == 1;
}

static int
parse_route(const char *domain, const char *host, int64_t port)
{
	struct route	*r, *o;

	if (strcmp(domain, "*") != 0 && !config_domain_valid(domain)) {
		parse_error("route \"%s\": not a domain name or \"*\"",
		    domain);
		return -1;
	}
	if (!parse_route_host_valid(host)) {
		parse_error("route %s via \"%s\": not a host name or "
		    "[address]", domain, host);
		return -1;
	}
	r = xcalloc(1, sizeof(*r));
	(void)strlcpy(r->domain, domain, sizeof(r->domain));
	text_lower(r->domain);
	(void)strlcpy(r->host, host, sizeof(r->host));
	r->port = port;
	TAILQ_FOREACH(o, &parse_conf->routes, entry)
		if (strcmp(o->domain, r->domain) == 0) {
			parse_error("route for %s given twice", r->domain);
			free(r);
			return -1;
		}
	TAILQ_INSERT_TAIL(&parse_conf->routes, r, entry);
	return 0;
}

/* "auth-plaintext" after a route: the route just added gets it. */
static void
parse_route_auth_plaintext(void)
{
	struct route	*r, *last = NULL;

	TAILQ_FOREACH(r, &parse_conf->routes, entry)
		last = r;
	if (last != NULL)
		last->auth_plaintext = 1;
}

/* local@domain with a plain local part: no quoting, no source route. */
static int
parse_double_bounce(const char *s)
{
	const char	*at = strrchr(s, '@'), *p;

	if (at == NULL || at == s || strlen(s) >= CONF_ADDR_MAX ||
	    !config_domain_valid(at + 1))
		goto bad;
	for (p = s; p < at; p++)
		if (*p <= ' ' || *p >= 0x7f || strchr("<>()[]\\,;:\"@", *p))
			goto bad;
	(void)strlcpy(parse_conf->double_bounce, s,
	    sizeof(parse_conf->double_bounce));
	return 0;
bad:
	parse_error("bounce double-bounce \"%s\": not an address like "
	    "postmaster@example.org", s);
	return -1;
}

/* Checks between statements, once the whole file is read. */
static int
parse_retry_check(void)
{
	if (parse_conf->queue_retry_max >= parse_conf->queue_retry_min)
		return 0;
	parse_errors++;
	log_warnx("%s:%d: queue retry-max %llds is less than retry-min %llds",
	    parse_retry_file, parse_retry_line,
	    (long long)parse_conf->queue_retry_max,
	    (long long)parse_conf->queue_retry_min);
	return -1;
}

static void
parse_reset(int verbose)
{
	parse_conf = config_new_nohost();
	parse_errors = 0;
	parse_verbose = verbose;
	parse_retry_line = 0;
	parse_retry_file = "?";
	lex_expand = NULL;
	lex_newline = 0;
	lex_last = '\n';
	lex_ntok = 0;
	lex_reported = 0;
	lex_tok[0] = lex_prev[0] = lex_first[0] = '\0';
}

/*
 * Parse from fp (closed here); the config, or NULL after any error.
 * With parse_no_files, a file a statement names (masquerade or generics
 * domains-file) is not read: a user's sendmail command needs none of
 * them, and they need not be readable by every user.
 */
static struct config *
parse_run(FILE *fp, const char *name, int verbose)
{
	struct config	*c;

	parse_reset(verbose);
	(void)parse_file_push(fp, name);
	if (yyparse() != 0 && parse_errors == 0)
		parse_errors++;
	(void)parse_retry_check();
	while (parse_cur != NULL)
		parse_file_pop();
	parse_macros_free();
	parse_strings_free();
	c = parse_conf;
	parse_conf = NULL;
	if (parse_errors > 0) {
		config_free(c);
		return NULL;
	}
	config_hostname_default(c);
	return c;
}

struct config *
config_parse_file(const char *path, int verbose)
{
	FILE	*fp;

	if ((fp = fopen(path, "r")) == NULL) {
		log_warn("%s", path);
		return NULL;
	}
	return parse_run(fp, path, verbose);
}

struct config *
config_parse_settings(const char *path)
{
	struct config	*c;

	parse_no_files = 1;
	c = config_parse_file(path, 0);
	parse_no_files = 0;
	return c;
}

struct config *
config_parse_buffer(const char *text, size_t len)
{
	static char	 empty[] = "\n";
	FILE		*fp;

	if (len == 0) {
		text = empty;
		len = 1;
	}
	if ((fp = fmemopen((void *)(uintptr_t)text, len, "r")) == NULL) {
		log_warn("fmemopen");
		return NULL;
	}
	return parse_run(fp, "(config)", 0);
}
