#!/bin/sh
# tools/demo.sh: from a fresh Debian 12 (as root) to a running relay.
# Installs what is missing, builds, installs under /usr/local, makes a
# demo certificate in /etc/mail and runs smtpd in the foreground on the
# default configuration with STARTTLS on 127.0.0.1 and ::1, port 25
# (/etc/mail/smtpd-demo.conf), delivering local users' mail into
# /var/mail/USER.  ^C stops it.
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root" >&2; exit 1; }
sh tools/deps.sh
make
make install
if [ ! -f /etc/mail/demo-key.pem ]; then
	openssl req -x509 -newkey rsa:2048 -nodes -days 30 \
	    -subj "/CN=$(hostname -f 2>/dev/null || hostname)" \
	    -keyout /etc/mail/demo-key.pem -out /etc/mail/demo-cert.pem \
	    2>/dev/null
	chmod 0600 /etc/mail/demo-key.pem
fi
# the default configuration, plus STARTTLS with the demo certificate
cat > /etc/mail/smtpd-demo.conf <<'CONF'
# written by tools/demo.sh: defaults, with STARTTLS on the loopback listeners
pki demo cert "/etc/mail/demo-cert.pem" key "/etc/mail/demo-key.pem"
listen on 127.0.0.1 port 25 tls
listen on ::1 port 25 tls
CONF
/usr/local/sbin/smtpd -n -f /etc/mail/smtpd-demo.conf
# a local user to receive the demo's mail: the one who ran sudo, else
# "demo" (made here when missing; userdel -r demo removes it)
MAILUSER=${SUDO_USER:-demo}
[ "$MAILUSER" = root ] && MAILUSER=demo
if ! id "$MAILUSER" >/dev/null 2>&1; then
	useradd -m -s /usr/sbin/nologin "$MAILUSER"
	echo "demo.sh: made the user $MAILUSER for the demo's mail"
fi
echo "smtpd: starting in the foreground; try (as root, in another terminal):"
echo "  swaks --tls --server 127.0.0.1 --to $MAILUSER@localhost"
echo "  then read /var/mail/$MAILUSER (mutt -f /var/mail/$MAILUSER, or cat)."
echo "  Mail for another domain, e.g. --to you@example.org, goes out by MX;"
echo "  without a way out it waits in smtpctl show queue, then bounces once."
exec /usr/local/sbin/smtpd -d -f /etc/mail/smtpd-demo.conf
