/*
 * mta_core.h: the objects of the outbound client and how its modules
 * call each other.
 *
 * A batch (mta_batch.c) is one IMSG_MTA_DELIVER: a message and its
 * recipients at one domain.  Its route (mta_route.c) becomes a list of
 * next hops, each a name and an address with port.  The pool (mta_pool.c)
 * gives the batch a connection to its current hop, new or reused, or
 * queues it while the limits are reached.  A session (mta_session.c) runs
 * the SMTP dialogue and reports per recipient; if the hop fails before
 * every recipient has an answer, the batch moves to its next hop.  When
 * every recipient has a result the batch sends IMSG_MTA_DONE and ends.
 */
#ifndef MTA_CORE_H
#define MTA_CORE_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/tree.h>
#include <sys/types.h>

#include <stdint.h>
#include <time.h>

#include "config.h"
#include "imsg.h"
#include "mailaddr.h"
#include "mta_data.h"
#include "mta_dns.h"
#include "mta_reply.h"
#include "proto.h"

struct bufferevent;
struct event;

#define MTA_RCPT_MAX		10000	/* recipients per batch we accept */
#define MTA_HOPS_MAX		64	/* addresses tried per batch */
#define MTA_ERR_MAX		MTA_REPLY_TEXT_MAX

/*
 * An ORCPT as sent: an address type and a value of up to
 * MAILADDR_ORCPT_MAX octets, each of which may take 6 characters
 * ("\x{5C}", RFC 6533 utf-8-addr-xtext); and a RCPT line that holds it.
 */
#define MTA_ORCPT_TEXT_MAX	(MAILADDR_ORCPT_MAX * 6 + 16)
#define MTA_RCPT_LINE_MAX	(CONF_ADDR_MAX * 3 + MTA_ORCPT_TEXT_MAX + \
				    MAILADDR_ORCPT_MAX + 64)

enum mta_rcpt_state {
	MTA_RCPT_PENDING = 0,	/* to be offered to the next hop */
	MTA_RCPT_ACCEPTED,	/* RCPT accepted, waiting for DATA */
	MTA_RCPT_DONE,		/* its result was sent to the queue */
	/* tls_rcpt refused it for this connection (4xx): not offered
	 * here, tried at the next hop, else deferred with that reply */
	MTA_RCPT_HELD
};

struct mta_rcpt {
	uint64_t		 evpid;
	char			*rcpt;
	char			*orcpt;
	uint32_t		 notify;
	enum mta_rcpt_state	 state;
};

/*
 * DANE (RFC 7672) of one MX host, from its TLSA records at _25._tcp.HOST
 * (mta_dane.c).  Only records of the usages DANE-TA and DANE-EE with a
 * known selector and matching type count; at most MTA_TLSA_MAX of them
 * of at most MTA_TLSA_DATA_MAX octets (a SHA-512 digest) are carried to
 * tlsproxy; a larger one (a whole certificate or key, matching type 0)
 * goes as its SHA-512 digest (type 2), which matches the same peers.
 */
#define MTA_TLSA_MAX		TLS_TLSA_MAX
#define MTA_TLSA_DATA_MAX	TLS_TLSA_DATA_MAX

enum mta_dane_state {
	MTA_DANE_NONE = 0,	/* no DANE: opportunistic TLS as before */
	MTA_DANE_REQUIRED,	/* usable TLSA records: authenticated TLS */
	MTA_DANE_TEMP,		/* TLSA lookup failed or bogus: defer */
	MTA_DANE_ENCRYPT	/* secure records, none usable: TLS that
				 * need not authenticate (RFC 7672 2.2) */
};

struct mta_tlsa {
	uint8_t			 usage;
	uint8_t			 selector;
	uint8_t			 mtype;
	uint8_t			 len;
	uint8_t			 data[MTA_TLSA_DATA_MAX];
};

struct mta_dane {
	enum mta_dane_state	 state;
	size_t			 ntlsa;
	struct mta_tlsa		 tlsa[MTA_TLSA_MAX];
	/* why the lookup failed, for MTA_DANE_TEMP */
	char			 why[96];
};

/* One address to try, with the name it came from (for logs). */
struct mta_hop {
	char			 name[CONF_HOST_MAX];
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	/* MX preference of the host (0 for a static route): a cached
	 * route reshuffles the hosts of equal preference */
	int			 pref;
	/* a route of policyd's, not the domain's MX: no MTA-STS */
	int			 routed;
	/* the MX answer it came from was DNSSEC-secure (REQUIRETLS) */
	int			 mx_secure;
	/* DANE of the host, from its TLSA records */
	struct mta_dane		 dane;
};

