/*
 * policyd.h: smtpd-policyd's files beside its main file.
 *
 *   policyd_user.c	the system's users, asked of the parent and kept
 *			a short while (`local users passwd`)
 */
#ifndef POLICYD_H
#define POLICYD_H

struct imsg;
struct imsgev;

void	policyd_user_init(void (*retry)(void));
int	policyd_user_exists(void *arg, const char *name);
void	policyd_user_result(struct imsgev *, struct imsg *, void *);

#endif
