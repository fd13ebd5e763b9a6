/*
 * queue_spool.h: the spool directories and every file operation on them.
 *
 * Layout under the spool root (the queue's chroot):
 *   incoming/	messages being received, and files being written
 *   message/	committed message files, named %08x
 *   envelope/	one file per recipient, named %016llx
 *   corrupt/	files that failed to load, kept for the administrator
 *   free/	envelope files kept for reuse (see queue_spool.c)
 * Every function works on directory descriptors, so the unit tests run it
 * in a temporary directory without chroot.
 *
 * Durable changes go through a transaction (struct spool_tx): new files
 * are written in incoming/, their data is synced (fdatasync for one file,
 * syncfs for more), they are renamed into place (a message before its
 * envelopes) and the target directories are fsynced, once each per
 * transaction.  A transaction holds units (a message and its envelopes,
 * or one rewritten envelope); a failing unit is undone alone.
 */
#ifndef QUEUE_SPOOL_H
#define QUEUE_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "queue_envelope.h"

enum spool_dir {
	SPOOL_INCOMING = 0,
	SPOOL_MESSAGE,
	SPOOL_ENVELOPE,
	SPOOL_CORRUPT,
	SPOOL_FREE,
	SPOOL_NDIRS
};

struct spool {
	int		 root;
	int		 dir[SPOOL_NDIRS];
	/* free/ holds recycled files named by the counters [lo, hi) */
	uint64_t	 free_lo;
	uint64_t	 free_hi;
};

struct spool_file {
	int		 unit;
	int		 renamed;
	enum spool_dir	 to;
	char		 name[24];
};

struct spool_unit {
	uint32_t	 msgid;		/* a new message, or 0 */
	int		 failed;
};

struct spool_tx {
	struct spool		*sp;
	struct spool_file	*files;
	size_t			 nfiles, capfiles;
	struct spool_unit	*units;
	size_t			 nunits, capunits;
	int			 keepfd;	/* the first file's, while alone */
};

/* Open (creating if missing) the subdirectories under rootfd. */
int		 queue_spool_open(struct spool *, int rootfd);
void		 queue_spool_close(struct spool *);
/* Remove every file of incoming/ and free/ (leftovers of a previous run). */
int		 queue_spool_incoming_clear(struct spool *);
/* Call fn for each file name in a directory; the count, or -1. */
int		 queue_spool_walk(struct spool *, enum spool_dir,
		    void (*fn)(const char *, void *), void *);

/* A new incoming/<msgid> opened write-only (read-write if readable);
 * inuse() vetoes ids that the caller knows of.  -1 (and *msgid 0) on
 * error. */
int		 queue_spool_message_create(struct spool *, uint32_t *,
		    int (*inuse)(uint32_t), int readable);
void		 queue_spool_message_discard(struct spool *, uint32_t);
/* incoming/<msgid>.new for the filters' rewrite of an incoming message
 * (-1 on error); _take renames it over incoming/<msgid>. */
int		 queue_spool_message_rewrite(struct spool *, uint32_t);
int		 queue_spool_message_rewrite_take(struct spool *, uint32_t);
void		 queue_spool_message_rewrite_discard(struct spool *, uint32_t);
int		 queue_spool_message_open(struct spool *, uint32_t);
/* Size of a message file in a directory, or -1 (errno ENOENT if it is
 * missing or not a regular file). */
long long	 queue_spool_message_size(struct spool *, enum spool_dir,
		    uint32_t);
int		 queue_spool_message_remove(struct spool *, uint32_t);

/* Read and parse envelope/<evpid>; -1 with errno ENOENT if missing,
 * EINVAL with *why if it does not parse, or any other errno (EMFILE, EIO,
 * ENOMEM...) for a failure that may go away. */
int		 queue_spool_envelope_read(struct spool *, uint64_t,
		    struct envelope *, const char **why);
/* 1 if an errno of a failed read means the file is bad for good (missing
 * or unparsable), 0 if it is worth trying again later. */
int		 queue_spool_error_is_corrupt(int);
int		 queue_spool_envelope_remove(struct spool *, uint64_t);
/* Move a file to corrupt/ (never deleted) and log why. */
void		 queue_spool_corrupt(struct spool *, enum spool_dir,
		    const char *name, const char *why);

void		 queue_spool_tx_init(struct spool_tx *, struct spool *);
int		 queue_spool_tx_unit(struct spool_tx *);
int		 queue_spool_tx_message(struct spool_tx *, int, uint32_t);
int		 queue_spool_tx_envelope(struct spool_tx *, int,
		    const struct envelope *);
void		 queue_spool_tx_unit_fail(struct spool_tx *, int);
/* Make the transaction durable; the number of failed units. */
size_t		 queue_spool_tx_commit(struct spool_tx *);
int		 queue_spool_tx_unit_ok(const struct spool_tx *, int);
void		 queue_spool_tx_free(struct spool_tx *);

#endif
