/*
 * mta_sts_parse.c: what an MTA-STS domain publishes, as the outbound
 * client reads it: the _mta-sts TXT record (RFC 8461 3.1) and the HTTP
 * answer of its policy host (3.3).  Interface in mta_sts.h.
 *
 * Both come from the network: every length is checked, nothing is
 * allocated or logged, and a malformed input is -1 with no effect (the
 * libFuzzer target is regress/fuzz/fuzz_mta_sts.c).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mtasts.h"
#include "mta_sts.h"

int
mta_sts_txt_parse(const uint8_t *rd, size_t len, char *id, size_t idsize)
{
	char		 txt[512], *p, *f;
	size_t		 n = 0, k, i;

	for (i = 0; i < len; i += k + 1) {
		k = rd[i];
		if (i + 1 + k > len || n + k >= sizeof(txt))
			return -1;
		memcpy(txt + n, rd + i + 1, k);
		n += k;
	}
	txt[n] = '\0';
	if (strlen(txt) != n)
		return -1;
	if (strncmp(txt, "v=STSv1", 7) != 0 ||
	    (txt[7] != ';' && txt[7] != ' ' && txt[7] != '\0'))
		return 0;
	id[0] = '\0';
	for (p = txt + 7; (f = strsep(&p, ";")) != NULL;) {
		f += strspn(f, " \t");
		if (strncmp(f, "id=", 3) != 0)
			continue;
		f += 3;
		k = strspn(f, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
		if (k == 0 || k >= idsize || k >= MTA_STS_ID_MAX ||
		    f[k + strspn(f + k, " \t")] != '\0')
			return -1;
		memcpy(id, f, k);
		id[k] = '\0';
	}
	return id[0] != '\0' ? 1 : -1;
}

/* The value of header field name in the header block h (ends at eoh). */
static const char *
mta_sts_http_field(const char *h, const char *eoh, const char *name,
    size_t *vlen)
{
	const char	*l, *e, *v;
	size_t		 n = strlen(name);

	for (l = h; l < eoh; l = e + 2) {
		if ((e = memchr(l, '\r', (size_t)(eoh - l))) == NULL)
			e = eoh;
		if ((size_t)(e - l) > n && strncasecmp(l, name, n) == 0 &&
		    l[n] == ':') {
			for (v = l + n + 1; v < e && (*v == ' ' || *v == '\t');
			    v++)
				;
			*vlen = (size_t)(e - v);
			return v;
		}
	}
	return NULL;
}

int
mta_sts_http_parse(const char *buf, size_t len, size_t *off, size_t *blen,
    const char **why)
{
	const char	*eoh = NULL, *h, *v;
	size_t		 i, vlen, clen;
	char		 num[16];

	for (i = 0; i + 4 <= len && i < MTA_STS_HEAD_MAX; i++)
		if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
			eoh = buf + i + 2;
			break;
		}
	if (eoh == NULL || len < 13 || strncmp(buf, "HTTP/1.", 7) != 0) {
		*why = "not an HTTP answer";
		return -1;
	}
	if (memcmp(buf + 8, " 200", 4) != 0 ||
	    (buf[12] != ' ' && buf[12] != '\r')) {
		*why = "status not 200 (redirects are not followed)";
		return -1;
	}
	if ((h = memchr(buf, '\n', (size_t)(eoh - buf))) == NULL) {
		*why = "not an HTTP answer";
		return -1;
	}
	h++;
	if (mta_sts_http_field(h, eoh, "Transfer-Encoding", &vlen) != NULL) {
		*why = "Transfer-Encoding in an HTTP/1.0 answer";
		return -1;
	}
	v = mta_sts_http_field(h, eoh, "Content-Type", &vlen);
	if (v == NULL || vlen < 10 || strncasecmp(v, "text/plain", 10) != 0 ||
	    (vlen > 10 && v[10] != ';' && v[10] != ' ')) {
		*why = "Content-Type is not text/plain";
		return -1;
	}
	*off = (size_t)(eoh + 2 - buf);
	*blen = len - *off;
	if ((v = mta_sts_http_field(h, eoh, "Content-Length", &vlen)) != NULL) {
		if (vlen == 0 || vlen >= sizeof(num) ||
		    strspn(v, "0123456789") < vlen) {
			*why = "bad Content-Length";
			return -1;
		}
		memcpy(num, v, vlen);
		num[vlen] = '\0';
		clen = strtoul(num, NULL, 10);
		if (clen > *blen) {
			*why = "body shorter than its Content-Length";
			return -1;
		}
		*blen = clen;
	}
	if (*blen > MTASTS_POLICY_MAX) {
		*why = "policy over 64 KiB";
		return -1;
	}
	return 0;
}
