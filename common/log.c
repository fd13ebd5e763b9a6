/*
 * log.c: syslog or stderr logging, with a verbosity switch that
 * "smtpctl log verbose|brief" flips at run time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static int		 log_debug_mode;
static int		 log_verbose_level;
static char		 log_name[32] = "smtpd";

/* Open the log; in debug mode everything goes to stderr. */
void
log_init(const char *procname, int debug)
{
	log_debug_mode = debug;
	log_procname_set(procname);
	if (!debug)
		openlog("smtpd", LOG_PID | LOG_NDELAY, LOG_MAIL);
	tzset();
}

void
log_procname_set(const char *procname)
{
	(void)snprintf(log_name, sizeof(log_name), "%s", procname);
}

void
log_verbose_set(int verbose)
{
	log_verbose_level = verbose;
}

int
log_verbose_get(void)
{
	return log_verbose_level;
}

/* Format one line and send it to the configured sink. */
static void
log_vlog(int pri, const char *fmt, va_list ap)
{
	char	 line[4096];

	(void)vsnprintf(line, sizeof(line), fmt, ap);
	if (log_debug_mode) {
		(void)fprintf(stderr, "%s: %s\n", log_name, line);
		(void)fflush(stderr);
		return;
	}
	syslog(pri, "%s: %s", log_name, line);
}

/* Append strerror(errno) so callers cannot forget it. */
static void
log_vwarn_errno(int pri, const char *fmt, va_list ap)
{
	char	 buf[2048];
	int	 saved = errno;

	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	if (log_debug_mode) {
		(void)fprintf(stderr, "%s: %s: %s\n", log_name, buf,
		    strerror(saved));
		(void)fflush(stderr);
	} else
		syslog(pri, "%s: %s: %s", log_name, buf, strerror(saved));
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwarn_errno(LOG_ERR, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_ERR, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (!log_verbose_level)
		return;
	va_start(ap, fmt);
	log_vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwarn_errno(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}
