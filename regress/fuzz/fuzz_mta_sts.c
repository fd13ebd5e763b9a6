/*
 * fuzz_mta_sts.c: libFuzzer target for smtpd/mta/mta_sts_parse.c, the
 * outbound client's reading of an MTA-STS domain's TXT record and of
 * its policy host's HTTP answer.  The whole input is fed as TXT rdata
 * and as an HTTP answer (whose body then goes to mtasts_policy_parse()).
 *
 * Beyond "no crash": an id found is 1-32 alphanumerics; an HTTP body
 * lies inside the input and is at most 64 KiB.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"
#include "mta_sts.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_txt(const uint8_t *data, size_t size)
{
	char	 id[MTA_STS_ID_MAX];
	size_t	 i, n;

	if (mta_sts_txt_parse(data, size, id, sizeof(id)) != 1)
		return;
	n = strlen(id);
	if (n == 0 || n > 32)
		abort();
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]))
			abort();
}

static void
check_http(const uint8_t *data, size_t size)
{
	struct mtasts_policy	 pol;
	const char		*why;
	size_t			 off, len;

	if (mta_sts_http_parse((const char *)data, size, &off, &len,
	    &why) == -1)
		return;
	if (off > size || len > size - off || len > MTASTS_POLICY_MAX)
		abort();
	(void)mtasts_policy_parse((const char *)data + off, len, &pol, &why);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_txt(data, size);
	check_http(data, size);
	return 0;
}
