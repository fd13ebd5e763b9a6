"""The sendmail command's options one by one, as sendmail 8 parses them
(issue 12): plain getopt(3) over its option letters, so flags without a
value cluster in any order ("-ti", "-it") and the option letters end at
the first recipient; newaliases, by that name or as -bi, passes -v on
and takes no -f sender.  Then the options scripts pass: the ignored
ones deliver with no word on stderr, -X and -d warn, -Q is refused, -I is
-bi; cron's and PHP's calls, and bsd-mailx through a sendmail wrapper
naming the test's config.  Helpers are those of test_sendmail.py."""
import importlib.util
import os

from lib.localmail import system_user
from lib.sink import Sink

_spec = importlib.util.spec_from_file_location(
    "sendmail_helpers", os.path.join(os.path.dirname(__file__),
                                     "test_sendmail.py"))
_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helpers)
_relay = _helpers._relay
sendmail = _helpers.sendmail
SENDMAIL = _helpers.SENDMAIL
EX_NOUSER = _helpers.EX_NOUSER


def _aliases(relay):
    path = os.path.join(relay.dir, "aliases")
    with open(path, "w") as f:
        f.write("postmaster: root\nwebmaster: root\n")
    relay.set("local aliases", '"%s"' % path)


def _newaliases_link(relay):
    """newaliases as a link to bin/sendmail (how a site installs it)."""
    link = os.path.join(relay.dir, "newaliases")
    if not os.path.lexists(link):
        os.symlink(SENDMAIL, link)
    return link


def _run(argv):
    import subprocess
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def test_newaliases_link_and_bi_pass_v_on():
    with Sink() as sink, _relay(sink) as relay:
        _aliases(relay)
        link = _newaliases_link(relay)
        for argv in ([link, "-C", relay.confpath, "-v"],
                     [SENDMAIL, "-C", relay.confpath, "-bi", "-v"],
                     [SENDMAIL, "-C", relay.confpath, "-vbi"]):
            rc, out, err = _run(argv)
            assert rc == 0, (argv, rc, out, err)
            assert "2 aliases" in out, (argv, out, err)
            assert "postmaster: root" in out, (argv, out, err)
            assert "webmaster: root" in out, (argv, out, err)


def test_newaliases_takes_no_sender():
    with Sink() as sink, _relay(sink) as relay:
        _aliases(relay)
        link = _newaliases_link(relay)
        for argv in ([link, "-C", relay.confpath, "-f", "/etc/aliases"],
                     [SENDMAIL, "-C", relay.confpath, "-bi", "-f",
                      "list@else.test"]):
            rc, out, err = _run(argv)
            assert rc == 0, (argv, rc, out, err)
            assert "2 aliases" in out, (argv, out, err)
            assert "-f ignored" in err, (argv, err)


def test_clustered_flags_are_getopts():
    text = b"To: x@remote.test\nSubject: c\n\nbefore\n.\nafter\n"
    with Sink() as sink, system_user("hbs") as user, _relay(sink) as relay:
        for args in (["-ti"], ["-it"], ["-itf", "list@else.test"]):
            rc, _, err = sendmail(relay, user, args, text)
            assert rc == 0, (args, rc, err)
        msgs = sink.wait_for(3)
        for m in msgs:
            assert m.rcpt_addrs == ["x@remote.test"], m.rcpt_addrs
            assert b"before\r\n.\r\nafter" in m.data, m.data
        assert sorted(m.mail_from for m in msgs) == sorted(
            ["%s@relay.test" % user] * 2 + ["list@else.test"])


def test_ignore_dots_long_name_and_boolean_values():
    """-O IgnoreDots is -i; the option takes sendmail's boolean value, so
    =false (or -oiFalse) turns it off; an unknown -O name is warned of."""
    text = b"Subject: dots\n\nbefore\n.\nafter\n"
    keep = [["-O", "IgnoreDots"], ["-OIgnoreDots=True"], ["-oi"],
            ["-oiyes"]]
    cut = [["-O", "IgnoreDots=false"], ["-oiFalse"], ["-i", "-oiN"]]
    with Sink() as sink, system_user("hbs") as user, _relay(sink) as relay:
        for i, args in enumerate(keep + cut):
            rc, _, err = sendmail(relay, user, args + ["d%d@remote.test" % i],
                                  text)
            assert rc == 0 and err == "", (args, rc, err)
        rc, _, err = sendmail(relay, user, ["-O", "NoSuchOption=1",
                                            "u@remote.test"], text)
        assert rc == 0 and "-O NoSuchOption ignored" in err, (rc, err)
        msgs = sink.wait_for(len(keep) + len(cut) + 1)
        for m in msgs:
            i = m.rcpt_addrs[0]
            kept = b"before\r\n.\r\nafter" in m.data
            if i.startswith("d") and int(i[1:i.index("@")]) < len(keep):
                assert kept, (i, m.data)
            else:
                assert not kept and b"after" not in m.data, (i, m.data)


