"""The audit trail (docs/cli.md, "audit"): every change made with the CLI is recorded in the same
transaction as the change, with actor cli:<unix user>, the command, the object and the object
before and after (its show --json: never a secret). certgate audit reads it newest first, a page
at a time."""

import os
import pwd
import re

from conftest import assert_error
from site_fixtures import spki  # noqa: F401

ACTOR = "cli:" + pwd.getpwuid(os.geteuid()).pw_name
BACKEND = "http://127.0.0.1:8080"
KEYS = ["id", "time", "actor", "action", "object", "before", "after"]


def audit(cg, *args, envname=None):
    r = cg.ok("audit", "--json", *args, envname=envname)
    lst = r.json()
    assert isinstance(lst, list), r
    for rec in lst:
        assert list(rec) == KEYS, rec
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", rec["time"]), rec
    return lst


def test_changes_are_recorded(cg, spki):
    assert audit(cg) == []
    cg.ok("cert", "add", "shop-cert", spki.shop, "--key", spki.shop_key, "--kind", "server")
    cg.ok("cert", "add", "c1", spki.client, "--key", spki.client_key)
    cg.ok("site", "add", "shop", "--backend", BACKEND, "--domain", "www.shop.test")
    cg.ok("pin", "set", "api.partner.example", "c1")
    r = cg.ok("token", "add", "ci", "--role", "operator")
    token = r.out.strip()

    recs = audit(cg)
    got = [(r["actor"], r["action"], r["object"]) for r in recs]
    assert got == [(ACTOR, "token add", "token/ci"),
                   (ACTOR, "pin set", "pin/api.partner.example"),
                   (ACTOR, "site add", "site/shop"),
                   (ACTOR, "cert add", "cert/c1"),
                   (ACTOR, "cert add", "cert/shop-cert")], got
    ids = [r["id"] for r in recs]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids), ids
    for rec in recs:
        assert rec["before"] is None, rec  # each object was new
        assert isinstance(rec["after"], dict), rec

    by = {r["object"]: r["after"] for r in recs}
    # the after is the object's show --json
    assert by["site/shop"] == cg.ok("site", "show", "shop", "--json").json()
    assert by["cert/c1"]["name"] == "c1" and by["cert/c1"]["kind"] == "client", by["cert/c1"]
    assert by["pin/api.partner.example"]["cert"] == "c1", by
    assert by["token/ci"] == cg.ok("token", "show", "ci", "--json").json()

    # never a secret: not the token, not a private key
    text = cg.ok("audit", "--json").out
    assert token not in text and token[3:] not in text
    assert "PRIVATE KEY" not in text and "key_blob" not in text
    for line in open(spki.client_key).read().splitlines()[1:-1]:
        assert line not in text


def test_before_and_after_of_changes_and_removals(cg, spki):
    cg.ok("cert", "add", "c1", spki.client, "--key", spki.client_key)
    cg.ok("cert", "add", "c2", spki.client2, "--key", spki.client2_key)
    cg.ok("pin", "set", "api.partner.example", "c1")
    cg.ok("pin", "set", "api.partner.example", "c2")
    cg.ok("pin", "rm", "api.partner.example")
    cg.ok("token", "add", "ci", "--role", "viewer")
    cg.ok("token", "rm", "ci")
    recs = audit(cg, "--limit", "4")
    assert [(r["action"], r["object"]) for r in recs] == [
        ("token rm", "token/ci"), ("token add", "token/ci"),
        ("pin rm", "pin/api.partner.example"), ("pin set", "pin/api.partner.example")], recs
    rm_token, _, rm_pin, repin = recs
    assert rm_token["before"]["name"] == "ci" and rm_token["before"]["role"] == "viewer" and rm_token["after"] is None
    assert rm_pin["before"]["cert"] == "c2" and rm_pin["after"] is None, rm_pin
    assert repin["before"]["cert"] == "c1" and repin["after"]["cert"] == "c2", repin


def test_failed_changes_and_reads_are_not_recorded(cg, spki):
    cg.ok("cert", "add", "c1", spki.client, "--key", spki.client_key)
    n = len(audit(cg))
    assert cg("pin", "set", "api.partner.example", "missing").rc == 1
    assert cg("token", "add", "ci", "--role", "root").rc == 2
    assert cg("token", "rm", "nope").rc == 1
    assert cg("cert", "add", "c1", spki.client, "--key", spki.client_key).rc == 1
    cg.ok("cert", "list")
    cg.ok("token", "list")
    cg.ok("pin", "list")
    cg.ok("audit")
    assert len(audit(cg)) == n


def test_paging(cg):
    for i in range(7):
        cg.ok("token", "add", "t%d" % i, "--role", "viewer")
    everything = audit(cg)
    assert [r["object"] for r in everything] == ["token/t%d" % i for i in range(6, -1, -1)]
    first = audit(cg, "--limit", "3")
    assert first == everything[:3]
    second = audit(cg, "--limit", "3", "--before", str(first[-1]["id"]))
    assert second == everything[3:6]
    third = audit(cg, "--limit", "3", "--before", str(second[-1]["id"]))
    assert third == everything[6:]
    assert audit(cg, "--before", str(everything[-1]["id"])) == []

    # the table: ID, TIME, ACTOR, ACTION, OBJECT, and how to see the next page when it is full
    r = cg.ok("audit", "--limit", "2")
    lines = r.out.splitlines()
    assert lines[0].split() == ["ID", "TIME", "ACTOR", "ACTION", "OBJECT"], r
    assert lines[1].split() == [str(everything[0]["id"]), everything[0]["time"], ACTOR, "token", "add", "token/t6"]
    assert "certgate audit --before %d --limit 2" % everything[1]["id"] in r.out, r
    r = cg.ok("audit")
    assert "--before" not in r.out, r  # all of it fits the default page


def test_default_limit_is_50(cg):
    for i in range(52):
        cg.ok("token", "add", "t%02d" % i, "--role", "viewer")
    assert len(audit(cg)) == 50
    assert len(audit(cg, "--limit", "1000")) == 52


def test_options_validated(cg):
    for bad in ("0", "1001", "-3", "x", ""):
        assert_error(cg("audit", "--limit", bad), 2, "--limit '%s' is not a number from 1 to 1000" % bad, hint=True)
    for bad in ("0", "-1", "abc"):
        assert_error(cg("audit", "--before", bad), 2, "--before '%s' is not a number" % bad, hint="ID")


def test_empty_and_environments(cg):
    r = cg.ok("audit")
    assert "no changes recorded in environment 'production' yet" in r.out, r
    cg.ok("token", "add", "ci", "--role", "admin", envname="staging")
    assert audit(cg) == []
    recs = audit(cg, envname="staging")
    assert [r["object"] for r in recs] == ["token/ci"]
