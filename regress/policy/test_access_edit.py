"""smtpctl access add/delete/show against a running relay: an entry
added while smtpd runs changes the next connection's reply at once, a
delete restores it, and bad input is refused (exit 1) without touching
the database."""
import hashlib
import os

from lib import clients
from lib.daemon import Relay
from lib.sink import Sink


def _greeting(port):
    with clients.Raw(port) as raw:
        return raw.greeting


def _mail_reply(port):
    """A refused client is greeted, then refused at MAIL (spec 2.3)."""
    with clients.Raw(port) as raw:
        assert raw.greeting[0] == 220, raw.greeting
        raw.cmd("EHLO client.test")
        return raw.cmd("MAIL FROM:<alice@client.test>")


def _digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_add_and_delete_change_connect_reply_at_once():
    with Sink() as sink, Relay(sink=sink) as relay:
        assert _greeting(relay.port)[0] == 220
        rc, out = relay.smtpctl("access", "add", "Connect:127.0.0.1",
                                "REJECT")
        assert rc == 0, out
        assert out == "connect:127.0.0.1\tREJECT\n", out
        code, texts = _mail_reply(relay.port)
        assert code == 550 and texts[0] == "5.7.1 Access denied", \
            (code, texts)
        rc, out = relay.smtpctl("access", "show", "connect:")
        assert rc == 0 and out == "connect:127.0.0.1\tREJECT\n", out
        rc, out = relay.smtpctl("access", "delete", "CONNECT:127.0.0.1")
        assert rc == 0 and out == "connect:127.0.0.1\tREJECT\n", out
        assert _greeting(relay.port)[0] == 220
        rc, out = relay.smtpctl("access", "show")
        assert rc == 0 and out == "", out
        rc, out = relay.smtpctl("access", "delete", "Connect:127.0.0.1")
        assert rc == 1, out
        clients.send(relay.port, "alice@client.test", ["bob@dest.test"])
        assert len(sink.wait_for(1)) == 1


def test_add_error_reply_and_replace():
    with Sink() as sink, Relay(sink=sink) as relay:
        rc, out = relay.smtpctl("access", "add", "Connect:127.0.0.1",
                                "ERROR:421 4.7.0 come back later")
        assert rc == 0, out
        code, texts = _greeting(relay.port)
        assert code == 421 and "come back later" in texts[0], (code, texts)
        rc, out = relay.smtpctl("access", "add", "Connect:127.0.0.1", "OK")
        assert rc == 0, out
        assert _greeting(relay.port)[0] == 220


def test_bad_input_refused_database_unchanged():
    with Sink() as sink, Relay(sink=sink, start=False) as relay:
        rc, out = relay.smtpctl("access", "add", "From:a'b;--@x.test",
                                "REJECT")
        assert rc == 0, out
        before = _digest(relay.database)
        bad = [
            ("Connect:x", "ERROR:"),
            ("Connect:x", "ERROR:250 all fine"),
            ("Connect:x", "REJCT"),
            ("Connect:x", "REJECT\nConnect:y OK"),
            ("Connect:x\r", "OK"),
            ("Connect:a b", "OK"),
            ('Connect:"x"', "OK"),
            ("TLS_Srv:mx.test", "VERIFY:lots"),
            ("TLS_Clt:", "ENCR"),
            ("Try_TLS:mx.test", "MAYBE"),
            ("Srv_Features:", "Q"),
            ("CERTISSUER:", "RELAY"),
            ("Spam:abuse@", "FRIEND"),
            ("From:x.test", "SKIP"),
            ("Connect:" + "a" * 1100, "OK"),
            ("Connect:x", "ERROR:550 " + "t" * 1100),
            ("x'); DROP TABLE maps; --", "OK"),
        ]
        for key, value in bad:
            r = relay.smtpctl_run("access", "add", key, value)
            assert r.returncode == 1, (key, value, r.stdout, r.stderr)
            err = r.stderr.decode()
            assert err.startswith("smtpctl: access add"), err
            assert r.stdout == b"", r.stdout
        assert relay.smtpctl_run("access", "add", "k").returncode == 2
        assert _digest(relay.database) == before
        rc, out = relay.smtpctl("access", "show")
        assert out == "from:a'b;--@x.test\tREJECT\n", out


def test_other_maps_and_no_database():
    with Sink() as sink, Relay(sink=sink, start=False) as relay:
        assert not os.path.exists(relay.database)
        rc, out = relay.smtpctl("access", "show")
        assert rc == 0 and out == "", out
        assert relay.smtpctl("access", "delete", "Connect:x")[0] == 1
        r = relay.smtpctl_run("access", "add", "Connect:x", "BOGUS")
        assert r.returncode == 1
        assert not os.path.exists(relay.database), "a refused add created it"
        rc, out = relay.smtpctl("map", "add", "relay-domains", "Dest.Test")
        assert rc == 0 and out == "dest.test\n", out
        rc, out = relay.smtpctl("map", "add", "mailertable", "dest.test",
                                "smtp:[127.0.0.1]:25")
        assert rc == 0, out
        rc, out = relay.smtpctl("map", "show", "relay-domains")
        assert out == "dest.test\n", out
        assert relay.smtpctl("map", "show", "nosuch")[0] == 1
        assert relay.smtpctl("map", "add", "mailertable", "x.test",
                             "local:")[0] == 1
        st = os.stat(relay.database)
        assert st.st_mode & 0o777 == 0o640, oct(st.st_mode)
