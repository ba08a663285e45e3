"""The admin API (/api/v1/, docs/api.md) against a running `certgate serve --admin`: tokens and
roles, every error status, uploads as a browser form and as JSON, the same refusals as the CLI
(nothing stored), the audit trail with the token's name, hot reload of a change, HTTPS with an
admin client certificate."""

import base64
import http.client
import json
import ssl
import time
import uuid

import pytest

from conftest import PASSWORD
from egress_fixtures import daemon_factory, start_daemon
from ingress_fixtures import ipki  # noqa: F401 (a fixture)


def token(cg, name, role, *extra):
    r = cg.ok("token", "add", name, "--role", role, *extra, "--json")
    return json.loads(r.out)["token"]


class Api:
    """A client of the admin listener: call(method, path, body=..., token=...) -> (status, headers, json|text)."""

    def __init__(self, daemon, tok=None, context=None):
        self.d = daemon
        self.tok = tok
        self.context = context

    def conn(self):
        if self.d.url.startswith("https://"):
            return http.client.HTTPSConnection("127.0.0.1", self.d.port, timeout=10, context=self.context)
        return http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=10)

    def call(self, method, path, body=None, tok=None, headers=None, raw=None, content_type=None):
        h = dict(headers or {})
        t = tok if tok is not None else self.tok
        if t:
            h["Authorization"] = "Bearer " + t
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        if content_type:
            h["Content-Type"] = content_type
        c = self.conn()
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            payload = r.read()
            hd = {k.lower(): v for k, v in r.getheaders()}
        finally:
            c.close()
        if hd.get("content-type", "").startswith("application/json") and payload:
            return r.status, hd, json.loads(payload)
        return r.status, hd, payload.decode(errors="replace")

    def form(self, method, path, fields, files, tok=None):
        """multipart/form-data as a browser sends it: fields {name: text}, files {name: (filename, bytes)}."""
        boundary = "----certgateform" + uuid.uuid4().hex
        parts = []
        for k, v in fields.items():
            parts.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n" % (boundary, k)).encode()
                         + v.encode() + b"\r\n")
        for k, (fn, data) in files.items():
            parts.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                          "Content-Type: application/octet-stream\r\n\r\n" % (boundary, k, fn)).encode()
                         + data + b"\r\n")
        raw = b"".join(parts) + ("--%s--\r\n" % boundary).encode()
        return self.call(method, path, raw=raw, tok=tok, content_type="multipart/form-data; boundary=" + boundary)


@pytest.fixture
def admin(cg, tmp_path):
    """Factory: admin(extra=...) -> (Daemon, tokens {role: secret})."""
    tokens = {r: token(cg, "t-" + r, r) for r in ("viewer", "operator", "admin")}

    def start(extra, env, workers, name):
        return start_daemon(cg, tmp_path, extra=extra, env=env, workers=workers, name=name, listener="admin")

    for make in daemon_factory(start, "adm"):
        def made(extra=None, env=None, **kw):
            d = make(extra=extra, env=env, **kw)
            return d, tokens
        yield made


def api_for(admin, role="admin", **kw):
    d, toks = admin(**kw)
    return Api(d, toks[role]), toks


def assert_error(status, body, want_status, want_code, *phrases):
    assert status == want_status, (status, body)
    assert isinstance(body, dict) and body["error"] == want_code, body
    for p in phrases:
        assert p in body["message"] + " " + body.get("hint", ""), (p, body)


# ---- authentication and roles ---------------------------------------------------------------


def test_healthz_is_open_everything_else_needs_a_token(admin):
    api, _ = api_for(admin)
    st, _, body = api.call("GET", "/healthz", tok="")
    assert st == 200 and body.strip() == "ok"
    for path in ("/api/v1/status", "/api/v1/certificates", "/metrics", "/api/v1/audit"):
        st, hd, body = api.call("GET", path, tok="")
        assert_error(st, body, 401, "unauthorized", "Authorization: Bearer")
        assert hd["www-authenticate"].startswith("Bearer")
    st, _, body = api.call("GET", "/api/v1/status", tok="cg_" + "0" * 64)
    assert_error(st, body, 401, "unauthorized", "not valid")
    st, hd, body = api.call("GET", "/api/v1/status", headers={"Authorization": "Basic YWRtaW46YWRtaW4="}, tok="")
    assert st == 401


