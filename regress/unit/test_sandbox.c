/*
 * test_sandbox.c: each child's seccomp filter (common/sandbox.c) holds.
 * For every process a forked child loads that process's filter and then
 * tries one thing outside its list (execve, ptrace, fork, a socket,
 * TIOCSTI, a signal to another process): it must die by SIGSYS after
 * logging the call's name.  What a filter turns into an error instead
 * must fail with that errno and leave the process running: open(2) in
 * the front end, the mta and tlsproxy, unix sockets outside auth and
 * local (EACCES), other families in smtpd-auth and netlink in smtpd-local
 * (EAFNOSUPPORT), isatty()'s TCGETS (ENOTTY).  Allowed calls, and threads where there are threads, work.
 * smtpd-local, which forks a child per delivery, may fork but start no
 * thread; any prctl(2) but PR_SET_PDEATHSIG fails with EINVAL there.
 */
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"
#include "unit.h"

enum probe {
	PROBE_INET_SOCKET,	/* socket(AF_INET, SOCK_STREAM) */
	PROBE_UNIX_SOCKET,	/* socket(AF_UNIX, SOCK_STREAM) */
	PROBE_NETLINK_SOCKET,	/* socket(AF_NETLINK, SOCK_RAW) */
	PROBE_TIOCSTI,		/* ioctl(0, TIOCSTI): typing into a tty */
	PROBE_ISATTY,		/* isatty(0): TCGETS */
	PROBE_KILL_OTHER,	/* kill(1, 0) */
	PROBE_EXECVE,
	PROBE_PTRACE,
	PROBE_OPEN,		/* open("/etc/passwd") */
	PROBE_FORK,		/* fork(): clone(2) without CLONE_THREAD */
	PROBE_THREAD,		/* pthread_create(), joined */
	PROBE_PRCTL,		/* prctl(PR_CAPBSET_READ): libcap's probe */
	PROBE_WRITE		/* write(2) to a pipe: always allowed */
};

static void *
probe_thread(void *arg)
{
	return arg;
}

/* In the child, under the filter: 0 if the call worked, else its errno. */
static int
probe_run(enum probe p)
{
	char		*argv[] = { "/bin/true", NULL };
	pthread_t	 t;
	int		 fd, fds[2];

	switch (p) {
	case PROBE_INET_SOCKET:
		fd = socket(AF_INET, SOCK_STREAM, 0);
		break;
	case PROBE_UNIX_SOCKET:
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		break;
	case PROBE_NETLINK_SOCKET:
		fd = socket(AF_NETLINK, SOCK_RAW, 0);
		break;
	case PROBE_TIOCSTI:
		fd = ioctl(0, TIOCSTI, "x");
		break;
	case PROBE_ISATTY:
		fd = isatty(0) ? 0 : -1;
		break;
	case PROBE_KILL_OTHER:
		fd = kill(1, 0);
		break;
	case PROBE_EXECVE:
		fd = execve(argv[0], argv, NULL);
		break;
	case PROBE_PTRACE:
		fd = (int)syscall(SYS_ptrace, 0, 0, 0, 0);
		break;
	case PROBE_OPEN:
		fd = open("/etc/passwd", O_RDONLY);
		break;
	case PROBE_FORK:
		if ((fd = fork()) == 0)
			_exit(0);
		if (fd > 0)
			fd = waitpid(fd, NULL, 0) == -1 ? -1 : 0;
		break;
	case PROBE_THREAD:
		if ((errno = pthread_create(&t, NULL, probe_thread, NULL)) != 0)
			return errno;
		fd = pthread_join(t, NULL) == 0 ? 0 : -1;
		break;
	case PROBE_PRCTL:
		fd = prctl(PR_CAPBSET_READ, 0, 0, 0, 0);
		break;
	default:
		if (pipe(fds) == -1)
			return errno;
		fd = (int)write(fds[1], "x", 1);
		break;
	}
	return fd == -1 ? errno : 0;
}

/*
 * Fork, enter name's sandbox, run the probe.  Returns the child's wait
 * status; *err is the probe's errno when it came back; the child's log
 * (its stderr) goes to logbuf.
 */
