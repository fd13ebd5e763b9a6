/*
 * mta_reply.h: parsing of what an SMTP server says to the outbound client.
 *
 * Pure functions, no I/O: a reply is fed one line at a time (without its
 * line end) and is complete when the last line of a multi-line reply
 * arrives.  The text kept is one line, control characters dropped, lines
 * joined with a space, so that it can go straight into a log or a DSN.
 * EHLO keyword lines are decoded into a set of MTA_EXT_* flags.
 */
#ifndef MTA_REPLY_H
#define MTA_REPLY_H

#include <stddef.h>
#include <stdint.h>

#define MTA_REPLY_TEXT_MAX	512
#define MTA_ENH_MAX		16

struct mta_reply {
	int		 code;		/* 0 until the first line */
	int		 nlines;
	/* enhanced status of the first line, "" if it had none */
	char		 enh[MTA_ENH_MAX];
	/* "250 2.0.0 text of line one text of line two" */
	char		 text[MTA_REPLY_TEXT_MAX];
};

/* Extensions a server advertised in its EHLO reply. */
#define MTA_EXT_PIPELINING	0x0001
#define MTA_EXT_SIZE		0x0002
#define MTA_EXT_8BITMIME	0x0004
#define MTA_EXT_DSN		0x0008
#define MTA_EXT_ENHANCED	0x0010
#define MTA_EXT_CHUNKING	0x0020
#define MTA_EXT_STARTTLS	0x0040
#define MTA_EXT_AUTH		0x0080	/* AUTH (or the old AUTH=) */
#define MTA_EXT_SMTPUTF8	0x0100	/* RFC 6531 */
#define MTA_EXT_REQUIRETLS	0x0200	/* RFC 8689 */

struct mta_ehlo {
	uint32_t	 ext;
	/* SIZE parameter; 0 when absent or unlimited */
	uint64_t	 size_max;
	/* the SASL mechanisms of the AUTH lines, upper case, space
	 * separated, each once; names that are not RFC 4422 mechanism
	 * names are left out */
	char		 auth_mechs[256];
};

void		 mta_reply_init(struct mta_reply *);
/* One line: 1 the reply is complete, 0 more lines follow, -1 garbage. */
int		 mta_reply_feed(struct mta_reply *, const char *, size_t);
/* Length of a leading "x.y.z" matching the class of code, else 0. */
size_t		 mta_reply_enhanced(const char *, int, char *, size_t);
/* The enhanced status of a complete reply, derived from the code when
 * the server gave none ("2.0.0", "4.0.0", "5.0.0"). */
const char	*mta_reply_status(const struct mta_reply *);
/* The text of one EHLO reply line after "250-" / "250 ". */
void		 mta_ehlo_line(struct mta_ehlo *, const char *);

#endif
