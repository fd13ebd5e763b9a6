/*
 * mta_sts.c: MTA-STS policies (RFC 8461) for the outbound client: the
 * cache, the fetch, and their use by a batch and its connections.
 *
 * Interface in mta_sts.h.  Who fetches: this process, which is already
 * unprivileged, chrooted and making outbound connections; the HTTPS
 * handshake is tlsproxy's like every other (IMSG_TLS_CLIENT_START with
 * TLS_F_VERIFY_NAME, SNI and name mta-sts.DOMAIN, the CA set of "ca
 * file"/"ca path"), so no key, no process and no privilege is added.
 *
 * A fetch: TXT _mta-sts.DOMAIN (one "v=STSv1; id=" record, 3.1), then,
 * unless the cached policy has that id and is not in the last quarter of
 * its max_age (5.1: refresh before expiry), A mta-sts.DOMAIN (AAAA
 * if it has none), TCP to port 443 of the first address, the handshake, "GET /.well-known/mta-sts.txt" as HTTP/1.0
 * (so no chunked answer; Host: sent) over the plaintext end, the answer
 * read to its end (MTA_STS_HEAD_MAX plus 64 KiB at most) and parsed by
 * common/mtasts.c.  The whole fetch is bounded by MTA_STS_FETCH_TIMEOUT.
 * Batches to a domain wait on one fetch.  A failed fetch or TXT lookup
 * keeps a cached policy until its max_age is over (5.1); without one,
 * the domain has no policy and mail goes as before.  A cached policy
 * whose TXT id was seen less than MTA_STS_TXT_RECHECK seconds ago is used
 * without a lookup.  The cache lives in this process: a restart of the
 * mta fetches again (see ARCHITECTURE.md on why not the database yet).
 *
 * Failure behaviour: nothing from DNS or HTTPS ends the process; every
 * error is a log line, a TLS-RPT failure and "no new policy".
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "log.h"
#include "mtasts.h"
#include "proc.h"
#include "util.h"
#include "mta_core.h"
#include "mta_dns.h"
#include "mta_route.h"
#include "mta_sts.h"

#define MTA_STS_CACHE_MAX	1024	/* domains with a policy */
#define MTA_STS_TXT_RECHECK	60	/* seconds a TXT id is trusted */
#define MTA_STS_FETCH_TIMEOUT	60	/* seconds, TXT to last octet */
#define MTA_STS_PORT		443
#define MTA_STS_READ_MAX	(MTA_STS_HEAD_MAX + MTASTS_POLICY_MAX)

struct mta_sts_entry {
	TAILQ_ENTRY(mta_sts_entry) entry;
	char			 domain[CONF_HOST_MAX];
	char			 id[MTA_STS_ID_MAX];
	struct mtasts_policy	 pol;
	time_t			 fetched;
	time_t			 checked;	/* the TXT id last seen */
};

enum mta_sts_step {
	MTA_STS_STORED,		/* asking policyd for the kept policy */
	MTA_STS_TXT,
	MTA_STS_ADDR,
	MTA_STS_CONNECT,
	MTA_STS_TLS,
	MTA_STS_HTTP
};

struct mta_sts_fetch {
	TAILQ_ENTRY(mta_sts_fetch) entry;
	enum mta_sts_step	 step;
	uint32_t		 id;		/* the tlsproxy session */
	uint32_t		 inst;
	uint32_t		 qid;		/* IMSG_POLICY_STS_GET */
	int			 v6;		/* no A: asking AAAA */
	char			 domain[CONF_HOST_MAX];
	char			 host[CONF_HOST_MAX + 8];	/* mta-sts. */
	char			 txtid[MTA_STS_ID_MAX];
	struct mta_dns_query	*q;
	int			 fd;
	struct event		*conn;
	struct event		*timer;
	struct bufferevent	*bev;
	TAILQ_HEAD(, mta_batch)	 waiting;
};

