/*
 * imsg.c: framing, descriptor passing and libevent glue for the typed
 * messages of imsg.h.
 *
 * Wire format: u32 type, u32 payload length, u32 id, u32 flags, all in host
 * order (both ends are on one machine), then the payload.  A descriptor is
 * sent in the same sendmsg() as the first octet of its message, so on a
 * stream socket it arrives no later than that message; received
 * descriptors wait in a FIFO until the message flagged IMSG_F_FD claims
 * them.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "imsg.h"
#include "log.h"

#define IMSG_MAX_FDS	32
#define IMSG_READ_CHUNK	(64 * 1024)
#define IMSG_IOV_MAX	64

struct imsg_obuf {
	TAILQ_ENTRY(imsg_obuf)	 entry;
	uint8_t			*buf;
	size_t			 len;
	size_t			 off;
	int			 fd;
	int			 wipe;		/* holds a secret */
};

struct imsgev {
	struct event_base	*base;
	int			 fd;
	struct event		*rev;
	struct event		*wev;
	uint8_t			*rbuf;
	size_t			 rlen;
	size_t			 rcap;
	int			 fds[IMSG_MAX_FDS];
	size_t			 nfds;
	TAILQ_HEAD(, imsg_obuf)	 outq;
	size_t			 outbytes;
	imsgev_dispatch_cb	 dispatch;
	imsgev_closed_cb	 closed;
	void			*arg;
	char			 name[32];
	/* set while handlers run: a close then only marks the channel */
	int			 busy;
	int			 dead;
};

static void	imsgev_read_cb(int, short, void *);
static void	imsgev_write_cb(int, short, void *);
static void	imsgev_fail(struct imsgev *, const char *);
static void	imsgev_free(struct imsgev *);

void
imsg_out_init(struct imsg_out *out, uint32_t type, uint32_t id)
{
	memset(out, 0, sizeof(*out));
	out->type = type;
	out->id = id;
}

/* A message that carries a secret: every copy we make of it is wiped
 * before it is freed. */
void
imsg_out_secret(struct imsg_out *out)
{
	out->wipe = 1;
}

static void
imsg_buf_free(void *buf, size_t len, int wipe)
{
	if (buf != NULL && wipe)
		explicit_bzero(buf, len);
	free(buf);
}

void
imsg_out_free(struct imsg_out *out)
{
	imsg_buf_free(out->buf, out->cap, out->wipe);
	out->buf = NULL;
	out->len = out->cap = 0;
}

/* Reserve room for n more payload octets; marks the message bad on error. */
static uint8_t *
imsg_out_reserve(struct imsg_out *out, size_t n)
{
	uint8_t	*p;
	size_t	 cap;

	if (out->bad)
		return NULL;
	if (n > IMSG_MAX_PAYLOAD || out->len + n > IMSG_MAX_PAYLOAD) {
		out->bad = 1;
		return NULL;
	}
	if (out->len + n > out->cap) {
		cap = out->cap ? out->cap : 256;
		while (cap < out->len + n)
			cap *= 2;
		/* no realloc: it could leave a secret behind unwiped */
		if ((p = malloc(cap)) == NULL) {
			out->bad = 1;
			return NULL;
		}
		if (out->len > 0)
			memcpy(p, out->buf, out->len);
		imsg_buf_free(out->buf, out->cap, out->wipe);
		out->buf = p;
		out->cap = cap;
	}
	p = out->buf + out->len;
	out->len += n;
	return p;
}

void
imsg_put_u32(struct imsg_out *out, uint32_t v)
{
	uint8_t	*p;

	if ((p = imsg_out_reserve(out, sizeof(v))) != NULL)
		memcpy(p, &v, sizeof(v));
}

void
imsg_put_u64(struct imsg_out *out, uint64_t v)
{
	uint8_t	*p;

	if ((p = imsg_out_reserve(out, sizeof(v))) != NULL)
		memcpy(p, &v, sizeof(v));
}

