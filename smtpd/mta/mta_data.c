/*
 * mta_data.c: the dot-stuffed, CRLF-terminated DATA stream of a message.
 *
 * Interface in mta_data.h.  The converter keeps two bits of state across
 * calls (beginning of line, last octet was a CR whose LF is still to
 * come), so chunk boundaries may fall anywhere, even between a CR and its
 * LF.  Every line end goes out as CRLF: a bare LF gets its CR and a bare
 * CR its LF.  A read error is returned
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

/* Where the next octet c at or after p lies: its offset, or len. */
static size_t
mta_data_next(const uint8_t *in, size_t len, size_t p, int c)
{
	const uint8_t	*q = memchr(in + p, c, len - p);

	return q != NULL ? (size_t)(q - in) : len;
}

/*
 * Runs of ordinary octets are found with memchr() and copied whole; only
 * a line end and the first octet of a line need a decision.  A CR not
 * followed by LF is completed to CRLF (it would otherwise let "\r.\r\n"
 * pass to the next hop as an end of data), so the octet after it starts a
 * line and is dot-stuffed like any other.
 */
size_t
mta_data_convert(struct mta_data *d, const uint8_t *in, size_t len,
    uint8_t *out)
{
	size_t	 p = 0, n = 0, cr = 0, lf = 0, stop;
	int	 crseen = 0, lfseen = 0;

	while (p < len) {
		if (d->cr) {
			d->cr = 0;
			d->bol = 1;
			out[n++] = '\n';
			if (in[p] == '\n' && ++p == len)
				break;
		}
		if (d->bol) {
			d->bol = 0;
			if (in[p] == '.')
				out[n++] = '.';
		}
		if (!crseen || cr < p) {
			cr = mta_data_next(in, len, p, '\r');
			crseen = 1;
		}
		if (!lfseen || lf < p) {
			lf = mta_data_next(in, len, p, '\n');
			lfseen = 1;
		}
		stop = cr < lf ? cr : lf;
		memcpy(out + n, in + p, stop - p);
		n += stop - p;
		if ((p = stop) == len)
			break;
		out[n++] = '\r';
		if (in[p++] == '\r')
			d->cr = 1;
		else {
			out[n++] = '\n';
			d->bol = 1;
		}
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
