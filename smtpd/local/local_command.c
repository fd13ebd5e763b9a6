/*
 * local_command.c: what a delivery child does, as the user, to run a
 * program: the rule's MDA ("local delivery mda COMMAND") for a mailbox,
 * or a |program target of an alias or a .forward.  It is a child of the
 * spawner (local_exec.c), the one that may exec.
 *
 * The command line is split into words without a shell (blanks part
 * them, double quotes group).  An MDA's words are %-expanded (%u user,
 * %r the mailbox with +detail, %x the detail, %a the address the mail
 * was sent to, %d its domain, %s the sender, %h the home, %i the queue
 * id, %% a '%'); an expansion that would begin with '-' is refused, so
 * no address becomes an option.  A |program goes through the rules of
 * sendmail's smrsh: no shell metacharacter anywhere in the command, and
 * its first word's basename must be a file in local smrsh-dir, which is
 * what runs (never a path from the alias).  Either runs in its own
 * process group, in the user's home, with a clean environment (HOME,
 * USER, LOGNAME, SHELL=/bin/sh, PATH=/usr/bin:/bin, SENDER, RECIPIENT)
 * and the signals at their defaults (a |program with
 * PR_SET_NO_NEW_PRIVS, an MDA without: its set-id bits work); its stdin is the message with our
 * Return-Path: and Delivered-To: and LF line ends (a program gets the
 * From_ line first, as sendmail gives it; an MDA does not, procmail and
 * dovecot-lda make their own from -f), its stdout and stderr together
 * are the result text (the first LOCAL_COMMAND_TEXT_MAX octets; the rest
 * is read and dropped).
 *
 * Its exit status is read as sendmail and Postfix do (sysexits):
 * local_command_status().  Killed, or past the time limit (SIGALRM, its
 * process group killed), it is a temporary failure: the mail is retried.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"
#include "local.h"

#define LOCAL_COMMAND_ARGS	64
#define LOCAL_COMMAND_TEXT_MAX	300
/* what a |program may not contain (sendmail's smrsh refuses these) */
#define LOCAL_COMMAND_META	";&|<>$`\\'(){}[]*?~!#\r\n"

static volatile sig_atomic_t	 cmd_pgid = -1;
static int			 cmd_resultfd = -1;
static const char		 cmd_timeout[] =
				    "tempfail 4.3.0 the program timed out; "
				    "killed\n";

/* The time limit, SIGTERM, the end of smtpd-local: the program's whole
 * process group goes, and the mail is retried. */
static void
command_signal(int sig)
{
	(void)sig;
	if (cmd_pgid > 0)
		(void)kill(-cmd_pgid, SIGKILL);
	if (cmd_resultfd != -1 &&
	    write(cmd_resultfd, cmd_timeout, sizeof(cmd_timeout) - 1) == -1)
		_exit(EX_TEMPFAIL);
	_exit(EX_TEMPFAIL);
}

int
local_command_split(char *line, char **argv, size_t max)
{
	char	*p = line, *w;
	size_t	 argc = 0;
	int	 quoted;

	for (;;) {
		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		if (argc + 1 >= max)
			return -1;
		argv[argc++] = w = p;
		for (quoted = 0; *p != '\0' && (quoted || (*p != ' ' &&
		    *p != '\t')); p++) {
			if (*p == '"')
				quoted = !quoted;
			else
				*w++ = *p;
		}
		if (quoted)
			return -1;
		if (*p != '\0')
			p++;
		*w = '\0';
	}
	argv[argc] = NULL;
	return (int)argc;
}

/* The value of %c, or NULL if c is no expansion. */
static const char *
command_value(const struct local_job *j, char c, char *buf, size_t len)
{
	const char	*at, *plus;

	switch (c) {
	case 'u':
		return j->user;
	case 'r':
		return j->rcpt;
	case 'x':
		plus = strchr(j->rcpt, '+');
		return plus != NULL ? plus + 1 : "";
	case 'a':
		if (j->orig[0] != '\0')
			return j->orig;
		(void)snprintf(buf, len, "%s@%s", j->rcpt, j->hostname);
		return buf;
	case 'd':
		at = strrchr(j->orig, '@');
		return at != NULL ? at + 1 : j->hostname;
	case 's':
		return j->sender;
	case 'h':
		return j->home;
	case 'i':
		return j->id;
	case '%':
		return "%";
	}
	return NULL;
}

