"""Managing webhooks, events and deliveries (docs/cli.md "webhook", "event"; docs/api.md): the CLI
and the admin API run the same commands. Every refusal names the webhook, the cause and the fix,
and stores nothing; the signing secret is never printed, never in the audit trail, and only
sealed in the store; the events role posts events and nothing else. Delivery itself is
tests/integration/test_webhooks_delivery.py: the webhooks here point at a port nobody listens on,
and nothing below depends on whether a dispatcher tried them."""

import json
import sqlite3

import pytest

from conftest import assert_error
from egress_fixtures import daemon_factory, start_daemon
from test_api import Api, token

SECRET = "whsec-0123456789abcdef-never-shown"
NOWHERE = "https://127.0.0.1:1/hooks"  # refused at once, if anything tries


@pytest.fixture
def wcg(cg, pki):
    """A store with a client certificate 'client', a server certificate 'server' and CA bundles
    'partner' and 'other'."""
    cg.ok("cert", "add", "client", pki.client, "--key", pki.client_key)
    cg.ok("cert", "add", "server", pki.server, "--key", pki.server_key, "--kind", "server")
    cg.ok("ca", "add", "partner", pki.ca_bundle)
    cg.ok("ca", "add", "other", pki.root2)
    return cg


def db(cg, sql, *args):
    c = sqlite3.connect(str(cg.db))
    try:
        rows = c.execute(sql, args).fetchall()
        c.commit()
        return rows
    finally:
        c.close()


def secret_file(cg, text=SECRET):
    f = cg.dir / "secret.txt"
    f.write_text(text + "\n")
    return f


def show(cg, name):
    return cg.ok("webhook", "show", name, "--json").json()


def hooks(cg):
    return {w["name"]: w for w in cg.ok("webhook", "list", "--json").json()}


def audit_count(cg):
    return len(cg.ok("audit", "--json", "--limit", "1000").json())


def never_shown(cg, *results):
    """The secret is in no output, no audit record, and not in the clear in the database."""
    for r in results:
        assert SECRET not in r.out and SECRET not in r.err, r
    a = cg.ok("audit", "--json", "--limit", "1000")
    assert SECRET not in a.out
    for f in cg.dir.iterdir():
        if f.name.startswith("s.db"):
            assert SECRET.encode() not in f.read_bytes(), f


# ---- the CLI ----------------------------------------------------------------------------------


def test_add_show_list(wcg):
    cg = wcg
    r = cg.ok("webhook", "add", "billing", "https://hooks.partner.example:8443/in/certgate", "--client-cert",
              "client", "--ca", "partner", "--secret-file", secret_file(cg), "--events",
              "invoice.paid, invoice.failed", "--events", "user.created")
    assert "added webhook 'billing'" in r.out and "signed" in r.out, r
    o = show(cg, "billing")
    assert o == {
        "name": "billing", "url": "https://hooks.partner.example:8443/in/certgate",
        "host": "hooks.partner.example", "port": 8443, "path": "/in/certgate",
        "client_cert": "client", "ca": "partner", "trust": "system+ca", "signed": True,
        "events": ["invoice.paid", "invoice.failed", "user.created"], "disabled": False,
        "problem": None, "problem_at": None, "pending": 0, "failed": 0,
    }, o
    cg.ok("webhook", "add", "alerts", "https://alerts.example", "--client-cert", "client", "--ca", "other",
          "--trust", "ca-only", "--disabled")
    ls = hooks(cg)
    assert list(ls) == ["alerts", "billing"], ls
    a = ls["alerts"]
    assert (a["trust"], a["ca"], a["signed"], a["events"], a["disabled"], a["port"], a["path"]) == \
        ("ca-only", "other", False, [], True, 443, "/"), a
    # for people
    t = cg.ok("webhook", "list")
    assert "billing" in t.out and "invoice.paid,invoice.failed,user.created" in t.out and "disabled" in t.out, t
    s = cg.ok("webhook", "show", "billing")
    assert "signed:       yes" in s.out and "partner" in s.out and "0 pending, 0 failed" in s.out, s
    # audited as a change, with the object as show --json has it (no secret)
    rec = cg.ok("audit", "--json").json()
    adds = [x for x in rec if x["action"] == "webhook add"]
    assert [x["object"] for x in adds] == ["webhook/alerts", "webhook/billing"], rec
    assert adds[1]["before"] is None and adds[1]["after"]["signed"] is True, adds
    never_shown(cg, r, t, s, cg.ok("webhook", "show", "billing", "--json"))
    # sealed: the stored blob is not the secret and the record id is its associated data
    blob, = db(cg, "SELECT secret_blob FROM webhooks WHERE name = 'billing'")[0]
    assert blob[:4] == b"CGK1" and len(blob) == 4 + 12 + len(SECRET) + 16


