#!/bin/sh
# tools/install.sh DESTDIR PREFIX SYSCONFDIR: what "make install" does.
# Installs the binaries (and newaliases, a link to smtpctl), man pages, a default smtpd.conf (never over an
# existing one), the systemd unit and the OpenBSD-style rc.d script, and,
# when installing into the running system as root, the six users.
set -eu
DESTDIR=${1:-}
PREFIX=${2:-/usr/local}
SYSCONFDIR=${3:-/etc/mail}

d() { install -d -m 0755 "$DESTDIR$1"; }
d "$PREFIX/sbin"
d "$PREFIX/libexec/smtpd"
d "$PREFIX/share/man/man5"
d "$PREFIX/share/man/man8"
d "$SYSCONFDIR"
d /lib/systemd/system
d /etc/rc.d

install -m 0555 bin/smtpd bin/smtpctl bin/sendmail "$DESTDIR$PREFIX/sbin/"
# sendmail run by this name is mailq(8); the system's /usr/sbin/sendmail
# is left alone (make install-sendmail)
ln -sf sendmail "$DESTDIR$PREFIX/sbin/mailq"
# smtpctl run by this name is newaliases(8)
ln -sf smtpctl "$DESTDIR$PREFIX/sbin/newaliases"
for b in smtpd-smtp smtpd-mta smtpd-queue smtpd-policyd smtpd-tlsproxy \
    smtpd-auth smtpd-local; do
	install -m 0555 "bin/$b" "$DESTDIR$PREFIX/libexec/smtpd/"
done
for m in man/*.5; do install -m 0444 "$m" "$DESTDIR$PREFIX/share/man/man5/"; done
for m in man/*.8; do install -m 0444 "$m" "$DESTDIR$PREFIX/share/man/man8/"; done
[ -f "$DESTDIR$SYSCONFDIR/smtpd.conf" ] ||
	install -m 0644 etc/smtpd.conf "$DESTDIR$SYSCONFDIR/smtpd.conf"
sed "s|@PREFIX@|$PREFIX|g; s|@SYSCONFDIR@|$SYSCONFDIR|g" etc/smtpd.service \
	> "$DESTDIR/lib/systemd/system/smtpd.service"
chmod 0644 "$DESTDIR/lib/systemd/system/smtpd.service"
sed "s|@PREFIX@|$PREFIX|g" etc/rc.d/smtpd > "$DESTDIR/etc/rc.d/smtpd"
chmod 0555 "$DESTDIR/etc/rc.d/smtpd"

# one user per child (see ARCHITECTURE.md)
if [ -z "$DESTDIR" ] && [ "$(id -u)" = 0 ]; then
	for u in _smtpd _smtpmta _smtpq _smtppol _smtptls _smtpauth; do
		id "$u" >/dev/null 2>&1 ||
			useradd --system --user-group --no-create-home \
			    --home-dir /var/lib/smtpd/empty \
			    --shell /usr/sbin/nologin "$u"
	done
	# smtpd-auth reads the sasldb as group sasl
	getent group sasl >/dev/null || groupadd --system sasl
	id -nG _smtpauth | grep -qw sasl || usermod -a -G sasl _smtpauth
	install -d -m 0755 /var/lib/smtpd /var/lib/smtpd/empty
fi
echo "installed under $DESTDIR$PREFIX"
