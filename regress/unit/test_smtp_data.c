/*
 * test_smtp_data.c: the DATA/BDAT body receiver: dot-unstuffing, the
 * end marker recognised only as CRLF.CRLF (no SMTP smuggling), bare CR,
 * bare LF and NUL detection, line and size limits, hop counting, and all
 * of it across arbitrary buffer boundaries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtp_data.h"
#include "unit.h"

struct result {
	unsigned	 errors;
	int		 done;
	size_t		 used;		/* input octets taken */
	char		 out[8192];	/* what reached the file */
	size_t		 outlen;
};

/* Read back the file the receiver wrote. */
static void
slurp(FILE *f, struct result *r)
{
	(void)fflush(f);
	rewind(f);
	r->outlen = fread(r->out, 1, sizeof(r->out) - 1, f);
	r->out[r->outlen] = '\0';
	(void)fclose(f);
}

/* Feed in as DATA in pieces of step octets (0: all at once). */
static struct result
run_data(const char *in, size_t len, size_t step, uint64_t max_size,
    size_t max_line)
{
	struct smtp_data	 d;
	struct result		 r;
	FILE			*f = tmpfile();
	size_t			 off = 0, n;

	memset(&r, 0, sizeof(r));
	if (f == NULL || smtp_data_init(&d, fileno(f), 1, max_size,
	    max_line) == -1)
		abort();
	while (off < len && !r.done) {
		n = step == 0 || len - off < step ? len - off : step;
		off += smtp_data_feed(&d, in + off, n, &r.done);
	}
	r.used = off;
	r.errors = r.done ? smtp_data_finish(&d) : d.errors;
	smtp_data_free(&d);
	slurp(f, &r);
	return r;
}

/* Feed in as BDAT chunks of step octets, then finish. */
static struct result
run_bdat(const char *in, size_t len, size_t step)
{
	struct smtp_data	 d;
	struct result		 r;
	FILE			*f = tmpfile();
	size_t			 off = 0, n;

	memset(&r, 0, sizeof(r));
	if (f == NULL || smtp_data_init(&d, fileno(f), 0, 1 << 20, 1000) == -1)
		abort();
	while (off < len) {
		n = step == 0 || len - off < step ? len - off : step;
		smtp_data_chunk(&d, in + off, n);
		off += n;
	}
	r.used = off;
	r.errors = smtp_data_finish(&d);
	smtp_data_free(&d);
	slurp(f, &r);
	return r;
}

#define DATA(s, step)	run_data((s), sizeof(s) - 1, (step), 1 << 20, 1000)

static void
test_end_marker(void)
{
	static const char	 msg[] = "Subject: x\r\n\r\nhello\r\n.\r\nNOOP\r\n";
	struct result		 r;
	size_t			 step;
	int			 all = 1;

	r = DATA(msg, 0);
	UNIT_CHECK(r.done && r.errors == 0, "CRLF.CRLF ends the body");
	UNIT_CHECK(r.used == sizeof(msg) - 1 - strlen("NOOP\r\n"),
	    "input after the end marker is left for commands");
	UNIT_CHECK(strcmp(r.out, "Subject: x\r\n\r\nhello\r\n") == 0,
	    "body written without the end marker");
	for (step = 1; step < sizeof(msg); step++) {
		r = DATA(msg, step);
		if (!r.done || r.errors != 0 ||
		    strcmp(r.out, "Subject: x\r\n\r\nhello\r\n") != 0)
			all = 0;
	}
	UNIT_CHECK(all, "same result for every buffer boundary");
	r = DATA(".\r\n", 0);
	UNIT_CHECK(r.done && r.errors == 0 && r.outlen == 0,
	    "empty message");
}

