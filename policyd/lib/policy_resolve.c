/*
 * policy_resolve.c: what a recipient becomes (sendmail's ruleset 0 and
 * recipient(), spec 9.1-9.4): the final recipients to queue for it.
 *
 * An address whose domain is local ({w}, policy_local.c) or virtual-only
 * (virtual-domains) goes through the virtusertable (spec 9.2); what that
 * gives, or the local part if nothing matched in a local domain, is a
 * local name.  A local name goes through the aliases map: "u+d" is looked
 * up as "u+d", then "u+*", then "u"; a list is expanded item by item
 * (addresses again through all of this, one level deeper), with
 * "owner-X" as the envelope sender of the members of list X, the list's
 * own name in it delivered to the mailbox rather than expanded again,
 * and every alias expanded once per recipient.  A name that is no alias
 * must be a local user (passwd, or the local-users map).  Any other
 * domain takes its next hop from policy_route_find(): an error there
 * (mailertable error:, a hop that is this host) fails the address, and
 * mailertable "local:" makes it local.
 *
 * The result is a list of targets: remote addresses, mailboxes
 * ("user" or "user+detail"), programs ("|cmd"), files ("/path"),
 * includes (":include:/path"), and failed members (with the reply that
 * names why), duplicates dropped.  Failed members are bounced by the
 * queue; a recipient with nothing but failures is refused at RCPT with
 * the first failure.  Limits: `limit alias-depth` levels (sendmail's
 * "aliasing/forwarding loop broken") and `limit alias-expansion` targets.
 *
 * A map that fails makes the whole answer TMPF; a local-user lookup that
 * is under way (policyd asks the parent) makes it PENDING: the caller asks
 * again when the answer is in.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "log.h"
#include "mailaddr.h"
#include "util.h"
#include "policy.h"

#define MAP_VIRTUSER	"virtusertable"
#define MAP_ALIASES	"aliases"
#define MAP_LOCALUSERS	"local-users"

/* one resolution */
struct resolve {
	const struct policy_env	*env;
	struct policy_targets	*out;
	const char		*top;		/* the recipient as given */
	/* what the parse step learned of top; NULL once used */
	const struct policy_parsed *parsed;
	char			**expanded;	/* alias names done */
	size_t			 nexpanded;
	size_t			 capexpanded;
	size_t			 depth_max;
	size_t			 targets_max;
	int			 status;	/* POLICY_RESOLVE_* */
	int			 toomany;
	/* the items of a .forward: its user named in it is the mailbox */
	int			 forward;
};

static void	resolve_address(struct resolve *, const char *, size_t,
		    const char *);
static void	resolve_local(struct resolve *, const char *, size_t,
		    const char *, const char *);

void
policy_targets_free(struct policy_targets *ts)
{
	size_t	 i;

	for (i = 0; i < ts->n; i++) {
		free(ts->t[i].value);
		free(ts->t[i].sender);
		free(ts->t[i].error);
	}
	free(ts->t);
	memset(ts, 0, sizeof(*ts));
}

const char *
policy_target_kind_name(uint32_t kind)
{
	switch (kind) {
	case TARGET_REMOTE:
		return "remote";
	case TARGET_MAILBOX:
		return "mailbox";
	case TARGET_PROGRAM:
		return "program";
	case TARGET_FILE:
		return "file";
	case TARGET_INCLUDE:
		return "include";
	default:
		return "error";
	}
}

static void
resolve_fail(struct resolve *rs, int status)
{
	if (rs->status == POLICY_RESOLVE_OK ||
	    (rs->status == POLICY_RESOLVE_PENDING &&
	    status == POLICY_RESOLVE_TMPF))
		rs->status = status;
}

static int
resolve_same(const struct policy_target *t, uint32_t kind, const char *value)
{
	if (t->kind != kind)
		return 0;
	/* "\\user" and "user" are one mailbox: the first one found wins */
	if (kind == TARGET_MAILBOX)
		return strcasecmp(t->value + (t->value[0] == '\\'),
		    value + (value[0] == '\\')) == 0;
	if (kind == TARGET_REMOTE || kind == TARGET_ERROR)
		return strcasecmp(t->value, value) == 0;
	return strcmp(t->value, value) == 0;
}

/*
 * The address a failed target is queued (and bounced) as: addr, else
 * addr qualified with the host name, else the recipient as given,
 * qualified too if need be: always a mailbox, as the front end and the
 * queue check.
 */