void
imsg_put_i64(struct imsg_out *out, int64_t v)
{
	imsg_put_u64(out, (uint64_t)v);
}

/* Strings travel with their NUL so the reader can point into the buffer. */
void
imsg_put_str(struct imsg_out *out, const char *s)
{
	size_t	 n;
	uint8_t	*p;

	if (s == NULL)
		s = "";
	n = strlen(s) + 1;
	if ((p = imsg_out_reserve(out, n)) != NULL)
		memcpy(p, s, n);
}

void
imsg_put_data(struct imsg_out *out, const void *data, size_t len)
{
	uint8_t	*p;

	if (len > UINT32_MAX) {
		out->bad = 1;
		return;
	}
	imsg_put_u32(out, (uint32_t)len);
	if (len == 0)
		return;
	if ((p = imsg_out_reserve(out, len)) != NULL)
		memcpy(p, data, len);
}

/* Take n octets from the payload, or mark the message bad. */
static const uint8_t *
imsg_take(struct imsg *m, size_t n)
{
	const uint8_t	*p;

	if (m->bad || n > m->len - m->off) {
		m->bad = 1;
		return NULL;
	}
	p = m->data + m->off;
	m->off += n;
	return p;
}

uint32_t
imsg_get_u32(struct imsg *m)
{
	const uint8_t	*p;
	uint32_t	 v;

	if ((p = imsg_take(m, sizeof(v))) == NULL)
		return 0;
	memcpy(&v, p, sizeof(v));
	return v;
}

uint64_t
imsg_get_u64(struct imsg *m)
{
	const uint8_t	*p;
	uint64_t	 v;

	if ((p = imsg_take(m, sizeof(v))) == NULL)
		return 0;
	memcpy(&v, p, sizeof(v));
	return v;
}

int64_t
imsg_get_i64(struct imsg *m)
{
	return (int64_t)imsg_get_u64(m);
}

/* Returns a NUL-terminated string inside the payload, or "" if malformed. */
const char *
imsg_get_str(struct imsg *m)
{
	const uint8_t	*start, *nul;

	if (m->bad || m->off >= m->len) {
		m->bad = 1;
		return "";
	}
	start = m->data + m->off;
	if ((nul = memchr(start, '\0', m->len - m->off)) == NULL) {
		m->bad = 1;
		return "";
	}
	m->off += (size_t)(nul - start) + 1;
	return (const char *)start;
}

/* Copy a string into a fixed buffer; too long marks the message bad. */
int
imsg_get_strbuf(struct imsg *m, char *buf, size_t size)
{
	const char	*s = imsg_get_str(m);
	size_t		 n = strlen(s);

	if (n >= size) {
		m->bad = 1;
		buf[0] = '\0';
		return -1;
	}
	memcpy(buf, s, n + 1);
	return m->bad ? -1 : 0;
}

const void *
imsg_get_data(struct imsg *m, size_t *len)
{
	uint32_t	 n = imsg_get_u32(m);
	const uint8_t	*p;

	*len = 0;
	if (m->bad)
		return NULL;
	if (n == 0)
		return "";
	if ((p = imsg_take(m, n)) == NULL)
		return NULL;
	*len = n;
	return p;
}

/* 0 when the whole payload was read and nothing was malformed. */
int
imsg_get_end(struct imsg *m)
{
	if (m->bad || m->off != m->len)
		return -1;
	return 0;
}

void
imsg_from_buffer(struct imsg *m, uint32_t type, const void *data, size_t len)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->fd = -1;
	m->data = data;
	m->len = len;
}

/*
 * Parse one message from the front of buf.  Returns the octets it spans,
 * 0 if more input is needed; on a protocol error returns 0 and sets *err.
 */
