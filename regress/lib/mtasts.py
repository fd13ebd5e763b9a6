"""
mtasts.py: an MTA-STS policy server (RFC 8461 3.3) for the tests: HTTPS
on ADDR:443 (IPv4 or IPv6) with a certificate of the test CA for mta-sts.DOMAIN, serving
/.well-known/mta-sts.txt as text/plain.

    with PolicyServer(ca, "sts.example.net", "127.0.3.7",
                      "version: STSv1\\nmode: enforce\\n...") as web:
        web.fetches          # GETs of the policy answered so far
        web.status = 404     # the next answers fail

The DNS of the test points mta-sts.DOMAIN at ADDR (lib/dns.py hosts) and
serves the _mta-sts TXT record.  The server runs in a thread of the test
and is shut down on exit.
"""
import http.server
import socket
import ssl
import threading


class _Server(http.server.ThreadingHTTPServer):
    allow_reuse_address = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        srv = self.server.owner
        srv.requests.append((self.path, self.headers.get("Host")))
        if self.path != "/.well-known/mta-sts.txt" or srv.status != 200:
            self.send_error(srv.status if srv.status != 200 else 404)
            return
        srv.fetches += 1
        body = srv.policy.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class PolicyServer:
    def __init__(self, ca, domain, addr, policy, cert=None, hang=False):
        """hang: listen only, so a client's TLS handshake never ends."""
        self.ca = ca
        self.hang = hang
        self.hung = None
        self.domain = domain
        self.addr = addr
        self.policy = policy
        self.cert = cert
        self.status = 200
        self.fetches = 0
        self.requests = []
        self.httpd = None
        self.thread = None

    def start(self):
        if self.hang:
            self.hung = socket.socket(socket.AF_INET6 if ":" in self.addr
                                      else socket.AF_INET)
            self.hung.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.hung.bind((self.addr, 443))
            self.hung.listen(16)
            return self
        cert = self.cert or self.ca.issue("mta-sts." + self.domain)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert.chain, cert.key)
        cls = _Server6 if ":" in self.addr else _Server
        self.httpd = cls((self.addr, 443), _Handler)
        self.httpd.owner = self
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket,
                                            server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.hung is not None:
            self.hung.close()
            self.hung = None
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
