/*
 * sandbox.c: the seccomp-bpf filter each child loads as the last step of
 * proc_confine(), once it is chrooted and unprivileged.  The allow-lists
 * of every process are here side by side, so that a reviewer compares
 * them in one place; each process gets the common part (libevent, the
 * imsg channels, malloc, time, logging) plus its own.
 *
 *   smtp      accept the listeners' clients; UDP/TCP sockets for its own
 *             resolver (libunbound, in a thread) and the inet milters;
 *             pread/pwrite/ftruncate on the message files the queue
 *             hands it (the milters); no open(2) (EACCES)
 *   mta       the same, plus connect(2) to next hops; no open(2)
 *   queue     the spool: open, rename, unlink, mkdir, fsync, statfs,
 *             and its sync threads
 *   policyd   SQLite on the database file (open, pread, locks); TCP
 *             (IPv4, IPv6) sockets and connect(2) to a PostgreSQL server
 *             (`database postgresql`; the filter is loaded before the
 *             config is known, so it allows them whichever store is used);
 *             a unix socket fails with EACCES and a netlink one with
 *             EAFNOSUPPORT (a conninfo naming a unix socket, or a name,
 *             gets libpq's error, not a crash loop)
 *   tlsproxy  no socket of its own at all; no open(2) (EACCES)
 *   auth      Cyrus SASL: the sasldb (open, locks) and saslauthd's unix
 *             socket
 *   local     root, unchrooted: getpwnam, fork of a child per delivery
 *             (no thread), which drops to the user (setgroups,
 *             setresgid, setresuid) and writes the mbox (open, locks,
 *             the dot-lock's link/unlink, fsync, ftruncate) or connects
 *             to an LMTP server (unix, IPv4, IPv6 sockets); wait4, and
 *             signals to its children only through their pidfds; no
 *             exec
 *
 * Sockets, where allowed, may only be of the families the process needs
 * (checked on the first argument of socket(2)).  No child may execute
 * a program, and none but local may fork; the threaded ones (smtp, mta,
 * queue) may clone(2) threads only.  A system call outside
 * the list traps: the SIGSYS handler logs "seccomp: forbidden system call
 * NAME (NR)" and the process dies by SIGSYS, which the parent logs and
 * answers with a restart.  A filter that cannot be loaded ends the child
 * before it serves anything.
 */
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <sched.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <seccomp.h>

#include "log.h"
#include "sandbox.h"

/* What every child does: the event loop, its channels, memory, time. */
static const int sandbox_common[] = {
	SCMP_SYS(read), SCMP_SYS(readv), SCMP_SYS(write), SCMP_SYS(writev),
	SCMP_SYS(close), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
	SCMP_SYS(lseek), SCMP_SYS(fcntl), SCMP_SYS(dup), SCMP_SYS(dup3),
	SCMP_SYS(pipe2), SCMP_SYS(eventfd2),
	SCMP_SYS(epoll_create1), SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait), SCMP_SYS(poll), SCMP_SYS(ppoll),
	SCMP_SYS(select), SCMP_SYS(pselect6),
	SCMP_SYS(recvmsg), SCMP_SYS(sendmsg), SCMP_SYS(recvfrom),
	SCMP_SYS(sendto), SCMP_SYS(shutdown), SCMP_SYS(getsockopt),
	SCMP_SYS(setsockopt), SCMP_SYS(getsockname), SCMP_SYS(getpeername),
	SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap),
	SCMP_SYS(mprotect), SCMP_SYS(madvise), SCMP_SYS(brk),
	SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(sigaltstack),
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getppid),
	SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid),
	SCMP_SYS(getegid),
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres),
	SCMP_SYS(gettimeofday), SCMP_SYS(time), SCMP_SYS(nanosleep),
	SCMP_SYS(clock_nanosleep), SCMP_SYS(getrandom),
	SCMP_SYS(futex), SCMP_SYS(sched_yield), SCMP_SYS(restart_syscall),
	SCMP_SYS(getrlimit), SCMP_SYS(prlimit64), SCMP_SYS(umask),
	SCMP_SYS(uname), SCMP_SYS(exit), SCMP_SYS(exit_group),
	/* glibc's qsort(3) asks for the memory size before it sorts more
	 * than 1 KiB (the front end's metrics): read-only, no secrets */
	SCMP_SYS(sysinfo)
};

