/*
 * policyd.h: smtpd-policyd's files beside its main file.
 *
 *   policyd_user.c	the system's users, asked of the parent and kept
 *			a short while (`local users passwd`)
 *   policyd_resolve.c	the queue's questions: a DSN's recipient, the
 *			items of a .forward or :include: file
 *   policyd_pgsql.c	the PostgreSQL store (`database postgresql`),
 *			asked asynchronously through a cache
 *   policyd_sts.c	the mta's MTA-STS policies, in policyd's own
 *			writable database
 *   policyd_tlsrpt.c	the mta's TLS-RPT records, in the same database
 */
#ifndef POLICYD_H
#define POLICYD_H

#include <stdint.h>

struct imsg;
struct imsgev;
struct imsg_out;
struct policy_targets;
struct policy_env;

/* a question of the queue's */
struct policyd_req {
	uint32_t	 id;
	int		 expand;	/* IMSG_POLICY_EXPAND, else RESOLVE */
	char		*rcpt;		/* RESOLVE: the DSN's recipient */
	char		*self;		/* EXPAND: the .forward's user, or "" */
	char		*source;	/* EXPAND: the file, for logs */
	char		*text;		/* EXPAND: its contents */
	uint32_t	 depth;		/* EXPAND: levels above its items */
};

/* policyd.c */
void	policyd_put_targets(struct imsg_out *, const struct policy_targets *,
	    size_t);
void	policyd_park_req(struct policyd_req *);
void	policyd_env(struct policy_env *);
int	policyd_env_missed(void);

/* policyd_pgsql.c */
void	policyd_pgsql_init(void (*retry)(void));
void	policyd_pgsql_configure(const char *conninfo);
void	policyd_pgsql_close(void);
int	policyd_pgsql_on(void);
void	policyd_pgsql_env(struct policy_env *);
int	policyd_pgsql_missed(void);

/* policyd_sts.c: IMSG_POLICY_STS_GET and IMSG_POLICY_STS_PUT; the
 * database they share with the TLS-RPT records */
void	policyd_sts_get(struct imsgev *, struct imsg *, void *);
void	policyd_sts_put(struct imsgev *, struct imsg *, void *);
struct sqlite3;
struct sqlite3	*policyd_sts_db(void);
void	policyd_sts_fail(const char *what);
/* policyd_tlsrpt.c: IMSG_POLICY_TLSRPT_PUT and IMSG_POLICY_TLSRPT_LOAD */
void	policyd_tlsrpt_put(struct imsgev *, struct imsg *, void *);
void	policyd_tlsrpt_load(struct imsgev *, struct imsg *, void *);

/* policyd_resolve.c */
void	policyd_resolve_imsg(struct imsgev *, struct imsg *, void *);
void	policyd_expand_imsg(struct imsgev *, struct imsg *, void *);
int	policyd_req_decide(struct policyd_req *);
void	policyd_req_tempfail(const struct policyd_req *);
void	policyd_req_free(struct policyd_req *);

/* policyd_user.c */
void	policyd_user_init(void (*retry)(void));
int	policyd_user_exists(void *arg, const char *name);
void	policyd_user_result(struct imsgev *, struct imsg *, void *);

#endif
