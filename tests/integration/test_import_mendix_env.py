"""import mendix --from-env: CLIENT_CERTIFICATES (a JSON list of {"pfx": base64 PKCS#12,
"password", "pin_to"}) and CERTIFICATE_AUTHORITIES (PEM text, or base64 of PEM text). One
transaction: a bad entry names itself and nothing is stored."""

import base64
import json

from conftest import PASSWORD, assert_error, assert_leaf, assert_nothing_stored, cert_fingerprint, cert_subject


def b64(path):
    return base64.b64encode(path.read_bytes()).decode()


def from_env(cg, certs=None, cas=None, extra=()):
    env = {}
    if certs is not None:
        env["CLIENT_CERTIFICATES"] = certs if isinstance(certs, str) else json.dumps(certs)
    if cas is not None:
        env["CERTIFICATE_AUTHORITIES"] = cas
    return cg("import", "mendix", "--from-env", *extra, env=env)


def test_two_certificates_with_pins(cg, pki):
    r = from_env(cg, [
        {"pfx": b64(pki.p12_modern), "password": PASSWORD, "pin_to": ["Module.WS1", "api.partner.example"]},
        {"pfx": b64(pki.p12_legacy), "password": PASSWORD, "pin_to": []},
        {"pfx": b64(pki.p12_client2), "password": PASSWORD, "pin_to": ["*.partner.example"]},
    ])
    assert r.rc == 0, r
    assert_leaf(cg, "client-1", pki.client, default=False)
    assert_leaf(cg, "client-2", pki.client, default=False)
    assert_leaf(cg, "client-3", pki.client2, default=False)
    assert cg.pins() == {"Module.WS1": "client-1", "api.partner.example": "client-1",
                         "*.partner.example": "client-3"}
    assert cg.resolve("x.example", service="Module.WS1")["cert"] == "client-1"
    assert cg.resolve("www.partner.example")["cert"] == "client-3"
    assert cg.resolve("unrelated.example")["matched"] == "none"
    # chain stored leaf-to-root
    assert [c["subject"] for c in cg.show("client-1")["chain"]] == [cert_subject(pki.inter), cert_subject(pki.root)]


def test_no_pins_first_becomes_default(cg, pki):
    r = from_env(cg, [{"pfx": b64(pki.p12_client2), "password": PASSWORD},
                      {"pfx": b64(pki.p12_modern), "password": PASSWORD}])
    assert r.rc == 0, r
    certs = cg.certs()
    assert certs["client-1"]["default"] is True and certs["client-2"]["default"] is False
    assert certs["client-1"]["fingerprint_sha256"] == cert_fingerprint(pki.client2)
    res = cg.resolve("any.example")
    assert (res["cert"], res["matched"]) == ("client-1", "default")


def test_password_absent_for_unprotected_pfx(cg, pki):
    r = from_env(cg, [{"pfx": b64(pki.p12_nopass)}])
    assert r.rc == 0, r
    assert_leaf(cg, "client-1", pki.client, default=True)


def test_authorities_as_pem_text(cg, pki):
    r = from_env(cg, cas=pki.ca_bundle.read_text())
    assert r.rc == 0, r
    o = cg.certs()["authorities"]
    assert o["kind"] == "ca"
    s = cg.show("authorities")
    assert [c["fingerprint_sha256"] for c in s["certificates"]] == [cert_fingerprint(pki.root),
                                                                   cert_fingerprint(pki.inter)]


def test_authorities_as_base64_of_pem(cg, pki):
    r = from_env(cg, cas=base64.b64encode(pki.ca_bundle2.read_bytes()).decode())
    assert r.rc == 0, r
    s = cg.show("authorities")
    assert [c["subject"] for c in s["certificates"]] == [cert_subject(pki.root), cert_subject(pki.root2)]


def test_authorities_as_wrapped_base64(cg, pki):
    r = from_env(cg, cas=pki.ca_bundle_b64.read_text())
    assert r.rc == 0, r
    assert len(cg.show("authorities")["certificates"]) == 2


def test_both_variables(cg, pki):
    r = from_env(cg, [{"pfx": b64(pki.p12_modern), "password": PASSWORD, "pin_to": ["Module.WS1"]}],
                 cas=pki.root.read_text())
    assert r.rc == 0, r
    assert sorted(cg.certs()) == ["authorities", "client-1"]


def test_bad_base64_names_the_entry(cg, pki):
    r = from_env(cg, [{"pfx": b64(pki.p12_modern), "password": PASSWORD},
                      {"pfx": "this is *not* base64!", "password": PASSWORD}])
    assert_error(r, 1, "CLIENT_CERTIFICATES[1]", "base64")
    assert_nothing_stored(cg)


def test_bad_json(cg):
    r = from_env(cg, '[{"pfx": "abc", "password": ]')
    assert_error(r, 1, "CLIENT_CERTIFICATES", "not valid JSON")
    assert_nothing_stored(cg)


