/*
 * proto.h: the processes of the relay and every message they exchange.
 *
 * This is the one list of imsg types.  Each comment names the sender, the
 * receiver, what the id field of the header carries and the payload, in the
 * order of the imsg_put_*() calls ("str" = imsg_put_str, "u32", "u64",
 * "i64", "data" = imsg_put_data).  A receiver that gets a type it does not
 * expect from a peer, or a payload that does not parse, logs it and treats
 * the sender as broken (see proc.h); it never exits because of it.
 * ARCHITECTURE.md and smtpd(8) carry the same table for readers.
 */
#ifndef PROTO_H
#define PROTO_H

#include <stdint.h>

/* Process identities; also the index in the parent's process table. */
enum proc_id {
	PROC_PARENT = 0,
	PROC_SMTP,		/* smtpd/smtp/: inbound sessions */
	PROC_MTA,		/* smtpd/mta/: outbound deliveries */
	PROC_QUEUE,		/* queue/: spool and scheduler */
	PROC_POLICY,		/* policyd/: access map, routes */
	PROC_AUTH,		/* policyd/auth/: SASL, the only libsasl2 user */
	PROC_LOCAL,		/* smtpd/local/: delivery as a local user */
	/* last: the parent keeps its extra instances in slots after it */
	PROC_TLS,		/* tlsproxy/: every TLS handshake */
	PROC_COUNT
};

/* Status words used in several replies. */
enum status_code {
	STATUS_OK = 0,
	STATUS_TEMPFAIL = 1,
	STATUS_PERMFAIL = 2
};

/* DSN NOTIFY bits (RFC 3461), stored in envelopes. */
#define DSN_NOTIFY_SUCCESS	0x01
#define DSN_NOTIFY_FAILURE	0x02
#define DSN_NOTIFY_DELAY	0x04
#define DSN_NOTIFY_NEVER	0x08

/* DSN RET values. */
enum dsn_ret {
	DSN_RET_UNSET = 0,
	DSN_RET_FULL,
	DSN_RET_HDRS
};

/* Policy question kinds (IMSG_POLICY_QUERY). */
enum policy_kind {
	POLICY_CONNECT = 1,	/* Connect: client name, then address */
	POLICY_HELO,		/* reserved for HELO checks */
	POLICY_MAIL,		/* From: sender */
	POLICY_RCPT,		/* To: recipient, and the relay decision */
	/*
	 * The TLS rulesets (spec 3, 4).  TLS_CLT comes from smtp right after
	 * a handshake (a MAIL query runs it again first).  The next three
	 * come from mta; in them the client address and name fields carry
	 * the next hop's address and name (sendmail's server_addr and
	 * server_name) and the TLS fields the outbound session's facts.
	 */
	POLICY_TLS_CLT,		/* TLS_Clt: ${verify} of the client */
	POLICY_TRY_TLS,		/* Try_TLS: REJECT = do not send STARTTLS */
	POLICY_TLS_SRV,		/* TLS_Srv: after STARTTLS, tried or not */
	POLICY_TLS_RCPT		/* TLS_Rcpt: before each RCPT is sent */
};

/* Policy verdicts (IMSG_POLICY_RESULT). */
enum policy_verdict {
	POLICY_ACCEPT = 0,	/* go on; code/text empty */
	POLICY_REJECT,		/* permanent: reply code/text given */
	POLICY_TEMPFAIL,	/* temporary: reply code/text given */
	POLICY_DISCARD,		/* accept, then drop the message silently */
	/* accept, then hold the message in the queue until released; the
	 * reason (QUARANTINE:text of the map) is the result's reply text */
	POLICY_QUARANTINE
};

/* No ClientConn:/ClientRate: entry applies (IMSG_POLICY_RESULT). */
#define POLICY_LIMIT_NONE	0xffffffffU

/* The longest quarantine reason (QUARANTINE:text, the envelope field). */
#define QUARANTINE_REASON_MAX	255

/* Flags in a policy result. */
#define POLICY_F_RELAY		0x01	/* the client may relay */
#define POLICY_F_LOCAL		0x02	/* the recipient domain is local */
#define POLICY_F_OK		0x04	/* an OK entry matched: skip later checks */
/* connect: Srv_Features said "temp": 450 to all but QUIT/HELO/EHLO/NOOP/RSET */
#define POLICY_F_SESSION_TEMP	0x08
/* rcpt: the relay right came from a verified certificate (CERTISSUER) */
#define POLICY_F_RELAY_CERT	0x10
/* rcpt: the relay right came from a trusted AUTH mechanism */
#define POLICY_F_RELAY_AUTH	0x20
/* connect (or, with delay_checks, an accepted RCPT): check_relay found
 * no Connect: entry, so the DNSBLs apply (spec 9.10) */
#define POLICY_F_DNSBL		0x40

/*
 * Srv_Features letters (spec 4.2) in the feature masks of a connect
 * result: bit (letter - 'a'); "set" holds the lowercase letters of the
 * matching entry, "clear" the uppercase ones.
 */
#define POLICY_FEATURE(c)	(1U << ((c) - 'a'))

