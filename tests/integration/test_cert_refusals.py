"""Every refusal of SPEC.md section 2, for cert add and ca add: exit 1, a "certgate: " message
that names the file and holds the cause phrase of src/pki/pki.h, a hint, and nothing stored."""

import pytest

from conftest import PASSWORD, assert_error, assert_nothing_stored, cert_subject

# (id, main file attr, extra args (attr names resolved on pki), cause phrase(s)[, options])
# options: "named" = the pki attribute of the file the message must name (default: main);
# "nohint" = the product gives no hint line for this refusal (a format refusal already says
# what the file is instead).
CASES = [
    ("p12-wrong-password", "p12_modern", ["--password-file", "@wrong"], ["wrong password"]),
    ("p12-legacy-wrong-password", "p12_legacy", ["--password-file", "@wrong"], ["wrong password"]),
    ("p12-3des-wrong-password", "p12_3des", ["--password-file", "@wrong"], ["wrong password"]),
    ("p12-base64-wrong-password", "p12_b64", ["--password-file", "@wrong"], ["wrong password"]),
    ("p12-no-private-key", "p12_nokeys", ["--password-file", "@pw"], ["no private key"]),
    ("p12-no-certificate", "p12_nocerts", ["--password-file", "@pw"], ["no certificate"]),
    ("p12-two-leaves-one-key", "p12_twins", ["--password-file", "@pw"], ["several end-entity certificates"]),
    ("p12-truncated", "p12_truncated", ["--password-file", "@pw"], ["truncated or corrupt"]),
    ("pem-key-does-not-match", "client", ["--key", "other_key"], ["does not match"], {"named": "other_key"}),
    ("pem-rsa-key-for-ec-cert", "client", ["--key", "rsa_key_pkcs8"], ["does not match"],
     {"named": "rsa_key_pkcs8"}),
    ("pem-two-leaves-one-key", "twins_pem", [], ["several end-entity certificates"]),
    ("pem-certificate-without-key", "client", [], ["no private key"]),
    ("pem-ca-bundle-without-key", "ca_bundle", [], ["no private key"]),
    ("der-certificate-without-key", "client_der", [], [("no private key", "is a DER certificate")]),
    ("pem-truncated", "truncated_pem", [], ["truncated or corrupt"]),
    ("text-file", "text", [], ["is text that is not PEM or base64, not a PKCS#12 container"], {"nohint": True}),
    ("binary-garbage", "garbage", [], ["is binary data of unknown format, not a PKCS#12 container"],
     {"nohint": True}),
    ("empty-file", "empty", [], ["is an empty file, not"], {"nohint": True}),
]


def resolve(cg, pki, args):
    out = []
    for a in args:
        if a == "@wrong":
            out.append(str(cg.pw_file("this-is-wrong", "wrong.txt")))
        elif a == "@pw":
            out.append(str(cg.pw_file(PASSWORD)))
        elif a.startswith("--"):
            out.append(a)
        else:
            out.append(str(getattr(pki, a)))
    return out


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_cert_add_refused(cg, pki, case):
    _, main, extra, phrases = case[:4]
    opts = case[4] if len(case) > 4 else {}
    f = getattr(pki, main)
    r = cg("cert", "add", "c1", f, *resolve(cg, pki, extra))
    assert_error(r, 1, *[p for p in phrases if isinstance(p, str)], name=getattr(pki, opts.get("named", main)),
                 hint=not opts.get("nohint"))
    for p in phrases:
        if isinstance(p, tuple):
            assert any(alt in r.err for alt in p), (p, r)
    assert r.out == "", r
    assert_nothing_stored(cg)


def test_pem_certificate_given_as_pkcs12_says_what_it_is(cg, pki):
    # the message says what the file looks like instead
    r = cg("cert", "add", "c1", pki.client, "--password-file", cg.pw_file(PASSWORD))
    assert_error(r, 1, name=pki.client, hint=True)
    assert "a PEM file with 1 certificate and no private key" in r.err or "no private key" in r.err, r
    assert_nothing_stored(cg)


def test_missing_file(cg):
    missing = cg.dir / "does-not-exist.p12"
    r = cg("cert", "add", "c1", missing)
    assert_error(r, 1, name=missing)
    assert_nothing_stored(cg)


def test_missing_key_file(cg, pki):
    missing = cg.dir / "no.key"
    r = cg("cert", "add", "c1", pki.client, "--key", missing)
    assert_error(r, 1, name=missing)
    assert_nothing_stored(cg)


