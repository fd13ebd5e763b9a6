"""make install into a DESTDIR: every file lands where the man pages and
the service files say, the installed binaries run, and the installed
default configuration is valid."""
import os
import shutil
import subprocess

from lib import REPO, TMP


def _install(destdir):
    shutil.rmtree(destdir, ignore_errors=True)
    r = subprocess.run(["make", "-s", "install", "DESTDIR=" + destdir,
                        "PREFIX=/usr/local"], cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_install_layout_and_config():
    dest = os.path.join(TMP, "install-destdir")
    _install(dest)
    for path, mode in (("usr/local/sbin/smtpd", 0o555),
                       ("usr/local/sbin/smtpctl", 0o555),
                       ("usr/local/libexec/smtpd/smtpd-smtp", 0o555),
                       ("usr/local/libexec/smtpd/smtpd-mta", 0o555),
                       ("usr/local/libexec/smtpd/smtpd-queue", 0o555),
                       ("usr/local/libexec/smtpd/smtpd-policyd", 0o555),
                       ("usr/local/libexec/smtpd/smtpd-tlsproxy", 0o555),
                       ("usr/local/libexec/smtpd/smtpd-local", 0o555),
                       ("usr/local/share/man/man8/smtpd.8", 0o444),
                       ("usr/local/share/man/man8/smtpctl.8", 0o444),
                       ("usr/local/share/man/man5/smtpd.conf.5", 0o444),
                       ("usr/local/share/man/man5/smtpd-maps.5", 0o444),
                       ("etc/mail/smtpd.conf", 0o644)):
        st = os.stat(os.path.join(dest, path))
        assert st.st_mode & 0o777 == mode, (path, oct(st.st_mode))
    # newaliases is smtpctl run by another name
    newaliases = os.path.join(dest, "usr/local/sbin/newaliases")
    assert os.path.realpath(newaliases) == os.path.realpath(
        os.path.join(dest, "usr/local/sbin/smtpctl")), newaliases
    assert os.stat(os.path.join(
        dest, "usr/local/share/man/man8/newaliases.8")).st_mode & 0o777 \
        == 0o444
    conf = os.path.join(dest, "etc/mail/smtpd.conf")
    r = subprocess.run([os.path.join(dest, "usr/local/sbin/smtpd"), "-n",
                        "-f", conf], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 0 and "configuration OK" in r.stdout, r


def test_install_service_files_name_installed_paths():
    dest = os.path.join(TMP, "install-destdir")
    _install(dest)
    unit = open(os.path.join(dest, "lib/systemd/system/smtpd.service")).read()
    assert "ExecStart=/usr/local/sbin/smtpd -d -f /etc/mail/smtpd.conf" \
        in unit, unit
    assert "ExecReload=/usr/local/sbin/smtpctl" in unit, unit
    assert "@" not in unit.replace("multi-user", ""), unit
    rc = open(os.path.join(dest, "etc/rc.d/smtpd")).read()
    assert 'daemon="/usr/local/sbin/smtpd"' in rc, rc


def test_install_keeps_existing_config():
    dest = os.path.join(TMP, "install-destdir")
    _install(dest)
    conf = os.path.join(dest, "etc/mail/smtpd.conf")
    with open(conf, "w") as f:
        f.write('hostname "kept.example"\n')
    _install_again = subprocess.run(
        ["make", "-s", "install", "DESTDIR=" + dest], cwd=REPO,
        capture_output=True, text=True, timeout=120)
    assert _install_again.returncode == 0, _install_again.stderr
    assert open(conf).read() == 'hostname "kept.example"\n'