/* Smuggling attempts: none of these may end the body. */
static void
test_smuggling(void)
{
	struct result	 r;

	r = DATA("a\n.\nMAIL FROM:<x@y.z>\r\n", 0);
	UNIT_CHECK(!r.done && (r.errors & SMTP_DATA_E_BAREEOL),
	    "LF.LF does not end the body");
	r = DATA("a\n.\r\nMAIL FROM:<x@y.z>\r\n", 0);
	UNIT_CHECK(!r.done && (r.errors & SMTP_DATA_E_BAREEOL),
	    "LF.CRLF does not end the body");
	r = DATA("a\r\n.\nMAIL FROM:<x@y.z>\r\n", 0);
	UNIT_CHECK(!r.done && (r.errors & SMTP_DATA_E_BAREEOL),
	    "CRLF.LF does not end the body");
	r = DATA("a\r.\r\nMAIL FROM:<x@y.z>\r\n", 0);
	UNIT_CHECK(!r.done && (r.errors & SMTP_DATA_E_BAREEOL),
	    "CR.CRLF does not end the body");
	r = DATA("a\r\n.\rMAIL\r\n", 0);
	UNIT_CHECK(!r.done && (r.errors & SMTP_DATA_E_BAREEOL),
	    "CRLF.CR does not end the body");
	r = DATA("a\n.\nx\r\n.\r\n", 0);
	UNIT_CHECK(r.done && (r.errors & SMTP_DATA_E_BAREEOL),
	    "the real end marker still ends a smuggling body");
	r = DATA("a\n.\nx\r\n.\r\n", 1);
	UNIT_CHECK(r.done && (r.errors & SMTP_DATA_E_BAREEOL),
	    "same, one octet at a time");
}

static void
test_unstuffing(void)
{
	struct result	 r;

	r = DATA("..leading dot\r\n...\r\n.\r\n", 0);
	UNIT_CHECK(r.done && r.errors == 0 &&
	    strcmp(r.out, ".leading dot\r\n..\r\n") == 0, "dots unstuffed");
	r = DATA("a.b\r\n .\r\n.\r\n", 0);
	UNIT_CHECK(strcmp(r.out, "a.b\r\n .\r\n") == 0,
	    "dots inside lines kept");
	r = DATA("..\r\n.\r\n", 1);
	UNIT_CHECK(r.done && strcmp(r.out, ".\r\n") == 0,
	    "stuffed lone dot is not the end");
}

static void
test_bad_octets(void)
{
	static const char	 nul[] = "a\0b\r\n.\r\n";
	struct result		 r;

	r = run_data(nul, sizeof(nul) - 1, 0, 1 << 20, 1000);
	UNIT_CHECK(r.done && (r.errors & SMTP_DATA_E_NUL), "NUL detected");
	r = DATA("a\rb\r\n.\r\n", 0);
	UNIT_CHECK(r.done && (r.errors & SMTP_DATA_E_BAREEOL),
	    "bare CR inside a line");
	r = DATA("a\r\r\n.\r\n", 0);
	UNIT_CHECK(r.done && (r.errors & SMTP_DATA_E_BAREEOL),
	    "CR CR LF");
	r = DATA("a\r\n\nb\r\n.\r\n", 0);
	UNIT_CHECK(r.done && (r.errors & SMTP_DATA_E_BAREEOL),
	    "bare LF at start of line");
	r = DATA("a\rb\r\n.\r\n", 0);
	UNIT_CHECK(r.outlen == 0, "nothing written once refused");
	UNIT_CHECK(strcmp(smtp_data_verdict(SMTP_DATA_E_BAREEOL),
	    "550 5.6.0 Message contains bare CR or LF characters") == 0,
	    "bare CR/LF verdict");
	UNIT_CHECK(strncmp(smtp_data_verdict(SMTP_DATA_E_NUL |
	    SMTP_DATA_E_SIZE), "552 5.3.4", 9) == 0, "size ranks first");
	UNIT_CHECK(smtp_data_verdict(0) == NULL, "no verdict without errors");
}

