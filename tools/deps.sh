#!/bin/sh
# deps.sh: install what the relay needs to build and to run its tests, on
# Debian 12, idempotently.  Run as root by "make check" and by CI.
#
#  - Debian packages: only the missing ones are installed ("apt-get update"
#    runs at most once, and only when something has to be fetched).
#  - The system users of the six children (_smtpd, _smtpmta, _smtpq,
#    _smtppol, _smtptls, _smtpauth), each with its own group, so that no
#    child can signal another; _smtpauth is also in group sasl, which may
#    read the sasldb.
#  - Postfix's smtp-source and smtp-sink, used as load generators by the
#    regress suite.  The postfix package is never installed (it conflicts
#    with other MTAs and its postinst starts a daemon): its .deb is fetched
#    with "apt-get download" and unpacked with "dpkg-deb -x" under
#    /opt/relay-test/postfix, so no maintainer script ever runs.
#
# Quiet on success; on failure it says what is missing and exits non-zero.
set -eu

PREFIX=${RELAY_TEST_PREFIX:-/opt/relay-test}
PF=$PREFIX/postfix
export DEBIAN_FRONTEND=noninteractive

say() { echo "deps.sh: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
	say "must run as root"
	exit 1
fi

# Build and test dependencies, then the runtime libraries of the unpacked
# postfix binaries (from the Depends: of Debian 12's postfix).
PKGS="build-essential byacc pkg-config libevent-dev libtls-dev libsasl2-dev libidn2-dev
libbsd-dev libseccomp-dev libunbound-dev libssl-dev libsqlite3-dev sqlite3
mandoc swaks libnet-ssleay-perl dnsmasq-base sasl2-bin openssl python3 clang iproute2 procps
libsasl2-modules libsasl2-modules-db libauthen-sasl-perl libdigest-hmac-perl
psmisc util-linux adduser netbase cpio procmail dovecot-core
dovecot-lmtpd strace bsd-mailx nsd ldnsutils unbound-host haproxy
python3-prometheus-client
python3-milter libmilter-dev opendkim opendkim-tools python3-dkim rspamd
libpq-dev postgresql-15
libc6 libdb5.3 libicu72 libnsl2 libsasl2-2 libssl3 zlib1g libcrypt1"

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null |
	    grep -q 'install ok installed'
}

UPDATED=0
apt_update() {
	if [ "$UPDATED" -eq 0 ]; then
		apt-get update -q >/dev/null || { say "apt-get update failed"; exit 1; }
		UPDATED=1
	fi
}

MISSING=""
for p in $PKGS; do
	installed "$p" || MISSING="$MISSING $p"
done
if [ -n "$MISSING" ]; then
	apt_update
	# shellcheck disable=SC2086
	if ! apt-get install -y -q --no-install-recommends $MISSING \
	    >/tmp/deps.sh.apt.log 2>&1; then
		say "apt-get install failed for:$MISSING (see /tmp/deps.sh.apt.log)"
		exit 1
	fi
fi

# One system user and group per child; all share the empty home.
for u in _smtpd _smtpmta _smtpq _smtppol _smtptls _smtpauth; do
	if ! getent group "$u" >/dev/null; then
		groupadd --system "$u"
	fi
	if ! id "$u" >/dev/null 2>&1; then
		useradd --system --no-create-home --home-dir /var/lib/smtpd/empty \
		    --shell /usr/sbin/nologin --gid "$u" "$u"
	fi
done

# smtpd-auth reads the sasldb as group sasl (made by sasl2-bin).
getent group sasl >/dev/null || groupadd --system sasl
id -nG _smtpauth | grep -qw sasl || usermod -a -G sasl _smtpauth

# Postfix's load tools, unpacked, never installed.
if [ ! -s "$PF/DEBIAN_VERSION" ] || [ ! -x "$PF/usr/sbin/smtp-source" ]; then
	apt_update
	mkdir -p "$PREFIX/debs"
	chmod 755 "$PREFIX" "$PREFIX/debs"
	rm -f "$PREFIX"/debs/postfix_*.deb
	if ! (cd "$PREFIX/debs" && apt-get download -q postfix >/dev/null 2>&1); then
		say "apt-get download postfix failed"
		exit 1
	fi
	DEB=
	for f in "$PREFIX"/debs/postfix_*.deb; do
		[ -f "$f" ] && DEB=$f && break
	done
	[ -n "$DEB" ] || { say "no postfix .deb in $PREFIX/debs"; exit 1; }
	rm -rf "$PF.tmp"
	dpkg-deb -x "$DEB" "$PF.tmp"
	dpkg-deb -f "$DEB" Version >"$PF.tmp/DEBIAN_VERSION"
	rm -rf "$PF"
	mv "$PF.tmp" "$PF"
fi
if [ ! -f "$PF/etc/postfix/dynamicmaps.cf" ] &&
    [ -f "$PF/usr/share/postfix/dynamicmaps.cf" ]; then
	cp "$PF/usr/share/postfix/dynamicmaps.cf" "$PF/etc/postfix/dynamicmaps.cf"
fi

# Sanity: the tools the suite calls must run.  smtp-source without
# arguments prints its usage and exits non-zero; a missing shared library
# makes the loader say "error while loading shared libraries".
for t in "$PF/usr/sbin/smtp-source" "$PF/usr/sbin/smtp-sink" /usr/bin/swaks \
    /usr/sbin/dnsmasq /usr/bin/python3 /usr/bin/openssl; do
	[ -x "$t" ] || { say "missing $t"; exit 1; }
done
OUT=$(LD_LIBRARY_PATH="$PF/usr/lib/postfix" "$PF/usr/sbin/smtp-source" 2>&1 || true)
case "$OUT" in
*"error while loading"*|*"not found"*)
	say "smtp-source does not run: $OUT"
	exit 1
	;;
*usage*|*Usage*)
	;;
*)
	say "smtp-source gave unexpected output: $OUT"
	exit 1
	;;
esac
exit 0
