/*
 * smtpctl_explain_dnsbl.c: the DNS blocklist stage of "smtpctl explain":
 * each "dnsbl" zone, its query name for the client address, and its
 * answer and verdict, asked now of the resolver the daemon uses.
 *
 * Interface in smtpctl_explain.h.  smtpctl runs as root outside any
 * chroot, so it makes its own libunbound context (the "resolver" of the
 * config, else /etc/resolv.conf) and waits for each answer at most
 * "smtp dns-timeout", as the front end does.  The zones are taken in
 * file order and the first that decides ends the stage, as in the front
 * end (smtpd/smtp/smtp_dnsbl.c).
 *
 * Failure behaviour: a context that cannot be made, a question that
 * cannot be asked or a timeout is shown as that zone's failed lookup.
 */
#include <arpa/inet.h>

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <unbound.h>

#include "config.h"
#include "smtpctl_explain.h"

#define EXPLAIN_DNSBL_ADDRS	16

/* One answer as the front end sees it. */
struct explain_dnsbl_answer {
	int		 done;
	int		 failed;
	const char	*why;		/* failed: what happened */
	size_t		 naddr;
	uint8_t		 addr[EXPLAIN_DNSBL_ADDRS][4];
};

/* A context like the daemon's: its resolver, test. names asked. */
static struct ub_ctx *
explain_dnsbl_ctx(const struct config *cf)
{
	struct ub_ctx	*ub;
	char		 fwd[96];

	if ((ub = ub_ctx_create()) == NULL)
		return NULL;
	/* a thread, not a forked process that would flush our stdout too */
	if (ub_ctx_async(ub, 1) != 0 ||
	    ub_ctx_set_option(ub, "do-not-query-localhost:", "no") != 0 ||
	    ub_ctx_set_option(ub, "local-zone:", "test. transparent") != 0)
		goto fail;
	if (cf->resolver_set) {
		(void)snprintf(fwd, sizeof(fwd), "%s@%u", cf->resolver_addr,
		    cf->resolver_port ? cf->resolver_port : 53);
		if (ub_ctx_set_fwd(ub, fwd) != 0)
			goto fail;
	} else if (ub_ctx_resolvconf(ub, "/etc/resolv.conf") != 0)
		goto fail;
	return ub;
fail:
	ub_ctx_delete(ub);
	return NULL;
}

static void
explain_dnsbl_done(void *arg, int err, struct ub_result *res)
{
	struct explain_dnsbl_answer	*a = arg;
	size_t				 i;

	a->done = 1;
	if (err != 0 || res == NULL || (res->rcode != 0 && res->rcode != 3)) {
		a->failed = 1;
		a->why = err != 0 || res == NULL ? "resolver error" :
		    "server failure";
	} else
		for (i = 0; res->havedata && res->data[i] != NULL &&
		    a->naddr < EXPLAIN_DNSBL_ADDRS; i++)
			if (res->len[i] == 4)
				memcpy(a->addr[a->naddr++], res->data[i], 4);
	if (res != NULL)
		ub_resolve_free(res);
}

/* Ask for the A records of qname, waiting at most timeout seconds. */
static void
explain_dnsbl_ask(struct ub_ctx *ub, const char *qname, int timeout,
    struct explain_dnsbl_answer *a)
{
	struct pollfd	 pfd;
	struct timespec	 now, end;
	int		 id, ms;

	memset(a, 0, sizeof(*a));
	a->failed = 1;
	a->why = "not asked";
	if (ub == NULL || ub_resolve_async(ub, qname, 1, 1, a,
	    explain_dnsbl_done, &id) != 0)
		return;
	a->failed = 0;
	(void)clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += timeout;
	pfd.fd = ub_fd(ub);
	pfd.events = POLLIN;
	while (!a->done) {
		(void)clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (int)((end.tv_sec - now.tv_sec) * 1000 +
		    (end.tv_nsec - now.tv_nsec) / 1000000);
		if (ms <= 0 || poll(&pfd, 1, ms) == 0) {
			(void)ub_cancel(ub, id);
			a->failed = 1;
			a->why = "timeout";
			return;
		}
		(void)ub_process(ub);
	}
}

