/*
 * fuzz_milter_reply.c: libFuzzer target for smtpd/smtp/smtp_milter_proto.c,
 * what the front end makes of a filter's replies.  The input is taken as
 * a stream of replies, one after the other, as they would arrive on a
 * filter's socket, and each is given to every decoder.
 *
 * Beyond "no crash": a reply taken never claims more octets than were
 * there nor more than SMTP_MILTER_REPLY_MAX; a negotiation accepted asks only
 * for what was offered; a reply code accepted starts with 4 or 5, is
 * NUL-terminated and holds only printable ASCII and CRLFs; a header
 * accepted has a name without a colon or white space.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_milter_proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_code(const struct smtp_milter_reply *r)
{
	char		 out[1024];
	const char	*p;

	if (smtp_milter_reply_code(r, out, sizeof(out)) == -1)
		return;
	if (out[0] != '4' && out[0] != '5')
		abort();
	for (p = out; *p != '\0'; p++)
		if ((*p < 0x20 || *p > 0x7e) && *p != '\r' && *p != '\n')
			abort();
}

static void
check_header(const struct smtp_milter_reply *r)
{
	const char	*name, *value;
	uint32_t	 idx;

	if (smtp_milter_reply_header(r, &idx, &name, &value) == 0 &&
	    (*name == '\0' || strpbrk(name, ": \t\r\n") != NULL))
		abort();
	if (smtp_milter_reply_header(r, NULL, &name, &value) == 0 &&
	    (*name == '\0' || strpbrk(name, ": \t\r\n") != NULL))
		abort();
}

static void
check_one(const struct smtp_milter_reply *r)
{
	struct smtp_milter_optneg	 o;
	const char			*a, *b;

	if (smtp_milter_reply_optneg(r, &o) == 0 &&
	    ((o.actions & ~(uint32_t)SMTP_MILTER_ACTIONS) != 0 ||
	    (o.protocol & ~(uint32_t)SMTP_MILTER_PROTOCOL) != 0 ||
	    o.version > SMTP_MILTER_VERSION))
		abort();
	check_code(r);
	check_header(r);
	if (smtp_milter_reply_strings(r, &a, &b, 1) == 0 &&
	    (a < r->data || a >= r->data + r->len))
		abort();
	(void)smtp_milter_reply_strings(r, &a, NULL, 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char			*p = (const char *)data;
	struct smtp_milter_reply	 r;
	size_t				 used;

	while (size > 0 && smtp_milter_reply_take(p, size, &r, &used) == 1) {
		if (used > size || used > SMTP_MILTER_REPLY_MAX + 4 ||
		    r.data + r.len != p + used)
			abort();
		check_one(&r);
		p += used;
		size -= used;
	}
	return 0;
}