def test_key_mismatch_names_key_and_cert(cg, pki):
    r = cg("cert", "add", "c1", pki.client, "--key", pki.other_key)
    assert_error(r, 1, "does not match", hint=True)
    assert str(pki.client) in r.err or str(pki.other_key) in r.err, r


@pytest.mark.parametrize("bad", ["none", "-x", "a b", "", "x" * 129, "c/1", "_x"])
def test_invalid_certificate_name(cg, pki, bad):
    r = cg("cert", "add", "--key", pki.client_key, "--", bad, pki.client)
    assert_error(r, 2, "is not valid", hint=True)
    assert_nothing_stored(cg)


def test_kind_ca_is_refused_for_cert_add(cg, pki):
    r = cg("cert", "add", "c1", pki.client, "--key", pki.client_key, "--kind", "ca")
    assert_error(r, 2, "--kind must be client or server", hint="certgate ca add")
    r = cg("cert", "add", "c1", pki.client, "--key", pki.client_key, "--kind", "bogus")
    assert_error(r, 2, "--kind must be client or server")
    assert_nothing_stored(cg)


def test_default_only_for_client(cg, pki):
    r = cg("cert", "add", "web", pki.server, "--key", pki.server_key, "--kind", "server", "--default")
    assert_error(r, 2, "--default applies to client certificates only")
    assert_nothing_stored(cg)


# ---- CA bundles -------------------------------------------------------------------------------

def test_ca_bundle_with_non_ca_certificate(cg, pki):
    r = cg("ca", "add", "bad", pki.ca_with_leaf)
    assert_error(r, 1, "is not a CA certificate", name=pki.ca_with_leaf, hint=True)
    assert "client.example" in r.err, "the message names the offending certificate: %r" % r
    assert_nothing_stored(cg)


def test_ca_add_of_a_leaf(cg, pki):
    r = cg("ca", "add", "bad", pki.client)
    assert_error(r, 1, "is not a CA certificate", name=pki.client)
    assert cert_subject(pki.client) in r.err or "client.example" in r.err
    assert_nothing_stored(cg)


def test_ca_bundle_with_private_key(cg, pki):
    r = cg("ca", "add", "bad", pki.ca_with_key)
    assert_error(r, 1, "holds a private key", name=pki.ca_with_key, hint=True)
    assert_nothing_stored(cg)


@pytest.mark.parametrize("attr, phrase, hint", [
    ("p12_modern", "a PKCS#12 container", True),
    ("garbage", "binary data of unknown format", None),
    ("text", "text that is not PEM or base64", None),
    ("truncated_pem", "truncated or corrupt", True),
    ("empty", "an empty file", None),
])
def test_ca_add_refusals(cg, pki, attr, phrase, hint):
    f = getattr(pki, attr)
    r = cg("ca", "add", "bad", f)
    assert_error(r, 1, phrase, name=f, hint=hint)
    assert_nothing_stored(cg)


def test_input_larger_than_limit(cg):
    big = cg.dir / "big.bin"
    big.write_bytes(b"\x30\x82" + b"\xab" * (1024 * 1024 + 100))
    r = cg("cert", "add", "c1", big)
    assert_error(r, 1, "1048576", name=big, hint="at most")
    assert_nothing_stored(cg)


def test_bundle_with_too_many_certificates(cg, pki):
    many = cg.dir / "many.pem"
    many.write_bytes(pki.root.read_bytes() * 70)
    r = cg("ca", "add", "many", many)
    assert_error(r, 1, "more than 64 certificates", name=many)
    assert_nothing_stored(cg)


@pytest.mark.parametrize("attr, phrase", [("text", "text that is not PEM or base64"),
                                          ("client_key", "a PEM private key"),
                                          ("truncated_pem", "truncated or corrupt")])
def test_bad_chain_file(cg, pki, attr, phrase):
    f = getattr(pki, attr)
    r = cg("cert", "add", "c1", pki.client, "--key", pki.client_key, "--chain", f)
    assert_error(r, 1, phrase, name=f)
    assert_nothing_stored(cg)


def test_several_end_entity_names_both(cg, pki):
    r = cg("cert", "add", "c1", pki.twins_pem)
    assert_error(r, 1, "several end-entity certificates", "twin1.example", "twin2.example", hint=True)
    assert_nothing_stored(cg)

