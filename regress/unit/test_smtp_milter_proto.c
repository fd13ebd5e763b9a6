/*
 * test_smtp_milter_proto.c: the milter packets as libmilter expects
 * them, and the decoding of replies: lengths, the 64 KiB bound, option
 * negotiation, reply codes and the modification requests' strings.
 *
 * With a socket path (and a message file) as arguments it speaks to a
 * real filter instead (regress/milter/: the python3-milter one,
 * OpenDKIM) in blocking steps and prints each reply as the decoders
 * read it, which those tests check.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtp_milter_proto.h"
#include "unit.h"

static uint32_t
get32(const char *p)
{
	uint32_t	 n;

	memcpy(&n, p, sizeof(n));
	return ntohl(n);
}

static struct smtp_milter_reply
reply_of(char code, const char *data, size_t len)
{
	struct smtp_milter_reply	 r;

	r.code = code;
	r.data = data;
	r.len = len;
	return r;
}

static const char	*names[] = { "j", "{daemon_name}", "_" };
static const char	*values[] = { "mx.example", NULL, "c [1]" };
static const char	*params[] = { "SIZE=10", "BODY=8BITMIME" };

static void
test_packets(void)
{
	struct smtp_milter_packet	 p;
	char				 big[SMTP_MILTER_CHUNK_MAX + 1];

	UNIT_CHECK(smtp_milter_packet_optneg(&p) == 0 && p.len == 17 &&
	    get32(p.buf) == 13 && p.buf[4] == 'O' &&
	    get32(p.buf + 5) == 6 && get32(p.buf + 9) == SMTP_MILTER_ACTIONS &&
	    get32(p.buf + 13) == SMTP_MILTER_PROTOCOL, "optneg packet");
	UNIT_CHECK(smtp_milter_packet_connect(&p, "c.example", '4', 25,
	    "1.2.3.4") == 0 && get32(p.buf) == 1 + 10 + 1 + 2 + 8 &&
	    p.buf[4] == 'C' && strcmp(p.buf + 5, "c.example") == 0 &&
	    p.buf[15] == '4' && p.buf[16] == 0 && p.buf[17] == 25 &&
	    strcmp(p.buf + 18, "1.2.3.4") == 0, "connect packet");
	UNIT_CHECK(smtp_milter_packet_connect(&p, "localhost", 'U', 0, "") ==
	    0 &&
	    get32(p.buf) == 1 + 10 + 1, "connect of an unknown family");
	UNIT_CHECK(smtp_milter_packet_macros(&p, 'C', names, values, 3) == 0 &&
	    p.buf[4] == 'D' && p.buf[5] == 'C' &&
	    memcmp(p.buf + 6, "j\0mx.example\0_\0c [1]\0", 21) == 0 &&
	    get32(p.buf) == 2 + 21, "macros, a NULL value left out");
	UNIT_CHECK(smtp_milter_packet_addr(&p, 'M', "a@b.example", params, 2) ==
	    0 && memcmp(p.buf + 5, "<a@b.example>\0SIZE=10\0BODY=8BITMIME\0",
	    36) == 0 && get32(p.buf) == 37, "mail packet with parameters");
	UNIT_CHECK(smtp_milter_packet_addr(&p, 'M', "", NULL, 0) == 0 &&
	    memcmp(p.buf + 5, "<>\0", 3) == 0, "null sender");
	UNIT_CHECK(smtp_milter_packet_header(&p, "Subject", 7, " hi", 3) == 0 &&
	    memcmp(p.buf + 5, "Subject\0 hi\0", 12) == 0, "header packet");
	UNIT_CHECK(smtp_milter_packet_simple(&p, 'N', NULL) == 0 &&
	    get32(p.buf) == 1 && p.len == 5, "eoh packet");
	memset(big, 'x', sizeof(big));
	UNIT_CHECK(smtp_milter_packet_body(&p, big,
	    SMTP_MILTER_CHUNK_MAX) == 0 &&
	    get32(p.buf) == SMTP_MILTER_CHUNK_MAX + 1, "largest body chunk");
	UNIT_CHECK(smtp_milter_packet_body(&p, big, sizeof(big)) == -1,
	    "body chunk over 65535 refused");
	smtp_milter_packet_begin(&p, 'B');
	smtp_milter_packet_bytes(&p, big, sizeof(big));
	UNIT_CHECK(smtp_milter_packet_end(&p) == -1, "overflow never sent");
}

static void
test_take(void)
{
	struct smtp_milter_reply	 r;
	size_t				 used = 0;
	char				 buf[16];

	memcpy(buf, "\0\0\0\x02" "yZ" "\0\0\0\x01" "c", 11);
	UNIT_CHECK(smtp_milter_reply_take(buf, 3, &r, &used) == 0,
	    "short length");
	UNIT_CHECK(smtp_milter_reply_take(buf, 5, &r, &used) == 0,
	    "short data");
	UNIT_CHECK(smtp_milter_reply_take(buf, 11, &r, &used) == 1 &&
	    used == 6 &&
	    r.code == 'y' && r.len == 1 && r.data[0] == 'Z', "one reply");
	UNIT_CHECK(smtp_milter_reply_take(buf + 6, 5, &r, &used) == 1 &&
	    r.code == 'c' && r.len == 0, "the next one");
	memcpy(buf, "\0\0\0\0", 4);
	UNIT_CHECK(smtp_milter_reply_take(buf, 4, &r, &used) == -1,
	    "length 0 is garbage");
	memcpy(buf, "\0\x01\0\x01", 4);
	UNIT_CHECK(smtp_milter_reply_take(buf, 4, &r, &used) == -1,
	    "over 64 KiB is garbage before it arrives");
	memcpy(buf, "\0\x01\0\0", 4);
	UNIT_CHECK(smtp_milter_reply_take(buf, 4, &r, &used) == 0,
	    "exactly 64 KiB is taken");
}

static void
test_optneg(void)
{
	struct smtp_milter_optneg	 o;
	struct smtp_milter_reply	 r;
	char				 d[16];
	uint32_t			 v[3] = { htonl(6), htonl(0x21),
	    htonl(0x1400) };

	memcpy(d, v, 12);
	r = reply_of('O', d, 12);
	UNIT_CHECK(smtp_milter_reply_optneg(&r, &o) == 0 && o.version == 6 &&
	    o.actions == 0x21 && o.protocol == 0x1400, "optneg reply");
	r = reply_of('O', d, 11);
	UNIT_CHECK(smtp_milter_reply_optneg(&r, &o) == -1, "short optneg");
	r = reply_of('c', d, 12);
	UNIT_CHECK(smtp_milter_reply_optneg(&r, &o) == -1, "not an optneg");
	v[1] = htonl(0x100);
	memcpy(d, v, 12);
	r = reply_of('O', d, 12);
	UNIT_CHECK(smtp_milter_reply_optneg(&r, &o) == -1,
	    "an action not offered");
	v[1] = 0;
	v[0] = htonl(7);
	memcpy(d, v, 12);
	r = reply_of('O', d, 12);
	UNIT_CHECK(smtp_milter_reply_optneg(&r, &o) == -1, "version 7 refused");
}

static void
test_code(void)
{
	struct smtp_milter_reply	 r;
	char				 out[128];
	const char			 ml[] = "550-5.7.1 one\r\n"
	    "550 5.7.1 two";

	r = reply_of('y', "554 5.7.1 no thanks", 20);
	UNIT_CHECK(smtp_milter_reply_code(&r, out, sizeof(out)) == 0 &&
	    strcmp(out, "554 5.7.1 no thanks") == 0, "reply code");
	r = reply_of('y', ml, sizeof(ml));
	UNIT_CHECK(smtp_milter_reply_code(&r, out, sizeof(out)) == 0 &&
	    strcmp(out, ml) == 0, "multi-line reply");
	r = reply_of('y', "250 ok", 7);
	UNIT_CHECK(smtp_milter_reply_code(&r, out, sizeof(out)) == -1,
	    "a 2xy code refused");
	r = reply_of('y', "550-a\r\n450 b", 13);
	UNIT_CHECK(smtp_milter_reply_code(&r, out, sizeof(out)) == -1,
	    "lines of two codes refused");
	r = reply_of('y', "550 a\nb", 8);
	UNIT_CHECK(smtp_milter_reply_code(&r, out, sizeof(out)) == -1,
	    "a bare LF refused");
	r = reply_of('y', "550 ab", 6);
	UNIT_CHECK(smtp_milter_reply_code(&r, out, sizeof(out)) == -1,
	    "no NUL refused");
	r = reply_of('y', "550 a\0b", 8);
	UNIT_CHECK(smtp_milter_reply_code(&r, out, sizeof(out)) == -1,
	    "an inner NUL refused");
	r = reply_of('y', "550 5.7.1 no thanks", 20);
	UNIT_CHECK(smtp_milter_reply_code(&r, out, 8) == -1,
	    "too long for out");
}

static void
test_strings(void)
{
	struct smtp_milter_reply	 r;
	const char			*a, *b;
	uint32_t			 idx = 0;
	char				 d[32];
	uint32_t			 one = htonl(1);

	r = reply_of('+', "<x@y>", 6);
	UNIT_CHECK(smtp_milter_reply_strings(&r, &a, NULL, 0) == 0 &&
	    strcmp(a, "<x@y>") == 0, "one string");
	r = reply_of('+', "<x@y>\0z", 8);
	UNIT_CHECK(smtp_milter_reply_strings(&r, &a, NULL, 0) == -1,
	    "trailing data refused");
	r = reply_of('e', "<x@y>", 6);
	UNIT_CHECK(smtp_milter_reply_strings(&r, &a, &b, 1) == 0 && b == NULL,
	    "optional second string absent");
	r = reply_of('e', "<x@y>\0SIZE=1", 13);
	UNIT_CHECK(smtp_milter_reply_strings(&r, &a, &b, 1) == 0 &&
	    strcmp(b, "SIZE=1") == 0, "second string");
	r = reply_of('e', "<x@y>\0SIZE=1", 12);
	UNIT_CHECK(smtp_milter_reply_strings(&r, &a, &b, 1) == -1,
	    "unterminated second string");
	r = reply_of('h', "X-A\0 v", 7);
	UNIT_CHECK(smtp_milter_reply_header(&r, NULL, &a, &b) == 0 &&
	    strcmp(a, "X-A") == 0 && strcmp(b, " v") == 0, "addheader");
	r = reply_of('h', "X:A\0v", 6);
	UNIT_CHECK(smtp_milter_reply_header(&r, NULL, &a, &b) == -1,
	    "a colon in a name refused");
	r = reply_of('h', "\0v", 3);
	UNIT_CHECK(smtp_milter_reply_header(&r, NULL, &a, &b) == -1,
	    "an empty name refused");
	memcpy(d, &one, 4);
	memcpy(d + 4, "Subject\0new\0", 12);
	r = reply_of('m', d, 16);
	UNIT_CHECK(smtp_milter_reply_header(&r, &idx, &a, &b) == 0 &&
	    idx == 1 &&
	    strcmp(a, "Subject") == 0 && strcmp(b, "new") == 0,
	    "chgheader");
	r = reply_of('m', d, 3);
	UNIT_CHECK(smtp_milter_reply_header(&r, &idx, &a, &b) == -1,
	    "chgheader without its index");
}

/* Live mode: send a packet, print every reply up to one that is not a
 * modification or progress. */
