"""The TLS 1.2 cipher suites of a STARTTLS listener: by default only AEAD
ones (AES-GCM, ChaCha20-Poly1305, with ECDHE or DHE), so no CBC suite is
left for a LUCKY13-style padding oracle; TLS 1.3 is unaffected; and a
"tls ciphers" the admin sets still decides, CBC included.  The client is
openssl s_client; the listener has an RSA certificate, which every suite
below can use."""
import re
import subprocess

from lib import clients, free_port
from lib.certs import OPENSSL, TestCA, wait_tls_ready
from lib.daemon import Relay
from lib.sink import Sink

# CBC suites, with and without forward secrecy, SHA-1 and SHA-2 MACs
CBC = ("AES128-SHA:AES256-SHA256:ECDHE-RSA-AES128-SHA:"
       "ECDHE-RSA-AES256-SHA384:DHE-RSA-AES128-SHA")
AEAD = ("ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-CHACHA20-POLY1305",
        "ECDHE-RSA-AES256-GCM-SHA384")


class _Listener:
    def __init__(self, extra=()):
        self.ca = TestCA()
        rsa = self.ca.issue("relay.test", rsa=True)
        self.port = free_port()
        self.sink = Sink().__enter__()
        self.relay = Relay(sink=self.sink, extra=[
            'pki relay.test cert "%s" key "%s"' % (rsa.chain, rsa.key),
            'ca file "%s"' % self.ca.cert,
            "listen on 127.0.0.1 port %d tls" % self.port] + list(extra))
        wait_tls_ready(self.relay)

    def handshake(self, *args):
        """s_client's STARTTLS with args: the cipher, or None if no
        handshake."""
        r = subprocess.run([OPENSSL, "s_client", "-starttls", "smtp",
                            "-connect", "127.0.0.1:%d" % self.port,
                            "-CAfile", self.ca.cert] + list(args),
                           input=b"QUIT\r\n", stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        out = r.stdout.decode("utf-8", "replace")
        m = re.search(r"Cipher is (\S+)", out)
        if r.returncode != 0 or m is None or m.group(1) == "(NONE)":
            return None
        return m.group(1)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.relay.stop()
        self.sink.close()


def test_default_refuses_cbc_suites_in_tls12():
    with _Listener() as t:
        for suite in CBC.split(":"):
            assert t.handshake("-tls1_2", "-cipher", suite) is None, suite
        assert t.handshake("-tls1_2", "-cipher", CBC) is None
        t.relay.wait_for_log(r"STARTTLS=server, error: ")


def test_default_accepts_aead_suites_in_tls12_and_tls13():
    with _Listener() as t:
        for suite in AEAD:
            assert t.handshake("-tls1_2", "-cipher", suite) == suite, suite
        got = t.handshake("-tls1_3")
        assert got is not None and got.startswith("TLS_"), got
        # a client offering CBC first still gets an AEAD suite
        got = t.handshake("-tls1_2", "-cipher", CBC + ":" + AEAD[0])
        assert got == AEAD[0], got


def test_configured_ciphers_still_allow_cbc():
    with _Listener(['tls ciphers "HIGH:!aNULL"']) as t:
        assert t.handshake("-tls1_2", "-cipher",
                           "ECDHE-RSA-AES128-SHA") == "ECDHE-RSA-AES128-SHA"
        assert t.handshake("-tls1_2", "-cipher", "AES128-SHA") == "AES128-SHA"
        assert t.handshake("-tls1_2", "-cipher", AEAD[0]) == AEAD[0]


def test_mta_still_reaches_a_next_hop_with_only_cbc_suites():
    """The outbound default stays broad: a TLS 1.2 next hop that has only
    a CBC suite gets TLS, not a failed handshake (and a deferral)."""
    with _Listener(['tls protocols "tlsv1.2"',
                    'tls ciphers "ECDHE-RSA-AES128-SHA"']) as hop:
        with Relay(routes=[("*", "[127.0.0.1]", hop.port)]) as first:
            clients.send(first.port, "alice@client.test", "far@dest.test")
            [m] = hop.sink.wait_for(1)
            assert "with ESMTPS" in m.header("Received"), m.data[:400]
            first.wait_for_log(r"STARTTLS=client, .*version=TLSv1\.2, "
                               r".*cipher=ECDHE-RSA-AES128-SHA,")
