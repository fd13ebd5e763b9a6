/*
 * smtp_tx.c: the mail transaction of a session, from the accepted sender
 * to the queue's commit: recipients, the message file, DATA and BDAT
 * bodies (checked by smtp_data.c), the Received: header, the verdict at
 * the end of the body.
 *
 * The reply "250 ... queued as" is sent only after the queue answered
 * IMSG_QUEUE_MESSAGE_COMMITTED.  Every other way out of a transaction
 * (RSET, HELO, refused body, lost client, lost queue) rolls the message
 * back.  Failures reply 4xx/5xx to the client; none ends the process.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "log.h"
#include "proc.h"
#include "smtp_dns.h"
#include "smtp_generics.h"
#include "smtp_masq.h"
#include "smtp_milter.h"
#include "smtp_session.h"
#include "util.h"

#define SMTP_TX_QUEUE_ERROR	"451 4.3.0 Queue error, try again later"
#define SMTP_TX_LOCAL_ERROR	"451 4.3.0 Local error, try again later"
/* evbuffer segments looked at in one go */
#define SMTP_TX_NVEC		8

struct smtp_tx *
smtp_tx_new(void)
{
	struct smtp_tx	*tx;

	if ((tx = calloc(1, sizeof(*tx))) == NULL)
		return NULL;
	tx->msgfd = -1;
	return tx;
}

/* Free a recipient's strings and zero it (the pending slot is reused). */
void
smtp_tx_rcpt_clear(struct smtp_rcptent *r)
{
	free(r->rcpt);
	free(r->orcpt);
	free(r->sender);
	free(r->orig);
	free(r->error);
	memset(r, 0, sizeof(*r));
}

/* Drop the session's transaction; roll back a message we still own. */
void
smtp_tx_free(struct smtp_session *s)
{
	struct smtp_tx	*tx = s->tx;
	size_t		 i;

	if (tx == NULL)
		return;
	smtp_milter_abort(s);
	if (tx->creating && s->orphans < UINT8_MAX)
		s->orphans++;
	if (tx->msgid != 0 && !tx->committing && !tx->failed)
		smtp_peer_queue_rollback(s->id, tx->msgid);
	if (tx->msgfd != -1)
		(void)close(tx->msgfd);
	smtp_data_free(&tx->data);
	smtp_generics_free(tx->generics);
	for (i = 0; i < tx->nrcpt; i++)
		smtp_tx_rcpt_clear(&tx->rcpts[i]);
	free(tx->rcpts);
	smtp_tx_rcpt_clear(&tx->pending);
	free(tx);
	s->tx = NULL;
}

/* What one final recipient adds to IMSG_QUEUE_MESSAGE_COMMIT. */
size_t
smtp_tx_rcpt_size(const char *value, const char *orcpt, const char *sender,
    const char *orig, const char *error)
{
	return strlen(value) + strlen(orcpt) + strlen(sender) + strlen(orig) +
	    strlen(error) + 5 + 3 * sizeof(uint32_t);
}

/* 1 if the transaction has that final recipient already. */
static int
smtp_tx_rcpt_has(const struct smtp_tx *tx, uint32_t kind, const char *value)
{
	size_t	 i;

	for (i = 0; i < tx->nrcpt; i++)
		if (tx->rcpts[i].kind == kind &&
		    (kind == TARGET_PROGRAM || kind == TARGET_FILE ||
		    kind == TARGET_INCLUDE ? strcmp(tx->rcpts[i].rcpt, value) :
		    strcasecmp(tx->rcpts[i].rcpt, value)) == 0)
			return 1;
	return 0;
}

/*
 * Add one final recipient of the pending RCPT (its ORCPT and NOTIFY go
 * with it; without an ORCPT of the client's, one that differs from the
 * RCPT gets "rfc822;" and the RCPT, so DSNs name what was asked for).
 * A duplicate of one the transaction has is dropped.  0, or -1 if out
 * of memory.
 */
