/*
 * test_tls_proxy.c: the core of tlsproxy with real TLS, in one process.
 *
 * Certificates are made with openssl(1) under /tmp at test time: a CA,
 * server certificates for two names, a client certificate, an expired
 * one and one from another CA.  Server and client sessions of
 * tls_session.c then shake hands with each other over socketpairs (both
 * driven by this process's event loop) and with openssl s_client over
 * TCP.  Proves: ${verify} OK, FAIL (expired, unknown CA), NO and NOT;
 * the facts (protocol, cipher, bits, encoded subject and issuer, CNs,
 * fingerprint as openssl prints it); pki selection by SNI; plaintext
 * relayed both ways and EOF passed on (close_notify); that garbage
 * instead of a ClientHello, a stalled handshake and a client-initiated
 * renegotiation cost only their session; a reload of the key set.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <tls.h>

#include "log.h"
#include "proc.h"
#include "tlsproxy.h"
#include "unit.h"

struct result {
	int			 got;
	struct tls_facts	 f;
	int			 fd;
};

static char		 dir[64];
static struct result	 res[2];	/* [0] server (smtp), [1] client */
static uint32_t		 next_id = 1;

/* All of p to fd; what arrives is checked where it is read (an ignored
 * write() is a warning under _FORTIFY_SOURCE). */
static int
put(int fd, const void *p, size_t n)
{
	return write(fd, p, n) == (ssize_t)n ? 0 : -1;
}

static void
on_result(enum proc_id peer, uint32_t id, const struct tls_facts *f,
    int fd)
{
	struct result	*r = &res[peer == PROC_MTA];

	(void)id;
	r->got = 1;
	r->f = *f;
	r->fd = fd;
	if (fd != -1)
		(void)fcntl(fd, F_SETFL, O_NONBLOCK);
}

static void
tick(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
}

/* Run the loop until both (or the one wanted) results came, or 10 s. */
static void
run_until_results(int want)
{
	struct timeval	 start, now;

	(void)gettimeofday(&start, NULL);
	for (;;) {
		if ((want & 1 ? res[0].got : 1) && (want & 2 ? res[1].got : 1))
			return;
		(void)gettimeofday(&now, NULL);
		if (now.tv_sec - start.tv_sec > 10)
			return;
		(void)event_base_loop(proc_base, EVLOOP_ONCE);
	}
}

/* Read exactly len octets from a plaintext end, running the loop. */
static int
read_plain(int fd, char *buf, size_t len)
{
	size_t	 got = 0;
	ssize_t	 n;
	int	 i;

	for (i = 0; i < 5000 && got < len; i++) {
		n = read(fd, buf + got, len - got);
		if (n > 0)
			got += n;
		else if (n == 0)
			break;
		else
			(void)event_base_loop(proc_base, EVLOOP_ONCE);
	}
	return got == len ? 0 : -1;
}

/* 1 if fd reaches EOF within a few seconds of loop. */
static int
plain_eof(int fd)
{
	char	 c;
	int	 i;

	for (i = 0; i < 5000; i++) {
		if (read(fd, &c, 1) == 0)
			return 1;
		(void)event_base_loop(proc_base, EVLOOP_ONCE);
	}
	return 0;
}

static int
file_read(const char *name, char **data, size_t *len)
{
	char	 path[128];
	FILE	*fp;
	long	 n;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	(void)fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	*data = malloc(n + 1);
	*len = fread(*data, 1, n, fp);
	(void)fclose(fp);
	return 0;
}

/* Stage pki "name" from files base.crt/base.key. */
static void
stage_pki(const char *name, const char *base)
{
	char	 f[64], *cert, *key;
	size_t	 clen, klen;

	(void)snprintf(f, sizeof(f), "%s.crt", base);
	if (file_read(f, &cert, &clen) == -1)
		return;
	(void)snprintf(f, sizeof(f), "%s.key", base);
	if (file_read(f, &key, &klen) == -1)
		return;
	(void)tls_pki_stage_add(name, cert, clen, key, klen);
	free(cert);
	free(key);
}

static int
load_keys(void)
{
	char	*ca;
	size_t	 len;
	char	 err[256];

	tls_pki_stage_begin();
	stage_pki("mx.test.example", "server");
	stage_pki("alt.test.example", "alt");
	stage_pki("client.test.example", "client");
	stage_pki("expired.test.example", "expired");
	stage_pki("foreign.test.example", "foreign");
	if (file_read("ca.crt", &ca, &len) == -1)
		return -1;
	(void)tls_pki_stage_ca(ca, len);
	free(ca);
	if (tls_pki_stage_end(conf, err, sizeof(err)) == -1) {
		(void)printf("     %s\n", err);
		return -1;
	}
	return 0;
}

