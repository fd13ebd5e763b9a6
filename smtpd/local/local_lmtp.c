/*
 * local_lmtp.c: what a delivery child of smtpd-local does, as the user,
 * for `local delivery lmtp`: hand the message to an LMTP server (RFC
 * 2033; Dovecot's lmtp) on a unix socket or over TCP.
 *
 * Interface in local_lmtp.h.  Blocking I/O: the connect has
 * LOCAL_LMTP_CONNECT_TIMEOUT seconds, each reply and each write
 * LOCAL_LMTP_IO_TIMEOUT (SO_RCVTIMEO, SO_SNDTIMEO), all within the
 * child's own time limit.  One recipient per session, so the one reply
 * after the final dot is the result: 2xx delivered, 4xx retried, 5xx
 * bounced, with the server's enhanced status and its text (control
 * characters made '?') as the text of the result, which a DSN quotes.
 * Nothing the server sends can crash the child: a reply line longer than
 * LOCAL_LMTP_LINE_MAX, more than LOCAL_LMTP_LINES_MAX lines, a line that
 * is not "DDD", "DDD text" or "DDD-text" ended by CRLF, a NUL, a code
 * that changes within a reply: all are a temporary failure (4.5.0), as
 * are a refused connect (4.4.1), a timeout and a lost connection
 * (4.4.2), each text naming the server.  A 5xx before MAIL (greeting,
 * LHLO) is the server's trouble, not the message's: retried too.
 *
 * The message goes out with CRLF line ends (the spool has them already;
 * a bare LF or CR is completed) and dot-stuffed, after our Delivered-To:
 * header (a message that has it already is a loop, bounced, as for the
 * mbox).  No Return-Path: of ours: the LMTP server is the one that
 * delivers, and adds it from MAIL FROM (Dovecot does), so the mailbox
 * would have two.  MAIL FROM carries SIZE= and BODY=8BITMIME where the
 * LHLO reply offers them.  RCPT TO names the mailbox ("user+detail",
 * what Dovecot with system users wants) or, with "rcpt address", the
 * address the mail was sent to (virtual users).  The time limit, a
 * SIGTERM and the death of smtpd-local end the child at once: before the
 * final dot the server delivers nothing, and the queue tries again.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include "proto.h"
#include "util.h"
#include "local.h"
#include "local_lmtp.h"

void
local_lmtp_reply_init(struct local_lmtp_reply *r)
{
	memset(r, 0, sizeof(*r));
}

/* "DDD": a reply code of the classes 2 to 5; -1 if not one. */
static int
local_lmtp_code(const char *s, size_t len)
{
	if (len < 3 || s[0] < '2' || s[0] > '5' || s[1] < '0' || s[1] > '5' ||
	    !isdigit((unsigned char)s[2]))
		return -1;
	return (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
}

/* Length of "D.DDD.DDD" (RFC 3463) of the class of code at s, followed
 * by a blank or the end; 0 if there is none. */
static size_t
local_lmtp_estatus_len(const char *s, size_t len, int code)
{
	size_t	 i = 2, n;
	int	 part;

	if (len < 5 || s[0] != '0' + code / 100 || s[1] != '.')
		return 0;
	for (part = 0; part < 2; part++) {
		for (n = 0; i < len && n < 4 && isdigit((unsigned char)s[i]);
		    n++)
			i++;
		if (n == 0 || n > 3)
			return 0;
		if (part == 0 && (i >= len || s[i++] != '.'))
			return 0;
	}
	return i == len || s[i] == ' ' ? i : 0;
}

/* Which extension a line of the LHLO reply names. */
static unsigned
local_lmtp_ext(const char *s, size_t len)
{
	size_t	 w = strcspn(s, " ");

	if (w > len)
		w = len;
	if (w == 4 && strncasecmp(s, "SIZE", 4) == 0)
		return LOCAL_LMTP_EXT_SIZE;
	if (w == 8 && strncasecmp(s, "8BITMIME", 8) == 0)
		return LOCAL_LMTP_EXT_8BITMIME;
	return 0;
}

/* Append len octets of s to the text, control characters made '?';
 * what does not fit is left out. */
static void
local_lmtp_text_add(struct local_lmtp_reply *r, const char *s, size_t len)
{
	size_t	 n = strlen(r->text), i;

	for (i = 0; i < len && n + 1 < sizeof(r->text); i++, n++) {
		unsigned char	 c = (unsigned char)s[i];

		r->text[n] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	r->text[n] = '\0';
}

int
local_lmtp_reply_feed(struct local_lmtp_reply *r, const char *line,
    size_t len)
{
	const char	*s;
	size_t		 n, elen;
	int		 code, last;

	if (memchr(line, '\0', len) != NULL ||
	    (code = local_lmtp_code(line, len)) == -1 ||
	    (len > 3 && line[3] != ' ' && line[3] != '-') ||
	    (r->code != 0 && code != r->code) ||
	    ++r->nlines > LOCAL_LMTP_LINES_MAX)
		return -1;
	last = len == 3 || line[3] == ' ';
	s = len > 3 ? line + 4 : line + 3;
	n = len > 3 ? len - 4 : 0;
	if (r->nlines > 1)
		r->ext |= local_lmtp_ext(s, n);
	elen = local_lmtp_estatus_len(s, n, code);
	if (r->code == 0) {
		r->code = code;
		if (elen > 0)
			(void)snprintf(r->estatus, sizeof(r->estatus), "%.*s",
			    (int)elen, s);
		else
			(void)snprintf(r->estatus, sizeof(r->estatus),
			    "%d.0.0", code / 100);
		local_lmtp_text_add(r, line, 3);
	} else if (elen > 0 && strncmp(s, r->estatus, elen) == 0) {
		/* the same enhanced status again, as servers repeat it */
		s += elen;
		n -= elen;
	}
	while (n > 0 && *s == ' ') {
		s++;
		n--;
	}
	if (n > 0) {
		local_lmtp_text_add(r, " ", 1);
		local_lmtp_text_add(r, s, n);
	}
	return last ? 1 : 0;
}

/* The result: status, enhanced status and a formatted text. */
static void __attribute__((format(printf, 4, 5)))
local_lmtp_result_set(struct local_lmtp_result *res, uint32_t status,
    const char *estatus, const char *fmt, ...)
{
	va_list	 ap;

	res->status = status;
	(void)strlcpy(res->estatus, estatus, sizeof(res->estatus));
	va_start(ap, fmt);
	(void)vsnprintf(res->text, sizeof(res->text), fmt, ap);
	va_end(ap);
	text_clean(res->text);
}

void
local_lmtp_conn_init(struct local_lmtp_conn *c, int fd, const char *target)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->target = target;
}

/* A failed read or write: a timeout, or the connection lost. */
static void
local_lmtp_io_fail(struct local_lmtp_conn *c, struct local_lmtp_result *res,
    int e)
{
	if (e == EAGAIN || e == EWOULDBLOCK)
		local_lmtp_result_set(res, STATUS_TEMPFAIL, "4.4.2",
		    "timeout talking to LMTP server %s", c->target);
	else if (e == 0)
		local_lmtp_result_set(res, STATUS_TEMPFAIL, "4.4.2",
		    "LMTP server %s closed the connection", c->target);
	else
		local_lmtp_result_set(res, STATUS_TEMPFAIL, "4.4.2",
		    "connection to LMTP server %s lost: %s", c->target,
		    strerror(e));
}

static void
local_lmtp_proto_fail(struct local_lmtp_conn *c,
    struct local_lmtp_result *res, const char *what)
{
	local_lmtp_result_set(res, STATUS_TEMPFAIL, "4.5.0",
	    "protocol error from LMTP server %s: %s", c->target, what);
}

/*
 * One line into line (without its CRLF): its length, -1 on an I/O error
 * (errno, 0 for the end of the stream), -2 when it is too long or does
 * not end in CRLF.
 */
static ssize_t
local_lmtp_line_get(struct local_lmtp_conn *c, char *line)
{
	char	*lf;
	size_t	 len;
	ssize_t	 n;

	for (;;) {
		lf = memchr(c->rbuf + c->roff, '\n', c->rlen - c->roff);
		if (lf != NULL)
			break;
		if (c->roff > 0) {
			memmove(c->rbuf, c->rbuf + c->roff, c->rlen - c->roff);
			c->rlen -= c->roff;
			c->roff = 0;
		}
		if (c->rlen == sizeof(c->rbuf))
			return -2;
		n = read(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = 0;
			return -1;
		}
		c->rlen += (size_t)n;
	}
	len = (size_t)(lf - (c->rbuf + c->roff));
	if (len == 0 || lf[-1] != '\r')
		return -2;
	len--;
	memcpy(line, c->rbuf + c->roff, len);
	line[len] = '\0';
	c->roff += len + 2;
	return (ssize_t)len;
}

int
local_lmtp_reply_read(struct local_lmtp_conn *c, struct local_lmtp_reply *r,
    struct local_lmtp_result *res)
{
	char	 line[LOCAL_LMTP_LINE_MAX];
	ssize_t	 len;
	int	 done;

	local_lmtp_reply_init(r);
	do {
		if ((len = local_lmtp_line_get(c, line)) == -1) {
			local_lmtp_io_fail(c, res, errno);
			return -1;
		}
		if (len == -2) {
			local_lmtp_proto_fail(c, res,
			    "reply line too long or not ended by CRLF");
			return -1;
		}
		if ((done = local_lmtp_reply_feed(r, line, (size_t)len)) ==
		    -1) {
			local_lmtp_proto_fail(c, res, "malformed reply");
			return -1;
		}
	} while (!done);
	return 0;
}

/* Send what is buffered: 0, or -1 with the result set. */
static int
local_lmtp_flush(struct local_lmtp_conn *c, struct local_lmtp_result *res)
{
	size_t	 off = 0;
	ssize_t	 n;

	while (off < c->wlen) {
		n = send(c->fd, c->wbuf + off, c->wlen - off, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			local_lmtp_io_fail(c, res, errno);
			return -1;
		}
		off += (size_t)n;
	}
	c->wlen = 0;
	return 0;
}

static int
local_lmtp_put(struct local_lmtp_conn *c, const char *s, size_t len,
    struct local_lmtp_result *res)
{
	size_t	 n;

	while (len > 0) {
		if (c->wlen == sizeof(c->wbuf) &&
		    local_lmtp_flush(c, res) == -1)
			return -1;
		n = sizeof(c->wbuf) - c->wlen;
		if (n > len)
			n = len;
		memcpy(c->wbuf + c->wlen, s, n);
		c->wlen += n;
		s += n;
		len -= n;
	}
	return 0;
}

/*
 * One line of the message (its line end, if any, included): dot-stuffed
 * and sent with CRLF.  A CR inside the line ends a line too (as CRLF), so
 * that "\r.\r\n" cannot pass as the end of the data.
 */
static int
local_lmtp_data_line(struct local_lmtp_conn *c, const char *line,
    size_t len, struct local_lmtp_result *res)
{
	const char	*cr;
	size_t		 n;

	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	for (;;) {
		if (len > 0 && line[0] == '.' &&
		    local_lmtp_put(c, ".", 1, res) == -1)
			return -1;
		cr = memchr(line, '\r', len);
		n = cr != NULL ? (size_t)(cr - line) : len;
		if (local_lmtp_put(c, line, n, res) == -1 ||
		    local_lmtp_put(c, "\r\n", 2, res) == -1)
			return -1;
		if (cr == NULL)
			return 0;
		line += n + 1;
		len -= n + 1;
	}
}

/* Our header lines, then the message: 0, or -1 with the result set. */
static int
local_lmtp_data(struct local_lmtp_conn *c, const char *header, FILE *msg,
    struct local_lmtp_result *res)
{
	const char	*p, *lf;
	char		*line = NULL;
	size_t		 cap = 0;
	ssize_t		 len;
	int		 r = 0;

	for (p = header; *p != '\0'; p = lf + 1) {
		if ((lf = strchr(p, '\n')) == NULL)
			lf = p + strlen(p) - 1;
		if (local_lmtp_data_line(c, p, (size_t)(lf - p + 1), res) == -1)
			return -1;
	}
	while (r == 0 && (len = getline(&line, &cap, msg)) != -1)
		r = local_lmtp_data_line(c, line, (size_t)len, res);
	free(line);
	if (r == 0 && ferror(msg)) {
		local_lmtp_result_set(res, STATUS_TEMPFAIL, "4.3.0",
		    "cannot read the message");
		r = -1;
	}
	return r;
}

/* Blocking again, with the timeouts of the session. */
static int
local_lmtp_socket_ready(int fd)
{
	struct timeval	 tv = { LOCAL_LMTP_IO_TIMEOUT, 0 };
	int		 fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1)
		return -1;
	return 0;
}

