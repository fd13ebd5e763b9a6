/*
 * smtp_data.h: reception of a message body (DATA or BDAT chunks) into
 * the message file handed out by the queue.
 *
 * The receiver checks the stream as it passes: lines end with CRLF only
 * (a bare CR, a bare LF or a NUL anywhere rejects the message), line
 * length, message size and the number of Received: headers.  For DATA it
 * undoes dot-stuffing and recognises the end only as CRLF "." CRLF.
 * Output is buffered and written in blocks of SMTP_DATA_BUFSIZE.  Once the
 * message is known to be refused nothing more is written, but the input
 * is still consumed to its end.  No function here logs or replies: the
 * session reads smtp_data_verdict() at the end.
 */
#ifndef SMTP_DATA_H
#define SMTP_DATA_H

#include <stddef.h>
#include <stdint.h>

#define SMTP_DATA_BUFSIZE	(64 * 1024)
#define SMTP_DATA_MAX_HOPS	100
/* A header field (its folded lines together) that may be rewritten; a
 * longer one is passed on as it came */
#define SMTP_DATA_FIELD_MAX	(32 * 1024)

/*
 * A rewriter of header fields (smtp_masq.c): given a whole field, name
 * and folded lines with their CRLFs, 1 with the new field in out, 0 to
 * keep it.  arg is smtp_data_fields()'s.
 */
typedef int	(*smtp_data_field_fn)(void *arg, const char *field, size_t len,
		    char *out, size_t outsize, size_t *outlen);
/*
 * Asked once a field is complete, before the rewriter: 1 if it must wait
 * (for the genericstable's answer): the receiver then stops at the octet
 * after it, with d->held set, until smtp_data_release().
 */
typedef int	(*smtp_data_hold_fn)(void *arg, const char *field, size_t len);

/* Reasons to refuse a message, in the order smtp_data_verdict() ranks them. */
#define SMTP_DATA_E_IO		0x01	/* write to the message file failed */
#define SMTP_DATA_E_SIZE	0x02	/* over the size limit */
#define SMTP_DATA_E_NUL		0x04	/* a NUL octet */
#define SMTP_DATA_E_BAREEOL	0x08	/* a CR or LF not in a CRLF pair */
#define SMTP_DATA_E_LINE	0x10	/* a line over the line limit */
#define SMTP_DATA_E_HOPS	0x20	/* too many Received: headers */

struct smtp_data {
	int		 fd;		/* message file, -1 to discard */
	int		 dotted;	/* DATA (1) or BDAT (0) */
	int		 state;		/* position in the line, see .c */
	int		 inheaders;	/* still in the header section */
	int		 hdr8bit;	/* an octet above 0x7f in it */
	int		 tls_optional;	/* "TLS-Required: No" (RFC 8689) */
	unsigned	 errors;	/* SMTP_DATA_E_* */
	unsigned	 hops;		/* Received: headers seen */
	char		*buf;
	size_t		 buflen;
	size_t		 linelen;	/* octets of the current input line */
	size_t		 hdrlen;
	char		 hdr[32];	/* start of the current header line */
	uint64_t	 size;		/* message octets after unstuffing */
	uint64_t	 written;	/* octets that went to the file */
	uint64_t	 max_size;
	size_t		 max_line;	/* with the CRLF */
	/* header rewriting: NULL, or the rewriter; field holds the field
	 * being read (SMTP_DATA_FIELD_MAX octets), then room for its new
	 * text; fieldpass: it grew too long and goes out as it comes */
	smtp_data_field_fn field_fn;
	smtp_data_hold_fn hold_fn;	/* NULL: no field waits */
	void		*field_arg;
	char		*field;
	size_t		 fieldlen;
	int		 fieldpass;
	/* the complete field waits (held), or may go out (released) */
	int		 held;
	int		 released;
};

/* Start a body; fd may be -1 (receive and check, write nothing). -1 if
 * the buffer cannot be allocated. */
int		 smtp_data_init(struct smtp_data *, int fd, int dotted,
		    uint64_t max_size, size_t max_line);
/* Pass each header field through fn (asking hold first, if not NULL)
 * from now on; -1 if out of memory. */
int		 smtp_data_fields(struct smtp_data *, smtp_data_field_fn fn,
		    smtp_data_hold_fn hold, void *arg);
/* The held field may go out now: input can be fed again. */
void		 smtp_data_release(struct smtp_data *);
/* At the end of the input (the LAST chunk): complete a last line; 1 if
 * the last field is then held, to be released before the finish. */
int		 smtp_data_end_hold(struct smtp_data *);
/* Write text of our own (the Received: header), not checked or counted. */
void		 smtp_data_put(struct smtp_data *, const char *, size_t);
/* DATA: take input up to the end marker or a held field; returns octets
 * used and sets *done once CRLF.CRLF was consumed. */
size_t		 smtp_data_feed(struct smtp_data *, const char *, size_t,
		    int *done);
/* BDAT: take the given octets of a chunk, up to a held field; returns
 * the octets used. */
size_t		 smtp_data_chunk(struct smtp_data *, const char *, size_t);
/* End of the message (after the end marker or the LAST chunk): complete
 * a last line, flush.  Returns the SMTP_DATA_E_* bits. */
unsigned	 smtp_data_finish(struct smtp_data *);
/* Release the buffer; the fd is the caller's. */
void		 smtp_data_free(struct smtp_data *);
/* The reply for refused bits, NULL if none. */
const char	*smtp_data_verdict(unsigned errors);

#endif