/*
 * What a message needs of SMTPUTF8 (RFC 6531), in IMSG_QUEUE_MESSAGE_COMMIT,
 * IMSG_MTA_DELIVER and the envelope's "utf8" line.
 */
#define UTF8_F_SMTPUTF8		0x01	/* MAIL had the SMTPUTF8 parameter */
#define UTF8_F_HEADERS		0x02	/* its header holds 8-bit octets */

/*
 * What a message asks of its relaying, in IMSG_QUEUE_MESSAGE_COMMIT,
 * IMSG_MTA_DELIVER and the envelope's "msgflags" line.
 */
#define MSG_F_REQUIRETLS	0x01	/* MAIL had REQUIRETLS (RFC 8689) */
#define MSG_F_TLS_OPTIONAL	0x02	/* "TLS-Required: No" in its header */
#define MSG_F_ALL		(MSG_F_REQUIRETLS | MSG_F_TLS_OPTIONAL)

/* Flags of IMSG_MTA_RESULT. */
#define MTA_RESULT_F_DSN_RELAYED	0x01	/* next hop took NOTIFY/ORCPT */

/* Flags of IMSG_LOCAL_DELIVER: an earlier try may have delivered it
 * (its result never came: a restart, a lost smtpd-local, a child that
 * ended without one); a Maildir is searched for it first. */
#define LOCAL_DELIVER_F_RECHECK		0x01
/* Flags of IMSG_LOCAL_RESULT: the child ended without a result, so the
 * try may have delivered; the queue asks the next with F_RECHECK. */
#define LOCAL_RESULT_F_UNSURE		0x01

/*
 * What an accepted recipient finally is (IMSG_POLICY_RESULT's targets,
 * IMSG_QUEUE_MESSAGE_COMMIT, the envelope's "mailer"): a remote address,
 * a local mailbox ("user", "user+detail"; "\\user" when the user's
 * .forward must not be read: sendmail's backslash), a program ("|command"), a file
 * ("/path"), an include file (":include:/path"), or a member that failed
 * (its address; bounced with its reply line).  mailaddr_target_valid()
 * checks a value.
 */
enum target_kind {
	TARGET_REMOTE = 0,
	TARGET_MAILBOX,
	TARGET_PROGRAM,
	TARGET_FILE,
	TARGET_INCLUDE,
	TARGET_ERROR
};
#define TARGET_KIND_MAX	TARGET_ERROR
/* final recipients of one IMSG_QUEUE_MESSAGE_COMMIT */
#define COMMIT_RCPT_MAX	10000

/* Route kinds (IMSG_POLICY_ROUTE_RESULT). */
enum route_kind {
	ROUTE_MX = 0,		/* look up the MX of the domain */
	ROUTE_HOST,		/* static next hop: host, port; no MX lookup
				   unless ROUTE_F_MX */
	ROUTE_ERROR,		/* mailertable error, a hop that is this host:
				   code and text */
	ROUTE_LOCAL		/* a local domain, or mailertable "local:":
				   never the mta's (user: "local:user") */
};
/* Route flags (IMSG_POLICY_ROUTE_RESULT). */
#define ROUTE_F_MX	0x01	/* ROUTE_HOST: the MX of host (mailer:host) */

/* IMSG_USER_RESULT */
enum user_status {
	USER_FOUND = 0,
	USER_NOTFOUND,
	USER_TEMPFAIL
};

/* Control command kinds routed by the parent (IMSG_CTL_REQUEST). */
enum ctl_cmd {
	CTL_SHOW_QUEUE = 1,
	CTL_SHOW_STATS,
	CTL_SHOW_STATUS,
	CTL_SCHEDULE,		/* arg: envelope id, message id or "all" */
	CTL_REMOVE,		/* arg: envelope id, message id or "all" */
	CTL_PAUSE_SMTP,
	CTL_RESUME_SMTP,
	CTL_PAUSE_MTA,
	CTL_RESUME_MTA,
	CTL_LOG_VERBOSE,
	CTL_LOG_BRIEF,
	CTL_RELOAD,
	CTL_MONITOR,
	CTL_RELEASE,		/* arg: envelope id, message id or "all" */
	CTL_QUARANTINE,		/* arg: envelope or message id, blank, reason */
	CTL_SHOW_METRICS,
	CTL_TLSRPT		/* arg: a day, YYYY-MM-DD, "" for yesterday */
};

enum imsg_type {
	IMSG_NONE = 0,