static void
resolve_error_addr(struct resolve *rs, const char *addr, char *out,
    size_t outlen)
{
	const char	*try[2] = { addr, rs->top };
	const char	*host = rs->env->hostname != NULL &&
			    rs->env->hostname[0] != '\0' ? rs->env->hostname :
			    "localhost";
	size_t		 i;
	int		 n;

	for (i = 0; i < 2; i++) {
		if (try[i] == NULL)
			continue;
		if (mailaddr_mailbox_valid(try[i])) {
			(void)strlcpy(out, try[i], outlen);
			return;
		}
		n = snprintf(out, outlen, "%s@%s", try[i], host);
		if (n > 0 && (size_t)n < outlen && strchr(try[i], '@') == NULL &&
		    mailaddr_mailbox_valid(out))
			return;
	}
	(void)snprintf(out, outlen, "postmaster@%s", host);
}

/*
 * Add a target unless the same one is in already.  What a map produced
 * that the front end and the queue would refuse (an address that is no
 * mailbox, an owner that is none) never leaves policyd: the target fails
 * instead, or goes without the owner, since a peer's refusal of our
 * answer would be taken as a broken policyd.
 */
static void
resolve_target(struct resolve *rs, uint32_t kind, const char *value,
    const char *sender, const char *error)
{
	struct policy_targets	*ts = rs->out;
	struct policy_target	*t;
	char			 fixed[POLICY_PATH_MAX];
	char			 line[POLICY_TEXT_MAX];
	size_t			 i, cap;

	if (sender != NULL && sender[0] != '\0' &&
	    !mailaddr_mailbox_valid(sender)) {
		log_warnx("alias owner <%s> is no mailbox; not used", sender);
		sender = NULL;
	}
	if (kind != TARGET_ERROR && !mailaddr_target_valid(kind, value)) {
		resolve_error_addr(rs, NULL, fixed, sizeof(fixed));
		(void)snprintf(line, sizeof(line), "553 5.1.3 <%s>... "
		    "Resolves to an invalid recipient", fixed);
		policy_env_step(rs->env, "resolve: %s %s is not a valid "
		    "recipient", policy_target_kind_name(kind), value);
		kind = TARGET_ERROR;
		value = fixed;
		error = line;
	} else if (kind == TARGET_ERROR && !mailaddr_mailbox_valid(value)) {
		resolve_error_addr(rs, value, fixed, sizeof(fixed));
		value = fixed;
	}
	for (i = 0; i < ts->n; i++)
		if (resolve_same(&ts->t[i], kind, value)) {
			policy_env_step(rs->env, "resolve: %s %s is a duplicate",
			    policy_target_kind_name(kind), value);
			return;
		}
	if (ts->n == rs->targets_max) {
		rs->toomany = 1;
		return;
	}
	if (ts->n == ts->cap) {
		cap = ts->cap ? ts->cap * 2 : 4;
		if ((t = reallocarray(ts->t, cap, sizeof(*t))) == NULL) {
			resolve_fail(rs, POLICY_RESOLVE_TMPF);
			return;
		}
		ts->t = t;
		ts->cap = cap;
	}
	t = &ts->t[ts->n];
	t->kind = kind;
	t->value = strdup(value);
	t->sender = strdup(sender != NULL ? sender : "");
	t->error = strdup(error != NULL ? error : "");
	if (t->value == NULL || t->sender == NULL || t->error == NULL) {
		free(t->value);
		free(t->sender);
		free(t->error);
		resolve_fail(rs, POLICY_RESOLVE_TMPF);
		return;
	}
	ts->n++;
	policy_env_step(rs->env, "resolve: final %s %s%s%s%s%s",
	    policy_target_kind_name(kind), value,
	    sender != NULL && sender[0] != '\0' ? ", sender " : "",
	    sender != NULL ? sender : "", error != NULL && error[0] != '\0' ?
	    ": " : "", error != NULL ? error : "");
}

/*
 * A failed member addr: bounced later, or the RCPT's reply if nothing
 * else is left.  The reply names mailbox (NULL: no "<addr>... ").
 */
static void
resolve_error(struct resolve *rs, const char *addr, const char *mailbox,
    const char *sender, uint32_t code, const char *enhanced, const char *text)
{
	struct policy_result	 r;
	char			 line[POLICY_TEXT_MAX + 32];

	char			 enh[POLICY_ENH_MAX];

	if (code < 400 || code > 599)
		code = 550;
	/* the queue bounces or retries by the class: keep the two alike */
	if (enhanced[0] != (char)('0' + code / 100) || enhanced[1] != '.')
		(void)snprintf(enh, sizeof(enh), "%u.0.0", code / 100);
	else
		(void)strlcpy(enh, enhanced, sizeof(enh));
	memset(&r, 0, sizeof(r));
	policy_result_reply(&r, mailbox, code, enh, text);
	/* the front end takes a reply line of at most 400 octets */
	(void)snprintf(line, sizeof(line), "%u %s %.380s", r.code, r.enhanced,
	    r.text);
	resolve_target(rs, TARGET_ERROR, addr, sender, line);
}