int
smtp_tx_rcpt_add(struct smtp_tx *tx, uint32_t kind, const char *value,
    const char *sender, const char *error)
{
	struct smtp_rcptent	*p, *r;
	size_t			 cap;
	/* the client's ORCPT as it kept it, or "type;" and the RCPT */
	char			 orcpt[MAILADDR_ORCPT_MAX + MAILADDR_PATH_MAX + 8];

	if (smtp_tx_rcpt_has(tx, kind, value))
		return 0;
	if (tx->nrcpt == tx->rcptcap) {
		cap = tx->rcptcap ? tx->rcptcap * 2 : 4;
		if ((p = reallocarray(tx->rcpts, cap, sizeof(*p))) == NULL)
			return -1;
		tx->rcpts = p;
		tx->rcptcap = cap;
	}
	if (tx->pending.orcpt[0] == '\0' &&
	    strcasecmp(value, tx->pending.rcpt) != 0)
		(void)snprintf(orcpt, sizeof(orcpt), "%s;%s",
		    mailaddr_is_ascii(tx->pending.rcpt) ? "rfc822" : "utf-8",
		    tx->pending.rcpt);
	else
		(void)strlcpy(orcpt, tx->pending.orcpt, sizeof(orcpt));
	r = &tx->rcpts[tx->nrcpt];
	memset(r, 0, sizeof(*r));
	tx->commit_size += smtp_tx_rcpt_size(value, orcpt, sender,
	    tx->pending.rcpt, error);
	r->kind = kind;
	r->notify = tx->pending.notify;
	r->rcpt = strdup(value);
	r->orcpt = strdup(orcpt);
	r->sender = strdup(sender);
	r->orig = strdup(tx->pending.rcpt);
	r->error = strdup(error);
	if (r->rcpt == NULL || r->orcpt == NULL || r->sender == NULL ||
	    r->orig == NULL || r->error == NULL) {
		smtp_tx_rcpt_clear(r);
		return -1;
	}
	tx->nrcpt++;
	return 0;
}

/* Give up on the transaction with a reply; back to no transaction. */
static void
smtp_tx_abort(struct smtp_session *s, const char *reply)
{
	smtp_tx_free(s);
	s->state = SMTP_ST_IDLE;
	smtp_session_reply(s, "%s", reply);
}

/*
 * Our trace header, first in the message file (RFC 5321 4.4).  TCP-info
 * is sendmail's $_: "(NAME [ADDR])" with a verified name, "(PTRNAME
 * [ADDR] (may be forged))" with one that does not lead back, else just
 * "([ADDR])"; "for" is given only with a single recipient, so as not to
 * disclose the others.
 */
static void
smtp_tx_received(struct smtp_session *s)
{
	struct smtp_tx	*tx = s->tx;
	char		 hdr[1536], date[64];
	char		 tcpinfo[SMTP_SESSION_RELAY_MAX], forclause[300];
	char		 tlsclause[256], authclause[64];
	int		 n;

	(void)date_rfc5322(time(NULL), date, sizeof(date));
	if (s->local != NULL) {
		if ((n = smtp_local_received(s, hdr, sizeof(hdr), date)) > 0)
			smtp_data_put(&tx->data, hdr, (size_t)n);
		return;
	}
	if (s->resolve == SMTP_DNS_OK || s->resolve == SMTP_DNS_FORGED)
		(void)smtp_session_relay(s, tcpinfo, sizeof(tcpinfo));
	else
		(void)snprintf(tcpinfo, sizeof(tcpinfo), "[%s]", s->addr);
	forclause[0] = '\0';
	/* a RCPT that was discarded has no final recipient */
	if (tx->naccepted == 1 && tx->nrcpt > 0)
		(void)snprintf(forclause, sizeof(forclause), "\r\n\tfor <%s>",
		    tx->rcpts[0].orig);
	smtp_tls_received(s, tlsclause, sizeof(tlsclause));
	smtp_auth_received(s, authclause, sizeof(authclause));
	n = snprintf(hdr, sizeof(hdr), "Received: from %s (%s)%s\r\n\tby %s "
	    "(smtpd) with %s id %08x%s%s;\r\n\t%s\r\n", s->helo, tcpinfo,
	    authclause, conf->hostname, smtp_session_proto(s), tx->msgid,
	    tlsclause, forclause, date);
	if (n > 0 && (size_t)n < sizeof(hdr))
		smtp_data_put(&tx->data, hdr, (size_t)n);
}