size_t
imsg_wire_parse(const uint8_t *buf, size_t len, struct imsg *m,
    uint32_t *flags, const char **err)
{
	uint32_t	 hdr[4];

	*err = NULL;
	if (len < IMSG_HDR_SIZE)
		return 0;
	memcpy(hdr, buf, sizeof(hdr));
	if (hdr[1] > IMSG_MAX_PAYLOAD) {
		*err = "oversized message";
		return 0;
	}
	if ((hdr[3] & ~IMSG_F_FD) != 0) {
		*err = "unknown message flags";
		return 0;
	}
	if (len - IMSG_HDR_SIZE < hdr[1])
		return 0;
	imsg_from_buffer(m, hdr[0], buf + IMSG_HDR_SIZE, hdr[1]);
	m->id = hdr[2];
	*flags = hdr[3];
	return IMSG_HDR_SIZE + hdr[1];
}

struct imsgev *
imsgev_open(struct event_base *base, int fd, const char *name,
    imsgev_dispatch_cb dispatch, imsgev_closed_cb closed, void *arg)
{
	struct imsgev	*iev;
	int		 fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return NULL;
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	if ((iev = calloc(1, sizeof(*iev))) == NULL)
		return NULL;
	iev->base = base;
	iev->fd = fd;
	iev->dispatch = dispatch;
	iev->closed = closed;
	iev->arg = arg;
	TAILQ_INIT(&iev->outq);
	(void)snprintf(iev->name, sizeof(iev->name), "%s", name);
	iev->rev = event_new(base, fd, EV_READ | EV_PERSIST, imsgev_read_cb,
	    iev);
	iev->wev = event_new(base, fd, EV_WRITE, imsgev_write_cb, iev);
	if (iev->rev == NULL || iev->wev == NULL ||
	    event_add(iev->rev, NULL) == -1) {
		imsgev_free(iev);
		return NULL;
	}
	return iev;
}

static void
imsgev_free(struct imsgev *iev)
{
	struct imsg_obuf	*ob;
	size_t			 i;

	while ((ob = TAILQ_FIRST(&iev->outq)) != NULL) {
		TAILQ_REMOVE(&iev->outq, ob, entry);
		if (ob->fd != -1)
			(void)close(ob->fd);
		imsg_buf_free(ob->buf, ob->len, ob->wipe);
		free(ob);
	}
	for (i = 0; i < iev->nfds; i++)
		(void)close(iev->fds[i]);
	if (iev->rev)
		event_free(iev->rev);
	if (iev->wev)
		event_free(iev->wev);
	if (iev->fd != -1)
		(void)close(iev->fd);
	free(iev->rbuf);
	free(iev);
}

/* Close the channel; safe to call from inside a handler. */
void
imsgev_close(struct imsgev *iev)
{
	if (iev == NULL)
		return;
	if (iev->busy) {
		iev->dead = 1;
		return;
	}
	imsgev_free(iev);
}

const char *
imsgev_name(struct imsgev *iev)
{
	return iev->name;
}

size_t
imsgev_pending(struct imsgev *iev)
{
	return iev->outbytes;
}

/* Report the loss of the channel once, then free it. */
static void
imsgev_fail(struct imsgev *iev, const char *reason)
{
	imsgev_closed_cb	 cb = iev->closed;
	void			*arg = iev->arg;

	if (iev->dead)
		return;
	iev->dead = 1;
	(void)event_del(iev->rev);
	(void)event_del(iev->wev);
	iev->busy++;
	if (cb != NULL)
		cb(iev, reason, arg);
	iev->busy--;
}

/* Collect descriptors from the control messages of one recvmsg(). */
static int
imsgev_collect_fds(struct imsgev *iev, struct msghdr *msg)
{
	struct cmsghdr	*cm;
	size_t		 n, i;
	int		*fdp, bad = 0;

	for (cm = CMSG_FIRSTHDR(msg); cm != NULL; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		fdp = (int *)CMSG_DATA(cm);
		for (i = 0; i < n; i++) {
			if (iev->nfds == IMSG_MAX_FDS) {
				(void)close(fdp[i]);
				bad = 1;
				continue;
			}
			iev->fds[iev->nfds++] = fdp[i];
		}
	}
	return bad ? -1 : 0;
}

