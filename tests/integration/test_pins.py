"""Pins: set / list / rm / resolve with every precedence rule of SPEC.md section 1: service,
then host:port, then host, then a one-label wildcard, then the default certificate, else none;
a pin to none beats the default. pin resolve --json prints {cert, fingerprint_sha256, matched,
target}."""

import pytest

from conftest import assert_error


@pytest.fixture
def three(cg, pki):
    """c1 (default), c2, c3 stored."""
    cg.ok("cert", "add", "c1", pki.client, "--key", pki.client_key, "--default")
    cg.ok("cert", "add", "c2", pki.client2, "--key", pki.client2_key)
    cg.ok("cert", "add", "c3", pki.client3, "--key", pki.client3_key)
    fp = {n: o["fingerprint_sha256"] for n, o in cg.certs().items()}
    return cg, fp


def test_resolve_with_nothing(cg):
    res = cg.resolve("api.partner.example")
    assert res == {"cert": None, "fingerprint_sha256": None, "matched": "none", "target": None}, res
    assert list(res) == ["cert", "fingerprint_sha256", "matched", "target"]
    r = cg.ok("pin", "resolve", "api.partner.example")
    assert "api.partner.example:443 -> none" in r.out, r


def test_resolve_default(three):
    cg, fp = three
    res = cg.resolve("api.partner.example")
    assert res == {"cert": "c1", "fingerprint_sha256": fp["c1"], "matched": "default", "target": None}, res
    r = cg.ok("pin", "resolve", "api.partner.example:8443")
    assert "api.partner.example:8443 -> c1 (the default client certificate" in r.out, r
    assert "sha256 " + fp["c1"] in r.out


def test_full_precedence(three):
    cg, fp = three
    cg.ok("pin", "set", "*.partner.example", "c2")
    assert cg.resolve("api.partner.example")["matched"] == "wildcard"
    assert cg.resolve("api.partner.example")["cert"] == "c2"
    assert cg.resolve("api.partner.example")["target"] == "*.partner.example"
    # host beats wildcard
    cg.ok("pin", "set", "api.partner.example", "c3")
    res = cg.resolve("api.partner.example")
    assert res == {"cert": "c3", "fingerprint_sha256": fp["c3"], "matched": "host",
                   "target": "api.partner.example"}, res
    # host:port beats host, for that port only
    cg.ok("pin", "set", "api.partner.example:8443", "c2")
    res = cg.resolve("api.partner.example:8443")
    assert (res["cert"], res["matched"], res["target"]) == ("c2", "host:port", "api.partner.example:8443"), res
    res = cg.resolve("api.partner.example:9443")
    assert (res["cert"], res["matched"]) == ("c3", "host"), res
    # service beats everything
    cg.ok("pin", "set", "Billing.PaymentService", "c1")
    res = cg.resolve("api.partner.example:8443", service="Billing.PaymentService")
    assert (res["cert"], res["matched"], res["target"]) == ("c1", "service", "Billing.PaymentService"), res
    # an unknown service falls through to the host rules
    res = cg.resolve("api.partner.example:8443", service="Other.Service")
    assert (res["cert"], res["matched"]) == ("c2", "host:port"), res
    # another host under the wildcard
    res = cg.resolve("www.partner.example")
    assert (res["cert"], res["matched"]) == ("c2", "wildcard"), res
    # text form
    r = cg.ok("pin", "resolve", "api.partner.example:8443", "--service", "Billing.PaymentService")
    assert "-> c1 (pin Billing.PaymentService, matched as service)" in r.out, r


def test_wildcard_is_one_label_only(three):
    cg, fp = three
    cg.ok("pin", "set", "*.partner.example", "c2")
    res = cg.resolve("a.b.partner.example")
    assert (res["cert"], res["matched"]) == ("c1", "default"), res
    res = cg.resolve("partner.example")
    assert (res["cert"], res["matched"]) == ("c1", "default"), res


def test_port_443_is_the_default_port(three):
    cg, _ = three
    cg.ok("pin", "set", "api.partner.example:443", "c3")
    res = cg.resolve("api.partner.example")
    assert (res["cert"], res["matched"]) == ("c3", "host:port"), res
    res = cg.resolve("api.partner.example:443")
    assert (res["cert"], res["matched"]) == ("c3", "host:port"), res


def test_hosts_compare_case_insensitively(three):
    cg, _ = three
    cg.ok("pin", "set", "api.partner.example", "c2")
    res = cg.resolve("API.Partner.EXAMPLE")
    assert (res["cert"], res["matched"]) == ("c2", "host"), res
    res = cg.resolve("api.partner.example.")
    assert (res["cert"], res["matched"]) == ("c2", "host"), res


def test_service_names_compare_exactly(three):
    cg, _ = three
    cg.ok("pin", "set", "Billing.PaymentService", "c2")
    res = cg.resolve("x.example", service="billing.paymentservice")
    assert res["matched"] != "service", res


def test_service_pin_also_matches_as_host(three):
    # a name target matches both ways: it is a service name or a host
    cg, _ = three
    cg.ok("pin", "set", "api.partner.example", "c2")
    res = cg.resolve("other.example", service="api.partner.example")
    assert (res["cert"], res["matched"]) == ("c2", "service"), res


