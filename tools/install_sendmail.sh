#!/bin/sh
# tools/install_sendmail.sh DESTDIR PREFIX FORCE: what "make
# install-sendmail" does.  Installs bin/sendmail as PREFIX/sbin/sendmail
# (with mailq beside it) and points /usr/sbin/sendmail, /usr/bin/mailq and
# /usr/bin/newaliases at it with symbolic links, the Debian way without
# update-alternatives: a path that belongs to another package (dpkg -S)
# is refused unless FORCE=1, and then diverted (dpkg-divert --local
# --rename, so the package's file is kept as PATH.smtpd-orig and comes
# back with dpkg-divert --rename --remove); any other file that is not
# already our link is refused unless FORCE=1, and then renamed to
# PATH.smtpd-orig.  Never run by the tests, which use bin/sendmail.
set -eu
DESTDIR=${1:-}
PREFIX=${2:-/usr/local}
FORCE=${3:-}
TARGET="$PREFIX/sbin/sendmail"

install -d -m 0755 "$DESTDIR$PREFIX/sbin" "$DESTDIR/usr/sbin" \
    "$DESTDIR/usr/bin"
install -m 0555 bin/sendmail "$DESTDIR$TARGET"
ln -sf sendmail "$DESTDIR$PREFIX/sbin/mailq"

# 0 if the path may become our link (refusals go to stderr).
check() {
	p=$1
	[ -e "$DESTDIR$p" ] || [ -L "$DESTDIR$p" ] || return 0
	[ "$(readlink "$DESTDIR$p" || true)" = "$TARGET" ] && return 0
	pkg=""
	if [ -z "$DESTDIR" ] && command -v dpkg >/dev/null 2>&1; then
		pkg=$(dpkg -S "$p" 2>/dev/null | grep -v '^diversion' |
		    sed -n 's/: .*//p' | head -n 1)
	fi
	if [ "$FORCE" != 1 ]; then
		if [ -n "$pkg" ]; then
			echo "install-sendmail: $p belongs to the package" \
			    "$pkg (dpkg -S $p); remove that mail system, or" \
			    "make install-sendmail FORCE=1 to divert it" >&2
		else
			echo "install-sendmail: $p exists and is not a link" \
			    "to $TARGET; make install-sendmail FORCE=1 to" \
			    "move it to $p.smtpd-orig" >&2
		fi
		return 1
	fi
	if [ -n "$pkg" ]; then
		dpkg-divert --local --rename --divert "$p.smtpd-orig" --add "$p"
	else
		mv -f "$DESTDIR$p" "$DESTDIR$p.smtpd-orig"
	fi
}

refused=0
for p in /usr/sbin/sendmail /usr/bin/mailq /usr/bin/newaliases; do
	check "$p" || refused=1
done
[ "$refused" = 0 ] || exit 1
for p in /usr/sbin/sendmail /usr/bin/mailq /usr/bin/newaliases; do
	ln -sfn "$TARGET" "$DESTDIR$p"
done
echo "$DESTDIR/usr/sbin/sendmail, mailq, newaliases -> $TARGET"
