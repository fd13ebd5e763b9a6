"""PROXY protocol (issue 17): a listener with proxy-protocol { ... }
behind a real HAProxy 2.6 (TCP mode, send-proxy and send-proxy-v2) sees
the client HAProxy saw, for the access map's Connect:, the logs and
Received; a peer that is not a trusted proxy, a malformed header, one
for another transport and a missing one close the connection (logged,
nothing written); a v2 LOCAL (a proxy's health check) is a session from
the proxy itself."""
import socket
import struct
import time

from lib import clients, free_port, smtpd_check
from lib.daemon import Relay
from lib.haproxy import HAProxy
from lib.sink import Sink

CLIENT = "127.0.0.2"
V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def _relay(sink, trusted='"127.0.0.1"', **kw):
    port = free_port()
    relay = Relay(sink=sink, extra=[
        "listen on 127.0.0.1 port %d proxy-protocol { %s }"
        % (port, trusted)], **kw)
    relay.proxy_port = port
    return relay


def _send_through(port, rcpt):
    with clients.Raw(port, source=CLIENT) as raw:
        raw.ehlo()
        assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
        r = raw.cmd("RCPT TO:<%s>" % rcpt)
        if r[0] != 250:
            return r
        assert raw.cmd("DATA")[0] == 354
        raw.send("Subject: via haproxy\r\n\r\nhello\r\n.\r\n")
        r = raw.reply()
        raw.cmd("QUIT")
        return r


def test_haproxy_v1_and_v2_give_the_client_address():
    with Sink() as sink, _relay(sink) as relay, \
            HAProxy(relay.proxy_port) as hp:
        rc, out = relay.makemap("access", "Connect:127.0.0.2 RELAY\n")
        assert rc == 0, out
        for port in (hp.port_v1, hp.port_v2):
            mark = relay.mark()
            assert _send_through(port, "bob@dest.test")[0] == 250
            relay.wait_for_log(r"connect from \[127\.0\.0\.2\] "
                               r"\[127\.0\.0\.2\] on 127\.0\.0\.1:%d"
                               % relay.proxy_port, start=mark)
        msgs = sink.wait_for(2)
        for m in msgs:
            assert b"[127.0.0.2]" in m.data.split(b"\r\n\r\n")[0], m.data
        # the access map judges the client, not the proxy
        rc, out = relay.makemap("access", "Connect:127.0.0.2 REJECT\n")
        assert rc == 0, out
        for port in (hp.port_v1, hp.port_v2):
            with clients.Raw(port, source=CLIENT) as raw:
                raw.ehlo()
                assert raw.cmd("MAIL FROM:<alice@client.test>") == (
                    550, ["5.7.1 Access denied"])
        # and the proxy's own address is not what it judges
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250


def test_untrusted_peers_and_bad_headers_are_closed():
    with Sink() as sink, _relay(sink) as relay:
        port = relay.proxy_port
        v2_udp = V2_SIG + bytes([0x21, 0x12]) + struct.pack(">H", 12) + \
            bytes(12)
        v2_bad_tlv = V2_SIG + bytes([0x21, 0x11]) + struct.pack(">H", 15) + \
            bytes([127, 0, 0, 9, 127, 0, 0, 1, 0, 25, 0, 25]) + \
            bytes([0x01, 0x00, 0x09])
        cases = [
            (b"EHLO x\r\n", "127.0.0.3", "not a trusted proxy"),
            (b"HELLO\r\n", "127.0.0.1", "not a PROXY header"),
            (b"PROXY TCP4 10.0.0.1 10.0.0.2 1 25\n", "127.0.0.1",
             "a PROXY line not ended by CRLF"),
            (b"PROXY TCP4 10.0.0.1  10.0.0.2 1 25\r\n", "127.0.0.1",
             "too many fields in the PROXY line"),
            (b"PROXY TCP4 10.0.0.1 ::1 1 25\r\n", "127.0.0.1",
             "a PROXY line with a bad address"),
            (b"PROXY TCP4 10.0.0.1 10.0.0.2 65536 25\r\n", "127.0.0.1",
             "a PROXY line with a bad port"),
            (b"PROXY UDP4 10.0.0.1 10.0.0.2 1 25\r\n", "127.0.0.1",
             "a PROXY line for neither TCP4 nor TCP6"),
            (b"PROXY " + b"x" * 120, "127.0.0.1",
             "a PROXY line longer than 107 octets"),
            (v2_udp, "127.0.0.1",
             "a PROXY header for another transport than TCP"),
            (v2_bad_tlv, "127.0.0.1", "a PROXY header with a malformed TLV"),
        ]
        for data, source, why in cases:
            mark = relay.mark()
            got = clients.send_until_close(port, data, source)
            assert got == b"", (data, why, got)
            relay.wait_for_log(r"connection from %s on 127\.0\.0\.1:%d "
                               r"closed: %s" % (source.replace(".", r"\."),
                                                port, why), start=mark)
        # silence: closed after the 5 s allowed for the header
        mark = relay.mark()
        t0 = time.monotonic()
        assert clients.send_until_close(port, b"") == b""
        assert time.monotonic() - t0 >= 4
        relay.wait_for_log(r"closed: no PROXY header in time", start=mark)
        stats = relay.stats()
        assert int(stats["smtp.proxy.refused"]) == len(cases) + 1, stats
        # the relay is unharmed: a good header still gives a session
        with clients.Raw(port, greeting=False) as raw:
            raw.send("PROXY TCP6 2001:db8::7 2001:db8::1 4711 25\r\n")
            assert raw.reply()[0] == 220
            raw.ehlo()
        relay.wait_for_log(r"connect from \[2001:db8::7\]")