static void
test_limits(void)
{
	char		 big[3000];
	struct result	 r;

	/* 998 octets + CRLF = 1000: allowed; 999 + CRLF: refused */
	memset(big, 'x', 998);
	memcpy(big + 998, "\r\n.\r\n", 6);
	r = run_data(big, strlen(big), 0, 1 << 20, 1000);
	UNIT_CHECK(r.done && r.errors == 0, "line of 1000 octets with CRLF");
	memset(big, 'x', 999);
	memcpy(big + 999, "\r\n.\r\n", 6);
	r = run_data(big, strlen(big), 7, 1 << 20, 1000);
	UNIT_CHECK(r.done && (r.errors & SMTP_DATA_E_LINE),
	    "line of 1001 octets refused");
	r = run_data("abc\r\n.\r\n", 8, 0, 5, 1000);
	UNIT_CHECK(r.done && r.errors == 0, "message of exactly the limit");
	r = run_data("abcd\r\n.\r\n", 9, 0, 5, 1000);
	UNIT_CHECK(r.done && (r.errors & SMTP_DATA_E_SIZE),
	    "message over the size limit, read to the end");
	UNIT_CHECK(strcmp(smtp_data_verdict(r.errors),
	    "552 5.3.4 Message too big") == 0, "size verdict");
}

static void
test_hops(void)
{
	char		*msg;
	size_t		 i, len = 0;
	struct result	 r;

	msg = malloc(102 * 32 + 16);
	for (i = 0; i < 101; i++)
		len += (size_t)sprintf(msg + len, "Received: from h%zu\r\n", i);
	len += (size_t)sprintf(msg + len, "\r\nbody\r\n.\r\n");
	r = run_data(msg, len, 3, 1 << 20, 1000);
	UNIT_CHECK(r.done && (r.errors & SMTP_DATA_E_HOPS),
	    "101 Received: headers refused");
	len = 0;
	for (i = 0; i < 100; i++)
		len += (size_t)sprintf(msg + len, "received: from h%zu\r\n", i);
	len += (size_t)sprintf(msg + len,
	    "\r\nReceived: in the body\r\n.\r\n");
	r = run_data(msg, len, 0, 1 << 20, 1000);
	UNIT_CHECK(r.done && r.errors == 0,
	    "100 headers, and Received: in the body does not count");
	free(msg);
}

static void
test_bdat(void)
{
	static const char	 msg[] = "A: b\r\n\r\n.x\r\nend\r\n";
	struct result		 r;
	size_t			 step;
	int			 all = 1;

	r = run_bdat(msg, sizeof(msg) - 1, 0);
	UNIT_CHECK(r.errors == 0 && strcmp(r.out, msg) == 0,
	    "BDAT body kept as is (no unstuffing)");
	for (step = 1; step < sizeof(msg); step++) {
		r = run_bdat(msg, sizeof(msg) - 1, step);
		if (r.errors != 0 || strcmp(r.out, msg) != 0)
			all = 0;
	}
	UNIT_CHECK(all, "BDAT across every chunk boundary");
	r = run_bdat("a\r", 2, 1);
	UNIT_CHECK(r.errors & SMTP_DATA_E_BAREEOL, "BDAT ending in a bare CR");
	r = run_bdat("a\r\nb\nc\r\n", 8, 3);
	UNIT_CHECK(r.errors & SMTP_DATA_E_BAREEOL, "BDAT with a bare LF");
	r = run_bdat("a\r\nlast", 7, 0);
	UNIT_CHECK(r.errors == 0 && strcmp(r.out, "a\r\nlast\r\n") == 0,
	    "BDAT last line completed with CRLF");
}

