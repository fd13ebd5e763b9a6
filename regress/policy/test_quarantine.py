"""QUARANTINE:text in the access map (spec 2.2, 7.3): the client gets 250,
the message is held in the queue with its reason instead of being
delivered, stays held across a restart and a kill -9 of the whole daemon,
and goes out once `smtpctl release` lets it.  Connect: holds every message
of the session; From: and To: only the matching message.  smtpctl
explain shows it, and an entry without a reason is refused."""
import smtplib

from lib import clients
from lib.daemon import Relay
from lib.sink import Sink


def _add(relay, key, value):
    rc, out = relay.smtpctl("access", "add", key, value)
    assert rc == 0, (rc, out)


def _held(envs):
    return [e for e in envs if e["state"] == "quarantined"]


def _stat(relay, name):
    return relay.stats().get(name)


def test_connect_holds_across_restart_and_crash_until_released():
    with Sink() as sink, Relay(sink=sink) as relay:
        _add(relay, "Connect:127.0.0.1", "QUARANTINE:Held For Review")
        msg, mid = clients.make_message("alice@client.test",
                                        ["bob@dest.test"])
        code, text = clients.send(relay.port, "alice@client.test",
                                  ["bob@dest.test"], msg)
        assert code == 250 and clients.queued_id(text), (code, text)
        qid = clients.queued_id(text)
        envs = relay.wait_queue(lambda e: len(_held(e)) == 1,
                                what="the message held")
        assert envs[0]["msgid"] == qid and \
            envs[0]["lasterror"] == "Held For Review", envs
        relay.wait_for_log(r"ruleset=check_relay, arg1=\S+, "
                           r"arg2=127\.0\.0\.1, relay=[^,]+, "
                           r"quarantine=Held For Review$")
        relay.wait_for_log(r"%s: quarantine=Held For Review: held until "
                           r"released" % qid)
        assert _stat(relay, "queue.envelope.quarantined") == "1", \
            relay.stats()
        # smtpctl schedule does not let it out; only release does
        rc, out = relay.smtpctl("schedule", "all")
        assert rc == 1 and "0 envelopes scheduled" in out, (rc, out)
        relay.restart()
        assert len(_held(relay.show_queue())) == 1, relay.show_queue()
        relay.crash()
        relay.start()
        envs = relay.show_queue()
        assert len(_held(envs)) == 1 and \
            envs[0]["lasterror"] == "Held For Review", envs
        assert sink.messages == [], sink.messages
        rc, out = relay.smtpctl("release", "all")
        assert rc == 0 and "1 envelopes released" in out, (rc, out)
        got = sink.wait_for(1)
        assert got[0].header("Message-ID") == mid, got
        relay.wait_queue_empty()
        assert _stat(relay, "queue.envelope.quarantined") == "0", \
            relay.stats()


def test_from_and_to_hold_only_the_matching_message():
    with Sink() as sink, Relay(sink=sink) as relay:
        _add(relay, "From:held@client.test", "QUARANTINE:sender held")
        _add(relay, "To:held@dest.test", "quarantine:Recipient Held")
        ids = {}
        with smtplib.SMTP("127.0.0.1", relay.port,
                          local_hostname="client.test", timeout=15) as s:
            for name, sender, rcpts in (
                    ("from", "held@client.test", ["a@dest.test"]),
                    ("free", "free@client.test", ["b@dest.test"]),
                    ("to", "free@client.test", ["c@dest.test",
                                                "held@dest.test"]),
                    ("both", "held@client.test", ["held@dest.test"])):
                msg, mid = clients.make_message(sender, rcpts)
                ids[name] = mid
                assert s.sendmail(sender, rcpts, msg) == {}
        got = sink.wait_for(1)
        assert [m.header("Message-ID") for m in got] == [ids["free"]], got
        envs = relay.wait_queue(lambda e: len(_held(e)) == 4,
                                what="three messages held")
        reasons = sorted((e["rcpt"], e["lasterror"]) for e in envs)
        assert reasons == [
            ("a@dest.test", "sender held"),
            ("c@dest.test", "Recipient Held"),
            ("held@dest.test", "Recipient Held"),
            ("held@dest.test", "sender held")], reasons
        relay.wait_for_log(r"ruleset=check_rcpt, arg1=<held@dest\.test>, "
                           r"relay=[^,]+, quarantine=Recipient Held$")
        relay.wait_for_log(r"ruleset=check_mail, arg1=<held@client\.test>, "
                           r"relay=[^,]+, quarantine=sender held$")
        # release one message by its id: only it goes out
        msgid = [e["msgid"] for e in envs if e["rcpt"] == "a@dest.test"][0]
        rc, out = relay.smtpctl("release", msgid)
        assert rc == 0 and "1 envelopes released" in out, (rc, out)
        got = sink.wait_for(2)
        assert sorted(m.header("Message-ID") for m in got) == \
            sorted([ids["free"], ids["from"]]), got
        assert len(_held(relay.show_queue())) == 3, relay.show_queue()


