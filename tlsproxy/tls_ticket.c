/*
 * tls_ticket.c: session resumption on the server side: the ticket keys
 * (RFC 5077 tickets in TLS 1.2, RFC 8446 PSK tickets in TLS 1.3) and the
 * session-ID cache of TLS 1.2 ("tls session-lifetime").
 *
 * libretls 3.7 on OpenSSL 3 cannot resume by itself.  Found by experiment
 * (openssl s_client -sess_out, then -sess_in, against tlsproxy):
 *  - without tls_config_set_session_lifetime() it sends no ticket and
 *    no session ID: nothing resumes;
 *  - with a lifetime it installs its ticket callback, which answers 0
 *    once the key is set up: LibreSSL takes that for success, OpenSSL
 *    (since 1.1.1) for "issue no ticket", so every NewSessionTicket is
 *    empty (10 octets) and still nothing resumes;
 *  - its server session cache stays off (an empty Session-ID), so
 *    -no_ticket (TLS 1.2 session IDs) never resumes either;
 *    tls_config_set_session_id() only names the context;
 *  - its own ticket keys (re-made at 3/4 of the lifetime) are of no use
 *    for the same reason, and tls_config_add_ticket_key() dates a key
 *    from the call, which a reload would move.
 * libtls gives no access to its SSL_CTX.  So an ex_data "new" hook of
 * OpenSSL's SSL_CTX class notes each SSL_CTX made while tls_pki.c builds
 * a server context (tls_ticket_capture_begin/end), and those get our
 * ticket callback, session cache, timeout and session-ID context (and
 * read-ahead, which libtls does not set either).
 *
 * Keys: random (OpenSSL's generator), never derived from a certificate
 * key, never sent anywhere: not to the parent, not to another instance,
 * not to a file.  A new key every lifetime; the previous one still
 * decrypts for one more lifetime, then it is wiped; every resumption
 * gets a new ticket.  A ticket or a cached session is good for one lifetime
 * (SSL_CTX_set_timeout), so every ticket lives its whole lifetime.  The
 * keys are process-wide: a rebuild of the key set (reload, new ciphers)
 * keeps them; tls_pki.c resets them when the certificates change.  Each
 * tlsproxy instance has its own keys and cache: a ticket of another
 * instance does not decrypt and the handshake is a full one (tlsproxy(8)
 * says why).
 *
 * Every SSL_CTX gets its own session-ID context, made from its pki
 * names, whether it asks for a client certificate and its rank, the same
 * after a reload: OpenSSL resumes a session only in the context that made
 * it, so a ticket of one pki (one SNI name) is refused by another.
 * Contexts that ask for a client certificate ("verify" listeners) do not
 * resume: a ticket keeps the client's certificate but not its chain, and
 * ${verify} is judged on the chain the client presents each time.
 */
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "log.h"
#include "proc.h"
#include "tlsproxy.h"

#define TLS_TICKET_NAME_LEN	16	/* what OpenSSL puts in a ticket */
#define TLS_TICKET_CAPTURE_MAX	(2 * 64 + 2)	/* SSL_CTXs of one build */
#define TLS_TICKET_CACHE_MAX	4096	/* TLS 1.2 sessions per SSL_CTX */

struct tls_ticket_key {
	int		 live;
	time_t		 born;
	unsigned char	 name[TLS_TICKET_NAME_LEN];
	unsigned char	 aes[32];
	unsigned char	 hmac[32];
};

/* [0] encrypts and decrypts, [1] only decrypts */
static struct tls_ticket_key	 ticket_keys[2];
static int			 ticket_lifetime;
static struct event		*ticket_timer;

static int			 capture_on;
static size_t			 capture_n;
static int			 capture_lost;
static SSL_CTX			*capture_ctx[TLS_TICKET_CAPTURE_MAX];

static void
tls_ticket_wipe(struct tls_ticket_key *k)
{
	explicit_bzero(k, sizeof(*k));
}

