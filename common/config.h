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
#define CONF_LOAD_MAX		10000	/* limit load-*: a load average */

#include "paths.h"

/* LISTEN_F_* flags of a listener; the AUTH issue adds more. */
#define LISTEN_F_NONE		0x00
#define LISTEN_F_TLS		0x01	/* offer STARTTLS */
#define LISTEN_F_TLS_REQUIRE	0x02	/* no MAIL before STARTTLS */
#define LISTEN_F_SMTPS		0x04	/* implicit TLS (port 465) */
#define LISTEN_F_TLS_VERIFY	0x08	/* ask for a client certificate */
#define LISTEN_F_AUTH		0x10	/* offer AUTH (auth-optional) */
#define LISTEN_F_AUTH_REQUIRE	0x20	/* no MAIL before AUTH (auth) */
/* the sendmail command's unix socket (sendmail socket), never in a
 * listen statement: SO_PEERCRED names the user, no TLS, no AUTH */
#define LISTEN_F_LOCAL		0x40
/* Connection and load limits, listener options (issue 13): the
 * DaemonPortOptions modifier letters that have no flag above (a, A, S
 * are auth and the absence of auth and tls) */
#define LISTEN_F_FQDN_SENDER	0x0100	/* f: MAIL needs a domain */
#define LISTEN_F_UNQUALIFIED	0x0200	/* u: a bare user gets our hostname */
#define LISTEN_F_NO_ETRN	0x0400	/* E: no ETRN */
/* proxy-protocol { ... } (issue 17): a PROXY v1/v2 header before SMTP */
#define LISTEN_F_PROXY		0x0800
/* metrics: "show metrics" over HTTP (GET /metrics), no SMTP */
#define LISTEN_F_METRICS	0x1000

/* The AuthOptions letters (auth options), sendmail's meanings. */
#define AUTH_OPT_A		0x01	/* client: AUTH= on MAIL only if we
					 * authenticated */
#define AUTH_OPT_ACTIVE		0x02	/* a: no mechanisms open to active
					 * attacks */
#define AUTH_OPT_CREDS		0x04	/* c: mechanisms pass credentials */
#define AUTH_OPT_DICT		0x08	/* d: no dictionary attackable ones */
#define AUTH_OPT_FWD		0x10	/* f: forward secrecy */
#define AUTH_OPT_MUTUAL		0x20	/* m: mutual authentication */
#define AUTH_OPT_PLAIN		0x40	/* p: no plaintext mechanisms
					 * without TLS */
#define AUTH_OPT_ANON		0x80	/* y: no ANONYMOUS */

/* Password sources of smtpd-auth (auth sasldb / auth saslauthd). */
#define AUTH_SOURCE_SASLDB	0
#define AUTH_SOURCE_SASLAUTHD	1

#define CONF_AUTH_STRING_MAX	256

/* privacy: sendmail's PrivacyOptions flags, by their names there. */
#define PRIV_NEEDMAILHELO	0x0001
#define PRIV_NEEDEXPNHELO	0x0002
#define PRIV_NEEDVRFYHELO	0x0004
#define PRIV_NOEXPN		0x0008
#define PRIV_NOVRFY		0x0010
#define PRIV_AUTHWARNINGS	0x0020
#define PRIV_NORECEIPTS		0x0040
#define PRIV_NOVERB		0x0100
#define PRIV_RESTRICTMAILQ	0x1000
#define PRIV_RESTRICTQRUN	0x2000
#define PRIV_NOETRN		0x4000
#define PRIV_NOBODYRETURN	0x8000
#define PRIV_RESTRICTEXPAND	0x10000
#define PRIV_NOACTUALRCPT	0x20000
/* sendmail's goaway: the flags that hide something over SMTP */
#define PRIV_GOAWAY		(PRIV_NEEDMAILHELO | PRIV_NEEDEXPNHELO | \
	PRIV_NEEDVRFYHELO | PRIV_NOEXPN | PRIV_NOVRFY | PRIV_AUTHWARNINGS | \
	PRIV_NOVERB)