/* A map's right-hand side "error:..." (spec 2.1) as a failed member. */
static void
resolve_error_rhs(struct resolve *rs, const char *addr, const char *sender,
    const char *body)
{
	char		 enh[POLICY_ENH_MAX], text[POLICY_TEXT_MAX];
	uint32_t	 code;

	(void)policy_reply_parse(body, 1, &code, enh, sizeof(enh), text,
	    sizeof(text));
	resolve_error(rs, addr, addr, sender, code, enh, text);
}

/*
 * The virtusertable probes of spec 9.2 for local@domain: 1 and the
 * substituted value in out, 0 if none matched, -1 TMPF.
 */
static int
resolve_virtuser_find(const struct policy_env *env, const char *local,
    const char *domain, char *out, size_t outlen)
{
	char		 user[POLICY_PATH_MAX], detail[POLICY_PATH_MAX];
	char		 plus[POLICY_PATH_MAX + 1], key[POLICY_KEY_MAX + 2];
	char		 value[POLICY_VALUE_MAX + 1];
	const char	*fmt[7], *s1[7], *p, *args[3];
	size_t		 i, n = 0;
	int		 r, hasplus;

	p = strchr(local, '+');
	hasplus = p != NULL;
	(void)snprintf(user, sizeof(user), "%.*s", hasplus ?
	    (int)(p - local) : (int)strlen(local), local);
	(void)strlcpy(detail, hasplus ? p + 1 : "", sizeof(detail));
	(void)snprintf(plus, sizeof(plus), "%s%s", hasplus ? "+" : "",
	    detail);
	if (hasplus) {
		fmt[n] = "%s@%s", s1[n++] = local;
		if (detail[0] != '\0')
			fmt[n] = "%s++@%s", s1[n++] = user;
		fmt[n] = "%s+*@%s", s1[n++] = user;
	}
	fmt[n] = "%s@%s", s1[n++] = user;
	if (hasplus) {
		if (detail[0] != '\0')
			fmt[n] = "++@%s", s1[n++] = user;
		fmt[n] = "+*@%s", s1[n++] = user;
	}
	fmt[n] = "@%s", s1[n++] = user;
	for (i = 0; i < n; i++) {
		if (fmt[i][0] == '%')
			(void)snprintf(key, sizeof(key), fmt[i],
			    i == 0 ? local : user, domain);
		else
			(void)snprintf(key, sizeof(key), fmt[i], domain);
		text_lower(key);
		r = policy_env_lookup(env, MAP_VIRTUSER, key, value,
		    sizeof(value));
		if (r == POLICY_DB_TMPF)
			return -1;
		if (r != POLICY_DB_FOUND)
			continue;
		if (strncasecmp(value, "error:", 6) == 0) {
			(void)strlcpy(out, value, outlen);
			return 1;
		}
		args[0] = s1[i];
		args[1] = detail;
		args[2] = plus;
		if (policy_value_subst(value, args, 3, out, outlen) == -1) {
			(void)snprintf(out, outlen, "error:4.3.5:451 "
			    "virtusertable entry %.200s does not expand", key);
			return 1;
		}
		return 1;
	}
	return 0;
}

/* "loop broken" once the level is past the limit; 1 if so. */
static int
resolve_too_deep(struct resolve *rs, const char *addr, size_t depth,
    const char *sender)
{
	char	 text[128];

	if (depth <= rs->depth_max)
		return 0;
	(void)snprintf(text, sizeof(text), "aliasing/forwarding loop broken "
	    "(%zu aliases deep; %zu max)", depth, rs->depth_max);
	policy_env_step(rs->env, "resolve: <%s> is %zu levels deep: %s", addr,
	    depth, text);
	resolve_error(rs, addr, NULL, sender, 554, "5.4.6", text);
	return 1;
}

