/*
 * mta_batch.c: one delivery job of the outbound client, from
 * IMSG_MTA_DELIVER to IMSG_MTA_DONE.
 *
 * Interface in mta_core.h.  A batch owns the message fd and a result slot
 * per recipient; each recipient gets exactly one IMSG_MTA_RESULT, then
 * the batch sends IMSG_MTA_DONE, closes the fd and is freed.  A malformed
 * IMSG_MTA_DELIVER (a bad AUTH= value included) is a broken queue
 * (proc_peer_bad); an address outside the grammar of mailaddr.c fails alone
 * (5.1.3 / 5.1.7) so that nothing from the queue can splice commands
 * into the SMTP dialogue.  If the queue channel
 * is gone, results go nowhere and mta_batch_abort_all() drops everything.
 */
#include <sys/stat.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "log.h"
#include "mailaddr.h"
#include "proc.h"
#include "util.h"
#include "mta_core.h"
#include "mta_sts.h"

static TAILQ_HEAD(, mta_batch)	 mta_batches =
    TAILQ_HEAD_INITIALIZER(mta_batches);
static size_t			 mta_nbatches;

size_t
mta_batch_count(void)
{
	return mta_nbatches;
}

static void
mta_batch_free(struct mta_batch *b)
{
	size_t	 i;

	TAILQ_REMOVE(&mta_batches, b, entry);
	mta_nbatches--;
	stats_set("mta.batches", (int64_t)mta_nbatches);
	if (b->fd != -1)
		(void)close(b->fd);
	for (i = 0; i < b->nrcpt; i++) {
		free(b->rcpts[i].rcpt);
		free(b->rcpts[i].orcpt);
	}
	free(b->rcpts);
	free(b->hops);
	free(b->sender);
	free(b->envid);
	free(b->domain);
	free(b->auth);
	free(b->route_user);
	free(b);
}

/* Read the recipient list; -1 if the payload is malformed. */
static int
mta_batch_parse_rcpts(struct mta_batch *b, struct imsg *m)
{
	size_t	 i;

	if (b->nrcpt == 0 || b->nrcpt > MTA_RCPT_MAX)
		return -1;
	b->rcpts = xcalloc(b->nrcpt, sizeof(*b->rcpts));
	for (i = 0; i < b->nrcpt; i++) {
		b->rcpts[i].evpid = imsg_get_u64(m);
		b->rcpts[i].rcpt = xstrdup(imsg_get_str(m));
		b->rcpts[i].orcpt = xstrdup(imsg_get_str(m));
		b->rcpts[i].notify = imsg_get_u32(m);
		if (m->bad)
			return -1;
	}
	return imsg_get_end(m);
}

/* The queue checks MAIL's AUTH= when it reads an envelope, so one that
 * is empty, too long or not clean text is a malformed delivery. */
static int
mta_batch_auth_valid(const char *auth)
{
	return auth[0] != '\0' && strlen(auth) < CONF_ADDR_MAX &&
	    text_is_clean(auth);
}

/* Build a batch from IMSG_MTA_DELIVER; NULL if malformed. */
static struct mta_batch *
mta_batch_parse(struct imsg *m)
{
	struct mta_batch	*b;
	struct stat		 st;

	b = xcalloc(1, sizeof(*b));
	TAILQ_INSERT_TAIL(&mta_batches, b, entry);
	mta_nbatches++;
	b->id = m->id;
	b->fd = m->fd;
	m->fd = -1;
	b->msgid = imsg_get_u32(m);
	b->sender = xstrdup(imsg_get_str(m));
	b->dsn_ret = imsg_get_u32(m);
	b->envid = xstrdup(imsg_get_str(m));
	b->domain = xstrdup(imsg_get_str(m));
	(void)imsg_get_i64(m);
	b->body8 = imsg_get_u32(m);
	b->utf8 = imsg_get_u32(m);
	b->msgflags = imsg_get_u32(m);
	b->auth = xstrdup(imsg_get_str(m));
	b->nrcpt = imsg_get_u32(m);
	if (m->bad || b->fd == -1 || !mta_batch_auth_valid(b->auth) ||
	    mta_batch_parse_rcpts(b, m) == -1) {
		mta_batch_free(b);
		return NULL;
	}
	if (fstat(b->fd, &st) == 0)
		b->size = st.st_size;
	b->start = time(NULL);
	b->received_us = stats_clock_us();
	stats_set("mta.batches", (int64_t)mta_nbatches);
	return b;
}