def test_v2_local_is_the_proxy_itself_and_nothing_past_the_header_is_read():
    with Sink() as sink, _relay(sink, trusted='"127.0.0.0/8"') as relay:
        port = relay.proxy_port
        mark = relay.mark()
        local = V2_SIG + bytes([0x20, 0x00]) + struct.pack(">H", 0)
        with clients.Raw(port, source="127.0.0.5", greeting=False) as raw:
            raw.send(local)
            assert raw.reply()[0] == 220
        relay.wait_for_log(r"connect from \[127\.0\.0\.5\]", start=mark)
        # header, then the client's first command in the same segment:
        # the command is the session's (an early talker), not eaten
        hdr = V2_SIG + bytes([0x21, 0x11]) + struct.pack(">H", 12) + \
            bytes([192, 0, 2, 9, 127, 0, 0, 1]) + struct.pack(">HH", 999, 25)
        mark = relay.mark()
        got = clients.send_until_close(port, hdr + b"EHLO early.test\r\n")
        assert b"554 5.5.0 Protocol error: input before the greeting" in got, \
            got
        relay.wait_for_log(r"connect from \[192\.0\.2\.9\]", start=mark)


def test_proxy_protocol_config():
    for text, err in [
            ('listen on 127.0.0.1 proxy-protocol { }\n', "names no proxy"),
            ('listen on 127.0.0.1 proxy-protocol { "10.0.0.0/33" }\n',
             "is not a numeric address or prefix"),
            ('listen on 127.0.0.1 proxy-protocol { "proxy.example" }\n',
             "is not a numeric address or prefix"),
            ('listen on 127.0.0.1 proxy-protocol { "::1" } '
             'proxy-protocol { "::2" }\n', "given twice")]:
        rc, out = smtpd_check(text)
        assert rc != 0 and err in out, (text, out)


def test_smtps_behind_a_proxy_gets_the_handshake_untouched():
    """On an smtps listener the PROXY header comes first and the TLS
    handshake right after it; nothing of the ClientHello is read by the
    header's reader, so the handshake succeeds and the session is the
    header's client's, with TLS."""
    from lib.certs import TestCA, client_context, relay_tls_extra, \
        wait_tls_ready
    ca = TestCA()
    cert = ca.issue("relay.test")
    port = free_port()
    extra = relay_tls_extra(ca, cert, port,
                            'smtps proxy-protocol { "127.0.0.1" }')
    with Sink() as sink, Relay(sink=sink, extra=extra) as relay:
        wait_tls_ready(relay)
        mark = relay.mark()
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"PROXY TCP4 198.51.100.4 127.0.0.1 5555 465\r\n")
        tls = client_context(ca).wrap_socket(s, server_hostname="relay.test")
        try:
            assert tls.recv(512).startswith(b"220 "), "no greeting"
            tls.sendall(b"EHLO client.test\r\n")
            assert b"250" in tls.recv(4096)
        finally:
            tls.close()
        relay.wait_for_log(r"connect from \[198\.51\.100\.4\]", start=mark)