/* An address in a virtual-only or local domain. */
static void
resolve_virtual(struct resolve *rs, const char *addr, const char *local,
    const char *domain, int islocal, size_t depth, const char *sender)
{
	char	 to[POLICY_PATH_MAX];
	int	 r;

	policy_env_step(rs->env, "resolve: <%s>: %s domain, virtusertable",
	    addr, islocal ? "local" : "virtual");
	if (addr == rs->top && rs->parsed != NULL &&
	    rs->parsed->virtuser != -1) {
		/* looked up before check_rcpt already */
		r = rs->parsed->virtuser;
		(void)strlcpy(to, rs->parsed->to, sizeof(to));
	} else
		r = resolve_virtuser_find(rs->env, local, domain, to,
		    sizeof(to));
	rs->parsed = NULL;
	if (r == -1) {
		resolve_fail(rs, POLICY_RESOLVE_TMPF);
		return;
	}
	if (r == 0) {
		if (islocal) {
			resolve_local(rs, local, depth, sender, addr);
			return;
		}
		policy_env_step(rs->env, "resolve: no virtusertable entry for "
		    "<%s> in a virtual domain", addr);
		resolve_error(rs, addr, addr, sender, 550, "5.1.1",
		    "User unknown");
		return;
	}
	policy_env_step(rs->env, "resolve: virtusertable gives %s", to);
	if (strncasecmp(to, "error:", 6) == 0) {
		resolve_error_rhs(rs, addr, sender, to + 6);
		return;
	}
	if (strchr(to, '@') == NULL) {
		resolve_local(rs, to, depth + 1, sender, addr);
		return;
	}
	resolve_address(rs, to, depth + 1, sender);
}

/* An address in a domain that is not ours: its route decides. */
static void
resolve_remote(struct resolve *rs, const char *addr, const char *local,
    const char *domain, size_t depth, const char *sender)
{
	struct policy_route	 rt;
	char			 enh[POLICY_ENH_MAX];
	size_t			 n;

	policy_route_find(rs->env, rs->env->cf, domain, &rt);
	switch (rt.kind) {
	case ROUTE_ERROR:
		policy_env_step(rs->env, "resolve: the route of %s is an "
		    "error: %u %s", domain, rt.code, rt.text);
		if (rt.code / 100 == 4 && strncmp(rt.text, "4.3.0", 5) == 0) {
			resolve_fail(rs, POLICY_RESOLVE_TMPF);
			return;
		}
		/* rt.text is "D.S.N text" */
		n = strcspn(rt.text, " ");
		(void)snprintf(enh, sizeof(enh), "%.*s", (int)n, rt.text);
		resolve_error(rs, addr, addr, sender, rt.code, enh,
		    rt.text[n] == ' ' ? rt.text + n + 1 : "");
		return;
	case ROUTE_LOCAL:
		policy_env_step(rs->env, "resolve: mailertable sends <%s> to "
		    "the local mailer%s%s", addr, rt.user[0] != '\0' ?
		    " as " : "", rt.user);
		resolve_local(rs, rt.user[0] != '\0' ? rt.user : local,
		    depth, sender, addr);
		return;
	default:
		resolve_target(rs, TARGET_REMOTE, addr, sender, NULL);
		return;
	}
}

/*
 * sendmail's FEATURE(redirect): an alias to new@where.REDIRECT is the
 * answer "551 User has moved; please try <new@where>".  1 if addr was
 * such an address, made a failed member.
 */
static int
resolve_redirect(struct resolve *rs, const char *addr, const char *sender)
{
	char		 text[POLICY_TEXT_MAX];
	size_t		 n = strlen(addr), sfx = sizeof(".REDIRECT") - 1;
	const char	*at = strrchr(addr, '@');

	if (at == NULL || n <= sfx || (size_t)(at - addr) + 1 >= n - sfx ||
	    strcasecmp(addr + n - sfx, ".REDIRECT") != 0)
		return 0;
	(void)snprintf(text, sizeof(text), "User has moved; please try <%.*s>",
	    (int)(n - sfx), addr);
	policy_env_step(rs->env, "resolve: <%s> is a redirection", addr);
	resolve_error(rs, addr, rs->top != NULL ? rs->top : addr, sender, 551,
	    "5.1.1", text);
	return 1;
}

static void
resolve_address(struct resolve *rs, const char *addr, size_t depth,
    const char *sender)
{
	char		 local[POLICY_PATH_MAX], dom[POLICY_NAME_MAX];
	const char	*domain;
	int		 islocal, isvirtual = 0;

	if (resolve_too_deep(rs, addr, depth, sender) ||
	    resolve_redirect(rs, addr, sender))
		return;
	policy_mailbox_split(addr, local, sizeof(local), &domain);
	if (domain[0] == '\0') {
		resolve_local(rs, local, depth, sender, addr);
		return;
	}
	(void)strlcpy(dom, domain, sizeof(dom));
	text_lower(dom);
	if ((islocal = policy_domain_local(rs->env, dom)) == 0)
		isvirtual = policy_domain_virtual(rs->env, dom);
	if (islocal == -1 || isvirtual == -1) {
		resolve_fail(rs, POLICY_RESOLVE_TMPF);
		return;
	}
	if (islocal || isvirtual)
		resolve_virtual(rs, addr, local, dom, islocal, depth, sender);
	else
		resolve_remote(rs, addr, local, dom, depth, sender);
}

