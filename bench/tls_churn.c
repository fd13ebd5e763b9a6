/*
 * bench/tls_churn.c: STARTTLS connection churn, with or without session
 * resumption, in C: the same scenario, options and JSON line as
 * bench/tls_churn.py, whose Python client took 0.7 of the 2 cores here
 * and so bounded what it measured.
 *
 * Each of --conc threads loops: connect, greeting, EHLO, STARTTLS, TLS
 * handshake (OpenSSL, no certificate check), EHLO, --per-conn messages,
 * QUIT, close.  With --resume a thread offers the session of its own
 * previous connection, taken after QUIT's reply (TLS 1.3 sends its
 * tickets after the handshake); SSL_session_reused() says whether the
 * server resumed.  Bounded by --messages sessions and --time seconds;
 * every socket step by --timeout.  Loopback targets only.
 *
 * Output: "P <done>" every 0.1 s with --progress, then one JSON line:
 * ok, fail, conns, tls, resumed, resumed_share, resume_asked, elapsed,
 * rate, errors (the first error text and how many failed).
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

struct churn_args {
	struct sockaddr_in	 addr;
	int			 conc;
	long			 messages;
	double			 secs;
	int			 per_conn;
	size_t			 size;
	int			 resume;
	int			 tls12;
	int			 timeout;
	int			 progress;
	const char		*helo, *sender, *rcpt;
};

struct churn_shared {
	pthread_mutex_t		 lock;
	long			 left;
	double			 deadline;
	long			 ok, fail, conns, tls, resumed;
	char			 error[160];
	SSL_CTX			*ctx;
	char			*payload;
	size_t			 paylen;
};

struct churn_conn {
	int			 fd;
	SSL			*ssl;
	char			 buf[8192];
	size_t			 len;
};

static struct churn_args	 args;
static struct churn_shared	 sh = { .lock = PTHREAD_MUTEX_INITIALIZER };

static double
churn_now(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
churn_take(void)
{
	int	 ok;

	(void)pthread_mutex_lock(&sh.lock);
	ok = sh.left > 0 && churn_now() < sh.deadline;
	if (ok)
		sh.left--;
	(void)pthread_mutex_unlock(&sh.lock);
	return ok;
}

static void
churn_count(long *field)
{
	(void)pthread_mutex_lock(&sh.lock);
	(*field)++;
	(void)pthread_mutex_unlock(&sh.lock);
}

static void
churn_failed(const char *why)
{
	(void)pthread_mutex_lock(&sh.lock);
	sh.fail++;
	sh.left++;
	if (sh.error[0] == '\0')
		(void)snprintf(sh.error, sizeof(sh.error), "%s", why);
	(void)pthread_mutex_unlock(&sh.lock);
}

static int
churn_write(struct churn_conn *c, const char *p, size_t n)
{
	ssize_t	 w;
	int	 r;

	while (n > 0) {
		if (c->ssl != NULL) {
			if ((r = SSL_write(c->ssl, p, (int)n)) <= 0)
				return -1;
			w = r;
		} else if ((w = write(c->fd, p, n)) <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static ssize_t
churn_read(struct churn_conn *c)
{
	ssize_t	 n;
	int	 r;

	if (c->len == sizeof(c->buf))
		return -1;
	if (c->ssl != NULL) {
		r = SSL_read(c->ssl, c->buf + c->len,
		    (int)(sizeof(c->buf) - c->len));
		n = r;
	} else
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	if (n > 0)
		c->len += (size_t)n;
	return n;
}

/* One whole reply; its code, or -1. */
static int
churn_reply(struct churn_conn *c)
{
	char	*nl;
	size_t	 used;
	int	 code;

	for (;;) {
		while ((nl = memchr(c->buf, '\n', c->len)) == NULL)
			if (churn_read(c) <= 0)
				return -1;
		used = (size_t)(nl - c->buf) + 1;
		code = used >= 4 ? atoi(c->buf) : -1;
		if (used < 4 || c->buf[3] != '-') {
			memmove(c->buf, c->buf + used, c->len - used);
			c->len -= used;
			return code;
		}
		memmove(c->buf, c->buf + used, c->len - used);
		c->len -= used;
	}
}

static int
churn_cmd(struct churn_conn *c, const char *line, size_t len, int want)
{
	int	 code;

	if (churn_write(c, line, len) == -1 || (code = churn_reply(c)) == -1)
		return -1;
	return code / 100 == want ? 0 : -1;
}

