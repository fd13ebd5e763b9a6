/*
 * smtp_client.c: how many sessions each client address has open, so that
 * one address cannot take every session slot (Postfix's
 * smtpd_client_connection_count_limit).
 *
 * Interface (smtp_session.h): smtp_client_hold() counts a new session of
 * an address, or refuses it when the address already has
 * conf->limit_sessions_per_address; smtp_client_release() uncounts it
 * when the session ends.  Addresses are the text of smtp_session.c (an
 * IPv4-mapped IPv6 address counts as its IPv4 address); an IPv6 address
 * counts on its own, not by prefix.  Counting does not depend on the
 * limit, so a reload that lowers it takes effect at once.
 *
 * Failure behaviour: an address that cannot be counted for want of
 * memory is refused like one over its limit; nothing here logs.
 */
#include <sys/tree.h>

#include <stdlib.h>
#include <string.h>

#include "proc.h"
#include "smtp_session.h"

/* One client address with sessions open. */
struct smtp_client {
	RB_ENTRY(smtp_client)	 entry;
	size_t			 sessions;
	char			 addr[INET6_ADDRSTRLEN];
};

RB_HEAD(smtp_client_tree, smtp_client);

static int	smtp_client_cmp(struct smtp_client *, struct smtp_client *);
/* libbsd leaves __unused undefined, so spell out RB_GENERATE_STATIC */
RB_GENERATE_INTERNAL(smtp_client_tree, smtp_client, entry, smtp_client_cmp,
    __attribute__((__unused__)) static)

static struct smtp_client_tree	 smtp_clients =
    RB_INITIALIZER(&smtp_clients);

static int
smtp_client_cmp(struct smtp_client *a, struct smtp_client *b)
{
	return strcmp(a->addr, b->addr);
}

static struct smtp_client *
smtp_client_find(const char *addr)
{
	struct smtp_client	 key;

	(void)strlcpy(key.addr, addr, sizeof(key.addr));
	return RB_FIND(smtp_client_tree, &smtp_clients, &key);
}

size_t
smtp_client_sessions(const char *addr)
{
	struct smtp_client	*c = smtp_client_find(addr);

	return c != NULL ? c->sessions : 0;
}

/* The limit is at least 1 (parse.y), so a new address always fits. */
int
smtp_client_hold(const char *addr)
{
	struct smtp_client	*c;

	if ((c = smtp_client_find(addr)) != NULL) {
		if (c->sessions >= conf->limit_sessions_per_address)
			return -1;
		c->sessions++;
		return 0;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	(void)strlcpy(c->addr, addr, sizeof(c->addr));
	c->sessions = 1;
	RB_INSERT(smtp_client_tree, &smtp_clients, c);
	return 0;
}

void
smtp_client_release(const char *addr)
{
	struct smtp_client	*c;

	if ((c = smtp_client_find(addr)) == NULL)
		return;
	if (--c->sessions > 0)
		return;
	RB_REMOVE(smtp_client_tree, &smtp_clients, c);
	free(c);
}