	/*
	 * Parent and every child.
	 */
	/* parent -> child. id 0.  A config is IMSG_CONF_BEGIN (payload:
	 * u32 generation), any number of IMSG_CONF_DATA (payload: str part of
	 * the config text), IMSG_CONF_END (no payload); the child parses the
	 * text with config_parse_buffer() and applies it. */
	IMSG_CONF_BEGIN = 1,
	IMSG_CONF_DATA,
	IMSG_CONF_END,
	/* child -> parent. id 0. payload: u32 generation.  The config was
	 * applied (the parent waits for it before the child is "ready"). */
	IMSG_CONF_APPLIED,
	/* parent -> child. id 0. fd: socketpair end to the peer.
	 * payload: u32 proc_id of the peer, u32 instance of the peer (0 but
	 * for tlsproxy, which runs "tls processes" times).  Replaces any
	 * older channel to that instance. */
	IMSG_PEER_CHANNEL,
	/* child -> parent. id 0. payload: u32 proc_id, str reason,
	 * u32 instance of the peer.  The peer sent something malformed; the
	 * parent restarts it if it is less privileged than the reporter. */
	IMSG_PEER_BAD,
	/* parent -> child. id 0. payload: u32 verbose level. */
	IMSG_LOG_VERBOSE,
	/* parent -> child. id = control connection id. payload: u32 ctl_cmd,
	 * str argument ("" if none). */
	IMSG_CTL_REQUEST,
	/* child -> parent. id = control connection id. payload: str one line
	 * of output, without newline.  Dropped by the parent unless that
	 * request was routed to this child and its IMSG_CTL_END is due. */
	IMSG_CTL_LINE,
	/* child -> parent. id = control connection id. payload: u32 exit
	 * status for smtpctl (0 ok, 1 failure), str message ("" if none). */
	IMSG_CTL_END,
	/* child -> parent. id 0. payload: str one monitor event line.  Sent
	 * only while monitoring is on (IMSG_CTL_REQUEST CTL_MONITOR "on"),
	 * and only by the queue: the parent drops any other child's. */
	IMSG_CTL_EVENT,
	/* policy -> parent. id = lookup id. payload: str user name (a local
	 * part lowercased, without +detail).  `local users passwd`: is it a
	 * user of the system?  Asked only by policyd, which cannot read
	 * passwd in its chroot; anything else asking is restarted. */
	IMSG_USER_LOOKUP,
	/* parent -> policy. id = lookup id. payload: str user name, u32
	 * user_status (getpwnam(3): found, not found, or an error). */
	IMSG_USER_RESULT,

	/*
	 * Parent -> front end.
	 */
	/* id = listener index. fd: listening socket. payload: str listener
	 * name ("127.0.0.1:25"), u32 flags (LISTEN_F_* of config.h),
	 * u32 max-sessions, u32 connection-rate (0: none; 0 for the
	 * sendmail socket). */
	IMSG_SMTP_LISTENER = 32,
	/* id 0. no payload: close every listener (before new ones). */
	IMSG_SMTP_LISTENERS_RESET,
	/* smtp -> parent. id = session id. payload: u32 uid.  The user
	 * name of a local submission's peer (SO_PEERCRED of the sendmail
	 * socket): the front end has no passwd in its chroot.  Asked only
	 * by smtp; anything else asking is restarted. */
	IMSG_SMTP_UID_LOOKUP,
	/* parent -> smtp. id = session id. payload: u32 uid, u32
	 * user_status (getpwuid(3)), str user name ("" unless found). */
	IMSG_SMTP_UID_RESULT,

	/*
	 * Front end <-> queue.
	 */
	/* smtp -> queue. id = session id. payload: u32 CREATE_F_* flags.
	 * Create a message file in incoming/. */
	IMSG_QUEUE_MESSAGE_CREATE = 64,
	/* queue -> smtp. id = session id. fd: the message file, opened for
	 * writing, and for reading with CREATE_F_READ (on success).
	 * payload: u32 status_code, u32 msgid. */
	IMSG_QUEUE_MESSAGE_CREATED,
	/* smtp -> queue. id = session id. payload: u32 msgid, u64 size,
	 * str sender ("" for <>), u32 dsn_ret, str envid, str helo,
	 * str client address, str client name, str protocol (SMTP, ESMTP),
	 * u32 body (0 7bit, 1 8bitmime), u32 UTF8_F_* flags, str auth,
	 * u32 nrcpt, then nrcpt
	 * times: str rcpt, str orcpt ("" if none), u32 notify, u32
	 * COMMIT_RCPT_F_* flags, u32 target_kind, str sender (the envelope sender of this one, "" =
	 * the message's: an alias list's owner), str original recipient
	 * (the RCPT as given), str error (the reply of a TARGET_ERROR),
	 * then str quarantine (the reason the message is held, at most
	 * QUARANTINE_REASON_MAX octets; "" = not held: this field stays
	 * the last of the payload).
	 * auth is MAIL's AUTH= as the envelope keeps it (RFC 4954 5, spec
	 * 8): the decoded mailbox, "<>" when none; never "" (a bad one is
	 * a malformed message).
	 * The queue fsyncs and links message and envelopes, then replies. */
	IMSG_QUEUE_MESSAGE_COMMIT,
	/* queue -> smtp. id = session id. payload: u32 status_code,
	 * u32 msgid. */
	IMSG_QUEUE_MESSAGE_COMMITTED,
	/* smtp -> queue. id = session id. payload: u32 msgid.  Drop an
	 * uncommitted message (aborted DATA, RSET, lost client). */
	IMSG_QUEUE_MESSAGE_ROLLBACK,
	/* queue -> smtp. id 0. payload: u64 octets the queue may still
	 * write in the spool (UINT64_MAX: unknown).  Sent when the front
	 * end connects and every few seconds; MAIL is refused with 452
	 * 4.3.1 below queue min-free. */
	IMSG_QUEUE_SPACE,

