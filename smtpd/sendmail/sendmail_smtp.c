/*
 * sendmail_smtp.c: the command's SMTP client on the sendmail socket, and
 * -bs, which relays a client's SMTP on stdin/stdout to it.
 *
 * A submission is one plain ESMTP transaction: EHLO localhost, MAIL with
 * the DSN parameters (-R: RET=, -V: ENVID=) and BODY=8BITMIME when the
 * message has 8-bit octets, one RCPT per recipient (-N: NOTIFY=), DATA
 * with CRLF lines and stuffed dots.  The daemon answers 250 only once the
 * message is on disk, so EX_OK means it has it.
 *
 * Outcomes: a 5xx recipient is reported on stderr and the rest are sent
 * (EX_NOUSER at the end, as sendmail); every recipient refused: EX_NOUSER;
 * a 5xx MAIL or end of data: EX_DATAERR (5.7.x: EX_NOPERM); a refused
 * greeting: EX_NOPERM; any 4xx, or the connection lost before the
 * 250: EX_TEMPFAIL, which the caller turns into an offline drop.  With
 * -v the dialogue goes to stderr (">>> " before our lines).
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "sendmail.h"
#include "util.h"

#define SM_SMTP_TIMEOUT		600	/* seconds for any one reply */
#define SM_SMTP_LINE_MAX	1024

struct sm_conn {
	int	 fd;
	char	 in[8192];
	size_t	 inlen;
	char	 last[SM_SMTP_LINE_MAX];	/* the reply's last line */
};

int
sm_smtp_connect(void)
{
	struct sockaddr_un	 sun;
	struct timeval		 tv = { SM_SMTP_TIMEOUT, 0 };
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, sm_conf.socket, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (sm_opts.verbose)
			sm_warnx("%s: %s", sm_conf.socket, strerror(errno));
		(void)close(fd);
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

/* One line from the daemon (CRLF cut off); -1 on EOF or error. */
static int
sm_smtp_getline(struct sm_conn *c, char *line, size_t size)
{
	char	*nl;
	size_t	 n;
	ssize_t	 r;

	while ((nl = memchr(c->in, '\n', c->inlen)) == NULL) {
		if (c->inlen == sizeof(c->in))
			return -1;
		r = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
		if (r <= 0)
			return -1;
		c->inlen += (size_t)r;
	}
	n = (size_t)(nl - c->in);
	(void)snprintf(line, size, "%.*s", (int)(n > 0 &&
	    c->in[n - 1] == '\r' ? n - 1 : n), c->in);
	memmove(c->in, nl + 1, c->inlen - n - 1);
	c->inlen -= n + 1;
	return 0;
}

/* A whole reply: its code, or -1 when the connection is gone. */
static int
sm_smtp_reply(struct sm_conn *c)
{
	char	 line[SM_SMTP_LINE_MAX];

	for (;;) {
		if (sm_smtp_getline(c, line, sizeof(line)) == -1) {
			(void)strlcpy(c->last, "connection lost",
			    sizeof(c->last));
			return -1;
		}
		if (sm_opts.verbose)
			(void)fprintf(stderr, "%s\n", line);
		if (strlen(line) < 3 || line[0] < '2' || line[0] > '5')
			continue;
		if (line[3] != '-') {
			(void)strlcpy(c->last, line, sizeof(c->last));
			return (line[0] - '0') * 100 + (line[1] - '0') * 10 +
			    (line[2] - '0');
		}
	}
}

/* Send one command line; its reply code, or -1. */
static int
sm_smtp_cmd(struct sm_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
sm_smtp_cmd(struct sm_conn *c, const char *fmt, ...)
{
	char	 line[SM_SMTP_LINE_MAX + 2];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2)
		return -1;
	if (sm_opts.verbose)
		(void)fprintf(stderr, ">>> %s\n", line);
	(void)memcpy(line + n, "\r\n", 2);
	if (write_all(c->fd, line, (size_t)n + 2) == -1)
		return -1;
	return sm_smtp_reply(c);
}

/* The body: CRLF line ends, a leading dot doubled, then ".". */
static int
sm_smtp_body(struct sm_conn *c, const struct sm_buf *msg)
{
	struct sm_buf	 out;
	const char	*p = msg->data, *end = msg->data + msg->len, *nl;
	int		 r;

	memset(&out, 0, sizeof(out));
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (*p == '.')
			sm_buf_add(&out, ".", 1);
		sm_buf_add(&out, p, (size_t)(nl - p));
		sm_buf_add(&out, "\r\n", 2);
		p = nl < end ? nl + 1 : end;
	}
	sm_buf_add(&out, ".\r\n", 3);
	r = write_all(c->fd, out.data, out.len);
	sm_buf_free(&out);
	if (sm_opts.verbose)
		(void)fprintf(stderr, ">>> .\n");
	return r == -1 ? -1 : sm_smtp_reply(c);
}

/* 1 if the message has an octet above 127 (BODY=8BITMIME). */
static int
sm_smtp_8bit(const struct sm_buf *msg)
{
	size_t	 i;

	for (i = 0; i < msg->len; i++)
		if ((unsigned char)msg->data[i] > 127)
			return 1;
	return 0;
}

/* The EX_* code of a refusal at MAIL or at the end of data. */
static int
sm_smtp_fail(struct sm_conn *c, int code, const char *what)
{
	if (code < 500) {
		if (sm_opts.verbose)
			sm_warnx("%s: %s", what, c->last);
		return EX_TEMPFAIL;
	}
	sm_warnx("%s refused: %s", what, c->last);
	return strncmp(c->last + 4, "5.7.", 4) == 0 ? EX_NOPERM : EX_DATAERR;
}

