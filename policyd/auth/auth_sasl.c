/*
 * auth_sasl.c: Cyrus SASL for smtpd-auth: the library's set-up, its
 * callbacks, the offered mechanism lists and one server exchange per
 * AUTH command.
 *
 * Interface (auth.h): auth_sasl_init() once, as root before the chroot
 * (the plugins are loaded then); auth_sasl_confined() right after it;
 * auth_sasl_mechs() computes what EHLO offers; auth_sasl_start(),
 * auth_sasl_step() and auth_sasl_free() run an exchange on its own fresh
 * sasl_conn_t, which is never used again once an exchange ended.
 *
 * The library reads no file of its own: every option it asks for comes
 * from the getopt callback below, out of smtpd.conf (password source,
 * auxprop plugin).  The sasldb is opened by the library at each lookup,
 * by the path the callback gives: the real path before the chroot, its
 * name inside the chroot (the parent chroots us to its directory) after.
 * No security layer is ever negotiated (max_ssf 0): the front end relays
 * plain lines and could not wrap a layer.
 *
 * Failure behaviour: a library that cannot start is fatal (the parent
 * restarts us); anything a client sends ends its exchange with FAIL or
 * MALFORMED, a library or password source trouble with TEMPFAIL.
 */
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sasl/sasl.h>
#include <sasl/saslutil.h>

#include "auth.h"
#include "log.h"
#include "proc.h"
#include "util.h"

/* the service name of the sasl_conn (RFC 4954 8: "smtp") */
#define AUTH_SASL_SERVICE	"smtp"

struct auth_exchange {
	sasl_conn_t	*conn;
	char		 mech[AUTH_MECH_MAX];
};

/* set once confined: from then on the sasldb is found inside the chroot */
static int	 auth_sasl_chrooted;
static char	 auth_sasl_dbpath[PATH_MAX];

/* The options the library asks for; SASL_FAIL = "not set". */
static int
auth_sasl_getopt(void *ctx, const char *plugin, const char *option,
    const char **result, unsigned *len)
{
	int	 saslauthd;

	(void)ctx;
	(void)plugin;
	if (conf == NULL)
		return SASL_FAIL;
	saslauthd = conf->auth_source == AUTH_SOURCE_SASLAUTHD;
	if (strcmp(option, "pwcheck_method") == 0)
		*result = saslauthd ? "saslauthd" : "auxprop";
	else if (strcmp(option, "auxprop_plugin") == 0 && !saslauthd)
		*result = "sasldb";
	else if (strcmp(option, "sasldb_path") == 0 && !saslauthd)
		*result = auth_sasl_dbpath;
	else if (strcmp(option, "saslauthd_path") == 0 && saslauthd)
		*result = auth_sasl_dbpath;
	else
		return SASL_FAIL;
	if (len != NULL)
		*len = (unsigned)strlen(*result);
	return SASL_OK;
}

/* The library's own messages go to our log, never to the client. */
static int
auth_sasl_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	if (level <= SASL_LOG_ERR)
		log_warnx("sasl: %s", msg);
	else if (level <= SASL_LOG_NOTE)
		log_info("sasl: %s", msg);
	else
		log_debug("sasl: %s", msg);
	return SASL_OK;
}

/* The callback table takes int (*)(void): cast through the generic type. */
#define AUTH_SASL_CB(fn)	((int (*)(void))(void (*)(void))(fn))

static const sasl_callback_t auth_sasl_callbacks[] = {
	{ SASL_CB_GETOPT, AUTH_SASL_CB(auth_sasl_getopt), NULL },
	{ SASL_CB_LOG, AUTH_SASL_CB(auth_sasl_log), NULL },
	{ SASL_CB_LIST_END, NULL, NULL }
};

/* The password source's path as the library must see it now. */
static void
auth_sasl_path_update(void)
{
	char	 buf[PATH_MAX];

	if (conf == NULL)
		return;
	if (!auth_sasl_chrooted) {
		(void)strlcpy(auth_sasl_dbpath, conf->auth_source_path,
		    sizeof(auth_sasl_dbpath));
		return;
	}
	(void)strlcpy(buf, conf->auth_source_path, sizeof(buf));
	(void)snprintf(auth_sasl_dbpath, sizeof(auth_sasl_dbpath), "/%s",
	    basename(buf));
}

