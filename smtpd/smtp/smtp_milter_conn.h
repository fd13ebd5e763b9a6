/*
 * smtp_milter_conn.h: one connection of a session to one filter
 * (smtp_milter_conn.c): the negotiation, then one step at a time (the
 * stage's packets out, the filter's replies in), on the event loop, each
 * reply within its time limit.
 *
 * Every way a filter can fail (connect refused, EOF, a reply over 64 KiB
 * or undecodable, a reply out of turn, a timeout) ends in the one
 * SMTP_MILTER_FAILED outcome, for the session to apply the filter's
 * failure mode; the connection is then unusable and only freed.
 */
#ifndef SMTP_MILTER_CONN_H
#define SMTP_MILTER_CONN_H

#include <sys/socket.h>

#include <stdint.h>

#include "smtp_milter_proto.h"

struct event_base;
struct smtp_milter_conn;

enum smtp_milter_outcome {
	SMTP_MILTER_READY = 0,	/* negotiated, or the step had no reply */
	SMTP_MILTER_REPLY,	/* the step's final reply (continue, ...) */
	SMTP_MILTER_FAILED	/* the filter failed: its failure mode */
};

/* The time limits, as sendmail's T=C:S:R:E, in seconds. */
struct smtp_milter_timeouts {
	int	 connect;
	int	 send;
	int	 reply;
	int	 eom;
};

/*
 * The outcome of the negotiation or of a step: with SMTP_MILTER_REPLY,
 * r is the final reply (valid during the call only).  A modification or
 * progress reply before it goes to mod, which answers -1 to refuse it
 * (the filter then fails).  Either may free the connection.
 */
typedef void	(*smtp_milter_done_fn)(void *arg, enum smtp_milter_outcome,
		    const struct smtp_milter_reply *r);
typedef int	(*smtp_milter_mod_fn)(void *arg,
		    const struct smtp_milter_reply *r);

/* Connect (non-blocking) to sa, or take fd if it is not -1 (a socket
 * connected already); negotiate; done follows.  NULL if out of
 * resources. */
struct smtp_milter_conn *smtp_milter_conn_open(struct event_base *, int fd,
	    const struct sockaddr *sa, socklen_t salen,
	    const struct smtp_milter_timeouts *, smtp_milter_done_fn,
	    smtp_milter_mod_fn, void *arg);
/* What the filter negotiated (after SMTP_MILTER_READY of the open). */
const struct smtp_milter_optneg *smtp_milter_conn_optneg(
	    const struct smtp_milter_conn *);
/* Queue a packet that gets no reply (macros, or a step the filter does
 * not answer); -1 if the connection failed. */
int	 smtp_milter_conn_put(struct smtp_milter_conn *,
	    const struct smtp_milter_packet *);
/*
 * The same for a stream of such packets (the headers or body chunks of a
 * filter that does not answer them): 1 when over SMTP_MILTER_CONN_HIWAT
 * octets wait to be written, and the caller waits for SMTP_MILTER_READY
 * before the next, so a slow filter holds the message in the file, not
 * in memory; 0 to go on; -1 if the connection failed.
 */
#define SMTP_MILTER_CONN_HIWAT	(256 * 1024)
int	 smtp_milter_conn_push(struct smtp_milter_conn *,
	    const struct smtp_milter_packet *);
/* Send a step's packet and wait for its final reply (eom: the end of
 * message limit, else the reply limit); -1 if the connection failed. */
int	 smtp_milter_conn_step(struct smtp_milter_conn *,
	    const struct smtp_milter_packet *, int eom);
/* SMFIC_QUIT, if the connection is idle with nothing left to write;
 * never waits (the connection is freed next). */
void	 smtp_milter_conn_quit(struct smtp_milter_conn *,
	    const struct smtp_milter_packet *);
void	 smtp_milter_conn_free(struct smtp_milter_conn *);

#endif
