from lib import clients
from lib.daemon import Relay
from lib.pgsql import Postgres
from lib.sink import Sink


def test_smoke():
    with Postgres() as pg, Sink() as sink, Relay(sink=sink, conf={"database postgresql": '"%s"' % pg.conninfo}, start=False) as relay:
        rc, out = relay.smtpctl("access", "add", "Connect:127.0.0.2", "REJECT")
        assert rc == 0, out
        relay.start()
        clients.send(relay.port, "alice@client.test", ["bob@dest.test"])
        assert len(sink.wait_for(1)) == 1
        rc, out = relay.smtpctl("access", "add", "Connect:127.0.0.1", "REJECT")
        assert rc == 0, out
        with clients.Raw(relay.port) as raw:
            raw.cmd("EHLO client.test")
            code, texts = raw.cmd("MAIL FROM:<alice@client.test>")
        assert code == 550, (code, texts)
        print(pg.psql("SELECT map, key, value FROM maps"))
