"""Sites, path rules and the CRLs of their client CAs: site add / set / list / show / rm, site rule
(SPEC.md section 1, "Site" and "Path rule"; docs/cli.md), ca add --crl.

A site's backend is http://host:port; each domain presents a named server certificate whose SANs
cover it, or (no name) some server certificate must cover it; a host belongs to one site; the
mTLS mode defaults to off, and a site that asks for client certificates with no CA to verify
them is stored with a warning. Rules map a path prefix to a profile or a preset and go with their
site. A CA bundle's CRLs (--crl PEM or DER, or X509 CRL blocks in the bundle) must be issued and
signed by a certificate of the bundle. Every refusal stores nothing."""

import pytest

from conftest import assert_error
from site_fixtures import spki  # noqa: F401

FIELDS = ["name", "backend", "mtls", "domains", "mtls_domain", "client_cas", "rules"]
BACKEND = "http://127.0.0.1:8080"


def sites(cg, envname=None):
    r = cg.ok("site", "list", "--json", envname=envname)
    lst = r.json()
    assert isinstance(lst, list), r
    return {s["name"]: s for s in lst}


def show(cg, name):
    return cg.ok("site", "show", name, "--json").json()


@pytest.fixture
def certs(cg, spki):
    """Server certificates (shop: www/app.shop.test, wild: *.wild.test, api: api.shop.test), the
    test CA bundle and a client certificate."""
    for name, crt, key in (("shop-cert", spki.shop, spki.shop_key), ("wild-cert", spki.wild, spki.wild_key),
                           ("api-cert", spki.api, spki.api_key)):
        cg.ok("cert", "add", name, crt, "--key", key, "--kind", "server")
    cg.ok("ca", "add", "corp", spki.ca_bundle)
    cg.ok("ca", "add", "partners", spki.ca_bundle2)
    cg.ok("cert", "add", "client1", spki.client, "--key", spki.client_key)
    return cg


def add_shop(cg, *extra):
    return cg.ok("site", "add", "shop", "--backend", BACKEND, "--domain", "www.shop.test", *extra)


# ---- add, show, list --------------------------------------------------------------------------

def test_add_everything(certs):
    cg = certs
    r = cg("site", "add", "shop", "--backend", "http://App.Internal:8080", "--domain", "WWW.shop.test=shop-cert",
           "--domain", "a.wild.test", "--mtls-domain", "app.shop.test", "--mtls", "optional",
           "--client-ca", "partners", "--client-ca", "corp")
    assert r.rc == 0, r
    assert "added site 'shop' -> http://app.internal:8080 (mtls optional, 2 domains, mTLS domain app.shop.test)" in r.out
    assert "warning" not in r.err, r
    o = show(cg, "shop")
    assert list(o) == FIELDS, o
    assert o == {"name": "shop", "backend": "http://app.internal:8080", "mtls": "optional",
                 "domains": [{"host": "a.wild.test", "cert": None},  # ordered by host; null: chosen by SANs
                             {"host": "www.shop.test", "cert": "shop-cert"}],
                 "mtls_domain": {"host": "app.shop.test", "cert": None},
                 "client_cas": ["partners", "corp"],  # in the order given
                 "rules": []}, o
    assert sites(cg) == {"shop": o}
    r = cg.ok("site", "show", "shop")
    assert "www.shop.test (certificate shop-cert)" in r.out and "a.wild.test (certificate chosen by its SANs)" in r.out
    assert "mtls domain:  app.shop.test (always mTLS required" in r.out, r
    assert "rules:        (none: every request is allowed)" in r.out, r
    r = cg.ok("site", "list")
    assert r.out.splitlines()[0].split() == ["NAME", "BACKEND", "MTLS", "DOMAINS", "MTLS", "DOMAIN", "CLIENT", "CAS",
                                             "RULES"], r
    assert "a.wild.test, www.shop.test=shop-cert" in r.out, r


def test_add_minimal_defaults_to_off(certs):
    cg = certs
    r = cg.ok("site", "list")
    assert "no sites in environment 'production'" in r.out, r
    assert cg.ok("site", "list", "--json").json() == []
    add_shop(cg)
    assert show(cg, "shop") == {"name": "shop", "backend": BACKEND, "mtls": "off",
                                "domains": [{"host": "www.shop.test", "cert": None}], "mtls_domain": None,
                                "client_cas": [], "rules": []}


