/*
 * smtp_milter_proto.c: milter packets built and replies decoded (see
 * smtp_milter_proto.h).  Every length and string of a reply is checked
 * here, so the session code sees only well-formed values.
 */
#include <arpa/inet.h>

#include <stdint.h>
#include <string.h>

#include "smtp_milter_proto.h"

void
smtp_milter_packet_begin(struct smtp_milter_packet *p, char cmd)
{
	p->len = 4;
	p->overflow = 0;
	p->buf[p->len++] = cmd;
}

void
smtp_milter_packet_bytes(struct smtp_milter_packet *p, const void *data,
    size_t len)
{
	if (p->overflow || len > sizeof(p->buf) - p->len) {
		p->overflow = 1;
		return;
	}
	memcpy(p->buf + p->len, data, len);
	p->len += len;
}

void
smtp_milter_packet_u32(struct smtp_milter_packet *p, uint32_t v)
{
	uint32_t	 n = htonl(v);

	smtp_milter_packet_bytes(p, &n, sizeof(n));
}

void
smtp_milter_packet_u16(struct smtp_milter_packet *p, uint16_t v)
{
	uint16_t	 n = htons(v);

	smtp_milter_packet_bytes(p, &n, sizeof(n));
}

void
smtp_milter_packet_char(struct smtp_milter_packet *p, char c)
{
	smtp_milter_packet_bytes(p, &c, 1);
}

void
smtp_milter_packet_str(struct smtp_milter_packet *p, const char *s)
{
	smtp_milter_packet_bytes(p, s, strlen(s) + 1);
}

int
smtp_milter_packet_end(struct smtp_milter_packet *p)
{
	uint32_t	 n;

	if (p->overflow)
		return -1;
	n = htonl((uint32_t)(p->len - 4));
	memcpy(p->buf, &n, sizeof(n));
	return 0;
}

int
smtp_milter_packet_optneg(struct smtp_milter_packet *p)
{
	smtp_milter_packet_begin(p, SMFIC_OPTNEG);
	smtp_milter_packet_u32(p, SMTP_MILTER_VERSION);
	smtp_milter_packet_u32(p, SMTP_MILTER_ACTIONS);
	smtp_milter_packet_u32(p, SMTP_MILTER_PROTOCOL);
	return smtp_milter_packet_end(p);
}

int
smtp_milter_packet_connect(struct smtp_milter_packet *p, const char *host,
    char family,
    uint16_t port, const char *addr)
{
	smtp_milter_packet_begin(p, SMFIC_CONNECT);
	smtp_milter_packet_str(p, host);
	smtp_milter_packet_char(p, family);
	/* libmilter reads no port and address for an unknown family */
	if (family != 'U') {
		smtp_milter_packet_u16(p, port);
		smtp_milter_packet_str(p, addr);
	}
	return smtp_milter_packet_end(p);
}

int
smtp_milter_packet_macros(struct smtp_milter_packet *p, char cmd,
    const char *const *names, const char *const *values, size_t n)
{
	size_t	 i;

	smtp_milter_packet_begin(p, SMFIC_MACRO);
	smtp_milter_packet_char(p, cmd);
	for (i = 0; i < n; i++) {
		if (values[i] == NULL)
			continue;
		smtp_milter_packet_str(p, names[i]);
		smtp_milter_packet_str(p, values[i]);
	}
	return smtp_milter_packet_end(p);
}

int
smtp_milter_packet_simple(struct smtp_milter_packet *p, char cmd,
    const char *arg)
{
	smtp_milter_packet_begin(p, cmd);
	if (arg != NULL)
		smtp_milter_packet_str(p, arg);
	return smtp_milter_packet_end(p);
}

int
smtp_milter_packet_addr(struct smtp_milter_packet *p, char cmd,
    const char *addr,
    const char *const *params, size_t n)
{
	size_t	 i;

	smtp_milter_packet_begin(p, cmd);
	smtp_milter_packet_char(p, '<');
	smtp_milter_packet_bytes(p, addr, strlen(addr));
	smtp_milter_packet_str(p, ">");
	for (i = 0; i < n; i++)
		smtp_milter_packet_str(p, params[i]);
	return smtp_milter_packet_end(p);
}

int
smtp_milter_packet_header(struct smtp_milter_packet *p, const char *name,
    size_t namelen, const char *value, size_t valuelen)
{
	smtp_milter_packet_begin(p, SMFIC_HEADER);
	smtp_milter_packet_bytes(p, name, namelen);
	smtp_milter_packet_char(p, '\0');
	smtp_milter_packet_bytes(p, value, valuelen);
	smtp_milter_packet_char(p, '\0');
	return smtp_milter_packet_end(p);
}

int
smtp_milter_packet_body(struct smtp_milter_packet *p, const char *data,
    size_t len)
{
	if (len > SMTP_MILTER_CHUNK_MAX)
		return -1;
	smtp_milter_packet_begin(p, SMFIC_BODY);
	smtp_milter_packet_bytes(p, data, len);
	return smtp_milter_packet_end(p);
}