static void
test_put(void)
{
	struct smtp_data	 d;
	struct result		 r;
	FILE			*f = tmpfile();
	int			 done;

	memset(&r, 0, sizeof(r));
	if (f == NULL || smtp_data_init(&d, fileno(f), 1, 4, 1000) == -1)
		abort();
	smtp_data_put(&d, "Received: x\r\n", 13);
	(void)smtp_data_feed(&d, "ab\r\n.\r\n", 7, &done);
	UNIT_CHECK(done && smtp_data_finish(&d) == 0 && d.written == 17,
	    "own header not counted against the size limit");
	smtp_data_free(&d);
	slurp(f, &r);
	UNIT_CHECK(strcmp(r.out, "Received: x\r\nab\r\n") == 0,
	    "own header written first");
}

/* The test rewriter: a From: field becomes "From: X" and its CRLF. */
static int
field_fn(void *arg, const char *field, size_t len, char *out, size_t outsize,
    size_t *outlen)
{
	if (len < 5 || strncmp(field, "From:", 5) != 0 || outsize < 9)
		return 0;
	memcpy(out, "From: X\r\n", 9);
	*outlen = 9;
	return 1;
}

/* Header fields through the rewriter, fed in pieces of step octets. */
static struct result
run_fields(const char *in, size_t step)
{
	struct smtp_data	 d;
	struct result		 r;
	FILE			*f = tmpfile();
	size_t			 off = 0, len = strlen(in), n;

	memset(&r, 0, sizeof(r));
	if (f == NULL || smtp_data_init(&d, fileno(f), 1, 1 << 20, 1000) ==
	    -1 || smtp_data_fields(&d, field_fn, NULL, NULL) == -1)
		abort();
	while (off < len && !r.done) {
		n = len - off < step ? len - off : step;
		off += smtp_data_feed(&d, in + off, n, &r.done);
	}
	r.errors = r.done ? smtp_data_finish(&d) : d.errors;
	smtp_data_free(&d);
	slurp(f, &r);
	return r;
}

/* A field over SMTP_DATA_FIELD_MAX goes out as it came. */
static void
test_fields_long(void)
{
	struct smtp_data	 d;
	FILE			*f = tmpfile();
	char			*in, *back;
	size_t			 len = 0, n;
	int			 done = 0;

	in = malloc(SMTP_DATA_FIELD_MAX + 4096);
	back = malloc(SMTP_DATA_FIELD_MAX + 4096);
	if (f == NULL || in == NULL || back == NULL ||
	    smtp_data_init(&d, fileno(f), 1, 1 << 20, 1000) == -1 ||
	    smtp_data_fields(&d, field_fn, NULL, NULL) == -1)
		abort();
	len += (size_t)snprintf(in, 32, "From: a\r\n");
	while (len < SMTP_DATA_FIELD_MAX + 1000)
		len += (size_t)snprintf(in + len, 32, " b@c.example,\r\n");
	len += (size_t)snprintf(in + len, 32, " d\r\n\r\n.\r\n");
	(void)smtp_data_feed(&d, in, len, &done);
	UNIT_CHECK(done && smtp_data_finish(&d) == 0, "long field received");
	smtp_data_free(&d);
	(void)fflush(f);
	rewind(f);
	n = fread(back, 1, SMTP_DATA_FIELD_MAX + 4096, f);
	UNIT_CHECK(n == len - 3 && memcmp(back, in, n) == 0,
	    "a field over the limit passes as it came");
	(void)fclose(f);
	free(in);
	free(back);
}

static void
test_fields(void)
{
	struct result	 r;
	size_t		 step;
	int		 ok = 1;

	for (step = 1; step <= 64; step++) {
		r = run_fields("Subject: a\r\nFrom: a@b\r\n (c)\r\n\tx\r\n"
		    "To: y\r\n\r\nFrom: body\r\n.\r\n", step);
		ok = ok && r.errors == 0 && strcmp(r.out, "Subject: a\r\n"
		    "From: X\r\nTo: y\r\n\r\nFrom: body\r\n") == 0;
	}
	UNIT_CHECK(ok, "a folded field rewritten whole, the body untouched, "
	    "at any boundary");
	r = run_fields("From: a\r\n.\r\n", 3);
	UNIT_CHECK(r.errors == 0 && strcmp(r.out, "From: X\r\n") == 0,
	    "a last field with no body");
	r = run_fields("From: a\r\n\r\n..x\r\n.\r\n", 2);
	UNIT_CHECK(r.errors == 0 && strcmp(r.out, "From: X\r\n\r\n.x\r\n")
	    == 0, "body still unstuffed");
	test_fields_long();
}

