/*
 * auth_sasl_client.c: Cyrus SASL on the client side, for the mta's AUTH
 * to a next hop with a credential of the authinfo map (spec 8).
 *
 * Interface (auth.h): auth_sasl_client_init() once, as root before the
 * chroot (the client plugins are loaded then); auth_sasl_client_start(),
 * auth_sasl_client_step() and auth_sasl_client_free() run one exchange on
 * a fresh sasl_conn_t that holds the one credential the mta passed.
 *
 * Why here: the mechanisms (CRAM-MD5, DIGEST-MD5, SCRAM, ...) are the
 * library's plugins, and libsasl2 stays in this one process.  The mta
 * relays the server's challenges and writes our responses; it never
 * parses a mechanism.
 *
 * The library picks the strongest of the mechanisms the server offered
 * that the authinfo M: list allows (all of them when M: is empty).  No
 * security layer (max_ssf 0): the mta writes plain lines.  No security
 * flags: whether AUTH may run over this session is the mta's decision
 * (TLS that verified, authinfo's T:, a route with auth-plaintext).  The
 * credential lives in the exchange, where the
 * callbacks read it, and is wiped with it.
 *
 * Failure behaviour: no mechanism in common and a server message the
 * mechanism rejects are AUTH_FAIL; a challenge that is not base64 is
 * AUTH_MALFORMED; library trouble is AUTH_TEMPFAIL.  Nothing here ends
 * the process.
 */
#include <stdlib.h>
#include <string.h>

#include <sasl/sasl.h>
#include <sasl/saslutil.h>

#include "auth.h"
#include "log.h"
#include "proc.h"
#include "util.h"

#define AUTH_CLIENT_SERVICE	"smtp"

struct auth_client {
	sasl_conn_t	*conn;
	sasl_callback_t	 cb[5];
	sasl_secret_t	*secret;
	char		 user[AUTH_CRED_MAX];
	char		 authid[AUTH_CRED_MAX];
	char		 realm[AUTH_CRED_MAX];
	char		 mech[AUTH_MECH_MAX];
};

/* The callback table takes int (*)(void): cast through the generic type. */
#define AUTH_CLIENT_CB(fn)	((int (*)(void))(void (*)(void))(fn))

/* Every option the library asks for is unset: no file configures us. */
static int
auth_client_getopt(void *ctx, const char *plugin, const char *option,
    const char **result, unsigned *len)
{
	(void)ctx;
	(void)plugin;
	(void)option;
	(void)result;
	(void)len;
	return SASL_FAIL;
}

static int
auth_client_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	if (level <= SASL_LOG_ERR)
		log_warnx("sasl client: %s", msg);
	else
		log_debug("sasl client: %s", msg);
	return SASL_OK;
}

static const sasl_callback_t auth_client_global[] = {
	{ SASL_CB_GETOPT, AUTH_CLIENT_CB(auth_client_getopt), NULL },
	{ SASL_CB_LOG, AUTH_CLIENT_CB(auth_client_log), NULL },
	{ SASL_CB_LIST_END, NULL, NULL }
};

void
auth_sasl_client_init(void)
{
	int	 r;

	if ((r = sasl_client_init(auth_client_global)) != SASL_OK)
		fatalx("sasl_client_init: %s", sasl_errstring(r, NULL, NULL));
}

/* The authorization id goes only when it differs from the
 * authentication id, as a PLAIN client does by hand. */
static int
auth_client_simple(void *ctx, int id, const char **result, unsigned *len)
{
	struct auth_client	*c = ctx;

	if (id == SASL_CB_USER)
		*result = strcmp(c->user, c->authid) == 0 ? "" : c->user;
	else if (id == SASL_CB_AUTHNAME)
		*result = c->authid;
	else
		return SASL_FAIL;
	if (len != NULL)
		*len = (unsigned)strlen(*result);
	return SASL_OK;
}

static int
auth_client_secret(sasl_conn_t *conn, void *ctx, int id,
    sasl_secret_t **psecret)
{
	struct auth_client	*c = ctx;

	(void)conn;
	if (id != SASL_CB_PASS || c->secret == NULL)
		return SASL_FAIL;
	*psecret = c->secret;
	return SASL_OK;
}