/* sendmail's cf default */
#define PRIV_DEFAULT		PRIV_AUTHWARNINGS

/* smtp banner: the greeting text after "220 ", at most this long */
#define CONF_BANNER_MAX		1024
/* what $v of the banner says */
#define SMTPD_VERSION		"0.9"

/* Names of certificates and keys (pki NAME) and of TLS settings. */
#define CONF_PKI_NAME_MAX	CONF_HOST_MAX
#define CONF_TLS_STRING_MAX	256

/*
 * "tls ciphers" when not set (or set to "default"): the listeners offer
 * only AEAD suites in TLS 1.2 (no CBC: no Lucky13-style padding oracle;
 * every TLS 1.3 suite is AEAD anyway).  The mta keeps libtls's broader
 * "secure", CBC included: its TLS is opportunistic, a handshake that
 * fails ends the connection, and a next hop that has only CBC suites is
 * better reached over CBC than not at all, or in plaintext.
 */
#define CONF_TLS_CIPHERS_DEFAULT	"default"
#define CONF_TLS_CIPHERS_SERVER	\
	"ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL"
#define CONF_TLS_CIPHERS_CLIENT	"secure"

/* An address or a prefix, "10.0.0.0/8" (proxy-protocol { ... }). */
struct conf_net {
	int			 af;		/* AF_INET or AF_INET6 */
	uint8_t			 addr[16];
	uint8_t			 bits;
};

#define CONF_PROXY_MAX		16	/* trusted proxies per listener */

/* Milters (issue 16): filter NAME SOCKET [on-failure ...] [timeouts ...],
 * and the ordered list of a listener's ("listen ... filter NAME"). */
#define CONF_FILTER_MAX		8
#define CONF_FILTER_NAME_MAX	32

/* What a failed filter costs: sendmail's F=T (the default), F=R, none. */
enum conf_filter_fail {
	CONF_FILTER_TEMPFAIL = 0,
	CONF_FILTER_REJECT,
	CONF_FILTER_ACCEPT
};

struct conf_filter {
	char			 name[CONF_FILTER_NAME_MAX];
	/* as written: "inet:PORT@ADDR", "unix:/PATH" or "local:/PATH" */
	char			 socket[CONF_HOST_MAX + 16];
	/* AF_UNIX for a unix socket, which only the parent connects */
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	enum conf_filter_fail	 on_failure;
	/* sendmail's T=C:S:R:E, seconds: connect, send, reply, end of
	 * message */
	int			 timeout_connect;
	int			 timeout_send;
	int			 timeout_reply;
	int			 timeout_eom;
};

struct listener {
	TAILQ_ENTRY(listener)	 entry;
	/* "addr:port" with IPv6 addresses in brackets, for logs */
	char			 name[80];
	char			 addr[64];
	uint16_t		 port;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	uint32_t		 flags;
	/* pki NAME: the default certificate of this listener; "" = the
	 * first pki (a client's SNI may still pick another) */
	char			 pki[CONF_PKI_NAME_MAX];
	/* max-sessions N (MaxDaemonChildren), connection-rate N per second
	 * (ConnectionRateThrottle); 0: none */
	uint32_t		 max_sessions;
	uint32_t		 connection_rate;
	/* proxy-protocol { ... }: the peers whose PROXY header is taken */
	struct conf_net		 proxies[CONF_PROXY_MAX];
	size_t			 nproxies;
	/* filter NAME ...: indices into config filters[], in order */
	uint8_t			 filters[CONF_FILTER_MAX];
	size_t			 nfilters;
};

/* pki NAME cert FILE key FILE: read by the parent, used by tlsproxy. */
struct pki {
	TAILQ_ENTRY(pki)	 entry;
	/* a host name; a client's SNI equal to it selects this pki */
	char			 name[CONF_PKI_NAME_MAX];
	char			 cert_file[PATH_MAX];
	char			 key_file[PATH_MAX];
};

