/*
 * test_queue_spool.c: a message committed through a spool transaction in
 * a temporary directory is found in place and reloads; failing units
 * leave nothing behind; the startup load moves bad files to corrupt/ and
 * removes messages without envelopes; envelope files are recycled, but a
 * message file's inode, whose fd went to another process, never is.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"
#include "queue.h"
#include "unit.h"
#include "util.h"

static int
exists(int dirfd, const char *name)
{
	struct stat	 st;

	return fstatat(dirfd, name, &st, 0) == 0;
}

static int
nfiles(struct spool *sp, enum spool_dir d)
{
	DIR		*dir;
	struct dirent	*de;
	int		 n = 0;

	if ((dir = fdopendir(dup(sp->dir[d]))) == NULL)
		return -1;
	rewinddir(dir);
	while ((de = readdir(dir)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	(void)closedir(dir);
	return n;
}

static void
mkenv(struct envelope *e, uint32_t msgid, const char *rcpt, uint64_t size)
{
	memset(e, 0, sizeof(*e));
	e->msgid = msgid;
	e->id = id_envelope(msgid);
	(void)strlcpy(e->sender, "alice@example.org", sizeof(e->sender));
	(void)strlcpy(e->rcpt, rcpt, sizeof(e->rcpt));
	(void)strlcpy(e->proto, "ESMTP", sizeof(e->proto));
	(void)strlcpy(e->auth, "<>", sizeof(e->auth));
	(void)queue_envelope_domain(rcpt, e->domain, sizeof(e->domain));
	e->size = size;
	e->ctime = e->nexttry = time(NULL);
}

/* A message of len octets in incoming/. */
static uint32_t
mkmsg(struct spool *sp, size_t len)
{
	uint32_t	 msgid;
	int		 fd = queue_spool_message_create(sp, &msgid, NULL, 0);
	char		 buf[256];

	memset(buf, 'x', sizeof(buf));
	if (fd == -1 || write(fd, buf, len) != (ssize_t)len)
		return 0;
	(void)close(fd);
	return msgid;
}

static void
test_commit(struct spool *sp, struct envelope *e)
{
	struct spool_tx	 tx;
	struct envelope	 back, bad;
	const char	*why;
	char		 name[24];
	uint32_t	 msgid, msgid2;
	int		 u1, u2;

	msgid = mkmsg(sp, 100);
	msgid2 = mkmsg(sp, 50);
	UNIT_CHECK(msgid != 0 && msgid2 != 0, "incoming messages created");
	mkenv(&e[0], msgid, "bob@example.net", 100);
	mkenv(&e[1], msgid, "carol@example.com", 100);
	mkenv(&bad, msgid2, "dave@example.com", 50);
	(void)strlcpy(bad.helo, "bad\nhelo", sizeof(bad.helo));
	queue_spool_tx_init(&tx, sp);
	u1 = queue_spool_tx_unit(&tx);
	(void)queue_spool_tx_message(&tx, u1, msgid);
	(void)queue_spool_tx_envelope(&tx, u1, &e[0]);
	(void)queue_spool_tx_envelope(&tx, u1, &e[1]);
	u2 = queue_spool_tx_unit(&tx);
	(void)queue_spool_tx_message(&tx, u2, msgid2);
	(void)queue_spool_tx_envelope(&tx, u2, &bad);
	UNIT_CHECK(queue_spool_tx_commit(&tx) == 1, "one unit failed");
	UNIT_CHECK(queue_spool_tx_unit_ok(&tx, u1) &&
	    !queue_spool_tx_unit_ok(&tx, u2), "the right unit failed");
	queue_spool_tx_free(&tx);
	(void)snprintf(name, sizeof(name), "%08x", msgid);
	UNIT_CHECK(exists(sp->dir[SPOOL_MESSAGE], name) &&
	    !exists(sp->dir[SPOOL_INCOMING], name), "message moved");
	UNIT_CHECK(nfiles(sp, SPOOL_ENVELOPE) == 2, "two envelopes in place");
	UNIT_CHECK(nfiles(sp, SPOOL_INCOMING) == 1,
	    "failed unit left only its incoming message");
	queue_spool_message_discard(sp, msgid2);
	UNIT_CHECK(nfiles(sp, SPOOL_INCOMING) == 0, "incoming empty");
	UNIT_CHECK(queue_spool_envelope_read(sp, e[1].id, &back, &why) == 0 &&
	    strcmp(back.rcpt, "carol@example.com") == 0 && back.size == 100,
	    "envelope reads back");
	UNIT_CHECK(queue_spool_message_size(sp, SPOOL_MESSAGE, msgid) == 100,
	    "message size");

	e[1].retries = 3;
	queue_spool_tx_init(&tx, sp);
	(void)queue_spool_tx_envelope(&tx, queue_spool_tx_unit(&tx), &e[1]);
	UNIT_CHECK(queue_spool_tx_commit(&tx) == 0, "rewrite committed");
	queue_spool_tx_free(&tx);
	UNIT_CHECK(queue_spool_envelope_read(sp, e[1].id, &back, &why) == 0 &&
	    back.retries == 3, "rewrite visible");
}

