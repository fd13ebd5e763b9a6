/*
 * smtp_generics.h: the genericstable at intake (smtp_generics.c).
 */
#ifndef SMTP_GENERICS_H
#define SMTP_GENERICS_H

#include <stddef.h>

#include "imsg.h"

struct smtp_session;
struct smtp_generics;

/* The reply to a message the genericstable could not be asked about. */
#define SMTP_GENERICS_FAIL	"451 4.3.0 Temporary failure of the " \
				"genericstable, try again later"

/* 1 if generics domains are set. */
int	 smtp_generics_on(void);
/* The state of a transaction's lookups; NULL if out of memory. */
struct smtp_generics *smtp_generics_new(void);
void	 smtp_generics_free(struct smtp_generics *);
/* 1 if a lookup of this message failed: it ends with the 451. */
int	 smtp_generics_failed(const struct smtp_generics *);
/* The hold hook of smtp_data_fields(), arg the session. */
int	 smtp_generics_hold(void *arg, const char *field, size_t len);
/* The outbound form of an address of a field whose lookup was answered:
 * 1 with the whole address in buf, 0 if the genericstable has none. */
int	 smtp_generics_address(struct smtp_session *, const char *local,
	    size_t llen, const char *domain, size_t dlen, char *buf,
	    size_t bufsize);
/* With masquerade envelope, ask about the envelope sender: 1 if the
 * commit waits for the answer, 0 if nothing is asked, -1 on failure. */
int	 smtp_generics_sender(struct smtp_session *);
/* policyd went away. */
void	 smtp_generics_lost(struct smtp_session *);
/* IMSG_POLICY_GENERICS_RESULT */
void	 smtp_generics_result(struct imsgev *, struct imsg *, void *);

#endif
