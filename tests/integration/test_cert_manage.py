"""Managing stored certificates: --replace, cert rm (refused while pinned, naming the pin),
cert set NAME --default (exactly one default), show/rm of unknown names."""

from conftest import PASSWORD, assert_error, assert_leaf


def add(cg, pki, name, which="client", *extra):
    crt, key = {"client": (pki.client, pki.client_key), "client2": (pki.client2, pki.client2_key),
                "client3": (pki.client3, pki.client3_key), "server": (pki.server, pki.server_key)}[which]
    return cg.ok("cert", "add", name, crt, "--key", key, *extra)


def test_add_existing_name_is_refused(cg, pki):
    add(cg, pki, "c1")
    r = cg("cert", "add", "c1", pki.client2, "--key", pki.client2_key)
    assert_error(r, 1, "already exists", "'c1'")
    assert_leaf(cg, "c1", pki.client)


def test_replace(cg, pki):
    add(cg, pki, "c1", "client", "--default")
    cg.ok("pin", "set", "api.example.com", "c1")
    r = cg("cert", "add", "c1", pki.p12_client2, "--password-file", cg.pw_file(PASSWORD), "--replace")
    assert r.rc == 0, r
    assert "stored client certificate 'c1'" in r.out, r
    o = assert_leaf(cg, "c1", pki.client2, default=True)
    assert len(cg.certs()) == 1
    # pins keep pointing at the name, and resolve to the new certificate
    assert cg.pins() == {"api.example.com": "c1"}
    res = cg.resolve("api.example.com")
    assert res["cert"] == "c1" and res["fingerprint_sha256"] == o["fingerprint_sha256"], res


def test_replace_of_new_name_adds(cg, pki):
    r = cg("cert", "add", "c1", pki.client, "--key", pki.client_key, "--replace")
    assert r.rc == 0, r
    assert_leaf(cg, "c1", pki.client)


def test_replace_with_other_kind_is_refused(cg, pki):
    add(cg, pki, "c1")
    r = cg("cert", "add", "c1", pki.server, "--key", pki.server_key, "--kind", "server", "--replace")
    assert_error(r, 2, "cannot be replaced", hint="cert rm c1")
    assert_leaf(cg, "c1", pki.client, kind="client")


def test_rm(cg, pki):
    add(cg, pki, "c1")
    add(cg, pki, "c2", "client2")
    r = cg.ok("cert", "rm", "c1")
    assert "removed 'c1'" in r.out
    assert list(cg.certs()) == ["c2"]


def test_rm_unknown(cg):
    r = cg("cert", "rm", "nope")
    assert_error(r, 1, "no certificate named 'nope'")


def test_show_unknown(cg):
    r = cg("cert", "show", "nope")
    assert_error(r, 1, "no certificate named 'nope' in environment 'production'")


def test_rm_refused_while_pinned(cg, pki):
    add(cg, pki, "c1")
    cg.ok("pin", "set", "Billing.PaymentService", "c1")
    cg.ok("pin", "set", "api.partner.example:8443", "c1")
    r = cg("cert", "rm", "c1")
    assert_error(r, 1, "pinned by 2 targets", "'Billing.PaymentService'", "'api.partner.example:8443'",
                 hint="pin rm")
    assert "c1" in cg.certs()
    assert cg.show("c1")["pinned_by"] == ["Billing.PaymentService", "api.partner.example:8443"] or \
        sorted(cg.show("c1")["pinned_by"]) == ["Billing.PaymentService", "api.partner.example:8443"]
    cg.ok("pin", "rm", "Billing.PaymentService")
    r = cg("cert", "rm", "c1")
    assert_error(r, 1, "pinned by 1 target", "'api.partner.example:8443'")
    cg.ok("pin", "rm", "api.partner.example:8443")
    cg.ok("cert", "rm", "c1")
    assert cg.certs() == {}


def test_rm_allowed_when_pins_say_none(cg, pki):
    add(cg, pki, "c1")
    cg.ok("pin", "set", "api.example.com", "none")
    cg.ok("cert", "rm", "c1")


def test_default_is_exclusive(cg, pki):
    add(cg, pki, "c1", "client", "--default")
    add(cg, pki, "c2", "client2")
    add(cg, pki, "c3", "client3", "--default")
    certs = cg.certs()
    assert [n for n, c in certs.items() if c["default"]] == ["c3"], certs
    r = cg.ok("cert", "set", "c2", "--default")
    assert "'c2' is now the default client certificate of environment 'production'" in r.out
    certs = cg.certs()
    assert [n for n, c in certs.items() if c["default"]] == ["c2"], certs
    # setting it again changes nothing
    cg.ok("cert", "set", "c2", "--default")
    assert [n for n, c in cg.certs().items() if c["default"]] == ["c2"]
    res = cg.resolve("anything.example")
    assert res["cert"] == "c2" and res["matched"] == "default", res
    # the table marks it
    rows = [l for l in cg.ok("cert", "list").out.splitlines() if l.startswith("c2 ")]
    assert " yes " in rows[0], rows


def test_set_default_unknown(cg):
    r = cg("cert", "set", "nope", "--default")
    assert_error(r, 1, "no certificate named 'nope'")


def test_set_default_of_server_cert(cg, pki):
    add(cg, pki, "web", "server", "--kind", "server")
    r = cg("cert", "set", "web", "--default")
    assert_error(r, 2, "cannot be the default", hint=True)
    assert cg.certs()["web"]["default"] is False


def test_set_without_default_flag(cg, pki):
    add(cg, pki, "c1")
    r = cg("cert", "set", "c1")
    assert_error(r, 2, "nothing to set", hint="--default")


def test_removing_default_leaves_no_default(cg, pki):
    add(cg, pki, "c1", "client", "--default")
    cg.ok("cert", "rm", "c1")
    res = cg.resolve("api.example.com")
    assert res == {"cert": None, "fingerprint_sha256": None, "matched": "none", "target": None}, res


def test_replace_with_default_moves_the_default(cg, pki):
    add(cg, pki, "c1", "client", "--default")
    add(cg, pki, "c2", "client2")
    cg.ok("cert", "add", "c2", pki.client3, "--key", pki.client3_key, "--replace", "--default")
    certs = cg.certs()
    assert [n for n, c in certs.items() if c["default"]] == ["c2"], certs
    assert certs["c2"]["fingerprint_sha256"] == pki.fingerprint(pki.client3)


def test_replace_keeps_the_default_mark(cg, pki):
    add(cg, pki, "c1", "client", "--default")
    cg.ok("cert", "add", "c1", pki.client3, "--key", pki.client3_key, "--replace")
    assert cg.certs()["c1"]["default"] is True
