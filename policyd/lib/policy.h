/*
 * policy.h: the modules of smtpd-policyd below its main file.
 *
 *   policy_probe.c	the key sequences of sendmail's access-map lookups
 *			(D, A, F, U, E, mailertable), mailbox splitting and
 *			%1 substitution in values: pure functions
 *   policy_reply.c	SMTP replies from access-map right-hand sides
 *   policy_access.c	the connect, MAIL and RCPT decisions
 *   policy_entry.c	checks of one access-map entry before it is stored
 *   policy_tls.c	the TLS rulesets: TLS_Clt, TLS_Srv, TLS_Rcpt,
 *			Try_TLS, Srv_Features, CERTISSUER/CERTSUBJECT
 *   policy_local.c	this host's domains ({w}) and virtual-only ones
 *   policy_resolve.c	what a recipient becomes: virtusertable, aliases,
 *			local users, routes (the final recipients)
 *   policy_route.c	the next hop of a domain (mailertable, routes)
 *   policy_query.c	decoding and checking of IMSG_POLICY_QUERY
 *   policy_store.c	the database as seen from inside the chroot
 *   policy_authinfo.c	the authinfo map: the mta's credentials for a
 *			next hop (checked, masked, looked up)
 *   policy_alias.c	the items of an aliases list (aliases(5) syntax)
 *   policy_generics.c	the genericstable: an address's outbound form
 *
 * The decisions follow /work/shared/spec/sendmail-policy.md ("spec" in
 * comments); the man page smtpd-maps(5) documents them for admins.
 */
#ifndef POLICY_H
#define POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "policy_db.h"
#include "proto.h"

struct config;
struct imsg;

/* probe flags */
#define POLICY_PROBE_UNTAGGED	0x01	/* mode '+': also the bare key */
#define POLICY_PROBE_DOTDOMAIN	0x02	/* lookupdotdomain: ".rest" keys */

/* sizes of query fields and reply texts */
#define POLICY_ADDR_MAX		64	/* "IPv6:" and 8 full groups */
#define POLICY_NAME_MAX		256
#define POLICY_PATH_MAX		1024
#define POLICY_TEXT_MAX		2200	/* "<addr>... " and a value */
#define POLICY_ENH_MAX		16

/* An ordered list of probe keys; nomem is set if an add failed. */
struct policy_keys {
	char		**key;
	size_t		  n;
	size_t		  cap;
	int		  nomem;
};

/* A checked IMSG_POLICY_QUERY; addresses in canonical form. */
struct policy_query {
	uint32_t	 kind;
	/* "192.0.2.1" or "IPv6:2001:db8:0:0:0:0:0:1" (spec 1.4) */
	char		 addr[POLICY_ADDR_MAX];
	/* lowercased PTR name without trailing dot, or "[addr]" */
	char		 name[POLICY_NAME_MAX];
	char		 helo[POLICY_NAME_MAX];
	/* mailboxes without angle brackets; "" for <> */
	char		 sender[POLICY_PATH_MAX];
	char		 rcpt[POLICY_PATH_MAX];
	char		 auth[POLICY_NAME_MAX];
	char		 verify[POLICY_NAME_MAX];
	/* ${auth_type}, ${auth_ssf} */
	char		 auth_mech[POLICY_NAME_MAX];
	uint32_t	 auth_ssf;
	/* ${tls_version}, ${cipher_bits} */
	char		 tls_version[POLICY_NAME_MAX];
	uint32_t	 cipher_bits;
	/* ${cert_subject}, ${cert_issuer}, ${cn_subject}: +XX encoded */
	char		 cert_subject[TLS_MACRO_LEN + 1];
	char		 cert_issuer[TLS_MACRO_LEN + 1];
	char		 cn_subject[TLS_MACRO_LEN + 1];
	/* ${client_resolve}: "OK", "FAIL", "FORGED", "TEMP"; "" if the
	 * front end did not look the name up (nothing is refused then) */
	char		 resolve[16];
};

