"""
dnssec.py: a DNSSEC-signed tree on loopback, served by nsd, signed with
ldns (ldns-keygen, ldns-signzone) at test time; nothing is checked in.

    with SignedDns() as dns:
        dns.zone("secure.example", ["@ MX 10 mx", "mx A 127.0.0.1",
                                 "_25._tcp.mx TLSA 3 1 1 ..."])
        dns.zone("plain.example", [...], signed=False)      # insecure
        dns.zone("broken.example", [...], bogus=True)       # bogus
        dns.start()
        dns.port, dns.anchor        # nsd's port; the trust anchor file

The parent zone "example." is signed and is the trust anchor (its key
signing key's DNSKEY, in anchor); each child is delegated from it.  A
signed child has its DS in the parent, so it validates as secure (RFC
4035); an unsigned one has no DS, so a validator finds it insecure; a
bogus one has its DS but signatures that expired in 2020, so it is bogus
(RFC 7672 2.2's three cases).  nsd answers for the parent and every
child itself, so a validating resolver forwarding to it (libunbound's
ub_ctx_set_fwd, unbound-host -C) sees the whole chain.  The process runs
in the foreground on 127.0.0.1:PORT, UDP and TCP, is registered for the
runner's cleanup and stopped on exit.
"""
import os
import socket
import struct
import subprocess
import time

from . import (Skip, free_udp_port, read_text, register_log, register_pid,
               stop_process, test_dir)

NSD = "/usr/sbin/nsd"
KEYGEN = "/usr/bin/ldns-keygen"
SIGNZONE = "/usr/bin/ldns-signzone"
ALGORITHM = "ECDSAP256SHA256"
PARENT = "example"


def _run(cwd, *args):
    r = subprocess.run(list(args), cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                       timeout=60)
    if r.returncode != 0:
        raise AssertionError("%s: %s" % (" ".join(args),
                                         r.stdout.decode("utf-8",
                                                         "replace")))
    return r.stdout.decode().strip()


class _Zone:
    def __init__(self, name, records, signed, bogus):
        self.name = name
        self.records = list(records)
        self.signed = signed or bogus
        self.bogus = bogus
        self.ksk = self.zsk = None


