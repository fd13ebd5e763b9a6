/*
 * smtp_milter.h: the milters of a session (smtp_milter.c, the message
 * stages in smtp_milter_msg.c, the changes in smtp_milter_mods.c): the
 * listener's filters (a local submission's: `sendmail filter`) in
 * order, asked at connect, HELO, MAIL, RCPT and about the message, one
 * connection each for the session's life.
 */
#ifndef SMTP_MILTER_H
#define SMTP_MILTER_H

#include <stdint.h>

struct smtp_session;

/*
 * What follows a stage: reply NULL if every filter let it pass, else
 * the SMTP reply for it (a filter's reject, tempfail or replycode, or
 * a failed filter's failure mode).
 */
typedef void	(*smtp_milter_next_fn)(struct smtp_session *,
		    const char *reply);

/* 1 if the session has filters: its listener's, or for a local
 * submission the sendmail filters. */
int	 smtp_milter_on(const struct smtp_session *);
/* Ask the filters about the stage of cmd (SMFIC_CONNECT, SMFIC_HELO,
 * SMFIC_MAIL, SMFIC_RCPT with the recipient); the session waits
 * (SMTP_WAIT_MILTER) until next runs. */
void	 smtp_milter_stage(struct smtp_session *, char cmd,
	    const char *rcpt, smtp_milter_next_fn next);
/*
 * The message is whole in fd (size octets, readable): the message stages
 * (DATA, each header field, EOH, the body, the end of the message) to
 * every filter still asking, then the envelope changes they asked for,
 * and the header and body changes written to a second file of the
 * queue's (which becomes tx->msgfd); next follows (NULL: commit).
 */
void	 smtp_milter_message(struct smtp_session *, int fd, uint64_t size,
	    smtp_milter_next_fn next);
/* IMSG_QUEUE_MESSAGE_REWRITING for the session waiting on it: the file
 * to write the changed message to, -1 if the queue had none. */
void	 smtp_milter_rewriting(struct smtp_session *, int fd);
/* The parent's answer for the unix filter at index filter of the
 * config: the connected fd, or -1 and the connect's errno.  The fd is
 * closed if the session no longer waits for that filter. */
void	 smtp_milter_connected(struct smtp_session *, int filter, int fd,
	    int error);
/* The transaction ended: SMFIC_ABORT to the filters asked about it. */
void	 smtp_milter_abort(struct smtp_session *);
/* The session ends: the connections closed (libmilter takes the EOF
 * as the end of the session). */
void	 smtp_milter_free(struct smtp_session *);

#endif
