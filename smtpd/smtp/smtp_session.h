/*
 * smtp_session.h: the inbound SMTP session of the front end, shared by
 * its modules:
 *   smtp_session.c  life cycle, socket I/O, the input loop over states,
 *                   replies, error counting, timeouts
 *   smtp_exec.c     what each command does in each state
 *   smtp_tx.c       the mail transaction: recipients, DATA/BDAT bodies,
 *                   the end of a message
 *   smtp_tls.c      STARTTLS and smtps through tlsproxy
 *   smtp_peer.c     questions to policyd and the queue, their answers,
 *                   and what happens when either goes away
 *   smtp_dns.c      the client's name (PTR, forward-confirmed)
 *   smtp_dnsbl.c    the client's address in DNS blocklists
 *   smtp_client.c   the sessions open per client address
 *   smtp_privacy.c  the privacy flags' replies, the greeting (smtp banner)
 *   smtp_etrn.c     ETRN, passed to the queue
 *   smtp_masq.c     masquerading of the header fields and the sender
 *   smtp_generics.c the genericstable's answers for them (policyd)
 *   smtp_milter.c   the listener's milters, asked at each stage
 *
 * smtp_exec.c also keeps the "nullserver" mode of a refused session.
 *
 * A session is strictly sequential: one command is executed at a time and
 * while it waits for a peer (wait != SMTP_WAIT_NONE) later input stays
 * buffered, unparsed.  A session is freed only from the top of an event
 * callback, never inside the input loop: smtp_session_close() queues the
 * last reply and marks the session SMTP_ST_CLOSING.
 */
#ifndef SMTP_SESSION_H
#define SMTP_SESSION_H

#include <sys/socket.h>
#include <sys/tree.h>

#include <netinet/in.h>

#include <stdint.h>
#include <time.h>

#include "config.h"
#include "imsg.h"
#include "proto.h"
#include "smtp_command.h"
#include "smtp_data.h"

/* Protocol states (RFC 5321 4.1.4 ordering). */
enum smtp_state {
	SMTP_ST_CONNECT = 0,	/* before the greeting: verdict and delay */
	SMTP_ST_HELO,		/* greeted, waiting for HELO/EHLO */
	SMTP_ST_IDLE,		/* no transaction */
	SMTP_ST_MAIL,		/* sender accepted */
	SMTP_ST_RCPT,		/* at least one recipient accepted */
	SMTP_ST_BDAT,		/* between two BDAT chunks */
	SMTP_ST_DATA,		/* receiving a DATA body */
	SMTP_ST_CHUNK,		/* receiving the octets of a BDAT chunk */
	SMTP_ST_CLOSING		/* last reply queued; freed once written */
};

/* What an executed command waits for before its reply. */
enum smtp_wait {
	SMTP_WAIT_NONE = 0,
	SMTP_WAIT_POLICY,	/* IMSG_POLICY_RESULT */
	SMTP_WAIT_CREATE,	/* IMSG_QUEUE_MESSAGE_CREATED */
	SMTP_WAIT_COMMIT,	/* IMSG_QUEUE_MESSAGE_COMMITTED */
	SMTP_WAIT_OUTPUT,	/* the client to read our replies */
	SMTP_WAIT_TLS,		/* tlsproxy: READY, the 220 written, RESULT */
	SMTP_WAIT_AUTH,		/* smtpd-auth: RESULT, or the delay of a 535 */
	SMTP_WAIT_DNS,		/* the reverse lookup of the client */
	SMTP_WAIT_USER,		/* the parent: the name of a local peer's uid */
	SMTP_WAIT_DNSBL,	/* the blocklist answers (smtp_dnsbl.c) */
	SMTP_WAIT_THROTTLE,	/* 1 s before a RCPT (limit bad-rcpt-throttle)
				 * or a command (limit load-delay) */
	SMTP_WAIT_GENERICS,	/* IMSG_POLICY_GENERICS_RESULT */
	SMTP_WAIT_MILTER	/* the filters' replies (smtp_milter.c) */
};

/*
 * A session's place among its address's, when it was accepted: the
 * number of its open sessions and of its connections in the window,
 * itself included.  The map's limits, known later, are held against it,
 * so a burst is refused from the one past the limit on, not as a whole.
 */
struct smtp_client_place {
	size_t		 conn;
	size_t		 rate;
};

