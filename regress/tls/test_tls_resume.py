"""TLS session resumption in tlsproxy ("tls session-lifetime").

openssl s_client -starttls smtp -sess_out, then -sess_in, is "Reused"
for a TLS 1.3 ticket, a TLS 1.2 ticket and a TLS 1.2 session ID
(-no_ticket), also when the client closes first; Python's ssl resumes
with SSLSocket.session and gets a new ticket each time; each resumed
handshake logs resumed=yes on its STARTTLS=server line and counts in
tls.handshake.resumed.  A ticket past two lifetimes (2 s here) is
refused and a full handshake follows; a ticket of one pki is not
accepted under another SNI name; with "tls processes 2" a ticket
resumes on the instance that issued it and the other one makes a full
handshake without an error; "tls session-lifetime 0" never resumes; a
reload keeps the tickets valid, a reload with a new certificate does
not (a reload that changes no TLS setting keeps the TLS 1.2 session
IDs too, one that changes the CA set keeps the tickets)."""
import os
import re
import shutil
import ssl
import subprocess
import time

from lib import clients, free_port, test_dir
from lib.certs import TestCA, client_context, relay_tls_extra, wait_tls_ready
from lib.daemon import Relay
from lib.sink import Sink

VERSIONS = (("tls1.3", ["-tls1_3"]),
            ("tls1.2-ticket", ["-tls1_2"]),
            ("tls1.2-id", ["-tls1_2", "-no_ticket"]))