void
auth_sasl_init(void)
{
	int	 r;

	if ((r = sasl_server_init(auth_sasl_callbacks, "smtpd")) != SASL_OK)
		fatalx("sasl_server_init: %s", sasl_errstring(r, NULL, NULL));
}

void
auth_sasl_confined(void)
{
	auth_sasl_chrooted = 1;
	auth_sasl_path_update();
}

/* sendmail's AuthOptions as SASL security flags (spec 8). */
static unsigned
auth_sasl_secflags(int tls)
{
	unsigned	 f = 0;
	uint32_t	 o = conf->auth_opts;

	if ((o & AUTH_OPT_PLAIN) && !tls)
		f |= SASL_SEC_NOPLAINTEXT;
	if (o & AUTH_OPT_ACTIVE)
		f |= SASL_SEC_NOACTIVE;
	if (o & AUTH_OPT_CREDS)
		f |= SASL_SEC_PASS_CREDENTIALS;
	if (o & AUTH_OPT_DICT)
		f |= SASL_SEC_NODICTIONARY;
	if (o & AUTH_OPT_FWD)
		f |= SASL_SEC_FORWARD_SECRECY;
	if (o & AUTH_OPT_MUTUAL)
		f |= SASL_SEC_MUTUAL_AUTH;
	if (o & AUTH_OPT_ANON)
		f |= SASL_SEC_NOANONYMOUS;
	return f;
}

/* A fresh server connection with the session's security properties;
 * external: the identity EXTERNAL may authenticate, or NULL. */
static sasl_conn_t *
auth_sasl_conn(int tls, uint32_t bits, const char *external)
{
	sasl_security_properties_t	 sp;
	sasl_ssf_t			 ext = tls ? bits : 0;
	sasl_conn_t			*c;

	auth_sasl_path_update();
	if (sasl_server_new(AUTH_SASL_SERVICE, conf->hostname, NULL, NULL,
	    NULL, NULL, 0, &c) != SASL_OK)
		return NULL;
	memset(&sp, 0, sizeof(sp));
	sp.security_flags = auth_sasl_secflags(tls);
	if (sasl_setprop(c, SASL_SEC_PROPS, &sp) != SASL_OK ||
	    sasl_setprop(c, SASL_SSF_EXTERNAL, &ext) != SASL_OK ||
	    (external != NULL &&
	    sasl_setprop(c, SASL_AUTH_EXTERNAL, external) != SASL_OK)) {
		sasl_dispose(&c);
		return NULL;
	}
	return c;
}

/*
 * The mechanisms EHLO offers with or without TLS: those of "auth
 * mechanisms", in its order, that the library has and the AuthOptions
 * allow.  EXTERNAL is not in these lists: the front end offers it per
 * session, to a client whose certificate verified.
 */
void
auth_sasl_mechs(int tls, char *buf, size_t size)
{
	sasl_conn_t	*c;
	const char	*avail, *p;
	char		 word[AUTH_MECH_MAX];
	size_t		 n;

	buf[0] = '\0';
	if (conf == NULL ||
	    (c = auth_sasl_conn(tls, tls ? 256 : 0, NULL)) == NULL)
		return;
	if (sasl_listmech(c, NULL, "", " ", "", &avail, NULL, NULL) !=
	    SASL_OK)
		avail = "";
	for (p = conf->auth_mechanisms; *p != '\0'; p += n) {
		p += strspn(p, " ");
		if ((n = strcspn(p, " ")) == 0 || n >= sizeof(word))
			continue;
		memcpy(word, p, n);
		word[n] = '\0';
		if (strcmp(word, "EXTERNAL") == 0 ||
		    !config_word_in(avail, word) || config_word_in(buf, word))
			continue;
		if (buf[0] != '\0')
			(void)strlcat(buf, " ", size);
		(void)strlcat(buf, word, size);
	}
	sasl_dispose(&c);
}

/* Decode a client line: "=" is the empty initial response. */
static int
auth_sasl_decode(const char *in, char **out, unsigned *outlen)
{
	size_t	 len = strlen(in);

	if ((*out = malloc(len / 4 * 3 + 4)) == NULL)
		return -1;
	**out = '\0';
	*outlen = 0;
	if (strcmp(in, "=") == 0 || len == 0)
		return 0;
	if (sasl_decode64(in, (unsigned)len, *out, (unsigned)(len / 4 * 3 + 4),
	    outlen) != SASL_OK) {
		free(*out);
		*out = NULL;
		return -2;
	}
	return 0;
}

