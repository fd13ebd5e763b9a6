"""rspamd (Debian 12's, regress/lib/rspamd.py: a proxy worker in milter
mode, self_scan) as a real filter of the milter protocol (issue 16):
through a listener with `filter spam`, a message holding the GTUBE
pattern is refused at the end of DATA with rspamd's own reply (its
SMFIR_REPLYCODE "554 5.7.1 Gtube pattern", which Postfix 3.7 passes to
its client as it is), nothing
reaches the sink and the session goes on; a clean message in the same
session is relayed to the sink.  The fixture's startup time is
asserted to stay well under the test's limit.  With OpenDKIM signing
after it on the same listener, a GTUBE message is still rspamd's
reject and a clean one arrives signed."""
import smtplib

from lib import clients, timeout, wait_until
from lib.milter import FilterRelay
from lib.opendkim import DkimKey, OpenDkim
from lib.rspamd import GTUBE, GTUBE_REPLY, Rspamd
from lib.sink import Sink


def _message(body, sender="a@client.test"):
    msg, _ = clients.make_message(sender, ["b@sink.test"],
                                  subject="rspamd", body=body)
    return msg


@timeout(120)
def test_rspamd_rejects_gtube():
    with Rspamd() as rs, Sink() as sink, \
            FilterRelay([("spam", rs.spec)], sink=sink) as relay:
        assert rs.startup < 20, rs.startup
        with smtplib.SMTP("127.0.0.1", relay.port, local_hostname="client.test",
                          timeout=60) as s:
            s.ehlo()
            assert s.mail("a@client.test")[0] == 250
            assert s.rcpt("b@sink.test")[0] == 250
            code, text = s.data(_message("Hello\r\n" + GTUBE + "\r\n"))
            text = text.decode("utf-8", "replace")
            assert (code, text) == GTUBE_REPLY, (code, text)
            # the same session goes on: a clean message passes
            assert s.mail("a@client.test")[0] == 250
            assert s.rcpt("b@sink.test")[0] == 250
            code, text = s.data(_message("Hello, nothing to see here."))
            assert code == 250, (code, text)
        wait_until(lambda: sink.messages, 30, "the clean message at the sink")
        assert len(sink.messages) == 1, sink.messages
        assert b"nothing to see here" in sink.messages[0].data
        assert GTUBE.encode() not in sink.messages[0].data


@timeout(120)
def test_rspamd_then_opendkim():
    """Two filters in the listener's order: rspamd's reject comes first
    (OpenDKIM signs nothing that is refused), and a clean message that
    rspamd lets pass is signed by OpenDKIM on its way to the sink."""
    key = DkimKey()
    with Rspamd() as rs, OpenDkim("s", key) as signer, Sink() as sink, \
            FilterRelay([("spam", rs.spec), ("dkim", signer.spec)],
                        sink=sink) as relay:
        try:
            clients.send(relay.port, "a@example.org", ["b@sink.test"],
                         msg=_message("Hello\r\n" + GTUBE + "\r\n",
                                      "a@example.org"))
            raise AssertionError("GTUBE accepted")
        except smtplib.SMTPDataError as e:
            assert (e.smtp_code, e.smtp_error.decode()) == GTUBE_REPLY, e
        code, _ = clients.send(relay.port, "a@example.org", ["b@sink.test"],
                               msg=_message("Hello, signed.", "a@example.org"))
        assert code == 250, code
        wait_until(lambda: sink.messages, 30, "the clean message at the sink")
    assert len(sink.messages) == 1, sink.messages
    data = sink.messages[0].data
    assert b"Hello, signed." in data, data
    assert key.verify(data), data[:2000]