def test_status_shows_the_daemon(admin, cg):
    api, _ = api_for(admin, role="viewer")
    st, _, body = api.call("GET", "/api/v1/status")
    assert st == 200, body
    assert body["environment"] == "production"
    assert body["listeners"]["admin"] == ["127.0.0.1:%d" % api.d.port]
    assert body["workers"] == 1 and body["reload_failures"] == 0
    assert body["snapshot_age_ms"] >= 0 and isinstance(body["revision"], int)


def test_role_boundaries(admin, pki):
    d, toks = admin()
    api = Api(d)
    site = {"name": "web", "backend": "http://127.0.0.1:9", "domains": ["web.example"]}
    # viewer reads, changes nothing
    assert api.call("GET", "/api/v1/sites", tok=toks["viewer"])[0] == 200
    st, _, body = api.call("POST", "/api/v1/sites", site, tok=toks["viewer"])
    assert_error(st, body, 403, "forbidden", "t-viewer", "viewer", "needs operator")
    # operator manages sites, pins, profiles, upstreams; not certificates or tokens
    st, _, body = api.call("POST", "/api/v1/profiles", {"name": "office", "allow_ips": ["10.0.0.0/8"]},
                           tok=toks["operator"])
    assert st == 201, body
    ca = base64.b64encode(pki.root.read_bytes()).decode()
    st, _, body = api.call("POST", "/api/v1/authorities", {"name": "root", "data_base64": ca}, tok=toks["operator"])
    assert_error(st, body, 403, "forbidden", "needs admin")
    st, _, body = api.call("POST", "/api/v1/tokens", {"name": "x", "role": "viewer"}, tok=toks["operator"])
    assert_error(st, body, 403, "forbidden", "needs admin")
    st, _, body = api.call("GET", "/api/v1/tokens", tok=toks["viewer"])
    assert st == 200 and all("hash" not in t and "token" not in t for t in body), body
    # admin does everything
    st, _, body = api.call("POST", "/api/v1/authorities", {"name": "root", "data_base64": ca}, tok=toks["admin"])
    assert st == 201 and body["kind"] == "ca", body
    st, _, body = api.call("POST", "/api/v1/tokens", {"name": "ci", "role": "operator"}, tok=toks["admin"])
    assert st == 201 and body["token"].startswith("cg_"), body
    new = body["token"]
    assert api.call("GET", "/api/v1/sites", tok=new)[0] == 200
    assert api.call("DELETE", "/api/v1/tokens/ci", tok=toks["admin"])[0] == 204
    st, _, body = api.call("GET", "/api/v1/sites", tok=new)
    assert_error(st, body, 401, "unauthorized", "not valid")


def test_expired_token_is_refused(cg, tmp_path):
    tok = token(cg, "short", "admin", "--expires", "1")
    later = str(int(time.time()) + 3 * 86400)
    d = start_daemon(cg, tmp_path, listener="admin", env={"CERTGATE_NOW": later})
    try:
        st, _, body = Api(d, tok).call("GET", "/api/v1/status")
        assert_error(st, body, 401, "unauthorized", "expired")
    finally:
        d.check_clean()


# ---- certificates: the browser form, JSON, the same refusals as the CLI --------------------


