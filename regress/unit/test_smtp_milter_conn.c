/*
 * test_smtp_milter_conn.c: a filter connection on the event loop, the
 * filter played by the test on the other end of a socketpair: the
 * negotiation, a step's final reply, modifications and progress at the
 * end of the message only, and every failure (a reply over 64 KiB, EOF,
 * a reply out of turn, a modification before the end, silence past the
 * reply limit, a refused connect) reported once as SMTP_MILTER_FAILED;
 * the connection freed inside its own callback.
 *
 * With a port as argument it connects to a real filter on 127.0.0.1
 * instead (regress/milter/filter.py), negotiates, sends a MAIL and
 * prints the outcome and the reply's code.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "smtp_milter_conn.h"
#include "unit.h"

struct probe {
	int			 ndone;
	enum smtp_milter_outcome last;
	char			 code;
	int			 nmods;
	char			 mods[16];
	int			 free_in_done;
	int			 refuse_mods;
	struct smtp_milter_conn	*conn;
};

static struct event_base	*base;

static void
probe_done(void *arg, enum smtp_milter_outcome o,
    const struct smtp_milter_reply *r)
{
	struct probe	*p = arg;

	p->ndone++;
	p->last = o;
	p->code = r != NULL ? r->code : 0;
	if (p->free_in_done) {
		smtp_milter_conn_free(p->conn);
		p->conn = NULL;
	}
}

static int
probe_mod(void *arg, const struct smtp_milter_reply *r)
{
	struct probe	*p = arg;

	if (p->nmods < (int)sizeof(p->mods) - 1)
		p->mods[p->nmods++] = r->code;
	return p->refuse_mods ? -1 : 0;
}

/* Run the loop until the probe has seen n outcomes (or 200 rounds). */
static void
run_until(struct probe *p, int n)
{
	int	 i;

	for (i = 0; i < 200 && p->ndone < n; i++)
		(void)event_base_loop(base, EVLOOP_ONCE);
}

/* The filter's side: write a reply packet in one write. */
static void
filter_reply(int fd, char code, const void *data, size_t len)
{
	char		 buf[64];
	uint32_t	 n = htonl((uint32_t)len + 1);

	memcpy(buf, &n, 4);
	buf[4] = code;
	if (len > 0)
		memcpy(buf + 5, data, len);
	UNIT_CHECK(len < sizeof(buf) - 5 &&
	    write(fd, buf, len + 5) == (ssize_t)(len + 5), "filter wrote");
}

/* The filter's side: read one packet, its command returned. */
static char
filter_read(int fd)
{
	char		 buf[SMTP_MILTER_PACKET_MAX];
	uint32_t	 n;

	if (read(fd, &n, 4) != 4)
		return 0;
	n = ntohl(n);
	if (n == 0 || n > sizeof(buf) || read(fd, buf, n) != (ssize_t)n)
		return 0;
	return buf[0];
}

static const struct smtp_milter_timeouts	 t = { 5, 5, 5, 5 };

/* A negotiated connection on a socketpair; *peer is the filter's end. */
static struct smtp_milter_conn *
open_pair(struct probe *p, int *peer)
{
	int		 sv[2];
	uint32_t	 opt[3] = { htonl(6), htonl(SMFIF_ADDHDRS),
			    htonl(SMFIP_NR_HDR) };

	memset(p, 0, sizeof(*p));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return NULL;
	*peer = sv[1];
	p->conn = smtp_milter_conn_open(base, sv[0], NULL, 0, &t, probe_done,
	    probe_mod, p);
	(void)event_base_loop(base, EVLOOP_NONBLOCK);
	if (filter_read(*peer) != SMFIC_OPTNEG)
		return NULL;
	filter_reply(*peer, SMFIC_OPTNEG, opt, sizeof(opt));
	run_until(p, 1);
	p->ndone = 0;
	return p->conn;
}

static void
step(struct probe *p, char cmd, int eom)
{
	struct smtp_milter_packet	 pkt;

	(void)smtp_milter_packet_simple(&pkt, cmd, NULL);
	(void)smtp_milter_conn_step(p->conn, &pkt, eom);
	(void)event_base_loop(base, EVLOOP_NONBLOCK);
}

static void
test_negotiate_and_steps(void)
{
	struct probe	 p;
	int		 peer;
	const char	 code[] = "550 5.7.1 no";

	UNIT_CHECK(open_pair(&p, &peer) != NULL &&
	    smtp_milter_conn_optneg(p.conn)->actions == SMFIF_ADDHDRS &&
	    smtp_milter_conn_optneg(p.conn)->protocol == SMFIP_NR_HDR,
	    "negotiated");
	step(&p, SMFIC_RCPT, 0);
	UNIT_CHECK(filter_read(peer) == SMFIC_RCPT, "step sent");
	filter_reply(peer, SMFIR_REPLYCODE, code, sizeof(code));
	run_until(&p, 1);
	UNIT_CHECK(p.ndone == 1 && p.last == SMTP_MILTER_REPLY &&
	    p.code == SMFIR_REPLYCODE, "a step's reply");
	step(&p, SMFIC_BODYEOB, 1);
	(void)filter_read(peer);
	filter_reply(peer, SMFIR_ADDHEADER, "X-A\0b", 6);
	filter_reply(peer, SMFIR_PROGRESS, NULL, 0);
	filter_reply(peer, SMFIR_INSHEADER, "\0\0\0\0X-B\0c", 10);
	filter_reply(peer, SMFIR_ACCEPT, NULL, 0);
	run_until(&p, 2);
	UNIT_CHECK(p.ndone == 2 && p.last == SMTP_MILTER_REPLY &&
	    p.code == SMFIR_ACCEPT && strcmp(p.mods, "hi") == 0,
	    "modifications at the end of the message");
	filter_reply(peer, SMFIR_CONTINUE, NULL, 0);
	run_until(&p, 3);
	UNIT_CHECK(p.ndone == 3 && p.last == SMTP_MILTER_FAILED,
	    "a reply out of turn fails");
	smtp_milter_conn_free(p.conn);
	(void)close(peer);
}

