/*
 * hdraddr.h: the addresses of a header field, rewritten in place.
 *
 * hdraddr_rewrite() reads a field value (what follows the colon, with its
 * folding) as an RFC 5322 address-list: display names, quoted strings,
 * comments, angle addresses with or without a route, bare addr-specs,
 * groups ("undisclosed-recipients: ;").  For each address it asks a
 * callback whether the domain is to be replaced, an unqualified one
 * qualified, or the whole address replaced, and writes the value again with only those octets changed:
 * folding, comments, display names and encoded words stay byte for byte.
 *
 * Failure behaviour: a value that is not an address-list, or a result
 * that does not fit the output, gives -1 and the caller keeps the value
 * as it was.  Nothing here allocates or logs.
 */
#ifndef HDRADDR_H
#define HDRADDR_H

#include <stddef.h>

/* The longest domain, and the longest address, a callback may give. */
#define HDRADDR_DOMAIN_MAX	256
#define HDRADDR_ADDR_MAX	512

/*
 * Asked once per address: local is the local-part as written (quotes
 * included), domain the domain as written, NULL (dlen 0) when there is
 * none.  Returns 1 with the new domain in buf (NUL terminated), 2 with a
 * whole new addr-spec in buf (the genericstable's form, which replaces
 * the local-part and the domain), 0 to leave the address alone.
 */
typedef int (*hdraddr_cb)(void *arg, const char *local, size_t llen,
    const char *domain, size_t dlen, char *buf, size_t bufsize);

/*
 * Rewrite value[0..len) into out (at most outsize octets, not NUL
 * terminated); *outlen is the new length.  Returns the number of
 * addresses changed (0: out is a copy), or -1 if the value is malformed
 * or the result too long.
 */
int	 hdraddr_rewrite(const char *value, size_t len, char *out,
	    size_t outsize, size_t *outlen, hdraddr_cb cb, void *arg);

#endif