def test_secret_from_the_environment(wcg):
    cg = wcg
    r = cg.ok("webhook", "add", "h", NOWHERE, "--client-cert", "client", "--secret-env", "HOOK_SECRET",
              env={"HOOK_SECRET": SECRET})
    assert show(cg, "h")["signed"] is True
    never_shown(cg, r)
    r = cg("webhook", "add", "h2", NOWHERE, "--client-cert", "client", "--secret-env", "NOT_SET_ANYWHERE")
    assert_error(r, 2, "--secret-env NOT_SET_ANYWHERE", "not set", hint=True)
    # a short secret is taken, with a warning
    r = cg.ok("webhook", "add", "h3", NOWHERE, "--client-cert", "client", "--secret-file", secret_file(cg, "short"))
    assert "only 5 bytes" in r.err, r


REFUSALS = [
    # (arguments after NAME, phrases of the message)
    ([NOWHERE], ["webhook 'h' needs a client certificate", "--client-cert"]),
    ([NOWHERE, "--client-cert", "nope"], ["webhook 'h' presents certificate 'nope'", "no certificate"]),
    ([NOWHERE, "--client-cert", "server"], ["cannot present 'server'", "server certificate"]),
    ([NOWHERE, "--client-cert", "partner"], ["cannot present 'partner'", "ca certificate"]),
    ([NOWHERE, "--client-cert", "client", "--ca", "nope"], ["webhook 'h' trusts CA 'nope'"]),
    ([NOWHERE, "--client-cert", "client", "--ca", "client"], ["cannot trust 'client'", "not a CA bundle"]),
    ([NOWHERE, "--client-cert", "client", "--trust", "ca-only"], ["ca-only", "needs a CA bundle"]),
    ([NOWHERE, "--client-cert", "client", "--trust", "everyone"], ["--trust 'everyone' is not a trust"]),
    (["http://hooks.example/in", "--client-cert", "client"], ["is not an https:// URL"]),
    (["https://hooks.example/in?key=1", "--client-cert", "client"], ["has a query"]),
    (["https://hooks.example/in#x", "--client-cert", "client"], ["has a fragment"]),
    (["https://user:pw@hooks.example/in", "--client-cert", "client"], ["user information"]),
    (["https://hooks.example:99999/in", "--client-cert", "client"], ["webhook 'h': URL", "is not valid"]),
    (["https://hooks.example/a b", "--client-cert", "client"], ["webhook 'h': URL", "space"]),
    (["https://hooks.example/a/../b", "--client-cert", "client"], ["webhook 'h': URL", "'..'"]),
    (["hooks.example/in", "--client-cert", "client"], ["is not an https:// URL"]),
    ([NOWHERE, "--client-cert", "client", "--events", "a b"], ["--events 'a b' is not an event type"]),
    ([NOWHERE, "--client-cert", "client", "--events", "a,b,a"], ["--events names 'a' twice"]),
    ([NOWHERE, "--client-cert", "client", "--secret-env", "X", "--secret-file", "/dev/null"], ["contradict"]),
]


@pytest.mark.parametrize("args,phrases", REFUSALS, ids=[" ".join(a[1:]) or a[0] for a, _ in REFUSALS])
def test_add_refusals_store_nothing(wcg, args, phrases):
    cg = wcg
    before = audit_count(cg), db(cg, "SELECT COUNT(*) FROM events")
    r = cg("webhook", "add", "h", *args)
    assert r.rc != 0, r
    assert_error(r, r.rc, *phrases, hint=True)
    assert hooks(cg) == {}
    assert (audit_count(cg), db(cg, "SELECT COUNT(*) FROM events")) == before