static TAILQ_HEAD(, mta_sts_entry) mta_sts_cache =
    TAILQ_HEAD_INITIALIZER(mta_sts_cache);
static size_t			 mta_sts_ncache;
static TAILQ_HEAD(, mta_sts_fetch) mta_sts_fetches =
    TAILQ_HEAD_INITIALIZER(mta_sts_fetches);

static uint32_t			 mta_sts_qid;

static void	mta_sts_tls_abort(struct mta_sts_fetch *);
static int	mta_sts_txt_start(struct mta_sts_fetch *);
static int	mta_sts_stored_ask(struct mta_sts_fetch *);
static void	mta_sts_txt_cb(void *, const struct mta_dns_answer *);

static struct mta_sts_entry *
mta_sts_cache_find(const char *domain, time_t now)
{
	struct mta_sts_entry	*e;

	TAILQ_FOREACH(e, &mta_sts_cache, entry)
		if (strcasecmp(e->domain, domain) == 0)
			break;
	if (e != NULL && now >= e->fetched + (time_t)e->pol.max_age) {
		log_info("MTA-STS: the policy of %s expired", domain);
		TAILQ_REMOVE(&mta_sts_cache, e, entry);
		mta_sts_ncache--;
		free(e);
		return NULL;
	}
	return e;
}

/* In the last quarter of its max_age: fetched again even if the id is
 * the same, so that it never expires while the domain publishes it. */
static int
mta_sts_refresh_due(const struct mta_sts_entry *e, time_t now)
{
	return now >= e->fetched + (time_t)(e->pol.max_age / 4 * 3);
}

/* Keep a fetched policy; the oldest goes when the cache is full. */
static struct mta_sts_entry *
mta_sts_cache_put(const char *domain, const char *id,
    const struct mtasts_policy *pol, time_t fetched)
{
	struct mta_sts_entry	*e;

	TAILQ_FOREACH(e, &mta_sts_cache, entry)
		if (strcasecmp(e->domain, domain) == 0)
			break;
	if (e == NULL && mta_sts_ncache >= MTA_STS_CACHE_MAX) {
		e = TAILQ_FIRST(&mta_sts_cache);
		TAILQ_REMOVE(&mta_sts_cache, e, entry);
		mta_sts_ncache--;
		free(e);
		e = NULL;
	}
	if (e == NULL) {
		e = xcalloc(1, sizeof(*e));
		mta_sts_ncache++;
	} else
		TAILQ_REMOVE(&mta_sts_cache, e, entry);
	TAILQ_INSERT_TAIL(&mta_sts_cache, e, entry);
	(void)strlcpy(e->domain, domain, sizeof(e->domain));
	(void)strlcpy(e->id, id, sizeof(e->id));
	e->pol = *pol;
	e->fetched = e->checked = fetched;
	return e;
}

/*
 * The policy e (NULL: none) for batch b: enforce keeps only the hops
 * whose MX name matches.  -1 if none is left (b has failed).
 */
static int
mta_sts_apply(struct mta_batch *b, const struct mta_sts_entry *e)
{
	size_t	 i, k = 0;
	int	 match;

	b->sts_mode = e != NULL ? (int)e->pol.mode : MTASTS_MODE_NONE;
	if (b->sts_mode != MTASTS_MODE_NONE &&
	    (b->msgflags & MSG_F_TLS_OPTIONAL)) {
		/* RFC 8689 5: the sender asked that no policy hold it */
		log_info("batch %08x: MTA-STS %s policy of %s not applied: "
		    "TLS-Required: No", b->id, mtasts_mode_name(b->sts_mode),
		    b->domain);
		b->sts_mode = MTASTS_MODE_NONE;
	}
	if (b->sts_mode == MTASTS_MODE_NONE)
		return 0;
	for (i = 0; i < b->nhops; i++) {
		/* DANE wins where it applies (RFC 8461 2) */
		match = mta_dane_applies(&b->hops[i]) ||
		    mtasts_mx_match(&e->pol, b->hops[i].name);
		if (!match && (i == 0 || strcmp(b->hops[i].name,
		    b->hops[i - 1].name) != 0))
			log_info("batch %08x to %s: MTA-STS %s: MX %s does not "
			    "match the policy%s", b->id, b->domain,
			    mtasts_mode_name(e->pol.mode), b->hops[i].name,
			    b->sts_mode == MTASTS_MODE_ENFORCE ? ", not used" :
			    ", would not be used");
		if (!match && b->sts_mode == MTASTS_MODE_ENFORCE) {
			mta_tlsrpt_failure(b->domain, &e->pol,
			    "validation-failure", b->hops[i].name, NULL);
			continue;
		}
		b->hops[k++] = b->hops[i];
	}
	b->nhops = k;
	if (k > 0)
		return 0;
	mta_batch_error(b, STATUS_TEMPFAIL, "4.7.5", "451 4.7.5 MTA-STS "
	    "policy of %s: no MX host matches the policy", b->domain);
	return -1;
}