/* Is name a local user?  1, 0, or a POLICY_USER_* failure. */
static int
resolve_user_exists(struct resolve *rs, const char *user)
{
	const struct policy_env	*env = rs->env;
	int			 r;

	if (env->cf != NULL && env->cf->local_users == LOCAL_USERS_MAP) {
		r = policy_env_lookup(env, MAP_LOCALUSERS, user, NULL, 0);
		return r == POLICY_DB_TMPF ? POLICY_USER_TMPF :
		    r == POLICY_DB_FOUND;
	}
	if (env->user_exists == NULL)
		return POLICY_USER_TMPF;
	return env->user_exists(env->user_arg, user);
}

/* 1 if the alias name was expanded before in this resolution. */
static int
resolve_expanded(struct resolve *rs, const char *name)
{
	char	**p;
	size_t	  i, cap;

	for (i = 0; i < rs->nexpanded; i++)
		if (strcmp(rs->expanded[i], name) == 0)
			return 1;
	if (rs->nexpanded == rs->capexpanded) {
		cap = rs->capexpanded ? rs->capexpanded * 2 : 8;
		if ((p = reallocarray(rs->expanded, cap, sizeof(*p))) == NULL) {
			resolve_fail(rs, POLICY_RESOLVE_TMPF);
			return 1;
		}
		rs->expanded = p;
		rs->capexpanded = cap;
	}
	if ((rs->expanded[rs->nexpanded] = strdup(name)) == NULL) {
		resolve_fail(rs, POLICY_RESOLVE_TMPF);
		return 1;
	}
	rs->nexpanded++;
	return 0;
}

/* "name@hostname" for logs, DSNs and the envelope sender of a list. */
static void
resolve_qualify(const struct policy_env *env, const char *name, char *out,
    size_t outlen)
{
	int	 n;

	n = snprintf(out, outlen, "%s@%s", name, env->hostname != NULL &&
	    env->hostname[0] != '\0' ? env->hostname : "localhost");
	if (n < 0 || (size_t)n >= outlen)
		(void)strlcpy(out, name, outlen);
}

/* The mailbox of a name that is no alias: a user, postmaster, or none. */
static void
resolve_mailbox(struct resolve *rs, const char *name, const char *user,
    const char *sender, const char *addr)
{
	char	 full[POLICY_PATH_MAX];
	int	 r;

	if (strcmp(user, "postmaster") == 0) {
		policy_env_step(rs->env, "resolve: postmaster has no alias: "
		    "root's mailbox");
		resolve_target(rs, TARGET_MAILBOX, "root", sender, NULL);
		return;
	}
	r = resolve_user_exists(rs, user);
	policy_env_step(rs->env, "resolve: local user %s: %s", user,
	    r == 1 ? "exists" : r == 0 ? "unknown" : r == POLICY_USER_PENDING ?
	    "being looked up" : "lookup failed");
	if (r == POLICY_USER_PENDING) {
		resolve_fail(rs, POLICY_RESOLVE_PENDING);
		return;
	}
	if (r < 0) {
		resolve_fail(rs, POLICY_RESOLVE_TMPF);
		return;
	}
	if (r == 1) {
		if (name[0] != '\\')
			policy_env_step(rs->env, "resolve: %s: its ~/.forward, "
			    "if it has one, is read at delivery", user);
		resolve_target(rs, TARGET_MAILBOX, name, sender, NULL);
		return;
	}
	if (strchr(addr, '@') != NULL)
		(void)strlcpy(full, addr, sizeof(full));
	else
		resolve_qualify(rs->env, addr, full, sizeof(full));
	resolve_error(rs, full, full, sender, 550, "5.1.1", "User unknown");
}

/*
 * 1 if an address item of list name is the list itself: "name", or
 * "name@" a local domain.
 */
static int
resolve_is_self(struct resolve *rs, const char *name, const char *item)
{
	char		 local[POLICY_PATH_MAX], dom[POLICY_NAME_MAX];
	const char	*domain;

	if (name[0] == '\0')
		return 0;
	policy_mailbox_split(item, local, sizeof(local), &domain);
	text_lower(local);
	if (strcmp(local, name) != 0)
		return 0;
	if (domain[0] == '\0')
		return 1;
	(void)strlcpy(dom, domain, sizeof(dom));
	text_lower(dom);
	return policy_domain_local(rs->env, dom) == 1;
}