/* The error to report if no later hop does better. */
struct mta_error {
	int			 status;	/* STATUS_TEMPFAIL/PERMFAIL */
	char			 enh[MTA_ENH_MAX];
	char			 text[MTA_ERR_MAX];
};

enum mta_batch_state {
	MTA_BATCH_NEW = 0,	/* between steps */
	MTA_BATCH_ROUTE,	/* waiting for policyd */
	MTA_BATCH_RESOLVE,	/* waiting for DNS */
	MTA_BATCH_WAIT,		/* waiting for a connection slot */
	MTA_BATCH_SESSION,	/* on a connection */
	MTA_BATCH_STS		/* waiting for an MTA-STS policy (mta_sts.c) */
};

struct mta_resolve;
struct mta_relay;
struct mta_session;

struct mta_batch {
	TAILQ_ENTRY(mta_batch)	 entry;		/* every batch */
	/* a relay's wait list, or an MTA-STS fetch's */
	TAILQ_ENTRY(mta_batch)	 wentry;
	RB_ENTRY(mta_batch)	 rentry;	/* route queries by qid */
	enum mta_batch_state	 state;
	uint32_t		 id;
	uint32_t		 msgid;
	int			 fd;
	off_t			 size;
	char			*sender;
	char			*envid;
	char			*domain;
	/* MAIL's AUTH= to pass on: the decoded mailbox, or "<>" */
	char			*auth;
	/* the route's "user@host": every RCPT names it; NULL if none */
	char			*route_user;
	uint32_t		 dsn_ret;
	uint32_t		 body8;
	uint32_t		 utf8;		/* UTF8_F_* */
	uint32_t		 msgflags;	/* MSG_F_* */
	time_t			 start;
	/* stats_clock_us(): IMSG_MTA_DELIVER came; it began waiting for a
	 * connection slot (0 when not waiting) */
	int64_t			 received_us;
	int64_t			 wait_us;
	size_t			 nrcpt;
	struct mta_rcpt		*rcpts;

	uint32_t		 qid;		/* policyd route query */
	struct mta_resolve	*resolve;
	struct mta_hop		*hops;
	size_t			 nhops;
	size_t			 hop;		/* index being tried */
	/* the hop's connection failed after reuse: one fresh try */
	int			 fresh;
	struct mta_relay	*relay;		/* waiting on it */
	struct mta_session	*session;	/* running on it */
	struct mta_error	 err;
	/* MTA-STS (mta_sts.c): the policy was looked for; its mode */
	int			 sts_asked;
	int			 sts_mode;	/* enum mtasts_mode */
};

enum mta_state {
	MTA_S_CONNECT,		/* TCP connect under way */
	MTA_S_GREETING,		/* waiting for the banner */
	MTA_S_EHLO,
	MTA_S_HELO,
	MTA_S_READY,		/* idle between transactions */
	MTA_S_RSET,
	MTA_S_MAIL,
	MTA_S_RCPT,
	MTA_S_DATA,		/* waiting for 354 */
	MTA_S_BODY,		/* streaming the message */
	MTA_S_DOT,		/* waiting for the reply to the final dot */
	MTA_S_QUIT,
	MTA_S_STARTTLS,		/* waiting for the reply to STARTTLS */
	MTA_S_TLS,		/* the socket is with tlsproxy */
	MTA_S_POLICY,		/* waiting for policyd (mta_policy.c) */
	MTA_S_AUTH		/* SMTP AUTH (mta_auth.c) */
};

/*
 * The TLS facts of a connection as the TLS rulesets see them (spec 3.5,
 * 6): verify is NONE, TEMP, USAGE or PROTOCOL when no handshake was
 * done; the names are the +XX encoded macro values.
 */
struct mta_tls_facts {
	char			 verify[16];
	char			 version[32];
	uint32_t		 bits;
	char			 subject[TLS_MACRO_LEN + 1];
	char			 issuer[TLS_MACRO_LEN + 1];
	char			 cn[TLS_MACRO_LEN + 1];
};