	/*
	 * Queue <-> outbound client.
	 */
	/* queue -> mta. id = batch id. fd: the message file, read-only.
	 * payload: u32 msgid, str sender, u32 dsn_ret, str envid,
	 * str domain, i64 creation time, u32 body, u32 UTF8_F_* flags,
	 * str auth, u32 nrcpt,
	 * then nrcpt times: u64 evpid, str rcpt, str orcpt, u32 notify.
	 * auth as in IMSG_QUEUE_MESSAGE_COMMIT ("<>" for the queue's own
	 * DSNs and envelopes written before the field existed); the mta
	 * sends it on as MAIL's AUTH= (inserted before nrcpt by the AUTH=
	 * issue).  All recipients share the destination domain. */
	IMSG_MTA_DELIVER = 96,
	/* mta -> queue. id = batch id. payload: u64 evpid, u32 status_code,
	 * str enhanced status ("2.0.0"), str relay ("host [addr]"),
	 * i64 xdelay seconds, str reply text of the next hop or the local
	 * reason, u32 MTA_RESULT_F_* flags.  One per recipient. */
	IMSG_MTA_RESULT,
	/* mta -> queue. id = batch id. no payload.  Every result of the batch
	 * was sent; the message fd is closed. */
	IMSG_MTA_DONE,
	/* queue -> mta. id 0. no payload.  Stop starting new connections
	 * (smtpctl pause mta is handled by the queue; this drops idle ones). */
	IMSG_MTA_FLUSH_IDLE,

	/*
	 * Front end / outbound client <-> policyd.
	 */
	/* smtp -> policy. id = query id. payload: u32 policy_kind,
	 * str client address, str client name (or "[addr]"), str helo,
	 * str sender, str recipient, str auth user (""), str tls verify (""
	 * without TLS), str auth mechanism ("" if not authenticated),
	 * u32 auth ssf, str tls version ("" without TLS), u32 cipher bits,
	 * str cert subject, str cert issuer, str cn subject (the +XX encoded
	 * macro values of the TLS facts, "" without a certificate; each at
	 * most TLS_MACRO_LEN octets),
	 * str client resolve (${client_resolve}: "OK", "FAIL", "FORGED",
	 * "TEMP"; "" when the name was not looked up, and from the mta)
	 * -- later issues append fields here, never reorder. */
	IMSG_POLICY_QUERY = 128,
	/* policy -> smtp. id = query id. payload: u32 policy_verdict,
	 * u32 POLICY_F_* flags, u32 reply code (0 if none),
	 * str enhanced status, str reply text, str matched key (for logs),
	 * u32 features set, u32 features clear (POLICY_FEATURE bits of
	 * Srv_Features; both 0 except in a connect result, and in a Try_TLS
	 * result the set holds the server's Clt_Features letters d and m,
	 * issue 15), str recipient
	 * to queue in place of the one asked about (the %-hack's
	 * "user@host" for "user%host@local"; "" if unchanged, and in every
	 * result but an accepted RCPT's, for logs), u32 ntargets, then
	 * ntargets times: u32 target_kind, str value, str sender ("" = the
	 * message's), str error (the reply line of a TARGET_ERROR, else "")
	 * -- what an accepted or quarantined RCPT resolved to (at least one;
	 * at most limit alias-expansion; 0 in every other result),
	 * u32 ClientConn limit, u32 ClientRate limit (a connect result's
	 * access-map numbers, 0 = no limit, POLICY_LIMIT_NONE = no entry;
	 * ignored in other results).
	 * POLICY_QUARANTINE: code 0, enhanced "", reply text = the reason.
	 * mta -> policy: IMSG_POLICY_QUERY of the kinds TRY_TLS, TLS_SRV
	 * and TLS_RCPT; policy -> mta: IMSG_POLICY_RESULT, same layouts. */
	IMSG_POLICY_RESULT,
	/* mta -> policy. id = query id. payload: str domain. */
	IMSG_POLICY_ROUTE,
	/* policy -> mta. id = query id. payload: u32 route_kind, str host,
	 * u32 port (0 = default), u32 reply code, str text, u32 flags
	 * (ROUTE_F_*), str user (ROUTE_HOST: the address every recipient
	 * is sent as, "" for its own; ROUTE_LOCAL: the local user of
	 * "local:user", "" otherwise). */
	IMSG_POLICY_ROUTE_RESULT,
	/* mta -> policy. id = session id. payload: str server name (the
	 * next hop's name without trailing dot, or "[addr]"), str server
	 * address ("192.0.2.1", "IPv6:...").  Asked after EHLO when the
	 * server offers AUTH: the authinfo map's credential for it. */
	IMSG_POLICY_AUTHINFO,
	/* policy -> mta. id = session id. payload: u32 authinfo_status,
	 * then for AUTHINFO_FOUND: str authentication id (I:), str
	 * authorization id (U:), str secret (P:, decoded), str realm (R:,
	 * "" if none), str mechanisms (M:, "" = any), u32 authinfo_tls
	 * (T:).  The mta keeps it for that session only and wipes it when
	 * the exchange ends. */
	IMSG_POLICY_AUTHINFO_RESULT,
	/* queue -> policy. id = request id. payload: str recipient of a
	 * DSN the queue made (the sender of a failed message).  Resolved as
	 * a RCPT is (virtusertable, aliases, local users, routes), so that a
	 * DSN for a local sender never goes to the mta. */
	IMSG_POLICY_RESOLVE,
	/* policy -> queue. id = request id. payload: u32 status_code (OK,
	 * TEMPFAIL: ask again later), u32 ntargets, then ntargets times the
	 * target layout of IMSG_POLICY_RESULT (u32 target_kind, str value,
	 * str sender, str error); at least one with STATUS_OK, none else. */
	IMSG_POLICY_RESOLVE_RESULT,
	/* queue -> policy. id = request id. payload: str self (the user
	 * whose .forward it is; "" for an :include: file), str source (the
	 * file, for logs: "/home/u/.forward", ":include:/path"), u32 depth
	 * (the .forward and :include: levels above the items), str text
	 * (the file as smtpd-local read it, at most POLICY_ALIAS_VALUE_MAX
	 * octets).  Answered with IMSG_POLICY_RESOLVE_RESULT: what the items
	 * become, as the members of an alias list; a .forward's own user
	 * named in it is the mailbox "\\user". */
	IMSG_POLICY_EXPAND,

