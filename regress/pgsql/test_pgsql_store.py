"""The PostgreSQL policy store (`database postgresql "CONNINFO"`, issue 17).

A real PostgreSQL 15 (lib/pgsql.py) holds the maps.  smtpctl writes them
there (the SQLite file is never made), and policyd's cache is dropped by
the NOTIFY of the maps' trigger: a key it has seen (and cached as absent)
changes within a second, for the first connection after the notification
reached policyd.  A stopped server gives 4.3.0 (421 at the greeting: never an
accept), one log line
per change of state, and mail is accepted again once the server is back.
Two relays on one machine share one server: a `smtpctl map` change made
with one relay's config reaches the other within a second.  A password
in the conninfo is refused by `smtpd -n`; it comes from the pgpass file
beside the database path, which smtpctl (as root) and the chrooted
policyd both read, over TLS (sslmode=require).
"""
import os
import pwd
import time

from lib import clients, smtpd_check, wait_until
from lib.certs import TestCA
from lib.daemon import Relay
from lib.pgsql import Postgres, await_notify, notify_count
from lib.sink import Sink

SENDER = "alice@client.test"


def _relay(pg, sink, start=True):
    return Relay(sink=sink, start=start,
                 conf={"database postgresql": '"%s"' % pg.conninfo})


def _mail_reply(port):
    with clients.Raw(port) as raw:
        assert raw.greeting[0] == 220, raw.greeting
        raw.cmd("EHLO client.test")
        return raw.cmd("MAIL FROM:<%s>" % SENDER)


def _refusal(port):
    """The first reply that is not a 2xx: the greeting's, or MAIL's."""
    with clients.Raw(port) as raw:
        if raw.greeting[0] != 220:
            return raw.greeting
        raw.cmd("EHLO client.test")
        return raw.cmd("MAIL FROM:<%s>" % SENDER)


def _rcpt_reply(port, rcpt):
    with clients.Raw(port) as raw:
        assert raw.greeting[0] == 220, raw.greeting
        raw.cmd("EHLO client.test")
        code, texts = raw.cmd("MAIL FROM:<%s>" % SENDER)
        assert code == 250, (code, texts)
        return raw.cmd("RCPT TO:<%s>" % rcpt)


def test_maps_live_in_postgresql_and_changes_apply_at_once():
    with Postgres() as pg, Sink() as sink, _relay(pg, sink) as relay:
        # the first lookup makes policyd cache "no Connect: entry"
        assert _mail_reply(relay.port)[0] == 250
        before = notify_count(relay)
        rc, out = relay.smtpctl("access", "add", "Connect:127.0.0.1",
                                "REJECT")
        assert rc == 0, out
        assert await_notify(relay, before) < 1.0
        assert pg.psql("SELECT map, key, value FROM maps") == \
            [["access", "connect:127.0.0.1", "REJECT"]]
        assert not os.path.exists(relay.database)
        code, texts = _mail_reply(relay.port)
        assert code == 550 and texts[0] == "5.7.1 Access denied", \
            (code, texts)
        before = notify_count(relay)
        rc, out = relay.smtpctl("access", "delete", "Connect:127.0.0.1")
        assert rc == 0, out
        await_notify(relay, before)
        assert _mail_reply(relay.port)[0] == 250
        # a change made by anyone (here psql) is NOTIFYd by the trigger
        before = notify_count(relay)
        pg.psql("INSERT INTO maps VALUES ('access', 'from:client.test', "
                "'ERROR:550 5.7.1 go away')")
        await_notify(relay, before)
        code, texts = _mail_reply(relay.port)
        assert code == 550 and "go away" in texts[0], (code, texts)
        clients.send(relay.port, "carol@other.test", ["bob@dest.test"])
        assert len(sink.wait_for(1)) == 1
        assert int(relay.stats().get("policy.pgsql.notify", "0")) >= 3


def test_makemap_replaces_a_map_in_one_transaction():
    with Postgres() as pg, Sink() as sink, _relay(pg, sink) as relay:
        rc, out = relay.makemap("access", "From:a.test REJECT\n"
                                "From:b.test REJECT\n")
        assert rc == 0, out
        rc, out = relay.makemap("access", "From:b.test OK\n"
                                "From:c.test REJECT\nFrom:c.test OK\n")
        assert rc != 0 and "duplicate" in out, out
        assert pg.psql("SELECT key, value FROM maps ORDER BY key") == \
            [["from:a.test", "REJECT"], ["from:b.test", "REJECT"]]
        rc, out = relay.makemap("access", "From:b.test OK\n")
        assert rc == 0, out
        rc, out = relay.smtpctl("access", "show")
        assert rc == 0 and out == "from:b.test\tOK\n", out


