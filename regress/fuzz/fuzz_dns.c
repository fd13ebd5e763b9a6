/*
 * fuzz_dns.c: libFuzzer target for the pure parts of DNS: the rdata name
 * decoder common/dns.c shares (dns_name_parse), the front end's PTR name
 * check (smtp_dns_name_parse) and reverse query names
 * (smtp_dns_ptr_qname), and the outbound client's MX rdata
 * (mta_dns_mx_parse).  libunbound hands these the rdata of an answer a
 * remote server chose; the input is that rdata, and also, as text, a
 * client address.  The asynchronous lookups around them need a resolver
 * and are not fuzzed here.
 *
 * Beyond "no crash": a decoded name is lowercase printable ASCII without
 * blanks, '\\' or empty labels, fits its buffer, and encodes back to the
 * rdata (lowercased) octet for octet; a PTR name has only letters,
 * digits, '-', '_' and dots; an MX keeps its preference and name; and a
 * reverse name spells back the address it was made from, the same for
 * every spelling of that address.
 */
#include <arpa/inet.h>

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "mta_dns.h"
#include "smtp_dns.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The name back in wire form, lowercased as the decoder does. */
static void
check_wire(const char *name, const uint8_t *rd, size_t len)
{
	uint8_t		 wire[DNS_NAME_MAX + 2];
	size_t		 n = 0, l, i;
	const char	*p = name;

	while (*p != '\0') {
		l = strcspn(p, ".");
		if (l == 0 || l > 63)
			abort();
		wire[n++] = (uint8_t)l;
		memcpy(wire + n, p, l);
		n += l;
		p += l;
		if (*p == '.' && *++p == '\0')
			abort();
	}
	wire[n++] = 0;
	if (n != len)
		abort();
	for (i = 0; i < len; i++)
		if (wire[i] != (uint8_t)tolower(rd[i]))
			abort();
}

static void
check_name(const uint8_t *rd, size_t len, size_t size)
{
	char		 name[DNS_NAME_MAX + 8];
	const char	*p;

	memset(name, 'x', sizeof(name));
	if (dns_name_parse(rd, len, name, size) == -1)
		return;
	if (strlen(name) >= size || strlen(name) >= DNS_NAME_MAX)
		abort();
	for (p = name; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == '\\' ||
		    isupper((unsigned char)*p))
			abort();
	check_wire(name, rd, len);
}

static void
check_ptr(const uint8_t *rd, size_t len, size_t size)
{
	char		 name[SMTP_DNS_NAME_MAX];
	const char	*p;

	if (smtp_dns_name_parse(rd, len, name, size) == -1)
		return;
	if (name[0] == '\0' || strlen(name) + 2 > size)
		abort();
	for (p = name; *p != '\0'; p++)
		if (!islower((unsigned char)*p) &&
		    !isdigit((unsigned char)*p) && *p != '-' && *p != '_' &&
		    *p != '.')
			abort();
}

static void
check_mx(const uint8_t *rd, size_t len)
{
	char		 name[MTA_DNS_NAME_MAX], plain[MTA_DNS_NAME_MAX];
	uint16_t	 pref;

	if (mta_dns_mx_parse(rd, len, &pref, name, sizeof(name)) == -1)
		return;
	if (pref != (rd[0] << 8 | rd[1]) ||
	    dns_name_parse(rd + 2, len - 2, plain, sizeof(plain)) == -1 ||
	    strcmp(name, plain) != 0)
		abort();
}

/* The address a reverse name spells, in binary. */
static void
qname_back(const char *q, int n, uint8_t back[16])
{
	unsigned	 a, b, c, d, lo, hi;
	int		 i, used;

	if (n == 4) {
		if (sscanf(q, "%u.%u.%u.%u.in-addr.arpa%n", &d, &c, &b, &a,
		    &used) != 4 || q[used] != '\0' || a > 255 || b > 255 ||
		    c > 255 || d > 255)
			abort();
		back[0] = (uint8_t)a;
		back[1] = (uint8_t)b;
		back[2] = (uint8_t)c;
		back[3] = (uint8_t)d;
		return;
	}
	for (i = 15; i >= 0; i--, q += 4) {
		if (sscanf(q, "%1x.%1x.", &lo, &hi) != 2)
			abort();
		back[i] = (uint8_t)(hi << 4 | lo);
	}
	if (strcmp(q, "ip6.arpa") != 0)
		abort();
}

static void
check_qname(const char *addr)
{
	char	 q[128], q2[128], text[INET6_ADDRSTRLEN];
	uint8_t	 bin[16], back[16], bin2[16];
	int	 n;

	if ((n = smtp_dns_ptr_qname(addr, q, sizeof(q), bin)) == -1)
		return;
	if (n != 4 && n != 16)
		abort();
	qname_back(q, n, back);
	if (memcmp(back, bin, (size_t)n) != 0 ||
	    inet_ntop(n == 4 ? AF_INET : AF_INET6, bin, text,
	    sizeof(text)) == NULL ||
	    smtp_dns_ptr_qname(text, q2, sizeof(q2), bin2) != n ||
	    strcmp(q, q2) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	uint8_t	*rd;
	char	*addr;
	size_t	 size;

	if (len < 1 || len > 1024)
		return 0;
	size = data[0] == 0 ? DNS_NAME_MAX : data[0];
	data++;
	len--;
	/* exactly len octets on the heap, so that ASan sees any overread */
	if ((rd = malloc(len == 0 ? 1 : len)) == NULL)
		return 0;
	memcpy(rd, data, len);
	check_name(rd, len, size < DNS_NAME_MAX + 8 ? size : DNS_NAME_MAX);
	check_ptr(rd, len, size < SMTP_DNS_NAME_MAX ? size : SMTP_DNS_NAME_MAX);
	check_mx(rd, len);
	free(rd);
	if ((addr = malloc(len + 1)) == NULL)
		return 0;
	memcpy(addr, data, len);
	addr[len] = '\0';
	check_qname(addr);
	free(addr);
	return 0;
}