def test_upload_pkcs12_as_a_form_then_pin_it(admin, pki, cg):
    api, _ = api_for(admin)
    st, _, body = api.form("POST", "/api/v1/certificates", {"name": "partner", "kind": "client", "password": PASSWORD},
                           {"file": ("partner.p12", pki.p12_modern.read_bytes())})
    assert st == 201, body
    assert body["name"] == "partner" and body["kind"] == "client"
    assert body["fingerprint_sha256"] == pki.fingerprint(pki.client)
    assert body["days_left"] > 300
    assert "private" not in json.dumps(body).lower()
    st, _, body = api.call("PUT", "/api/v1/pins/api.partner.example", {"cert": "partner"})
    assert st == 200 and body == {"target": "api.partner.example", "cert": "partner", "match": "service or host"}, body
    st, _, body = api.call("GET", "/api/v1/pins/resolve?host=api.partner.example")
    assert st == 200 and body["cert"] == "partner" and body["fingerprint_sha256"] == pki.fingerprint(pki.client)
    # what the CLI sees is what the API stored
    listed = json.loads(cg.ok("cert", "list", "--json").out)
    assert [c["name"] for c in listed] == ["partner"]
    st, _, body = api.call("GET", "/api/v1/certificates/partner")
    assert st == 200 and body["pinned_by"] == ["api.partner.example"]


def test_wrong_password_stores_nothing(admin, pki, cg):
    api, _ = api_for(admin)
    st, _, body = api.form("POST", "/api/v1/certificates", {"name": "partner", "password": "wrong"},
                           {"file": ("partner.p12", pki.p12_modern.read_bytes())})
    assert_error(st, body, 400, "wrong_password", "partner.p12")
    cli = cg("cert", "add", "partner", pki.p12_modern, "--password-env", "NOPE")
    assert api.call("GET", "/api/v1/certificates/partner")[0] == 404
    assert json.loads(cg.ok("cert", "list", "--json").out) == []
    assert cli.rc != 0


def test_json_upload_and_the_cli_messages(admin, pki):
    api, _ = api_for(admin)
    pem = base64.b64encode(pki.client.read_bytes()).decode()
    key = base64.b64encode(pki.client_key.read_bytes()).decode()
    st, _, body = api.call("POST", "/api/v1/certificates",
                           {"name": "c1", "data_base64": pem, "key_base64": key, "default": True})
    assert st == 201 and body["default"] is True, body
    # a name in use: 409; the CLI's words
    st, _, body = api.call("POST", "/api/v1/certificates", {"name": "c1", "data_base64": pem, "key_base64": key})
    assert_error(st, body, 409, "conflict", "c1")
    # a certificate without its key
    st, _, body = api.call("POST", "/api/v1/certificates", {"name": "c2", "data_base64": pem})
    assert st == 400 and body["error"] == "invalid" and "key" in body["message"], body
    # not base64
    st, _, body = api.call("POST", "/api/v1/certificates", {"name": "c3", "data_base64": "%%%"})
    assert_error(st, body, 400, "invalid", "data_base64", "base64")
    # unknown field, wrong type, missing field
    st, _, body = api.call("POST", "/api/v1/certificates", {"name": "c4", "data_base64": pem, "passwrd": "x"})
    assert_error(st, body, 400, "invalid", "unknown field 'passwrd'", "password")
    st, _, body = api.call("POST", "/api/v1/certificates", {"name": ["x"], "data_base64": pem})
    assert_error(st, body, 400, "invalid", "'name' must be")
    st, _, body = api.call("POST", "/api/v1/certificates", {"name": "c5"})
    assert_error(st, body, 400, "invalid", "'data_base64' is required")
    st, _, body = api.call("POST", "/api/v1/certificates", raw=b"{not json", content_type="application/json")
    assert_error(st, body, 400, "invalid", "not valid JSON")
    st, _, body = api.call("GET", "/api/v1/certificates")
    assert [c["name"] for c in body] == ["c1"]


def test_upload_over_the_limit_is_413(admin, pki):
    api, _ = api_for(admin, extra={"admin": {"max_upload_bytes": 4096}})
    big = base64.b64encode(b"x" * 8000).decode()
    st, hd, body = api.call("POST", "/api/v1/certificates", {"name": "big", "data_base64": big})
    assert_error(st, body, 413, "too_large")
    assert api.call("GET", "/api/v1/certificates/big")[0] == 404


