/*
 * sendmail_drop.c: the offline drop (`sendmail drop-dir`), for when the
 * daemon cannot be reached; read back by the daemon's pickup, which runs
 * this command as the file's owner with --pickup and the file on stdin
 * (smtpd/parent_pickup.c).
 *
 * A drop file is created O_EXCL, mode 0600, in a directory of mode 1733
 * (anyone may create, nobody may list it or read another's file), named
 * TIME.PID.RANDOM, written in full and fsynced before the command exits
 * 0.  Its text:
 *     smtpd-drop 1
 *     sender <ADDR>          (<> for the null sender)
 *     ret FULL | HDRS | -
 *     envid XTEXT | -
 *     notify LIST | -
 *     rcpt <ADDR>            (one line per recipient)
 *     size N
 *     (an empty line, then the N octets of the message, LF line ends)
 * A file shorter than its size line says is still being written (or its
 * writer died): --pickup exits EX_NOINPUT and the daemon tries it again
 * later.  Anything else malformed is EX_DATAERR, a permanent refusal.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "sendmail.h"
#include "util.h"

#define SM_DROP_MAGIC		"smtpd-drop 1"
#define SM_DROP_HEAD_MAX	(1024 * 1024)	/* the envelope part */

/* The envelope text of a drop file. */
static void
sm_drop_head(struct sm_buf *b, const struct sm_env *e, size_t size)
{
	char	 line[1024];
	size_t	 i;

	(void)snprintf(line, sizeof(line), "%s\nsender <%s>\nret %s\n"
	    "envid %s\nnotify %s\n", SM_DROP_MAGIC, e->sender,
	    e->ret[0] != '\0' ? e->ret : "-",
	    e->envid[0] != '\0' ? e->envid : "-",
	    e->notify[0] != '\0' ? e->notify : "-");
	sm_buf_add(b, line, strlen(line));
	for (i = 0; i < e->nrcpt; i++) {
		(void)snprintf(line, sizeof(line), "rcpt <%s>\n", e->rcpts[i]);
		sm_buf_add(b, line, strlen(line));
	}
	(void)snprintf(line, sizeof(line), "size %zu\n\n", size);
	sm_buf_add(b, line, strlen(line));
}

/* A new file of ours in the drop directory; -1 logged. */
static int
sm_drop_create(char *path, size_t size)
{
	int	 fd, i;

	for (i = 0; i < 100; i++) {
		(void)snprintf(path, size, "%s/%lld.%ld.%08x",
		    sm_conf.drop_dir, (long long)time(NULL), (long)getpid(),
		    id_random32());
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, S_IRUSR | S_IWUSR);
		if (fd != -1)
			return fd;
		if (errno != EEXIST)
			break;
	}
	sm_warnx("cannot queue the message offline in %s: %s",
	    sm_conf.drop_dir, strerror(errno));
	return -1;
}

int
sm_drop_write(const struct sm_env *e, const struct sm_buf *msg)
{
	struct sm_buf	 b;
	char		 path[4200];
	int		 fd, r;

	memset(&b, 0, sizeof(b));
	sm_drop_head(&b, e, msg->len);
	sm_buf_add(&b, msg->data != NULL ? msg->data : "", msg->len);
	if ((fd = sm_drop_create(path, sizeof(path))) == -1) {
		sm_buf_free(&b);
		return EX_TEMPFAIL;
	}
	r = write_all(fd, b.data, b.len);
	sm_buf_free(&b);
	if (r == -1 || fsync(fd) == -1 || close(fd) == -1) {
		sm_warnx("cannot queue the message offline in %s: %s",
		    sm_conf.drop_dir, strerror(errno));
		(void)unlink(path);
		return EX_TEMPFAIL;
	}
	if (sm_opts.verbose)
		sm_warnx("queued offline (%s): the mail system is not running",
		    strrchr(path, '/') + 1);
	return EX_OK;
}

/* "key VALUE\n" at *p: the value, NUL terminated in place; NULL if not. */
static char *
sm_drop_field(char **p, const char *key)
{
	size_t	 n = strlen(key);
	char	*v, *nl;

	if (strncmp(*p, key, n) != 0 || (*p)[n] != ' ')
		return NULL;
	v = *p + n + 1;
	if ((nl = strchr(v, '\n')) == NULL)
		return NULL;
	*nl = '\0';
	*p = nl + 1;
	return v;
}

