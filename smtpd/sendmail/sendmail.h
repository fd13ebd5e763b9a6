/*
 * sendmail.h: the sendmail command (bin/sendmail, also mailq and
 * newaliases by name), shared by its modules:
 *   sendmail.c       options (sendmail 8's), modes, exit codes
 *   sendmail_msg.c   the message from stdin: the end of input, headers
 *                    (-t recipients, Bcc: removed, From:/Date:/
 *                    Message-ID: added when missing)
 *   sendmail_smtp.c  the SMTP client over the sendmail socket, and -bs
 *   sendmail_drop.c  the offline drop file: written when the daemon is
 *                    down, read back in pickup mode
 *
 * It is an ordinary program of the user who runs it (no setuid): the
 * daemon learns who that is from SO_PEERCRED, never from the command.
 */
#ifndef SENDMAIL_H
#define SENDMAIL_H

#include <sys/types.h>

#include <stddef.h>

#include "mailaddr.h"

/* What the command was asked to do. */
enum sm_mode {
	SM_MODE_SEND = 0,	/* submit the message on stdin (default) */
	SM_MODE_SMTP,		/* -bs: SMTP on stdin/stdout */
	SM_MODE_QUEUE,		/* -bp, mailq: list the queue */
	SM_MODE_ALIASES,	/* -bi, newaliases */
	SM_MODE_RUNQ,		/* -q: run the queue now */
	SM_MODE_PICKUP		/* --pickup: a drop file on stdin (the parent) */
};

/* A growable octet buffer. */
struct sm_buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

/* The envelope: what the command line and the headers say. */
struct sm_env {
	char	 sender[MAILADDR_PATH_MAX];	/* "" for <> */
	int	 sender_set;			/* -f or -r given */
	char	 notify[64];			/* -N: NOTIFY=, "" if none */
	char	 ret[8];			/* -R: FULL, HDRS or "" */
	char	 envid[MAILADDR_ENVID_MAX + 1];	/* -V: xtext, "" if none */
	char	**rcpts;
	size_t	 nrcpt;
	size_t	 rcptcap;
};

struct sm_opts {
	enum sm_mode	 mode;
	const char	*conffile;
	int		 conf_given;	/* -C: its errors are errors */
	int		 tflag;		/* -t */
	int		 iflag;		/* -i, -oi: a lone dot is text */
	int		 verbose;	/* -v */
	const char	*fullname;	/* -F */
	const char	*sender;	/* -f, -r: applied only when sending */
	int		 dashdash;	/* "--": what follows is recipients */
};

/* What the config says, or the defaults when it cannot be read. */
struct sm_conf {
	char	 hostname[256];
	char	 socket[4096];
	char	 drop_dir[4096];
	char	 control[4096];
	size_t	 message_size;
};

/* The user running the command. */
struct sm_user {
	uid_t	 uid;
	char	 name[256];
	char	 gecos[256];
};

extern struct sm_opts	 sm_opts;
extern struct sm_conf	 sm_conf;
extern struct sm_user	 sm_user;

/* sendmail.c */
void	 sm_buf_add(struct sm_buf *, const void *, size_t);
void	 sm_buf_free(struct sm_buf *);
int	 sm_env_rcpt_add(struct sm_env *, const char *);
void	 sm_env_free(struct sm_env *);
void	 sm_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));

/* sendmail_msg.c: 0, or an EX_* code (message on stderr) */
int	 sm_msg_read(int fd, struct sm_buf *);
int	 sm_msg_headers(struct sm_buf *, struct sm_env *);

/* sendmail_smtp.c */
/* -1: the socket cannot be reached (nothing was said to the daemon) */
int	 sm_smtp_connect(void);
/* EX_OK, or the EX_* code of the failure (EX_TEMPFAIL: try later) */
int	 sm_smtp_submit(int fd, const struct sm_env *, const struct sm_buf *,
	    int *refused);
int	 sm_smtp_relay(int fd);

/* sendmail_drop.c */
int	 sm_drop_write(const struct sm_env *, const struct sm_buf *);
int	 sm_drop_read(int fd, struct sm_env *, struct sm_buf *);

#endif
