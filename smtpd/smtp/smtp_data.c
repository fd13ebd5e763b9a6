/*
 * smtp_data.c: the message body receiver of smtp_data.h.
 *
 * A small state machine over the input octets.  The only end of a DATA
 * body is CR LF "." CR LF where both line ends are real CRLF pairs: a
 * bare LF never starts a line, so "LF . LF", "LF . CRLF" or "CR . CR"
 * cannot end the body (SMTP smuggling).  Plain text runs are copied in
 * one go, so the cost per octet is a compare and a memcpy.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mailaddr.h"
#include "smtp_data.h"

/* Where the receiver is in the current line. */
enum smtp_data_state {
	SMTP_DATA_BOL = 0,	/* at the start of a line */
	SMTP_DATA_DOT,		/* after a leading "." (DATA) */
	SMTP_DATA_DOTCR,	/* after a leading ".\r" (DATA) */
	SMTP_DATA_TEXT,		/* inside a line */
	SMTP_DATA_CR		/* after a CR inside a line */
};

int
smtp_data_init(struct smtp_data *d, int fd, int dotted, uint64_t max_size,
    size_t max_line)
{
	memset(d, 0, sizeof(*d));
	d->fd = fd;
	d->dotted = dotted;
	d->state = SMTP_DATA_BOL;
	d->inheaders = 1;
	d->max_size = max_size;
	d->max_line = max_line;
	if ((d->buf = malloc(SMTP_DATA_BUFSIZE)) == NULL)
		return -1;
	return 0;
}

int
smtp_data_fields(struct smtp_data *d, smtp_data_field_fn fn,
    smtp_data_hold_fn hold, void *arg)
{
	if ((d->field = malloc(2 * SMTP_DATA_FIELD_MAX)) == NULL)
		return -1;
	d->field_fn = fn;
	d->hold_fn = hold;
	d->field_arg = arg;
	d->fieldlen = 0;
	d->fieldpass = 0;
	d->held = d->released = 0;
	return 0;
}

void
smtp_data_release(struct smtp_data *d)
{
	d->held = 0;
	d->released = 1;
}

/* A complete field is held before it goes out, if the hook says so. */
static int
smtp_data_hold(struct smtp_data *d)
{
	if (d->hold_fn == NULL || d->fieldlen == 0 || d->fieldpass ||
	    d->released || d->errors != 0)
		return 0;
	d->held = d->hold_fn(d->field_arg, d->field, d->fieldlen) == 1;
	return d->held;
}

void
smtp_data_free(struct smtp_data *d)
{
	free(d->buf);
	free(d->field);
	d->field = NULL;
	d->field_fn = NULL;
	d->buf = NULL;
	d->buflen = 0;
}

/* Write the buffer out; on failure stop writing for good. */
static void
smtp_data_flush(struct smtp_data *d)
{
	size_t	 off = 0;
	ssize_t	 n;

	if (d->fd == -1 || (d->errors & SMTP_DATA_E_IO)) {
		d->buflen = 0;
		return;
	}
	while (off < d->buflen) {
		n = write(d->fd, d->buf + off, d->buflen - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			d->errors |= SMTP_DATA_E_IO;
			break;
		}
		off += (size_t)n;
		d->written += (uint64_t)n;
	}
	d->buflen = 0;
}

/* Append to the output buffer, flushing full blocks. */
static void
smtp_data_append(struct smtp_data *d, const char *p, size_t n)
{
	size_t	 k;

	while (n > 0) {
		k = SMTP_DATA_BUFSIZE - d->buflen;
		if (k > n)
			k = n;
		memcpy(d->buf + d->buflen, p, k);
		d->buflen += k;
		p += k;
		n -= k;
		if (d->buflen == SMTP_DATA_BUFSIZE)
			smtp_data_flush(d);
	}
}

void
smtp_data_put(struct smtp_data *d, const char *p, size_t n)
{
	smtp_data_append(d, p, n);
}

/* The field read so far goes out, rewritten if the rewriter says so. */
static void
smtp_data_field_flush(struct smtp_data *d)
{
	char	*out = d->field + SMTP_DATA_FIELD_MAX;
	size_t	 outlen = 0;

	if (d->fieldlen > 0 && d->field_fn(d->field_arg, d->field,
	    d->fieldlen, out, SMTP_DATA_FIELD_MAX, &outlen) == 1)
		smtp_data_append(d, out, outlen);
	else
		smtp_data_append(d, d->field, d->fieldlen);
	d->fieldlen = 0;
	d->fieldpass = 0;
	d->released = 0;
}