static void
test_failures(void)
{
	struct probe	 p;
	int		 peer;
	uint32_t	 big = htonl(SMTP_MILTER_REPLY_MAX + 1);

	(void)open_pair(&p, &peer);
	step(&p, SMFIC_MAIL, 0);
	filter_reply(peer, SMFIR_ADDHEADER, "X-A\0b", 6);
	run_until(&p, 1);
	UNIT_CHECK(p.ndone == 1 && p.last == SMTP_MILTER_FAILED &&
	    p.nmods == 0, "a modification before the end fails");
	smtp_milter_conn_free(p.conn);
	(void)close(peer);

	(void)open_pair(&p, &peer);
	step(&p, SMFIC_MAIL, 0);
	UNIT_CHECK(write(peer, &big, 4) == 4, "filter wrote a length");
	run_until(&p, 1);
	UNIT_CHECK(p.ndone == 1 && p.last == SMTP_MILTER_FAILED,
	    "a reply over 64 KiB fails at its length");
	smtp_milter_conn_free(p.conn);
	(void)close(peer);

	(void)open_pair(&p, &peer);
	step(&p, SMFIC_BODYEOB, 1);
	p.refuse_mods = 1;
	filter_reply(peer, SMFIR_CHGFROM, "<x>", 4);
	run_until(&p, 1);
	UNIT_CHECK(p.ndone == 1 && p.last == SMTP_MILTER_FAILED,
	    "a refused modification fails");
	smtp_milter_conn_free(p.conn);
	(void)close(peer);

	(void)open_pair(&p, &peer);
	step(&p, SMFIC_HELO, 0);
	p.free_in_done = 1;
	(void)close(peer);
	run_until(&p, 1);
	UNIT_CHECK(p.ndone == 1 && p.last == SMTP_MILTER_FAILED &&
	    p.conn == NULL, "EOF fails; freed in its callback");
}

static void
test_timeout_and_refused(void)
{
	struct smtp_milter_timeouts	 quick = { 5, 5, 1, 1 };
	struct probe			 p;
	struct sockaddr_in		 sin;
	socklen_t			 len = sizeof(sin);
	int				 sv[2], fd;

	memset(&p, 0, sizeof(p));
	(void)socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	p.conn = smtp_milter_conn_open(base, sv[0], NULL, 0, &quick,
	    probe_done, probe_mod, &p);
	run_until(&p, 1);
	UNIT_CHECK(p.ndone == 1 && p.last == SMTP_MILTER_FAILED,
	    "no answer to the negotiation within the limit fails");
	smtp_milter_conn_free(p.conn);
	(void)close(sv[1]);

	/* a port just closed: nobody listens there */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	(void)bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	(void)getsockname(fd, (struct sockaddr *)&sin, &len);
	(void)close(fd);
	memset(&p, 0, sizeof(p));
	p.conn = smtp_milter_conn_open(base, -1, (struct sockaddr *)&sin,
	    sizeof(sin), &t, probe_done, probe_mod, &p);
	run_until(&p, 1);
	UNIT_CHECK(p.conn != NULL && p.ndone == 1 &&
	    p.last == SMTP_MILTER_FAILED, "a refused connect fails");
	smtp_milter_conn_free(p.conn);
}

static int
live(const char *port)
{
	struct smtp_milter_packet	 pkt;
	struct sockaddr_in		 sin;
	struct probe			 p;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)atoi(port));
	memset(&p, 0, sizeof(p));
	p.conn = smtp_milter_conn_open(base, -1, (struct sockaddr *)&sin,
	    sizeof(sin), &t, probe_done, probe_mod, &p);
	run_until(&p, 1);
	(void)printf("open %d version %u\n", p.last,
	    smtp_milter_conn_optneg(p.conn)->version);
	if (p.last != SMTP_MILTER_READY)
		return 1;
	(void)smtp_milter_packet_addr(&pkt, SMFIC_MAIL, "a@example.org",
	    NULL, 0);
	(void)smtp_milter_conn_step(p.conn, &pkt, 0);
	run_until(&p, 2);
	(void)printf("step %d code %c\n", p.last, p.code ? p.code : '-');
	smtp_milter_conn_free(p.conn);
	return 0;
}

int
main(int argc, char *argv[])
{
	base = event_base_new();
	if (argc == 2)
		return live(argv[1]);
	test_negotiate_and_steps();
	test_failures();
	test_timeout_and_refused();
	event_base_free(base);
	return unit_done();
}
