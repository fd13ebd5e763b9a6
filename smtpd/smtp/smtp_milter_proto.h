/*
 * smtp_milter_proto.h: the milter protocol (version 6, as libmilter
 * speaks it) on the wire: the packets the front end sends a filter and
 * the checked decoding of a filter's replies (smtp_milter_proto.c).
 *
 * A packet is a 32-bit length in network order (the command octet and
 * the data), the command octet, then the data.  Nothing here does I/O
 * or allocates: a packet is built in a fixed buffer and a reply is
 * parsed in place, so a filter cannot make the front end grow memory.
 */
#ifndef SMTP_MILTER_PROTO_H
#define SMTP_MILTER_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define SMTP_MILTER_VERSION		6
/* The longest reply taken from a filter: anything longer is garbage
 * and costs the filter's failure mode. */
#define SMTP_MILTER_REPLY_MAX	(64 * 1024)
/* The largest body chunk sent (libmilter's MILTER_CHUNK_SIZE). */
#define SMTP_MILTER_CHUNK_MAX	65535
/* The largest packet sent: a body chunk with its length and command. */
#define SMTP_MILTER_PACKET_MAX	(SMTP_MILTER_CHUNK_MAX + 5)

/* Commands, front end to filter. */
#define SMFIC_ABORT		'A'
#define SMFIC_BODY		'B'
#define SMFIC_CONNECT		'C'
#define SMFIC_MACRO		'D'
#define SMFIC_BODYEOB		'E'
#define SMFIC_HELO		'H'
#define SMFIC_QUIT_NC		'K'
#define SMFIC_HEADER		'L'
#define SMFIC_MAIL		'M'
#define SMFIC_EOH		'N'
#define SMFIC_OPTNEG		'O'
#define SMFIC_QUIT		'Q'
#define SMFIC_RCPT		'R'
#define SMFIC_DATA		'T'
#define SMFIC_UNKNOWN		'U'

/* Replies and modifications, filter to front end. */
#define SMFIR_ADDRCPT		'+'
#define SMFIR_DELRCPT		'-'
#define SMFIR_ADDRCPT_PAR	'2'
#define SMFIR_SHUTDOWN		'4'
#define SMFIR_ACCEPT		'a'
#define SMFIR_REPLBODY		'b'
#define SMFIR_CONTINUE		'c'
#define SMFIR_DISCARD		'd'
#define SMFIR_CHGFROM		'e'
#define SMFIR_CONN_FAIL		'f'
#define SMFIR_ADDHEADER		'h'
#define SMFIR_INSHEADER		'i'
#define SMFIR_SETSYMLIST	'l'
#define SMFIR_CHGHEADER		'm'
#define SMFIR_PROGRESS		'p'
#define SMFIR_QUARANTINE	'q'
#define SMFIR_REJECT		'r'
#define SMFIR_SKIP		's'
#define SMFIR_TEMPFAIL		't'
#define SMFIR_REPLYCODE		'y'

/* Modification actions a filter may ask for (SMFIF_*). */
#define SMFIF_ADDHDRS		0x001
#define SMFIF_CHGBODY		0x002
#define SMFIF_ADDRCPT		0x004
#define SMFIF_DELRCPT		0x008
#define SMFIF_CHGHDRS		0x010
#define SMFIF_QUARANTINE	0x020
#define SMFIF_CHGFROM		0x040
#define SMFIF_ADDRCPT_PAR	0x080
/* The actions the front end offers: all but SETSYMLIST. */
#define SMTP_MILTER_ACTIONS		0x0ff

/* Protocol steps a filter may leave out or not answer (SMFIP_*). */
#define SMFIP_NOCONNECT		0x00000001
#define SMFIP_NOHELO		0x00000002
#define SMFIP_NOMAIL		0x00000004
#define SMFIP_NORCPT		0x00000008
#define SMFIP_NOBODY		0x00000010
#define SMFIP_NOHDRS		0x00000020
#define SMFIP_NOEOH		0x00000040
#define SMFIP_NR_HDR		0x00000080
#define SMFIP_NOUNKNOWN		0x00000100
#define SMFIP_NODATA		0x00000200
#define SMFIP_SKIP		0x00000400
#define SMFIP_RCPT_REJ		0x00000800
#define SMFIP_NR_CONN		0x00001000
#define SMFIP_NR_HELO		0x00002000
#define SMFIP_NR_MAIL		0x00004000
#define SMFIP_NR_RCPT		0x00008000
#define SMFIP_NR_DATA		0x00010000
#define SMFIP_NR_UNKN		0x00020000
#define SMFIP_NR_EOH		0x00040000
#define SMFIP_NR_BODY		0x00080000
#define SMFIP_HDR_LEADSPC	0x00100000
/* The steps the front end offers to drop: all of the above. */
#define SMTP_MILTER_PROTOCOL		0x001fffff