/* Set up the body receiver on the message file; -1 if out of memory. */
static int
smtp_tx_body_start(struct smtp_session *s, int dotted)
{
	struct smtp_tx	*tx = s->tx;

	if (smtp_data_init(&tx->data, tx->msgfd, dotted,
	    conf->limit_message_size, conf->limit_text_line) == -1 ||
	    smtp_masq_body(&tx->data, s) == -1)
		return -1;
	tx->started = 1;
	smtp_tx_received(s);
	return 0;
}

/* Ask for the message file unless asked already; -1 if the queue is down. */
static int
smtp_tx_create(struct smtp_session *s, enum smtp_verb verb)
{
	struct smtp_tx	*tx = s->tx;

	if (!tx->creating)
		smtp_peer_queue_create(s);
	if (tx->failed)
		return -1;
	tx->wantbody = verb;
	s->wait = SMTP_WAIT_CREATE;
	return 0;
}

static void
smtp_tx_data_start(struct smtp_session *s)
{
	if (smtp_tx_body_start(s, 1) == -1) {
		smtp_tx_abort(s, SMTP_TX_LOCAL_ERROR);
		return;
	}
	smtp_session_reply(s, "354 End data with <CR><LF>.<CR><LF>");
	s->state = SMTP_ST_DATA;
	smtp_session_data_timeouts(s, 1);
}

/* DATA with recipients: start the body once the message file is here. */
void
smtp_tx_data(struct smtp_session *s)
{
	struct smtp_tx	*tx = s->tx;

	if (tx->failed) {
		stats_add("smtp.error.queue", 1);
		smtp_tx_abort(s, SMTP_TX_QUEUE_ERROR);
		return;
	}
	if (tx->msgfd != -1) {
		smtp_tx_data_start(s);
		return;
	}
	if (smtp_tx_create(s, SMTP_CMD_DATA) == -1) {
		stats_add("smtp.error.queue", 1);
		smtp_tx_abort(s, SMTP_TX_QUEUE_ERROR);
	}
}

/* Receive the coming chunk only to throw it away, then reply err. */
static void
smtp_tx_chunk_discard(struct smtp_session *s, const char *err)
{
	s->chunk_err = err;
	/* back where it was: a BDAT before HELO does not stand for one */
	s->chunk_prev = s->tx != NULL || s->state == SMTP_ST_HELO ? s->state :
	    SMTP_ST_IDLE;
	s->state = SMTP_ST_CHUNK;
	smtp_session_data_timeouts(s, 1);
}

/* The message file is here (or not): start receiving the chunk. */
static void
smtp_tx_chunk_start(struct smtp_session *s)
{
	struct smtp_tx	*tx = s->tx;

	if (tx->failed) {
		stats_add("smtp.error.queue", 1);
		smtp_tx_free(s);
		smtp_tx_chunk_discard(s, SMTP_TX_QUEUE_ERROR);
		return;
	}
	if (!tx->started && smtp_tx_body_start(s, 0) == -1) {
		smtp_tx_free(s);
		smtp_tx_chunk_discard(s, SMTP_TX_LOCAL_ERROR);
		return;
	}
	s->state = SMTP_ST_CHUNK;
	smtp_session_data_timeouts(s, 1);
}

/* BDAT size [LAST]: s->chunk_err is set if it is out of sequence. */
void
smtp_tx_bdat(struct smtp_session *s, uint64_t size, int last)
{
	struct smtp_tx	*tx = s->tx;

	s->chunk_left = s->chunk_size = size;
	s->chunk_last = last != 0;
	if (s->chunk_err != NULL) {
		smtp_tx_chunk_discard(s, s->chunk_err);
		return;
	}
	if (tx->msgfd == -1 && !tx->failed &&
	    smtp_tx_create(s, SMTP_CMD_BDAT) == 0)
		return;
	smtp_tx_chunk_start(s);
}

/* IMSG_QUEUE_MESSAGE_CREATED arrived for the command that waits on it. */
void
smtp_tx_created(struct smtp_session *s)
{
	s->wait = SMTP_WAIT_NONE;
	if (s->tx->wantbody == SMTP_CMD_BDAT)
		smtp_tx_chunk_start(s);
	else
		smtp_tx_data(s);
	smtp_session_resume(s);
}

