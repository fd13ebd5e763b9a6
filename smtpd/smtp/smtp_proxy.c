/*
 * smtp_proxy.c: the PROXY protocol header (HAProxy's version 1 text line
 * and version 2 binary form) that a listener with proxy-protocol reads
 * before anything else, so that the session knows the client the proxy
 * saw: its address is then the one of access-map Connect:, the reverse
 * lookup, the limits per address, the logs and Received.
 *
 * Only a peer listed in the listener's proxy-protocol { ... } may send
 * one; any other is closed at once.  A header that is malformed, longer
 * than the protocol allows (107 octets in version 1, here 2064 in
 * version 2), for a transport other than TCP, or not complete within
 * SMTP_PROXY_TIMEOUT seconds closes the connection too.  Nothing is ever
 * written to the peer (it is a proxy, not a mail client), and every such
 * end is logged with the peer's address.  Not one octet past the header
 * is read: what follows is the session's (or TLS's, on smtps).
 *
 * A LOCAL command (version 2) or UNKNOWN (version 1), which a proxy
 * sends for its own health checks, gives a session from the proxy
 * itself.  Version 2 TLVs are checked for their framing; the TLS facts
 * of a proxy that ended the client's TLS (smtp_proxy_tls.c) become the
 * session's, except on an smtps listener, whose TLS is tlsproxy's.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "proc.h"
#include "smtp_listener.h"
#include "smtp_proxy.h"
#include "smtp_session.h"

#define SMTP_PROXY_TIMEOUT	5	/* seconds for the whole header */
#define SMTP_PROXY_PENDING_MAX	1024	/* headers being read at once */
#define SMTP_PROXY_V1_MAX	107	/* the spec's longest line */
#define SMTP_PROXY_V2_HDR	16
#define SMTP_PROXY_V2_MAX	(SMTP_PROXY_V2_HDR + 2048)

static const uint8_t smtp_proxy_v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

struct smtp_proxy {
	TAILQ_ENTRY(smtp_proxy)	 entry;
	int			 fd;
	struct event		*ev;
	struct event		*deadline;
	struct sockaddr_storage	 peer;
	char			 peername[INET6_ADDRSTRLEN];
	char			 listener[80];
	uint32_t		 lflags;
	int			 slot;
	uint32_t		 gen;
	int			 version;	/* 0 until the first octet */
	size_t			 len;
	size_t			 want;		/* version 2: whole header */
	/* version 2: the client's TLS with the proxy, if it had one */
	struct smtp_tls		 tls;
	int			 tls_on;
	uint8_t			 buf[SMTP_PROXY_V2_MAX];
};

/* What a step of reading did: p is gone after SMTP_PROXY_DONE. */
enum smtp_proxy_step {
	SMTP_PROXY_MORE,
	SMTP_PROXY_DONE,
	SMTP_PROXY_FAIL,
};

static TAILQ_HEAD(, smtp_proxy)	 smtp_proxies =
    TAILQ_HEAD_INITIALIZER(smtp_proxies);
static size_t			 smtp_nproxies;

static void
smtp_proxy_free(struct smtp_proxy *p)
{
	TAILQ_REMOVE(&smtp_proxies, p, entry);
	smtp_nproxies--;
	event_free(p->ev);
	event_free(p->deadline);
	free(p);
}

/* Refused before a header was read: closed, the listener's count given
 * back. */
static void
smtp_proxy_refuse(int fd, const char *listener, uint32_t lflags, int slot,
    uint32_t gen)
{
	stats_add("smtp.proxy.refused", 1);
	(void)close(fd);
	smtp_listener_proxied(-1, NULL, NULL, listener, lflags, slot, gen);
}

static void
smtp_proxy_fail(struct smtp_proxy *p, const char *why)
{
	log_info("connection from %s on %s closed: %s", p->peername,
	    p->listener, why);
	smtp_proxy_refuse(p->fd, p->listener, p->lflags, p->slot, p->gen);
	smtp_proxy_free(p);
}

