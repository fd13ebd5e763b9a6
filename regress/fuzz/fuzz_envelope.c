/*
 * fuzz_envelope.c: libFuzzer target for queue_envelope_load(), the
 * reader of the queue's envelope files (envelope/<evpid>), which takes a
 * file's contents as hostile.
 *
 * Beyond "no crash": an envelope that loads passes queue_envelope_check()
 * and dumps within ENVELOPE_TEXT_MAX; that dump loads to the very same
 * envelope and dumps to the very same text (the one canonical form), and
 * holds no raw control octet but the line ends.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue_envelope.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct envelope	 e, again;
	static char		 text[ENVELOPE_TEXT_MAX], text2[ENVELOPE_TEXT_MAX];
	const char		*why = NULL;
	char			*buf;
	int			 n, n2, i;

	/* exactly len octets on the heap, so that ASan sees any overread */
	if ((buf = malloc(len == 0 ? 1 : len)) == NULL)
		return 0;
	memcpy(buf, data, len);
	if (queue_envelope_load(&e, buf, len, &why) == -1) {
		if (why == NULL)
			abort();
		free(buf);
		return 0;
	}
	free(buf);
	if (queue_envelope_check(&e, &why) == -1)
		abort();
	if ((n = queue_envelope_dump(&e, text, sizeof(text))) <= 0 ||
	    (size_t)n != strlen(text))
		abort();
	for (i = 0; i < n; i++)
		if (((unsigned char)text[i] < 0x20 && text[i] != '\n') ||
		    text[i] == 0x7f)
			abort();
	if (queue_envelope_load(&again, text, (size_t)n, &why) == -1 ||
	    memcmp(&e, &again, sizeof(e)) != 0)
		abort();
	if ((n2 = queue_envelope_dump(&again, text2, sizeof(text2))) != n ||
	    memcmp(text, text2, (size_t)n) != 0)
		abort();
	return 0;
}