/* route DOMAIN via HOST [port N]: a static next hop, no MX lookup. */
struct route {
	TAILQ_ENTRY(route)	 entry;
	/* lowercased; "*" is the default route (smarthost) */
	char			 domain[CONF_HOST_MAX];
	/* a name, or an address in brackets: "[127.0.0.1]" skips DNS */
	char			 host[CONF_HOST_MAX];
	uint16_t		 port;
	/* auth-plaintext: the mta may AUTH to host without TLS */
	int			 auth_plaintext;
};

/* dnsbl ZONE ...: a DNS blocklist the front end asks about each client
 * (sendmail's FEATURE(dnsbl) and FEATURE(enhdnsbl)) */
#define CONF_DNSBL_ANSWERS_MAX	8
#define CONF_DNSBL_TEXT_MAX	256
enum dnsbl_action {
	DNSBL_REJECT = 0,	/* 550 5.7.1 Rejected: ADDR listed at ZONE */
	DNSBL_QUARANTINE,	/* accepted, held: "listed at ZONE" */
	DNSBL_DISCARD		/* accepted, dropped */
};
/* an A answer that counts as listed: addr/bits (host order) */
struct dnsbl_answer {
	uint32_t		 addr;
	uint8_t			 bits;
};
struct dnsbl {
	TAILQ_ENTRY(dnsbl)	 entry;
	char			 zone[CONF_HOST_MAX];	/* lowercased */
	/* message "TEXT": the text of the 550 instead of sendmail's */
	char			 message[CONF_DNSBL_TEXT_MAX];
	enum dnsbl_action	 action;
	/* tempfail (sendmail's "t"): a failed lookup gives 451 */
	int			 tempfail;
	/* answer A[/N]: only these count; none: any A record */
	struct dnsbl_answer	 answers[CONF_DNSBL_ANSWERS_MAX];
	size_t			 nanswers;
};

/* local users: who is a local user (smtpd.conf(5)) */
enum local_users {
	LOCAL_USERS_PASSWD = 0,	/* the system's passwd (getpwnam) */
	LOCAL_USERS_MAP		/* the local-users map only */
};
#define CONF_ALIAS_EXPANSION_MAX	10000
#define CONF_ALIAS_DEPTH_MAX		100

/* local delivery METHOD [ARG] [rcpt user|address] [for user NAME | for
 * domain NAME] */
enum local_method {
	LOCAL_METHOD_MBOX = 0,	/* local mailbox-dir/USER */
	LOCAL_METHOD_MAILDIR,	/* ARG: the Maildir, "~/" the home */
	LOCAL_METHOD_MDA,	/* ARG: the command line, %-expanded */
	LOCAL_METHOD_LMTP	/* ARG: "unix:PATH", "HOST:PORT" */
};
enum local_scope {
	LOCAL_SCOPE_DEFAULT = 0,
	LOCAL_SCOPE_USER,
	LOCAL_SCOPE_DOMAIN
};
/* local root-mail: mail for uid 0 that no alias sent elsewhere */
enum local_root_mail {
	LOCAL_ROOT_DEFER = 0,	/* kept queued, 4.3.0 (until queue lifetime) */
	LOCAL_ROOT_BOUNCE	/* bounced at once, 5.7.1 */
};
#define CONF_LOCAL_ARG_MAX	1024
/* a masquerade list (domains, exposed users, exceptions), all its names */
#define CONF_MASQ_LIST_MAX	8192
/* which list config_masq_list_add() fills */
enum config_masq_list {
	CONF_MASQ_DOMAINS = 0,
	CONF_MASQ_EXPOSED,
	CONF_MASQ_EXCEPTIONS,
	CONF_MASQ_GENERICS	/* generics domains */
};
#define CONF_LOCAL_USER_MAX	256

struct local_delivery {
	TAILQ_ENTRY(local_delivery) entry;
	enum local_method	 method;
	char			 arg[CONF_LOCAL_ARG_MAX];	/* "" none */
	enum local_scope	 scope;
	/* the user, or the domain (lowercased); "" for the default */
	char			 name[CONF_HOST_MAX];
	/* lmtp: RCPT TO the address the mail was sent to ("rcpt
	 * address"), not the mailbox name ("rcpt user", the default) */
	int			 lmtp_rcpt_address;
};

