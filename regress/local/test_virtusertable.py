"""virtusertable (issue 11; spec 9.2, replies by spec 2.1).

The map, in sendmail's text format, applies to a local domain ({w}) or a
domain of the virtual-domains map, exact names only, with the probes of
u+d@dom in the order u+d@dom, u++@dom (d not empty), u+*@dom, u@dom,
++@dom (d not empty), +*@dom, @dom, and %1 (the user; the whole local part
in the first probe), %2 (the detail) and %3 (+detail) in the value.  A
value is a remote address (queued and delivered in place of the one
given, whose original is logged as orig_to=), a local user, or error:
with its reply at RCPT.  Recipients are given from 127.0.0.2, a client
without relaying rights, unless the test needs a relaying client."""
import time

from lib import clients
from lib.localmail import (USERS_MAP, envelopes, local_envelopes,
                           mta_envelopes, relay_with_maps,
                           wait_local, wait_sink_rcpts)
from lib.sink import Sink

OUTSIDER = "127.0.0.2"
USERS = "alice\nbob\n"

PROBES = """\
joe+x@relay.test   exact-%1@remote.test
joe++@relay.test   pp-%1-%2@remote.test
joe+*@relay.test   ps-%1-%2@remote.test
joe@relay.test     plain-%1@remote.test
ann@relay.test     ann-plain@remote.test
++@relay.test      any-pp-%1-%2@remote.test
+*@relay.test      any-ps-%1@remote.test
@relay.test        %1%3@remote.test
"""

# recipient given -> recipient delivered, one per probe of spec 9.2
PROBED = [
    ("joe+x@relay.test", "exact-joe+x@remote.test"),  # 1: u+d@dom
    ("joe+y@relay.test", "pp-joe-y@remote.test"),     # 2: u++@dom
    ("joe+@relay.test", "ps-joe-@remote.test"),       # 3: u+*@dom
    ("joe@relay.test", "plain-joe@remote.test"),      # 4: u@dom
    ("ann+z@relay.test", "ann-plain@remote.test"),    # 4, with a detail
    ("kim+q@relay.test", "any-pp-kim-q@remote.test"),  # 5: ++@dom
    ("kim+@relay.test", "any-ps-kim@remote.test"),    # 6: +*@dom
    ("kim@relay.test", "kim@remote.test"),            # 7: @dom, no %3
]


def _relay(sink, table, **maps):
    maps = dict(maps, **{"local-users": USERS, "virtusertable": table})
    return relay_with_maps(maps, sink=sink, conf=USERS_MAP)


def test_probes_in_sendmail_order_with_substitutions():
    with Sink() as sink, _relay(sink, PROBES) as relay:
        given = [g for g, _ in PROBED]
        replies = clients.rcpt_replies(relay.port, OUTSIDER, given)
        assert [c for c, _ in replies] == [250] * len(given), \
            list(zip(given, replies))
        got = wait_sink_rcpts(sink, [d for _, d in PROBED])
        assert sorted(got) == sorted(d for _, d in PROBED), got
        assert local_envelopes(relay) == [], local_envelopes(relay)


def test_catch_all_keeps_the_detail_and_logs_the_original():
    with Sink() as sink, _relay(sink, "@relay.test %1%3@remote.test\n") \
            as relay:
        mark = relay.mark()
        clients.send(relay.port, "carol@client.test", ["bob+tag@relay.test"])
        [m] = sink.wait_for(1)
        assert m.rcpt_addrs == ["bob+tag@remote.test"], m.rcpt_addrs
        assert m.mail_from == "carol@client.test", m.mail_from
        # the delivery line names the address delivered and the original
        relay.wait_for_log(r"^(?=.*\bto=<bob\+tag@remote\.test>)"
                           r"(?=.*\borig_to=<bob\+tag@relay\.test>)"
                           r"(?=.*stat=Sent)", start=mark)
        # a local user of the domain is no exception: the map comes first
        replies = clients.rcpt_replies(relay.port, OUTSIDER,
                                       ["alice@relay.test"])
        assert replies[0][0] == 250, replies
        got = wait_sink_rcpts(sink, ["alice@remote.test"])
        assert "alice@remote.test" in got, got
        assert local_envelopes(relay) == [], local_envelopes(relay)


