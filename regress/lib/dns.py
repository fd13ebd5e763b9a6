"""
dns.py: a dnsmasq fixture serving the MX and A records a test needs.

    with Dns(mx=[("pref.example.net", "mx1.pref.example.net", 10)],
             hosts=[("mx1.pref.example.net", "127.0.0.2")],
             local=["example.net"]) as dns:
        Relay(resolver_port=dns.port, ...)

txt=[(name, text)] serves one TXT record per pair (a name may repeat).
ptr=[(addr, name)] serves PTR records (and makes dnsmasq authoritative
for the reverse zones, so an address without one gets NXDOMAIN); a
host-record of `hosts` also answers the PTR query of its address.  With
ptr=None (the default) reverse queries for other addresses are refused.

dnsmasq runs in the foreground on 127.0.0.1:PORT (UDP and TCP), reads no
config file, no /etc/hosts and no resolv.conf, so it never forwards a
query anywhere.  Names under a domain of `local` that it has no record for
get NXDOMAIN; a name it knows gets NODATA for the types it lacks.  The
process is registered for the runner's cleanup and stopped on exit.
"""
import ipaddress
import os
import socket
import struct
import subprocess
import time

from . import (Skip, free_udp_port, register_log, register_pid, stop_process,
               test_dir)

DNSMASQ = "/usr/sbin/dnsmasq"


def reverse_name(addr):
    """The PTR query name of an IPv4 or IPv6 address."""
    return ipaddress.ip_address(addr).reverse_pointer


class Dns:
    def __init__(self, mx=(), hosts=(), local=("example.net",
                                               "example.org"), ptr=None,
                 txt=()):
        self.ptr = None if ptr is None else list(ptr)
        self.txt = list(txt)
        self.mx = list(mx)
        self.hosts = list(hosts)
        self.local = list(local)
        self.port = None
        self.proc = None
        self.dir = None

    def start(self):
        if not os.path.exists(DNSMASQ):
            raise Skip("dnsmasq not installed (run tools/deps.sh)")
        self.dir = test_dir("dns")
        self.logpath = os.path.join(self.dir, "dnsmasq.log")
        register_log("dnsmasq", self.logpath)
        for _ in range(5):
            self.port = free_udp_port(tcp_too=True)
            args = [DNSMASQ, "--keep-in-foreground", "--port=%d" % self.port,
                    "--listen-address=127.0.0.1", "--bind-interfaces",
                    "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
                    "--pid-file=", "--no-negcache", "--log-queries",
                    "--log-facility=-", "--user=root"]
            for d in self.local:
                args.append("--local=/%s/" % d)
            for name, target, pref in self.mx:
                args.append("--mx-host=%s,%s,%d" % (name, target, pref))
            for name, addr in self.hosts:
                args.append("--host-record=%s,%s" % (name, addr))
            for name, text in self.txt:
                args.append("--txt-record=%s,%s" % (name, text))
            if self.ptr is not None:
                args += ["--local=/in-addr.arpa/", "--local=/ip6.arpa/"]
                for addr, name in self.ptr:
                    args.append("--ptr-record=%s,%s"
                                % (reverse_name(addr), name))
            log = open(self.logpath, "ab")
            self.proc = subprocess.Popen(args, stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL)
            log.close()
            register_pid(self.proc.pid)
            if self._wait_ready():
                return self
            self.stop()
        raise AssertionError("dnsmasq did not start: " + self.log()[-2000:])

    def _wait_ready(self):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if self.query("localhost.invalid", 1) is not None:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def query(self, name, qtype):
        """Send one query; return (rcode, answer count) or None."""
        qid = os.getpid() & 0xffff
        q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
        for label in name.rstrip(".").split("."):
            q += bytes([len(label)]) + label.encode()
        q += b"\0" + struct.pack(">HH", qtype, 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.5)
        try:
            s.sendto(q, ("127.0.0.1", self.port))
            r, _ = s.recvfrom(4096)
        except socket.timeout:
            return None
        finally:
            s.close()
        if len(r) < 12:
            return None
        _, flags, _, ancount, _, _ = struct.unpack(">HHHHHH", r[:12])
        return (flags & 0xf, ancount)

    def log(self):
        try:
            with open(self.logpath, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        stop_process(self.proc)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
