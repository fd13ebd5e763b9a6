#!/usr/bin/python3
"""A test milter on python3-milter (libmilter underneath).

    filter.py SOCKET MODE

SOCKET is a path (a unix socket) or inet:PORT@HOST.
MODE says what it does: "modify" asks for every modification action at
the end of the message; "reject-STAGE", "tempfail-STAGE", "discard-STAGE"
and "code-STAGE" (a 550 with its own text through setreply) answer so at
that stage (connect, helo, mail, rcpt, header, eoh, body, eom);
"die-body" exits in the middle of the message.  It runs until killed."""
import os
import sys

import Milter

MODE = sys.argv[2]


class TestMilter(Milter.Base):
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
        if verb == "code":
            self.setreply("550", "5.7.1", "test milter says no at " + stage)
            return Milter.REJECT
        return Milter.CONTINUE

    def connect(self, hostname, family, hostaddr):
        return self._answer("connect")

    def hello(self, name):
        return self._answer("helo")

    def envfrom(self, sender, *params):
        return self._answer("mail")

    def envrcpt(self, rcpt, *params):
        return self._answer("rcpt")

    def header(self, name, value):
        return self._answer("header")

    def eoh(self):
        return self._answer("eoh")

    def body(self, chunk):
        return self._answer("body")

    def eom(self):
        if MODE == "modify":
            self.addheader("X-Test-Milter", "added")
            self.addheader("X-Test-First", "inserted", 0)
            self.chgheader("Subject", 1, "changed")
            self.chgfrom("<new@example.org>", "SIZE=10")
            self.addrcpt("<added@example.net>")
            self.addrcpt("<par@example.net>", "NOTIFY=NEVER")
            self.delrcpt("<b@example.net>")
            self.replacebody(b"new body\r\n")
            self.quarantine("held by the test milter")
            return Milter.ACCEPT
        return self._answer("eom")

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