def test_ipv6_backend(certs):
    certs.ok("site", "add", "v6", "--backend", "http://[::1]:9000/", "--domain", "api.shop.test")
    assert show(certs, "v6")["backend"] == "http://[::1]:9000"


def test_wildcard_san_covers_one_label(certs):
    cg = certs
    add_shop(cg, "--domain", "x.wild.test", "--domain", "y.wild.test=wild-cert")
    for host in ("a.b.wild.test", "wild.test"):
        r = cg("site", "add", "other", "--backend", BACKEND, "--domain", host)
        assert_error(r, 1, "no server certificate of environment 'production' covers domain '%s'" % host,
                     hint="certgate cert add NAME FILE --kind server")
        r = cg("site", "add", "other", "--backend", BACKEND, "--domain", host + "=wild-cert")
        assert_error(r, 2, "server certificate 'wild-cert' does not cover domain '%s'" % host, "DNS:*.wild.test")
    # a wildcard domain needs the same wildcard in a SAN
    cg.ok("site", "add", "wild", "--backend", BACKEND, "--domain", "*.wild.test")
    assert_error(cg("site", "add", "w2", "--backend", BACKEND, "--domain", "*.shop.test"), 1, "covers domain '*.shop.test'")
    assert sorted(sites(cg)) == ["shop", "wild"]


# ---- set, rm ----------------------------------------------------------------------------------

def test_set(certs):
    cg = certs
    add_shop(cg, "--mtls-domain", "app.shop.test", "--client-ca", "corp", "--mtls", "required")
    cg.ok("site", "rule", "shop", "/", "allow-all")
    r = cg.ok("site", "set", "shop", "--backend", "http://127.0.0.1:9090", "--mtls", "optional")
    assert "changed site 'shop' -> http://127.0.0.1:9090 (mtls optional" in r.out, r
    o = show(cg, "shop")
    assert o["domains"] == [{"host": "www.shop.test", "cert": None}] and o["client_cas"] == ["corp"], o
    assert o["mtls_domain"] == {"host": "app.shop.test", "cert": None}, o
    assert o["rules"] == [{"path": "/", "profile": "allow-all"}], o  # rules are kept
    # --domain and --client-ca replace the whole list
    cg.ok("site", "set", "shop", "--domain", "api.shop.test=api-cert", "--domain", "q.wild.test",
          "--client-ca", "partners")
    o = show(cg, "shop")
    assert o["domains"] == [{"host": "api.shop.test", "cert": "api-cert"}, {"host": "q.wild.test", "cert": None}], o
    assert o["client_cas"] == ["partners"], o
    # the host it gave up is free for another site
    cg.ok("site", "add", "www", "--backend", BACKEND, "--domain", "www.shop.test")
    cg.ok("site", "set", "shop", "--no-mtls-domain", "--no-client-ca", "--mtls", "off")
    o = show(cg, "shop")
    assert o["mtls_domain"] is None and o["client_cas"] == [] and o["mtls"] == "off", o
    cg.ok("ca", "rm", "partners")  # no longer used


def test_set_refusals(certs):
    cg = certs
    add_shop(cg)
    assert_error(cg("site", "set", "shop"), 2, "nothing to set", hint="--backend")
    assert_error(cg("site", "set", "nope", "--mtls", "off"), 1, "no site named 'nope'", hint="certgate site list")
    assert_error(cg("site", "set", "shop", "--mtls-domain", "app.shop.test", "--no-mtls-domain"), 2, "contradict")
    assert_error(cg("site", "set", "shop", "--mtls", "sometimes"), 2,
                 "--mtls must be off, optional or required, not 'sometimes'")
    assert_error(cg("site", "set", "shop", "--domain", "nothing.covers.this"), 1, "covers domain 'nothing.covers.this'")
    assert show(cg, "shop")["domains"] == [{"host": "www.shop.test", "cert": None}]  # untouched


