/*
 * smtp_milter_msg.c: the message stages of a session's milters (see
 * smtp_milter.h).  As sendmail does, the filters see the message once it
 * is whole: it is read back from the message file, never held in
 * memory.  A first pass indexes the header fields (where each is, its
 * name); then each filter still asking, one after the other, is sent
 * DATA, every field, EOH, the body in chunks and the end of the message,
 * and answers with its modifications and its verdict.  As in sendmail,
 * a filter sees the message as the ones before it changed it (the header
 * list with their changes, their replacement body); the changes are
 * written once all are done (smtp_milter_mods.c), the headers and body
 * to a second file of the queue's, before the commit and so before the
 * 250.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "smtp_milter_int.h"
#include "smtp_session.h"
#include "stats.h"

#define SMTP_MILTER_MSG_REJECT	"550 5.7.1 Message rejected"
#define SMTP_MILTER_MSG_TEMP	"451 4.7.1 Message temporarily rejected, " \
				"try again later"
#define SMTP_MILTER_MSG_IOERR	"451 4.3.0 Error reading message, try " \
				"again later"
#define SMTP_MILTER_MSG_FIELDS	"554 5.6.0 Too many header fields, or " \
				"one too long"
#define SMTP_MILTER_MSG_WRITE	"451 4.3.0 Error writing message, try " \
				"again later"
#define SMTP_MILTER_MSG_NOMEM	"451 4.3.0 Local error, try again later"

/* Where the filter at cur is in the message. */
enum smtp_milter_step {
	SMTP_MILTER_STEP_DATA = 0,
	SMTP_MILTER_STEP_HEADER,
	SMTP_MILTER_STEP_EOH,
	SMTP_MILTER_STEP_BODY,
	SMTP_MILTER_STEP_EOB,
	SMTP_MILTER_STEP_DONE
};

/* Reads the header section line by line, in blocks of the buffer. */
struct smtp_milter_reader {
	struct smtp_milter_msg	*msg;
	uint64_t		 bufoff;	/* file offset of buf[0] */
	size_t			 buflen;
	/* the first octets of the line (a field name is shorter) */
	char			 head[1024];
	size_t			 headlen;
};

static void	smtp_milter_msg_run(struct smtp_milter *);

void
smtp_milter_msg_free(struct smtp_milter_msg *msg)
{
	if (msg == NULL)
		return;
	smtp_milter_mods_free(msg);
	free(msg->hdrs);
	free(msg->fields);
	free(msg->names);
	free(msg->buf);
	free(msg);
}

/* Read from off into the buffer; the octets read, or -1. */
static ssize_t
smtp_milter_msg_pread(struct smtp_milter_msg *msg, uint64_t off, size_t len)
{
	ssize_t	 n;

	if (len > SMTP_MILTER_CHUNK_MAX)
		len = SMTP_MILTER_CHUNK_MAX;
	do {
		n = pread(msg->fd, msg->buf, len, (off_t)off);
	} while (n == -1 && errno == EINTR);
	return n;
}

static int
smtp_milter_reader_fill(struct smtp_milter_reader *rd, uint64_t off)
{
	ssize_t	 n;

	if ((n = smtp_milter_msg_pread(rd->msg, off,
	    rd->msg->size - off)) <= 0)
		return -1;
	rd->bufoff = off;
	rd->buflen = (size_t)n;
	return 0;
}

/*
 * The line at off: *len its octets with the CRLF (to the end of the
 * file for a last one without), rd->head its first octets.  0 at the
 * end of the message, -1 on a read error.
 */
