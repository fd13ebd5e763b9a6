/*
 * sendmail_msg.c: the message on stdin, as sendmail takes it.
 *
 * Input: lines ending in LF or CRLF, kept as LF (the SMTP side writes
 * CRLF and stuffs dots).  Without -i/-oi a line of a single "." ends the
 * message, as sendmail's; with it, only the end of input does.  A
 * message over `limit message-size` is refused here (EX_DATAERR), as the
 * daemon would.  An mbox "From " line at the very start is dropped.
 *
 * Headers: with -t, the addresses of To:, Cc: and Bcc: are recipients
 * (beside those given as arguments) and Bcc: is removed; From:, Date:
 * and Message-ID: are added when missing, as sendmail adds them (here in
 * the command, so a -bs client's message is left as it wrote it).  From:
 * names the envelope sender, with -F's full name or the GECOS name.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "sendmail.h"
#include "util.h"

/* One line of input (LF dropped, CR before it too) into line. */
static int
sm_msg_line(FILE *fp, char **line, size_t *cap, size_t *len)
{
	ssize_t	 n;

	if ((n = getline(line, cap, fp)) == -1)
		return 0;
	if (n > 0 && (*line)[n - 1] == '\n')
		n--;
	if (n > 0 && (*line)[n - 1] == '\r')
		n--;
	(*line)[n] = '\0';
	*len = (size_t)n;
	return 1;
}

int
sm_msg_read(int fd, struct sm_buf *msg)
{
	FILE	*fp;
	char	*line = NULL;
	size_t	 cap = 0, len, nlines = 0;
	int	 rc = 0;

	if ((fp = fdopen(dup(fd), "r")) == NULL) {
		sm_warnx("stdin: %s", strerror(errno));
		return EX_OSERR;
	}
	while (sm_msg_line(fp, &line, &cap, &len)) {
		if (!sm_opts.iflag && strcmp(line, ".") == 0)
			break;
		if (nlines++ == 0 && strncmp(line, "From ", 5) == 0)
			continue;
		sm_buf_add(msg, line, len);
		sm_buf_add(msg, "\n", 1);
		if (sm_conf.message_size > 0 && msg->len > sm_conf.message_size) {
			sm_warnx("message larger than %zu octets",
			    sm_conf.message_size);
			rc = EX_DATAERR;
			break;
		}
	}
	if (rc == 0 && ferror(fp)) {
		sm_warnx("stdin: read error");
		rc = EX_IOERR;
	}
	free(line);
	(void)fclose(fp);
	return rc;
}

/* 1 if p starts with a field name and its colon (RFC 5322 2.2). */
static int
sm_msg_field_name(const char *p, size_t len)
{
	size_t	 i;

	for (i = 0; i < len && p[i] > ' ' && p[i] < 127 && p[i] != ':'; i++)
		;
	return i > 0 && i < len && p[i] == ':';
}

/* Length of the header section (up to and with its empty line). */
static size_t
sm_msg_header_end(const struct sm_buf *msg)
{
	const char	*p = msg->data, *nl;
	size_t		 off = 0;

	if (msg->len == 0)
		return 0;
	while (off < msg->len) {
		if (p[off] == '\n')
			return off + 1;
		/* a first line that is no header starts the body */
		if (off == 0 && !sm_msg_field_name(p, msg->len))
			return 0;
		if ((nl = memchr(p + off, '\n', msg->len - off)) == NULL)
			return msg->len;
		off = (size_t)(nl - p) + 1;
	}
	return off;
}

/* 1 if the header at h (to end) is named name ("To"). */
static int
sm_msg_is(const char *h, const char *name)
{
	size_t	 n = strlen(name);

	return strncasecmp(h, name, n) == 0 && (h[n] == ':' ||
	    ((h[n] == ' ' || h[n] == '\t') && strchr(h + n, ':') != NULL &&
	    strspn(h + n, " \t") == (size_t)(strchr(h + n, ':') - (h + n))));
}

/* The end of the header field at off (its continuation lines too). */
static size_t
sm_msg_field_end(const char *p, size_t off, size_t end)
{
	const char	*nl;

	for (;;) {
		if ((nl = memchr(p + off, '\n', end - off)) == NULL)
			return end;
		off = (size_t)(nl - p) + 1;
		if (off >= end || (p[off] != ' ' && p[off] != '\t'))
			return off;
	}
}

/* One address of a list: "<a@b>" or "a@b (comment)"; trimmed. */
static void
sm_msg_addr_one(char *a, struct sm_env *e, int *bad)
{
	char	*lt, *gt, *c, *s;
	size_t	 n;

	if ((c = strchr(a, ':')) != NULL && strchr(a, '<') == NULL)
		a = c + 1;		/* a group's display name */
	if ((lt = strrchr(a, '<')) != NULL && (gt = strchr(lt, '>')) != NULL) {
		*gt = '\0';
		a = lt + 1;
	} else if ((c = strchr(a, '(')) != NULL)
		*c = '\0';
	while (isspace((unsigned char)*a))
		a++;
	for (n = strlen(a); n > 0 && (isspace((unsigned char)a[n - 1]) ||
	    a[n - 1] == ';'); n--)
		a[n - 1] = '\0';
	for (s = a; *s != '\0'; s++)
		if (*s == '\n' || *s == '\t')
			*s = ' ';
	if (*a != '\0' && sm_env_rcpt_add(e, a) == -1)
		*bad = 1;
}

