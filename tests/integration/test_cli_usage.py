"""Help, version and misuse: exit 0 for help, 2 for every misuse, with "certgate: " messages
and a usage hint."""

import pytest

from conftest import assert_error, run_raw


def test_help():
    r = run_raw("--help")
    assert r.rc == 0, r
    assert "usage: certgate" in r.out
    for cmd in ("certgate init", "certgate cert add", "certgate cert list", "certgate cert rm",
                "certgate ca add", "certgate pin set", "certgate pin resolve", "certgate import mendix",
                "certgate check"):
        assert cmd in r.out, (cmd, r)
    assert "Exit status" in r.out
    assert r.err == ""
    assert run_raw("-h").out == r.out
    assert run_raw("help").out == r.out


def test_group_help():
    r = run_raw("cert", "--help")
    assert r.rc == 0, r
    assert "certgate cert add" in r.out and "certgate cert list" in r.out and "certgate cert set" in r.out
    assert "certgate pin set" not in r.out and "import mendix" not in r.out
    r = run_raw("pin", "-h")
    assert r.rc == 0, r
    assert "certgate pin resolve" in r.out and "cert add" not in r.out


def test_command_help():
    r = run_raw("cert", "add", "--help")
    assert r.rc == 0, r
    assert "certgate cert add NAME FILE" in r.out
    assert "--password-file" in r.out


def test_version():
    r = run_raw("--version")
    assert r.rc == 0, r
    assert r.out.startswith("certgate ")


def test_no_command():
    r = run_raw()
    assert r.rc == 2, r
    assert "usage: certgate" in r.err
    assert r.out == ""


def test_unknown_command():
    r = run_raw("frobnicate")
    assert_error(r, 2, "unknown command 'frobnicate'", hint="certgate --help")


def test_unknown_subcommand(cg):
    r = cg("cert", "frob")
    assert r.rc == 2, r
    assert "unknown command 'cert frob'" in r.err


def test_group_without_subcommand(cg):
    r = cg("pin")
    assert r.rc == 2, r
    assert "needs a subcommand" in r.err


def test_missing_arguments(cg, pki):
    r = cg("cert", "add", "only-a-name")
    assert_error(r, 2, "missing arguments", hint="usage: certgate cert add")
    r = cg("pin", "set", "api.example.com")
    assert_error(r, 2, "missing arguments", hint="usage: certgate pin set")
    r = cg("cert", "show")
    assert_error(r, 2, "missing arguments")
    assert cg.certs() == {}


def test_unexpected_argument(cg):
    r = cg("cert", "list", "extra")
    assert_error(r, 2, "unexpected argument 'extra'", hint="usage: certgate cert list")


@pytest.mark.parametrize("args, bad", [
    (("cert", "list", "--bogus"), "--bogus"),
    (("check", "--weeks", "3"), "--weeks"),
    (("pin", "resolve", "a.example", "--servic", "X"), "--servic"),
])
def test_unknown_option(cg, args, bad):
    r = cg(*args)
    assert_error(r, 2, "unknown option '%s'" % bad, hint="usage: certgate")


def test_option_needs_value(cg, pki):
    r = cg("cert", "add", "c1", pki.client, "--key")
    assert_error(r, 2, "a value is needed after option")
    assert cg.certs() == {}


def test_global_option_needs_value():
    r = run_raw("--store")
    assert_error(r, 2, "a value is needed after option '--store'")


def test_option_given_twice(cg, pki):
    r = cg("cert", "add", "c1", pki.client, "--key", pki.client_key, "--key", pki.client_key)
    assert_error(r, 2, "given twice")
    assert cg.certs() == {}


def test_flag_with_value(cg, pki):
    r = cg("cert", "add", "c1", pki.client, "--key", pki.client_key, "--default=yes")
    assert_error(r, 2, "takes no value")
    assert cg.certs() == {}


def test_global_options_anywhere(cg, pki):
    cg.ok("cert", "add", "c1", pki.client, "--key", pki.client_key)
    r = run_raw("cert", "list", "--json", "--store", cg.store_url, "--env=production")
    assert r.rc == 0, r
    assert [c["name"] for c in r.json()] == ["c1"]
    r = run_raw("--store=" + cg.store_url, "cert", "show", "c1", "--json")
    assert r.rc == 0, r
    assert r.json()["name"] == "c1"


def test_unknown_store_scheme():
    r = run_raw("--store", "mysql://localhost/x", "cert", "list")
    assert r.rc == 2, r
    assert r.err.startswith("certgate: ") and "mysql" in r.err, r


def test_invalid_environment_name(cg):
    r = cg("cert", "list", envname="Prod Env")
    assert_error(r, 2, "environment name 'Prod Env' is not valid", hint="lowercase")


def test_double_dash_ends_options(cg, pki):
    # after "--" a leading dash is an argument: here a name that is not valid
    r = cg("cert", "add", "--", "-c1", str(pki.client))
    assert_error(r, 2, "certificate name '-c1' is not valid", hint=True)
    assert cg.certs() == {}
