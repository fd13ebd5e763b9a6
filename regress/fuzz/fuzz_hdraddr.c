/*
 * fuzz_hdraddr.c: libFuzzer target for the header address-list
 * rewriter of common/hdraddr.c, which reads header fields of every
 * message when masquerading is on.
 *
 * Beyond "no crash": a callback that changes nothing gives a copy of the
 * input; one that gives every address the domain x.example yields a
 * value within the output size that parses again, and whose rewriting
 * changes nothing more (the rewriter finds in its own output exactly the
 * addresses it wrote).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hdraddr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_DOMAIN	"x.example"

static int
keep_cb(void *arg, const char *local, size_t llen, const char *domain,
    size_t dlen, char *buf, size_t bufsize)
{
	(void)arg;
	(void)local;
	(void)llen;
	(void)domain;
	(void)dlen;
	(void)buf;
	(void)bufsize;
	return 0;
}

static int
all_cb(void *arg, const char *local, size_t llen, const char *domain,
    size_t dlen, char *buf, size_t bufsize)
{
	(void)arg;
	(void)local;
	(void)llen;
	if (domain != NULL && dlen == strlen(FUZZ_DOMAIN) &&
	    strncmp(domain, FUZZ_DOMAIN, dlen) == 0)
		return 0;
	(void)strlcpy(buf, FUZZ_DOMAIN, bufsize);
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char	 out[8192], again[8192];
	size_t		 outlen = 0, againlen = 0;
	int		 n;

	n = hdraddr_rewrite((const char *)data, size, out, sizeof(out),
	    &outlen, keep_cb, NULL);
	if (n != -1 && (n != 0 || outlen != size ||
	    memcmp(out, data, size) != 0))
		abort();
	n = hdraddr_rewrite((const char *)data, size, out, sizeof(out),
	    &outlen, all_cb, NULL);
	if (n == -1)
		return 0;
	if (outlen > sizeof(out))
		abort();
	if (hdraddr_rewrite(out, outlen, again, sizeof(again), &againlen,
	    all_cb, NULL) != 0 || againlen != outlen ||
	    memcmp(again, out, outlen) != 0)
		abort();
	return 0;
}