def _s_client(port, args, servername="relay.test", wait=True):
    """One STARTTLS session to QUIT (without wait, s_client closes with
    its close_notify at the end of its input, before the 221); (New or
    Reused, the output)."""
    r = subprocess.run(
        ["openssl", "s_client", "-starttls", "smtp", "-connect",
         "127.0.0.1:%d" % port, "-servername", servername] +
        (["-ign_eof"] if wait else []) + args, input=b"QUIT\r\n",
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    out = r.stdout.decode("utf-8", "replace")
    assert not wait or re.search(r"^221", out, re.M), out
    m = re.search(r"^(New|Reused), TLSv1\.[23]", out, re.M)
    assert m, out
    return m.group(1), out


def _sess_path(name):
    return os.path.join(test_dir("sess"), name)


def _first(port, name, args, servername="relay.test"):
    """A full handshake that saves its session in a file."""
    path = _sess_path(name)
    kind, out = _s_client(port, args + ["-sess_out", path], servername)
    assert kind == "New", out
    assert os.path.getsize(path) > 0, "no session saved"
    return path


def _again(port, path, args, servername="relay.test"):
    return _s_client(port, args + ["-sess_in", path], servername)


def _py_session(port, ctx, session=None):
    """A Python ssl STARTTLS session; (session, session_reused)."""
    with clients.Raw(port) as raw:
        raw.ehlo()
        assert raw.cmd("STARTTLS")[0] == 220
        raw.sock = ctx.wrap_socket(raw.sock, server_hostname="relay.test",
                                   session=session)
        # the TLS 1.3 ticket comes after the handshake, with the reply
        assert raw.cmd("EHLO client.test")[0] == 250
        reused = raw.sock.session_reused
        sess = raw.sock.session
        assert raw.cmd("QUIT")[0] == 221
    return sess, reused


def _resumed_lines(relay, start=0):
    return re.findall(r"STARTTLS=server, .*resumed=(yes|no)$",
                      relay.log(start), re.M)


def _relay(sink, ca, port, extra=()):
    srv = ca.issue("relay.test")
    return Relay(sink=sink, extra=relay_tls_extra(ca, srv, port) +
                 list(extra))


def test_openssl_resumes_each_version():
    ca = TestCA()
    port = free_port()
    with Sink() as sink, _relay(sink, ca, port) as relay:
        wait_tls_ready(relay)
        for name, args in VERSIONS:
            path = _first(port, name, args)
            kind, out = _again(port, path, args)
            assert kind == "Reused", (name, out)
        assert _resumed_lines(relay) == ["no", "yes"] * 3
        assert relay.stats()["tls.handshake.resumed"] == "3"
        assert relay.stats()["tls.handshake.ok"] == "6"


def test_session_id_kept_when_the_client_closes_first():
    """tlsproxy answers the client's close_notify, else OpenSSL would
    drop the session from its cache."""
    ca = TestCA()
    port = free_port()
    args = ["-tls1_2", "-no_ticket"]
    with Sink() as sink, _relay(sink, ca, port) as relay:
        wait_tls_ready(relay)
        path = _sess_path("closer")
        kind, out = _s_client(port, args + ["-sess_out", path], wait=False)
        assert kind == "New", out
        kind, out = _s_client(port, args + ["-sess_in", path], wait=False)
        assert kind == "Reused", out


def test_python_session_reuse():
    ca = TestCA()
    port = free_port()
    with Sink() as sink, _relay(sink, ca, port) as relay:
        wait_tls_ready(relay)
        ctx = client_context(ca)
        sess, reused = _py_session(port, ctx)
        assert not reused
        assert sess is not None and sess.has_ticket
        sess2, reused = _py_session(port, ctx, sess)
        assert reused
        # a resumed session gets a ticket of its own
        assert sess2.has_ticket and sess2.id != sess.id, (sess.id, sess2.id)
        assert sess2.time >= sess.time
        _, reused = _py_session(port, ctx, sess2)
        assert reused
        assert _resumed_lines(relay) == ["no", "yes", "yes"]


def test_old_ticket_refused_after_two_lifetimes():
    ca = TestCA()
    port = free_port()
    with Sink() as sink, _relay(sink, ca, port,
                                ["tls session-lifetime 2s"]) as relay:
        wait_tls_ready(relay)
        paths = {name: _first(port, name, args) for name, args in VERSIONS}
        for name, args in VERSIONS:
            kind, out = _again(port, paths[name], args)
            assert kind == "Reused", (name, out)
        time.sleep(4.5)
        mark = relay.mark()
        for name, args in VERSIONS:
            kind, out = _again(port, paths[name], args)
            assert kind == "New", (name, out)
        assert _resumed_lines(relay, mark) == ["no"] * 3
        assert "error" not in relay.log(mark).lower()


def test_ticket_of_another_pki_refused():
    ca = TestCA()
    port = free_port()
    other = ca.issue("other.test")
    extra = ['pki other.test cert "%s" key "%s"' % (other.chain, other.key)]
    with Sink() as sink, _relay(sink, ca, port, extra) as relay:
        wait_tls_ready(relay)
        for name, args in VERSIONS[1:]:
            path = _first(port, name, args)
            kind, out = _again(port, path, args, servername="other.test")
            assert kind == "New", (name, out)
            assert "CN = other.test" in out, out
            kind, out = _again(port, path, args)
            assert kind == "Reused", (name, out)


def test_two_instances():
    ca = TestCA()
    port = free_port()
    with Sink() as sink, _relay(sink, ca, port,
                                ["tls processes 2"]) as relay:
        for i in (0, 1):
            relay.wait_for_log(r"tlsproxy\[%d\]: certificates loaded: 1"
                               % i, timeout=20)
        mark = relay.mark()
        path = _first(port, "multi", ["-tls1_3"])
        kinds = [_again(port, path, ["-tls1_3"])[0] for _ in range(4)]
        assert "Reused" in kinds and "New" in kinds, kinds
        log = relay.log(mark)
        first = re.search(r"tlsproxy\[(\d)\]: \w+: STARTTLS=server", log)
        issuer = first.group(1)
        resumed = re.findall(r"tlsproxy\[(\d)\]: \w+: STARTTLS=server, "
                             r".*resumed=yes$", log, re.M)
        assert resumed and set(resumed) == {issuer}, (issuer, resumed)
        assert len(re.findall(r"STARTTLS=server, .*resumed=no$", log,
                              re.M)) == 1 + kinds.count("New")
        assert "STARTTLS=server, error" not in log


def test_lifetime_zero_never_resumes():
    ca = TestCA()
    port = free_port()
    with Sink() as sink, _relay(sink, ca, port,
                                ["tls session-lifetime 0"]) as relay:
        wait_tls_ready(relay)
        for name, args in VERSIONS:
            path = _sess_path(name)
            kind, out = _s_client(port, args + ["-sess_out", path])
            assert kind == "New", out
            if os.path.exists(path) and os.path.getsize(path) > 0:
                kind, out = _again(port, path, args)
                assert kind == "New", (name, out)
        ctx = client_context(ca)
        sess, _ = _py_session(port, ctx)
        if sess is not None:
            assert not sess.has_ticket
            _, reused = _py_session(port, ctx, sess)
            assert not reused
        assert "yes" not in _resumed_lines(relay)
        assert "tls.handshake.resumed" not in relay.stats()


def _reload(relay):
    rc, out = relay.smtpctl("reload")
    assert rc == 0, out


def test_resumption_survives_reload():
    ca = TestCA()
    port = free_port()
    with Sink() as sink, _relay(sink, ca, port) as relay:
        wait_tls_ready(relay)
        paths = {name: _first(port, name, args) for name, args in VERSIONS}
        pid = relay.pid("tlsproxy")
        mark = relay.mark()
        _reload(relay)
        relay.wait_for_log(r"tlsproxy: certificates loaded: 1", start=mark,
                           timeout=20)
        for name, args in VERSIONS:
            kind, out = _again(port, paths[name], args)
            assert kind == "Reused", (name, out)
        # another CA set rebuilds the contexts: the tickets still resume
        other = TestCA(name="Other CA")
        with open(relay.confpath) as f:
            text = f.read()
        with open(relay.confpath, "w") as f:
            f.write(text.replace(ca.cert, other.cert))
        mark = relay.mark()
        _reload(relay)
        relay.wait_for_log(r"tlsproxy: certificates loaded: 1", start=mark,
                           timeout=20)
        for name, args in VERSIONS[:2]:
            kind, out = _again(port, paths[name], args)
            assert kind == "Reused", (name, out)
        assert relay.pid("tlsproxy") == pid


def test_reload_new_certificate_ends_resumption():
    ca = TestCA()
    port = free_port()
    old, new = ca.issue("relay.test"), ca.issue("relay2.test")
    with Sink() as sink:
        relay = Relay(sink=sink, start=False)
        cert = os.path.join(relay.dir, "relay.pem")
        key = os.path.join(relay.dir, "relay.key")
        shutil.copyfile(old.chain, cert)
        shutil.copyfile(old.key, key)
        os.chmod(key, 0o600)
        relay.extra = ['pki relay.test cert "%s" key "%s"' % (cert, key),
                       'ca file "%s"' % ca.cert,
                       "listen on 127.0.0.1 port %d tls" % port]
        relay.write_conf()
        relay.start()
        with relay:
            wait_tls_ready(relay)
            path = _first(port, "newcert", ["-tls1_3"])
            assert _again(port, path, ["-tls1_3"])[0] == "Reused"
            shutil.copyfile(new.chain, cert)
            shutil.copyfile(new.key, key)
            mark = relay.mark()
            _reload(relay)
            relay.wait_for_log(r"tlsproxy: certificates loaded: 1",
                               start=mark, timeout=20)
            kind, out = _again(port, path, ["-tls1_3"])
            assert kind == "New", out
            assert "CN = relay2.test" in out, out