/* the longest libpq conninfo string of `database postgresql` */
#define CONF_CONNINFO_MAX	1024

struct config {
	/* bumped on every reload so replies can be matched to a config */
	uint32_t		 generation;

	char			 hostname[CONF_HOST_MAX];
	char			 queue_path[PATH_MAX];
	char			 control_path[PATH_MAX];
	char			 database_path[PATH_MAX];
	/* database postgresql "CONNINFO": the maps live there; "": SQLite */
	char			 database_conninfo[CONF_CONNINFO_MAX];

	/* resolver ADDR [port N]; unset: the servers of /etc/resolv.conf */
	int			 resolver_set;
	char			 resolver_addr[64];
	uint16_t		 resolver_port;
	/* dnssec trust-anchor FILE: the keys DNSSEC answers are validated
	 * from (smtpctl tlsa check) */
	char			 dnssec_anchor[PATH_MAX];

	TAILQ_HEAD(, listener)	 listeners;
	TAILQ_HEAD(, route)	 routes;
	TAILQ_HEAD(dnsbl_head, dnsbl) dnsbls;	/* in file order */

	/* limit ... */
	size_t			 limit_message_size;	/* 35 MiB */
	size_t			 limit_recipients;	/* 100 per message */
	size_t			 limit_errors;		/* 10 per session */
	size_t			 limit_command_line;	/* 512 octets */
	size_t			 limit_text_line;	/* 1000 octets */
	size_t			 limit_sessions;	/* 1024 at once */
	size_t			 limit_sessions_per_address;	/* 50 at once */
	size_t			 limit_messages;	/* 1000 per session */
	/* NOOP, RSET, VRFY, EXPN, HELP, VERB, ETRN since the last accepted
	 * message */
	size_t			 limit_junk_commands;	/* 100 */
	/* octets per second that earn a DATA/BDAT body more time, 0: off */
	size_t			 limit_data_rate;	/* 500 */
	/* aliasing and virtusertable levels (sendmail's MaxAliasRecursion) */
	size_t			 limit_alias_depth;	/* 10 */
	/* final recipients one RCPT may expand to (Postfix's
	 * virtual_alias_expansion_limit) */
	size_t			 limit_alias_expansion;	/* 1000 */
	/* Connection and load limits (issue 13): ClientRate's default,
	 * connections per address in 60 s, 0: none; BadRcptThrottle, 0:
	 * off; RefuseLA, QueueLA, DelayLA, -1: off */
	size_t			 limit_connection_rate_per_address;
	size_t			 limit_bad_rcpt_throttle;
	int64_t			 limit_load_refuse;
	int64_t			 limit_load_queue;
	int64_t			 limit_load_delay;

	/* timeout ... (seconds) */
	int			 timeout_command;	/* 300 */
	int			 timeout_data;		/* 600, per DATA/BDAT */
	int			 timeout_session;	/* 3600 */

	/* policy ...: the access_db options of sendmail's cf (smtpd-maps(5)) */
	int			 policy_skip;		/* on: SKIP ends D/A */
	int			 policy_lookupdotdomain;	/* off: ".rest" keys */
	int			 policy_delay_checks;	/* off: FEATURE(delay_checks) */
	int			 policy_blacklist_recipients;	/* on: To: checks */
	int			 policy_tls_perm_error;	/* off: TLS_PERM_ERR */

