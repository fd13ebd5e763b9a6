/*
 * queue_envelope.c: envelope validation and the text format of
 * queue_envelope.h.
 *
 * One table lists every field with its key and kind; the dumper and the
 * loader both walk it, so the two cannot drift apart.  The loader takes a
 * file's contents as hostile: the first line must be "version: 1", every
 * later line "key: value\n" with a known key seen once, no raw control
 * octet, every field present but "auth", "mailer", "orig", "user" and "depth" (files
 * written before they existed lack them) and the optional "quarantine", and the
 * result must pass the same checks as an envelope about to be written.
 * Any deviation rejects the file.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailaddr.h"
#include "proto.h"
#include "queue_envelope.h"
#include "util.h"

enum field_kind {
	FK_HEX64,
	FK_HEX32,
	FK_TYPE,
	FK_STR,
	FK_U32,
	FK_U64,
	FK_TIME,
	FK_NOTIFY,
	FK_RET,
	FK_BODY,
	FK_FLAGS,
	FK_MAILER
};

struct field {
	const char	*key;
	enum field_kind	 kind;
	size_t		 off;
	size_t		 size;		/* FK_STR only */
	/* FK_STR only: the value of a file that lacks the line (a field
	 * added after the first release); NULL: the line is required */
	const char	*dflt;
	int		 optional;	/* written only when not "" */
};

#define FSTR(k, m)	{ k, FK_STR, offsetof(struct envelope, m), \
			    sizeof(((struct envelope *)0)->m), NULL, 0 }
#define FSTR_OPT(k, m, d) { k, FK_STR, offsetof(struct envelope, m), \
			    sizeof(((struct envelope *)0)->m), d, 0 }
#define FOPT(k, m)	{ k, FK_STR, offsetof(struct envelope, m), \
			    sizeof(((struct envelope *)0)->m), "", 1 }
#define FNUM(k, t, m)	{ k, t, offsetof(struct envelope, m), 0, NULL, 0 }
#define FNUM_OPT(k, t, m, d) { k, t, offsetof(struct envelope, m), 0, d, 0 }

static const struct field envelope_fields[] = {
	FNUM("id",		FK_HEX64,	id),
	FNUM("msgid",		FK_HEX32,	msgid),
	FNUM("type",		FK_TYPE,	type),
	FSTR("sender",				sender),
	FSTR("rcpt",				rcpt),
	FNUM_OPT("mailer",	FK_MAILER,	mailer, "esmtp"),
	FOPT("orig",				orig),
	FOPT("user",				user),
	FNUM_OPT("depth",	FK_U32,		depth, "0"),
	FSTR("orcpt",				orcpt),
	FNUM("notify",		FK_NOTIFY,	notify),
	FNUM("ret",		FK_RET,		ret),
	FSTR("envid",				envid),
	/* not last, so that a file cut before it still lacks lines */
	FSTR_OPT("auth",			auth, "<>"),
	FSTR("helo",				helo),
	FSTR("client-addr",			client_addr),
	FSTR("client-name",			client_name),
	FSTR("protocol",			proto),
	FNUM("body",		FK_BODY,	body),
	FNUM_OPT("utf8",	FK_U32,		utf8, "0"),
	FNUM_OPT("msgflags",	FK_U32,		msgflags, "0"),
	FNUM("size",		FK_U64,		size),
	FNUM("created",		FK_TIME,	ctime),
	FNUM("last-try",	FK_TIME,	lasttry),
	FNUM("next-try",	FK_TIME,	nexttry),
	FNUM("retries",		FK_U32,		retries),
	FNUM("flags",		FK_FLAGS,	flags),
	FSTR("last-status",			last_status),
	FSTR("last-error",			last_error),
	FSTR("last-relay",			last_relay),
	FSTR("domain",				domain),
	FOPT("quarantine",			quarantine),
};
#define NFIELDS	(sizeof(envelope_fields) / sizeof(envelope_fields[0]))

struct name_bit {
	const char	*name;
	uint32_t	 bit;
};

static const struct name_bit notify_names[] = {
	{ "success", DSN_NOTIFY_SUCCESS },
	{ "failure", DSN_NOTIFY_FAILURE },
	{ "delay", DSN_NOTIFY_DELAY },
	{ "never", DSN_NOTIFY_NEVER },
	{ NULL, 0 }
};