/*
 * Threads (libunbound's resolver, the queue's sync workers); clone(2)
 * only with CLONE_THREAD, so no child can fork (sandbox_allow_threads).
 */
static const int sandbox_threads[] = {
	SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(sched_getaffinity),
	SCMP_SYS(set_tid_address)
};

/* The resolver's own sockets: connect(2) is how it sends to a server. */
static const int sandbox_resolver[] = {
	SCMP_SYS(connect), SCMP_SYS(bind), SCMP_SYS(recvmmsg),
	SCMP_SYS(sendmmsg), SCMP_SYS(getdents64)
};

/* The front end's listeners, and the socket pair of each TLS session;
 * the message file read back for the milters, a replacement body
 * appended past the message, and cut again if it is not used. */
static const int sandbox_smtp[] = {
	SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(socketpair),
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(ftruncate)
};

/* The socket pair of each TLS session; reading a message at an offset. */
static const int sandbox_mta[] = {
	SCMP_SYS(socketpair), SCMP_SYS(pread64)
};

/* The socket pair through which each session's clear text flows. */
static const int sandbox_tlsproxy[] = {
	SCMP_SYS(socketpair)
};

/* The spool, and the descriptors it hands to others. */
static const int sandbox_queue[] = {
	SCMP_SYS(openat), SCMP_SYS(open), SCMP_SYS(rename),
	SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(unlink),
	SCMP_SYS(unlinkat), SCMP_SYS(mkdir), SCMP_SYS(mkdirat),
	SCMP_SYS(rmdir), SCMP_SYS(link), SCMP_SYS(linkat),
	SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(syncfs),
	SCMP_SYS(ftruncate), SCMP_SYS(getdents64), SCMP_SYS(statfs),
	SCMP_SYS(fstatfs),
	SCMP_SYS(stat), SCMP_SYS(lstat), SCMP_SYS(fchmod),
	SCMP_SYS(utimensat), SCMP_SYS(pread64), SCMP_SYS(pwrite64)
};

/* SQLite: the database and its locks (read-only, but SQLite checks);
 * libpq's connection to a PostgreSQL server (sysinfo: OpenSSL's setup
 * for TLS to it). */
static const int sandbox_policyd[] = {
	SCMP_SYS(connect), SCMP_SYS(sysinfo),
	SCMP_SYS(openat), SCMP_SYS(open), SCMP_SYS(pread64),
	SCMP_SYS(pwrite64), SCMP_SYS(stat), SCMP_SYS(lstat),
	SCMP_SYS(access), SCMP_SYS(faccessat), SCMP_SYS(faccessat2),
	SCMP_SYS(getcwd), SCMP_SYS(readlink), SCMP_SYS(fsync),
	SCMP_SYS(fdatasync), SCMP_SYS(ftruncate), SCMP_SYS(fchown),
	SCMP_SYS(unlink), SCMP_SYS(flock)
};

/* Cyrus SASL: the sasldb, and the socket of saslauthd. */
static const int sandbox_auth[] = {
	SCMP_SYS(openat), SCMP_SYS(open), SCMP_SYS(pread64),
	SCMP_SYS(pwrite64), SCMP_SYS(stat), SCMP_SYS(lstat),
	SCMP_SYS(access), SCMP_SYS(faccessat), SCMP_SYS(flock),
	SCMP_SYS(connect), SCMP_SYS(getdents64), SCMP_SYS(fsync),
	SCMP_SYS(readlink), SCMP_SYS(sched_getaffinity)
};

/*
 * smtpd-local and its delivery children (which inherit the filter): the
 * passwd and group files (NSS), the change of identity, the mbox and its
 * dot-lock, a Maildir (made with mkdir when absent), the children's end.  clone(2) is allowed for a fork only
 * (sandbox_allow_fork); kill(2) stays limited to itself, and a child is
 * killed through the pidfd taken right after its fork, which names that
 * process and no other.  prctl(2) only to set the parent-death signal.
 * connect(2) for a child that delivers by LMTP (local_lmtp.c), and
 * sendmmsg(2), by which glibc's resolver sends the A and AAAA queries of
 * an LMTP host together.
 */
