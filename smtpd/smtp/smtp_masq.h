/*
 * smtp_masq.h: masquerading as a message is received (smtp_masq.c).
 */
#ifndef SMTP_MASQ_H
#define SMTP_MASQ_H

#include <stddef.h>

#include "smtp_data.h"

/* Set the body receiver up to rewrite the header fields, if masquerading
 * is on; -1 if out of memory. */
int	 smtp_masq_body(struct smtp_data *);
/* The field rewriter of smtp_data_fields(). */
int	 smtp_masq_field(const char *field, size_t len, char *out,
	    size_t outsize, size_t *outlen);
/* With masquerade envelope, the envelope sender in place (size octets);
 * the null sender and one the rules keep stay as they are. */
void	 smtp_masq_sender(char *sender, size_t size);

#endif
