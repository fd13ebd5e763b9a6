"""Milters at the message stages (issue 16): DATA, each header field,
EOH, the body and the end of the message go to the python3-milter test
filter (filter.py) once the message is whole in the queue file, and what
it asks for at the end is applied before the 250: header fields added,
inserted, changed and removed, the body replaced, the sender changed,
recipients added (resolved like a RCPT) and removed, the message held;
its verdict at each message stage is the reply to the DATA; a filter
that dies in the middle costs its failure mode; a big message streams."""
import json
import os
import re
import smtplib
import subprocess

from lib import clients, free_port, register_pid, test_dir, wait_until
from lib.sink import Sink
from milter.test_milter_session import FilteredRelay, _listening

REGRESS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILTER = os.path.join(REGRESS, "milter/filter.py")

MSG = (b"From: a@client.test\r\nTo: b@example.net\r\n"
       b"Subject: the original\r\n\tsubject\r\nX-Other: 1\r\n\r\n"
       b"line one\r\nline two\r\n")


class _Filter:
    """The test filter on a free port in a mode; .log holds what it saw."""

    def __init__(self, mode):
        self.port = free_port()
        self.log = os.path.join(test_dir("milter"), "filter.log")
        env = dict(os.environ, FILTER_LOG=self.log)
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", FILTER, "inet:%d@127.0.0.1" % self.port,
             mode], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=env)
        register_pid(self.proc.pid)
        wait_until(lambda: _listening(self.port), 30, "the filter's port")

    def seen(self):
        with open(self.log) as f:
            return [json.loads(line) for line in f]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


def _relay(f, sink, failure=None):
    line = 'filter m "inet:%d@127.0.0.1"' % f.port
    if failure:
        line += " on-failure " + failure
    FilteredRelay.filter_line = line
    return FilteredRelay(sink=sink)


def _send(relay, rcpts=("b@example.net", "c@example.net"), msg=MSG):
    return clients.send(relay.port, "a@client.test", list(rcpts), msg=msg)


def _head(data):
    return data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


def test_filter_sees_the_message_as_queued():
    with _Filter("none") as f, Sink() as sink, _relay(f, sink) as relay:
        code, text = _send(relay)
        assert code == 250, (code, text)
        msgid = re.search(r"queued as ([0-9a-f]{8})", text).group(1)
        sink.wait_for(1)
        seen = f.seen()[-1]
    names = [h[0] for h in seen["headers"]]
    # our Received: first, as sendmail shows its own to the filters
    assert names[0] == "Received", names
    assert "by " in seen["headers"][0][1], seen
    assert names[1:] == ["From", "To", "Subject", "X-Other"], names
    # a folded value: its lines joined by LF, leading blank dropped
    assert ["Subject", "the original\n\tsubject"] in seen["headers"], seen
    assert seen["body_head"] == "line one\r\nline two\r\n", seen
    assert seen["macros"]["i"] == msgid, seen
    assert seen["macros"]["{daemon_name}"], seen
    # passed unchanged
    assert sink.messages[0].data.endswith(MSG), sink.messages[0].data


def _modified(mode, rcpts=("b@example.net", "c@example.net"), n=1):
    with _Filter(mode) as f, Sink() as sink, _relay(f, sink) as relay:
        code, text = _send(relay, rcpts)
        assert code == 250, (mode, code, text)
        sink.wait_for(n)
        log = relay.log()
        return sink.messages, log


def test_header_changes_before_the_250():
    msgs, log = _modified("mod-addheader")
    head = _head(msgs[0].data)
    # added last in the header section, folding made CRLF
    assert head[-2:] == [b"X-Test-Milter: added", b"\tfolded"], head
    assert "rewritten by the filters" in log, log[-2000:]

    msgs, _ = _modified("mod-insheader")
    assert _head(msgs[0].data)[0] == b"X-Test-First: inserted", msgs[0].data

    msgs, _ = _modified("mod-chgheader")
    head = _head(msgs[0].data)
    assert b"Subject: changed" in head, head
    assert b"\tsubject" not in head and b"X-Other: 1" in head, head

    msgs, _ = _modified("mod-delheader")
    head = _head(msgs[0].data)
    assert not any(h.startswith(b"Subject") for h in head), head
    assert b"\tsubject" not in head, head
    assert msgs[0].data.endswith(b"\r\n\r\nline one\r\nline two\r\n")