static const struct name_bit flag_names[] = {
	{ "delay-sent", ENVELOPE_F_DELAY_SENT },
	{ "double", ENVELOPE_F_DOUBLE },
	{ "dsn-pending", ENVELOPE_F_DSN_PENDING },
	{ "resolve", ENVELOPE_F_RESOLVE },
	{ NULL, 0 }
};

static const char *type_names[] = { "relay", "bounce", NULL };
static const char *ret_names[] = { "unset", "full", "hdrs", NULL };
static const char *body_names[] = { "7bit", "8bitmime", NULL };
/* by enum target_kind */
static const char *mailer_names[] = { "esmtp", "mailbox", "program", "file",
    "include", "error", NULL };

int
queue_envelope_sender_valid(const char *s)
{
	size_t	 len = strlen(s);

	if (len == 0)
		return 1;
	return queue_envelope_rcpt_valid(s);
}

int
queue_envelope_rcpt_valid(const char *s)
{
	const char	*at;
	size_t		 len = strlen(s);

	if (len == 0 || len >= CONF_ADDR_MAX || !text_is_clean(s))
		return 0;
	if ((at = strrchr(s, '@')) == NULL || at == s || at[1] == '\0')
		return 0;
	return mailaddr_mailbox_valid(s);
}

int
queue_envelope_local(const struct envelope *e)
{
	return e->mailer != TARGET_REMOTE && e->mailer != TARGET_ERROR;
}

int
queue_envelope_domain(const char *addr, char *buf, size_t size)
{
	const char	*at = strrchr(addr, '@');

	if (at == NULL || at[1] == '\0')
		return -1;
	/* the form the DNS knows: U-labels as A-labels (RFC 6531) */
	return mailaddr_domain_ascii(at + 1, buf, size);
}

