/*
 * base64.h: RFC 4648 base64 (standard alphabet, with padding), for the
 * SASL exchanges of the outbound client and the secrets of authinfo.
 *
 * Pure functions.  The decoder is strict: no blanks, no missing or extra
 * padding, no bits left over; anything else is refused, never guessed.
 */
#ifndef BASE64_H
#define BASE64_H

#include <stddef.h>

/* Octets the encoding of n octets takes, with its NUL. */
#define BASE64_ENCODED_LEN(n)	((((n) + 2) / 3) * 4 + 1)

/* Encode len octets into out; the length written, or -1 if it is short. */
int	base64_encode(const void *in, size_t len, char *out, size_t outlen);
/* Decode the string in; the octets written, or -1 if malformed or the
 * output is short. */
int	base64_decode(const char *in, void *out, size_t outlen);

#endif
