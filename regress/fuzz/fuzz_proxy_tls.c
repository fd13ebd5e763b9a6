/*
 * fuzz_proxy_tls.c: libFuzzer target for smtpd/smtp/smtp_proxy_tls.c,
 * the TLS facts the front end takes from a PROXY version 2 header's
 * TLVs.  The input is the TLV area as it follows the addresses.
 *
 * Beyond "no crash": the answer is -1, 0 or 1; with 1 every fact is
 * NUL-terminated within its field, ${verify} is OK, FAIL or NOT, the
 * version is never empty and no fact holds a control character.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_proxy.h"
#include "smtp_session.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_text(const char *s, size_t size)
{
	const char	*end = memchr(s, '\0', size);

	if (end == NULL)
		abort();
	for (; s < end; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct smtp_tls	 t;
	int		 r;

	r = smtp_proxy_tls_parse(data, len, &t);
	if (r < -1 || r > 1)
		abort();
	if (r != 1)
		return 0;
	check_text(t.protocol, sizeof(t.protocol));
	check_text(t.cipher, sizeof(t.cipher));
	check_text(t.cn_subject, sizeof(t.cn_subject));
	if (t.protocol[0] == '\0' || t.bits != 0 ||
	    (strcmp(t.verify, "OK") != 0 && strcmp(t.verify, "FAIL") != 0 &&
	    strcmp(t.verify, "NOT") != 0))
		abort();
	return 0;
}
