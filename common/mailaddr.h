/*
 * mailaddr.h: syntax of RFC 5321 paths, mailboxes and domains, and the
 * xtext encoding of RFC 3461 (ENVID=, ORCPT=, AUTH=).
 *
 * Every function is pure: it reads a string and either fills a caller
 * buffer or answers yes/no.  Nothing is accepted by a special case; what
 * the grammar does not allow is refused.  A mailbox may hold UTF-8 in
 * its local part and U-labels in its domain (RFC 6531); a mailbox that
 * passes mailbox_valid() contains only printable ASCII and well-formed
 * UTF-8, never a control character (C0, DEL or C1), so it is safe to log
 * and to store in text records.  Whether a transaction may carry a
 * non-ASCII address (SMTPUTF8) is for the caller to decide.
 */
#ifndef MAILADDR_H
#define MAILADDR_H

#include <stddef.h>
#include <stdint.h>

/* RFC 5321 4.5.3.1 size limits, in octets. */
#define MAILADDR_LOCAL_MAX	64
#define MAILADDR_DOMAIN_MAX	255
#define MAILADDR_PATH_MAX	256	/* with the angle brackets */
/* RFC 3461: ENVID at most 100 octets, ORCPT at most 500 (both as xtext). */
#define MAILADDR_ENVID_MAX	100
#define MAILADDR_ORCPT_MAX	500

/* Results of mailaddr_path_parse(). */
enum mailaddr_result {
	MAILADDR_OK = 0,
	MAILADDR_SYNTAX,	/* not a path of RFC 5321 4.1.2 */
	MAILADDR_TOOLONG	/* a size limit of RFC 5321 4.5.3.1 is exceeded */
};

/* Path parsing flags. */
#define MAILADDR_F_NULL		0x01	/* "<>" is allowed (MAIL FROM) */
#define MAILADDR_F_POSTMASTER	0x02	/* "<Postmaster>" is allowed (RCPT) */

/*
 * Parse a path ("<" [source-route ":"] mailbox ">") at the start of s.
 * The mailbox, without brackets and source route, goes to out ("" for the
 * null path); *end points just after the ">".
 */
enum mailaddr_result mailaddr_path_parse(const char *s, int flags,
		    char *out, size_t outsize, const char **end);

/* 1 if s is local-part "@" (domain / address-literal) within limits. */
int		 mailaddr_mailbox_valid(const char *s);
/*
 * 1 if s is what a RCPT may name: a mailbox, or the bare "Postmaster"
 * (any case) of RFC 5321 4.1.1.3.  Every process that checks a recipient
 * uses this, so that what the front end accepts no peer refuses.
 */
int		 mailaddr_rcpt_valid(const char *s);
/*
 * 1 if value is a final recipient of that enum target_kind (proto.h):
 * a mailbox (remote, error), a user name with an optional "+detail", or
 * "|command", "/path", ":include:/path" of printable text.  The front
 * end and the queue check what policyd resolved with it.
 */
#define MAILADDR_TARGET_MAX	1024
int		 mailaddr_target_valid(uint32_t kind, const char *value);
/* 1 if s is a valid local part (dot-string or quoted-string). */
int		 mailaddr_local_valid(const char *s, size_t len);
/* 1 if s is a domain name of RFC 5321 (letters, digits, hyphens), ASCII
 * only, as HELO and source routes must be. */
int		 mailaddr_domain_valid(const char *s, size_t len);
/* 1 if s is "[IPv4]" or "[IPv6:...]". */
int		 mailaddr_literal_valid(const char *s, size_t len);
/* 1 if s may follow HELO/EHLO: a domain or an address literal. */
int		 mailaddr_helo_valid(const char *s);

/* 1 if s is well-formed xtext (RFC 3461 4). */
int		 mailaddr_xtext_valid(const char *s);
/*
 * Decode xtext into out.  Refuses malformed input, a decoded octet that
 * is not printable ASCII (0x20-0x7e) and a result that does not fit: -1.
 */
int		 mailaddr_xtext_decode(const char *s, char *out, size_t outsize);
/*
 * Encode s as xtext into out: '+', '=' and every octet outside 33..126
 * become "+XX" (uppercase hex), whatever s looks like.  The length, or
 * -1 if it does not fit (out is then not to be used).
 */
int		 mailaddr_xtext_encode(const char *s, char *out, size_t outsize);

/* Length of the UTF8-non-ascii character at s (RFC 6532), 0 if none. */
size_t		 mailaddr_utf8_len(const char *s);
/* 1 if s (or the n octets at s) hold no octet above 0x7f. */
int		 mailaddr_is_ascii(const char *s);
int		 mailaddr_ascii_n(const char *s, size_t n);
/*
 * The domain in the form the DNS and the maps use: lowercased, U-labels
 * turned into A-labels (IDNA2008, libidn2), so "b\xc3\xbccher.example"
 * and "xn--bcher-kva.example" are one domain.  0, or -1 if it has no
 * valid A-label form or does not fit.
 */
int		 mailaddr_domain_ascii(const char *domain, char *out,
		    size_t outsize);

/*
 * 1 if the local part s (len octets) holds sender-chosen routing: "@",
 * "%" or "!", quoted or not (RFC 5321 source routes are a separate
 * syntax that mailaddr_path_parse() drops).
 */
int		 mailaddr_local_has_routing(const char *s, size_t len);

/*
 * The "utf-8" address type of RFC 6533 3 (ORCPT=, Original-Recipient:).
 * Decode a utf-8-addr-xtext (ASCII, other characters as "\x{HEX}") or,
 * when unitext is set, also a utf-8-addr-unitext (UTF-8 as it is) into
 * the address; -1 if it is malformed, does not fit, or is not a mailbox
 * once decoded.
 */
int		 mailaddr_uxtext_decode(const char *s, int unitext, char *out,
		    size_t outsize);
/*
 * Encode an address as utf-8-addr-xtext, or with unitext as
 * utf-8-addr-unitext: "\", "+", "=", controls and space (and without
 * unitext every non-ASCII character) as "\x{HEX}".  The length, or -1 if
 * it does not fit.
 */
int		 mailaddr_uxtext_encode(const char *s, int unitext, char *out,
		    size_t outsize);

#endif
