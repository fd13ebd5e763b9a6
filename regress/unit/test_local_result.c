/*
 * test_local_result.c: the result pipe of smtpd-local's delivery
 * children (smtpd/local/local_result.c): what a child writes reads back
 * the same, a long text is cut, control characters are made '?', and
 * anything else than one well-formed line is refused.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"
#include "local.h"
#include "unit.h"

static int
parses(const char *line, uint32_t status, const char *estatus,
    const char *text)
{
	struct local_result	 res;

	memset(&res, 0, sizeof(res));
	if (local_result_parse(line, strlen(line), &res) == -1)
		return 0;
	return res.status == status && strcmp(res.estatus, estatus) == 0 &&
	    strcmp(res.text, text) == 0;
}

static int
refused(const char *line, size_t len)
{
	struct local_result	 res;

	return local_result_parse(line, len, &res) == -1;
}

/* What local_result_write() puts on a pipe, parsed back. */
static int
written(uint32_t status, const char *estatus, const char *text,
    struct local_result *res)
{
	char	 buf[LOCAL_RESULT_MAX + 16];
	int	 fds[2];
	ssize_t	 n;

	if (pipe(fds) == -1)
		return 0;
	local_result_write(fds[1], status, estatus, "%s", text);
	(void)close(fds[1]);
	n = read(fds[0], buf, sizeof(buf));
	(void)close(fds[0]);
	return n > 0 && n <= LOCAL_RESULT_MAX &&
	    local_result_parse(buf, (size_t)n, res) == 0;
}

int
main(void)
{
	struct local_result	 res;
	char			 big[2000];

	UNIT_CHECK(parses("ok 2.0.0 delivered to maildir\n", STATUS_OK,
	    "2.0.0", "delivered to maildir"), "a success");
	UNIT_CHECK(parses("permfail 5.1.1 no such user here\n",
	    STATUS_PERMFAIL, "5.1.1", "no such user here"),
	    "a permanent failure");
	UNIT_CHECK(parses("tempfail 4.2.2 over quota\n", STATUS_TEMPFAIL,
	    "4.2.2", "over quota"), "a temporary failure");
	UNIT_CHECK(parses("ok 2.1.5\n", STATUS_OK, "2.1.5", ""),
	    "no text");
	UNIT_CHECK(parses("tempfail 4.3.0 bell\a and tab\t\n",
	    STATUS_TEMPFAIL, "4.3.0", "bell? and tab?"),
	    "control characters are made '?'");
	UNIT_CHECK(refused("ok 2.0.0 x", 10), "no line end");
	UNIT_CHECK(refused("ok 2.0.0 x\nok 2.0.0 y\n", 22), "two lines");
	UNIT_CHECK(refused("ok 5.0.0 x\n", 11), "a class and status apart");
	UNIT_CHECK(refused("fine 2.0.0 x\n", 13), "an unknown class");
	UNIT_CHECK(refused("ok 2.0 x\n", 9), "a short status");
	UNIT_CHECK(refused("ok 2.0000.0 x\n", 14), "a long status part");
	UNIT_CHECK(refused("ok 2.0.0 a\0b\n", 13), "a NUL");
	UNIT_CHECK(refused("", 0), "nothing");
	memset(big, 'x', sizeof(big));
	(void)memcpy(big, "ok 2.0.0 ", 9);
	big[sizeof(big) - 1] = '\n';
	UNIT_CHECK(refused(big, sizeof(big)), "longer than LOCAL_RESULT_MAX");
	UNIT_CHECK(written(STATUS_PERMFAIL, "5.2.2", "mailbox full\r\n", &res) &&
	    res.status == STATUS_PERMFAIL && strcmp(res.estatus, "5.2.2") == 0 &&
	    strcmp(res.text, "mailbox full??") == 0,
	    "written and read back, CR LF cleaned");
	big[sizeof(big) - 1] = '\0';
	UNIT_CHECK(written(STATUS_TEMPFAIL, "4.3.0", big + 9, &res) &&
	    strlen(res.text) < LOCAL_RESULT_TEXT_MAX,
	    "a long text is cut, still one line");
	return unit_done();
}
