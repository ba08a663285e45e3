"""certgate check: exit 0 when every certificate is fine, 1 when any is expired, not yet
valid, expiring within --days (default 30) or unreadable; --json prints {"ok", "days",
"environment", "keys_checked", "certificates": [{"name", "kind", "not_after", "days_left",
"status", "problems"}], "site_problems": [string]}; a site domain that no server certificate
covers is a problem too."""

import os

import pytest

from conftest import assert_error, cert_not_after
from ingress_fixtures import ipki  # noqa: F401 (fixture)


def check(cg, *args, envname=None):
    r = cg("check", "--json", *args, envname=envname)
    assert r.rc in (0, 1), r
    o = r.json()
    assert list(o) == ["ok", "days", "environment", "keys_checked", "certificates", "site_problems"], o
    assert o["ok"] is (r.rc == 0), (o, r)
    return r, o


def by_name(o):
    return {c["name"]: c for c in o["certificates"]}


def test_empty_store_is_ok(cg):
    r, o = check(cg)
    assert r.rc == 0
    assert o == {"ok": True, "days": 30, "environment": "production", "keys_checked": True, "certificates": [],
                 "site_problems": []}
    r = cg("check")
    assert r.rc == 0, r
    assert "0 certificates in 'production', 0 with problems (threshold 30 days)" in r.out, r


def test_all_fine(cg, pki):
    cg.ok("cert", "add", "c1", pki.client, "--key", pki.client_key, "--chain", pki.chain)
    cg.ok("ca", "add", "partner", pki.ca_bundle)
    r, o = check(cg)
    assert r.rc == 0
    c = by_name(o)
    assert set(c) == {"c1", "partner"}
    assert c["c1"] == {"name": "c1", "kind": "client", "not_after": cert_not_after(pki.client),
                       "days_left": c["c1"]["days_left"], "status": "ok", "problems": []}, c
    assert 363 <= c["c1"]["days_left"] <= 365
    assert c["partner"]["status"] == "ok" and c["partner"]["kind"] == "ca"
    r = cg("check")
    assert r.rc == 0, r
    assert "2 certificates in 'production', 0 with problems" in r.out


def test_days_threshold(cg, pki):
    cg.ok("cert", "add", "c1", pki.client, "--key", pki.client_key)
    r, o = check(cg, "--days", "400")
    assert r.rc == 1
    assert o["days"] == 400
    c = by_name(o)["c1"]
    assert c["status"] == "expiring", c
    assert any(p.startswith("certificate expires in %d days" % c["days_left"]) for p in c["problems"]), c
    r = cg("check", "--days", "400")
    assert r.rc == 1, r
    assert "1 with problems (threshold 400 days)" in r.out, r
    assert "expiring" in r.out


def test_expiring_in_ten_days(cg, pki):
    cg.ok("cert", "add", "soon", pki.expiring, "--key", pki.expiring_key)
    r, o = check(cg)
    assert r.rc == 1
    c = by_name(o)["soon"]
    assert c["status"] == "expiring" and c["days_left"] in (9, 10), c
    r, o = check(cg, "--days", "5")
    assert r.rc == 0, o
    assert by_name(o)["soon"]["status"] == "ok"


def test_expired_and_not_yet_valid(cg, pki):
    cg.ok("cert", "add", "c1", pki.client, "--key", pki.client_key)
    cg.ok("cert", "add", "old", pki.expired, "--key", pki.expired_key)
    cg.ok("cert", "add", "new", pki.notyet, "--key", pki.notyet_key)
    r, o = check(cg)
    assert r.rc == 1
    c = by_name(o)
    assert c["c1"]["status"] == "ok"
    assert c["old"]["status"] == "expired" and any("expired on" in p for p in c["old"]["problems"]), c
    assert c["new"]["status"] == "not yet valid" and any("is not valid before" in p for p in c["new"]["problems"]), c
    r = cg("check")
    assert r.rc == 1, r
    assert "3 certificates in 'production', 2 with problems" in r.out, r


def test_environments_checked_separately(cg, pki):
    cg.ok("cert", "add", "old", pki.expired, "--key", pki.expired_key, envname="stage")
    cg.ok("cert", "add", "c1", pki.client, "--key", pki.client_key)
    assert check(cg)[0].rc == 0
    r, o = check(cg, envname="stage")
    assert r.rc == 1 and o["environment"] == "stage"


def test_unreadable_master_key_still_checks_dates(cg, pki):
    cg.ok("cert", "add", "c1", pki.client, "--key", pki.client_key)
    os.chmod(cg.key, 0o644)
    r, o = check(cg)
    assert r.rc == 0, r
    assert o["keys_checked"] is False
    r = cg("check")
    assert r.rc == 0, r
    assert "private keys not checked" in r.out and "note: private keys not checked" in r.err, r


@pytest.mark.parametrize("days", ["-1", "abc", "36501", "1.5", ""])
def test_bad_days(cg, days):
    r = cg("check", "--days", days)
    assert_error(r, 2, "--days must be a whole number")


def test_zero_days(cg, pki):
    cg.ok("cert", "add", "soon", pki.expiring, "--key", pki.expiring_key)
    r, o = check(cg, "--days", "0")
    assert r.rc == 0 and o["days"] == 0


def test_ca_bundle_expiry_names_the_certificate(cg, pki):
    cg.ok("ca", "add", "partner", pki.ca_bundle)
    r, o = check(cg, "--days", "3100")
    assert r.rc == 1
    c = by_name(o)["partner"]
    assert c["kind"] == "ca" and c["status"] == "expiring", c
    # the intermediate (3000 days) is the one that expires within 3100 days, not the root
    assert any(p.startswith("CN=Test Intermediate CA") and "expires in" in p for p in c["problems"]), c
    assert not any(p.startswith("CN=Test Root CA") for p in c["problems"]), c
    assert c["not_after"] == cert_not_after(pki.inter)


def test_site_domain_without_certificate(cg, ipki):
    """A domain that picks its certificate by SAN loses it when that certificate is removed: the
    daemon would refuse its handshakes, and check says so (exit 1) naming the site and the host."""
    cg.ok("cert", "add", "srv-a", ipki.srv_a, "--key", ipki.srv_a_key, "--chain", ipki.inter, "--kind", "server")
    cg.ok("site", "add", "shop", "--backend", "http://127.0.0.1:9", "--domain", "a.test")
    r, o = check(cg, "--days", "0")
    assert r.rc == 0 and o["site_problems"] == [], o
    cg.ok("cert", "rm", "srv-a")
    r, o = check(cg, "--days", "0")
    assert r.rc == 1
    assert len(o["site_problems"]) == 1, o
    assert "site 'shop'" in o["site_problems"][0] and "'a.test'" in o["site_problems"][0], o
    assert "certgate cert add" in o["site_problems"][0]
    r = cg("check", "--days", "0")
    assert r.rc == 1
    assert "problem: site 'shop': no server certificate covers 'a.test'" in r.out, r
    assert "warn" not in r.err, r  # the snapshot's own warning is not printed twice
