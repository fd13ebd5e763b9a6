"""The sendmail command (bin/sendmail), the local submission socket and
the offline drop directory (issue 12, the sendmail command).

Each test creates real system users (useradd -M -N, unique names,
removed in a finally block) and runs bin/sendmail as one of them with
setpriv, against a relay whose `sendmail socket` and `sendmail drop-dir`
are in its test directory.  What is checked: the Received: line names the
user and uid; From:/Date:/Message-ID: are added when missing; local mail
lands in the user's mbox; -t takes To:/Cc:/Bcc: and removes Bcc:; -f by
an untrusted user gets sendmail's X-Authentication-Warning, by root not;
-bs speaks SMTP on stdin/stdout; -bp lists the queue for root and is
refused to users (EX_NOPERM); a lone dot ends the message without -i
only; a refused recipient exits EX_NOUSER; with the daemon stopped the
command exits 0 and leaves a file no other user can read, picked up and
delivered once when the daemon starts, also after a kill -9 of the
daemon right after its start."""
import email
import mailbox
import os
import pwd
import subprocess
import time

from lib import BIN, dsn, wait_until
from lib.daemon import Relay
from lib.localmail import mail_spool, mbox_messages, system_user
from lib.sink import Sink

SENDMAIL = os.path.join(BIN, "sendmail")
EX_NOUSER = 67
EX_NOPERM = 77


def _relay(sink=None, conf=None, start=True):
    r = Relay(sink=sink, conf=conf, start=False)
    r.with_sendmail_socket()
    if start:
        try:
            r.start()
        except BaseException:
            r.stop()
            raise
    return r


def sendmail(relay, user, args, stdin=b"", timeout=30):
    """bin/sendmail -C CONF ARGS as user (None: root); (rc, out, err)."""
    cmd = [SENDMAIL, "-C", relay.confpath] + list(args)
    if user is not None:
        cmd = ["setpriv", "--reuid", user, "--regid",
               str(pwd.getpwnam(user).pw_gid), "--init-groups"] + cmd
    r = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return r.returncode, r.stdout.decode("utf-8", "replace"), \
        r.stderr.decode("utf-8", "replace")


def _parse(m):
    return email.message_from_bytes(m.data)


def test_submission_names_the_user_and_completes_the_headers():
    with Sink() as sink, system_user("hbs") as user, _relay(sink) as relay:
        uid = pwd.getpwnam(user).pw_uid
        rc, _, err = sendmail(relay, user, ["bob@remote.test"],
                              b"Subject: hello\n\nA body.\n")
        assert rc == 0, (rc, err)
        [m] = sink.wait_for(1)
        assert m.mail_from == "%s@relay.test" % user, m.mail_from
        assert m.rcpt_addrs == ["bob@remote.test"], m.rcpt_addrs
        msg = _parse(m)
        received = msg.get_all("Received")[0]
        assert received.startswith("(from %s@localhost, uid %d)"
                                   % (user, uid)), received
        assert "by relay.test (smtpd) id" in received, received
        assert msg["Subject"] == "hello"
        assert "%s@relay.test" % user in msg["From"], msg["From"]
        assert msg["Date"] and msg["Message-ID"], msg.items()
        assert msg["X-Authentication-Warning"] is None
        assert msg.get_payload() == "A body.\n" or \
            msg.get_payload() == "A body.\r\n", repr(msg.get_payload())
        log = relay.log()
        assert "connect from localhost [local]" in log, log
        assert "user=%s uid=%d" % (user, uid) in log, log


def test_local_recipient_lands_in_the_mbox():
    maildir = mail_spool()
    with system_user("hbs") as alice, system_user("hbs") as carol, \
            _relay(conf={"local mailbox-dir": '"%s"' % maildir}) as relay:
        rc, _, err = sendmail(relay, alice, [carol],
                              b"Subject: local\n\nHi Carol.\n")
        assert rc == 0, (rc, err)
        path = os.path.join(maildir, carol)

        def delivered():
            if not os.path.exists(path):
                return None
            msgs = list(mailbox.mbox(path, create=False))
            return msgs or None
        [m] = wait_until(delivered, 20, "a message in %s" % path,
                         interval=0.2)
        assert m["Subject"] == "local"
        assert m["Received"].startswith("(from %s@localhost" % alice), \
            m["Received"]
        assert m["Delivered-To"] == "%s@relay.test" % carol


