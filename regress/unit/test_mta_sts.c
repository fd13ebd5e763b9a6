/*
 * test_mta_sts.c: the outbound client's reading of what an MTA-STS
 * domain publishes: the _mta-sts TXT record (one or more
 * character-strings, the id, records that are not STS, malformed ones)
 * and the HTTP answer of the policy host (200 only, text/plain, no
 * Transfer-Encoding, Content-Length, the 64 KiB bound).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "mta_sts.h"

/* s as TXT rdata: character-strings of at most 255 octets each. */
static size_t
txt_rdata(uint8_t *rd, const char *s)
{
	size_t	 n = strlen(s), k, off = 0;

	do {
		k = n > 255 ? 255 : n;
		rd[off++] = (uint8_t)k;
		memcpy(rd + off, s, k);
		off += k;
		s += k;
		n -= k;
	} while (n > 0);
	return off;
}

static int
txt(const char *s, char *id)
{
	uint8_t	 rd[1024];

	return mta_sts_txt_parse(rd, txt_rdata(rd, s), id, MTA_STS_ID_MAX);
}

static void
test_txt(void)
{
	char	 id[MTA_STS_ID_MAX];
	uint8_t	 rd[8] = { 5, 'v', '=', 'S', 'T', 'S' };

	UNIT_CHECK(txt("v=STSv1; id=20160831085700Z;", id) == 1 &&
	    strcmp(id, "20160831085700Z") == 0, "txt: the RFC's example");
	UNIT_CHECK(txt("v=STSv1;id=abc", id) == 1 && strcmp(id, "abc") == 0,
	    "txt: no blanks, no final semicolon");
	UNIT_CHECK(txt("v=STSv1; ext=1; id=X9 ", id) == 1 &&
	    strcmp(id, "X9") == 0, "txt: an extension field skipped");
	UNIT_CHECK(txt("v=spf1 -all", id) == 0, "txt: SPF is no STS record");
	UNIT_CHECK(txt("v=STSv10; id=1", id) == 0, "txt: another version");
	UNIT_CHECK(txt("v=STSv1;", id) == -1, "txt: no id");
	UNIT_CHECK(txt("v=STSv1; id=a-b", id) == -1, "txt: id not alnum");
	UNIT_CHECK(txt("v=STSv1; id=123456789012345678901234567890123",
	    id) == -1, "txt: id over 32");
	UNIT_CHECK(mta_sts_txt_parse(rd, 3, id, sizeof(id)) == -1,
	    "txt: a string past the rdata");
}

static int
http(const char *s, size_t *off, size_t *len, const char **why)
{
	return mta_sts_http_parse(s, strlen(s), off, len, why);
}

static void
test_http(void)
{
	const char	*why = NULL, *a;
	size_t		 off, len;
	char		*big;

	a = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "\r\nversion: STSv1\r\n";
	UNIT_CHECK(http(a, &off, &len, &why) == 0 && len == 16 &&
	    strncmp(a + off, "version", 7) == 0, "http: 200 text/plain");
	a = "HTTP/1.0 200 OK\r\ncontent-type: TEXT/PLAIN\r\n"
	    "Content-Length: 3\r\n\r\nabcdef";
	UNIT_CHECK(http(a, &off, &len, &why) == 0 && len == 3,
	    "http: Content-Length bounds the body");
	a = "HTTP/1.1 301 Moved\r\nLocation: https://x/\r\n"
	    "Content-Type: text/plain\r\n\r\n";
	UNIT_CHECK(http(a, &off, &len, &why) == -1 &&
	    strstr(why, "200") != NULL, "http: no redirect followed");
	a = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\nx";
	UNIT_CHECK(http(a, &off, &len, &why) == -1, "http: text/html");
	a = "HTTP/1.1 200 OK\r\nContent-Type: text/plainx\r\n\r\nx";
	UNIT_CHECK(http(a, &off, &len, &why) == -1, "http: text/plainx");
	a = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
	UNIT_CHECK(http(a, &off, &len, &why) == -1, "http: chunked refused");
	a = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Content-Length: 99\r\n\r\nabc";
	UNIT_CHECK(http(a, &off, &len, &why) == -1, "http: body too short");
	a = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n";
	UNIT_CHECK(http(a, &off, &len, &why) == -1, "http: no end of header");
	a = "HTTP/1.1 2000 OK\r\nContent-Type: text/plain\r\n\r\nx";
	UNIT_CHECK(http(a, &off, &len, &why) == -1, "http: status 2000");
	UNIT_CHECK(http("SMTP 220 hi\r\n\r\n", &off, &len, &why) == -1,
	    "http: not HTTP");
	big = calloc(1, 70000 + 64);
	UNIT_CHECK(big != NULL, "http: memory");
	if (big == NULL)
		return;
	(void)strlcpy(big, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "\r\n", 70000 + 64);
	memset(big + strlen(big), 'a', 70000);
	UNIT_CHECK(http(big, &off, &len, &why) == -1 &&
	    strstr(why, "64 KiB") != NULL, "http: over 64 KiB");
	free(big);
}

int
main(void)
{
	test_txt();
	test_http();
	return unit_done();
}
