/*
 * local_message.c: what every method of a delivery child does with the
 * message alike: look for our own Delivered-To: (a loop), add the
 * Return-Path: and Delivered-To: headers, copy it with its CRLF made LF.
 *
 * The message is the queue's file on stdin, as the front end wrote it:
 * CRLF line ends, no dot-stuffing.  A mailbox's Delivered-To: is
 * USER@HOSTNAME (the user, without +detail), a program's or file's the
 * address the mail was sent to; a message that comes back carrying ours
 * is bounced (5.4.6), never delivered a second time.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"
#include "local.h"

/* The value of a header line after "Name:", blanks and <> removed. */
static char *
local_message_value(char *v)
{
	size_t	 len;

	v += strspn(v, " \t");
	len = strcspn(v, "\r\n");
	while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	v[len] = '\0';
	if (len >= 2 && v[0] == '<' && v[len - 1] == '>') {
		v[len - 1] = '\0';
		v++;
	}
	return v;
}

/*
 * Does the header of the message carry "Delivered-To: delivered_to"
 * (our own header for this mailbox: the message came back)?  1 yes, 0
 * no, -1 on a read error.  Only the header is read, up to the first
 * empty line.
 */
int
local_message_loop_find(FILE *in, const char *delivered_to)
{
	static const char	 name[] = "Delivered-To:";
	char			*line = NULL;
	size_t			 cap = 0;
	int			 r = 0;

	while (getline(&line, &cap, in) != -1) {
		if (line[0] == '\n' || (line[0] == '\r' && line[1] == '\n'))
			break;
		if (strncasecmp(line, name, sizeof(name) - 1) == 0 &&
		    strcasecmp(local_message_value(line + sizeof(name) - 1),
		    delivered_to) == 0) {
			r = 1;
			break;
		}
	}
	if (r == 0 && ferror(in))
		r = -1;
	free(line);
	return r;
}

/*
 * Our Delivered-To: address: USER@HOSTNAME for a mailbox; for a program
 * or a file, the address the mail was sent to (the alias), as Postfix's
 * local(8) writes it.
 */
void
local_message_self(const struct local_job *j, char *buf, size_t len)
{
	if (j->kind != TARGET_MAILBOX && j->orig[0] != '\0')
		(void)snprintf(buf, len, "%s", j->orig);
	else
		(void)snprintf(buf, len, "%s@%s", j->user, j->hostname);
}

/* The message from its start, checked for a loop: 0, or the exit
 * status of the child (EX_DATAERR for a loop, EX_NOINPUT). */
int
local_message_open(const struct local_job *j, int msgfd, FILE **inp)
{
	FILE	*in;
	char	 self[LOCAL_USER_MAX + 256];
	int	 r;

	if (lseek(msgfd, 0, SEEK_SET) == -1 ||
	    (in = fdopen(msgfd, "r")) == NULL)
		return EX_NOINPUT;
	local_message_self(j, self, sizeof(self));
	if ((r = local_message_loop_find(in, self)) == 1)
		return EX_DATAERR;
	if (r == -1 || fseek(in, 0, SEEK_SET) == -1)
		return EX_NOINPUT;
	*inp = in;
	return 0;
}

int
local_message_headers(const struct local_job *j, FILE *out)
{
	char	 self[LOCAL_USER_MAX + 256];

	local_message_self(j, self, sizeof(self));
	return fprintf(out, "Return-Path: <%s>\nDelivered-To: %s\n",
	    j->sender, self) < 0 ? -1 : 0;
}

/* The From_ line of the mbox format: "From SENDER DATE". */
int
local_message_from_line(const struct local_job *j, FILE *out)
{
	char	 date[64];

	if (ctime_r(&j->now, date) == NULL)
		return -1;
	return fprintf(out, "From %s %s",
	    j->sender[0] != '\0' ? j->sender : "MAILER-DAEMON", date) < 0 ?
	    -1 : 0;
}

/* The message with LF line ends, nothing quoted (Maildir, programs). */
int
local_message_copy(FILE *in, FILE *out)
{
	char	*line = NULL;
	size_t	 cap = 0;
	ssize_t	 len;
	int	 r = 0;

	while ((len = getline(&line, &cap, in)) != -1) {
		if (len > 0 && line[len - 1] == '\n')
			len--;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if ((len > 0 && fwrite(line, 1, (size_t)len, out) !=
		    (size_t)len) || fputc('\n', out) == EOF) {
			r = -1;
			break;
		}
	}
	if (ferror(in))
		r = -1;
	free(line);
	return r;
}
