/*
 * tlsproxy.h: the modules of smtpd-tlsproxy, the one process that holds
 * the TLS keys and runs every handshake.
 *
 *   tls_text.c     sendmail's macro values: DN rendering, CN, +XX
 *                  encoding, fingerprint (pure functions)
 *   tls_hello.c    the SNI of a ClientHello, read before the handshake
 *   tls_verify.c   the peer chain checked against the CA set: ${verify}
 *   tls_pki.c      key sets received from the parent, built into libtls
 *                  configs; the live set and its reference counts
 *   tls_ticket.c   session resumption: ticket keys, the TLS 1.2
 *                  session cache, the session-ID contexts
 *   tls_session.c  one handshake: state, timeouts, facts, log lines
 *   tls_relay.c    plaintext <-> TLS relay with bounded buffers
 *   tlsproxy.c     main, imsg handlers, control requests
 *
 * Failure: anything a peer (network or process) does wrong costs only
 * the session it belongs to.
 */
#ifndef TLSPROXY_H
#define TLSPROXY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "config.h"
#include "macro.h"
#include "proto.h"

#define TLS_FP_MAX		(32 * 3)	/* SHA-256 as "AB:CD:..." */
#define TLS_NAME_MAX		256		/* SNI, host names */
/* each relay direction holds at most this much (one TLS record) */
#define TLS_RELAY_BUFSIZE	(16 * 1024)

/* ${verify} words (spec 3.5). */
#define TLS_VERIFY_OK		"OK"
#define TLS_VERIFY_NO		"NO"
#define TLS_VERIFY_NOT		"NOT"
#define TLS_VERIFY_FAIL		"FAIL"
#define TLS_VERIFY_TEMP		"TEMP"
#define TLS_VERIFY_PROTOCOL	"PROTOCOL"
#define TLS_VERIFY_SOFTWARE	"SOFTWARE"

/* What a handshake established: the payload of IMSG_TLS_RESULT. */
struct tls_facts {
	uint32_t	 status;		/* enum status_code */
	char		 error[256];
	char		 protocol[32];		/* ${tls_version} */
	char		 cipher[128];		/* ${cipher} */
	uint32_t	 cipher_bits;		/* ${cipher_bits} */
	uint32_t	 alg_bits;		/* ${alg_bits} */
	char		 verify[16];		/* ${verify} */
	char		 verifymsg[128];	/* for the log only */
	char		 subject[TLS_MACRO_MAX];	/* ${cert_subject} */
	char		 issuer[TLS_MACRO_MAX];		/* ${cert_issuer} */
	char		 cn_subject[TLS_MACRO_MAX];	/* ${cn_subject} */
	char		 cn_issuer[TLS_MACRO_MAX];	/* ${cn_issuer} */
	char		 fingerprint[TLS_FP_MAX];
	char		 sni[TLS_NAME_MAX];	/* validated, or "" */
};

/* tls_text.c */
size_t		 tls_text_dn(const X509_NAME *, char *, size_t);
void		 tls_text_cn(const X509_NAME *, char *, size_t);
int		 tls_text_fingerprint(X509 *, char *, size_t);
int		 tls_text_hostname_valid(const char *);
void		 tls_text_peer(X509 *, struct tls_facts *);

/* tls_hello.c */
enum tls_hello_result {
	TLS_HELLO_MORE = 0,	/* not enough octets yet */
	TLS_HELLO_DONE,		/* a ClientHello; sni filled ("" if none) */
	TLS_HELLO_GARBAGE	/* not a TLS ClientHello */
};
enum tls_hello_result tls_hello_parse(const uint8_t *, size_t, char *,
		    size_t, int *sni_invalid);

/* tls_verify.c */
X509_STORE	*tls_verify_store_new(const uint8_t *, size_t, size_t *ncerts);
void		 tls_verify_peer(X509_STORE *, const uint8_t *chain,
		    size_t, int asked, struct tls_facts *);
/* After tls_verify_peer(): an OK becomes FAIL ("hostname mismatch")
 * unless the leaf names host (DNS-ID, RFC 6125; one left-most "*"). */
void		 tls_verify_name(const uint8_t *chain, size_t len,
		    const char *host, struct tls_facts *);

/* tls_pki.c */
struct tls;
struct tls_pkiset;
void		 tls_pki_stage_begin(void);
int		 tls_pki_stage_add(const char *, const void *, size_t,
		    const void *, size_t);
int		 tls_pki_stage_ca(const void *, size_t);
int		 tls_pki_stage_end(const struct config *, char *, size_t);
int		 tls_pki_reconfigure(const struct config *, char *, size_t);
struct tls_pkiset *tls_pki_current(void);
struct tls_pkiset *tls_pki_ref(struct tls_pkiset *);
void		 tls_pki_unref(struct tls_pkiset *);
struct tls	*tls_pki_server(struct tls_pkiset *, const char *sni,
		    const char *listener_pki, int verify);
struct tls	*tls_pki_client(struct tls_pkiset *, const char *pki,
		    char *err, size_t errlen);
X509_STORE	*tls_pki_store(struct tls_pkiset *);
size_t		 tls_pki_count(const struct tls_pkiset *);
void		 tls_pki_shutdown(void);

/* tls_ticket.c */
int		 tls_ticket_init(void);
void		 tls_ticket_configure(int lifetime);
void		 tls_ticket_reset(void);
void		 tls_ticket_capture_begin(void);
int		 tls_ticket_capture_end(const unsigned char *, int verify);
void		 tls_ticket_shutdown(void);

/* tls_session.c */
struct tls_session;
/* Called once per session with the handshake result; plainfd is the
 * plaintext end for the peer process (-1 on failure), owned by the
 * callee. */
typedef void	(*tls_session_result_fn)(enum proc_id, uint32_t id,
		    const struct tls_facts *, int plainfd);
void		 tls_session_init(tls_session_result_fn);
struct tls_session *tls_session_find(enum proc_id, uint32_t);
struct tls_session *tls_session_prepare(enum proc_id, uint32_t,
		    const char *listener, const char *addr, uint32_t flags);
void		 tls_session_server_start(struct tls_session *, int fd,
		    uint32_t flags);
int		 tls_session_client_start(enum proc_id, uint32_t, int fd,
		    const char *servername, const char *pki, uint32_t flags);
int		 tls_session_started(const struct tls_session *);
void		 tls_session_free(struct tls_session *);
void		 tls_session_drop_peer(enum proc_id);
size_t		 tls_session_count(void);

/* tls_relay.c */
struct tls_relay;
typedef void	(*tls_relay_done_fn)(void *arg, const char *why);
struct tls_relay *tls_relay_start(struct tls *, int netfd, int plainfd,
		    int idle, tls_relay_done_fn, void *arg);
void		 tls_relay_free(struct tls_relay *);
void		 tls_relay_counts(const struct tls_relay *, uint64_t *in,
		    uint64_t *out);

#endif