/* Whether an address of the envelope needs SMTPUTF8 (RFC 6531). */
static int
sm_smtp_utf8(const struct sm_env *e)
{
	size_t	 i;

	if (!mailaddr_is_ascii(e->sender))
		return 1;
	for (i = 0; i < e->nrcpt; i++)
		if (!mailaddr_is_ascii(e->rcpts[i]))
			return 1;
	return 0;
}

static int
sm_smtp_mail(struct sm_conn *c, const struct sm_env *e,
    const struct sm_buf *msg)
{
	char	 params[256];
	int	 code;

	params[0] = '\0';
	if (e->ret[0] != '\0')
		(void)snprintf(params + strlen(params),
		    sizeof(params) - strlen(params), " RET=%s", e->ret);
	if (e->envid[0] != '\0')
		(void)snprintf(params + strlen(params),
		    sizeof(params) - strlen(params), " ENVID=%s", e->envid);
	if (sm_smtp_8bit(msg))
		(void)strlcat(params, " BODY=8BITMIME", sizeof(params));
	if (sm_smtp_utf8(e))
		(void)strlcat(params, " SMTPUTF8", sizeof(params));
	code = sm_smtp_cmd(c, "MAIL FROM:<%s>%s", e->sender, params);
	if (code / 100 == 2)
		return EX_OK;
	return sm_smtp_fail(c, code, "sender");
}

/* The recipients; EX_OK with *accepted of them, or EX_TEMPFAIL. */
static int
sm_smtp_rcpts(struct sm_conn *c, const struct sm_env *e, size_t *accepted,
    int *refused)
{
	size_t	 i;
	int	 code;

	for (i = 0; i < e->nrcpt; i++) {
		if (e->notify[0] != '\0')
			code = sm_smtp_cmd(c, "RCPT TO:<%s> NOTIFY=%s",
			    e->rcpts[i], e->notify);
		else
			code = sm_smtp_cmd(c, "RCPT TO:<%s>", e->rcpts[i]);
		if (code / 100 == 2) {
			++*accepted;
			continue;
		}
		if (code < 500) {
			if (sm_opts.verbose)
				sm_warnx("%s... %s", e->rcpts[i], c->last);
			return EX_TEMPFAIL;
		}
		*refused = 1;
		sm_warnx("%s... %s", e->rcpts[i], c->last);
	}
	return EX_OK;
}

static int
sm_smtp_transaction(struct sm_conn *c, const struct sm_env *e,
    const struct sm_buf *msg, int *refused)
{
	size_t	 accepted = 0;
	int	 code, rc;

	if ((code = sm_smtp_reply(c)) / 100 != 2) {
		if (code >= 500) {
			sm_warnx("refused by the mail system: %s", c->last);
			return EX_NOPERM;
		}
		return EX_TEMPFAIL;
	}
	if ((code = sm_smtp_cmd(c, "EHLO localhost")) / 100 != 2)
		return code >= 500 ? EX_PROTOCOL : EX_TEMPFAIL;
	if ((rc = sm_smtp_mail(c, e, msg)) != EX_OK)
		return rc;
	if ((rc = sm_smtp_rcpts(c, e, &accepted, refused)) != EX_OK)
		return rc;
	if (accepted == 0)
		return EX_NOUSER;
	if ((code = sm_smtp_cmd(c, "DATA")) != 354)
		return sm_smtp_fail(c, code, "DATA");
	if ((code = sm_smtp_body(c, msg)) / 100 != 2)
		return sm_smtp_fail(c, code, "message");
	if (sm_opts.verbose)
		sm_warnx("sent: %s", c->last);
	return *refused ? EX_NOUSER : EX_OK;
}

int
sm_smtp_submit(int fd, const struct sm_env *e, const struct sm_buf *msg,
    int *refused)
{
	struct sm_conn	*c;
	int		 rc;

	c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	rc = sm_smtp_transaction(c, e, msg, refused);
	(void)sm_smtp_cmd(c, "QUIT");
	free(c);
	return rc;
}

/* stdin to the socket, a bare LF made CRLF; -1 at EOF or error. */
static int
sm_smtp_relay_in(int fd, int *cr)
{
	char	 in[4096], out[8192];
	size_t	 i, n = 0;
	ssize_t	 r;

	if ((r = read(STDIN_FILENO, in, sizeof(in))) <= 0)
		return -1;
	for (i = 0; i < (size_t)r; i++) {
		if (in[i] == '\n' && !*cr)
			out[n++] = '\r';
		out[n++] = in[i];
		*cr = in[i] == '\r';
	}
	return write_all(fd, out, n);
}

int
sm_smtp_relay(int fd)
{
	struct pollfd	 pfd[2];
	char		 buf[8192];
	ssize_t		 r;
	int		 cr = 0, in_open = 1, greeted = 0;

	for (;;) {
		/* nothing of the client's goes before the greeting */
		pfd[0].fd = in_open && greeted ? STDIN_FILENO : -1;
		pfd[0].events = POLLIN;
		pfd[1].fd = fd;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, SM_SMTP_TIMEOUT * 1000) <= 0)
			return EX_TEMPFAIL;
		if (pfd[1].revents != 0) {
			if ((r = read(fd, buf, sizeof(buf))) <= 0)
				return EX_OK;
			if (write_all(STDOUT_FILENO, buf, (size_t)r) == -1)
				return EX_IOERR;
			greeted |= memchr(buf, '\n', (size_t)r) != NULL;
		}
		if (in_open && pfd[0].revents != 0 &&
		    sm_smtp_relay_in(fd, &cr) == -1) {
			in_open = 0;
			(void)shutdown(fd, SHUT_WR);
		}
	}
}