/* A refused body: reply, count, drop the message. */
static void
smtp_tx_reject(struct smtp_session *s, const char *reply)
{
	log_info("%08x: msgid %08x rejected: %s", s->id, s->tx->msgid, reply);
	stats_add("smtp.message.rejected", 1);
	smtp_tx_abort(s, reply);
}

static void	smtp_tx_filtered(struct smtp_session *, const char *);

/* The body is complete: verdict, filters, then commit (the reply waits
 * for it). */
static void
smtp_tx_end(struct smtp_session *s)
{
	struct smtp_tx	*tx = s->tx;
	const char	*verdict;

	smtp_session_data_timeouts(s, 0);
	s->state = SMTP_ST_IDLE;
	if ((verdict = smtp_data_verdict(smtp_data_finish(&tx->data))) != NULL) {
		smtp_tx_reject(s, verdict);
		return;
	}
	if (tx->failed) {
		stats_add("smtp.error.queue", 1);
		smtp_tx_abort(s, SMTP_TX_QUEUE_ERROR);
		return;
	}
	/* a reload that added filters after the file was made: they
	 * cannot read it, and they start with the next transaction */
	if (!tx->discard && tx->readable && smtp_milter_on(s)) {
		smtp_milter_message(s, tx->msgfd, tx->data.written,
		    smtp_tx_filtered);
		return;
	}
	smtp_tx_filtered(s, NULL);
}

/*
 * The filters passed the message (or there are none; reply is theirs
 * otherwise): the envelope sender's lookup, then the commit.
 */
static void
smtp_tx_filtered(struct smtp_session *s, const char *reply)
{
	struct smtp_tx	*tx = s->tx;

	/* the session timed out while the filters worked: its 421 is
	 * said, so the message must not be queued */
	if (s->state == SMTP_ST_CLOSING) {
		smtp_tx_free(s);
		return;
	}
	if (reply != NULL) {
		smtp_tx_reject(s, reply);
		return;
	}
	if (tx->failed) {
		stats_add("smtp.error.queue", 1);
		smtp_tx_abort(s, SMTP_TX_QUEUE_ERROR);
		return;
	}
	if (tx->discard) {
		log_info("%08x: msgid %08x discarded by policy", s->id,
		    tx->msgid);
		stats_add("smtp.message.discarded", 1);
		s->nmessages++;
		smtp_session_reply(s, "250 2.0.0 Ok: queued as %08x", tx->msgid);
		smtp_tx_free(s);
		return;
	}
	(void)close(tx->msgfd);
	tx->msgfd = -1;
	if (smtp_generics_failed(tx->generics)) {
		smtp_tx_reject(s, SMTP_GENERICS_FAIL);
		return;
	}
	switch (smtp_generics_sender(s)) {
	case 1:
		return;
	case -1:
		smtp_tx_reject(s, SMTP_GENERICS_FAIL);
		return;
	default:
		smtp_tx_commit(s);
	}
}

/*
 * The envelope sender's last step (the genericstable's form, or the
 * masquerade rules), then the commit; a failed lookup refuses instead.
 */
void
smtp_tx_commit(struct smtp_session *s)
{
	struct smtp_tx	*tx = s->tx;

	/* the queue was lost while the sender's lookup was out: the new
	 * one does not know this message */
	if (tx->failed) {
		stats_add("smtp.error.queue", 1);
		smtp_tx_abort(s, SMTP_TX_QUEUE_ERROR);
		return;
	}
	if (smtp_generics_failed(tx->generics)) {
		smtp_tx_reject(s, SMTP_GENERICS_FAIL);
		return;
	}
	if (!tx->generic_sender)
		smtp_masq_sender(tx->sender, sizeof(tx->sender));
	smtp_peer_queue_commit(s);
}

