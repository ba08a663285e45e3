"""certgate init: creates the store and a 0600 master key; idempotent; never overwrites the
key; refuses to make a new key for a store that holds sealed keys. Commands before init fail
with a hint to run it."""

import os
import stat

from conftest import CG, assert_error


def mode(p):
    return stat.S_IMODE(os.stat(p).st_mode)


def test_init_creates_store_and_key(fresh):
    r = fresh("init")
    assert r.rc == 0, r
    assert fresh.db.exists()
    assert fresh.key.exists(), "the master key goes beside the SQLite file by default"
    assert mode(fresh.key) == 0o600
    text = fresh.key.read_text()
    assert len(text.strip()) == 64 and all(c in "0123456789abcdefABCDEF" for c in text.strip()), text
    assert "created" in r.out and str(fresh.key) in r.out, r
    assert "environment: production" in r.out, r


def test_init_twice_is_idempotent_and_keeps_the_key(cg, pki):
    before = cg.key.read_bytes()
    cg.ok("cert", "add", "c1", pki.client, "--key", pki.client_key)
    r = cg("init")
    assert r.rc == 0, r
    assert "exists, kept" in r.out, r
    assert cg.key.read_bytes() == before
    assert mode(cg.key) == 0o600
    # the certificate stored before the second init is still there and readable
    assert "c1" in cg.certs()
    r = cg("check", "--json")
    assert r.rc == 0, r
    assert r.json()["keys_checked"] is True


def test_init_other_environment_same_store(cg):
    before = cg.key.read_bytes()
    r = cg("init", envname="stage")
    assert r.rc == 0, r
    assert "environment: stage" in r.out
    assert cg.key.read_bytes() == before


def test_commands_before_init_fail_with_hint(fresh, pki):
    r = fresh("cert", "list")
    assert_error(r, 1, "does not exist", hint="certgate init")
    assert not fresh.db.exists(), "a read command must not create the store"
    r = fresh("cert", "add", "c1", pki.client, "--key", pki.client_key)
    assert r.rc == 1, r
    assert r.err.startswith("certgate: "), r


def test_missing_master_key_with_sealed_keys_is_refused(cg, pki):
    cg.ok("cert", "add", "c1", pki.client, "--key", pki.client_key)
    cg.key.unlink()
    r = cg("init")
    assert_error(r, 1, "master key", "missing", hint="backup")
    assert not cg.key.exists(), "init must not create a new key that cannot open the sealed keys"


def test_missing_master_key_on_empty_store_is_recreated(cg):
    cg.key.unlink()
    r = cg("init")
    assert r.rc == 0, r
    assert cg.key.exists() and mode(cg.key) == 0o600


def test_import_with_missing_master_key_fails(cg, pki):
    cg.key.unlink()
    r = cg("cert", "add", "c1", pki.client, "--key", pki.client_key)
    assert_error(r, 1, str(cg.key), hint="certgate init")
    assert cg.certs() == {}


def test_group_readable_master_key_is_refused(cg, pki):
    os.chmod(cg.key, 0o640)
    r = cg("cert", "add", "c1", pki.client, "--key", pki.client_key)
    assert_error(r, 1, str(cg.key), hint="chmod 600")
    assert cg.certs() == {}


def test_explicit_master_key_path(tmp_path):
    c = CG(tmp_path)
    key = tmp_path / "keys" / "m.key"
    r = c("--master-key", key, "init")
    assert r.rc == 0, r
    assert key.exists() and mode(key) == 0o600
    assert not c.key.exists()


def test_init_creates_missing_directories(tmp_path):
    c = CG(tmp_path / "deep" / "er")
    r = c("init")
    assert r.rc == 0, r
    assert c.db.exists() and c.key.exists()
    assert mode(c.key) == 0o600