static void
mta_sts_fetch_free(struct mta_sts_fetch *f)
{
	TAILQ_REMOVE(&mta_sts_fetches, f, entry);
	mta_dns_cancel(f->q);
	if (f->step == MTA_STS_TLS)
		mta_sts_tls_abort(f);
	if (f->conn != NULL)
		event_free(f->conn);
	if (f->timer != NULL)
		event_free(f->timer);
	if (f->bev != NULL)
		bufferevent_free(f->bev);
	if (f->fd != -1)
		(void)close(f->fd);
	free(f);
}

/* The fetch ended: pol (NULL if none came) and the waiting batches go. */
static void
mta_sts_fetch_end(struct mta_sts_fetch *f, const struct mtasts_policy *pol,
    const char *why)
{
	struct mta_sts_entry	*e;
	struct mta_batch	*b;
	time_t			 now = time(NULL);

	e = mta_sts_cache_find(f->domain, now);
	if (pol != NULL) {
		log_info("MTA-STS: policy of %s fetched: id %s, mode %s, "
		    "max_age %u", f->domain, f->txtid, mtasts_mode_name(
		    pol->mode), pol->max_age);
		stats_add("mta.sts.fetched", 1);
		e = mta_sts_cache_put(f->domain, f->txtid, pol, now);
	} else if (why != NULL) {
		stats_add("mta.sts.failed", 1);
		log_info("MTA-STS: policy fetch for %s failed: %s%s",
		    f->domain, why, e != NULL ? "; the cached policy is kept" :
		    "");
		mta_tlsrpt_failure(f->domain, e != NULL ? &e->pol : NULL,
		    "sts-policy-fetch-error", NULL, why);
	} else if (e != NULL && strcmp(e->id, f->txtid) == 0)
		e->checked = now;
	while ((b = TAILQ_FIRST(&f->waiting)) != NULL) {
		TAILQ_REMOVE(&f->waiting, b, wentry);
		b->state = MTA_BATCH_NEW;
		if (mta_sts_apply(b, e) == 0)
			mta_batch_hops_ready(b);
	}
	mta_sts_fetch_free(f);
}

static void
mta_sts_timeout(int fd, short ev, void *arg)
{
	mta_sts_fetch_end(arg, NULL, "timeout");
}

/* Keep a fetched policy in policyd's database for our next life. */
static void
mta_sts_store(const struct mta_sts_fetch *f, const char *body, size_t len)
{
	struct imsg_out	 out;

	if (proc_peer(PROC_POLICY) == NULL)
		return;
	imsg_out_init(&out, IMSG_POLICY_STS_PUT, 0);
	imsg_put_str(&out, f->domain);
	imsg_put_str(&out, f->txtid);
	imsg_put_u64(&out, (uint64_t)time(NULL));
	imsg_put_data(&out, body, len);
	(void)proc_send(PROC_POLICY, &out, -1);
}

