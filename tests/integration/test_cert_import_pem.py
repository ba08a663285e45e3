"""cert add with PEM and DER inputs: cert + separate key (PKCS#8, PKCS#1, SEC1, encrypted
PKCS#8, DER), one combined file in mixed order, a separate chain file, server certificates
with their SANs."""

import pytest

from conftest import KEY_PASSWORD, assert_error, assert_leaf, cert_subject


def chain_subjects(cg, name):
    return [c["subject"] for c in cg.show(name)["chain"]]


@pytest.mark.parametrize("keyattr", ["client_key", "client_sec1", "client_key_der"])
def test_ec_cert_with_separate_key(cg, pki, keyattr):
    r = cg("cert", "add", "c1", pki.client, "--key", getattr(pki, keyattr))
    assert r.rc == 0, r
    o = assert_leaf(cg, "c1", pki.client, warnings=[])
    assert o["key_type"] == "EC" and o["key_bits"] == 256 and o["key_curve"] == "prime256v1", o
    assert cg.show("c1")["chain"] == []


@pytest.mark.parametrize("keyattr", ["rsa_key_pkcs1", "rsa_key_pkcs8", "rsa_key_der"])
def test_rsa_cert_with_separate_key(cg, pki, keyattr):
    r = cg("cert", "add", "r1", pki.rsa_client, "--key", getattr(pki, keyattr))
    assert r.rc == 0, r
    o = assert_leaf(cg, "r1", pki.rsa_client, warnings=[])
    assert o["key_type"] == "RSA" and o["key_bits"] == 2048, o
    assert "key_curve" not in o or o["key_curve"] in ("", None), o


def test_der_certificate_with_key(cg, pki):
    r = cg("cert", "add", "c1", pki.client_der, "--key", pki.client_key)
    assert r.rc == 0, r
    assert_leaf(cg, "c1", pki.client, warnings=[])


def test_encrypted_pkcs8_with_password_file(cg, pki):
    r = cg("cert", "add", "c1", pki.client, "--key", pki.client_key_enc, "--password-file", cg.pw_file(KEY_PASSWORD))
    assert r.rc == 0, r
    assert_leaf(cg, "c1", pki.client, warnings=[])


def test_encrypted_pkcs8_with_password_env(cg, pki):
    r = cg("cert", "add", "c1", pki.client, "--key", pki.client_key_enc, "--password-env", "KP",
           env={"KP": KEY_PASSWORD})
    assert r.rc == 0, r
    assert_leaf(cg, "c1", pki.client)


def test_encrypted_pkcs8_wrong_password(cg, pki):
    r = cg("cert", "add", "c1", pki.client, "--key", pki.client_key_enc, "--password-file", cg.pw_file("wrong"))
    assert_error(r, 1, "wrong password", name=pki.client_key_enc, hint=True)
    assert cg.certs() == {}


def test_encrypted_pkcs8_no_password(cg, pki):
    r = cg("cert", "add", "c1", pki.client, "--key", pki.client_key_enc)
    assert_error(r, 1, "needs a password", name=pki.client_key_enc, hint=True)
    assert cg.certs() == {}


def test_combined_file_mixed_order(cg, pki):
    # root, key, leaf, intermediate in one file
    r = cg("cert", "add", "c1", pki.combined)
    assert r.rc == 0, r
    assert_leaf(cg, "c1", pki.client, warnings=[])
    assert chain_subjects(cg, "c1") == [cert_subject(pki.inter), cert_subject(pki.root)]


def test_separate_chain_file_in_any_order(cg, pki):
    shuffled = cg.dir / "chain-root-first.pem"
    shuffled.write_bytes(pki.root.read_bytes() + pki.inter.read_bytes())
    r = cg("cert", "add", "c1", pki.client, "--key", pki.client_key, "--chain", shuffled)
    assert r.rc == 0, r
    assert_leaf(cg, "c1", pki.client, warnings=[])
    assert chain_subjects(cg, "c1") == [cert_subject(pki.inter), cert_subject(pki.root)]


def test_chain_duplicates_and_leaf_dropped(cg, pki):
    dup = cg.dir / "chain-dup.pem"
    dup.write_bytes(pki.inter.read_bytes() + pki.client.read_bytes() + pki.inter.read_bytes() + pki.root.read_bytes())
    r = cg("cert", "add", "c1", pki.client, "--key", pki.client_key, "--chain", dup)
    assert r.rc == 0, r
    assert chain_subjects(cg, "c1") == [cert_subject(pki.inter), cert_subject(pki.root)]


def test_server_certificate(cg, pki):
    r = cg("cert", "add", "web", pki.server, "--key", pki.server_key, "--chain", pki.chain, "--kind", "server")
    assert r.rc == 0, r
    assert "added server certificate 'web'" in r.out, r
    o = assert_leaf(cg, "web", pki.server, kind="server", default=False, warnings=[])
    assert "DNS:server.example" in o["sans"] and "IP:127.0.0.1" in o["sans"], o
    assert o["extended_key_usage"] == ["serverAuth"], o


def test_show_text_and_json_facts(cg, pki):
    cg.ok("cert", "add", "c1", pki.client, "--key", pki.client_key, "--chain", pki.chain)
    o = cg.show("c1")
    for k in ("name", "kind", "default", "subject", "issuer", "serial", "not_before", "not_after", "days_left",
              "fingerprint_sha256", "spki_sha256", "key_type", "key_bits", "sans", "extended_key_usage",
              "warnings", "chain", "pinned_by", "created_at", "updated_at"):
        assert k in o, (k, o)
    assert o["pinned_by"] == []
    r = cg.ok("cert", "show", "c1")
    assert "name:         c1" in r.out and pki.fingerprint(pki.client) in r.out, r
    assert cert_subject(pki.client) in r.out


def test_list_table(cg, pki):
    r = cg.ok("cert", "list")
    assert "no certificates in environment 'production'" in r.out, r
    cg.ok("cert", "add", "c1", pki.client, "--key", pki.client_key)
    cg.ok("cert", "add", "web", pki.server, "--key", pki.server_key, "--kind", "server")
    r = cg.ok("cert", "list")
    lines = r.out.splitlines()
    assert lines[0].split()[:3] == ["NAME", "KIND", "DEFAULT"], r
    assert "DAYS LEFT" in lines[0] and "NOT AFTER" in lines[0] and "SUBJECT" in lines[0]
    assert any(l.startswith("c1 ") and " client " in l for l in lines), r
    assert any(l.startswith("web ") and " server " in l for l in lines), r


def test_key_without_certificate_file(cg, pki):
    # the key given as the main file: no certificate
    r = cg("cert", "add", "c1", pki.client_key)
    assert_error(r, 1, name=pki.client_key, hint=True)
    assert "no certificate" in r.err or "is a PEM private key" in r.err, r
    assert cg.certs() == {}


def test_password_given_for_unencrypted_key_is_harmless(cg, pki):
    r = cg("cert", "add", "c1", pki.client, "--key", pki.client_key, "--password-file", cg.pw_file("unused"))
    assert r.rc == 0, r
    assert_leaf(cg, "c1", pki.client)


def test_combined_file_with_encrypted_key(cg, pki):
    f = cg.dir / "combined-enc.pem"
    f.write_bytes(pki.inter.read_bytes() + pki.client_key_enc.read_bytes() + pki.client.read_bytes())
    r = cg("cert", "add", "c1", f, "--password-file", cg.pw_file(KEY_PASSWORD))
    assert r.rc == 0, r
    assert_leaf(cg, "c1", pki.client, warnings=[])
    assert chain_subjects(cg, "c1") == [cert_subject(pki.inter)]