/* One packet being built; overflow: it did not fit and must not go. */
struct smtp_milter_packet {
	size_t		 len;
	int		 overflow;
	char		 buf[SMTP_MILTER_PACKET_MAX];
};

/* A reply parsed in place: data points into the caller's buffer. */
struct smtp_milter_reply {
	char		 code;
	const char	*data;
	size_t		 len;
};

/* The filter's answer to SMFIC_OPTNEG. */
struct smtp_milter_optneg {
	uint32_t	 version;
	uint32_t	 actions;
	uint32_t	 protocol;
};

/* Start a packet of this command (any earlier contents are dropped). */
void	 smtp_milter_packet_begin(struct smtp_milter_packet *, char cmd);
void	 smtp_milter_packet_u32(struct smtp_milter_packet *, uint32_t);
void	 smtp_milter_packet_u16(struct smtp_milter_packet *, uint16_t);
void	 smtp_milter_packet_char(struct smtp_milter_packet *, char);
/* A string and its terminating NUL. */
void	 smtp_milter_packet_str(struct smtp_milter_packet *, const char *);
void	 smtp_milter_packet_bytes(struct smtp_milter_packet *, const void *,
	    size_t);
/* Write the length; -1 if the packet overflowed, else 0. */
int	 smtp_milter_packet_end(struct smtp_milter_packet *);

/* SMFIC_OPTNEG offering SMTP_MILTER_ACTIONS and SMTP_MILTER_PROTOCOL. */
int	 smtp_milter_packet_optneg(struct smtp_milter_packet *);
/* SMFIC_CONNECT: family '4', '6', 'L' (local) or 'U' (unknown). */
int	 smtp_milter_packet_connect(struct smtp_milter_packet *,
	    const char *host,
	    char family, uint16_t port, const char *addr);
/* SMFIC_MACRO for the stage of command cmd: n pairs from names and
 * values, a NULL value left out. */
int	 smtp_milter_packet_macros(struct smtp_milter_packet *, char cmd,
	    const char *const *names, const char *const *values, size_t n);
/* A command with one string (HELO, UNKNOWN) or none (DATA, EOH, ...). */
int	 smtp_milter_packet_simple(struct smtp_milter_packet *, char cmd,
	    const char *arg);
/* SMFIC_MAIL or SMFIC_RCPT: the address in <> and its ESMTP
 * parameters (may be NULL). */
int	 smtp_milter_packet_addr(struct smtp_milter_packet *, char cmd,
	    const char *addr, const char *const *params, size_t n);
/* SMFIC_HEADER: the field's name and value as received. */
int	 smtp_milter_packet_header(struct smtp_milter_packet *,
	    const char *name,
	    size_t namelen, const char *value, size_t valuelen);
/* SMFIC_BODY: at most SMTP_MILTER_CHUNK_MAX octets. */
int	 smtp_milter_packet_body(struct smtp_milter_packet *, const char *,
	    size_t);

/*
 * Take one reply off the front of buf: 1 with *used octets taken, 0 if
 * more input is needed, -1 if it is garbage (a length of 0 or over
 * SMTP_MILTER_REPLY_MAX).
 */
int	 smtp_milter_reply_take(const char *buf, size_t len,
	    struct smtp_milter_reply *,
	    size_t *used);
/* The reply to SMFIC_OPTNEG: -1 unless it is one, of a version the
 * front end speaks, and asks for nothing that was not offered. */
int	 smtp_milter_reply_optneg(const struct smtp_milter_reply *,
	    struct smtp_milter_optneg *);
/*
 * SMFIR_REPLYCODE: the text, checked to be "4xy" or "5xy", a space or a
 * hyphen, and printable ASCII lines (a multi-line text's CRLFs kept),
 * copied to out; -1 if it is not.
 */
int	 smtp_milter_reply_code(const struct smtp_milter_reply *, char *out,
	    size_t outsize);
/* n NUL-terminated strings (n 1 or 2): -1 if the data is not exactly
 * that; a second string may be absent when optional is set. */
int	 smtp_milter_reply_strings(const struct smtp_milter_reply *,
	    const char **a,
	    const char **b, int optional);
/* SMFIR_CHGHEADER, SMFIR_INSHEADER: an index, a name and a value;
 * SMFIR_ADDHEADER (idx NULL): a name and a value.  The name must be a
 * valid field name. */
int	 smtp_milter_reply_header(const struct smtp_milter_reply *,
	    uint32_t *idx,
	    const char **name, const char **value);

#endif
