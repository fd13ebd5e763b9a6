"""Milters in the front end (issue 16, this increment: the connect,
HELO, MAIL and RCPT stages).  The python3-milter test filter
(filter.py) on inet:PORT@127.0.0.1 is named by the listener
("filter NAME ..." and "listen ... filter NAME"); its reject, tempfail
and replycode at each stage are the SMTP replies, a filter that lets
everything pass leaves the mail flowing to the sink, and a filter that
is down or dies costs its failure mode: tempfail (the default, 451 4.3.5),
reject (554 5.7.1) or accept (the mail goes on)."""
import os
import socket
import subprocess

from lib import clients, free_port, register_pid, wait_until
from lib.daemon import Relay
from lib.sink import Sink

REGRESS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILTER = os.path.join(REGRESS, "milter/filter.py")


class FilteredRelay(Relay):
    """A relay whose listener names the filter "m" (self.filter_line,
    which must come before the listener)."""

    filter_line = ""

    def conf_text(self):
        text = Relay.conf_text(self)
        return text.replace("listen on 127.0.0.1 port %d\n" % self.port,
                            "%s\nlisten on 127.0.0.1 port %d filter m\n"
                            % (self.filter_line, self.port))


def _listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
        return True
    except OSError:
        return False


def _filter(mode):
    """Start the test filter on a free port: (process, port)."""
    port = free_port()
    proc = subprocess.Popen(
        ["/usr/bin/python3", FILTER, "inet:%d@127.0.0.1" % port, mode],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    register_pid(proc.pid)
    wait_until(lambda: _listening(port), 30, "the filter's port")
    return proc, port


def _relay(port, sink, failure=None):
    line = 'filter m "inet:%d@127.0.0.1"' % port
    if failure:
        line += " on-failure " + failure
    FilteredRelay.filter_line = line
    return FilteredRelay(sink=sink)


def _session(relay):
    """Greeting, EHLO, MAIL, RCPT, as far as they pass: the replies."""
    out = []
    raw = clients.Raw(relay.port)
    try:
        out.append(raw.greeting)
        for cmd in ("EHLO client.test", "MAIL FROM:<a@client.test>",
                    "RCPT TO:<b@sink.test>"):
            code, texts = raw.cmd(cmd)
            out.append((code, texts))
            if code != 250:
                break
        raw.cmd("QUIT")
    except (ConnectionResetError, OSError):
        pass
    return out


def test_pass_through():
    proc, port = _filter("none")
    try:
        with Sink() as sink, _relay(port, sink) as relay:
            clients.send(relay.port, "a@client.test", ["b@sink.test"])
            wait_until(lambda: sink.messages, 30, "the message at the sink")
    finally:
        proc.kill()
        proc.wait()


def test_stage_replies():
    want = {
        "reject-helo": (1, 550, "5.7.1 Command rejected"),
        "tempfail-mail": (2, 451, "4.7.1 Service unavailable"),
        "code-mail": (2, 550, "5.7.1 test milter says no at mail"),
        "reject-rcpt": (3, 550, "5.7.1 Command rejected"),
        "code-rcpt": (3, 550, "5.7.1 test milter says no at rcpt"),
        # the filter exits at MAIL: its failure mode, tempfail
        "die-mail": (2, 451, "4.3.5 Message filter unavailable"),
    }
    for mode, (i, code, text) in want.items():
        proc, port = _filter(mode)
        try:
            with Sink() as sink, _relay(port, sink) as relay:
                replies = _session(relay)
        finally:
            proc.kill()
            proc.wait()
        assert len(replies) > i, (mode, replies)
        assert replies[i][0] == code, (mode, replies)
        assert replies[i][1][-1].startswith(text), (mode, replies)


def test_connect_refused_by_filter():
    proc, port = _filter("code-connect")
    try:
        with Sink() as sink, _relay(port, sink) as relay:
            replies = _session(relay)
            log = relay.log()
    finally:
        proc.kill()
        proc.wait()
    # a refused connect greets, then refuses every command (spec 2.3)
    assert replies[0][0] == 220, replies
    assert replies[2][0] == 550, replies
    assert "test milter says no at connect" in replies[2][1][-1], replies
    assert "ruleset=milter, arg1=" in log, log


def test_filter_down_failure_modes():
    """Nobody listens on the filter's port: its connect stage fails."""
    port = free_port()
    for failure in (None, "reject", "accept"):
        with Sink() as sink, _relay(port, sink, failure) as relay:
            replies = _session(relay)
            log = relay.log()
        codes = [r[0] for r in replies]
        if failure is None:
            # tempfail at connect: the greeting is a 421
            assert codes == [421], replies
            assert replies[0][1][0].startswith("4.3.5"), replies
        elif failure == "reject":
            assert codes[:3] == [220, 250, 554], replies
            assert replies[2][1][-1].startswith("5.7.1"), replies
        else:
            assert codes == [220, 250, 250, 250], replies
        assert "milter: filter m failed at stage C" in log, (failure, log)