def test_body_replaced():
    msgs, _ = _modified("mod-replbody")
    data = msgs[0].data
    # bare LFs and CRs made CRLF, a last line without one completed
    assert data.endswith(b"\r\n\r\nnew body\r\nsecond line\r\nthird\r\n"), \
        data
    assert b"line one" not in data, data
    assert b"Subject: the original" in data, data


def test_envelope_changes():
    msgs, _ = _modified("mod-chgfrom")
    assert msgs[0].mail_from == "new@example.net", msgs

    msgs, log = _modified("mod-addrcpt", n=1)
    assert "recipient <added@example.net> added" in log, log[-2000:]

    msgs, log = _modified("mod-delrcpt")
    rcpts = [a for m in msgs for a in m.rcpt_addrs]
    assert rcpts == ["b@example.net"], rcpts
    assert "recipient <c@example.net> removed" in log, log[-2000:]


def test_added_recipient_is_delivered():
    with _Filter("mod-addrcpt_par") as f, Sink() as sink, \
            _relay(f, sink) as relay:
        code, _ = _send(relay, ("b@example.net",))
        assert code == 250
        wait_until(lambda: "par@example.net" in
                   [a for m in sink.messages for a in m.rcpt_addrs],
                   30, "the added recipient at the sink")
        got = [a for m in sink.messages for a in m.rcpt_addrs]
    assert sorted(got) == ["b@example.net", "par@example.net"], got


def test_every_recipient_removed_discards():
    with _Filter("mod-delrcpt") as f, Sink() as sink, \
            _relay(f, sink) as relay:
        code, _ = _send(relay, ("c@example.net",))
        assert code == 250
        wait_until(lambda: "every recipient removed" in relay.log(), 10,
                   "the discard")
        assert not sink.messages


def test_quarantine_holds():
    with _Filter("mod-quarantine") as f, Sink() as sink, \
            _relay(f, sink) as relay:
        code, _ = _send(relay, ("b@example.net",))
        assert code == 250
        wait_until(lambda: "quarantine=held by the test milter" in
                   relay.log(), 10, "the hold")
        assert not sink.messages


def test_bad_modification_fails_the_filter():
    with _Filter("mod-badheader") as f, Sink() as sink, \
            _relay(f, sink) as relay:
        try:
            _send(relay, ("b@example.net",))
            raise AssertionError("accepted a header injection")
        except smtplib.SMTPDataError as e:
            assert e.smtp_code == 451, e
            assert b"4.3.5" in e.smtp_error, e
        assert not sink.messages


def test_message_stage_verdicts():
    want = {
        "reject-header": (550, b"5.7.1 Message rejected"),
        "tempfail-eoh": (451, b"4.7.1"),
        "code-body": (550, b"5.7.1 test milter says no at body"),
        "reject-eom": (550, b"5.7.1 Message rejected"),
        "code-eom": (550, b"5.7.1 test milter says no at eom"),
        "die-body": (451, b"4.3.5 Message filter unavailable"),
        "die-eom": (451, b"4.3.5 Message filter unavailable"),
    }
    for mode, (code, text) in want.items():
        with _Filter(mode) as f, Sink() as sink, _relay(f, sink) as relay:
            try:
                _send(relay, ("b@example.net",))
                raise AssertionError("%s: accepted" % mode)
            except smtplib.SMTPDataError as e:
                assert e.smtp_code == code, (mode, e)
                assert text in e.smtp_error, (mode, e)
            # the session goes on: a second transaction is taken
            assert not sink.messages, mode


