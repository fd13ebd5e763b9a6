"""Delivery through an MDA, `local delivery mda "COMMAND"` (issue 12):
real procmail, and scripts the tests write, run by smtpd-local's spawner
as the user.

Each test makes a real system user with a home (lib/localmail.py,
removed after it).  procmail with the user's ~/.procmailrc files the
message into ~/Maildir/ once, with our Return-Path and Delivered-To;
without one into /var/mail/USER, with its set-id bits; dovecot-lda
(Dovecot's master running for its userdb) into the Maildir of Dovecot's
mail home.  A script sees
the message on stdin, runs as the user with its groups, a clean
environment, its set-id bits and no descriptor but stdio; the spawner holds no
descriptor but stdio and its socket to smtpd-local.  Exit 75 (with a
text on stderr) keeps the mail queued with that text and it is
delivered once when the script succeeds; exit 67 bounces once with
5.1.1 and the script's text; a message with our Delivered-To for the
user is a loop, bounced with 5.4.6 without running the MDA; a killed MDA
is retried and delivers once."""
import mailbox
import os
import pwd
import subprocess

from lib import clients, dsn, test_dir, wait_until
from lib.daemon import Relay
from lib.dovecot import Dovecot
from lib.localmail import envelopes, home_user, mail_spool
from lib.sink import Sink

SENDER = "dave@client.test"


def _relay(mda, sink=None):
    return Relay(sink=sink, conf={"local mailbox-dir": '"%s"' % mail_spool()},
                 extra=['local delivery mda "%s"' % mda])


def _send(relay, user, headers=()):
    rcpt = "%s@relay.test" % user
    msg, _ = clients.make_message(SENDER, [rcpt], body="Hello.\r\n",
                                  headers=headers)
    clients.send(relay.port, SENDER, [rcpt], msg=msg)


def _script(text):
    """An executable /bin/sh script in a directory every user can read."""
    d = test_dir("mda")
    os.chmod(d, 0o755)
    path = os.path.join(d, "mda.sh")
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + text)
    os.chmod(path, 0o755)
    return path


def _wait_file(path, timeout=20):
    wait_until(lambda: os.path.exists(path) and os.path.getsize(path) > 0,
               timeout, path, interval=0.2)
    with open(path) as f:
        return f.read()


def test_procmail_files_into_the_users_maildir():
    with home_user("h8p") as (user, home), \
            _relay("/usr/bin/procmail -d %u") as relay:
        pw = pwd.getpwnam(user)
        rc = os.path.join(home, ".procmailrc")
        with open(rc, "w") as f:
            f.write("DEFAULT=$HOME/Maildir/\n")
        os.chown(rc, pw.pw_uid, pw.pw_gid)
        os.chmod(rc, 0o644)
        _send(relay, user, headers=["X-Once: yes"])
        md = os.path.join(home, "Maildir")
        wait_until(lambda: os.path.isdir(os.path.join(md, "new")) and
                   os.listdir(os.path.join(md, "new")), 20,
                   "procmail's delivery into ~/Maildir/new")
        relay.wait_queue_empty(20)
        [m] = mailbox.Maildir(md, create=False)
        assert m["X-Once"] == "yes"
        assert m["Return-Path"] == "<%s>" % SENDER, m["Return-Path"]
        assert m["Delivered-To"] == "%s@relay.test" % user
        relay.wait_for_log(r"to=<%s>.*mailer=local.*stat=Sent" % user)


def test_the_mda_runs_as_the_user_with_a_clean_environment():
    with home_user("h8e") as (user, home):
        out = os.path.join(home, "out")
        script = _script(
            'cat > "$HOME/msg"\n'
            '{ id -u; id -G; env | sort; echo "args:$*"; '
            'grep NoNewPrivs /proc/$$/status; '
            'ls -l /proc/$$/fd | grep -c socket: ; } > "$HOME/out.tmp"\n'
            'mv "$HOME/out.tmp" "$HOME/out"\n')
        with _relay("%s %%u 'a;b' $HOME" % script) as relay:
            _send(relay, user)
            text = _wait_file(out)
            relay.wait_queue_empty(20)
        pw = pwd.getpwnam(user)
        lines = text.splitlines()
        assert lines[0] == str(pw.pw_uid), lines
        groups = subprocess.run(["id", "-G", user], capture_output=True,
                                text=True, check=True).stdout.strip()
        assert lines[1] == groups, (lines[1], groups)
        env = dict(x.split("=", 1) for x in lines[2:] if "=" in x)
        assert env.get("HOME") == home and env.get("USER") == user, env
        for leak in ("PYTHONPATH", "SUDO_USER", "MAIL_CONFIG", "SSH_AUTH_SOCK"):
            assert leak not in env, (leak, env)
        # no shell: only double quotes group, the rest is passed as it is
        assert "args:%s 'a;b' $HOME" % user in lines, lines
        assert lines[-1] == "0", "a socket open in the MDA: %s" % lines
        # an MDA keeps its set-id bits, as procmail needs
        assert lines[-2].split() == ["NoNewPrivs:", "0"], lines
        with open(os.path.join(home, "msg")) as f:
            msg = f.read()
        assert "Delivered-To: %s@relay.test" % user in msg, msg


def _fds(pid):
    d = "/proc/%d/fd" % pid
    return {int(n): os.readlink(os.path.join(d, n)) for n in os.listdir(d)}


