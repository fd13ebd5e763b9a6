/*
 * sandbox.h: the seccomp-bpf filter of each child (sandbox.c).
 */
#ifndef SANDBOX_H
#define SANDBOX_H

/*
 * Load the filter of the process named name ("smtp", "queue", ...); from
 * then on a call outside its list kills it by SIGSYS, logged.  0, or -1
 * (logged) if there is no such filter or the kernel refused it.
 */
int	 sandbox_enter(const char *name);

#endif