static const int sandbox_local[] = {
	SCMP_SYS(openat), SCMP_SYS(open), SCMP_SYS(stat), SCMP_SYS(lstat),
	SCMP_SYS(access), SCMP_SYS(faccessat), SCMP_SYS(faccessat2),
	SCMP_SYS(readlink), SCMP_SYS(readlinkat), SCMP_SYS(getdents64),
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(fsync),
	SCMP_SYS(fdatasync), SCMP_SYS(ftruncate), SCMP_SYS(link), SCMP_SYS(linkat),
	SCMP_SYS(unlink), SCMP_SYS(unlinkat), SCMP_SYS(rename),
	SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(setgroups),
	SCMP_SYS(setresgid), SCMP_SYS(setresuid), SCMP_SYS(getgroups),
	SCMP_SYS(getresuid), SCMP_SYS(getresgid), SCMP_SYS(wait4),
	SCMP_SYS(waitid), SCMP_SYS(pidfd_open), SCMP_SYS(pidfd_send_signal),
	SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(set_tid_address),
	SCMP_SYS(close_range), SCMP_SYS(dup2), SCMP_SYS(alarm),
	SCMP_SYS(setitimer), SCMP_SYS(mkdir), SCMP_SYS(mkdirat),
	SCMP_SYS(connect), SCMP_SYS(sendmmsg)
};

struct sandbox_list {
	const int	*calls;
	size_t		 n;
};

#define SANDBOX_LIST(a)	{ (a), sizeof(a) / sizeof((a)[0]) }
#define SANDBOX_NONE	{ NULL, 0 }

/* A process's filter. */
struct sandbox_policy {
	const char		*name;
	struct sandbox_list	 lists[4];
	int			 families[3];	/* socket(2); 0 = none */
	int			 open_denied;	/* open(2) fails with EACCES */
	/* socket(2) of any other family fails with EAFNOSUPPORT instead of
	 * trapping: a library that looks names up (SASL's DIGEST-MD5 does,
	 * through glibc, with netlink too) gets an error, not death */
	int			 others_denied;
	/* socket(AF_NETLINK) fails with EAFNOSUPPORT: glibc's getaddrinfo()
	 * asks netlink how to sort two or more addresses, and does without */
	int			 netlink_denied;
};

static const struct sandbox_policy sandbox_policies[] = {
	{ "smtp", { SANDBOX_LIST(sandbox_smtp), SANDBOX_LIST(sandbox_threads),
	    SANDBOX_LIST(sandbox_resolver), SANDBOX_NONE },
	    { AF_INET, AF_INET6, 0 }, 1, 0, 0 },
	{ "mta", { SANDBOX_LIST(sandbox_mta), SANDBOX_LIST(sandbox_threads),
	    SANDBOX_LIST(sandbox_resolver), SANDBOX_NONE },
	    { AF_INET, AF_INET6, 0 }, 1, 0, 0 },
	{ "queue", { SANDBOX_LIST(sandbox_queue),
	    SANDBOX_LIST(sandbox_threads), SANDBOX_NONE, SANDBOX_NONE },
	    { 0, 0, 0 }, 0, 0, 0 },
	{ "policyd", { SANDBOX_LIST(sandbox_policyd), SANDBOX_NONE,
	    SANDBOX_NONE, SANDBOX_NONE }, { AF_INET, AF_INET6, 0 }, 0, 0, 1 },
	{ "tlsproxy", { SANDBOX_LIST(sandbox_tlsproxy), SANDBOX_NONE,
	    SANDBOX_NONE, SANDBOX_NONE }, { 0, 0, 0 }, 1, 0, 0 },
	{ "auth", { SANDBOX_LIST(sandbox_auth), SANDBOX_NONE, SANDBOX_NONE,
	    SANDBOX_NONE }, { AF_UNIX, 0, 0 }, 0, 1, 0 },
	{ "local", { SANDBOX_LIST(sandbox_local), SANDBOX_NONE, SANDBOX_NONE,
	    SANDBOX_NONE }, { AF_UNIX, AF_INET, AF_INET6 }, 0, 0, 1 }
};