def test_not_found_and_method_not_allowed(admin):
    api, _ = api_for(admin)
    st, _, body = api.call("GET", "/api/v1/sites/nope")
    assert_error(st, body, 404, "not_found", "nope")
    st, _, body = api.call("GET", "/api/v1/nothing")
    assert_error(st, body, 404, "not_found")
    st, hd, body = api.call("PATCH", "/api/v1/sites")
    assert_error(st, body, 405, "method_not_allowed")
    assert "POST" in hd["allow"] and "GET" in hd["allow"]
    st, _, body = api.call("DELETE", "/api/v1/pins/none.example")
    assert st == 404, body


# ---- sites, profiles, rules: changes go live and are audited ----------------------------------


def test_site_lifecycle_and_audit(admin, cg, ipki):
    cg.ok("cert", "add", "web-cert", ipki.srv_a_full, "--key", ipki.srv_a_key, "--kind", "server")
    cg.ok("ca", "add", "clients", ipki.clients_ca)
    d, toks = admin()
    api = Api(d, toks["operator"])
    site = {"name": "web", "backend": "http://127.0.0.1:9", "domains": [{"host": "a.test", "cert": "web-cert"}],
            "mtls": "optional", "client_cas": ["clients"]}
    st, _, body = api.call("POST", "/api/v1/sites", site)
    assert st == 201, body
    assert body["mtls"] == "optional" and body["domains"] == [{"host": "a.test", "cert": "web-cert"}]
    # what GET answers can be PUT back, with a change
    st, _, got = api.call("GET", "/api/v1/sites/web")
    got["mtls"] = "required"
    st, _, body = api.call("PUT", "/api/v1/sites/web", got)
    assert st == 200 and body["mtls"] == "required", body
    st, _, body = api.call("PUT", "/api/v1/sites/web", {"name": "other"})
    assert_error(st, body, 400, "invalid", "path names 'web'")
    st, _, body = api.call("PUT", "/api/v1/sites/web", {"mtls": "sometimes"})
    assert_error(st, body, 400, "invalid", "off, optional or required")
    assert body["field"] == "mtls", body
    # rules
    st, _, body = api.call("POST", "/api/v1/profiles", {"name": "office", "allow_ips": ["10.0.0.0/8"],
                                                        "client_cas": [{"ca": "clients", "signers": []}]})
    assert st == 201, body
    st, _, body = api.call("POST", "/api/v1/sites/web/rules", {"path": "/admin", "profile": "office"})
    assert st == 201, body
    st, _, rules = api.call("GET", "/api/v1/sites/web/rules")
    assert st == 200 and [r["path"] for r in rules] == ["/admin"], rules
    st, _, body = api.call("DELETE", "/api/v1/profiles/office")
    assert_error(st, body, 409, "in_use", "office")
    assert api.call("DELETE", "/api/v1/sites/web/rules/%2Fadmin")[0] == 204
    # the audit trail: the token's name, the action, before and after
    st, _, audit = api.call("GET", "/api/v1/audit?limit=10", tok=toks["viewer"])
    assert st == 200, audit
    mine = [a for a in audit if a["actor"] == "t-operator"]
    actions = [a["action"] for a in mine]
    assert actions[:5] == ["site rule", "site rule", "profile add", "site set", "site add"], actions
    change = next(a for a in mine if a["action"] == "site set")
    assert change["object"] == "site/web"
    assert change["before"]["mtls"] == "optional" and change["after"]["mtls"] == "required"
    created = next(a for a in audit if a["action"] == "site add")
    assert created["before"] is None and created["after"]["name"] == "web"
    # a refused change wrote no record
    assert not any(a["action"] == "profile rm" for a in audit)