def test_wrong_password_in_entry_two_stores_nothing(cg, pki):
    r = from_env(cg, [{"pfx": b64(pki.p12_modern), "password": PASSWORD, "pin_to": ["Module.WS1"]},
                      {"pfx": b64(pki.p12_client2), "password": "wrong", "pin_to": ["Module.WS2"]}],
                 cas=pki.root.read_text())
    assert_error(r, 1, "CLIENT_CERTIFICATES[1]", "wrong password", hint=True)
    assert "CLIENT_CERTIFICATES[0]" not in r.err
    assert_nothing_stored(cg)


def test_pfx_that_is_not_pkcs12(cg, pki):
    r = from_env(cg, [{"pfx": b64(pki.client), "password": ""}])
    assert_error(r, 1, "CLIENT_CERTIFICATES[0]")
    assert "no private key" in r.err or "PEM" in r.err, r
    assert_nothing_stored(cg)


def test_truncated_pfx(cg, pki):
    r = from_env(cg, [{"pfx": b64(pki.p12_truncated), "password": PASSWORD}])
    assert_error(r, 1, "CLIENT_CERTIFICATES[0]", "truncated or corrupt")
    assert_nothing_stored(cg)


def test_not_a_list(cg, pki):
    r = from_env(cg, {"pfx": b64(pki.p12_modern)})
    assert_error(r, 2, "must be a JSON list", hint=True)
    assert_nothing_stored(cg)


def test_unknown_key(cg, pki):
    r = from_env(cg, [{"pfx": b64(pki.p12_modern), "password": PASSWORD, "pinTo": ["x"]}])
    assert_error(r, 2, "CLIENT_CERTIFICATES[0]", "unknown key 'pinTo'")
    assert_nothing_stored(cg)


def test_missing_pfx(cg):
    r = from_env(cg, [{"password": "x"}])
    assert_error(r, 2, "CLIENT_CERTIFICATES[0]", "'pfx' is missing")
    assert_nothing_stored(cg)


def test_same_target_in_two_entries(cg, pki):
    r = from_env(cg, [{"pfx": b64(pki.p12_modern), "password": PASSWORD, "pin_to": ["Module.WS1"]},
                      {"pfx": b64(pki.p12_client2), "password": PASSWORD, "pin_to": ["Module.WS1"]}])
    assert r.rc == 2, r
    assert "CLIENT_CERTIFICATES[1]" in r.err and "Module.WS1" in r.err, r
    assert_nothing_stored(cg)


def test_invalid_pin_target(cg, pki):
    r = from_env(cg, [{"pfx": b64(pki.p12_modern), "password": PASSWORD, "pin_to": ["*.com"]}])
    assert r.rc == 2, r
    assert "CLIENT_CERTIFICATES[0]" in r.err and "*.com" in r.err, r
    assert_nothing_stored(cg)


def test_authorities_not_pem_nor_base64(cg):
    r = from_env(cg, cas="this is neither %%% pem nor base64")
    assert_error(r, 1, "CERTIFICATE_AUTHORITIES", "neither PEM text nor valid base64", hint=True)
    assert_nothing_stored(cg)


def test_authorities_base64_of_der(cg, pki):
    r = from_env(cg, cas=b64(pki.root_der))
    assert_error(r, 1, "CERTIFICATE_AUTHORITIES", "not PEM", hint="openssl x509")
    assert_nothing_stored(cg)


def test_authorities_with_non_ca(cg, pki):
    r = from_env(cg, [{"pfx": b64(pki.p12_modern), "password": PASSWORD}], cas=pki.ca_with_leaf.read_text())
    assert_error(r, 1, "CERTIFICATE_AUTHORITIES", "is not a CA certificate")
    assert_nothing_stored(cg)


def test_neither_variable_set(cg):
    r = from_env(cg)
    assert_error(r, 2, "neither CLIENT_CERTIFICATES nor CERTIFICATE_AUTHORITIES is set", hint="CLIENT_CERTIFICATES=")
    r = from_env(cg, certs="", cas="")
    assert r.rc == 2, r


def test_replace_on_second_run(cg, pki):
    certs = [{"pfx": b64(pki.p12_modern), "password": PASSWORD, "pin_to": ["Module.WS1"]}]
    assert from_env(cg, certs).rc == 0
    r = from_env(cg, certs)
    assert_error(r, 1, "already exists", hint="nothing was imported")
    certs[0]["pfx"] = b64(pki.p12_client2)
    r = from_env(cg, certs, extra=("--replace",))
    assert r.rc == 0, r
    assert cg.certs()["client-1"]["fingerprint_sha256"] == cert_fingerprint(pki.client2)
    assert cg.pins() == {"Module.WS1": "client-1"}


def test_authorities_with_private_key(cg, pki):
    r = from_env(cg, cas=pki.ca_with_key.read_text())
    assert_error(r, 1, "CERTIFICATE_AUTHORITIES", "holds a private key", hint=True)
    assert_nothing_stored(cg)
