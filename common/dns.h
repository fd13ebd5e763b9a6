/*
 * dns.h: the libunbound resolver shared by the processes that ask DNS
 * questions (the front end's reverse lookups, the outbound client's MX,
 * A and AAAA lookups), and the decoding of names in rdata.
 *
 * A process keeps one struct dns_resolver.  dns_resolver_init(), before
 * the chroot, makes the system context from /etc/resolv.conf and
 * /etc/hosts (unreachable afterwards); dns_resolver_configure() switches
 * to a fresh context forwarding to "resolver ADDR port N", or back to
 * the system one.  A struct dns_query holds the current context from
 * dns_query_open() to dns_query_close(), so a context replaced by a
 * reload lives until its last query is over.
 * Answers are handed out from the event loop: ub_fd() is watched by
 * libevent and ub_process() runs when it is readable.
 */
#ifndef DNS_H
#define DNS_H

#include <stddef.h>
#include <stdint.h>

/* a name in presentation form, with its NUL */
#define DNS_NAME_MAX	256

struct config;
struct dns_ctx;
struct event;
struct ub_result;

/* libunbound's answer: its error code and result (to ub_resolve_free) */
typedef void (*dns_query_cb)(void *, int, struct ub_result *);

struct dns_resolver {
	/* made before the chroot from the system files; never freed */
	struct dns_ctx		*system;
	/* in use: the system one or one forwarding to fwd */
	struct dns_ctx		*cur;
	/* "ADDR@PORT" of the configured resolver, "" for the system's */
	char			 fwd[80];
	/* libunbound options beyond the shared ones: name, value pairs
	 * ending with NULL, given to every context this resolver makes */
	const char *const	*options;
	/* DNSSEC trust anchor text (one record a line), NULL for none:
	 * every context made from here on validates with it */
	char			*anchor;
	/* the anchor changed: the next configure makes a fresh context */
	int			 anchor_changed;
};

/* 0, or -1 if the system context cannot be made (out of memory). */
int		 dns_resolver_init(struct dns_resolver *,
		    const char *const *options);
/* 1 if the context changed, 0 if not, -1 if the new one cannot be made
 * (logged; the old one stays in use). */
int		 dns_resolver_configure(struct dns_resolver *,
		    const struct config *);

/*
 * Validate from now on with the trust anchor text (zone file records,
 * one a line; ';' starts a comment): the system context gets it now,
 * which libunbound allows only before its first query, and every
 * forwarding context the next dns_resolver_configure() makes.  0, 1 if
 * nothing changed, -1 if a record is refused or the system context has
 * already resolved (logged; it then keeps its old anchor).  libunbound
 * parses the records only at the first query, so a malformed one fails
 * the lookups then.
 */
int		 dns_resolver_anchor(struct dns_resolver *, const char *);

/*
 * One question at a time on a held context, bounded by a timer; the
 * owner embeds it in its own allocated record.
 */
struct dns_query {
	struct dns_ctx		*ctx;
	struct event		*timer;
	dns_query_cb		 cb;
	void			*arg;
	int			 async_id;
	/* asked of libunbound, neither answered nor cancelled */
	int			 running;
};

/* Hold the current context and make the timer, which calls
 * timeout(-1, EV_TIMEOUT, arg); 0, or -1 without memory. */
int		 dns_query_open(struct dns_query *, struct dns_resolver *,
		    dns_query_cb, void (*timeout)(int, short, void *),
		    void *arg);
/* Ask; the answer goes to cb(arg, ...) from the event loop, never from
 * inside this call.  -1 if libunbound refuses the question (logged). */
int		 dns_query_ask(struct dns_query *, const char *name, int type);
/* Fire the timer in seconds (0: at the next turn of the loop). */
void		 dns_query_timer(struct dns_query *, int seconds);
/* No answer wanted any more for the question asked, if any. */
void		 dns_query_cancel(struct dns_query *);
/* Cancel, free the timer and release the context. */
void		 dns_query_close(struct dns_query *);

/*
 * An uncompressed name in rdata, exactly len octets, as lowercase text
 * without the final dot ("" for the root): 0, or -1 if it is malformed
 * (a compression pointer, a label past the end, trailing octets), holds
 * an octet that is a control character, a space, '.', '\\' or not ASCII,
 * or does not fit in size (nor in DNS_NAME_MAX) with its NUL.
 */
int		 dns_name_parse(const uint8_t *, size_t, char *, size_t);

#endif