/*
 * Refuse addresses that could break the command line they go into, by
 * the grammar the front end accepted them with (common/mailaddr.c).
 */
static int
mta_batch_check(struct mta_batch *b)
{
	size_t	 i, left = 0;

	if ((b->sender[0] != '\0' && !mailaddr_mailbox_valid(b->sender)) ||
	    !text_is_clean(b->envid) || !text_is_clean(b->domain)) {
		mta_batch_fail_all(b, STATUS_PERMFAIL, "5.1.7",
		    "bad sender address or envelope id");
		return -1;
	}
	for (i = 0; i < b->nrcpt; i++) {
		if (!mailaddr_mailbox_valid(b->rcpts[i].rcpt) ||
		    !text_is_clean(b->rcpts[i].orcpt))
			mta_batch_result(b, i, STATUS_PERMFAIL, "5.1.3",
			    "bad recipient address syntax");
		else
			left++;
	}
	if (left == 0) {
		mta_batch_done(b);
		return -1;
	}
	return 0;
}

/* IMSG_MTA_DELIVER from the queue. */
void
mta_batch_imsg_deliver(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct mta_batch	*b;

	if ((b = mta_batch_parse(m)) == NULL) {
		if (m->fd != -1)
			(void)close(m->fd);
		proc_peer_bad(PROC_QUEUE, "malformed delivery", m->type);
		return;
	}
	log_debug("batch %08x: message %08x, %zu recipient(s) at %s",
	    b->id, b->msgid, b->nrcpt, b->domain);
	if (mta_batch_check(b) == -1)
		return;
	if (conf == NULL)
		return;		/* parked until mta_batch_config_ready() */
	mta_route_start(b);
}

/* The first config arrived: start the batches that came before it. */
void
mta_batch_config_ready(void)
{
	struct mta_batch	*b, *next;

	for (b = TAILQ_FIRST(&mta_batches); b != NULL; b = next) {
		next = TAILQ_NEXT(b, entry);
		if (b->state == MTA_BATCH_NEW && b->qid == 0 &&
		    b->hops == NULL)
			mta_route_start(b);
	}
}

/* "host [addr]" of the hop being tried, "" before there is one. */
const char *
mta_batch_relay(const struct mta_batch *b)
{
	static char		 buf[CONF_HOST_MAX + 64];
	char			 addr[INET6_ADDRSTRLEN];
	const struct mta_hop	*hop;
	const void		*p;

	if (b->hops == NULL || b->hop >= b->nhops)
		return "";
	hop = &b->hops[b->hop];
	if (hop->ss.ss_family == AF_INET6)
		p = &((const struct sockaddr_in6 *)&hop->ss)->sin6_addr;
	else
		p = &((const struct sockaddr_in *)&hop->ss)->sin_addr;
	if (inet_ntop(hop->ss.ss_family, p, addr, sizeof(addr)) == NULL)
		(void)strlcpy(addr, "?", sizeof(addr));
	(void)snprintf(buf, sizeof(buf), "%s [%s]", hop->name, addr);
	return buf;
}

/* A route's "user@host" replaces every recipient on the wire only: the
 * queue, the DSNs and the logs keep the recipient's own address. */
const char *
mta_batch_rcpt_to(const struct mta_batch *b, size_t i)
{
	return b->route_user != NULL ? b->route_user : b->rcpts[i].rcpt;
}

/* The final word on one recipient, sent to the queue at once. */
void
mta_batch_result(struct mta_batch *b, size_t i, int status, const char *enh,
    const char *text)
{
	struct imsg_out	 out;
	uint32_t	 flags = 0;

	if (b->rcpts[i].state == MTA_RCPT_DONE)
		return;
	b->rcpts[i].state = MTA_RCPT_DONE;
	if (status == STATUS_OK && b->session != NULL &&
	    (b->session->ehlo.ext & MTA_EXT_DSN))
		flags |= MTA_RESULT_F_DSN_RELAYED;
	if (status == STATUS_OK)
		stats_add("mta.delivery.ok", 1);
	else if (status == STATUS_TEMPFAIL)
		stats_add("mta.delivery.tempfail", 1);
	else
		stats_add("mta.delivery.permfail", 1);
	imsg_out_init(&out, IMSG_MTA_RESULT, b->id);
	imsg_put_u64(&out, b->rcpts[i].evpid);
	imsg_put_u32(&out, (uint32_t)status);
	imsg_put_str(&out, enh);
	imsg_put_str(&out, mta_batch_relay(b));
	imsg_put_i64(&out, (int64_t)(time(NULL) - b->start));
	imsg_put_str(&out, text);
	imsg_put_u32(&out, flags);
	(void)proc_send(PROC_QUEUE, &out, -1);
}

