/*
 * mta_data.c: the dot-stuffed, CRLF-terminated DATA stream of a message.
 *
 * Interface in mta_data.h.  The converter is a small state machine over
 * octets (beginning of line, last octet was CR), so chunk boundaries may
 * fall anywhere, even between a CR and its LF.  A read error is returned
 * to the session, which gives up the transaction without sending the
 * final dot, so that a truncated message is never delivered.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "mta_data.h"

void
mta_data_init(struct mta_data *d, int fd)
{
	memset(d, 0, sizeof(*d));
	d->fd = fd;
	d->bol = 1;
}

size_t
mta_data_convert(struct mta_data *d, const uint8_t *in, size_t len,
    uint8_t *out)
{
	size_t	 i, n = 0;
	uint8_t	 c;

	for (i = 0; i < len; i++) {
		c = in[i];
		if (d->bol && c == '.')
			out[n++] = '.';
		if (c == '\n' && !d->cr)
			out[n++] = '\r';
		out[n++] = c;
		d->cr = c == '\r';
		d->bol = c == '\n';
	}
	return n;
}

size_t
mta_data_finish(struct mta_data *d, uint8_t *out, size_t size)
{
	size_t	 n = 0;

	if (size < 5)
		return 0;
	if (!d->bol) {
		if (!d->cr)
			out[n++] = '\r';
		out[n++] = '\n';
	}
	memcpy(out + n, ".\r\n", 3);
	d->done = 1;
	return n + 3;
}

int
mta_data_fill(struct mta_data *d, struct evbuffer *buf)
{
	static uint8_t		 in[MTA_DATA_CHUNK];
	struct evbuffer_iovec	 vec;
	ssize_t			 r;
	size_t			 n;

	if (d->done)
		return 1;
	do {
		r = pread(d->fd, in, sizeof(in), d->off);
	} while (r == -1 && errno == EINTR);
	if (r == -1)
		return -1;
	if (evbuffer_reserve_space(buf, 2 * (size_t)r + 8, &vec, 1) != 1) {
		errno = ENOMEM;
		return -1;
	}
	n = mta_data_convert(d, in, (size_t)r, vec.iov_base);
	if (r == 0)
		n += mta_data_finish(d, (uint8_t *)vec.iov_base + n, 8);
	vec.iov_len = n;
	if (evbuffer_commit_space(buf, &vec, 1) == -1) {
		errno = ENOMEM;
		return -1;
	}
	d->off += r;
	return d->done ? 1 : 0;
}
