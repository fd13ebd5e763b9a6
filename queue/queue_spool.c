/*
 * queue_spool.c: files of the spool (see queue_spool.h for the layout and
 * the transaction rules).
 *
 * Failure behaviour: every function returns -1 (or a failed unit) and
 * logs with log_warn; nothing here ends the process, because a full or
 * failing disk must turn into 4xx replies and retries, not a crash loop.
 * Files that do not load are moved to corrupt/, never deleted.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "queue_spool.h"
#include "util.h"

#define SPOOL_ID_TRIES	100
/* recycled files kept in free/ at most */
#define SPOOL_FREE_MAX	4096

static const char *spool_dirnames[SPOOL_NDIRS] = {
	"incoming", "message", "envelope", "corrupt", "free"
};

/*
 * File recycling.  On an ext4 without a journal (this machine's root),
 * the inode allocator does not reuse an inode freed in the last 60 s
 * (360 s while its inode table block is not written back): each
 * creation walks its group's free inodes from the first and reads the
 * inode of every one freed that recently.  So for a minute after files
 * were unlinked, ours or any other process's in the same block groups,
 * creating a file costs up to about 0.9 ms of kernel CPU, where
 * truncating and rewriting an existing one costs some 30 us.  Envelope
 * files leaving the spool are renamed into free/ instead of unlinked,
 * and new files are taken from there.  A recycled file is truncated
 * before anything is written to it and joins the spool only by the same
 * sync-then-rename path as a new one, so the durability rules do not
 * change.  free/ is emptied at start.
 *
 * Only a file whose descriptor never left this process may go back to
 * free/: a descriptor cannot be revoked, so a front end that kept the
 * write fd of its message file, or an mta that kept the read fd of a
 * delivery, would keep that access to whatever file reused the inode (a
 * later message after its size check, an envelope, a bounce).  Every
 * message file is handed out (to the front end when created, to the mta
 * at each delivery, a bounce too), so message files are always unlinked;
 * envelopes are only ever opened here and are recycled.  Taking a file
 * from free/ for a new message is safe for the same reason.
 */
static int
queue_spool_free_take(struct spool *sp, const char *name)
{
	char	 from[24];

	while (sp->free_lo < sp->free_hi) {
		(void)snprintf(from, sizeof(from), "%016llx",
		    (unsigned long long)sp->free_lo);
		if (renameat2(sp->dir[SPOOL_FREE], from,
		    sp->dir[SPOOL_INCOMING], name, RENAME_NOREPLACE) == 0) {
			sp->free_lo++;
			return 0;
		}
		if (errno == EEXIST)
			return -1;
		sp->free_lo++;
	}
	errno = ENOENT;
	return -1;
}

/* Retire an envelope file: into free/ while there is room, else unlink. */
static int
queue_spool_free_put(struct spool *sp, const char *name)
{
	char	 to[24];

	if (sp->free_hi - sp->free_lo < SPOOL_FREE_MAX) {
		(void)snprintf(to, sizeof(to), "%016llx",
		    (unsigned long long)sp->free_hi);
		if (renameat(sp->dir[SPOOL_ENVELOPE], name,
		    sp->dir[SPOOL_FREE], to) == 0) {
			sp->free_hi++;
			return 0;
		}
		if (errno == ENOENT)
			return -1;
	}
	return unlinkat(sp->dir[SPOOL_ENVELOPE], name, 0);
}

int
queue_spool_open(struct spool *sp, int rootfd)
{
	int	 i;

	sp->root = rootfd;
	sp->free_lo = sp->free_hi = 0;
	for (i = 0; i < SPOOL_NDIRS; i++)
		sp->dir[i] = -1;
	for (i = 0; i < SPOOL_NDIRS; i++) {
		if (mkdirat(rootfd, spool_dirnames[i], 0700) == -1 &&
		    errno != EEXIST) {
			log_warn("mkdir %s", spool_dirnames[i]);
			goto fail;
		}
		sp->dir[i] = openat(rootfd, spool_dirnames[i],
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sp->dir[i] == -1) {
			log_warn("open %s", spool_dirnames[i]);
			goto fail;
		}
	}
	if (fsync(rootfd) == -1)
		log_warn("fsync spool root");
	return 0;
fail:
	queue_spool_close(sp);
	return -1;
}