def test_queue_keeps_the_rewritten_recipient():
    with Sink() as sink, _relay(sink, "@relay.test %1%3@remote.test\n") \
            as relay:
        sink.reject_rcpt("*", 451, "4.3.0 try again later")
        clients.send(relay.port, "carol@client.test", ["bob+tag@relay.test"])
        envs = relay.wait_queue(lambda es: any(e["lasterror"] for e in es),
                                what="a failed attempt")
        assert [e["rcpt"] for e in envs] == ["bob+tag@remote.test"], envs
        assert mta_envelopes(relay) == envelopes(relay), envelopes(relay)


def test_entry_to_a_local_user_is_a_local_envelope():
    table = ("info@relay.test alice\n"
             "help@relay.test bob\n"
             "@localhost alice\n")
    with Sink() as sink, _relay(sink, table) as relay:
        for rcpt in ("info@relay.test", "help@relay.test",
                     "anyone@localhost"):
            replies = clients.rcpt_replies(relay.port, OUTSIDER, [rcpt])
            assert replies[0][0] == 250, (rcpt, replies)
        envs = wait_local(relay, 3)
        assert sorted(e["rcpt"] for e in envs) == ["alice", "alice", "bob"], \
            envs
        time.sleep(1)
        assert mta_envelopes(relay) == [], mta_envelopes(relay)
        assert sink.connections == 0, sink.commands


def test_error_entries_give_their_reply_at_rcpt():
    table = ("gone@relay.test error:nouser 550 No such user here\n"
             "old@relay.test error:5.1.1:550 User unknown\n"
             "busy@relay.test error:4.2.2:450 Mailbox full\n")
    with Sink() as sink, _relay(sink, table) as relay:
        for client in (OUTSIDER, "127.0.0.1"):
            replies = clients.rcpt_replies(relay.port, client, [
                "gone@relay.test", "old@relay.test", "busy@relay.test"])
            assert replies == [
                (550, ["5.0.0 <gone@relay.test>... No such user here"]),
                (550, ["5.1.1 <old@relay.test>... User unknown"]),
                (450, ["4.2.2 <busy@relay.test>... Mailbox full"]),
            ], (client, replies)
        assert envelopes(relay) == [], envelopes(relay)
        assert sink.connections == 0, sink.commands


def test_virtual_domain_gets_the_map_and_is_taken_from_anyone():
    table = ("sales@virt.test bob@remote.test\n"
             "@virt.test error:nouser 550 No such user here\n")
    with Sink() as sink, _relay(sink, table,
                                **{"virtual-domains": "virt.test\n"}) \
            as relay:
        replies = clients.rcpt_replies(relay.port, OUTSIDER, [
            "sales@virt.test", "alice@virt.test", "x@else.test"])
        assert replies[0][0] == 250, replies
        # virt.test is not local: its alice is no local user
        assert replies[1] == (550, ["5.0.0 <alice@virt.test>... "
                                    "No such user here"]), replies
        assert replies[2] == (550, ["5.7.1 <x@else.test>... "
                                    "Relaying denied"]), replies
        got = wait_sink_rcpts(sink, ["bob@remote.test"])
        assert got == ["bob@remote.test"], got
        assert local_envelopes(relay) == [], local_envelopes(relay)


def test_map_applies_to_no_other_domain_and_no_subdomain():
    table = ("@relay.test %1@remote.test\n"
             "x@else.test y@remote.test\n"
             "@virt.test %1@remote.test\n")
    with Sink() as sink, _relay(sink, table,
                                **{"virtual-domains": "virt.test\n"}) \
            as relay:
        given = ["x@else.test", "a@sub.relay.test", "b@sub.virt.test"]
        replies = clients.rcpt_replies(relay.port, "127.0.0.1", given)
        assert [c for c, _ in replies] == [250] * 3, replies
        got = wait_sink_rcpts(sink, given)
        assert sorted(got) == sorted(given), got
