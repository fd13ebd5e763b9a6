/*
 * smtp_masq.h: masquerading as a message is received (smtp_masq.c).
 */
#ifndef SMTP_MASQ_H
#define SMTP_MASQ_H

#include <stddef.h>

#include "smtp_data.h"

struct smtp_session;

/* What the rules do to a header field (smtp_masq_field_kind()). */
enum smtp_masq_field_kind {
	SMTP_MASQ_FIELD_NONE = 0,	/* not an address field of ours */
	SMTP_MASQ_FIELD_ALL,		/* generics and masquerading */
	SMTP_MASQ_FIELD_QUALIFY		/* a recipient field: qualified */
};

/* Set the body receiver of the session's transaction up to rewrite the
 * header fields, if masquerading or generics is on; -1 if out of
 * memory. */
int	 smtp_masq_body(struct smtp_data *, struct smtp_session *);
/* The kind of a whole field, and where its value starts (past the
 * colon). */
enum smtp_masq_field_kind smtp_masq_field_kind(const char *field,
	    size_t len, size_t *voff);
/* The field rewriter of smtp_data_fields(), arg the session. */
int	 smtp_masq_field(void *arg, const char *field, size_t len, char *out,
	    size_t outsize, size_t *outlen);
/* With masquerade envelope, the envelope sender in place (size octets);
 * the null sender and one the rules keep stay as they are. */
void	 smtp_masq_sender(char *sender, size_t size);

#endif