/* SIGSYS from the filter: say which call, then die of it. */
static void
sandbox_trap(int sig, siginfo_t *si, void *uc)
{
	char	*name;

	(void)uc;
	name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE,
	    si->si_syscall);
	log_warnx("seccomp: forbidden system call %s (%d)",
	    name != NULL ? name : "?", si->si_syscall);
	/* the handler is reset and SIGSYS not blocked: this kills us */
	(void)raise(sig);
	_exit(128 + sig);
}

static int
sandbox_allow_list(scmp_filter_ctx ctx, const struct sandbox_list *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, l->calls[i], 0) < 0)
			return -1;
	return 0;
}

/*
 * "Argument arg is v" under op (SCMP_A0() would do, but leaves fields to
 * the compiler, which clang warns of).  For SCMP_CMP_MASKED_EQ, v is both
 * the mask and the value: "has every bit of v set".
 */
static struct scmp_arg_cmp
sandbox_arg_is(unsigned arg, enum scmp_compare op, scmp_datum_t v)
{
	struct scmp_arg_cmp	 c;

	memset(&c, 0, sizeof(c));
	c.arg = arg;
	c.op = op;
	c.datum_a = v;
	c.datum_b = v;
	return c;
}

/*
 * clone(2) for a thread only: a fork has no CLONE_THREAD and traps.
 * clone3(2) passes its flags in memory the filter cannot read, so it
 * fails with ENOSYS and glibc falls back to clone(2).
 */
static int
sandbox_allow_threads(scmp_filter_ctx ctx)
{
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
	    sandbox_arg_is(0, SCMP_CMP_MASKED_EQ, CLONE_THREAD)) < 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3),
	    0) < 0)
		return -1;
	return 0;
}

/*
 * smtpd-local's fork: clone(2) without CLONE_THREAD (mask CLONE_THREAD,
 * value 0), so it has processes and never threads; clone3(2) as for the
 * threads.  prctl(2) only for PR_SET_PDEATHSIG, which the delivery
 * child sets once it is the user; any other fails with EINVAL (libcap,
 * loaded by NSS modules for getpwnam, reads the bounding set).
 */
static int
sandbox_allow_fork(scmp_filter_ctx ctx)
{
	struct scmp_arg_cmp	 c;

	memset(&c, 0, sizeof(c));
	c.arg = 0;
	c.op = SCMP_CMP_MASKED_EQ;
	c.datum_a = CLONE_THREAD;
	c.datum_b = 0;
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1, c) < 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3),
	    0) < 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
	    sandbox_arg_is(0, SCMP_CMP_EQ, PR_SET_PDEATHSIG)) < 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EINVAL), SCMP_SYS(prctl), 1,
	    sandbox_arg_is(0, SCMP_CMP_NE, PR_SET_PDEATHSIG)) < 0)
		return -1;
	return 0;
}

/*
 * socket(2) of the allowed families.  A unix socket elsewhere fails with
 * EACCES, never traps: glibc's syslog() makes one to reconnect to
 * /dev/log while it holds its lock, and the trap handler logs too.
 * Other families trap, or fail (others_denied, netlink_denied).
 */
static int
sandbox_allow_sockets(scmp_filter_ctx ctx, const struct sandbox_policy *p)
{
	size_t	 i;
	int	 unix_ok = 0;

	for (i = 0; i < sizeof(p->families) / sizeof(p->families[0]); i++) {
		if (p->families[i] == 0)
			continue;
		if (p->families[i] == AF_UNIX)
			unix_ok = 1;
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
		    sandbox_arg_is(0, SCMP_CMP_EQ,
		    (scmp_datum_t)p->families[i])) < 0)
			return -1;
	}
	if (!unix_ok && seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES),
	    SCMP_SYS(socket), 1, sandbox_arg_is(0, SCMP_CMP_EQ, AF_UNIX)) < 0)
		return -1;
	/* only auth, whose one family is AF_UNIX */
	if (p->others_denied && seccomp_rule_add(ctx,
	    SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
	    sandbox_arg_is(0, SCMP_CMP_NE, AF_UNIX)) < 0)
		return -1;
	if (p->netlink_denied && seccomp_rule_add(ctx,
	    SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
	    sandbox_arg_is(0, SCMP_CMP_EQ, AF_NETLINK)) < 0)
		return -1;
	return 0;
}