def test_pin_to_none_beats_default(three):
    cg, _ = three
    r = cg.ok("pin", "set", "api.partner.example", "none")
    assert "pinned api.partner.example -> none" in r.out
    res = cg.resolve("api.partner.example")
    assert res == {"cert": None, "fingerprint_sha256": None, "matched": "host", "target": "api.partner.example"}, res
    cg.ok("pin", "set", "Legacy.Service", "none")
    res = cg.resolve("other.example", service="Legacy.Service")
    assert (res["cert"], res["matched"], res["target"]) == (None, "service", "Legacy.Service"), res
    # and a wildcard to none beats the default too
    cg.ok("pin", "set", "*.internal.example", "none")
    res = cg.resolve("db.internal.example")
    assert (res["cert"], res["matched"]) == (None, "wildcard"), res
    r = cg.ok("pin", "resolve", "api.partner.example")
    assert "-> none" in r.out


def test_pin_list_and_rm(three):
    cg, _ = three
    r = cg.ok("pin", "list")
    assert "no pins in environment 'production'" in r.out
    cg.ok("pin", "set", "Billing.PaymentService", "c1")
    cg.ok("pin", "set", "api.partner.example:8443", "c2")
    cg.ok("pin", "set", "*.partner.example", "none")
    cg.ok("pin", "set", "[2001:db8::1]:8443", "c3")
    r = cg.ok("pin", "list", "--json")
    lst = r.json()
    assert [p["target"] for p in lst] == sorted(p["target"] for p in lst), lst
    by = {p["target"]: p for p in lst}
    assert by["Billing.PaymentService"] == {"target": "Billing.PaymentService", "cert": "c1",
                                            "match": "service or host"}
    assert by["api.partner.example:8443"] == {"target": "api.partner.example:8443", "cert": "c2",
                                              "match": "host:port"}
    assert by["*.partner.example"] == {"target": "*.partner.example", "cert": None, "match": "wildcard"}
    assert by["[2001:db8::1]:8443"]["match"] == "host:port"
    r = cg.ok("pin", "list")
    assert r.out.splitlines()[0].split() == ["TARGET", "CERTIFICATE", "MATCHES", "AS"], r
    assert any(l.startswith("*.partner.example") and " none " in l for l in r.out.splitlines()), r
    # set again: replaced, not duplicated
    cg.ok("pin", "set", "Billing.PaymentService", "c3")
    assert cg.pins()["Billing.PaymentService"] == "c3"
    assert len(cg.pins()) == 4
    r = cg.ok("pin", "rm", "Billing.PaymentService")
    assert "removed pin Billing.PaymentService" in r.out
    assert "Billing.PaymentService" not in cg.pins()
    res = cg.resolve("x.example", service="Billing.PaymentService")
    assert res["matched"] == "default"
    # ipv6 resolution
    res = cg.resolve("[2001:db8::1]:8443")
    assert (res["cert"], res["matched"]) == ("c3", "host:port"), res


def test_pin_rm_unknown(cg):
    r = cg("pin", "rm", "api.example.com")
    assert_error(r, 1, "no pin for target 'api.example.com'")


def test_pin_to_unknown_certificate(cg):
    r = cg("pin", "set", "api.example.com", "ghost")
    assert_error(r, 1, "no certificate named 'ghost'", hint="cert list")
    assert cg.pins() == {}


@pytest.mark.parametrize("target", [
    "*.com",                 # wildcard needs two labels after it
    "*.*.example.com",       # one wildcard label only
    "a*.example.com",
    "api.example.com:0",
    "api.example.com:65536",
    "api.example.com:http",
    "*.example.com:443",     # no port on wildcards
    "has space.example",
    "double..dot.example",
    ".leading.example",
    "2001:db8::1",           # bare IPv6 needs brackets
    "[zz::1]",
    "x" * 300,
])
def test_invalid_targets(cg, pki, target):
    cg.ok("cert", "add", "c1", pki.client, "--key", pki.client_key)
    r = cg("pin", "set", target, "c1")
    assert_error(r, 2, "pin target", hint="a pin target is")
    assert cg.pins() == {}


def test_empty_target(cg, pki):
    cg.ok("cert", "add", "c1", pki.client, "--key", pki.client_key)
    r = cg("pin", "set", "", "c1")
    assert_error(r, 2, "is empty")
    assert cg.pins() == {}


@pytest.mark.parametrize("target", ["Module.Service", "api.example.com", "api.example.com:8443",
                                    "*.example.com", "[2001:db8::1]", "[::1]:8443", "10.0.0.1:443", "localhost"])
def test_valid_targets(cg, pki, target):
    cg.ok("cert", "add", "c1", pki.client, "--key", pki.client_key)
    r = cg("pin", "set", target, "c1")
    assert r.rc == 0, r
    assert cg.pins() == {target: "c1"}


@pytest.mark.parametrize("dest", ["host:0", "host:99999", "[::1", ":443", "[::1]x"])
def test_resolve_invalid_destination(cg, dest):
    r = cg("pin", "resolve", dest, "--json")
    assert_error(r, 2, "is not a destination", hint="HOST:PORT")