/* Where a session is in an AUTH exchange (smtp_auth.c). */
enum smtp_auth_state {
	SMTP_AUTH_NONE = 0,	/* no exchange */
	SMTP_AUTH_WAIT,		/* START or STEP sent, waiting for RESULT */
	SMTP_AUTH_CHALLENGE,	/* 334 sent: the next line is a response */
	SMTP_AUTH_DELAY		/* failed: the 535 waits for its delay */
};

/* Where a session is on its way to TLS (smtp_tls.c). */
enum smtp_tls_state {
	SMTP_TLS_OFF = 0,	/* plaintext, STARTTLS possible */
	SMTP_TLS_PREPARING,	/* PREPARE sent, waiting for READY */
	SMTP_TLS_FLUSHING,	/* "220 Ready to start TLS" being written */
	SMTP_TLS_HANDSHAKE,	/* socket handed over, waiting for RESULT */
	SMTP_TLS_ON		/* talking over tlsproxy's plaintext end */
};

/* The TLS facts of a session, allocated only once TLS is on. */
struct smtp_tls {
	char		 protocol[32];
	char		 cipher[128];
	uint32_t	 bits;
	/* sendmail's ${verify}: OK, NO, FAIL, ... */
	char		 verify[16];
	/* ${cert_subject}, ${cert_issuer}, ${cn_subject}: +XX encoded */
	char		 subject[TLS_MACRO_LEN + 1];
	char		 issuer[TLS_MACRO_LEN + 1];
	char		 cn_subject[TLS_MACRO_LEN + 1];
};

/* One accepted recipient. */
/*
 * A final recipient of the transaction (what one RCPT resolved to in
 * policyd), or, as tx->pending, the RCPT waiting for its verdict.
 */
struct smtp_rcptent {
	char		*rcpt;		/* the target's value */
	char		*orcpt;		/* "" if none */
	uint32_t	 notify;
	/* a filter's addrcpt: resolved in policyd when it comes due */
	int		 resolve;
	uint32_t	 kind;		/* enum target_kind */
	char		*sender;	/* "" = the message's */
	char		*orig;		/* the RCPT as given */
	char		*error;		/* TARGET_ERROR: its reply line */
};

/* The final recipients' share of IMSG_QUEUE_MESSAGE_COMMIT, with room
 * left for the message's own fields. */
#define SMTP_COMMIT_MAX		(IMSG_MAX_PAYLOAD - 16384)

/* A mail transaction, from MAIL FROM to the end of the message. */
struct smtp_tx {
	uint32_t		 msgid;		/* 0 until CREATED */
	int			 msgfd;		/* -1 until CREATED */
	/* CREATE sent, answer not yet here */
	int			 creating;
	/* the queue cannot take this message: 451 at the end */
	int			 failed;
	/* a DISCARD verdict: accept, then roll back */
	int			 discard;
	/* the body receiver is set up (354 sent or first chunk) */
	int			 started;
	/* COMMIT sent: the queue owns the message now */
	int			 committing;
	/* the command waiting for the message file: DATA or BDAT */
	enum smtp_verb		 wantbody;
	char			 sender[MAILADDR_PATH_MAX];
	char			 envid[MAILADDR_ENVID_MAX + 1];
	uint32_t		 ret;
	enum smtp_body		 body;
	/* MAIL had SMTPUTF8: UTF-8 addresses and headers (RFC 6531) */
	int			 smtputf8;
	/* MAIL had REQUIRETLS (RFC 8689): MSG_F_REQUIRETLS */
	int			 requiretls;
	struct smtp_rcptent	*rcpts;
	size_t			 nrcpt;
	size_t			 rcptcap;
	/* RCPT commands accepted (limit recipients); nrcpt counts what
	 * they resolved to */
	size_t			 naccepted;
	/* octets the final recipients take in the commit (one imsg) */
	size_t			 commit_size;
	/* the RCPT waiting for its policy verdict */
	struct smtp_rcptent	 pending;
	struct smtp_data	 data;
	/* MAIL's AUTH= as the envelope keeps it (smtp_auth_mail_param()):
	 * the authenticated id, or "<>" */
	char			 auth[MAILADDR_PATH_MAX];
	/* QUARANTINE: the first reason this message is held for, "" if it
	 * is not held */
	char			 quarantine[QUARANTINE_REASON_MAX + 1];
	/* the genericstable's lookups (smtp_generics.c), NULL without
	 * generics domains; the envelope sender is the genericstable's */
	struct smtp_generics	*generics;
	int			 generic_sender;
	/* REWRITE sent (the filters' changes), its file not yet here */
	int			 rewriting;
	/* the message file was asked readable (CREATE_F_READ): the
	 * session had filters */
	int			 readable;
	/* the final recipients before the RCPT the filters are asked
	 * about (smtp_milter.c) */
	size_t			 milter_mark;
	size_t			 milter_size;
};