/* The same result for every recipient still open, then the end. */
void
mta_batch_fail_all(struct mta_batch *b, int status, const char *enh,
    const char *text)
{
	size_t	 i;

	for (i = 0; i < b->nrcpt; i++)
		mta_batch_result(b, i, status, enh, text);
	mta_batch_done(b);
}

void
mta_batch_error(struct mta_batch *b, int status, const char *enh,
    const char *fmt, ...)
{
	char	 text[MTA_ERR_MAX];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_info("batch %08x to %s: %s %s", b->id, b->domain, enh, text);
	mta_batch_fail_all(b, status, enh, text);
}

/* The route is resolved: start with the first hop. */
void
mta_batch_hops_ready(struct mta_batch *b)
{
	if (mta_sts_route(b))
		return;
	b->hop = 0;
	b->fresh = 0;
	mta_pool_acquire(b);
}

/*
 * The current hop could not take the open recipients.  Remember why,
 * then try a fresh connection to the same hop (same: a reused connection
 * died under us) or the next hop; with none left, report the last error.
 */
void
mta_batch_hop_failed(struct mta_batch *b, int same, int status,
    const char *enh, const char *text)
{
	size_t	 i, open = 0;

	b->err.status = status;
	(void)strlcpy(b->err.enh, enh, sizeof(b->err.enh));
	(void)strlcpy(b->err.text, text, sizeof(b->err.text));
	for (i = 0; i < b->nrcpt; i++) {
		if (b->rcpts[i].state == MTA_RCPT_ACCEPTED ||
		    b->rcpts[i].state == MTA_RCPT_HELD)
			b->rcpts[i].state = MTA_RCPT_PENDING;
		if (b->rcpts[i].state == MTA_RCPT_PENDING)
			open++;
	}
	if (open == 0) {
		mta_batch_done(b);
		return;
	}
	if (same && !b->fresh)
		b->fresh = 1;
	else if (b->hop + 1 < b->nhops) {
		b->hop++;
		b->fresh = 0;
	} else {
		mta_batch_fail_all(b, b->err.status, b->err.enh, b->err.text);
		return;
	}
	mta_pool_acquire(b);
}

/* Every recipient has its result: tell the queue and let go. */
void
mta_batch_done(struct mta_batch *b)
{
	size_t	 i;

	if (b->state == MTA_BATCH_ROUTE || b->state == MTA_BATCH_RESOLVE)
		mta_route_cancel(b);
	else if (b->state == MTA_BATCH_WAIT)
		mta_pool_cancel(b);
	else if (b->state == MTA_BATCH_STS)
		mta_sts_cancel(b);
	for (i = 0; i < b->nrcpt; i++)
		if (b->rcpts[i].state != MTA_RCPT_DONE) {
			log_warnx("batch %08x: recipient left open",
			    b->id);
			mta_batch_result(b, i, STATUS_TEMPFAIL, "4.3.0",
			    "internal error");
		}
	(void)proc_compose(PROC_QUEUE, IMSG_MTA_DONE, b->id, -1, NULL, 0);
	stats_time_add("mta.latency.us", "mta.latency.count", b->received_us);
	if (b->received_us != 0)
		stats_hist_add("mta.batch.seconds",
		    stats_clock_us() - b->received_us);
	mta_batch_free(b);
}

/* The queue is gone: drop every batch without a word. */
void
mta_batch_abort_all(void)
{
	struct mta_batch	*b;

	while ((b = TAILQ_FIRST(&mta_batches)) != NULL) {
		if (b->state == MTA_BATCH_ROUTE ||
		    b->state == MTA_BATCH_RESOLVE)
			mta_route_cancel(b);
		else if (b->state == MTA_BATCH_WAIT)
			mta_pool_cancel(b);
		else if (b->state == MTA_BATCH_STS)
			mta_sts_cancel(b);
		mta_batch_free(b);
	}
}