/* Hand every complete message in the read buffer to the dispatcher. */
static void
imsgev_parse(struct imsgev *iev)
{
	struct imsg	 m;
	const char	*err;
	uint32_t	 flags;
	size_t		 off = 0, n;

	iev->busy++;
	while (!iev->dead) {
		n = imsg_wire_parse(iev->rbuf + off, iev->rlen - off, &m,
		    &flags, &err);
		if (err != NULL) {
			imsgev_fail(iev, err);
			break;
		}
		if (n == 0)
			break;
		if (flags & IMSG_F_FD) {
			if (iev->nfds == 0) {
				imsgev_fail(iev, "message without its fd");
				break;
			}
			m.fd = iev->fds[0];
			memmove(iev->fds, iev->fds + 1,
			    --iev->nfds * sizeof(int));
		}
		off += n;
		iev->dispatch(iev, &m, iev->arg);
	}
	iev->busy--;
	if (iev->dead) {
		imsgev_free(iev);
		return;
	}
	memmove(iev->rbuf, iev->rbuf + off, iev->rlen - off);
	iev->rlen -= off;
}

static void
imsgev_read_cb(int fd, short ev, void *arg)
{
	struct imsgev	*iev = arg;
	struct msghdr	 msg;
	struct iovec	 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * 16)];
	} cmsgbuf;
	ssize_t		 n;
	uint8_t		*p;

	(void)ev;
	if (iev->rcap - iev->rlen < IMSG_READ_CHUNK) {
		if ((p = realloc(iev->rbuf, iev->rlen + IMSG_READ_CHUNK)) ==
		    NULL) {
			imsgev_fail(iev, "out of memory");
			imsgev_free(iev);
			return;
		}
		iev->rbuf = p;
		iev->rcap = iev->rlen + IMSG_READ_CHUNK;
	}
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = iev->rbuf + iev->rlen;
	iov.iov_len = iev->rcap - iev->rlen;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = &cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		imsgev_fail(iev, n == 0 ? "EOF" : strerror(errno));
		imsgev_free(iev);
		return;
	}
	iev->rlen += (size_t)n;
	if (imsgev_collect_fds(iev, &msg) == -1 ||
	    (msg.msg_flags & MSG_CTRUNC)) {
		imsgev_fail(iev, "too many descriptors");
		imsgev_free(iev);
		return;
	}
	imsgev_parse(iev);
}

/* Send one buffer that carries a descriptor; the fd rides on its first octet. */
static ssize_t
imsgev_write_fd(struct imsgev *iev, struct imsg_obuf *ob)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct cmsghdr	*cm;
	ssize_t		 n;

	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	iov.iov_base = ob->buf + ob->off;
	iov.iov_len = ob->len - ob->off;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = &cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	memcpy(CMSG_DATA(cm), &ob->fd, sizeof(int));
	n = sendmsg(iev->fd, &msg, MSG_NOSIGNAL);
	if (n > 0) {
		(void)close(ob->fd);
		ob->fd = -1;
	}
	return n;
}

/* Gather plain buffers into one writev(). */
static ssize_t
imsgev_write_plain(struct imsgev *iev)
{
	struct iovec		 iov[IMSG_IOV_MAX];
	struct imsg_obuf	*ob;
	int			 i = 0;

	TAILQ_FOREACH(ob, &iev->outq, entry) {
		if (ob->fd != -1 || i == IMSG_IOV_MAX)
			break;
		iov[i].iov_base = ob->buf + ob->off;
		iov[i].iov_len = ob->len - ob->off;
		i++;
	}
	return writev(iev->fd, iov, i);
}