/* One item of the list of alias name, at depth. */
static void
resolve_item(struct resolve *rs, const char *name,
    const struct policy_alias_item *it, size_t depth, const char *sender)
{
	char	 v[POLICY_PATH_MAX + 16];

	switch (it->kind) {
	case POLICY_ALIAS_PROGRAM:
		(void)snprintf(v, sizeof(v), "|%s", it->value);
		resolve_target(rs, TARGET_PROGRAM, v, sender, NULL);
		return;
	case POLICY_ALIAS_FILE:
		resolve_target(rs, TARGET_FILE, it->value, sender, NULL);
		return;
	case POLICY_ALIAS_INCLUDE:
		(void)snprintf(v, sizeof(v), ":include:%s", it->value);
		resolve_target(rs, TARGET_INCLUDE, v, sender, NULL);
		return;
	default:
		break;
	}
	if (it->value[0] == '\\') {
		/* sendmail's "\\user": that mailbox, neither aliased nor
		 * forwarded again; the backslash stays as the mark */
		(void)strlcpy(v, it->value, sizeof(v));
		text_lower(v);
		policy_env_step(rs->env, "resolve: %s: the mailbox, not "
		    "aliased", v);
		resolve_mailbox(rs, v, v + 1, sender, v + 1);
		return;
	}
	if (resolve_is_self(rs, name, it->value)) {
		/* the list names itself: its own mailbox, not again; a
		 * .forward's user so named is not forwarded again either */
		policy_env_step(rs->env, "resolve: %s %s names itself: its "
		    "mailbox", rs->forward ? "the .forward of" : "alias", name);
		(void)snprintf(v, sizeof(v), "%s%s", rs->forward ? "\\" : "",
		    name);
		resolve_mailbox(rs, v, name, sender, name);
		return;
	}
	resolve_address(rs, it->value, depth, sender);
}

/* Expand the list value of alias name; its members are one level down. */
static void
resolve_list(struct resolve *rs, const char *name, const char *value,
    size_t depth, const char *sender)
{
	struct policy_alias_item	 it;
	char				 owner[POLICY_PATH_MAX];
	char				 okey[POLICY_PATH_MAX];
	const char			*cursor = value, *why;
	int				 r;

	(void)snprintf(okey, sizeof(okey), "owner-%s", name);
	r = policy_env_lookup(rs->env, MAP_ALIASES, okey, NULL, 0);
	if (r == POLICY_DB_TMPF) {
		resolve_fail(rs, POLICY_RESOLVE_TMPF);
		return;
	}
	if (r == POLICY_DB_FOUND) {
		resolve_qualify(rs->env, okey, owner, sizeof(owner));
		sender = owner;
		policy_env_step(rs->env, "resolve: list %s has an owner: "
		    "sender %s", name, owner);
	}
	while (rs->status == POLICY_RESOLVE_OK && !rs->toomany &&
	    (r = policy_alias_next(&cursor, &it, &why)) == 1)
		resolve_item(rs, name, &it, depth + 1, sender);
	if (r == -1) {
		log_warnx("aliases %s: %s: entry ignored from there on", name,
		    why);
		policy_env_step(rs->env, "resolve: alias %s is malformed (%s)",
		    name, why);
	}
}

/*
 * A local name (from a local domain's local part, a virtusertable value
 * or an alias list): aliases "u+d", "u+*", "u", else the mailbox of u.
 */
static void
resolve_local(struct resolve *rs, const char *local, size_t depth,
    const char *sender, const char *addr)
{
	char		 name[POLICY_PATH_MAX], user[POLICY_PATH_MAX];
	char		 key[POLICY_PATH_MAX + 2], *value;
	const char	*keys[3], *plus, *why;
	size_t		 i, n = 0;
	int		 r = POLICY_DB_NOTFOUND;

	if (resolve_too_deep(rs, addr, depth, sender))
		return;
	if (policy_alias_name(local, strlen(local), name, sizeof(name),
	    &why) == -1) {
		resolve_error(rs, addr, addr, sender, 553, "5.1.3", why);
		return;
	}
	plus = strchr(name, '+');
	(void)snprintf(user, sizeof(user), "%.*s", plus != NULL ?
	    (int)(plus - name) : (int)strlen(name), name);
	(void)snprintf(key, sizeof(key), "%s+*", user);
	keys[n++] = name;
	if (plus != NULL) {
		keys[n++] = key;
		keys[n++] = user;
	}
	if ((value = malloc(POLICY_ALIAS_VALUE_MAX + 1)) == NULL) {
		resolve_fail(rs, POLICY_RESOLVE_TMPF);
		return;
	}
	for (i = 0; i < n; i++) {
		r = policy_env_lookup(rs->env, MAP_ALIASES, keys[i], value,
		    POLICY_ALIAS_VALUE_MAX + 1);
		if (r != POLICY_DB_NOTFOUND)
			break;
	}
	if (r == POLICY_DB_TMPF)
		resolve_fail(rs, POLICY_RESOLVE_TMPF);
	else if (r == POLICY_DB_FOUND) {
		if (resolve_expanded(rs, keys[i]))
			policy_env_step(rs->env, "resolve: alias %s was "
			    "expanded already", keys[i]);
		else {
			policy_env_step(rs->env, "resolve: alias %s (level "
			    "%zu): %s", keys[i], depth, value);
			resolve_list(rs, keys[i], value, depth, sender);
		}
	} else
		resolve_mailbox(rs, name, user, sender, addr);
	free(value);
}

