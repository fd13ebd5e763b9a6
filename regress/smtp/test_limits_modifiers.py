"""A listener's modifier letters (sendmail's DaemonPortOptions M=):
u takes a bare user in MAIL and RCPT as user@hostname, without it a
bare sender gets sendmail's "553 5.5.4 <user>... Domain name required
for sender address user"; f refuses a sender whose domain is not fully
qualified; A takes AUTH off a listener (over a and auth) and S takes
STARTTLS off; E takes ETRN off."""
import os
import subprocess

from lib import BIN, clients
from lib.daemon import Relay, free_port
from lib.sink import Sink


def _session(port):
    raw = clients.Raw(port)
    raw.ehlo()
    return raw


def test_unqualified_addresses_with_u():
    port = free_port()
    with Sink() as sink, Relay(sink=sink, conf={"hostname": "relay.test"},
                               extra=['listen on 127.0.0.1 port %d '
                                      'modifiers "u"' % port]) as relay:
        with _session(port) as raw:
            assert raw.cmd("MAIL FROM:<alice>")[0] == 250
            # qualified with our name: a local user we do not have
            assert raw.cmd("RCPT TO:bob") == (
                550, ["5.1.1 <bob@relay.test>... User unknown"])
            assert raw.cmd("RCPT TO:<carol@dest.test>")[0] == 250
            assert raw.cmd("DATA")[0] == 354
            raw.send("Subject: u\r\n\r\nhi\r\n.\r\n")
            assert raw.reply()[0] == 250
        [m] = sink.wait_for(1)
        assert m.mail_from == "alice@relay.test", m.mail_from
        # the other listener has no u
        with _session(relay.port) as raw:
            assert raw.cmd("MAIL FROM:<alice>") == (
                553, ["5.5.4 <alice>... Domain name required for sender "
                      "address alice"])
            assert raw.cmd("MAIL FROM: alice") == (
                553, ["5.5.4 alice... Domain name required for sender "
                      "address alice"])
            assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
            assert raw.cmd("RCPT TO:<bob>")[0] == 501


def test_fully_qualified_sender_with_f():
    port = free_port()
    with Sink() as sink, Relay(sink=sink, extra=[
            'listen on 127.0.0.1 port %d modifiers "f"' % port]) as relay:
        with _session(port) as raw:
            assert raw.cmd("MAIL FROM:<alice@localhost>") == (
                553, ["5.5.4 <alice@localhost>... Real domain name "
                      "required for sender address"])
            assert raw.cmd("MAIL FROM:<>")[0] == 250
            assert raw.cmd("RSET")[0] == 250
            assert raw.cmd("MAIL FROM:<alice@[127.0.0.1]>")[0] == 250
            assert raw.cmd("RSET")[0] == 250
            assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
        with _session(relay.port) as raw:
            assert raw.cmd("MAIL FROM:<alice@localhost>")[0] == 250


def test_no_auth_and_no_starttls_letters():
    port = free_port()
    with Relay(start=False, extra=[
            'listen on 127.0.0.1 port %d auth modifiers "aAfuES"' % port
            ]) as relay:
        r = subprocess.run([os.path.join(BIN, "smtpd"), "-n", "-v", "-f",
                            relay.confpath], capture_output=True)
        out = (r.stdout + r.stderr).decode()
        assert r.returncode == 0, out
        # A wins over a and auth; S and E are kept as flags
        assert 'listen on "127.0.0.1" port %d modifiers "fuE"\n' % port \
            in out, out
        relay.set("listen on 127.0.0.1 port %d modifiers" % port, '"x"')
        r = subprocess.run([os.path.join(BIN, "smtpd"), "-n", "-f",
                            relay.confpath], capture_output=True)
        assert r.returncode != 0 and b"modifier 'x' is not one of" in \
            r.stderr, r.stderr


def test_a_s_letters_take_auth_and_starttls_off_a_listener():
    from lib.certs import TestCA, wait_tls_ready
    from lib.sasl import SaslDB, wait_auth_ready
    ca = TestCA()
    srv = ca.issue("relay.test")
    db = SaslDB({"alice": "secret"})
    with_all, without = free_port(), free_port()
    extra = ['pki %s cert "%s" key "%s"' % (srv.name, srv.chain, srv.key),
             'ca file "%s"' % ca.cert,
             "listen on 127.0.0.1 port %d tls auth-optional" % with_all,
             'listen on 127.0.0.1 port %d tls auth modifiers "AS"'
             % without,
             'auth sasldb "%s"' % db.path, 'auth options ""']
    with Sink() as sink, Relay(sink=sink, extra=extra) as relay:
        wait_tls_ready(relay)
        wait_auth_ready(with_all)
        with clients.Raw(with_all) as raw:
            kw = [k.split()[0].upper() for k in raw.ehlo()]
            assert "STARTTLS" in kw and "AUTH" in kw, kw
        with clients.Raw(without) as raw:
            kw = [k.split()[0].upper() for k in raw.ehlo()]
            assert "STARTTLS" not in kw and "AUTH" not in kw, kw
            # A also lifts auth's requirement: MAIL without AUTH goes on
            assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250


def test_e_letter_takes_etrn_off_a_listener():
    port = free_port()
    with Relay(extra=['listen on 127.0.0.1 port %d modifiers "E"' % port]) \
            as relay:
        with _session(port) as raw:
            kw = [k.split()[0].upper() for k in raw.ehlo()]
            assert "ETRN" not in kw, kw
            assert raw.cmd("ETRN dest.test") == (
                502, ["5.7.0 Sorry, we do not allow this operation"])
        with _session(relay.port) as raw:
            kw = [k.split()[0].upper() for k in raw.ehlo()]
            assert "ETRN" in kw, kw
            assert raw.cmd("ETRN dest.test")[0] == 250