/*
 * What a recipient resolves to (policy_resolve.c): the final recipients
 * queued for it.  value: the address (remote), "user" or "user+detail"
 * (mailbox), "|command", "/path", ":include:/path", or the address that
 * failed (error); sender: the envelope sender for it ("owner-list@host"),
 * "" for the message's own; error: the reply line of a failed one.
 */
struct policy_target {
	uint32_t	 kind;		/* enum target_kind */
	char		*value;
	char		*sender;
	char		*error;
};
struct policy_targets {
	struct policy_target	*t;
	size_t			 n;
	size_t			 cap;
};
/* policy_resolve() results */
#define POLICY_RESOLVE_OK	0
#define POLICY_RESOLVE_TMPF	1	/* a map or passwd failed: 451 */
#define POLICY_RESOLVE_PENDING	2	/* a user lookup is under way */
#define POLICY_RESOLVE_TOOMANY	3	/* over limit alias-expansion */

/* An IMSG_POLICY_RESULT being built. */
struct policy_result {
	uint32_t	 verdict;	/* enum policy_verdict */
	uint32_t	 flags;		/* POLICY_F_* */
	uint32_t	 code;		/* 0 when accepted */
	char		 enhanced[POLICY_ENH_MAX];
	char		 text[POLICY_TEXT_MAX];
	/* the access-map key that decided, "" if none (for logs) */
	char		 key[POLICY_KEY_MAX + 1];
	/* the ruleset that refused, when not the query's own (for logs) */
	const char	*ruleset;
	/* rcpt: the address to queue in place of the one given, when the
	 * %-hack rewrote it; "" if unchanged */
	char		 rcpt[POLICY_PATH_MAX];
	/* connect: the Srv_Features letters (POLICY_FEATURE bits) */
	uint32_t	 features_set;
	uint32_t	 features_clear;
	/* rcpt: the final recipients (policy_resolve.c) when accepted */
	struct policy_targets targets;
	/* rcpt: a local user is being looked up; ask again when answered */
	int		 pending;
	/* connect: ClientConn: and ClientRate: (policy_limit.c) */
	uint32_t	 client_conn;
	uint32_t	 client_rate;
};

/* An IMSG_POLICY_ROUTE_RESULT being built. */
struct policy_route {
	uint32_t	 kind;		/* enum route_kind */
	uint32_t	 flags;		/* ROUTE_F_* */
	/* mailertable "mailer:user@host": the recipient to send instead;
	 * "local:user": the local user; "" otherwise */
	char		 user[POLICY_PATH_MAX];
	char		 host[POLICY_NAME_MAX];
	uint32_t	 port;
	uint32_t	 code;
	char		 text[POLICY_TEXT_MAX];
};

/*
 * Observers of a decision (smtpctl explain): probe() after every map
 * lookup, in order, with its POLICY_DB_* result and the value found
 * (NULL if none; "" for a member of a set map); step() when a decision
 * starts one of its named steps ("D +Connect on h", "Relay_ok").
 */
struct policy_trace {
	void		(*probe)(void *arg, const char *map, const char *key,
			    int result, const char *value);
	void		(*step)(void *arg, const char *what);
	void		 *arg;
};

/* What env->user_exists answers besides 1 (a user) and 0 (none). */
#define POLICY_USER_TMPF	(-1)	/* passwd could not be read */
#define POLICY_USER_PENDING	(-2)	/* asked; ask again when answered */

/* Where the maps come from for one decision. */
struct policy_env {
	struct policy_db *db;		/* NULL: no database, maps empty */
	int		  dbfail;	/* database unusable: every lookup TMPF */
	const char	 *hostname;	/* always a local domain */
	/* access_db's "skip": SKIP ends a D or A probe as "not found" */
	int		  skip;
	/* lookupdotdomain: D also probes ".rest" keys (spec 1.2 step 2) */
	int		  dotdomain;
	/* FEATURE(delay_checks): check_mail and check_relay at RCPT */
	int		  delay_checks;
	/* FEATURE(blacklist_recipients): the To: checks of a recipient */
	int		  blacklist;
	/* TLS_PERM_ERR: a TLS requirement without prefix fails with 503 */
	int		  tls_perm_error;
	const struct policy_trace *trace;	/* NULL: nobody watches */
	/* the config (listeners, limits, local users); NULL: none */
	const struct config *cf;
	/* `local users passwd`: is this a user of the system? */
	int		(*user_exists)(void *arg, const char *user);
	void		 *user_arg;
	/* a store that answers lookups itself (policyd's PostgreSQL
	 * client); NULL: db and dbfail say */
	int		(*lookup)(void *arg, const char *map, const char *key,
			    char *value, size_t valuelen);
	void		 *lookup_arg;
};