void
queue_envelope_text_set(char *dst, size_t size, const char *src)
{
	size_t	 i;

	if (size == 0)
		return;
	for (i = 0; i + 1 < size && src[i] != '\0'; i++) {
		unsigned char	 c = (unsigned char)src[i];

		dst[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	dst[i] = '\0';
}

/* A string field: terminated within its array and free of controls. */
static int
envelope_str_ok(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL && text_is_clean(s);
}

static int
envelope_check_strings(const struct envelope *e, const char **why)
{
	size_t	 i;

	for (i = 0; i < NFIELDS; i++) {
		const struct field	*f = &envelope_fields[i];

		if (f->kind != FK_STR)
			continue;
		if (!envelope_str_ok((const char *)e + f->off, f->size)) {
			*why = f->key;
			return -1;
		}
	}
	return 0;
}

int
queue_envelope_check(const struct envelope *e, const char **why)
{
	char	 dom[CONF_HOST_MAX];

	*why = "ok";
	if (envelope_check_strings(e, why) == -1)
		return -1;
	*why = "bad id";
	if (e->msgid == 0 || id_envelope_msgid(e->id) != e->msgid)
		return -1;
	*why = "bad type";
	if (e->type != ENVELOPE_RELAY && e->type != ENVELOPE_BOUNCE)
		return -1;
	*why = "bad sender";
	if (!queue_envelope_sender_valid(e->sender))
		return -1;
	*why = "bad recipient";
	if (e->mailer > TARGET_KIND_MAX)
		return -1;
	if (queue_envelope_local(e)) {
		if (!mailaddr_target_valid(e->mailer, e->rcpt))
			return -1;
		*why = "bad domain";
		if (e->domain[0] != '\0')
			return -1;
	} else {
		if (!queue_envelope_rcpt_valid(e->rcpt))
			return -1;
		*why = "bad domain";
		if (queue_envelope_domain(e->rcpt, dom, sizeof(dom)) == -1 ||
		    strcmp(dom, e->domain) != 0)
			return -1;
	}
	*why = "bad original recipient";
	if (e->orig[0] != '\0' && !mailaddr_rcpt_valid(e->orig))
		return -1;
	*why = "bad user";
	if (e->user[0] != '\0' && (e->user[0] == '.' || e->user[0] == '-' ||
	    strcspn(e->user, "/@:| ") != strlen(e->user)))
		return -1;
	*why = "bad depth";
	if (e->depth > CONF_ALIAS_DEPTH_MAX)
		return -1;
	*why = "bad dsn parameters";
	if ((e->notify & ~(uint32_t)0x0f) != 0 ||
	    ((e->notify & DSN_NOTIFY_NEVER) && e->notify != DSN_NOTIFY_NEVER) ||
	    e->ret > DSN_RET_HDRS || e->body > 1 ||
	    (e->utf8 & ~(uint32_t)(UTF8_F_SMTPUTF8 | UTF8_F_HEADERS)) != 0 ||
	    (e->msgflags & ~(uint32_t)MSG_F_REQUIRETLS) != 0)
		return -1;
	*why = "bad times";
	if (e->ctime < 0 || e->lasttry < 0 || e->nexttry < 0)
		return -1;
	*why = "bad flags";
	if ((e->flags & ~(uint32_t)(ENVELOPE_F_DELAY_SENT | ENVELOPE_F_DOUBLE |
	    ENVELOPE_F_DSN_PENDING | ENVELOPE_F_RESOLVE)) != 0)
		return -1;
	*why = "bad auth";
	if (e->auth[0] == '\0')
		return -1;
	*why = "ok";
	return 0;
}

/* Append the comma-separated names of the bits set in v. */
static void
envelope_bits_fmt(char *buf, size_t size, const struct name_bit *nb,
    uint32_t v)
{
	buf[0] = '\0';
	for (; nb->name != NULL; nb++) {
		if ((v & nb->bit) == 0)
			continue;
		if (buf[0] != '\0')
			(void)strlcat(buf, ",", size);
		(void)strlcat(buf, nb->name, size);
	}
}

/* The value of one field as plain text, before escaping. */
static const char *
envelope_field_fmt(const struct envelope *e, const struct field *f,
    char *buf, size_t size)
{
	const void	*p = (const char *)e + f->off;

	switch (f->kind) {
	case FK_STR:
		return p;
	case FK_HEX64:
		(void)snprintf(buf, size, "%016llx",
		    (unsigned long long)*(const uint64_t *)p);
		break;
	case FK_HEX32:
		(void)snprintf(buf, size, "%08x", *(const uint32_t *)p);
		break;
	case FK_TYPE:
		return type_names[*(const enum envelope_type *)p];
	case FK_RET:
		return ret_names[*(const uint32_t *)p];
	case FK_BODY:
		return body_names[*(const uint32_t *)p];
	case FK_MAILER:
		return mailer_names[*(const uint32_t *)p];
	case FK_U32:
		(void)snprintf(buf, size, "%u", *(const uint32_t *)p);
		break;
	case FK_U64:
		(void)snprintf(buf, size, "%llu",
		    (unsigned long long)*(const uint64_t *)p);
		break;
	case FK_TIME:
		(void)snprintf(buf, size, "%lld",
		    (long long)*(const time_t *)p);
		break;
	case FK_NOTIFY:
		envelope_bits_fmt(buf, size, notify_names,
		    *(const uint32_t *)p);
		break;
	case FK_FLAGS:
		envelope_bits_fmt(buf, size, flag_names, *(const uint32_t *)p);
		break;
	}
	return buf;
}

/* Append "key: value\n" with '%' and control octets as %XX. */
static int
envelope_line_put(char *buf, size_t size, size_t *len, const char *key,
    const char *val)
{
	int	 n;

	n = snprintf(buf + *len, size - *len, "%s:%s", key,
	    val[0] != '\0' ? " " : "");
	if (n < 0 || (size_t)n >= size - *len)
		return -1;
	*len += (size_t)n;
	for (; *val != '\0'; val++) {
		unsigned char	 c = (unsigned char)*val;

		if (size - *len < 4)
			return -1;
		if (c < 0x20 || c == 0x7f || c == '%')
			*len += (size_t)snprintf(buf + *len, size - *len,
			    "%%%02X", c);
		else
			buf[(*len)++] = (char)c;
	}
	if (size - *len < 2)
		return -1;
	buf[(*len)++] = '\n';
	buf[*len] = '\0';
	return 0;
}

int
queue_envelope_dump(const struct envelope *e, char *buf, size_t size)
{
	char		 tmp[128], vers[16];
	const char	*why;
	size_t		 i, len = 0;

	if (queue_envelope_check(e, &why) == -1)
		return -1;
	(void)snprintf(vers, sizeof(vers), "%d", ENVELOPE_VERSION);
	if (envelope_line_put(buf, size, &len, "version", vers) == -1)
		return -1;
	for (i = 0; i < NFIELDS; i++) {
		const struct field	*f = &envelope_fields[i];
		const char		*v = envelope_field_fmt(e, f, tmp,
					    sizeof(tmp));

		if (f->optional && v[0] == '\0')
			continue;
		if (envelope_line_put(buf, size, &len, f->key, v) == -1)
			return -1;
	}
	return (int)len;
}

/* Undo the %XX escapes of a value of len octets; -1 if malformed. */
static int
envelope_unescape(const char *s, size_t len, char *out, size_t size)
{
	size_t	 i, o = 0;
	int	 hi, lo;

	for (i = 0; i < len; i++) {
		unsigned char	 c = (unsigned char)s[i];

		if (o + 1 >= size || c < 0x20 || c == 0x7f)
			return -1;
		if (c != '%') {
			out[o++] = (char)c;
			continue;
		}
		if (i + 2 >= len)
			return -1;
		if ((hi = hex_upper_value((unsigned char)s[i + 1])) == -1 ||
		    (lo = hex_upper_value((unsigned char)s[i + 2])) == -1 ||
		    (hi == 0 && lo == 0))
			return -1;
		out[o++] = (char)(hi * 16 + lo);
		i += 2;
	}
	out[o] = '\0';
	return 0;
}

/* Strict unsigned decimal (no sign, no blanks, no leading zeros). */
static int
envelope_num_parse(const char *s, unsigned long long max,
    unsigned long long *v)
{
	char	*end;

	if (!isdigit((unsigned char)s[0]) || (s[0] == '0' && s[1] != '\0'))
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || *v > max)
		return -1;
	return 0;
}

/* Exactly width lowercase hex digits (the spool's names and ids). */
int
queue_envelope_hex_parse(const char *s, size_t width, unsigned long long *v)
{
	size_t	 i;

	if (strlen(s) != width)
		return -1;
	for (i = 0; i < width; i++)
		if (!isdigit((unsigned char)s[i]) && (s[i] < 'a' || s[i] > 'f'))
			return -1;
	*v = strtoull(s, NULL, 16);
	return 0;
}

static int
envelope_name_parse(const char *s, const char **names, uint32_t *v)
{
	uint32_t	 i;

	for (i = 0; names[i] != NULL; i++) {
		if (strcmp(s, names[i]) == 0) {
			*v = i;
			return 0;
		}
	}
	return -1;
}

/* "a,b,c" of known names, each once; "" is 0. */
static int
envelope_bits_parse(const char *s, const struct name_bit *nb, uint32_t *v)
{
	const struct name_bit	*p;
	const char		*end;
	size_t			 n;

	*v = 0;
	while (*s != '\0') {
		end = strchr(s, ',');
		n = end != NULL ? (size_t)(end - s) : strlen(s);
		for (p = nb; p->name != NULL; p++)
			if (strlen(p->name) == n && strncmp(s, p->name, n) == 0)
				break;
		if (p->name == NULL || (*v & p->bit) != 0)
			return -1;
		*v |= p->bit;
		if (end == NULL)
			break;
		s = end + 1;
		if (*s == '\0')
			return -1;
	}
	return 0;
}

/* Store one unescaped value into its field. */
static int
envelope_field_parse(struct envelope *e, const struct field *f,
    const char *val)
{
	void			*p = (char *)e + f->off;
	unsigned long long	 v;
	uint32_t		 u;

	switch (f->kind) {
	case FK_STR:
		return strlcpy(p, val, f->size) >= f->size ? -1 : 0;
	case FK_HEX64:
		if (queue_envelope_hex_parse(val, 16, &v) == -1)
			return -1;
		*(uint64_t *)p = v;
		return 0;
	case FK_HEX32:
		if (queue_envelope_hex_parse(val, 8, &v) == -1)
			return -1;
		*(uint32_t *)p = (uint32_t)v;
		return 0;
	case FK_TYPE:
		if (envelope_name_parse(val, type_names, &u) == -1)
			return -1;
		*(enum envelope_type *)p = (enum envelope_type)u;
		return 0;
	case FK_RET:
		return envelope_name_parse(val, ret_names, p);
	case FK_BODY:
		return envelope_name_parse(val, body_names, p);
	case FK_MAILER:
		return envelope_name_parse(val, mailer_names, p);
	case FK_U32:
		if (envelope_num_parse(val, UINT32_MAX, &v) == -1)
			return -1;
		*(uint32_t *)p = (uint32_t)v;
		return 0;
	case FK_U64:
		if (envelope_num_parse(val, UINT64_MAX, &v) == -1)
			return -1;
		*(uint64_t *)p = v;
		return 0;
	case FK_TIME:
		if (envelope_num_parse(val, INT64_MAX, &v) == -1)
			return -1;
		*(time_t *)p = (time_t)v;
		return 0;
	case FK_NOTIFY:
		return envelope_bits_parse(val, notify_names, p);
	case FK_FLAGS:
		return envelope_bits_parse(val, flag_names, p);
	}
	return -1;
}

static const struct field *
envelope_field_find(const char *key, size_t keylen, size_t *idx)
{
	size_t	 i;

	for (i = 0; i < NFIELDS; i++) {
		if (strlen(envelope_fields[i].key) == keylen &&
		    strncmp(envelope_fields[i].key, key, keylen) == 0) {
			*idx = i;
			return &envelope_fields[i];
		}
	}
	return NULL;
}

/*
 * Split one "key: value\n" line starting at *pos; the value is unescaped
 * into val.  -1 if the line is not of that exact shape.
 */
static int
envelope_line_get(const char *buf, size_t len, size_t *pos,
    const char **key, size_t *keylen, char *val, size_t valsize)
{
	const char	*line = buf + *pos, *nl, *colon;
	size_t		 linelen;

	if ((nl = memchr(line, '\n', len - *pos)) == NULL)
		return -1;
	linelen = (size_t)(nl - line);
	*pos += linelen + 1;
	if ((colon = memchr(line, ':', linelen)) == NULL || colon == line)
		return -1;
	*key = line;
	*keylen = (size_t)(colon - line);
	if (colon + 1 == nl) {
		val[0] = '\0';
		return 0;
	}
	if (colon[1] != ' ' || colon + 2 == nl)
		return -1;
	return envelope_unescape(colon + 2, (size_t)(nl - colon - 2), val,
	    valsize);
}

/* Give the optional fields a file lacks their default; -1 if a
 * required one is missing. */
static int
envelope_defaults_set(struct envelope *e, const unsigned char *seen)
{
	size_t	 i;

	for (i = 0; i < NFIELDS; i++) {
		const struct field	*f = &envelope_fields[i];

		if (seen[i])
			continue;
		if (f->dflt == NULL || envelope_field_parse(e, f, f->dflt) == -1)
			return -1;
	}
	return 0;
}

int
queue_envelope_load(struct envelope *e, const char *buf, size_t len,
    const char **why)
{
	const struct field	*f;
	const char		*key;
	char			 val[ENVELOPE_TEXT_LINE * 2];
	unsigned char		 seen[NFIELDS];
	size_t			 pos = 0, keylen, idx;

	memset(e, 0, sizeof(*e));
	memset(seen, 0, sizeof(seen));
	*why = "bad version line";
	if (envelope_line_get(buf, len, &pos, &key, &keylen, val,
	    sizeof(val)) == -1 || keylen != 7 ||
	    strncmp(key, "version", 7) != 0 || strcmp(val, "1") != 0)
		return -1;
	while (pos < len) {
		*why = "malformed line";
		if (envelope_line_get(buf, len, &pos, &key, &keylen, val,
		    sizeof(val)) == -1)
			return -1;
		*why = "unknown or repeated key";
		if ((f = envelope_field_find(key, keylen, &idx)) == NULL ||
		    seen[idx])
			return -1;
		seen[idx] = 1;
		*why = f->key;
		if (envelope_field_parse(e, f, val) == -1)
			return -1;
	}
	*why = "missing field";
	if (envelope_defaults_set(e, seen) == -1)
		return -1;
	return queue_envelope_check(e, why);
}
