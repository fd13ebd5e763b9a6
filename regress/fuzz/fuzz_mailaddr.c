/*
 * fuzz_mailaddr.c: libFuzzer target for the address grammar of
 * common/mailaddr.c, the one every process checks addresses with.  The
 * first octet chooses the path flags; the rest is the text.
 *
 * Beyond "no crash": a path that parses ends at its '>' within
 * MAILADDR_PATH_MAX octets and yields "" (only with MAILADDR_F_NULL),
 * "Postmaster" (only with MAILADDR_F_POSTMASTER) or a mailbox that
 * mailaddr_mailbox_valid() and mailaddr_rcpt_valid() accept and that
 * parses again as "<mailbox>" to itself; a valid mailbox is printable
 * ASCII; the recipient check is the mailbox check plus Postmaster; and
 * xtext decode(encode(s)) == s for printable s, while encode's output is
 * always valid xtext and decoding any valid xtext gives text that
 * encodes to valid xtext decoding to the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mailaddr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x20 || *s > 0x7e)
			return 0;
	return 1;
}

static void
check_path(const char *s, int flags)
{
	char			 box[MAILADDR_PATH_MAX], again[MAILADDR_PATH_MAX];
	char			 path[MAILADDR_PATH_MAX + 2];
	const char		*end = NULL, *end2;
	enum mailaddr_result	 r;

	r = mailaddr_path_parse(s, flags, box, sizeof(box), &end);
	if (r != MAILADDR_OK)
		return;
	if (end == NULL || end <= s || end[-1] != '>' ||
	    (size_t)(end - s) > MAILADDR_PATH_MAX)
		abort();
	if (box[0] == '\0') {
		if (!(flags & MAILADDR_F_NULL))
			abort();
		return;
	}
	if (strcasecmp(box, "postmaster") == 0 &&
	    !mailaddr_mailbox_valid(box)) {
		if (!(flags & MAILADDR_F_POSTMASTER) ||
		    !mailaddr_rcpt_valid(box))
			abort();
		return;
	}
	if (!mailaddr_mailbox_valid(box) || !mailaddr_rcpt_valid(box) ||
	    !printable(box))
		abort();
	path[0] = '<';
	(void)strlcpy(path + 1, box, sizeof(path) - 1);
	(void)strlcat(path, ">", sizeof(path));
	if (mailaddr_path_parse(path, 0, again, sizeof(again), &end2) !=
	    MAILADDR_OK || strcmp(again, box) != 0 || *end2 != '\0')
		abort();
}

static void
check_mailbox(const char *s)
{
	int	 box = mailaddr_mailbox_valid(s);

	if (box && (!printable(s) || strlen(s) + 2 > MAILADDR_PATH_MAX))
		abort();
	if (mailaddr_rcpt_valid(s) != (box || strcasecmp(s, "postmaster") == 0))
		abort();
	if (mailaddr_helo_valid(s) && !printable(s))
		abort();
}

static void
check_xtext(const char *s)
{
	char	 x[4096 * 3 + 1], back[4096 + 1], x2[4096 * 3 + 1];
	char	 back2[4096 + 1];
	int	 n;

	if ((n = mailaddr_xtext_encode(s, x, sizeof(x))) < 0 ||
	    (size_t)n != strlen(x) || !mailaddr_xtext_valid(x))
		abort();
	if (mailaddr_xtext_decode(x, back, sizeof(back)) == 0) {
		if (!printable(s) || strcmp(back, s) != 0)
			abort();
	} else if (printable(s))
		abort();
	if (!mailaddr_xtext_valid(s)) {
		if (mailaddr_xtext_decode(s, back, sizeof(back)) == 0)
			abort();
		return;
	}
	if (mailaddr_xtext_decode(s, back, sizeof(back)) == -1)
		return;		/* a decoded octet is not printable */
	if (!printable(back) || strlen(back) > strlen(s) ||
	    mailaddr_xtext_encode(back, x2, sizeof(x2)) < 0 ||
	    strlen(x2) > strlen(s) ||
	    mailaddr_xtext_decode(x2, back2, sizeof(back2)) != 0 ||
	    strcmp(back, back2) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char	*s;
	int	 flags;

	if (len < 1 || len > 4096)
		return 0;
	flags = data[0] & (MAILADDR_F_NULL | MAILADDR_F_POSTMASTER);
	if ((s = malloc(len)) == NULL)
		return 0;
	memcpy(s, data + 1, len - 1);
	s[len - 1] = '\0';
	check_path(s, flags);
	check_mailbox(s);
	check_xtext(s);
	free(s);
	return 0;
}
