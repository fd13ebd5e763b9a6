/*
 * mta_sts.h: MTA-STS (RFC 8461) in the outbound client, and the TLS-RPT
 * (RFC 8460) counts of what it saw.
 *
 * With "mta mta-sts yes", a batch whose hops are its domain's own MX
 * (not a route of policyd's) waits, before its first connection, for the
 * domain's policy: cached, or looked up (the _mta-sts TXT record) and
 * fetched over HTTPS through tlsproxy (mta_sts.c).  The policy then
 * drops the MX hosts it does not name (enforce) or logs them (testing),
 * and every connection of the batch needs TLS that verified against the
 * CA set with the MX host's name (TLS_F_VERIFY_NAME), else the hop fails
 * with 4.7.5 (enforce) or a log line says it would have (testing).
 *
 * The pure parts (the TXT record, the HTTP answer) are apart for the
 * unit tests; none of them trusts its input.
 */
#ifndef MTA_STS_H
#define MTA_STS_H

#include <stddef.h>
#include <stdint.h>

struct mta_dane;

#define MTA_STS_ID_MAX		33	/* 1*32 alphanumerics, 3.1 */
#define MTA_STS_HEAD_MAX	8192	/* status line and header fields */

struct evbuffer;
struct imsg;
struct imsgev;
struct mta_batch;
struct mta_session;
struct mtasts_policy;

/*
 * One TXT record's rdata (character-strings, joined): 1 and id if it is
 * a valid "v=STSv1; id=..." record, 0 if it is no STS record, -1 if it
 * starts with v=STSv1 but is malformed.
 */
int		 mta_sts_txt_parse(const uint8_t *, size_t, char *id,
		    size_t idsize);
/*
 * A whole HTTP answer (read to the end of the connection): 0 with the
 * body's place, or -1 with why: a status other than 200 (no redirects
 * are followed, 3.3), a Content-Type other than text/plain, a
 * Transfer-Encoding, a body over 64 KiB or shorter than its
 * Content-Length.
 */
int		 mta_sts_http_parse(const char *, size_t, size_t *off,
		    size_t *len, const char **why);

/* mta_batch_hops_ready(): 1 if b waits for its policy (or failed for
 * it), 0 to go on to the connection. */
int		 mta_sts_route(struct mta_batch *);
/* b ends while it waits for a policy. */
void		 mta_sts_cancel(struct mta_batch *);
/* The TLS_F_* flags of s's handshake with the server name name. */
uint32_t	 mta_sts_tls_flags(struct mta_session *, const char *name);
/* IMSG_TLS_RESULT: 1 if id is a fetch's (and the answer taken), else 0. */
int		 mta_sts_tls_result(uint32_t id, int fd, const char *verify,
		    const char *error);
/* 1 if the id is a fetch's (so no session takes it). */
int		 mta_sts_id_used(uint32_t);
/* tls_server accepted s: -1 and the reply in text if the batch's policy
 * refuses the connection (enforce), else 0; counted for TLS-RPT. */
int		 mta_sts_session_verdict(struct mta_session *, char *text,
		    size_t);
/* 1 if an open connection may carry b's mail under b's policy. */
int		 mta_sts_reusable(const struct mta_session *,
		    const struct mta_batch *);
/*
 * mta_tlsrpt.c: per policy domain and UTC day, the sessions that met the
 * policy and those that failed (RFC 8460 4.3 result-type, the MX and its
 * address or the reason); pol is the policy in force, NULL for none.
 */
void		 mta_tlsrpt_success(const char *domain,
		    const struct mtasts_policy *pol);
void		 mta_tlsrpt_failure(const char *domain,
		    const struct mtasts_policy *pol, const char *type,
		    const char *mx, const char *detail);
/* The same for DANE (policy-type tlsa) of an MX host: verify TRUSTED,
 * DANE_FAIL, DANE_NOTLS or DANE_TEMP; ip the server's, or NULL. */
void		 mta_tlsrpt_dane(const char *domain, const char *host,
		    const struct mta_dane *d, const char *verify,
		    const char *ip);
/* IMSG_POLICY_STS_RESULT: the policy policyd kept for a domain. */
void		 mta_sts_imsg_stored(struct imsgev *, struct imsg *, void *);
/* tlsproxy instance inst is gone: fetches in its handshake fail now. */
void		 mta_sts_tls_down(unsigned inst);
/* policyd is gone: the fetches that asked it go on without. */
void		 mta_sts_policy_down(void);
/* mta_tlsrpt.c: the records kept with policyd (IMSG_POLICY_TLSRPT_*) */
void		 mta_tlsrpt_start(void);
void		 mta_tlsrpt_policy_down(void);
void		 mta_tlsrpt_imsg_record(struct imsgev *, struct imsg *, void *);
/* smtpctl tlsrpt [DAY]: the RFC 8460 JSON report, line by line. */
void		 mta_sts_report(uint32_t ctlid, const char *day);

#endif
