"""smtpctl against a running relay: each command's output and exit status,
root only, and a control socket that survives garbage."""
import os
import re
import socket
import subprocess
import time

from lib import clients, free_port, wait_until
from lib.daemon import Relay
from lib.sink import Sink


def _down_relay(port, **kw):
    """A relay whose next hop (port) is down, retrying slowly."""
    conf = {"queue retry-min": "1h", "queue retry-max": "2h"}
    conf.update(kw.pop("conf", {}))
    return Relay(routes=[("*", "[127.0.0.1]", port)], mta_port=port,
                 conf=conf, **kw)


def _queue_one(relay, rcpt, sender="alice@client.test"):
    code, text = clients.send(relay.port, sender, [rcpt])
    assert code == 250, text


def test_show_status():
    with Sink() as sink, Relay(sink=sink) as relay:
        rc, out = relay.smtpctl("show", "status")
        assert rc == 0, "show status exit %d: %s" % (rc, out)
        for name in ("smtp", "mta", "queue", "policyd"):
            assert re.search(r"\b%s\b" % name, out), (name, out)
        for name, pid in relay.children().items():
            if name != "tlsproxy":
                assert str(pid) in out, (name, pid, out)


def test_show_queue_schedule_remove():
    port = free_port()
    sink = Sink(port=port, autostart=False)
    try:
        with _down_relay(port) as relay:
            for i in range(3):
                _queue_one(relay, "r%d@dest.test" % i)
            envs = relay.wait_queue(
                lambda e: len(e) == 3 and all(x["lasterror"] for x in e),
                timeout=20, what="3 envelopes that failed once")
            for e in envs:
                assert re.fullmatch(r"[0-9a-f]{16}", e["evpid"]), e
                assert re.fullmatch(r"[0-9a-f]{8}", e["msgid"]), e
                assert e["type"] == "relay" and e["state"] == "pending", e
                assert e["sender"] == "alice@client.test", e
                assert e["created"].strip() and e["nexttry"].strip(), e
            byrcpt = {e["rcpt"]: e for e in envs}
            # remove one envelope by id
            rc, out = relay.smtpctl("remove", byrcpt["r0@dest.test"]["evpid"])
            assert rc == 0, out
            left = {e["rcpt"] for e in relay.show_queue()}
            assert left == {"r1@dest.test", "r2@dest.test"}, left
            # unknown ids fail
            rc, out = relay.smtpctl("remove", "0123456789abcdef")
            assert rc != 0, out
            rc, out = relay.smtpctl("schedule", "fedcba9876543210")
            assert rc != 0, out
            # the next hop is back; retry-min is an hour, so only
            # schedule makes the relay try again now
            sink.start()
            rc, out = relay.smtpctl("schedule",
                                    byrcpt["r1@dest.test"]["evpid"])
            assert rc == 0, out
            [m] = sink.wait_for(1, timeout=15)
            assert m.rcpt_addrs == ["r1@dest.test"]
            time.sleep(1)
            assert len(sink.messages) == 1
            rc, out = relay.smtpctl("schedule", "all")
            assert rc == 0, out
            msgs = sink.wait_for(2, timeout=15)
            assert {m.rcpt_addrs[0] for m in msgs} == {"r1@dest.test",
                                                       "r2@dest.test"}
            relay.wait_queue_empty(10)
            time.sleep(1)
            assert not sink.bounces(), "remove sent a bounce"
            # remove all on a fresh pair
            sink.stop()
            for i in range(2):
                _queue_one(relay, "x%d@dest.test" % i)
            relay.wait_queue(lambda e: len(e) == 2, 10, "2 envelopes")
            rc, out = relay.smtpctl("remove", "all")
            assert rc == 0, out
            relay.wait_queue_empty(10)
            sink.start()
            time.sleep(2)
            assert len(sink.messages) == 2, sink.messages
    finally:
        sink.close()


def test_pause_resume_smtp():
    with Sink() as sink, Relay(sink=sink) as relay:
        rc, out = relay.smtpctl("pause", "smtp")
        assert rc == 0, out
        time.sleep(0.3)
        try:
            with clients.Raw(relay.port, timeout=5) as raw:
                code = raw.greeting[0]
            assert code in (421, 554), "paused smtp greeted %r" % (
                raw.greeting,)
        except (ConnectionError, socket.timeout, OSError):
            pass
        rc, out = relay.smtpctl("resume", "smtp")
        assert rc == 0, out
        wait_until(lambda: _greets(relay.port), 5, "a 220 after resume")
        clients.send(relay.port, "alice@client.test", ["bob@dest.test"])
        sink.wait_for(1)


