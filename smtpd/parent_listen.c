/*
 * parent_listen.c: the sockets only root may bind: the SMTP listeners,
 * passed to the front end as descriptors, and the control socket.
 *
 * On reload, a listener whose address and port did not change keeps its
 * socket, whatever its options (tls, auth, pki...): binding it again
 * would fail with EADDRINUSE while the old socket is open, and keeping it
 * refuses no connection attempt while the config changes.  The front end
 * gets every socket again with its new flags and uses them for the
 * connections it accepts from then on.  New addresses are bound before
 * removed ones are closed, and a bind failure leaves the old set in
 * force.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "parent.h"
#include "proc.h"
#include "util.h"

struct bound {
	char		 name[80];
	uint32_t	 flags;
	uint32_t	 max_sessions;
	uint32_t	 connection_rate;
	int		 fd;
	/* bound by this call, not taken over from the old set */
	int		 fresh;
};

static struct bound	*bound;
static size_t		 nbound;

/* Bind and listen on one address; -1 with a log line on failure. */
static int
parent_listen_open(const struct listener *l)
{
	int	 fd, on = 1;

	if ((fd = socket(l->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) ==
	    -1) {
		log_warn("listen on %s: socket", l->name);
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (l->ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
		    sizeof(on));
	if (bind(fd, (const struct sockaddr *)&l->ss, l->sslen) == -1) {
		log_warn("listen on %s: bind", l->name);
		(void)close(fd);
		return -1;
	}
	if (listen(fd, SOMAXCONN) == -1) {
		log_warn("listen on %s: listen", l->name);
		(void)close(fd);
		return -1;
	}
	return fd;
}

/*
 * The socket already bound to this listener's address and port, or -1.
 * The name is "addr:port" of the numeric address, one per socket.
 */
static int
parent_listen_find(const struct listener *l)
{
	size_t	 i;

	for (i = 0; i < nbound; i++)
		if (strcmp(bound[i].name, l->name) == 0)
			return bound[i].fd;
	return -1;
}

/* Forget a socket of the old set that the new set reuses. */
static void
parent_listen_take(int fd)
{
	size_t	 i;

	for (i = 0; i < nbound; i++)
		if (bound[i].fd == fd)
			bound[i].fd = -1;
}

/*
 * Make the bound set match cf.  Returns 0, or -1 with the old set intact.
 */
int
parent_listen_bind_all(const struct config *cf)
{
	const struct listener	*l;
	struct bound		*nb;
	size_t			 n = 0, i;

	TAILQ_FOREACH(l, &cf->listeners, entry)
		n++;
	nb = xcalloc(n, sizeof(*nb));
	i = 0;
	TAILQ_FOREACH(l, &cf->listeners, entry) {
		(void)strlcpy(nb[i].name, l->name, sizeof(nb[i].name));
		nb[i].flags = l->flags;
		nb[i].max_sessions = l->max_sessions;
		nb[i].connection_rate = l->connection_rate;
		if ((nb[i].fd = parent_listen_find(l)) == -1) {
			nb[i].fd = parent_listen_open(l);
			nb[i].fresh = 1;
		}
		if (nb[i].fd == -1) {
			while (i-- > 0)
				if (nb[i].fresh)
					(void)close(nb[i].fd);
			free(nb);
			return -1;
		}
		i++;
	}
	for (i = 0; i < n; i++)
		parent_listen_take(nb[i].fd);
	parent_listen_close_all();
	bound = nb;
	nbound = n;
	return 0;
}

void
parent_listen_close_all(void)
{
	size_t	 i;

	for (i = 0; i < nbound; i++)
		if (bound[i].fd != -1)
			(void)close(bound[i].fd);
	free(bound);
	bound = NULL;
	nbound = 0;
}

/* Hand the front end a copy of every listening socket. */
void
parent_listen_send(void)
{
	struct imsg_out	 out;
	size_t		 i;
	int		 fd;

	if (!parent_proc_running(PROC_SMTP))
		return;
	imsg_out_init(&out, IMSG_SMTP_LISTENERS_RESET, 0);
	(void)parent_proc_send(PROC_SMTP, &out);
	for (i = 0; i < nbound; i++) {
		if ((fd = dup(bound[i].fd)) == -1) {
			log_warn("dup listener %s", bound[i].name);
			continue;
		}
		imsg_out_init(&out, IMSG_SMTP_LISTENER, (uint32_t)i);
		imsg_put_str(&out, bound[i].name);
		imsg_put_u32(&out, bound[i].flags);
		imsg_put_u32(&out, bound[i].max_sessions);
		imsg_put_u32(&out, bound[i].connection_rate);
		(void)parent_proc_send_fd(PROC_SMTP, &out, fd);
	}
	parent_submit_send((uint32_t)nbound);
}

/* 1 if the two configs listen on different sets. */
int
parent_listen_changed(const struct config *a, const struct config *b)
{
	const struct listener	*la, *lb;

	lb = TAILQ_FIRST(&b->listeners);
	TAILQ_FOREACH(la, &a->listeners, entry) {
		if (lb == NULL || strcmp(la->name, lb->name) != 0 ||
		    la->flags != lb->flags ||
		    la->max_sessions != lb->max_sessions ||
		    la->connection_rate != lb->connection_rate)
			return 1;
		lb = TAILQ_NEXT(lb, entry);
	}
	return lb != NULL;
}

/*
 * Bind a unix socket of the given mode ("what" names it in the logs).  A
 * socket file left by a dead daemon is replaced; one a live daemon
 * answers on is an error.  The umask keeps the file at most that open
 * between bind and chmod.  Its fd, or -1 logged.
 */
int
parent_unix_bind(const char *what, const char *path, mode_t mode,
    int backlog)
{
	struct sockaddr_un	 sun;
	int			 fd;
	mode_t			 old;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		log_warnx("%s path too long: %s", what, path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("%s", what);
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		log_warnx("%s %s: another smtpd is running", what, path);
		(void)close(fd);
		return -1;
	}
	(void)unlink(path);
	old = umask(~mode & 0777);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		log_warn("%s %s: bind", what, path);
		(void)umask(old);
		(void)close(fd);
		return -1;
	}
	(void)umask(old);
	if (chmod(path, mode) == -1 || listen(fd, backlog) == -1) {
		log_warn("%s %s", what, path);
		(void)close(fd);
		return -1;
	}
	return fd;
}

/* The control socket, mode 0600. */
int
parent_control_bind(const char *path)
{
	return parent_unix_bind("control socket", path, S_IRUSR | S_IWUSR,
	    16);
}