def test_rm_takes_the_rules(certs):
    cg = certs
    add_shop(cg)
    cg.ok("profile", "add", "staff", "--allow-ip", "10.0.0.0/8")
    cg.ok("site", "rule", "shop", "/admin/", "staff")
    r = cg.ok("site", "rm", "shop")
    assert "removed site 'shop' (and its rules)" in r.out, r
    assert sites(cg) == {}
    cg.ok("profile", "rm", "staff")  # no rule names it any more
    assert_error(cg("site", "rm", "shop"), 1, "no site named 'shop' in environment 'production'")


# ---- refusals ---------------------------------------------------------------------------------

@pytest.mark.parametrize("backend,phrase", [
    ("https://127.0.0.1:8443", "uses https://"),
    ("http://127.0.0.1", "has no port"),
    ("http://127.0.0.1:8080/app", "has a path, query or fragment"),
    ("http://127.0.0.1:70000", "is not a valid URL"),
    ("127.0.0.1:8080", "is not an http:// URL"),
    ("http://a..b:80", "empty label"),
])
def test_bad_backend(certs, backend, phrase):
    r = certs("site", "add", "shop", "--backend", backend, "--domain", "www.shop.test")
    assert_error(r, 2, "site 'shop': backend '%s'" % backend, phrase, hint=True)
    assert sites(certs) == {}


def test_backend_required(certs):
    assert_error(certs("site", "add", "shop", "--domain", "www.shop.test"), 2, "site 'shop' needs a backend",
                 hint="--backend http://")
    assert_error(certs("site", "add", "shop", "--backend", BACKEND), 2, "site 'shop' has no domain", hint="--domain")


@pytest.mark.parametrize("host,phrase", [
    ("www_shop.test", "the character '_'"),
    ("10.0.0.256", "not an IP address"),
    ("w*.shop.test", "not the whole leading label"),
    ("*w.shop.test", "partial wildcard"),
    ("a.*.shop.test", "not the whole leading label"),
    ("*.test", "wildcard over a top-level domain"),
    ("a..shop.test", "empty label"),
    ("-a.shop.test", "starts or ends with '-'"),
])
def test_bad_host(certs, host, phrase):
    for opt in ("--domain", "--mtls-domain"):
        args = ["site", "add", "shop", "--backend", BACKEND]
        args += [opt, host] if opt == "--domain" else ["--domain", "www.shop.test", opt, host]
        assert_error(certs(*args), 2, "site 'shop': %s: domain '%s'" % (opt, host), phrase, hint=True)
    assert sites(certs) == {}


def test_host_belongs_to_one_site(certs, spki):
    cg = certs
    add_shop(cg, "--mtls-domain", "app.shop.test")
    for host in ("www.shop.test", "app.shop.test", "WWW.Shop.Test."):
        r = cg("site", "add", "other", "--backend", BACKEND, "--domain", host)
        assert_error(r, 1, "host '%s' already belongs to site 'shop'" % host.lower().rstrip("."),
                     hint="certgate site set shop")
    r = cg("site", "add", "other", "--backend", BACKEND, "--domain", "api.shop.test", "--mtls-domain", "www.shop.test")
    assert_error(r, 1, "host 'www.shop.test' already belongs to site 'shop'")
    assert sorted(sites(cg)) == ["shop"]
    # within one site
    assert_error(cg("site", "add", "x", "--backend", BACKEND, "--domain", "api.shop.test", "--domain", "API.shop.test"),
                 2, "--domain api.shop.test is given twice")
    assert_error(cg("site", "add", "x", "--backend", BACKEND, "--domain", "api.shop.test", "--mtls-domain",
                    "api.shop.test"), 2, "api.shop.test is both a domain and the mTLS domain")
    # another environment has its own hosts
    cg.ok("cert", "add", "shop-cert", spki.shop, "--key", spki.shop_key, "--kind", "server", envname="stage")
    cg.ok("site", "add", "shop", "--backend", BACKEND, "--domain", "www.shop.test", envname="stage")
    assert sorted(sites(cg, envname="stage")) == ["shop"]


