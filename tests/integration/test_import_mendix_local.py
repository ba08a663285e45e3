"""import mendix with the three local settings of the seed (seeds/003): ClientCertificates
(comma-separated paths, single backslashes), ClientCertificatePasswords (same order),
ClientCertificateUsages (JSON object, backslashes doubled, "" pins no certificate). One
transaction: any bad entry, nothing stored."""

import json
import shutil

import pytest

from conftest import PASSWORD, assert_error, assert_leaf, assert_nothing_stored, cert_fingerprint, cert_subject


@pytest.fixture
def app(cg, pki):
    """Two pfx files in <tmp>/App like the seed's D:\\App\\Mx1.pfx and Mx2.pfx."""
    d = cg.dir / "App"
    d.mkdir()
    mx1 = d / "Mx1.pfx"
    mx2 = d / "Mx2.pfx"
    shutil.copy(pki.p12_legacy, mx1)          # client.example, RC2-40/3DES as older files are
    shutil.copy(pki.p12_client2, mx2)         # client2.example, password PASSWORD
    return cg, mx1, mx2


def mendix(cg, certs=None, passwords=None, usages=None, cas=None, extra=(), cwd=None):
    args = ["import", "mendix"]
    if certs is not None:
        args += ["--client-certificates", certs]
    if passwords is not None:
        args += ["--client-certificate-passwords", passwords]
    if usages is not None:
        args += ["--client-certificate-usages", usages if isinstance(usages, str) else json.dumps(usages)]
    if cas is not None:
        args += ["--ca-certificates", cas]
    return cg(*args, *extra, cwd=cwd)


def test_two_certificates_with_usages(app, pki):
    cg, mx1, mx2 = app
    r = mendix(cg, "%s,%s" % (mx1, mx2), "%s,%s" % (PASSWORD, PASSWORD),
               {"Module.WebService1": str(mx1), "www.server-to-contact.com": str(mx2), "Module.WebService2": ""})
    assert r.rc == 0, r
    assert "imported client certificate 'Mx1'" in r.out and "imported client certificate 'Mx2'" in r.out, r
    assert "pinned Module.WebService2 -> none" in r.out, r
    assert_leaf(cg, "Mx1", pki.client, default=False)
    assert_leaf(cg, "Mx2", pki.client2, default=False)
    assert cg.pins() == {"Module.WebService1": "Mx1", "www.server-to-contact.com": "Mx2", "Module.WebService2": None}
    res = cg.resolve("other.example", service="Module.WebService1")
    assert (res["cert"], res["matched"]) == ("Mx1", "service")
    res = cg.resolve("www.server-to-contact.com")
    assert (res["cert"], res["matched"]) == ("Mx2", "host")
    res = cg.resolve("other.example", service="Module.WebService2")
    assert (res["cert"], res["matched"], res["target"]) == (None, "service", "Module.WebService2")
    # usages were given: no default
    assert cg.resolve("other.example")["matched"] == "none"


def test_spaces_after_commas_are_trimmed(app, pki):
    cg, mx1, mx2 = app
    r = mendix(cg, "%s, %s" % (mx1, mx2), "%s,%s" % (PASSWORD, PASSWORD))
    assert r.rc == 0, r
    assert sorted(cg.certs()) == ["Mx1", "Mx2"]


def test_no_usages_first_becomes_default(app, pki):
    cg, mx1, mx2 = app
    r = mendix(cg, "%s,%s" % (mx1, mx2), "%s,%s" % (PASSWORD, PASSWORD))
    assert r.rc == 0, r
    assert "default client certificate: Mx1" in r.out, r
    certs = cg.certs()
    assert certs["Mx1"]["default"] is True and certs["Mx2"]["default"] is False
    assert cg.pins() == {}
    res = cg.resolve("anything.example")
    assert (res["cert"], res["matched"]) == ("Mx1", "default")


def test_single_file_without_password(cg, pki):
    r = mendix(cg, str(pki.p12_nopass))
    assert r.rc == 0, r
    assert_leaf(cg, "nopass", pki.client, default=True)