def test_the_spawner_keeps_only_its_socket():
    with _relay("/bin/true") as relay:
        local = relay.pid("local")
        with open("/proc/%d/task/%d/children" % (local, local)) as f:
            [spawner] = [int(p) for p in f.read().split()]
        fds = _fds(spawner)
        sockets = [n for n, t in fds.items() if t.startswith("socket:")]
        assert len(sockets) == 1, fds
        assert set(fds) - set(sockets) <= {0, 1, 2}, fds


def _fails_then_delivers_once(prefix, failure, reason):
    """An MDA script that runs failure until a flag file exists: the mail
    waits with reason in the queue, and is delivered once after the
    flag is made."""
    with home_user(prefix) as (user, home):
        flag = os.path.join(home, "ok")
        script = _script('[ -e "%s" ] || { %s; }\n'
                         'cat >> "$HOME/got"\n' % (flag, failure))
        with _relay(script) as relay:
            _send(relay, user, headers=["X-Once: yes"])

            def deferred():
                envs = [e for e in envelopes(relay) if e["rcpt"] == user]
                return envs if envs and reason in envs[0]["lasterror"] \
                    else None
            wait_until(deferred, 20, "a deferred try (%s)" % reason)
            relay.wait_for_log(r"to=<%s>.*mailer=local.*stat=Deferred.*%s"
                               % (user, reason))
            with open(flag, "w"):
                pass
            got = _wait_file(os.path.join(home, "got"))
            relay.wait_queue_empty(20)
        assert got.count("X-Once: yes") == 1, got


def test_exit_75_waits_with_its_text_then_delivers_once():
    _fails_then_delivers_once(
        "h8t", 'echo "mailbox busy, try later" >&2; exit 75',
        "mailbox busy")


def test_exit_67_bounces_once_with_the_mdas_text():
    with home_user("h8n") as (user, home), Sink() as sink:
        script = _script('echo "no such mailbox here" >&2\nexit 67\n')
        with _relay(script, sink=sink) as relay:
            _send(relay, user)
            [m] = sink.wait_for(1, timeout=30)
            relay.wait_queue_empty(20)
            assert m.rcpt_addrs == [SENDER], m.rcpt_addrs
            d = dsn.parse(m.data)
            assert d.recipients[0]["status"] == "5.1.1", d.recipients
            assert "no such mailbox here" in m.data.decode("utf-8",
                                                           "replace")
            log = relay.log()
            assert log.count("to=<%s>" % user) == 1, log


def test_our_delivered_to_is_a_loop_and_the_mda_does_not_run():
    with home_user("h8l") as (user, home), Sink() as sink:
        ran = os.path.join(home, "ran")
        script = _script('touch "%s"\ncat > /dev/null\n' % ran)
        with _relay(script, sink=sink) as relay:
            _send(relay, user,
                  headers=["Delivered-To: %s@relay.test" % user])
            [m] = sink.wait_for(1, timeout=30)
            relay.wait_queue_empty(20)
            d = dsn.parse(m.data)
            assert d.recipients[0]["status"] == "5.4.6", d.recipients
            assert "mail loops back to me" in m.data.decode("utf-8",
                                                            "replace")
        assert not os.path.exists(ran)


def test_a_killed_mda_is_retried_and_delivers_once():
    _fails_then_delivers_once("h8k", "kill -9 $$", "signal 9")


def test_procmail_without_rc_delivers_into_var_mail():
    """procmail's own default, /var/mail/USER (2775 root:mail): it needs
    its set-id bits to make the dot-lock there, as under Postfix's
    mailbox_command."""
    with home_user("h8v") as (user, home):
        path = os.path.join("/var/mail", user)
        try:
            with _relay("/usr/bin/procmail -d %u") as relay:
                _send(relay, user, headers=["X-Once: yes"])
                wait_until(lambda: os.path.exists(path) and
                           len(mailbox.mbox(path, create=False)) == 1, 20,
                           "procmail's delivery into %s" % path)
                relay.wait_queue_empty(20)
            [m] = mailbox.mbox(path, create=False)
            assert m["X-Once"] == "yes"
            assert not os.path.exists(path + ".lock")
        finally:
            for p in (path, path + ".lock"):
                if os.path.exists(p):
                    os.unlink(p)


def test_dovecot_lda_delivers_into_the_users_maildir():
    with home_user("h8d") as (user, home), \
            Dovecot([(user, user)]) as dovecot:
        pw = pwd.getpwnam(user)
        # dovecot-lda runs as the user: its mail home and the log are
        # the user's to write
        os.makedirs(os.path.dirname(dovecot.maildir(user)), exist_ok=True)
        os.chown(os.path.dirname(dovecot.maildir(user)), pw.pw_uid,
                 pw.pw_gid)
        with open(dovecot.logpath, "a"):
            pass
        os.chmod(dovecot.logpath, 0o666)
        with _relay("/usr/lib/dovecot/dovecot-lda -c %s -d %%u -f %%s" %
                    dovecot.confpath) as relay:
            _send(relay, user, headers=["X-Once: yes"])
            [m] = dovecot.wait_messages(user, 1)
            relay.wait_queue_empty(20)
        assert m["X-Once"] == "yes"
        assert m["Delivered-To"] == "%s@relay.test" % user
        assert m["Return-Path"] == "<%s>" % SENDER, m["Return-Path"]
