"""SMTP AUTH on the client side (spec 8, 7.4): the first relay routes to a
smarthost that is a second instance of this relay with a STARTTLS
listener requiring AUTH (a real sasldb made by saslpasswd2), with its
credential in the authinfo map.  The mail is delivered ESMTPSA with the
right authid on both sides' log lines; a wrong secret defers with the
535 text; without TLS (and no auth-plaintext on the route) AUTH is not
tried, the smarthost answers MAIL 530 and the mail is deferred; with
auth-plaintext it goes; authinfo never shows the secret and refuses bad
entries; the mta's memory does not keep the secret after the session.
The credential goes only over TLS whose certificate verified (the first
relay trusts the smarthost's CA): to a smarthost it cannot verify it is
not sent unless the entry says "T:ENCR"."""
from lib import clients
from lib.daemon import Relay
from lib.sasl import authinfo_relay, smarthost
from lib.sink import Sink

USER, SECRET = "alice", "Sm4rt-h0st-pw"


def _smarthost(sink, tls=True):
    return smarthost(sink, {USER: SECRET}, "PLAIN LOGIN CRAM-MD5", tls)


def _first(port, value, plaintext=False, ca=None):
    first, out = authinfo_relay(port, value, plaintext, ca)
    assert SECRET not in out and "P:****" in out, out
    return first


def _value(secret=SECRET, mech="M:PLAIN LOGIN"):
    return '"U:%s" "I:%s" "P:%s" "%s"' % (USER, USER, secret, mech)


def _deferred(relay, text):
    envs = relay.wait_queue(lambda e: e and text in e[0].get("lasterror", ""),
                            what="a deferral saying %r" % text)
    return envs


def test_auth_plain_over_starttls_delivers_esmtpsa():
    with Sink() as sink:
        hop, port = _smarthost(sink)
        with hop, _first(port, _value(), ca=hop.ca) as first:
            clients.send(first.port, "bob@client.test", "far@dest.test")
            [m] = sink.wait_for(1)
            rec = m.header("Received")
            assert "with ESMTPSA" in rec, rec
            assert "(authenticated bits=0)" in rec, rec
            first.wait_for_log(r"AUTH=client, relay=127\.0\.0\.1, "
                               r"mech=PLAIN, bits=0$")
            hop.wait_for_log(r"AUTH=server, relay=.*authid=alice(@\S+)?, "
                             r"mech=PLAIN, bits=0$")
            first.wait_queue_empty()
            assert SECRET not in first.log() and SECRET not in hop.log()
            assert "TLS on, verify=OK" in first.log()


def test_unverified_next_hop_gets_no_credential_by_default():
    with Sink() as sink:
        hop, port = _smarthost(sink)
        with hop, _first(port, _value()) as first:
            clients.send(first.port, "bob@client.test", "far@dest.test")
            _deferred(first, "530")
            first.wait_for_log(r"TLS on, verify=FAIL")
            first.wait_for_log(r"AUTH=client, relay=127\.0\.0\.1: not "
                               r"tried, the certificate did not verify "
                               r"\(verify=FAIL\); authinfo \"T:ENCR\"")
            first.wait_for_log(r"dsn=4\.7\.0, stat=Deferred: 530 5\.7\.0 "
                               r"Authentication required")
            assert "mech=PLAIN" not in first.log()
            assert "AUTH=server" not in hop.log()
            assert "AUTH failed" not in hop.log()
            assert not sink.messages
            stats = first.stats()
            assert int(stats.get("mta.auth.skipped_unverified", 0)) >= 1


def test_t_encr_sends_the_credential_over_unverified_tls():
    with Sink() as sink:
        hop, port = _smarthost(sink)
        value = _value() + ' "T:ENCR"'
        with hop, _first(port, value) as first:
            clients.send(first.port, "bob@client.test", "far@dest.test")
            [m] = sink.wait_for(1)
            assert "with ESMTPSA" in m.header("Received")
            first.wait_for_log(r"TLS on, verify=FAIL")
            first.wait_for_log(r"AUTH=client, relay=127\.0\.0\.1, "
                               r"mech=PLAIN, bits=0$")
            hop.wait_for_log(r"AUTH=server, .*authid=alice")
            rc, out = first.smtpctl("authinfo", "show")
            assert '"T:ENCR"' in out and SECRET not in out, out


def test_auth_login_when_authinfo_names_it():
    with Sink() as sink:
        hop, port = _smarthost(sink)
        with hop, _first(port, _value(mech="M:LOGIN"), ca=hop.ca) as first:
            clients.send(first.port, "bob@client.test", "far@dest.test")
            [m] = sink.wait_for(1)
            assert "with ESMTPSA" in m.header("Received")
            first.wait_for_log(r"AUTH=client, relay=127\.0\.0\.1, "
                               r"mech=LOGIN, bits=0$")
            hop.wait_for_log(r"AUTH=server, .*mech=LOGIN")


def test_wrong_secret_defers_with_535():
    with Sink() as sink:
        hop, port = _smarthost(sink)
        with hop, _first(port, _value(secret="not-the-pw"),
                         ca=hop.ca) as first:
            clients.send(first.port, "bob@client.test", "far@dest.test")
            envs = _deferred(first, "535")
            assert "5.7.8" in envs[0]["lasterror"], envs
            first.wait_for_log(r"AUTH=client, relay=127\.0\.0\.1, "
                               r"mech=PLAIN, failed: 535 ")
            first.wait_for_log(r"stat=Deferred: 535 ")
            assert not sink.messages
            assert "not-the-pw" not in first.log()