/*
 * Header text while fields are rewritten: a line that does not start
 * with white space starts a new field, so the one before is complete.
 */
static void
smtp_data_field_put(struct smtp_data *d, const char *p, size_t n)
{
	if (d->hdrlen == 0 && p[0] != ' ' && p[0] != '\t')
		smtp_data_field_flush(d);
	if (!d->fieldpass && d->fieldlen + n > SMTP_DATA_FIELD_MAX) {
		smtp_data_append(d, d->field, d->fieldlen);
		d->fieldlen = 0;
		d->fieldpass = 1;
	}
	if (d->fieldpass) {
		smtp_data_append(d, p, n);
		return;
	}
	memcpy(d->field + d->fieldlen, p, n);
	d->fieldlen += n;
}

/* Collect the start of a header line to count Received: headers. */
static void
smtp_data_header(struct smtp_data *d, const char *p, size_t n)
{
	size_t	 want = sizeof(d->hdr) - 1 - d->hdrlen, was = d->hdrlen;

	if (n > want)
		n = want;
	memcpy(d->hdr + d->hdrlen, p, n);
	d->hdrlen += n;
	if (was < 9 && d->hdrlen >= 9 &&
	    strncasecmp(d->hdr, "received:", 9) == 0 &&
	    ++d->hops > SMTP_DATA_MAX_HOPS)
		d->errors |= SMTP_DATA_E_HOPS;
}

/*
 * A header line is complete: "TLS-Required: No" (RFC 8689 5) asks that
 * DANE and MTA-STS failures not hold the message; a folded value is not
 * looked at.
 */
static void
smtp_data_header_line(struct smtp_data *d)
{
	char	*v, *end;

	d->hdr[d->hdrlen] = '\0';
	if (strncasecmp(d->hdr, "tls-required:", 13) != 0)
		return;
	v = d->hdr + 13 + strspn(d->hdr + 13, " \t");
	for (end = v + strlen(v); end > v && (end[-1] == ' ' ||
	    end[-1] == '\t'); end--)
		;
	if (end - v == 2 && strncasecmp(v, "no", 2) == 0)
		d->tls_optional = 1;
}

/* Message text: counted, checked, written while nothing is wrong. */
static void
smtp_data_emit(struct smtp_data *d, const char *p, size_t n)
{
	int	 field = d->inheaders && d->field_fn != NULL;

	d->size += n;
	if (d->size > d->max_size)
		d->errors |= SMTP_DATA_E_SIZE;
	if (field && d->errors == 0)
		smtp_data_field_put(d, p, n);
	if (d->inheaders && d->hdrlen < sizeof(d->hdr) - 1)
		smtp_data_header(d, p, n);
	if (d->inheaders && !d->hdr8bit)
		d->hdr8bit = !mailaddr_ascii_n(p, n);
	if (!field && d->errors == 0)
		smtp_data_append(d, p, n);
}

/* Count input octets of the current line against the line limit. */
static void
smtp_data_count(struct smtp_data *d, size_t n)
{
	d->linelen += n;
	if (d->linelen > d->max_line)
		d->errors |= SMTP_DATA_E_LINE;
}

/* A CRLF pair ended a line. */
static void
smtp_data_eol(struct smtp_data *d)
{
	if (d->inheaders && d->hdrlen > 0)
		smtp_data_header_line(d);
	if (d->inheaders && d->hdrlen == 0) {
		if (d->field_fn != NULL && d->errors == 0)
			smtp_data_field_flush(d);
		d->inheaders = 0;
	}
	smtp_data_emit(d, "\r\n", 2);
	d->hdrlen = 0;
	d->linelen = 0;
	d->state = SMTP_DATA_BOL;
}