static int
tls_ticket_make(struct tls_ticket_key *k, time_t now)
{
	if (RAND_bytes(k->name, sizeof(k->name)) != 1 ||
	    RAND_bytes(k->aes, sizeof(k->aes)) != 1 ||
	    RAND_bytes(k->hmac, sizeof(k->hmac)) != 1) {
		tls_ticket_wipe(k);
		return -1;
	}
	k->born = now;
	k->live = 1;
	return 0;
}

/* Rotate and expire by the clock, whenever a key is about to be used. */
static void
tls_ticket_tick(time_t now)
{
	struct tls_ticket_key	*cur = &ticket_keys[0], *prev = &ticket_keys[1];

	if (ticket_lifetime <= 0) {
		tls_ticket_wipe(cur);
		tls_ticket_wipe(prev);
		return;
	}
	if (prev->live && now - prev->born >= 2 * (time_t)ticket_lifetime)
		tls_ticket_wipe(prev);
	if (cur->live && now - cur->born < ticket_lifetime)
		return;
	tls_ticket_wipe(prev);
	if (cur->live && now - cur->born < 2 * (time_t)ticket_lifetime)
		*prev = *cur;
	tls_ticket_wipe(cur);
	if (tls_ticket_make(cur, now) == -1)
		log_warnx("tls: no random octets for a ticket key, "
		    "no tickets for now");
}

static void
tls_ticket_timer(int fd, short ev, void *arg)
{
	struct timeval	 tv;

	tls_ticket_tick(time(NULL));
	if (ticket_lifetime <= 0)
		return;
	tv.tv_sec = ticket_lifetime;
	tv.tv_usec = 0;
	(void)evtimer_add(ticket_timer, &tv);
}

static struct tls_ticket_key *
tls_ticket_find(const unsigned char *name)
{
	size_t	 i;

	for (i = 0; i < 2; i++)
		if (ticket_keys[i].live && CRYPTO_memcmp(ticket_keys[i].name,
		    name, TLS_TICKET_NAME_LEN) == 0)
			return &ticket_keys[i];
	return NULL;
}

