/*
 * paths.h: compiled-in paths and user names.  Each can be changed at build
 * time; the config file overrides the paths that have a keyword.
 */
#ifndef PATHS_H
#define PATHS_H

#ifndef LIBEXECDIR
#define LIBEXECDIR		"/usr/local/libexec/smtpd"
#endif
#ifndef SYSCONFDIR
#define SYSCONFDIR		"/etc/mail"
#endif

#define PATH_SMTPD_CONF		SYSCONFDIR "/smtpd.conf"
#define PATH_SPOOL		"/var/spool/smtpd"
#define PATH_CONTROL		"/run/smtpd.sock"
/* the sendmail command's local submission socket and offline drop */
#define PATH_SUBMIT		"/run/smtpd/submit.sock"
#define PATH_OFFLINE		"/var/spool/smtpd-offline"
#define PATH_DATABASE		"/var/lib/smtpd/maps.db"
/* policyd's writable directory beside the database (MTA-STS policies),
 * owned by _smtppol, and the database in it */
#define PATH_STS_DIR		"mta-sts"
#define PATH_STS_DB		"policies.db"
/* Debian's dns-root-data: the DNSSEC root key (dnssec trust-anchor) */
#define PATH_TRUST_ANCHOR	"/usr/share/dns/root.key"
/* the empty chroot of the front end, outbound client and tlsproxy */
#define PATH_CHROOT		"/var/lib/smtpd/empty"

/*
 * One user per child (ARCHITECTURE.md): a process can signal or trace
 * only processes of its own uid, so no child can stop or kill another.
 */
#define SMTPD_USER		"_smtpd"	/* front end */
#define SMTPD_MTA_USER		"_smtpmta"	/* outbound client */
#define SMTPD_QUEUE_USER	"_smtpq"	/* queue */
#define SMTPD_POLICY_USER	"_smtppol"	/* policyd */
#define SMTPD_TLS_USER		"_smtptls"	/* tlsproxy */
#define SMTPD_AUTH_USER		"_smtpauth"	/* smtpd-auth (SASL) */

/* the default password source of smtpd-auth (auth sasldb) */
#define PATH_SASLDB		"/etc/sasldb2"
/* the default socket of saslauthd (auth saslauthd) */
#define PATH_SASLAUTHD		"/run/saslauthd/mux"

#endif
