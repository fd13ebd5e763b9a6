/*
 * fuzz_base64.c: libFuzzer target for common/base64.c (the SASL lines of
 * the outbound client's AUTH, authinfo's "P=" secrets).  The same input
 * is used as binary to encode and as text to decode.
 *
 * Beyond "no crash": decode(encode(x)) == x; encode needs exactly
 * BASE64_ENCODED_LEN() and refuses a buffer one short; the strict
 * decoder accepts only canonical text, so whatever it accepts encodes
 * back to exactly the same text; and it never writes past the output
 * length it is given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"

#define IN_MAX	4096

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_encode(const uint8_t *data, size_t len)
{
	static char	 text[BASE64_ENCODED_LEN(IN_MAX)];
	static uint8_t	 back[IN_MAX];
	size_t		 need = BASE64_ENCODED_LEN(len);
	int		 n;

	if (base64_encode(data, len, text, need - 1) != -1)
		abort();
	if ((n = base64_encode(data, len, text, need)) < 0 ||
	    (size_t)n != need - 1 || strlen(text) != need - 1)
		abort();
	if (base64_decode(text, back, len) != (int)len ||
	    memcmp(back, data, len) != 0)
		abort();
	if (len > 0 && base64_decode(text, back, len - 1) != -1)
		abort();
}

static void
check_decode(const uint8_t *data, size_t len)
{
	static char	 text[IN_MAX + 1], again[IN_MAX + 1];
	uint8_t		*bin;
	size_t		 room;
	int		 n;

	memcpy(text, data, len);
	text[len] = '\0';
	room = data[0] % 8 == 0 ? len : len / 2;
	/* exactly room octets, so that ASan sees a write past them */
	if ((bin = malloc(room == 0 ? 1 : room)) == NULL)
		return;
	if ((n = base64_decode(text, bin, room)) >= 0) {
		if ((size_t)n > room || strlen(text) % 4 != 0 ||
		    base64_encode(bin, (size_t)n, again, sizeof(again)) < 0 ||
		    strcmp(again, text) != 0)
			abort();
	}
	free(bin);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	if (len < 1 || len > IN_MAX)
		return 0;
	check_encode(data, len);
	check_decode(data, len);
	return 0;
}