	/*
	 * tlsproxy.  The handshake result ("TLS facts") that ends a START is
	 * always the same payload, in this order: u32 status_code, str error
	 * ("" on success), str protocol ("TLSv1.3"), str cipher, u32 cipher
	 * bits, u32 algorithm bits, str verify (sendmail's ${verify}: OK, NO,
	 * NOT, FAIL, TEMP, PROTOCOL, SOFTWARE; NONE is never produced here),
	 * str cert subject, str cert issuer, str cn subject, str cn issuer
	 * (all four are the final macro values: rendered as spec 5.3, then
	 * +XX encoded as spec 5.2, so printable ASCII that access-map keys
	 * and logs use as is; "" when no certificate was presented),
	 * str SHA-256 fingerprint of the peer certificate (uppercase hex
	 * pairs joined by ':', "" if none).
	 * On failure (status TEMPFAIL or PERMFAIL) no fd comes with it and
	 * verify says why: TEMP (handshake timeout, no keys, shortage),
	 * PROTOCOL (the peer did not send a TLS ClientHello; PERMFAIL),
	 * SOFTWARE (the handshake failed).
	 */
	/* parent -> tlsproxy. id 0. no payload.  Starts a new key set:
	 * IMSG_TLS_PKI_BEGIN, any number of IMSG_TLS_PKI and IMSG_TLS_PKI_CA,
	 * IMSG_TLS_PKI_END.  The new set serves new handshakes; sessions
	 * keep theirs.  Sent at start (after the config) and after every
	 * reload. */
	IMSG_TLS_PKI_BEGIN = 160,
	/* parent -> tlsproxy. id 0. payload: str pki name, data certificate
	 * chain (PEM), data private key (PEM).  In config order: the first
	 * is the default certificate. */
	IMSG_TLS_PKI,
	/* parent -> tlsproxy. id 0. no payload.  The set is complete.
	 * (Changed from the first draft: the CA certificates travel in
	 * IMSG_TLS_PKI_CA, because a CA directory exceeds one imsg.) */
	IMSG_TLS_PKI_END,
	/* smtp -> tlsproxy. id = session id. payload: str listener name,
	 * str client address, u32 TLS_F_* flags.  Asks whether a handshake
	 * can start now (keys loaded, capacity left).  Sent for STARTTLS and
	 * for an smtps listener alike; a session id may be prepared once.
	 * A prepared session not started within "timeout tls-handshake"
	 * ends with a TEMP result; IMSG_TLS_ABORT drops it sooner. */
	IMSG_TLS_SERVER_PREPARE,
	/* tlsproxy -> smtp. id = session id. payload: u32 status_code.
	 * Not STATUS_OK: nothing is kept (the front end answers 454 and may
	 * prepare the same id again later). */
	IMSG_TLS_SERVER_READY,
	/* smtp -> tlsproxy. id = session id. fd: the client socket (the
	 * front end keeps no copy).  payload: u32 TLS_F_* flags.  Only after
	 * a READY with STATUS_OK for that id. */
	IMSG_TLS_SERVER_START,
	/* tlsproxy -> smtp, and tlsproxy -> mta for CLIENT_START. id = the
	 * session id. fd: the plaintext end of a socketpair (on success).
	 * payload: the TLS facts above, then str SNI (server side: what the
	 * client sent, "" if none or not a valid host name; client side: the
	 * name we sent).  No plaintext byte is relayed before this message
	 * is sent. */
	IMSG_TLS_RESULT,
	/* mta -> tlsproxy. id = session id. fd: the server socket. payload:
	 * str server name (sent as SNI when it is a host name, and used in
	 * the logs; not checked against the certificate, as in sendmail:
	 * ${cn_subject} is for that, unless the flags have
	 * TLS_F_VERIFY_NAME, for MTA-STS), str client pki name ("" for
	 * none), u32 TLS_F_* flags; then (DANE, issue 15) u32 dane (1: DANE
	 * applies, the chain must match a record: ${verify} TRUSTED or
	 * DANE_FAIL), u32 n (at most TLS_TLSA_MAX), n times u32 usage << 16
	 * | selector << 8 | matching type and data (at most
	 * TLS_TLSA_DATA_MAX octets).  With dane the server name is the MX
	 * host: SNI, and the name a DANE-TA chain's leaf must carry (RFC
	 * 7672 3.2.2, 8.1).  The mta's MTA-STS policy fetches use it too,
	 * with ids of their own (and dane 0). */
	IMSG_TLS_CLIENT_START,
	/* smtp/mta -> tlsproxy. id = session id. no payload.  The session is
	 * gone: drop the connection and its state. */
	IMSG_TLS_ABORT,
	/* parent -> tlsproxy. id 0. payload: data PEM text of trusted CA
	 * certificates (the ca file, then every certificate of the hashed
	 * ca path), whole certificates, at most 128 KiB per message. */
	IMSG_TLS_PKI_CA,

