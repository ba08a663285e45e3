"""Access profiles and path rules at the ingress (SPEC.md section 1, docs/ingress.md "The
decision"): a selected intermediate, allowed and denied addresses, the longest prefix, the
presets, and path spellings that try to slip past a rule. Every refusal: 403 with the JSON body
{"error": "access_denied", "rule", "profile", "reason"} and an access-log line saying the same."""

import pytest

from ingress_fixtures import (add_site_a, backend, error_json, ingress, ipki, raw_exchange, seen, tls_get,
                              wait_access_line)

def client(ipki, which):
    return {"none": (None, None), "inter": (ipki.client_full, ipki.client_key),
            "inter2": (ipki.client_i2_full, ipki.client_i2_key)}[which]


def get(ipki, d, target, which="none", host="a.test"):
    cert, key = client(ipki, which)
    return tls_get(ipki, d.port, host, target, cert=cert, key=key)


def assert_denied(d, resp, rule, profile, reason, target):
    """403 with the decision in the body and in the access-log line of that request."""
    st, h, body = resp
    assert st == 403, body
    o = error_json(st, h, body)
    assert o["error"] == "access_denied", o
    assert (o["rule"], o["profile"], o["reason"], o["site"]) == (rule, profile, reason, "a"), o
    line = wait_access_line(d, lambda l: l["target"] == target and l["status"] == 403)
    assert (line["site"], line["rule"], line["profile"], line["reason"]) == ("a", rule, profile, reason), line
    assert line["error"] == "access_denied", line
    return o


def assert_allowed(d, resp, target, reason, rule=None, profile=None):
    st, h, body = resp
    assert st == 200, body
    assert seen(body)["target"] == target
    line = wait_access_line(d, lambda l: l["target"] == target and l["status"] == 200)
    assert (line["rule"], line["profile"], line["reason"]) == (rule, profile, reason), line


def test_selected_intermediate(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="optional")
    fp = ipki.fingerprint(ipki.inter)
    cg.ok("profile", "add", "inter-only", "--client-ca", "clients@" + fp)
    cg.ok("site", "rule", "a", "/", "inter-only")
    d = ingress()
    assert_allowed(d, get(ipki, d, "/ok", "inter"), "/ok", "certificate", "/", "inter-only")
    # the other branch of the same root: valid (the handshake passes), not a selected signer
    o = assert_denied(d, get(ipki, d, "/i2", "inter2"), "/", "inter-only", "certificate_not_accepted", "/i2")
    assert "certificate_not_accepted" in o["message"] and "'a'" in o["message"], o
    assert_denied(d, get(ipki, d, "/none"), "/", "inter-only", "no_certificate", "/none")
    assert [r[1] for r in backend.requests] == ["/ok"]


def test_selecting_the_other_intermediate_flips_it(cg, ipki, backend, ingress):
    """The control of the test above: select inter2, and the verdicts swap."""
    add_site_a(cg, ipki, backend, mode="optional")
    cg.ok("profile", "add", "i2-only", "--client-ca", "clients@" + ipki.fingerprint(ipki.inter2))
    cg.ok("site", "rule", "a", "/", "i2-only")
    d = ingress()
    assert_allowed(d, get(ipki, d, "/i2", "inter2"), "/i2", "certificate", "/", "i2-only")
    assert_denied(d, get(ipki, d, "/ok", "inter"), "/", "i2-only", "certificate_not_accepted", "/ok")


def test_selecting_the_root_accepts_both_branches(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="optional")
    cg.ok("profile", "add", "root", "--client-ca", "clients@" + ipki.fingerprint(ipki.root))
    cg.ok("site", "rule", "a", "/", "root")
    d = ingress()
    assert_allowed(d, get(ipki, d, "/1", "inter"), "/1", "certificate", "/", "root")
    assert_allowed(d, get(ipki, d, "/2", "inter2"), "/2", "certificate", "/", "root")


def test_profile_ca_extends_the_site_cas(cg, ipki, backend, ingress):
    """A site with no CA of its own verifies clients against the CAs its rules' profiles name."""
    add_site_a(cg, ipki, backend, mode="optional", client_ca=None)
    cg.ok("ca", "add", "inter2-only", ipki.bundle("inter2-root.pem", ipki.root, ipki.inter2))
    cg.ok("profile", "add", "p2", "--client-ca", "inter2-only")
    cg.ok("site", "rule", "a", "/p2", "p2")
    d = ingress()
    assert_allowed(d, get(ipki, d, "/p2/x", "inter2"), "/p2/x", "certificate", "/p2", "p2")
    assert_allowed(d, get(ipki, d, "/open", "inter2"), "/open", "no_rules")


def test_allowed_ip_passes_without_certificate(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="optional")
    cg.ok("profile", "add", "certs", "--client-ca", "clients")
    cg.ok("profile", "add", "office", "--client-ca", "clients", "--allow-ip", "127.0.0.0/8")
    cg.ok("site", "rule", "a", "/", "certs")
    cg.ok("site", "rule", "a", "/office", "office")
    d = ingress()
    assert_denied(d, get(ipki, d, "/x"), "/", "certs", "no_certificate", "/x")
    assert_allowed(d, get(ipki, d, "/office/x"), "/office/x", "ip_allowed", "/office", "office")
    assert_allowed(d, get(ipki, d, "/y", "inter"), "/y", "certificate", "/", "certs")