/* The addresses of one To:/Cc:/Bcc: value (RFC 5322 address-list). */
static void
sm_msg_addrs(const char *v, size_t len, struct sm_env *e, int *bad)
{
	char	*buf, *p, *start;
	int	 quote = 0, angle = 0, paren = 0;

	buf = xmalloc(len + 1);
	memcpy(buf, v, len);
	buf[len] = '\0';
	for (start = p = buf; *p != '\0'; p++) {
		if (*p == '"' && paren == 0)
			quote = !quote;
		else if (quote)
			continue;
		else if (*p == '(')
			paren++;
		else if (*p == ')' && paren > 0)
			paren--;
		else if (*p == '<' && paren == 0)
			angle = 1;
		else if (*p == '>' && paren == 0)
			angle = 0;
		else if ((*p == ',' || *p == ';') && !angle && paren == 0) {
			*p = '\0';
			sm_msg_addr_one(start, e, bad);
			start = p + 1;
		}
	}
	sm_msg_addr_one(start, e, bad);
	free(buf);
}

/* What the headers have, and -t's recipients; Bcc: cut out. */
struct sm_hdrs {
	int	 from, date, msgid;
};

static int
sm_msg_scan(struct sm_buf *msg, size_t hend, struct sm_env *e,
    struct sm_hdrs *h)
{
	size_t	 off = 0, fend;
	char	*p = msg->data, *colon;
	int	 bad = 0, bcc;

	while (off < hend && p[off] != '\n') {
		fend = sm_msg_field_end(p, off, hend);
		h->from |= sm_msg_is(p + off, "From");
		h->date |= sm_msg_is(p + off, "Date");
		h->msgid |= sm_msg_is(p + off, "Message-ID");
		bcc = sm_msg_is(p + off, "Bcc");
		colon = memchr(p + off, ':', fend - off);
		if (sm_opts.tflag && colon != NULL && (bcc ||
		    sm_msg_is(p + off, "To") || sm_msg_is(p + off, "Cc")))
			sm_msg_addrs(colon + 1, fend - (size_t)(colon + 1 - p),
			    e, &bad);
		if (bcc) {
			memmove(p + off, p + fend, msg->len - fend);
			msg->len -= fend - off;
			hend -= fend - off;
			p[msg->len] = '\0';
			continue;
		}
		off = fend;
	}
	return bad ? EX_NOUSER : 0;
}

/* The headers sendmail adds when missing, before the message's own. */
static void
sm_msg_add(struct sm_buf *out, const struct sm_env *e,
    const struct sm_hdrs *h)
{
	char		 line[1024], date[64];
	const char	*name;
	time_t		 now = time(NULL);
	struct tm	 tm;

	name = sm_opts.fullname != NULL ? sm_opts.fullname : sm_user.gecos;
	if (!h->from) {
		if (name[0] != '\0' && text_is_clean(name) &&
		    strpbrk(name, "\"\\<>") == NULL)
			(void)snprintf(line, sizeof(line), "From: \"%s\" <%s>\n",
			    name, e->sender[0] != '\0' ? e->sender : "<>");
		else
			(void)snprintf(line, sizeof(line), "From: %s\n",
			    e->sender[0] != '\0' ? e->sender : "<>");
		sm_buf_add(out, line, strlen(line));
	}
	if (!h->date) {
		(void)snprintf(line, sizeof(line), "Date: %s\n",
		    date_rfc5322(now, date, sizeof(date)));
		sm_buf_add(out, line, strlen(line));
	}
	if (!h->msgid) {
		(void)gmtime_r(&now, &tm);
		(void)strftime(date, sizeof(date), "%Y%m%d%H%M%S", &tm);
		(void)snprintf(line, sizeof(line), "Message-ID: <%s.%ld.%08x@%s>\n",
		    date, (long)getpid(), id_random32(), sm_conf.hostname);
		sm_buf_add(out, line, strlen(line));
	}
}

int
sm_msg_headers(struct sm_buf *msg, struct sm_env *e)
{
	struct sm_hdrs	 h;
	struct sm_buf	 out;
	size_t		 hend;
	int		 rc;

	memset(&h, 0, sizeof(h));
	memset(&out, 0, sizeof(out));
	hend = sm_msg_header_end(msg);
	if ((rc = sm_msg_scan(msg, hend, e, &h)) != 0)
		return rc;
	sm_msg_add(&out, e, &h);
	if (hend == 0)
		/* no header at all: the body follows the empty line */
		sm_buf_add(&out, "\n", 1);
	sm_buf_add(&out, msg->data != NULL ? msg->data : "", msg->len);
	sm_buf_free(msg);
	*msg = out;
	return 0;
}
