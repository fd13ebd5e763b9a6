"""rspamd (Debian 12's, regress/lib/rspamd.py: a proxy worker in milter
mode, self_scan) as a real filter of the milter protocol (issue 16):
through a listener with `filter spam`, a message holding the GTUBE
pattern is refused at the end of DATA with rspamd's own reply (its
SMFIR_REPLYCODE "554 5.7.1 Gtube pattern", which Postfix 3.7 passes to
its client as it is), nothing
reaches the sink and the session goes on; a clean message in the same
session is relayed to the sink.  The fixture's startup time is
asserted to stay well under the test's limit."""
import smtplib

from lib import clients, timeout, wait_until
from lib.milter import FilterRelay
from lib.rspamd import GTUBE, GTUBE_REPLY, Rspamd
from lib.sink import Sink


def _message(body):
    msg, _ = clients.make_message("a@client.test", ["b@sink.test"],
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
