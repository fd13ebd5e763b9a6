/*
 * test_local_lmtp.c: the LMTP client of smtpd-local's delivery child
 * (smtpd/local/local_lmtp.c): the reply parser on good and bad replies
 * (multi-line, enhanced status, wrong codes, NULs, control characters,
 * too many or too long lines, no CRLF, the end of the stream), and whole
 * sessions against a scripted server on a socket pair: what goes out
 * (LHLO, SIZE and BODY only when offered, dot-stuffing, CRLF, our
 * header, QUIT) and what each reply of the server makes of the result;
 * the "rcpt user|address" option of the rule.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "proto.h"
#include "util.h"
#include "local_lmtp.h"
#include "unit.h"

/* Feed the lines of text (each ended by '\n' here) as one reply: what
 * the last feed said. */
static int
feed(struct local_lmtp_reply *r, const char *text)
{
	const char	*lf;
	int		 n = 0;

	local_lmtp_reply_init(r);
	for (; *text != '\0'; text = lf + 1) {
		lf = strchr(text, '\n');
		if ((n = local_lmtp_reply_feed(r, text, (size_t)(lf - text)))
		    != 0)
			return n;
	}
	return n;
}

static void
feed_section(void)
{
	struct local_lmtp_reply	 r;
	char			 many[LOCAL_LMTP_LINES_MAX * 8 + 16], *p;
	char			 nul[] = "250 o\0k";
	int			 i;

	UNIT_CHECK(feed(&r, "220 host LMTP ready\n") == 1 && r.code == 220 &&
	    strcmp(r.estatus, "2.0.0") == 0 &&
	    strcmp(r.text, "220 host LMTP ready") == 0,
	    "feed: one line, status from the class");
	UNIT_CHECK(feed(&r, "550 5.1.1 <x@y> User doesn't exist\n") == 1 &&
	    strcmp(r.estatus, "5.1.1") == 0 &&
	    strcmp(r.text, "550 5.1.1 <x@y> User doesn't exist") == 0,
	    "feed: enhanced status kept");
	UNIT_CHECK(feed(&r, "550 4.1.1 wrong class\n") == 1 &&
	    strcmp(r.estatus, "5.0.0") == 0,
	    "feed: an enhanced status of another class is text");
	UNIT_CHECK(feed(&r, "452-4.2.2 over quota\n452 4.2.2 try later\n") ==
	    1 && strcmp(r.estatus, "4.2.2") == 0 &&
	    strcmp(r.text, "452 4.2.2 over quota try later") == 0,
	    "feed: multi-line joined, repeated status dropped");
	UNIT_CHECK(feed(&r, "250-host\n250-PIPELINING\n250-SIZE 1000\n"
	    "250-8BITMIME\n250 ENHANCEDSTATUSCODES\n") == 1 &&
	    r.ext == (LOCAL_LMTP_EXT_SIZE | LOCAL_LMTP_EXT_8BITMIME) &&
	    r.nlines == 5, "feed: LHLO extensions");
	UNIT_CHECK(feed(&r, "250-host\n250 SIZEX\n") == 1 && r.ext == 0,
	    "feed: a longer keyword is no extension");
	UNIT_CHECK(feed(&r, "250-host 8BITMIME\n250 x\n") == 1 && r.ext == 0,
	    "feed: the first line names no extension");
	UNIT_CHECK(feed(&r, "250\n") == 1 && strcmp(r.text, "250") == 0,
	    "feed: a bare code");
	UNIT_CHECK(feed(&r, "250 a\tb\x01" "c\n") == 1 &&
	    strcmp(r.text, "250 a?b?c") == 0, "feed: control characters");
	UNIT_CHECK(feed(&r, "250-a\n550 b\n") == -1,
	    "feed: the code changes: malformed");
	UNIT_CHECK(feed(&r, "25\n") == -1, "feed: two digits: malformed");
	UNIT_CHECK(feed(&r, "2500 x\n") == -1, "feed: four digits: malformed");
	UNIT_CHECK(feed(&r, "abc def\n") == -1, "feed: no code: malformed");
	UNIT_CHECK(feed(&r, "150 x\n") == -1, "feed: class 1: malformed");
	UNIT_CHECK(feed(&r, "260 x\n") == -1, "feed: 260: malformed");
	UNIT_CHECK(feed(&r, "250_x\n") == -1,
	    "feed: neither ' ' nor '-': malformed");
	local_lmtp_reply_init(&r);
	UNIT_CHECK(local_lmtp_reply_feed(&r, nul, sizeof(nul) - 1) == -1,
	    "feed: a NUL: malformed");
	p = many;
	for (i = 0; i < LOCAL_LMTP_LINES_MAX; i++)
		p += sprintf(p, "250-x\n");
	(void)strcpy(p, "250 x\n");
	UNIT_CHECK(feed(&r, many) == -1, "feed: too many lines: malformed");
	memset(many, 'a', sizeof(many));
	memcpy(many, "250 ", 4);
	many[sizeof(many) - 2] = '\n';
	many[sizeof(many) - 1] = '\0';
	UNIT_CHECK(feed(&r, many) == 1 &&
	    strlen(r.text) == sizeof(r.text) - 1,
	    "feed: the text is bounded");
}