/* Inside a line: take a run of plain text, or one special octet. */
static size_t
smtp_data_text(struct smtp_data *d, const char *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0')
			break;
	if (i > 0) {
		smtp_data_count(d, i);
		smtp_data_emit(d, p, i);
		d->state = SMTP_DATA_TEXT;
		return i;
	}
	smtp_data_count(d, 1);
	if (p[0] == '\r') {
		d->state = SMTP_DATA_CR;
		return 1;
	}
	/* a bare LF does not end the line: it cannot start an end marker */
	d->errors |= p[0] == '\0' ? SMTP_DATA_E_NUL : SMTP_DATA_E_BAREEOL;
	smtp_data_emit(d, p, 1);
	d->state = SMTP_DATA_TEXT;
	return 1;
}

/*
 * One step of the state machine; *done is set at the end marker.  At
 * the start of a line that does not continue the field read so far,
 * that field is complete: it may have to be held, and nothing is used.
 */
static size_t
smtp_data_step(struct smtp_data *d, const char *p, size_t n, int *done)
{
	if (d->state == SMTP_DATA_BOL && d->inheaders && p[0] != ' ' &&
	    p[0] != '\t' && smtp_data_hold(d))
		return 0;
	switch (d->state) {
	case SMTP_DATA_BOL:
		if (d->dotted && p[0] == '.') {
			smtp_data_count(d, 1);
			d->state = SMTP_DATA_DOT;
			return 1;
		}
		return smtp_data_text(d, p, n);
	case SMTP_DATA_DOT:
		if (p[0] != '\r')
			return smtp_data_text(d, p, n);
		smtp_data_count(d, 1);
		d->state = SMTP_DATA_DOTCR;
		return 1;
	case SMTP_DATA_DOTCR:
		if (p[0] == '\n') {
			*done = 1;
			d->state = SMTP_DATA_BOL;
			return 1;
		}
		d->errors |= SMTP_DATA_E_BAREEOL;
		return smtp_data_text(d, p, n);
	case SMTP_DATA_CR:
		if (p[0] == '\n') {
			smtp_data_count(d, 1);
			smtp_data_eol(d);
			return 1;
		}
		d->errors |= SMTP_DATA_E_BAREEOL;
		return smtp_data_text(d, p, n);
	default:
		return smtp_data_text(d, p, n);
	}
}

size_t
smtp_data_feed(struct smtp_data *d, const char *p, size_t n, int *done)
{
	size_t	 off = 0;

	*done = 0;
	while (off < n && !*done && !d->held)
		off += smtp_data_step(d, p + off, n - off, done);
	return off;
}

size_t
smtp_data_chunk(struct smtp_data *d, const char *p, size_t n)
{
	size_t	 off = 0;
	int	 done = 0;

	while (off < n && !d->held)
		off += smtp_data_step(d, p + off, n - off, &done);
	return off;
}

/* A last line without its CRLF is completed (once: the state is BOL). */
static void
smtp_data_last_line(struct smtp_data *d)
{
	if (d->state == SMTP_DATA_TEXT || d->state == SMTP_DATA_DOT) {
		smtp_data_emit(d, "\r\n", 2);
		d->state = SMTP_DATA_BOL;
	}
}

int
smtp_data_end_hold(struct smtp_data *d)
{
	smtp_data_last_line(d);
	return d->inheaders && smtp_data_hold(d);
}

unsigned
smtp_data_finish(struct smtp_data *d)
{
	if (d->state == SMTP_DATA_CR || d->state == SMTP_DATA_DOTCR)
		d->errors |= SMTP_DATA_E_BAREEOL;
	/* a last chunk without a final CRLF: complete the line */
	smtp_data_last_line(d);
	d->state = SMTP_DATA_BOL;
	if (d->inheaders && d->field_fn != NULL && d->errors == 0)
		smtp_data_field_flush(d);
	if (d->errors == 0)
		smtp_data_flush(d);
	return d->errors;
}

const char *
smtp_data_verdict(unsigned errors)
{
	if (errors & SMTP_DATA_E_IO)
		return "451 4.3.0 Error writing message, try again later";
	if (errors & SMTP_DATA_E_SIZE)
		return "552 5.3.4 Message too big";
	if (errors & SMTP_DATA_E_NUL)
		return "550 5.6.0 Message contains NUL characters";
	if (errors & SMTP_DATA_E_BAREEOL)
		return "550 5.6.0 Message contains bare CR or LF characters";
	if (errors & SMTP_DATA_E_LINE)
		return "550 5.6.0 Message contains a line that is too long";
	if (errors & SMTP_DATA_E_HOPS)
		return "554 5.4.6 Too many hops";
	return NULL;
}