def test_more_refusals(wcg):
    cg = wcg
    r = cg("webhook", "add", "bad name", NOWHERE, "--client-cert", "client")
    assert_error(r, 2, "webhook name 'bad name' is not valid", hint=True)
    r = cg("webhook", "add", "h", NOWHERE, "--client-cert", "client", "--secret-file", secret_file(cg, ""))
    assert_error(r, 2, "webhook 'h': the secret is empty", hint=True)
    r = cg("webhook", "add", "h", NOWHERE, "--client-cert", "client", "--secret-file", cg.dir / "missing.txt")
    assert_error(r, r.rc, "--secret-file", "missing.txt")
    assert r.rc != 0
    assert hooks(cg) == {}
    cg.ok("webhook", "add", "h", NOWHERE, "--client-cert", "client")
    r = cg("webhook", "add", "h", NOWHERE, "--client-cert", "client")
    assert_error(r, 1, "a webhook named 'h' already exists", "certgate webhook set h", hint=True)
    for args, phrases in [(["show", "ghost"], ["no webhook named 'ghost'"]), (["rm", "ghost"], ["no webhook named"]),
                          (["set", "ghost", "--disabled"], ["no webhook named 'ghost'"]),
                          (["set", "h"], ["webhook 'h': nothing to set"]),
                          (["deliveries", "ghost"], ["no webhook named 'ghost'"]),
                          (["deliveries", "h", "--status", "lost"], ["--status 'lost'"]),
                          (["deliveries", "h", "--limit", "0"], ["--limit '0'"]),
                          (["delivery", "x"], ["delivery ID 'x'"]), (["delivery", "999"], ["no delivery 999"]),
                          (["replay", "999"], ["no delivery 999"])]:
        r = cg("webhook", *args)
        assert r.rc != 0 and all(p in r.err for p in phrases), (args, r)
        assert "hint: " in r.err, r


def test_set(wcg):
    cg = wcg
    cg.ok("webhook", "add", "h", "https://a.example/x", "--client-cert", "client", "--ca", "partner",
          "--trust", "ca-only", "--events", "a.b")
    sec = secret_file(cg)
    r = cg.ok("webhook", "set", "h", "--url", "https://b.example:9443/y", "--events", "c.d,e.f",
              "--secret-file", sec, "--disabled")
    assert "changed webhook 'h'" in r.out, r
    o = show(cg, "h")
    assert (o["url"], o["host"], o["port"], o["events"], o["signed"], o["disabled"], o["ca"], o["trust"]) == \
        ("https://b.example:9443/y", "b.example", 9443, ["c.d", "e.f"], True, True, "partner", "ca-only"), o
    blob1 = db(cg, "SELECT secret_blob FROM webhooks")[0][0]
    # what is not given is kept, the secret too
    cg.ok("webhook", "set", "h", "--enabled")
    assert db(cg, "SELECT secret_blob FROM webhooks")[0][0] == blob1
    # the CA cannot go while it is trusted alone
    r = cg("webhook", "set", "h", "--no-ca")
    assert_error(r, 2, "ca-only", "needs a CA bundle", hint=True)
    cg.ok("webhook", "set", "h", "--no-ca", "--trust", "system+ca", "--all-events", "--no-secret")
    o = show(cg, "h")
    assert (o["ca"], o["trust"], o["events"], o["signed"], o["disabled"]) == (None, "system+ca", [], False, False), o
    cg.ok("webhook", "set", "h", "--events", "x.y")
    cg.ok("webhook", "set", "h", "--events", "")  # an empty list: every type
    assert show(cg, "h")["events"] == []
    r = cg("webhook", "set", "h", "--events", "a", "--all-events")
    assert_error(r, 2, "contradict", hint=True)
    r = cg("webhook", "set", "h", "--client-cert", "server")
    assert_error(r, 2, "cannot present 'server'", hint=True)
    r = cg("webhook", "set", "h", "--url", "http://b.example/")
    assert_error(r, 2, "https://", hint=True)
    assert show(cg, "h")["url"] == "https://b.example:9443/y"  # nothing of a refused set was kept
    sets = [x for x in cg.ok("audit", "--json").json() if x["action"] == "webhook set"]
    assert len(sets) == 5 and sets[-1]["before"]["ca"] == "partner", sets


