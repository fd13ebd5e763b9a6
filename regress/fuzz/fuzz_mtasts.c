/*
 * fuzz_mtasts.c: libFuzzer target for the MTA-STS policy reader of
 * common/mtasts.c, whose input is what any HTTPS server sends.
 *
 * Beyond "no crash": a valid policy has a mode, a max_age within the
 * RFC's bound, mx patterns unless its mode is none, each a lowercased
 * name without a final dot that matches itself (a wildcard "*.d" the
 * name "a.d"); the first input line picks a host, and its match must
 * not depend on case or a final dot.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_pattern(const struct mtasts_policy *p, const char *m)
{
	char	 host[MTASTS_HOST_MAX + 2];
	size_t	 i, n = strlen(m);

	if (n == 0 || m[n - 1] == '.')
		abort();
	for (i = 0; i < n; i++)
		if (isupper((unsigned char)m[i]))
			abort();
	if (m[0] == '*')
		(void)snprintf(host, sizeof(host), "a%s", m + 1);
	else
		(void)snprintf(host, sizeof(host), "%s", m);
	if (!mtasts_mx_match(p, host))
		abort();
}

static void
check_host(const struct mtasts_policy *p, const uint8_t *data, size_t len)
{
	char	 host[MTASTS_HOST_MAX], other[MTASTS_HOST_MAX + 1];
	size_t	 n = 0, i;

	while (n < len && n < sizeof(host) - 1 && data[n] != '\n' &&
	    data[n] != '\0')
		n++;
	(void)memcpy(host, data, n);
	host[n] = '\0';
	for (i = 0; i < n; i++)
		other[i] = (char)toupper((unsigned char)host[i]);
	other[n] = '.';
	other[n + 1] = '\0';
	if (n > 0 && host[n - 1] != '.' &&
	    mtasts_mx_match(p, host) != mtasts_mx_match(p, other))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct mtasts_policy	 p;
	const char		*why = NULL;
	size_t			 i;

	if (mtasts_policy_parse((const char *)data, len, &p, &why) == -1) {
		if (why == NULL)
			abort();
		return 0;
	}
	if (p.max_age > MTASTS_MAX_AGE_MAX || p.nmx > MTASTS_MX_MAX ||
	    (p.mode != MTASTS_MODE_NONE && p.nmx == 0))
		abort();
	for (i = 0; i < p.nmx; i++)
		check_pattern(&p, p.mx[i]);
	check_host(&p, data, len);
	return 0;
}
