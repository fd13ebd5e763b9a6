"""What the parent believes of a child on the control path: with the
outbound client replaced by a hostile one (lib/fake_child.py), its answer
lines for control connections that did not ask it and its monitor events
never reach smtpctl (the parent drops them and logs it, and neither
exits nor restarts the child for it), the queue's events still do, and
the terminal escapes in an answer it was asked for are printed escaped."""
import os
import re
import subprocess
import time

from lib import BIN, REPO, clients, test_dir, wait_until
from lib.daemon import CHILDREN, Relay
from lib.sink import Sink

FAKE = os.path.join(REPO, "regress", "lib", "fake_child.py")


def _libexec_with_fake(name):
    """A libexec directory of the real children but one, the fake."""
    d = test_dir("libexec")
    for child, exe in CHILDREN.items():
        target = FAKE if child == name else os.path.join(BIN, exe)
        os.symlink(target, os.path.join(d, exe))
    return d


def _monitor(relay, outpath):
    cmd = [os.path.join(BIN, "smtpctl"), "-f", relay.confpath, "monitor"]
    with open(outpath, "wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def test_hostile_child_cannot_write_to_monitor_or_other_clients():
    """Its lines for the monitor's connection and its events are dropped;
    the queue's event comes through."""
    libexec = _libexec_with_fake("mta")
    with Sink() as sink, Relay(sink=sink, libexec=libexec) as relay:
        mark = relay.mark()
        outpath = os.path.join(relay.dir, "monitor.out")
        p = _monitor(relay, outpath)
        try:
            wait_until(lambda: b"monitoring" in _read(outpath), 10,
                       "the monitor to start")
            # the fake answered "monitoring on" with its injections; give
            # the parent time to pass on whatever it would
            time.sleep(0.5)
            code, text = clients.send(relay.port, "alice@client.test",
                                      ["bob@dest.test"])
            assert code == 250, text
            wait_until(lambda: b"queued from=<alice@client.test>" in
                       _read(outpath), 10, "the queue's event")
        finally:
            p.terminate()
            p.wait(5)
        out = _read(outpath)
        assert b"FAKE-LINE" not in out, out[:500]
        assert b"FAKE-EVENT" not in out, out[:500]
        assert b"\x1b" not in out, out[:500]
        relay.wait_for_log(r"control: dropped an answer line from mta for "
                           r"control connection \d+", start=mark)
        relay.wait_for_log(r"control: dropped a monitor event from mta",
                           start=mark)
        # dropping is all: the daemon runs and the child was not restarted
        assert relay.alive()
        rc, status = relay.smtpctl("show", "status")
        assert rc == 0, status
        assert re.search(r"^proc mta pid=\d+ .*state=running restarts=0$",
                         status, re.M), status


def test_escapes_in_an_answer_are_printed_escaped():
    """The fake is asked for its part of show stats: its line is printed
    with ESC as \\033, and no raw escape reaches the terminal."""
    libexec = _libexec_with_fake("mta")
    with Sink() as sink, Relay(sink=sink, libexec=libexec) as relay:
        r = relay.smtpctl_run("show", "stats")
        assert r.returncode == 0, r
        assert b"\x1b" not in r.stdout, r.stdout[:500]
        assert b"fake.answer=\\033[31mred\\033[0m\n" in r.stdout, \
            r.stdout[:1000]
        assert b"smtp.session=" in r.stdout, r.stdout[:1000]