def test_rm_and_certificates_in_use(wcg):
    cg = wcg
    cg.ok("webhook", "add", "h", NOWHERE, "--client-cert", "client", "--ca", "partner")
    r = cg("cert", "rm", "client")
    assert_error(r, 1, "presented by 1 webhook: 'h'", "certgate webhook set", hint=True)
    r = cg("ca", "rm", "partner")
    assert_error(r, 1, "trusted by 1 webhook: 'h'", hint=True)
    cg.ok("event", "send", "x.y")
    cg.ok("event", "send", "x.z")
    done = db(cg, "SELECT MAX(id) FROM deliveries")[0][0]
    db(cg, "UPDATE deliveries SET status = 1 WHERE id = ?", done)
    r = cg.ok("webhook", "rm", "h")
    assert "removed webhook 'h' and its 2 pending deliveries" in r.out, r
    assert hooks(cg) == {}
    assert db(cg, "SELECT COUNT(*) FROM deliveries WHERE status = 0") == [(0,)]
    # what it had finished stays listed
    r = cg.ok("webhook", "deliveries", "h", "--json")
    assert [d["id"] for d in r.json()] == [done] and "was removed" in r.err, r
    r = cg("webhook", "replay", str(done))
    assert_error(r, 1, "its webhook 'h' was removed", "certgate webhook add h", hint=True)
    cg.ok("cert", "rm", "client")
    cg.ok("ca", "rm", "partner")
    rec = cg.ok("audit", "--json").json()
    assert rec[2]["action"] == "webhook rm" and rec[2]["after"] is None and rec[2]["before"]["name"] == "h", rec


def test_event_send_and_deliveries(wcg):
    cg = wcg
    cg.ok("webhook", "add", "paid", NOWHERE, "--client-cert", "client", "--events", "invoice.paid")
    cg.ok("webhook", "add", "users", NOWHERE, "--client-cert", "client", "--events", "user.created")
    cg.ok("webhook", "add", "off", NOWHERE, "--client-cert", "client", "--disabled")
    r = cg.ok("event", "send", "invoice.paid", "--data", '{"invoice": "inv_1", "amount": 12.5}')
    assert "1 delivery queued" in r.out, r
    o = cg.ok("event", "send", "invoice.paid", "--data", "{}", "--json").json()
    assert list(o) == ["id", "type", "deliveries"] and o["type"] == "invoice.paid" and o["deliveries"] == 1, o
    assert o["id"].startswith("evt_") and len(o["id"]) == 36 and int(o["id"][4:], 16) >= 0, o
    r = cg.ok("event", "send", "nobody.listens")
    assert "0 deliveries queued" in r.out and "no enabled webhook" in r.err, r
    f = cg.dir / "data.json"
    f.write_text('{"from": "a file"}')
    cg.ok("event", "send", "user.created", "--data-file", f)
    # the data is kept as the application sent it
    assert db(cg, "SELECT data_json FROM events WHERE type = 'user.created'") == [('{"from": "a file"}',)]

    ds = cg.ok("webhook", "deliveries", "paid", "--json").json()
    assert len(ds) == 2 and ds[0]["event_id"] == o["id"], ds  # newest first
    d = ds[0]
    assert (d["webhook"], d["event_type"], d["status"]) == ("paid", "invoice.paid", "pending"), d
    assert set(d) == {"id", "webhook", "event_id", "event_type", "status", "attempts", "next_attempt_at",
                      "in_flight", "created_at", "updated_at", "history"}, d
    assert cg.ok("webhook", "deliveries", "paid", "--status", "failed", "--json").json() == []
    assert len(cg.ok("webhook", "deliveries", "paid", "--limit", "1", "--json").json()) == 1
    assert cg.ok("webhook", "deliveries", "off", "--json").json() == []
    assert show(cg, "paid")["pending"] == 2
    one = cg.ok("webhook", "delivery", str(d["id"]), "--json").json()
    assert one["id"] == d["id"] and one["event_id"] == d["event_id"], one
    t = cg.ok("webhook", "deliveries", "paid")
    assert ("delivery %d" % d["id"]) in t.out and "pending" in t.out and o["id"] in t.out, t

    # replay: refused while pending; a failed one is due again with its attempts from 0
    r = cg("webhook", "replay", str(d["id"]))
    assert_error(r, 2, "still pending", hint=True)
    db(cg, "INSERT INTO attempts (delivery_id, n, at_ms, status_code, error, latency_ms) VALUES (?, 1, 1000, 503, "
           "'HTTP 503', 42)", d["id"])
    db(cg, "UPDATE deliveries SET status = 2, attempts = 12, lease_until_ms = 0 WHERE id = ?", d["id"])
    assert show(cg, "paid")["failed"] == 1
    failed = cg.ok("webhook", "deliveries", "paid", "--status", "failed", "--json").json()
    assert [x["id"] for x in failed] == [d["id"]] and failed[0]["history"][0] == \
        {"at": "1970-01-01T00:00:01.000Z", "status_code": 503, "error": "HTTP 503", "latency_ms": 42}, failed
    t = cg.ok("webhook", "delivery", str(d["id"]))
    assert "HTTP 503" in t.out and "42 ms" in t.out and "failed" in t.out, t
    r = cg.ok("webhook", "replay", str(d["id"]))
    assert "pending again" in r.out, r
    again = cg.ok("webhook", "delivery", str(d["id"]), "--json").json()
    assert again["status"] == "pending" and again["attempts"] == 0 and len(again["history"]) >= 1, again
    # a replay is traffic, not configuration: no audit record
    assert not [x for x in cg.ok("audit", "--json").json() if "replay" in x["action"]]


