/*
 * policy_store.c: the policy database as policyd sees it from inside its
 * chroot (the directory of database_path), opened read-only.
 *
 * Before every query policy_store_env() stats the file, so what makemap
 * does is seen at once: an in-place update through the open handle, a
 * new file (other inode) by reopening it.  Nothing is cached across
 * queries but which maps are empty, forgotten as soon as another
 * connection commits (policy_db_refresh()).  States and failure
 * behaviour:
 *   missing  no file: every map is empty (logged once, at info);
 *   open     lookups go to SQLite;
 *   broken   unreadable, corrupt or a foreign schema: every lookup is
 *            TMPF (logged once per file change); retried every
 *            STORE_RETRY seconds or when the file changes.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "proc.h"
#include "policy.h"

#define STORE_RETRY	10

enum store_state {
	STORE_UNSET,		/* no config yet */
	STORE_NEW,		/* configured, not looked at yet */
	STORE_MISSING,
	STORE_OPEN,
	STORE_BROKEN
};

static struct {
	enum store_state	 state;
	struct policy_db	*db;
	char			 path[PATH_MAX];	/* inside the chroot */
	char			 shown[PATH_MAX];	/* for log lines */
	dev_t			 dev;
	ino_t			 ino;
	struct timespec		 mtime;
	time_t			 retry;
} store;

/* Close the handle and forget the file. */
static void
store_reset(enum store_state state)
{
	policy_db_close(store.db);
	store.db = NULL;
	store.state = state;
	store.dev = 0;
	store.ino = 0;
}

static int
store_same(const struct stat *st)
{
	return st->st_dev == store.dev && st->st_ino == store.ino &&
	    st->st_mtim.tv_sec == store.mtime.tv_sec &&
	    st->st_mtim.tv_nsec == store.mtime.tv_nsec;
}

/* (Re)open the file behind st. */
static void
store_open(const struct stat *st)
{
	char	 err[512];

	store_reset(STORE_BROKEN);
	store.dev = st->st_dev;
	store.ino = st->st_ino;
	store.mtime = st->st_mtim;
	store.retry = time(NULL) + STORE_RETRY;
	if (policy_db_open(store.path, 0, &store.db, err, sizeof(err)) == -1) {
		log_warnx("database %s unusable, every lookup fails "
		    "temporarily: %s", store.shown, err);
		stats_add("policy.db.broken", 1);
		return;
	}
	store.state = STORE_OPEN;
	log_info("database %s opened", store.shown);
}

/* Bring the handle in line with the file on disk. */
static void
store_refresh(void)
{
	struct stat	 st;

	if (store.state == STORE_UNSET)
		return;
	if (stat(store.path, &st) == -1) {
		if (errno == ENOENT && store.state != STORE_MISSING)
			log_info("database %s does not exist, every map is "
			    "empty", store.shown);
		else if (errno != ENOENT && store.state != STORE_BROKEN)
			log_warn("database %s", store.shown);
		store_reset(errno == ENOENT ? STORE_MISSING : STORE_BROKEN);
		return;
	}
	if (store.state == STORE_OPEN && st.st_dev == store.dev &&
	    st.st_ino == store.ino) {
		policy_db_refresh(store.db);
		return;
	}
	if (store.state == STORE_BROKEN && store_same(&st) &&
	    time(NULL) < store.retry)
		return;
	store_open(&st);
}

/* A new database_path: policyd is chrooted to its directory. */
void
policy_store_configure(const char *database_path)
{
	const char	*base = strrchr(database_path, '/');
	char		 path[PATH_MAX];

	base = base != NULL ? base + 1 : database_path;
	(void)snprintf(path, sizeof(path), "/%s", base);
	if (store.state != STORE_UNSET &&
	    strcmp(database_path, store.shown) == 0)
		return;
	if (store.state != STORE_UNSET)
		log_info("database path changed to %s (a new directory needs "
		    "a restart of smtpd)", database_path);
	store_reset(STORE_UNSET);
	(void)strlcpy(store.path, path, sizeof(store.path));
	(void)strlcpy(store.shown, database_path, sizeof(store.shown));
	store.state = STORE_NEW;
	store_refresh();
}

void
policy_store_env(struct policy_env *env, const char *hostname)
{
	store_refresh();
	policy_env_init(env, store.state == STORE_OPEN ? store.db : NULL,
	    store.state != STORE_OPEN && store.state != STORE_MISSING,
	    hostname);
}

void
policy_store_close(void)
{
	store_reset(STORE_UNSET);
}
