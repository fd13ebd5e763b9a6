"""
sink.py: a capturing next-hop SMTP server for the end-to-end tests.

Sink(addr, port) listens on a loopback address from an asyncio loop in its
own thread.  It speaks EHLO/HELO/MAIL/RCPT/DATA/RSET/NOOP/QUIT with strict
CRLF handling (a command line ending in a bare LF gets 500), and records
every accepted transaction as a Message (sender and its parameters, the
accepted recipients and their parameters, the data bytes after dot
unstuffing, the peer address and the connection number) in a thread-safe
list.  Per-test behaviour: reply codes for MAIL, for given RCPT addresses
(or domains, or all), at the end of DATA; a delay before every reply; the
EHLO keywords.  stop() closes the listener and every open connection (the
next hop is down, connections are refused); start() brings it back on the
same port.  Use it as a context manager so the thread always ends.
"""
import asyncio
import re
import threading
import time

DEFAULT_KEYWORDS = ("PIPELINING", "SIZE 104857600", "8BITMIME", "DSN",
                    "ENHANCEDSTATUSCODES")

# a quoted local part may hold '>' (RFC 5321 4.1.2)
_PATH = re.compile(rb'^(MAIL FROM|RCPT TO):\s*<((?:"(?:[^"\\]|\\.)*"|[^>"])*)>'
                   rb"\s*(.*)$", re.I)


class Message:
    """One transaction received by the sink."""

    def __init__(self, conn, peer, helo, mail_from, mail_params):
        self.conn = conn
        self.peer = peer
        self.helo = helo
        self.mail_from = mail_from
        self.mail_params = mail_params
        self.rcpts = []          # [(address, params)]
        self.data = b""
        self.bare_lf = False     # a data line ended in LF without CR
        self.time = None

    @property
    def rcpt_addrs(self):
        return [r[0] for r in self.rcpts]

    def header(self, name):
        """The first header field of that name (unfolded), or None."""
        return headers_of(self.data).get(name.lower(), [None])[0]

    def __repr__(self):
        return "<Message conn=%d from=<%s> to=%s %d bytes>" % (
            self.conn, self.mail_from, self.rcpt_addrs, len(self.data))