def test_server_certificate_must_fit(certs):
    cg = certs
    r = cg("site", "add", "shop", "--backend", BACKEND, "--domain", "www.shop.test=api-cert")
    assert_error(r, 2, "server certificate 'api-cert' does not cover domain 'www.shop.test': its names are "
                       "DNS:api.shop.test", hint="--domain www.shop.test alone")
    r = cg("site", "add", "shop", "--backend", BACKEND, "--domain", "www.shop.test=missing")
    assert_error(r, 1, "domain 'www.shop.test' presents certificate 'missing', but there is no certificate",
                 hint="certgate cert add missing FILE --kind server")
    r = cg("site", "add", "shop", "--backend", BACKEND, "--domain", "www.shop.test=client1")
    assert_error(r, 2, "cannot present 'client1': it is a client certificate", hint="--kind server")
    r = cg("site", "add", "shop", "--backend", BACKEND, "--domain", "www.shop.test=")
    assert_error(r, 2, "names no certificate after '='")
    r = cg("site", "add", "shop", "--backend", BACKEND, "--domain", "nobody.shop.test")
    assert_error(r, 1, "no server certificate of environment 'production' covers domain 'nobody.shop.test' "
                       "(3 server certificates", hint="certgate cert add NAME FILE --kind server")
    assert sites(cg) == {}


def test_certificate_without_san(cg, spki):
    cg.ok("cert", "add", "nosan", spki.nosan, "--key", spki.nosan_key, "--kind", "server")
    r = cg("site", "add", "shop", "--backend", BACKEND, "--domain", "nosan.shop.test=nosan")
    assert_error(r, 2, "its names are none (it has no subjectAltName)")
    r = cg("site", "add", "shop", "--backend", BACKEND, "--domain", "nosan.shop.test")
    assert_error(r, 1, "(1 server certificate, none with that name in its SANs)")


def test_client_ca_must_be_a_bundle(certs):
    assert_error(certs("site", "add", "shop", "--backend", BACKEND, "--domain", "www.shop.test", "--client-ca",
                       "missing"), 1, "site 'shop' verifies clients with CA 'missing', but there is no CA bundle",
                 hint="certgate ca add missing")
    assert_error(certs("site", "add", "shop", "--backend", BACKEND, "--domain", "www.shop.test", "--client-ca",
                       "shop-cert"), 2, "it is a server certificate, not a CA bundle")
    assert_error(certs("site", "add", "shop", "--backend", BACKEND, "--domain", "www.shop.test", "--client-ca",
                       "corp", "--client-ca", "corp"), 2, "--client-ca corp is given twice")
    assert sites(certs) == {}


def test_duplicate_and_bad_names(certs):
    add_shop(certs)
    assert_error(certs("site", "add", "shop", "--backend", BACKEND, "--domain", "api.shop.test"), 1,
                 "a site named 'shop' already exists", hint="certgate site set shop")
    certs.ok("site", "add", "shop", "--backend", BACKEND, "--domain", "api.shop.test", "--replace")
    assert show(certs, "shop")["domains"] == [{"host": "api.shop.test", "cert": None}]
    assert_error(certs("site", "add", "a/b", "--backend", BACKEND, "--domain", "x.wild.test"), 2,
                 "site name 'a/b' is not valid")


# ---- warnings ---------------------------------------------------------------------------------

@pytest.mark.parametrize("extra,what", [
    (["--mtls", "required"], "requires client certificates"),
    (["--mtls", "optional"], "asks for client certificates"),
    (["--mtls-domain", "app.shop.test"], "has an mTLS domain"),
])
def test_no_client_ca_warning(certs, extra, what):
    cg = certs
    r = add_shop(cg, *extra)
    assert "warning: site 'shop' %s, but no client CA is given" % what in r.err, r
    assert "no client certificate can pass until one is" in r.err, r
    assert "shop" in sites(cg)  # stored all the same
    # a profile with a CA, named by a rule, gives the site a CA
    cg.ok("profile", "add", "staff", "--client-ca", "corp")
    r = cg.ok("site", "rule", "shop", "/", "staff")
    assert "warning" not in r.err, r
    r = cg.ok("site", "set", "shop", "--backend", "http://127.0.0.1:1")
    assert "warning" not in r.err, r
    # a rule to a preset or to a profile without CAs does not
    cg.ok("site", "rule", "shop", "/", "allow-all")
    r = cg.ok("site", "set", "shop", "--backend", "http://127.0.0.1:2")
    assert "warning: site 'shop'" in r.err, r
    r = cg.ok("site", "set", "shop", "--client-ca", "corp")
    assert "warning" not in r.err, r


