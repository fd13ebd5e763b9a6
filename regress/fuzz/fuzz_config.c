/*
 * fuzz_config.c: libFuzzer target for the smtpd.conf parser.  Every input
 * must either parse or be refused with an error; a parsed config must dump
 * to text that parses again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct config	*cf, *again;
	char		*text;
	size_t		 tlen;

	log_init("fuzz", 1);
	if ((cf = config_parse_buffer((const char *)data, len)) == NULL)
		return 0;
	if ((text = config_dump_string(cf, &tlen)) == NULL)
		abort();
	if ((again = config_parse_buffer(text, tlen)) == NULL)
		abort();
	config_free(again);
	config_free(cf);
	free(text);
	return 0;
}