	/* local ...: mail for this host (smtpd.conf(5), smtpd-maps(5)) */
	char			 local_aliases[PATH_MAX];	/* /etc/aliases */
	/* where smtpd-local keeps the mbox of each user */
	char			 local_mailbox_dir[PATH_MAX];	/* /var/mail */
	int			 local_users;		/* LOCAL_USERS_PASSWD */
	/* local delivery ...: at most one per scope (config_local.c) */
	TAILQ_HEAD(, local_delivery) local_deliveries;
	/* local default-user: programs and files of aliases run as this
	 * user; "": "mail" if the system has it, else "nobody" */
	char			 local_default_user[CONF_LOCAL_USER_MAX];
	/* local smrsh-dir: the only programs a |program target may run */
	char			 local_smrsh_dir[PATH_MAX];	/* /etc/smrsh */
	/* local safe-file-dir: /file targets only under it; "" anywhere */
	char			 local_safe_file_dir[PATH_MAX];
	/* local root-mail: never delivered as uid 0; kept or bounced */
	enum local_root_mail	 local_root_mail;	/* LOCAL_ROOT_DEFER */

	/* smtp ... */
	int			 smtp_greeting_delay;	/* 0 seconds */
	/* privacy FLAGS (smtp vrfy/expn no: novrfy/noexpn): PRIV_* bits */
	uint32_t		 privacy;		/* PRIV_DEFAULT */
	/* smtp banner: "" the default greeting; macros $j $v $b $$ */
	char			 smtp_banner[CONF_BANNER_MAX];
	/* 554 and close on commands pipelined after HELO */
	int			 smtp_forbid_pipelining;	/* yes */

	/* queue ... (seconds) */
	time_t			 queue_lifetime;	/* 5 days */
	/* queue quarantine-lifetime: held mail is removed this long after
	 * its arrival */
	time_t			 queue_quarantine_lifetime;	/* 30 days */
	time_t			 queue_delay_warning;	/* 4 hours */
	time_t			 queue_retry_min;	/* 5 minutes */
	time_t			 queue_retry_max;	/* 1 hour */
	/* queue min-free: octets kept free in the spool, else MAIL gets 452 */
	size_t			 queue_min_free;	/* 100 MiB */

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
	/* mta mta-sts: fetch and apply RFC 8461 policies (mta_sts.c) */
	int			 mta_sts;		/* 0 */

	/* TLS (tlsproxy(8)) */
	TAILQ_HEAD(, pki)	 pkis;			/* in file order */
	char			 tls_ca_file[PATH_MAX];	/* ca file; "" none */
	char			 tls_ca_path[PATH_MAX];	/* ca path; "" none */
	char			 mta_pki[CONF_PKI_NAME_MAX]; /* "": no cert */
	/* mta dane yes|no: look up TLSA records of MX hosts from DNSSEC
	 * answers validated with dnssec trust-anchor (off by default) */
	int			 mta_dane;
	/* libtls syntax, see tls_config_parse_protocols(3) */
	char			 tls_protocols[CONF_TLS_STRING_MAX]; /* secure */
	/* CONF_TLS_CIPHERS_DEFAULT: each side its own default, below */
	char			 tls_ciphers[CONF_TLS_STRING_MAX];   /* default */
	int			 tls_processes;		/* 1 */
	int			 timeout_tls_handshake;	/* 30 */
	int			 timeout_tls_idle;	/* 900 */
	int			 tls_session_lifetime;	/* 3600, 0 off */

	/* AUTH (smtpd-auth(8)) */
	/* auth mechanisms: offered if the library has them */
	char			 auth_mechanisms[CONF_AUTH_STRING_MAX];
	/* auth trust: TRUST_AUTH_MECH, "" = authenticating grants nothing */
	char			 auth_trust[CONF_AUTH_STRING_MAX];
	/* auth options: the text as given ("p,y"), and its AUTH_OPT_* */
	char			 auth_options[CONF_AUTH_STRING_MAX];
	uint32_t		 auth_opts;
	/* auth sasldb PATH | auth saslauthd PATH */
	int			 auth_source;		/* sasldb */
	char			 auth_source_path[PATH_MAX]; /* /etc/sasldb2 */
	int			 auth_max_failures;	/* 3 per session */
	size_t			 auth_line_max;		/* 12288 octets */
	/* smtp reverse-dns, smtp dns-timeout: the client's PTR name */
	int			 smtp_reverse_dns;	/* yes */
	int			 smtp_dns_timeout;	/* 5 seconds */