	/*
	 * Front end <-> auth (smtpd-auth, the only process that links
	 * Cyrus SASL).  One exchange at a time per session id; the auth
	 * process makes a fresh sasl_conn for each START and disposes of
	 * it at the first RESULT that is not AUTH_CONTINUE.
	 */
	/* auth -> smtp. id 0. payload: str mechanisms offered without TLS,
	 * str mechanisms offered over TLS (space separated, "" if none):
	 * the configured list intersected with the installed plugins and
	 * filtered by the AuthOptions.  Sent when the channel comes up and
	 * after every config; AUTH is not offered before the first one. */
	IMSG_AUTH_MECHS = 192,
	/* smtp -> auth. id = session id. payload: str mechanism (upper
	 * case), u32 1 if an initial response follows, str initial response
	 * (base64 as the client sent it, "=" for an empty one; "" if none),
	 * str client address, u32 1 if TLS is on, u32 TLS cipher bits,
	 * u32 LISTEN_F_* flags of the listener, str the identity EXTERNAL
	 * authenticates (${cert_subject} of a client certificate that
	 * verified, when "auth mechanisms" lists EXTERNAL; "" otherwise). */
	IMSG_AUTH_START,
	/* smtp -> auth. id = session id. payload: str one base64 line of
	 * the client (without CRLF).  Only after an AUTH_CONTINUE. */
	IMSG_AUTH_STEP,
	/* auth -> smtp. id = session id. payload: u32 auth_status, then
	 * AUTH_CONTINUE: str challenge (base64, "" for an empty one);
	 * AUTH_OK: str authentication id, str mechanism, u32 ssf;
	 * AUTH_FAIL, AUTH_MALFORMED, AUTH_TEMPFAIL: str reason (for logs). */
	IMSG_AUTH_RESULT,
	/* smtp -> auth. id = session id. no payload.  The client cancelled
	 * with "*", sent an overlong line, or the session is gone. */
	IMSG_AUTH_CANCEL,

	/*
	 * Outbound client <-> auth: the mta's AUTH to a next hop, run by a
	 * Cyrus SASL client connection in smtpd-auth (fresh for each START,
	 * disposed of at END or at the first RESULT that is not
	 * AUTH_CONTINUE).  The mta relays the server's 334 challenges and
	 * writes our responses.
	 */
	/* mta -> auth. id = mta session id. payload: str server name (the
	 * next hop's name, or its address), str mechanisms the server
	 * offered (space separated, upper case), str authorization id (U:),
	 * str authentication id (I:), str secret (P:, decoded), str realm
	 * (R:, "" if none), str mechanisms allowed (M:, "" = any), u32 1 if
	 * TLS is on, u32 TLS cipher bits.  Both ends wipe it once read. */
	IMSG_AUTH_CLIENT_START = 208,
	/* mta -> auth. id = session id. payload: str the server's challenge
	 * (the base64 text after "334 ", "" for an empty one).  Only after
	 * an AUTH_CONTINUE. */
	IMSG_AUTH_CLIENT_STEP,
	/* auth -> mta. id = session id. payload: u32 auth_status, then
	 * AUTH_CONTINUE: str mechanism (the one chosen, for a START; "" for a
	 * STEP), u32 1 if a response goes with it (a START: the initial
	 * response; a STEP: always), str response (base64, "" empty);
	 * AUTH_FAIL (START: no mechanism in common; STEP: the mechanism
	 * refuses the server's data), AUTH_MALFORMED (the challenge is not
	 * base64), AUTH_TEMPFAIL: str reason.  Never AUTH_OK: the server's
	 * 235 ends the exchange. */
	IMSG_AUTH_CLIENT_RESULT,
	/* mta -> auth. id = session id. no payload.  The exchange is over
	 * (235, a refusal, the session gone); may cross a final RESULT. */
	IMSG_AUTH_CLIENT_END,