def test_a_change_through_the_api_is_served_at_once(cg, tmp_path, ipki):
    """The admin listener is part of the daemon that serves the ingress: a site's mode changed through
    the API is what the next handshake meets."""
    from egress_fixtures import Daemon, config_text, free_port, wait_listening
    from ingress_fixtures import Backend, tls_get

    backend = Backend()
    cg.ok("cert", "add", "web-cert", ipki.srv_a_full, "--key", ipki.srv_a_key, "--kind", "server")
    cg.ok("ca", "add", "clients", ipki.clients_ca)
    cg.ok("site", "add", "web", "--backend", backend.url, "--domain", "a.test=web-cert", "--client-ca", "clients")
    tok = token(cg, "ops", "operator")
    port, aport = free_port(), free_port()
    cfg = tmp_path / "both.yaml"
    cfg.write_text(config_text(cg.store_url, cg.key, None, tmp_path / "both.log", {"workers": 1},
                               ingress="127.0.0.1:%d" % port, admin="127.0.0.1:%d" % aport))
    d = Daemon(cg, cfg, aport, tmp_path / "both.log", tmp_path / "both.err")
    try:
        wait_listening(aport, d.proc, what="certgate serve")
        wait_listening(port, d.proc, what="certgate serve")
        assert tls_get(ipki, port, "a.test")[0] == 200
        st, _, body = Api(d, tok).call("PUT", "/api/v1/sites/web", {"mtls": "required"})
        assert st == 200, body
        with pytest.raises((ssl.SSLError, ConnectionError)):
            tls_get(ipki, port, "a.test")
        assert tls_get(ipki, port, "a.test", cert=ipki.client_full, key=ipki.client_key)[0] == 200
    finally:
        d.check_clean()
        backend.stop()


# ---- HTTPS, and an admin client certificate --------------------------------------------------


def test_https_with_an_admin_client_certificate(cg, tmp_path, ipki):
    cg.ok("cert", "add", "admin-cert", ipki.srv_a_full, "--key", ipki.srv_a_key, "--kind", "server")
    cg.ok("ca", "add", "ops", ipki.clients_ca)
    d = start_daemon(cg, tmp_path, listener="admin", extra={"admin": {"tls": "admin-cert", "client_ca": "ops"}})
    try:
        ctx = ssl.create_default_context(cafile=str(ipki.root))
        ctx.check_hostname = False
        # no certificate and no token: 401, over TLS
        st, _, body = Api(d, context=ctx).call("GET", "/api/v1/status")
        assert st == 401, body
        ctx.load_cert_chain(str(ipki.client_full), str(ipki.client_key))
        st, _, body = Api(d, context=ctx).call("POST", "/api/v1/profiles", {"name": "by-cert"})
        assert st == 201, body
        st, _, audit = Api(d, context=ctx).call("GET", "/api/v1/audit?limit=1")
        assert audit[0]["actor"].startswith("cert:"), audit
    finally:
        d.check_clean()


# ---- the platform's settings, imported through the API ---------------------------------------


def test_import_mendix_environment_variables(admin, pki, cg):
    api, _ = api_for(admin)
    entries = [{"pfx": base64.b64encode(pki.p12_modern.read_bytes()).decode(), "password": PASSWORD,
                "pin_to": ["Billing.PaymentService", "api.partner.example"]}]
    st, _, body = api.call("POST", "/api/v1/import/mendix",
                           {"client_certificates": entries, "certificate_authorities": pki.root.read_text()})
    assert st == 201, body
    assert [c["name"] for c in body["certificates"]] == ["client-1"] and len(body["authorities"]) == 1
    assert {p["target"] for p in body["pins"]} == {"Billing.PaymentService", "api.partner.example"}
    pins = json.loads(cg.ok("pin", "list", "--json").out)
    assert {p["target"]: p["cert"] for p in pins}["api.partner.example"] == "client-1"
    # a wrong password: refused, nothing stored, the secret not echoed
    entries[0]["password"] = "wrong-secret-xyz"
    st, _, body = api.call("POST", "/api/v1/import/mendix", {"client_certificates": entries, "replace": True})
    assert st == 400 and "wrong-secret-xyz" not in json.dumps(body), body
    st, _, audit = api.call("GET", "/api/v1/audit?limit=5")
    assert [a["action"] for a in audit if a["actor"] == "t-admin"] == ["import mendix"]
    # the daemon's own environment is never read
    st, _, body = api.call("POST", "/api/v1/import/mendix", {})
    assert_error(st, body, 400, "invalid", "CLIENT_CERTIFICATES")