static int
smtp_milter_reader_line(struct smtp_milter_reader *rd, uint64_t off,
    size_t *len)
{
	struct smtp_milter_msg	*msg = rd->msg;
	const char		*base, *cr;
	uint64_t		 pos, end;
	size_t			 at, avail, scanned = 0;

	if (off >= msg->size)
		return 0;
	for (;;) {
		pos = off + scanned;
		end = rd->bufoff + rd->buflen;
		if ((pos < rd->bufoff || pos + 1 >= end) &&
		    smtp_milter_reader_fill(rd, pos) == -1)
			return -1;
		end = rd->bufoff + rd->buflen;
		at = (size_t)(pos - rd->bufoff);
		avail = rd->buflen - at;
		base = msg->buf + at;
		cr = memmem(base, avail, "\r\n", 2);
		/* a line that may fit from the start of a block */
		if (cr == NULL && scanned == 0 && at > 0 && end < msg->size) {
			if (smtp_milter_reader_fill(rd, off) == -1)
				return -1;
			continue;
		}
		if (scanned == 0) {
			rd->headlen = avail < sizeof(rd->head) ? avail :
			    sizeof(rd->head);
			memcpy(rd->head, base, rd->headlen);
		}
		if (cr != NULL) {
			*len = scanned + (size_t)(cr - base) + 2;
			return 1;
		}
		if (end >= msg->size) {
			*len = (size_t)(msg->size - off);
			return 1;
		}
		/* longer than a block: only its length matters now; a CR
		 * last may pair with an LF first in the next block */
		scanned += base[avail - 1] == '\r' ? avail - 1 : avail;
	}
}

/* A field name before the colon: 1 with its length, 0 if the line
 * does not start a field. */
static int
smtp_milter_field_name(const char *p, size_t len, size_t *namelen)
{
	size_t	 i, end;

	for (i = 0; i < len; i++)
		if (p[i] == ':' || (unsigned char)p[i] <= ' ' ||
		    (unsigned char)p[i] > '~')
			break;
	end = i;
	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (end == 0 || i >= len || p[i] != ':')
		return 0;
	*namelen = end;
	return 1;
}

static int
smtp_milter_field_add(struct smtp_milter_msg *msg, uint64_t off,
    const char *name, size_t namelen)
{
	struct smtp_milter_field	*f;
	void				*p;
	size_t				 cap;

	if (msg->nfields == SMTP_MILTER_FIELDS_MAX)
		return -1;
	if (msg->nfields == msg->fieldcap) {
		cap = msg->fieldcap ? msg->fieldcap * 2 : 32;
		if ((p = reallocarray(msg->fields, cap, sizeof(*f))) == NULL)
			return -2;
		msg->fields = p;
		msg->fieldcap = cap;
	}
	if (msg->nameslen + namelen > msg->namescap) {
		cap = msg->namescap ? msg->namescap * 2 : 1024;
		while (cap < msg->nameslen + namelen)
			cap *= 2;
		if ((p = realloc(msg->names, cap)) == NULL)
			return -2;
		msg->names = p;
		msg->namescap = cap;
	}
	f = &msg->fields[msg->nfields++];
	f->off = off;
	f->len = 0;
	f->name = (uint32_t)msg->nameslen;
	f->namelen = (uint32_t)namelen;
	memcpy(msg->names + msg->nameslen, name, namelen);
	msg->nameslen += namelen;
	return 0;
}

/*
 * Index the header section: each field (a line with a name and a colon,
 * with the lines that continue it), up to the empty line; a line that
 * is neither ends it too and starts the body, as in sendmail.  NULL, or
 * the reply that refuses the message.
 */
static const char *
smtp_milter_msg_index(struct smtp_milter_msg *msg)
{
	struct smtp_milter_reader	 rd;
	struct smtp_milter_field	*f;
	const char			*p = rd.head;
	uint64_t			 off = 0;
	size_t				 len, namelen;
	int				 rv, added;

	memset(&rd, 0, sizeof(rd));
	rd.msg = msg;
	for (;;) {
		if ((rv = smtp_milter_reader_line(&rd, off, &len)) == -1)
			return SMTP_MILTER_MSG_IOERR;
		if (rv == 0) {
			msg->hdr_end = msg->body_off = off;
			return NULL;
		}
		if (len == 2 && p[0] == '\r') {
			msg->hdr_end = off;
			msg->body_off = off + 2;
			return NULL;
		}
		f = msg->nfields > 0 ? &msg->fields[msg->nfields - 1] : NULL;
		if ((p[0] == ' ' || p[0] == '\t') && f != NULL) {
			if (len > UINT32_MAX - f->len)
				return SMTP_MILTER_MSG_FIELDS;
			f->len += (uint32_t)len;
		} else if (len < UINT32_MAX && smtp_milter_field_name(p,
		    rd.headlen, &namelen)) {
			if ((added = smtp_milter_field_add(msg, off, p,
			    namelen)) != 0)
				return added == -2 ? SMTP_MILTER_MSG_NOMEM :
				    SMTP_MILTER_MSG_FIELDS;
			msg->fields[msg->nfields - 1].len = (uint32_t)len;
		} else {
			msg->hdr_end = msg->body_off = off;
			return NULL;
		}
		off += len;
	}
}