def _tls_through(hp, ca, cert=None):
    """A session over TLS with HAProxy, which ends it: greeting, EHLO
    keywords, one message; (EHLO keywords, last reply)."""
    from lib.certs import client_context
    with clients.Raw(hp.port_tls, source=CLIENT, greeting=False) as raw:
        raw.sock = client_context(ca, cert).wrap_socket(
            raw.sock, server_hostname="relay.test")
        assert raw.reply()[0] == 220
        kw = raw.ehlo()
        assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
        assert raw.cmd("RCPT TO:<bob@dest.test>")[0] == 250
        assert raw.cmd("DATA")[0] == 354
        r = raw.cmd("Subject: tls at the proxy\r\n\r\nhi\r\n.")
        raw.cmd("QUIT")
        return kw, r


def test_haproxy_tls_facts_become_the_sessions():
    """HAProxy ends the client's TLS and sends its facts in v2 TLVs: the
    session is over TLS from the start (ESMTPS in Received:, no
    STARTTLS, REQUIRETLS offered), with the proxy's version, cipher and
    ${verify}: NOT without a client certificate, OK with one of the CA
    HAProxy trusts, and that certificate's CN."""
    from lib.certs import TestCA
    ca = TestCA()
    cert = ca.issue("relay.test")
    client = ca.issue("client.test")
    with Sink() as sink, _relay(sink) as relay, \
            HAProxy(relay.proxy_port, tls=(cert, ca)) as hp:
        rc, out = relay.makemap("access", "Connect:127.0.0.2 RELAY\n")
        assert rc == 0, out
        mark = relay.mark()
        kw, r = _tls_through(hp, ca)
        assert r[0] == 250, r
        assert "REQUIRETLS" in kw and "STARTTLS" not in kw, kw
        relay.wait_for_log(r"TLS on at the proxy: version=TLSv1\.[23] "
                           r"cipher=\S+ verify=NOT", start=mark)
        [m] = sink.wait_for(1)
        head = m.data.split(b"\r\n\r\n")[0]
        assert b"with ESMTPS" in head and b"(version=TLSv1." in head, head
        assert b"[127.0.0.2]" in head, head
        mark = relay.mark()
        kw, r = _tls_through(hp, ca, client)
        assert r[0] == 250, r
        relay.wait_for_log(r"TLS on at the proxy: version=TLSv1\.[23] "
                           r"cipher=\S+ verify=OK", start=mark)
        sink.wait_for(2)
        assert relay.stats().get("smtp.proxy.tls") == "2"


def test_v2_tls_tlvs_checked():
    """The SSL TLV from a raw header: a client that spoke TLS gives a
    TLS session; one that did not gives plaintext; a sub-TLV that
    overruns its parent, or a control in a value, closes it."""
    def v2(tlvs):
        addrs = bytes([192, 0, 2, 7, 127, 0, 0, 1]) + \
            struct.pack(">HH", 999, 25)
        return V2_SIG + bytes([0x21, 0x11]) + \
            struct.pack(">H", len(addrs) + len(tlvs)) + addrs + tlvs

    def tlv(t, v):
        return bytes([t]) + struct.pack(">H", len(v)) + v

    def ssl(client, verify, subs):
        return tlv(0x20, bytes([client]) + struct.pack(">I", verify) + subs)

    good = ssl(0x07, 0, tlv(0x21, b"TLSv1.3") + tlv(0x22, b"Some CN") +
               tlv(0x23, b"TLS_AES_128_GCM_SHA256"))
    with Sink() as sink, _relay(sink) as relay:
        port = relay.proxy_port
        mark = relay.mark()
        with clients.Raw(port, greeting=False) as raw:
            raw.send(v2(good))
            assert raw.reply()[0] == 220
            assert "STARTTLS" not in raw.ehlo()
        relay.wait_for_log(r"TLS on at the proxy: version=TLSv1\.3 "
                           r"cipher=TLS_AES_128_GCM_SHA256 verify=OK",
                           start=mark)
        with clients.Raw(port, greeting=False) as raw:
            raw.send(v2(ssl(0x00, 0, b"")))
            assert raw.reply()[0] == 220
            assert "REQUIRETLS" not in raw.ehlo()
        for bad in (ssl(0x01, 0, b"\x21\x00\x09TLS"),
                    ssl(0x01, 0, tlv(0x23, b"AES\x01")),
                    tlv(0x20, b"\x01\x00")):
            mark = relay.mark()
            assert clients.send_until_close(port, v2(bad)) == b""
            relay.wait_for_log(r"closed: a PROXY header with a malformed "
                               r"TLV", start=mark)
        assert relay.stats().get("smtp.proxy.tls") == "1"
