/*
 * local_lmtp.h: the LMTP client of smtpd-local's delivery child
 * (local_lmtp.c), its parts split out for the unit tests.
 */
#ifndef LOCAL_LMTP_H
#define LOCAL_LMTP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* the longest reply line, CRLF included (RFC 5321 4.5.3.1.5) */
#define LOCAL_LMTP_LINE_MAX	512
/* lines of one multi-line reply; more is a broken server */
#define LOCAL_LMTP_LINES_MAX	64
/* the text kept of a reply, all its lines joined */
#define LOCAL_LMTP_TEXT_MAX	512
#define LOCAL_LMTP_ESTATUS_MAX	16
/* seconds to connect, and to wait for each reply or each write */
#define LOCAL_LMTP_CONNECT_TIMEOUT	30
#define LOCAL_LMTP_IO_TIMEOUT		120

/* extensions of the LHLO reply that we use */
#define LOCAL_LMTP_EXT_SIZE	0x01
#define LOCAL_LMTP_EXT_8BITMIME	0x02

/* One reply of the server, fed line by line. */
struct local_lmtp_reply {
	int		 code;		/* 0 until the first line */
	int		 nlines;
	unsigned	 ext;		/* LOCAL_LMTP_EXT_*, for LHLO */
	/* of the first line, else "2.0.0", "4.0.0" or "5.0.0" */
	char		 estatus[LOCAL_LMTP_ESTATUS_MAX];
	/* "550 5.1.1 text of line one text of line two", cleaned */
	char		 text[LOCAL_LMTP_TEXT_MAX];
};

/* A connection to the server: blocking, with timeouts on the socket. */
struct local_lmtp_conn {
	int		 fd;
	const char	*target;	/* named in the texts */
	size_t		 roff, rlen;
	char		 rbuf[LOCAL_LMTP_LINE_MAX];
	size_t		 wlen;
	char		 wbuf[8192];
};

/* What a delivery came to: the result the child reports. */
struct local_lmtp_result {
	uint32_t	 status;	/* STATUS_* */
	char		 estatus[LOCAL_LMTP_ESTATUS_MAX];
	char		 text[LOCAL_LMTP_TEXT_MAX];
};

/* What the session says. */
struct local_lmtp_params {
	const char	*target;	/* "unix:PATH", "HOST:PORT", "[ADDR]:PORT" */
	const char	*hostname;	/* for LHLO */
	const char	*sender;	/* "" for <> */
	const char	*rcpt;		/* RCPT TO:<rcpt> */
	const char	*header;	/* our header lines, LF or CRLF ended */
	uint64_t	 size;		/* of the message, for SIZE= */
};

void	local_lmtp_reply_init(struct local_lmtp_reply *);
/* One line without its CRLF: 1 the reply is complete, 0 more lines
 * follow, -1 malformed. */
int	local_lmtp_reply_feed(struct local_lmtp_reply *, const char *, size_t);
/* A whole reply from the connection: 0, or -1 with the result set (lost,
 * timed out, malformed or too long). */
int	local_lmtp_reply_read(struct local_lmtp_conn *,
	    struct local_lmtp_reply *, struct local_lmtp_result *);
void	local_lmtp_conn_init(struct local_lmtp_conn *, int fd,
	    const char *target);
/* Connect to the target: the socket, or -1 with the result set. */
int	local_lmtp_connect(const char *target, struct local_lmtp_result *);
/* The whole transaction on a connected socket, then QUIT; the result. */
void	local_lmtp_session(struct local_lmtp_conn *,
	    const struct local_lmtp_params *, FILE *msg,
	    struct local_lmtp_result *);

#endif