/*
 * SMFIC_HEADER of a field: its value after the colon (and the blanks
 * after it, unless the filter wants them), folded lines joined by LF as
 * sendmail sends them, without the last CRLF; a value longer than a
 * packet is cut.  -1 on a read error.
 */
static int
smtp_milter_msg_header(struct smtp_milter_msg *msg,
    const struct smtp_milter_field *f, uint32_t proto)
{
	char		 val[SMTP_MILTER_CHUNK_MAX];
	const char	*p, *end;
	size_t		 vlen = 0, room;
	ssize_t		 n;

	if ((n = smtp_milter_msg_pread(msg, f->off, f->len)) <= 0)
		return -1;
	p = memchr(msg->buf, ':', (size_t)n);
	if (p == NULL)
		return -1;
	end = msg->buf + n;
	if (end - p >= 2 && (size_t)n == f->len && end[-2] == '\r')
		end -= 2;
	p++;
	if (!(proto & SMFIP_HDR_LEADSPC))
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
	room = sizeof(val) - f->namelen - 16;
	for (; p < end && vlen < room; p++) {
		if (p[0] == '\r' && p + 1 < end && p[1] == '\n')
			continue;
		val[vlen++] = *p;
	}
	return smtp_milter_packet_header(&smtp_milter_pkt,
	    msg->names + f->name, f->namelen, val, vlen);
}

/* SMFIC_HEADER of a field a filter before this one added or changed:
 * its value as that filter gave it, line breaks as LF. */
static int
smtp_milter_msg_header_mod(const struct smtp_milter_hdr *h, uint32_t proto)
{
	char		 val[SMTP_MILTER_CHUNK_MAX];
	const char	*p = h->mod->b;
	size_t		 vlen = 0, room = sizeof(val) - h->namelen - 16;

	if (!(proto & SMFIP_HDR_LEADSPC) && h->mod->leadspc)
		while (*p == ' ' || *p == '\t')
			p++;
	for (; *p != '\0' && vlen < room; p++)
		if (p[0] != '\r' || p[1] != '\n')
			val[vlen++] = *p;
	return smtp_milter_packet_header(&smtp_milter_pkt, h->name,
	    h->namelen, val, vlen);
}

/* The next field for the filter at cur: -1 on a read error. */
static int
smtp_milter_msg_field(struct smtp_milter_msg *msg, uint32_t proto)
{
	const struct smtp_milter_hdr	*h;

	if (msg->hdrs == NULL)
		return smtp_milter_msg_header(msg, &msg->fields[msg->field++],
		    proto);
	h = &msg->hdrs[msg->field++];
	if (h->field != NULL)
		return smtp_milter_msg_header(msg, h->field, proto);
	return smtp_milter_msg_header_mod(h, proto);
}

/* The macros of a message stage, sent before its command. */
static void
smtp_milter_msg_macros(struct smtp_milter *m, char cmd)
{
	const char	*n[2], *v[2];
	char		 id[16];

	(void)snprintf(id, sizeof(id), "%08x", m->s->tx->msgid);
	n[0] = "i";
	v[0] = id;
	(void)smtp_milter_packet_macros(&smtp_milter_pkt, cmd, n, v, 1);
}

/*
 * Send the packet built: a step that is answered (1: wait), or one the
 * filter asked not to answer (0: go on; 1: wait for it to be written).
 * -1 if the connection failed.
 */
static int
smtp_milter_msg_send(struct smtp_milter_one *one, int noreply)
{
	if (smtp_milter_pkt.overflow)
		return -1;
	if (noreply)
		return smtp_milter_conn_push(one->conn, &smtp_milter_pkt);
	if (smtp_milter_conn_step(one->conn, &smtp_milter_pkt,
	    0) == -1)
		return -1;
	return 1;
}

/* Macros go with the command after them, never waited for. */
static int
smtp_milter_msg_put_macros(struct smtp_milter *m, struct smtp_milter_one *one,
    char cmd)
{
	smtp_milter_msg_macros(m, cmd);
	return smtp_milter_conn_put(one->conn, &smtp_milter_pkt);
}