/* R: if given, else the first realm the server offers. */
static int
auth_client_realm(void *ctx, int id, const char **avail, const char **result)
{
	struct auth_client	*c = ctx;

	if (id != SASL_CB_GETREALM)
		return SASL_FAIL;
	if (c->realm[0] != '\0' || avail == NULL || avail[0] == NULL)
		*result = c->realm;
	else
		*result = avail[0];
	return SASL_OK;
}

/* Copy the credential in and set the callbacks that hand it out. */
static int
auth_client_credential(struct auth_client *c,
    const struct auth_client_request *req)
{
	size_t	 n = strlen(req->secret);

	(void)strlcpy(c->user, req->user[0] != '\0' ? req->user : req->authid,
	    sizeof(c->user));
	(void)strlcpy(c->authid, req->authid, sizeof(c->authid));
	(void)strlcpy(c->realm, req->realm, sizeof(c->realm));
	if ((c->secret = calloc(1, sizeof(*c->secret) + n + 1)) == NULL)
		return -1;
	c->secret->len = n;
	memcpy(c->secret->data, req->secret, n);
	c->cb[0] = (sasl_callback_t){ SASL_CB_USER,
	    AUTH_CLIENT_CB(auth_client_simple), c };
	c->cb[1] = (sasl_callback_t){ SASL_CB_AUTHNAME,
	    AUTH_CLIENT_CB(auth_client_simple), c };
	c->cb[2] = (sasl_callback_t){ SASL_CB_PASS,
	    AUTH_CLIENT_CB(auth_client_secret), c };
	c->cb[3] = (sasl_callback_t){ SASL_CB_GETREALM,
	    AUTH_CLIENT_CB(auth_client_realm), c };
	c->cb[4] = (sasl_callback_t){ SASL_CB_LIST_END, NULL, NULL };
	return 0;
}

/* A fresh connection: no security layer, external SSF of the TLS. */
static int
auth_client_conn(struct auth_client *c, const struct auth_client_request *req)
{
	sasl_security_properties_t	 sp;
	sasl_ssf_t			 ext = req->tls ? req->tls_bits : 0;

	if (sasl_client_new(AUTH_CLIENT_SERVICE, req->server, NULL, NULL,
	    c->cb, 0, &c->conn) != SASL_OK)
		return -1;
	memset(&sp, 0, sizeof(sp));
	if (sasl_setprop(c->conn, SASL_SEC_PROPS, &sp) != SASL_OK ||
	    sasl_setprop(c->conn, SASL_SSF_EXTERNAL, &ext) != SASL_OK)
		return -1;
	return 0;
}

/* The server's mechanisms that M: allows, in the server's order. */
static void
auth_client_mechlist(const struct auth_client_request *req, char *buf,
    size_t size)
{
	const char	*p;
	char		 word[AUTH_MECH_MAX];
	size_t		 n;

	buf[0] = '\0';
	for (p = req->offered; *p != '\0'; p += n) {
		p += strspn(p, " ");
		if ((n = strcspn(p, " ")) == 0 || n >= sizeof(word))
			continue;
		memcpy(word, p, n);
		word[n] = '\0';
		if ((req->allowed[0] != '\0' &&
		    !config_word_in(req->allowed, word)) ||
		    config_word_in(buf, word))
			continue;
		if (buf[0] != '\0')
			(void)strlcat(buf, " ", size);
		(void)strlcat(buf, word, size);
	}
}

