/*
 * macro.h: sendmail's +XX encoding of macro values (macro.c).
 */
#ifndef MACRO_H
#define MACRO_H

#include <stddef.h>

/* 255 octets and the NUL: sendmail's DN buffer size (spec 5.3). */
#define TLS_DN_MAX		256
/* A +XX encoded DN or CN: every octet may triple. */
#define TLS_MACRO_MAX		(3 * TLS_DN_MAX)

/* +XX encoding of s into out (spec 5.2); returns the length written. */
size_t	 macro_encode(const char *s, char *out, size_t size);

#endif