/* policy_probe.c */
void	policy_keys_init(struct policy_keys *);
void	policy_keys_free(struct policy_keys *);
int	policy_keys_add(struct policy_keys *, const char *tag, const char *);
int	policy_probe_domain(struct policy_keys *, const char *tag,
	    const char *host, int flags);
int	policy_probe_addr(struct policy_keys *, const char *tag,
	    const char *addr, int flags);
int	policy_probe_full(struct policy_keys *, const char *tag,
	    const char *mailbox, int flags);
int	policy_probe_user(struct policy_keys *, const char *tag,
	    const char *local, int flags);
int	policy_probe_exact(struct policy_keys *, const char *tag,
	    const char *, int flags);
int	policy_probe_mailertable(struct policy_keys *, const char *host);
int	policy_probe_tagdefault(struct policy_keys *, const char *tag,
	    const char *name, const char *addr);
int	policy_addr_canon(const char *, char *, size_t);
void	policy_mailbox_split(const char *mailbox, char *local,
	    size_t locallen, const char **domain);
int	policy_value_subst(const char *value, const char *const *args,
	    size_t nargs, char *out, size_t outlen);
int	policy_name_canon(const char *, char *, size_t);

/* Access-map right-hand sides (spec 2.2). */
enum policy_rhs {
	POLICY_RHS_OK,
	POLICY_RHS_RELAY,
	POLICY_RHS_REJECT,
	POLICY_RHS_DISCARD,
	POLICY_RHS_SKIP,	/* honoured only by D and A at connect */
	POLICY_RHS_ERROR,	/* "ERROR:..." or the old "ddd text" */
	POLICY_RHS_UNKNOWN,
	POLICY_RHS_QUARANTINE	/* "QUARANTINE:text": hold the message */
};

/* policy_reply.c */
enum policy_rhs policy_rhs_parse(const char *, const char **body);
void	policy_result_accept(struct policy_result *, uint32_t flags,
	    const char *key);
void	policy_result_reply(struct policy_result *, const char *mailbox,
	    uint32_t code, const char *enhanced, const char *text);
void	policy_result_tempfail(struct policy_result *);
void	policy_result_quarantine(struct policy_result *, const char *reason,
	    const char *key);
void	policy_result_error(struct policy_result *, const char *mailbox,
	    const char *body);
int	policy_reply_parse(const char *body, int keyword, uint32_t *code,
	    char *enhanced, size_t enhlen, char *text, size_t textlen);

/* policy_limit.c */
int	policy_limit_parse(const char *, uint32_t *);
void	policy_limit_client(const struct policy_env *,
	    const struct policy_query *, struct policy_result *);

/* policy_access.c */
void	policy_env_init(struct policy_env *, struct policy_db *, int dbfail,
	    const char *hostname);
