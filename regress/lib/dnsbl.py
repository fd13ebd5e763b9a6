"""
dnsbl.py: a small DNS server on loopback for blocklist tests, one that
can also fail the ways dnsmasq will not: answer SERVFAIL, or answer late.

    with BlServer(listed={"2.0.0.127.bl.test": ["127.0.0.2"]},
                  zones=["bl.test"], servfail=["broken.test"],
                  slow={"slow.test": 4}) as dns:
        Relay(resolver_port=dns.port, extra=["dnsbl bl.test"])

A name under one of `zones` gets its A records from `listed` (with `ttl`),
NODATA for other types, NXDOMAIN (with an SOA whose minimum is `neg_ttl`)
if it is not listed.  A name under a `servfail` zone gets SERVFAIL; under a
`slow` zone, the same answers as under `zones`, after that many seconds.
Anything else (the reverse lookups) gets REFUSED.  Every question is
recorded in `queries` as (name, type).  UDP only, in a thread of the
test; stopped on exit.
"""
import socket
import struct
import threading

from . import free_udp_port

T_A = 1
T_SOA = 6


def _name_wire(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def _parse_question(data):
    """(id, flags, name, qtype, end of question) or None."""
    if len(data) < 12:
        return None
    qid, flags, qd = struct.unpack(">HHH", data[:6])
    if qd != 1:
        return None
    i, labels = 12, []
    while i < len(data) and data[i] != 0:
        n = data[i]
        if n > 63 or i + 1 + n > len(data):
            return None
        labels.append(data[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    if i + 5 > len(data):
        return None
    qtype, = struct.unpack(">H", data[i + 1:i + 3])
    return qid, flags, ".".join(labels).lower(), qtype, i + 5


def _under(name, zones):
    for z in zones:
        if name == z or name.endswith("." + z):
            return z
    return None


class BlServer:
    def __init__(self, listed=None, zones=(), servfail=(), slow=None,
                 ttl=300, neg_ttl=60):
        self.listed = {k.lower(): list(v) for k, v in (listed or {}).items()}
        self.zones = list(zones)
        self.servfail = list(servfail)
        self.slow = dict(slow or {})
        self.ttl = ttl
        self.neg_ttl = neg_ttl
        self.queries = []
        self.port = None
        self.sock = None
        self.thread = None
        self.running = False
        self.lock = threading.Lock()

    def asked(self, name):
        """How many times name was asked for (any type)."""
        with self.lock:
            return sum(1 for n, _ in self.queries if n == name.lower())

    def _reply(self, data, q, rcode, answers=(), soa_zone=None):
        qid, flags, name, qtype, end = q
        rflags = 0x8000 | 0x0400 | 0x0080 | (flags & 0x0100) | rcode
        body = data[12:end]
        rrs = b""
        for a in answers:
            rrs += struct.pack(">HHHIH", 0xc00c, T_A, 1, self.ttl, 4) + \
                socket.inet_aton(a)
        auth = b""
        if soa_zone is not None:
            rdata = _name_wire("ns." + soa_zone) + \
                _name_wire("hostmaster." + soa_zone) + \
                struct.pack(">IIIII", 1, 3600, 600, 86400, self.neg_ttl)
            auth = _name_wire(soa_zone) + struct.pack(
                ">HHIH", T_SOA, 1, self.neg_ttl, len(rdata)) + rdata
        head = struct.pack(">HHHHHH", qid, rflags, 1, len(answers),
                           1 if auth else 0, 0)
        return head + body + rrs + auth

    def _answer(self, data):
        q = _parse_question(data)
        if q is None:
            return None, 0
        name, qtype = q[2], q[3]
        with self.lock:
            self.queries.append((name, qtype))
        if _under(name, self.servfail):
            return self._reply(data, q, 2), 0
        delay = 0
        z = _under(name, list(self.slow))
        if z is not None:
            delay = self.slow[z]
        else:
            z = _under(name, self.zones)
        if z is None:
            return self._reply(data, q, 5), 0
        if name not in self.listed:
            return self._reply(data, q, 3, soa_zone=z), delay
        if qtype != T_A:
            return self._reply(data, q, 0, soa_zone=z), delay
        return self._reply(data, q, 0, self.listed[name]), delay

    def _serve(self):
        while self.running:
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            reply, delay = self._answer(data)
            if reply is None:
                continue
            if delay:
                t = threading.Timer(delay, self._send, (reply, peer))
                t.daemon = True
                t.start()
            else:
                self._send(reply, peer)

    def _send(self, reply, peer):
        try:
            self.sock.sendto(reply, peer)
        except OSError:
            pass

    def start(self):
        self.port = free_udp_port()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.settimeout(0.2)
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.running = False
        if self.thread is not None:
            self.thread.join(5)
            self.thread = None
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
