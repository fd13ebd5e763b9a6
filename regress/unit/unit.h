/*
 * unit.h: the smallest test harness that does the job.  Each check prints
 * "ok" or "FAIL" with its name; unit_done() prints "N passed, N failed"
 * and returns the exit status.
 */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>

static int	unit_passed, unit_failed;

static void
unit_check(int ok, const char *name, const char *file, int line)
{
	if (ok) {
		unit_passed++;
		(void)printf("ok   %s\n", name);
		return;
	}
	unit_failed++;
	(void)printf("FAIL %s (%s:%d)\n", name, file, line);
}

#define UNIT_CHECK(cond, name)	unit_check((cond), (name), __FILE__, __LINE__)

static int
unit_done(void)
{
	(void)printf("%d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}

#endif