def _greets(port):
    try:
        with clients.Raw(port, timeout=2) as raw:
            return raw.greeting[0] == 220
    except (OSError, ConnectionError):
        return False


def test_pause_resume_mta():
    with Sink() as sink, Relay(sink=sink) as relay:
        rc, out = relay.smtpctl("pause", "mta")
        assert rc == 0, out
        _queue_one(relay, "bob@dest.test")
        time.sleep(3)
        assert not sink.messages, "delivered while mta paused"
        assert len(relay.show_queue()) == 1
        rc, out = relay.smtpctl("resume", "mta")
        assert rc == 0, out
        sink.wait_for(1, timeout=15)
        relay.wait_queue_empty(10)


def test_show_stats():
    with Sink() as sink, Relay(sink=sink) as relay:
        clients.send(relay.port, "alice@client.test", ["bob@dest.test"])
        sink.wait_for(1)
        relay.wait_queue_empty(10)
        stats = relay.stats()
        smtp = {k: v for k, v in stats.items() if k.startswith("smtp.")}
        assert smtp, "no smtp.* counters: %r" % stats
        for k, v in stats.items():
            assert re.fullmatch(r"-?\d+", v), (k, v)
            # a name, or a name and its label value: name[value]
            assert re.fullmatch(r"[a-z0-9_.-]+(\[[A-Za-z0-9.:/@+_\[\]-]+\])?",
                                k), k
        assert any(int(v) > 0 for v in smtp.values()), smtp


def test_socket_option_needs_no_configuration():
    """With -s the daemon's commands work without the configuration file
    (a daemon run with -f elsewhere); without -s a missing file is an
    error that names it."""
    with Sink() as sink, Relay(sink=sink) as relay:
        missing = os.path.join(relay.dir, "absent.conf")
        r = relay.smtpctl_run("-f", missing, "-s", relay.control, "show",
                              "stats", conf=False)
        out = r.stdout.decode("utf-8", "replace")
        assert r.returncode == 0, (r.returncode, r.stderr)
        assert re.search(r"^smtp\.[a-z0-9_.-]+=\d+$", out, re.M), out
        r = relay.smtpctl_run("-f", missing, "show", "stats", conf=False)
        err = r.stderr.decode("utf-8", "replace")
        assert r.returncode == 1, (r.returncode, err)
        assert "cannot use %s" % missing in err, err
        # a local command still reads the configuration it is given
        r = relay.smtpctl_run("-f", missing, "-s", relay.control, "map",
                              "access", conf=False)
        assert r.returncode == 1
        assert missing in r.stderr.decode("utf-8", "replace")


def test_non_root_denied():
    with Sink() as sink, Relay(sink=sink) as relay:
        for args in (("show", "queue"), ("show", "stats"),
                     ("pause", "smtp"), ("remove", "all")):
            r = relay.smtpctl_run(*args, user="nobody")
            text = (r.stdout + r.stderr).decode("utf-8", "replace")
            assert r.returncode != 0, (args, text)
            assert re.search(r"permission denied|not permitted|must be root"
                             r"|need root|root only|only root", text, re.I), \
                (args, text)
        # and it did not pause anything
        assert _greets(relay.port)


def test_garbage_on_control_socket():
    with Sink() as sink, Relay(sink=sink) as relay:
        payloads = [os.urandom(4096), b"\xff" * 16,
                    # an imsg-like header claiming a huge length
                    (0x7fffffff).to_bytes(4, "little") + b"\xff\xff\x00\x00"
                    + b"\0" * 8,
                    b"\0" * 16 + b"A" * 100000, b"show queue\n"]
        for p in payloads:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect(relay.control)
            try:
                s.sendall(p)
                s.shutdown(socket.SHUT_WR)
                s.recv(4096)
            except OSError:
                pass
            s.close()
        # half-open connections left dangling
        idle = []
        for _ in range(5):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(relay.control)
            s.sendall(b"\x01\x00")
            idle.append(s)
        time.sleep(0.5)
        assert relay.alive(), "smtpd died on control socket garbage"
        rc, out = relay.smtpctl("show", "stats")
        assert rc == 0, out
        for s in idle:
            s.close()
        clients.send(relay.port, "alice@client.test", ["bob@dest.test"])
        sink.wait_for(1)


