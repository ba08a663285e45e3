"""Warnings (SPEC.md section 2): the certificate is stored, the warning is printed on stderr at
import ("warning: certificate 'NAME': ...") and kept with the certificate (cert list --json,
cert show --json, and the table's WARNINGS column)."""

import pytest

from conftest import assert_leaf, cert_subject

CASES = [
    ("expired", "expired", "expired_key", None, "client", "expired on "),
    ("not-yet-valid", "notyet", "notyet_key", None, "client", "not valid before "),
    ("expiring-in-10-days", "expiring", "expiring_key", None, "client", "expires in "),
    ("wrong-eku-as-client", "wrong_eku", "wrong_eku_key", None, "client",
     "extended key usage does not allow clientAuth"),
    ("client-eku-as-server", "client", "client_key", None, "server",
     "extended key usage does not allow serverAuth"),
    ("broken-chain", "client", "client_key", "root", "client", "chain does not lead to the issuer of "),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_warning_stored_and_shown(cg, pki, case):
    _, crt, key, chain, kind, phrase = case
    args = ["cert", "add", "w1", getattr(pki, crt), "--key", getattr(pki, key), "--kind", kind]
    if chain:
        args += ["--chain", getattr(pki, chain)]
    r = cg(*args)
    assert r.rc == 0, r
    warn_lines = [l for l in r.err.splitlines() if l.startswith("warning: ")]
    assert warn_lines, r
    assert any(l.startswith("warning: certificate 'w1': ") and phrase in l for l in warn_lines), r
    o = assert_leaf(cg, "w1", getattr(pki, crt), kind=kind)
    assert any(phrase in w for w in o["warnings"]), o
    assert len(o["warnings"]) == len(warn_lines), (o, r)
    assert cg.show("w1")["warnings"] == o["warnings"]
    # the table shows how many
    row = [l for l in cg.ok("cert", "list").out.splitlines() if l.startswith("w1 ")]
    assert row and row[0].rstrip().endswith(str(len(o["warnings"]))), row
    # and cert show in text
    assert any(l.startswith("warning:") and phrase in l for l in cg.ok("cert", "show", "w1").out.splitlines())


def test_expiring_says_how_many_days(cg, pki):
    cg.ok("cert", "add", "w1", pki.expiring, "--key", pki.expiring_key)
    o = cg.certs()["w1"]
    assert o["days_left"] in (9, 10), o
    assert any(w.startswith("expires in %d days" % o["days_left"]) for w in o["warnings"]), o


def test_expired_has_negative_days_left(cg, pki):
    cg.ok("cert", "add", "w1", pki.expired, "--key", pki.expired_key)
    o = cg.certs()["w1"]
    assert o["days_left"] < -30, o
    assert not any("expires in" in w for w in o["warnings"]), o


def test_broken_chain_names_the_certificate(cg, pki):
    cg.ok("cert", "add", "w1", pki.client, "--key", pki.client_key, "--chain", pki.root)
    o = cg.certs()["w1"]
    assert "chain does not lead to the issuer of '%s'" % cert_subject(pki.client) in o["warnings"], o


def test_chain_missing_root_is_not_broken(cg, pki):
    # leaf + intermediate only: the chain links; no warning
    r = cg("cert", "add", "c1", pki.client, "--key", pki.client_key, "--chain", pki.inter)
    assert r.rc == 0, r
    assert "warning:" not in r.err, r
    assert cg.certs()["c1"]["warnings"] == []


def test_clean_certificate_has_no_warnings(cg, pki):
    r = cg("cert", "add", "c1", pki.client, "--key", pki.client_key, "--chain", pki.chain)
    assert r.rc == 0, r
    assert "warning" not in r.err, r
    assert cg.certs()["c1"]["warnings"] == []
    r = cg("cert", "add", "web", pki.server, "--key", pki.server_key, "--kind", "server")
    assert r.rc == 0 and "warning" not in r.err, r


def test_several_warnings_at_once(cg, pki):
    # a server-only certificate that expires soon... here: the expired one with a broken chain
    r = cg("cert", "add", "w1", pki.expired, "--key", pki.expired_key, "--chain", pki.root)
    assert r.rc == 0, r
    o = cg.certs()["w1"]
    assert any(w.startswith("expired on ") for w in o["warnings"]), o
    assert any(w.startswith("chain does not lead to the issuer of ") for w in o["warnings"]), o