/* The header named client (NULL: the proxy itself): the session starts. */
static void
smtp_proxy_done(struct smtp_proxy *p, const struct sockaddr_storage *client)
{
	char	 addr[INET6_ADDRSTRLEN];

	if (client == NULL)
		client = &p->peer;
	smtp_session_addr(client, addr, sizeof(addr));
	log_debug("connection from %s on %s: PROXY header for %s",
	    p->peername, p->listener, addr);
	stats_add("smtp.proxy.ok", 1);
	smtp_listener_proxied(p->fd, client,
	    p->tls_on && !(p->lflags & LISTEN_F_SMTPS) ? &p->tls : NULL,
	    p->listener, p->lflags, p->slot, p->gen);
	smtp_proxy_free(p);
}

static void
smtp_proxy_sockaddr(struct sockaddr_storage *ss, int af, const void *addr,
    uint16_t port)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	ss->ss_family = (sa_family_t)af;
	if (af == AF_INET) {
		(void)memcpy(&sin->sin_addr, addr, 4);
		sin->sin_port = port;
	} else {
		(void)memcpy(&sin6->sin6_addr, addr, 16);
		sin6->sin6_port = port;
	}
}

/* A decimal port of at most five digits, up to 65535; -1 if not. */
static long
smtp_proxy_port(const char *s)
{
	long	 v = 0;
	size_t	 n = 0;

	for (; s[n] != '\0'; n++) {
		if (s[n] < '0' || s[n] > '9' || n == 5)
			return -1;
		v = v * 10 + (s[n] - '0');
	}
	return n == 0 || v > 65535 ? -1 : v;
}

/* "PROXY TCP4|TCP6 SRC DST SPORT DPORT" or "PROXY UNKNOWN ...". */
static enum smtp_proxy_step
smtp_proxy_v1_parse(struct smtp_proxy *p, char *line, const char **why)
{
	struct sockaddr_storage	 client;
	char			*f[6], *c;
	uint8_t			 src[16], dst[16];
	size_t			 n = 0;
	long			 sport;
	int			 af;

	if (strncmp(line, "PROXY UNKNOWN", 13) == 0 &&
	    (line[13] == '\0' || line[13] == ' ')) {
		smtp_proxy_done(p, NULL);
		return SMTP_PROXY_DONE;
	}
	/* fields split at single spaces: an empty one is an error */
	f[n++] = line;
	for (c = line; *c != '\0'; c++) {
		if (*c != ' ')
			continue;
		if (n == 6) {
			*why = "too many fields in the PROXY line";
			return SMTP_PROXY_FAIL;
		}
		*c = '\0';
		f[n++] = c + 1;
	}
	*why = "not a PROXY line";
	if (n != 6 || strcmp(f[0], "PROXY") != 0)
		return SMTP_PROXY_FAIL;
	*why = "a PROXY line for neither TCP4 nor TCP6";
	if (strcmp(f[1], "TCP4") == 0)
		af = AF_INET;
	else if (strcmp(f[1], "TCP6") == 0)
		af = AF_INET6;
	else
		return SMTP_PROXY_FAIL;
	*why = "a PROXY line with a bad address";
	if (inet_pton(af, f[2], src) != 1 || inet_pton(af, f[3], dst) != 1)
		return SMTP_PROXY_FAIL;
	*why = "a PROXY line with a bad port";
	if ((sport = smtp_proxy_port(f[4])) == -1 ||
	    smtp_proxy_port(f[5]) == -1)
		return SMTP_PROXY_FAIL;
	smtp_proxy_sockaddr(&client, af, src, htons((uint16_t)sport));
	smtp_proxy_done(p, &client);
	return SMTP_PROXY_DONE;
}