struct mta_session {
	TAILQ_ENTRY(mta_session) entry;		/* every session */
	TAILQ_ENTRY(mta_session) ientry;	/* its relay's idle list */
	enum mta_state		 state;
	/* for tlsproxy: IMSG_TLS_CLIENT_START and its RESULT */
	uint32_t		 id;
	/* the dialogue runs over TLS (through tlsproxy) */
	int			 tls;
	/* NULL once the pool let go of it (closing down) */
	struct mta_relay	*relay;
	struct mta_batch	*batch;
	int			 fd;		/* until bev owns it */
	struct bufferevent	*bev;
	struct event		*timer;
	/* "host [addr]:port" for logs and errors */
	char			 peer[CONF_HOST_MAX + 72];
	int			 in_idle;	/* on relay->idle */
	/* stats_clock_us() at connect(2), 0 once the dialogue is ready */
	int64_t			 opened_us;
	int			 nmessages;
	int			 reused;	/* the batch did not open it */
	int			 dirty;		/* RSET before the next MAIL */
	int			 failing;	/* deferred connect error */
	int			 heard;		/* a reply in this transaction */
	struct mta_ehlo		 ehlo;
	struct mta_reply	 reply;
	struct mta_data		 data;
	/* the transaction */
	int			 mail_failed;
	size_t			 rcur;		/* recipient of the next reply */
	size_t			 nsent;		/* RCPTs sent */
	size_t			 nreplied;	/* RCPT replies read */
	size_t			 naccepted;
	/* the TLS rulesets: the facts, whether tls_server passed, the
	 * question in flight (enum policy_kind, 0 none) and the next
	 * recipient for tls_rcpt */
	struct mta_tls_facts	 facts;
	int			 tls_checked;
	uint32_t		 asking;
	size_t			 screen;
	/* the tlsproxy instance that has (or had) the handshake */
	uint32_t		 tls_inst;
	/* DANE (mta_dane.c): the hop's records when the connection was
	 * opened, and the host a DANE check passed for ("" if none), so
	 * that only a batch to that host reuses it where DANE applies */
	struct mta_dane		 dane;
	char			 dane_host[CONF_HOST_MAX];
	/* Clt_Features letters of the server (POLICY_FEATURE bits, from
	 * the answer to Try_TLS): D turns DANE off for it */
	uint32_t		 clt_features;
	/* SMTP AUTH (mta_auth.c): the exchange with its credential while
	 * it runs (NULL otherwise; wiped when it ends), and its success */
	struct mta_auth		*auth;
	int			 authed;
	/* MTA-STS: the name the handshake had to verify ("" none), and
	 * whether it did */
	char			 sts_host[CONF_HOST_MAX + 2];
	int			 sts_ok;
};

/* A next hop: an address and port, its connections and its queue. */
struct mta_relay {
	TAILQ_ENTRY(mta_relay)	 entry;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			 addr[64];	/* "127.0.0.1", "::1" */
	uint16_t		 port;
	int			 nconn;		/* opening, busy or idle */
	TAILQ_HEAD(mta_session_list, mta_session) idle;
	TAILQ_HEAD(, mta_batch)	 waiting;
};

/* mta_batch.c */
void		 mta_batch_imsg_deliver(struct imsgev *, struct imsg *, void *);
void		 mta_batch_result(struct mta_batch *, size_t, int,
		    const char *, const char *);
void		 mta_batch_fail_all(struct mta_batch *, int, const char *,
		    const char *);
void		 mta_batch_error(struct mta_batch *, int, const char *,
		    const char *, ...) __attribute__((format(printf, 4, 5)));
void		 mta_batch_hops_ready(struct mta_batch *);
void		 mta_batch_hop_failed(struct mta_batch *, int, int,
		    const char *, const char *);
void		 mta_batch_done(struct mta_batch *);
void		 mta_batch_abort_all(void);
void		 mta_batch_config_ready(void);
size_t		 mta_batch_count(void);
const char	*mta_batch_relay(const struct mta_batch *);
/* The address RCPT names for recipient i. */
const char	*mta_batch_rcpt_to(const struct mta_batch *, size_t);

/* mta_route.c (the resolution half; pure helpers are in mta_route.h) */
/* before the chroot: the interface addresses, known as ours */
void		 mta_route_init(void);
void		 mta_route_start(struct mta_batch *);
void		 mta_route_cancel(struct mta_batch *);
void		 mta_route_imsg_result(struct imsgev *, struct imsg *, void *);
void		 mta_route_policy_down(void);

/* mta_pool.c */
void		 mta_pool_acquire(struct mta_batch *);
void		 mta_pool_cancel(struct mta_batch *);
void		 mta_pool_release(struct mta_session *);
void		 mta_pool_closed(struct mta_session *);
void		 mta_pool_flush_idle(void);
void		 mta_pool_abort_all(void);
void		 mta_pool_status(int *, int *);

/* mta_command.c: command lines with their CRLF; the length, or -1 if
 * it does not fit.  RCPT names to (the recipient, or the address a
 * mailertable "mailer:user@host" route sends instead) with rc's
 * NOTIFY and ORCPT. */
int		 mta_command_addr(char *, size_t, const char *, uint32_t);
int		 mta_command_mail(char *, size_t, const struct mta_batch *,
		    uint32_t);
int		 mta_command_rcpt(char *, size_t, const struct mta_rcpt *,
		    const char *to, uint32_t);
