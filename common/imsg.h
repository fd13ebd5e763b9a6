/*
 * imsg.h: typed messages between the relay's processes.
 *
 * A message is a 16-octet header (type, payload length, correlation id,
 * flags) followed by the payload.  A message may carry one file descriptor,
 * passed with SCM_RIGHTS.  Payloads are written with imsg_put_*() and read
 * back with imsg_get_*(); a reader that runs past the end or meets an
 * unterminated string marks the message bad instead of crashing, and the
 * handler checks imsg_get_end() before it acts.  Nothing here calls fatal()
 * on input: a malformed stream closes the channel and the owner decides.
 *
 * Channels (struct imsgev) are non-blocking socketpair ends driven by
 * libevent.
 */
#ifndef IMSG_H
#define IMSG_H

#include <stddef.h>
#include <stdint.h>

#define IMSG_HDR_SIZE		16
#define IMSG_MAX_PAYLOAD	(256 * 1024)
#define IMSG_F_FD		0x1

struct event_base;
struct imsgev;

/* A received message; data points into the channel's buffer. */
struct imsg {
	uint32_t	 type;
	uint32_t	 id;
	/* the passed descriptor, or -1; the handler owns (and closes) it */
	int		 fd;
	const uint8_t	*data;
	size_t		 len;
	size_t		 off;
	int		 bad;
};

/* A message being composed. */
struct imsg_out {
	uint32_t	 type;
	uint32_t	 id;
	uint8_t		*buf;
	size_t		 len;
	size_t		 cap;
	int		 bad;
	int		 wipe;		/* imsg_out_secret() */
};

typedef void (*imsgev_dispatch_cb)(struct imsgev *, struct imsg *, void *);
/* reason is "EOF", an errno text or a protocol error description */
typedef void (*imsgev_closed_cb)(struct imsgev *, const char *reason, void *);

/* One entry of a process's dispatch table. */
struct imsg_handler {
	uint32_t	  type;
	void		(*fn)(struct imsgev *, struct imsg *, void *);
};

void		 imsg_out_init(struct imsg_out *, uint32_t type, uint32_t id);
void		 imsg_out_free(struct imsg_out *);
void		 imsg_out_secret(struct imsg_out *);
void		 imsg_put_u32(struct imsg_out *, uint32_t);
void		 imsg_put_u64(struct imsg_out *, uint64_t);
void		 imsg_put_i64(struct imsg_out *, int64_t);
void		 imsg_put_str(struct imsg_out *, const char *);
void		 imsg_put_data(struct imsg_out *, const void *, size_t);

uint32_t	 imsg_get_u32(struct imsg *);
uint64_t	 imsg_get_u64(struct imsg *);
int64_t		 imsg_get_i64(struct imsg *);
const char	*imsg_get_str(struct imsg *);
const void	*imsg_get_data(struct imsg *, size_t *);
int		 imsg_get_strbuf(struct imsg *, char *, size_t);
int		 imsg_get_end(struct imsg *);

/* Decoding of a whole buffer (for tests and for stored records). */
void		 imsg_from_buffer(struct imsg *, uint32_t type,
		    const void *data, size_t len);

struct imsgev	*imsgev_open(struct event_base *, int fd, const char *name,
		    imsgev_dispatch_cb, imsgev_closed_cb, void *arg);
void		 imsgev_close(struct imsgev *);
int		 imsgev_send(struct imsgev *, struct imsg_out *, int fd);
int		 imsgev_compose(struct imsgev *, uint32_t type, uint32_t id,
		    int fd, const void *data, size_t len);
size_t		 imsgev_pending(struct imsgev *);
const char	*imsgev_name(struct imsgev *);
int		 imsgev_dispatch_table(const struct imsg_handler *, size_t,
		    struct imsgev *, struct imsg *, void *);

/* Encoding/decoding of the wire format, exposed for the unit tests. */
size_t		 imsg_wire_parse(const uint8_t *, size_t, struct imsg *,
		    uint32_t *flags, const char **err);

#endif