static void
res_reset(void)
{
	int	 i;

	for (i = 0; i < 2; i++) {
		if (res[i].got && res[i].fd != -1)
			(void)close(res[i].fd);
		memset(&res[i], 0, sizeof(res[i]));
		res[i].fd = -1;
	}
}

/* A server and a client session of ours, shaking hands. */
static void
pair(uint32_t sflags, const char *cpki, const char *sni)
{
	static const struct tls_dane	 nodane;
	struct tls_session	*s;
	int			 sp[2];

	res_reset();
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1)
		return;
	s = tls_session_prepare(PROC_SMTP, next_id, "127.0.0.1:25",
	    "192.0.2.1", sflags);
	if (s != NULL)
		tls_session_server_start(s, sp[0], 0);
	(void)tls_session_client_start(PROC_MTA, next_id, sp[1], sni, cpki,
	    0, &nodane);
	next_id++;
	run_until_results(3);
}

static void
test_verify(void)
{
	pair(0, "", "mx.test.example");
	UNIT_CHECK(res[0].got && res[0].f.status == STATUS_OK &&
	    strcmp(res[0].f.verify, "NOT") == 0 && res[0].f.subject[0] == 0,
	    "server, no cert asked: NOT, no subject");
	UNIT_CHECK(res[1].got && strcmp(res[1].f.verify, "OK") == 0 &&
	    strcmp(res[1].f.cn_subject, "mx.test.example") == 0,
	    "client: server cert verified, CN");
	pair(TLS_F_VERIFY_PEER, "", "mx.test.example");
	UNIT_CHECK(res[0].got && strcmp(res[0].f.verify, "NO") == 0,
	    "server, cert asked, none sent: NO");
	pair(TLS_F_VERIFY_PEER, "client.test.example", "mx.test.example");
	UNIT_CHECK(res[0].got && strcmp(res[0].f.verify, "OK") == 0,
	    "server, valid client cert: OK");
	UNIT_CHECK(strcmp(res[0].f.subject, "/C=US/O=Darth+20Mail+20+28Cert"
	    "+29/CN=client+2Bcert@test.example") == 0,
	    "subject rendered and encoded");
	UNIT_CHECK(strcmp(res[0].f.issuer, "/C=US/O=Test+20CA/CN=Test+20Root")
	    == 0 && strcmp(res[0].f.cn_issuer, "Test+20Root") == 0 &&
	    strcmp(res[0].f.cn_subject, "client+2Bcert@test.example") == 0,
	    "issuer and CNs encoded");
	pair(TLS_F_VERIFY_PEER, "expired.test.example", "mx.test.example");
	UNIT_CHECK(res[0].got && res[0].f.status == STATUS_OK &&
	    strcmp(res[0].f.verify, "FAIL") == 0 &&
	    strcmp(res[0].f.verifymsg, "certificate has expired") == 0,
	    "server, expired client cert: handshake done, FAIL");
	pair(TLS_F_VERIFY_PEER, "foreign.test.example", "mx.test.example");
	UNIT_CHECK(res[0].got && res[0].fd != -1 &&
	    strcmp(res[0].f.verify, "FAIL") == 0 &&
	    strcmp(res[0].f.cn_issuer, "Other+20Root") == 0,
	    "server, client cert of another CA: FAIL");
}

/* The fingerprint openssl prints for a certificate file. */
static void
fingerprint_of(const char *name, char *out, size_t size)
{
	char	 cmd[256], line[256], *eq;
	FILE	*fp;

	out[0] = '\0';
	(void)snprintf(cmd, sizeof(cmd), "openssl x509 -in %s/%s -noout "
	    "-fingerprint -sha256", dir, name);
	if ((fp = popen(cmd, "r")) == NULL)
		return;
	if (fgets(line, sizeof(line), fp) != NULL &&
	    (eq = strchr(line, '=')) != NULL) {
		eq[strcspn(eq, "\n")] = '\0';
		(void)strlcpy(out, eq + 1, size);
	}
	(void)pclose(fp);
}