void	policy_env_configure(struct policy_env *, const struct config *);
int	policy_env_dflags(const struct policy_env *, int flags);
void	policy_env_step(const struct policy_env *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
int	policy_env_lookup(const struct policy_env *, const char *map,
	    const char *key, char *value, size_t valuelen);
int	policy_env_search(const struct policy_env *, const char *map,
	    const struct policy_keys *, char *value, size_t valuelen,
	    char *matched, size_t matchedlen);
int	policy_env_search_da(const struct policy_env *, struct policy_keys *,
	    char *value, size_t valuelen, char *key, size_t keylen);
void	policy_access_connect(const struct policy_env *,
	    const struct policy_query *, struct policy_result *);
void	policy_access_mail(const struct policy_env *,
	    const struct policy_query *, struct policy_result *);
void	policy_access_rcpt(const struct policy_env *,
	    const struct policy_query *, struct policy_result *);
void	policy_access_check(const struct policy_env *,
	    const struct policy_query *, struct policy_result *);
void	policy_access_log(const struct policy_query *,
	    const struct policy_result *);

/* A TLS requirement (spec 3.2) and its extensions. */
#define POLICY_TLS_EXT_MAX	8
enum policy_tls_ext_kind {
	POLICY_TLS_EXT_CN_NAME,	/* "CN": ${cn_subject} is the peer name */
	POLICY_TLS_EXT_CN,	/* "CN:name" */
	POLICY_TLS_EXT_CS,	/* "CS:dn": ${cert_subject} */
	POLICY_TLS_EXT_CI	/* "CI:dn": ${cert_issuer} */
};
struct policy_tls_ext {
	enum policy_tls_ext_kind kind;
	char			 arg[POLICY_VALUE_MAX + 1];
};
#define POLICY_TLS_DEFAULT	0	/* no prefix: 403 4.7.0 */
#define POLICY_TLS_PERM		1	/* PERM+: 503 5.7.0 */
#define POLICY_TLS_TEMP		2	/* TEMP+: 403 4.7.0 */
struct policy_tls_req {
	int			 errors;	/* POLICY_TLS_DEFAULT ... */
	int			 verify;	/* VERIFY[:bits], else ENCR */
	uint32_t		 bits;
	size_t			 next;
	struct policy_tls_ext	 ext[POLICY_TLS_EXT_MAX];
};

/* What a TLS ruleset judges; all strings are the macro values. */
struct policy_tls_facts {
	const char	*verify;
	uint32_t	 cipher_bits;
	uint32_t	 auth_ssf;
	const char	*cn_subject;
	const char	*cert_subject;
	const char	*cert_issuer;
	const char	*tls_name;	/* {TLS_Name}: the peer's name */
	int		 perm_error;	/* TLS_PERM_ERR: no prefix = 503 */
};

/* policy_tls.c */
int	policy_tls_req_parse(const char *, struct policy_tls_req *);
void	policy_tls_req_check(const char *rhs, int nomap,
	    const struct policy_tls_facts *, struct policy_result *);
void	policy_tls_facts_from(const struct policy_query *,
	    struct policy_tls_facts *);
int	policy_tls_lookup(const struct policy_env *, const char *tag,
	    const char *name, const char *addr, char *value, size_t valuelen,
	    char *key, size_t keylen);
void	policy_tls_peer(const struct policy_env *, const char *tag,
	    const struct policy_query *, struct policy_result *);
void	policy_tls_rcpt(const struct policy_env *,
	    const struct policy_query *, struct policy_result *);
void	policy_tls_try(const struct policy_env *,
	    const struct policy_query *, struct policy_result *);
/* The server's Clt_Features letters d, m into res->features_set (the
 * answer to a Try_TLS question carries them). */
void	policy_tls_clt_features(const struct policy_env *,
	    const struct policy_query *, struct policy_result *);
int	policy_tls_features_parse(const char *, uint32_t *set,
	    uint32_t *clear);
void	policy_tls_features(const struct policy_env *,
	    const struct policy_query *, struct policy_result *);
int	policy_tls_relay(const struct policy_env *,
	    const struct policy_query *, char *key, size_t keylen);

/* policy_local.c: 1 local / virtual, 0 not, -1 TMPF */
int	policy_domain_local(const struct policy_env *, const char *domain);
int	policy_domain_virtual(const struct policy_env *, const char *domain);

/* policy_resolve.c */
/*
 * What policy_resolve_parse() learned of a recipient before check_rcpt,
 * so that policy_resolve() does not look it up again: the recipient goes
 * out as it is (remote), or the virtusertable's answer for it.
 */
struct policy_parsed {
	int	 remote;
	int	 virtuser;	/* -1 not looked up, 0 no entry, 1 entry: to */
	char	 to[POLICY_PATH_MAX];
};
int	policy_resolve(const struct policy_env *, const char *rcpt,
	    const struct policy_parsed *, struct policy_targets *);
int	policy_resolve_parse(const struct policy_env *, const char *rcpt,
	    struct policy_result *, struct policy_parsed *);
int	policy_resolve_expand(const struct policy_env *, const char *self,
	    const char *source, const char *text, size_t depth,
	    struct policy_targets *);
void	policy_target_reply(const struct policy_target *,
	    const char *mailbox, struct policy_result *);
void	policy_targets_free(struct policy_targets *);
const char *policy_target_kind_name(uint32_t);

/* policy_route.c */
int	policy_route_domain_valid(const char *);
void	policy_route_find(const struct policy_env *, const struct config *,
	    const char *domain, struct policy_route *);
void	policy_route_log(const char *domain, const struct policy_route *);

/* policy_entry.c */
int	policy_entry_check(const char *map, const char *key,
	    const char *value, char *err, size_t errlen);
int	policy_entry_key_check(const char *map, const char *key, char *err,
	    size_t errlen);

/* policy_query.c */
int	policy_query_parse(struct imsg *, struct policy_query *,
	    struct policy_result *refusal, const char **why);
int	policy_query_fill(struct policy_query *, const char *addr,
	    const char *name, const char **why);
const char *policy_kind_name(uint32_t);

/* The authinfo map (policy_authinfo.c): one credential, split. */
#define POLICY_MAP_AUTHINFO	"authinfo"
#define POLICY_AUTHINFO_MAX	(POLICY_VALUE_MAX + 1)
struct policy_authinfo {
	char		 user[POLICY_AUTHINFO_MAX];	/* U: authorization */
	char		 authid[POLICY_AUTHINFO_MAX];	/* I: authentication */
	char		 secret[POLICY_AUTHINFO_MAX];	/* P: (P= decoded) */
	char		 realm[POLICY_AUTHINFO_MAX];	/* R: "" if none */
	char		 mechs[POLICY_AUTHINFO_MAX];	/* M: "" = any */
	uint32_t	 tls;		/* T: enum authinfo_tls (VERIFY) */
};
int	policy_authinfo_parse(const char *value, struct policy_authinfo *,
	    const char **why);
void	policy_authinfo_mask(const char *value, char *out, size_t outlen);
/*
 * policy_generics.c: the genericstable value for addr (user@domain),
 * probed as addr, then its user; FOUND with value and the key that
 * matched, NOTFOUND (also for an address that is not one) or TMPF.
 */
int	policy_generics_find(const struct policy_env *, const char *addr,
	    char *value, size_t valuelen, char *key, size_t keylen);
int	policy_authinfo_find(const struct policy_env *, const char *name,
	    const char *addr, struct policy_authinfo *, char *key,
	    size_t keylen);

/* An aliases list (policy_alias.c); POLICY_ALIAS_VALUE_MAX: policy_db.h. */
enum policy_alias_kind {
	POLICY_ALIAS_ADDRESS,	/* "user" or "user@domain", as written */
	POLICY_ALIAS_PROGRAM,	/* "|cmd args": value is "cmd args" */
	POLICY_ALIAS_FILE,	/* "/path": value is the absolute path */
	POLICY_ALIAS_INCLUDE	/* ":include:/path": value is the path */
};
struct policy_alias_item {
	enum policy_alias_kind	 kind;
	char			 value[POLICY_PATH_MAX];
};
/* The next item of a stored list at *cursor (advanced): 1 item, 0 end
 * of list, -1 malformed with a reason in *why. */
int	policy_alias_next(const char **cursor, struct policy_alias_item *,
	    const char **why);
/* One item in its stored form: 0, or -1 if it does not fit in len. */
int	policy_alias_item_format(const struct policy_alias_item *, char *out,
	    size_t len);
/* A whole list in its stored form (items joined by ", "), *nitems
 * items: 0, or -1 with *why set (an empty list is refused). */
int	policy_alias_list_normal(const char *list, char *out, size_t len,
	    size_t *nitems, const char **why);
/* The key of an alias name as written (len octets, maybe quoted):
 * unquoted, lowercased; 0 or -1 with *why set. */
int	policy_alias_name(const char *name, size_t len, char *out,
	    size_t outlen, const char **why);

/* policy_store.c */
void	policy_store_configure(const char *database_path);
void	policy_store_env(struct policy_env *, const char *hostname);
void	policy_store_close(void);

#endif