	/*
	 * Queue <-> local delivery (smtpd-local, root, the only process that
	 * takes a user's identity).  One envelope per request.
	 */
	/* queue -> local. id = batch id. fd: the message file, read-only.
	 * payload: u64 evpid, str sender (the Return-Path, "" for <>),
	 * str rcpt (the mailbox: "user" or "user+detail"; "|command",
	 * "/file"), str orig (the RCPT as given, for logs), i64 the
	 * message's creation time, u32 target_kind, str user (whom a
	 * program or file runs as; "" local default-user), u32
	 * LOCAL_DELIVER_F_* flags.  smtpd-local checks the user again
	 * (exists, not uid 0) before it delivers. */
	IMSG_LOCAL_DELIVER = 224,
	/* local -> queue. id = batch id. payload: u64 evpid, u32
	 * status_code, str enhanced status ("2.0.0"), str text (the reason,
	 * for the log and the DSN), u32 LOCAL_RESULT_F_* flags.  Sent once
	 * per request, only after the mailbox was fsynced for STATUS_OK. */
	IMSG_LOCAL_RESULT,
	/* queue -> local. id = request id. payload: u64 evpid (for logs),
	 * u32 target_kind (TARGET_MAILBOX: the .forward of the user of rcpt;
	 * TARGET_INCLUDE: the file of rcpt), str rcpt ("user[+detail]" or
	 * ":include:/path"), str user (whom an include from a .forward is
	 * read as; "" for one from the aliases).  smtpd-local reads the file
	 * in a child with the rights of its user, after the checks of
	 * sendmail's DontBlameSendmail defaults. */
	IMSG_LOCAL_EXPAND,
	/* local -> queue. id = request id. payload: u32 local_expand, str
	 * enhanced status, str text (EXPAND_TEXT: the file, at most
	 * POLICY_ALIAS_VALUE_MAX octets; else why, for the log and the
	 * DSN), str owner (EXPAND_TEXT: the user the programs, files and
	 * includes it names run as; "" = local default-user). */
	IMSG_LOCAL_EXPANDED,

	/*
	 * ETRN (RFC 1985), front end -> queue.
	 */
	/* smtp -> queue. id = session id. payload: u32 flags (ETRN_F_*),
	 * str domain (lowercase LDH; the queue checks it again and ignores
	 * a bad one with a log line).  The queue makes the envelopes to
	 * that domain (and with ETRN_F_SUBDOMAINS its subdomains) due now;
	 * no answer. */
	IMSG_QUEUE_ETRN,

	/*
	 * Connection and load limits (issue 13).
	 */
	/* parent -> smtp, queue. id 0. payload: u32 the one-minute load
	 * average times 100 (getloadavg(3), which the chrooted children
	 * cannot read), every 5 s while a limit load-* is set and after
	 * each config. */
	IMSG_LOAD_AVERAGE,

	/*
	 * genericstable (smtpd.conf(5) generics), front end <-> policyd.
	 */
	/* smtp -> policy. id = session id. payload: u32 request number (the
	 * session's, echoed), u32 n (1 to GENERICS_ADDRS_MAX), then n times
	 * str address (user@domain: one of a generics domain, or an
	 * unqualified one with the hostname).  The candidates of one header
	 * field, or the envelope sender. */
	IMSG_POLICY_GENERICS,
	/* policy -> smtp. id = session id. payload: u32 request number,
	 * u32 status_code (STATUS_TEMPFAIL: the map could not be read, or
	 * the request was refused), u32 n (as asked; 0 unless STATUS_OK),
	 * then n times str the genericstable value for that address ("" =
	 * no entry, or an address policyd refused). */
	IMSG_POLICY_GENERICS_RESULT,

	/*
	 * A metrics listener (issue 17).
	 */
	/* smtp -> parent. id = the front end's request number. No payload.
	 * The parent asks every child for CTL_SHOW_METRICS and sends what
	 * they answer back to smtp as IMSG_CTL_LINE (str line) and one
	 * IMSG_CTL_END (u32 status, str message), id = that number. */
	IMSG_SMTP_METRICS,

	/*
	 * MTA-STS policies kept for the outbound client (issue 15), in
	 * policyd's own database (PATH_STS_DB under the database
	 * directory; the maps stay read-only).
	 */
	/* mta -> policyd. id = the mta's query. payload: str domain. */
	IMSG_POLICY_STS_GET,
	/* policyd -> mta. id = that query. payload: u32 found (1) or not
	 * (0, the rest empty), str TXT id, u64 fetched (time_t), data the
	 * policy as it was served; the mta parses it again. */
	IMSG_POLICY_STS_RESULT,
	/* mta -> policyd. id 0. payload: str domain, str TXT id, u64
	 * fetched, data the policy.  No answer; a failure is logged. */
	IMSG_POLICY_STS_PUT,

	/*
	 * TLS-RPT records of the outbound client (issue 15), in the same
	 * database as the MTA-STS policies, so that a restart of the mta
	 * keeps the day's counts.
	 */
	/* mta -> policyd. id 0. payload: str day (YYYY-MM-DD), str policy
	 * domain, str the record (mta_tlsrpt.c's text form).  Replaces the
	 * row; no answer. */
	IMSG_POLICY_TLSRPT_PUT,
	/* mta -> policyd. id 0. payload: str the first day wanted. */
	IMSG_POLICY_TLSRPT_LOAD,
	/* policyd -> mta. id 0. payload: str day, str domain, str record;
	 * one per row from that day on, then one with an empty day. */
	IMSG_POLICY_TLSRPT_RECORD,

