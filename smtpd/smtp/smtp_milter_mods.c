/*
 * smtp_milter_mods.c: the modifications filters ask for at the end of
 * the message (see smtp_milter_int.h).  Each is checked when it comes:
 * an action the filter did not negotiate, a malformed address, a header
 * value that would end its field or the header section (a line break
 * not followed by a blank, a bare CR), or more than the limits fail the
 * filter.  A filter's changes count only once it answers the end of the
 * message; they are applied in the filters' order, as sendmail applies
 * them: header indexes count the fields as changed by the ones before.
 *
 * A replacement body is not kept in memory: it is appended to the
 * message file past the message, line ends made CRLF, and copied from
 * there into the second file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "smtp_milter_int.h"
#include "smtp_session.h"
#include "util.h"

/* Output of the second file, in blocks. */
struct smtp_milter_out {
	int		 fd;
	char		*buf;
	size_t		 len;
	int64_t		 total;
	int		 failed;
	char		 last;		/* the last octet put */
};

#define SMTP_MILTER_OUT_BUFSIZE	(64 * 1024)

/* The action a modification needs the filter to have negotiated. */
static uint32_t
smtp_milter_mods_action(char code)
{
	switch (code) {
	case SMFIR_ADDHEADER:
	case SMFIR_INSHEADER:
		return SMFIF_ADDHDRS;
	case SMFIR_CHGHEADER:
		return SMFIF_CHGHDRS;
	case SMFIR_REPLBODY:
		return SMFIF_CHGBODY;
	case SMFIR_ADDRCPT:
		return SMFIF_ADDRCPT;
	case SMFIR_ADDRCPT_PAR:
		return SMFIF_ADDRCPT_PAR;
	case SMFIR_DELRCPT:
		return SMFIF_DELRCPT;
	case SMFIR_QUARANTINE:
		return SMFIF_QUARANTINE;
	case SMFIR_CHGFROM:
		return SMFIF_CHGFROM;
	default:
		return 0;
	}
}

/*
 * A header value a filter gives: lines joined by LF or CRLF, each line
 * after the first starting with a blank (a folded field), no bare CR.
 */
static int
smtp_milter_mods_value_valid(const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\r' && v[1] != '\n')
			return 0;
		if (*v == '\n' && v[1] != ' ' && v[1] != '\t')
			return 0;
	}
	return 1;
}

/* "<addr>" or "addr" into out, without the brackets; -1 if too long. */
static int
smtp_milter_mods_addr(const char *in, char *out, size_t outsize)
{
	size_t	 len = strlen(in);

	if (len >= 2 && in[0] == '<' && in[len - 1] == '>') {
		in++;
		len -= 2;
	}
	if (len >= outsize)
		return -1;
	memcpy(out, in, len);
	out[len] = '\0';
	return 0;
}

static int
smtp_milter_mods_addr_valid(char code, const char *a)
{
	char	 addr[MAILADDR_PATH_MAX];

	if (smtp_milter_mods_addr(a, addr, sizeof(addr)) == -1)
		return 0;
	if (code == SMFIR_CHGFROM)
		return addr[0] == '\0' || mailaddr_mailbox_valid(addr);
	return mailaddr_rcpt_valid(addr);
}

static int
smtp_milter_mods_push(struct smtp_milter_msg *msg, char code, uint32_t idx,
    int leadspc, const char *a, const char *b)
{
	struct smtp_milter_mod	*mod;
	void			*p;
	size_t			 cap, octets;

	octets = strlen(a) + (b != NULL ? strlen(b) : 0) + 2;
	if (msg->nmods - msg->committed >= SMTP_MILTER_MODS_MAX ||
	    msg->octets + octets > SMTP_MILTER_MODS_OCTETS)
		return -1;
	if (msg->nmods == msg->modcap) {
		cap = msg->modcap ? msg->modcap * 2 : 8;
		if ((p = reallocarray(msg->mods, cap, sizeof(*mod))) == NULL)
			return -1;
		msg->mods = p;
		msg->modcap = cap;
	}
	mod = &msg->mods[msg->nmods];
	mod->code = code;
	mod->idx = idx;
	mod->leadspc = leadspc;
	mod->a = strdup(a);
	mod->b = b != NULL ? strdup(b) : NULL;
	if (mod->a == NULL || (b != NULL && mod->b == NULL)) {
		free(mod->a);
		free(mod->b);
		return -1;
	}
	msg->nmods++;
	msg->octets += octets;
	return 0;
}

