"""Mail for this host, the names and the users (issue 11; spec 9.4, 9.1).

Class {w} is the hostname relay.test, its first label, localhost,
localhost.localdomain, the listener's [127.0.0.1] and the entries of the
local-host-names map, exact names only.  A recipient there must be a
local user (the local-users map with `local users map`, the system's
passwd by default), or Postmaster, or it is refused at RCPT with
"550 5.1.1 <rcpt>... User unknown".  Mail for a local user stays in the
queue for the local mailer (local delivery is the next issue), even when
the mailertable names the domain.  Local names are tried from 127.0.0.2,
a client without relaying rights, so a 250 there means "local", never
"relayed"; the sink would get anything routed out."""
import pwd
import time

from lib import clients
from lib.localmail import (USERS_MAP, local_envelopes, mta_envelopes,
                           relay_with_maps, wait_local, wait_sink_rcpts)
from lib.sink import Sink

OUTSIDER = "127.0.0.2"
LOCAL_NAMES = ("relay.test", "Relay.TEST", "relay", "localhost",
               "localhost.localdomain", "[127.0.0.1]", "mail.other.test")
USERS = "alice\nbob\n"


def _no_passwd_entry(name):
    try:
        pwd.getpwnam(name)
    except KeyError:
        return True
    return False


def test_every_local_name_takes_local_users_only():
    maps = {"local-users": USERS, "local-host-names": "mail.other.test\n"}
    with Sink() as sink, relay_with_maps(maps, sink=sink,
                                         conf=USERS_MAP) as relay:
        for dom in LOCAL_NAMES:
            replies = clients.rcpt_replies(relay.port, OUTSIDER, [
                "alice@" + dom, "nosuch@" + dom])
            assert replies[0][0] == 250, (dom, replies)
            assert replies[1] == (550, ["5.1.1 <nosuch@%s>... User unknown"
                                        % dom]), (dom, replies)
        envs = wait_local(relay, len(LOCAL_NAMES), rcpt="alice")
        assert len(envs) == len(LOCAL_NAMES), envs
        time.sleep(1)
        assert mta_envelopes(relay) == [], mta_envelopes(relay)
        assert sink.connections == 0, sink.commands


def test_subdomain_of_a_local_name_is_relayed():
    maps = {"local-users": USERS, "local-host-names": "mail.other.test\n"}
    with Sink() as sink, relay_with_maps(maps, sink=sink,
                                         conf=USERS_MAP) as relay:
        subs = ["alice@sub.relay.test", "nosuch@sub.relay.test",
                "alice@x.mail.other.test"]
        replies = clients.rcpt_replies(relay.port, OUTSIDER, subs)
        assert replies == [(550, ["5.7.1 <%s>... Relaying denied" % a])
                           for a in subs], replies
        replies = clients.rcpt_replies(relay.port, "127.0.0.1", subs)
        assert [c for c, _ in replies] == [250] * len(subs), replies
        got = wait_sink_rcpts(sink, subs)
        assert sorted(got) == sorted(subs), got
        assert local_envelopes(relay) == [], local_envelopes(relay)



def test_local_users_map_is_the_only_source_with_local_users_map():
    with Sink() as sink, relay_with_maps({"local-users": USERS}, sink=sink,
                                         conf=USERS_MAP) as relay:
        replies = clients.rcpt_replies(relay.port, OUTSIDER, [
            "alice@relay.test", "BOB@relay.test", "daemon@relay.test"])
        assert replies[0][0] == 250, replies
        assert replies[1][0] == 250, replies
        # a system account is no local user when the map says who is
        assert replies[2] == (550, ["5.1.1 <daemon@relay.test>... "
                                    "User unknown"]), replies
        envs = wait_local(relay, 2)
        assert sorted(e["rcpt"].lower() for e in envs) == ["alice", "bob"], \
            envs
        assert sink.connections == 0, sink.commands


