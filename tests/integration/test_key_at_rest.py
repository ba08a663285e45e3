"""SPEC.md section 5: private keys are sealed with the master key (AES-256-GCM) and never
stored in the clear; passwords are never stored; the master key file is mode 0600."""

import os
import stat
import subprocess

import pytest

from conftest import KEY_PASSWORD, PASSWORD, openssl


def store_bytes(cg):
    data = b""
    for f in cg.dir.iterdir():
        if f.name.startswith("s.db"):  # the database and any -wal / -journal / -shm beside it
            data += f.read_bytes()
    assert data, "no store file found"
    return data


def key_encodings(key_path, passin=None):
    """Every clear encoding of the key a store could hold: PKCS#8 DER and PEM, traditional
    (PKCS#1 / SEC1) DER and PEM."""
    pa = ["-passin", "pass:" + passin] if passin else []
    encs = [openssl("pkey", "-in", key_path, "-outform", "DER", *pa),
            openssl("pkey", "-in", key_path, "-outform", "PEM", *pa)]
    trad = openssl("pkey", "-in", key_path, "-outform", "DER", "-traditional", *pa)
    encs.append(trad)
    text = openssl("pkey", "-in", key_path, "-noout", "-text", *pa).decode()
    return encs, text


def assert_no_clear_key(cg, key_path, passin=None):
    data = store_bytes(cg)
    encs, _ = key_encodings(key_path, passin)
    for e in encs:
        assert e not in data, "a clear encoding of the private key is in the store"
        # and not a 32-byte window of it either (the EC scalar / RSA primes live inside)
        mid = len(e) // 2
        assert e[mid:mid + 32] not in data
    assert b"PRIVATE KEY" not in data


def test_ec_key_is_sealed(cg, pki):
    cg.ok("cert", "add", "c1", pki.client, "--key", pki.client_key)
    assert_no_clear_key(cg, pki.client_key)
    # the certificate itself (public) is stored
    assert b"BEGIN CERTIFICATE" in store_bytes(cg)


def test_rsa_key_from_pkcs12_is_sealed_and_password_not_stored(cg, pki):
    cg.ok("cert", "add", "r1", pki.p12_rsa, "--password-file", cg.pw_file(PASSWORD))
    assert_no_clear_key(cg, pki.rsa_key_pkcs8)
    assert PASSWORD.encode() not in store_bytes(cg)
    assert pki.p12_rsa.read_bytes()[:64] not in store_bytes(cg)


def test_encrypted_key_password_not_stored(cg, pki):
    cg.ok("cert", "add", "c1", pki.client, "--key", pki.client_key_enc, "--password-file", cg.pw_file(KEY_PASSWORD))
    assert_no_clear_key(cg, pki.client_key)
    assert KEY_PASSWORD.encode() not in store_bytes(cg)


def test_mendix_import_keys_are_sealed(cg, pki):
    cg.ok("import", "mendix", "--client-certificates", "%s,%s" % (pki.p12_modern, pki.p12_rsa),
          "--client-certificate-passwords", "%s,%s" % (PASSWORD, PASSWORD))
    assert_no_clear_key(cg, pki.client_key)
    assert_no_clear_key(cg, pki.rsa_key_pkcs8)
    assert PASSWORD.encode() not in store_bytes(cg)


def test_master_key_is_0600_and_not_in_store(cg, pki):
    assert stat.S_IMODE(os.stat(cg.key).st_mode) == 0o600
    cg.ok("cert", "add", "c1", pki.client, "--key", pki.client_key)
    master = cg.key.read_text().strip()
    assert master.encode() not in store_bytes(cg)
    assert bytes.fromhex(master) not in store_bytes(cg)


def test_wrong_master_key_cannot_open_keys(cg, pki):
    cg.ok("cert", "add", "c1", pki.client, "--key", pki.client_key)
    assert cg.ok("check", "--json").json()["certificates"][0]["status"] == "ok"
    # another master key: the sealed key no longer opens, and check says so
    cg.key.write_text("00" * 32 + "\n")
    os.chmod(cg.key, 0o600)
    r = cg("check", "--json")
    assert r.rc == 1, r
    c = r.json()["certificates"][0]
    assert c["status"] == "invalid", c
    assert any("cannot decrypt" in p for p in c["problems"]), c


def test_keys_are_not_printed(cg, pki):
    r = cg.ok("cert", "add", "c1", pki.client, "--key", pki.client_key)
    out = r.out + r.err
    r2 = cg.ok("cert", "show", "c1", "--json")
    r3 = cg.ok("cert", "show", "c1")
    r4 = cg.ok("cert", "list", "--json")
    for text in (out, r2.out, r3.out, r4.out):
        assert "PRIVATE KEY" not in text
    encs, _ = key_encodings(pki.client_key)
    assert encs[1].decode() not in r2.out
