"""cert add with every PKCS#12 shape real files come in: modern AES-256/PBKDF2, legacy
RC2-40 + 3DES, PBE-SHA1-3DES, no MAC, empty password, chain in shuffled order, base64 text.
Passwords come from --password-file or --password-env. The stored certificate is the leaf
(its fingerprint equals openssl's), the chain is stored leaf-to-root."""

import pytest

from conftest import PASSWORD, assert_error, assert_leaf, cert_subject

SHAPES = ["p12_modern", "p12_legacy", "p12_3des", "p12_nomac", "p12_shuffled", "p12_b64"]


def assert_chain(cg, pki, name):
    o = cg.show(name)
    assert [c["subject"] for c in o["chain"]] == [cert_subject(pki.inter), cert_subject(pki.root)], o
    assert all(c["is_ca"] for c in o["chain"]), o
    assert o["issuer"] == cert_subject(pki.inter), o
    return o


@pytest.mark.parametrize("shape", SHAPES)
def test_pkcs12_with_password_file(cg, pki, shape):
    f = getattr(pki, shape)
    r = cg("cert", "add", "c1", f, "--password-file", cg.pw_file(PASSWORD))
    assert r.rc == 0, r
    assert "added client certificate 'c1'" in r.out, r
    assert pki.fingerprint(pki.client) in r.out, r
    assert "warning:" not in r.err, r
    o = assert_leaf(cg, "c1", pki.client, kind="client", default=False, warnings=[])
    assert o["key_type"] == "EC" and o["key_bits"] == 256, o
    assert o["extended_key_usage"] == ["clientAuth"], o
    assert_chain(cg, pki, "c1")


@pytest.mark.parametrize("shape", ["p12_modern", "p12_legacy"])
def test_pkcs12_with_password_env(cg, pki, shape):
    r = cg("cert", "add", "c1", getattr(pki, shape), "--password-env", "P12_PASS", env={"P12_PASS": PASSWORD})
    assert r.rc == 0, r
    assert_leaf(cg, "c1", pki.client, warnings=[])


def test_pkcs12_password_file_crlf_and_only_first_line(cg, pki):
    f = cg.dir / "pw-crlf.txt"
    f.write_bytes(PASSWORD.encode() + b"\r\nsecond line\n")
    r = cg("cert", "add", "c1", pki.p12_modern, "--password-file", f)
    assert r.rc == 0, r
    assert_leaf(cg, "c1", pki.client)


def test_pkcs12_empty_password_needs_no_option(cg, pki):
    r = cg("cert", "add", "c1", pki.p12_nopass)
    assert r.rc == 0, r
    assert_leaf(cg, "c1", pki.client, warnings=[])
    assert_chain(cg, pki, "c1")


def test_pkcs12_empty_password_from_empty_file(cg, pki):
    r = cg("cert", "add", "c1", pki.p12_nopass, "--password-file", cg.pw_file(""))
    assert r.rc == 0, r
    assert_leaf(cg, "c1", pki.client)


def test_pkcs12_rsa(cg, pki):
    r = cg("cert", "add", "rsa", pki.p12_rsa, "--password-file", cg.pw_file(PASSWORD))
    assert r.rc == 0, r
    o = assert_leaf(cg, "rsa", pki.rsa_client, warnings=[])
    assert o["key_type"] == "RSA" and o["key_bits"] == 2048, o


def test_pkcs12_leaf_only_has_empty_chain(cg, pki):
    r = cg("cert", "add", "c1", pki.p12_leaf_only, "--password-file", cg.pw_file(PASSWORD))
    assert r.rc == 0, r
    assert_leaf(cg, "c1", pki.client, warnings=[])
    assert cg.show("c1")["chain"] == []


def test_pkcs12_wrong_password_file(cg, pki):
    r = cg("cert", "add", "c1", pki.p12_modern, "--password-file", cg.pw_file("not-the-password"))
    assert_error(r, 1, "wrong password", name=pki.p12_modern, hint=True)
    assert cg.certs() == {}


def test_pkcs12_wrong_password_env(cg, pki):
    r = cg("cert", "add", "c1", pki.p12_legacy, "--password-env", "P12_PASS", env={"P12_PASS": "nope"})
    assert_error(r, 1, "wrong password", name=pki.p12_legacy, hint=True)
    assert cg.certs() == {}