	/* sendmail ...: the sendmail command's local submission (sendmail(8)) */
	char			 sendmail_socket[PATH_MAX];	/* PATH_SUBMIT */
	char			 sendmail_drop_dir[PATH_MAX];	/* PATH_OFFLINE */
	/* users who may set the envelope sender without a warning, beside
	 * root and the front end's user: names, comma or space separated */
	char			 sendmail_trusted[CONF_AUTH_STRING_MAX];	/* "" */
	/* sendmail filter NAME: the milters of local submissions, in
	 * order; indices into filters[] */
	uint8_t			 sendmail_filters[CONF_FILTER_MAX];
	size_t			 sendmail_nfilters;

	/* masquerade ...: the identity of mail as it is received
	 * (config_masq.c, smtpd.conf(5)); lists are space separated,
	 * lowercased */
	char			 masq_as[CONF_HOST_MAX];	/* "": off */
	/* MASQUERADE_DOMAIN, with the domains-file's names added */
	char			 masq_domains[CONF_MASQ_LIST_MAX];
	char			 masq_exposed[CONF_MASQ_LIST_MAX];	/* users */
	char			 masq_exceptions[CONF_MASQ_LIST_MAX];
	int			 masq_entire_domain;	/* no */
	int			 masq_envelope;		/* no: MAIL FROM kept */
	int			 masq_recipients;	/* no: To:, Cc: kept */
	int			 masq_limited;		/* no: our names too */

	/* generics ...: the genericstable's domains (sendmail's class {G},
	 * config_masq.c); "": the genericstable is not used */
	char			 generics_domains[CONF_MASQ_LIST_MAX];
	int			 generics_entire_domain;	/* no */
	/* milters (issue 16) */
	struct conf_filter	 filters[CONF_FILTER_MAX];
	size_t			 nfilters;
};

struct config	*config_new(void);
void		 config_free(struct config *);
/* Parse a file (with include and macros); NULL and errors on stderr/log. */
struct config	*config_parse_file(const char *path, int verbose);
/* Parse canonical text received from the parent. */
struct config	*config_parse_buffer(const char *text, size_t len);
/* config_parse_file() without reading the files statements name. */
struct config	*config_parse_settings(const char *path);
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
/* The pki of that name, or NULL. */
const struct pki *config_pki_find(const struct config *, const char *);
/* Parse AuthOptions letters into AUTH_OPT_* bits; unknown letters are
 * stored in *unknown (one at a time, the last one, 0 if none). */
uint32_t	 config_auth_options(const char *, int *unknown);
/* 1 if the word is in the space separated list (ASCII case ignored). */
int		 config_word_in(const char *list, const char *word);
/* 1 if a route with auth-plaintext names host (brackets ignored). */
int		 config_route_auth_plaintext(const struct config *,
		    const char *host);
/* 1 if some listener offers AUTH. */
int		 config_auth_used(const struct config *);
/* config_self.c: is a next hop this host (a listener of ours)? */
/* 1 if a listener uses port, on any address. */
int		 config_listener_port_used(const struct config *, uint16_t);
/* 1 if a connection to the address of sa (its port ignored) at port
 * reaches a listener: one bound to that address, or a wildcard one when
 * the address is loopback or local (the caller knows it is an interface
 * address). */
int		 config_listener_reached(const struct config *,
		    const struct sockaddr *, uint16_t port, int local);
/* config_privacy.c: privacy flags and the smtp banner. */
/* The PRIV_* bit of a flag name (ASCII case ignored); 0 if unknown. */
uint32_t	 config_privacy_flag(const char *);
void		 config_privacy_dump(const struct config *, FILE *);
/* The banner with its macros expanded ($b from now); -1 if the template
 * has an unknown macro or the text does not fit. */
int		 config_banner_expand(const char *tmpl, const char *hostname,
		    time_t now, char *out, size_t size);