/*
 * The ruleset 0 part, before check_rcpt (spec 9.1, 9.2): a virtusertable
 * "error:" value, an unknown user of a virtual-only domain, or a route
 * error refuses the recipient at once.  1 if res was set, 0 if not, -1
 * TMPF.  *pp keeps what policy_resolve() then need not ask again: that
 * the recipient is remote and goes out as it is, or the virtusertable's
 * answer.
 */
int
policy_resolve_parse(const struct policy_env *env, const char *rcpt,
    struct policy_result *res, struct policy_parsed *pp)
{
	struct policy_targets	 ts;
	struct resolve		 rs;
	char			 local[POLICY_PATH_MAX], dom[POLICY_NAME_MAX];
	const char		*domain;
	int			 islocal, isvirtual = 0, r;

	pp->remote = 0;
	pp->virtuser = -1;
	pp->to[0] = '\0';
	policy_mailbox_split(rcpt, local, sizeof(local), &domain);
	if (domain[0] == '\0')
		return 0;
	(void)strlcpy(dom, domain, sizeof(dom));
	text_lower(dom);
	if ((islocal = policy_domain_local(env, dom)) == 0)
		isvirtual = policy_domain_virtual(env, dom);
	if (islocal == -1 || isvirtual == -1)
		return -1;
	memset(&ts, 0, sizeof(ts));
	memset(&rs, 0, sizeof(rs));
	rs.env = env;
	rs.out = &ts;
	rs.targets_max = 1;
	if (islocal || isvirtual) {
		if ((r = resolve_virtuser_find(env, local, dom, pp->to,
		    sizeof(pp->to))) == -1)
			return -1;
		pp->virtuser = r;
		if (r == 1 && strncasecmp(pp->to, "error:", 6) == 0)
			resolve_error_rhs(&rs, rcpt, NULL, pp->to + 6);
		else if (r == 0 && !islocal)
			resolve_error(&rs, rcpt, rcpt, NULL, 550, "5.1.1",
			    "User unknown");
	} else {
		struct policy_route	 rt;

		policy_route_find(env, env->cf, dom, &rt);
		if (rt.kind == ROUTE_ERROR)
			resolve_remote(&rs, rcpt, local, dom, 0, NULL);
		pp->remote = rt.kind == ROUTE_MX || rt.kind == ROUTE_HOST;
	}
	r = rs.status == POLICY_RESOLVE_TMPF ? -1 : 0;
	if (r == 0 && ts.n == 1 && ts.t[0].kind == TARGET_ERROR) {
		policy_target_reply(&ts.t[0], rcpt, res);
		r = 1;
	}
	policy_targets_free(&ts);
	return r;
}

/* The end of a resolution: its status, and no targets unless it is OK. */
static int
resolve_finish(struct resolve *rs)
{
	size_t	 i;

	for (i = 0; i < rs->nexpanded; i++)
		free(rs->expanded[i]);
	free(rs->expanded);
	if (rs->status == POLICY_RESOLVE_OK && rs->toomany)
		rs->status = POLICY_RESOLVE_TOOMANY;
	if (rs->status != POLICY_RESOLVE_OK)
		policy_targets_free(rs->out);
	return rs->status;
}

/*
 * The reply line of a failed target as the refusal of the recipient
 * mailbox as given (an alias's members are not named to the client).
 */
void
policy_target_reply(const struct policy_target *t, const char *mailbox,
    struct policy_result *res)
{
	const char	*p = t->error, *q;
	char		 enh[POLICY_ENH_MAX];
	uint32_t	 code = 0;
	size_t		 n;

	while (*p >= '0' && *p <= '9' && code < 1000)
		code = code * 10 + (uint32_t)(*p++ - '0');
	if (*p == ' ')
		p++;
	n = strcspn(p, " ");
	(void)snprintf(enh, sizeof(enh), "%.*s", (int)n, p);
	p += n;
	if (*p == ' ')
		p++;
	if (*p == '<' && (q = strstr(p, ">... ")) != NULL)
		p = q + 5;
	policy_result_reply(res, mailbox, code, enh, p);
}