def test_ip_allowed_in_mode_off(cg, ipki, backend, ingress):
    """Mode off asks for no certificate: a profile can only pass clients by address."""
    add_site_a(cg, ipki, backend, mode="off")
    cg.ok("profile", "add", "lan", "--allow-ip", "10.0.0.0/8", "--client-ca", "clients")
    cg.ok("profile", "add", "loop", "--allow-ip", "127.0.0.1")
    cg.ok("site", "rule", "a", "/lan", "lan")
    cg.ok("site", "rule", "a", "/loop", "loop")
    d = ingress()
    assert_denied(d, get(ipki, d, "/lan", "inter"), "/lan", "lan", "no_certificate", "/lan")
    assert_allowed(d, get(ipki, d, "/loop"), "/loop", "ip_allowed", "/loop", "loop")


def test_denied_ip_refused_even_with_certificate(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="optional")
    cg.ok("profile", "add", "blocked", "--client-ca", "clients", "--allow-ip", "127.0.0.0/8",
          "--deny-ip", "127.0.0.1/32")
    cg.ok("site", "rule", "a", "/", "blocked")
    d = ingress()
    st, h, body = get(ipki, d, "/in", "inter")
    o = assert_denied(d, (st, h, body), "/", "blocked", "ip_denied", "/in")
    assert set(o) >= {"error", "rule", "profile", "reason", "message", "site"}, o
    assert h.get("connection") == "close", h
    assert_denied(d, get(ipki, d, "/in2"), "/", "blocked", "ip_denied", "/in2")
    assert not backend.requests


def test_longest_prefix_and_presets(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="optional")
    cg.ok("profile", "add", "certs", "--client-ca", "clients")
    cg.ok("site", "rule", "a", "/", "deny-all")
    cg.ok("site", "rule", "a", "/api", "allow-all")
    cg.ok("site", "rule", "a", "/api/private/", "certs")
    d = ingress()
    assert_denied(d, get(ipki, d, "/"), "/", "deny-all", "deny_all", "/")
    assert_denied(d, get(ipki, d, "/other", "inter"), "/", "deny-all", "deny_all", "/other")
    assert_allowed(d, get(ipki, d, "/api"), "/api", "allow_all", "/api", "allow-all")
    assert_allowed(d, get(ipki, d, "/apix?q=1"), "/apix?q=1", "allow_all", "/api", "allow-all")
    # /api/private/ covers the subtree, not /api/private itself
    assert_allowed(d, get(ipki, d, "/api/private"), "/api/private", "allow_all", "/api", "allow-all")
    assert_denied(d, get(ipki, d, "/api/private/x"), "/api/private/", "certs", "no_certificate", "/api/private/x")
    assert_allowed(d, get(ipki, d, "/api/private/y", "inter"), "/api/private/y", "certificate", "/api/private/",
                   "certs")
    assert sorted(r[1] for r in backend.requests) == ["/api", "/api/private", "/api/private/y", "/apix?q=1"]


def test_site_without_rules_allows_all(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="off")
    cg.ok("profile", "add", "certs", "--client-ca", "clients")
    cg.ok("site", "rule", "a", "/only", "certs")
    cg.ok("site", "rule", "rm", "a", "/only")
    d = ingress()
    assert_allowed(d, get(ipki, d, "/any/thing"), "/any/thing", "no_rules")


BYPASS = ["/admin", "/%61dmin", "/%61%64%6d%69%6e/x", "//admin", "///admin/", "/x/../admin", "/x/./../admin",
          "/admin;x", "/admin;jsessionid=1/y", "/public/..;/admin", "/a/%2e%2e/admin", "/a%2F..%2Fadmin",
          "/./admin", "/admin/", "/administrator", "/admin?x=/public"]


def test_path_normalisation_meets_the_rule(cg, ipki, backend, ingress):
    add_site_a(cg, ipki, backend, mode="off")
    cg.ok("site", "rule", "a", "/", "allow-all")
    cg.ok("site", "rule", "a", "/admin", "deny-all")
    d = ingress()
    for target in BYPASS:
        assert_denied(d, get(ipki, d, target), "/admin", "deny-all", "deny_all", target)
    assert not backend.requests, backend.requests
    # the control: what is not /admin passes, and goes to the backend as the client sent it
    for target in ("/Admin", "/public/admin", "/adm", "/a/b/../admi"):
        assert_allowed(d, get(ipki, d, target), target, "allow_all", "/", "allow-all")
    assert [r[1] for r in backend.requests] == ["/Admin", "/public/admin", "/adm", "/a/b/../admi"]


@pytest.mark.parametrize("target", ["/../admin", "/%zzadmin", "/%2", "/a%00b", "/a/%2e%2e/%2e%2e/admin"])
def test_bad_paths_answered_400(cg, ipki, backend, ingress, target):
    add_site_a(cg, ipki, backend, mode="off")
    cg.ok("site", "rule", "a", "/admin", "deny-all")
    d = ingress()
    st, h, body = get(ipki, d, target)
    assert st == 400, body
    assert error_json(st, h, body)["error"] == "bad_path"
    assert not backend.requests


def test_absolute_form_target_meets_the_rule(cg, ipki, backend, ingress):
    """GET https://a.test/admin HTTP/1.1 is matched on its path, like the origin form."""
    add_site_a(cg, ipki, backend, mode="off")
    cg.ok("site", "rule", "a", "/admin", "deny-all")
    d = ingress()
    st, h, body, _ = raw_exchange(ipki, d.port, "a.test",
                                  b"GET https://a.test/%61dmin/x HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
    assert st == 403, body
    assert error_json(st, h, body)["rule"] == "/admin"
    assert not backend.requests