int
local_command_expand(const struct local_job *j, const char *word, char *out,
    size_t len)
{
	char		 buf[LOCAL_USER_MAX + 256];
	const char	*v;
	size_t		 n = 0, vlen;

	for (; *word != '\0'; word++) {
		if (*word != '%') {
			if (n + 1 >= len)
				return -1;
			out[n++] = *word;
			continue;
		}
		if ((v = command_value(j, *++word, buf, sizeof(buf))) == NULL)
			return -1;
		vlen = strlen(v);
		if ((n == 0 && v[0] == '-') || n + vlen >= len)
			return -1;
		memcpy(out + n, v, vlen);
		n += vlen;
	}
	out[n] = '\0';
	return 0;
}

int
local_command_smrsh(const char *cmd, const char *dir, char *path,
    size_t len)
{
	const char	*base, *end;
	struct stat	 sb;
	size_t		 n;

	if (cmd[strcspn(cmd, LOCAL_COMMAND_META)] != '\0')
		return -1;
	cmd += strspn(cmd, " \t\"");
	end = cmd + strcspn(cmd, " \t\"");
	for (base = end; base > cmd && base[-1] != '/'; base--)
		;
	n = (size_t)(end - base);
	if (n == 0 || (n == 1 && base[0] == '.') ||
	    (n == 2 && base[0] == '.' && base[1] == '.') ||
	    (size_t)snprintf(path, len, "%s/%.*s", dir, (int)n, base) >= len)
		return -1;
	if (stat(path, &sb) == -1 || !S_ISREG(sb.st_mode))
		return -2;
	return 0;
}

/* The exit statuses of programs, as sendmail and Postfix read them. */
static const struct {
	int		 code;
	uint32_t	 status;
	const char	*estatus;
	const char	*text;
} command_exits[] = {
	{ EX_USAGE, STATUS_PERMFAIL, "5.3.0", "command line usage error" },
	{ EX_DATAERR, STATUS_PERMFAIL, "5.6.0", "data format error" },
	{ EX_NOINPUT, STATUS_PERMFAIL, "5.3.0", "cannot open input" },
	{ EX_NOUSER, STATUS_PERMFAIL, "5.1.1", "User unknown" },
	{ EX_NOHOST, STATUS_PERMFAIL, "5.1.2", "host name unknown" },
	{ EX_UNAVAILABLE, STATUS_PERMFAIL, "5.3.0", "service unavailable" },
	{ EX_SOFTWARE, STATUS_PERMFAIL, "5.3.0", "internal software error" },
	{ EX_OSERR, STATUS_TEMPFAIL, "4.3.0", "system error" },
	{ EX_OSFILE, STATUS_PERMFAIL, "5.3.0", "critical OS file missing" },
	{ EX_CANTCREAT, STATUS_PERMFAIL, "5.2.0", "cannot create output" },
	{ EX_IOERR, STATUS_TEMPFAIL, "4.3.0", "input/output error" },
	{ EX_TEMPFAIL, STATUS_TEMPFAIL, "4.3.0", "temporary failure" },
	{ EX_PROTOCOL, STATUS_PERMFAIL, "5.5.0", "remote protocol error" },
	{ EX_NOPERM, STATUS_PERMFAIL, "5.7.0", "permission denied" },
	{ EX_CONFIG, STATUS_PERMFAIL, "5.3.5", "configuration error" },
};

void
local_command_status(int code, uint32_t *status, const char **estatus,
    const char **text)
{
	size_t	 i;

	*status = STATUS_PERMFAIL;
	*estatus = "5.3.0";
	*text = "unknown mailer error";
	if (code == 0) {
		*status = STATUS_OK;
		*estatus = "2.0.0";
		*text = "delivered to a program";
		return;
	}
	for (i = 0; i < sizeof(command_exits) / sizeof(command_exits[0]); i++)
		if (command_exits[i].code == code) {
			*status = command_exits[i].status;
			*estatus = command_exits[i].estatus;
			*text = command_exits[i].text;
			return;
		}
}