def test_no_auth_without_tls_then_530_defers():
    with Sink() as sink:
        hop, port = _smarthost(sink, tls=False)
        with hop, _first(port, _value()) as first:
            clients.send(first.port, "bob@client.test", "far@dest.test")
            _deferred(first, "530")
            first.wait_for_log(r"dsn=4\.7\.0, stat=Deferred: 530 5\.7\.0 "
                               r"Authentication required")
            assert "AUTH=client" not in first.log()
            assert "AUTH=server" not in hop.log()
            assert not sink.messages


def test_route_auth_plaintext_allows_auth_without_tls():
    with Sink() as sink:
        hop, port = _smarthost(sink, tls=False)
        with hop, _first(port, _value(), plaintext=True) as first:
            clients.send(first.port, "bob@client.test", "far@dest.test")
            [m] = sink.wait_for(1)
            assert "with ESMTPA" in m.header("Received")
            first.wait_for_log(r"AUTH=client, relay=127\.0\.0\.1, "
                               r"mech=PLAIN")


def test_authinfo_show_masks_and_bad_entries_refused():
    with Relay() as r:
        rc, out = r.smtpctl("authinfo", "add", "AuthInfo:smart.test",
                            '"U:u" "I:i" "P:t0p-secret" "R:r" "M:PLAIN"')
        assert rc == 0, out
        rc, out = r.smtpctl("authinfo", "add", "AuthInfo:",
                            '"I:i" "P=dDBwLXNlY3JldA=="')
        assert rc == 0, out
        for args in (("authinfo", "show"), ("map", "show", "authinfo"),
                     ("authinfo", "show", "authinfo:smart")):
            rc, out = r.smtpctl(*args)
            assert rc == 0 and "t0p" not in out and "dDBw" not in out, out
        rc, out = r.smtpctl("authinfo", "show")
        assert out.splitlines() == [
            'authinfo:\t"I:i" "P=****"',
            'authinfo:smart.test\t"U:u" "I:i" "P:****" "R:r" "M:PLAIN"'], out
        bad = {'"P:x"': "neither \"U:user\" nor \"I:authid\"",
               '"U:u"': "no \"P:secret\"",
               '"U:u" "P=@@@@"': "not valid base64",
               '"U:u" "P:x" "Q:y"': "unknown item letter",
               '"U:u" "P:x\r"': "carriage return",
               '"U:u" "P:x" "P:y"': "given twice",
               '"U:u" "P:x" "T:NONE"': "VERIFY or ENCR",
               'U:u P:x': "double-quoted"}
        for value, why in bad.items():
            res = r.smtpctl_run("authinfo", "add", "AuthInfo:b.test", value)
            err = res.stderr.decode()
            assert res.returncode == 1 and why in err, (value, err)
            assert "P:x" not in err and "@@@@" not in err, err
        rc, out = r.makemap("authinfo", 'AuthInfo:a.test "U:u" "P:s1"\n'
                            'AuthInfo:b.test "U:u" "P:s2" "X:1"\n')
        assert rc == 1 and ":2: unknown item letter" in out, out
        assert "s2" not in out, out
        rc, out = r.smtpctl("authinfo", "delete", "AuthInfo:smart.test")
        assert rc == 0 and "t0p" not in out and "P:****" in out, out


# Mappings larger than this are address-space reservations (the shadow
# memory of an AddressSanitizer build), not where a session's data lives.
_MAP_MAX = 1 << 30
_CHUNK = 1 << 20


def _region_holds(mem, lo, hi, needle):
    """Whether [lo, hi) of /proc/PID/mem holds needle, read in chunks that
    overlap by len(needle) - 1 so that no match is cut in two."""
    pos = lo
    while pos < hi:
        end = min(hi, pos + _CHUNK + len(needle) - 1)
        try:
            mem.seek(pos)
            if needle in mem.read(end - pos):
                return True
        except OSError:
            pass
        pos += _CHUNK
    return False


def _memory_holds(pid, needle):
    """Whether any writable mapping of pid contains needle (root reads
    /proc/PID/mem even of a process that is not dumpable)."""
    with open("/proc/%d/maps" % pid) as maps, \
            open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            addr, perms = line.split()[:2]
            if "rw" not in perms:
                continue
            lo, hi = (int(x, 16) for x in addr.split("-"))
            if hi - lo <= _MAP_MAX and _region_holds(mem, lo, hi, needle):
                return True
    return False


def test_mta_memory_does_not_keep_the_secret():
    with Sink() as sink:
        hop, port = _smarthost(sink)
        with hop, _first(port, _value(), ca=hop.ca) as first:
            clients.send(first.port, "bob@client.test", "far@dest.test")
            sink.wait_for(1)
            first.wait_queue_empty()
            first.wait_for_log(r"connection to .* closed")
            pid = first.pid("mta")
            assert not _memory_holds(pid, SECRET.encode())
            assert not _memory_holds(pid, b"\0alice\0" + SECRET.encode())