int
policy_resolve(const struct policy_env *env, const char *rcpt,
    const struct policy_parsed *pp, struct policy_targets *out)
{
	struct resolve	 rs;

	memset(out, 0, sizeof(*out));
	memset(&rs, 0, sizeof(rs));
	rs.env = env;
	rs.out = out;
	rs.top = rcpt;
	rs.depth_max = env->cf != NULL ? env->cf->limit_alias_depth : 10;
	rs.targets_max = env->cf != NULL ? env->cf->limit_alias_expansion :
	    1000;
	rs.parsed = pp;
	if (pp != NULL && pp->remote) {
		policy_env_step(env, "resolve: <%s> is remote and goes out as "
		    "it is", rcpt);
		resolve_target(&rs, TARGET_REMOTE, rcpt, NULL, NULL);
	} else if (strchr(rcpt, '@') == NULL)
		resolve_local(&rs, rcpt, 0, NULL, rcpt);
	else
		resolve_address(&rs, rcpt, 0, NULL);
	return resolve_finish(&rs);
}

/*
 * The text of a .forward or :include: file as one alias list: its lines
 * joined with commas, blank lines and '#' comment lines left out (and a
 * comma that ends a line, as in a list split over lines).  -1 if it has
 * a control octet (a file that is no list of addresses).
 */
static int
resolve_file_list(const char *text, char *out, size_t outlen)
{
	const char	*p = text, *eol;
	size_t		 n = 0, len;

	for (; *p != '\0'; p = *eol == '\0' ? eol : eol + 1) {
		eol = p + strcspn(p, "\n");
		while (p < eol && (*p == ' ' || *p == '\t'))
			p++;
		len = (size_t)(eol - p);
		while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == ' ' ||
		    p[len - 1] == '\t' || p[len - 1] == ','))
			len--;
		if (len == 0 || *p == '#')
			continue;
		if (n + len + 3 > outlen)
			return -1;
		if (n > 0) {
			out[n++] = ',';
			out[n++] = ' ';
		}
		memcpy(out + n, p, len);
		n += len;
	}
	out[n] = '\0';
	for (p = out; *p != '\0'; p++)
		if ((unsigned char)*p < ' ' && *p != '\t')
			return -1;
	return 0;
}

/*
 * The items of a .forward (self: its user) or of an :include: file (self
 * ""), named by source for the log, found depth levels down: what each
 * item becomes, as for an alias list.  An item naming the .forward's own
 * user is that user's mailbox, with the mark that keeps its .forward from
 * being read again ("\\user").  A file that is no list fails as a whole.
 */
int
policy_resolve_expand(const struct policy_env *env, const char *self,
    const char *source, const char *text, size_t depth,
    struct policy_targets *out)
{
	struct policy_alias_item	 it;
	struct resolve			 rs;
	char				 top[POLICY_PATH_MAX], line[256];
	char				*list;
	const char			*cursor, *why;
	int				 r = 0;

	memset(out, 0, sizeof(*out));
	memset(&rs, 0, sizeof(rs));
	rs.env = env;
	rs.out = out;
	rs.forward = self[0] != '\0';
	if (rs.forward) {
		resolve_qualify(env, self, top, sizeof(top));
		rs.top = top;
	}
	rs.depth_max = env->cf != NULL ? env->cf->limit_alias_depth : 10;
	rs.targets_max = env->cf != NULL ? env->cf->limit_alias_expansion :
	    1000;
	if ((list = malloc(POLICY_ALIAS_VALUE_MAX + 2)) == NULL)
		return POLICY_RESOLVE_TMPF;
	policy_env_step(env, "resolve: %s (level %zu)", source, depth);
	if (resolve_too_deep(&rs, rs.top != NULL ? rs.top : source, depth,
	    NULL))
		goto done;
	if (resolve_file_list(text, list, POLICY_ALIAS_VALUE_MAX + 2) == -1) {
		log_warnx("%s: not a list of addresses; not used", source);
		(void)snprintf(line, sizeof(line), "%.200s is not a list of "
		    "addresses", source);
		resolve_error(&rs, rs.top != NULL ? rs.top : source, NULL, NULL,
		    554, "5.3.0", line);
		goto done;
	}
	cursor = list;
	while (rs.status == POLICY_RESOLVE_OK && !rs.toomany &&
	    (r = policy_alias_next(&cursor, &it, &why)) == 1)
		resolve_item(&rs, self, &it, depth, NULL);
	if (r == -1) {
		log_warnx("%s: %s: ignored from there on", source, why);
		policy_env_step(env, "resolve: %s is malformed (%s)", source,
		    why);
	}
done:
	free(list);
	return resolve_finish(&rs);
}