def test_t_takes_the_header_recipients_and_removes_bcc():
    with Sink() as sink, system_user("hbs") as user, _relay(sink) as relay:
        text = (b"To: Ann <ann@remote.test>, ben@remote.test\n"
                b"Cc: \"Cole, C.\" <cole@remote.test>\n"
                b"Bcc: hidden@remote.test\n"
                b"Subject: list\n\nBody.\n")
        rc, _, err = sendmail(relay, user, ["-t", "arg@remote.test"], text)
        assert rc == 0, (rc, err)

        def all_rcpts():
            got = sorted(a for m in sink.messages for a in m.rcpt_addrs)
            return got if len(got) >= 5 else None
        got = wait_until(all_rcpts, 20, "five recipients")
        assert got == sorted(["ann@remote.test", "ben@remote.test",
                              "cole@remote.test", "hidden@remote.test",
                              "arg@remote.test"]), got
        for m in sink.messages:
            assert b"hidden@remote.test" not in m.data, m.data
            assert _parse(m)["Bcc"] is None


def test_f_by_an_untrusted_user_is_flagged_by_root_not():
    with Sink() as sink, system_user("hbs") as user, _relay(sink) as relay:
        rc, _, err = sendmail(relay, user, ["-f", "boss@else.test",
                                            "x@remote.test"],
                              b"Subject: one\n\n1\n")
        assert rc == 0, (rc, err)
        rc, _, err = sendmail(relay, None, ["-f", "boss@else.test",
                                            "y@remote.test"],
                              b"Subject: two\n\n2\n")
        assert rc == 0, (rc, err)
        sink.wait_for(2)
        by = {m.rcpt_addrs[0]: m for m in sink.messages}
        for m in by.values():
            assert m.mail_from == "boss@else.test", m.mail_from
        warn = _parse(by["x@remote.test"])["X-Authentication-Warning"]
        assert warn == "relay.test: %s set sender to boss@else.test " \
            "using -f" % user, warn
        assert _parse(by["y@remote.test"])["X-Authentication-Warning"] \
            is None


def test_bs_speaks_smtp_on_stdin_and_stdout():
    with Sink() as sink, system_user("hbs") as user, _relay(sink) as relay:
        dialogue = (b"EHLO me\nMAIL FROM:<%s@relay.test>\n"
                    b"RCPT TO:<z@remote.test>\nDATA\n"
                    b"Subject: bs\n\nover -bs\n.\nQUIT\n" % user.encode())
        rc, out, err = sendmail(relay, user, ["-bs"], dialogue)
        assert rc == 0, (rc, err)
        assert out.startswith("220 "), out
        assert "250 2.0.0 Ok: queued as" in out, out
        assert "221 " in out, out
        [m] = sink.wait_for(1)
        assert m.rcpt_addrs == ["z@remote.test"]
        assert _parse(m)["Received"].startswith("(from %s@localhost"
                                                % user)


def test_bp_lists_the_queue_for_root_only():
    with Sink() as sink, system_user("hbs") as user, _relay(sink) as relay:
        relay.smtpctl("pause", "mta")
        rc, _, err = sendmail(relay, user, ["q@remote.test"],
                              b"Subject: held\n\nheld\n")
        assert rc == 0, (rc, err)
        wait_until(lambda: relay.show_queue(), 10, "the queued message")
        rc, out, err = sendmail(relay, None, ["-bp"])
        assert rc == 0, (rc, err)
        assert "q@remote.test" in out, out
        rc, out, err = sendmail(relay, user, ["-bp"])
        assert rc == EX_NOPERM, (rc, out, err)
        assert "only root may list the mail queue" in err, err
        relay.smtpctl("resume", "mta")
        sink.wait_for(1)


def test_lone_dot_ends_the_message_unless_i():
    with Sink() as sink, system_user("hbs") as user, _relay(sink) as relay:
        text = b"Subject: dots\n\nbefore\n.\nafter\n"
        rc, _, err = sendmail(relay, user, ["a@remote.test"], text)
        assert rc == 0, (rc, err)
        rc, _, err = sendmail(relay, user, ["-oi", "b@remote.test"], text)
        assert rc == 0, (rc, err)
        sink.wait_for(2)
        by = {m.rcpt_addrs[0]: m for m in sink.messages}
        plain = by["a@remote.test"].data
        assert b"before" in plain and b"after" not in plain, plain
        body = by["b@remote.test"].data
        assert b"before\r\n.\r\nafter" in body, body


def test_refused_recipient_exits_ex_nouser():
    with Sink() as sink, system_user("hbs") as user, _relay(sink) as relay:
        rc, _, err = sendmail(relay, user, ["nosuchuser%s" % user],
                              b"Subject: x\n\nx\n")
        assert rc == EX_NOUSER, (rc, err)
        assert "nosuchuser%s@relay.test... 550" % user in err, err
        assert not os.listdir(relay.drop) or \
            os.listdir(relay.drop) == [".refused"]