def headers_of(data):
    """Header fields of a message as {lowercase name: [values]}."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    fields = {}
    name = None
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t") and name:
            fields[name][-1] += " " + line.strip()
            continue
        if ":" not in line:
            continue
        name, value = line.split(":", 1)
        name = name.strip().lower()
        fields.setdefault(name, []).append(value.strip())
    return fields


class Sink:
    def __init__(self, addr="127.0.0.1", port=0, keywords=DEFAULT_KEYWORDS,
                 hostname="sink.test", autostart=True):
        self.autostart = autostart
        self.addr = addr
        self.port = port
        self.keywords = list(keywords)
        self.hostname = hostname
        # behaviours, changeable at any time by the test
        self.mail_reply = None        # (code, text) instead of 250
        self.rcpt_default = None      # (code, text) for every recipient
        self.rcpt_replies = {}        # address or "@domain" -> (code, text)
        self.data_reply = None        # (code, text) at the end of DATA
        self.data_replies = {}        # the same for one sender only
        self.delay = 0.0              # seconds before each reply
        self.greeting = None          # (code, text) instead of 220
        # STARTTLS (when offered in keywords): None answers 502 as to any
        # unknown command;
        # "break" says 220, then sends garbage instead of a handshake
        self.starttls = None
        # AUTH (when offered in keywords): None answers 502; else the
        # replies in turn, one per line of the client, from the AUTH
        # command on, while they are 334
        self.auth_script = None
        self._cond = threading.Condition()
        self._messages = []
        self._connections = 0
        self._commands = []           # (conn, line) as received
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever,
                                        daemon=True)
        self._thread.start()
        self._server = None
        self._writers = set()

    # --- life cycle -----------------------------------------------------
    def start(self):
        fut = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        fut.result(10)
        return self

    async def _start(self):
        self._server = await asyncio.start_server(
            self._session, self.addr, self.port, reuse_address=True,
            limit=1 << 20)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self):
        """Close the listener and drop every open connection."""
        if self._server is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._stop(), self._loop)
        fut.result(10)

    async def _stop(self):
        self._server.close()
        for w in list(self._writers):
            w.transport.abort()
        await self._server.wait_closed()
        self._server = None

    def close(self):
        try:
            self.stop()
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    def __enter__(self):
        if self._server is None and self.autostart:
            self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    # --- behaviours -------------------------------------------------------
    def reject_rcpt(self, who="*", code=550, text="5.1.1 No such user here"):
        """Reply code/text to RCPT for an address, an "@domain" or "*"."""
        if who == "*":
            self.rcpt_default = (code, text)
        else:
            self.rcpt_replies[who.lower()] = (code, text)

    # --- what was received --------------------------------------------------
    @property
    def messages(self):
        with self._cond:
            return list(self._messages)

    @property
    def connections(self):
        with self._cond:
            return self._connections

    @property
    def commands(self):
        with self._cond:
            return list(self._commands)

    def messages_to(self, rcpt):
        rcpt = rcpt.lower()
        return [m for m in self.messages
                if rcpt in [a.lower() for a in m.rcpt_addrs]]

    def bounces(self):
        """Messages with the null sender (DSNs)."""
        return [m for m in self.messages if m.mail_from == ""]

    def wait_for(self, n, timeout=20, pred=None):
        """Wait until n messages (matching pred) arrived; return them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = [m for m in self._messages if pred is None or pred(m)]
                if len(got) >= n:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        "sink %s:%d: %d of %d messages after %.0fs: %r"
                        % (self.addr, self.port, len(got), n, timeout,
                           got[:5]))
                self._cond.wait(min(left, 0.2))

    # --- the protocol -------------------------------------------------------
    def _rcpt_reply(self, addr):
        a = addr.lower()
        if a in self.rcpt_replies:
            return self.rcpt_replies[a]
        dom = "@" + a.rsplit("@", 1)[-1]
        if dom in self.rcpt_replies:
            return self.rcpt_replies[dom]
        if self.rcpt_default is not None:
            return self.rcpt_default
        return (250, "2.1.5 Ok")

    async def _session(self, reader, writer):
        with self._cond:
            self._connections += 1
            conn = self._connections
        self._writers.add(writer)
        peer = writer.get_extra_info("peername")[0]
        s = _SessionState(conn, peer)
        try:
            code, text = self.greeting or (220, self.hostname + " ESMTP sink")
            await self._reply(writer, code, text)
            if code >= 400:
                return
            while True:
                line = await reader.readline()
                if not line:
                    return
                with self._cond:
                    self._commands.append((conn, line))
                if not line.endswith(b"\r\n") or b"\r" in line[:-2]:
                    await self._reply(writer, 500, "5.5.2 bare CR or LF")
                    continue
                if not await self._command(s, line[:-2], reader, writer):
                    return
        except (ConnectionError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            self._writers.discard(writer)
            writer.transport.abort()

    async def _reply(self, writer, code, text, lines=None):
        if self.delay:
            await asyncio.sleep(self.delay)
        out = b""
        for extra in lines or []:
            out += b"%d-%s\r\n" % (code, extra.encode())
        out += b"%d %s\r\n" % (code, text.encode())
        writer.write(out)
        await writer.drain()

    async def _command(self, s, line, reader, writer):
        verb = line.split(b" ", 1)[0].upper()
        if verb == b"EHLO" or verb == b"HELO":
            s.helo = line[5:].decode("utf-8", "replace").strip()
            s.reset()
            if verb == b"EHLO":
                await self._reply(writer, 250, self.keywords[-1]
                                  if self.keywords else self.hostname,
                                  [self.hostname] + self.keywords[:-1]
                                  if self.keywords else None)
            else:
                await self._reply(writer, 250, self.hostname)
        elif verb == b"MAIL":
            await self._mail(s, line, writer)
        elif verb == b"RCPT":
            await self._rcpt(s, line, writer)
        elif verb == b"DATA":
            await self._data(s, reader, writer)
        elif verb == b"RSET":
            s.reset()
            await self._reply(writer, 250, "2.0.0 Ok")
        elif verb == b"NOOP":
            await self._reply(writer, 250, "2.0.0 Ok")
        elif verb == b"STARTTLS" and self.starttls == "break":
            await self._reply(writer, 220, "2.0.0 Ready to start TLS")
            writer.write(b"this is not a TLS handshake\r\n")
            await writer.drain()
            return False
        elif verb == b"AUTH" and self.auth_script is not None:
            await self._auth(s, reader, writer)
        elif verb == b"QUIT":
            await self._reply(writer, 221, "2.0.0 Bye")
            return False
        else:
            await self._reply(writer, 502, "5.5.1 Unknown command")
        return True

    async def _auth(self, s, reader, writer):
        for code, text in self.auth_script:
            await self._reply(writer, code, text)
            if code != 334:
                return
            line = (await reader.readline()).rstrip(b"\r\n")
            with self._cond:
                self._commands.append((s.conn, line))

    async def _mail(self, s, line, writer):
        m = _PATH.match(line)
        if s.helo is None or s.tx is not None or m is None or \
                m.group(1).upper() != b"MAIL FROM":
            await self._reply(writer, 503, "5.5.1 Bad sequence or syntax")
            return
        if self.mail_reply:
            await self._reply(writer, *self.mail_reply)
            if self.mail_reply[0] >= 400:
                return
        else:
            await self._reply(writer, 250, "2.1.0 Ok")
        s.tx = Message(s.conn, s.peer, s.helo, m.group(2).decode(
            "utf-8", "replace"), m.group(3).decode("utf-8", "replace"))

    async def _rcpt(self, s, line, writer):
        m = _PATH.match(line)
        if s.tx is None or m is None or m.group(1).upper() != b"RCPT TO":
            await self._reply(writer, 503, "5.5.1 Bad sequence or syntax")
            return
        addr = m.group(2).decode("utf-8", "replace")
        code, text = self._rcpt_reply(addr)
        if code < 300:
            s.tx.rcpts.append((addr, m.group(3).decode("utf-8", "replace")))
        await self._reply(writer, code, text)

    async def _data(self, s, reader, writer):
        if s.tx is None or not s.tx.rcpts:
            await self._reply(writer, 554, "5.5.1 No valid recipients")
            return
        await self._reply(writer, 354, "End data with <CR><LF>.<CR><LF>")
        data = bytearray()
        tx = s.tx
        while True:
            line = await reader.readline()
            if not line:
                raise ConnectionError("eof in DATA")
            if line == b".\r\n":
                break
            if not line.endswith(b"\r\n"):
                tx.bare_lf = True
            if line.startswith(b"."):
                line = line[1:]
            data += line
        tx.data = bytes(data)
        s.tx = None
        code, text = self.data_replies.get(tx.mail_from.lower()) or \
            self.data_reply or (250, "2.0.0 Ok: queued as SINK%d" % tx.conn)
        if code < 300:
            tx.time = time.time()
            with self._cond:
                self._messages.append(tx)
                self._cond.notify_all()
        await self._reply(writer, code, text)


class _SessionState:
    def __init__(self, conn, peer):
        self.conn = conn
        self.peer = peer
        self.helo = None
        self.tx = None

    def reset(self):
        self.tx = None


def without_received(data):
    """A message's bytes without the Received: field(s) put first."""
    lines = data.split(b"\r\n")
    while lines and (lines[0].startswith(b"Received:") or
                     lines[0][:1] in (b" ", b"\t")):
        lines.pop(0)
    return b"\r\n".join(lines)
