"""The policy tests of other areas, run again against a PostgreSQL store.

Each test here runs one test function of regress/policy, local, relay or
auth unchanged, with lib.daemon.POSTGRESQL set to the conninfo of a fresh
PostgreSQL 15 (lib/pgsql.py): every relay it makes gets `database
postgresql`, so smtpctl makemap / access / map / authinfo write the maps
there and policyd answers from it.  The NOTIFY that tells policyd of a
change is asynchronous (a change reaches every relay within a second,
not at the instant smtpctl returns), so a change smtpctl makes while the
relay runs returns here once policyd has taken its notification.  They cover the access map (Connect:,
From:, error replies), virtusertable probes, mailertable routes, aliases
and the authinfo credential of a next hop; and every test of
regress/policy, each with a PostgreSQL of its own, but those that look
at the SQLite file itself or need two relays with maps of their own
(under one PostgreSQL every relay of a test shares the maps, as a fleet
does).
"""
import importlib.util
import os

from lib import Skip, daemon, timeout
from lib.pgsql import Postgres, waiting_smtpctl_run

REGRESS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(area, module, func):
    path = os.path.join(REGRESS, area, module + ".py")
    spec = importlib.util.spec_from_file_location("pgsuite_" + module, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    original = daemon.Relay.smtpctl_run
    with Postgres() as pg:
        daemon.POSTGRESQL = pg.conninfo
        daemon.Relay.smtpctl_run = waiting_smtpctl_run(original)
        try:
            getattr(mod, func)()
        finally:
            daemon.POSTGRESQL = None
            daemon.Relay.smtpctl_run = original


def test_access_add_and_delete():
    _run("policy", "test_access_edit",
         "test_add_and_delete_change_connect_reply_at_once")


def test_access_error_reply_and_replace():
    _run("policy", "test_access_edit", "test_add_error_reply_and_replace")


def test_blacklist_recipients():
    _run("policy", "test_blacklist_recipients",
         "test_default_applies_to_entries")


def test_virtusertable_probes():
    _run("local", "test_virtusertable",
         "test_probes_in_sendmail_order_with_substitutions")


def test_virtusertable_error_entries():
    _run("local", "test_virtusertable",
         "test_error_entries_give_their_reply_at_rcpt")


def test_mailertable_routes():
    _run("relay", "test_mailertable",
         "test_mailer_host_follows_mx_brackets_do_not")


def test_mailertable_user_at_host():
    _run("relay", "test_mailertable", "test_mailer_user_at_host_is_the_rcpt")


def test_aliases_list():
    _run("local", "test_aliases",
         "test_list_of_a_local_user_and_a_remote_address")


def test_aliases_unknown_members():
    _run("local", "test_aliases",
         "test_list_of_unknown_users_is_refused_at_rcpt")


def test_authinfo_credential():
    _run("auth", "test_client_auth",
         "test_auth_plain_over_starttls_delivers_esmtpsa")


def test_authinfo_show_masks():
    _run("auth", "test_client_auth",
         "test_authinfo_show_masks_and_bad_entries_refused")


# regress/policy tests that do not apply to a shared PostgreSQL store
POLICY_NOT_HERE = {
    # the SQLite file: its absence, its bytes after a refused makemap
    "test_bad_input_refused_database_unchanged",
    "test_other_maps_and_no_database",
    # the next hop is a second relay whose maps must not be the first's
    "test_tls_srv_verify_ok_and_fail",
    "test_two_mx_downgrade_tls_rcpt",
}


def _run_file(module):
    """Every test function of regress/policy/MODULE.py against a fresh
    PostgreSQL each, but those of POLICY_NOT_HERE."""
    path = os.path.join(REGRESS, "policy", module + ".py")
    spec = importlib.util.spec_from_file_location("pgfile_" + module, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    names = sorted(n for n in dir(mod) if n.startswith("test_") and
                   callable(getattr(mod, n)) and n not in POLICY_NOT_HERE)
    assert names, module
    for name in names:
        try:
            _run("policy", module, name)
        except Skip:
            continue
        except BaseException as e:
            raise AssertionError("%s.%s against PostgreSQL: %r"
                                 % (module, name, e)) from e


@timeout(240)
def test_policy_access_edit():
    _run_file("test_access_edit")


@timeout(240)
def test_policy_blacklist_recipients():
    _run_file("test_blacklist_recipients")


@timeout(240)
def test_policy_dnsbl():
    _run_file("test_dnsbl")


@timeout(240)
def test_policy_explain():
    _run_file("test_explain")


@timeout(240)
def test_policy_percent_hack():
    _run_file("test_percent_hack")


@timeout(240)
def test_policy_quarantine():
    _run_file("test_quarantine")


@timeout(240)
def test_policy_tls_client_rules():
    _run_file("test_tls_client_rules")


@timeout(240)
def test_policy_tls_server_rules():
    _run_file("test_tls_server_rules")