/* EOF: the answer is complete. */
static void
mta_sts_http_done(struct mta_sts_fetch *f)
{
	struct evbuffer		*in = bufferevent_get_input(f->bev);
	struct mtasts_policy	 pol;
	const char		*why, *buf;
	size_t			 len = evbuffer_get_length(in), off, blen;

	buf = (const char *)evbuffer_pullup(in, -1);
	if (buf == NULL) {
		mta_sts_fetch_end(f, NULL, "out of memory");
		return;
	}
	if (mta_sts_http_parse(buf, len, &off, &blen, &why) == -1 ||
	    mtasts_policy_parse(buf + off, blen, &pol, &why) == -1) {
		mta_sts_fetch_end(f, NULL, why);
		return;
	}
	mta_sts_store(f, buf + off, blen);
	mta_sts_fetch_end(f, &pol, NULL);
}

static void
mta_sts_http_read(struct bufferevent *bev, void *arg)
{
	struct mta_sts_fetch	*f = arg;

	if (evbuffer_get_length(bufferevent_get_input(bev)) > MTA_STS_READ_MAX)
		mta_sts_fetch_end(f, NULL, "answer too large");
}

static void
mta_sts_http_event(struct bufferevent *bev, short what, void *arg)
{
	struct mta_sts_fetch	*f = arg;

	if (what & BEV_EVENT_EOF)
		mta_sts_http_done(f);
	else
		mta_sts_fetch_end(f, NULL, "connection lost");
}

int
mta_sts_id_used(uint32_t id)
{
	struct mta_sts_fetch	*f;

	TAILQ_FOREACH(f, &mta_sts_fetches, entry)
		if (f->id == id)
			return 1;
	return 0;
}