/*
 * ioctl(2): the two requests libevent and libunbound make, and isatty()'s
 * TCGETS, which fails with ENOTTY; any other (TIOCSTI, which could type
 * into root's terminal under -d) traps.  Signals
 * only to ourselves: no child may stop or kill another, even one of its
 * own user (the tlsproxy instances).
 */
static int
sandbox_allow_self(scmp_filter_ctx ctx)
{
	scmp_datum_t	 self = (scmp_datum_t)getpid();

	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
	    sandbox_arg_is(1, SCMP_CMP_EQ, FIONREAD)) < 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
	    sandbox_arg_is(1, SCMP_CMP_EQ, FIONBIO)) < 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOTTY), SCMP_SYS(ioctl), 1,
	    sandbox_arg_is(1, SCMP_CMP_EQ, TCGETS)) < 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
	    sandbox_arg_is(0, SCMP_CMP_EQ, self)) < 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
	    sandbox_arg_is(0, SCMP_CMP_EQ, self)) < 0)
		return -1;
	return 0;
}

static const struct sandbox_policy *
sandbox_policy_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(sandbox_policies) /
	    sizeof(sandbox_policies[0]); i++)
		if (strcmp(sandbox_policies[i].name, name) == 0)
			return &sandbox_policies[i];
	return NULL;
}

/* Build the filter of p; NULL on failure. */
static scmp_filter_ctx
sandbox_build(const struct sandbox_policy *p)
{
	scmp_filter_ctx	 ctx;
	struct sandbox_list	 common = SANDBOX_LIST(sandbox_common);
	size_t		 i;

	if ((ctx = seccomp_init(SCMP_ACT_TRAP)) == NULL)
		return NULL;
	/* threads that exist already (libunbound's) get the filter too;
	 * level 2 sorts the calls into a binary tree, so each system call
	 * costs a few comparisons instead of a walk down the whole list */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) < 0 ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2) < 0 ||
	    sandbox_allow_list(ctx, &common) == -1 ||
	    sandbox_allow_sockets(ctx, p) == -1 ||
	    sandbox_allow_self(ctx) == -1)
		goto fail;
	for (i = 0; i < sizeof(p->lists) / sizeof(p->lists[0]); i++) {
		if (sandbox_allow_list(ctx, &p->lists[i]) == -1)
			goto fail;
		if (p->lists[i].calls == sandbox_threads &&
		    sandbox_allow_threads(ctx) == -1)
			goto fail;
		if (p->lists[i].calls == sandbox_local &&
		    sandbox_allow_fork(ctx) == -1)
			goto fail;
	}
	if (p->open_denied &&
	    (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat),
	    0) < 0 || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES),
	    SCMP_SYS(open), 0) < 0))
		goto fail;
	return ctx;
fail:
	seccomp_release(ctx);
	return NULL;
}

#ifdef SANDBOX_PROBE
/*
 * The test build only (bin/probe/, make probe): SIGUSR2 makes the process
 * try a call that no filter allows, so that regress can see each real
 * child, filtered, die of it.  Installed with the filter, never in the
 * daemon that is shipped.
 */
static void
sandbox_probe(int sig)
{
	(void)sig;
	(void)syscall(SYS_ptrace, 0, 0, 0, 0);
}

static int
sandbox_probe_install(void)
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sandbox_probe;
	(void)sigemptyset(&sa.sa_mask);
	return sigaction(SIGUSR2, &sa, NULL);
}
#endif

int
sandbox_enter(const char *name)
{
	const struct sandbox_policy	*p;
	scmp_filter_ctx			 ctx;
	struct sigaction		 sa;
	int				 r;

	if ((p = sandbox_policy_find(name)) == NULL) {
		log_warnx("seccomp: no filter for %s", name);
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_trap;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
	(void)sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) == -1) {
		log_warn("seccomp: sigaction");
		return -1;
	}
	if ((ctx = sandbox_build(p)) == NULL) {
		log_warnx("seccomp: cannot build the filter of %s", name);
		return -1;
	}
	r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0) {
		log_warnx("seccomp: cannot load the filter of %s: %s", name,
		    strerror(-r));
		return -1;
	}
#ifdef SANDBOX_PROBE
	if (sandbox_probe_install() == -1)
		return -1;
#endif
	return 0;
}