static int
probe_fork(const char *name, enum probe p, int *err, char *logbuf,
    size_t logsize)
{
	int	 out[2], res[2], status = 0;
	ssize_t	 n;
	pid_t	 pid;

	*err = -1;
	logbuf[0] = '\0';
	if (pipe(out) == -1 || pipe(res) == -1)
		return -1;
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		(void)dup2(out[1], STDERR_FILENO);
		log_init("test", 1);
		if (sandbox_enter(name) == -1)
			_exit(99);
		*err = probe_run(p);
		_exit(write(res[1], err, sizeof(*err)) == sizeof(*err) ? 0 : 98);
	}
	(void)close(out[1]);
	(void)close(res[1]);
	if (read(res[0], err, sizeof(*err)) != sizeof(*err))
		*err = -1;
	n = read(out[0], logbuf, logsize - 1);
	logbuf[n > 0 ? n : 0] = '\0';
	(void)waitpid(pid, &status, 0);
	(void)close(out[0]);
	(void)close(res[0]);
	return status;
}

/* The probe kills name's process by SIGSYS, logging the call. */
static int
killed(const char *name, enum probe p, const char *call)
{
	char	 logbuf[512], want[64];
	int	 err, status;

	status = probe_fork(name, p, &err, logbuf, sizeof(logbuf));
	(void)snprintf(want, sizeof(want), "forbidden system call %s", call);
	return status != -1 && WIFSIGNALED(status) &&
	    WTERMSIG(status) == SIGSYS && strstr(logbuf, want) != NULL;
}

/* The probe kills name's process by SIGSYS, with or without the log
 * line: glibc blocks every signal around a thread's clone(2), so the
 * kernel kills without running the handler. */
static int
killed_unlogged(const char *name, enum probe p)
{
	char	 logbuf[512];
	int	 err, status;

	status = probe_fork(name, p, &err, logbuf, sizeof(logbuf));
	return status != -1 && WIFSIGNALED(status) &&
	    WTERMSIG(status) == SIGSYS;
}

/* The probe comes back with errno want (0: it worked) in name's filter. */
static int
answered(const char *name, enum probe p, int want)
{
	char	 logbuf[512];
	int	 err, status;

	status = probe_fork(name, p, &err, logbuf, sizeof(logbuf));
	return status != -1 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0 && err == want;
}

/*
 * smtpd-local: root and unchrooted, so its filter is the whole of its
 * confinement.  It forks (a child per delivery) but starts no thread,
 * runs no program, traces nothing, signals no other process (its
 * children only through their pidfds); its sockets are unix, IPv4 and
 * IPv6 ones, for a child that delivers by LMTP.
 */
static int
local_section(void)
{
	int	 before = unit_failed;

	UNIT_CHECK(killed("local", PROBE_EXECVE, "execve"),
	    "local: execve is killed");
	UNIT_CHECK(killed("local", PROBE_PTRACE, "ptrace"),
	    "local: ptrace is killed");
	UNIT_CHECK(answered("local", PROBE_WRITE, 0),
	    "local: write still works");
	UNIT_CHECK(answered("local", PROBE_FORK, 0),
	    "local: fork works (a child per delivery)");
	UNIT_CHECK(killed_unlogged("local", PROBE_THREAD),
	    "local: no thread");
	UNIT_CHECK(killed("local", PROBE_TIOCSTI, "ioctl"),
	    "local: TIOCSTI is killed");
	UNIT_CHECK(answered("local", PROBE_ISATTY, ENOTTY),
	    "local: isatty says no");
	UNIT_CHECK(killed("local", PROBE_KILL_OTHER, "kill"),
	    "local: no signal to another process");
	UNIT_CHECK(answered("local", PROBE_INET_SOCKET, 0),
	    "local: an IPv4 socket (LMTP over TCP) works");
	UNIT_CHECK(answered("local", PROBE_UNIX_SOCKET, 0),
	    "local: a unix socket (LMTP, nscd, syslog) works");
	UNIT_CHECK(answered("local", PROBE_NETLINK_SOCKET, EAFNOSUPPORT),
	    "local: a netlink socket (getaddrinfo) fails with EAFNOSUPPORT");
	UNIT_CHECK(answered("local", PROBE_OPEN, 0),
	    "local: open works (passwd, the mailboxes)");
	UNIT_CHECK(answered("local", PROBE_PRCTL, EINVAL),
	    "local: prctl other than PR_SET_PDEATHSIG fails with EINVAL");
	return unit_failed == before;
}