static int
smtp_milter_mods_write_at(int fd, const char *p, size_t len, uint64_t off)
{
	ssize_t	 n;

	while (len > 0) {
		n = pwrite(fd, p, len, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/*
 * A chunk of the replacement body, appended past the message with bare
 * LFs and CRs made CRLF (the message file holds CRLF lines only).
 */
static int
smtp_milter_mods_body(struct smtp_milter *m, const char *p, size_t len)
{
	struct smtp_milter_msg	*msg = m->msg;
	char			 out[2 * 4096];
	size_t			 i, n = 0;

	if (!msg->staging) {
		msg->staging = 1;
		msg->stage_off = msg->file_end;
		msg->stage_len = 0;
		msg->stage_cr = 0;
		msg->stage8bit = 0;
	}
	for (i = 0; i < len; i++) {
		/* the message file never holds one */
		if (p[i] == '\0')
			return -1;
		if ((unsigned char)p[i] > 0x7f)
			msg->stage8bit = 1;
		if (msg->stage_cr && p[i] != '\n')
			out[n++] = '\n';
		if (p[i] == '\n' && !msg->stage_cr)
			out[n++] = '\r';
		out[n++] = p[i];
		msg->stage_cr = p[i] == '\r';
		if (n >= sizeof(out) - 4 || i + 1 == len) {
			if (msg->stage_len + n > conf->limit_message_size ||
			    smtp_milter_mods_write_at(msg->fd, out, n,
			    msg->stage_off + msg->stage_len) == -1)
				return -1;
			msg->stage_len += n;
			msg->file_end = msg->stage_off + msg->stage_len;
			n = 0;
		}
	}
	return 0;
}

int
smtp_milter_mods_take(struct smtp_milter *m, const struct smtp_milter_reply *r)
{
	struct smtp_milter_msg		*msg = m->msg;
	const struct smtp_milter_optneg	*o;
	const char			*a, *b = NULL;
	uint32_t			 idx = 0;
	int				 leadspc, rv;

	o = smtp_milter_conn_optneg(m->one[m->cur].conn);
	if ((o->actions & smtp_milter_mods_action(r->code)) == 0)
		return -1;
	leadspc = (o->protocol & SMFIP_HDR_LEADSPC) != 0;
	switch (r->code) {
	case SMFIR_REPLBODY:
		return smtp_milter_mods_body(m, r->data, r->len);
	case SMFIR_ADDHEADER:
		rv = smtp_milter_reply_header(r, NULL, &a, &b);
		break;
	case SMFIR_CHGHEADER:
	case SMFIR_INSHEADER:
		rv = smtp_milter_reply_header(r, &idx, &a, &b);
		break;
	case SMFIR_CHGFROM:
	case SMFIR_ADDRCPT_PAR:
		rv = smtp_milter_reply_strings(r, &a, &b, 1);
		if (rv == 0 && !smtp_milter_mods_addr_valid(r->code, a))
			rv = -1;
		break;
	case SMFIR_ADDRCPT:
	case SMFIR_DELRCPT:
		rv = smtp_milter_reply_strings(r, &a, NULL, 0);
		if (rv == 0 && !smtp_milter_mods_addr_valid(r->code, a))
			rv = -1;
		break;
	default:
		rv = smtp_milter_reply_strings(r, &a, NULL, 0);
		if (rv == 0 && !quarantine_reason_valid(a))
			rv = -1;
		break;
	}
	if (rv == -1)
		return -1;
	if ((r->code == SMFIR_ADDHEADER || r->code == SMFIR_CHGHEADER ||
	    r->code == SMFIR_INSHEADER) && !smtp_milter_mods_value_valid(b))
		return -1;
	if (r->code == SMFIR_DELRCPT && m->s->tx == NULL)
		return -1;
	return smtp_milter_mods_push(msg, r->code, idx, leadspc, a, b);
}

void
smtp_milter_mods_commit(struct smtp_milter_msg *msg)
{
	msg->committed = msg->nmods;
	msg->octets = 0;
	if (!msg->staging)
		return;
	msg->staging = 0;
	msg->repl = 1;
	msg->repl_off = msg->stage_off;
	msg->repl_len = msg->stage_len;
	msg->repl8bit = msg->stage8bit;
	/* a last CR gets its LF when copied */
	if (msg->stage_cr)
		msg->repl_len--;
}

void
smtp_milter_mods_drop(struct smtp_milter_msg *msg)
{
	while (msg->nmods > msg->committed) {
		msg->nmods--;
		free(msg->mods[msg->nmods].a);
		free(msg->mods[msg->nmods].b);
	}
	msg->octets = 0;
	msg->staging = 0;
}

void
smtp_milter_mods_free(struct smtp_milter_msg *msg)
{
	msg->committed = 0;
	smtp_milter_mods_drop(msg);
	free(msg->mods);
	msg->mods = NULL;
	msg->modcap = 0;
}

/* Take the recipients out whose RCPT (or what it became) is addr. */
static void
smtp_milter_mods_delrcpt(struct smtp_session *s, const char *addr)
{
	struct smtp_tx		*tx = s->tx;
	struct smtp_rcptent	*r;
	size_t			 i = 0;

	while (i < tx->nrcpt) {
		r = &tx->rcpts[i];
		if (strcasecmp(r->orig, addr) != 0 &&
		    strcasecmp(r->rcpt, addr) != 0) {
			i++;
			continue;
		}
		log_info("%08x: milter: recipient <%s> removed", s->id, r->rcpt);
		tx->commit_size -= smtp_tx_rcpt_size(r->rcpt, r->orcpt,
		    r->sender, r->orig, r->error);
		smtp_tx_rcpt_clear(r);
		memmove(r, r + 1, (tx->nrcpt - i - 1) * sizeof(*r));
		tx->nrcpt--;
	}
}

/* A filter's recipient: queued to be resolved (virtusertable, aliases,
 * routes) when it comes due, as policyd resolves a DSN's. */
static const char *
smtp_milter_mods_addrcpt(struct smtp_session *s, const char *addr)
{
	struct smtp_tx	*tx = s->tx;
	size_t		 n = tx->nrcpt;

	if (tx->nrcpt + 1 > COMMIT_RCPT_MAX || tx->commit_size +
	    smtp_tx_rcpt_size(addr, "", "", addr, "") > SMTP_COMMIT_MAX)
		return "452 4.5.3 Too many recipients";
	smtp_tx_rcpt_clear(&tx->pending);
	if ((tx->pending.rcpt = strdup(addr)) == NULL ||
	    (tx->pending.orcpt = strdup("")) == NULL ||
	    smtp_tx_rcpt_add(tx, TARGET_REMOTE, addr, "", "") == -1) {
		smtp_tx_rcpt_clear(&tx->pending);
		return "451 4.3.0 Local error, try again later";
	}
	smtp_tx_rcpt_clear(&tx->pending);
	if (tx->nrcpt > n) {
		tx->rcpts[n].resolve = 1;
		log_info("%08x: milter: recipient <%s> added", s->id, addr);
	}
	return NULL;
}

const char *
smtp_milter_mods_envelope(struct smtp_milter *m)
{
	struct smtp_milter_msg	*msg = m->msg;
	struct smtp_session	*s = m->s;
	struct smtp_tx		*tx = s->tx;
	const struct smtp_milter_mod *mod;
	const char		*reply;
	char			 addr[MAILADDR_PATH_MAX];
	size_t			 i;

	for (i = 0; i < msg->committed; i++) {
		mod = &msg->mods[i];
		if (mod->code != SMFIR_CHGFROM && mod->code != SMFIR_ADDRCPT &&
		    mod->code != SMFIR_ADDRCPT_PAR &&
		    mod->code != SMFIR_DELRCPT && mod->code != SMFIR_QUARANTINE)
			continue;
		if (mod->code == SMFIR_QUARANTINE) {
			if (tx->quarantine[0] == '\0')
				(void)strlcpy(tx->quarantine, mod->a,
				    sizeof(tx->quarantine));
			continue;
		}
		(void)smtp_milter_mods_addr(mod->a, addr, sizeof(addr));
		if (mod->code == SMFIR_CHGFROM) {
			log_info("%08x: milter: sender <%s> changed to <%s>",
			    s->id, tx->sender, addr);
			(void)strlcpy(tx->sender, addr, sizeof(tx->sender));
		} else if (mod->code == SMFIR_DELRCPT)
			smtp_milter_mods_delrcpt(s, addr);
		else if ((reply = smtp_milter_mods_addrcpt(s, addr)) != NULL)
			return reply;
	}
	if (tx->nrcpt == 0) {
		log_info("%08x: milter: every recipient removed, message "
		    "discarded", s->id);
		tx->discard = 1;
	}
	return NULL;
}

int
smtp_milter_mods_rewrite(const struct smtp_milter_msg *msg)
{
	size_t	 i;

	if (msg->repl)
		return 1;
	for (i = 0; i < msg->committed; i++)
		if (smtp_milter_mods_action(msg->mods[i].code) &
		    (SMFIF_ADDHDRS | SMFIF_CHGHDRS))
			return 1;
	return 0;
}

/*
 * Our own Received: field (first in the file, none can come before it):
 * sendmail counts only the message's fields for smfi_chgheader, so
 * "Received" 1 is the client's first.
 */
static int
smtp_milter_mods_own(const struct smtp_milter_msg *msg,
    const struct smtp_milter_hdr *h)
{
	return h->field == &msg->fields[0] && h->namelen == 8 &&
	    strncasecmp(h->name, "Received", 8) == 0;
}

/* The header list: the received fields, then each change in order. */
struct smtp_milter_hdr *
smtp_milter_mods_headers(struct smtp_milter_msg *msg, size_t *np)
{
	struct smtp_milter_hdr	*h;
	const struct smtp_milter_mod *mod;
	size_t			 i, j, k, n = msg->nfields, cap;

	cap = msg->nfields + msg->committed;
	if ((h = calloc(cap > 0 ? cap : 1, sizeof(*h))) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		h[i].field = &msg->fields[i];
		h[i].name = msg->names + msg->fields[i].name;
		h[i].namelen = msg->fields[i].namelen;
	}
	for (i = 0; i < msg->committed; i++) {
		mod = &msg->mods[i];
		if (mod->code == SMFIR_CHGHEADER) {
			/* index 0 is 1 (libmilter): the n-th of that name */
			for (j = 0, k = 0; j < n; j++)
				if (!smtp_milter_mods_own(msg, &h[j]) &&
				    h[j].namelen == strlen(mod->a) &&
				    strncasecmp(h[j].name, mod->a,
				    h[j].namelen) == 0 && ++k >= (mod->idx ?
				    mod->idx : 1))
					break;
			if (j < n && mod->b[0] == '\0') {
				memmove(&h[j], &h[j + 1], (n - j - 1) *
				    sizeof(*h));
				n--;
				continue;
			}
			if (j < n) {
				h[j].field = NULL;
				h[j].mod = mod;
				continue;
			}
			/* no such field: a value makes one, as sendmail */
			if (mod->b[0] == '\0')
				continue;
			j = n;
		} else if (mod->code == SMFIR_INSHEADER)
			j = mod->idx < n ? mod->idx : n;
		else if (mod->code == SMFIR_ADDHEADER)
			j = n;
		else
			continue;
		memmove(&h[j + 1], &h[j], (n - j) * sizeof(*h));
		h[j].field = NULL;
		h[j].mod = mod;
		h[j].name = mod->a;
		h[j].namelen = strlen(mod->a);
		n++;
	}
	*np = n;
	return h;
}

static void
smtp_milter_out_flush(struct smtp_milter_out *o)
{
	if (!o->failed && write_all(o->fd, o->buf, o->len) == -1)
		o->failed = 1;
	o->total += (int64_t)o->len;
	o->len = 0;
}

static void
smtp_milter_out_put(struct smtp_milter_out *o, const char *p, size_t len)
{
	size_t	 k;

	if (len > 0)
		o->last = p[len - 1];
	while (len > 0) {
		k = SMTP_MILTER_OUT_BUFSIZE - o->len;
		if (k > len)
			k = len;
		memcpy(o->buf + o->len, p, k);
		o->len += k;
		p += k;
		len -= k;
		if (o->len == SMTP_MILTER_OUT_BUFSIZE)
			smtp_milter_out_flush(o);
	}
}

/* Octets [off, off + len) of the message file to the output. */
static void
smtp_milter_out_copy(struct smtp_milter_out *o, struct smtp_milter_msg *msg,
    uint64_t off, uint64_t len)
{
	ssize_t	 n;
	size_t	 want;

	while (!o->failed && len > 0) {
		want = len < SMTP_MILTER_CHUNK_MAX ? (size_t)len :
		    SMTP_MILTER_CHUNK_MAX;
		n = pread(msg->fd, msg->buf, want, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			o->failed = 1;
			return;
		}
		smtp_milter_out_put(o, msg->buf, (size_t)n);
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
}

/* A filter's field: "Name: value" (or "Name:value" as given, with
 * SMFIP_HDR_LEADSPC), line breaks made CRLF. */
static void
smtp_milter_out_field(struct smtp_milter_out *o, const struct smtp_milter_hdr *h)
{
	const char	*v = h->mod->b;

	smtp_milter_out_put(o, h->name, h->namelen);
	smtp_milter_out_put(o, h->mod->leadspc ? ":" : ": ",
	    h->mod->leadspc ? 1 : 2);
	for (; *v != '\0'; v++) {
		if (*v == '\n' && (v == h->mod->b || v[-1] != '\r'))
			smtp_milter_out_put(o, "\r", 1);
		smtp_milter_out_put(o, v, 1);
	}
	smtp_milter_out_put(o, "\r\n", 2);
}

/* The first line of a "TLS-Required:" value is "No" (RFC 8689 5). */
static int
smtp_milter_mods_tls_no(const char *v, size_t len)
{
	size_t	 end;

	for (end = 0; end < len && v[end] != '\r' && v[end] != '\n'; end++)
		;
	while (len > 0 && end > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		end--;
	}
	while (end > 0 && (v[end - 1] == ' ' || v[end - 1] == '\t'))
		end--;
	return end == 2 && strncasecmp(v, "no", 2) == 0;
}

/* What one field of the written header says: TLS-Required, 8 bits. */
static void
smtp_milter_mods_fact(struct smtp_milter_msg *msg,
    const struct smtp_milter_hdr *h, struct smtp_milter_facts *facts)
{
	const unsigned char	*v;
	char			 buf[256];
	ssize_t			 n;

	if (h->field == NULL)
		for (v = (const unsigned char *)h->mod->b; *v != '\0'; v++)
			if (*v > 0x7f)
				facts->hdr8bit = 1;
	if (h->namelen != 12 || strncasecmp(h->name, "TLS-Required", 12) != 0)
		return;
	if (h->field == NULL) {
		facts->tls_optional |= smtp_milter_mods_tls_no(h->mod->b,
		    strlen(h->mod->b));
		return;
	}
	n = pread(msg->fd, buf, h->field->len < sizeof(buf) ? h->field->len :
	    sizeof(buf), (off_t)h->field->off);
	if (n > 13)
		facts->tls_optional |= smtp_milter_mods_tls_no(buf + 13,
		    (size_t)n - 13);
}

int64_t
smtp_milter_mods_write(struct smtp_milter_msg *msg, int fd,
    struct smtp_milter_facts *facts)
{
	struct smtp_milter_out	 o;
	struct smtp_milter_hdr	*h;
	size_t			 i, n;

	memset(&o, 0, sizeof(o));
	memset(facts, 0, sizeof(*facts));
	facts->body8bit = msg->repl && msg->repl8bit;
	o.fd = fd;
	if ((h = smtp_milter_mods_headers(msg, &n)) == NULL)
		return -1;
	if ((o.buf = malloc(SMTP_MILTER_OUT_BUFSIZE)) == NULL) {
		free(h);
		return -1;
	}
	for (i = 0; i < n && !o.failed; i++) {
		smtp_milter_mods_fact(msg, &h[i], facts);
		if (h[i].field != NULL)
			smtp_milter_out_copy(&o, msg, h[i].field->off,
			    h[i].field->len);
		else
			smtp_milter_out_field(&o, &h[i]);
	}
	free(h);
	if (!msg->repl)
		smtp_milter_out_copy(&o, msg, msg->hdr_end,
		    msg->size - msg->hdr_end);
	else {
		smtp_milter_out_put(&o, "\r\n", 2);
		smtp_milter_out_copy(&o, msg, msg->repl_off, msg->repl_len);
		/* the body ends with a line end, as every message here */
		if (msg->repl_len > 0 && o.last != '\n')
			smtp_milter_out_put(&o, "\r\n", 2);
	}
	smtp_milter_out_flush(&o);
	free(o.buf);
	return o.failed ? -1 : o.total;
}