/* Write as much as the socket takes; 0 when done or blocked, -1 on error. */
static int
imsgev_flush(struct imsgev *iev)
{
	struct imsg_obuf	*ob;
	ssize_t			 n;
	size_t			 left;

	while ((ob = TAILQ_FIRST(&iev->outq)) != NULL) {
		if (ob->fd != -1)
			n = imsgev_write_fd(iev, ob);
		else
			n = imsgev_write_plain(iev);
		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			(void)event_add(iev->wev, NULL);
			return 0;
		}
		if (n <= 0)
			return -1;
		left = (size_t)n;
		iev->outbytes -= left;
		while (left > 0 && (ob = TAILQ_FIRST(&iev->outq)) != NULL) {
			size_t	 chunk = ob->len - ob->off;

			if (left < chunk) {
				ob->off += left;
				break;
			}
			left -= chunk;
			TAILQ_REMOVE(&iev->outq, ob, entry);
			imsg_buf_free(ob->buf, ob->len, ob->wipe);
			free(ob);
		}
	}
	return 0;
}

static void
imsgev_write_cb(int fd, short ev, void *arg)
{
	struct imsgev	*iev = arg;

	(void)fd;
	(void)ev;
	if (imsgev_flush(iev) == -1) {
		imsgev_fail(iev, strerror(errno));
		if (!iev->busy)
			imsgev_free(iev);
	}
}

/*
 * Queue a composed message and try to send it at once.  Ownership of fd
 * (may be -1) passes to the channel.  The payload buffer is consumed.
 */
int
imsgev_send(struct imsgev *iev, struct imsg_out *out, int fd)
{
	struct imsg_obuf	*ob;
	uint32_t		 hdr[4];
	int			 was_empty;

	if (iev == NULL || iev->dead || out->bad) {
		if (fd != -1)
			(void)close(fd);
		if (out->bad && iev != NULL)
			log_warnx("imsg type %u to %s: payload too large",
			    out->type, iev->name);
		imsg_out_free(out);
		return -1;
	}
	if ((ob = calloc(1, sizeof(*ob))) == NULL ||
	    (ob->buf = malloc(IMSG_HDR_SIZE + out->len)) == NULL) {
		free(ob);
		if (fd != -1)
			(void)close(fd);
		imsg_out_free(out);
		return -1;
	}
	hdr[0] = out->type;
	hdr[1] = (uint32_t)out->len;
	hdr[2] = out->id;
	hdr[3] = fd != -1 ? IMSG_F_FD : 0;
	memcpy(ob->buf, hdr, sizeof(hdr));
	if (out->len)
		memcpy(ob->buf + IMSG_HDR_SIZE, out->buf, out->len);
	ob->len = IMSG_HDR_SIZE + out->len;
	ob->fd = fd;
	ob->wipe = out->wipe;
	imsg_out_free(out);
	was_empty = TAILQ_EMPTY(&iev->outq);
	TAILQ_INSERT_TAIL(&iev->outq, ob, entry);
	iev->outbytes += ob->len;
	/* a failure is reported from the event loop, never re-entrantly */
	if (!was_empty || iev->busy || imsgev_flush(iev) == -1)
		event_active(iev->wev, EV_WRITE, 0);
	return 0;
}

int
imsgev_compose(struct imsgev *iev, uint32_t type, uint32_t id, int fd,
    const void *data, size_t len)
{
	struct imsg_out	 out;
	uint8_t		*p;

	imsg_out_init(&out, type, id);
	if (len > 0 && (p = imsg_out_reserve(&out, len)) != NULL)
		memcpy(p, data, len);
	return imsgev_send(iev, &out, fd);
}

/*
 * Run the handler for m->type from a table; -1 if the type is not in it,
 * so that the caller can treat the sender as misbehaving.
 */
int
imsgev_dispatch_table(const struct imsg_handler *tab, size_t n,
    struct imsgev *iev, struct imsg *m, void *arg)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (tab[i].type == m->type) {
			tab[i].fn(iev, m, arg);
			return 0;
		}
	}
	if (m->fd != -1) {
		(void)close(m->fd);
		m->fd = -1;
	}
	return -1;
}