static enum smtp_proxy_step
smtp_proxy_v2_parse(struct smtp_proxy *p, const char **why)
{
	struct sockaddr_storage	 client;
	const uint8_t		*a = p->buf + SMTP_PROXY_V2_HDR;
	size_t			 len = p->len - SMTP_PROXY_V2_HDR, alen;
	uint8_t			 cmd = p->buf[12] & 0x0f, fam = p->buf[13];
	uint16_t		 port;

	/* LOCAL, or PROXY with UNSPEC: the proxy's own connection */
	if (cmd == 0x0 || fam == 0x00) {
		smtp_proxy_done(p, NULL);
		return SMTP_PROXY_DONE;
	}
	*why = "a PROXY header for another transport than TCP";
	if (fam == 0x11)
		alen = 12;
	else if (fam == 0x21)
		alen = 36;
	else
		return SMTP_PROXY_FAIL;
	*why = "a PROXY header shorter than its addresses";
	if (len < alen)
		return SMTP_PROXY_FAIL;
	*why = "a PROXY header with a malformed TLV";
	if ((p->tls_on = smtp_proxy_tls_parse(a + alen, len - alen,
	    &p->tls)) == -1)
		return SMTP_PROXY_FAIL;
	(void)memcpy(&port, a + (fam == 0x11 ? 8 : 32), sizeof(port));
	smtp_proxy_sockaddr(&client, fam == 0x11 ? AF_INET : AF_INET6, a,
	    port);
	smtp_proxy_done(p, &client);
	return SMTP_PROXY_DONE;
}

/* The 16 fixed octets: signature, version 2, a command, the length. */
static const char *
smtp_proxy_v2_head(struct smtp_proxy *p)
{
	size_t	 n;

	if (memcmp(p->buf, smtp_proxy_v2_sig, sizeof(smtp_proxy_v2_sig)) != 0)
		return "not a PROXY header";
	if ((p->buf[12] & 0xf0) != 0x20 || (p->buf[12] & 0x0f) > 1)
		return "a PROXY header of another version or command";
	n = ((size_t)p->buf[14] << 8) | p->buf[15];
	if (n > SMTP_PROXY_V2_MAX - SMTP_PROXY_V2_HDR)
		return "a PROXY header longer than 2048 octets";
	p->want = SMTP_PROXY_V2_HDR + n;
	return NULL;
}