/* What the library said, as our answer: a line to send, or the end. */
static void
auth_client_answer(struct auth_client *c, int r, const char *out,
    unsigned outlen, struct auth_answer *a)
{
	size_t	 blen = (size_t)outlen / 3 * 4 + 8;

	if (r != SASL_OK && r != SASL_CONTINUE) {
		a->status = r == SASL_NOMEM || r == SASL_TRYAGAIN ||
		    r == SASL_UNAVAIL ? AUTH_TEMPFAIL : AUTH_FAIL;
		(void)strlcpy(a->reason, r == SASL_INTERACT ?
		    "the mechanism asks for more than the credential" :
		    sasl_errdetail(c->conn), sizeof(a->reason));
		return;
	}
	a->status = AUTH_CONTINUE;
	a->has_response = out != NULL;
	if ((a->challenge = malloc(blen)) == NULL ||
	    sasl_encode64(out != NULL ? out : "", outlen, a->challenge,
	    (unsigned)blen, NULL) != SASL_OK) {
		free(a->challenge);
		a->challenge = NULL;
		a->status = AUTH_TEMPFAIL;
		(void)strlcpy(a->reason, "cannot encode the response",
		    sizeof(a->reason));
	}
}

/* START: NULL once it ended (the answer says how). */
struct auth_client *
auth_sasl_client_start(const struct auth_client_request *req,
    struct auth_answer *a)
{
	struct auth_client	*c;
	char			 mechs[AUTH_MECHS_MAX];
	const char		*out = NULL, *mech = NULL;
	unsigned		 outlen = 0;
	int			 r;

	memset(a, 0, sizeof(*a));
	auth_client_mechlist(req, mechs, sizeof(mechs));
	if (mechs[0] == '\0') {
		a->status = AUTH_FAIL;
		(void)strlcpy(a->reason, "no mechanism in common",
		    sizeof(a->reason));
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    auth_client_credential(c, req) == -1 ||
	    auth_client_conn(c, req) == -1) {
		auth_sasl_client_free(c);
		a->status = AUTH_TEMPFAIL;
		(void)strlcpy(a->reason, "no SASL client connection",
		    sizeof(a->reason));
		return NULL;
	}
	r = sasl_client_start(c->conn, mechs, NULL, &out, &outlen, &mech);
	if (r == SASL_NOMECH) {
		a->status = AUTH_FAIL;
		(void)strlcpy(a->reason, "no mechanism in common (server and "
		    "M: allow: ", sizeof(a->reason));
		(void)strlcat(a->reason, mechs, sizeof(a->reason));
		(void)strlcat(a->reason, ")", sizeof(a->reason));
		auth_sasl_client_free(c);
		return NULL;
	}
	auth_client_answer(c, r, out, outlen, a);
	if (a->status != AUTH_CONTINUE || mech == NULL) {
		auth_sasl_client_free(c);
		return NULL;
	}
	(void)strlcpy(c->mech, mech, sizeof(c->mech));
	(void)strlcpy(a->mech, mech, sizeof(a->mech));
	return c;
}

/* STEP: the server's challenge (base64, "" empty); our response. */
void
auth_sasl_client_step(struct auth_client *c, const char *challenge,
    struct auth_answer *a)
{
	size_t		 len = strlen(challenge), size = len / 4 * 3 + 4;
	const char	*out = NULL;
	char		*in;
	unsigned	 inlen = 0, outlen = 0;
	int		 r;

	memset(a, 0, sizeof(*a));
	if ((in = malloc(size)) == NULL) {
		a->status = AUTH_TEMPFAIL;
		(void)strlcpy(a->reason, "out of memory", sizeof(a->reason));
		return;
	}
	in[0] = '\0';
	if (len > 0 && sasl_decode64(challenge, (unsigned)len, in,
	    (unsigned)size, &inlen) != SASL_OK) {
		free(in);
		a->status = AUTH_MALFORMED;
		(void)strlcpy(a->reason, "the server's challenge is not base64",
		    sizeof(a->reason));
		return;
	}
	in[inlen] = '\0';
	r = sasl_client_step(c->conn, in, inlen, NULL, &out, &outlen);
	free(in);
	auth_client_answer(c, r, out, outlen, a);
	a->has_response = 1;
}

void
auth_sasl_client_free(struct auth_client *c)
{
	if (c == NULL)
		return;
	if (c->conn != NULL)
		sasl_dispose(&c->conn);
	if (c->secret != NULL) {
		explicit_bzero(c->secret->data, c->secret->len);
		free(c->secret);
	}
	explicit_bzero(c, sizeof(*c));
	free(c);
}
