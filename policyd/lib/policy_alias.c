/*
 * policy_alias.c: placeholder until the maps branch lands: items split at
 * commas, no quoting.
 */
#include <string.h>

#include "policy.h"

int
policy_alias_next(const char **cursor, struct policy_alias_item *it,
    const char **why)
{
	const char	*p = *cursor, *end;
	size_t		 n;

	while (*p == ' ' || *p == ',')
		p++;
	if (*p == '\0')
		return 0;
	end = strchr(p, ',');
	n = end != NULL ? (size_t)(end - p) : strlen(p);
	while (n > 0 && p[n - 1] == ' ')
		n--;
	if (n >= sizeof(it->value)) {
		*why = "item too long";
		return -1;
	}
	it->kind = POLICY_ALIAS_ADDRESS;
	if (p[0] == '|') {
		it->kind = POLICY_ALIAS_PROGRAM;
		p++, n--;
	} else if (p[0] == '/')
		it->kind = POLICY_ALIAS_FILE;
	else if (n > 9 && strncmp(p, ":include:", 9) == 0) {
		it->kind = POLICY_ALIAS_INCLUDE;
		p += 9, n -= 9;
	}
	memcpy(it->value, p, n);
	it->value[n] = '\0';
	*cursor = p + n;
	return 1;
}
