/*
 * queue_envelope.h: one recipient of one queued message, and its text
 * form on disk (envelope/<evpid>).
 *
 * The format is versioned ("version: 1" on the first line), then one
 * "key: value" line per field, every field exactly once, except that
 * "auth" may be missing (files of the first releases lack it: it reads
 * as "<>"), so may "mailer" and "orig" (files from before local
 * recipients: "esmtp" and ""), and "quarantine" is written only for a
 * held envelope (an envelope without it is not held).  Values are
 * validated before they are written and again after they are read, and
 * '%' and control octets are written as %XX, so no value can ever break
 * out of its line (the CVE-2020-8794 lesson).  The loader refuses any
 * file that is not exactly what the dumper writes.  Nothing here uses the
 * queue process's globals, so the unit tests drive it directly.
 */
#ifndef QUEUE_ENVELOPE_H
#define QUEUE_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "mailaddr.h"
#include "proto.h"

#define ENVELOPE_VERSION	1
/* a dumped envelope always fits in this many octets */
#define ENVELOPE_TEXT_MAX	16384

#define ENVELOPE_ENVID_MAX	104	/* RFC 3461: 100 octets of xtext */
#define ENVELOPE_ORCPT_MAX	512
#define ENVELOPE_ADDR_MAX	64
#define ENVELOPE_PROTO_MAX	16
#define ENVELOPE_STATUS_MAX	16
#define ENVELOPE_TEXT_LINE	512

enum envelope_type {
	ENVELOPE_RELAY = 0,	/* a message taken from a client */
	ENVELOPE_BOUNCE		/* a DSN made by the queue itself */
};

/* a user name (LOCAL_USER_MAX of smtpd-local) */
#define ENVELOPE_USER_MAX	256

/* flags */
#define ENVELOPE_F_DELAY_SENT	0x01	/* the one delay DSN went out */
#define ENVELOPE_F_DOUBLE	0x02	/* a DSN to the double-bounce address */
#define ENVELOPE_F_DSN_PENDING	0x04	/* delivered; its "relayed" DSN is
					   still to be written */
#define ENVELOPE_F_RESOLVE	0x08	/* a DSN: policyd resolves its
					   recipient before it goes out */

struct envelope {
	uint64_t		 id;
	uint32_t		 msgid;
	enum envelope_type	 type;
	char			 sender[CONF_ADDR_MAX];	/* "" for <> */
	/* the final recipient: an address, or a local target (mailer) */
	char			 rcpt[MAILADDR_TARGET_MAX];
	/* enum target_kind: remote ("esmtp" on disk), a local one
	 * (mailbox, program, file, include) or error (a member that
	 * failed: last-error says why).  Optional on disk: "esmtp". */
	uint32_t		 mailer;
	/* the RCPT as the client gave it, when the recipient was resolved
	 * to something else (virtusertable, aliases); "" = rcpt.
	 * Optional on disk. */
	char			 orig[CONF_ADDR_MAX];
	/* the user a program, file or include target runs as (the owner
	 * of the .forward or :include: file it came from); "" = the alias
	 * file's, i.e. local default-user.  Optional on disk. */
	char			 user[ENVELOPE_USER_MAX];
	/* .forward and :include: levels that led here (they count toward
	 * limit alias-depth).  Optional on disk: 0. */
	uint32_t		 depth;
	char			 orcpt[ENVELOPE_ORCPT_MAX];
	uint32_t		 notify;		/* DSN_NOTIFY_* */
	uint32_t		 ret;			/* enum dsn_ret */
	char			 envid[ENVELOPE_ENVID_MAX];
	char			 helo[CONF_HOST_MAX];
	char			 client_addr[ENVELOPE_ADDR_MAX];
	char			 client_name[CONF_HOST_MAX];
	char			 proto[ENVELOPE_PROTO_MAX];
	uint32_t		 body;			/* 0 7bit, 1 8bitmime */
	/* UTF8_F_* (proto.h).  Optional on disk: 0. */
	uint32_t		 utf8;
	/* MSG_F_* (proto.h).  Optional on disk: 0. */
	uint32_t		 msgflags;
	uint64_t		 size;			/* of the message file */
	time_t			 ctime;
	time_t			 lasttry;
	time_t			 nexttry;
	uint32_t		 retries;
	uint32_t		 flags;			/* ENVELOPE_F_* */
	char			 last_status[ENVELOPE_STATUS_MAX];
	char			 last_error[ENVELOPE_TEXT_LINE];
	char			 last_relay[CONF_HOST_MAX];
	/* lowercased; "" for a local mailer */
	char			 domain[CONF_HOST_MAX];
	/* MAIL's AUTH= to pass on (RFC 4954 5): the decoded mailbox, or
	 * "<>"; never "".  Optional on disk: a file without it (written
	 * before the field existed) reads as "<>". */
	char			 auth[CONF_ADDR_MAX];
	/* QUARANTINE: why the envelope is held until "smtpctl release";
	 * "" = not held */
	char			 quarantine[QUARANTINE_REASON_MAX + 1];
	/* memory only, never on disk: stats_clock_us() when its commit was
	 * durable, for the scheduler wait of its first dispatch; 0 when
	 * read from a file */
	int64_t			 committed_us;
};

/* Write the text form into buf; its length, or -1 if a field is invalid
 * or the buffer too small. */
int		 queue_envelope_dump(const struct envelope *, char *, size_t);
/* Parse the text form; 0, or -1 with a reason in *why. */
int		 queue_envelope_load(struct envelope *, const char *, size_t,
		    const char **why);
/* 0 if every field is acceptable, else -1 with a reason in *why. */
int		 queue_envelope_check(const struct envelope *,
		    const char **why);

/* A recipient: non-empty, bounded, no control octets, a domain after the
 * last '@'.  A sender: the same, or empty.  (A local target: see
 * mailaddr_target_valid().) */
int		 queue_envelope_rcpt_valid(const char *);
int		 queue_envelope_sender_valid(const char *);
/* 1 if the envelope is for a local mailer (mailbox, program, ...). */
int		 queue_envelope_local(const struct envelope *);
/* Copy the lowercased domain of an address; -1 if it has none. */
int		 queue_envelope_domain(const char *, char *, size_t);
/* Exactly width lowercase hex digits, as in spool names; 0 or -1. */
int		 queue_envelope_hex_parse(const char *, size_t width,
		    unsigned long long *);
/* Copy untrusted text (a remote reply) with control octets blanked. */
void		 queue_envelope_text_set(char *, size_t, const char *);

#endif