def test_reload_keeps_queue():
    port = free_port()
    sink = Sink(port=port, autostart=False)
    try:
        with _down_relay(port, conf={"queue retry-min": "1s",
                                     "queue retry-max": "2s"}) as relay:
            _queue_one(relay, "bob@dest.test")
            relay.wait_queue(lambda e: len(e) == 1, 10, "one envelope")
            rc, out = relay.smtpctl("reload")
            assert rc == 0, out
            time.sleep(0.5)
            assert relay.alive()
            assert [e["rcpt"] for e in relay.show_queue()] == \
                ["bob@dest.test"]
            sink.start()
            sink.wait_for(1, timeout=20)
            relay.wait_queue_empty(10)
    finally:
        sink.close()


def test_log_verbose_brief():
    with Sink() as sink, Relay(sink=sink) as relay:
        rc, out = relay.smtpctl("log", "verbose")
        assert rc == 0, out
        mark = relay.mark()
        clients.send(relay.port, "alice@client.test", ["bob@dest.test"])
        sink.wait_for(1)
        verbose_len = len(relay.log(mark))
        rc, out = relay.smtpctl("log", "brief")
        assert rc == 0, out
        mark = relay.mark()
        clients.send(relay.port, "alice@client.test", ["bob@dest.test"])
        sink.wait_for(2)
        time.sleep(0.5)
        brief_len = len(relay.log(mark))
        assert verbose_len > brief_len, (verbose_len, brief_len)
        rc, out = relay.smtpctl("log", "loud")
        assert rc != 0, out


def test_monitor():
    with Sink() as sink, Relay(sink=sink) as relay:
        import lib
        cmd = [os.path.join(lib.BIN, "smtpctl"), "-f", relay.confpath,
               "monitor"]
        outpath = os.path.join(relay.dir, "monitor.out")
        with open(outpath, "wb") as out:
            p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            clients.send(relay.port, "alice@client.test", ["bob@dest.test"])
            sink.wait_for(1)
            wait_until(lambda: os.path.getsize(outpath) > 0, 10,
                       "monitor output")
            assert p.poll() is None, "monitor exited"
        finally:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        assert relay.alive()
        rc, out = relay.smtpctl("show", "stats")
        assert rc == 0, out


def test_unknown_command_fails():
    with Sink() as sink, Relay(sink=sink) as relay:
        for args in (("frobnicate",), ("show", "nothing"), ("pause", "x")):
            rc, out = relay.smtpctl(*args)
            assert rc != 0, (args, out)


def test_makemap_with_and_without_daemon():
    with Sink() as sink, Relay(sink=sink, start=False) as relay:
        rc, out = relay.makemap("access", "To:blocked1.test REJECT\n")
        assert rc == 0, "makemap without the daemon: " + out
        relay.start()

        def rcpt_code(rcpt):
            with clients.Raw(relay.port) as raw:
                raw.ehlo()
                raw.cmd("MAIL FROM:<alice@client.test>")
                return raw.cmd("RCPT TO:<%s>" % rcpt)[0]
        assert rcpt_code("x@blocked1.test") == 550
        assert rcpt_code("x@blocked2.test") == 250
        rc, out = relay.makemap("access", "To:blocked1.test REJECT\n"
                                          "To:blocked2.test REJECT\n")
        assert rc == 0, "makemap with the daemon: " + out
        wait_until(lambda: rcpt_code("x@blocked2.test") == 550, 10,
                   "the new map to be in force")
        rc, out = relay.makemap("access", "To:blocked1.test REJECT\n")
        assert rc == 0, out
        wait_until(lambda: rcpt_code("x@blocked2.test") == 250, 10,
                   "the entry to be gone")
        r = relay.smtpctl_run("makemap", "access",
                              os.path.join(relay.dir, "no-such-file"))
        assert r.returncode != 0, r.stdout + r.stderr
        assert relay.alive()
