/*
 * mta_data.h: the message body as it goes on the wire after DATA.
 *
 * The body is read from the spool file descriptor with pread() at a
 * running offset, one chunk (MTA_DATA_CHUNK octets) at a time, so that a
 * message is never held whole in memory.  Lines end in CRLF on the wire
 * whatever the spool holds (a bare LF or a bare CR becomes CRLF), a line
 * starting with "." gets a second one (RFC 5321 4.5.2), and the end is
 * ".\r\n" after a line end added if the message lacks one.
 */
#ifndef MTA_DATA_H
#define MTA_DATA_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#define MTA_DATA_CHUNK		(64 * 1024)

struct evbuffer;

struct mta_data {
	int		 fd;
	off_t		 off;
	int		 bol;		/* at the beginning of a line */
	int		 cr;		/* a CR went out, its LF did not yet */
	int		 done;		/* ".\r\n" was appended */
};

void		 mta_data_init(struct mta_data *, int);
/* Convert len octets of in into out, which holds 2 * len + 1; the length
 * written.  State carries over from one call to the next. */
size_t		 mta_data_convert(struct mta_data *, const uint8_t *, size_t,
		    uint8_t *);
/* The terminator, given the state: line end if needed, then ".\r\n". */
size_t		 mta_data_finish(struct mta_data *, uint8_t *, size_t);
/* Append the next chunk to buf: 0 more follows, 1 the terminator was
 * appended, -1 read or memory error (errno set). */
int		 mta_data_fill(struct mta_data *, struct evbuffer *);

#endif