/* recv(2)'s answer n as a step: nothing yet, or the end. */
static enum smtp_proxy_step
smtp_proxy_recv_result(ssize_t n, const char **why)
{
	if (n == 0) {
		*why = "closed before the PROXY header";
		return SMTP_PROXY_FAIL;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return SMTP_PROXY_MORE;
	*why = "read error before the PROXY header";
	return SMTP_PROXY_FAIL;
}

/* Version 1: the line up to LF, peeked so that nothing after it goes. */
static enum smtp_proxy_step
smtp_proxy_v1_read(struct smtp_proxy *p, const char **why)
{
	uint8_t		*nl;
	ssize_t		 n;
	size_t		 take;

	n = recv(p->fd, p->buf + p->len, SMTP_PROXY_V1_MAX - p->len,
	    MSG_PEEK);
	if (n <= 0)
		return smtp_proxy_recv_result(n, why);
	nl = memchr(p->buf + p->len, '\n', (size_t)n);
	take = nl != NULL ? (size_t)(nl - (p->buf + p->len)) + 1 : (size_t)n;
	if (recv(p->fd, p->buf + p->len, take, 0) != (ssize_t)take) {
		*why = "the PROXY header could not be read";
		return SMTP_PROXY_FAIL;
	}
	p->len += take;
	*why = "a PROXY line longer than 107 octets";
	if (nl == NULL)
		return p->len >= SMTP_PROXY_V1_MAX ? SMTP_PROXY_FAIL :
		    SMTP_PROXY_MORE;
	*why = "a PROXY line not ended by CRLF";
	if (p->len < 2 || p->buf[p->len - 2] != '\r')
		return SMTP_PROXY_FAIL;
	p->buf[p->len - 2] = '\0';
	*why = "a NUL in the PROXY line";
	if (memchr(p->buf, '\0', p->len - 2) != NULL)
		return SMTP_PROXY_FAIL;
	return smtp_proxy_v1_parse(p, (char *)p->buf, why);
}

/* Version 2: the fixed part, then exactly the length it gives. */
static enum smtp_proxy_step
smtp_proxy_v2_read(struct smtp_proxy *p, const char **why)
{
	size_t		 want = p->want != 0 ? p->want : SMTP_PROXY_V2_HDR;
	ssize_t		 n;

	n = recv(p->fd, p->buf + p->len, want - p->len, 0);
	if (n <= 0)
		return smtp_proxy_recv_result(n, why);
	p->len += (size_t)n;
	if (p->len < want)
		return SMTP_PROXY_MORE;
	if (p->want == 0) {
		if ((*why = smtp_proxy_v2_head(p)) != NULL)
			return SMTP_PROXY_FAIL;
		if (p->len < p->want)
			return SMTP_PROXY_MORE;
	}
	return smtp_proxy_v2_parse(p, why);
}

/* The first octet tells the version: 'P' or the v2 signature's CR. */
static enum smtp_proxy_step
smtp_proxy_version(struct smtp_proxy *p, const char **why)
{
	uint8_t	 c;
	ssize_t	 n;

	if ((n = recv(p->fd, &c, 1, MSG_PEEK)) <= 0)
		return smtp_proxy_recv_result(n, why);
	if (c != 'P' && c != smtp_proxy_v2_sig[0]) {
		*why = "not a PROXY header";
		return SMTP_PROXY_FAIL;
	}
	p->version = c == 'P' ? 1 : 2;
	return SMTP_PROXY_MORE;
}

static void
smtp_proxy_read_cb(int fd, short ev, void *arg)
{
	struct smtp_proxy	*p = arg;
	const char		*why = NULL;
	enum smtp_proxy_step	 r = SMTP_PROXY_MORE;

	(void)fd;
	(void)ev;
	if (p->version == 0)
		r = smtp_proxy_version(p, &why);
	if (r == SMTP_PROXY_MORE && p->version != 0)
		r = p->version == 1 ? smtp_proxy_v1_read(p, &why) :
		    smtp_proxy_v2_read(p, &why);
	if (r == SMTP_PROXY_FAIL)
		smtp_proxy_fail(p, why);
}

static void
smtp_proxy_deadline_cb(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	smtp_proxy_fail(arg, "no PROXY header in time");
}

void
smtp_proxy_start(int fd, const struct sockaddr_storage *ss,
    const char *listener, uint32_t lflags, int slot, uint32_t gen)
{
	const struct listener	*l = config_listener_find(conf, listener);
	struct smtp_proxy	*p;
	struct timeval		 tv = { SMTP_PROXY_TIMEOUT, 0 };
	char			 addr[INET6_ADDRSTRLEN];

	smtp_session_addr(ss, addr, sizeof(addr));
	if (l == NULL || !config_net_match(l->proxies, l->nproxies, ss)) {
		log_info("connection from %s on %s closed: not a trusted "
		    "proxy", addr, listener);
		smtp_proxy_refuse(fd, listener, lflags, slot, gen);
		return;
	}
	if (smtp_nproxies >= SMTP_PROXY_PENDING_MAX ||
	    (p = calloc(1, sizeof(*p))) == NULL) {
		log_warnx("connection from %s on %s closed: too many PROXY "
		    "headers being read", addr, listener);
		smtp_proxy_refuse(fd, listener, lflags, slot, gen);
		return;
	}
	p->fd = fd;
	p->peer = *ss;
	(void)strlcpy(p->peername, addr, sizeof(p->peername));
	(void)strlcpy(p->listener, listener, sizeof(p->listener));
	p->lflags = lflags;
	p->slot = slot;
	p->gen = gen;
	p->ev = event_new(proc_base, fd, EV_READ | EV_PERSIST,
	    smtp_proxy_read_cb, p);
	p->deadline = evtimer_new(proc_base, smtp_proxy_deadline_cb, p);
	if (p->ev == NULL || p->deadline == NULL ||
	    event_add(p->ev, NULL) == -1 ||
	    evtimer_add(p->deadline, &tv) == -1) {
		log_warn("connection from %s on %s closed", addr, listener);
		if (p->ev != NULL)
			event_free(p->ev);
		if (p->deadline != NULL)
			event_free(p->deadline);
		free(p);
		smtp_proxy_refuse(fd, listener, lflags, slot, gen);
		return;
	}
	TAILQ_INSERT_TAIL(&smtp_proxies, p, entry);
	smtp_nproxies++;
}

/* The front end stops: headers still being read are dropped. */
void
smtp_proxy_close_all(void)
{
	struct smtp_proxy	*p;

	while ((p = TAILQ_FIRST(&smtp_proxies)) != NULL) {
		(void)close(p->fd);
		smtp_proxy_free(p);
	}
}