/* Turn the library's answer into ours. */
static void
auth_sasl_answer(struct auth_exchange *x, int r, const char *out,
    unsigned outlen, struct auth_answer *a)
{
	const void	*v;
	size_t		 blen;

	memset(a, 0, sizeof(*a));
	if (r == SASL_CONTINUE) {
		blen = (size_t)outlen / 3 * 4 + 8;
		a->status = AUTH_CONTINUE;
		if ((a->challenge = malloc(blen)) == NULL ||
		    sasl_encode64(out, outlen, a->challenge, (unsigned)blen,
		    NULL) != SASL_OK) {
			free(a->challenge);
			a->challenge = NULL;
			a->status = AUTH_TEMPFAIL;
			(void)strlcpy(a->reason, "cannot encode challenge",
			    sizeof(a->reason));
		}
		return;
	}
	if (r == SASL_OK) {
		a->status = AUTH_OK;
		if (sasl_getprop(x->conn, SASL_USERNAME, &v) == SASL_OK &&
		    v != NULL)
			(void)strlcpy(a->user, v, sizeof(a->user));
		if (sasl_getprop(x->conn, SASL_SSF, &v) == SASL_OK &&
		    v != NULL)
			a->ssf = *(const sasl_ssf_t *)v;
		(void)strlcpy(a->mech, x->mech, sizeof(a->mech));
		return;
	}
	a->status = (r == SASL_TRYAGAIN || r == SASL_UNAVAIL ||
	    r == SASL_NOMEM || r == SASL_FAIL) ? AUTH_TEMPFAIL : AUTH_FAIL;
	(void)strlcpy(a->reason, sasl_errdetail(x->conn), sizeof(a->reason));
}

/* START: a new exchange; NULL once it ended (the answer says how). */
struct auth_exchange *
auth_sasl_start(const struct auth_request *req, struct auth_answer *a)
{
	struct auth_exchange	*x;
	const char		*out = NULL;
	char			*in = NULL;
	unsigned		 inlen = 0, outlen = 0;
	int			 r;

	memset(a, 0, sizeof(*a));
	if ((x = calloc(1, sizeof(*x))) == NULL ||
	    (x->conn = auth_sasl_conn(req->tls, req->tls_bits,
	    req->external[0] != '\0' ? req->external : NULL)) == NULL) {
		free(x);
		a->status = AUTH_TEMPFAIL;
		(void)strlcpy(a->reason, "no SASL connection",
		    sizeof(a->reason));
		return NULL;
	}
	(void)strlcpy(x->mech, req->mech, sizeof(x->mech));
	if (req->has_initial &&
	    (r = auth_sasl_decode(req->initial, &in, &inlen)) != 0) {
		a->status = r == -2 ? AUTH_MALFORMED : AUTH_TEMPFAIL;
		(void)strlcpy(a->reason, "initial response", sizeof(a->reason));
		auth_sasl_free(x);
		return NULL;
	}
	r = sasl_server_start(x->conn, req->mech, req->has_initial ? in : NULL,
	    inlen, &out, &outlen);
	free(in);
	auth_sasl_answer(x, r, out, outlen, a);
	if (a->status != AUTH_CONTINUE) {
		auth_sasl_free(x);
		return NULL;
	}
	return x;
}

/* STEP: the client's next line; the exchange is freed once it ended. */
void
auth_sasl_step(struct auth_exchange *x, const char *line,
    struct auth_answer *a)
{
	const char	*out = NULL;
	char		*in = NULL;
	unsigned	 inlen = 0, outlen = 0;
	int		 r;

	memset(a, 0, sizeof(*a));
	if ((r = auth_sasl_decode(line, &in, &inlen)) != 0) {
		a->status = r == -2 ? AUTH_MALFORMED : AUTH_TEMPFAIL;
		(void)strlcpy(a->reason, "response", sizeof(a->reason));
		return;
	}
	r = sasl_server_step(x->conn, in, inlen, &out, &outlen);
	free(in);
	auth_sasl_answer(x, r, out, outlen, a);
}

void
auth_sasl_free(struct auth_exchange *x)
{
	if (x == NULL)
		return;
	sasl_dispose(&x->conn);
	free(x);
}
