"""aliases (issue 11; spec 9.3), loaded with `smtpctl makemap aliases`
from the /etc/aliases format.

Only local users are aliased.  A list expands recursively to local
envelopes and remote addresses, duplicates suppressed, a list naming
itself delivered to its own mailbox, owner-X the envelope sender of list
X's members, |program, /file and :include: targets handed to the local
mailer (run by nobody yet), more than `limit alias-depth` (10) levels
refused at RCPT with sendmail's 554, a list of unknown users refused at
RCPT and an unknown member of a mixed list bounced."""
import os
import time

from lib import BIN, clients, dsn
from lib.localmail import (USERS_MAP, envelopes, local_envelopes,
                           mta_envelopes, rcpt_attempts, relay_with_maps,
                           wait_local, wait_sink_rcpts)
from lib.sink import Sink

OUTSIDER = "127.0.0.2"
SENDER = "dave@client.test"
USERS = "alice\nbob\n"
LOOP_554 = (554, ["5.4.6 aliasing/forwarding loop broken "
                  "(11 aliases deep; 10 max)"])


def _relay(sink, aliases, conf=None, **kwargs):
    return relay_with_maps({"local-users": USERS, "aliases": aliases},
                           sink=sink, conf=dict(USERS_MAP, **(conf or {})),
                           **kwargs)


def _rcpt(relay, rcpt, client=OUTSIDER):
    return clients.rcpt_replies(relay.port, client, [rcpt],
                                mail_from=SENDER)[0]


def _chain(n):
    """a1: a2 ... a(n-1): an, an: x@remote.test (n aliases)."""
    lines = ["a%d: a%d" % (i, i + 1) for i in range(1, n)]
    return "\n".join(lines + ["a%d: x@remote.test" % n]) + "\n"


def test_list_of_a_local_user_and_a_remote_address():
    with Sink() as sink, _relay(sink, "staff: alice, carol@remote.test\n") \
            as relay:
        r = _rcpt(relay, "staff@relay.test")
        assert r[0] == 250, r
        [env] = wait_local(relay, 1)
        assert env["rcpt"] == "alice" and env["sender"] == SENDER, env
        [m] = sink.wait_for(1)
        assert m.rcpt_addrs == ["carol@remote.test"], m.rcpt_addrs
        assert m.mail_from == SENDER, m.mail_from


def test_file_format_comments_continuations_and_case():
    text = ("# the staff of relay.test\n"
            "\n"
            "staff: alice,\n"
            "\tcarol@remote.test\n"
            "Crew: bob, \\\n"
            "erin@remote.test\n")
    with Sink() as sink, _relay(sink, text) as relay:
        r = _rcpt(relay, "staff@relay.test")
        assert r[0] == 250, r
        r = _rcpt(relay, "crew@relay.test")
        assert r[0] == 250, r
        r = _rcpt(relay, "CREW@relay.test")
        assert r[0] == 250, r
        envs = wait_local(relay, 3)
        assert sorted(e["rcpt"] for e in envs) == ["alice", "bob", "bob"], \
            envs
        got = wait_sink_rcpts(sink, ["carol@remote.test",
                                     "erin@remote.test"])
        assert sorted(got) == ["carol@remote.test", "erin@remote.test",
                               "erin@remote.test"], got


def test_owner_is_the_envelope_sender_of_the_members():
    text = ("staff: alice, carol@remote.test\n"
            "owner-staff: admin@remote.test\n")
    with Sink() as sink, _relay(sink, text) as relay:
        r = _rcpt(relay, "staff@relay.test")
        assert r[0] == 250, r
        [m] = sink.wait_for(1)
        assert m.rcpt_addrs == ["carol@remote.test"], m.rcpt_addrs
        assert m.mail_from == "owner-staff@relay.test", m.mail_from
        [env] = wait_local(relay, 1, rcpt="alice")
        assert env["sender"] == "owner-staff@relay.test", env


def test_duplicates_are_suppressed():
    text = ("staff: alice, alice, team, carol@remote.test\n"
            "team: alice, carol@remote.test\n")
    with Sink() as sink, _relay(sink, text) as relay:
        r = _rcpt(relay, "staff@relay.test")
        assert r[0] == 250, r
        sink.wait_for(1)
        wait_local(relay, 1, rcpt="alice")
        time.sleep(2)
        assert len(local_envelopes(relay)) == 1, envelopes(relay)
        assert len(rcpt_attempts(sink, "carol@remote.test")) == 1, \
            sink.commands


