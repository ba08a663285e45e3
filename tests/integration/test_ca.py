"""ca add / ca list / ca rm: PEM bundles (one or many), DER, base64 of PEM; the facts of
every certificate of the bundle; a CA cannot be pinned nor made the default."""

import base64

import pytest

from conftest import assert_error, cert_fingerprint, cert_not_after, cert_subject


def test_pem_bundle(cg, pki):
    r = cg("ca", "add", "partner", pki.ca_bundle)
    assert r.rc == 0, r
    assert "added ca 'partner': 2 certificates" in r.out, r
    o = cg.certs()["partner"]
    assert o["kind"] == "ca" and o["default"] is False, o
    assert o["subject"] == cert_subject(pki.root), o
    assert o["fingerprint_sha256"] == cert_fingerprint(pki.root), o
    # a bundle expires when its first certificate does
    assert o["not_after"] == min(cert_not_after(pki.root), cert_not_after(pki.inter)), o
    assert o["warnings"] == []
    s = cg.show("partner")
    assert [c["subject"] for c in s["certificates"]] == [cert_subject(pki.root), cert_subject(pki.inter)], s
    assert [c["fingerprint_sha256"] for c in s["certificates"]] == [cert_fingerprint(pki.root),
                                                                   cert_fingerprint(pki.inter)]
    assert all(c["is_ca"] for c in s["certificates"]), s


def test_single_pem(cg, pki):
    r = cg("ca", "add", "root", pki.root)
    assert r.rc == 0, r
    assert "1 certificate," in r.out, r
    assert cg.certs()["root"]["fingerprint_sha256"] == cert_fingerprint(pki.root)


def test_der_ca(cg, pki):
    r = cg("ca", "add", "root", pki.root_der)
    assert r.rc == 0, r
    assert cg.certs()["root"]["fingerprint_sha256"] == cert_fingerprint(pki.root)


def test_base64_of_pem_bundle(cg, pki):
    r = cg("ca", "add", "b64", pki.ca_bundle_b64)
    assert r.rc == 0, r
    s = cg.show("b64")
    assert [c["fingerprint_sha256"] for c in s["certificates"]] == [cert_fingerprint(pki.root),
                                                                   cert_fingerprint(pki.inter)]


def test_base64_of_der(cg, pki):
    f = cg.dir / "root.der.b64"
    f.write_bytes(base64.b64encode(pki.root_der.read_bytes()))
    r = cg("ca", "add", "b64der", f)
    assert r.rc == 0, r
    assert cg.certs()["b64der"]["fingerprint_sha256"] == cert_fingerprint(pki.root)


def test_two_roots(cg, pki):
    cg.ok("ca", "add", "roots", pki.ca_bundle2)
    s = cg.show("roots")
    assert [c["subject"] for c in s["certificates"]] == [cert_subject(pki.root), cert_subject(pki.root2)]


def test_ca_list_and_rm(cg, pki):
    r = cg.ok("ca", "list")
    assert "no CA bundles in environment 'production'" in r.out, r
    cg.ok("ca", "add", "partner", pki.ca_bundle)
    cg.ok("cert", "add", "c1", pki.client, "--key", pki.client_key)
    r = cg.ok("ca", "list", "--json")
    assert [c["name"] for c in r.json()] == ["partner"]
    assert sorted(cg.certs()) == ["c1", "partner"]
    r = cg.ok("ca", "list")
    assert "partner" in r.out and "c1" not in r.out
    r = cg("ca", "rm", "c1")  # not a CA: refused, kept
    assert_error(r, 2, "is a client certificate, not a CA bundle", hint=True)
    assert "certgate cert rm c1" in r.err
    cg.ok("ca", "rm", "partner")
    assert sorted(cg.certs()) == ["c1"]


def test_ca_replace(cg, pki):
    cg.ok("ca", "add", "partner", pki.root)
    r = cg("ca", "add", "partner", pki.ca_bundle)
    assert_error(r, 1, "already exists")
    r = cg("ca", "add", "partner", pki.ca_bundle, "--replace")
    assert r.rc == 0, r
    assert "stored ca 'partner'" in r.out
    assert len(cg.show("partner")["certificates"]) == 2


def test_ca_cannot_be_pinned(cg, pki):
    cg.ok("ca", "add", "partner", pki.ca_bundle)
    r = cg("pin", "set", "api.example.com", "partner")
    assert_error(r, 2, "it is a ca certificate", hint=True)
    assert cg.pins() == {}


def test_ca_cannot_be_default(cg, pki):
    cg.ok("ca", "add", "partner", pki.ca_bundle)
    r = cg("cert", "set", "partner", "--default")
    assert_error(r, 2, "cannot be the default")


def test_ca_name_is_checked(cg, pki):
    r = cg("ca", "add", "none", pki.root)
    assert_error(r, 2, "is not valid", hint=True)
    assert cg.certs() == {}


def test_ca_and_cert_share_the_name_space(cg, pki):
    cg.ok("cert", "add", "x", pki.client, "--key", pki.client_key)
    r = cg("ca", "add", "x", pki.root)
    assert_error(r, 1, "already exists")
    r = cg("ca", "add", "x", pki.root, "--replace")
    assert r.rc == 2, r
    assert "cannot be replaced" in r.err
    assert cg.certs()["x"]["kind"] == "client"