/*
 * The next packet of the message for the filter at cur; 1 to wait for
 * it, 0 to go on, -1 if the filter failed.
 */
static int
smtp_milter_msg_next(struct smtp_milter *m, struct smtp_milter_one *one,
    uint32_t proto)
{
	struct smtp_milter_msg	*msg = m->msg;
	ssize_t			 n;

	switch (msg->step) {
	case SMTP_MILTER_STEP_DATA:
		msg->step = SMTP_MILTER_STEP_HEADER;
		m->cmd = SMFIC_DATA;
		if (smtp_milter_msg_put_macros(m, one, SMFIC_DATA) == -1)
			return -1;
		if (proto & SMFIP_NODATA)
			return 0;
		(void)smtp_milter_packet_simple(&smtp_milter_pkt, SMFIC_DATA,
		    NULL);
		return smtp_milter_msg_send(one, proto & SMFIP_NR_DATA);
	case SMTP_MILTER_STEP_HEADER:
		m->cmd = SMFIC_HEADER;
		if ((proto & SMFIP_NOHDRS) || msg->field == (msg->hdrs != NULL ?
		    msg->nhdrs : msg->nfields)) {
			msg->step = SMTP_MILTER_STEP_EOH;
			return 0;
		}
		if (smtp_milter_msg_field(msg, proto) == -1)
			return -2;
		return smtp_milter_msg_send(one, proto & SMFIP_NR_HDR);
	case SMTP_MILTER_STEP_EOH:
		msg->step = SMTP_MILTER_STEP_BODY;
		m->cmd = SMFIC_EOH;
		if (proto & SMFIP_NOEOH)
			return 0;
		(void)smtp_milter_packet_simple(&smtp_milter_pkt, SMFIC_EOH,
		    NULL);
		return smtp_milter_msg_send(one, proto & SMFIP_NR_EOH);
	case SMTP_MILTER_STEP_BODY:
		m->cmd = SMFIC_BODY;
		if ((proto & SMFIP_NOBODY) || msg->pos >= msg->body_end) {
			msg->step = SMTP_MILTER_STEP_EOB;
			return 0;
		}
		if ((n = smtp_milter_msg_pread(msg, msg->pos,
		    msg->body_end - msg->pos)) <= 0)
			return -2;
		msg->pos += (uint64_t)n;
		(void)smtp_milter_packet_body(&smtp_milter_pkt, msg->buf,
		    (size_t)n);
		return smtp_milter_msg_send(one, proto & SMFIP_NR_BODY);
	default:
		msg->step = SMTP_MILTER_STEP_DONE;
		m->cmd = SMFIC_BODYEOB;
		if (smtp_milter_msg_put_macros(m, one, SMFIC_BODYEOB) == -1)
			return -1;
		(void)smtp_milter_packet_simple(&smtp_milter_pkt,
		    SMFIC_BODYEOB, NULL);
		if (smtp_milter_pkt.overflow ||
		    smtp_milter_conn_step(one->conn, &smtp_milter_pkt, 1) == -1)
			return -1;
		return 1;
	}
}

/* The message is over for the filters: on to next with reply. */
static void
smtp_milter_msg_finish(struct smtp_milter *m, const char *reply)
{
	smtp_milter_msg_free(m->msg);
	m->msg = NULL;
	smtp_milter_finish(m, reply);
}

static void
smtp_milter_msg_failed(struct smtp_milter *m, struct smtp_milter_one *one)
{
	smtp_milter_fail_log(m, one);
	smtp_milter_mods_drop(m->msg);
	one->in_tx = 0;
	if (smtp_milter_fail_reply(one) != NULL) {
		one->skip = SMTP_MILTER_BROKEN;
		smtp_milter_msg_finish(m, smtp_milter_fail_reply(one));
		return;
	}
	one->skip = SMTP_MILTER_SKIP_SESSION;
	m->cur++;
	smtp_milter_msg_run(m);
}

