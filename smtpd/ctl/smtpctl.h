/*
 * smtpctl.h: the commands of smtpctl(8) that work on the map database
 * directly, without the daemon (smtpctl_map.c, smtpctl_explain.c,
 * smtpctl_makemap.c), and the printing of the daemon's answers
 * (smtpctl_text.c).
 *
 * Each takes the parsed config and the command's words (argv[0] is the
 * command name) and returns smtpctl's exit status: 0 success, 1 failure
 * (the reason printed on stderr after "smtpctl: "), 2 usage error.
 */
#ifndef SMTPCTL_H
#define SMTPCTL_H

#include <stdio.h>

struct config;

/* smtpctl_text.c: print s with every octet but printable ASCII escaped
 * (\ooo; a backslash as \\), no newline added */
void	smtpctl_text_print(FILE *, const char *s);

/* makemap MAP FILE: a whole map from a text file */
int	smtpctl_makemap(const struct config *, int argc, char **argv);
/* newaliases(8): main() when run by that name; sysexits(3) status */
int	smtpctl_newaliases(int argc, char **argv);
/* access add|delete|show ...: the access map */
int	smtpctl_access(const struct config *, int argc, char **argv);
/* map add|delete|show MAP ...: any map */
int	smtpctl_map(const struct config *, int argc, char **argv);
/* authinfo add KEY VALUE | delete KEY | show [PREFIX]: secrets masked */
int	smtpctl_authinfo(const struct config *, int argc, char **argv);
/* explain [addr A ...] [rcpt R ...] [server-addr A ...]: see smtpctl(8) */
int	smtpctl_explain(const struct config *, int argc, char **argv);
/* tlsa [PKI] | mta-sts DOMAIN [enforce|testing]: what to publish */
int	smtpctl_tlsa(const struct config *, int argc, char **argv);
int	smtpctl_mta_sts(const struct config *, int argc, char **argv);
/* explain tls-srv DOMAIN: the DANE records and verdict per MX host */
int	smtpctl_explain_tls_srv(const struct config *, int argc, char **argv);

struct ub_ctx;
/* smtpctl_publish.c: a DNSSEC-validating libunbound context as the
 * daemon's (resolver, dnssec trust-anchor); NULL, reason on stderr */
struct ub_ctx	*smtpctl_resolver(const struct config *);

#endif
