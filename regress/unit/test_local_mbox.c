/*
 * test_local_mbox.c: the pure parts of smtpd-local's mbox writer
 * (smtpd/local/local_mbox.c): CRLF made LF, "From " at the start of a
 * line quoted as ">From " (and nothing else quoted), a last line without
 * its line end completed, and the search for our own Delivered-To:
 * header, in the header only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "local.h"
#include "unit.h"

/* What local_mbox_copy() makes of in; NULL on failure (caller frees). */
static char *
copied(const char *in)
{
	FILE	*fin, *fout;
	char	*buf = NULL;
	size_t	 len = 0;
	int	 r;

	if ((fin = fmemopen((void *)in, strlen(in), "r")) == NULL)
		return NULL;
	if ((fout = open_memstream(&buf, &len)) == NULL) {
		(void)fclose(fin);
		return NULL;
	}
	r = local_mbox_copy(fin, fout);
	(void)fclose(fin);
	if (fclose(fout) != 0 || r == -1) {
		free(buf);
		return NULL;
	}
	return buf;
}

static int
copies_to(const char *in, const char *want)
{
	char	*got = copied(in);
	int	 ok = got != NULL && strcmp(got, want) == 0;

	if (!ok)
		(void)printf("  got \"%s\"\n", got != NULL ? got : "(null)");
	free(got);
	return ok;
}

/* local_message_loop_find() on a message text. */
static int
loop_in(const char *msg, const char *self)
{
	FILE	*f;
	int	 r;

	if ((f = fmemopen((void *)msg, strlen(msg), "r")) == NULL)
		return -2;
	r = local_message_loop_find(f, self);
	(void)fclose(f);
	return r;
}

int
main(void)
{
	UNIT_CHECK(copies_to("a\r\nb\r\n", "a\nb\n"), "CRLF becomes LF");
	UNIT_CHECK(copies_to("From here\r\n", ">From here\n"),
	    "From at the start of a line is quoted");
	UNIT_CHECK(copies_to("x\r\n\r\nFrom me\r\nnot From x\r\n",
	    "x\n\n>From me\nnot From x\n"),
	    "only at the start of a line");
	UNIT_CHECK(copies_to(">From q\r\nFromage\r\nFrom\r\n",
	    ">From q\nFromage\nFrom\n"),
	    "\">From\", \"Fromage\" and a bare \"From\" stay as they are");
	UNIT_CHECK(copies_to("last line", "last line\n"),
	    "a last line without its end is completed");
	UNIT_CHECK(copies_to("bare\nlf\n", "bare\nlf\n"), "LF stays LF");
	UNIT_CHECK(copies_to("", ""), "an empty message stays empty");
	UNIT_CHECK(loop_in("Subject: x\r\nDelivered-To: bob@relay.test\r\n"
	    "\r\nbody\r\n", "bob@relay.test") == 1,
	    "our Delivered-To is a loop");
	UNIT_CHECK(loop_in("delivered-to:   <BOB@Relay.Test> \r\n\r\n",
	    "bob@relay.test") == 1,
	    "any case, blanks and angle brackets");
	UNIT_CHECK(loop_in("Delivered-To: alice@relay.test\r\n\r\n",
	    "bob@relay.test") == 0, "another mailbox's is not");
	UNIT_CHECK(loop_in("Delivered-To: bob@relay.test.example\r\n\r\n",
	    "bob@relay.test") == 0, "a longer address is not");
	UNIT_CHECK(loop_in("Subject: x\r\n\r\nDelivered-To: bob@relay.test\r\n",
	    "bob@relay.test") == 0, "in the body it is not");
	UNIT_CHECK(loop_in("Subject: x\r\n", "bob@relay.test") == 0,
	    "a header without a body");
	return unit_done();
}