def test_seed_windows_paths_with_doubled_backslashes(cg, pki):
    # The seed's own example: ClientCertificates with single backslashes, the usages JSON with
    # doubled ones. On Linux "D:\App\Mx1.pfx" is a valid file name (relative to the cwd).
    p1 = "D:\\App\\Mx1.pfx"   # D:\App\Mx1.pfx
    p2 = "D:\\App\\Mx2.pfx"
    shutil.copy(pki.p12_modern, cg.dir / p1)
    shutil.copy(pki.p12_client2, cg.dir / p2)
    usages = r'{ "Module.WebService1": "D:\\App\\Mx1.pfx", "www.server-to-contact.com": "D:\\App\\Mx2.pfx" }'
    assert json.loads(usages)["Module.WebService1"] == p1
    r = mendix(cg, "%s,%s" % (p1, p2), "%s,%s" % (PASSWORD, PASSWORD), usages, cwd=cg.dir)
    assert r.rc == 0, r
    certs = cg.certs()
    assert sorted(certs) == ["Mx1", "Mx2"], certs
    assert certs["Mx1"]["fingerprint_sha256"] == cert_fingerprint(pki.client)
    assert certs["Mx2"]["fingerprint_sha256"] == cert_fingerprint(pki.client2)
    assert cg.pins() == {"Module.WebService1": "Mx1", "www.server-to-contact.com": "Mx2"}


def test_seed_empty_path_example(cg, pki):
    p1 = "D:\\App\\Mx1.pfx"
    shutil.copy(pki.p12_modern, cg.dir / p1)
    usages = r'{ "Module.WebService1": "D:\\App\\Mx1.pfx", "Module.WebService2": "" }'
    r = mendix(cg, p1, PASSWORD, usages, cwd=cg.dir)
    assert r.rc == 0, r
    assert cg.pins() == {"Module.WebService1": "Mx1", "Module.WebService2": None}


def test_single_backslashes_in_usages_are_invalid_json(cg, pki):
    p1 = "D:\\App\\Mx1.pfx"
    shutil.copy(pki.p12_modern, cg.dir / p1)
    usages = '{ "Module.WebService1": "D:\\App\\Mx1.pfx" }'   # \A is not a JSON escape
    r = mendix(cg, p1, PASSWORD, usages, cwd=cg.dir)
    assert_error(r, 1, "ClientCertificateUsages", "not valid JSON", hint=True)
    assert_nothing_stored(cg)


def test_single_backslash_that_is_a_json_escape(cg, pki):
    # "D:\new\Mx1.pfx" with single backslashes decodes \n to a newline: no such entry, and the
    # hint says to double the backslashes
    p1 = "D:\\new\\Mx1.pfx"
    shutil.copy(pki.p12_modern, cg.dir / p1)
    usages = '{ "Module.WebService1": "D:\\new\\\\Mx1.pfx" }'
    r = mendix(cg, p1, PASSWORD, usages, cwd=cg.dir)
    assert_error(r, 2, "ClientCertificateUsages", "entry 'Module.WebService1'", "is not one of ClientCertificates",
                 hint="double every backslash")
    assert_nothing_stored(cg)


def test_wrong_password_in_entry_two_stores_nothing(app, pki):
    cg, mx1, mx2 = app
    r = mendix(cg, "%s,%s" % (mx1, mx2), "%s,%s" % (PASSWORD, "wrong"),
               {"Module.WebService1": str(mx1), "www.server-to-contact.com": str(mx2)})
    assert_error(r, 1, "ClientCertificates entry 2", "wrong password", name=mx2,
                 hint="ClientCertificatePasswords entry 2")
    assert "entry 1" not in r.err
    assert_nothing_stored(cg)


def test_wrong_password_in_entry_one(app, pki):
    cg, mx1, mx2 = app
    r = mendix(cg, "%s,%s" % (mx1, mx2), "%s,%s" % ("wrong", PASSWORD))
    assert_error(r, 1, "ClientCertificates entry 1", "wrong password", name=mx1)
    assert_nothing_stored(cg)