/* The test hold: a From: field waits; counts how often it was asked. */
static int
hold_fn(void *arg, const char *field, size_t len)
{
	int	*asked = arg;

	(*asked)++;
	return len >= 5 && strncmp(field, "From:", 5) == 0;
}

/*
 * Fields with a hold, fed in pieces of step octets (DATA, or BDAT with
 * the end as the last chunk's): a held field stops the input at the
 * octet after it, until released.  *holds counts the stops.
 */
static struct result
run_held(const char *in, size_t step, int dotted, int *holds)
{
	struct smtp_data	 d;
	struct result		 r;
	FILE			*f = tmpfile();
	size_t			 off = 0, len = strlen(in), n, used;
	int			 asked = 0;

	memset(&r, 0, sizeof(r));
	*holds = 0;
	if (f == NULL || smtp_data_init(&d, fileno(f), dotted, 1 << 20,
	    1000) == -1 || smtp_data_fields(&d, field_fn, hold_fn,
	    &asked) == -1)
		abort();
	while (off < len && !r.done) {
		n = len - off < step ? len - off : step;
		used = dotted ? smtp_data_feed(&d, in + off, n, &r.done) :
		    smtp_data_chunk(&d, in + off, n);
		off += used;
		if (d.held) {
			(*holds)++;
			smtp_data_release(&d);
		}
	}
	if (!dotted && smtp_data_end_hold(&d)) {
		(*holds)++;
		smtp_data_release(&d);
	}
	r.done = 1;
	r.errors = smtp_data_finish(&d);
	smtp_data_free(&d);
	slurp(f, &r);
	return r;
}

static void
test_held_fields(void)
{
	struct result	 r;
	size_t		 step;
	int		 ok = 1, holds;

	for (step = 1; step <= 40; step++) {
		r = run_held("Subject: a\r\nFrom: a@b\r\n (c)\r\nTo: y\r\n"
		    "\r\nFrom: body\r\n.\r\n", step, 1, &holds);
		ok = ok && holds == 1 && r.errors == 0 && strcmp(r.out,
		    "Subject: a\r\nFrom: X\r\nTo: y\r\n\r\nFrom: body\r\n")
		    == 0;
	}
	UNIT_CHECK(ok, "a held field is asked about once, then rewritten, "
	    "at any boundary");
	r = run_held("From: a\r\n.\r\n", 4, 1, &holds);
	UNIT_CHECK(holds == 1 && strcmp(r.out, "From: X\r\n") == 0,
	    "a last field held before the end marker");
	r = run_held("Subject: s\r\nFrom: a", 5, 0, &holds);
	UNIT_CHECK(holds == 1 && r.errors == 0 &&
	    strcmp(r.out, "Subject: s\r\nFrom: X\r\n") == 0,
	    "BDAT: a last field without CRLF held at the end");
	r = run_held("Subject: s\r\n\r\nbody\r\n", 7, 0, &holds);
	UNIT_CHECK(holds == 0 && strcmp(r.out, "Subject: s\r\n\r\nbody\r\n")
	    == 0, "fields the hook does not hold never wait");
}

int
main(void)
{
	test_end_marker();
	test_smuggling();
	test_unstuffing();
	test_bad_octets();
	test_limits();
	test_hops();
	test_bdat();
	test_put();
	test_fields();
	test_held_fields();
	return unit_done();
}
