/*
 * fuzz_smtp_data.c: libFuzzer target for the DATA/BDAT body receiver of
 * smtp_data.c (dot-unstuffing, the end marker, the bare CR/LF, NUL,
 * line, size and hop checks).  The receiver is already pure apart from
 * its writes, which go to a memfd here.  The first three octets choose
 * DATA or BDAT, the line limit, the size limit and a piece length; the
 * rest is the stream as it comes from the client.
 *
 * Beyond "no crash": the result (octets taken, end seen, error bits,
 * octets written) does not depend on how the stream is cut into reads;
 * the end of DATA is exactly the first CRLF "." CRLF (or "." CRLF at the
 * start); a NUL anywhere before it sets SMTP_DATA_E_NUL; and a message
 * with no error is written exactly as a reference unstuffing of the
 * input says (BDAT: the input, with a CRLF added to a last partial line).
 */
#include <sys/mman.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtp_data.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct run {
	size_t		 used;
	int		 done;
	unsigned	 errors;
	size_t		 outlen;
};

static int	 memfd = -1;
static char	 out[2][8192];

/* Feed the stream in pieces of step octets (0: all at once). */
static struct run
run_once(int dotted, const char *in, size_t len, size_t step,
    uint64_t max_size, size_t max_line, char *o)
{
	struct smtp_data	 d;
	struct run		 r;
	size_t			 off = 0, n;
	ssize_t			 got;

	memset(&r, 0, sizeof(r));
	if (ftruncate(memfd, 0) == -1 || lseek(memfd, 0, SEEK_SET) == -1 ||
	    smtp_data_init(&d, memfd, dotted, max_size, max_line) == -1)
		abort();
	while (off < len && !r.done) {
		n = step == 0 || len - off < step ? len - off : step;
		if (dotted)
			off += smtp_data_feed(&d, in + off, n, &r.done);
		else
			off += smtp_data_chunk(&d, in + off, n);
	}
	r.used = off;
	r.errors = smtp_data_finish(&d);
	if (smtp_data_verdict(r.errors) == NULL && r.errors != 0)
		abort();
	smtp_data_free(&d);
	if ((got = pread(memfd, o, sizeof(out[0]), 0)) < 0)
		abort();
	r.outlen = (size_t)got;
	return r;
}

/* Where a DATA stream ends: just after the first end marker, else len. */
static size_t
data_end(const char *in, size_t len, int *found)
{
	const char	*p;

	*found = 1;
	if (len >= 3 && memcmp(in, ".\r\n", 3) == 0)
		return 3;
	p = memmem(in, len, "\r\n.\r\n", 5);
	if (p != NULL)
		return (size_t)(p - in) + 5;
	*found = 0;
	return len;
}

/* The unstuffed message of a DATA stream of len octets with no error. */
static size_t
data_expect(const char *in, size_t len, int found, char *o)
{
	size_t	 i = 0, n = 0;
	int	 bol = 1;

	if (found)
		len -= 3;	/* ".\r\n" */
	for (i = 0; i < len; i++) {
		if (bol && in[i] == '.') {
			bol = 0;
			continue;
		}
		o[n++] = in[i];
		bol = i > 0 && in[i - 1] == '\r' && in[i] == '\n';
	}
	if (!found && !bol) {
		o[n++] = '\r';
		o[n++] = '\n';
	}
	return n;
}

static void
check(int dotted, const char *in, size_t len, const struct run *r)
{
	char	 want[sizeof(out[0])];
	size_t	 end, n;
	int	 found;

	if (!dotted) {
		if (r->used != len || r->done)
			abort();
		if (r->errors != 0)
			return;
		n = len;
		memcpy(want, in, len);
		if (len > 0 && (len < 2 || memcmp(in + len - 2, "\r\n", 2))) {
			want[n++] = '\r';
			want[n++] = '\n';
		}
	} else {
		end = data_end(in, len, &found);
		if (r->used != end || r->done != found)
			abort();
		if ((memchr(in, '\0', end) != NULL) !=
		    ((r->errors & SMTP_DATA_E_NUL) != 0))
			abort();
		if (r->errors != 0)
			return;
		n = data_expect(in, end, found, want);
	}
	if (r->outlen != n || memcmp(out[0], want, n) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct run	 a, b;
	const char	*in;
	size_t		 max_line, step;
	uint64_t	 max_size;
	int		 dotted;

	if (memfd == -1 && (memfd = memfd_create("fuzz", 0)) == -1)
		abort();
	if (len < 3 || len > 4096)
		return 0;
	dotted = data[0] & 1;
	max_line = (data[0] >> 1) == 0 ? 1000 : (size_t)(data[0] >> 1) + 2;
	max_size = data[1] == 0 ? 1 << 20 : data[1] * 16;
	step = data[2] % 17;
	in = (const char *)data + 3;
	len -= 3;
	a = run_once(dotted, in, len, 0, max_size, max_line, out[0]);
	b = run_once(dotted, in, len, step == 0 ? 1 : step, max_size,
	    max_line, out[1]);
	if (a.used != b.used || a.done != b.done || a.errors != b.errors ||
	    a.outlen != b.outlen || memcmp(out[0], out[1], a.outlen) != 0)
		abort();
	check(dotted, in, len, &a);
	return 0;
}