/* The peer of the sendmail socket (smtp_local.c): SO_PEERCRED, and the
 * name of its uid as the parent found it. */
struct smtp_local {
	uid_t			 uid;
	pid_t			 pid;
	char			 user[256];
	/* root, the front end's user or sendmail trusted-users: may set
	 * the envelope sender without X-Authentication-Warning */
	int			 trusted;
};

struct smtp_session {
	RB_ENTRY(smtp_session)	 entry;
	uint32_t		 id;
	enum smtp_state		 state;
	enum smtp_wait		 wait;
	/* the policy question in flight (enum policy_kind) */
	uint8_t			 query;
	/* EHLO (not HELO) was accepted */
	uint8_t			 esmtp;
	/* the greeting delay is still running */
	uint8_t			 delaying;
	/* discarding the rest of an overlong command line */
	uint8_t			 skipline;
	/* the client shut its sending side: what it sent before is answered,
	 * then the session closes */
	uint8_t			 eof;
	/* a command line was taken: once it is answered, input already here
	 * was pipelined (smtp forbid-unauth-pipelining) */
	uint8_t			 synccheck;
	/* the verb of that line, for the log */
	char			 syncverb[12];
	/* DISCARD at connect: every message is accepted, then dropped */
	uint8_t			 discard;
	/* CREATE requests whose transaction is gone (answers to drop) */
	uint8_t			 orphans;
	/* enum smtp_tls_state */
	uint8_t			 tls_state;
	/* LISTEN_F_* of the listener the client came in on */
	uint32_t		 lflags;
	/* the BDAT being received: what is left, LAST, state after it, and
	 * the reply when it is only discarded */
	uint8_t			 chunk_last;
	enum smtp_state		 chunk_prev;
	const char		*chunk_err;
	uint64_t		 chunk_left;
	uint64_t		 chunk_size;
	struct bufferevent	*bev;
	struct event		*timer;
	/* the whole command line must arrive within timeout command; a body
	 * before body_deadline (monotonic microseconds), which every octet
	 * received pushes back by 1/limit data-rate s, up to timeout data */
	struct event		*deadline;
	int64_t			 body_deadline;
	uint64_t		 body_octets;
	/* the body's clock is stopped (smtp_session_body_hold) with this
	 * many microseconds left */
	int64_t			 body_held;
	uint8_t			 body_holding;
	time_t			 started;
	uint32_t		 nerrors;
	uint32_t		 nmessages;
	/* junk commands (limit junk-commands) since nmessages was junk_mark,
	 * i.e. since the last accepted message */
	size_t			 njunk;
	uint32_t		 junk_mark;
	/* RCPTs refused in the session (limit bad-rcpt-throttle), and
	 * whether the throttling was logged */
	size_t			 nbadrcpt;
	uint8_t			 throttled;
	/* limit load-delay: this command line has had its second */
	uint8_t			 load_waited;
	/* what runs when a smtp_session_pause() is over */
	void			(*pause_done)(struct smtp_session *);
	char			*helo;
	/*
	 * "nullserver" (spec 2.3, 3.4, 4.2): the reply to every command but
	 * QUIT, HELO, EHLO, NOOP and RSET after a refused connect, a failed
	 * tls_client or a Srv_Features "temp"; NULL normally
	 */
	char			*nullserver;
	uint32_t		 nbad;		/* commands it refused */
	/* Srv_Features of this client (POLICY_FEATURE bits, spec 4.2) */
	uint32_t		 features_set;
	uint32_t		 features_clear;
	struct smtp_tx		*tx;
	/* the listener's name (the connect log line, tlsproxy) */
	char			*listener;
	/* the listener that counts the session (max-sessions): its slot
	 * and generation, slot -1 for none (smtp_listener.c) */
	int			 lslot;
	uint32_t		 lgen;
	/* NULL until TLS is on */
	struct smtp_tls		*tls;
	/* after a successful AUTH: ${auth_authen}, ${auth_type} and
	 * ${auth_ssf}; NULL and 0 before */
	char			*auth_user;
	char			*auth_mech;
	uint32_t		 auth_ssf;
	char			 addr[INET6_ADDRSTRLEN];
	struct smtp_client_place client_place;
	/* enum smtp_auth_state, failed exchanges, the mechanism tried */
	uint8_t			 auth_state;
	uint32_t		 auth_failures;
	char			 auth_try[32];
	/* the tlsproxy instance that has (or had) the session's handshake */
	uint32_t		 tls_inst;
	/* the reverse lookup in flight (smtp_dns.c); NULL once it ended */
	struct smtp_dns_lookup	*dns;
	/* ${client_resolve} (enum smtp_dns_resolve), and the PTR name:
	 * confirmed with OK, unconfirmed with FORGED, NULL otherwise */
	uint8_t			 resolve;
	char			*ptrname;
	/* QUARANTINE at connect: every message is held for this reason;
	 * "" otherwise */
	char			 quarantine[QUARANTINE_REASON_MAX + 1];
	/* a local submission (sendmail socket); NULL over TCP */
	struct smtp_local	*local;
	/* the blocklist lookups (smtp_dnsbl.c), started at connect; NULL
	 * without zones */
	struct smtp_dnsbl	*dnsbl;
	/* the filters' connections (smtp_milter.c); NULL before the
	 * connect stage and without filters */
	struct smtp_milter	*milter;
};