def test_no_warning_when_off(certs):
    r = add_shop(certs)
    assert r.err == "", r


# ---- rules ------------------------------------------------------------------------------------

def test_rules(certs):
    cg = certs
    add_shop(cg)
    cg.ok("profile", "add", "staff", "--allow-ip", "10.0.0.0/8")
    r = cg.ok("site", "rule", "shop", "/", "allow-all")
    assert "site 'shop': / -> allow-all" in r.out, r
    cg.ok("site", "rule", "shop", "/admin/", "deny-all")
    cg.ok("site", "rule", "shop", "/admin/", "staff")  # upsert
    cg.ok("site", "rule", "shop", "/api", "deny-all")
    o = show(cg, "shop")
    assert o["rules"] == [{"path": "/", "profile": "allow-all"}, {"path": "/admin/", "profile": "staff"},
                          {"path": "/api", "profile": "deny-all"}], o
    assert sites(cg)["shop"]["rules"] == o["rules"]
    r = cg.ok("site", "show", "shop")
    assert "rules:        /        allow-all" in r.out and "/admin/  staff" in r.out, r
    r = cg.ok("site", "rule", "rm", "shop", "/api")
    assert "removed rule /api of site 'shop'" in r.out, r
    assert [x["path"] for x in show(cg, "shop")["rules"]] == ["/", "/admin/"]
    assert_error(cg("site", "rule", "rm", "shop", "/api"), 1, "site 'shop' has no rule for path '/api'",
                 hint="certgate site show shop")
    assert_error(cg("site", "rule", "rm", "nope", "/"), 1, "no site named 'nope'")


def test_site_named_rm(certs):
    """"rm" followed by a path is a rule for a site called rm."""
    cg = certs
    cg.ok("site", "add", "rm", "--backend", BACKEND, "--domain", "www.shop.test")
    cg.ok("site", "rule", "rm", "/", "deny-all")
    assert show(cg, "rm")["rules"] == [{"path": "/", "profile": "deny-all"}]
    cg.ok("site", "rule", "rm", "rm", "/")
    assert show(cg, "rm")["rules"] == []


@pytest.mark.parametrize("path,code,phrase", [
    ("admin/", 2, "does not start with '/'"),
    ("/a/../admin", 2, "'.' or '..' segment"),
    ("/a b", 2, "space"),
    ("/x?y", 2, "query or a fragment"),
    ("/%61dmin", 2, "'%' escape"),
    ("//admin", 2, "'//'"),
])
def test_bad_rule_path(certs, path, code, phrase):
    add_shop(certs)
    assert_error(certs("site", "rule", "shop", path, "allow-all"), code, "site 'shop': rule path", phrase, hint=True)
    assert show(certs, "shop")["rules"] == []


def test_rule_refusals(certs):
    cg = certs
    add_shop(cg)
    assert_error(cg("site", "rule", "shop", "/", "nope"), 1, "rule '/' of site 'shop' names profile 'nope'",
                 hint="certgate profile add nope")
    assert_error(cg("site", "rule", "gone", "/", "allow-all"), 1, "no site named 'gone'")
    assert_error(cg("site", "rule", "shop", "/"), 2, "missing arguments")
    assert show(cg, "shop")["rules"] == []


# ---- certificates a site uses -----------------------------------------------------------------

def test_used_certificates_cannot_go(certs, spki):
    cg = certs
    add_shop(cg, "--domain", "api.shop.test=api-cert", "--client-ca", "corp")
    assert_error(cg("cert", "rm", "api-cert"), 1, "cannot delete certificate 'api-cert'", "used by 1 site: 'shop'",
                 hint="certgate site set SITE")
    assert_error(cg("ca", "rm", "corp"), 1, "used by 1 site: 'shop'")
    # an automatic domain holds no certificate
    cg.ok("cert", "rm", "shop-cert")
    # rotation keeps the site's reference
    cg.ok("cert", "add", "api-cert", spki.api, "--key", spki.api_key, "--kind", "server", "--replace")
    # ...with a certificate that still covers the hosts that name it
    r = cg("cert", "add", "api-cert", spki.shop, "--key", spki.shop_key, "--kind", "server", "--replace")
    assert_error(r, 2, "cannot replace server certificate 'api-cert': site 'shop' presents it on api.shop.test",
                 hint="certgate site set shop")
    assert cg.certs()["api-cert"]["sans"] == ["DNS:api.shop.test"]
    cg.ok("site", "rm", "shop")
    cg.ok("cert", "rm", "api-cert")
    cg.ok("ca", "rm", "corp")