def test_usage_path_not_in_client_certificates(app, pki):
    cg, mx1, mx2 = app
    other = cg.dir / "App" / "Mx3.pfx"
    r = mendix(cg, "%s,%s" % (mx1, mx2), "%s,%s" % (PASSWORD, PASSWORD),
               {"Module.WebService1": str(mx1), "Module.WebService3": str(other)})
    assert_error(r, 2, "ClientCertificateUsages", "entry 'Module.WebService3'", str(other),
                 "is not one of ClientCertificates", hint=str(mx1))
    assert_nothing_stored(cg)


def test_usage_path_differs_in_case_hints(app, pki):
    cg, mx1, mx2 = app
    r = mendix(cg, str(mx1), PASSWORD, {"Module.WebService1": str(mx1).upper()})
    assert_error(r, 2, "is not one of ClientCertificates", hint="did you mean")
    assert_nothing_stored(cg)


def test_bad_entry_later_rolls_back_earlier_ones(app, pki):
    # entry 2 collides with an existing certificate name at store time: entry 1 is not kept
    cg, mx1, mx2 = app
    cg.ok("cert", "add", "Mx2", pki.client3, "--key", pki.client3_key)
    r = mendix(cg, "%s,%s" % (mx1, mx2), "%s,%s" % (PASSWORD, PASSWORD),
               {"Module.WebService1": str(mx1)})
    assert_error(r, 1, "'Mx2'", "already exists", hint="nothing was imported")
    assert sorted(cg.certs()) == ["Mx2"]
    assert cg.certs()["Mx2"]["fingerprint_sha256"] == cert_fingerprint(pki.client3)
    assert cg.pins() == {}
    # with --replace it goes through
    r = mendix(cg, "%s,%s" % (mx1, mx2), "%s,%s" % (PASSWORD, PASSWORD), {"Module.WebService1": str(mx1)},
               extra=("--replace",))
    assert r.rc == 0, r
    assert cg.certs()["Mx2"]["fingerprint_sha256"] == cert_fingerprint(pki.client2)


def test_password_count_mismatch(app):
    cg, mx1, mx2 = app
    r = mendix(cg, "%s,%s" % (mx1, mx2), PASSWORD)
    assert_error(r, 2, "ClientCertificatePasswords has 1 entries but ClientCertificates has 2", hint=True)
    assert_nothing_stored(cg)


def test_same_file_listed_twice(app):
    cg, mx1, _ = app
    r = mendix(cg, "%s,%s" % (mx1, mx1), "%s,%s" % (PASSWORD, PASSWORD))
    assert_error(r, 2, "is listed twice", hint=True)
    assert_nothing_stored(cg)


def test_empty_entry(app):
    cg, mx1, _ = app
    r = mendix(cg, "%s,," % mx1, "%s,," % PASSWORD)
    assert_error(r, 2, "is empty", hint="comma")
    assert_nothing_stored(cg)


def test_usages_not_an_object(app):
    cg, mx1, _ = app
    r = mendix(cg, str(mx1), PASSWORD, '["a"]')
    assert_error(r, 2, "must be a JSON object")
    assert_nothing_stored(cg)


def test_usage_with_invalid_target(app):
    cg, mx1, _ = app
    r = mendix(cg, str(mx1), PASSWORD, {"*.com": str(mx1)})
    assert r.rc == 2, r
    assert "ClientCertificateUsages" in r.err and "*.com" in r.err, r
    assert_nothing_stored(cg)


def test_missing_file_names_entry(app):
    cg, mx1, _ = app
    missing = cg.dir / "App" / "Gone.pfx"
    r = mendix(cg, "%s,%s" % (mx1, missing), "%s,%s" % (PASSWORD, PASSWORD))
    assert_error(r, 1, "ClientCertificates entry 2", name=missing)
    assert_nothing_stored(cg)