def test_self_reference_is_delivered_to_the_mailbox():
    with Sink() as sink, _relay(sink, "bob: bob, x@remote.test\n") as relay:
        r = _rcpt(relay, "bob@relay.test")
        assert r[0] == 250, r
        [m] = sink.wait_for(1)
        assert m.rcpt_addrs == ["x@remote.test"], m.rcpt_addrs
        wait_local(relay, 1, rcpt="bob")
        time.sleep(1)
        assert [e["rcpt"] for e in local_envelopes(relay)] == ["bob"], \
            envelopes(relay)


def _targets(relay):
    """Program, file and :include: targets, the program and the file in
    the relay's directory, so the test sees that neither was run or
    written."""
    prog = os.path.join(relay.dir, "prog.sh")
    with open(prog, "w") as f:
        f.write("#!/bin/sh\ntouch %s\n" % os.path.join(relay.dir, "ran"))
    os.chmod(prog, 0o755)
    return {"prog": "|" + prog,
            "progargs": "|%s -x 1" % prog,
            "file": os.path.join(relay.dir, "mbox"),
            "inc": ":include:/etc/mail/list"}


def test_program_file_and_include_targets_go_to_the_local_mailer():
    def aliases(relay):
        # quoted where a blank needs it, as in /etc/aliases
        return "".join("%s: %s\n" % (k, '"%s"' % v if " " in v else v)
                       for k, v in _targets(relay).items())
    with Sink() as sink, _relay(sink, aliases) as relay:
        targets = _targets(relay)
        for name in targets:
            # one message each: no duplicate suppression in the way
            assert _rcpt(relay, name + "@relay.test")[0] == 250, name
        envs = wait_local(relay, len(targets))
        assert sorted(e["rcpt"] for e in envs) == sorted(targets.values()), \
            envs
        time.sleep(3)
        assert not os.path.exists(os.path.join(relay.dir, "ran")), \
            "the program was run"
        assert not os.path.exists(targets["file"]), "the file was written"
        assert mta_envelopes(relay) == [], mta_envelopes(relay)
        assert sink.connections == 0, sink.commands


def test_twelve_deep_chain_is_refused_at_rcpt():
    with Sink() as sink, _relay(sink, _chain(12)) as relay:
        r = _rcpt(relay, "a1@relay.test", "127.0.0.1")
        assert r == LOOP_554, r
        # a1 is level 0, a12 level 11: refused.  From a3, x@remote.test
        # is level 10, the deepest the limit lets through
        r = _rcpt(relay, "a2@relay.test", "127.0.0.1")
        assert r == LOOP_554, r
        r = _rcpt(relay, "a3@relay.test", "127.0.0.1")
        assert r[0] == 250, r
        [m] = sink.wait_for(1)
        assert m.rcpt_addrs == ["x@remote.test"], m.rcpt_addrs
        time.sleep(1)
        assert len(sink.messages) == 1, sink.messages


def test_alias_depth_limit_is_the_configured_one():
    with Sink() as sink, _relay(sink, _chain(12),
                                conf={"limit alias-depth": "12"}) as relay:
        r = _rcpt(relay, "a1@relay.test", "127.0.0.1")
        assert r[0] == 250, r
        [m] = sink.wait_for(1)
        assert m.rcpt_addrs == ["x@remote.test"], m.rcpt_addrs
    with Sink() as sink, _relay(sink, _chain(12),
                                conf={"limit alias-depth": "11"}) as relay:
        r = _rcpt(relay, "a1@relay.test", "127.0.0.1")
        assert r == (554, ["5.4.6 aliasing/forwarding loop broken "
                           "(12 aliases deep; 11 max)"]), r


def test_list_of_unknown_users_is_refused_at_rcpt():
    with Sink() as sink, _relay(sink, "ghosts: nosuch1, nosuch2\n") as relay:
        r = _rcpt(relay, "ghosts@relay.test")
        assert r == (550, ["5.1.1 <ghosts@relay.test>... User unknown"]), r
        assert envelopes(relay) == [], envelopes(relay)
        assert sink.connections == 0, sink.commands


def test_unknown_member_of_a_list_bounces():
    with Sink() as sink, _relay(sink, "mix: alice, nosuch1\n") as relay:
        r = _rcpt(relay, "mix@relay.test")
        assert r[0] == 250, r
        wait_local(relay, 1, rcpt="alice")
        [b] = sink.wait_for(1, timeout=30, pred=lambda m: m.mail_from == "")
        assert b.rcpt_addrs == [SENDER], b.rcpt_addrs
        d = dsn.parse(b.data)
        [r] = d.recipients
        assert r.get("action") == "failed", r
        assert r.get("status") == "5.1.1", r
        assert "nosuch1" in r.get("final-recipient", ""), r
        assert "User unknown" in r.get("diagnostic-code", "") + d.human, \
            (r, d.human)
        time.sleep(2)
        assert len(sink.bounces()) == 1, sink.bounces()
        assert [e["rcpt"] for e in local_envelopes(relay)] == ["alice"], \
            envelopes(relay)


