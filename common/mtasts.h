/*
 * mtasts.h: MTA-STS (RFC 8461) as text: the policy file a domain serves
 * over HTTPS, and the matching of an MX host name against the policy's
 * mx patterns.
 *
 * A policy comes from the network (an HTTPS server), so nothing here
 * trusts it: every function checks sizes and syntax, answers -1
 * with a reason for what is not a valid record or policy, never
 * allocates and never logs.
 */
#ifndef MTASTS_H
#define MTASTS_H

#include <stddef.h>
#include <stdint.h>

#define MTASTS_MX_MAX		32	/* mx patterns kept per policy */
#define MTASTS_HOST_MAX		256
#define MTASTS_POLICY_MAX	65536	/* 3.3: a policy is at most 64 KiB */
#define MTASTS_MAX_AGE_MAX	31557600 /* 3.2: about a year */

enum mtasts_mode {
	MTASTS_MODE_NONE,
	MTASTS_MODE_TESTING,
	MTASTS_MODE_ENFORCE,
};

struct mtasts_policy {
	enum mtasts_mode	 mode;
	uint32_t		 max_age;	/* seconds */
	size_t			 nmx;
	/* lowercased, without a trailing dot; "*.example.net" wildcards */
	char			 mx[MTASTS_MX_MAX][MTASTS_HOST_MAX];
};

/* A policy file's body: 0 and *p filled, or -1 with *why. */
int	mtasts_policy_parse(const char *body, size_t len,
	    struct mtasts_policy *p, const char **why);

/* Whether MX host name host matches one of the policy's mx patterns. */
int	mtasts_mx_match(const struct mtasts_policy *p, const char *host);

const char *mtasts_mode_name(enum mtasts_mode);

#endif
