#!/usr/bin/python3
"""A test milter on python3-milter (libmilter underneath).

    filter.py SOCKET MODE

SOCKET is a path (a unix socket) or inet:PORT@HOST.
MODE says what it does: "modify" asks for every modification action at
the end of the message; "mod-ACTION" for one of them (addheader,
insheader, chgheader, delheader, replbody, chgfrom, addrcpt, addrcpt_par,
delrcpt, quarantine, badheader: a value that would start a field of
its own); "reject-STAGE", "tempfail-STAGE", "discard-STAGE",
"accept-STAGE" and "code-STAGE" (a 550 with its own text through
setreply) answer so at that stage (connect, helo, mail, rcpt, unknown,
header, eoh, body, eom); "die-STAGE" exits there; "skip-body" answers the first
body chunk with SKIP; "exitafter-eom" exits half a second after
answering the end of the message, "modexit-eom" right after adding a
header there, "slow-eom" takes 3 s to add it, "progress-eom" takes 4 s
asking for more time every half second.  With FILTER_LOG set, what it saw of each message
(macros, header fields, body size and chunks) is appended to that file
as one JSON line at the end of the message.  Addresses it adds are in
FILTER_DOMAIN (example.net).  It runs until killed."""
import json
import os
import sys
import threading
import time

import Milter

MODE = sys.argv[2]
LOG = os.environ.get("FILTER_LOG")
DOMAIN = os.environ.get("FILTER_DOMAIN", "example.net")
MACROS = ("i", "j", "{daemon_name}", "{client_addr}", "{mail_addr}",
          "{rcpt_addr}", "{auth_authen}", "{auth_type}", "{tls_version}",
          "{cipher}",
          "{verify}", "{cert_subject}")


class TestMilter(Milter.Base):
    def __init__(self):
        self.headers = []
        self.bodydata = b""
        self.chunks = 0
        self.macros = {}

    def _answer(self, stage):
        verb, _, where = MODE.partition("-")
        if where != stage:
            return Milter.CONTINUE
        if verb == "die":
            os._exit(3)
        if verb == "reject":
            return Milter.REJECT
        if verb == "tempfail":
            return Milter.TEMPFAIL
        if verb == "discard":
            return Milter.DISCARD
        if verb == "accept":
            return Milter.ACCEPT
        if verb == "skip":
            return Milter.SKIP
        if verb == "code":
            self.setreply("550", "5.7.1", "test milter says no at " + stage)
            return Milter.REJECT
        return Milter.CONTINUE

    def _macros(self):
        for name in MACROS:
            value = self.getsymval(name)
            if value is not None:
                self.macros[name] = value

    def connect(self, hostname, family, hostaddr):
        self._macros()
        return self._answer("connect")

    def hello(self, name):
        return self._answer("helo")

    def envfrom(self, sender, *params):
        self.headers = []
        self.bodydata = b""
        self.chunks = 0
        self._macros()
        return self._answer("mail")

    def envrcpt(self, rcpt, *params):
        self._macros()
        return self._answer("rcpt")

    def header(self, name, value):
        self.headers.append([name, value])
        return self._answer("header")

    def eoh(self):
        return self._answer("eoh")

    def body(self, chunk):
        self.bodydata += chunk
        self.chunks += 1
        return self._answer("body")

    def _modify_all(self):
        self.addheader("X-Test-Milter", "added")
        self.addheader("X-Test-First", "inserted", 0)
        self.chgheader("Subject", 1, "changed")
        self.chgfrom("<new@example.org>", "SIZE=10")
        self.addrcpt("<added@example.net>")
        self.addrcpt("<par@example.net>", "NOTIFY=NEVER")
        self.delrcpt("<b@example.net>")
        self.replacebody(b"new body\r\n")
        self.quarantine("held by the test milter")

    def _modify(self, what):
        d = DOMAIN
        if what == "addheader":
            self.addheader("X-Test-Milter", "added\n\tfolded")
        elif what == "insheader":
            self.addheader("X-Test-First", "inserted", 0)
        elif what == "chgheader":
            self.chgheader("Subject", 1, "changed")
        elif what == "delheader":
            self.chgheader("Subject", 1, "")
        elif what == "chgfrom":
            self.chgfrom("<new@%s>" % d, "SIZE=10")
        elif what == "addrcpt":
            self.addrcpt("<added@%s>" % d)
        elif what == "addrcpt_par":
            self.addrcpt("<par@%s>" % d, "NOTIFY=NEVER")
        elif what == "delrcpt":
            self.delrcpt("<c@%s>" % d)
        elif what == "replbody":
            for line in (b"new body\n", b"second line\r", b"\nthird"):
                self.replacebody(line)
        elif what == "quarantine":
            self.quarantine("held by the test milter")
        elif what == "badheader":
            self.addheader("X-Bad", "one\nTwo: injected")

    def eom(self):
        self._macros()
        if LOG:
            with open(LOG, "a") as f:
                f.write(json.dumps({
                    "macros": self.macros, "headers": self.headers,
                    "body_len": len(self.bodydata), "chunks": self.chunks,
                    "body_head": self.bodydata[:200].decode("latin-1")}) + "\n")
        if MODE == "exitafter-eom":
            threading.Timer(0.5, os._exit, (0,)).start()
            return Milter.CONTINUE
        if MODE == "modexit-eom":
            self._modify("addheader")
            threading.Timer(0.05, os._exit, (0,)).start()
            return Milter.CONTINUE
        if MODE == "progress-eom":
            for _ in range(8):
                time.sleep(0.5)
                self.progress()
            return Milter.CONTINUE
        if MODE == "slow-eom":
            time.sleep(3)
            self._modify("addheader")
            return Milter.CONTINUE
        if MODE == "modify":
            self._modify_all()
            return Milter.ACCEPT
        if MODE.startswith("mod-"):
            self._modify(MODE[4:])
            return Milter.CONTINUE
        return self._answer("eom")

    def unknown(self, cmd):
        return self._answer("unknown")

    def abort(self):
        return Milter.CONTINUE

    def close(self):
        return Milter.CONTINUE


def main():
    Milter.factory = TestMilter
    Milter.set_flags(Milter.ADDHDRS | Milter.CHGBODY | Milter.ADDRCPT |
                     Milter.ADDRCPT_PAR | Milter.DELRCPT | Milter.CHGHDRS |
                     Milter.QUARANTINE | Milter.CHGFROM)
    sock = sys.argv[1]
    Milter.runmilter("testmilter", sock if sock.startswith("inet:")
                     else "unix:" + sock, 30)


if __name__ == "__main__":
    main()
