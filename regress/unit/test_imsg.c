/*
 * test_imsg.c: the typed message layer: payload round trips, malformed
 * payloads marked bad instead of crashing, wire framing limits, and
 * descriptor passing through two libevent channels.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "imsg.h"
#include "unit.h"

static int		 got_msgs;
static int		 got_fd_ok;
static int		 got_closed;
static uint64_t		 got_sum;
static struct event_base *base;

static void
test_payload_roundtrip(void)
{
	struct imsg_out	 out;
	struct imsg	 m;
	size_t		 len;
	const void	*d;
	char		 buf[8];

	imsg_out_init(&out, 7, 42);
	imsg_put_u32(&out, 0xdeadbeef);
	imsg_put_u64(&out, 0x0123456789abcdefULL);
	imsg_put_i64(&out, -5);
	imsg_put_str(&out, "hello");
	imsg_put_str(&out, NULL);
	imsg_put_data(&out, "\0\1\2", 3);
	imsg_put_str(&out, "toolongforbuf");
	UNIT_CHECK(!out.bad, "compose succeeds");
	imsg_from_buffer(&m, 7, out.buf, out.len);
	UNIT_CHECK(imsg_get_u32(&m) == 0xdeadbeef, "u32 round trip");
	UNIT_CHECK(imsg_get_u64(&m) == 0x0123456789abcdefULL, "u64 round trip");
	UNIT_CHECK(imsg_get_i64(&m) == -5, "i64 round trip");
	UNIT_CHECK(strcmp(imsg_get_str(&m), "hello") == 0, "str round trip");
	UNIT_CHECK(strcmp(imsg_get_str(&m), "") == 0, "NULL str is empty");
	d = imsg_get_data(&m, &len);
	UNIT_CHECK(len == 3 && memcmp(d, "\0\1\2", 3) == 0, "data round trip");
	UNIT_CHECK(imsg_get_end(&m) == -1, "end before last field is bad");
	imsg_from_buffer(&m, 7, out.buf, out.len);
	m.off = out.len - strlen("toolongforbuf") - 1;
	UNIT_CHECK(imsg_get_strbuf(&m, buf, sizeof(buf)) == -1 && m.bad &&
	    buf[0] == '\0', "strbuf overflow marks bad");
	imsg_out_free(&out);
}

static void
test_payload_malformed(void)
{
	struct imsg	 m;
	const char	 unterminated[] = { 'a', 'b', 'c' };
	uint8_t		 shortbuf[2] = { 1, 2 };
	size_t		 len;
	const char	 lies[] = { 100, 0, 0, 0, 'x' };

	imsg_from_buffer(&m, 1, unterminated, sizeof(unterminated));
	UNIT_CHECK(strcmp(imsg_get_str(&m), "") == 0 && m.bad,
	    "unterminated string is bad");
	imsg_from_buffer(&m, 1, shortbuf, sizeof(shortbuf));
	UNIT_CHECK(imsg_get_u32(&m) == 0 && m.bad, "short u32 is bad");
	UNIT_CHECK(imsg_get_end(&m) == -1, "bad message fails end");
	imsg_from_buffer(&m, 1, lies, sizeof(lies));
	UNIT_CHECK(imsg_get_data(&m, &len) == NULL && len == 0 && m.bad,
	    "data length beyond payload is bad");
	imsg_from_buffer(&m, 1, NULL, 0);
	UNIT_CHECK(imsg_get_end(&m) == 0, "empty payload ends cleanly");
}

static void
test_wire_limits(void)
{
	uint32_t	 hdr[4];
	struct imsg	 m;
	uint32_t	 flags;
	const char	*err;
	uint8_t		 buf[IMSG_HDR_SIZE + 4];

	hdr[0] = 1;
	hdr[1] = IMSG_MAX_PAYLOAD + 1;
	hdr[2] = 0;
	hdr[3] = 0;
	memcpy(buf, hdr, sizeof(hdr));
	UNIT_CHECK(imsg_wire_parse(buf, IMSG_HDR_SIZE, &m, &flags, &err) == 0 &&
	    err != NULL, "oversized length is a protocol error");
	hdr[1] = 4;
	hdr[3] = 0x80;
	memcpy(buf, hdr, sizeof(hdr));
	UNIT_CHECK(imsg_wire_parse(buf, sizeof(buf), &m, &flags, &err) == 0 &&
	    err != NULL, "unknown flags are a protocol error");
	hdr[3] = 0;
	memcpy(buf, hdr, sizeof(hdr));
	UNIT_CHECK(imsg_wire_parse(buf, sizeof(buf) - 1, &m, &flags, &err) ==
	    0 && err == NULL, "partial message waits for more");
	UNIT_CHECK(imsg_wire_parse(buf, sizeof(buf), &m, &flags, &err) ==
	    sizeof(buf) && m.len == 4, "complete message parses");
}

static void
recv_dispatch(struct imsgev *iev, struct imsg *m, void *arg)
{
	struct stat	 sb;

	(void)iev;
	(void)arg;
	got_msgs++;
	got_sum += imsg_get_u64(m);
	if (m->fd != -1) {
		if (fstat(m->fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    sb.st_size == 5)
			got_fd_ok++;
		(void)close(m->fd);
	}
	if (got_msgs == 1001)
		(void)event_base_loopexit(base, NULL);
}

static void
recv_closed(struct imsgev *iev, const char *reason, void *arg)
{
	(void)iev;
	(void)reason;
	(void)arg;
	got_closed++;
	(void)event_base_loopexit(base, NULL);
}

/* 1000 plain messages and one with a file descriptor, in order. */
static void
test_channel_fd_passing(void)
{
	struct imsgev	*a, *b;
	struct imsg_out	 out;
	struct timeval	 tv = { 5, 0 };
	int		 sp[2], fd, i;
	char		 path[] = "/tmp/test_imsg.XXXXXX";

	base = event_base_new();
	UNIT_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0, "socketpair");
	a = imsgev_open(base, sp[0], "a", recv_dispatch, recv_closed, NULL);
	b = imsgev_open(base, sp[1], "b", recv_dispatch, recv_closed, NULL);
	UNIT_CHECK(a != NULL && b != NULL, "open both ends");
	for (i = 0; i < 1000; i++) {
		imsg_out_init(&out, 3, (uint32_t)i);
		imsg_put_u64(&out, 1);
		(void)imsgev_send(a, &out, -1);
	}
	fd = mkstemp(path);
	(void)unlink(path);
	UNIT_CHECK(write(fd, "hello", 5) == 5, "write the file to pass");
	imsg_out_init(&out, 4, 0);
	imsg_put_u64(&out, 1);
	UNIT_CHECK(imsgev_send(a, &out, fd) == 0, "send with fd");
	(void)event_base_loopexit(base, &tv);
	(void)event_base_dispatch(base);
	UNIT_CHECK(got_msgs == 1001 && got_sum == 1001, "all messages arrive");
	UNIT_CHECK(got_fd_ok == 1, "the passed fd is the file");
	imsgev_close(a);
	tv.tv_sec = 2;
	(void)event_base_loopexit(base, &tv);
	(void)event_base_dispatch(base);
	UNIT_CHECK(got_closed == 1, "peer sees the close");
	event_base_free(base);
}

/* Garbage on a channel closes it with a reason, nothing else. */
static void
test_channel_garbage(void)
{
	struct imsgev	*b;
	struct timeval	 tv = { 2, 0 };
	uint32_t	 hdr[4] = { 1, 0xffffffffu, 0, 0 };
	int		 sp[2];

	base = event_base_new();
	got_closed = 0;
	(void)socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
	b = imsgev_open(base, sp[1], "b", recv_dispatch, recv_closed, NULL);
	UNIT_CHECK(b != NULL, "open channel");
	UNIT_CHECK(write(sp[0], hdr, sizeof(hdr)) == (ssize_t)sizeof(hdr),
	    "write the header");
	(void)event_base_loopexit(base, &tv);
	(void)event_base_dispatch(base);
	UNIT_CHECK(got_closed == 1, "oversized header closes the channel");
	(void)close(sp[0]);
	event_base_free(base);
}

int
main(void)
{
	test_payload_roundtrip();
	test_payload_malformed();
	test_wire_limits();
	test_channel_fd_passing();
	test_channel_garbage();
	return unit_done();
}