	/*
	 * DANE in the outbound client (issue 15).
	 */
	/* parent -> mta. id 0. payload: data the text of "dnssec
	 * trust-anchor" (at most DANE_ANCHOR_MAX octets; empty when the
	 * file cannot be read or "mta dane" is off).  Sent before every
	 * IMSG_CONF_BEGIN to the mta, because the file is outside its
	 * chroot; the config that follows makes the validating resolver
	 * from it. */
	IMSG_MTA_TRUST_ANCHOR,

	/*
	 * Milters (issue 16): a filter's header and body changes are
	 * written to a second file of the same incoming message, which
	 * replaces the first at its commit.
	 */
	/* smtp -> queue. id = session id. payload: u32 msgid (an incoming
	 * message of the session, not yet committed).  Asked at most once
	 * per message. */
	IMSG_QUEUE_MESSAGE_REWRITE,
	/* queue -> smtp. id = session id. fd: incoming/<msgid>.new opened
	 * for reading and writing (on success).  payload: u32 status_code,
	 * u32 msgid. */
	IMSG_QUEUE_MESSAGE_REWRITING,

	/*
	 * Milters on unix sockets (issue 16), which lie outside the front
	 * end's chroot.
	 */
	/* smtp -> parent. id = session id. payload: u32 the filter's index
	 * in the config's filters (one whose socket is unix:, never a
	 * path).  Asked only by smtp; anything else asking, or an index
	 * that is not such a filter of the config the front end runs, is
	 * restarted. */
	IMSG_SMTP_MILTER_CONNECT,
	/* parent -> smtp. id = session id. fd: the socket, connected
	 * (non-blocking; the parent neither reads nor writes on it), on
	 * success.  payload: u32 the filter's index, u32 errno (0 with the
	 * fd; else the connect's, or ESTALE for an index asked under the
	 * config before a reload). */
	IMSG_SMTP_MILTER_CONNECTED
};

/* Flags of a recipient in IMSG_QUEUE_MESSAGE_COMMIT: a filter added it
 * (addrcpt), so policyd resolves it when it comes due, as a DSN's. */
#define COMMIT_RCPT_F_RESOLVE	0x01

/* Flags of IMSG_QUEUE_MESSAGE_CREATE. */
#define CREATE_F_READ	0x01	/* the session's filters read it back */

/* TLSA records of one IMSG_TLS_CLIENT_START, and their data. */
#define TLS_TLSA_MAX		8
#define TLS_TLSA_DATA_MAX	64

/* The largest trust anchor file IMSG_MTA_TRUST_ANCHOR carries. */
#define DANE_ANCHOR_MAX		(64 * 1024)

/* The most addresses of one IMSG_POLICY_GENERICS. */
#define GENERICS_ADDRS_MAX	64

/* Flags of IMSG_QUEUE_ETRN. */
#define ETRN_F_SUBDOMAINS	0x01	/* ETRN @domain */

/* The outcome of IMSG_LOCAL_EXPAND. */
enum local_expand {
	EXPAND_NONE = 0,	/* no .forward (or an unsafe one, ignored) */
	EXPAND_TEXT,		/* the file's items follow */
	EXPAND_TEMPFAIL,	/* try again later */
	EXPAND_PERMFAIL		/* an include that cannot be used: bounce */
};

/* Status of IMSG_AUTH_RESULT. */
enum auth_status {
	AUTH_CONTINUE = 0,	/* 334 with the challenge */
	AUTH_OK,		/* 235 */
	AUTH_FAIL,		/* 535 after a delay */
	AUTH_MALFORMED,		/* 501: the client's base64 did not decode */
	AUTH_TEMPFAIL		/* 454 */
};

/* Status of IMSG_POLICY_AUTHINFO_RESULT. */
enum authinfo_status {
	AUTHINFO_NONE = 0,	/* no entry: no AUTH to this server */
	AUTHINFO_FOUND,		/* the credential follows */
	AUTHINFO_TEMPFAIL	/* database failure or unusable entry */
};

/* What a session must be before the mta sends a credential (T:). */
enum authinfo_tls {
	AUTHINFO_TLS_VERIFY = 0,	/* TLS, certificate verified */
	AUTHINFO_TLS_ENCR		/* any TLS */
};

/* The longest +XX encoded certificate macro: a 256-octet DN, each octet
 * possibly "+XX" (spec 5.2, 5.3). */
#define TLS_MACRO_LEN		768

/* Flags of the TLS requests. */
#define TLS_F_VERIFY_PEER	0x01	/* server: ask for a client cert */
#define TLS_F_SMTPS		0x02	/* server: implicit TLS listener */
/* client: ${verify} OK also needs the certificate to name the server
 * name sent (RFC 6125; MTA-STS, RFC 8461 4.2) */
#define TLS_F_VERIFY_NAME	0x04

/* Correlation ids are 32 bits; 0 means "none". */
#define ID_NONE		0

#endif