def test_not_a_pkcs12_names_entry(app, pki):
    cg, mx1, _ = app
    r = mendix(cg, "%s,%s" % (mx1, pki.text), "%s," % PASSWORD)
    assert_error(r, 1, "ClientCertificates entry 2", name=pki.text)
    assert_nothing_stored(cg)


def test_ca_certificates(app, pki):
    cg, mx1, _ = app
    r = mendix(cg, str(mx1), PASSWORD, cas="%s,%s" % (pki.ca_bundle, pki.root2))
    assert r.rc == 0, r
    certs = cg.certs()
    assert sorted(certs) == ["Mx1", "ca-bundle", "root2"], certs
    assert certs["ca-bundle"]["kind"] == "ca" and certs["root2"]["kind"] == "ca"
    s = cg.show("ca-bundle")
    assert [c["subject"] for c in s["certificates"]] == [cert_subject(pki.root), cert_subject(pki.inter)]


def test_ca_certificates_alone(cg, pki):
    r = mendix(cg, cas=str(pki.ca_bundle))
    assert r.rc == 0, r
    assert list(cg.certs()) == ["ca-bundle"]


def test_bad_ca_certificate_stores_nothing(app, pki):
    cg, mx1, _ = app
    r = mendix(cg, str(mx1), PASSWORD, cas=str(pki.ca_with_leaf))
    assert_error(r, 1, "--ca-certificates entry 1", "is not a CA certificate", name=pki.ca_with_leaf)
    assert_nothing_stored(cg)


def test_local_and_env_together_is_misuse(app):
    cg, mx1, _ = app
    r = cg("import", "mendix", "--client-certificates", str(mx1), "--from-env")
    assert_error(r, 2, "either the local settings or --from-env", hint=True)


def test_nothing_given_is_misuse(cg):
    r = cg("import", "mendix")
    assert_error(r, 2, "either the local settings or --from-env", hint=True)


def test_passwords_without_certificates(cg):
    r = cg("import", "mendix", "--client-certificate-passwords", "x")
    assert_error(r, 2, "--client-certificates is required")


def test_names_from_file_names(cg, pki):
    # same stem in two folders -> Mx1, Mx1-2; characters names do not allow become '-'
    (cg.dir / "a").mkdir()
    (cg.dir / "b").mkdir()
    shutil.copy(pki.p12_modern, cg.dir / "a" / "Mx1.pfx")
    shutil.copy(pki.p12_client2, cg.dir / "b" / "Mx1.pfx")
    shutil.copy(pki.p12_client3, cg.dir / "my cert.p12")
    paths = [cg.dir / "a" / "Mx1.pfx", cg.dir / "b" / "Mx1.pfx", cg.dir / "my cert.p12"]
    r = mendix(cg, ",".join(map(str, paths)), ",".join([PASSWORD] * 3))
    assert r.rc == 0, r
    certs = cg.certs()
    assert sorted(certs) == ["Mx1", "Mx1-2", "my-cert"], certs
    assert certs["Mx1-2"]["fingerprint_sha256"] == cert_fingerprint(pki.client2)
    assert certs["my-cert"]["fingerprint_sha256"] == cert_fingerprint(pki.client3)


def test_usage_target_given_twice(app):
    cg, mx1, mx2 = app
    usages = '{"Module.WS1": "%s", "Module.WS1": ""}' % mx1
    r = mendix(cg, "%s,%s" % (mx1, mx2), "%s,%s" % (PASSWORD, PASSWORD), usages)
    assert_error(r, 2, "ClientCertificateUsages", "given twice", hint=True)
    assert_nothing_stored(cg)


def test_usage_paths_match_trimmed_entries(app, pki):
    cg, mx1, mx2 = app
    r = mendix(cg, " %s , %s " % (mx1, mx2), "%s,%s" % (PASSWORD, PASSWORD), {"www.example.com": str(mx2)})
    assert r.rc == 0, r
    assert cg.pins() == {"www.example.com": "Mx2"}
