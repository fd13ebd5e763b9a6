/*
 * dane.h: TLSA records (RFC 6698, as RFC 7671 and 7672 use them for
 * SMTP) and whether one matches a certificate.
 *
 * The record comes from DNS, so it is checked as a peer's input: a
 * record that is too short, too long or of an unknown selector or
 * matching type is unusable (RFC 7671 4.1), never an error of ours.
 */
#ifndef DANE_H
#define DANE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#define DANE_DATA_MAX		4096	/* a whole certificate (type 0) */

#define DANE_USAGE_TA		2	/* DANE-TA: a trust anchor */
#define DANE_USAGE_EE		3	/* DANE-EE: the server's own */

struct dane_tlsa {
	uint8_t		 usage;
	uint8_t		 selector;	/* 0 certificate, 1 public key */
	uint8_t		 mtype;		/* 0 exact, 1 SHA-256, 2 SHA-512 */
	size_t		 len;
	uint8_t		 data[DANE_DATA_MAX];
};

/* The RDATA of a TLSA record: 0, or -1 if it is malformed. */
int	 dane_tlsa_parse(const uint8_t *rdata, size_t len,
	    struct dane_tlsa *);
/* 1 if cert matches the record's selector and data, 0 if not, -1 if the
 * record is unusable (an unknown selector or matching type, or a digest
 * of the wrong length). */
int	 dane_tlsa_match(const struct dane_tlsa *, X509 *cert);
/* "DANE-EE", "DANE-TA", "PKIX-EE", "PKIX-TA" or "unknown". */
const char *dane_usage_name(uint8_t usage);

#endif