/* "<ADDR>" into out (ADDR, "" for <>); -1 if not a path. */
static int
sm_drop_path(const char *v, char *out, size_t size)
{
	size_t	 n = strlen(v);

	if (n < 2 || v[0] != '<' || v[n - 1] != '>' || n - 2 >= size)
		return -1;
	(void)snprintf(out, size, "%.*s", (int)(n - 2), v + 1);
	return 0;
}

/* The envelope fields; EX_OK, or EX_DATAERR. */
static int
sm_drop_parse_env(char **p, struct sm_env *e)
{
	char	*v, a[MAILADDR_PATH_MAX];

	if ((v = sm_drop_field(p, "sender")) == NULL ||
	    sm_drop_path(v, e->sender, sizeof(e->sender)) == -1 ||
	    (e->sender[0] != '\0' && !mailaddr_mailbox_valid(e->sender)))
		return EX_DATAERR;
	e->sender_set = 1;
	if ((v = sm_drop_field(p, "ret")) == NULL || (strcmp(v, "-") != 0 &&
	    strcmp(v, "FULL") != 0 && strcmp(v, "HDRS") != 0))
		return EX_DATAERR;
	(void)strlcpy(e->ret, strcmp(v, "-") == 0 ? "" : v, sizeof(e->ret));
	if ((v = sm_drop_field(p, "envid")) == NULL || (strcmp(v, "-") != 0 &&
	    (strlen(v) > MAILADDR_ENVID_MAX || !mailaddr_xtext_valid(v))))
		return EX_DATAERR;
	(void)strlcpy(e->envid, strcmp(v, "-") == 0 ? "" : v,
	    sizeof(e->envid));
	if ((v = sm_drop_field(p, "notify")) == NULL ||
	    strspn(v, "-ACDEFILNRSUVWY,") != strlen(v) ||
	    strlen(v) >= sizeof(e->notify))
		return EX_DATAERR;
	(void)strlcpy(e->notify, strcmp(v, "-") == 0 ? "" : v,
	    sizeof(e->notify));
	while ((v = sm_drop_field(p, "rcpt")) != NULL)
		if (sm_drop_path(v, a, sizeof(a)) == -1 ||
		    sm_env_rcpt_add(e, a) == -1)
			return EX_DATAERR;
	return e->nrcpt > 0 ? EX_OK : EX_DATAERR;
}

int
sm_drop_read(int fd, struct sm_env *e, struct sm_buf *msg)
{
	struct sm_buf	 b;
	char		 chunk[65536], *p, *v, *end;
	size_t		 max = sm_conf.message_size + SM_DROP_HEAD_MAX;
	unsigned long long size;
	ssize_t		 r;
	int		 rc = EX_DATAERR;

	memset(&b, 0, sizeof(b));
	while ((r = read(fd, chunk, sizeof(chunk))) > 0) {
		sm_buf_add(&b, chunk, (size_t)r);
		if (b.len > max) {
			sm_warnx("drop file larger than %zu octets", max);
			goto done;
		}
	}
	if (r == -1 || b.len == 0 || (p = strstr(b.data, "\n\n")) == NULL) {
		rc = r == -1 ? EX_IOERR : EX_NOINPUT;
		goto done;
	}
	end = p + 2;
	p[1] = '\0';
	p = b.data;
	if (strncmp(p, SM_DROP_MAGIC "\n", sizeof(SM_DROP_MAGIC)) != 0)
		goto done;
	p += sizeof(SM_DROP_MAGIC);
	if ((rc = sm_drop_parse_env(&p, e)) != EX_OK)
		goto done;
	rc = EX_DATAERR;
	if ((v = sm_drop_field(&p, "size")) == NULL || *p != '\0' ||
	    sscanf(v, "%llu", &size) != 1)
		goto done;
	if ((size_t)(b.data + b.len - end) != size) {
		rc = (size_t)(b.data + b.len - end) < size ? EX_NOINPUT :
		    EX_DATAERR;
		goto done;
	}
	sm_buf_add(msg, end, (size_t)size);
	rc = EX_OK;
done:
	if (rc != EX_OK && rc != EX_NOINPUT)
		sm_warnx("malformed drop file");
	sm_buf_free(&b);
	return rc;
}
