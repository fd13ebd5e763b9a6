"""A reload (SIGHUP or smtpctl reload) that changes the options of a
listener on the same address and port keeps its socket and applies the
new options to new connections: the old socket is still bound, so
binding the address again would fail with EADDRINUSE ("cannot bind the
new listeners") and the reload would be refused.  A reload that removes a
listener and adds one on another port closes the one and opens the other.
"""
import os
import signal
import socket

from lib import clients, free_port, wait_until
from lib.certs import TestCA, client_context, starttls
from lib.daemon import Relay
from lib.sink import Sink


def _ehlo(port):
    with clients.Raw(port) as raw:
        return [kw.upper() for kw in raw.ehlo()]


def _refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
    except OSError:
        return True
    return False


def _reloaded(relay, mark):
    relay.wait_for_log(r"configuration reloaded|old configuration kept",
                       timeout=10, start=mark)
    log = relay.log(mark)
    assert "old configuration kept" not in log, log[-2000:]
    assert "cannot bind" not in log, log[-2000:]


def test_sighup_adds_tls_to_a_listener():
    ca = TestCA()
    srv = ca.issue("relay.test")
    port = free_port()
    with Sink() as sink, Relay(sink=sink, extra=[
            "listen on 127.0.0.1 port %d" % port]) as relay:
        assert "STARTTLS" not in _ehlo(port)
        old = clients.Raw(port)
        old.ehlo()
        relay.extra = ['pki relay.test cert "%s" key "%s"' % (srv.chain,
                                                              srv.key),
                       "listen on 127.0.0.1 port %d tls" % port]
        relay.write_conf()
        mark = relay.mark()
        os.kill(relay.proc.pid, signal.SIGHUP)
        _reloaded(relay, mark)
        relay.wait_for_log(r"tlsproxy: certificates loaded: [1-9]",
                           timeout=10, start=mark)
        assert "STARTTLS" in _ehlo(port)
        with clients.Raw(port) as raw:
            raw.ehlo()
            starttls(raw, client_context(ca))
            raw.ehlo()
            code, text = raw.cmd("MAIL FROM:<alice@client.test>")
            assert code == 250, (code, text)
        # a session accepted before the reload goes on as it was
        assert old.cmd("NOOP")[0] == 250
        old.close()
        clients.send(port, "alice@client.test", ["bob@dest.test"])
        sink.wait_for(1, timeout=20)


def test_smtpctl_reload_changes_options_and_ports():
    first, second = free_port(), free_port()
    with Relay(extra=["listen on 127.0.0.1 port %d" % first]) as relay:
        assert "AUTH" not in " ".join(_ehlo(first))
        # the options of the relay's own listener change, another moves
        relay.extra = ["listen on 127.0.0.1 port %d auth-optional" % second]
        conf = relay.conf_text().replace(
            "listen on 127.0.0.1 port %d\n" % relay.port,
            "listen on 127.0.0.1 port %d auth-optional\n" % relay.port)
        with open(relay.confpath, "w") as f:
            f.write(conf)
        mark = relay.mark()
        rc, out = relay.smtpctl("reload")
        assert rc == 0, (rc, out, relay.log(mark)[-2000:])
        _reloaded(relay, mark)
        wait_until(lambda: _refused(first), 10, "port %d closed" % first)
        # smtpd-auth restarts in the password source's chroot (no listener
        # offered AUTH before) and then sends the mechanisms again
        for port in (relay.port, second):
            wait_until(lambda: any(kw.startswith("AUTH")
                                   for kw in _ehlo(port)), 10,
                       "AUTH offered on port %d" % port)