/* Feed the filter at cur until it has to be waited for. */
static void
smtp_milter_msg_feed(struct smtp_milter *m)
{
	struct smtp_milter_one	*one = &m->one[m->cur];
	uint32_t		 proto;
	int			 rv;

	proto = smtp_milter_conn_optneg(one->conn)->protocol;
	for (;;) {
		smtp_milter_pkt.len = 0;
		smtp_milter_pkt.overflow = 0;
		rv = smtp_milter_msg_next(m, one, proto);
		if (rv == 1)
			return;
		if (rv == -2) {
			log_warn("%08x: milter: message file", m->s->id);
			smtp_milter_msg_finish(m, SMTP_MILTER_MSG_IOERR);
			return;
		}
		if (rv == -1) {
			smtp_milter_msg_failed(m, one);
			return;
		}
	}
}

/* Apply what the filters asked for; the rewrite waits for its file. */
static void
smtp_milter_msg_end(struct smtp_milter *m)
{
	struct smtp_milter_msg	*msg = m->msg;
	const char		*reply;

	/* the queue went away meanwhile: the new one has no such message
	 * (the transaction's end replies 451) */
	if (m->s->tx->discard || m->s->tx->failed) {
		smtp_milter_msg_finish(m, NULL);
		return;
	}
	if ((reply = smtp_milter_mods_envelope(m)) != NULL ||
	    m->s->tx->discard) {
		smtp_milter_msg_finish(m, reply);
		return;
	}
	if (!smtp_milter_mods_rewrite(msg)) {
		/* a replacement a failed filter left past the end */
		if (msg->file_end > msg->size &&
		    ftruncate(msg->fd, (off_t)msg->size) == -1) {
			log_warn("%08x: milter: truncate message", m->s->id);
			smtp_milter_msg_finish(m, SMTP_MILTER_MSG_WRITE);
			return;
		}
		smtp_milter_msg_finish(m, NULL);
		return;
	}
	m->cmd = SMFIC_BODYEOB;
	smtp_peer_queue_rewrite(m->s);
}

/*
 * What the next filter is sent: as in sendmail, the message as the
 * filters before it left it (their header changes applied to the list,
 * their replacement body); -1 if out of memory.
 */
static int
smtp_milter_msg_view(struct smtp_milter_msg *msg)
{
	size_t	 i;

	free(msg->hdrs);
	msg->hdrs = NULL;
	msg->nhdrs = 0;
	for (i = 0; i < msg->committed; i++)
		if (msg->mods[i].code == SMFIR_ADDHEADER ||
		    msg->mods[i].code == SMFIR_INSHEADER ||
		    msg->mods[i].code == SMFIR_CHGHEADER)
			break;
	if (i < msg->committed &&
	    (msg->hdrs = smtp_milter_mods_headers(msg, &msg->nhdrs)) == NULL)
		return -1;
	msg->pos = msg->repl ? msg->repl_off : msg->body_off;
	msg->body_end = msg->repl ? msg->repl_off + msg->repl_len : msg->size;
	return 0;
}

/* Ask the filters from cur on; the last one's end applies the changes. */
static void
smtp_milter_msg_run(struct smtp_milter *m)
{
	struct smtp_milter_one	*one;

	for (; m->cur < m->n; m->cur++) {
		one = &m->one[m->cur];
		if (one->skip == SMTP_MILTER_BROKEN) {
			smtp_milter_msg_finish(m, smtp_milter_fail_reply(one));
			return;
		}
		if (one->skip != SMTP_MILTER_ASK || one->conn == NULL)
			continue;
		if (smtp_milter_msg_view(m->msg) == -1) {
			smtp_milter_msg_finish(m, SMTP_MILTER_MSG_NOMEM);
			return;
		}
		one->in_tx = 1;
		m->msg->step = SMTP_MILTER_STEP_DATA;
		m->msg->field = 0;
		smtp_milter_msg_feed(m);
		return;
	}
	smtp_milter_msg_end(m);
}

/* The filter at cur answered the end, or accepted before it. */
static void
smtp_milter_msg_next_filter(struct smtp_milter *m, struct smtp_milter_one *one,
    int accept)
{
	smtp_milter_mods_commit(m->msg);
	one->in_tx = 0;
	if (accept)
		one->skip = SMTP_MILTER_SKIP_TX;
	m->cur++;
	smtp_milter_msg_run(m);
}