# ---- CRLs of client CAs -----------------------------------------------------------------------

def crls(cg, name):
    return cg.ok("ca", "show", name, "--json").json()["crls"]


def test_crl_pem_and_der(cg, spki):
    for name, crl in (("pem", spki.inter_crl), ("der", spki.inter_crl_der)):
        r = cg.ok("ca", "add", name, spki.ca_bundle, "--crl", crl)
        assert "with 1 CRL" in r.out, r
        (c,) = crls(cg, name)
        assert list(c) == ["issuer", "last_update", "next_update", "stale", "revoked"], c
        assert c["issuer"] == "CN=Test Intermediate CA,O=certgate tests", c
        assert c["revoked"] == 1 and c["stale"] is False, c
        assert c["next_update"] > c["last_update"], c
    r = cg.ok("ca", "list")
    assert r.out.splitlines()[0].split()[-1] == "CRLS", r
    assert cg.ok("ca", "list", "--json").json()[0]["crls"] == crls(cg, "der")
    r = cg.ok("ca", "show", "pem")
    assert "crls:         CN=Test Intermediate CA,O=certgate tests" in r.out and "1 revoked" in r.out, r


def test_crl_inside_the_bundle(cg, spki):
    r = cg.ok("ca", "add", "corp", spki.bundle_with_crl)
    assert "with 1 CRL" in r.out, r
    assert [c["issuer"] for c in crls(cg, "corp")] == ["CN=Test Intermediate CA,O=certgate tests"]
    # the same CRL given again is kept once; a second issuer's is added
    cg.ok("ca", "add", "corp", spki.bundle_with_crl, "--crl", spki.inter_crl, "--crl", spki.root_crl, "--replace")
    assert [c["issuer"] for c in crls(cg, "corp")] == ["CN=Test Intermediate CA,O=certgate tests",
                                                      "CN=Test Root CA,O=certgate tests"]


def test_crl_refusals(cg, spki):
    r = cg("ca", "add", "corp", spki.ca_bundle, "--crl", spki.root2_crl)
    assert_error(r, 1, "'%s': the CRL issued by 'CN=Other Root CA,O=certgate tests' does not belong to this CA bundle"
                 % spki.root2_crl, hint="Test Root CA")
    r = cg("ca", "add", "corp", spki.ca_bundle, "--crl", spki.root)
    assert_error(r, 1, "is a PEM file with 1 certificate and no private key, not a CRL", hint="openssl ca -gencrl")
    r = cg("ca", "add", "corp", spki.ca_bundle, "--crl", spki.truncated_crl)
    assert_error(r, 1, "'%s' is truncated or corrupt" % spki.truncated_crl)
    r = cg("ca", "add", "corp", spki.ca_bundle, "--crl", cg.dir / "missing.crl")
    assert_error(r, 1, "missing.crl")
    assert cg.certs() == {}


def test_stale_crl_is_a_warning(cg, spki):
    r = cg.ok("ca", "add", "corp", spki.ca_bundle, "--crl", spki.stale_crl)
    assert "warning: ca 'corp': the CRL of 'CN=Test Intermediate CA,O=certgate tests' is stale" in r.err, r
    (c,) = crls(cg, "corp")
    assert c["stale"] is True, c
    assert any("stale" in w for w in cg.certs()["corp"]["warnings"])


def test_replace_keeps_nothing_old(cg, spki):
    cg.ok("ca", "add", "corp", spki.ca_bundle, "--crl", spki.inter_crl)
    cg.ok("ca", "add", "corp", spki.ca_bundle, "--replace")
    assert crls(cg, "corp") == []
    assert "CRL" not in cg.ok("ca", "add", "corp", spki.ca_bundle, "--replace").out


def test_ca_show_is_for_bundles(certs):
    assert_error(certs("ca", "show", "client1"), 2, "is a client certificate, not a CA bundle",
                 hint="certgate cert show client1")
    assert_error(certs("ca", "show", "nope"), 1, "no certificate named 'nope'")