EVENT_REFUSALS = [
    (["bad type"], ["'bad type' is not an event type"]),
    (["x" * 129], ["is not an event type"]),
    (["config.changed"], ["certgate's own"]),
    (["a.b", "--data", "[1, 2]"], ["--data must be a JSON object"]),
    (["a.b", "--data", '"text"'], ["--data must be a JSON object"]),
    (["a.b", "--data", "{"], ["--data is not valid JSON"]),
    (["a.b", "--data", '{"a": 1, "a": 2}'], ["duplicate"]),
    (["a.b", "--data", "{}", "--data-file", "/dev/null"], ["contradict"]),
]


@pytest.mark.parametrize("args,phrases", EVENT_REFUSALS, ids=[" ".join(a)[:40] for a, _ in EVENT_REFUSALS])
def test_event_send_refusals_store_nothing(wcg, args, phrases):
    cg = wcg
    cg.ok("webhook", "add", "h", NOWHERE, "--client-cert", "client")
    n = db(cg, "SELECT COUNT(*) FROM events")
    r = cg("event", "send", *args)
    assert_error(r, 2, *phrases, hint=True)
    assert db(cg, "SELECT COUNT(*) FROM events") == n


def test_event_data_is_capped(wcg):
    cg = wcg
    f = cg.dir / "big.json"
    f.write_text('{"x": "%s"}' % ("a" * (256 * 1024)))
    r = cg("event", "send", "a.b", "--data-file", f)
    assert_error(r, r.rc, "larger than 262144 bytes", hint=True)
    assert r.rc != 0


