/*
 * test_queue_review.c: the fixes of the queue review: the front end's fd
 * is write-only and a failed create leaves no id behind; a group commit
 * of many envelopes holds at most one descriptor; read failures say
 * whether the file is bad for good; enhanced status codes are checked
 * against the result; smtpctl fields cannot shift; the dsn-pending flag
 * survives the envelope format; hex names parse in one place.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"
#include "queue.h"
#include "unit.h"
#include "util.h"

#define NENV	300

static int
always_inuse(uint32_t id)
{
	(void)id;
	return 1;
}

/* Open descriptors of this process. */
static int
nfds(void)
{
	DIR		*dir;
	struct dirent	*de;
	int		 n = 0;

	if ((dir = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	(void)closedir(dir);
	return n;
}

static void
mkenv(struct envelope *e, uint32_t msgid, uint64_t size)
{
	memset(e, 0, sizeof(*e));
	e->msgid = msgid;
	e->id = id_envelope(msgid);
	(void)strlcpy(e->sender, "alice@example.org", sizeof(e->sender));
	(void)strlcpy(e->rcpt, "bob@example.net", sizeof(e->rcpt));
	(void)strlcpy(e->proto, "ESMTP", sizeof(e->proto));
	(void)strlcpy(e->auth, "<>", sizeof(e->auth));
	(void)queue_envelope_domain(e->rcpt, e->domain, sizeof(e->domain));
	e->size = size;
	e->ctime = e->nexttry = time(NULL);
}

static void
test_create(struct spool *sp)
{
	uint32_t	 msgid = 12345;
	int		 fd;

	fd = queue_spool_message_create(sp, &msgid, NULL, 0);
	UNIT_CHECK(fd != -1 && msgid != 0, "message created");
	UNIT_CHECK((fcntl(fd, F_GETFL) & O_ACCMODE) == O_WRONLY,
	    "the front end's fd is write-only");
	(void)close(fd);
	queue_spool_message_discard(sp, msgid);
	msgid = 12345;
	UNIT_CHECK(queue_spool_message_create(sp, &msgid, always_inuse, 0) ==
	    -1 && msgid == 0, "a failed create leaves msgid 0");
}

/* One message with NENV envelopes: one descriptor at most while staged. */
static void
test_group_fds(struct spool *sp)
{
	struct spool_tx	 tx;
	struct envelope	 e;
	uint32_t	 msgid;
	int		 fd, unit, before, most = 0, i, n;

	fd = queue_spool_message_create(sp, &msgid, NULL, 0);
	UNIT_CHECK(fd != -1 && write(fd, "hello\r\n", 7) == 7, "message body");
	(void)close(fd);
	before = nfds();
	queue_spool_tx_init(&tx, sp);
	unit = queue_spool_tx_unit(&tx);
	(void)queue_spool_tx_message(&tx, unit, msgid);
	for (i = 0; i < NENV; i++) {
		mkenv(&e, msgid, 7);
		(void)queue_spool_tx_envelope(&tx, unit, &e);
		if ((n = nfds() - before) > most)
			most = n;
	}
	UNIT_CHECK(most <= 1, "staging holds at most one descriptor");
	UNIT_CHECK(queue_spool_tx_commit(&tx) == 0, "group committed");
	queue_spool_tx_free(&tx);
	UNIT_CHECK(nfds() == before, "no descriptor left after the commit");
	UNIT_CHECK(queue_spool_message_size(sp, SPOOL_MESSAGE, msgid) == 7,
	    "message in place");

	/* a single rewritten envelope still commits (fdatasync path) */
	queue_spool_tx_init(&tx, sp);
	e.retries = 2;
	(void)queue_spool_tx_envelope(&tx, queue_spool_tx_unit(&tx), &e);
	UNIT_CHECK(queue_spool_tx_commit(&tx) == 0, "single file committed");
	queue_spool_tx_free(&tx);
	UNIT_CHECK(nfds() == before, "no descriptor left after a rewrite");
}

static void
test_read_errors(struct spool *sp)
{
	struct envelope	 e;
	const char	*why;
	int		 fd;

	errno = 0;
	UNIT_CHECK(queue_spool_envelope_read(sp, 0x1122334455667788ULL, &e,
	    &why) == -1 && errno == ENOENT &&
	    queue_spool_error_is_corrupt(errno), "missing envelope is bad");
	fd = openat(sp->dir[SPOOL_ENVELOPE], "1122334455667789",
	    O_WRONLY | O_CREAT, 0600);
	UNIT_CHECK(fd != -1 && write(fd, "garbage\n", 8) == 8, "bad file");
	(void)close(fd);
	UNIT_CHECK(queue_spool_envelope_read(sp, 0x1122334455667789ULL, &e,
	    &why) == -1 && errno == EINVAL &&
	    queue_spool_error_is_corrupt(errno), "unparsable envelope is bad");
	UNIT_CHECK(!queue_spool_error_is_corrupt(EMFILE) &&
	    !queue_spool_error_is_corrupt(ENFILE) &&
	    !queue_spool_error_is_corrupt(ENOMEM) &&
	    !queue_spool_error_is_corrupt(EIO), "transient errors retried");
}

static void
test_estatus(void)
{
	UNIT_CHECK(queue_result_estatus_ok("2.0.0", STATUS_OK) &&
	    queue_result_estatus_ok("4.4.1", STATUS_TEMPFAIL) &&
	    queue_result_estatus_ok("5.1.10", STATUS_PERMFAIL) &&
	    queue_result_estatus_ok("5.999.999", STATUS_PERMFAIL),
	    "good status codes");
	UNIT_CHECK(!queue_result_estatus_ok("5.1.1", STATUS_OK) &&
	    !queue_result_estatus_ok("2.0.0", STATUS_TEMPFAIL) &&
	    !queue_result_estatus_ok("4.0.0", STATUS_PERMFAIL),
	    "class must match the result");
	UNIT_CHECK(!queue_result_estatus_ok("", STATUS_OK) &&
	    !queue_result_estatus_ok("5.1", STATUS_PERMFAIL) &&
	    !queue_result_estatus_ok("5.1.1 x", STATUS_PERMFAIL) &&
	    !queue_result_estatus_ok("5.1.1000", STATUS_PERMFAIL) &&
	    !queue_result_estatus_ok("5.01.1", STATUS_PERMFAIL) &&
	    !queue_result_estatus_ok("5..1", STATUS_PERMFAIL) &&
	    !queue_result_estatus_ok("3.0.0", 3), "malformed codes refused");
}

static void
test_ctl_field(void)
{
	char	 buf[64];

	queue_ctl_field(buf, sizeof(buf), "a|b%c\x01@x.test");
	UNIT_CHECK(strcmp(buf, "a%7Cb%25c%01@x.test") == 0,
	    "'|', '%' and controls escaped");
	UNIT_CHECK(strchr(buf, '|') == NULL, "no separator left");
	queue_ctl_field(buf, 5, "ab|cd");
	UNIT_CHECK(strcmp(buf, "ab") == 0, "escape never cut in half");
}

static void
test_format(void)
{
	struct envelope		 e, back;
	unsigned long long	 v;
	char			 buf[ENVELOPE_TEXT_MAX];
	const char		*why;
	int			 len;

	mkenv(&e, 0x01020304, 10);
	e.flags = ENVELOPE_F_DSN_PENDING | ENVELOPE_F_DELAY_SENT;
	len = queue_envelope_dump(&e, buf, sizeof(buf));
	UNIT_CHECK(len > 0 && strstr(buf, "dsn-pending") != NULL,
	    "dsn-pending written");
	UNIT_CHECK(queue_envelope_load(&back, buf, (size_t)len, &why) == 0 &&
	    back.flags == e.flags, "dsn-pending read back");
	UNIT_CHECK(queue_envelope_hex_parse("0a0b0c0d", 8, &v) == 0 &&
	    v == 0x0a0b0c0d, "hex name");
	UNIT_CHECK(queue_envelope_hex_parse("0A0B0C0D", 8, &v) == -1 &&
	    queue_envelope_hex_parse("0a0b0c0", 8, &v) == -1 &&
	    queue_envelope_hex_parse("0a0b0c0g", 8, &v) == -1,
	    "bad hex names refused");
}

int
main(void)
{
	struct spool	 sp;
	char		 dir[] = "/tmp/test_queue_review.XXXXXX", cmd[64];
	int		 root;

	if (mkdtemp(dir) == NULL ||
	    (root = open(dir, O_RDONLY | O_DIRECTORY)) == -1) {
		perror("tmpdir");
		return 1;
	}
	UNIT_CHECK(queue_spool_open(&sp, root) == 0, "spool opened");
	test_create(&sp);
	test_group_fds(&sp);
	test_read_errors(&sp);
	test_estatus();
	test_ctl_field();
	test_format();
	(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	UNIT_CHECK(system(cmd) == 0, "scratch directory removed");
	return unit_done();
}
