/*
 * test_mta_data.c: the DATA stream of the outbound client: LF to CRLF,
 * dot-stuffing, the terminator, chunk boundaries anywhere, and reading a
 * large message from a file one chunk at a time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "unit.h"
#include "mta_data.h"

/* Convert a whole string in pieces of step octets, then finish. */
static char *
convert(const char *in, size_t step)
{
	struct mta_data	 d;
	size_t		 len = strlen(in), off, n, o = 0;
	uint8_t		*out = malloc(2 * len + 16);

	mta_data_init(&d, -1);
	for (off = 0; off < len; off += n) {
		n = len - off < step ? len - off : step;
		o += mta_data_convert(&d, (const uint8_t *)in + off, n,
		    out + o);
	}
	o += mta_data_finish(&d, out + o, 8);
	out[o] = '\0';
	return (char *)out;
}

static int
convert_is(const char *in, const char *want)
{
	char	*got = convert(in, 4096);
	int	 ok = strcmp(got, want) == 0;

	if (!ok)
		(void)printf("# got [%s]\n", got);
	free(got);
	return ok;
}

static void
test_convert(void)
{
	UNIT_CHECK(convert_is("a\nb\n", "a\r\nb\r\n.\r\n"), "LF becomes CRLF");
	UNIT_CHECK(convert_is("a\r\nb\r\n", "a\r\nb\r\n.\r\n"),
	    "CRLF stays CRLF");
	UNIT_CHECK(convert_is(".x\n..y\n", "..x\r\n...y\r\n.\r\n"),
	    "leading dots doubled");
	UNIT_CHECK(convert_is("a.b\n .c\n", "a.b\r\n .c\r\n.\r\n"),
	    "dots inside a line untouched");
	UNIT_CHECK(convert_is("a\r\n.\r\n", "a\r\n..\r\n.\r\n"),
	    "a lone dot line cannot end the data early");
	UNIT_CHECK(convert_is("", ".\r\n"), "empty message");
	UNIT_CHECK(convert_is("abc", "abc\r\n.\r\n"),
	    "missing final line end added");
	UNIT_CHECK(convert_is("abc\r", "abc\r\n.\r\n"),
	    "final CR completed to CRLF");
	UNIT_CHECK(convert_is(".", "..\r\n.\r\n"), "lone dot without newline");
	UNIT_CHECK(convert_is("a\r.\r\nb\n", "a\r\n..\r\nb\r\n.\r\n"),
	    "bare CR dot CRLF cannot end the data (smuggling)");
	UNIT_CHECK(convert_is("a\rb\n", "a\r\nb\r\n.\r\n"),
	    "bare CR becomes CRLF");
	UNIT_CHECK(convert_is("a\r\r\n", "a\r\n\r\n.\r\n"),
	    "CR CR LF is two line ends");
	UNIT_CHECK(convert_is("a\n.\r.\n", "a\r\n..\r\n..\r\n.\r\n"),
	    "a line after a bare CR is dot-stuffed");
	UNIT_CHECK(convert_is("\r", "\r\n.\r\n"), "message of one CR");
}

/* The rules octet by octet, as the reference for the fast converter. */
static size_t
reference(const uint8_t *in, size_t len, uint8_t *out)
{
	size_t	 i, n = 0;
	int	 bol = 1, cr = 0;

	for (i = 0; i < len; i++) {
		if (cr && in[i] != '\n') {
			out[n++] = '\n';
			bol = 1;
		}
		if (bol && in[i] == '.')
			out[n++] = '.';
		if (in[i] == '\n' && !cr)
			out[n++] = '\r';
		out[n++] = in[i];
		cr = in[i] == '\r';
		bol = in[i] == '\n';
	}
	if (cr)
		out[n++] = '\n';
	else if (!bol) {
		out[n++] = '\r';
		out[n++] = '\n';
	}
	memcpy(out + n, ".\r\n", 3);
	return n + 3;
}