/* xtext (RFC 3461 4) of s, always encoded */
int		 mta_command_xtext(char *, size_t, const char *);
/* " AUTH=" and the xtext of a mailbox, or " AUTH=<>" for "<>" */
int		 mta_command_auth(char *, size_t, const char *);

/* mta_session.c */
void		 mta_session_timer(struct mta_session *, int secs);
/* the AUTH exchange ended: STATUS_OK goes on to the transaction, else
 * the hop fails with the reply (the session may be gone after) */
void		 mta_session_auth_done(struct mta_session *, int status,
		    const char *enh, const char *text);
struct mta_session *mta_session_connect(struct mta_relay *,
		    struct mta_batch *);
void		 mta_session_start(struct mta_session *, struct mta_batch *);
void		 mta_session_idle(struct mta_session *);
void		 mta_session_quit(struct mta_session *);
void		 mta_session_abort(struct mta_session *);
void		 mta_session_abort_all(void);
struct mta_session *mta_session_find(uint32_t);
void		 mta_session_tls_done(struct mta_session *, int fd,
		    const struct mta_tls_facts *, const char *error);
int		 mta_session_requiretls(const struct mta_batch *);
int		 mta_session_name_verified(const struct mta_session *,
		    const char *name);
void		 mta_session_tls_down(unsigned inst);
void		 mta_session_policy_done(struct mta_session *, uint32_t verdict,
		    const char *reply, const char *enh);
void		 mta_session_policy_down(void);
void		 mta_session_sasl_down(void);

/* mta_policy.c */
int		 mta_policy_ask(struct mta_session *, uint32_t kind,
		    const char *rcpt);
void		 mta_policy_result(struct imsgev *, struct imsg *, void *);
/* The next hop's name as policyd's lookups take it (no trailing dot,
 * or "[addr]"). */
void		 mta_policy_server_name(struct mta_session *, char *, size_t);

/* mta_auth.c */
/* After tls_server passed: 1 if AUTH started (state MTA_S_AUTH), 0 if
 * it is not to be tried on this connection */
int		 mta_auth_start(struct mta_session *);
/* A reply in MTA_S_AUTH; -1 if the session is gone or closing. */
int		 mta_auth_reply(struct mta_session *);
void		 mta_auth_imsg_result(struct imsgev *, struct imsg *, void *);
/* IMSG_AUTH_CLIENT_RESULT of smtpd-auth's SASL client. */
void		 mta_auth_imsg_client(struct imsgev *, struct imsg *, void *);
/* policyd died while s waited for its credential. */
void		 mta_auth_policy_down(struct mta_session *);
/* smtpd-auth died: s's exchange there is gone. */
void		 mta_auth_sasl_down(struct mta_session *);
/* Wipe and forget the credential (any time; idempotent). */
void		 mta_auth_clear(struct mta_session *);
/* Add " AUTH=<xtext of the batch's value>" to a MAIL line of length n
 * when the server offers AUTH, unless AuthOptions has A and this session
 * did not authenticate: the new length, or -1 if it does not fit. */
int		 mta_auth_mail_param(const struct mta_session *, char *,
		    size_t, int n);

/* mta_dane.c */
/* The TLSA answer for a host into d (RFC 7672 2.2: secure and usable,
 * insecure or absent, failed or bogus). */
void		 mta_dane_tlsa(struct mta_dane *, const char *host,
		    const struct mta_dns_answer *);
/* 1 if DANE applies to this MX (records to check, or a lookup failure
 * that defers it): MTA-STS then does not (RFC 8461 2). */
int		 mta_dane_applies(const struct mta_hop *);
/* 1 if DANE makes TLS mandatory for the host: required, or records
 * that are all unusable (then without authentication). */
int		 mta_dane_tls_required(const struct mta_dane *);
/* 1 if an idle session may carry a batch to hop: DANE does not apply
 * to it, or the session passed its DANE check for that host (a TLS
 * session for one whose records are all unusable). */
int		 mta_dane_reuse_ok(const struct mta_session *,
		    const struct mta_hop *);
/* Clt_Features D for the server of s: DANE no longer applies to this
 * connection (logged); 1 if so. */
int		 mta_dane_clt_off(struct mta_session *);
/* A ${verify} of DANE_* or TRUSTED: the counter, the log word. */
void		 mta_dane_count(const char *verify);

/* mta_tls.c */
int		 mta_tls_start(uint32_t id, int fd, const char *name,
		    const struct mta_dane *);
/* The DANE part of IMSG_TLS_CLIENT_START (none when d is NULL). */
void		 mta_tls_put_tlsa(struct imsg_out *, const struct mta_dane *);
void		 mta_tls_abort(uint32_t id);
void		 mta_tls_result(struct imsgev *, struct imsg *, void *);

#endif
