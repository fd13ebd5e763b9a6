/*
 * parent_anchor.c: the DNSSEC trust anchor for the outbound client's
 * validating resolver ("mta dane yes").
 *
 * The file of "dnssec trust-anchor" lies outside the mta's chroot and
 * may change with a reload, so the parent reads it as root and sends its
 * text (IMSG_MTA_TRUST_ANCHOR) right before each config it sends the
 * mta.  Interface (parent.h): parent_anchor_send().
 * Failure behaviour: a file that cannot be read, or is larger than
 * DANE_ANCHOR_MAX, is logged and sent empty; the mta then validates
 * nothing, so every MX answer is insecure and DANE never applies (mail
 * goes out with opportunistic TLS, as with "mta dane no").
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "parent.h"
#include "proto.h"

/* The file's text into buf; its length, or -1 (logged). */
static ssize_t
parent_anchor_read(const char *path, char *buf, size_t size)
{
	struct stat	 st;
	ssize_t		 n;
	size_t		 len = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1 ||
	    fstat(fd, &st) == -1) {
		log_warn("dnssec trust-anchor %s", path);
		if (fd != -1)
			(void)close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)size) {
		log_warnx("dnssec trust-anchor %s: not a regular file of at "
		    "most %zu octets", path, size);
		(void)close(fd);
		return -1;
	}
	while (len < size && (n = read(fd, buf + len, size - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			log_warn("dnssec trust-anchor %s", path);
			(void)close(fd);
			return -1;
		}
		len += (size_t)n;
	}
	(void)close(fd);
	return (ssize_t)len;
}

void
parent_anchor_send(void)
{
	struct imsg_out	 out;
	char		*buf;
	ssize_t		 n = 0;

	if (!parent_proc_running(PROC_MTA))
		return;
	if ((buf = malloc(DANE_ANCHOR_MAX)) == NULL) {
		log_warnx("dnssec trust-anchor: out of memory");
		n = -1;
	} else if (parent_conf->mta_dane)
		n = parent_anchor_read(parent_conf->dnssec_anchor, buf,
		    DANE_ANCHOR_MAX);
	imsg_out_init(&out, IMSG_MTA_TRUST_ANCHOR, 0);
	imsg_put_data(&out, buf, n > 0 ? (size_t)n : 0);
	(void)parent_proc_send(PROC_MTA, &out);
	free(buf);
}