int
mta_sts_tls_result(uint32_t id, int fd, const char *verify,
    const char *error)
{
	struct mta_sts_fetch	*f;
	char			 why[CONF_HOST_MAX + 512];

	TAILQ_FOREACH(f, &mta_sts_fetches, entry)
		if (f->id == id && f->step == MTA_STS_TLS &&
		    f->inst == proc_peer_instance())
			break;
	if (f == NULL && mta_sts_id_used(id)) {
		/* a fetch of ours, not waiting for this answer */
		if (fd != -1)
			(void)close(fd);
		return 1;
	}
	if (f == NULL)
		return 0;
	f->step = MTA_STS_HTTP;
	if (fd == -1 || strcmp(verify, "OK") != 0) {
		(void)snprintf(why, sizeof(why), "https://%s: TLS "
		    "verify=%s%s%s", f->host, verify, error[0] != '\0' ? " " : "", error);
		if (fd != -1)
			(void)close(fd);
		mta_sts_fetch_end(f, NULL, why);
		return 1;
	}
	if ((f->bev = bufferevent_socket_new(proc_base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		(void)close(fd);
		mta_sts_fetch_end(f, NULL, "out of memory");
		return 1;
	}
	bufferevent_setcb(f->bev, mta_sts_http_read, NULL, mta_sts_http_event,
	    f);
	(void)bufferevent_enable(f->bev, EV_READ | EV_WRITE);
	(void)evbuffer_add_printf(bufferevent_get_output(f->bev),
	    "GET /.well-known/mta-sts.txt HTTP/1.0\r\nHost: %s\r\n"
	    "User-Agent: smtpd\r\nConnection: close\r\n\r\n", f->host);
	return 1;
}

/* Connected: the socket goes to tlsproxy for a verified handshake. */
static void
mta_sts_connected(int fd, short what, void *arg)
{
	struct mta_sts_fetch	*f = arg;
	struct imsg_out		 out;
	int			 err = 0, inst;
	socklen_t		 len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		mta_sts_fetch_end(f, NULL, strerror(err));
		return;
	}
	if ((inst = proc_peer_pick(PROC_TLS)) == -1) {
		mta_sts_fetch_end(f, NULL, "TLS proxy unavailable");
		return;
	}
	do {
		f->id = id_random32();
	} while (f->id == ID_NONE || mta_session_find(f->id) != NULL);
	f->inst = (uint32_t)inst;
	f->step = MTA_STS_TLS;
	imsg_out_init(&out, IMSG_TLS_CLIENT_START, f->id);
	imsg_put_str(&out, f->host);
	imsg_put_str(&out, conf->mta_pki);
	imsg_put_u32(&out, TLS_F_VERIFY_NAME);
	mta_tls_put_tlsa(&out, NULL);
	if (proc_send_n(PROC_TLS, f->inst, &out, f->fd) == -1) {
		f->fd = -1;
		f->step = MTA_STS_HTTP;
		mta_sts_fetch_end(f, NULL, "TLS proxy unavailable");
		return;
	}
	f->fd = -1;
}

void
mta_sts_tls_down(unsigned inst)
{
	struct mta_sts_fetch	*f, *next;

	for (f = TAILQ_FIRST(&mta_sts_fetches); f != NULL; f = next) {
		next = TAILQ_NEXT(f, entry);
		if (f->step == MTA_STS_TLS && f->inst == inst) {
			f->step = MTA_STS_HTTP;
			mta_sts_fetch_end(f, NULL, "TLS proxy lost");
		}
	}
}

static void
mta_sts_tls_abort(struct mta_sts_fetch *f)
{
	struct imsg_out	 out;

	if (proc_peer_n(PROC_TLS, f->inst) == NULL)
		return;
	imsg_out_init(&out, IMSG_TLS_ABORT, f->id);
	(void)proc_send_n(PROC_TLS, f->inst, &out, -1);
}

/* Connect to the policy host at ss; the rest comes from the loop. */
static void
mta_sts_connect(struct mta_sts_fetch *f, const struct sockaddr_storage *ss,
    socklen_t len)
{
	f->step = MTA_STS_CONNECT;
	f->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (f->fd == -1 || (connect(f->fd, (const struct sockaddr *)ss,
	    len) == -1 && errno != EINPROGRESS)) {
		mta_sts_fetch_end(f, NULL, strerror(errno));
		return;
	}
	if ((f->conn = event_new(proc_base, f->fd, EV_WRITE, mta_sts_connected,
	    f)) == NULL || event_add(f->conn, NULL) == -1)
		mta_sts_fetch_end(f, NULL, "out of memory");
}

/*
 * The A records of mta-sts.DOMAIN, then, if there is none, its AAAA
 * records: connect to the first address.
 */
static void
mta_sts_addr_cb(void *arg, const struct mta_dns_answer *a)
{
	struct mta_sts_fetch	*f = arg;
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	size_t			 i;
	int			 want = f->v6 ? 16 : 4;

	f->q = NULL;
	for (i = 0; a->status == MTA_DNS_OK && i < a->count; i++)
		if (a->rdlen[i] == want)
			break;
	if ((a->status != MTA_DNS_OK || i == a->count) && !f->v6) {
		f->v6 = 1;
		if ((f->q = mta_dns_query(f->host, MTA_DNS_T_AAAA,
		    mta_sts_addr_cb, f)) == NULL)
			mta_sts_fetch_end(f, NULL, "out of memory");
		return;
	}
	if (a->status != MTA_DNS_OK || i == a->count) {
		mta_sts_fetch_end(f, NULL, "no address for the policy host");
		return;
	}
	memset(&ss, 0, sizeof(ss));
	if (f->v6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(MTA_STS_PORT);
		memcpy(&sin6->sin6_addr, a->rdata[i], 16);
		mta_sts_connect(f, &ss, sizeof(*sin6));
		return;
	}
	sin->sin_family = AF_INET;
	sin->sin_port = htons(MTA_STS_PORT);
	memcpy(&sin->sin_addr, a->rdata[i], 4);
	mta_sts_connect(f, &ss, sizeof(*sin));
}

/* The TXT records of _mta-sts.DOMAIN: the id, then maybe the HTTPS. */
static void
mta_sts_txt_cb(void *arg, const struct mta_dns_answer *a)
{
	struct mta_sts_fetch	*f = arg;
	struct mta_sts_entry	*e;
	char			 id[MTA_STS_ID_MAX];
	size_t			 i;
	int			 n = 0, r;

	f->q = NULL;
	for (i = 0; a->status == MTA_DNS_OK && i < a->count; i++) {
		r = mta_sts_txt_parse((const uint8_t *)a->rdata[i],
		    (size_t)a->rdlen[i], id, sizeof(id));
		if (r != 0)
			n++;
		if (r == 1)
			(void)strlcpy(f->txtid, id, sizeof(f->txtid));
	}
	if (a->status == MTA_DNS_FAIL) {
		mta_sts_fetch_end(f, NULL, "DNS error looking up TXT");
		return;
	}
	/* 3.1: no record, or several: no (new) policy */
	if (n != 1 || f->txtid[0] == '\0') {
		f->txtid[0] = '\0';
		mta_sts_fetch_end(f, NULL, n > 1 ? "several STSv1 TXT records" :
		    n == 1 ? "malformed STSv1 TXT record" : NULL);
		return;
	}
	e = mta_sts_cache_find(f->domain, time(NULL));
	if (e != NULL && strcmp(e->id, f->txtid) == 0 &&
	    !mta_sts_refresh_due(e, time(NULL))) {
		mta_sts_fetch_end(f, NULL, NULL);
		return;
	}
	f->step = MTA_STS_ADDR;
	if ((f->q = mta_dns_query(f->host, MTA_DNS_T_A, mta_sts_addr_cb,
	    f)) == NULL)
		mta_sts_fetch_end(f, NULL, "out of memory");
}

/* Look the TXT record up (the answer comes from the event loop); -1
 * without memory. */
static int
mta_sts_txt_start(struct mta_sts_fetch *f)
{
	char	 txt[CONF_HOST_MAX + 16];

	f->step = MTA_STS_TXT;
	(void)snprintf(txt, sizeof(txt), "_mta-sts.%s", f->domain);
	f->q = mta_dns_query(txt, MTA_DNS_T_TXT, mta_sts_txt_cb, f);
	return f->q != NULL ? 0 : -1;
}

/* Nothing in memory: ask policyd what an earlier mta kept; -1 if it
 * is not there to ask. */
static int
mta_sts_stored_ask(struct mta_sts_fetch *f)
{
	struct imsg_out	 out;

	if (proc_peer(PROC_POLICY) == NULL)
		return -1;
	if (++mta_sts_qid == ID_NONE)
		mta_sts_qid++;
	f->qid = mta_sts_qid;
	f->step = MTA_STS_STORED;
	imsg_out_init(&out, IMSG_POLICY_STS_GET, f->qid);
	imsg_put_str(&out, f->domain);
	return proc_send(PROC_POLICY, &out, -1);
}

/* What policyd kept for f: trusted no more than a fetch, so parsed
 * again, and used only within its max_age. */
static void
mta_sts_stored(struct mta_sts_fetch *f, const char *txtid, uint64_t fetched,
    const char *body, size_t len)
{
	struct mtasts_policy	 pol;
	const char		*why;
	time_t			 now = time(NULL);

	if (mtasts_policy_parse(body, len, &pol, &why) == -1) {
		log_info("MTA-STS: the kept policy of %s is not valid: %s",
		    f->domain, why);
		return;
	}
	if (fetched > (uint64_t)now ||
	    now - (time_t)fetched >= (time_t)pol.max_age ||
	    strlen(txtid) >= MTA_STS_ID_MAX)
		return;
	/* the TXT id is checked again at once */
	mta_sts_cache_put(f->domain, txtid, &pol, (time_t)fetched)->checked = 0;
	log_info("MTA-STS: policy of %s read from the database: id %s, "
	    "mode %s", f->domain, txtid, mtasts_mode_name(pol.mode));
}

void
mta_sts_imsg_stored(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct mta_sts_fetch	*f;
	char			 txtid[MTA_STS_ID_MAX + 32];
	const char		*body;
	uint64_t		 fetched;
	uint32_t		 found;
	size_t			 len;

	found = imsg_get_u32(m);
	(void)imsg_get_strbuf(m, txtid, sizeof(txtid));
	fetched = imsg_get_u64(m);
	body = imsg_get_data(m, &len);
	if (imsg_get_end(m) == -1 || found > 1 || m->fd != -1) {
		if (m->fd != -1)
			(void)close(m->fd);
		proc_peer_bad(PROC_POLICY, "malformed MTA-STS result",
		    m->type);
		return;
	}
	TAILQ_FOREACH(f, &mta_sts_fetches, entry)
		if (f->step == MTA_STS_STORED && f->qid == m->id)
			break;
	if (f == NULL)
		return;
	if (found && len > 0)
		mta_sts_stored(f, txtid, fetched, body, len);
	if (mta_sts_txt_start(f) == -1)
		mta_sts_fetch_end(f, NULL, "out of memory");
}

void
mta_sts_policy_down(void)
{
	struct mta_sts_fetch	*f, *next;

	for (f = TAILQ_FIRST(&mta_sts_fetches); f != NULL; f = next) {
		next = TAILQ_NEXT(f, entry);
		if (f->step == MTA_STS_STORED && mta_sts_txt_start(f) == -1)
			mta_sts_fetch_end(f, NULL, "out of memory");
	}
}

/* A fetch for domain, or the one under way. */
static struct mta_sts_fetch *
mta_sts_fetch_get(const char *domain)
{
	struct mta_sts_fetch	*f;
	struct timeval		 tv = { MTA_STS_FETCH_TIMEOUT, 0 };

	TAILQ_FOREACH(f, &mta_sts_fetches, entry)
		if (strcasecmp(f->domain, domain) == 0)
			return f;
	f = xcalloc(1, sizeof(*f));
	f->fd = -1;
	TAILQ_INIT(&f->waiting);
	(void)strlcpy(f->domain, domain, sizeof(f->domain));
	(void)snprintf(f->host, sizeof(f->host), "mta-sts.%s", domain);
	TAILQ_INSERT_TAIL(&mta_sts_fetches, f, entry);
	if ((f->timer = evtimer_new(proc_base, mta_sts_timeout, f)) == NULL ||
	    evtimer_add(f->timer, &tv) == -1) {
		mta_sts_fetch_free(f);
		return NULL;
	}
	if ((mta_sts_cache_find(domain, time(NULL)) != NULL ||
	    mta_sts_stored_ask(f) == -1) && mta_sts_txt_start(f) == -1) {
		mta_sts_fetch_free(f);
		return NULL;
	}
	return f;
}

int
mta_sts_route(struct mta_batch *b)
{
	struct mta_sts_entry	*e;
	struct mta_sts_fetch	*f;
	time_t			 now = time(NULL);

	if (!conf->mta_sts || b->sts_asked || b->nhops == 0 ||
	    b->hops[0].routed)
		return 0;
	b->sts_asked = 1;
	e = mta_sts_cache_find(b->domain, now);
	if (e != NULL && now < e->checked + MTA_STS_TXT_RECHECK &&
	    !mta_sts_refresh_due(e, now))
		return mta_sts_apply(b, e) == -1;
	if ((f = mta_sts_fetch_get(b->domain)) == NULL)
		return mta_sts_apply(b, e) == -1;
	TAILQ_INSERT_TAIL(&f->waiting, b, wentry);
	b->state = MTA_BATCH_STS;
	return 1;
}

void
mta_sts_cancel(struct mta_batch *b)
{
	struct mta_sts_fetch	*f;
	struct mta_batch	*o;

	TAILQ_FOREACH(f, &mta_sts_fetches, entry)
		TAILQ_FOREACH(o, &f->waiting, wentry)
			if (o == b) {
				TAILQ_REMOVE(&f->waiting, b, wentry);
				b->state = MTA_BATCH_NEW;
				return;
			}
}

uint32_t
mta_sts_tls_flags(struct mta_session *s, const char *name)
{
	/* REQUIRETLS (RFC 8689 4.2.1) wants the MX name checked too */
	if (s->batch == NULL || (s->batch->sts_mode == MTASTS_MODE_NONE &&
	    !mta_session_requiretls(s->batch)))
		return 0;
	(void)strlcpy(s->sts_host, name, sizeof(s->sts_host));
	return TLS_F_VERIFY_NAME;
}

int
mta_sts_reusable(const struct mta_session *s, const struct mta_batch *b)
{
	if (mta_session_requiretls(b) && !mta_session_name_verified(s,
	    b->hops[b->hop].name))
		return 0;
	/* testing only logs: any connection will do; where DANE applies
	 * the pool gave a connection that passed DANE for the host */
	if (b->sts_mode != MTASTS_MODE_ENFORCE ||
	    mta_dane_applies(&b->hops[b->hop]))
		return 1;
	return s->sts_ok && mta_route_host_eq(s->sts_host,
	    b->hops[b->hop].name);
}

/*
 * The RFC 8460 result-type of a connection that did not verify.  The
 * mta sees ${verify}, not why a chain failed (an unknown CA, a name
 * mismatch, an expiry: tlsproxy's log line says), so every failure of a
 * handshake is the general one.
 */
static const char *
mta_sts_result_type(const struct mta_session *s)
{
	return s->tls ? "validation-failure" : "starttls-not-supported";
}

int
mta_sts_session_verdict(struct mta_session *s, char *text, size_t size)
{
	struct mta_batch	*b = s->batch;
	const struct mta_sts_entry *e;
	const char		*type;

	if (b == NULL || b->sts_mode == MTASTS_MODE_NONE)
		return 0;
	/* sendmail 8.17's Clt_Features M: not for this server */
	if (s->clt_features & POLICY_FEATURE('m')) {
		log_info("%s: MTA-STS %s policy of %s not applied: "
		    "Clt_Features M", s->peer, mtasts_mode_name(b->sts_mode),
		    b->domain);
		return 0;
	}
	/* DANE decided this connection (RFC 8461 2): TRUSTED got here,
	 * its failures deferred the host already */
	if (s->dane.state == MTA_DANE_REQUIRED)
		return 0;
	if (s->tls && s->sts_host[0] != '\0' &&
	    strcmp(s->facts.verify, "OK") == 0) {
		s->sts_ok = 1;
		log_info("%s: MTA-STS %s policy of %s: sts=ok", s->peer,
		    mtasts_mode_name(b->sts_mode), b->domain);
		if ((e = mta_sts_cache_find(b->domain, time(NULL))) != NULL)
			mta_tlsrpt_success(b->domain, &e->pol);
		return 0;
	}
	type = mta_sts_result_type(s);
	e = mta_sts_cache_find(b->domain, time(NULL));
	mta_tlsrpt_failure(b->domain, e != NULL ? &e->pol : NULL, type,
	    b->hops[b->hop].name, s->relay != NULL ? s->relay->addr : NULL);
	if (b->sts_mode == MTASTS_MODE_TESTING) {
		log_info("%s: MTA-STS testing policy of %s: sts=fail (%s, "
		    "verify=%s), delivered anyway", s->peer, b->domain, type,
		    s->facts.verify);
		return 0;
	}
	(void)snprintf(text, size, "451 4.7.5 MTA-STS policy of %s: no "
	    "verified TLS with %s (%s, verify=%s)", b->domain,
	    b->hops[b->hop].name, type, s->facts.verify);
	log_info("%s: MTA-STS enforce policy of %s: sts=fail (%s, verify=%s)",
	    s->peer, b->domain, type, s->facts.verify);
	return -1;
}