/* The answer line, and the first A record that counts (NULL: none). */
static const uint8_t *
explain_dnsbl_answer(const struct dnsbl *b,
    const struct explain_dnsbl_answer *a)
{
	const uint8_t	*hit = NULL;
	char		 line[EXPLAIN_DNSBL_ADDRS * INET_ADDRSTRLEN] = "";
	char		 one[INET_ADDRSTRLEN];
	size_t		 i;

	for (i = 0; i < a->naddr; i++) {
		if (inet_ntop(AF_INET, a->addr[i], one, sizeof(one)) == NULL)
			continue;
		(void)snprintf(line + strlen(line), sizeof(line) -
		    strlen(line), "%s%s", i > 0 ? " " : "", one);
		if (hit == NULL && config_dnsbl_listed(b, a->addr[i]))
			hit = a->addr[i];
	}
	(void)printf("DNSBL %s\tanswer\t%s\n", b->zone, line[0] != '\0' ?
	    line : "none (NXDOMAIN or no A record)");
	return hit;
}

/* One zone: 1 if it decides (reply filled), 0 if the next one is asked. */
static int
explain_dnsbl_zone(struct ub_ctx *ub, const struct config *cf,
    const struct dnsbl *b, const char *addr, struct explain_dnsbl *out)
{
	struct explain_dnsbl_answer	 a;
	char				 qname[256];
	const uint8_t			*hit;

	if (config_dnsbl_qname(addr, b->zone, qname, sizeof(qname)) == -1)
		return 0;
	(void)printf("DNSBL %s\tquery\t%s A\n", b->zone, qname);
	explain_dnsbl_ask(ub, qname, cf->smtp_dns_timeout, &a);
	if (a.failed) {
		(void)printf("DNSBL %s\tanswer\tfailed (%s)\n", b->zone, a.why);
		if (!b->tempfail) {
			(void)printf("DNSBL %s\tverdict\tignored (no "
			    "tempfail)\n", b->zone);
			return 0;
		}
		config_dnsbl_reply(b, addr, 1, out->reply, sizeof(out->reply));
		out->temp = 1;
		(void)printf("DNSBL %s\tverdict\ttempfail\n", b->zone);
		return 1;
	}
	if ((hit = explain_dnsbl_answer(b, &a)) == NULL) {
		(void)printf("DNSBL %s\tverdict\tnot listed\n", b->zone);
		return 0;
	}
	out->action = b->action;
	config_dnsbl_reply(b, addr, 0, out->reply, sizeof(out->reply));
	(void)printf("DNSBL %s\tverdict\tlisted (%u.%u.%u.%u)%s\n", b->zone,
	    hit[0], hit[1], hit[2], hit[3], b->action == DNSBL_QUARANTINE ?
	    ", quarantine" : b->action == DNSBL_DISCARD ? ", discard" : "");
	return 1;
}

int
explain_dnsbl(const struct config *cf, const char *addr,
    struct explain_dnsbl *out)
{
	const struct dnsbl	*b;
	struct ub_ctx		*ub;
	int			 decided = 0;

	memset(out, 0, sizeof(*out));
	if (TAILQ_EMPTY(&cf->dnsbls))
		return 0;
	ub = explain_dnsbl_ctx(cf);
	TAILQ_FOREACH(b, &cf->dnsbls, entry) {
		if (decided) {
			(void)printf("DNSBL %s\tskipped\tan earlier zone "
			    "decided\n", b->zone);
			continue;
		}
		decided = explain_dnsbl_zone(ub, cf, b, addr, out);
		if (decided)
			(void)strlcpy(out->zone, b->zone, sizeof(out->zone));
	}
	if (ub != NULL)
		ub_ctx_delete(ub);
	return decided;
}
