/*
 * log.h: logging for every process of the relay.
 *
 * Messages go to syslog (facility mail) or, in debug mode (-d), to stderr
 * with the process name in front.  fatal() and fatalx() end the calling
 * process with exit status 1; the parent then restarts it.  They are for
 * local inconsistencies only, never for bad input from a peer.
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

void	log_init(const char *procname, int debug);
void	log_procname_set(const char *procname);
void	log_verbose_set(int verbose);
int	log_verbose_get(void);

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
