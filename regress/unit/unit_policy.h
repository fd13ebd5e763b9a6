/*
 * unit_policy.h: loading a map into a test database, for the unit tests
 * of the policy library.
 */
#ifndef UNIT_POLICY_H
#define UNIT_POLICY_H

#include <stdio.h>
#include <stdlib.h>

#include "policy.h"

/* Write text to dir/MAP.txt and makemap it into db; exits on failure. */
static void
unit_policy_load(const char *dir, const char *db, const char *map,
    const char *text)
{
	char	 path[300], err[512];
	FILE	*fp;

	err[0] = '\0';
	(void)snprintf(path, sizeof(path), "%s/%s.txt", dir, map);
	if ((fp = fopen(path, "w")) == NULL || fputs(text, fp) == EOF ||
	    fclose(fp) != 0 || policy_makemap(db, map, path, err,
	    sizeof(err)) == -1) {
		(void)printf("load %s: %s\n", map, err);
		exit(1);
	}
}

#endif