def test_lost_server_tempfails_and_recovers():
    with Postgres() as pg, Sink() as sink, _relay(pg, sink) as relay:
        rc, out = relay.smtpctl("access", "add", "From:client.test", "OK")
        assert rc == 0, out
        clients.send(relay.port, SENDER, ["bob@dest.test"])
        assert len(sink.wait_for(1)) == 1
        mark = relay.mark()
        pg.stop()
        relay.wait_for_log(r"database postgresql: .*every lookup fails "
                           r"temporarily", start=mark)
        for _ in range(3):
            code, texts = _refusal(relay.port)
            assert code in (421, 451) and texts[0].startswith("4.3.0"), \
                (code, texts)
        # the failed tries while it is down are not logged again
        time.sleep(2.5)
        assert relay.log(mark).count("every lookup fails temporarily") \
            == 1, relay.log(mark)
        pg.start()
        relay.wait_for_log(r"database postgresql: connected again",
                           timeout=60, start=mark)
        clients.send(relay.port, SENDER, ["bob@dest.test"])
        assert len(sink.wait_for(2)) == 2


def test_two_relays_share_one_server():
    with Postgres() as pg, Sink() as sink, \
            _relay(pg, sink) as one, _relay(pg, sink) as two:
        # both have looked the key up and cached that it is absent
        assert _mail_reply(one.port)[0] == 250
        assert _mail_reply(two.port)[0] == 250
        assert _rcpt_reply(two.port, "info@dest.test")[0] == 250
        rc, out = one.smtpctl("map", "add", "access", "Connect:127.0.0.1",
                              "ERROR:421 4.7.0 fleet says no")
        assert rc == 0, out
        start = time.monotonic()

        def refused():
            with clients.Raw(two.port) as raw:
                return raw.greeting[0] == 421
        wait_until(refused, 1.0, "the other relay to see the change")
        assert time.monotonic() - start < 1.0
        rc, out = one.smtpctl("map", "delete", "access",
                              "Connect:127.0.0.1")
        assert rc == 0, out
        rc, out = one.smtpctl("map", "add", "access", "To:info@dest.test",
                              "ERROR:550 5.7.1 no info here")
        assert rc == 0, out
        wait_until(lambda: _rcpt_reply(two.port, "info@dest.test")[0] ==
                   550, 1.0, "the other relay to refuse the recipient")


def test_password_in_conninfo_is_refused():
    for conninfo in ("host=db.test password=secret",
                     "host=db.test PASSWORD = secret",
                     "postgresql://smtpd:secret@db.test/maps"):
        rc, out = smtpd_check('database postgresql "%s"\n' % conninfo)
        assert rc != 0 and "no password" in out, (conninfo, rc, out)
    rc, out = smtpd_check('database postgresql '
                          '"postgresql://smtpd@db.test/maps"\n')
    assert rc == 0, out


def test_password_from_pgpass_over_tls():
    ca = TestCA()
    with Postgres(tls=ca.issue("db.test")) as pg, Sink() as sink:
        pg.add_password_role("smtpd", "s3cret", "maps")
        conninfo = ("host=127.0.0.1 port=%d dbname=maps user=smtpd "
                    "sslmode=require" % pg.port)
        with Relay(sink=sink, start=False,
                   conf={"database postgresql": '"%s"' % conninfo}) as relay:
            r = relay.smtpctl_run("access", "add", "Connect:127.0.0.1",
                                  "REJECT")
            assert r.returncode == 1 and b"password" in r.stderr, r
            pgpass = os.path.join(relay.dbdir, "pgpass")
            with open(pgpass, "w") as f:
                f.write("127.0.0.1:%d:maps:smtpd:s3cret\n" % pg.port)
            pol = pwd.getpwnam("_smtppol")
            os.chown(pgpass, pol.pw_uid, pol.pw_gid)
            os.chmod(pgpass, 0o600)
            rc, out = relay.smtpctl("access", "add", "Connect:127.0.0.1",
                                    "REJECT")
            assert rc == 0, out
            relay.start()
            relay.wait_for_log(r"policyd: database postgresql: connected")
            code, texts = _refusal(relay.port)
            assert code == 550 and texts[0] == "5.7.1 Access denied", \
                (code, texts)
            rows = pg.psql("SELECT s.ssl FROM pg_stat_ssl s JOIN "
                           "pg_stat_activity a USING (pid) "
                           "WHERE a.usename = 'smtpd'")
            assert rows == [["t"]], rows