/* The startup load over what test_commit left, plus damaged files. */
static void
test_load(struct spool *sp, struct envelope *e)
{
	struct spool_tx	 tx;
	struct envelope	 orphan;
	uint32_t	 msgid, lonely;
	int		 fd;

	msgid = mkmsg(sp, 10);
	mkenv(&orphan, msgid, "erin@example.org", 11);
	queue_spool_tx_init(&tx, sp);
	fd = queue_spool_tx_unit(&tx);
	(void)queue_spool_tx_message(&tx, fd, msgid);
	(void)queue_spool_tx_envelope(&tx, fd, &orphan);
	(void)queue_spool_tx_commit(&tx);
	queue_spool_tx_free(&tx);
	lonely = mkmsg(sp, 5);
	queue_spool_tx_init(&tx, sp);
	(void)queue_spool_tx_message(&tx, queue_spool_tx_unit(&tx), lonely);
	(void)queue_spool_tx_commit(&tx);
	queue_spool_tx_free(&tx);
	fd = openat(sp->dir[SPOOL_ENVELOPE], "00000001deadbeef",
	    O_CREAT | O_WRONLY, 0600);
	UNIT_CHECK(write(fd, "version: 1\nid: garbage\n", 23) == 23,
	    "write a garbage envelope");
	(void)close(fd);
	fd = openat(sp->dir[SPOOL_INCOMING], "leftover", O_CREAT | O_WRONLY,
	    0600);
	(void)close(fd);

	queue_spool = *sp;
	UNIT_CHECK(queue_sched_load() == 2, "two good envelopes loaded");
	UNIT_CHECK(queue_sched_find(e[0].id) != NULL &&
	    queue_sched_find(e[1].id) != NULL &&
	    queue_sched_find(e[1].id)->retries == 3, "schedule rebuilt");
	UNIT_CHECK(queue_sched_find(orphan.id) == NULL,
	    "size mismatch not scheduled");
	UNIT_CHECK(nfiles(sp, SPOOL_CORRUPT) == 3,
	    "garbage, mismatched envelope and its message in corrupt/");
	UNIT_CHECK(nfiles(sp, SPOOL_INCOMING) == 0, "leftovers removed");
	UNIT_CHECK(nfiles(sp, SPOOL_MESSAGE) == 1,
	    "message without envelopes removed");
	UNIT_CHECK(queue_sched_count() == 2 && queue_sched_messages() == 1,
	    "counts");
	queue_sched_drop(queue_sched_find(e[0].id));
	UNIT_CHECK(nfiles(sp, SPOOL_MESSAGE) == 1 &&
	    nfiles(sp, SPOOL_ENVELOPE) == 1, "message kept while in use");
	queue_sched_drop(queue_sched_find(e[1].id));
	UNIT_CHECK(nfiles(sp, SPOOL_MESSAGE) == 0 &&
	    nfiles(sp, SPOOL_ENVELOPE) == 0 && queue_sched_messages() == 0,
	    "last envelope takes its message");
}