static int
live_send(int fd, struct smtp_milter_packet *p)
{
	return write(fd, p->buf, p->len) == (ssize_t)p->len ? 0 : -1;
}

static char	live_buf[SMTP_MILTER_REPLY_MAX + 8];
static size_t	live_len;

static int
live_reply(int fd, struct smtp_milter_reply *r)
{
	static size_t	 used;
	ssize_t		 n;
	int		 rv;

	memmove(live_buf, live_buf + used, live_len - used);
	live_len -= used;
	used = 0;
	while ((rv = smtp_milter_reply_take(live_buf, live_len, r,
	    &used)) == 0) {
		n = read(fd, live_buf + live_len, sizeof(live_buf) - live_len);
		if (n <= 0)
			return -1;
		live_len += (size_t)n;
	}
	return rv == 1 ? 0 : -1;
}

/* The octets of data before its first CR, LF or NUL. */
static size_t
live_line(const char *data, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (data[i] == '\r' || data[i] == '\n' || data[i] == '\0')
			break;
	return i;
}

/* A header value on one line: CR and LF as \r and \n. */
static void
live_escaped(const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\r')
			(void)printf("\\r");
		else if (*v == '\n')
			(void)printf("\\n");
		else
			(void)putchar(*v);
	}
	(void)putchar('\n');
}

