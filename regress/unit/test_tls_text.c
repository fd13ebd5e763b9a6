/*
 * test_tls_text.c: sendmail's TLS macro values (tlsproxy/tls_text.c, common/macro.c) and
 * the ClientHello reader (tlsproxy/tls_hello.c).
 *
 * Proves the +XX encoding of spec 5.2 on its examples, the classic DN
 * rendering and its encoding on the worked example of spec 5.4, the
 * escapes of 8-bit octets in a DN (\xHH, then +5CxHH) and in a CN
 * (+HH), the three special CN values, the 255-octet cut at an entry
 * boundary, and that a ClientHello's SNI is found, refused when it is
 * not a host name, and that garbage and partial records are told apart.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/objects.h>
#include <openssl/x509.h>

#include "tlsproxy.h"
#include "unit.h"

static int
enc_is(const char *in, const char *want)
{
	char	 out[TLS_MACRO_MAX];

	(void)macro_encode(in, out, sizeof(out));
	if (strcmp(out, want) != 0)
		(void)printf("     got \"%s\"\n", out);
	return strcmp(out, want) == 0;
}

static void
test_encode(void)
{
	char	 small[8];

	UNIT_CHECK(enc_is("Darth Mail (Cert)", "Darth+20Mail+20+28Cert+29"),
	    "encode: space and parentheses");
	UNIT_CHECK(enc_is("darth+cert@endmail.org", "darth+2Bcert@endmail.org"),
	    "encode: plus");
	UNIT_CHECK(enc_is("a\\b", "a+5Cb"), "encode: backslash");
	UNIT_CHECK(enc_is("x<y>", "x+3Cy+3E"), "encode: angle brackets");
	UNIT_CHECK(enc_is("\"q\"", "+22q+22"), "encode: quotes");
	UNIT_CHECK(enc_is("\xc3\xa9", "+C3+A9"), "encode: UTF-8 octets");
	UNIT_CHECK(enc_is("\x01\x7f", "+01+7F"), "encode: control and DEL");
	UNIT_CHECK(enc_is("=/,.@:;-_'*[]{}#$%&!?^~|",
	    "=/,.@:;-_'*[]{}#$%&!?^~|"), "encode: others unchanged");
	(void)macro_encode("ab cd", small, sizeof(small));
	UNIT_CHECK(strcmp(small, "ab+20cd") == 0, "encode: fits exactly");
	(void)macro_encode("abcde fg", small, sizeof(small));
	UNIT_CHECK(strcmp(small, "abcde") == 0,
	    "encode: cut at a whole +XX");
}

static void
name_add(X509_NAME *n, const char *field, const char *value, int type)
{
	(void)X509_NAME_add_entry_by_txt(n, field, type,
	    (const unsigned char *)value, -1, -1, 0);
}

static void
test_dn(void)
{
	X509_NAME	*n = X509_NAME_new();
	char		 raw[TLS_DN_MAX], enc[TLS_MACRO_MAX], cn[TLS_DN_MAX];
	char		 big[200];

	name_add(n, "C", "US", MBSTRING_ASC);
	name_add(n, "ST", "California", MBSTRING_ASC);
	name_add(n, "O", "endmail.org", MBSTRING_ASC);
	name_add(n, "OU", "private", MBSTRING_ASC);
	name_add(n, "CN", "Darth Mail (Cert)", MBSTRING_ASC);
	name_add(n, "emailAddress", "darth+cert@endmail.org", MBSTRING_ASC);
	(void)tls_text_dn(n, raw, sizeof(raw));
	UNIT_CHECK(strcmp(raw, "/C=US/ST=California/O=endmail.org/OU=private"
	    "/CN=Darth Mail (Cert)/emailAddress=darth+cert@endmail.org") == 0,
	    "dn: classic oneline form");
	(void)macro_encode(raw, enc, sizeof(enc));
	UNIT_CHECK(strcmp(enc, "/C=US/ST=California/O=endmail.org/OU=private"
	    "/CN=Darth+20Mail+20+28Cert+29/emailAddress="
	    "darth+2Bcert@endmail.org") == 0, "dn: spec 5.4 issuer key");
	tls_text_cn(n, cn, sizeof(cn));
	UNIT_CHECK(strcmp(cn, "Darth Mail (Cert)") == 0, "cn: first CN raw");
	X509_NAME_free(n);

	n = X509_NAME_new();
	name_add(n, "O", "Caf\xc3\xa9/a+b", MBSTRING_UTF8);
	name_add(n, "CN", "\xc3\xa9t\xc3\xa9", MBSTRING_UTF8);
	(void)tls_text_dn(n, raw, sizeof(raw));
	(void)macro_encode(raw, enc, sizeof(enc));
	UNIT_CHECK(strcmp(raw, "/O=Caf\\xC3\\xA9/a+b/CN=\\xC3\\xA9t\\xC3\\xA9")
	    == 0, "dn: 8-bit as \\xHH, / and + not escaped");
	UNIT_CHECK(strstr(enc, "/O=Caf+5CxC3+5CxA9/a+2Bb") != NULL,
	    "dn: encoded \\xHH is +5CxHH");
	tls_text_cn(n, cn, sizeof(cn));
	(void)macro_encode(cn, enc, sizeof(enc));
	UNIT_CHECK(strcmp(enc, "+C3+A9t+C3+A9") == 0, "cn: UTF-8 as +HH");
	X509_NAME_free(n);

	n = X509_NAME_new();
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	name_add(n, "O", big, V_ASN1_UTF8STRING);
	name_add(n, "OU", big, V_ASN1_UTF8STRING);
	(void)tls_text_dn(n, raw, sizeof(raw));
	UNIT_CHECK(strlen(raw) == 3 + 199 && strncmp(raw, "/O=x", 4) == 0,
	    "dn: an entry that does not fit is dropped whole");
	tls_text_cn(n, cn, sizeof(cn));
	UNIT_CHECK(strcmp(cn, "BadCertificateUnknown") == 0, "cn: none");
	X509_NAME_free(n);

	n = X509_NAME_new();
	name_add(n, "CN", big, V_ASN1_UTF8STRING);
	name_add(n, "CN", "second", MBSTRING_ASC);
	tls_text_cn(n, cn, sizeof(cn));
	UNIT_CHECK(strcmp(cn, big) == 0, "cn: 199 octets kept");
	X509_NAME_free(n);
}

static void
test_cn_special(void)
{
	X509_NAME	*n = X509_NAME_new();
	unsigned char	 v[300];
	char		 cn[TLS_DN_MAX];

	memset(v, 'a', sizeof(v));
	(void)X509_NAME_add_entry_by_NID(n, NID_commonName, V_ASN1_UTF8STRING,
	    v, 255, -1, 0);
	tls_text_cn(n, cn, sizeof(cn));
	UNIT_CHECK(strcmp(cn, "BadCertificateTooLong") == 0,
	    "cn: 255 octets is too long");
	X509_NAME_free(n);
	n = X509_NAME_new();
	memcpy(v, "ab\0cd", 5);
	(void)X509_NAME_add_entry_by_NID(n, NID_commonName, V_ASN1_UTF8STRING,
	    v, 5, -1, 0);
	tls_text_cn(n, cn, sizeof(cn));
	UNIT_CHECK(strcmp(cn, "BadCertificateContainsNUL") == 0,
	    "cn: embedded NUL");
	X509_NAME_free(n);
}

/* A minimal ClientHello record with an optional server_name. */
static size_t
hello_build(uint8_t *b, const char *sni)
{
	size_t	 n = 0, hs, ext, sl = sni != NULL ? strlen(sni) : 0;

	b[n++] = 22; b[n++] = 3; b[n++] = 1; n += 2;	/* record */
	hs = n;
	b[n++] = 1; n += 3;				/* ClientHello */
	b[n++] = 3; b[n++] = 3;
	memset(b + n, 0x5a, 32); n += 32;		/* random */
	b[n++] = 0;					/* session id */
	b[n++] = 0; b[n++] = 2; b[n++] = 0x13; b[n++] = 0x01;
	b[n++] = 1; b[n++] = 0;				/* compression */
	ext = n;
	n += 2;
	b[n++] = 0; b[n++] = 10; b[n++] = 0; b[n++] = 2;	/* other ext */
	b[n++] = 0; b[n++] = 0;
	if (sni != NULL) {
		b[n++] = 0; b[n++] = 0;
		b[n++] = (sl + 5) >> 8; b[n++] = (sl + 5) & 0xff;
		b[n++] = (sl + 3) >> 8; b[n++] = (sl + 3) & 0xff;
		b[n++] = 0;
		b[n++] = sl >> 8; b[n++] = sl & 0xff;
		memcpy(b + n, sni, sl); n += sl;
	}
	b[ext] = (n - ext - 2) >> 8; b[ext + 1] = (n - ext - 2) & 0xff;
	b[hs + 1] = 0; b[hs + 2] = (n - hs - 4) >> 8;
	b[hs + 3] = (n - hs - 4) & 0xff;
	b[3] = (n - 5) >> 8; b[4] = (n - 5) & 0xff;
	return n;
}