/* config_auth.c: the AUTH defaults and their canonical text. */
void		 config_auth_defaults(struct config *);
void		 config_auth_dump(const struct config *, FILE *);
void		 config_dump_quoted(FILE *, const char *);
/* config_proxy.c: the trusted proxies of a listener (proxy-protocol). */
int		 config_net_parse(const char *, struct conf_net *);
void		 config_net_format(const struct conf_net *, char *, size_t);
int		 config_net_match(const struct conf_net *, size_t,
		    const struct sockaddr_storage *);
const struct listener *config_listener_find(const struct config *,
		    const char *name);

/* config_dnsbl.c: the DNS blocklists (dnsbl ZONE ...). */
void		 config_dnsbl_free(struct config *);
void		 config_dnsbl_dump(const struct config *, FILE *);
/* A zone at the end of the list; -1 with a message in err. */
int		 config_dnsbl_add(struct config *, const char *zone, char *err,
		    size_t errlen);
/* "A" or "A/N" for the last zone added; -1 with a message in err. */
int		 config_dnsbl_answer_add(struct config *, const char *,
		    char *err, size_t errlen);
/* The query name of an address in a zone: "4.3.2.1.ZONE" for IPv4, the
 * 32 nibbles of an IPv6 address lowest first (RFC 5782); -1 if addr is
 * not an IP address or the name does not fit. */
int		 config_dnsbl_qname(const char *addr, const char *zone,
		    char *qname, size_t);
/* The reply to a client the zone lists, or (temp) whose lookup failed
 * in a tempfail zone: sendmail's texts, or the message with its
 * ${client_addr} replaced, its own reply code and enhanced status if it
 * starts with them (spec 2.1), else 550 and 5.7.1. */
void		 config_dnsbl_reply(const struct dnsbl *, const char *addr,
		    int temp, char *buf, size_t);
/* That reply at RCPT (delay-checks): "<rcpt>... " after the enhanced
 * status of a 450, 550 or 553 (spec 2.1 step 3). */
void		 config_dnsbl_reply_rcpt(const char *reply, const char *rcpt,
		    char *buf, size_t);
/* 1 if the A record (4 octets, network order) counts as listed. */
int		 config_dnsbl_listed(const struct dnsbl *, const uint8_t *);
/* config_local.c: the local delivery rules. */
void		 config_local_init(struct config *);
void		 config_local_free(struct config *);
void		 config_local_dump(const struct config *, FILE *);
/* Add the rule of "local delivery WORDS..."; -1 with a message in err. */
int		 config_local_delivery_add(struct config *, char *const *words,
		    size_t nwords, char *err, size_t errlen);
/* The rule for a delivery: the user's, else the domain's (any case),
 * else the default one; NULL: mbox.  domain may be NULL. */
const struct local_delivery *config_local_delivery_find(
		    const struct config *, const char *user,
		    const char *domain);
const char	*config_local_method_name(enum local_method);
/* config_masq.c: the masquerade settings. */
void		 config_masq_dump(const struct config *, FILE *);
/* Add the space separated names of s to a list; -1 with a message. */
int		 config_masq_list_add(struct config *, enum config_masq_list,
		    const char *s, char *err, size_t errlen);
/* Add the domains of a file (MASQUERADE_DOMAIN_FILE) to the list. */
int		 config_masq_file_add(struct config *, const char *path,
		    char *err, size_t errlen);
/* The generics settings, in config_masq.c too: their dump, and the
 * domains of a file (GENERICS_DOMAIN_FILE) onto "generics domains". */
void		 config_generics_dump(const struct config *, FILE *);
int		 config_generics_file_add(struct config *, const char *path,
		    char *err, size_t errlen);
/* 1 if name is in the list or, with subdomains, under one of its names. */
int		 config_masq_in(const char *list, const char *name,
		    size_t len, int subdomains);

/* config_milter.c: the milters (issue 16). */
void		 config_milter_dump(const struct config *, FILE *);
/* A filter at the end of the list; -1 with a message in err. */
int		 config_milter_add(struct config *, const char *name,
		    const char *socket, char *err, size_t errlen);
/* The index of the named filter, -1 if there is none. */
int		 config_milter_find(const struct config *, const char *name);

#endif