def test_config_changes_are_events(wcg):
    """certgate's own config.changed: stored with every audited change (not with tokens), for the
    webhooks that subscribe to it."""
    cg = wcg
    cg.ok("webhook", "add", "watch", NOWHERE, "--client-cert", "client", "--events", "config.changed")
    cg.ok("pin", "set", "api.partner.example", "client")
    cg.ok("token", "add", "ci", "--role", "viewer")
    cg.ok("webhook", "set", "watch", "--disabled")  # disabled by this change: not queued for it
    cg.ok("pin", "rm", "api.partner.example")
    cg.ok("webhook", "set", "watch", "--enabled")
    rows = db(cg, "SELECT e.data_json FROM deliveries d JOIN events e ON e.env = d.env AND e.id = d.event_id "
                  "WHERE d.webhook = 'watch' ORDER BY d.id")
    data = [json.loads(x[0]) for x in rows]
    assert [(x["action"], x["object"]) for x in data] == [
        ("webhook add", "webhook/watch"), ("pin set", "pin/api.partner.example"), ("webhook set", "webhook/watch"),
    ], data
    assert data[2]["revision"] > data[1]["revision"], data
    assert all(x["actor"].startswith("cli:") and x["revision"] > 0 for x in data), data
    # one event per change (the fixture's four certificates too), tokens aside
    assert db(cg, "SELECT COUNT(*) FROM events WHERE type = 'config.changed'") == [(9,)]
    assert db(cg, "SELECT COUNT(*) FROM events WHERE data_json LIKE '%token%'") == [(0,)]


# ---- the admin API ----------------------------------------------------------------------------


@pytest.fixture
def api(wcg, tmp_path):
    """The admin listener (`certgate serve` with listen.admin) and a token of every role."""
    toks = {r: token(wcg, "t-" + r, r) for r in ("viewer", "operator", "admin", "events")}

    def start(extra, env, workers, name):
        return start_daemon(wcg, tmp_path, extra=extra, env=env, workers=workers, name=name, listener="admin")

    for make in daemon_factory(start, "wh"):
        d = make()
        yield Api(d), toks


def err_of(st, body, status, code, *phrases):
    assert st == status, (st, body)
    assert isinstance(body, dict) and body["error"] == code, body
    text = body["message"] + " " + body.get("hint", "")
    for p in phrases:
        assert p in text, (p, body)


def test_api_roles(api):
    a, toks = api
    ev = toks["events"]
    # the events role posts events, and does nothing else
    st, _, o = a.call("POST", "/api/v1/events", {"type": "invoice.paid", "data": {"n": 1}}, tok=ev)
    assert st == 202 and list(o) == ["id", "type", "deliveries"] and o["deliveries"] == 0, (st, o)
    for method, path in [("GET", "/api/v1/webhooks"), ("GET", "/api/v1/certificates"), ("GET", "/api/v1/audit"),
                         ("POST", "/api/v1/webhooks"), ("GET", "/api/v1/status"), ("GET", "/metrics"),
                         ("DELETE", "/api/v1/pins/x"), ("POST", "/api/v1/deliveries/1/replay")]:
        st, _, body = a.call(method, path, {} if method == "POST" else None, tok=ev)
        err_of(st, body, 403, "forbidden", "events")
    # a viewer reads webhooks, and neither changes them nor posts events
    st, _, body = a.call("GET", "/api/v1/webhooks", tok=toks["viewer"])
    assert st == 200 and body == [], body
    st, _, body = a.call("POST", "/api/v1/events", {"type": "a.b"}, tok=toks["viewer"])
    err_of(st, body, 403, "forbidden", "needs operator or events")
    st, _, body = a.call("POST", "/api/v1/webhooks", {"name": "h", "url": NOWHERE, "client_cert": "client"},
                         tok=toks["viewer"])
    err_of(st, body, 403, "forbidden", "needs operator")
    st, _, body = a.call("POST", "/api/v1/deliveries/1/replay", tok=toks["viewer"])
    err_of(st, body, 403, "forbidden", "needs operator")
    # an operator manages webhooks and posts events
    st, _, body = a.call("POST", "/api/v1/webhooks", {"name": "h", "url": NOWHERE, "client_cert": "client"},
                         tok=toks["operator"])
    assert st == 201 and body["name"] == "h", body
    st, _, o = a.call("POST", "/api/v1/events", {"type": "a.b"}, tok=toks["operator"])
    assert st == 202 and o["deliveries"] == 1, o
    st, _, body = a.call("DELETE", "/api/v1/webhooks/h", tok=toks["operator"])
    assert st == 204, body
    # whoami tells the role
    st, _, me = a.call("GET", "/api/v1/whoami", tok=ev)
    assert st == 200 and me["role"] == "events", me