void
queue_spool_close(struct spool *sp)
{
	int	 i;

	for (i = 0; i < SPOOL_NDIRS; i++) {
		if (sp->dir[i] != -1)
			(void)close(sp->dir[i]);
		sp->dir[i] = -1;
	}
}

int
queue_spool_walk(struct spool *sp, enum spool_dir d,
    void (*fn)(const char *, void *), void *arg)
{
	DIR		*dir;
	struct dirent	*de;
	int		 fd, n = 0;

	if ((fd = dup(sp->dir[d])) == -1 || (dir = fdopendir(fd)) == NULL) {
		log_warn("open %s", spool_dirnames[d]);
		if (fd != -1)
			(void)close(fd);
		return -1;
	}
	rewinddir(dir);
	while ((de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		fn(de->d_name, arg);
		n++;
	}
	(void)closedir(dir);
	return n;
}

static void
queue_spool_incoming_unlink(const char *name, void *arg)
{
	struct spool	*sp = arg;

	if (unlinkat(sp->dir[SPOOL_INCOMING], name, 0) == -1)
		log_warn("unlink incoming/%s", name);
	else
		log_debug("removed leftover incoming/%s", name);
}

static void
queue_spool_free_unlink(const char *name, void *arg)
{
	struct spool	*sp = arg;

	if (unlinkat(sp->dir[SPOOL_FREE], name, 0) == -1)
		log_warn("unlink free/%s", name);
}

/* At start: leftovers of incoming/ go, and the recycled files of free/. */
int
queue_spool_incoming_clear(struct spool *sp)
{
	sp->free_lo = sp->free_hi = 0;
	if (queue_spool_walk(sp, SPOOL_FREE, queue_spool_free_unlink, sp) == -1)
		return -1;
	return queue_spool_walk(sp, SPOOL_INCOMING,
	    queue_spool_incoming_unlink, sp);
}

/*
 * The fd handed to the front end is write-only unless its filters read
 * the message back (readable): once the message is committed a front
 * end without filters cannot read it back, and the queue checks the
 * size at every dispatch (queue_sched.c) against appends or truncation.
 * The file is unlinked when it goes, never recycled, so that fd reaches
 * no other message.
 * On failure *msgid is 0, so that no caller can mistake an id that was
 * only tried (perhaps another session's incoming file) for its own.
 */
int
queue_spool_message_create(struct spool *sp, uint32_t *msgid,
    int (*inuse)(uint32_t), int readable)
{
	int	 mode = readable ? O_RDWR : O_WRONLY;

	struct stat	 st;
	char		 name[16];
	uint32_t	 id;
	int		 fd, i;

	*msgid = 0;
	for (i = 0; i < SPOOL_ID_TRIES; i++) {
		if ((id = id_random32()) == 0)
			continue;
		if (inuse != NULL && inuse(id))
			continue;
		(void)snprintf(name, sizeof(name), "%08x", id);
		if (fstatat(sp->dir[SPOOL_MESSAGE], name, &st, 0) == 0)
			continue;
		if (queue_spool_free_take(sp, name) == 0)
			fd = openat(sp->dir[SPOOL_INCOMING], name,
			    mode | O_TRUNC | O_CLOEXEC);
		else if (errno == EEXIST)
			continue;
		else
			fd = openat(sp->dir[SPOOL_INCOMING], name,
			    mode | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd != -1) {
			*msgid = id;
			return fd;
		}
		if (errno != EEXIST) {
			log_warn("create incoming/%s", name);
			return -1;
		}
	}
	log_warnx("no free message id after %d tries", SPOOL_ID_TRIES);
	return -1;
}

void
queue_spool_message_discard(struct spool *sp, uint32_t msgid)
{
	char	 name[16];

	(void)snprintf(name, sizeof(name), "%08x", msgid);
	if (unlinkat(sp->dir[SPOOL_INCOMING], name, 0) == -1 &&
	    errno != ENOENT)
		log_warn("unlink incoming/%s", name);
}

/*
 * The second file of an incoming message that filters rewrite: made
 * beside it as incoming/<msgid>.new, readable and writable (the front
 * end reads back what it wrote), and, like the first, never recycled.
 */
int
queue_spool_message_rewrite(struct spool *sp, uint32_t msgid)
{
	char	 name[24];
	int	 fd;

	(void)snprintf(name, sizeof(name), "%08x.new", msgid);
	fd = openat(sp->dir[SPOOL_INCOMING], name,
	    O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		log_warn("create incoming/%s", name);
	return fd;
}

/* The rewritten file takes the message's name (the first one goes). */
int
queue_spool_message_rewrite_take(struct spool *sp, uint32_t msgid)
{
	char	 from[24], to[16];

	(void)snprintf(from, sizeof(from), "%08x.new", msgid);
	(void)snprintf(to, sizeof(to), "%08x", msgid);
	if (renameat(sp->dir[SPOOL_INCOMING], from, sp->dir[SPOOL_INCOMING],
	    to) == -1) {
		log_warn("rename incoming/%s", from);
		return -1;
	}
	return 0;
}

void
queue_spool_message_rewrite_discard(struct spool *sp, uint32_t msgid)
{
	char	 name[24];

	(void)snprintf(name, sizeof(name), "%08x.new", msgid);
	if (unlinkat(sp->dir[SPOOL_INCOMING], name, 0) == -1 &&
	    errno != ENOENT)
		log_warn("unlink incoming/%s", name);
}

int
queue_spool_message_open(struct spool *sp, uint32_t msgid)
{
	char	 name[16];

	(void)snprintf(name, sizeof(name), "%08x", msgid);
	return openat(sp->dir[SPOOL_MESSAGE], name, O_RDONLY | O_CLOEXEC);
}

long long
queue_spool_message_size(struct spool *sp, enum spool_dir d, uint32_t msgid)
{
	struct stat	 st;
	char		 name[16];

	(void)snprintf(name, sizeof(name), "%08x", msgid);
	if (fstatat(sp->dir[d], name, &st, 0) == -1)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = ENOENT;
		return -1;
	}
	return (long long)st.st_size;
}

int
queue_spool_message_remove(struct spool *sp, uint32_t msgid)
{
	char	 name[16];

	(void)snprintf(name, sizeof(name), "%08x", msgid);
	if (unlinkat(sp->dir[SPOOL_MESSAGE], name, 0) == -1) {
		log_warn("unlink message/%s", name);
		return -1;
	}
	return 0;
}

/* Read a whole small file; its length, or -1 (too large: EFBIG). */
static ssize_t
queue_spool_file_read(int dirfd, const char *name, char *buf, size_t size)
{
	ssize_t	 n;
	size_t	 len = 0;
	int	 fd, saved;

	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while ((n = read(fd, buf + len, size - len)) > 0)
		if ((len += (size_t)n) == size)
			break;
	saved = errno;
	(void)close(fd);
	if (n == -1) {
		errno = saved;
		return -1;
	}
	if (len == size) {
		errno = EFBIG;
		return -1;
	}
	return (ssize_t)len;
}

int
queue_spool_envelope_read(struct spool *sp, uint64_t evpid,
    struct envelope *e, const char **why)
{
	char	 name[24], *buf;
	ssize_t	 n;
	int	 rc, saved;

	*why = "unreadable";
	(void)snprintf(name, sizeof(name), "%016llx",
	    (unsigned long long)evpid);
	if ((buf = malloc(ENVELOPE_TEXT_MAX + 1)) == NULL)
		return -1;
	n = queue_spool_file_read(sp->dir[SPOOL_ENVELOPE], name, buf,
	    ENVELOPE_TEXT_MAX + 1);
	if (n == -1) {
		saved = errno;
		free(buf);
		if (saved == EFBIG) {
			*why = "too large";
			saved = EINVAL;
		} else if (saved == ENOENT)
			*why = "missing";
		errno = saved;
		return -1;
	}
	rc = queue_envelope_load(e, buf, (size_t)n, why);
	free(buf);
	if (rc == -1 || e->id != evpid) {
		if (rc == 0)
			*why = "id differs from file name";
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int
queue_spool_error_is_corrupt(int error)
{
	return error == EINVAL || error == ENOENT;
}

int
queue_spool_envelope_remove(struct spool *sp, uint64_t evpid)
{
	char	 name[24];

	(void)snprintf(name, sizeof(name), "%016llx",
	    (unsigned long long)evpid);
	if (queue_spool_free_put(sp, name) == -1) {
		log_warn("unlink envelope/%s", name);
		return -1;
	}
	return 0;
}

void
queue_spool_corrupt(struct spool *sp, enum spool_dir d, const char *name,
    const char *why)
{
	char	 dst[NAME_MAX + 1];

	(void)snprintf(dst, sizeof(dst), "%s.%s", spool_dirnames[d], name);
	if (renameat(sp->dir[d], name, sp->dir[SPOOL_CORRUPT], dst) == -1) {
		log_warn("%s/%s is corrupt (%s) and cannot be moved",
		    spool_dirnames[d], name, why);
		return;
	}
	if (fsync(sp->dir[SPOOL_CORRUPT]) == -1)
		log_warn("fsync corrupt");
	log_warnx("%s/%s: corrupt (%s), moved to corrupt/%s",
	    spool_dirnames[d], name, why, dst);
}

/*
 * Transactions.
 */

void
queue_spool_tx_init(struct spool_tx *tx, struct spool *sp)
{
	memset(tx, 0, sizeof(*tx));
	tx->sp = sp;
	tx->keepfd = -1;
}

int
queue_spool_tx_unit(struct spool_tx *tx)
{
	if (tx->nunits == tx->capunits) {
		tx->capunits = tx->capunits ? tx->capunits * 2 : 16;
		tx->units = xreallocarray(tx->units, tx->capunits,
		    sizeof(*tx->units));
	}
	tx->units[tx->nunits].msgid = 0;
	tx->units[tx->nunits].failed = 0;
	return (int)tx->nunits++;
}

/*
 * Record a file written into incoming/.  Its fd (or -1) is kept only
 * while it is the transaction's single file, the one case that syncs with
 * fdatasync(); a transaction of several files uses syncfs(), so their fds
 * are closed as soon as they are written and a group commit of any size
 * holds at most one descriptor.
 */
static void
queue_spool_tx_file_add(struct spool_tx *tx, int unit, enum spool_dir to,
    const char *name, int fd)
{
	struct spool_file	*f;

	if (tx->nfiles == tx->capfiles) {
		tx->capfiles = tx->capfiles ? tx->capfiles * 2 : 32;
		tx->files = xreallocarray(tx->files, tx->capfiles,
		    sizeof(*tx->files));
	}
	if (tx->keepfd != -1) {
		(void)close(tx->keepfd);
		tx->keepfd = -1;
	}
	if (tx->nfiles == 0)
		tx->keepfd = fd;
	else if (fd != -1)
		(void)close(fd);
	f = &tx->files[tx->nfiles++];
	f->unit = unit;
	f->renamed = 0;
	f->to = to;
	(void)strlcpy(f->name, name, sizeof(f->name));
}

/* Add incoming/<msgid> (already written) to be synced and moved. */
int
queue_spool_tx_message(struct spool_tx *tx, int unit, uint32_t msgid)
{
	char	 name[16];

	(void)snprintf(name, sizeof(name), "%08x", msgid);
	tx->units[unit].msgid = msgid;
	queue_spool_tx_file_add(tx, unit, SPOOL_MESSAGE, name, -1);
	return 0;
}

/* Write an envelope to incoming/<evpid>, to be synced and moved. */
int
queue_spool_tx_envelope(struct spool_tx *tx, int unit,
    const struct envelope *e)
{
	char	 name[24], buf[ENVELOPE_TEXT_MAX];
	int	 fd, len;

	(void)snprintf(name, sizeof(name), "%016llx",
	    (unsigned long long)e->id);
	if ((len = queue_envelope_dump(e, buf, sizeof(buf))) == -1) {
		log_warnx("envelope %s: refusing to write invalid fields",
		    name);
		tx->units[unit].failed = 1;
		return -1;
	}
	/*
	 * A recycled file is overwritten, then cut to the new length, not
	 * opened with O_TRUNC: truncating to zero frees its block (with a
	 * discard, on this machine's mount) and the write allocates another,
	 * about 100 us of kernel time per envelope against 10 us.  The file
	 * is in incoming/ and joins the spool only after the sync, so a
	 * crash in between leaves nothing half-written in place.
	 */
	(void)queue_spool_free_take(tx->sp, name);
	fd = openat(tx->sp->dir[SPOOL_INCOMING], name,
	    O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1 || write_all(fd, buf, (size_t)len) == -1 ||
	    ftruncate(fd, (off_t)len) == -1) {
		log_warn("write incoming/%s", name);
		if (fd != -1) {
			(void)close(fd);
			(void)unlinkat(tx->sp->dir[SPOOL_INCOMING], name, 0);
		}
		tx->units[unit].failed = 1;
		return -1;
	}
	queue_spool_tx_file_add(tx, unit, SPOOL_ENVELOPE, name, fd);
	return 0;
}

void
queue_spool_tx_unit_fail(struct spool_tx *tx, int unit)
{
	tx->units[unit].failed = 1;
}

/* Undo a failed unit: drop its temporaries and what a new message put in
 * place (a rewritten envelope replaced its old file atomically: keep). */
static void
queue_spool_tx_unit_undo(struct spool_tx *tx, int unit)
{
	struct spool_file	*f;
	size_t			 i;

	for (i = 0; i < tx->nfiles; i++) {
		f = &tx->files[i];
		if (f->unit != unit)
			continue;
		if (!f->renamed) {
			if (f->to == SPOOL_ENVELOPE)
				(void)unlinkat(tx->sp->dir[SPOOL_INCOMING],
				    f->name, 0);
		} else if (tx->units[unit].msgid != 0)
			(void)unlinkat(tx->sp->dir[f->to], f->name, 0);
		f->renamed = 0;
	}
}

/* Step 1: file data on disk, one system call when possible. */
static int
queue_spool_tx_sync_data(struct spool_tx *tx)
{
	size_t	 i, n = 0, last = 0;
	int	 fd, rc = 0;

	for (i = 0; i < tx->nfiles; i++)
		if (!tx->units[tx->files[i].unit].failed) {
			n++;
			last = i;
		}
	if (n == 1) {
		fd = last == 0 ? tx->keepfd : -1;
		if (fd == -1)
			fd = openat(tx->sp->dir[SPOOL_INCOMING],
			    tx->files[last].name, O_RDONLY | O_CLOEXEC);
		rc = fd == -1 ? -1 : fdatasync(fd);
		if (fd != -1 && fd != tx->keepfd)
			(void)close(fd);
	} else if (n > 1)
		rc = syncfs(tx->sp->root);
	if (rc == -1)
		log_warn("spool data sync");
	if (tx->keepfd != -1)
		(void)close(tx->keepfd);
	tx->keepfd = -1;
	return rc;
}

/* Step 2: rename into place, in order (a message before its envelopes). */
static void
queue_spool_tx_rename(struct spool_tx *tx, int *dirty)
{
	struct spool_file	*f;
	size_t			 i;

	for (i = 0; i < tx->nfiles; i++) {
		f = &tx->files[i];
		if (tx->units[f->unit].failed)
			continue;
		if (renameat(tx->sp->dir[SPOOL_INCOMING], f->name,
		    tx->sp->dir[f->to], f->name) == -1) {
			log_warn("rename %s", f->name);
			tx->units[f->unit].failed = 1;
			continue;
		}
		f->renamed = 1;
		dirty[f->to] = 1;
	}
}

size_t
queue_spool_tx_commit(struct spool_tx *tx)
{
	int	 dirty[SPOOL_NDIRS] = { 0 };
	size_t	 i, nfailed = 0;
	int	 d, syncfail = 0;

	if (queue_spool_tx_sync_data(tx) == -1)
		for (i = 0; i < tx->nunits; i++)
			tx->units[i].failed = 1;
	queue_spool_tx_rename(tx, dirty);
	for (d = 0; d < SPOOL_NDIRS; d++) {
		if (dirty[d] && fsync(tx->sp->dir[d]) == -1) {
			log_warn("fsync %s", spool_dirnames[d]);
			syncfail = 1;
		}
	}
	for (i = 0; i < tx->nunits; i++) {
		if (syncfail)
			tx->units[i].failed = 1;
		if (tx->units[i].failed) {
			queue_spool_tx_unit_undo(tx, (int)i);
			nfailed++;
		}
	}
	return nfailed;
}

int
queue_spool_tx_unit_ok(const struct spool_tx *tx, int unit)
{
	return !tx->units[unit].failed;
}

void
queue_spool_tx_free(struct spool_tx *tx)
{
	if (tx->keepfd != -1)
		(void)close(tx->keepfd);
	free(tx->files);
	free(tx->units);
	memset(tx, 0, sizeof(*tx));
}