static int
churn_connect(struct churn_conn *c)
{
	struct timeval	 tv = { args.timeout, 0 };
	int		 on = 1;

	memset(c, 0, sizeof(*c));
	if ((c->fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	(void)setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	return connect(c->fd, (struct sockaddr *)&args.addr,
	    sizeof(args.addr));
}

static int
churn_starttls(struct churn_conn *c, SSL_SESSION *offer)
{
	if (churn_cmd(c, "STARTTLS\r\n", 10, 2) == -1 || c->len != 0 ||
	    (c->ssl = SSL_new(sh.ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1 ||
	    (offer != NULL && SSL_set_session(c->ssl, offer) != 1) ||
	    SSL_connect(c->ssl) != 1)
		return -1;
	churn_count(&sh.tls);
	if (SSL_session_reused(c->ssl))
		churn_count(&sh.resumed);
	return 0;
}

static int
churn_messages(struct churn_conn *c)
{
	char	 line[512];
	int	 i, n;

	for (i = 0; i < args.per_conn; i++) {
		n = snprintf(line, sizeof(line), "MAIL FROM:<%s>\r\n",
		    args.sender);
		if (churn_cmd(c, line, (size_t)n, 2) == -1)
			return -1;
		n = snprintf(line, sizeof(line), "RCPT TO:<%s>\r\n", args.rcpt);
		if (churn_cmd(c, line, (size_t)n, 2) == -1 ||
		    churn_cmd(c, "DATA\r\n", 6, 3) == -1 ||
		    churn_cmd(c, sh.payload, sh.paylen, 2) == -1)
			return -1;
	}
	return 0;
}

/* One connection; its session for the next (NULL if none), *ok set. */
static SSL_SESSION *
churn_session(SSL_SESSION *offer, int *ok)
{
	struct churn_conn	 c;
	SSL_SESSION		*got = NULL;
	char			 ehlo[300];
	int			 n;

	*ok = 0;
	n = snprintf(ehlo, sizeof(ehlo), "EHLO %s\r\n", args.helo);
	if (churn_connect(&c) == 0)
		churn_count(&sh.conns);
	if (c.fd == -1 || churn_reply(&c) != 220)
		churn_failed("connect or greeting");
	else if (churn_cmd(&c, ehlo, (size_t)n, 2) == -1 ||
	    churn_starttls(&c, offer) == -1)
		churn_failed("STARTTLS or handshake");
	else if (churn_cmd(&c, ehlo, (size_t)n, 2) == -1 ||
	    churn_messages(&c) == -1 || churn_cmd(&c, "QUIT\r\n", 6, 2) == -1)
		churn_failed("SMTP after the handshake");
	else {
		*ok = 1;
		got = SSL_get1_session(c.ssl);
	}
	if (c.ssl != NULL) {
		(void)SSL_shutdown(c.ssl);
		SSL_free(c.ssl);
	}
	if (c.fd != -1)
		(void)close(c.fd);
	return got;
}

static void *
churn_worker(void *unused)
{
	SSL_SESSION	*sess = NULL, *got;
	int		 ok;

	(void)unused;
	while (churn_take()) {
		got = churn_session(args.resume ? sess : NULL, &ok);
		if (!ok) {
			usleep(50000);
			continue;
		}
		SSL_SESSION_free(sess);
		sess = got;
		churn_count(&sh.ok);
	}
	SSL_SESSION_free(sess);
	ERR_clear_error();
	return NULL;
}

static void
churn_payload(void)
{
	size_t	 lines = args.size / 80 > 0 ? args.size / 80 : 1, i, n;
	char	*p;

	sh.paylen = 256 + lines * 80 + 8;
	if ((p = sh.payload = malloc(sh.paylen)) == NULL)
		exit(1);
	n = (size_t)snprintf(p, 256, "From: <%s>\r\nTo: <%s>\r\n"
	    "Subject: tls churn\r\n\r\n", args.sender, args.rcpt);
	for (i = 0; i < lines; i++) {
		memset(p + n, 'x', 78);
		memcpy(p + n + 78, "\r\n", 2);
		n += 80;
	}
	memcpy(p + n, ".\r\n", 3);
	sh.paylen = n + 3;
}

static void
churn_usage(void)
{
	(void)fprintf(stderr, "usage: tls_churn --port N [--host A] [--conc N] "
	    "[--messages N] [--time S] [--per-conn N] [--size N] [--resume] "
	    "[--tls-max 1.2|1.3] [--timeout S] [--progress] [--helo H] "
	    "[--sender S] [--rcpt R]\n");
	exit(2);
}

static void
churn_options(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", 1, NULL, 'h' }, { "port", 1, NULL, 'p' },
		{ "conc", 1, NULL, 'c' }, { "messages", 1, NULL, 'm' },
		{ "time", 1, NULL, 't' }, { "per-conn", 1, NULL, 'n' },
		{ "size", 1, NULL, 's' }, { "resume", 0, NULL, 'r' },
		{ "tls-max", 1, NULL, 'x' }, { "timeout", 1, NULL, 'o' },
		{ "progress", 0, NULL, 'P' }, { "helo", 1, NULL, 'H' },
		{ "sender", 1, NULL, 'S' }, { "rcpt", 1, NULL, 'R' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*host = "127.0.0.1";
	int		 ch, port = 0;

	args.conc = 50;
	args.messages = 1000;
	args.secs = 60;
	args.per_conn = 1;
	args.size = 1024;
	args.timeout = 30;
	args.helo = "churn.invalid";
	args.sender = "sender@load.invalid";
	args.rcpt = "rcpt@example.net";
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'h': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'c': args.conc = atoi(optarg); break;
		case 'm': args.messages = atol(optarg); break;
		case 't': args.secs = atof(optarg); break;
		case 'n': args.per_conn = atoi(optarg); break;
		case 's': args.size = (size_t)atol(optarg); break;
		case 'r': args.resume = 1; break;
		case 'x': args.tls12 = strcmp(optarg, "1.2") == 0; break;
		case 'o': args.timeout = atoi(optarg); break;
		case 'P': args.progress = 1; break;
		case 'H': args.helo = optarg; break;
		case 'S': args.sender = optarg; break;
		case 'R': args.rcpt = optarg; break;
		default: churn_usage();
		}
	}
	args.addr.sin_family = AF_INET;
	args.addr.sin_port = htons((uint16_t)port);
	if (port <= 0 || port > 65535 || args.conc < 1 || args.conc > 1000 ||
	    inet_pton(AF_INET, host, &args.addr.sin_addr) != 1)
		churn_usage();
	if ((ntohl(args.addr.sin_addr.s_addr) >> 24) != 127) {
		(void)fprintf(stderr, "refusing a non-loopback target\n");
		exit(2);
	}
	if (args.secs > 600)
		args.secs = 600;
}

int
main(int argc, char **argv)
{
	pthread_t	*t;
	double		 t0, elapsed;
	long		 done;
	int		 i;

	churn_options(argc, argv);
	churn_payload();
	if ((sh.ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    (args.tls12 && SSL_CTX_set_max_proto_version(sh.ctx,
	    TLS1_2_VERSION) != 1))
		return 1;
	SSL_CTX_set_verify(sh.ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(sh.ctx, SSL_SESS_CACHE_CLIENT);
	if ((t = calloc((size_t)args.conc, sizeof(*t))) == NULL)
		return 1;
	t0 = churn_now();
	sh.left = args.messages;
	sh.deadline = t0 + args.secs;
	for (i = 0; i < args.conc; i++)
		if (pthread_create(&t[i], NULL, churn_worker, NULL) != 0)
			return 1;
	while (args.progress && churn_now() < sh.deadline) {
		(void)pthread_mutex_lock(&sh.lock);
		done = sh.left <= 0 ? -1 : sh.ok;
		(void)pthread_mutex_unlock(&sh.lock);
		(void)printf("P %ld\n", done < 0 ? sh.ok : done);
		(void)fflush(stdout);
		if (done < 0)
			break;
		usleep(100000);
	}
	for (i = 0; i < args.conc; i++)
		(void)pthread_join(t[i], NULL);
	elapsed = churn_now() - t0;
	(void)printf("{\"ok\": %ld, \"fail\": %ld, \"conns\": %ld, \"tls\": %ld, "
	    "\"resumed\": %ld, \"resumed_share\": %.3f, \"resume_asked\": %s, "
	    "\"elapsed\": %.3f, \"rate\": %.1f, \"errors\": {",
	    sh.ok, sh.fail, sh.conns, sh.tls, sh.resumed,
	    sh.tls > 0 ? (double)sh.resumed / sh.tls : 0.0,
	    args.resume ? "true" : "false", elapsed,
	    elapsed > 0 ? sh.ok / elapsed : 0.0);
	if (sh.fail > 0)
		(void)printf("\"%s\": %ld", sh.error, sh.fail);
	(void)printf("}}\n");
	return 0;
}