def test_local_users_from_passwd_by_default():
    unknown = "nosuch-h3-user"
    assert _no_passwd_entry(unknown) and _no_passwd_entry("h3mapuser")
    # the local-users map is loaded but not consulted in passwd mode
    with Sink() as sink, relay_with_maps({"local-users": "h3mapuser\n"},
                                         sink=sink) as relay:
        replies = clients.rcpt_replies(relay.port, OUTSIDER, [
            "daemon@relay.test", "nobody@localhost",
            "%s@relay.test" % unknown, "h3mapuser@relay.test"])
        assert [c for c, _ in replies[:2]] == [250, 250], replies
        assert replies[2] == (550, ["5.1.1 <%s@relay.test>... User unknown"
                                    % unknown]), replies
        assert replies[3] == (550, ["5.1.1 <h3mapuser@relay.test>... "
                                    "User unknown"]), replies
        envs = wait_local(relay, 2)
        assert sorted(e["rcpt"] for e in envs) == ["daemon", "nobody"], envs
        assert sink.connections == 0, sink.commands


def test_postmaster_is_always_a_local_recipient():
    for conf in (USERS_MAP, {}):
        with Sink() as sink, relay_with_maps({"local-users": USERS},
                                             sink=sink, conf=conf) as relay:
            rcpts = ["postmaster", "Postmaster", "postmaster@relay.test",
                     "POSTMASTER@localhost"]
            for rcpt in rcpts:
                # one message each: no duplicate suppression in the way
                replies = clients.rcpt_replies(relay.port, OUTSIDER, [rcpt])
                assert replies[0][0] == 250, (conf, rcpt, replies)
            envs = wait_local(relay, len(rcpts))
            # without an alias, postmaster is root's mailbox
            assert {e["rcpt"] for e in envs} == {"root"}, envs
            assert sink.connections == 0, sink.commands


def test_mail_for_a_local_user_waits_for_the_local_mailer():
    with Sink() as sink, relay_with_maps({"local-users": USERS}, sink=sink,
                                         conf=USERS_MAP) as relay:
        clients.send(relay.port, "carol@client.test", ["alice@relay.test"])
        [env] = wait_local(relay, 1, rcpt="alice")
        assert env["sender"] == "carol@client.test", env
        # several retry periods (queue retry-max 2s): nothing goes out,
        # nothing bounces, the envelope is still the same one
        time.sleep(4)
        assert [e["evpid"] for e in local_envelopes(relay)] == \
            [env["evpid"]], local_envelopes(relay)
        assert mta_envelopes(relay) == [], mta_envelopes(relay)
        assert sink.connections == 0, sink.commands


def test_mailertable_does_not_route_a_local_domain():
    with Sink() as far, Sink() as table:
        hop = "smtp:[127.0.0.1]:%d" % table.port
        maps = {"local-users": USERS,
                "mailertable": "relay.test %s\nlocalhost %s\n"
                               "other.test %s\n" % (hop, hop, hop)}
        with relay_with_maps(maps, sink=far, conf=USERS_MAP) as relay:
            replies = clients.rcpt_replies(relay.port, "127.0.0.1", [
                "alice@relay.test", "bob@localhost", "x@other.test"])
            assert [c for c, _ in replies] == [250] * 3, replies
            # the mailertable works for a domain that is not local ...
            got = wait_sink_rcpts(table, ["x@other.test"])
            assert got == ["x@other.test"], got
            # ... and is not consulted for a local one
            envs = wait_local(relay, 2)
            assert sorted(e["rcpt"] for e in envs) == ["alice", "bob"], envs
            time.sleep(1)
            assert mta_envelopes(relay) == [], mta_envelopes(relay)
            assert far.connections == 0, far.commands
            assert len(table.messages) == 1, table.messages


def test_empty_user_before_the_detail_is_unknown_and_restarts_nothing():
    """RCPT TO:<+x@relay.test>: the user before the detail is empty, which
    no passwd lookup can name; it is unknown, answered by policyd itself
    (the parent would take an empty name for a broken policyd)."""
    with Sink() as sink, relay_with_maps({}, sink=sink) as relay:
        pids = relay.children()
        replies = clients.rcpt_replies(relay.port, OUTSIDER, [
            "+x@relay.test", '"+x"@relay.test'])
        assert replies == [
            (550, ["5.1.1 <+x@relay.test>... User unknown"]),
            (550, ['5.1.1 <"+x"@relay.test>... User unknown'])], replies
        assert relay.children() == pids, (pids, relay.children())
        assert "restart" not in relay.log(), relay.log_tail()