def test_discard_accept_skip():
    for mode in ("discard-eom", "discard-body"):
        with _Filter(mode) as f, Sink() as sink, _relay(f, sink) as relay:
            code, _ = _send(relay, ("b@example.net",))
            assert code == 250, mode
            wait_until(lambda: "discard" in relay.log(), 10, "the discard")
            assert not sink.messages, mode
    for mode in ("accept-header", "skip-body"):
        with _Filter(mode) as f, Sink() as sink, _relay(f, sink) as relay:
            code, _ = _send(relay, ("b@example.net",))
            assert code == 250, mode
            sink.wait_for(1)
            assert sink.messages[0].data.endswith(MSG), mode


def test_dead_filter_with_on_failure_accept():
    with _Filter("die-body") as f, Sink() as sink, \
            _relay(f, sink, "accept") as relay:
        code, _ = _send(relay, ("b@example.net",))
        assert code == 250
        sink.wait_for(1)
        assert sink.messages[0].data.endswith(MSG)


def test_big_message_streams_through():
    body = b"".join(b"%07d " % i + b"x" * 70 + b"\r\n"
                    for i in range(60000))
    msg = MSG.split(b"\r\n\r\n")[0] + b"\r\n\r\n" + body
    with _Filter("mod-insheader") as f, Sink() as sink, \
            _relay(f, sink) as relay:
        code, _ = _send(relay, ("b@example.net",), msg=msg)
        assert code == 250
        sink.wait_for(1, timeout=60)
        seen = f.seen()[-1]
        data = sink.messages[0].data
    assert seen["body_len"] == len(body), seen["body_len"]
    assert seen["chunks"] >= len(body) // 65535, seen["chunks"]
    assert data.endswith(body), len(data)
    assert _head(data)[0] == b"X-Test-First: inserted"


def test_unknown_command():
    for mode, code, text in (("none", 500, "5.5.1 Command unrecognized"),
                             ("code-unknown", 550,
                              "5.7.1 test milter says no at unknown")):
        with _Filter(mode) as f, Sink() as sink, _relay(f, sink) as relay:
            raw = clients.Raw(relay.port)
            raw.ehlo()
            got = raw.cmd("FROB something")
            # the session goes on
            after = raw.cmd("NOOP")
            raw.cmd("QUIT")
        assert got[0] == code and got[1][-1].startswith(text), (mode, got)
        assert after[0] == 250, after


def _through(mode, msg):
    """msg through a filter in mode: (what the filter saw, what the sink
    got without our Received: field)."""
    with _Filter(mode) as f, Sink() as sink, _relay(f, sink) as relay:
        code, _ = _send(relay, ("b@example.net",), msg=msg)
        assert code == 250
        sink.wait_for(1, timeout=60)
        data = sink.messages[0].data
        seen = f.seen()[-1]
    # drop our Received: field (its first line and folded ones)
    lines = data.split(b"\r\n")
    i = 0
    while True:
        if lines[i].startswith(b"Received:"):
            j = i + 1
            while lines[j].startswith((b"\t", b" ")):
                j += 1
            del lines[i:j]
            break
        i += 1
    return seen, b"\r\n".join(lines)


def test_header_sections_of_every_shape():
    # headers only, no empty line, no body
    msg = b"Subject: only\r\nFrom: a@client.test\r\n"
    seen, got = _through("mod-insheader", msg)
    assert got == b"X-Test-First: inserted\r\n" + msg, got
    assert seen["body_len"] == 0, seen
    # a line that is not a field ends the header and starts the body
    msg = b"Subject: x\r\nnot a field\r\nrest\r\n"
    seen, got = _through("mod-insheader", msg)
    assert got == b"X-Test-First: inserted\r\n" + msg, got
    assert [h[0] for h in seen["headers"]] == ["Received", "Subject"], seen
    assert seen["body_head"] == "not a field\r\nrest\r\n", seen
    # a field of 80 KiB (over a read block and a packet) and 2000 fields
    # before the Subject the filter changes
    long_field = b"X-Long: start\r\n" + b"".join(
        b"\t" + b"y" * 78 + b"\r\n" for _ in range(1024))
    many = b"".join(b"X-N%d: %d\r\n" % (i, i) for i in range(2000))
    msg = (long_field + many + b"Subject: old\r\nX-After: 1\r\n\r\n"
           b"body\r\n")
    seen, got = _through("mod-chgheader", msg)
    want = msg.replace(b"Subject: old", b"Subject: changed")
    assert got == want, (len(got), len(want))
    names = [h[0] for h in seen["headers"]]
    assert names[1] == "X-Long" and len(names) == 2004, names[:3]
    # the long value was cut to fit a packet, never sent whole
    assert 60000 < len(seen["headers"][1][1]) < 65536, \
        len(seen["headers"][1][1])


