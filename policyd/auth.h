/*
 * auth.h: smtpd-auth, the SASL process (policyd/auth*.c), shared by its
 * modules:
 *   auth.c          main, the messages from the front end, the sessions
 *   auth_sasl.c     Cyrus SASL: init, callbacks, mechanism lists, one
 *                   server exchange per AUTH command
 *
 * smtpd-auth is the only process that links libsasl2 and the only one
 * that can read the password source (see ARCHITECTURE.md).
 */
#ifndef AUTH_H
#define AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define AUTH_MECH_MAX		32	/* RFC 4422 3.1: at most 20 chars */
#define AUTH_MECHS_MAX		1024	/* one offered list */
#define AUTH_USER_MAX		256

struct auth_exchange;

/* What a START asks for (IMSG_AUTH_START). */
struct auth_request {
	char		 mech[AUTH_MECH_MAX];
	int		 has_initial;
	const char	*initial;	/* base64 as sent, "=" empty */
	const char	*addr;
	int		 tls;
	uint32_t	 tls_bits;
};

/* One step's outcome: an auth_status and what goes with it. */
struct auth_answer {
	enum auth_status status;
	char		*challenge;	/* AUTH_CONTINUE: base64, malloc'd */
	char		 user[AUTH_USER_MAX];
	char		 mech[AUTH_MECH_MAX];
	uint32_t	 ssf;
	char		 reason[256];
};

/* auth_sasl.c */
void	 auth_sasl_init(void);
void	 auth_sasl_confined(void);
void	 auth_sasl_mechs(int tls, char *buf, size_t size);
struct auth_exchange *auth_sasl_start(const struct auth_request *,
	    struct auth_answer *);
void	 auth_sasl_step(struct auth_exchange *, const char *line,
	    struct auth_answer *);
void	 auth_sasl_free(struct auth_exchange *);

#endif