/* The message as the program reads it, in a memfd; -1 on failure. */
static int
command_input(const struct local_job *j, FILE *in)
{
	FILE	*out;
	int	 fd, r;

	if ((fd = memfd_create("message", MFD_CLOEXEC)) == -1)
		return -1;
	if ((out = fdopen(dup(fd), "w")) == NULL) {
		(void)close(fd);
		return -1;
	}
	r = 0;
	if (j->kind == TARGET_PROGRAM)
		r = local_message_from_line(j, out);
	if (r == 0)
		r = local_message_headers(j, out);
	if (r == 0)
		r = local_message_copy(in, out);
	if (fclose(out) == EOF || r == -1 || lseek(fd, 0, SEEK_SET) == -1) {
		(void)close(fd);
		return -1;
	}
	return fd;
}

/* In the program's process, before exec. */
static void __attribute__((noreturn))
command_exec(const struct local_job *j, const char *path, char **argv,
    int infd, int outfd)
{
	char		 env[7][LOCAL_USER_MAX + PATH_MAX];
	char		*envp[8];
	sigset_t	 none;
	int		 sig;

	(void)setpgid(0, 0);
	for (sig = 1; sig < NSIG; sig++)
		(void)signal(sig, SIG_DFL);
	(void)sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)alarm(0);
	if (dup2(infd, STDIN_FILENO) == -1 || dup2(outfd, STDOUT_FILENO) == -1 ||
	    dup2(outfd, STDERR_FILENO) == -1)
		_exit(EX_OSERR);
	closefrom(STDERR_FILENO + 1);
	if (chdir(j->home) == -1 && chdir("/") == -1)
		_exit(EX_OSERR);
	/* an MDA is the admin's command and keeps its set-id bits, as
	 * under Postfix's mailbox_command (Debian's procmail needs them
	 * for the dot-lock in /var/mail); a |program of an alias or a
	 * .forward gains no privilege by exec */
	if (j->kind == TARGET_PROGRAM &&
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		_exit(EX_OSERR);
	(void)snprintf(env[0], sizeof(env[0]), "HOME=%s", j->home);
	(void)snprintf(env[1], sizeof(env[1]), "USER=%s", j->user);
	(void)snprintf(env[2], sizeof(env[2]), "LOGNAME=%s", j->user);
	(void)snprintf(env[3], sizeof(env[3]), "SHELL=/bin/sh");
	(void)snprintf(env[4], sizeof(env[4]), "PATH=/usr/bin:/bin");
	(void)snprintf(env[5], sizeof(env[5]), "SENDER=%s", j->sender);
	(void)snprintf(env[6], sizeof(env[6]), "RECIPIENT=%s",
	    j->orig[0] != '\0' ? j->orig : j->rcpt);
	for (sig = 0; sig < 7; sig++)
		envp[sig] = env[sig];
	envp[7] = NULL;
	(void)execve(path, argv, envp);
	(void)fprintf(stderr, "cannot run %s: %s", path, strerror(errno));
	_exit(EX_OSERR);
}

