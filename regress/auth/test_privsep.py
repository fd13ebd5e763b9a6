"""The password database and Cyrus SASL stay out of the front end: its
uid (_smtpd) cannot read the sasldb, the smtp process has neither
libsasl2 nor the sasldb mapped, and smtpd-auth (which has libsasl2) runs
as _smtpauth with group sasl, chrooted to the sasldb's directory."""
import os
import pwd
import subprocess

from lib import free_port
from lib.daemon import Relay
from lib.sasl import SaslDB, auth_extra, plain, wait_auth_ready, RawFrom


def _maps(pid):
    with open("/proc/%d/maps" % pid) as f:
        return f.read()


def test_front_end_has_no_sasl_and_cannot_read_sasldb():
    db = SaslDB({"erin": "pw-erin"})
    port = free_port()
    relay = Relay(extra=auth_extra(db, port, mechanisms="PLAIN"))
    with relay:
        wait_auth_ready(port)
        with RawFrom(port) as raw:
            raw.ehlo()
            assert raw.cmd("AUTH PLAIN " + plain("erin", "pw-erin"))[0] == 235
        smtpd = pwd.getpwnam("_smtpd")
        r = subprocess.run(["setpriv", "--reuid=%d" % smtpd.pw_uid,
                            "--regid=%d" % smtpd.pw_gid, "--init-groups",
                            "cat", db.path], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=10)
        assert r.returncode != 0 and b"Permission denied" in r.stderr, r
        kids = relay.children()
        smtp_maps = _maps(kids["smtp"])
        assert "libsasl2" not in smtp_maps and "sasl2/" not in smtp_maps
        assert "sasldb" not in smtp_maps
        auth_maps = _maps(kids["auth"])
        assert "libsasl2.so" in auth_maps, "smtpd-auth without libsasl2?"
        for name in ("mta", "queue", "tlsproxy"):
            assert "libsasl2" not in _maps(kids[name]), name
        # policyd links libpq, whose libldap needs libsasl2: mapped, but
        # never initialised, so no mechanism (plugin) is ever loaded
        assert "sasl2/" not in _maps(kids["policyd"])
        assert "sasldb" not in _maps(kids["policyd"])
        assert os.readlink("/proc/%d/root" % kids["auth"]) == \
            os.path.realpath(db.dir)
        with open("/proc/%d/status" % kids["auth"]) as f:
            uid = [ln.split()[1] for ln in f if ln.startswith("Uid:")][0]
        assert int(uid) == pwd.getpwnam("_smtpauth").pw_uid