static void
test_backoff(void)
{
	UNIT_CHECK(queue_result_backoff(300, 3600, 1) == 300 &&
	    queue_result_backoff(300, 3600, 2) == 600 &&
	    queue_result_backoff(300, 3600, 4) == 2400 &&
	    queue_result_backoff(300, 3600, 5) == 3600 &&
	    queue_result_backoff(300, 3600, 500) == 3600, "retry backoff");
}

/* Commit incoming/<msgid> of len octets with one envelope; 0 or -1. */
static int
commit1(struct spool *sp, uint32_t msgid, size_t len, struct envelope *e)
{
	struct spool_tx	 tx;
	int		 u, rc;

	mkenv(e, msgid, "bob@example.net", len);
	queue_spool_tx_init(&tx, sp);
	u = queue_spool_tx_unit(&tx);
	(void)queue_spool_tx_message(&tx, u, msgid);
	(void)queue_spool_tx_envelope(&tx, u, e);
	rc = queue_spool_tx_commit(&tx) == 0 ? 0 : -1;
	queue_spool_tx_free(&tx);
	return rc;
}

/* A message of len octets and its one envelope, committed in place. */
static uint32_t
mkcommitted(struct spool *sp, size_t len, struct envelope *e)
{
	uint32_t	 msgid;

	if ((msgid = mkmsg(sp, len)) == 0 || commit1(sp, msgid, len, e) == -1)
		return 0;
	return msgid;
}

/* Whether any file of the spool has inode ino. */
static int
spool_has_inode(struct spool *sp, ino_t ino)
{
	DIR		*dir;
	struct dirent	*de;
	struct stat	 st;
	int		 d, found = 0;

	for (d = 0; d < SPOOL_NDIRS; d++) {
		if ((dir = fdopendir(dup(sp->dir[d]))) == NULL)
			return 1;
		rewinddir(dir);
		while ((de = readdir(dir)) != NULL)
			if (de->d_name[0] != '.' &&
			    fstatat(sp->dir[d], de->d_name, &st, 0) == 0 &&
			    st.st_ino == ino)
				found = 1;
		(void)closedir(dir);
	}
	return found;
}

/*
 * A delivered envelope's file is recycled: the next envelope gets the
 * same inode under its own name, and free/ gives up what it held.
 */
static void
test_recycle(struct spool *sp)
{
	struct spool_tx	 tx;
	struct envelope	 e, e2;
	struct stat	 st1, st2;
	char		 name[24];
	uint32_t	 a;

	UNIT_CHECK(queue_spool_incoming_clear(sp) == 0 &&
	    nfiles(sp, SPOOL_FREE) == 0, "recycle: free/ starts empty");
	a = mkcommitted(sp, 200, &e);
	(void)snprintf(name, sizeof(name), "%016llx",
	    (unsigned long long)e.id);
	UNIT_CHECK(a != 0 && fstatat(sp->dir[SPOOL_ENVELOPE], name, &st1,
	    0) == 0, "recycle: envelope in place");
	UNIT_CHECK(queue_spool_envelope_remove(sp, e.id) == 0 &&
	    nfiles(sp, SPOOL_FREE) == 1, "recycle: envelope kept in free/");
	UNIT_CHECK(queue_spool_message_remove(sp, a) == 0 &&
	    nfiles(sp, SPOOL_FREE) == 1, "recycle: message file unlinked");
	mkenv(&e2, a, "carol@example.com", 200);
	e2.id = e.id + 1;
	queue_spool_tx_init(&tx, sp);
	(void)queue_spool_tx_envelope(&tx, queue_spool_tx_unit(&tx), &e2);
	UNIT_CHECK(queue_spool_tx_commit(&tx) == 0, "recycle: committed");
	queue_spool_tx_free(&tx);
	(void)snprintf(name, sizeof(name), "%016llx",
	    (unsigned long long)e2.id);
	UNIT_CHECK(fstatat(sp->dir[SPOOL_ENVELOPE], name, &st2, 0) == 0 &&
	    st2.st_ino == st1.st_ino && nfiles(sp, SPOOL_FREE) == 0,
	    "recycle: same inode, free/ emptied");
	UNIT_CHECK(queue_spool_envelope_remove(sp, e2.id) == 0 &&
	    queue_spool_incoming_clear(sp) == 0 &&
	    nfiles(sp, SPOOL_FREE) == 0 &&
	    nfiles(sp, SPOOL_INCOMING) == 0,
	    "recycle: start-up clears free/ and incoming/");
}