/* DATA body input; 1 once the end marker was taken. */
int
smtp_tx_data_input(struct smtp_session *s)
{
	struct evbuffer		*in = bufferevent_get_input(s->bev);
	struct evbuffer_iovec	 v[SMTP_TX_NVEC];
	size_t			 used;
	int			 i, n, done = 0;

	/* a held field stops the input where it is, until released */
	while (!done && !s->tx->data.held && evbuffer_get_length(in) > 0) {
		n = evbuffer_peek(in, -1, NULL, v, SMTP_TX_NVEC);
		if (n > SMTP_TX_NVEC)
			n = SMTP_TX_NVEC;
		used = 0;
		for (i = 0; i < n && !done && !s->tx->data.held; i++)
			used += smtp_data_feed(&s->tx->data, v[i].iov_base,
			    v[i].iov_len, &done);
		(void)evbuffer_drain(in, used);
	}
	if (!done)
		return 0;
	smtp_tx_end(s);
	return 1;
}

/* The chunk was read in full. */
static void
smtp_tx_chunk_end(struct smtp_session *s)
{
	const char	*err = s->chunk_err;
	const char	*verdict;

	smtp_session_data_timeouts(s, 0);
	if (err != NULL) {
		s->chunk_err = NULL;
		s->state = s->chunk_prev;
		smtp_session_reply(s, "%s", err);
		return;
	}
	if (s->chunk_last) {
		/* a last field waits here; this runs again once released */
		if (err == NULL && smtp_data_end_hold(&s->tx->data))
			return;
		smtp_tx_end(s);
		return;
	}
	s->state = SMTP_ST_BDAT;
	if ((verdict = smtp_data_verdict(s->tx->data.errors)) != NULL) {
		smtp_tx_reject(s, verdict);
		return;
	}
	smtp_session_reply(s, "250 2.0.0 %llu octets received",
	    (unsigned long long)s->chunk_size);
}

/* A field of the chunk waits for the genericstable's answer. */
static int
smtp_tx_chunk_held(const struct smtp_session *s)
{
	return s->chunk_err == NULL && s->tx != NULL && s->tx->data.held;
}

/* BDAT chunk input; 1 once the chunk was read in full. */
int
smtp_tx_chunk_input(struct smtp_session *s)
{
	struct evbuffer		*in = bufferevent_get_input(s->bev);
	struct evbuffer_iovec	 v[SMTP_TX_NVEC];
	size_t			 k, used;
	int			 i, n;

	while (s->chunk_left > 0 && !smtp_tx_chunk_held(s) &&
	    evbuffer_get_length(in) > 0) {
		n = evbuffer_peek(in, -1, NULL, v, SMTP_TX_NVEC);
		if (n > SMTP_TX_NVEC)
			n = SMTP_TX_NVEC;
		used = 0;
		for (i = 0; i < n && s->chunk_left > 0 &&
		    !smtp_tx_chunk_held(s); i++) {
			k = v[i].iov_len;
			if (k > s->chunk_left)
				k = (size_t)s->chunk_left;
			if (s->chunk_err == NULL)
				k = smtp_data_chunk(&s->tx->data,
				    v[i].iov_base, k);
			s->chunk_left -= k;
			used += k;
		}
		(void)evbuffer_drain(in, used);
	}
	if (s->chunk_left > 0 || smtp_tx_chunk_held(s))
		return 0;
	smtp_tx_chunk_end(s);
	return 1;
}

/* The queue's answer to our commit: now, and only now, reply 250. */
void
smtp_tx_committed(struct smtp_session *s, uint32_t status)
{
	struct smtp_tx	*tx = s->tx;

	s->wait = SMTP_WAIT_NONE;
	if (status == STATUS_OK) {
		s->nmessages++;
		stats_add("smtp.message.accepted", 1);
		log_info("%08x: msgid %08x accepted size=%llu nrcpt=%zu "
		    "proto=%s", s->id, tx->msgid,
		    (unsigned long long)tx->data.written, tx->naccepted,
		    smtp_session_proto(s));
		smtp_session_reply(s, "250 2.0.0 Ok: queued as %08x",
		    tx->msgid);
	} else {
		stats_add("smtp.error.queue", 1);
		log_info("%08x: msgid %08x not committed by the queue", s->id,
		    tx->msgid);
		smtp_session_reply(s, "%s", SMTP_TX_QUEUE_ERROR);
	}
	smtp_tx_free(s);
	smtp_session_resume(s);
}
