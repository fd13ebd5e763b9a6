/*
 * policyd_user.c: the local users of the system (`local users passwd`),
 * which smtpd-policyd cannot read in its chroot: it asks the parent
 * (IMSG_USER_LOOKUP, getpwnam(3) there) and keeps each answer a short
 * while, so a burst of mail for one user costs one lookup.
 *
 * policyd_user_exists() is the policy library's user_exists callback: a
 * cached answer, or POLICY_USER_PENDING after sending the question (once
 * per name); the caller parks its query and policyd_user_result() asks it
 * again through the retry function when any answer comes in.  Answers
 * are kept USER_TTL_FOUND / USER_TTL_NOTFOUND seconds (a new account gets
 * mail within seconds); a failed lookup is answered TMPF for a second, so
 * the queries that waited get 451 rather than a new question.  The cache holds at
 * most USER_CACHE_MAX names and is emptied when full.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "proc.h"
#include "util.h"
#include "policy.h"
#include "policyd.h"

#define USER_TTL_FOUND		60
#define USER_TTL_NOTFOUND	10
#define USER_TTL_TEMPFAIL	1	/* what waited gets 451 */
#define USER_CACHE_MAX		10000
#define USER_BUCKETS		1024
#define USER_NAME_MAX		256

struct user_entry {
	struct user_entry	*next;
	char			 name[USER_NAME_MAX];
	int			 pending;	/* asked, no answer yet */
	int			 status;	/* enum user_status */
	time_t			 expires;
};

static struct user_entry	*user_buckets[USER_BUCKETS];
static size_t			 user_count;
static uint32_t			 user_lookup_id;
static void			(*user_retry)(void);

void
policyd_user_init(void (*retry)(void))
{
	user_retry = retry;
}

static unsigned
user_hash(const char *name)
{
	unsigned	 h = 5381;

	for (; *name != '\0'; name++)
		h = h * 33 + (unsigned char)*name;
	return h % USER_BUCKETS;
}

static struct user_entry *
user_find(const char *name)
{
	struct user_entry	*e;

	for (e = user_buckets[user_hash(name)]; e != NULL; e = e->next)
		if (strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

/* Empty the cache, keeping the questions still out. */
static void
user_flush(void)
{
	struct user_entry	*e, *next, **keep;
	size_t			 i;

	for (i = 0; i < USER_BUCKETS; i++) {
		keep = &user_buckets[i];
		for (e = user_buckets[i]; e != NULL; e = next) {
			next = e->next;
			if (e->pending) {
				*keep = e;
				keep = &e->next;
				continue;
			}
			free(e);
			user_count--;
		}
		*keep = NULL;
	}
}

/* Ask the parent about name; -1 if the question could not go out. */
static int
user_ask(const char *name)
{
	struct user_entry	*e;
	struct imsg_out		 out;
	unsigned		 h;

	if (user_count >= USER_CACHE_MAX)
		user_flush();
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return -1;
	(void)strlcpy(e->name, name, sizeof(e->name));
	e->pending = 1;
	imsg_out_init(&out, IMSG_USER_LOOKUP, ++user_lookup_id);
	imsg_put_str(&out, name);
	if (proc_send(PROC_PARENT, &out, -1) == -1) {
		free(e);
		return -1;
	}
	h = user_hash(name);
	e->next = user_buckets[h];
	user_buckets[h] = e;
	user_count++;
	return 0;
}

/* Forget one cached name. */
static void
user_drop(struct user_entry *gone)
{
	struct user_entry	**p;

	for (p = &user_buckets[user_hash(gone->name)]; *p != NULL;
	    p = &(*p)->next)
		if (*p == gone) {
			*p = gone->next;
			free(gone);
			user_count--;
			return;
		}
}

int
policyd_user_exists(void *arg, const char *name)
{
	struct user_entry	*e;

	(void)arg;
	/* no login is empty or unclean, and the parent would take such a
	 * question for a broken policyd: answer it here */
	if (name[0] == '\0' || strlen(name) >= USER_NAME_MAX ||
	    !text_is_clean(name))
		return 0;
	if ((e = user_find(name)) != NULL) {
		if (e->pending)
			return POLICY_USER_PENDING;
		if (e->expires > time(NULL))
			return e->status == USER_FOUND ? 1 :
			    e->status == USER_NOTFOUND ? 0 : POLICY_USER_TMPF;
		user_drop(e);
	}
	if (user_ask(name) == -1)
		return POLICY_USER_TMPF;
	return POLICY_USER_PENDING;
}

/* IMSG_USER_RESULT from the parent. */
void
policyd_user_result(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct user_entry	*e;
	const char		*name;
	uint32_t		 status;

	(void)iev;
	(void)arg;
	name = imsg_get_str(m);
	status = imsg_get_u32(m);
	if (imsg_get_end(m) == -1 || status > USER_TEMPFAIL)
		fatalx("malformed user lookup result from the parent");
	if ((e = user_find(name)) == NULL || !e->pending)
		return;
	e->pending = 0;
	e->status = (int)status;
	e->expires = time(NULL) + (status == USER_FOUND ? USER_TTL_FOUND :
	    status == USER_NOTFOUND ? USER_TTL_NOTFOUND : USER_TTL_TEMPFAIL);
	log_debug("user %s: %s", name, status == USER_FOUND ? "found" :
	    status == USER_NOTFOUND ? "unknown" : "lookup failed");
	if (user_retry != NULL)
		user_retry();
}
