"""The client's name (sendmail's ${client_name} and ${client_resolve},
/work/shared/spec/sendmail-policy.md 1.4, 2.4 Relay_ok step 6): with
`smtp reverse-dns yes` the front end looks up the PTR record of the client
address through a real dnsmasq and forward-confirms it.  The name shows in
the log, in Received: and in the access-map probes; a client whose name is
missing, forged or unknown for now may not relay.  We connect from
127.0.0.2 and 127.0.0.3 so that Relay_ok step 1 (loopback) does not apply.
"""
import socket
import threading

from lib import clients, free_udp_port
from lib.daemon import Relay
from lib.dns import Dns
from lib.sink import Sink

NAME = "client.example.net"
RCPT = "bob@dest.test"


def _relay(dns, sink, access=None, conf=None):
    """A relay that resolves client names through dns, with access entries
    (text in makemap's format)."""
    settings = {"smtp reverse-dns": "yes"}
    settings.update(conf or {})
    relay = Relay(sink=sink, resolver_port=dns.port, conf=settings,
                  start=False)
    if access is not None:
        rc, out = relay.makemap("access", access)
        assert rc == 0, out
    relay.start()
    return relay


def _rcpt(relay, source, rcpt=RCPT):
    """MAIL and RCPT from source; the RCPT reply."""
    with clients.Raw(relay.port, source=source) as raw:
        assert raw.greeting[0] == 220, raw.greeting
        raw.ehlo()
        code, texts = raw.cmd("MAIL FROM:<alice@client.test>")
        assert code == 250, (code, texts)
        return raw.cmd("RCPT TO:<%s>" % rcpt)


def _send(relay, source, rcpt=RCPT):
    """One whole message from source; the reply to its end."""
    with clients.Raw(relay.port, source=source) as raw:
        raw.ehlo("helo.client.test")
        assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
        code, texts = raw.cmd("RCPT TO:<%s>" % rcpt)
        assert code == 250, (code, texts)
        assert raw.cmd("DATA")[0] == 354
        raw.send("Subject: reverse dns\r\n\r\nhello\r\n.\r\n")
        return raw.reply()


def test_name_relays_by_domain():
    # Relay_ok step 8: the name's Connect: D probe grants relaying
    with Dns(hosts=[("mail.example.test", "127.0.0.2")], ptr=[]) as dns, \
            Sink() as sink, \
            _relay(dns, sink, "Connect:example.test RELAY\n") as relay:
        code, texts = _send(relay, "127.0.0.2")
        assert code == 250, (code, texts)
        [m] = sink.wait_for(1)
        received = m.header("Received")
        assert received.startswith(
            "from helo.client.test (mail.example.test [127.0.0.2])"), \
            received
        relay.wait_for_log(r"connect from mail\.example\.test \[127\.0\.0\.2\]"
                           r" on 127\.0\.0\.1:%d" % relay.port)


def test_confirmed_name_is_the_connect_key():
    with Dns(hosts=[(NAME, "127.0.0.2")], ptr=[]) as dns, Sink() as sink, \
            _relay(dns, sink, "Connect:%s REJECT\n" % NAME) as relay:
        with clients.Raw(relay.port, source="127.0.0.2") as raw:
            # a refused connect is a nullserver: greeting, then refusals
            assert raw.greeting[0] == 220, raw.greeting
            raw.ehlo()
            code, texts = raw.cmd("MAIL FROM:<alice@client.test>")
            assert (code, texts) == (550, ["5.7.1 Access denied"]), \
                (code, texts)
        relay.wait_for_log(r"ruleset=check_relay, arg1=client\.example\.net, "
                           r"arg2=127\.0\.0\.2, relay=client\.example\.net "
                           r"\[127\.0\.0\.2\], reject=550 5\.7\.1 Access")
        # the entry is for that name only: 127.0.0.3 has none
        code, texts = _rcpt(relay, "127.0.0.3")
        assert code == 550 and "IP name lookup failed [127.0.0.3]" in \
            texts[0], (code, texts)


def test_forged_name():
    # the PTR name has no A record at 127.0.0.3: "may be forged"
    with Dns(ptr=[("127.0.0.3", "forged.example.net")]) as dns, \
            Sink() as sink, \
            _relay(dns, sink, "Connect:forged.example.net RELAY\n"
                              "Connect:example.net RELAY\n") as relay:
        code, texts = _rcpt(relay, "127.0.0.3")
        assert (code, texts) == (550, [
            "5.7.1 <%s>... Relaying denied. IP name possibly forged "
            "[127.0.0.3]" % RCPT]), (code, texts)
        relay.wait_for_log(r"connect from forged\.example\.net \[127\.0\.0\.3"
                           r"\] \(may be forged\) on ")
        relay.wait_for_log(r"ruleset=check_rcpt, arg1=<bob@dest\.test>, "
                           r"relay=forged\.example\.net \[127\.0\.0\.3\] "
                           r"\(may be forged\), reject=550 5\.7\.1")