def test_api_webhook_lifecycle(api, wcg):
    a, toks = api
    a.tok = toks["operator"]
    st, _, body = a.call("POST", "/api/v1/webhooks", {
        "name": "billing", "url": NOWHERE, "client_cert": "client", "ca": "partner", "trust": "ca-only",
        "secret": SECRET, "events": ["invoice.paid", "invoice.failed"]})
    assert st == 201, body
    assert body["signed"] is True and body["trust"] == "ca-only" and body["events"] == ["invoice.paid",
                                                                                          "invoice.failed"], body
    assert SECRET not in json.dumps(body)
    st, _, got = a.call("GET", "/api/v1/webhooks/billing")
    assert st == 200 and got == body, got
    # what GET answers can be PUT back: nothing changes (the secret is kept)
    st, _, back = a.call("PUT", "/api/v1/webhooks/billing", got)
    assert st == 200 and back == got, back
    st, _, o = a.call("PUT", "/api/v1/webhooks/billing", {"disabled": True, "events": [], "ca": None,
                                                         "trust": "system+ca"})
    assert st == 200 and (o["disabled"], o["events"], o["ca"], o["signed"]) == (True, [], None, True), o
    st, _, o = a.call("PUT", "/api/v1/webhooks/billing", {"disabled": False, "secret": None})
    assert st == 200 and (o["disabled"], o["signed"]) == (False, False), o
    st, _, o = a.call("PUT", "/api/v1/webhooks/billing", {"secret": "another-" + SECRET})
    assert st == 200 and o["signed"] is True, o
    st, _, lst = a.call("GET", "/api/v1/webhooks")
    assert [w["name"] for w in lst] == ["billing"], lst
    # the audit trail has every change, by the token's name, and never the secret
    st, _, audit = a.call("GET", "/api/v1/audit")
    mine = [x for x in audit if x["object"] == "webhook/billing"]
    assert [x["action"] for x in mine] == ["webhook set"] * 4 + ["webhook add"], audit
    assert all(x["actor"] == "t-operator" for x in mine), mine
    assert SECRET not in json.dumps(audit)
    never_shown(wcg)
    st, _, body = a.call("DELETE", "/api/v1/webhooks/billing")
    assert st == 204
    st, _, body = a.call("GET", "/api/v1/webhooks/billing")
    err_of(st, body, 404, "not_found", "no webhook named 'billing'")


def test_api_refusals(api, wcg):
    a, toks = api
    a.tok = toks["operator"]
    cases = [
        ({"name": "h", "url": NOWHERE}, 400, "client_cert", "needs a client certificate"),
        ({"name": "h", "url": NOWHERE, "client_cert": "nope"}, 404, None, "presents certificate 'nope'"),
        ({"name": "h", "url": NOWHERE, "client_cert": "server"}, 400, None, "cannot present 'server'"),
        ({"name": "h", "url": "http://x.example/", "client_cert": "client"}, 400, None, "https://"),
        ({"name": "h", "url": NOWHERE, "client_cert": "client", "trust": "ca-only"}, 400, "trust", "ca-only"),
        ({"name": "h", "url": NOWHERE, "client_cert": "client", "events": ["a b"]}, 400, "events", "event type"),
        ({"name": "h", "url": NOWHERE, "client_cert": "client", "secret": ""}, 400, None, "secret is empty"),
        ({"name": "h", "url": NOWHERE, "client_cert": "client", "secret": 42}, 400, "secret", "must be a string"),
        ({"name": "h", "url": NOWHERE, "client_cert": "client", "disabled": "maybe"}, 400, "disabled",
         "true or false"),
        ({"name": "h", "url": NOWHERE, "client_cert": "client", "colour": "red"}, 400, "colour", "unknown field"),
        ({"url": NOWHERE, "client_cert": "client"}, 400, "name", "required"),
    ]
    for body, status, field, phrase in cases:
        st, _, o = a.call("POST", "/api/v1/webhooks", body)
        assert st == status and phrase in o["message"], (body, st, o)
        if field:
            assert o.get("field") == field, (body, o)
    st, _, o = a.call("GET", "/api/v1/webhooks")
    assert o == [], o
    st, _, o = a.call("POST", "/api/v1/webhooks", {"name": "h", "url": NOWHERE, "client_cert": "client"})
    assert st == 201
    st, _, o = a.call("POST", "/api/v1/webhooks", {"name": "h", "url": NOWHERE, "client_cert": "client"})
    err_of(st, o, 409, "conflict", "already exists")
    st, _, o = a.call("PUT", "/api/v1/webhooks/h", {"name": "other"})
    err_of(st, o, 400, "invalid", "the path names 'h'")
    st, _, o = a.call("PUT", "/api/v1/webhooks/ghost", {"disabled": True})
    err_of(st, o, 404, "not_found", "no webhook named 'ghost'")
    # events
    for body, phrase, field in [({"data": {}}, "required", "type"), ({"type": "a b"}, "not an event type", None),
                                ({"type": "a.b", "data": [1]}, "JSON object", "data"),
                                ({"type": "a.b", "data": "text"}, "JSON", "data"),
                                ({"type": "certificate.expired"}, "certgate's own", None)]:
        st, _, o = a.call("POST", "/api/v1/events", body)
        assert st == 400 and phrase in o["message"], (body, o)
        if field:
            assert o.get("field") == field, (body, o)
    n, = db(wcg, "SELECT COUNT(*) FROM events WHERE type != 'config.changed'")[0]
    assert n == 0