def _transaction(raw, rcpt="b@example.net"):
    """MAIL, RCPT, DATA with MSG on an open session: the last reply."""
    for cmd in ("MAIL FROM:<a@client.test>", "RCPT TO:<%s>" % rcpt):
        code, texts = raw.cmd(cmd)
        if code != 250:
            return code, texts
    code, texts = raw.cmd("DATA")
    if code != 354:
        return code, texts
    raw.send(MSG + b".\r\n")
    return raw.reply(30)


def test_filter_gone_between_steps():
    """A filter that closes while the session is idle is out: the next
    transaction gets its failure mode; nothing else happens (the front
    end keeps every session)."""
    with _Filter("exitafter-eom") as f, Sink() as sink, \
            _relay(f, sink) as relay:
        smtp_pid = relay.pid("smtp")
        raw = clients.Raw(relay.port)
        raw.ehlo()
        code, _ = _transaction(raw)
        assert code == 250
        wait_until(lambda: "failed between steps" in relay.log(), 10,
                   "the filter's end seen")
        code, texts = raw.cmd("MAIL FROM:<a@client.test>")
        assert code == 451 and "4.3.5" in texts[-1], (code, texts)
        raw.cmd("QUIT")
        assert relay.pid("smtp") == smtp_pid
        assert "killed by signal" not in relay.log()
        sink.wait_for(1)


def test_filter_gone_while_the_queue_makes_the_file():
    """The filter's answer was whole: its end while the second file is
    asked for does not undo the message."""
    with _Filter("modexit-eom") as f, Sink() as sink, \
            _relay(f, sink) as relay:
        code, _ = _send(relay, ("b@example.net",))
        assert code == 250
        [m] = sink.wait_for(1)
        assert b"X-Test-Milter: added" in m.data


def test_queue_lost_while_a_filter_works():
    """The queue restarts during the filter's end of message: the
    message gets a 451 and the front end is not dropped."""
    with _Filter("slow-eom") as f, Sink() as sink, \
            _relay(f, sink) as relay:
        smtp_pid = relay.pid("smtp")
        raw = clients.Raw(relay.port, timeout=30)
        raw.ehlo()
        for cmd in ("MAIL FROM:<a@client.test>", "RCPT TO:<b@example.net>",
                    "DATA"):
            raw.cmd(cmd)
        raw.send(MSG + b".\r\n")
        old = relay.pid("queue")
        relay.kill("queue")
        relay.wait_restarted("queue", old)
        code, texts = raw.reply(30)
        assert code == 451, (code, texts)
        raw.cmd("QUIT")
        assert relay.pid("smtp") == smtp_pid
        assert "dropping smtp" not in relay.log()


class TwoFilterRelay(FilteredRelay):
    """A listener with the filters "m" then "n"."""

    def conf_text(self):
        return FilteredRelay.conf_text(self).replace(
            "filter m\n", "filter m filter n\n")


def _two(first, second, sink, n):
    """A message through filters first then second: what second saw."""
    TwoFilterRelay.filter_line = (
        'filter m "inet:%d@127.0.0.1"\nfilter n "inet:%d@127.0.0.1"'
        % (first.port, second.port))
    with TwoFilterRelay(sink=sink) as relay:
        code, _ = _send(relay, ("b@example.net",))
        assert code == 250
        sink.wait_for(n)
        return second.seen()[-1]