/* Random inputs rich in CR, LF and dots, cut at random places. */
static void
test_random(void)
{
	static const uint8_t	 alphabet[] = "\r\n.ab";
	uint8_t			 in[300], want[700], got[700];
	struct mta_data		 d;
	size_t			 len, off, step, n, wn, round;
	int			 ok = 1;

	srandom(1);
	for (round = 0; round < 20000 && ok; round++) {
		len = (size_t)random() % sizeof(in);
		for (n = 0; n < len; n++)
			in[n] = alphabet[random() % 5];
		wn = reference(in, len, want);
		mta_data_init(&d, -1);
		for (off = 0, n = 0; off < len; off += step) {
			step = 1 + (size_t)random() % 40;
			if (step > len - off)
				step = len - off;
			n += mta_data_convert(&d, in + off, step, got + n);
		}
		n += mta_data_finish(&d, got + n, 8);
		ok = n == wn && memcmp(got, want, n) == 0;
	}
	UNIT_CHECK(ok, "random inputs and cuts match the octet-wise rules");
}

/* Every split of a tricky input gives the same stream as no split. */
static void
test_boundaries(void)
{
	const char	*in = "Subject: x\n\n.\r\n..a\n\r\n.b\rc\n.";
	char		*whole = convert(in, strlen(in)), *part;
	size_t		 step;
	int		 ok = 1;

	for (step = 1; step < strlen(in); step++) {
		part = convert(in, step);
		if (strcmp(part, whole) != 0)
			ok = 0;
		free(part);
	}
	UNIT_CHECK(ok, "chunk boundaries anywhere give the same stream");
	UNIT_CHECK(strcmp(whole, "Subject: x\r\n\r\n..\r\n...a\r\n\r\n..b\r\nc"
	    "\r\n..\r\n.\r\n") == 0, "tricky input converted");
	free(whole);
}

/* A large file read through mta_data_fill(), one chunk per call. */
static void
test_fill(void)
{
	char		 path[] = "/tmp/test_mta_data.XXXXXX";
	struct mta_data	 d;
	struct evbuffer	*buf = evbuffer_new();
	size_t		 i, lines = 30000, calls = 0, maxlen = 0, len;
	int		 fd, r, ok = 1;
	char		*out;
	FILE		*f;

	fd = mkstemp(path);
	f = fdopen(fd, "w+");
	for (i = 0; i < lines; i++)
		(void)fprintf(f, "%s%05zu\n", i % 3 == 0 ? "." : "", i);
	(void)fflush(f);
	mta_data_init(&d, fd);
	while ((r = mta_data_fill(&d, buf)) == 0) {
		calls++;
		if (evbuffer_get_length(buf) > maxlen)
			maxlen = evbuffer_get_length(buf);
		(void)evbuffer_drain(buf, evbuffer_get_length(buf));
	}
	UNIT_CHECK(r == 1, "fill reaches the end");
	UNIT_CHECK(calls >= 3 && maxlen <= 2 * MTA_DATA_CHUNK + 8,
	    "the file is read one bounded chunk at a time");
	/* the same once more, keeping everything, to check the content */
	evbuffer_free(buf);
	buf = evbuffer_new();
	mta_data_init(&d, fd);
	while (mta_data_fill(&d, buf) == 0)
		;
	len = evbuffer_get_length(buf);
	out = (char *)evbuffer_pullup(buf, -1);
	for (i = 0; i < lines && ok; i++) {
		char	 want[16];
		int	 n = snprintf(want, sizeof(want), "%s%05zu\r\n",
		    i % 3 == 0 ? ".." : "", i);

		if (len < (size_t)n || memcmp(out, want, (size_t)n) != 0)
			ok = 0;
		out += n;
		len -= (size_t)n;
	}
	UNIT_CHECK(ok && len == 3 && memcmp(out, ".\r\n", 3) == 0,
	    "file content stuffed, CRLF, terminated");
	evbuffer_free(buf);
	(void)fclose(f);
	(void)unlink(path);
}

int
main(void)
{
	test_convert();
	test_boundaries();
	test_random();
	test_fill();
	return unit_done();
}
