"""sendmail's ClientConn: and ClientRate: access-map entries (spec 9.8;
FEATURE(conncontrol) and FEATURE(ratecontrol) with nodelay and
terminate): an address over its open-connection or connection-rate limit
is told "421 4.3.2 Too many open connections." or "421 4.3.2
Connection rate limit exceeded." and closed, an entry for the address
wins over the bare default, 0 is no limit, and limit
connection-rate-per-address is ClientRate's default in smtpd.conf."""
from lib import clients
from lib.daemon import Relay
from lib.sink import Sink

CONN = (421, ["4.3.2 Too many open connections."])
RATE = (421, ["4.3.2 Connection rate limit exceeded."])


def _add(relay, key, value):
    rc, out = relay.smtpctl("access", "add", key, value)
    assert rc == 0, (rc, out)


def _greeting(port, source="127.0.0.1"):
    """The greeting (code, texts); a refused client must be closed."""
    raw = clients.Raw(port, source=source, timeout=10)
    try:
        if raw.greeting[0] == 421:
            assert raw.closed(5), "a refused client stays connected"
        return raw.greeting
    finally:
        raw.close()


def test_client_conn_entry_for_the_address():
    with Sink() as sink, Relay(sink=sink) as relay:
        held = [clients.Raw(relay.port) for _ in range(2)]
        try:
            assert all(r.greeting[0] == 220 for r in held), \
                [r.greeting for r in held]
            # policyd's answer for the third session brings the limit
            _add(relay, "ClientConn:127.0.0.1", "2")
            assert _greeting(relay.port) == CONN
            relay.wait_for_log(r"ruleset=check_relay, arg1=\[127\.0\.0\.1\], "
                               r"Open connections 3 exceeds limit 2, "
                               r"reject=421 4\.3\.2 Too many open "
                               r"connections\.")
            # the address's limit is known now: refused at once
            assert _greeting(relay.port) == CONN
            relay.wait_for_log(r"connection from 127\.0\.0\.1 refused on "
                               r"\S+: Open connections 3 exceeds limit 2: "
                               r"421 4\.3\.2 Too many open connections\.")
            assert relay.stats().get("smtp.session.refused_conn") == "2"
            # another address is not counted with it
            assert _greeting(relay.port, "127.0.0.2")[0] == 220
        finally:
            for r in held:
                r.close()


def test_client_conn_address_wins_over_default():
    with Sink() as sink, Relay(sink=sink) as relay:
        _add(relay, "ClientConn:", "1")
        _add(relay, "ClientConn:127.0.0.3", "0")
        held = [clients.Raw(relay.port, source="127.0.0.3")
                for _ in range(3)]
        try:
            # 0: no limit for 127.0.0.3
            assert all(r.greeting[0] == 220 for r in held), \
                [r.greeting for r in held]
            one = clients.Raw(relay.port, source="127.0.0.4")
            try:
                assert one.greeting[0] == 220, one.greeting
                # the default of 1 for everyone else
                assert _greeting(relay.port, "127.0.0.4") == CONN
            finally:
                one.close()
        finally:
            for r in held:
                r.close()


def test_client_rate_entry_and_default():
    with Sink() as sink, Relay(sink=sink) as relay:
        _add(relay, "ClientRate:", "2")
        _add(relay, "ClientRate:127.0.0.5", "4")
        for _ in range(2):
            assert _greeting(relay.port, "127.0.0.6")[0] == 220
        assert _greeting(relay.port, "127.0.0.6") == RATE
        relay.wait_for_log(r"Connection rate 3 exceeds limit 2")
        for _ in range(4):
            assert _greeting(relay.port, "127.0.0.5")[0] == 220
        assert _greeting(relay.port, "127.0.0.5") == RATE
        assert int(relay.stats().get("smtp.session.refused_rate")) >= 2


def test_connection_rate_per_address_in_smtpd_conf():
    with Sink() as sink, Relay(sink=sink, conf={
            "limit connection-rate-per-address": "3"}) as relay:
        for _ in range(3):
            assert _greeting(relay.port, "127.0.0.7")[0] == 220
        assert _greeting(relay.port, "127.0.0.7") == RATE
        relay.wait_for_log(r"connection from 127\.0\.0\.7 refused on \S+: "
                           r"Connection rate 4 exceeds limit 3: 421 4\.3\.2 "
                           r"Connection rate limit exceeded\.")
        # other addresses have their own count
        assert _greeting(relay.port, "127.0.0.8")[0] == 220
        # a map entry for the address wins over smtpd.conf
        _add(relay, "ClientRate:127.0.0.8", "0")
        for _ in range(4):
            assert _greeting(relay.port, "127.0.0.8")[0] == 220


def test_client_limit_values_are_checked():
    with Relay() as relay:
        r = relay.smtpctl_run("access", "add", "ClientRate:", "many")
        err = r.stderr.decode()
        assert r.returncode != 0 and \
            "ClientConn and ClientRate take a number" in err, \
            (r.returncode, err)


def test_explain_shows_the_client_limits():
    with Relay(start=False, conf={
            "limit connection-rate-per-address": "7"}) as relay:
        rc, out = relay.makemap("access", "ClientConn:192.0.2 3\n")
        assert rc == 0, out
        rc, out = relay.smtpctl("explain", "addr", "192.0.2.9")
        assert rc == 0, out
        lines = [l for l in out.splitlines()
                 if l.startswith("Client limits\t")]
        assert "Client limits\tlimit\tClientConn: 3 sessions at once, " \
            "then 421 4.3.2 Too many open connections." in lines, lines
        assert "Client limits\tlimit\tClientRate: no entry, limit " \
            "connection-rate-per-address 7 connections in 60 s, then " \
            "421 4.3.2 Connection rate limit exceeded." in lines, lines


def test_a_burst_is_refused_from_the_one_past_the_rate():
    """Connections that arrive before policyd's first answer are judged
    by their own place in the window, not by the count when the answer
    comes: of three at once under ClientRate: 2, the third is refused."""
    with Relay() as relay:
        _add(relay, "ClientRate:127.0.0.23", "2")
        raws = [clients.Raw(relay.port, source="127.0.0.23", timeout=10,
                            greeting=False) for _ in range(3)]
        try:
            greetings = [r.reply() for r in raws]
        finally:
            for r in raws:
                r.close()
        assert [g[0] for g in greetings] == [220, 220, 421], greetings
        assert greetings[2] == RATE, greetings