def test_second_filter_sees_the_first_ones_changes():
    """As in sendmail, a filter sees the message as the ones before it
    changed it: the header change and the new body of the first."""
    with _Filter("mod-chgheader") as f1, _Filter("mod-replbody") as f2, \
            _Filter("none") as f3, Sink() as sink:
        seen = _two(f1, f2, sink, 1)
        seen3 = _two(f2, f3, sink, 2)
    assert ["Subject", "changed"] in seen["headers"], seen
    assert seen["body_head"] == "line one\r\nline two\r\n", seen
    assert seen3["body_head"].startswith("new body\r\nsecond line\r\n"), \
        seen3
    data = sink.messages[0].data
    assert b"Subject: changed" in data and b"new body" in data, data


def test_progress_extends_the_end_of_message_limit():
    """A filter that asks for more time (SMFIR_PROGRESS) every half
    second is waited for past the 2 s limit; one that does not is not."""
    for mode, ok in (("progress-eom", True), ("slow-eom", False)):
        with _Filter(mode) as f, Sink() as sink:
            FilteredRelay.filter_line = ('filter m "inet:%d@127.0.0.1" '
                                         'timeouts 5s 10s 2s 2s' % f.port)
            with FilteredRelay(sink=sink) as relay:
                try:
                    code, _ = _send(relay, ("b@example.net",))
                except smtplib.SMTPDataError as e:
                    code = e.smtp_code
                    assert b"4.3.5" in e.smtp_error, e
        assert (code == 250) == ok, (mode, code)


class TlsFilteredRelay(FilteredRelay):
    """The filtered listener with STARTTLS and client certificates."""

    tls_lines = []

    def conf_text(self):
        text = FilteredRelay.conf_text(self)
        return "\n".join(self.tls_lines) + "\n" + text.replace(
            "port %d filter m\n" % self.port,
            "port %d tls verify filter m\n" % self.port)


def test_tls_macros():
    from lib.certs import TestCA, client_context, starttls
    ca = TestCA()
    srv = ca.issue("relay.test")
    cli = ca.issue("client.test")
    with _Filter("none") as f, Sink() as sink:
        TlsFilteredRelay.filter_line = 'filter m "inet:%d@127.0.0.1"' % f.port
        TlsFilteredRelay.tls_lines = [
            'pki %s cert "%s" key "%s"' % (srv.name, srv.chain, srv.key),
            'ca file "%s"' % ca.cert]
        with TlsFilteredRelay(sink=sink) as relay:
            raw = clients.Raw(relay.port)
            raw.ehlo()
            starttls(raw, client_context(ca, cli))
            raw.ehlo()
            code, _ = _transaction(raw)
            raw.cmd("QUIT")
            assert code == 250, code
            sink.wait_for(1)
            macros = f.seen()[-1]["macros"]
    assert macros["{tls_version}"].startswith("TLSv1."), macros
    assert macros["{verify}"] == "OK", macros
    assert "client.test" in macros["{cert_subject}"], macros
    assert macros["{cipher}"], macros


def test_auth_macros():
    from lib.daemon import Relay
    from lib.sasl import SaslDB, auth_extra, plain, wait_auth_ready
    db = SaslDB({"alice": "s3cret-pw"})
    port = free_port()
    with _Filter("none") as f, Sink() as sink:
        extra = ['filter m "inet:%d@127.0.0.1"' % f.port] + auth_extra(
            db, port, "auth-optional filter m", mechanisms="PLAIN")
        with Relay(sink=sink, extra=extra):
            wait_auth_ready(port)
            raw = clients.Raw(port)
            raw.ehlo()
            code, texts = raw.cmd("AUTH PLAIN " + plain("alice", "s3cret-pw"))
            assert code == 235, (code, texts)
            code, _ = _transaction(raw)
            raw.cmd("QUIT")
            assert code == 250, code
            sink.wait_for(1)
            macros = f.seen()[-1]["macros"]
    assert macros["{auth_authen}"] == "alice", macros
    assert macros["{auth_type}"] == "PLAIN", macros