/* Connect one address within the time limit: the socket, or -1 and
 * errno. */
static int
local_lmtp_connect_addr(const struct sockaddr *sa, socklen_t salen)
{
	struct pollfd	 pfd;
	socklen_t	 elen = sizeof(int);
	int		 fd, e = 0, n;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		return -1;
	if (connect(fd, sa, salen) == -1) {
		if (errno != EINPROGRESS)
			goto fail;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		while ((n = poll(&pfd, 1, LOCAL_LMTP_CONNECT_TIMEOUT * 1000)) ==
		    -1 && errno == EINTR)
			;
		if (n == 0)
			errno = ETIMEDOUT;
		if (n <= 0)
			goto fail;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) == -1)
			goto fail;
		if (e != 0) {
			errno = e;
			goto fail;
		}
	}
	if (local_lmtp_socket_ready(fd) == -1)
		goto fail;
	return fd;
fail:
	e = errno;
	(void)close(fd);
	errno = e;
	return -1;
}

static int
local_lmtp_connect_unix(const char *path)
{
	struct sockaddr_un	 sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (path[0] != '/' ||
	    strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return local_lmtp_connect_addr((struct sockaddr *)&sun, sizeof(sun));
}

/*
 * "HOST:PORT" or "[ADDR]:PORT" (the address as it is, not looked up):
 * each address of the host in turn.  -1 and errno, or -2 when the host
 * has no address (*gai its error).
 */
static int
local_lmtp_connect_inet(const char *target, int *gai)
{
	struct addrinfo	 hints, *res0, *ai;
	char		 host[256];
	const char	*port;
	size_t		 hlen;
	int		 fd = -1, e = ECONNREFUSED;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (target[0] == '[') {
		hints.ai_flags |= AI_NUMERICHOST;
		target++;
		hlen = strcspn(target, "]");
		port = target[hlen] == ']' && target[hlen + 1] == ':' ?
		    target + hlen + 2 : NULL;
	} else {
		port = strrchr(target, ':');
		hlen = port != NULL ? (size_t)(port - target) : 0;
		if (port != NULL)
			port++;
	}
	if (port == NULL || *port == '\0' || hlen == 0 ||
	    hlen >= sizeof(host)) {
		*gai = EAI_NONAME;
		return -2;
	}
	memcpy(host, target, hlen);
	host[hlen] = '\0';
	if ((*gai = getaddrinfo(host, port, &hints, &res0)) != 0)
		return -2;
	for (ai = res0; ai != NULL && fd == -1; ai = ai->ai_next)
		if ((fd = local_lmtp_connect_addr(ai->ai_addr,
		    ai->ai_addrlen)) == -1)
			e = errno;
	freeaddrinfo(res0);
	if (fd == -1)
		errno = e;
	return fd;
}

int
local_lmtp_connect(const char *target, struct local_lmtp_result *res)
{
	int	 fd, gai = 0;

	if (strncmp(target, "unix:", 5) == 0)
		fd = local_lmtp_connect_unix(target + 5);
	else
		fd = local_lmtp_connect_inet(target, &gai);
	if (fd == -2) {
		local_lmtp_result_set(res, STATUS_TEMPFAIL, "4.4.3",
		    "cannot find LMTP server %s: %s", target,
		    gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
		return -1;
	}
	if (fd == -1)
		local_lmtp_result_set(res, STATUS_TEMPFAIL,
		    errno == ETIMEDOUT ? "4.4.2" : "4.4.1",
		    "cannot connect to LMTP server %s: %s", target,
		    strerror(errno));
	return fd;
}

/* Send one command (CRLF added) and read its reply: 0, or -1 with the
 * result set. */
static int __attribute__((format(printf, 4, 5)))
local_lmtp_cmd(struct local_lmtp_conn *c, struct local_lmtp_reply *r,
    struct local_lmtp_result *res, const char *fmt, ...)
{
	char	 cmd[LOCAL_LMTP_TEXT_MAX * 2];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n + 2 >= sizeof(cmd)) {
		local_lmtp_result_set(res, STATUS_PERMFAIL, "5.1.3",
		    "address too long for LMTP");
		return -1;
	}
	if (local_lmtp_put(c, cmd, (size_t)n, res) == -1 ||
	    local_lmtp_put(c, "\r\n", 2, res) == -1 ||
	    local_lmtp_flush(c, res) == -1)
		return -1;
	return local_lmtp_reply_read(c, r, res);
}

/*
 * A reply of the wrong class: a 5xx is permanent where the message or
 * its recipient is at fault (perm), a temporary failure where the
 * server is (its greeting, LHLO); anything else than 4xx or 5xx is a
 * protocol error.
 */
static void
local_lmtp_refused(struct local_lmtp_conn *c, const struct local_lmtp_reply *r,
    int perm, struct local_lmtp_result *res)
{
	char	 estatus[LOCAL_LMTP_ESTATUS_MAX];

	if (r->code / 100 == 5 && perm) {
		local_lmtp_result_set(res, STATUS_PERMFAIL, r->estatus, "%s",
		    r->text);
		return;
	}
	if (r->code / 100 == 4 || r->code / 100 == 5) {
		(void)strlcpy(estatus, r->estatus, sizeof(estatus));
		estatus[0] = '4';
		local_lmtp_result_set(res, STATUS_TEMPFAIL, estatus, "%s",
		    r->text);
		return;
	}
	local_lmtp_result_set(res, STATUS_TEMPFAIL, "4.5.0",
	    "protocol error from LMTP server %s: unexpected reply %s",
	    c->target, r->text);
}

/* The transaction up to the reply after the final dot; 0 when the
 * connection may still be ended with QUIT. */
static int
local_lmtp_transaction(struct local_lmtp_conn *c,
    const struct local_lmtp_params *p, FILE *msg,
    struct local_lmtp_result *res)
{
	struct local_lmtp_reply	 r;
	char			 size[32];
	unsigned		 ext;

	if (local_lmtp_reply_read(c, &r, res) == -1)
		return -1;
	if (r.code / 100 != 2) {
		local_lmtp_refused(c, &r, 0, res);
		return 0;
	}
	if (local_lmtp_cmd(c, &r, res, "LHLO %s", p->hostname) == -1)
		return -1;
	if (r.code / 100 != 2) {
		local_lmtp_refused(c, &r, 0, res);
		return 0;
	}
	ext = r.ext;
	size[0] = '\0';
	if (ext & LOCAL_LMTP_EXT_SIZE)
		(void)snprintf(size, sizeof(size), " SIZE=%llu",
		    (unsigned long long)p->size);
	if (local_lmtp_cmd(c, &r, res, "MAIL FROM:<%s>%s%s", p->sender, size,
	    ext & LOCAL_LMTP_EXT_8BITMIME ? " BODY=8BITMIME" : "") == -1)
		return -1;
	if (r.code / 100 != 2) {
		local_lmtp_refused(c, &r, 1, res);
		return 0;
	}
	if (local_lmtp_cmd(c, &r, res, "RCPT TO:<%s>", p->rcpt) == -1)
		return -1;
	if (r.code / 100 != 2) {
		local_lmtp_refused(c, &r, 1, res);
		return 0;
	}
	if (local_lmtp_cmd(c, &r, res, "DATA") == -1)
		return -1;
	if (r.code / 100 != 3) {
		local_lmtp_refused(c, &r, 1, res);
		return 0;
	}
	if (local_lmtp_data(c, p->header, msg, res) == -1 ||
	    local_lmtp_put(c, ".\r\n", 3, res) == -1 ||
	    local_lmtp_flush(c, res) == -1 ||
	    local_lmtp_reply_read(c, &r, res) == -1)
		return -1;
	if (r.code / 100 != 2) {
		local_lmtp_refused(c, &r, 1, res);
		return 0;
	}
	local_lmtp_result_set(res, STATUS_OK, r.estatus, "%s", r.text);
	return 0;
}

void
local_lmtp_session(struct local_lmtp_conn *c,
    const struct local_lmtp_params *p, FILE *msg,
    struct local_lmtp_result *res)
{
	struct local_lmtp_reply		 r;
	struct local_lmtp_result	 quit;

	if (!text_is_clean(p->sender) || strpbrk(p->sender, "<>") != NULL ||
	    !text_is_clean(p->rcpt) || strpbrk(p->rcpt, "<>") != NULL ||
	    !text_is_clean(p->hostname)) {
		local_lmtp_result_set(res, STATUS_PERMFAIL, "5.1.3",
		    "address not fit for LMTP");
		return;
	}
	if (local_lmtp_transaction(c, p, msg, res) == -1)
		return;
	/* the result stands whatever QUIT gets */
	(void)local_lmtp_cmd(c, &r, &quit, "QUIT");
}

/* Nothing can be undone: before the final dot the server keeps nothing;
 * after it the retry may deliver twice, as after a lost SMTP reply. */
static void
local_lmtp_signal(int sig)
{
	(void)sig;
	_exit(EX_TEMPFAIL);
}

/* The end of the child: its result on the pipe, and the exit status. */
static void __attribute__((noreturn))
local_lmtp_exit(int resultfd, const struct local_lmtp_result *res)
{
	local_result_write(resultfd, res->status, res->estatus, "%s",
	    res->text);
	_exit(res->status == STATUS_OK ? 0 : res->status == STATUS_TEMPFAIL ?
	    EX_TEMPFAIL : EX_UNAVAILABLE);
}

void
local_lmtp_child(const struct local_job *j, int msgfd, int resultfd)
{
	struct local_lmtp_params	 p;
	struct local_lmtp_conn		 c;
	struct local_lmtp_result	 res;
	struct stat			 sb;
	FILE				*msg;
	char				 self[LOCAL_USER_MAX + 256];
	char				 header[sizeof(self) + 32];
	char				 rcpt[CONF_ADDR_MAX];
	int				 fd, code;

	local_child_signals(j->ppid, local_lmtp_signal);
	memset(&res, 0, sizeof(res));
	if (fstat(msgfd, &sb) == -1)
		_exit(EX_NOINPUT);
	if ((code = local_message_open(j, msgfd, &msg)) != 0)
		_exit(code);
	local_message_self(j, self, sizeof(self));
	(void)snprintf(header, sizeof(header), "Delivered-To: %s\n", self);
	if (j->rule.lmtp_rcpt_address && strchr(j->orig, '@') != NULL)
		(void)strlcpy(rcpt, j->orig, sizeof(rcpt));
	else if (j->rule.lmtp_rcpt_address)
		(void)snprintf(rcpt, sizeof(rcpt), "%s@%s", j->rcpt,
		    j->hostname);
	else
		(void)strlcpy(rcpt, j->rcpt, sizeof(rcpt));
	memset(&p, 0, sizeof(p));
	p.target = j->rule.arg;
	p.hostname = j->hostname;
	p.sender = j->sender;
	p.rcpt = rcpt;
	p.header = header;
	p.size = (uint64_t)sb.st_size + strlen(header);
	if ((fd = local_lmtp_connect(p.target, &res)) == -1)
		local_lmtp_exit(resultfd, &res);
	local_lmtp_conn_init(&c, fd, p.target);
	local_lmtp_session(&c, &p, msg, &res);
	(void)close(fd);
	local_lmtp_exit(resultfd, &res);
}
