/*
 * auth.h: smtpd-auth, the SASL process (policyd/auth/), shared by its
 * modules:
 *   auth.c          main, the messages from the front end, the sessions
 *   auth_sasl.c     Cyrus SASL: init, callbacks, mechanism lists, one
 *                   server exchange per AUTH command
 *   auth_sasl_client.c  the client side: one exchange per AUTH the mta
 *                   makes to a next hop, with the credential it passed
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
#define AUTH_CRED_MAX		1025	/* an authinfo item and its NUL */

struct auth_exchange;
struct auth_client;

/* What a START asks for (IMSG_AUTH_START). */
struct auth_request {
	char		 mech[AUTH_MECH_MAX];
	int		 has_initial;
	const char	*initial;	/* base64 as sent, "=" empty */
	const char	*addr;
	int		 tls;
	uint32_t	 tls_bits;
	const char	*external;	/* EXTERNAL's identity, "" none */
};

/* What a client START asks for (IMSG_AUTH_CLIENT_START); the strings
 * point into the received message. */
struct auth_client_request {
	const char	*server;	/* the next hop's name */
	const char	*offered;	/* its AUTH mechanisms */
	const char	*user;		/* U: */
	const char	*authid;	/* I: */
	const char	*secret;	/* P: */
	const char	*realm;		/* R: */
	const char	*allowed;	/* M:, "" for any */
	int		 tls;
	uint32_t	 tls_bits;
};

/* One step's outcome: an auth_status and what goes with it. */
struct auth_answer {
	enum auth_status status;
	char		*challenge;	/* AUTH_CONTINUE: base64, malloc'd
					 * (the client side: our response) */
	int		 has_response;	/* client START: an initial response */
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

/* auth_sasl_client.c */
void	 auth_sasl_client_init(void);
struct auth_client *auth_sasl_client_start(const struct auth_client_request *,
	    struct auth_answer *);
void	 auth_sasl_client_step(struct auth_client *, const char *challenge,
	    struct auth_answer *);
void	 auth_sasl_client_free(struct auth_client *);

#endif
