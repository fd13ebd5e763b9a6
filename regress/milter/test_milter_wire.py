"""The milter protocol of the front end (issue 16, first increment)
against a real libmilter filter: regress/milter/filter.py on
python3-milter, driven by bin/unit/test_smtp_milter_proto in its live
mode (the packets and the reply decoding smtpd-smtp uses, in blocking
steps).  It checks option negotiation at version 6, each stage's
answers (reject, tempfail, discard, a replycode with the filter's
text), every modification request at the end of the message as it
arrives on the wire, and a filter that dies in the body."""
import os
import subprocess

import socket

from lib import free_port, register_pid, test_dir, timeout, wait_until

REGRESS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(REGRESS)
DRIVER = os.path.join(REPO, "bin/unit/test_smtp_milter_proto")
CONN = os.path.join(REPO, "bin/unit/test_smtp_milter_conn")
FILTER = os.path.join(REGRESS, "milter/filter.py")


def _run(mode):
    """Start the filter in mode, drive one session; (status, lines)."""
    sock = os.path.join(test_dir("milter"), "m.sock")
    proc = subprocess.Popen(["/usr/bin/python3", FILTER, sock, mode],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    register_pid(proc.pid)
    try:
        wait_until(lambda: os.path.exists(sock), 30, "the filter's socket")
        out = subprocess.run([DRIVER, sock], capture_output=True,
                             text=True, timeout=60)
        return out.returncode, out.stdout.splitlines()
    finally:
        # libmilter waits for its sessions' threads on SIGTERM
        proc.kill()
        proc.wait()


def test_negotiate_and_continue():
    rc, lines = _run("none")
    assert rc == 0, (rc, lines)
    assert lines[0] == "optneg version 6", lines
    # header, eoh, body, eom each answered, the last with continue
    assert lines[-1] == "reply c", lines


@timeout(300)
def test_stage_answers():
    for stage in ("connect", "helo", "mail", "rcpt", "header", "eoh", "body", "eom"):
        for verb, code in (("reject", "r"), ("tempfail", "t"),
                           ("discard", "d")):
            rc, lines = _run("%s-%s" % (verb, stage))
            assert rc == 0, (stage, verb, rc, lines)
            assert "reply " + code in lines, (stage, verb, lines)


def test_replycode_text():
    rc, lines = _run("code-rcpt")
    assert "reply y 550 5.7.1 test milter says no at rcpt" in lines, lines


def test_modifications_at_eom():
    rc, lines = _run("modify")
    assert rc == 0, (rc, lines)
    want = ["reply h X-Test-Milter: added",
            "reply i 0 X-Test-First: inserted",
            "reply m 1 Subject: changed",
            "reply e <new@example.org> SIZE=10",
            "reply + <added@example.net>",
            "reply 2 <par@example.net> NOTIFY=NEVER",
            "reply - <b@example.net>",
            "reply b 10 new body",
            "reply q held by the test milter",
            "reply a"]
    assert lines[-len(want):] == want, lines


def test_filter_dies_in_body():
    rc, lines = _run("die-body")
    assert rc == 4, (rc, lines)
    assert "reply c" in lines and "reply b" not in lines, lines


def _listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
        return True
    except OSError:
        return False


def test_event_loop_connection_inet():
    """The front end's event-loop connection (smtp_milter_conn.c) to a
    filter on inet:PORT@127.0.0.1: negotiated, then a MAIL answered."""
    for mode, code in (("none", "c"), ("reject-mail", "r"),
                       ("code-mail", "y")):
        port = free_port()
        proc = subprocess.Popen(
            ["/usr/bin/python3", FILTER, "inet:%d@127.0.0.1" % port, mode],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        register_pid(proc.pid)
        try:
            wait_until(lambda: _listening(port), 30, "the filter's port")
            out = subprocess.run([CONN, str(port)], capture_output=True,
                                 text=True, timeout=60)
        finally:
            proc.kill()
            proc.wait()
        assert out.returncode == 0, (mode, out.stdout)
        assert out.stdout.splitlines() == [
            "open 0 version 6", "step 1 code " + code], (mode, out.stdout)
