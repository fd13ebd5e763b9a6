/*
 * fuzz_tls_hello.c: libFuzzer target for tls_hello_parse(), which reads
 * the first octets a client sends to a TLS listener (a ClientHello, or
 * anything else) and finds its SNI before libtls sees the connection.
 *
 * Beyond "no crash": an SNI is reported only with TLS_HELLO_DONE, never
 * together with "invalid", and always passes tls_text_hostname_valid();
 * and since tlsproxy parses again as more octets arrive, an answer that
 * is not TLS_HELLO_MORE for a prefix is the answer (result, SNI, invalid)
 * for the whole input too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tlsproxy.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct hello {
	enum tls_hello_result	 r;
	char			 sni[TLS_NAME_MAX];
	int			 invalid;
};

static void
parse(const uint8_t *data, size_t len, struct hello *h)
{
	memset(h->sni, 'x', sizeof(h->sni));
	h->r = tls_hello_parse(data, len, h->sni, sizeof(h->sni), &h->invalid);
	if (memchr(h->sni, '\0', sizeof(h->sni)) == NULL)
		abort();
	if (h->r != TLS_HELLO_DONE && h->r != TLS_HELLO_MORE &&
	    h->r != TLS_HELLO_GARBAGE)
		abort();
	if (h->sni[0] != '\0' && (h->r != TLS_HELLO_DONE || h->invalid ||
	    !tls_text_hostname_valid(h->sni)))
		abort();
	if (h->r != TLS_HELLO_DONE && h->invalid)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct hello	 all, part;
	size_t		 cut[3], i;
	uint8_t		*copy;

	/* exactly len octets on the heap, so that ASan sees any overread */
	if ((copy = malloc(len == 0 ? 1 : len)) == NULL)
		return 0;
	memcpy(copy, data, len);
	parse(copy, len, &all);
	cut[0] = len / 2;
	cut[1] = len > 0 ? len - 1 : 0;
	cut[2] = len > 0 ? data[len - 1] % (len + 1) : 0;
	for (i = 0; i < 3; i++) {
		parse(copy, cut[i], &part);
		if (part.r == TLS_HELLO_MORE)
			continue;
		if (part.r != all.r || part.invalid != all.invalid ||
		    strcmp(part.sni, all.sni) != 0)
			abort();
	}
	free(copy);
	return 0;
}