/* ${client_name}, and "NAME [ADDR]" with " (may be forged)" (logs) */
#define SMTP_SESSION_NAME_MAX	256
#define SMTP_SESSION_RELAY_MAX	(SMTP_SESSION_NAME_MAX + \
	INET6_ADDRSTRLEN + 24)

/* smtp_session.c */
struct smtp_session *smtp_session_new(int fd, const struct sockaddr_storage *,
	    const char *listener, uint32_t lflags, const struct smtp_tls *);
struct smtp_session *smtp_session_open(int fd, const char *addr,
	    const char *listener, uint32_t lflags);
size_t	 smtp_session_count(void);
void	 smtp_session_addr(const struct sockaddr_storage *, char *, size_t);
struct smtp_session *smtp_session_find(uint32_t id);
void	 smtp_session_foreach(void (*)(struct smtp_session *));
void	 smtp_session_config(void);
void	 smtp_session_shutdown(void);
void	 smtp_session_reply(struct smtp_session *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 smtp_session_error(struct smtp_session *, const char *);
void	 smtp_session_close(struct smtp_session *, const char *reply,
	    const char *reason);
void	 smtp_session_greet(struct smtp_session *);
void	 smtp_session_resume(struct smtp_session *);
/* Wait (SMTP_WAIT_THROTTLE) for seconds, then done(s) if s is still
 * there and waiting; 0, or -1 (nothing armed). */
int	 smtp_session_pause(struct smtp_session *, int seconds,
	    void (*done)(struct smtp_session *));
int	 smtp_session_feature(const struct smtp_session *, int letter,
	    int dflt);
void	 smtp_session_nullserver(struct smtp_session *, const char *reply);
void	 smtp_session_data_timeouts(struct smtp_session *, int data);
void	 smtp_session_body_hold(struct smtp_session *);
void	 smtp_session_body_release(struct smtp_session *);
const char *smtp_session_name(struct smtp_session *, char *, size_t);
const char *smtp_session_proto(struct smtp_session *);
const char *smtp_session_relay(struct smtp_session *, char *, size_t);
void	 smtp_session_attach(struct smtp_session *, int fd);
int	 smtp_session_detach(struct smtp_session *);

/* smtp_local.c */
void	 smtp_local_accept(int fd, const char *listener);
void	 smtp_local_uid_result(struct imsgev *, struct imsg *, void *);
int	 smtp_local_received(struct smtp_session *, char *, size_t,
	    const char *date);

/* smtp_client.c */
enum smtp_client_verdict {
	SMTP_CLIENT_OK = 0,
	SMTP_CLIENT_SESSIONS,	/* over limit sessions-per-address */
	SMTP_CLIENT_CONN,	/* over the address's ClientConn: */
	SMTP_CLIENT_RATE	/* over ClientRate: or the rate default */
};
enum smtp_client_verdict smtp_client_hold(const char *addr,
	    struct smtp_client_place *);
enum smtp_client_verdict smtp_client_limits(const char *addr,
	    const struct smtp_client_place *, uint32_t conn, uint32_t rate);
size_t	 smtp_client_limit(const char *addr, enum smtp_client_verdict);
void	 smtp_client_release(const char *addr);
size_t	 smtp_client_sessions(const char *addr);
size_t	 smtp_client_rate(const char *addr);
const char *smtp_session_limit_text(enum smtp_client_verdict,
	    const char *addr, int counted, char *why, size_t len);

/* smtp_modifiers.c */
const char *smtp_modifiers_line(struct smtp_session *, const char *line,
	    char *buf, size_t size);
int	 smtp_modifiers_sender(struct smtp_session *, const char *sender);
int	 smtp_modifiers_etrn(const struct smtp_session *);

/* smtp_exec.c */
void	 smtp_exec_line(struct smtp_session *, const char *);

/* smtp_privacy.c */
void	 smtp_privacy_greet(struct smtp_session *);
const char *smtp_privacy_before_helo(enum smtp_verb, int *runs);
const char *smtp_privacy_dsn(const struct smtp_command *);
int	 smtp_privacy_offer_dsn(const struct smtp_session *);
int	 smtp_privacy_offer_vrfy(const struct smtp_session *);
void	 smtp_privacy_vrfy(struct smtp_session *, struct smtp_command *);
void	 smtp_privacy_expn(struct smtp_session *, struct smtp_command *);
void	 smtp_privacy_verb(struct smtp_session *, struct smtp_command *);

/* smtp_etrn.c */
void	 smtp_etrn_command(struct smtp_session *, struct smtp_command *);

/* smtp_tx.c */
struct smtp_tx *smtp_tx_new(void);
void	 smtp_tx_free(struct smtp_session *);
int	 smtp_tx_rcpt_add(struct smtp_tx *, uint32_t kind, const char *value,
	    const char *sender, const char *error);
size_t	 smtp_tx_rcpt_size(const char *value, const char *orcpt,
	    const char *sender, const char *orig, const char *error);
void	 smtp_tx_rcpt_clear(struct smtp_rcptent *);
void	 smtp_tx_data(struct smtp_session *);
void	 smtp_tx_bdat(struct smtp_session *, uint64_t size, int last);
void	 smtp_tx_created(struct smtp_session *);
int	 smtp_tx_data_input(struct smtp_session *);
int	 smtp_tx_chunk_input(struct smtp_session *);
void	 smtp_tx_committed(struct smtp_session *, uint32_t status);
void	 smtp_tx_commit(struct smtp_session *);

/* smtp_tls.c */
void	 smtp_tls_starttls(struct smtp_session *);
void	 smtp_tls_smtps(struct smtp_session *);
int	 smtp_tls_flushed(struct smtp_session *);
int	 smtp_tls_offered(struct smtp_session *);
void	 smtp_tls_release(struct smtp_session *);
void	 smtp_tls_received(struct smtp_session *, char *, size_t);
void	 smtp_tls_down(unsigned inst);
void	 smtp_tls_ready(struct imsgev *, struct imsg *, void *);
void	 smtp_tls_result(struct imsgev *, struct imsg *, void *);

/* smtp_auth.c */
const char *smtp_auth_offered(struct smtp_session *);
void	 smtp_auth_command(struct smtp_session *, const char *);
void	 smtp_auth_line(struct smtp_session *, const char *);
void	 smtp_auth_toolong(struct smtp_session *);
void	 smtp_auth_release(struct smtp_session *);
void	 smtp_auth_received(struct smtp_session *, char *, size_t);
void	 smtp_auth_mail_param(struct smtp_session *, const char *, char *,
	    size_t);
size_t	 smtp_auth_line_max(struct smtp_session *);
void	 smtp_auth_down(void);
void	 smtp_auth_mechs(struct imsgev *, struct imsg *, void *);
void	 smtp_auth_result(struct imsgev *, struct imsg *, void *);

/* smtp_peer.c */
void	 smtp_peer_policy_query(struct smtp_session *, enum policy_kind);
void	 smtp_peer_queue_create(struct smtp_session *);
void	 smtp_peer_queue_rewrite(struct smtp_session *);
void	 smtp_peer_queue_rewriting(struct imsgev *, struct imsg *, void *);
void	 smtp_peer_queue_commit(struct smtp_session *);
void	 smtp_peer_queue_rollback(uint32_t sessid, uint32_t msgid);
void	 smtp_peer_policy_fail(struct smtp_session *);
void	 smtp_peer_down(enum proc_id);
void	 smtp_peer_policy_result(struct imsgev *, struct imsg *, void *);
void	 smtp_peer_queue_created(struct imsgev *, struct imsg *, void *);
void	 smtp_peer_queue_committed(struct imsgev *, struct imsg *, void *);
void	 smtp_peer_queue_space(struct imsgev *, struct imsg *, void *);
int	 smtp_peer_queue_room(uint64_t size, uint64_t *avail);
void	 smtp_peer_dnsbl_done(void *);
void	 smtp_peer_connect_go(struct smtp_session *);

#endif