/* 1 if every prefix of the n octets of b waits for more, and the whole
 * gives sni: tlsproxy parses again as octets arrive (found by
 * fuzz_tls_hello: a cut just after the compression methods was taken as
 * a ClientHello without extensions). */
static int
hello_cut_waits(const uint8_t *b, size_t n, const char *want)
{
	char	 sni[TLS_NAME_MAX];
	size_t	 k;
	int	 bad;

	for (k = 0; k < n; k++)
		if (tls_hello_parse(b, k, sni, sizeof(sni), &bad) !=
		    TLS_HELLO_MORE)
			return 0;
	return tls_hello_parse(b, n, sni, sizeof(sni), &bad) ==
	    TLS_HELLO_DONE && strcmp(sni, want) == 0 && !bad;
}

static void
test_hello(void)
{
	uint8_t		 b[600];
	char		 sni[TLS_NAME_MAX];
	size_t		 n;
	int		 bad;

	n = hello_build(b, "mx.example.org");
	UNIT_CHECK(tls_hello_parse(b, n, sni, sizeof(sni), &bad) ==
	    TLS_HELLO_DONE && strcmp(sni, "mx.example.org") == 0 && !bad,
	    "hello: SNI found");
	UNIT_CHECK(tls_hello_parse(b, n - 3, sni, sizeof(sni), &bad) ==
	    TLS_HELLO_MORE && sni[0] == '\0', "hello: partial record waits");
	UNIT_CHECK(tls_hello_parse(b, 3, sni, sizeof(sni), &bad) ==
	    TLS_HELLO_MORE, "hello: partial header waits");
	UNIT_CHECK(hello_cut_waits(b, n, "mx.example.org"),
	    "hello: a ClientHello cut anywhere waits for the rest");
	n = hello_build(b, NULL);
	UNIT_CHECK(tls_hello_parse(b, n, sni, sizeof(sni), &bad) ==
	    TLS_HELLO_DONE && sni[0] == '\0' && !bad, "hello: no SNI");
	n = hello_build(b, "bad name\r\nX: y");
	UNIT_CHECK(tls_hello_parse(b, n, sni, sizeof(sni), &bad) ==
	    TLS_HELLO_DONE && sni[0] == '\0' && bad,
	    "hello: invalid SNI refused, not copied");
	n = hello_build(b, "192.0.2.1");
	UNIT_CHECK(tls_hello_parse(b, n, sni, sizeof(sni), &bad) ==
	    TLS_HELLO_DONE && sni[0] == '\0' && bad,
	    "hello: an address is not an SNI");
	UNIT_CHECK(tls_hello_parse((const uint8_t *)"EHLO x\r\n", 8, sni,
	    sizeof(sni), &bad) == TLS_HELLO_GARBAGE, "hello: SMTP is garbage");
	UNIT_CHECK(tls_hello_parse((const uint8_t *)"\x16\x03\x01\x00\x02"
	    "\x02\x00", 7, sni, sizeof(sni), &bad) == TLS_HELLO_GARBAGE,
	    "hello: another handshake message is garbage");
	UNIT_CHECK(tls_hello_parse((const uint8_t *)"\x16\x02", 2, sni,
	    sizeof(sni), &bad) == TLS_HELLO_GARBAGE, "hello: SSLv2 version");
}

int
main(void)
{
	test_encode();
	test_dn();
	test_cn_special();
	test_hello();
	UNIT_CHECK(tls_text_hostname_valid("mx.example.org") &&
	    !tls_text_hostname_valid("mx.example.org.") &&
	    !tls_text_hostname_valid("a_b.example") &&
	    !tls_text_hostname_valid("10.0.0.1"), "SNI host name check");
	return unit_done();
}