static int
tls_ticket_mac_key(EVP_MAC_CTX *hctx, struct tls_ticket_key *k)
{
	OSSL_PARAM	 p[3];

	p[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k->hmac,
	    sizeof(k->hmac));
	p[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	p[2] = OSSL_PARAM_construct_end();
	return EVP_MAC_CTX_set_params(hctx, p) == 1 ? 0 : -1;
}

/*
 * OpenSSL's ticket callback.  Encrypting: 1 with the key set up, 0 for
 * no ticket.  Decrypting: 0 for an unknown or expired key (a full
 * handshake follows), 2 to accept and issue a new ticket.
 */
static int
tls_ticket_cb(SSL *ssl, unsigned char *name, unsigned char *iv,
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	const EVP_CIPHER	*cipher = EVP_aes_256_cbc();
	struct tls_ticket_key	*k;

	tls_ticket_tick(time(NULL));
	if (enc) {
		k = &ticket_keys[0];
		if (!k->live || RAND_bytes(iv, EVP_CIPHER_get_iv_length(
		    cipher)) != 1)
			return 0;
		memcpy(name, k->name, TLS_TICKET_NAME_LEN);
		if (EVP_EncryptInit_ex(cctx, cipher, NULL, k->aes, iv) != 1 ||
		    tls_ticket_mac_key(hctx, k) == -1)
			return -1;
		return 1;
	}
	if ((k = tls_ticket_find(name)) == NULL)
		return 0;
	if (EVP_DecryptInit_ex(cctx, cipher, NULL, k->aes, iv) != 1 ||
	    tls_ticket_mac_key(hctx, k) == -1)
		return -1;
	/*
	 * Always a new ticket, even under the current key: in TLS 1.3
	 * OpenSSL sends none after a resumption otherwise, the server then
	 * has nothing to send after the client's Finished, and a client
	 * with Nagle on (Python's ssl) holds its first command until our
	 * delayed ACK, 40 ms later.
	 */
	return 2;
}

/* Every SSL_CTX OpenSSL makes passes here; only a build's are kept. */
static void
tls_ticket_ctx_new(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	if (!capture_on)
		return;
	if (capture_n == TLS_TICKET_CAPTURE_MAX) {
		capture_lost = 1;
		return;
	}
	capture_ctx[capture_n++] = parent;
}

/* Before the first SSL_CTX is made. */
int
tls_ticket_init(void)
{
	if (SSL_CTX_get_ex_new_index(0, NULL, tls_ticket_ctx_new, NULL,
	    NULL) < 0)
		return -1;
	if ((ticket_timer = evtimer_new(proc_base, tls_ticket_timer,
	    NULL)) == NULL)
		return -1;
	return 0;
}

/* "tls session-lifetime": 0 turns resumption off and wipes the keys. */
void
tls_ticket_configure(int lifetime)
{
	if (lifetime == ticket_lifetime && lifetime > 0)
		return;
	ticket_lifetime = lifetime;
	if (ticket_timer != NULL)
		(void)evtimer_del(ticket_timer);
	tls_ticket_timer(-1, 0, NULL);
}

/* New certificates: tickets of the old ones must not resume. */
void
tls_ticket_reset(void)
{
	tls_ticket_wipe(&ticket_keys[0]);
	tls_ticket_wipe(&ticket_keys[1]);
	tls_ticket_tick(time(NULL));
}

void
tls_ticket_capture_begin(void)
{
	capture_on = 1;
	capture_n = 0;
	capture_lost = 0;
}

/* The session-ID context of the rank-th SSL_CTX of a server context. */
static int
tls_ticket_sid(const unsigned char *base, size_t rank, unsigned char *sid,
    unsigned int *sidlen)
{
	unsigned char	 in[32 + sizeof(rank)];

	memcpy(in, base, 32);
	memcpy(in + 32, &rank, sizeof(rank));
	return EVP_Digest(in, sizeof(in), sid, sidlen, EVP_sha256(),
	    NULL) == 1 ? 0 : -1;
}

static int
tls_ticket_ctx_setup(SSL_CTX *ctx, const unsigned char *sid,
    unsigned int sidlen, int resume)
{
	/*
	 * Not resumption, but only reachable here: without read-ahead
	 * OpenSSL reads each record in two read(2)s (header, then body)
	 * and a third that finds nothing; with it, one read takes all
	 * that has come.
	 */
	SSL_CTX_set_read_ahead(ctx, 1);
	if (!resume) {
		(void)SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		(void)SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		return SSL_CTX_set_num_tickets(ctx, 0) == 1 ? 0 : -1;
	}
	(void)SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
	(void)SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	(void)SSL_CTX_sess_set_cache_size(ctx, TLS_TICKET_CACHE_MAX);
	(void)SSL_CTX_set_timeout(ctx, ticket_lifetime);
	/* one ticket per handshake: each costs an encryption */
	if (SSL_CTX_set_num_tickets(ctx, 1) != 1 ||
	    SSL_CTX_set_session_id_context(ctx, sid, sidlen) != 1 ||
	    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tls_ticket_cb) != 1)
		return -1;
	return 0;
}

/*
 * The SSL_CTXs made since tls_ticket_capture_begin() belong to one
 * server context; base (32 octets) names it.  verify: it asks for a
 * client certificate.  -1 if one could not be set up.
 */
int
tls_ticket_capture_end(const unsigned char *base, int verify)
{
	unsigned char	 sid[EVP_MAX_MD_SIZE];
	unsigned int	 sidlen;
	int		 resume = ticket_lifetime > 0 && !verify;
	size_t		 i;

	capture_on = 0;
	if (capture_lost || capture_n == 0)
		return -1;
	for (i = 0; i < capture_n; i++) {
		if (tls_ticket_sid(base, i, sid, &sidlen) == -1)
			return -1;
		if (sidlen > SSL_MAX_SID_CTX_LENGTH)
			sidlen = SSL_MAX_SID_CTX_LENGTH;
		if (tls_ticket_ctx_setup(capture_ctx[i], sid, sidlen,
		    resume) == -1)
			return -1;
	}
	return 0;
}

void
tls_ticket_shutdown(void)
{
	ticket_lifetime = 0;
	tls_ticket_wipe(&ticket_keys[0]);
	tls_ticket_wipe(&ticket_keys[1]);
	if (ticket_timer != NULL)
		(void)evtimer_del(ticket_timer);
}