int
smtp_milter_reply_take(const char *buf, size_t len, struct smtp_milter_reply *r,
    size_t *used)
{
	uint32_t	 n;

	if (len < 4)
		return 0;
	memcpy(&n, buf, sizeof(n));
	n = ntohl(n);
	if (n == 0 || n > SMTP_MILTER_REPLY_MAX)
		return -1;
	if (len - 4 < n)
		return 0;
	r->code = buf[4];
	r->data = buf + 5;
	r->len = n - 1;
	*used = 4 + (size_t)n;
	return 1;
}

static uint32_t
smtp_milter_reply_u32(const char *p)
{
	uint32_t	 n;

	memcpy(&n, p, sizeof(n));
	return ntohl(n);
}

int
smtp_milter_reply_optneg(const struct smtp_milter_reply *r,
    struct smtp_milter_optneg *o)
{
	/* a version 6 filter may append the macros it wants per stage:
	 * they are not used, all macros are sent */
	if (r->code != SMFIC_OPTNEG || r->len < 12)
		return -1;
	o->version = smtp_milter_reply_u32(r->data);
	o->actions = smtp_milter_reply_u32(r->data + 4);
	o->protocol = smtp_milter_reply_u32(r->data + 8);
	if (o->version < 2 || o->version > SMTP_MILTER_VERSION)
		return -1;
	if ((o->actions & ~(uint32_t)SMTP_MILTER_ACTIONS) != 0 ||
	    (o->protocol & ~(uint32_t)SMTP_MILTER_PROTOCOL) != 0)
		return -1;
	return 0;
}

/* One line of a reply text: "Dxy" then ' ' (last) or '-' (more). */
static int
smtp_milter_reply_line(const char *s, size_t len, char first, int last)
{
	size_t	 i;

	if (len < 3 || s[0] != first || s[1] < '0' || s[1] > '9' ||
	    s[2] < '0' || s[2] > '9')
		return -1;
	if (len > 3 && s[3] != (last ? ' ' : '-'))
		return -1;
	if (len == 3 && !last)
		return -1;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return -1;
	return 0;
}

int
smtp_milter_reply_code(const struct smtp_milter_reply *r, char *out,
    size_t outsize)
{
	const char	*s, *end, *eol;
	size_t		 len;

	if (r->code != SMFIR_REPLYCODE || r->len < 4 ||
	    r->data[r->len - 1] != '\0')
		return -1;
	s = r->data;
	len = strlen(s);
	if (len != r->len - 1 || len >= outsize)
		return -1;
	if (s[0] != '4' && s[0] != '5')
		return -1;
	end = s + len;
	while ((eol = memmem(s, (size_t)(end - s), "\r\n", 2)) != NULL) {
		if (smtp_milter_reply_line(s, (size_t)(eol - s), r->data[0],
		    0) == -1)
			return -1;
		s = eol + 2;
	}
	if (smtp_milter_reply_line(s, (size_t)(end - s), r->data[0], 1) == -1)
		return -1;
	memcpy(out, r->data, len + 1);
	return 0;
}

/* The string at data[off]: its end offset past the NUL, or 0 if the
 * data ends first. */
static size_t
smtp_milter_reply_string(const struct smtp_milter_reply *r, size_t off)
{
	const char	*nul;

	if (off >= r->len)
		return 0;
	nul = memchr(r->data + off, '\0', r->len - off);
	if (nul == NULL)
		return 0;
	return (size_t)(nul - r->data) + 1;
}

int
smtp_milter_reply_strings(const struct smtp_milter_reply *r, const char **a,
    const char **b, int optional)
{
	size_t	 end;

	if ((end = smtp_milter_reply_string(r, 0)) == 0)
		return -1;
	*a = r->data;
	if (b == NULL)
		return end == r->len ? 0 : -1;
	*b = NULL;
	if (end == r->len)
		return optional ? 0 : -1;
	*b = r->data + end;
	end = smtp_milter_reply_string(r, end);
	return end != 0 && end == r->len ? 0 : -1;
}

/* A field name: printable ASCII without a colon (RFC 5322 2.2). */
static int
smtp_milter_field_name_valid(const char *name)
{
	const unsigned char	*s = (const unsigned char *)name;

	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (*s <= 0x20 || *s > 0x7e || *s == ':')
			return 0;
	return 1;
}

int
smtp_milter_reply_header(const struct smtp_milter_reply *r, uint32_t *idx,
    const char **name, const char **value)
{
	struct smtp_milter_reply	 rest;

	rest = *r;
	if (idx != NULL) {
		if (r->len < 4)
			return -1;
		*idx = smtp_milter_reply_u32(r->data);
		rest.data = r->data + 4;
		rest.len = r->len - 4;
	}
	if (smtp_milter_reply_strings(&rest, name, value, 0) == -1)
		return -1;
	return smtp_milter_field_name_valid(*name) ? 0 : -1;
}