/* Print a reply as the decoders see it, "BAD" if they refuse it. */
static void
live_print(const struct smtp_milter_reply *r)
{
	const char	*a, *b;
	char		 text[1024];
	uint32_t	 idx;
	int		 rv = 0;

	switch (r->code) {
	case SMFIR_ADDHEADER:
		if ((rv = smtp_milter_reply_header(r, NULL, &a, &b)) == 0) {
			(void)printf("reply h %s: ", a);
			live_escaped(b);
		}
		break;
	case SMFIR_INSHEADER:
	case SMFIR_CHGHEADER:
		if ((rv = smtp_milter_reply_header(r, &idx, &a, &b)) == 0) {
			(void)printf("reply %c %u %s: ", r->code, idx, a);
			live_escaped(b);
		}
		break;
	case SMFIR_CHGFROM:
	case SMFIR_ADDRCPT_PAR:
		if ((rv = smtp_milter_reply_strings(r, &a, &b, 1)) == 0)
			(void)printf("reply %c %s %s\n", r->code, a,
			    b == NULL ? "-" : b);
		break;
	case SMFIR_ADDRCPT:
	case SMFIR_DELRCPT:
	case SMFIR_QUARANTINE:
		if ((rv = smtp_milter_reply_strings(r, &a, NULL, 0)) == 0)
			(void)printf("reply %c %s\n", r->code, a);
		break;
	case SMFIR_REPLYCODE:
		if ((rv = smtp_milter_reply_code(r, text, sizeof(text))) == 0)
			(void)printf("reply y %s\n", text);
		break;
	case SMFIR_REPLBODY:
		(void)printf("reply b %zu %.*s\n", r->len,
		    (int)live_line(r->data, r->len), r->data);
		break;
	default:
		(void)printf("reply %c\n", r->code);
	}
	if (rv == -1)
		(void)printf("reply %c BAD\n", r->code);
}