def test_forged_name_does_not_match_connect_entries():
    # ${client_name} of a forged client is "[addr]", never the PTR name
    with Dns(ptr=[("127.0.0.3", "forged.example.net")]) as dns, \
            Sink() as sink, \
            _relay(dns, sink, "Connect:forged.example.net REJECT\n") as relay:
        code, texts = _rcpt(relay, "127.0.0.3", "postmaster@relay.test")
        assert code == 250, (code, texts)


def test_no_ptr_record():
    with Dns(ptr=[]) as dns, Sink() as sink, _relay(dns, sink) as relay:
        code, texts = _rcpt(relay, "127.0.0.2")
        assert (code, texts) == (550, [
            "5.7.1 <%s>... Relaying denied. IP name lookup failed "
            "[127.0.0.2]" % RCPT]), (code, texts)
        relay.wait_for_log(r"connect from \[127\.0\.0\.2\] \[127\.0\.0\.2\] "
                           r"on ")


def test_connect_addr_relay_comes_before_the_name():
    # Relay_ok step 3 (A probe) grants before step 6 refuses
    with Dns(ptr=[]) as dns, Sink() as sink, \
            _relay(dns, sink, "Connect:127.0.0.2 RELAY\n") as relay:
        code, texts = _send(relay, "127.0.0.2")
        assert code == 250, (code, texts)
        [m] = sink.wait_for(1)
        assert m.header("Received").startswith(
            "from helo.client.test ([127.0.0.2])"), m.header("Received")


def test_resolver_failure_is_temporary():
    # no reverse zone in dnsmasq: the query is refused, the resolver fails
    with Dns() as dns, Sink() as sink, _relay(dns, sink) as relay:
        code, texts = _rcpt(relay, "127.0.0.2")
        assert (code, texts) == (450, [
            "4.4.0 <%s>... Relaying temporarily denied. Cannot resolve "
            "PTR record for 127.0.0.2" % RCPT]), (code, texts)


class _BlackHole:
    """A UDP and TCP "resolver" that reads queries and never answers."""

    def __init__(self):
        self.port = free_udp_port(tcp_too=True)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen(16)
        self.queries = 0
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.udp.settimeout(0.2)
        while not self.stop:
            try:
                self.udp.recvfrom(4096)
                self.queries += 1
            except socket.timeout:
                pass
            except OSError:
                return

    def close(self):
        self.stop = True
        self.thread.join(5)
        self.udp.close()
        self.tcp.close()


def test_silent_resolver_times_out_as_temp():
    hole = _BlackHole()
    try:
        with Sink() as sink, \
                Relay(sink=sink, resolver_port=hole.port,
                      conf={"smtp reverse-dns": "yes",
                            "smtp dns-timeout": "1s"}) as relay:
            # two clients at once: both are greeted after the bound
            with clients.Raw(relay.port, source="127.0.0.2",
                             greeting=False) as a, \
                    clients.Raw(relay.port, source="127.0.0.3",
                                greeting=False) as b:
                assert a.reply()[0] == 220
                assert b.reply()[0] == 220
                a.ehlo()
                assert a.cmd("MAIL FROM:<alice@client.test>")[0] == 250
                code, texts = a.cmd("RCPT TO:<%s>" % RCPT)
                assert code == 450 and "Cannot resolve PTR record for " \
                    "127.0.0.2" in texts[0], (code, texts)
            assert hole.queries > 0, "the resolver was never asked"
    finally:
        hole.close()


def test_reverse_dns_no():
    # no lookup at all: "[addr]" and nothing refused for it
    with Dns(hosts=[(NAME, "127.0.0.2")], ptr=[]) as dns, Sink() as sink, \
            Relay(sink=sink, resolver_port=dns.port,
                  conf={"smtp reverse-dns": "no"}) as relay:
        code, texts = _rcpt(relay, "127.0.0.2")
        assert (code, texts) == (550, ["5.7.1 <%s>... Relaying denied"
                                       % RCPT]), (code, texts)
        assert "2.0.0.127.in-addr.arpa" not in dns.log()