static void
test_facts(void)
{
	char	 fp[128];

	pair(TLS_F_VERIFY_PEER, "client.test.example", "alt.test.example");
	UNIT_CHECK(res[0].got && strcmp(res[0].f.protocol, "TLSv1.3") == 0 &&
	    strcmp(res[1].f.protocol, "TLSv1.3") == 0, "protocol TLSv1.3");
	UNIT_CHECK(res[0].f.cipher[0] != '\0' &&
	    strcmp(res[0].f.cipher, res[1].f.cipher) == 0, "cipher agreed");
	UNIT_CHECK(res[0].f.cipher_bits >= 128 &&
	    res[0].f.alg_bits == res[0].f.cipher_bits, "cipher and alg bits");
	fingerprint_of("client.crt", fp, sizeof(fp));
	UNIT_CHECK(fp[0] != '\0' && strcmp(res[0].f.fingerprint, fp) == 0,
	    "fingerprint as openssl prints it");
	UNIT_CHECK(strcmp(res[0].f.sni, "alt.test.example") == 0 &&
	    strcmp(res[1].f.cn_subject, "alt.test.example") == 0,
	    "SNI seen by the server and picks its pki");
	pair(0, "", "nomatch.test.example");
	UNIT_CHECK(res[1].got && strcmp(res[1].f.cn_subject,
	    "mx.test.example") == 0, "unknown SNI: the first pki");
}

static void
test_relay(void)
{
	char	 buf[70000], big[65536];
	size_t	 i;

	pair(0, "", "mx.test.example");
	if (res[0].fd == -1 || res[1].fd == -1) {
		UNIT_CHECK(0, "relay: sessions up");
		return;
	}
	(void)put(res[0].fd, "220 hello\r\n", 11);
	UNIT_CHECK(read_plain(res[1].fd, buf, 11) == 0 &&
	    memcmp(buf, "220 hello\r\n", 11) == 0, "relay: server to client");
	(void)put(res[1].fd, "EHLO x\r\n", 8);
	UNIT_CHECK(read_plain(res[0].fd, buf, 8) == 0 &&
	    memcmp(buf, "EHLO x\r\n", 8) == 0, "relay: client to server");
	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7);
	i = 0;
	(void)fcntl(res[1].fd, F_SETFL, 0);
	if (fork() == 0) {
		(void)put(res[1].fd, big, sizeof(big));
		_exit(0);
	}
	UNIT_CHECK(read_plain(res[0].fd, buf, sizeof(big)) == 0 &&
	    memcmp(buf, big, sizeof(big)) == 0,
	    "relay: 64 KiB through bounded buffers");
	(void)wait(NULL);
	(void)close(res[1].fd);
	res[1].fd = -1;
	UNIT_CHECK(plain_eof(res[0].fd), "relay: EOF passed on (close_notify)");
	UNIT_CHECK(tls_session_count() == 0, "relay: both sessions freed");
}

static void
test_bad_peers(void)
{
	struct tls_session	*s;
	struct timeval		 t0, t1;
	int			 sp[2], stall[2];

	res_reset();
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, stall) == -1)
		return;
	(void)put(sp[1], "EHLO garbage.example\r\n", 22);
	s = tls_session_prepare(PROC_SMTP, 9001, "127.0.0.1:25", "192.0.2.9",
	    0);
	tls_session_server_start(s, sp[0], 0);
	run_until_results(1);
	UNIT_CHECK(res[0].got && res[0].fd == -1 &&
	    res[0].f.status == STATUS_PERMFAIL &&
	    strcmp(res[0].f.verify, "PROTOCOL") == 0,
	    "garbage instead of ClientHello: PROTOCOL, no fd");
	(void)close(sp[1]);
	res_reset();
	conf->timeout_tls_handshake = 1;
	(void)gettimeofday(&t0, NULL);
	s = tls_session_prepare(PROC_SMTP, 9002, "127.0.0.1:25", "192.0.2.9",
	    0);
	tls_session_server_start(s, stall[0], 0);
	run_until_results(1);
	(void)gettimeofday(&t1, NULL);
	UNIT_CHECK(res[0].got && res[0].f.status == STATUS_TEMPFAIL &&
	    strcmp(res[0].f.verify, "TEMP") == 0 && t1.tv_sec - t0.tv_sec <= 3,
	    "stalled handshake: TEMP after the timeout");
	conf->timeout_tls_handshake = 30;
	(void)close(stall[1]);
	UNIT_CHECK(tls_session_count() == 0, "bad peers: sessions freed");
	pair(0, "", "mx.test.example");
	UNIT_CHECK(res[0].got && res[0].f.status == STATUS_OK,
	    "a handshake still works after them");
}