def test_options_end_at_the_first_recipient():
    with Sink() as sink, system_user("hbs") as user, _relay(sink) as relay:
        rc, _, err = sendmail(relay, user, ["bob@remote.test", "-v"],
                              b"Subject: v\n\nv\n")
        assert rc == EX_NOUSER, (rc, err)
        assert "-v... " in err and "options come before" in err, err
        assert "-v@" not in err, err
        rc, _, err = sendmail(relay, user, ["-v", "bob@remote.test"],
                              b"Subject: v\n\nv\n")
        assert rc == 0, (rc, err)
        [m] = sink.wait_for(1)
        assert m.rcpt_addrs == ["bob@remote.test"], m.rcpt_addrs


def test_double_dash_lets_an_address_start_with_a_dash():
    with Sink() as sink, system_user("hbs") as user, _relay(sink) as relay:
        rc, _, err = sendmail(relay, user, ["--", "-list@remote.test"],
                              b"Subject: d\n\nd\n")
        assert rc == 0, (rc, err)
        [m] = sink.wait_for(1)
        assert m.rcpt_addrs == ["-list@remote.test"], m.rcpt_addrs


def test_ignored_options_deliver_quietly_x_and_d_warn_q_refused():
    quiet = [["-oem"], ["-oee"], ["-odi"], ["-odb"], ["-odq"], ["-om"],
             ["-U"], ["-Am"], ["-Ac"], ["-G"], ["-L", "tag"],
             ["-B", "8BITMIME"], ["-B7BIT"], ["-O", "DeliveryMode=b"],
             ["-h", "5"], ["-oQ/var/spool/mqueue"], ["-m"], ["-n"],
             ["-c"], ["-s"], ["-oi", "-odb", "-oem", "-U"]]
    with Sink() as sink, system_user("hbs") as user, _relay(sink) as relay:
        for i, args in enumerate(quiet):
            rc, _, err = sendmail(relay, user, args + ["q%d@remote.test" % i],
                                  b"Subject: q\n\nq\n")
            assert rc == 0 and err == "", (args, rc, err)
        rc, _, err = sendmail(relay, user, ["-X", "/tmp/traffic",
                                            "x@remote.test"],
                              b"Subject: x\n\nx\n")
        assert rc == 0, (rc, err)
        assert "-X (traffic log) ignored" in err, err
        assert not os.path.exists("/tmp/traffic")
        rc, _, err = sendmail(relay, user, ["-d0.1", "d@remote.test"],
                              b"Subject: d\n\nd\n")
        assert rc == 0 and "-d (debugging) ignored" in err, (rc, err)
        msgs = sink.wait_for(len(quiet) + 2)
        got = sorted(a for m in msgs for a in m.rcpt_addrs)
        assert got == sorted(["q%d@remote.test" % i
                              for i in range(len(quiet))] +
                             ["x@remote.test", "d@remote.test"]), got
        rc, _, err = sendmail(relay, user, ["-Q", "why", "z@remote.test"],
                              b"Subject: z\n\nz\n")
        assert rc == 64 and "quarantine" in err, (rc, err)


def test_cron_and_php_calls():
    """cron: -FCronDaemon -i -B8BITMIME -oem USER; PHP: -t -i."""
    with Sink() as sink, system_user("hbs") as user, _relay(sink) as relay:
        rc, _, err = sendmail(relay, user, ["-FCronDaemon", "-i",
                                            "-B8BITMIME", "-oem",
                                            "cron@remote.test"],
                              b"Subject: Cron <u@h> true\n\n.\nout\n")
        assert rc == 0 and err == "", (rc, err)
        rc, _, err = sendmail(relay, user, ["-t", "-i"],
                              b"To: php@remote.test\nSubject: php\n\n"
                              b".\nend\n")
        assert rc == 0 and err == "", (rc, err)
        msgs = sink.wait_for(2)
        by = {m.rcpt_addrs[0]: m for m in msgs}
        cron = _helpers._parse(by["cron@remote.test"])
        assert cron["From"] == '"CronDaemon" <%s@relay.test>' % user or \
            cron["From"] == "CronDaemon <%s@relay.test>" % user, cron["From"]
        assert b"\r\n.\r\nout" in by["cron@remote.test"].data
        assert b"\r\n.\r\nend" in by["php@remote.test"].data