/* local_lmtp_reply_read() on what a server wrote, then closed. */
static int
read_reply(const char *wire, size_t len, struct local_lmtp_reply *r,
    struct local_lmtp_result *res)
{
	struct local_lmtp_conn	 c;
	int			 p[2], n;

	if (pipe(p) == -1)
		return -2;
	if (write(p[1], wire, len) != (ssize_t)len)
		return -2;
	(void)close(p[1]);
	local_lmtp_conn_init(&c, p[0], "unix:/test");
	memset(res, 0, sizeof(*res));
	n = local_lmtp_reply_read(&c, r, res);
	(void)close(p[0]);
	return n;
}

static void
read_section(void)
{
	struct local_lmtp_reply		 r;
	struct local_lmtp_result	 res;
	char				 lng[LOCAL_LMTP_LINE_MAX + 8];

	UNIT_CHECK(read_reply("250-a\r\n250 b\r\n", 14, &r, &res) == 0 &&
	    strcmp(r.text, "250 a b") == 0, "read: a multi-line reply");
	UNIT_CHECK(read_reply("250 a\n", 6, &r, &res) == -1 &&
	    res.status == STATUS_TEMPFAIL &&
	    strcmp(res.estatus, "4.5.0") == 0 &&
	    strstr(res.text, "unix:/test") != NULL,
	    "read: a bare LF is a protocol error naming the server");
	UNIT_CHECK(read_reply("250-a\r\n", 7, &r, &res) == -1 &&
	    res.status == STATUS_TEMPFAIL &&
	    strcmp(res.estatus, "4.4.2") == 0 &&
	    strstr(res.text, "closed") != NULL,
	    "read: the end of the stream in a reply");
	UNIT_CHECK(read_reply("xyz\r\n", 5, &r, &res) == -1 &&
	    strcmp(res.estatus, "4.5.0") == 0, "read: garbage");
	memset(lng, 'a', sizeof(lng));
	memcpy(lng, "250 ", 4);
	memcpy(lng + sizeof(lng) - 2, "\r\n", 2);
	UNIT_CHECK(read_reply(lng, sizeof(lng), &r, &res) == -1 &&
	    strcmp(res.estatus, "4.5.0") == 0 &&
	    strstr(res.text, "too long") != NULL,
	    "read: a line over the bound");
	UNIT_CHECK(read_reply(lng, LOCAL_LMTP_LINE_MAX - 2, &r, &res) == -1 &&
	    strcmp(res.estatus, "4.4.2") == 0,
	    "read: the longest line, cut by the end of the stream");
	memcpy(lng + LOCAL_LMTP_LINE_MAX - 2, "\r\n", 2);
	UNIT_CHECK(read_reply(lng, LOCAL_LMTP_LINE_MAX, &r, &res) == 0 &&
	    r.code == 250, "read: the longest line");
}