def _drop_files(relay):
    return [n for n in os.listdir(relay.drop) if not n.startswith(".")]


def test_daemon_stopped_drops_offline_then_delivers_once():
    with Sink() as sink, system_user("hbs") as user, system_user("hbs") as other, \
            _relay(sink) as relay:
        relay.stop()
        st = os.stat(relay.drop)
        assert st.st_uid == 0 and st.st_mode & 0o7777 == 0o1733, \
            oct(st.st_mode)
        rc, _, err = sendmail(relay, user, ["-v", "off@remote.test"],
                              b"Subject: offline\n\nwhile down\n")
        assert rc == 0, (rc, err)
        assert "queued offline" in err, err
        [name] = _drop_files(relay)
        path = os.path.join(relay.drop, name)
        st = os.stat(path)
        assert st.st_uid == pwd.getpwnam(user).pw_uid, st.st_uid
        assert st.st_mode & 0o777 == 0o600, oct(st.st_mode)
        # another user can neither read the file nor list the directory
        r = subprocess.run(["setpriv", "--reuid", other, "--regid",
                            str(pwd.getpwnam(other).pw_gid),
                            "--init-groups", "cat", path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert r.returncode != 0 and r.stdout == b"", r
        r = subprocess.run(["setpriv", "--reuid", other, "--regid",
                            str(pwd.getpwnam(other).pw_gid),
                            "--init-groups", "ls", relay.drop],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert r.returncode != 0 and r.stdout == b"", r
        relay.start()
        [m] = sink.wait_for(1, timeout=30)
        assert m.rcpt_addrs == ["off@remote.test"]
        assert _parse(m)["Received"].startswith("(from %s@localhost"
                                                % user)
        wait_until(lambda: not _drop_files(relay), 10, "the file gone")
        relay.wait_for_log(r"offline %s from %s \(uid \d+\) submitted"
                           % (name, user))
        time.sleep(2)
        assert len(sink.messages) == 1, sink.messages


def test_kill_9_right_after_start_loses_nothing_and_delivers_once():
    with Sink() as sink, system_user("hbs") as user, _relay(sink) as relay:
        relay.crash()
        rc, _, err = sendmail(relay, user, ["k9@remote.test"],
                              b"Subject: k9\n\nkilled\n")
        assert rc == 0, (rc, err)
        assert len(_drop_files(relay)) == 1
        relay.start()
        relay.crash()
        relay.start()
        wait_until(lambda: not _drop_files(relay), 30, "the file gone")
        [m] = sink.wait_for(1, timeout=30)
        assert m.rcpt_addrs == ["k9@remote.test"]
        time.sleep(2)
        assert len(sink.messages) == 1, sink.messages


def test_refused_drop_file_is_moved_aside_not_retried():
    with Sink() as sink, system_user("hbs") as user, _relay(sink) as relay:
        relay.stop()
        # a file of the user's that is no drop file at all
        path = os.path.join(relay.drop, "garbage")
        with open(path, "w") as f:
            f.write("not a drop file\n\n")
        os.chown(path, pwd.getpwnam(user).pw_uid, -1)
        os.chmod(path, 0o600)
        relay.start()
        relay.wait_for_log(r"offline garbage from %s \(uid \d+\) refused "
                           r"\(sendmail exit 65\); moved to" % user)
        assert os.path.exists(os.path.join(relay.drop, ".refused",
                                           "garbage"))
        assert not _drop_files(relay)
        assert not sink.messages


def test_dsn_options_and_full_name_reach_the_next_hop():
    with Sink() as sink, system_user("hbs") as user, _relay(sink) as relay:
        rc, _, err = sendmail(relay, user, [
            "-N", "failure,delay", "-R", "hdrs", "-V", "env+2Bid1",
            "-F", "Ann Example", "dsn@remote.test"], b"Subject: dsn\n\nx\n")
        assert rc == 0, (rc, err)
        [m] = sink.wait_for(1)
        params = m.mail_params.decode() if isinstance(m.mail_params, bytes) \
            else str(m.mail_params)
        assert "RET=HDRS" in params and "ENVID=env+2Bid1" in params, params
        rparams = m.rcpts[0][1]
        rparams = rparams.decode() if isinstance(rparams, bytes) \
            else str(rparams)
        assert "NOTIFY=FAILURE,DELAY" in rparams, rparams
        assert _parse(m)["From"] == '"Ann Example" <%s@relay.test>' % user


def test_trusted_users_set_the_sender_without_a_warning():
    with Sink() as sink, system_user("hbs") as user:
        relay = _relay(sink, start=False)
        relay.extra.append('sendmail trusted-users "nobody, %s"' % user)
        relay.write_conf()
        with relay:
            relay.start()
            rc, _, err = sendmail(relay, user, ["-f", "list@else.test",
                                                "t@remote.test"],
                                  b"Subject: t\n\nt\n")
            assert rc == 0, (rc, err)
            [m] = sink.wait_for(1)
            assert m.mail_from == "list@else.test"
            assert _parse(m)["X-Authentication-Warning"] is None
            assert "user=%s uid=%d pid=" % (user, pwd.getpwnam(user).pw_uid) \
                in relay.log()


def test_q_and_bi_run_smtpctl_for_root_only():
    with Sink() as sink, system_user("hbs") as user, _relay(sink) as relay:
        aliases = os.path.join(relay.dir, "aliases")
        with open(aliases, "w") as f:
            f.write("postmaster: root\n")
        relay.set("local aliases", '"%s"' % aliases)
        rc, out, err = sendmail(relay, None, ["-bi"])
        assert rc == 0, (rc, out, err)
        assert "1 aliases" in out + err, out + err
        relay.smtpctl("pause", "mta")
        rc, _, err = sendmail(relay, user, ["w@remote.test"], b"\nw\n")
        assert rc == 0, (rc, err)
        wait_until(lambda: relay.show_queue(), 10, "the queued message")
        rc, out, err = sendmail(relay, None, ["-q"])
        assert rc == 0, (rc, out, err)
        assert "1 envelopes scheduled" in out, out
        for args in (["-bi"], ["-q"]):
            rc, out, err = sendmail(relay, user, args)
            assert rc == EX_NOPERM, (args, rc, out, err)
            assert "permission denied" in err, err


def test_bad_option_is_ex_usage():
    with system_user("hbs") as user, _relay() as relay:
        rc, _, err = sendmail(relay, user, ["-Q", "x@remote.test"])
        assert rc == 64, (rc, err)
        assert "usage:" in err, err


def test_dsn_options_are_kept_for_a_local_delivery():
    """-N/-R/-V are in the stored envelope, not only in the next hop's
    MAIL/RCPT: a local delivery that succeeds with -N success sends a
    DSN with the envelope id and only the headers (-R hdrs); one that
    fails with -N never sends none, without -N one, of the headers only
    (-R hdrs)."""
    spool = mail_spool()
    with system_user("hbs") as alice, system_user("hbs") as carol, \
            _relay(conf={"local mailbox-dir": '"%s"' % spool}) as relay:
        aliases = os.path.join(relay.dir, "aliases")
        with open(aliases, "w") as f:
            f.write("team: :include:%s/nothing\n" % relay.dir)
        relay.set("local aliases", '"%s"' % aliases)
        rc, out, err = sendmail(relay, None, ["-bi"])
        assert rc == 0, (rc, out, err)
        rc, _, err = sendmail(relay, alice, [
            "-N", "success", "-R", "hdrs", "-V", "local+2Bid7", carol],
            b"Subject: kept\n\nsecret body\n")
        assert rc == 0, (rc, err)
        rc, _, err = sendmail(relay, alice, ["-N", "never", "team"],
                              b"Subject: never\n\nx\n")
        assert rc == 0, (rc, err)
        rc, _, err = sendmail(relay, alice, ["-R", "hdrs", "team"],
                              b"Subject: default\n\nfailed body\n")
        assert rc == 0, (rc, err)
        [m] = mbox_messages(spool, carol, 1)
        assert m["Subject"] == "kept", m.items()
        mbox_messages(spool, alice, 2, timeout=30)
        relay.wait_queue_empty(20)
        reports = mbox_messages(spool, alice, 2)
        assert len(reports) == 2, [r["Subject"] for r in reports]
        by_action = {}
        for r in reports:
            d = dsn.parse(r.as_bytes())
            by_action[d.recipients[0]["action"]] = d
        assert sorted(by_action) == ["delivered", "failed"], by_action
        ok = by_action["delivered"]
        assert ok.per_message["original-envelope-id"] == "local+id7", \
            ok.per_message
        assert ok.recipients[0]["final-recipient"].endswith(
            "%s@relay.test" % carol), ok.recipients
        assert ok.returned_type == "text/rfc822-headers", ok.returned_type
        assert b"Subject: kept" in ok.returned, ok.returned
        assert b"secret body" not in ok.returned, ok.returned
        bad = by_action["failed"]
        assert bad.returned_type == "text/rfc822-headers", bad.returned_type
        assert b"Subject: default" in bad.returned, bad.returned
        assert b"failed body" not in bad.returned, bad.returned