def test_I_is_bi():
    with Sink() as sink, _relay(sink) as relay:
        _aliases(relay)
        rc, out, err = _run([SENDMAIL, "-C", relay.confpath, "-I"])
        assert rc == 0 and "2 aliases" in out, (rc, out, err)


def test_mailx_sends_through_the_command():
    import shutil
    import subprocess
    mailx = shutil.which("bsd-mailx") or shutil.which("mailx")
    assert mailx, "bsd-mailx is installed by tools/deps.sh"
    with Sink() as sink, system_user("hbs") as user, _relay(sink) as relay:
        wrapper = os.path.join(relay.dir, "sendmail-wrapper")
        with open(wrapper, "w") as f:
            f.write('#!/bin/sh\nexec %s -C %s "$@"\n'
                    % (SENDMAIL, relay.confpath))
        os.chmod(wrapper, 0o755)
        rc_file = os.path.join(relay.dir, "mailrc")
        with open(rc_file, "w") as f:
            f.write("set sendmail=%s\n" % wrapper)
        os.chmod(relay.dir, 0o755)
        env = {"PATH": "/usr/bin:/bin", "MAILRC": rc_file, "HOME": "/"}
        import pwd
        cmd = ["setpriv", "--reuid", user, "--regid",
               str(pwd.getpwnam(user).pw_gid),
               "--init-groups", mailx, "-s", "from mailx",
               "mx@remote.test"]
        r = subprocess.run(cmd, input=b"hello\n.\nafter dot\n", env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30)
        assert r.returncode == 0, (r.returncode, r.stderr)
        [m] = sink.wait_for(1)
        assert m.rcpt_addrs == ["mx@remote.test"], m.rcpt_addrs
        msg = _helpers._parse(m)
        assert msg["Subject"] == "from mailx", msg.items()
        assert msg["Received"].startswith("(from %s@localhost" % user)
        # mailx runs sendmail -i: its lone dot is text
        assert b"hello\r\n.\r\nafter dot" in m.data, m.data


def test_v_shows_the_dialogue_and_n_never_reaches_the_next_hop():
    with Sink() as sink, system_user("hbs") as user, _relay(sink) as relay:
        rc, _, err = sendmail(relay, user, ["-vNnever", "-Rfull",
                                            "nv@remote.test"],
                              b"Subject: nv\n\nnv\n")
        assert rc == 0, (rc, err)
        assert ">>> MAIL FROM:<%s@relay.test>" % user in err, err
        assert "RCPT TO:<nv@remote.test>" in err, err
        [m] = sink.wait_for(1)
        rparams = m.rcpts[0][1]
        rparams = rparams.decode() if isinstance(rparams, bytes) \
            else str(rparams)
        assert "NOTIFY=NEVER" in rparams, rparams
        params = " ".join(m.mail_params) if isinstance(
            m.mail_params, list) else str(m.mail_params)
        assert "RET=FULL" in params, params


def test_bad_values_and_modes_are_ex_usage():
    with system_user("hbs") as user, _relay() as relay:
        for args in (["-N", "sometimes"], ["-R", "all"], ["-q30m"],
                     ["-bd"], ["-bt"], ["-V", "a b"], ["-f"], ["-j"]):
            rc, _, err = sendmail(relay, user, args + ["u@remote.test"],
                                  b"Subject: u\n\nu\n")
            assert rc == 64 and "usage:" in err, (args, rc, err)


def test_utf8_recipient_goes_with_smtputf8():
    """A UTF-8 address (RFC 6531) is submitted with SMTPUTF8 and relayed
    with it to a next hop that offers it."""
    rcpt = "\u7528\u6237@\u4f8b\u5b50.\u5e7f\u544a"
    keywords = ("PIPELINING", "8BITMIME", "SMTPUTF8")
    with Sink(keywords=keywords) as sink, system_user("hbs") as user, \
            _relay(sink) as relay:
        rc, _, err = sendmail(relay, user, [rcpt],
                              "Subject: gr\u00fc\u00dfe\n\nx\n".encode())
        assert rc == 0, (rc, err)
        [m] = sink.wait_for(1)
        assert m.rcpt_addrs == [rcpt], m.rcpt_addrs
        assert "SMTPUTF8" in m.mail_params, m.mail_params