/*
 * A scripted server on fd: the greeting, then one reply per command (per
 * message after a 354); after the last one it stops writing and reads to
 * the end.  All it read is written to out.
 */
static void __attribute__((noreturn))
server(int fd, int out, const char *const *replies)
{
	char	 buf[65536];
	size_t	 len = 0, seen = 0;
	ssize_t	 n;
	int	 data = 0;
	char	*end;

	if (*replies != NULL && write_all(fd, *replies, strlen(*replies)) == -1)
		_exit(1);
	replies++;
	while (len < sizeof(buf) - 1 &&
	    (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0) {
		len += (size_t)n;
		buf[len] = '\0';
		while (*replies != NULL) {
			end = data ? strstr(buf + seen, "\r\n.\r\n") :
			    strstr(buf + seen, "\r\n");
			if (end == NULL)
				break;
			seen = (size_t)(end - buf) + (data ? 5 : 2);
			data = strncmp(*replies, "354", 3) == 0;
			if (write_all(fd, *replies, strlen(*replies)) == -1)
				_exit(1);
			if (*++replies == NULL)
				(void)shutdown(fd, SHUT_WR);
		}
	}
	_exit(write_all(out, buf, len) == -1);
}

/* A session against replies; what the server read, or NULL. */
static char *
session(const char *const *replies, const char *msgtext, unsigned ext_size,
    struct local_lmtp_result *res)
{
	struct local_lmtp_params	 p;
	struct local_lmtp_conn		 c;
	static char			 got[65536];
	FILE				*msg;
	ssize_t				 n;
	size_t				 len = 0;
	int				 sp[2], out[2];
	pid_t				 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1 || pipe(out) == -1)
		return NULL;
	if ((pid = fork()) == -1)
		return NULL;
	if (pid == 0) {
		(void)close(sp[0]);
		(void)close(out[0]);
		server(sp[1], out[1], replies);
	}
	(void)close(sp[1]);
	(void)close(out[1]);
	memset(&p, 0, sizeof(p));
	p.target = "unix:/test";
	p.hostname = "mx.example";
	p.sender = "s@example.org";
	p.rcpt = "bob";
	p.header = "Return-Path: <s@example.org>\nDelivered-To: bob@mx\n";
	p.size = ext_size;
	memset(res, 0, sizeof(*res));
	if ((msg = fmemopen((void *)msgtext, strlen(msgtext), "r")) == NULL)
		return NULL;
	local_lmtp_conn_init(&c, sp[0], p.target);
	local_lmtp_session(&c, &p, msg, res);
	(void)fclose(msg);
	(void)close(sp[0]);
	while (len < sizeof(got) - 1 &&
	    (n = read(out[0], got + len, sizeof(got) - 1 - len)) > 0)
		len += (size_t)n;
	got[len] = '\0';
	(void)close(out[0]);
	(void)waitpid(pid, NULL, 0);
	return got;
}

static int
said(const char *got, const char *want)
{
	int	 ok = got != NULL && strcmp(got, want) == 0;

	if (!ok)
		(void)printf("  got \"%s\"\n", got != NULL ? got : "(null)");
	return ok;
}