def test_api_events_and_deliveries(api, wcg):
    a, toks = api
    a.tok = toks["operator"]
    for name, events in [("paid", ["invoice.paid"]), ("all", [])]:
        st, _, o = a.call("POST", "/api/v1/webhooks", {"name": name, "url": NOWHERE, "client_cert": "client",
                                                       "events": events})
        assert st == 201, o
    st, _, o = a.call("POST", "/api/v1/events", {"type": "invoice.paid", "data": {"invoice": "inv_7"}},
                      tok=toks["events"])
    assert st == 202 and o["type"] == "invoice.paid" and o["deliveries"] == 2, o
    evt = o["id"]
    # committed before the answer: the store has the event and its deliveries
    assert db(wcg, "SELECT type, data_json FROM events WHERE id = ?", evt) == [("invoice.paid",
                                                                               '{"invoice":"inv_7"}')]
    st, _, ds = a.call("GET", "/api/v1/webhooks/paid/deliveries?status=pending&limit=10", tok=toks["viewer"])
    assert st == 200 and [d["event_id"] for d in ds] == [evt], ds
    assert ds[0]["status"] == "pending" and ds[0]["event_type"] == "invoice.paid", ds
    st, _, ds_all = a.call("GET", "/api/v1/webhooks/all/deliveries", tok=toks["viewer"])
    assert st == 200 and evt in [d["event_id"] for d in ds_all], ds_all  # and config.changed ones
    did = ds[0]["id"]
    st, _, one = a.call("GET", "/api/v1/deliveries/%d" % did, tok=toks["viewer"])
    assert st == 200 and one["id"] == did and one["webhook"] == "paid", one
    st, _, o = a.call("GET", "/api/v1/webhooks/paid/deliveries?status=lost")
    err_of(st, o, 400, "invalid", "--status 'lost'")
    assert o.get("field") == "status", o
    st, _, o = a.call("GET", "/api/v1/deliveries/999999")
    err_of(st, o, 404, "not_found", "no delivery 999999")
    st, _, o = a.call("POST", "/api/v1/deliveries/%d/replay" % did)
    err_of(st, o, 400, "invalid", "still pending")
    db(wcg, "UPDATE deliveries SET status = 2, lease_until_ms = 0 WHERE id = ?", did)
    st, _, o = a.call("POST", "/api/v1/deliveries/%d/replay" % did)
    assert st == 202 and o["id"] == did and o["status"] in ("pending", "succeeded", "failed"), o
    assert o["attempts"] <= 1, o
    st, _, w = a.call("GET", "/api/v1/webhooks/paid", tok=toks["viewer"])
    assert st == 200 and w["failed"] == 0, w