/* 1 if the reply ends the message (or, before MAIL, the session). */
static int
live_final(char code)
{
	return strchr("adrty", code) != NULL;
}

static int
live_step(int fd, struct smtp_milter_packet *p)
{
	struct smtp_milter_reply	 r;

	if (live_send(fd, p) == -1)
		return -1;
	for (;;) {
		if (live_reply(fd, &r) == -1)
			return -1;
		live_print(&r);
		if (strchr("+-2beihmqp", r.code) == NULL)
			return live_final(r.code);
	}
}

/* The commands of one session after the negotiation, in order. */
/* The next header field of a message at *pos, folded lines together:
 * its length up to the CRLF that ends it, 0 at the empty line. */
static size_t
live_field(const char *msg, size_t pos, size_t len)
{
	size_t	 end = pos;

	while (end + 1 < len) {
		if (msg[end] == '\r' && msg[end + 1] == '\n' &&
		    (end + 2 >= len || (msg[end + 2] != ' ' &&
		    msg[end + 2] != '\t')))
			return end - pos;
		end++;
	}
	return 0;
}

/* Each header field (its value without the space after the colon),
 * EOH, then the body in chunks. */
static int
live_message(int fd, const char *msg)
{
	struct smtp_milter_packet	 p;
	size_t				 len, pos = 0, flen, n;
	const char			*colon;
	int				 rv;

	len = strlen(msg);
	while ((flen = live_field(msg, pos, len)) > 0) {
		colon = memchr(msg + pos, ':', flen);
		if (colon == NULL)
			return -1;
		n = (size_t)(colon - (msg + pos));
		colon++;
		if (*colon == ' ')
			colon++;
		(void)smtp_milter_packet_header(&p, msg + pos, n, colon,
		    flen - (size_t)(colon - (msg + pos)));
		if ((rv = live_step(fd, &p)) != 0)
			return rv;
		pos += flen + 2;
	}
	pos += 2;
	(void)smtp_milter_packet_simple(&p, 'N', NULL);
	if ((rv = live_step(fd, &p)) != 0)
		return rv;
	for (; pos < len; pos += n) {
		n = len - pos > SMTP_MILTER_CHUNK_MAX ?
		    SMTP_MILTER_CHUNK_MAX : len - pos;
		(void)smtp_milter_packet_body(&p, msg + pos, n);
		if ((rv = live_step(fd, &p)) != 0)
			return rv;
	}
	return 0;
}