int
main(void)
{
	static const char *const all[] = {
		"smtp", "mta", "queue", "policyd", "tlsproxy", "auth"
	};
	char	 name[64];
	size_t	 i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		(void)snprintf(name, sizeof(name), "%s: execve is killed",
		    all[i]);
		UNIT_CHECK(killed(all[i], PROBE_EXECVE, "execve"), name);
		(void)snprintf(name, sizeof(name), "%s: ptrace is killed",
		    all[i]);
		UNIT_CHECK(killed(all[i], PROBE_PTRACE, "ptrace"), name);
		(void)snprintf(name, sizeof(name), "%s: write still works",
		    all[i]);
		UNIT_CHECK(answered(all[i], PROBE_WRITE, 0), name);
		(void)snprintf(name, sizeof(name), "%s: fork is killed",
		    all[i]);
		UNIT_CHECK(killed(all[i], PROBE_FORK, "clone"), name);
		(void)snprintf(name, sizeof(name), "%s: TIOCSTI is killed",
		    all[i]);
		UNIT_CHECK(killed(all[i], PROBE_TIOCSTI, "ioctl"), name);
		(void)snprintf(name, sizeof(name), "%s: isatty says no",
		    all[i]);
		UNIT_CHECK(answered(all[i], PROBE_ISATTY, ENOTTY), name);
		(void)snprintf(name, sizeof(name), "%s: no signal to another "
		    "process", all[i]);
		UNIT_CHECK(killed(all[i], PROBE_KILL_OTHER, "kill"), name);
	}
	UNIT_CHECK(answered("smtp", PROBE_THREAD, 0),
	    "smtp: a thread (the resolver's) can start");
	UNIT_CHECK(answered("mta", PROBE_THREAD, 0),
	    "mta: a thread (the resolver's) can start");
	UNIT_CHECK(answered("queue", PROBE_THREAD, 0),
	    "queue: a thread (the sync worker) can start");
	UNIT_CHECK(killed("tlsproxy", PROBE_INET_SOCKET, "socket"),
	    "tlsproxy: no socket of its own");
	UNIT_CHECK(answered("tlsproxy", PROBE_UNIX_SOCKET, EACCES),
	    "tlsproxy: a unix socket (syslog's reconnect) fails with EACCES");
	UNIT_CHECK(killed("queue", PROBE_INET_SOCKET, "socket"),
	    "queue: no network");
	UNIT_CHECK(answered("policyd", PROBE_INET_SOCKET, 0),
	    "policyd: an IPv4 socket (PostgreSQL) works");
	UNIT_CHECK(answered("policyd", PROBE_UNIX_SOCKET, EACCES),
	    "policyd: a unix socket fails with EACCES");
	UNIT_CHECK(answered("policyd", PROBE_NETLINK_SOCKET, EAFNOSUPPORT),
	    "policyd: a netlink socket (getaddrinfo) fails with EAFNOSUPPORT");
	UNIT_CHECK(answered("smtp", PROBE_UNIX_SOCKET, EACCES),
	    "smtp: a unix socket fails with EACCES");
	UNIT_CHECK(killed("smtp", PROBE_NETLINK_SOCKET, "socket"),
	    "smtp: only the resolver's IPv4/IPv6 sockets");
	UNIT_CHECK(answered("smtp", PROBE_OPEN, EACCES),
	    "smtp: open fails with EACCES");
	UNIT_CHECK(answered("mta", PROBE_OPEN, EACCES),
	    "mta: open fails with EACCES");
	UNIT_CHECK(answered("tlsproxy", PROBE_OPEN, EACCES),
	    "tlsproxy: open fails with EACCES");
	UNIT_CHECK(answered("auth", PROBE_INET_SOCKET, EAFNOSUPPORT),
	    "auth: an IPv4 socket fails with EAFNOSUPPORT");
	UNIT_CHECK(answered("auth", PROBE_NETLINK_SOCKET, EAFNOSUPPORT),
	    "auth: a netlink socket (getaddrinfo) fails with EAFNOSUPPORT");
	UNIT_CHECK(answered("auth", PROBE_UNIX_SOCKET, 0),
	    "auth: a unix socket (saslauthd) works");
	UNIT_CHECK(answered("queue", PROBE_OPEN, 0),
	    "queue: open works (the spool)");
	UNIT_CHECK(local_section(), "local: its own section passed");
	UNIT_CHECK(sandbox_enter("nosuch") == -1,
	    "an unknown process has no filter");
	return unit_done();
}