# ---- every change route against every role ---------------------------------------------------

CHANGES = [  # (method, path, the role it needs)
    ("POST", "/api/v1/certificates", "admin"), ("PUT", "/api/v1/certificates/x", "admin"),
    ("DELETE", "/api/v1/certificates/x", "admin"), ("POST", "/api/v1/authorities", "admin"),
    ("PUT", "/api/v1/authorities/x", "admin"), ("DELETE", "/api/v1/authorities/x", "admin"),
    ("POST", "/api/v1/tokens", "admin"), ("DELETE", "/api/v1/tokens/x", "admin"),
    ("POST", "/api/v1/import/mendix", "admin"),
    ("POST", "/api/v1/pins", "operator"), ("PUT", "/api/v1/pins/x", "operator"), ("DELETE", "/api/v1/pins/x", "operator"),
    ("POST", "/api/v1/upstreams", "operator"), ("PUT", "/api/v1/upstreams/x", "operator"),
    ("DELETE", "/api/v1/upstreams/x", "operator"),
    ("POST", "/api/v1/sites", "operator"), ("PUT", "/api/v1/sites/x", "operator"), ("DELETE", "/api/v1/sites/x", "operator"),
    ("POST", "/api/v1/sites/x/rules", "operator"), ("PUT", "/api/v1/sites/x/rules/%2Fa", "operator"),
    ("DELETE", "/api/v1/sites/x/rules/%2Fa", "operator"),
    ("POST", "/api/v1/profiles", "operator"), ("PUT", "/api/v1/profiles/x", "operator"),
    ("DELETE", "/api/v1/profiles/x", "operator"),
]
READS = ["/api/v1/certificates", "/api/v1/authorities", "/api/v1/pins", "/api/v1/upstreams", "/api/v1/sites",
         "/api/v1/profiles", "/api/v1/tokens", "/api/v1/audit", "/api/v1/check", "/api/v1/status", "/api/v1/whoami",
         "/metrics"]
RANK = {"viewer": 0, "operator": 1, "admin": 2}


def test_every_route_checks_the_role(admin, cg):
    d, toks = admin()
    api = Api(d)
    for path in READS:
        st, _, body = api.call("GET", path, tok=toks["viewer"])
        assert st == 200, (path, body)
    for method, path, need in CHANGES:
        for role, tok in toks.items():
            st, _, body = api.call(method, path, {} if method != "DELETE" else None, tok=tok)
            if RANK[role] < RANK[need]:
                assert_error(st, body, 403, "forbidden", "needs " + need)
            else:  # allowed: refused for its (empty) input or the missing object, never for the role
                assert st in (400, 404), (method, path, role, st, body)
    # nothing was changed by any of it
    st, _, audit = api.call("GET", "/api/v1/audit", tok=toks["viewer"])
    assert [a["action"] for a in audit] == ["token add"] * 3, audit  # the fixture's, by the CLI


def test_upstream_through_the_api(admin):
    api, _ = api_for(admin, role="operator")
    st, _, body = api.call("POST", "/api/v1/upstreams", {"name": "partner", "url": "https://api.partner.example/v1",
                                                         "server_name": None, "trust": "system+env"})
    assert st == 201 and body["url"] == "https://api.partner.example/v1" and body["trust"] == "system+env", body
    st, _, body = api.call("PUT", "/api/v1/upstreams/partner", {"server_name": "edge.partner.example",
                                                                "timeout_ms": 2500})
    assert st == 200 and body["server_name"] == "edge.partner.example" and body["timeout_ms"] == 2500, body
    st, _, body = api.call("PUT", "/api/v1/upstreams/partner", {"server_name": None})
    assert st == 200 and body["server_name"] == "api.partner.example", body
    st, _, body = api.call("POST", "/api/v1/upstreams", {"name": "x", "url": "https://x.example", "colour": "red"})
    assert_error(st, body, 400, "invalid", "unknown field 'colour'")
    assert body["hint"].count("url") == 1, body