/*
 * A descriptor that left the queue (the front end's write fd of a
 * message, kept after delivery or after a rollback) never reaches a later
 * file: no later message, envelope or bounce shares its inode, and what
 * is written through it changes none of them.
 */
static void
test_handout(struct spool *sp)
{
	struct envelope	 e, later[4], back;
	struct stat	 st;
	const char	*why;
	ino_t		 ino[2];
	uint32_t	 a, b, ids[4];
	int		 fd[2], i, ok = 1;
	char		 buf[64];

	(void)queue_spool_incoming_clear(sp);
	fd[0] = queue_spool_message_create(sp, &a, NULL, 0);
	UNIT_CHECK(fd[0] != -1 && write(fd[0], "a", 1) == 1 &&
	    fstat(fd[0], &st) == 0 && commit1(sp, a, 1, &e) == 0,
	    "handout: message committed");
	ino[0] = st.st_ino;
	UNIT_CHECK(queue_spool_envelope_remove(sp, e.id) == 0 &&
	    queue_spool_message_remove(sp, a) == 0,
	    "handout: message delivered");
	fd[1] = queue_spool_message_create(sp, &b, NULL, 0);
	UNIT_CHECK(fd[1] != -1 && fstat(fd[1], &st) == 0,
	    "handout: message rolled back");
	ino[1] = st.st_ino;
	queue_spool_message_discard(sp, b);
	for (i = 0; i < 4; i++)
		ids[i] = mkcommitted(sp, 10, &later[i]);
	for (i = 0; i < 4; i++)
		ok = ok && ids[i] != 0;
	UNIT_CHECK(ok, "handout: later messages committed");
	UNIT_CHECK(!spool_has_inode(sp, ino[0]) &&
	    !spool_has_inode(sp, ino[1]),
	    "handout: no later file shares a handed-out inode");
	memset(buf, 'X', sizeof(buf));
	for (i = 0; i < 2; i++)
		ok = ok && pwrite(fd[i], buf, sizeof(buf), 0) ==
		    (ssize_t)sizeof(buf);
	UNIT_CHECK(ok, "handout: the old fds still write (to their own files)");
	for (i = 0; i < 4; i++)
		ok = ok && queue_spool_message_size(sp, SPOOL_MESSAGE,
		    ids[i]) == 10 && queue_spool_envelope_read(sp,
		    later[i].id, &back, &why) == 0;
	UNIT_CHECK(ok, "handout: writes through the old fds change nothing");
	for (i = 0; i < 2; i++)
		(void)close(fd[i]);
}

int
main(void)
{
	struct spool	 sp;
	struct envelope	 e[2];
	char		 dir[] = "/tmp/test_queue_spool.XXXXXX", cmd[64];
	int		 root;

	if (mkdtemp(dir) == NULL ||
	    (root = open(dir, O_RDONLY | O_DIRECTORY)) == -1) {
		perror("tmpdir");
		return 1;
	}
	UNIT_CHECK(queue_spool_open(&sp, root) == 0, "spool opened");
	test_commit(&sp, e);
	test_load(&sp, e);
	test_backoff();
	test_recycle(&sp);
	test_handout(&sp);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	UNIT_CHECK(system(cmd) == 0, "scratch directory removed");
	return unit_done();
}