def test_only_local_users_are_aliased():
    with Sink() as sink, _relay(sink, "remote: alice\n") as relay:
        # a key naming a remote address is refused by makemap or kept
        # and never matched; either way the good map stays loaded
        relay.makemap("aliases", "bob@remote.test: alice\nremote: alice\n")
        for rcpt in ("bob@remote.test", "remote@remote.test"):
            assert _rcpt(relay, rcpt, "127.0.0.1")[0] == 250, rcpt
        got = wait_sink_rcpts(sink, ["bob@remote.test",
                                     "remote@remote.test"])
        assert sorted(got) == ["bob@remote.test", "remote@remote.test"], got
        assert local_envelopes(relay) == [], envelopes(relay)
        # the map is there: the local user "remote" is aliased
        r = _rcpt(relay, "remote@relay.test")
        assert r[0] == 250, r
        wait_local(relay, 1, rcpt="alice")


def test_expired_program_target_names_the_address_and_the_program():
    """A DSN for a local target names the address the client gave as the
    Final-Recipient and the target itself as X-Actual-Recipient, as
    sendmail's do; here a program that the real smtpd-local does not run
    (it is not in local smrsh-dir), or that waits until the queue
    lifetime."""
    with Sink() as sink, _relay(sink, "prog: \"|/usr/bin/true -x\"\n",
                                conf={"queue lifetime": "2s"},
                                libexec=BIN) as relay:
        r = _rcpt(relay, "prog@relay.test")
        assert r[0] == 250, r
        [b] = sink.wait_for(1, timeout=30, pred=lambda m: m.mail_from == "")
        d = dsn.parse(b.data)
        [r] = d.recipients
        assert r.get("action") == "failed", r
        assert r.get("final-recipient") == "rfc822; prog@relay.test", r
        assert r.get("x-actual-recipient") == "rfc822; |/usr/bin/true -x", r
        assert r.get("original-recipient") == "rfc822;prog@relay.test", r


def test_member_past_the_depth_limit_bounces_and_policyd_stays_trusted():
    """A list whose one member runs past the depth limit: the other member
    is queued, the deep one bounces with the 554, named as an address
    (a11@relay.test: mix is level 0), and the front end never finds
    policyd's answer malformed."""
    with Sink() as sink, _relay(sink, "mix: alice, a1\n" + _chain(12)) \
            as relay:
        r = _rcpt(relay, "mix@relay.test")
        assert r[0] == 250, r
        wait_local(relay, 1, rcpt="alice")
        [b] = sink.wait_for(1, timeout=30, pred=lambda m: m.mail_from == "")
        d = dsn.parse(b.data)
        [r] = d.recipients
        assert r.get("status") == "5.4.6", r
        assert r.get("final-recipient") == "rfc822; a11@relay.test", r
        assert "malformed" not in relay.log(), relay.log_tail()


def test_redirect_alias_is_refused_with_the_new_address():
    """sendmail's FEATURE(redirect): a user who left is aliased to
    new@where.REDIRECT, and mail to him is refused at RCPT with 551 and
    the new address; in a list with a deliverable member, the moved one
    bounces with the same words."""
    aliases = ("gone: gone@newjob.test.REDIRECT\n"
               "team: alice, gone\n")
    with Sink() as sink, _relay(sink, aliases) as relay:
        r = _rcpt(relay, "gone@relay.test")
        assert r == (551, ["5.1.1 User has moved; "
                           "please try <gone@newjob.test>"]), r
        assert envelopes(relay) == [], envelopes(relay)
        r = _rcpt(relay, "team@relay.test")
        assert r[0] == 250, r
        wait_local(relay, 1, rcpt="alice")
        [b] = sink.wait_for(1, timeout=30, pred=lambda m: m.mail_from == "")
        d = dsn.parse(b.data)
        [r] = d.recipients
        assert r.get("action") == "failed", r
        assert r.get("status") == "5.1.1", r
        assert "please try <gone@newjob.test>" in \
            r.get("diagnostic-code", "") + d.human, (r, d.human)
        assert sink.bounces() == [b], sink.bounces()