/* The macros of the connect and mail stages. */
static const char	*live_cnames[] = { "j", "{daemon_name}" };
static const char	*live_cvalues[] = { "mx.example", "smtpd" };
static const char	*live_mnames[] = { "i", "{mail_addr}" };
static const char	*live_mvalues[] = { "4f2a1b", "a@example.org" };

static int
live_session(int fd, const struct smtp_milter_optneg *o, const char *msg)
{
	struct smtp_milter_packet	 p;
	int				 rv;

	(void)smtp_milter_packet_macros(&p, 'C', live_cnames, live_cvalues,
	    2);
	if (live_send(fd, &p) == -1)
		return -1;
	(void)smtp_milter_packet_connect(&p, "localhost", '4', 4321,
	    "127.0.0.1");
	if (!(o->protocol & SMFIP_NOCONNECT) && (rv = live_step(fd, &p)) != 0)
		return rv;
	(void)smtp_milter_packet_simple(&p, 'H', "c.example");
	if (!(o->protocol & SMFIP_NOHELO) && (rv = live_step(fd, &p)) != 0)
		return rv;
	(void)smtp_milter_packet_macros(&p, 'M', live_mnames, live_mvalues,
	    2);
	if (live_send(fd, &p) == -1)
		return -1;
	(void)smtp_milter_packet_addr(&p, 'M', "a@example.org", NULL, 0);
	if ((rv = live_step(fd, &p)) != 0)
		return rv;
	(void)smtp_milter_packet_addr(&p, 'R', "b@example.net", NULL, 0);
	if ((rv = live_step(fd, &p)) != 0)
		return rv;
	if ((rv = live_message(fd, msg)) != 0)
		return rv;
	(void)smtp_milter_packet_simple(&p, 'E', NULL);
	return live_step(fd, &p);
}

/* The message to send: the file's, or a small one of our own. */
static char *
live_read(const char *file)
{
	static char	 msg[256 * 1024];
	FILE		*f;
	size_t		 n;

	if (file == NULL)
		return strcpy(msg, "Subject: test\r\n\r\nbody\r\n");
	if ((f = fopen(file, "r")) == NULL)
		return NULL;
	n = fread(msg, 1, sizeof(msg) - 1, f);
	(void)fclose(f);
	msg[n] = '\0';
	return msg;
}

static int
live(const char *path, const char *file)
{
	const char			*msg;
	struct sockaddr_un		 sun;
	struct smtp_milter_packet	 p;
	struct smtp_milter_reply	 r;
	struct smtp_milter_optneg	 o;
	int				 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	(void)strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		return 2;
	if (smtp_milter_packet_optneg(&p) == -1 || live_send(fd, &p) == -1 ||
	    live_reply(fd, &r) == -1 || smtp_milter_reply_optneg(&r, &o) == -1)
		return 3;
	(void)printf("optneg version %u\n", o.version);
	if ((msg = live_read(file)) == NULL)
		return 2;
	if (live_session(fd, &o, msg) == -1)
		return 4;
	(void)smtp_milter_packet_simple(&p, 'Q', NULL);
	(void)live_send(fd, &p);
	(void)close(fd);
	return 0;
}

int
main(int argc, char *argv[])
{
	if (argc == 2 || argc == 3)
		return live(argv[1], argc == 3 ? argv[2] : NULL);
	test_packets();
	test_take();
	test_optneg();
	test_code();
	test_strings();
	return unit_done();
}