def test_smtpctl_quarantine_and_remove_held_mail():
    with Sink() as sink, Relay(sink=sink) as relay:
        rc, out = relay.smtpctl("pause", "mta")
        assert rc == 0, out
        clients.send(relay.port, "alice@client.test", ["bob@dest.test"])
        clients.send(relay.port, "alice@client.test", ["carol@dest.test"])
        relay.wait_queue(lambda e: len(e) == 2, what="two queued")
        rc, out = relay.smtpctl("quarantine", "all", "manual", "hold")
        assert rc == 0 and "2 envelopes quarantined" in out, (rc, out)
        rc, out = relay.smtpctl("quarantine", "all", "again")
        assert rc == 1 and "0 envelopes quarantined" in out, (rc, out)
        rc, out = relay.smtpctl("resume", "mta")
        assert rc == 0, out
        envs = relay.show_queue()
        assert [e["lasterror"] for e in _held(envs)] == \
            ["manual hold", "manual hold"], envs
        carol = [e for e in envs if e["rcpt"] == "carol@dest.test"][0]
        rc, out = relay.smtpctl("remove", carol["evpid"])
        assert rc == 0 and "1 envelopes removed" in out, (rc, out)
        relay.restart()
        envs = relay.show_queue()
        assert len(envs) == 1 and _held(envs) and \
            envs[0]["rcpt"] == "bob@dest.test", envs
        assert sink.messages == [], sink.messages
        rc, out = relay.smtpctl("release", envs[0]["evpid"])
        assert rc == 0, (rc, out)
        got = sink.wait_for(1)
        assert got[0].rcpt_addrs == ["bob@dest.test"], got
        relay.wait_queue_empty()
        rc, out = relay.smtpctl("release", "all")
        assert rc == 1 and "0 envelopes released" in out, (rc, out)


def test_explain_shows_the_hold_and_entries_need_a_reason():
    with Relay(start=False) as relay:
        _add(relay, "Connect:127.0.0.1", "QUARANTINE:Connect Hold")
        _add(relay, "From:joe@example.org", "QUARANTINE:From Hold")
        r = relay.smtpctl_run("access", "add", "Connect:192.0.2.11",
                              "QUARANTINE:")
        err = r.stderr.decode()
        assert r.returncode == 1 and "QUARANTINE: needs a reason" in err, \
            (r.returncode, err)
        rc, out = relay.smtpctl("access", "show", "connect:192.0.2.11")
        assert rc == 0 and out == "", out
        rc, out = relay.smtpctl("explain", "addr", "127.0.0.1", "from",
                                "joe@example.org", "rcpt", "bob@dest.test")
        assert rc == 0, (rc, out)
        lines = out.splitlines()
        assert "Connect\tquarantine\tevery message of the session is " \
            "held: Connect Hold" in lines, lines
        assert "From <joe@example.org>\tquarantine\tthe message is held: " \
            "From Hold" in lines, lines
        assert lines[-1] == "verdict\taccepted for 1 of 1 recipients " \
            "(then held: quarantine=Connect Hold)", lines


def test_connect_discard_drops_every_message_of_the_session():
    """DISCARD on a Connect: entry (spec 2.2): every message of the
    session gets 250 and is dropped; another client's mail goes out."""
    with Sink() as sink, Relay(sink=sink) as relay:
        _add(relay, "Connect:127.0.0.1", "DISCARD")
        with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as c:
            for n in range(2):
                c.sendmail("alice@client.test", ["bob@dest.test"],
                           "Subject: %d\r\n\r\nbody\r\n" % n)
        relay.wait_for_log(r"discard: every message of the session is "
                           r"dropped")
        _add(relay, "Connect:127.0.0.1", "OK")
        clients.send(relay.port, "carol@client.test", ["bob@dest.test"])
        [m] = sink.wait_for(1)
        assert m.mail_from == "carol@client.test", m.mail_from
        relay.wait_queue_empty()
        assert len(sink.messages) == 1


def test_to_discard_alone_is_taken_and_dropped():
    """DISCARD on a To: entry for the one recipient of a message: 250 for
    RCPT and DATA, the message dropped, and the front end (which has no
    final recipient to name in Received:) keeps running."""
    with Sink() as sink, Relay(sink=sink) as relay:
        _add(relay, "To:bob@dest.test", "DISCARD")
        smtp_pid = relay.pid("smtp")
        code, text = clients.send(relay.port, "alice@client.test",
                                  ["bob@dest.test"])
        assert code == 250, (code, text)
        clients.send(relay.port, "carol@client.test", ["dave@dest.test"])
        [m] = sink.wait_for(1)
        assert m.rcpt_addrs == ["dave@dest.test"], m.rcpt_addrs
        assert relay.pid("smtp") == smtp_pid, "the front end restarted"
        relay.wait_queue_empty()