def test_pkcs12_no_password_given_and_no_terminal(cg, pki):
    r = cg("cert", "add", "c1", pki.p12_modern)
    assert r.rc == 1, r
    assert "needs a password" in r.err, r
    assert r.err.startswith("certgate: "), r
    assert "password" in r.err, r
    assert "hint: " in r.err and ("--password-file" in r.err or "--password-env" in r.err), r
    assert cg.certs() == {}


def test_password_env_variable_not_set(cg, pki):
    r = cg("cert", "add", "c1", pki.p12_modern, "--password-env", "NO_SUCH_VAR_XYZ")
    assert_error(r, 2, "NO_SUCH_VAR_XYZ", "is not set", hint=True)
    assert cg.certs() == {}


def test_password_env_and_file_together(cg, pki):
    r = cg("cert", "add", "c1", pki.p12_modern, "--password-env", "P", "--password-file", cg.pw_file(PASSWORD),
           env={"P": PASSWORD})
    assert_error(r, 2, "not both")
    assert cg.certs() == {}


def test_password_file_missing(cg, pki):
    missing = cg.dir / "no-such-pw.txt"
    r = cg("cert", "add", "c1", pki.p12_modern, "--password-file", missing)
    assert_error(r, 1, "--password-file", name=missing)
    assert cg.certs() == {}


def test_password_is_not_echoed(cg, pki):
    r = cg("cert", "add", "c1", pki.p12_modern, "--password-file", cg.pw_file(PASSWORD))
    assert PASSWORD not in r.out and PASSWORD not in r.err
    r = cg("cert", "add", "c2", pki.p12_modern, "--password-file", cg.pw_file("wrong-" + PASSWORD))
    assert r.rc == 1
    assert PASSWORD not in r.err and PASSWORD not in r.out


# More shapes real files come in, made here with openssl: (id, export options, password,
# how the file is handed over)
MORE = [
    ("utf8-password", [], "pässwörd", "file"),
    ("unencrypted-bags-with-mac", ["-keypbe", "NONE", "-certpbe", "NONE"], "pw", "file"),
    ("unencrypted-no-mac-no-password", ["-keypbe", "NONE", "-certpbe", "NONE", "-nomac"], "", "none"),
    ("legacy-no-mac", ["-legacy", "-nomac"], "pw", "file"),
    ("legacy-empty-password", ["-legacy"], "", "none"),
    ("sha1-mac-one-iteration", ["-macalg", "sha1", "-iter", "1"], "pw", "file"),
    ("base64-one-line", [], "pw", "b64-w0"),
    ("base64-crlf", [], "pw", "b64-crlf"),
    ("empty-password-from-empty-env", [], "", "env"),
]


@pytest.mark.parametrize("case", MORE, ids=[c[0] for c in MORE])
def test_more_pkcs12_shapes(cg, pki, case):
    import base64
    from conftest import openssl
    _, opts, pw, how = case
    f = cg.dir / "x.p12"
    openssl("pkcs12", "-export", "-inkey", pki.client_key, "-in", pki.client, "-certfile", pki.chain,
            "-passout", "pass:" + pw, "-out", f, *opts)
    args = ["cert", "add", "c1"]
    env = None
    if how.startswith("b64"):
        text = base64.b64encode(f.read_bytes())
        if how == "b64-crlf":
            text = b"\r\n".join(text[i:i + 64] for i in range(0, len(text), 64)) + b"\r\n"
        f = cg.dir / "x.p12.txt"
        f.write_bytes(text)
    args.append(f)
    if how in ("file", "b64-w0", "b64-crlf"):
        args += ["--password-file", cg.pw_file(pw)]
    elif how == "env":
        args += ["--password-env", "PW"]
        env = {"PW": pw}
    r = cg(*args, env=env)
    assert r.rc == 0, r
    assert_leaf(cg, "c1", pki.client, warnings=[])
    assert_chain(cg, pki, "c1")


def test_pkcs12_without_key_plus_key_file(cg, pki):
    # what the "no private key" hint suggests: give the key with --key
    r = cg("cert", "add", "c1", pki.p12_nokeys, "--password-file", cg.pw_file(PASSWORD), "--key", pki.client_key)
    assert r.rc == 0, r
    assert_leaf(cg, "c1", pki.client, warnings=[])
    assert_chain(cg, pki, "c1")