/* The program's output, bounded, read to its end. */
static void
command_output(int fd, char *text, size_t len)
{
	char	 buf[4096];
	size_t	 n = 0;
	ssize_t	 r;

	while ((r = read(fd, buf, sizeof(buf))) != 0) {
		if (r == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (n + 1 < len) {
			if ((size_t)r > len - 1 - n)
				r = (ssize_t)(len - 1 - n);
			memcpy(text + n, buf, (size_t)r);
			n += (size_t)r;
		}
	}
	text[n] = '\0';
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
		text[--n] = '\0';
}

/* Refuse the delivery for good, with why. */
static void __attribute__((noreturn))
command_refuse(int resultfd, const char *estatus, const char *text,
    const char *arg)
{
	local_result_write(resultfd, STATUS_PERMFAIL, estatus, text, arg);
	_exit(EX_NOPERM);
}

/* The words of the command and the file to run; exits if refused. */
static void
command_argv(const struct local_job *j, int resultfd, char *line,
    size_t linelen, char **argv, char *path, size_t pathlen)
{
	static char	 words[LOCAL_COMMAND_ARGS][CONF_LOCAL_ARG_MAX];
	int		 argc, i, r;

	if (j->kind == TARGET_PROGRAM) {
		if ((r = local_command_smrsh(j->rcpt + 1, j->smrsh_dir, path,
		    pathlen)) == -1)
			command_refuse(resultfd, "5.7.1", "smrsh: %s: shell "
			    "metacharacters or no program name",
			    j->rcpt + 1);
		if (r == -2)
			command_refuse(resultfd, "5.7.1", "smrsh: %s not "
			    "available for sendmail programs", path);
		(void)strlcpy(line, j->rcpt + 1, linelen);
	} else
		(void)strlcpy(line, j->rule.arg, linelen);
	if ((argc = local_command_split(line, argv, LOCAL_COMMAND_ARGS)) < 1)
		command_refuse(resultfd, "5.3.5", "bad command line: %s", line);
	if (j->kind == TARGET_PROGRAM) {
		/* the program runs by its name in smrsh-dir */
		argv[0] = strrchr(path, '/') + 1;
		return;
	}
	for (i = 0; i < argc; i++) {
		if (local_command_expand(j, argv[i], words[i],
		    sizeof(words[i])) == -1)
			command_refuse(resultfd, "5.3.5", "cannot expand %s "
			    "(unknown %%-expansion, or a value that begins "
			    "with '-')", argv[i]);
		argv[i] = words[i];
	}
	(void)strlcpy(path, argv[0], pathlen);
}

void
local_command_child(const struct local_job *j, int msgfd, int resultfd)
{
	static char	 line[CONF_LOCAL_ARG_MAX];
	char		*argv[LOCAL_COMMAND_ARGS], path[PATH_MAX];
	char		 text[LOCAL_COMMAND_TEXT_MAX];
	const char	*estatus, *deftext;
	uint32_t	 status;
	FILE		*in;
	pid_t		 pid;
	int		 r, infd, pfd[2], wstatus;

	cmd_resultfd = resultfd;
	local_child_signals(j->ppid, command_signal);
	/* a child of the spawner has no exit status for smtpd-local to
	 * read: every end of it writes its result */
	if ((r = local_message_open(j, msgfd, &in)) == EX_DATAERR) {
		local_result_write(resultfd, STATUS_PERMFAIL, "5.4.6",
		    "mail loops back to me");
		_exit(r);
	}
	if (r != 0) {
		local_result_write(resultfd, STATUS_TEMPFAIL, "4.3.0",
		    "cannot read the message");
		_exit(r);
	}
	command_argv(j, resultfd, line, sizeof(line), argv, path,
	    sizeof(path));
	if ((infd = command_input(j, in)) == -1 || pipe2(pfd, O_CLOEXEC) == -1)
		_exit(EX_OSERR);
	if ((pid = fork()) == -1)
		_exit(EX_OSERR);
	if (pid == 0)
		command_exec(j, path, argv, infd, pfd[1]);
	cmd_pgid = pid;
	(void)close(pfd[1]);
	command_output(pfd[0], text, sizeof(text));
	while (waitpid(pid, &wstatus, 0) == -1)
		if (errno != EINTR)
			_exit(EX_OSERR);
	cmd_pgid = -1;
	if (!WIFEXITED(wstatus)) {
		local_result_write(resultfd, STATUS_TEMPFAIL, "4.3.0",
		    "%s died of signal %d", argv[0], WTERMSIG(wstatus));
		_exit(EX_TEMPFAIL);
	}
	local_command_status(WEXITSTATUS(wstatus), &status, &estatus,
	    &deftext);
	if (text[0] != '\0')
		local_result_write(resultfd, status, estatus, "%s", text);
	else if (status == STATUS_OK)
		local_result_write(resultfd, status, estatus, "%s",
		    j->kind == TARGET_PROGRAM ? "delivered to a program" :
		    "delivered by the MDA");
	else
		local_result_write(resultfd, status, estatus, "%s (%s exited "
		    "%d)", deftext, argv[0], WEXITSTATUS(wstatus));
	_exit(WEXITSTATUS(wstatus) == 0 ? 0 : EX_UNAVAILABLE);
}