/* A TCP listener on 127.0.0.1; its port in *port. */
static int
tcp_listen(int *port)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 5) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		(void)close(fd);
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

/*
 * openssl s_client against a server session: stdin is a pipe we write,
 * stdout a file we read at the end.
 */
static pid_t
s_client(int port, const char *extra, int *in, const char *out)
{
	char	 cmd[512];
	int	 p[2];
	pid_t	 pid;

	(void)snprintf(cmd, sizeof(cmd), "exec openssl s_client -connect "
	    "127.0.0.1:%d -servername alt.test.example -CAfile %s/ca.crt "
	    "-cert %s/client.crt -key %s/client.key %s >%s 2>&1", port, dir,
	    dir, dir, extra, out);
	if (pipe(p) == -1 || (pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		(void)dup2(p[0], 0);
		(void)close(p[1]);
		(void)execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	(void)close(p[0]);
	*in = p[1];
	return pid;
}

/* Run the loop until the child exits (our side may have to close). */
static void
reap(pid_t pid)
{
	int	 i, status;

	for (i = 0; i < 500; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return;
		(void)event_base_loop(proc_base, EVLOOP_ONCE);
	}
	(void)kill(pid, SIGKILL);
	(void)waitpid(pid, &status, 0);
}

static int
file_has(const char *path, const char *what)
{
	char	 buf[65536];
	FILE	*fp;
	size_t	 n;

	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	(void)fclose(fp);
	return strstr(buf, what) != NULL;
}

/* Accept one connection and start a server session on it. */
static void
serve_one(int lfd, uint32_t id, uint32_t flags)
{
	struct tls_session	*s;
	int			 fd;

	res_reset();
	if ((fd = accept(lfd, NULL, NULL)) == -1)
		return;
	s = tls_session_prepare(PROC_SMTP, id, "127.0.0.1:25", "127.0.0.1",
	    flags);
	tls_session_server_start(s, fd, 0);
	run_until_results(1);
}

static void
test_s_client(void)
{
	char	 out[128], buf[16];
	int	 lfd, port, in;
	pid_t	 pid;

	if ((lfd = tcp_listen(&port)) == -1) {
		UNIT_CHECK(0, "tcp listener");
		return;
	}
	(void)snprintf(out, sizeof(out), "%s/s_client.out", dir);
	pid = s_client(port, "-quiet", &in, out);
	serve_one(lfd, 9100, TLS_F_VERIFY_PEER);
	UNIT_CHECK(res[0].got && strcmp(res[0].f.verify, "OK") == 0 &&
	    strcmp(res[0].f.sni, "alt.test.example") == 0,
	    "s_client: verified client cert, SNI");
	(void)put(in, "QUIT\n", 5);
	UNIT_CHECK(res[0].fd != -1 && read_plain(res[0].fd, buf, 5) == 0 &&
	    memcmp(buf, "QUIT\n", 5) == 0, "s_client: data to the server end");
	if (res[0].fd != -1)
		(void)put(res[0].fd, "221 bye\r\n", 9);
	(void)event_base_loop(proc_base, EVLOOP_NONBLOCK);
	(void)close(res[0].fd);
	res[0].fd = -1;
	(void)close(in);
	reap(pid);
	UNIT_CHECK(file_has(out, "221 bye"), "s_client: reply relayed back");

	pid = s_client(port, "-tls1_2", &in, out);
	serve_one(lfd, 9101, 0);
	(void)put(in, "R\n", 2);
	UNIT_CHECK(res[0].got && strcmp(res[0].f.protocol, "TLSv1.2") == 0,
	    "s_client: TLSv1.2 session");
	UNIT_CHECK(res[0].fd != -1 && plain_eof(res[0].fd),
	    "client renegotiation ends that session");
	(void)close(in);
	reap(pid);
	(void)close(lfd);
	UNIT_CHECK(tls_session_count() == 0, "s_client: sessions freed");
}

/* No traffic for the idle timeout ends both relays; ABORT frees. */
static void
test_idle_abort(void)
{
	struct tls_session	*s;
	int			 sp[2];

	conf->timeout_tls_idle = 1;
	pair(0, "", "mx.test.example");
	UNIT_CHECK(res[0].fd != -1 && plain_eof(res[0].fd) &&
	    plain_eof(res[1].fd) && tls_session_count() == 0,
	    "idle timeout ends the relay");
	conf->timeout_tls_idle = 900;
	s = tls_session_prepare(PROC_SMTP, 9200, "127.0.0.1:25", "192.0.2.7",
	    0);
	UNIT_CHECK(s != NULL && tls_session_prepare(PROC_SMTP, 9200, "x",
	    "y", 0) == NULL, "an id is prepared once");
	tls_session_free(tls_session_find(PROC_SMTP, 9200));
	UNIT_CHECK(tls_session_count() == 0, "abort frees a prepared session");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1)
		return;
	s = tls_session_prepare(PROC_SMTP, 9201, "127.0.0.1:25", "192.0.2.7",
	    0);
	tls_session_server_start(s, sp[0], 0);
	(void)event_base_loop(proc_base, EVLOOP_NONBLOCK);
	tls_session_drop_peer(PROC_SMTP);
	UNIT_CHECK(tls_session_count() == 0 && write(sp[1], "x", 1) == -1,
	    "a lost peer drops its sessions and their sockets");
	(void)close(sp[1]);
}

static void
test_reload(void)
{
	struct tls_pkiset	*old = tls_pki_current();
	char			 err[256];

	/* the same files again: the set in force (and its sessions) stays */
	UNIT_CHECK(load_keys() == 0 && tls_pki_current() == old &&
	    tls_pki_count(tls_pki_current()) == 5, "reload: same set kept");
	UNIT_CHECK(tls_pki_reconfigure(conf, err, sizeof(err)) == 0 &&
	    tls_pki_current() != old && tls_pki_count(tls_pki_current()) == 5,
	    "reload: new settings, new set");
	old = tls_pki_current();
	tls_pki_stage_begin();
	(void)tls_pki_stage_add("bad.test.example", "x", 1, "y", 1);
	UNIT_CHECK(tls_pki_stage_end(conf, err, sizeof(err)) == -1 &&
	    tls_pki_current() == old, "reload: a bad set is refused");
	pair(0, "", "mx.test.example");
	UNIT_CHECK(res[0].got && res[0].f.status == STATUS_OK,
	    "reload: the old set still serves");
}

int
main(void)
{
	char	 cmd[2048];

	(void)strlcpy(dir, "/tmp/test_tls_XXXXXX", sizeof(dir));
	if (mkdtemp(dir) == NULL)
		return 1;
	(void)snprintf(cmd, sizeof(cmd),
	    "set -e; cd %s; q() { \"$@\" >/dev/null 2>&1; }; "
	    "q openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key "
	    "-out ca.crt -days 3650 -subj '/C=US/O=Test CA/CN=Test Root'; "
	    "q openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key "
	    "-out other.crt -days 3650 -subj '/CN=Other Root'; "
	    "mk() { q openssl req -newkey rsa:2048 -nodes -keyout $1.key "
	    "-out $1.csr -subj \"$2\"; q openssl x509 -req -in $1.csr "
	    "-CA $3.crt -CAkey $3.key -CAcreateserial -out $1.crt "
	    "-days $4; }; "
	    "mk server /CN=mx.test.example ca 365; "
	    "mk alt /CN=alt.test.example ca 365; "
	    "mk client '/C=US/O=Darth Mail (Cert)/CN=client\\+cert@test.example'"
	    " ca 365; "
	    "mk expired /CN=expired.test.example ca -1; "
	    "mk foreign /CN=foreign.test.example other 365", dir);
	if (system(cmd) != 0) {
		UNIT_CHECK(0, "openssl made the test certificates");
		return unit_done();
	}
	log_init("test_tls_proxy", 1);
	log_verbose_set(getenv("TEST_VERBOSE") != NULL);
	(void)signal(SIGPIPE, SIG_IGN);
	if (tls_init() == -1 || (proc_base = event_base_new()) == NULL ||
	    tls_ticket_init() == -1)
		return 1;
	(void)event_add(event_new(proc_base, -1, EV_PERSIST, tick, NULL),
	    &(struct timeval){ 0, 20000 });
	conf = config_new_nohost();
	tls_ticket_configure(conf->tls_session_lifetime);
	tls_session_init(on_result);
	UNIT_CHECK(load_keys() == 0, "key set builds");
	test_verify();
	test_facts();
	test_relay();
	test_bad_peers();
	test_s_client();
	test_idle_abort();
	test_reload();
	res_reset();
	UNIT_CHECK(stats_get("tls.handshake.ok") > 10 &&
	    stats_get("tls.handshake.failed") >= 2, "counters");
	tls_pki_shutdown();
	tls_ticket_shutdown();
	config_free(conf);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	UNIT_CHECK(system(cmd) == 0, "scratch directory removed");
	return unit_done();
}