static void
session_section(void)
{
	static const char *const ok[] = { "220 lmtp ready\r\n",
	    "250-mx\r\n250-8BITMIME\r\n250-SIZE\r\n250 PIPELINING\r\n",
	    "250 2.1.0 ok\r\n", "250 2.1.5 ok\r\n", "354 go\r\n",
	    "250 2.0.0 <bob> abc Saved\r\n", "221 2.0.0 bye\r\n", NULL };
	static const char *const plain[] = { "220 ready\r\n", "250 mx\r\n",
	    "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 ok\r\n",
	    "221 bye\r\n", NULL };
	static const char *const nouser[] = { "220 ready\r\n", "250 mx\r\n",
	    "250 2.1.0 ok\r\n",
	    "550 5.1.1 <bob> User doesn't exist: bob\r\n", "221 bye\r\n",
	    NULL };
	static const char *const quota[] = { "220 ready\r\n", "250 mx\r\n",
	    "250 ok\r\n", "250 ok\r\n", "354 go\r\n",
	    "452 4.2.2 <bob> Quota exceeded\r\n", "221 bye\r\n", NULL };
	static const char *const full[] = { "220 ready\r\n", "250 mx\r\n",
	    "250 ok\r\n", "250 ok\r\n", "354 go\r\n",
	    "552 5.2.2 <bob> Mailbox full\r\n", "221 bye\r\n", NULL };
	static const char *const busy[] = { "554 5.3.2 not now\r\n",
	    "221 bye\r\n", NULL };
	static const char *const garbage[] = { "220 ready\r\n", "250 mx\r\n",
	    "250 ok\r\n", "hello there\r\n", NULL };
	static const char *const gone[] = { "220 ready\r\n", "250 mx\r\n",
	    NULL };
	struct local_lmtp_result	 res;
	const char			*got;

	got = session(ok, "Subject: x\r\n\r\n.dot\r\nbare lf\nlast", 42, &res);
	UNIT_CHECK(said(got, "LHLO mx.example\r\n"
	    "MAIL FROM:<s@example.org> SIZE=42 BODY=8BITMIME\r\n"
	    "RCPT TO:<bob>\r\nDATA\r\n"
	    "Return-Path: <s@example.org>\r\nDelivered-To: bob@mx\r\n"
	    "Subject: x\r\n\r\n..dot\r\nbare lf\r\nlast\r\n.\r\nQUIT\r\n"),
	    "session: commands, header, dot-stuffing, CRLF, QUIT");
	UNIT_CHECK(res.status == STATUS_OK && strcmp(res.estatus, "2.0.0") ==
	    0 && strcmp(res.text, "250 2.0.0 <bob> abc Saved") == 0,
	    "session: delivered, with the server's text");
	got = session(plain, ".\r\n..\r\na\rb\r\n", 3, &res);
	UNIT_CHECK(said(got, "LHLO mx.example\r\nMAIL FROM:<s@example.org>\r\n"
	    "RCPT TO:<bob>\r\nDATA\r\n"
	    "Return-Path: <s@example.org>\r\nDelivered-To: bob@mx\r\n"
	    "..\r\n...\r\na\r\nb\r\n.\r\nQUIT\r\n"),
	    "session: no SIZE or BODY unless offered; a lone dot stuffed; a "
	    "bare CR ends a line");
	UNIT_CHECK(res.status == STATUS_OK && strcmp(res.estatus, "2.0.0") ==
	    0, "session: a reply without enhanced status");
	got = session(nouser, "x\r\n", 3, &res);
	UNIT_CHECK(said(got, "LHLO mx.example\r\nMAIL FROM:<s@example.org>\r\n"
	    "RCPT TO:<bob>\r\nQUIT\r\n"), "session: RCPT refused, QUIT");
	UNIT_CHECK(res.status == STATUS_PERMFAIL &&
	    strcmp(res.estatus, "5.1.1") == 0 &&
	    strcmp(res.text, "550 5.1.1 <bob> User doesn't exist: bob") == 0,
	    "session: 550 to RCPT bounces with the server's text");
	(void)session(quota, "x\r\n", 3, &res);
	UNIT_CHECK(res.status == STATUS_TEMPFAIL &&
	    strcmp(res.estatus, "4.2.2") == 0,
	    "session: 452 after the dot is retried");
	(void)session(full, "x\r\n", 3, &res);
	UNIT_CHECK(res.status == STATUS_PERMFAIL &&
	    strcmp(res.estatus, "5.2.2") == 0,
	    "session: 552 after the dot bounces");
	got = session(busy, "x\r\n", 3, &res);
	UNIT_CHECK(said(got, "QUIT\r\n") && res.status == STATUS_TEMPFAIL &&
	    strcmp(res.estatus, "4.3.2") == 0,
	    "session: a 554 greeting is retried, not bounced");
	(void)session(garbage, "x\r\n", 3, &res);
	UNIT_CHECK(res.status == STATUS_TEMPFAIL &&
	    strcmp(res.estatus, "4.5.0") == 0,
	    "session: garbage for a reply is retried");
	(void)session(gone, "x\r\n", 3, &res);
	UNIT_CHECK(res.status == STATUS_TEMPFAIL &&
	    strcmp(res.estatus, "4.4.2") == 0 &&
	    strstr(res.text, "unix:/test") != NULL,
	    "session: the server going away is retried");
}