class SignedDns:
    def __init__(self):
        for tool in (NSD, KEYGEN, SIGNZONE):
            if not os.access(tool, os.X_OK):
                raise Skip("%s not installed (run tools/deps.sh)" % tool)
        self.dir = test_dir("dnssec")
        self.zones = []
        self.port = None
        self.proc = None
        self.anchor = os.path.join(self.dir, "anchor.key")

    def zone(self, name, records, signed=True, bogus=False):
        """A child zone of example. (name ends in .example): records are zone
        file lines relative to it; an NS record and its glue are added."""
        assert name.endswith("." + PARENT), name
        self.zones.append(_Zone(name, records, signed, bogus))
        return self

    def _keys(self, name):
        """(KSK base name, ZSK base name) of a new key pair for name."""
        ksk = _run(self.dir, KEYGEN, "-a", ALGORITHM, "-k", name)
        zsk = _run(self.dir, KEYGEN, "-a", ALGORITHM, name)
        return ksk, zsk

    def _write(self, name, lines, keys):
        path = os.path.join(self.dir, name + ".zone")
        with open(path, "w") as f:
            f.write("$ORIGIN %s.\n$TTL 300\n" % name)
            f.write("@ SOA ns.%s. hostmaster.%s. 1 3600 600 86400 300\n"
                    % (name, name))
            f.write("@ NS ns.%s.\nns A 127.0.0.1\n" % name)
            for line in lines:
                f.write(line + "\n")
            for k in keys:
                with open(os.path.join(self.dir, k + ".key")) as kf:
                    f.write(kf.read())
        return path

    def _sign(self, path, name, keys, expired=False):
        args = [SIGNZONE, "-o", name]
        if expired:
            args += ["-i", "20191201000000", "-e", "20200101000000"]
        _run(self.dir, *(args + [path] + list(keys)))
        return path + ".signed"

    def _build(self):
        parent_lines = []
        files = {}
        for z in self.zones:
            child = z.name[:-len(PARENT) - 1]
            parent_lines.append("%s NS ns.%s." % (child, z.name))
            if z.signed:
                z.ksk, z.zsk = self._keys(z.name)
                with open(os.path.join(self.dir, z.ksk + ".ds")) as f:
                    parent_lines.append(f.read().strip())
                path = self._write(z.name, z.records, (z.ksk, z.zsk))
                files[z.name] = self._sign(path, z.name, (z.zsk, z.ksk),
                                           expired=z.bogus)
            else:
                files[z.name] = self._write(z.name, z.records, ())
        ksk, zsk = self._keys(PARENT)
        path = self._write(PARENT, parent_lines, (ksk, zsk))
        files[PARENT] = self._sign(path, PARENT, (zsk, ksk))
        with open(os.path.join(self.dir, ksk + ".key")) as f, \
                open(self.anchor, "w") as out:
            out.write(f.read())
        return files

    def _conf(self, files):
        path = os.path.join(self.dir, "nsd.conf")
        with open(path, "w") as f:
            f.write("server:\n"
                    "  ip-address: 127.0.0.1\n"
                    "  port: %d\n"
                    "  username: \"\"\n"
                    "  chroot: \"\"\n"
                    "  zonesdir: \"%s\"\n"
                    "  database: \"\"\n"
                    "  zonelistfile: \"%s/zone.list\"\n"
                    "  xfrdfile: \"%s/xfrd.state\"\n"
                    "  pidfile: \"%s/nsd.pid\"\n"
                    "  logfile: \"%s/nsd.log\"\n"
                    "  server-count: 1\n"
                    "  verbosity: 1\n"
                    "remote-control:\n"
                    "  control-enable: no\n"
                    % (self.port, self.dir, self.dir, self.dir, self.dir,
                       self.dir))
            for name, zf in sorted(files.items()):
                f.write("zone:\n  name: \"%s\"\n  zonefile: \"%s\"\n"
                        % (name, zf))
        return path

    def start(self):
        files = self._build()
        self.logpath = os.path.join(self.dir, "nsd.log")
        register_log("nsd", self.logpath)
        for _ in range(5):
            self.port = free_udp_port(tcp_too=True)
            conf = self._conf(files)
            _run(self.dir, "/usr/sbin/nsd-checkconf", conf)
            out = open(os.path.join(self.dir, "nsd.out"), "ab")
            self.proc = subprocess.Popen([NSD, "-d", "-c", conf],
                                         stdout=out, stderr=out,
                                         stdin=subprocess.DEVNULL)
            out.close()
            register_pid(self.proc.pid)
            if self._wait_ready():
                return self
            self.stop()
        raise AssertionError("nsd did not start: " + self.log()[-2000:])

    def _wait_ready(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if self._answers_soa():
                return True
            time.sleep(0.05)
        return False

    def _answers_soa(self):
        """Whether nsd answers the SOA query of the parent zone."""
        q = struct.pack(">HHHHHH", 0x5151, 0, 1, 0, 0, 0)
        q += bytes([len(PARENT)]) + PARENT.encode() + b"\0"
        q += struct.pack(">HH", 6, 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.2)
        try:
            s.sendto(q, ("127.0.0.1", self.port))
            r, _ = s.recvfrom(4096)
        except OSError:
            return False
        finally:
            s.close()
        return len(r) >= 12 and struct.unpack(">H", r[6:8])[0] > 0

    def log(self):
        return read_text(os.path.join(self.dir, "nsd.log"),
                         os.path.join(self.dir, "nsd.out"))

    def stop(self):
        stop_process(self.proc)
        self.proc = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
