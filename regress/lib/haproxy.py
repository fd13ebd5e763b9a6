"""
haproxy.py: a real HAProxy (Debian's 2.6) in TCP mode in front of a
relay, sending the PROXY protocol header, version 1 or 2, to it.

    with HAProxy(relay_port) as hp:
        hp.port_v1, hp.port_v2      # where clients connect

With tls=(cert, ca) it also ends TLS for clients itself on hp.port_tls
(implicit TLS with the test certificate, a client certificate of ca
verified if given) and sends version 2 with the TLS facts as TLVs
(proxy-v2-options ssl,cert-cn,ssl-cipher).

It runs in the foreground (-db) with a config in its own directory,
is registered for the runner's cleanup and stopped on exit.
"""
import os
import socket
import subprocess
import time

from . import (Skip, free_port, read_text, register_log, register_pid,
               stop_process, test_dir)

HAPROXY = "/usr/sbin/haproxy"


class HAProxy:
    def __init__(self, backend_port, backend_addr="127.0.0.1", tls=None):
        if not os.access(HAPROXY, os.X_OK):
            raise Skip("haproxy not installed (run tools/deps.sh)")
        self.dir = test_dir("haproxy")
        self.backend = (backend_addr, backend_port)
        self.port_v1 = free_port()
        self.port_v2 = free_port()
        self.tls = tls
        self.port_tls = free_port() if tls else None
        self.proc = None

    def _conf(self):
        path = os.path.join(self.dir, "haproxy.cfg")
        addr, port = self.backend
        with open(path, "w") as f:
            f.write("global\n  maxconn 200\n"
                    "defaults\n  mode tcp\n  timeout connect 5s\n"
                    "  timeout client 60s\n  timeout server 60s\n")
            for name, p, opt in (("v1", self.port_v1, "send-proxy"),
                                 ("v2", self.port_v2, "send-proxy-v2")):
                f.write("frontend f%s\n  bind 127.0.0.1:%d\n"
                        "  default_backend b%s\n"
                        "backend b%s\n  server relay %s:%d %s\n"
                        % (name, p, name, name, addr, port, opt))
            if self.tls:
                f.write(self._tls_conf(addr, port))
        return path

    def _tls_conf(self, addr, port):
        cert, ca = self.tls
        pem = os.path.join(self.dir, "crt.pem")
        with open(pem, "w") as f:
            f.write(read_text(cert.chain) + read_text(cert.key))
        verify = " ca-file %s verify optional" % ca.cert if ca else ""
        return ("frontend ftls\n  bind 127.0.0.1:%d ssl crt %s%s\n"
                "  default_backend btls\n"
                "backend btls\n  server relay %s:%d send-proxy-v2 "
                "proxy-v2-options ssl,cert-cn,ssl-cipher\n"
                % (self.port_tls, pem, verify, addr, port))

    def start(self):
        conf = self._conf()
        self.logpath = os.path.join(self.dir, "haproxy.log")
        register_log("haproxy", self.logpath)
        log = open(self.logpath, "ab")
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", conf],
                                     stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL)
        log.close()
        register_pid(self.proc.pid)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            ports = [self.port_v1, self.port_v2] + \
                ([self.port_tls] if self.tls else [])
            if all(self._listening(p) for p in ports):
                return self
            time.sleep(0.05)
        raise AssertionError("haproxy did not start: " + self.log())

    @staticmethod
    def _listening(port):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    def log(self):
        return read_text(self.logpath)

    def stop(self):
        stop_process(self.proc)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