static void
connect_section(void)
{
	struct local_lmtp_result	 res;

	memset(&res, 0, sizeof(res));
	UNIT_CHECK(local_lmtp_connect("unix:/nonexistent/lmtp", &res) == -1 &&
	    res.status == STATUS_TEMPFAIL &&
	    strcmp(res.estatus, "4.4.1") == 0 &&
	    strstr(res.text, "unix:/nonexistent/lmtp") != NULL,
	    "connect: no socket: 4.4.1 naming it");
	UNIT_CHECK(local_lmtp_connect("[127.0.0.1]:1", &res) == -1 &&
	    strcmp(res.estatus, "4.4.1") == 0 &&
	    strstr(res.text, "refused") != NULL,
	    "connect: refused: 4.4.1");
	UNIT_CHECK(local_lmtp_connect("[no-such-address]:24", &res) == -1 &&
	    res.status == STATUS_TEMPFAIL, "connect: a bad address");
	UNIT_CHECK(local_lmtp_connect("nonsense", &res) == -1 &&
	    res.status == STATUS_TEMPFAIL, "connect: no port");
}

/* The rule of "local delivery" for domain example.org in text; NULL if
 * the text does not parse (*cp is the config, to free). */
static const struct local_delivery *
rule_of(const char *text, struct config **cp)
{
	*cp = config_parse_buffer(text, strlen(text));
	return *cp != NULL ? config_local_delivery_find(*cp, "bob",
	    "example.org") : NULL;
}

/* The canonical text of a config has "rcpt address" where it was set. */
static int
dumps_rcpt(const struct config *c)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*f;
	int	 ok;

	if ((f = open_memstream(&buf, &len)) == NULL)
		return 0;
	(void)config_dump(c, f);
	(void)fclose(f);
	ok = buf != NULL && strstr(buf, "local delivery lmtp \"unix:/x\" "
	    "rcpt address for domain \"example.org\"\n") != NULL;
	free(buf);
	return ok;
}

static void
config_section(void)
{
	const struct local_delivery	*d;
	struct config			*c;

	d = rule_of("local delivery lmtp \"unix:/x\" rcpt address for domain "
	    "example.org\n", &c);
	UNIT_CHECK(d != NULL && d->method == LOCAL_METHOD_LMTP &&
	    d->lmtp_rcpt_address && strcmp(d->arg, "unix:/x") == 0,
	    "config: rcpt address");
	UNIT_CHECK(c != NULL && dumps_rcpt(c), "config: rcpt address dumped");
	config_free(c);
	d = rule_of("local delivery lmtp \"[::1]:24\" rcpt user\n", &c);
	UNIT_CHECK(d != NULL && !d->lmtp_rcpt_address,
	    "config: rcpt user, the default");
	config_free(c);
	d = rule_of("local delivery lmtp \"127.0.0.1:24\"\n", &c);
	UNIT_CHECK(d != NULL && !d->lmtp_rcpt_address,
	    "config: no rcpt: the user");
	config_free(c);
	UNIT_CHECK(rule_of("local delivery lmtp \"unix:/x\" rcpt who\n", &c) ==
	    NULL && c == NULL, "config: rcpt who: refused");
	UNIT_CHECK(rule_of("local delivery maildir \"~/M\" rcpt user\n", &c) ==
	    NULL && c == NULL, "config: rcpt for maildir: refused");
}

int
main(void)
{
	(void)signal(SIGPIPE, SIG_IGN);
	feed_section();
	read_section();
	session_section();
	connect_section();
	config_section();
	return unit_done();
}
