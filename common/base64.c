/*
 * base64.c: RFC 4648 base64 encoding and strict decoding (base64.h).
 *
 * Failure behaviour: a malformed input or a short output buffer gives -1;
 * nothing is logged, the caller words the error.
 */
#include <stdint.h>
#include <string.h>

#include "base64.h"

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
base64_encode(const void *in, size_t len, char *out, size_t outlen)
{
	const uint8_t	*p = in;
	size_t		 i, o = 0;
	uint32_t	 v;

	if (outlen < BASE64_ENCODED_LEN(len))
		return -1;
	for (i = 0; i < len; i += 3) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		out[o++] = base64_alphabet[(v >> 18) & 0x3f];
		out[o++] = base64_alphabet[(v >> 12) & 0x3f];
		out[o++] = i + 1 < len ? base64_alphabet[(v >> 6) & 0x3f] : '=';
		out[o++] = i + 2 < len ? base64_alphabet[v & 0x3f] : '=';
	}
	out[o] = '\0';
	return (int)o;
}

/* The value of one alphabet character, or -1. */
static int
base64_value(char c)
{
	const char	*p;

	if (c == '\0' || (p = strchr(base64_alphabet, c)) == NULL)
		return -1;
	return (int)(p - base64_alphabet);
}

/* Decode one quantum of four characters; the padding count, or -1. */
static int
base64_quantum(const char *q, uint8_t *dst, int *n)
{
	uint32_t	 v = 0;
	int		 i, d, pad;

	pad = q[3] != '=' ? 0 : q[2] == '=' ? 2 : 1;
	for (i = 0; i < 4 - pad; i++) {
		if ((d = base64_value(q[i])) == -1)
			return -1;
		v = (v << 6) | (uint32_t)d;
	}
	v <<= 6 * pad;
	if ((pad == 1 && (v & 0xff) != 0) || (pad == 2 && (v & 0xffff) != 0))
		return -1;
	dst[0] = (uint8_t)(v >> 16);
	dst[1] = (uint8_t)(v >> 8);
	dst[2] = (uint8_t)v;
	*n = 3 - pad;
	return pad;
}

int
base64_decode(const char *in, void *out, size_t outlen)
{
	uint8_t		 q[3];
	size_t		 len = strlen(in), i, o = 0;
	int		 n, pad;

	if (len % 4 != 0)
		return -1;
	for (i = 0; i < len; i += 4) {
		if ((pad = base64_quantum(in + i, q, &n)) == -1 ||
		    (pad > 0 && i + 4 != len) || o + (size_t)n > outlen)
			return -1;
		memcpy((uint8_t *)out + o, q, (size_t)n);
		o += (size_t)n;
	}
	return (int)o;
}
