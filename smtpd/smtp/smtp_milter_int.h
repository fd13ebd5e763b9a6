/*
 * smtp_milter_int.h: what the three parts of a session's milters share:
 * the envelope stages (smtp_milter.c), the message stages
 * (smtp_milter_msg.c) and the modifications (smtp_milter_mods.c).
 */
#ifndef SMTP_MILTER_INT_H
#define SMTP_MILTER_INT_H

#include <stdint.h>

#include "config.h"
#include "mailaddr.h"
#include "smtp_milter.h"
#include "smtp_milter_conn.h"

/* At most this many header fields are sent and indexed for changes. */
#define SMTP_MILTER_FIELDS_MAX	10000
/* A filter's modifications of one message: count and octets. */
#define SMTP_MILTER_MODS_MAX	1024
#define SMTP_MILTER_MODS_OCTETS	(1024 * 1024)

enum smtp_milter_skip {
	SMTP_MILTER_ASK = 0,
	SMTP_MILTER_SKIP_TX,		/* accepted this transaction */
	SMTP_MILTER_SKIP_SESSION,	/* accepted the session, or failed
					 * with on-failure accept */
	SMTP_MILTER_BROKEN		/* failed: every later stage gets its
					 * failure reply */
};

struct smtp_milter;

/* One filter of the session: its connection's callbacks get this. */
struct smtp_milter_one {
	struct smtp_milter	*m;
	struct smtp_milter_conn	*conn;
	char			 name[CONF_FILTER_NAME_MAX];
	enum conf_filter_fail	 on_failure;
	enum smtp_milter_skip	 skip;
	/* asked about the transaction: an ABORT is due at its end */
	int			 in_tx;
	/* a unix socket: the parent is asked to connect the filter at
	 * this index of the config, -1 when not asking */
	int			 asking;
};

/* One header field of the message as received, in the message file. */
struct smtp_milter_field {
	uint64_t		 off;		/* its first octet */
	uint32_t		 len;		/* with folded lines, CRLFs */
	uint32_t		 name;		/* its name in msg->names */
	uint32_t		 namelen;
};

/* A modification asked for at the end of the message. */
struct smtp_milter_mod {
	char			 code;		/* SMFIR_* */
	uint32_t		 idx;		/* CHGHEADER, INSHEADER */
	/* the value goes in as given (SMFIP_HDR_LEADSPC), not after ": " */
	int			 leadspc;
	char			*a;	/* header name, address, reason */
	char			*b;	/* header value, ESMTP args or NULL */
};

/* A header field as the filters left it so far: received, or a
 * filter's. */
struct smtp_milter_hdr {
	const struct smtp_milter_field	*field;	/* NULL: a filter's */
	const char			*name;
	size_t				 namelen;
	const struct smtp_milter_mod	*mod;	/* a filter's text */
};

/* What the headers and body of a rewritten message hold. */
struct smtp_milter_facts {
	int			 tls_optional;	/* "TLS-Required: No" */
	int			 hdr8bit;
	int			 body8bit;
};

/* The message stages of one transaction. */
struct smtp_milter_msg {
	int			 fd;		/* the message file */
	uint64_t		 size;		/* the message in it */
	struct smtp_milter_field *fields;
	size_t			 nfields;
	size_t			 fieldcap;
	char			*names;
	size_t			 nameslen;
	size_t			 namescap;
	/* the header section ends (before its empty line, if any), the
	 * body begins */
	uint64_t		 hdr_end;
	uint64_t		 body_off;
	/* the header list the filter at cur is sent: the fields with the
	 * changes of the filters before it, NULL for the fields as
	 * received */
	struct smtp_milter_hdr	*hdrs;
	size_t			 nhdrs;
	/* the filter being fed: its step, next field, next body octet
	 * and the end of the body it is sent */
	int			 step;
	size_t			 field;
	uint64_t		 pos;
	uint64_t		 body_end;
	char			*buf;		/* SMTP_MILTER_CHUNK_MAX */
	/* the modifications: those of filters done, then the staged ones
	 * of the filter at cur, taken when it answers the end */
	struct smtp_milter_mod	*mods;
	size_t			 nmods;
	size_t			 modcap;
	size_t			 committed;
	size_t			 octets;	/* of the staged ones */
	/* replacement bodies are appended to the file past size: the
	 * one taken, and the one the filter at cur is sending */
	int			 repl;
	uint64_t		 repl_off;
	uint64_t		 repl_len;
	int			 staging;
	uint64_t		 stage_off;
	uint64_t		 stage_len;
	int			 stage_cr;	/* it ended with a CR */
	int			 stage8bit;	/* an octet over 0x7f */
	int			 repl8bit;
	uint64_t		 file_end;	/* end of what was appended */
};

struct smtp_milter {
	struct smtp_milter_one	 one[CONF_FILTER_MAX];
	size_t			 n;
	size_t			 cur;
	char			 cmd;
	char			 rcpt[MAILADDR_PATH_MAX];
	smtp_milter_next_fn	 next;
	struct smtp_session	*s;
	/* inside a stage's start: next runs in the session's own input
	 * loop, which goes on by itself */
	int			 sync;
	/* a replycode's text; a longer one fails the filter */
	char			 reply[1024];
	/* the message stages, NULL outside them */
	struct smtp_milter_msg	*msg;
};

/* Built one at a time, written at once: one buffer for the process. */
extern struct smtp_milter_packet	 smtp_milter_pkt;

#define SMTP_MILTER_TEMPFAIL	"451 4.3.5 Message filter unavailable, " \
				"try again later"

/* smtp_milter.c */
struct smtp_milter *smtp_milter_new(struct smtp_session *);
void	 smtp_milter_finish(struct smtp_milter *, const char *reply);
const char *smtp_milter_fail_reply(const struct smtp_milter_one *);
void	 smtp_milter_fail_log(struct smtp_milter *, struct smtp_milter_one *);

/* smtp_milter_msg.c: a reply or outcome of the filter at cur while it is
 * fed the message. */
void	 smtp_milter_msg_done(struct smtp_milter *, enum smtp_milter_outcome,
	    const struct smtp_milter_reply *);
void	 smtp_milter_msg_free(struct smtp_milter_msg *);

/* smtp_milter_mods.c */
/* A modification of the filter at cur: staged; -1 if it is not one the
 * filter negotiated, malformed or over the limits (the filter fails). */
int	 smtp_milter_mods_take(struct smtp_milter *,
	    const struct smtp_milter_reply *);
/* The filter at cur answered the end: its staged ones count (take), or
 * go (drop). */
void	 smtp_milter_mods_commit(struct smtp_milter_msg *);
void	 smtp_milter_mods_drop(struct smtp_milter_msg *);
void	 smtp_milter_mods_free(struct smtp_milter_msg *);
/* Apply the envelope changes to the transaction: NULL, or the reply
 * that refuses the message. */
const char *smtp_milter_mods_envelope(struct smtp_milter *);
/* 1 if the message file must be rewritten (headers or body changed). */
int	 smtp_milter_mods_rewrite(const struct smtp_milter_msg *);
/* The header list with the changes taken so far applied; NULL if out
 * of memory. */
struct smtp_milter_hdr *smtp_milter_mods_headers(struct smtp_milter_msg *,
	    size_t *);
/* Write the changed message to fd and say what it holds; its size, or
 * -1 on a write error. */
int64_t	 smtp_milter_mods_write(struct smtp_milter_msg *, int fd,
	    struct smtp_milter_facts *);

#endif