void
smtp_milter_msg_done(struct smtp_milter *m, enum smtp_milter_outcome o,
    const struct smtp_milter_reply *r)
{
	struct smtp_milter_one	*one = &m->one[m->cur];
	int			 atend = m->msg->step == SMTP_MILTER_STEP_DONE;

	if (o == SMTP_MILTER_FAILED) {
		smtp_milter_msg_failed(m, one);
		return;
	}
	if (o == SMTP_MILTER_READY) {
		smtp_milter_msg_feed(m);
		return;
	}
	switch (r->code) {
	case SMFIR_SKIP:
		if (m->msg->step == SMTP_MILTER_STEP_BODY)
			m->msg->step = SMTP_MILTER_STEP_EOB;
		/* FALLTHROUGH */
	case SMFIR_CONTINUE:
		if (atend)
			smtp_milter_msg_next_filter(m, one, 0);
		else
			smtp_milter_msg_feed(m);
		return;
	case SMFIR_ACCEPT:
		smtp_milter_msg_next_filter(m, one, 1);
		return;
	case SMFIR_DISCARD:
		one->in_tx = 0;
		m->s->tx->discard = 1;
		log_info("%08x: milter: filter %s discards the message",
		    m->s->id, one->name);
		smtp_milter_msg_finish(m, NULL);
		return;
	case SMFIR_REJECT:
		smtp_milter_msg_finish(m, SMTP_MILTER_MSG_REJECT);
		return;
	case SMFIR_TEMPFAIL:
		smtp_milter_msg_finish(m, SMTP_MILTER_MSG_TEMP);
		return;
	case SMFIR_REPLYCODE:
		if (smtp_milter_reply_code(r, m->reply,
		    sizeof(m->reply)) == -1)
			break;
		smtp_milter_msg_finish(m, m->reply);
		return;
	default:
		break;
	}
	smtp_milter_msg_failed(m, one);
}

void
smtp_milter_message(struct smtp_session *s, int fd, uint64_t size,
    smtp_milter_next_fn next)
{
	struct smtp_milter	*m = s->milter;
	struct smtp_milter_msg	*msg;
	const char		*reply;

	if (m == NULL && (m = s->milter = smtp_milter_new(s)) == NULL) {
		next(s, SMTP_MILTER_TEMPFAIL);
		return;
	}
	if ((msg = calloc(1, sizeof(*msg))) == NULL ||
	    (msg->buf = malloc(SMTP_MILTER_CHUNK_MAX)) == NULL) {
		free(msg);
		next(s, SMTP_MILTER_TEMPFAIL);
		return;
	}
	msg->fd = fd;
	msg->size = msg->file_end = size;
	m->msg = msg;
	m->next = next;
	m->cur = 0;
	m->cmd = SMFIC_DATA;
	s->wait = SMTP_WAIT_MILTER;
	m->sync = 1;
	if ((reply = smtp_milter_msg_index(msg)) != NULL)
		smtp_milter_msg_finish(m, reply);
	else
		smtp_milter_msg_run(m);
	m->sync = 0;
}

void
smtp_milter_rewriting(struct smtp_session *s, int fd)
{
	struct smtp_milter	*m = s->milter;
	struct smtp_tx		*tx = s->tx;
	struct smtp_milter_facts facts;
	int64_t			 size;

	if (fd == -1) {
		stats_add("smtp.error.queue", 1);
		smtp_milter_msg_finish(m, SMTP_MILTER_MSG_WRITE);
		return;
	}
	if ((size = smtp_milter_mods_write(m->msg, fd, &facts)) == -1) {
		log_warn("%08x: milter: rewrite of msgid %08x", s->id,
		    tx->msgid);
		(void)close(fd);
		smtp_milter_msg_finish(m, SMTP_MILTER_MSG_WRITE);
		return;
	}
	log_info("%08x: milter: msgid %08x rewritten by the filters, "
	    "size=%lld", s->id, tx->msgid, (long long)size);
	(void)close(tx->msgfd);
	tx->msgfd = fd;
	tx->data.written = (uint64_t)size;
	/* the header and body as the filters left them */
	tx->data.tls_optional = facts.tls_optional;
	tx->data.hdr8bit |= facts.hdr8bit;
	if (facts.body8bit && tx->body != SMTP_BODY_8BITMIME)
		tx->body = SMTP_BODY_8BITMIME;
	smtp_milter_msg_finish(m, NULL);
}
