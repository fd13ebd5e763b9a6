"""A listener's own limits (sendmail's per-daemon MaxDaemonChildren and
ConnectionRateThrottle): with max-sessions of its sessions open it
stops accepting, logged "rejecting connections on daemon NAME: N
children, max N", and a waiting client is greeted once a session ends;
past connection-rate accepts in a second it stops for a second, logged
"deferring connections on daemon NAME: N per second", and the clients
it deferred are greeted after.  Other listeners are not held up."""
import os
import subprocess

from lib import BIN, clients
from lib.daemon import Relay, free_port
from lib.sink import Sink


def test_max_sessions_stops_accepting_until_one_ends():
    port = free_port()
    with Sink() as sink, Relay(sink=sink, extra=[
            "listen on 127.0.0.1 port %d max-sessions 2" % port]) as relay:
        held = [clients.Raw(port) for _ in range(2)]
        waiting = None
        try:
            assert all(r.greeting[0] == 220 for r in held), \
                [r.greeting for r in held]
            relay.wait_for_log(r"rejecting connections on daemon "
                               r"127\.0\.0\.1:%d: 2 children, max 2" % port)
            # the kernel's backlog takes it; no greeting while full
            waiting = clients.Raw(port, greeting=False, timeout=20)
            # the other listener goes on
            with clients.Raw(relay.port) as other:
                assert other.greeting[0] == 220, other.greeting
            held.pop().close()
            code, texts = waiting.reply()
            assert code == 220, (code, texts)
            # and it is full again with the one that waited
            assert relay.stats().get("smtp.listener.full") == "2", \
                relay.stats()
        finally:
            for r in held:
                r.close()
            if waiting is not None:
                waiting.close()


def test_connection_rate_defers_then_greets():
    port = free_port()
    with Sink() as sink, Relay(sink=sink, extra=[
            "listen on 127.0.0.1 port %d connection-rate 2" % port]) as relay:
        raws = [clients.Raw(port, greeting=False, timeout=20)
                for _ in range(4)]
        try:
            for r in raws:
                code, texts = r.reply()
                assert code == 220, (code, texts)
            relay.wait_for_log(r"deferring connections on daemon "
                               r"127\.0\.0\.1:%d: 2 per second" % port)
            assert int(relay.stats().get("smtp.listener.throttled")) >= 1
        finally:
            for r in raws:
                r.close()


def test_listener_limits_in_the_config():
    port = free_port()
    with Relay(start=False, extra=[
            "listen on 127.0.0.1 port %d max-sessions 5 connection-rate "
            "9" % port]) as relay:
        r = subprocess.run([os.path.join(BIN, "smtpd"), "-n", "-v", "-f",
                            relay.confpath], capture_output=True)
        out = (r.stdout + r.stderr).decode()
        assert r.returncode == 0, out
        assert 'listen on "127.0.0.1" port %d max-sessions 5 ' \
            'connection-rate 9\n' % port in out, out
